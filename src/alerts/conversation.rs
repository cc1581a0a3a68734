//! The conversation on an alert: the preventive social worker and the assessing team (the
//! educators of the child's group and the institution's leaders) exchange questions, advice
//! and agreed next steps. A message is written in one transaction with its history event, its
//! access-log row, an unread mark for each person on the other side and an email to each
//! (through the outbox, with no personal data: a link, nothing more).
//!
//! On an anonymous consultation the worker learns nothing of the child's identity from the
//! conversation's metadata: the team's messages are signed "the team" (no name, no role that
//! would point to a group or an institution) until the identity may be shown
//! ([`super::routes::identity_visible`]). The page says so above the box, and asks the team
//! to write no names; what people type is theirs to keep anonymous.

use chrono::{DateTime, Utc};

use crate::auth::CurrentUser;
use crate::db::Conn;
use crate::dispatch;
use crate::state::AppState;

pub const WORKER: &str = "worker";
pub const TEAM: &str = "team";

/// The longest message, in characters.
pub const MAX_CHARS: usize = 4000;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Message {
    pub id: i64,
    pub author_id: i64,
    pub author_name: String,
    pub author_role: String,
    pub side: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// The alert's messages, oldest first.
pub async fn messages(c: &mut impl Conn, alert_id: i64) -> anyhow::Result<Vec<Message>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT m.id, m.author_id, u.name AS author_name, u.role AS author_role, m.side, m.body, m.created_at \
         FROM alert_messages m JOIN users u ON u.id = m.author_id WHERE m.alert_id = $1 ORDER BY m.id",
    )
    .bind(alert_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// Who is on the team's side of `child_id`'s alerts today: the active educators of the
/// child's current group and the active leaders of its institution (id, email).
pub async fn team(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<(i64, String)>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT u.id, u.email FROM children ch JOIN user_groups ug ON ug.group_id = ch.current_group_id \
         JOIN users u ON u.id = ug.user_id WHERE ch.id = $1 AND u.active AND u.role = 'educator' \
         UNION \
         SELECT u.id, u.email FROM children ch JOIN groups g ON g.id = ch.current_group_id \
         JOIN user_institutions ui ON ui.institution_id = g.institution_id \
         JOIN users u ON u.id = ui.user_id WHERE ch.id = $1 AND u.active AND u.role = 'leader' \
         ORDER BY 2",
    )
    .bind(child_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// Who is on the worker's side: the worker who took the alert, or until then every active
/// worker of its district (of the municipal queue when it has none) (id, email).
pub(super) async fn workers(
    c: &mut impl Conn,
    district_id: Option<i64>,
    taken_by: Option<i64>,
) -> anyhow::Result<Vec<(i64, String)>> {
    if let Some(id) = taken_by {
        return Ok(dispatch!(c, c => sqlx::query_as(
            "SELECT id, email FROM users WHERE id = $1 AND active",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await)?);
    }
    let rows = super::district_workers(c, district_id).await?;
    if rows.is_empty() && district_id.is_some() {
        return super::district_workers(c, None).await;
    }
    Ok(rows)
}

/// What one message is about: the alert and the side it comes from.
pub struct Post<'a> {
    pub alert_id: i64,
    pub child_id: i64,
    pub district_id: Option<i64>,
    pub taken_by: Option<i64>,
    pub side: &'a str,
    pub body: &'a str,
}

/// Writes a message in the caller's transaction, marks it unread for everyone on the other
/// side and emails them. Returns the message's id.
pub async fn post(
    c: &mut impl Conn,
    state: &AppState,
    user: &CurrentUser,
    p: Post<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let id: i64 = dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO alert_messages (alert_id, author_id, side, body, created_at) VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(p.alert_id)
    .bind(user.id)
    .bind(p.side)
    .bind(p.body)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?;
    super::event(c, p.alert_id, Some(user.id), "message", "", now).await?;
    let others = if p.side == WORKER {
        team(c, p.child_id).await?
    } else {
        workers(c, p.district_id, p.taken_by).await?
    };
    let base = state.config.base_url();
    for (uid, email) in others.iter().filter(|(uid, _)| *uid != user.id) {
        dispatch!(c, c => sqlx::query(
            "INSERT INTO alert_unread (user_id, alert_id, since) VALUES ($1, $2, $3) ON CONFLICT (user_id, alert_id) DO NOTHING",
        )
        .bind(uid)
        .bind(p.alert_id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        crate::notify::enqueue(
            c,
            email,
            "Trivsel: ny besked på en henvendelse",
            &format!(
                "Der er en ny besked til dig på en henvendelse i Trivsel.\n\nLæs den her: {base}/alerts/{}\n\nDenne e-mail indeholder ingen personoplysninger.\n",
                p.alert_id
            ),
            now,
        )
        .await?;
    }
    Ok(id)
}

/// The alert's messages are read by `user_id` (they opened the alert).
pub async fn mark_read(c: &mut impl Conn, user_id: i64, alert_id: i64) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query("DELETE FROM alert_unread WHERE user_id = $1 AND alert_id = $2")
        .bind(user_id)
        .bind(alert_id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// How many alerts hold a message `user_id` has not read (for the menu): one index lookup.
pub async fn unread(c: &mut impl Conn, user_id: i64) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM alert_unread WHERE user_id = $1",
    )
    .bind(user_id)
    .fetch_one(&mut *c)
    .await)?)
}

/// Which of `alert_ids` hold a message `user_id` has not read.
pub async fn unread_among(
    c: &mut impl Conn,
    user_id: i64,
    alert_ids: &[i64],
) -> anyhow::Result<std::collections::HashSet<i64>> {
    if alert_ids.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT alert_id FROM alert_unread WHERE user_id = {user_id} AND alert_id IN ({})",
        crate::db::placeholders(1, alert_ids.len())
    );
    let rows: Vec<(i64,)> = crate::db::fetch_all_with_ids(c, &sql, alert_ids).await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
