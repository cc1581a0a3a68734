//! Overviews: for leaders and educators, where the children of their groups stand in a round,
//! who has a position, who moved since another round, and who needs follow-up; for the
//! municipality (admin) and the districts (social workers), aggregates only, with small-cell
//! suppression. Charts are server-rendered SVG with a data table beside them.

pub mod routes;
pub mod suppress;
pub mod trend;

use std::collections::HashMap;

use crate::db::Conn;
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
}

/// Positions in `round_id` of the children currently enrolled in `group_ids`.
pub async fn positions(
    c: &mut impl Conn,
    round_id: i64,
    group_ids: &[i64],
) -> anyhow::Result<HashMap<i64, RoundPosition>> {
    Ok(positions_in_rounds(c, &[round_id], group_ids)
        .await?
        .remove(&round_id)
        .unwrap_or_default())
}

/// Positions per round in `round_ids` of the children currently enrolled in `group_ids`,
/// in one statement: round → child → position.
#[tracing::instrument(skip_all)]
pub async fn positions_in_rounds(
    c: &mut impl Conn,
    round_ids: &[i64],
    group_ids: &[i64],
) -> anyhow::Result<HashMap<i64, HashMap<i64, RoundPosition>>> {
    if group_ids.is_empty() || round_ids.is_empty() {
        return Ok(HashMap::new());
    }
    // CROSS JOIN keeps SQLite's join order: from the groups' few children to their positions,
    // not from every position in the rounds.
    let sql = format!(
        "SELECT p.child_id, e.group_id, p.round_id, p.decided_rank, a.domain_scores, p.submitted_at, p.assessment_id \
         FROM enrolments e CROSS JOIN round_positions p JOIN assessments a ON a.id = p.assessment_id \
         WHERE p.child_id = e.child_id AND e.to_date IS NULL AND e.group_id IN ({}) AND p.round_id IN ({})",
        params(1, group_ids.len()),
        params(group_ids.len() + 1, round_ids.len()),
    );
    let rows: Vec<RoundPosition> = dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql);
        for g in group_ids {
            q = q.bind(*g);
        }
        for r in round_ids {
            q = q.bind(*r);
        }
        q.fetch_all(&mut *c).await
    })?;
    let mut out: HashMap<i64, HashMap<i64, RoundPosition>> = HashMap::new();
    for r in rows {
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
        params(1, group_ids.len()),
        params(group_ids.len() + 1, round_ids.len()),
    );
    Ok(dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql);
        for g in group_ids {
            q = q.bind(*g);
        }
        for r in round_ids {
            q = q.bind(*r);
        }
        q.fetch_all(&mut *c).await
    })?)
}

fn params(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
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
        params(1, group_ids.len())
    );
    let rows: Vec<(i64, String)> = dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql);
        for g in group_ids {
            q = q.bind(*g);
        }
        q.fetch_all(&mut *c).await
    })?;
    Ok(rows.into_iter().collect())
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

/// Counts of positions per (district, institution type, gender, age band, level) in a round.
/// The database counts per (group, gender, band, level) in one scan of `round_positions`'
/// covering index; the few thousand groups are then mapped to their district and type here.
#[tracing::instrument(skip_all)]
pub async fn aggregate_counts(
    c: &mut impl Conn,
    round_id: i64,
    closes_on: chrono::NaiveDate,
    bands: &[(String, u32)],
) -> anyhow::Result<Vec<AggregateCount>> {
    let (case, cutoffs) = band_case("p.birth_date", closes_on, bands, 2);
    let sql = format!(
        "SELECT p.group_id, p.gender, {case} AS band, p.decided_rank, COUNT(*) AS n \
         FROM round_positions p WHERE p.round_id = $1 AND p.group_id IS NOT NULL \
         GROUP BY p.group_id, p.gender, band, p.decided_rank"
    );
    let per_group: Vec<(i64, String, String, i32, i64)> = dispatch!(c, c => {
        let mut q = sqlx::query_as(&sql).bind(round_id);
        for d in &cutoffs {
            q = q.bind(*d);
        }
        q.fetch_all(&mut *c).await
    })?;
    let groups: HashMap<i64, (i64, String, String)> = dispatch!(c, c => sqlx::query_as::<_, (i64, i64, String, String)>(
        "SELECT g.id, d.id, d.name, i.kind FROM groups g JOIN institutions i ON i.id = g.institution_id \
         JOIN districts d ON d.id = i.district_id",
    )
    .fetch_all(&mut *c)
    .await)?
    .into_iter()
    .map(|(g, d, name, kind)| (g, (d, name, kind)))
    .collect();
    let mut totals: HashMap<(i64, &str, &str, &str, i32), i64> = HashMap::new();
    for (group, gender, band, rank, n) in &per_group {
        if let Some((district, _, kind)) = groups.get(group) {
            *totals
                .entry((
                    *district,
                    kind.as_str(),
                    gender.as_str(),
                    band.as_str(),
                    *rank,
                ))
                .or_default() += n;
        }
    }
    let names: HashMap<i64, &str> = groups
        .values()
        .map(|(d, name, _)| (*d, name.as_str()))
        .collect();
    let mut out: Vec<AggregateCount> = totals
        .into_iter()
        .map(
            |((district_id, kind, gender, band, rank), n)| AggregateCount {
                district_id,
                district: names
                    .get(&district_id)
                    .copied()
                    .unwrap_or_default()
                    .to_string(),
                institution_kind: kind.to_string(),
                gender: gender.to_string(),
                band: band.to_string(),
                decided_rank: rank,
                n,
            },
        )
        .collect();
    out.sort_by(|a, b| {
        (
            a.district_id,
            &a.institution_kind,
            &a.gender,
            &a.band,
            a.decided_rank,
        )
            .cmp(&(
                b.district_id,
                &b.institution_kind,
                &b.gender,
                &b.band,
                b.decided_rank,
            ))
    });
    Ok(out)
}
