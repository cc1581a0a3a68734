//! The access log: an append-only record of every read, search, change, export and deletion
//! of a child's personal data (time, user, role, action, child), as the Danish Data
//! Protection Agency's guidance asks of public systems. A change is logged in the change's own
//! transaction; a read is logged before the page is rendered, so a read that cannot be logged
//! is not served.

pub mod routes;

use chrono::{DateTime, Utc};

use crate::auth::CurrentUser;
use crate::db::Conn;
use crate::dispatch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Read,
    Search,
    Create,
    Change,
    Export,
    Delete,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Search => "search",
            Action::Create => "create",
            Action::Change => "change",
            Action::Export => "export",
            Action::Delete => "delete",
        }
    }
}

/// One access to one child's data. `object` names what was touched (`child`, `group:12`,
/// `guardian:4`…); `detail` holds search criteria and the like — never personal data.
#[tracing::instrument(skip_all)]
pub async fn record(
    c: &mut impl Conn,
    user: &CurrentUser,
    action: Action,
    child_id: Option<i64>,
    object: &str,
    detail: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "INSERT INTO access_log (at, user_id, role, action, child_id, object, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(now)
    .bind(user.id)
    .bind(user.role.as_str())
    .bind(action.as_str())
    .bind(child_id)
    .bind(object)
    .bind(detail)
    .execute(&mut *c)
    .await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// The same access to many children (a group list), as one multi-row insert.
#[tracing::instrument(skip_all)]
pub async fn record_many(
    c: &mut impl Conn,
    user: &CurrentUser,
    action: Action,
    child_ids: &[i64],
    object: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    // Chunked to stay far below both engines' bound-parameter limits.
    for chunk in child_ids.chunks(500) {
        let mut sql = String::from(
            "INSERT INTO access_log (at, user_id, role, action, child_id, object, detail) VALUES ",
        );
        for i in 0..chunk.len() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("($1, $2, $3, $4, ${}, $5, '')", i + 6));
        }
        dispatch!(c, c => {
            let mut q = sqlx::query(&sql)
                .bind(now)
                .bind(user.id)
                .bind(user.role.as_str())
                .bind(action.as_str())
                .bind(object);
            for id in chunk {
                q = q.bind(*id);
            }
            q.execute(&mut *c).await.map(|r| r.rows_affected())
        })?;
    }
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub user_id: i64,
    pub user_name: Option<String>,
    pub role: String,
    pub action: String,
    pub child_id: Option<i64>,
    pub object: String,
    pub detail: String,
}

/// The newest entries, optionally for one child and/or one user.
#[tracing::instrument(skip_all)]
pub async fn entries(
    c: &mut impl Conn,
    child_id: Option<i64>,
    user_id: Option<i64>,
    limit: i64,
) -> anyhow::Result<Vec<Entry>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT a.id, a.at, a.user_id, u.name AS user_name, a.role, a.action, a.child_id, a.object, a.detail \
         FROM access_log a LEFT JOIN users u ON u.id = a.user_id \
         WHERE ($1 IS NULL OR a.child_id = $1) AND ($2 IS NULL OR a.user_id = $2) \
         ORDER BY a.at DESC, a.id DESC LIMIT $3",
    )
    .bind(child_id)
    .bind(user_id)
    .bind(limit)
    .fetch_all(&mut *c)
    .await)?)
}
