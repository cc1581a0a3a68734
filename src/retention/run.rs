//! Deletion by rule. Each rule of the policy becomes one or more *targets*: a table, the rows
//! the rule takes (a condition with `$1` the cutoff), and the statements that delete them —
//! the rows that depend on them first — in batches of `$2` rows, one short transaction per
//! batch, so pages stay fast while a run goes on. A dry run counts the same rows with the
//! same condition. Nothing of a child under a legal hold is ever a target.
//!
//! A run is recorded in `retention_runs` with its counts per kind of record and rule (never
//! personal data), for the admin and the data-protection officer. The daily run is claimed
//! by its date, so of several instances exactly one runs it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::policy::{After, Policy, Records, Rule};
use crate::db::{Backend, Db};
use crate::dispatch;

/// Rows per transaction: a batch of children takes their whole records with them.
const CHILD_BATCH: i64 = 100;
const ROW_BATCH: i64 = 500;

/// A pause between batches, so the writer is free for the pages in between.
const BREATHE: std::time::Duration = std::time::Duration::from_millis(5);

/// What `$1` is bound to.
#[derive(Debug, Clone, Copy)]
enum Cutoff {
    Date(NaiveDate),
    At(DateTime<Utc>),
    /// Seconds since 1970 (session expiry).
    Unix(i64),
}

/// Binds a cutoff as `$1` (a macro: the query's type differs per database).
macro_rules! bind_cutoff {
    ($q:expr, $cutoff:expr) => {
        match $cutoff {
            Cutoff::Date(d) => $q.bind(d),
            Cutoff::At(at) => $q.bind(at),
            Cutoff::Unix(s) => $q.bind(s),
        }
    };
}

/// The rows one rule takes from one table.
struct Target {
    table: &'static str,
    /// The table's key column.
    key: &'static str,
    /// Which rows, as a condition on `x` (the table) with `$1` the cutoff.
    condition: String,
    /// Run in order for each batch; `{batch}` stands for the batch's keys (a subquery).
    statements: Vec<String>,
    batch: i64,
}

/// The condition "of a child the rule has reached and no hold protects", with the child's
/// id in `child`.
fn of_child(child: &str, after: After) -> String {
    let reached = match after {
        After::Birth => "c.birth_date <= $1",
        _ => "c.left_on <= $1",
    };
    format!(
        "EXISTS (SELECT 1 FROM children c WHERE c.id = {child} AND {reached}) AND {}",
        not_held(child)
    )
}

fn not_held(child: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM legal_holds h WHERE h.child_id = {child} AND h.lifted_at IS NULL)"
    )
}

/// `of_child` for the child-event rules; for `created`, the row's own date column.
fn reached(after: After, child: &str, created: &str) -> String {
    match after {
        After::Created => format!("x.{created} < $1 AND {}", not_held(child)),
        _ => of_child(child, after),
    }
}

fn target(table: &'static str, condition: String, statements: &[&str], batch: i64) -> Target {
    Target {
        table,
        key: "id",
        condition,
        statements: statements.iter().map(|s| s.to_string()).collect(),
        batch,
    }
}

/// The targets of one rule.
fn targets(rule: &Rule) -> Vec<Target> {
    let a = rule.after;
    match rule.records {
        Records::Children => vec![target(
            "children",
            match a {
                After::Birth => format!("x.birth_date <= $1 AND {}", not_held("x.id")),
                _ => format!("x.left_on <= $1 AND {}", not_held("x.id")),
            },
            &[
                "DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE child_id IN ({batch}))",
                "DELETE FROM alert_messages WHERE alert_id IN (SELECT id FROM alerts WHERE child_id IN ({batch}))",
                "DELETE FROM alert_unread WHERE alert_id IN (SELECT id FROM alerts WHERE child_id IN ({batch}))",
                "DELETE FROM measure_reviews WHERE measure_id IN (SELECT id FROM measures WHERE child_id IN ({batch}))",
                "DELETE FROM measures WHERE child_id IN ({batch})",
                "DELETE FROM case_meetings WHERE child_id IN ({batch})",
                "DELETE FROM alerts WHERE child_id IN ({batch})",
                "DELETE FROM follow_ups WHERE child_id IN ({batch})",
                "DELETE FROM round_positions WHERE child_id IN ({batch})",
                "DELETE FROM assessments WHERE child_id IN ({batch})",
                "DELETE FROM consent_events WHERE child_id IN ({batch})",
                "DELETE FROM guardians WHERE child_id IN ({batch})",
                "DELETE FROM enrolments WHERE child_id IN ({batch})",
                "DELETE FROM legal_holds WHERE child_id IN ({batch})",
                "DELETE FROM children WHERE id IN ({batch})",
            ],
            CHILD_BATCH,
        )],
        Records::Enrolments => vec![target(
            "enrolments",
            of_child("x.child_id", a),
            &[
                "UPDATE children SET current_group_id = NULL WHERE id IN \
                 (SELECT child_id FROM enrolments WHERE id IN ({batch}) AND to_date IS NULL)",
                "DELETE FROM enrolments WHERE id IN ({batch})",
            ],
            ROW_BATCH,
        )],
        // An assessment an alert still refers to stays until the alert goes.
        Records::Assessments => vec![target(
            "assessments",
            format!(
                "{} AND NOT EXISTS (SELECT 1 FROM alerts al WHERE al.assessment_id = x.id)",
                reached(a, "x.child_id", "created_at")
            ),
            &[
                "DELETE FROM follow_ups WHERE assessment_id IN ({batch})",
                "DELETE FROM round_positions WHERE assessment_id IN ({batch})",
                "UPDATE assessments SET supersedes_id = NULL WHERE supersedes_id IN ({batch})",
                "DELETE FROM assessments WHERE id IN ({batch})",
            ],
            ROW_BATCH,
        )],
        // Free text is blanked where it stands; the record around it stays its own time.
        Records::FreeText => vec![
            target(
                "assessments",
                format!(
                    "(x.observation <> '' OR x.justification <> '' OR x.free_text <> '') AND {}",
                    reached(a, "x.child_id", "created_at")
                ),
                &[
                    "UPDATE assessments SET observation = '', justification = '', free_text = '' WHERE id IN ({batch})",
                ],
                ROW_BATCH,
            ),
            target(
                "alerts",
                format!(
                    "x.consultation_text <> '' AND {}",
                    reached(a, "x.child_id", "created_at")
                ),
                &["UPDATE alerts SET consultation_text = '' WHERE id IN ({batch})"],
                ROW_BATCH,
            ),
            target(
                "alert_events",
                format!(
                    "x.note <> '' AND EXISTS (SELECT 1 FROM alerts al WHERE al.id = x.alert_id AND {})",
                    match a {
                        After::Created => format!("x.at < $1 AND {}", not_held("al.child_id")),
                        _ => of_child("al.child_id", a),
                    }
                ),
                &["UPDATE alert_events SET note = '' WHERE id IN ({batch})"],
                ROW_BATCH,
            ),
            // The conversation on an alert is free text about the child.
            target(
                "alert_messages",
                format!(
                    "x.body <> '' AND EXISTS (SELECT 1 FROM alerts al WHERE al.id = x.alert_id AND {})",
                    match a {
                        After::Created =>
                            format!("x.created_at < $1 AND {}", not_held("al.child_id")),
                        _ => of_child("al.child_id", a),
                    }
                ),
                &["UPDATE alert_messages SET body = '' WHERE id IN ({batch})"],
                ROW_BATCH,
            ),
            target(
                "case_meetings",
                format!(
                    "(x.agreements <> '' OR x.participants <> '') AND {}",
                    reached(a, "x.child_id", "created_at")
                ),
                &[
                    "UPDATE case_meetings SET agreements = '', participants = '' WHERE id IN ({batch})",
                ],
                ROW_BATCH,
            ),
            target(
                "measure_reviews",
                format!(
                    "x.changed <> '' AND EXISTS (SELECT 1 FROM measures m WHERE m.id = x.measure_id AND {})",
                    match a {
                        After::Created =>
                            format!("x.created_at < $1 AND {}", not_held("m.child_id")),
                        _ => of_child("m.child_id", a),
                    }
                ),
                &["UPDATE measure_reviews SET changed = '' WHERE id IN ({batch})"],
                ROW_BATCH,
            ),
            target(
                "consent_events",
                format!(
                    "x.note <> '' AND {}",
                    reached(a, "x.child_id", "recorded_at")
                ),
                &["UPDATE consent_events SET note = '' WHERE id IN ({batch})"],
                ROW_BATCH,
            ),
        ],
        Records::FollowUps => vec![target(
            "follow_ups",
            reached(a, "x.child_id", "created_at"),
            &["DELETE FROM follow_ups WHERE id IN ({batch})"],
            ROW_BATCH,
        )],
        Records::Alerts => vec![target(
            "alerts",
            match a {
                After::Closed => format!(
                    "x.status = 'closed' AND x.updated_at < $1 AND {}",
                    not_held("x.child_id")
                ),
                _ => of_child("x.child_id", a),
            },
            &[
                "DELETE FROM alert_events WHERE alert_id IN ({batch})",
                "DELETE FROM alert_messages WHERE alert_id IN ({batch})",
                "DELETE FROM alert_unread WHERE alert_id IN ({batch})",
                "DELETE FROM measure_reviews WHERE measure_id IN (SELECT id FROM measures WHERE alert_id IN ({batch}))",
                "DELETE FROM measures WHERE alert_id IN ({batch})",
                "DELETE FROM case_meetings WHERE alert_id IN ({batch})",
                "DELETE FROM alerts WHERE id IN ({batch})",
            ],
            ROW_BATCH,
        )],
        Records::Consent => vec![target(
            "consent_events",
            of_child("x.child_id", a),
            &["DELETE FROM consent_events WHERE id IN ({batch})"],
            ROW_BATCH,
        )],
        // The access log goes a whole seal at a time (`audit::purge`); see `run_rule`.
        Records::AccessLog => vec![target("access_log", "x.at < $1".into(), &[], ROW_BATCH)],
        Records::Sessions => vec![
            target(
                "sessions",
                "x.expires_at <= $1".into(),
                &["DELETE FROM sessions WHERE id IN ({batch})"],
                ROW_BATCH,
            ),
            // Invitation and reset links (`auth::account`) go with the sessions.
            target(
                "account_tokens",
                "x.expires_at <= $1".into(),
                &["DELETE FROM account_tokens WHERE id IN ({batch})"],
                ROW_BATCH,
            ),
        ],
        Records::Outbox => vec![target(
            "outbox",
            "(x.sent_at < $1 OR x.given_up_at < $1)".into(),
            &["DELETE FROM outbox WHERE id IN ({batch})"],
            ROW_BATCH,
        )],
        Records::LoginAttempts => vec![target(
            "login_attempts",
            "x.at < $1".into(),
            &["DELETE FROM login_attempts WHERE id IN ({batch})"],
            ROW_BATCH,
        )],
        Records::Devices => vec![Target {
            key: "token_hash",
            ..target(
                "known_devices",
                "x.last_used_at < $1".into(),
                &["DELETE FROM known_devices WHERE token_hash IN ({batch})"],
                ROW_BATCH,
            )
        }],
    }
}

/// The rule's cutoff, seen from `now`. Sessions expire by the wall clock their cookies
/// keep, whatever clock the service runs on.
fn cutoff(rule: &Rule, now: DateTime<Utc>) -> Cutoff {
    match rule.after {
        After::Left | After::Birth => Cutoff::Date(rule.keep.cutoff_date(now.date_naive())),
        After::Expiry => Cutoff::Unix(rule.keep.cutoff(Utc::now()).timestamp()),
        _ => Cutoff::At(rule.keep.cutoff(now)),
    }
}

/// One line of a dry run or a run: a rule and how many rows it takes (or took).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Line {
    pub records: String,
    /// The event the rule counts from ([`After`]'s name).
    pub after: String,
    /// How long ([`super::policy::Period::code`]).
    pub keep: String,
    pub rows: i64,
}

impl Line {
    pub fn of(rule: &Rule, rows: i64) -> Line {
        Line {
            records: rule.records.as_str().into(),
            after: rule.after.as_str().into(),
            keep: rule.keep.code(),
            rows,
        }
    }

    /// The rule in English, for the command line: "3 years after left".
    pub fn describe(&self) -> String {
        match super::policy::Period::from_code(&self.keep) {
            Some(p) => format!("{p} after {}", self.after),
            None => format!("{} after {}", self.keep, self.after),
        }
    }

    /// The rule in the reader's words: "3 år efter at barnet forlod kommunens institutioner".
    pub fn describe_in(&self, ctx: &crate::web::PageCtx) -> String {
        let after = After::parse(&self.after).map_or("", |a| ctx.t(a.label_key()));
        match super::policy::Period::from_code(&self.keep) {
            Some(p) => {
                let (n, unit) = p.words();
                format!("{n} {} {after}", ctx.t(unit))
            }
            None => format!("{} {after}", self.keep),
        }
    }

    /// The catalogue key of the kind of record.
    pub fn label_key(&self) -> &'static str {
        Records::parse(&self.records).map_or("retention.records.other", Records::label_key)
    }
}

async fn count(db: &Db, t: &Target, cutoff: Cutoff) -> anyhow::Result<i64> {
    let sql = format!("SELECT COUNT(*) FROM {} x WHERE {}", t.table, t.condition);
    let mut c = db.conn().await?;
    Ok(
        dispatch!(&mut c, c => bind_cutoff!(sqlx::query_scalar(&sql), cutoff).fetch_one(&mut *c).await)?,
    )
}

/// What the policy would delete at `now`, per kind of record and rule (rows, or free texts
/// blanked). Reads only.
pub async fn dry_run(db: &Db, policy: &Policy, now: DateTime<Utc>) -> anyhow::Result<Vec<Line>> {
    let mut out = Vec::new();
    for rule in &policy.rules {
        let cut = cutoff(rule, now);
        let mut rows = 0;
        for t in targets(rule) {
            rows += count(db, &t, cut).await?;
        }
        out.push(Line::of(rule, rows));
    }
    Ok(out)
}

/// Applies one batch of a target; how many rows it took and whether more may be left.
///
/// The batch's keys are found first on a read connection (that may scan), and the write
/// transaction then takes only those rows, checking the rule's condition again by key: the
/// writer is held for a few lookups by key, never for a scan. (Text keys — sessions and
/// devices, small tables — are found inside the statement.)
async fn batch(db: &Db, t: &Target, cutoff: Cutoff) -> anyhow::Result<(i64, bool)> {
    let (keys, full) = if t.key == "id" {
        let sql = format!(
            "SELECT x.id FROM {} x WHERE {} ORDER BY x.id LIMIT {}",
            t.table, t.condition, t.batch
        );
        let mut c = db.conn().await?;
        let ids: Vec<i64> = dispatch!(&mut c, c => bind_cutoff!(sqlx::query_scalar(&sql), cutoff).fetch_all(&mut *c).await)?;
        drop(c);
        if ids.is_empty() {
            return Ok((0, false));
        }
        let list = ids
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        (
            format!(
                "SELECT x.id FROM {} x WHERE x.id IN ({list}) AND {}",
                t.table, t.condition
            ),
            ids.len() as i64 == t.batch,
        )
    } else {
        (
            format!(
                "SELECT x.{key} FROM {} x WHERE {} ORDER BY x.{key} LIMIT {}",
                t.table,
                t.condition,
                t.batch,
                key = t.key
            ),
            false,
        )
    };
    let mut tx = db.begin().await?;
    let mut last = 0;
    for s in &t.statements {
        let sql = s.replace("{batch}", &keys);
        last = dispatch!(&mut tx, c => bind_cutoff!(sqlx::query(&sql), cutoff)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    // The last statement takes the target's own rows.
    let taken = last as i64;
    Ok((taken, full || (t.key != "id" && taken == t.batch)))
}

async fn run_rule(db: &Db, rule: &Rule, now: DateTime<Utc>) -> anyhow::Result<i64> {
    let cut = cutoff(rule, now);
    if rule.records == Records::AccessLog {
        let Cutoff::At(at) = cut else {
            unreachable!("the access log counts from its own time")
        };
        return Ok(crate::audit::purge(db, at, now).await? as i64);
    }
    let mut rows = 0;
    for t in targets(rule) {
        loop {
            let (n, more) = batch(db, &t, cut).await?;
            rows += n;
            if !more {
                break;
            }
            tokio::time::sleep(BREATHE).await;
        }
    }
    Ok(rows)
}

/// Deletes what the policy's rules for `only` (all kinds when empty) take at `now`; the
/// counts per rule. Idempotent: a run cut off half-way is finished by the next.
pub async fn delete(
    db: &Db,
    policy: &Policy,
    only: &[Records],
    now: DateTime<Utc>,
) -> anyhow::Result<Vec<Line>> {
    let mut out = Vec::new();
    for rule in &policy.rules {
        if !only.is_empty() && !only.contains(&rule.records) {
            continue;
        }
        let rows = run_rule(db, rule, now).await?;
        out.push(Line::of(rule, rows));
    }
    Ok(out)
}

/// After deleting, on SQLite: the freed pages go back to the file system (the file is
/// created with incremental auto-vacuum; `secure_delete` has already overwritten what was
/// deleted), a few hundred pages at a time so the pages' writes go in between, and the
/// write-ahead log, which still holds the pages as they were, is emptied — first copied back
/// without holding up writers, then truncated. PostgreSQL's autovacuum reclaims the space of
/// deleted rows by itself.
async fn reclaim(db: &Db) -> anyhow::Result<()> {
    if db.backend() != Backend::Sqlite {
        return Ok(());
    }
    // 2: incremental; a file made before keeps its free pages for reuse (docs/operations.md).
    let auto: i64 = {
        let mut c = db.conn().await?;
        dispatch!(&mut c, c => sqlx::query_scalar("PRAGMA auto_vacuum")
            .fetch_one(&mut *c)
            .await)?
    };
    while auto == 2 && free_pages(db).await? > 0 {
        let mut w = db.writer().await?;
        dispatch!(&mut w, c => sqlx::query("PRAGMA incremental_vacuum(256)")
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        drop(w);
        tokio::time::sleep(BREATHE).await;
    }
    for mode in ["PASSIVE", "TRUNCATE"] {
        let mut w = db.writer().await?;
        let sql = format!("PRAGMA wal_checkpoint({mode})");
        dispatch!(&mut w, c => sqlx::query(&sql)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
    }
    Ok(())
}

/// Pages the SQLite file holds free.
async fn free_pages(db: &Db) -> anyhow::Result<i64> {
    let mut w = db.writer().await?;
    Ok(
        dispatch!(&mut w, c => sqlx::query_scalar("PRAGMA freelist_count")
        .fetch_one(&mut *c)
        .await)?,
    )
}

/// Who started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// The daily job.
    Daily,
    /// The admin, from the retention page.
    Admin,
    /// `trivsel retention`.
    Cli,
}

impl Trigger {
    fn as_str(self) -> &'static str {
        match self {
            Trigger::Daily => "daily",
            Trigger::Admin => "admin",
            Trigger::Cli => "cli",
        }
    }
}

/// A recorded run.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Report {
    pub id: i64,
    pub trigger_kind: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub counts: String,
    pub held_children: i64,
    pub error: String,
}

impl Report {
    /// The run's lines (none while it runs).
    pub fn lines(&self) -> Vec<Line> {
        serde_json::from_str(&self.counts).unwrap_or_default()
    }

    pub fn total(&self) -> i64 {
        self.lines().iter().map(|l| l.rows).sum()
    }

    /// The catalogue key of who started it.
    pub fn trigger_key(&self) -> &'static str {
        match self.trigger_kind.as_str() {
            "daily" => "retention.trigger.daily",
            "admin" => "retention.trigger.admin",
            _ => "retention.trigger.cli",
        }
    }
}

/// Starts a recorded run: its id, or none when `day` is given and that day's run was
/// already claimed (by this instance or another).
async fn claim(
    db: &Db,
    trigger: Trigger,
    day: Option<NaiveDate>,
    user_id: Option<i64>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let mut w = db.writer().await?;
    let held: i64 = dispatch!(&mut w, c => sqlx::query_scalar(
        "SELECT COUNT(DISTINCT child_id) FROM legal_holds WHERE lifted_at IS NULL",
    )
    .fetch_one(&mut *c)
    .await)?;
    Ok(dispatch!(&mut w, c => sqlx::query_scalar(
        "INSERT INTO retention_runs (trigger_kind, run_on, user_id, started_at, held_children) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (run_on) DO NOTHING RETURNING id",
    )
    .bind(trigger.as_str())
    .bind(day)
    .bind(user_id)
    .bind(now)
    .bind(held)
    .fetch_optional(&mut *c)
    .await)?)
}

async fn finish(
    db: &Db,
    run: i64,
    lines: &[Line],
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let mut w = db.writer().await?;
    dispatch!(&mut w, c => sqlx::query(
        "UPDATE retention_runs SET finished_at = $1, counts = $2, error = $3 WHERE id = $4",
    )
    .bind(now)
    .bind(serde_json::to_string(lines)?)
    .bind(error)
    .bind(run)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A whole recorded run of every rule; `day` claims the daily run of that date. None when
/// the day's run was already claimed.
pub async fn run(
    db: &Db,
    policy: &Policy,
    trigger: Trigger,
    day: Option<NaiveDate>,
    user_id: Option<i64>,
    clock: &crate::clock::Clock,
) -> anyhow::Result<Option<Report>> {
    let Some(id) = claim(db, trigger, day, user_id, clock.now()).await? else {
        return Ok(None);
    };
    execute(db, policy, id, clock).await?;
    let mut c = db.conn().await?;
    report(&mut c, id).await
}

/// Starts a recorded run started by hand and returns its id at once; the run goes on in the
/// background (a purge of a large log takes minutes) and its report says when it is done.
pub async fn start(
    db: &Db,
    policy: std::sync::Arc<Policy>,
    trigger: Trigger,
    user_id: Option<i64>,
    clock: &crate::clock::Clock,
) -> anyhow::Result<i64> {
    let id = claim(db, trigger, None, user_id, clock.now())
        .await?
        .ok_or_else(|| anyhow::anyhow!("a run without a date is never refused"))?;
    let (db, clock) = (db.clone(), clock.clone());
    tokio::spawn(async move {
        if let Err(e) = execute(&db, &policy, id, &clock).await {
            tracing::warn!(
                run = id,
                error = format!("{e:#}"),
                "deletion by the retention policy"
            );
        }
    });
    Ok(id)
}

/// Deletes by every rule for run `id` and records the outcome in its report.
async fn execute(
    db: &Db,
    policy: &Policy,
    id: i64,
    clock: &crate::clock::Clock,
) -> anyhow::Result<()> {
    let mut done = delete(db, policy, &[], clock.now()).await;
    if let Ok(lines) = &done
        && lines.iter().any(|l| l.rows > 0)
        && let Err(e) = reclaim(db).await
    {
        done = Err(e);
    }
    let (lines, error) = match &done {
        Ok(lines) => (lines.clone(), String::new()),
        // No personal data in an error from a statement over ids and dates.
        Err(e) => (Vec::new(), format!("{e:#}")),
    };
    finish(db, id, &lines, &error, clock.now()).await?;
    done.map(|_| ())
}

const REPORT_COLUMNS: &str =
    "id, trigger_kind, started_at, finished_at, counts, held_children, error";

async fn report(c: &mut impl crate::db::Conn, id: i64) -> anyhow::Result<Option<Report>> {
    let sql = format!("SELECT {REPORT_COLUMNS} FROM retention_runs WHERE id = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?)
}

/// The latest runs, newest first.
pub async fn reports(c: &mut impl crate::db::Conn, limit: i64) -> anyhow::Result<Vec<Report>> {
    let sql = format!(
        "SELECT {REPORT_COLUMNS} FROM retention_runs ORDER BY started_at DESC, id DESC LIMIT $1"
    );
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(limit).fetch_all(&mut *c).await)?)
}
