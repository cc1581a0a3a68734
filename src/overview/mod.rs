//! Overviews: for leaders and educators, where the children of their groups stand in a round,
//! who has a position, who moved since another round, and who needs follow-up; for the
//! municipality (admin) and the districts (social workers), aggregates only, with small-cell
//! suppression. Charts are server-rendered SVG with a data table beside them.

pub mod routes;
pub mod suppress;
pub mod trend;

use std::collections::HashMap;

use crate::db::{Conn, fetch_all_with_ids, placeholders};
use crate::dispatch;

/// A child's team position in a round (the newest, corrections applied).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RoundPosition {
    pub child_id: i64,
    pub group_id: i64,
    pub round_id: i64,
    pub decided_rank: i32,
    pub domain_scores: String,
    pub submitted_at: chrono::DateTime<chrono::Utc>,
    pub assessment_id: i64,
    /// The day the child first came to the group's institution (`auth::scope::RecordWindow`).
    pub since: Option<chrono::NaiveDate>,
}

/// Positions in `round_id` of the children currently enrolled in `group_ids`.
pub async fn positions(
    c: &mut impl Conn,
    round_id: i64,
    group_ids: &[i64],
    today: chrono::NaiveDate,
) -> anyhow::Result<HashMap<i64, RoundPosition>> {
    Ok(positions_in_rounds(c, &[round_id], group_ids, today)
        .await?
        .remove(&round_id)
        .unwrap_or_default())
}

/// Positions per round in `round_ids` of the children currently enrolled in `group_ids`,
/// in one statement: round → child → position. A position another institution recorded
/// before the child came is left out unless the parents gave the handover consent
/// (`auth::scope::RecordWindow`), as `today` has it.
#[tracing::instrument(skip_all)]
pub async fn positions_in_rounds(
    c: &mut impl Conn,
    round_ids: &[i64],
    group_ids: &[i64],
    today: chrono::NaiveDate,
) -> anyhow::Result<HashMap<i64, HashMap<i64, RoundPosition>>> {
    if group_ids.is_empty() || round_ids.is_empty() {
        return Ok(HashMap::new());
    }
    // CROSS JOIN keeps SQLite's join order: from the groups' few children to their positions,
    // not from every position in the rounds.
    let sql = format!(
        "SELECT p.child_id, e.group_id, p.round_id, p.decided_rank, a.domain_scores, p.submitted_at, p.assessment_id, \
         (SELECT MIN(e2.from_date) FROM enrolments e2 JOIN groups g2 ON g2.id = e2.group_id \
          WHERE e2.child_id = p.child_id AND g2.institution_id = \
          (SELECT institution_id FROM groups WHERE id = e.group_id)) AS since \
         FROM enrolments e CROSS JOIN round_positions p JOIN assessments a ON a.id = p.assessment_id \
         WHERE p.child_id = e.child_id AND e.to_date IS NULL AND e.group_id IN ({}) AND p.round_id IN ({})",
        placeholders(1, group_ids.len()),
        placeholders(group_ids.len() + 1, round_ids.len()),
    );
    let rows: Vec<RoundPosition> = fetch_with_ids(c, &sql, group_ids, round_ids).await?;
    let mut children: Vec<i64> = rows.iter().map(|r| r.child_id).collect();
    children.sort_unstable();
    children.dedup();
    let consent = crate::consent::db::events_of(c, &children).await?;
    let mut out: HashMap<i64, HashMap<i64, RoundPosition>> = HashMap::new();
    for r in rows {
        let events = consent.get(&r.child_id).map(Vec::as_slice).unwrap_or(&[]);
        if !crate::auth::scope::RecordWindow::of(r.since, events, today).admits(r.submitted_at) {
            continue;
        }
        out.entry(r.round_id).or_default().insert(r.child_id, r);
    }
    Ok(out)
}

/// How many children currently enrolled in each of `group_ids` have each rank in each of
/// `round_ids`: (group, round, rank, count), counted by the database.
#[tracing::instrument(skip_all)]
pub async fn rank_counts(
    c: &mut impl Conn,
    round_ids: &[i64],
    group_ids: &[i64],
) -> anyhow::Result<Vec<(i64, i64, i32, i64)>> {
    if group_ids.is_empty() || round_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT e.group_id, p.round_id, p.decided_rank, COUNT(*) FROM enrolments e CROSS JOIN round_positions p \
         WHERE p.child_id = e.child_id AND e.to_date IS NULL AND e.group_id IN ({}) AND p.round_id IN ({}) \
         GROUP BY e.group_id, p.round_id, p.decided_rank",
        placeholders(1, group_ids.len()),
        placeholders(group_ids.len() + 1, round_ids.len()),
    );
    fetch_with_ids(c, &sql, group_ids, round_ids).await
}

/// Runs `sql` with `group_ids`, then `round_ids`, bound as `$1…` in that order.
async fn fetch_with_ids<T>(
    c: &mut impl Conn,
    sql: &str,
    group_ids: &[i64],
    round_ids: &[i64],
) -> anyhow::Result<Vec<T>>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
        + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
        + Send
        + Unpin,
{
    let ids: Vec<i64> = group_ids.iter().chain(round_ids).copied().collect();
    fetch_all_with_ids(c, sql, &ids).await
}

/// The status of each open alert about a child currently enrolled in `group_ids`.
#[tracing::instrument(skip_all)]
pub async fn open_alerts(
    c: &mut impl Conn,
    group_ids: &[i64],
) -> anyhow::Result<HashMap<i64, String>> {
    if group_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT a.child_id, a.status FROM enrolments e CROSS JOIN alerts a \
         WHERE a.child_id = e.child_id AND e.to_date IS NULL AND e.group_id IN ({}) \
         AND a.status <> 'closed'",
        placeholders(1, group_ids.len())
    );
    let rows: Vec<(i64, String)> = fetch_all_with_ids(c, &sql, group_ids).await?;
    Ok(rows.into_iter().collect())
}

/// Counted figures of one round, with when they were counted.
pub type Counted = (
    chrono::DateTime<chrono::Utc>,
    std::sync::Arc<Vec<AggregateCount>>,
);

/// The municipal figures of recently counted rounds. Statistics may be a minute old: the
/// page says when they were counted, and 50 people reading them at once then cost one count a
/// minute instead of one each.
#[derive(Default)]
pub struct AggregateCache {
    rounds: std::sync::Mutex<HashMap<i64, Counted>>,
}

impl AggregateCache {
    /// The counts of `round_id` if counted at most `max_age` before `now`, with when.
    pub fn get(
        &self,
        round_id: i64,
        now: chrono::DateTime<chrono::Utc>,
        max_age: chrono::Duration,
    ) -> Option<Counted> {
        let map = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&round_id)
            .filter(|(at, _)| now - *at < max_age && *at <= now)
            .cloned()
    }

    pub fn put(
        &self,
        round_id: i64,
        at: chrono::DateTime<chrono::Utc>,
        rows: std::sync::Arc<Vec<AggregateCount>>,
    ) {
        let mut map = self.rounds.lock().unwrap_or_else(|e| e.into_inner());
        map.insert(round_id, (at, rows));
    }
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

/// The SQL `CASE` expression that puts `column` (a birth date) into one of `bands` (label,
/// age from; ascending) by the age on `closes_on`, and the cut-off dates it binds from
/// `$first` on. Oldest band first: born on or before its cut-off means at least that old.
pub fn band_case(
    column: &str,
    closes_on: chrono::NaiveDate,
    bands: &[(String, u32)],
    first: usize,
) -> (String, Vec<chrono::NaiveDate>) {
    use chrono::Datelike;
    let mut case = String::from("CASE");
    let mut cutoffs = Vec::new();
    for (label, from) in bands.iter().rev() {
        let cutoff = closes_on
            .with_year(closes_on.year() - *from as i32)
            .unwrap_or(closes_on);
        let label = label.replace('\'', "");
        case.push_str(&format!(
            " WHEN {column} <= ${} THEN '{label}'",
            first + cutoffs.len()
        ));
        cutoffs.push(cutoff);
    }
    case.push_str(" ELSE '?' END");
    (case, cutoffs)
}

/// Counts of positions per (district, institution type, gender, age band, level) in a round:
/// the sums of the round's kept counts (`round_counts`, per whole year of age on the round's
/// closing day), a few thousand rows whatever the number of children. `bands` are (label,
/// age from), ascending.
#[tracing::instrument(skip_all)]
pub async fn aggregate_counts(
    c: &mut impl Conn,
    round_id: i64,
    bands: &[(String, u32)],
) -> anyhow::Result<Vec<AggregateCount>> {
    let mut case = String::from("CASE");
    for (label, from) in bands.iter().rev() {
        case.push_str(&format!(
            " WHEN x.age >= {from} THEN '{}'",
            label.replace('\'', "")
        ));
    }
    case.push_str(" ELSE '?' END");
    let sql = format!(
        "SELECT y.district_id, d.name AS district, y.institution_kind, y.gender, y.band, y.decided_rank, \
         CAST(SUM(y.n) AS BIGINT) AS n \
         FROM (SELECT x.district_id, x.institution_kind, x.gender, {case} AS band, x.decided_rank, x.n \
               FROM round_counts x WHERE x.round_id = $1 AND x.n > 0) y \
         JOIN districts d ON d.id = y.district_id \
         GROUP BY y.district_id, d.name, y.institution_kind, y.gender, y.band, y.decided_rank \
         ORDER BY y.district_id, y.institution_kind, y.gender, y.band, y.decided_rank"
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(round_id).fetch_all(&mut *c).await)?)
}
