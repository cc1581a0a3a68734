//! What saving a team position set in motion, said in one plain sentence on the page that
//! follows: the alert Trivsel sent and to whom (the district's preventive social workers, or
//! the municipal queue; anonymous, named, or a notification with its deadline), or that
//! nothing left the team. Under it, what the professional must still do by the
//! municipality's own procedure: the level's `procedure` text from the scale file, or — at a
//! level with the duty to notify, or for a notification — a default that says Trivsel's
//! message is not the formal notification. No child's name is in either sentence.

use crate::alerts::{self, NAMED, NOTIFICATION, Sent};
use crate::db::Conn;
use crate::questionnaire::Scale;
use crate::web::PageCtx;

use super::TEAM;
use super::db as adb;

/// The notice shown after a team position is saved.
pub struct AfterSave {
    pub sent: String,
    /// The alert raised, for a link to it.
    pub alert: Option<i64>,
    pub procedure: Option<String>,
}

/// The notice for a position at `rank` that sent `sent`.
pub fn describe(sent: Option<&Sent>, scale: &Scale, rank: usize, ctx: &PageCtx) -> AfterSave {
    let level = scale.level(rank);
    let sentence = match sent {
        None => ctx.t("after.nothing_sent").to_string(),
        Some(s) => {
            let what = match s.kind.as_str() {
                NOTIFICATION => ctx.t("after.sent.notification"),
                NAMED => ctx.t("after.sent.named"),
                _ => ctx.t("after.sent.anonymous"),
            };
            let to = match &s.district {
                Some(d) => format!("{} {d}", ctx.t("after.to.district")),
                None => ctx.t("after.to.queue").to_string(),
            };
            let deadline = if s.kind == NOTIFICATION {
                format!(
                    ", {} {}",
                    ctx.t("after.deadline"),
                    ctx.datetime(&s.deadline)
                )
            } else {
                String::new()
            };
            format!("{what} {to}{deadline}. {}", ctx.t("after.email"))
        }
    };
    let notification = sent.is_some_and(|s| s.kind == NOTIFICATION);
    let procedure = match &level.handleguide.procedure {
        Some(text) => Some(text.get(ctx.lang).to_string()),
        None if level.handleguide.notify || notification => {
            Some(ctx.t("after.notify_default").to_string())
        }
        None => None,
    };
    AfterSave {
        sent: sentence,
        alert: sent.map(|s| s.id),
        procedure,
    }
}

/// The notice for the user's own team position `assessment_id`, shown on the page "save and
/// next child" leads to; none if it is not a submitted team position of this user.
pub async fn previous(
    c: &mut impl Conn,
    scale: &Scale,
    user_id: i64,
    assessment_id: i64,
    ctx: &PageCtx,
) -> anyhow::Result<Option<AfterSave>> {
    let Some(a) = adb::get(c, assessment_id).await? else {
        return Ok(None);
    };
    if a.author_id != user_id || a.status != "submitted" || a.kind != TEAM {
        return Ok(None);
    }
    let sent = alerts::sent_for(c, a.id).await?;
    let rank = a.decided_rank.unwrap_or(0).max(0) as usize;
    let mut notice = describe(sent.as_ref(), scale, rank, ctx);
    notice.sent = format!("{} {}", ctx.t("after.previous"), notice.sent);
    Ok(Some(notice))
}
