//! Overviews: for leaders and educators, where the children of their groups stand in a round,
//! who has a position, who moved since another round, and who needs follow-up; for the
//! municipality (admin) and the districts (social workers), aggregates only, with small-cell
//! suppression. Charts are server-rendered SVG with a data table beside them.

pub mod routes;
pub mod suppress;

use std::collections::HashMap;

use crate::db::Conn;
use crate::dispatch;

/// A child's team position in a round (the newest, corrections applied).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoundPosition {
    pub child_id: i64,
    pub group_id: i64,
    pub decided_rank: i32,
    pub domain_scores: String,
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub assessment_id: i64,
}

/// Positions in `round_id` of the children currently enrolled in `group_ids`.
#[tracing::instrument(skip_all)]
pub async fn positions(
    c: &mut impl Conn,
    round_id: i64,
    group_ids: &[i64],
) -> anyhow::Result<HashMap<i64, RoundPosition>> {
    let rows: Vec<RoundPosition> = dispatch!(c, c => sqlx::query_as(
        "SELECT a.child_id, e.group_id, a.decided_rank, a.domain_scores, a.submitted_at, a.id AS assessment_id \
         FROM assessments a JOIN enrolments e ON e.child_id = a.child_id AND e.to_date IS NULL \
         WHERE a.round_id = $1 AND a.kind = 'team' AND a.status = 'submitted' \
         AND NOT EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = a.id AND n.status = 'submitted') \
         ORDER BY a.submitted_at, a.id",
    )
    .bind(round_id)
    .fetch_all(&mut *c)
    .await)?;
    let mut out = HashMap::new();
    for r in rows {
        if group_ids.contains(&r.group_id) {
            out.insert(r.child_id, r);
        }
    }
    Ok(out)
}

/// One row of the municipal aggregate: where the child is, age and gender, and the level.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AggregateRow {
    pub district: String,
    pub institution_kind: String,
    pub birth_date: chrono::NaiveDate,
    pub gender: String,
    pub decided_rank: i32,
}

/// Every child's position in `round_id` with the facts the aggregates group by (districts
/// limited to `districts` when given).
#[tracing::instrument(skip_all)]
pub async fn aggregate_rows(
    c: &mut impl Conn,
    round_id: i64,
) -> anyhow::Result<Vec<(i64, AggregateRow)>> {
    let rows: Vec<(i64, i64, String, String, chrono::NaiveDate, String, i32)> = dispatch!(c, c => sqlx::query_as(
        "SELECT a.child_id, d.id, d.name, i.kind, ch.birth_date, ch.gender, a.decided_rank FROM assessments a \
         JOIN children ch ON ch.id = a.child_id \
         JOIN enrolments e ON e.child_id = a.child_id AND e.to_date IS NULL \
         JOIN groups g ON g.id = e.group_id JOIN institutions i ON i.id = g.institution_id \
         JOIN districts d ON d.id = i.district_id \
         WHERE a.round_id = $1 AND a.kind = 'team' AND a.status = 'submitted' \
         AND NOT EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = a.id AND n.status = 'submitted') \
         ORDER BY a.submitted_at, a.id",
    )
    .bind(round_id)
    .fetch_all(&mut *c)
    .await)?;
    // The newest position per child.
    let mut by_child: HashMap<i64, (i64, AggregateRow)> = HashMap::new();
    for (child, district_id, district, kind, birth_date, gender, rank) in rows {
        by_child.insert(
            child,
            (
                district_id,
                AggregateRow {
                    district,
                    institution_kind: kind,
                    birth_date,
                    gender,
                    decided_rank: rank,
                },
            ),
        );
    }
    Ok(by_child.into_values().collect())
}
