//! Follow-up of a team position at yellow or above: the focus points the team will watch or
//! the action plan it has agreed, with the date to review it — what the level's handleguide
//! asks for. The leader's overview shows, per child of concern, whether one is recorded and
//! when it is due. Records are append-only; the newest for a position is the current one.
//! The text is a child's personal data: it is shown to those who may see the assessment and
//! never logged or emailed.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::db::Conn;
use crate::dispatch;
use crate::web::tkey;

pub const FOCUS_POINTS: &str = "focus_points";
pub const ACTION_PLAN: &str = "action_plan";

/// The catalogue key naming a kind of follow-up.
pub fn kind_key(kind: &str) -> &'static str {
    match kind {
        ACTION_PLAN => tkey("follow_up.action_plan"),
        _ => tkey("follow_up.focus_points"),
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct FollowUp {
    pub id: i64,
    pub assessment_id: i64,
    pub kind: String,
    pub body: String,
    pub review_on: NaiveDate,
    pub author_name: String,
    pub created_at: DateTime<Utc>,
}

pub struct NewFollowUp<'a> {
    pub assessment_id: i64,
    pub child_id: i64,
    pub kind: &'a str,
    pub body: &'a str,
    pub review_on: NaiveDate,
    pub created_by: i64,
}

pub async fn insert(
    c: &mut impl Conn,
    f: &NewFollowUp<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO follow_ups (assessment_id, child_id, kind, body, review_on, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(f.assessment_id)
    .bind(f.child_id)
    .bind(f.kind)
    .bind(f.body)
    .bind(f.review_on)
    .bind(f.created_by)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?)
}

/// The follow-ups of a position, newest first.
#[tracing::instrument(skip_all)]
pub async fn for_assessment(
    c: &mut impl Conn,
    assessment_id: i64,
) -> anyhow::Result<Vec<FollowUp>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT f.id, f.assessment_id, f.kind, f.body, f.review_on, u.name AS author_name, f.created_at \
         FROM follow_ups f JOIN users u ON u.id = f.created_by WHERE f.assessment_id = $1 \
         ORDER BY f.created_at DESC, f.id DESC",
    )
    .bind(assessment_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// The current follow-up (kind, review date) of each of `assessment_ids` that has one.
#[tracing::instrument(skip_all)]
pub async fn current(
    c: &mut impl Conn,
    assessment_ids: &[i64],
) -> anyhow::Result<HashMap<i64, (String, NaiveDate)>> {
    if assessment_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT assessment_id, kind, review_on FROM follow_ups WHERE assessment_id IN ({}) \
         ORDER BY created_at, id",
        crate::db::placeholders(1, assessment_ids.len())
    );
    let rows: Vec<(i64, String, NaiveDate)> =
        crate::db::fetch_all_with_ids(c, &sql, assessment_ids).await?;
    // Oldest first, so the newest of each position wins.
    Ok(rows
        .into_iter()
        .map(|(id, kind, review)| (id, (kind, review)))
        .collect())
}
