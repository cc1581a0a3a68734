//! Alerts to the district's preventive social workers. When a team's position hits a rule
//! (`questionnaires/alerts.toml`), an alert is created in the same transaction as the
//! position, routed child → current enrolment → institution → district → the district's
//! workers (or the municipal queue when the district has none), and announced by email
//! through the outbox. Three kinds:
//!
//! - **notification** (*underretning*): the top level or a critical item; the duty to notify
//!   overrides consent, so the case is named, with a 24-hour deadline;
//! - **named**: consent to share with the social worker is given;
//! - **anonymous** consultation: no consent; the worker sees no identifying detail, and the
//!   educator is asked to talk with the parents about consent. Recorded consent turns it
//!   into a named case.
//!
//! Each alert moves new → taken → in progress → closed with an outcome; an alert not taken
//! by its deadline escalates (once) and is marked overdue.

pub mod conversation;
pub mod measures;
pub mod routes;

use chrono::{DateTime, Duration, Utc};

use crate::assessment::db::Decided;
use crate::auth::CurrentUser;
use crate::consent::{self, Purpose};
use crate::db::{Conn, Db};
use crate::dispatch;
use crate::questionnaire::Alerting;
use crate::state::AppState;

pub const NAMED: &str = "named";
pub const ANONYMOUS: &str = "anonymous";
pub const NOTIFICATION: &str = "notification";

/// Which rules a new team position hits. `previous` holds the child's earlier team positions'
/// ranks, newest first. Pure.
pub fn evaluate(
    rules: &Alerting,
    rank: usize,
    previous: &[usize],
    critical: bool,
) -> Vec<&'static str> {
    let mut hit = Vec::new();
    if rules.critical && critical {
        hit.push("critical");
    }
    if rules.level_at_least.is_some_and(|l| rank >= l) {
        hit.push("level");
    }
    if let (Some(by), Some(&prev)) = (rules.worse_by, previous.first())
        && rank >= prev + by
    {
        hit.push("worse");
    }
    if let Some((level, count)) = rules.repeat
        && rank >= level
        && previous.len() + 1 >= count
        && previous.iter().take(count - 1).all(|&p| p >= level)
    {
        hit.push("repeat");
    }
    hit
}

/// Whether the child's earlier positions can change what [`evaluate`] says for `rank`: only
/// the "worse by" and "repeated level" rules look back, and neither can fire for a rank
/// below their threshold. Saves the history read for the common case (a green position).
pub fn needs_history(rules: &Alerting, rank: usize) -> bool {
    rules.worse_by.is_some_and(|by| rank >= by)
        || rules
            .repeat
            .is_some_and(|(level, count)| rank >= level && count > 1)
}

/// The kind of alert, decided from the duty to notify and consent (the one disclosure rule).
pub fn kind_for(
    events: &[consent::Event],
    today: chrono::NaiveDate,
    duty_to_notify: bool,
) -> &'static str {
    if duty_to_notify {
        NOTIFICATION
    } else if consent::may_disclose_identity(events, Purpose::ShareWithSocialWorker, today, false) {
        NAMED
    } else {
        ANONYMOUS
    }
}

/// The child's current district, if enrolled.
async fn district_of(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Option<i64>> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "SELECT i.district_id FROM enrolments e JOIN groups g ON g.id = e.group_id \
         JOIN institutions i ON i.id = g.institution_id WHERE e.child_id = $1 AND e.to_date IS NULL",
    )
    .bind(child_id)
    .fetch_optional(&mut *c)
    .await)?)
}

/// The active social workers of a district (id, email); for `None` (the municipal queue), all.
async fn district_workers(
    c: &mut impl Conn,
    district_id: Option<i64>,
) -> anyhow::Result<Vec<(i64, String)>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT DISTINCT u.id, u.email FROM users u LEFT JOIN user_districts ud ON ud.user_id = u.id \
         WHERE u.active AND u.role = 'social_worker' AND ($1 IS NULL OR ud.district_id = $1) ORDER BY u.email",
    )
    .bind(district_id)
    .fetch_all(&mut *c)
    .await)?)
}

/// Emails of the active social workers of a district; for `None` (the municipal queue), of all.
async fn worker_emails(c: &mut impl Conn, district_id: Option<i64>) -> anyhow::Result<Vec<String>> {
    Ok(district_workers(c, district_id)
        .await?
        .into_iter()
        .map(|(_, email)| email)
        .collect())
}

async fn event(
    c: &mut impl Conn,
    alert_id: i64,
    user_id: Option<i64>,
    what: &str,
    note: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query("INSERT INTO alert_events (alert_id, at, user_id, event, note) VALUES ($1, $2, $3, $4, $5)")
        .bind(alert_id)
        .bind(now)
        .bind(user_id)
        .bind(what)
        .bind(note)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// The email every alert sends: no name, no birth date, no institution or age — only that
/// something is waiting, and where.
fn announce(state: &AppState, alert_id: i64, overdue: bool) -> (String, String) {
    let base = state.config.base_url();
    if overdue {
        (
            "Trivsel: en henvendelse venter stadig".to_string(),
            format!(
                "En henvendelse i Trivsel er ikke taget inden fristen.\n\nSe den her: {base}/alerts/{alert_id}\n\nDenne e-mail indeholder ingen personoplysninger.\n"
            ),
        )
    } else {
        (
            "Trivsel: ny henvendelse".to_string(),
            format!(
                "Der er en ny henvendelse til dig i Trivsel.\n\nSe den her: {base}/alerts/{alert_id}\n\nDenne e-mail indeholder ingen personoplysninger.\n"
            ),
        )
    }
}

/// Called in the transaction that submits a team position: creates the alert if a rule hits.
/// Returns the alert's id.
pub async fn on_team_position(
    c: &mut impl Conn,
    state: &AppState,
    user: &CurrentUser,
    a: &Decided,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<i64>> {
    let Some(cat) = state.catalogue.clone() else {
        return Ok(None);
    };
    let rank = a.decided_rank.unwrap_or(0).max(0) as usize;
    let previous: Vec<usize> = if !needs_history(&cat.alerting, rank) {
        Vec::new()
    } else {
        dispatch!(c, c => sqlx::query_scalar::<_, i32>(
        "SELECT p.decided_rank FROM assessments p WHERE p.child_id = $1 AND p.kind = 'team' AND p.status = 'submitted' \
         AND p.id <> $2 AND ($3 IS NULL OR p.id <> $3) \
         AND NOT EXISTS (SELECT 1 FROM assessments n WHERE n.supersedes_id = p.id AND n.status = 'submitted') \
         ORDER BY p.submitted_at DESC, p.id DESC LIMIT 5",
    )
    .bind(a.child_id)
    .bind(a.id)
    .bind(a.supersedes_id)
    .fetch_all(&mut *c)
    .await)?
    .into_iter()
    .map(|r| r.max(0) as usize)
    .collect()
    };
    let critical = a.reasons.contains("\"kind\":\"critical\"");
    let rules = evaluate(&cat.alerting, rank, &previous, critical);
    // At most one alert per child and round: a correction of the round's position updates
    // the alert its earlier version raised.
    let raised = match (a.supersedes_id, a.round_id) {
        (Some(_), Some(round)) => round_alert(c, a.child_id, round).await?,
        _ => None,
    };
    if rules.is_empty() && raised.is_none() {
        return Ok(None);
    }
    let duty = critical || cat.scale.level(rank).handleguide.notify;
    let events = consent::db::as_events(&consent::db::events(c, a.child_id).await?);
    let kind = kind_for(&events, now.date_naive(), duty);
    if let Some(raised) = raised {
        corrected(c, state, user, a, &raised, (rank, kind, &rules), now).await?;
        return Ok(Some(raised.id));
    }
    let d = &cat.alerting.deadlines;
    let deadline = now
        + match kind {
            NOTIFICATION => Duration::hours(i64::from(d.notification_hours)),
            NAMED => Duration::days(i64::from(d.named_days)),
            _ => Duration::days(i64::from(d.anonymous_days)),
        };
    let district = district_of(c, a.child_id).await?;
    let workers = worker_emails(c, district).await?;
    // A district without a worker routes to the municipal queue.
    let routed = if workers.is_empty() { None } else { district };
    let recipients = if workers.is_empty() {
        worker_emails(c, None).await?
    } else {
        workers
    };
    let id: i64 = dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO alerts (child_id, assessment_id, district_id, kind, status, level_rank, level_id, rules, \
         deadline, created_by, created_at, updated_at) VALUES ($1, $2, $3, $4, 'new', $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(a.child_id)
    .bind(a.id)
    .bind(routed)
    .bind(kind)
    .bind(rank as i32)
    .bind(cat.scale.level(rank).id.as_str())
    .bind(rules.join(","))
    .bind(deadline)
    .bind(user.id)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?;
    event(
        c,
        id,
        Some(user.id),
        "created",
        &format!("{kind}; rules {}", rules.join(",")),
        now,
    )
    .await?;
    let (subject, body) = announce(state, id, false);
    for r in &recipients {
        crate::notify::enqueue(c, r, &subject, &body, now).await?;
    }
    crate::audit::record(
        c,
        user,
        crate::audit::Action::Create,
        Some(a.child_id),
        &format!("alert:{id}"),
        kind,
        now,
    )
    .await?;
    Ok(Some(id))
}

/// The alert a child's position in a round raised, as a correction finds it.
#[derive(Debug, sqlx::FromRow)]
struct RoundAlert {
    id: i64,
    kind: String,
    status: String,
    level_rank: i32,
    district_id: Option<i64>,
}

/// The alert raised by the child's team positions in `round_id`, if any (the newest).
async fn round_alert(
    c: &mut impl Conn,
    child_id: i64,
    round_id: i64,
) -> anyhow::Result<Option<RoundAlert>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT al.id, al.kind, al.status, al.level_rank, al.district_id FROM alerts al \
         JOIN assessments s ON s.id = al.assessment_id \
         WHERE al.child_id = $1 AND s.round_id = $2 ORDER BY al.id DESC LIMIT 1",
    )
    .bind(child_id)
    .bind(round_id)
    .fetch_optional(&mut *c)
    .await)?)
}

/// A correction of a position that raised `alert`: the alert now refers to the corrected
/// position, and its history says so. A lower level is recorded for the social worker and
/// changes nothing else (the worker decides whether to close). A level that still hits a rule
/// keeps the alert; if the duty to notify now applies the alert becomes a notification with
/// its 24-hour deadline, and a closed alert is opened again; the workers are told by email
/// (without personal data) whenever the alert asks more of them than before. The kind never
/// steps down: an identity once disclosed lawfully stays disclosed to the worker.
async fn corrected(
    c: &mut impl Conn,
    state: &AppState,
    user: &CurrentUser,
    a: &Decided,
    alert: &RoundAlert,
    (rank, kind, rules): (usize, &'static str, &[&'static str]),
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let Some(cat) = state.catalogue.clone() else {
        return Ok(());
    };
    let order = |k: &str| {
        [ANONYMOUS, NAMED, NOTIFICATION]
            .iter()
            .position(|x| *x == k)
    };
    let kind = if order(kind) > order(&alert.kind) {
        kind
    } else {
        alert.kind.as_str()
    };
    let upgraded = kind != alert.kind;
    let reopened = alert.status == "closed" && !rules.is_empty();
    let d = &cat.alerting.deadlines;
    let deadline = (upgraded || reopened).then(|| {
        now + match kind {
            NOTIFICATION => Duration::hours(i64::from(d.notification_hours)),
            NAMED => Duration::days(i64::from(d.named_days)),
            _ => Duration::days(i64::from(d.anonymous_days)),
        }
    });
    dispatch!(c, c => sqlx::query(
        "UPDATE alerts SET assessment_id = $1, level_rank = $2, level_id = $3, kind = $4, \
         rules = CASE WHEN $5 = '' THEN rules ELSE $5 END, \
         status = CASE WHEN $6 THEN 'new' ELSE status END, \
         taken_by = CASE WHEN $6 THEN NULL ELSE taken_by END, outcome = CASE WHEN $6 THEN NULL ELSE outcome END, \
         deadline = COALESCE($7, deadline), escalated_at = CASE WHEN $7 IS NULL THEN escalated_at ELSE NULL END, \
         updated_at = $8 WHERE id = $9",
    )
    .bind(a.id)
    .bind(rank as i32)
    .bind(cat.scale.level(rank).id.as_str())
    .bind(kind)
    .bind(rules.join(","))
    .bind(reopened)
    .bind(deadline)
    .bind(now)
    .bind(alert.id)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    let what = match (rank as i32).cmp(&alert.level_rank) {
        std::cmp::Ordering::Less => "lowered",
        std::cmp::Ordering::Equal => "corrected",
        std::cmp::Ordering::Greater => "raised",
    };
    event(
        c,
        alert.id,
        Some(user.id),
        what,
        &format!(
            "level {} -> {}; rules {}",
            alert.level_rank,
            rank,
            if rules.is_empty() {
                "none".to_string()
            } else {
                rules.join(",")
            }
        ),
        now,
    )
    .await?;
    if reopened {
        event(c, alert.id, Some(user.id), "reopened", "", now).await?;
    }
    if upgraded || reopened || what == "raised" {
        let (subject, body) = announce(state, alert.id, false);
        let mut recipients = worker_emails(c, alert.district_id).await?;
        if recipients.is_empty() {
            recipients = worker_emails(c, None).await?;
        }
        for r in &recipients {
            crate::notify::enqueue(c, r, &subject, &body, now).await?;
        }
    }
    crate::audit::record(
        c,
        user,
        crate::audit::Action::Change,
        Some(a.child_id),
        &format!("alert:{}", alert.id),
        what,
        now,
    )
    .await?;
    Ok(())
}

/// Consent to share with the social worker was recorded: open anonymous consultations of the
/// child become named cases, and the workers are told the identity is now shared.
pub async fn identity_now_shared(
    c: &mut impl Conn,
    state: &AppState,
    user: &CurrentUser,
    child_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let open: Vec<(i64, Option<i64>, Option<i64>)> = dispatch!(c, c => sqlx::query_as(
        "SELECT id, district_id, taken_by FROM alerts WHERE child_id = $1 AND kind = 'anonymous' AND status <> 'closed'",
    )
    .bind(child_id)
    .fetch_all(&mut *c)
    .await)?;
    for (id, district, _taken_by) in open {
        dispatch!(c, c => sqlx::query("UPDATE alerts SET kind = 'named', updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        event(c, id, Some(user.id), "identity_shared", "", now).await?;
        let base = state.config.base_url();
        let body = format!(
            "Forældrene har givet samtykke: en anonym henvendelse i Trivsel er nu en sag med navn.\n\nSe den her: {base}/alerts/{id}\n\nDenne e-mail indeholder ingen personoplysninger.\n"
        );
        for r in worker_emails(c, district).await? {
            crate::notify::enqueue(c, &r, "Trivsel: samtykke givet", &body, now).await?;
        }
    }
    Ok(())
}

/// A child moved: open alerts follow the child to the new district (or to the municipal queue
/// when it has no worker), and the new district's workers are told. The case — its history,
/// conversation, measures and meetings — goes with it: it is the child's, not the
/// institution's. A case the old district's worker had taken is free to be taken again by
/// the new district's (its status stays; the old worker no longer sees it).
pub async fn reroute_child(
    c: &mut impl Conn,
    state: &AppState,
    user: &CurrentUser,
    child_id: i64,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let open: Vec<(i64, Option<i64>)> = dispatch!(c, c => sqlx::query_as(
        "SELECT id, district_id FROM alerts WHERE child_id = $1 AND status <> 'closed'",
    )
    .bind(child_id)
    .fetch_all(&mut *c)
    .await)?;
    if open.is_empty() {
        return Ok(());
    }
    let district = district_of(c, child_id).await?;
    let workers = worker_emails(c, district).await?;
    let routed = if workers.is_empty() { None } else { district };
    for (id, old) in open {
        if old == routed {
            continue;
        }
        dispatch!(c, c => sqlx::query("UPDATE alerts SET district_id = $1, taken_by = NULL, updated_at = $2 WHERE id = $3")
            .bind(routed)
            .bind(now)
            .bind(id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        event(c, id, Some(user.id), "rerouted", "the child moved", now).await?;
        let (subject, body) = announce(state, id, false);
        let recipients = if workers.is_empty() {
            worker_emails(c, None).await?
        } else {
            workers.clone()
        };
        for r in &recipients {
            crate::notify::enqueue(c, r, &subject, &body, now).await?;
        }
    }
    Ok(())
}

/// What an assessment sent: the alert it raised (or that now refers to it), as the page
/// after saving tells the professional.
#[derive(Debug, sqlx::FromRow)]
pub struct Sent {
    pub id: i64,
    pub kind: String,
    pub deadline: DateTime<Utc>,
    /// The district whose workers have it; none: the municipal queue.
    pub district: Option<String>,
}

/// The alert assessment `assessment_id` raised, if any.
pub async fn sent_for(c: &mut impl Conn, assessment_id: i64) -> anyhow::Result<Option<Sent>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT a.id, a.kind, a.deadline, d.name AS district FROM alerts a \
         LEFT JOIN districts d ON d.id = a.district_id WHERE a.assessment_id = $1",
    )
    .bind(assessment_id)
    .fetch_optional(&mut *c)
    .await)?)
}

/// How many open alerts wait in the municipal queue (districts without a worker).
pub async fn queue_count(c: &mut impl Conn) -> anyhow::Result<i64> {
    Ok(
        dispatch!(c, c => sqlx::query_scalar("SELECT COUNT(*) FROM alerts WHERE district_id IS NULL AND status <> 'closed'")
        .fetch_one(&mut *c)
        .await)?,
    )
}

/// Escalates every alert not taken by its deadline (once): recorded, marked overdue, and
/// announced to the district's other workers and the municipal queue. Returns how many.
pub async fn escalate_due(state: &AppState, now: DateTime<Utc>) -> anyhow::Result<usize> {
    let db: &Db = &state.db;
    let mut tx = db.begin().await?;
    if !crate::db::try_job_lock(&mut tx, crate::db::Job::Escalation).await? {
        return Ok(0); // another instance is escalating right now
    }
    let due: Vec<(i64, Option<i64>)> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT id, district_id FROM alerts WHERE status = 'new' AND escalated_at IS NULL AND deadline < $1 ORDER BY id",
    )
    .bind(now)
    .fetch_all(&mut *c)
    .await)?;
    let mut escalated = 0;
    for (id, district) in &due {
        // The guard makes a second run (an instance whose lock was not needed) a no-op.
        let changed = dispatch!(&mut tx, c => sqlx::query(
            "UPDATE alerts SET escalated_at = $1, updated_at = $1 WHERE id = $2 AND escalated_at IS NULL",
        )
            .bind(now)
            .bind(*id)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?;
        if changed == 0 {
            continue;
        }
        escalated += 1;
        event(&mut tx, *id, None, "escalated", "deadline passed", now).await?;
        let (subject, body) = announce(state, *id, true);
        let mut recipients = worker_emails(&mut tx, *district).await?;
        for r in worker_emails(&mut tx, None).await? {
            if !recipients.contains(&r) {
                recipients.push(r);
            }
        }
        for r in recipients {
            crate::notify::enqueue(&mut tx, &r, &subject, &body, now).await?;
        }
    }
    tx.commit().await?;
    if escalated > 0 {
        tracing::warn!(count = escalated, "alerts escalated after their deadline");
    }
    Ok(escalated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::questionnaire::format::Deadlines;

    fn rules() -> Alerting {
        Alerting {
            level_at_least: Some(2),
            worse_by: Some(2),
            repeat: Some((1, 2)),
            critical: true,
            deadlines: Deadlines {
                notification_hours: 24,
                named_days: 5,
                anonymous_days: 5,
            },
        }
    }

    #[test]
    fn rules_fire_as_configured() {
        let r = rules();
        assert!(evaluate(&r, 0, &[], false).is_empty());
        assert_eq!(evaluate(&r, 2, &[], false), ["level"]);
        assert_eq!(evaluate(&r, 0, &[], true), ["critical"]);
        assert_eq!(
            evaluate(&r, 1, &[], false),
            Vec::<&str>::new(),
            "yellow once is no alert"
        );
        assert_eq!(
            evaluate(&r, 1, &[1], false),
            ["repeat"],
            "yellow twice in a row"
        );
        assert_eq!(
            evaluate(&r, 1, &[0, 1], false),
            Vec::<&str>::new(),
            "not consecutive"
        );
        assert_eq!(evaluate(&r, 3, &[1], false), ["level", "worse", "repeat"]);
        assert_eq!(evaluate(&r, 2, &[0], false), ["level", "worse"]);
    }

    #[test]
    fn history_is_read_only_when_it_can_matter() {
        let mut configs = vec![rules()];
        let mut other = rules();
        other.worse_by = Some(1);
        other.repeat = Some((2, 3));
        configs.push(other);
        let mut none = rules();
        none.worse_by = None;
        none.repeat = Some((1, 1));
        configs.push(none);
        for r in &configs {
            for rank in 0..5 {
                if needs_history(r, rank) {
                    continue;
                }
                // Every history of up to three earlier positions gives the same answer as none.
                for n in 0..=3u32 {
                    for code in 0..5usize.pow(n) {
                        let previous: Vec<usize> =
                            (0..n).map(|i| code / 5usize.pow(i) % 5).collect();
                        for critical in [false, true] {
                            assert_eq!(
                                evaluate(r, rank, &previous, critical),
                                evaluate(r, rank, &[], critical),
                                "{r:?} rank {rank} after {previous:?}"
                            );
                        }
                    }
                }
            }
        }
        assert!(!needs_history(&rules(), 0), "green never looks back");
        assert!(needs_history(&rules(), 1), "yellow may repeat");
    }
}
