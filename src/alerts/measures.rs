//! Preventive measures on a named case and their review rhythm. The worker records a measure
//! (its kind from the configured list, start, planned length, who is responsible, how often
//! it is reviewed); reviews come due on dates — the worker's front page lists those due this
//! week and those overdue, and an email (no personal data) goes to the worker when one
//! becomes due — and each review records what changed and whether the measure continues,
//! changes (a new rhythm) or ends. A measure under Barnets Lov § 30 (at most about three
//! months) is flagged once it runs past its planned length.
//!
//! Measures belong to the case, not to an institution: they follow the alert's district
//! when the child moves (the alert is re-routed), and only the worker's side sees them.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::auth::CurrentUser;
use crate::config::MeasureType;
use crate::db::Conn;
use crate::dispatch;
use crate::state::AppState;

pub const ACTIVE: &str = "active";
pub const ENDED: &str = "ended";

/// The decisions a review records.
pub const DECISIONS: [&str; 3] = ["continue", "change", "end"];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Measure {
    pub id: i64,
    pub alert_id: i64,
    pub child_id: i64,
    pub kind: String,
    pub section30: bool,
    pub started_on: NaiveDate,
    pub planned_weeks: i32,
    pub responsible: String,
    pub review_weeks: i32,
    pub next_review_on: NaiveDate,
    pub status: String,
    pub ended_on: Option<NaiveDate>,
}

impl Measure {
    /// The day the planned length runs out.
    pub fn planned_end(&self) -> NaiveDate {
        self.started_on + Duration::weeks(i64::from(self.planned_weeks))
    }

    /// Active, and its review date has passed.
    pub fn review_overdue(&self, today: NaiveDate) -> bool {
        self.status == ACTIVE && self.next_review_on < today
    }

    /// A § 30 measure still running past its planned length.
    pub fn past_planned_length(&self, today: NaiveDate) -> bool {
        self.status == ACTIVE && self.section30 && today > self.planned_end()
    }
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Review {
    pub measure_id: i64,
    pub reviewed_on: NaiveDate,
    pub changed: String,
    pub decision: String,
    pub by_name: String,
}

const SELECT: &str = "SELECT id, alert_id, child_id, kind, section30, started_on, planned_weeks, responsible, \
     review_weeks, next_review_on, status, ended_on FROM measures";

/// The measures recorded on an alert, oldest first.
pub async fn of_alert(c: &mut impl Conn, alert_id: i64) -> anyhow::Result<Vec<Measure>> {
    let sql = format!("{SELECT} WHERE alert_id = $1 ORDER BY id");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(alert_id).fetch_all(&mut *c).await)?)
}

/// The child's active measures, soonest review first.
pub async fn active_of_child(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<Measure>> {
    let sql =
        format!("{SELECT} WHERE child_id = $1 AND status = 'active' ORDER BY next_review_on, id");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(child_id).fetch_all(&mut *c).await)?)
}

pub async fn get(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<Measure>> {
    let sql = format!("{SELECT} WHERE id = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?)
}

/// The reviews of an alert's measures, oldest first.
pub async fn reviews_of_alert(c: &mut impl Conn, alert_id: i64) -> anyhow::Result<Vec<Review>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT r.measure_id, r.reviewed_on, r.changed, r.decision, u.name AS by_name FROM measure_reviews r \
         JOIN measures m ON m.id = r.measure_id JOIN users u ON u.id = r.created_by \
         WHERE m.alert_id = $1 ORDER BY r.id",
    )
    .bind(alert_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// A new measure, as the worker entered it (checked by the caller).
pub struct NewMeasure<'a> {
    pub alert_id: i64,
    pub child_id: i64,
    pub kind: &'a MeasureType,
    pub started_on: NaiveDate,
    pub planned_weeks: i32,
    pub responsible: &'a str,
    pub review_weeks: i32,
}

/// Records a measure in the caller's transaction; its first review is one rhythm after the
/// start.
pub async fn insert(
    c: &mut impl Conn,
    user: &CurrentUser,
    m: NewMeasure<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    let next = m.started_on + Duration::weeks(i64::from(m.review_weeks));
    let id: i64 = dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO measures (alert_id, child_id, kind, section30, started_on, planned_weeks, responsible, \
         review_weeks, next_review_on, status, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'active', $10, $11) RETURNING id",
    )
    .bind(m.alert_id)
    .bind(m.child_id)
    .bind(&m.kind.id)
    .bind(m.kind.section30)
    .bind(m.started_on)
    .bind(m.planned_weeks)
    .bind(m.responsible)
    .bind(m.review_weeks)
    .bind(next)
    .bind(user.id)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?;
    Ok(id)
}

/// A review as the worker entered it (checked by the caller).
pub struct NewReview<'a> {
    pub changed: &'a str,
    /// One of [`DECISIONS`].
    pub decision: &'a str,
    /// The rhythm from now on.
    pub review_weeks: i32,
    /// The local day of the review.
    pub on: NaiveDate,
}

/// Records a review in the caller's transaction: the measure continues (next review one
/// rhythm on), changes (a new rhythm from today) or ends. Refuses (false) a measure that has
/// ended.
pub async fn review(
    c: &mut impl Conn,
    user: &CurrentUser,
    measure: &Measure,
    r: NewReview<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let NewReview {
        changed,
        decision,
        review_weeks,
        on: today,
    } = r;
    let (status, next, ended) = match decision {
        "end" => (ENDED, measure.next_review_on, Some(today)),
        _ => (
            ACTIVE,
            today + Duration::weeks(i64::from(review_weeks)),
            None,
        ),
    };
    let n = dispatch!(c, c => sqlx::query(
        "UPDATE measures SET status = $1, next_review_on = $2, review_weeks = $3, ended_on = $4 \
         WHERE id = $5 AND status = 'active'",
    )
    .bind(status)
    .bind(next)
    .bind(review_weeks)
    .bind(ended)
    .bind(measure.id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 0 {
        return Ok(false);
    }
    dispatch!(c, c => sqlx::query(
        "INSERT INTO measure_reviews (measure_id, reviewed_on, changed, decision, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(measure.id)
    .bind(today)
    .bind(changed)
    .bind(decision)
    .bind(user.id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(true)
}

/// A review coming due for a worker: the measure, and the alert it is on.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Due {
    pub id: i64,
    pub alert_id: i64,
    pub kind: String,
    pub next_review_on: NaiveDate,
}

/// [`due_for_worker`]'s statement: `$1` the worker, `$2` the last day. It starts from the
/// worker's districts and reads their alerts by the district index, then each alert's
/// measures; the municipal queue's (no district) are a second branch. (`CROSS JOIN` keeps
/// SQLite in that order. With one `district IS NULL OR IN (…)` condition PostgreSQL read
/// every alert of the municipality: 15 ms at 110,000 children, against 1–4 ms.)
pub const DUE_FOR_WORKER: &str = "SELECT m.id, m.alert_id, m.kind, m.next_review_on FROM user_districts ud \
     CROSS JOIN alerts a CROSS JOIN measures m \
     WHERE a.district_id = ud.district_id AND m.alert_id = a.id AND ud.user_id = $1 \
     AND m.status = 'active' AND m.next_review_on <= $2 \
     UNION ALL SELECT m.id, m.alert_id, m.kind, m.next_review_on FROM alerts a CROSS JOIN measures m \
     WHERE m.alert_id = a.id AND a.district_id IS NULL AND m.status = 'active' AND m.next_review_on <= $2 \
     ORDER BY 4, 1 LIMIT 200";

/// The active measures of `user_id`'s districts (and the municipal queue) whose review is
/// due by `until`, soonest first: overdue ones and this week's.
pub async fn due_for_worker(
    c: &mut impl Conn,
    user_id: i64,
    until: NaiveDate,
) -> anyhow::Result<Vec<Due>> {
    Ok(dispatch!(c, c => sqlx::query_as(DUE_FOR_WORKER)
    .bind(user_id)
    .bind(until)
    .fetch_all(&mut *c)
    .await)?)
}

/// Sends the reminders of reviews that have come due, once per review date. Each measure is
/// claimed by the statement that marks it (`reminded_for`), so a second instance running the
/// same minute finds nothing left to send. The email names no child.
pub async fn remind_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let today = now.with_timezone(&state.config.time_zone).date_naive();
    let mut tx = state.db.begin().await?;
    let claimed: Vec<(i64, i64, Option<i64>, Option<i64>)> = dispatch!(&mut tx, c => sqlx::query_as(
        "UPDATE measures SET reminded_for = next_review_on \
         WHERE status = 'active' AND next_review_on <= $1 \
         AND (reminded_for IS NULL OR reminded_for <> next_review_on) \
         RETURNING id, alert_id, \
         (SELECT a.taken_by FROM alerts a WHERE a.id = measures.alert_id), \
         (SELECT a.district_id FROM alerts a WHERE a.id = measures.alert_id)",
    )
    .bind(today)
    .fetch_all(&mut *c)
    .await)?;
    let base = state.config.base_url();
    for (_, alert_id, taken_by, district) in &claimed {
        for (_, email) in super::conversation::workers(&mut tx, *district, *taken_by).await? {
            crate::notify::enqueue(
                &mut tx,
                &email,
                "Trivsel: en opfølgning er forfalden",
                &format!(
                    "En forebyggende indsats i Trivsel skal følges op i dag.\n\nSe sagen her: {base}/alerts/{alert_id}#measures\n\nDenne e-mail indeholder ingen personoplysninger.\n"
                ),
                now,
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(claimed.len())
}

// ---- dialogue and network meetings ----

/// The kinds of meeting recorded with the parents.
pub const MEETING_KINDS: [&str; 2] = ["dialogue", "network"];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Meeting {
    pub id: i64,
    pub kind: String,
    pub held_on: NaiveDate,
    pub participants: String,
    pub agreements: String,
    pub shared_with_team: bool,
}

/// A meeting as the worker entered it (checked by the caller).
pub struct NewMeeting<'a> {
    pub alert_id: i64,
    pub child_id: i64,
    /// One of [`MEETING_KINDS`].
    pub kind: &'a str,
    pub held_on: NaiveDate,
    /// Who took part, by role ("mor, far, klasselærer, sundhedsplejerske").
    pub participants: &'a str,
    pub agreements: &'a str,
    /// Whether the child's team sees the agreements (those that concern the institution).
    pub shared_with_team: bool,
}

pub async fn insert_meeting(
    c: &mut impl Conn,
    user: &CurrentUser,
    m: NewMeeting<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO case_meetings (alert_id, child_id, kind, held_on, participants, agreements, shared_with_team, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
    )
    .bind(m.alert_id)
    .bind(m.child_id)
    .bind(m.kind)
    .bind(m.held_on)
    .bind(m.participants)
    .bind(m.agreements)
    .bind(m.shared_with_team)
    .bind(user.id)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?)
}

/// An alert's meetings, newest first; `team_only` keeps those whose agreements the team sees.
pub async fn meetings_of_alert(
    c: &mut impl Conn,
    alert_id: i64,
    team_only: bool,
) -> anyhow::Result<Vec<Meeting>> {
    let sql = format!(
        "SELECT id, kind, held_on, participants, agreements, shared_with_team FROM case_meetings \
         WHERE alert_id = $1 {} ORDER BY held_on DESC, id DESC",
        if team_only {
            "AND shared_with_team"
        } else {
            ""
        }
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(alert_id).fetch_all(&mut *c).await)?)
}

/// The catalogue key of a meeting's kind.
pub fn meeting_kind_key(kind: &str) -> &'static str {
    match kind {
        "network" => "meeting.kind.network",
        _ => "meeting.kind.dialogue",
    }
}

/// A child with an active measure, as a leader's overview lists it per group.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ActiveInGroup {
    pub group_id: i64,
    pub child_id: i64,
    pub name: String,
    pub next_review_on: NaiveDate,
}

/// The children enrolled today in `group_ids` who have an active measure, with the soonest
/// next review of theirs. What a leader's overview may show: that there is a measure and
/// when it is next reviewed, never its kind, reviews or meetings.
pub async fn active_in_groups(
    c: &mut impl Conn,
    group_ids: &[i64],
) -> anyhow::Result<Vec<ActiveInGroup>> {
    if group_ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT e.group_id, m.child_id, ch.first_name || ' ' || ch.last_name AS name, \
         MIN(m.next_review_on) AS next_review_on FROM enrolments e \
         JOIN measures m ON m.child_id = e.child_id AND m.status = 'active' \
         JOIN children ch ON ch.id = e.child_id \
         WHERE e.to_date IS NULL AND e.group_id IN ({}) \
         GROUP BY e.group_id, m.child_id, ch.first_name, ch.last_name ORDER BY 3",
        crate::db::placeholders(1, group_ids.len())
    );
    crate::db::fetch_all_with_ids(c, &sql, group_ids).await
}
