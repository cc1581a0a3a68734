//! Background work, in one place, written for several instances on one PostgreSQL: every job
//! makes sure each item is handled once however many instances run it.
//!
//! | job | runs every | done once by |
//! |---|---|---|
//! | outbox delivery ([`crate::notify`]) | `mail_poll_seconds` | row claims with a lease: a killed instance's claims come due again |
//! | escalation of overdue alerts ([`crate::alerts::escalate_due`]) | `job_interval_seconds` | the job's lock, and a guard on each alert (`escalated_at IS NULL`) |
//! | reminders of measure reviews that came due ([`crate::alerts::measures::remind_due`]) | `job_interval_seconds` | the statement that marks a measure reminded for its review date claims it |
//! | round reminders ([`crate::assessment::reminders`]) | `job_interval_seconds` | the job's lock, and one row per round and person |
//! | sealing the access log ([`crate::audit::seal`]) | `job_interval_seconds` | the job's lock; each seal chains to the last |
//! | expired sessions; old login attempts, sent emails and unused devices ([`prune`]) | 10 minutes | idempotent deletes |
//! | deletion by the retention policy ([`crate::retention::run`]) | daily, from 02:00 local time (never in a start's first ten minutes) | the day's run is claimed by its date |
//! | planner statistics ([`crate::db::Db::refresh_statistics`]) | hourly | per instance (SQLite only) |
//! | database readiness ([`crate::state::AppState::check_database`]) | every second | per instance |
//!
//! The job lock is a PostgreSQL advisory lock held for the job's transaction
//! ([`crate::db::try_job_lock`]): while one instance runs a job, the others skip that run.
//! SQLite is single-instance by nature: one file, written by one process (docs/decisions.md,
//! "Background jobs on several instances").

use std::time::Duration;

use tokio::task::JoinHandle;

use crate::state::AppState;

/// The running jobs of one instance; dropping it stops them.
pub struct Jobs {
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Jobs {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// This process's name on its claims: the host, the process and a random part (two instances
/// in one process, as in the tests, still differ).
fn instance_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    let host = host.trim();
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}-{}-{}",
        if host.is_empty() { "trivsel" } else { host },
        std::process::id(),
        &random[..8]
    )
}

impl Jobs {
    /// Starts every job for this instance.
    pub fn start(state: &AppState) -> anyhow::Result<Jobs> {
        let instance = instance_name();
        tracing::info!(instance, "background jobs started");
        let mut tasks = vec![
            every(
                Duration::from_secs(state.config.job_interval_seconds),
                state.clone(),
                minute_jobs,
            ),
            every(Duration::from_secs(600), state.clone(), housekeeping),
            every(Duration::from_secs(1), state.clone(), health),
        ];
        match crate::notify::Sender::from_config(&state.config, &instance)? {
            Some(sender) => {
                let db = state.db.clone();
                let clock = state.clock.clone();
                let metrics_state = state.clone();
                let mut tick =
                    tokio::time::interval(Duration::from_secs(state.config.mail_poll_seconds));
                tasks.push(tokio::spawn(async move {
                    loop {
                        tick.tick().await;
                        let done = sender.deliver_due(&db, &clock).await;
                        metrics_state.metrics.job("outbox", done.is_ok());
                        if let Err(e) = done {
                            tracing::warn!(error = format!("{e:#}"), "outbox delivery");
                        }
                    }
                }));
            }
            None => tracing::warn!(
                "email is disabled (no smtp_host): messages wait in the outbox until it is configured"
            ),
        }
        Ok(Jobs { tasks })
    }
}

/// Runs `job` on every tick of `period`, counting the ticks, until the task is aborted.
fn every<F, Fut>(period: Duration, state: AppState, job: F) -> JoinHandle<()>
where
    F: Fn(AppState, u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        for n in 0u64.. {
            tick.tick().await;
            job(state.clone(), n).await;
        }
    })
}

/// The readiness check, every second: the pages answer "try again" while it fails.
async fn health(state: AppState, _: u64) {
    let ready = state.check_database().await;
    state.metrics.job("readiness", ready.is_ok());
}

/// Escalation of overdue alerts, sealing the access log, then round reminders: all cheap
/// when nothing is due.
async fn minute_jobs(state: AppState, _: u64) {
    let escalated = crate::alerts::escalate_due(&state, state.now()).await;
    state.metrics.job("escalation", escalated.is_ok());
    if let Err(e) = escalated {
        tracing::warn!(error = format!("{e:#}"), "alert escalation");
    }
    let now = state.now();
    let sealed = crate::audit::seal(&state.db, now).await;
    state.metrics.job("seal_access_log", sealed.is_ok());
    if let Err(e) = sealed {
        tracing::warn!(error = format!("{e:#}"), "sealing the access log");
    }
    let reminded = crate::assessment::reminders::queue_due(&state, state.now()).await;
    state.metrics.job("reminders", reminded.is_ok());
    if let Err(e) = reminded {
        tracing::warn!(error = format!("{e:#}"), "round reminders");
    }
    let reviews = crate::alerts::measures::remind_due(&state, state.now()).await;
    state.metrics.job("measure_reviews", reviews.is_ok());
    if let Err(e) = reviews {
        tracing::warn!(error = format!("{e:#}"), "measure review reminders");
    }
}

/// The service's working rows every ten minutes ([`prune`]); the daily deletion by the
/// retention policy when it is due; hourly, the planner's statistics (a no-op when little has
/// changed).
async fn housekeeping(state: AppState, n: u64) {
    let pruned = prune(&state.db, &state.retention, state.now()).await;
    state.metrics.job("prune", pruned.is_ok());
    if let Err(e) = pruned {
        tracing::warn!(error = format!("{e:#}"), "could not prune old rows");
    }
    // Never at start-up: the first check is ten minutes later, time to stop a service
    // started with a wrong policy file.
    if n > 0 {
        let deleted = daily_retention(&state).await;
        state.metrics.job("retention", deleted.is_ok());
        if let Err(e) = deleted {
            tracing::warn!(error = format!("{e:#}"), "deletion by the retention policy");
        }
    }
    if n % 6 == 5
        && let Err(e) = state.db.refresh_statistics(false).await
    {
        tracing::warn!(error = format!("{e:#}"), "could not refresh statistics");
    }
}

/// The local hour from which the day's deletion runs: at night, when few people work.
const RETENTION_FROM_HOUR: u32 = 2;

/// Runs the day's deletion by the retention policy once its hour has come and no instance has
/// run it yet today (each day's run is claimed by its local date).
async fn daily_retention(state: &AppState) -> anyhow::Result<()> {
    use chrono::Timelike;
    let local = state.now().with_timezone(&state.config.time_zone);
    if local.hour() < RETENTION_FROM_HOUR {
        return Ok(());
    }
    let report = crate::retention::run::run(
        &state.db,
        &state.retention,
        crate::retention::run::Trigger::Daily,
        Some(local.date_naive()),
        None,
        &state.clock,
    )
    .await?;
    if let Some(r) = report {
        tracing::info!(
            run = r.id,
            rows = r.total(),
            "deletion by the retention policy"
        );
    }
    Ok(())
}

/// The service's own working rows, kept no longer than the policy's rules for them say
/// (expired sessions at once, login attempts with staff emails 30 days, delivered or given-up
/// emails 90 days, a device unused for a year, by default). Undelivered email is never
/// pruned. Returns how many rows went. Idempotent, so any instance may run it.
pub async fn prune(
    db: &crate::db::Db,
    policy: &crate::retention::policy::Policy,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<u64> {
    use crate::retention::policy::Records;
    let lines = crate::retention::run::delete(
        db,
        policy,
        &[
            Records::Sessions,
            Records::Outbox,
            Records::LoginAttempts,
            Records::Devices,
        ],
        now,
    )
    .await?;
    Ok(lines.iter().map(|l| l.rows as u64).sum())
}
