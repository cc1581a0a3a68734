//! Handover to the next institution, only with consent. When a child moves (daycare → school,
//! or between districts), the receiving educators and leader see nothing of what earlier
//! institutions recorded (`auth::scope::record_window`). With the parents' recorded consent
//! for the purpose "handover" ([`crate::consent::may_share_earlier_records`]) they see a
//! summary on the child's page: the last team position before the child came, the focus
//! points or action plan recorded on it, and the preventive measures still active — not the
//! answers, the observation or free text. Each showing of the summary is an access-log
//! event (object `handover`, detail `from:<institution id>`): the record names both sides,
//! the receiving reader and the institution the child came from.
//!
//! Without consent the receiving side is told that the handover was not consented, nothing
//! more; and when the admin moves a child without it, the leaders of the institution the
//! child leaves get a task by email (no personal data: a link to the child's page, which
//! they still see until the move) to talk with the parents before the move
//! (`handover_task`, on by default).

use chrono::{DateTime, NaiveDate, Utc};

use super::db as adb;
use super::routes::LevelView;
use crate::auth::{CurrentUser, Role, scope};
use crate::db::Conn;
use crate::dispatch;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::PageCtx;

/// What the receiving side sees of a child's earlier institutions.
pub enum Handover {
    /// The parents consented: the summary.
    Consented(Box<Summary>),
    /// The parents did not: that, and nothing more.
    NotConsented,
}

pub struct Summary {
    /// The institution the child came from (its id, for the access log's detail).
    pub from_institution: Option<i64>,
    /// The last team position before the child came: level and date.
    pub position: Option<(LevelView, String)>,
    /// The focus points or action plan recorded on it: kind key, text, review date.
    pub follow_up: Option<(&'static str, String, String)>,
    /// Active preventive measures: kind, next review.
    pub measures: Vec<(String, String)>,
}

/// The handover for `user` on child `child_id`'s page, if the child came from another
/// institution with something recorded there; `None` otherwise (or for roles that see the
/// whole record or none of it).
pub async fn for_child(
    c: &mut impl Conn,
    state: &AppState,
    user: &CurrentUser,
    child_id: i64,
    ctx: &PageCtx,
) -> AppResult<Option<Handover>> {
    if !matches!(user.role, Role::Educator | Role::Leader) {
        return Ok(None);
    }
    let Some(since) = scope::first_day(c, user, child_id).await? else {
        return Ok(None);
    };
    let earlier: Vec<adb::Assessment> = adb::history(c, child_id)
        .await?
        .into_iter()
        .filter(|a| a.is_team() && !a.superseded)
        .filter(|a| a.submitted_at.unwrap_or(a.created_at).date_naive() < since)
        .collect();
    let from_institution: Option<i64> = dispatch!(c, c => sqlx::query_scalar(
        "SELECT g.institution_id FROM enrolments e JOIN groups g ON g.id = e.group_id \
         WHERE e.child_id = $1 AND e.from_date < $2 ORDER BY e.from_date DESC, e.id DESC LIMIT 1",
    )
    .bind(child_id)
    .bind(since)
    .fetch_optional(&mut *c)
    .await)?;
    let came_from_elsewhere = from_institution.is_some();
    if earlier.is_empty() && !came_from_elsewhere {
        return Ok(None);
    }
    let today = state.now().date_naive();
    let events = crate::consent::db::as_events(&crate::consent::db::events(c, child_id).await?);
    if !crate::consent::may_share_earlier_records(&events, today) {
        return Ok(Some(Handover::NotConsented));
    }
    let cat = super::routes::catalogue(state)?;
    let last = earlier.last();
    let follow_up = match last {
        Some(a) => super::follow_up::for_assessment(c, a.id)
            .await?
            .into_iter()
            .next()
            .map(|f| {
                (
                    super::follow_up::kind_key(&f.kind),
                    f.body,
                    f.review_on.format("%d-%m-%Y").to_string(),
                )
            }),
        None => None,
    };
    let measures = crate::alerts::measures::active_of_child(c, child_id)
        .await?
        .into_iter()
        .map(|m| {
            let kind = state
                .config
                .measure_types
                .iter()
                .find(|t| t.id == m.kind)
                .map_or(m.kind.clone(), |t| t.label(ctx.lang).to_string());
            (kind, m.next_review_on.format("%d-%m-%Y").to_string())
        })
        .collect();
    Ok(Some(Handover::Consented(Box::new(Summary {
        from_institution,
        position: last.map(|a| {
            (
                LevelView::of(
                    &cat.scale,
                    a.decided_rank.unwrap_or(0).max(0) as usize,
                    ctx.lang,
                ),
                ctx.date(&a.submitted_at.unwrap_or(a.created_at)),
            )
        }),
        follow_up,
        measures,
    }))))
}

/// Called in the transaction that moves child `child_id` into a group from `from`: when the
/// child leaves an institution for another and the parents have not consented to the
/// handover, the leaders of the institution it leaves get the task of talking with them.
pub async fn on_move(
    c: &mut impl Conn,
    state: &AppState,
    child_id: i64,
    from: NaiveDate,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    if !state.config.handover_task {
        return Ok(0);
    }
    // The enrolment that just ended (the day before `from`) and the new one.
    let rows: Vec<(i64, Option<NaiveDate>)> = dispatch!(c, c => sqlx::query_as(
        "SELECT g.institution_id, e.to_date FROM enrolments e JOIN groups g ON g.id = e.group_id \
         WHERE e.child_id = $1 AND (e.to_date IS NULL OR e.to_date = $2)",
    )
    .bind(child_id)
    .bind(from.pred_opt().unwrap_or(from))
    .fetch_all(&mut *c)
    .await)?;
    let new = rows.iter().find(|(_, to)| to.is_none()).map(|(i, _)| *i);
    let old = rows.iter().find(|(_, to)| to.is_some()).map(|(i, _)| *i);
    let (Some(new), Some(old)) = (new, old) else {
        return Ok(0);
    };
    if new == old {
        return Ok(0);
    }
    let events = crate::consent::db::as_events(&crate::consent::db::events(c, child_id).await?);
    if crate::consent::may_share_earlier_records(&events, now.date_naive()) {
        return Ok(0);
    }
    let leaders: Vec<String> = dispatch!(c, c => sqlx::query_scalar(
        "SELECT u.email FROM users u JOIN user_institutions ui ON ui.user_id = u.id \
         WHERE ui.institution_id = $1 AND u.active AND u.role = 'leader' ORDER BY u.email",
    )
    .bind(old)
    .fetch_all(&mut *c)
    .await)?;
    let base = state.config.base_url();
    for email in &leaders {
        crate::notify::enqueue(
            c,
            email,
            "Trivsel: et barn skifter institution uden samtykke til overlevering",
            &format!(
                "Et barn fra jeres institution skifter institution, og forældrene har ikke givet samtykke til, at det, I ved, følger med.\n\nTal med forældrene inden skiftet. Barnets side: {base}/children/{child_id}\n\nDenne e-mail indeholder ingen personoplysninger.\n"
            ),
            now,
        )
        .await?;
    }
    Ok(leaders.len())
}
