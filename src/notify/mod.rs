//! Email through a transactional outbox. A message is written in the same transaction as what
//! it announces; a background sender delivers due rows over SMTP with retries and back-off, so
//! nothing is lost while the SMTP server is down or the service restarts. Without SMTP
//! settings the rows wait until a configuration can deliver them.
//!
//! Emails never carry personal data: they say that something is waiting, with a link.
//! Each message's `Message-ID` is derived from its outbox row, so in the rare case a crash
//! falls between the server's acceptance and the row being marked sent, the repeated message
//! carries the same id and mail systems treat it as the same message.
//!
//! Several instances share the outbox: a sender first *claims* due rows in one statement
//! (PostgreSQL skips rows another instance holds locked), which moves their next attempt to the
//! end of a lease. Each claimed row is then sent by that instance alone; if the instance dies
//! mid-batch, the lease runs out and another instance picks the rows up. Every SMTP step is
//! bounded by `mail_timeout_seconds` and the claimed messages go out side by side, so a relay
//! that hangs holds up nothing for longer than that. A server's temporary refusal (4xx, a
//! time-out, a dropped connection) is retried with back-off from the attempt's own time; a
//! permanent refusal (5xx, an address that cannot be parsed) is given up after
//! [`PERMANENT_ATTEMPTS`].

pub mod routes;

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::clock::Clock;
use crate::config::{Config, SmtpTls};
use crate::db::{Backend, Conn, Db};
use crate::dispatch;

/// Queues an email in the caller's transaction.
#[tracing::instrument(skip_all)]
pub async fn enqueue(
    c: &mut impl Conn,
    recipient: &str,
    subject: &str,
    body: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "INSERT INTO outbox (recipient, subject, body, created_at, attempts, next_attempt_at) VALUES ($1, $2, $3, $4, 0, $4)",
    )
    .bind(recipient)
    .bind(subject)
    .bind(body)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A message the server refused permanently is given up after this many attempts.
pub const PERMANENT_ATTEMPTS: i32 = 3;

/// How many due messages one claim takes (and so how many are sent side by side).
const CLAIM_BATCH: i64 = 10;

#[derive(Debug, Clone, sqlx::FromRow)]
struct Due {
    id: i64,
    recipient: String,
    subject: String,
    body: String,
    attempts: i32,
}

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// Back-off after `attempts` failures: 30 s, 1 min, 2 min … at most an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let secs = 30i64.saturating_mul(1i64 << attempts.clamp(0, 7));
    chrono::Duration::seconds(secs.min(3600))
}

/// Why a message was not delivered.
#[derive(Debug)]
enum Failure {
    /// Worth another attempt: a time-out, a dropped connection, a 4xx reply.
    Temporary(String),
    /// The server refused it for good (5xx), or it cannot be built.
    Permanent(String),
}

/// Delivers the outbox over SMTP. One per instance.
#[derive(Clone)]
pub struct Sender {
    transport: Transport,
    from: Mailbox,
    /// The longest one message may take.
    timeout: Duration,
    /// Names this instance's claims (diagnosis only).
    instance: String,
}

impl Sender {
    /// The sender from the settings; `None` when email is not configured.
    pub fn from_config(config: &Config, instance: &str) -> anyhow::Result<Option<Sender>> {
        let Some(host) = &config.smtp_host else {
            return Ok(None);
        };
        let timeout = Duration::from_secs(config.mail_timeout_seconds);
        let tls = match config.smtp_tls {
            SmtpTls::None => Tls::None,
            SmtpTls::Starttls => Tls::Required(TlsParameters::new(host.clone())?),
            SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(host.clone())?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
            .port(config.smtp_port)
            .tls(tls)
            .timeout(Some(timeout));
        if let (Some(user), Some(pass)) = (&config.smtp_username, &config.smtp_password) {
            b = b.credentials(Credentials::new(
                user.clone(),
                pass.expose_secret().to_string(),
            ));
        }
        let from: Mailbox = config
            .mail_from
            .parse()
            .map_err(|e| anyhow::anyhow!("invalid mail_from: {e}"))?;
        Ok(Some(Sender {
            transport: b.build(),
            from,
            timeout,
            instance: instance.to_string(),
        }))
    }

    /// How long a claim holds: every message of a batch is done (or timed out) well within it.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.timeout * 2).unwrap_or(chrono::Duration::hours(1))
            + chrono::Duration::seconds(30)
    }

    /// Claims and sends due messages until none is left; returns how many were delivered.
    pub async fn deliver_due(&self, db: &Db, clock: &Clock) -> anyhow::Result<usize> {
        let mut delivered = 0;
        loop {
            let batch = self.claim(db, clock.now()).await?;
            let claimed = batch.len();
            let mut sending = tokio::task::JoinSet::new();
            for m in batch {
                let sender = self.clone();
                sending.spawn(async move {
                    let result = sender.send(&m).await;
                    (m, result)
                });
            }
            while let Some(done) = sending.join_next().await {
                let (m, result) = done?;
                if self.record(db, &m, result, clock.now()).await? {
                    delivered += 1;
                }
            }
            if claimed < CLAIM_BATCH as usize {
                return Ok(delivered);
            }
        }
    }

    /// Takes up to [`CLAIM_BATCH`] due messages for this instance.
    async fn claim(&self, db: &Db, now: DateTime<Utc>) -> anyhow::Result<Vec<Due>> {
        let skip_locked = match db.backend() {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "", // one writer: the statement is the claim
        };
        let sql = format!(
            "UPDATE outbox SET next_attempt_at = $2, claimed_by = $3 WHERE id IN (\
             SELECT id FROM outbox WHERE sent_at IS NULL AND given_up_at IS NULL \
             AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $4{skip_locked}) \
             RETURNING id, recipient, subject, body, attempts"
        );
        let mut w = db.writer().await?;
        Ok(dispatch!(&mut w, c => sqlx::query_as(&sql)
            .bind(now)
            .bind(now + self.lease())
            .bind(&self.instance)
            .bind(CLAIM_BATCH)
            .fetch_all(&mut *c)
            .await)?)
    }

    /// One message, start to end, within the time-out.
    async fn send(&self, m: &Due) -> Result<(), Failure> {
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| Failure::Permanent(format!("recipient: {e}")))?;
        let domain = self.from.email.domain().to_string();
        // Quoted-printable keeps the text readable in transit (and checkable in tests).
        let body = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .header(ContentTransferEncoding::QuotedPrintable)
            .body(m.body.clone());
        let msg = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&m.subject)
            .message_id(Some(format!("<outbox-{}@{domain}>", m.id)))
            .singlepart(body)
            .map_err(|e| Failure::Permanent(e.to_string()))?;
        match tokio::time::timeout(self.timeout, self.transport.send(msg)).await {
            Err(_) => Err(Failure::Temporary(format!(
                "no answer within {} s",
                self.timeout.as_secs()
            ))),
            Ok(Err(e)) if e.is_permanent() => Err(Failure::Permanent(e.to_string())),
            Ok(Err(e)) => Err(Failure::Temporary(e.to_string())),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// Records how an attempt ended, at the attempt's own time; true when delivered.
    async fn record(
        &self,
        db: &Db,
        m: &Due,
        result: Result<(), Failure>,
        at: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        let attempts = m.attempts + 1;
        // (sent_at, given_up_at, next_attempt_at, last_error)
        let (sent, given_up, next, error) = match &result {
            Ok(()) => (Some(at), None, None, ""),
            Err(Failure::Permanent(e)) if attempts >= PERMANENT_ATTEMPTS => {
                tracing::error!(outbox_id = m.id, attempts, error = %e, "email refused permanently; given up");
                (None, Some(at), None, e.as_str())
            }
            Err(Failure::Permanent(e) | Failure::Temporary(e)) => {
                tracing::warn!(outbox_id = m.id, attempts, error = %e, "email not delivered; will retry");
                (None, None, Some(at + backoff(m.attempts)), e.as_str())
            }
        };
        let mut w = db.writer().await?;
        dispatch!(&mut w, c => sqlx::query(
            "UPDATE outbox SET sent_at = $1, given_up_at = $2, \
             next_attempt_at = COALESCE($3, next_attempt_at), attempts = $4, last_error = $5 \
             WHERE id = $6",
        )
        .bind(sent)
        .bind(given_up)
        .bind(next)
        .bind(attempts)
        .bind(error)
        .bind(m.id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(result.is_ok())
    }
}

/// The outbox's depth: undelivered (not given up), given up, and the oldest undelivered's
/// creation time.
pub struct Depth {
    pub undelivered: i64,
    pub given_up: i64,
    pub oldest: Option<DateTime<Utc>>,
}

pub async fn depth(c: &mut impl Conn) -> anyhow::Result<Depth> {
    let (undelivered, given_up, oldest): (i64, i64, Option<DateTime<Utc>>) = dispatch!(c, c => sqlx::query_as(
        "SELECT COALESCE(SUM(CASE WHEN given_up_at IS NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN given_up_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         MIN(CASE WHEN given_up_at IS NULL THEN created_at END) \
         FROM outbox WHERE sent_at IS NULL",
    )
    .fetch_one(&mut *c)
    .await)?;
    Ok(Depth {
        undelivered,
        given_up,
        oldest,
    })
}

/// Undelivered this long, a message is shown to the admin as a problem.
pub const OVERDUE_AFTER: chrono::Duration = chrono::Duration::hours(1);

/// A message refused for good stays on the admin's warning this long.
pub const GIVEN_UP_SHOWN_FOR: chrono::Duration = chrono::Duration::days(7);

/// How many messages need the admin's attention at `now`: undelivered for more than
/// [`OVERDUE_AFTER`], or given up within [`GIVEN_UP_SHOWN_FOR`].
pub async fn needing_attention(c: &mut impl Conn, now: DateTime<Utc>) -> anyhow::Result<i64> {
    Ok(dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL \
         AND ((given_up_at IS NULL AND created_at < $1) OR given_up_at > $2)",
    )
    .bind(now - OVERDUE_AFTER)
    .bind(now - GIVEN_UP_SHOWN_FOR)
    .fetch_one(&mut *c)
    .await)?)
}
