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
    if group_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let placeholders: Vec<String> = (0..group_ids.len())
        .map(|i| format!("${}", i + 2))
        .collect();
    let sql = format!(
        "SELECT a.child_id, e.group_id, a.decided_rank, a.domain_scores, a.submitted_at, a.id AS assessment_id \
         FROM enrolments e JOIN assessments a ON a.child_id = e.child_id \
         WHERE e.to_date IS NULL AND e.group_id IN ({}) \
         AND a.round_id = $1 AND a.kind = 'team' AND a.status = 'submitted' \
         AND NOT EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = a.id AND n.status = 'submitted') \
         ORDER BY a.submitted_at, a.id",
        placeholders.join(", ")
    );
    let rows: Vec<RoundPosition> = dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql).bind(round_id);
        for g in group_ids {
            q = q.bind(*g);
        }
        q.fetch_all(&mut *c).await
    })?;
    // CROSS JOIN keeps SQLite's join order: from the groups' few children to their positions,
    // not from every position in the round. The newest position per child wins.
    Ok(rows.into_iter().map(|r| (r.child_id, r)).collect())
}

/// Counts of children per (district, institution kind, gender, age band, level) in a round,
/// aggregated by the database. `bands` are (label, age from) in ascending age; a child's age
/// is taken on the round's closing day.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AggregateCount {
    pub district_id: i64,
    pub district: String,
    pub institution_kind: String,
    pub gender: String,
    pub band: String,
    pub decided_rank: i32,
    pub n: i64,
}

#[tracing::instrument(skip_all)]
pub async fn aggregate_counts(
    c: &mut impl Conn,
    round_id: i64,
    closes_on: chrono::NaiveDate,
    bands: &[(String, u32)],
) -> anyhow::Result<Vec<AggregateCount>> {
    use chrono::Datelike;
    // Born after the cut-off of the next band up: younger than that band. Oldest band first.
    let mut case = String::from("CASE");
    let mut cutoffs = Vec::new();
    for (i, (label, from)) in bands.iter().enumerate().rev() {
        let cutoff = closes_on
            .with_year(closes_on.year() - *from as i32)
            .unwrap_or(closes_on);
        cutoffs.push(cutoff);
        let label = label.replace('\'', "");
        case.push_str(&format!(
            " WHEN ch.birth_date <= ${} THEN '{label}'",
            cutoffs.len() + 1
        ));
        let _ = i;
    }
    case.push_str(" ELSE '?' END");
    let sql = format!(
        "SELECT d.id AS district_id, d.name AS district, i.kind AS institution_kind, ch.gender, {case} AS band, \
         a.decided_rank, COUNT(*) AS n FROM assessments a \
         JOIN children ch ON ch.id = a.child_id \
         JOIN enrolments e ON e.child_id = a.child_id AND e.to_date IS NULL \
         JOIN groups g ON g.id = e.group_id JOIN institutions i ON i.id = g.institution_id \
         JOIN districts d ON d.id = i.district_id \
         WHERE a.round_id = $1 AND a.kind = 'team' AND a.status = 'submitted' \
         AND NOT EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = a.id AND n.status = 'submitted') \
         AND NOT EXISTS (SELECT 1 FROM assessments b WHERE b.child_id = a.child_id AND b.round_id = a.round_id \
            AND b.kind = 'team' AND b.status = 'submitted' AND b.id > a.id \
            AND NOT EXISTS (SELECT 1 FROM assessments m WHERE m.supersedes_id = b.id AND m.status = 'submitted')) \
         GROUP BY d.id, d.name, i.kind, ch.gender, band, a.decided_rank"
    );
    Ok(dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql).bind(round_id);
        for d in &cutoffs {
            q = q.bind(*d);
        }
        q.fetch_all(&mut *c).await
    })?)
}
