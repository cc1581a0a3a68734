//! SQL for consent events.

use chrono::{DateTime, NaiveDate, Utc};

use super::{Event, EventKind, Purpose};
use crate::db::Conn;
use crate::dispatch;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Row {
    pub id: i64,
    pub purpose: String,
    pub event: String,
    pub guardian_name: Option<String>,
    pub method: String,
    pub expires_on: Option<NaiveDate>,
    pub note: String,
    pub recorded_by_name: String,
    pub recorded_at: DateTime<Utc>,
}

impl Row {
    pub fn to_event(&self) -> Option<Event> {
        Some(Event {
            purpose: Purpose::parse(&self.purpose)?,
            kind: EventKind::parse(&self.event)?,
            expires_on: self.expires_on,
        })
    }
}

/// The consent events of `children`, oldest first per child, as the disclosure rule reads
/// them: one query for a whole list (the social worker's inbox).
#[tracing::instrument(skip_all)]
pub async fn events_of(
    c: &mut impl Conn,
    children: &[i64],
) -> anyhow::Result<std::collections::HashMap<i64, Vec<Event>>> {
    let mut out: std::collections::HashMap<i64, Vec<Event>> = Default::default();
    if children.is_empty() {
        return Ok(out);
    }
    let sql = format!(
        "SELECT child_id, purpose, event, expires_on FROM consent_events \
         WHERE child_id IN ({}) ORDER BY child_id, recorded_at, id",
        crate::db::placeholders(1, children.len())
    );
    let rows: Vec<(i64, String, String, Option<NaiveDate>)> =
        crate::db::fetch_all_with_ids(c, &sql, children).await?;
    for (child, purpose, event, expires_on) in rows {
        if let (Some(purpose), Some(kind)) = (Purpose::parse(&purpose), EventKind::parse(&event)) {
            out.entry(child).or_default().push(Event {
                purpose,
                kind,
                expires_on,
            });
        }
    }
    Ok(out)
}

/// A child's consent events, oldest first.
#[tracing::instrument(skip_all)]
pub async fn events(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<Row>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT e.id, e.purpose, e.event, g.name AS guardian_name, e.method, e.expires_on, e.note, \
         u.name AS recorded_by_name, e.recorded_at FROM consent_events e \
         JOIN users u ON u.id = e.recorded_by LEFT JOIN guardians g ON g.id = e.guardian_id \
         WHERE e.child_id = $1 ORDER BY e.recorded_at, e.id",
    )
    .bind(child_id)
    .fetch_all(&mut *c)
    .await)?)
}

pub fn as_events(rows: &[Row]) -> Vec<Event> {
    rows.iter().filter_map(Row::to_event).collect()
}

pub struct NewEvent<'a> {
    pub child_id: i64,
    pub purpose: Purpose,
    pub kind: EventKind,
    pub guardian_id: Option<i64>,
    pub method: &'a str,
    pub expires_on: Option<NaiveDate>,
    pub note: &'a str,
    pub recorded_by: i64,
}

#[tracing::instrument(skip_all)]
pub async fn insert(
    c: &mut impl Conn,
    e: &NewEvent<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO consent_events (child_id, purpose, event, guardian_id, method, expires_on, note, recorded_by, recorded_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(e.child_id)
    .bind(e.purpose.as_str())
    .bind(e.kind.as_str())
    .bind(e.guardian_id)
    .bind(e.method)
    .bind(e.expires_on)
    .bind(e.note)
    .bind(e.recorded_by)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?)
}
