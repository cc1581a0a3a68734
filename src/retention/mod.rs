//! Keeping records no longer than needed. The policy ([`policy`], `retention.toml`) says per
//! kind of record how long it is kept and from what event — the day the child left the
//! municipality's institutions (`children.left_on`, set by the admin or the roster import),
//! the child's age, the record's own date, an alert's closing. The daily job deletes by it
//! ([`run`]), in small batches, and records each run for the admin and the data-protection
//! officer; a **legal hold** (placed by either, with a reason, logged) keeps everything of
//! the child until it is lifted.

pub mod policy;
pub mod routes;
pub mod run;

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::auth::Role;
use crate::db::Conn;
use crate::dispatch;

/// Who places and lifts holds.
pub fn manages_holds(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Dpo)
}

/// A legal hold in force.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Hold {
    pub id: i64,
    pub reason: String,
    pub placed_by_name: String,
    pub placed_at: DateTime<Utc>,
}

/// Places a hold on child `child_id`; its id.
pub async fn place(
    c: &mut impl Conn,
    child_id: i64,
    reason: &str,
    user_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO legal_holds (child_id, reason, placed_by, placed_at) VALUES ($1, $2, $3, $4) RETURNING id",
    )
    .bind(child_id)
    .bind(reason)
    .bind(user_id)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?)
}

/// Lifts hold `hold` of child `child_id`; false when there is no such hold in force.
pub async fn lift(
    c: &mut impl Conn,
    child_id: i64,
    hold: i64,
    user_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let lifted = dispatch!(c, c => sqlx::query(
        "UPDATE legal_holds SET lifted_by = $1, lifted_at = $2 WHERE id = $3 AND child_id = $4 AND lifted_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .bind(hold)
    .bind(child_id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(lifted == 1)
}

/// The holds in force on child `child_id`.
pub async fn holds(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<Hold>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT h.id, h.reason, u.name AS placed_by_name, h.placed_at FROM legal_holds h \
         JOIN users u ON u.id = h.placed_by WHERE h.child_id = $1 AND h.lifted_at IS NULL \
         ORDER BY h.placed_at, h.id",
    )
    .bind(child_id)
    .fetch_all(&mut *c)
    .await)?)
}

#[derive(Deserialize, Default)]
pub struct HoldForm {
    #[serde(default)]
    pub reason: String,
}
