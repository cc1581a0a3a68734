//! Email through a transactional outbox. A message is written in the same transaction as what
//! it announces; a background sender delivers due rows over SMTP with retries and back-off, so
//! nothing is lost while the SMTP server is down or the service restarts. Without SMTP
//! settings the rows wait until a configuration can deliver them.
//!
//! Emails never carry personal data: they say that something is waiting, with a link.
//! Each message's `Message-ID` is derived from its outbox row, so in the rare case a crash
//! falls between the server's acceptance and the row being marked sent, the repeated message
//! carries the same id and mail systems treat it as the same message.

use std::time::Duration;

use chrono::{DateTime, Utc};
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;

use crate::config::{Config, SmtpTls};
use crate::db::{Conn, Db};
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

#[derive(Debug, Clone, sqlx::FromRow)]
struct Due {
    id: i64,
    recipient: String,
    subject: String,
    body: String,
    attempts: i32,
}

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The SMTP transport from the settings; `None` when email is not configured.
pub fn transport(config: &Config) -> anyhow::Result<Option<Transport>> {
    let Some(host) = &config.smtp_host else {
        return Ok(None);
    };
    let tls = match config.smtp_tls {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls => Tls::Required(TlsParameters::new(host.clone())?),
        SmtpTls::Tls => Tls::Wrapper(TlsParameters::new(host.clone())?),
    };
    let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(config.smtp_port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(10)));
    if let (Some(user), Some(pass)) = (&config.smtp_username, &config.smtp_password) {
        b = b.credentials(Credentials::new(
            user.clone(),
            pass.expose_secret().to_string(),
        ));
    }
    Ok(Some(b.build()))
}

/// Back-off after `attempts` failures: 30 s, 1 min, 2 min … at most an hour.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let secs = 30i64.saturating_mul(1i64 << attempts.clamp(0, 7));
    chrono::Duration::seconds(secs.min(3600))
}

/// Sends every due message once; returns how many were delivered.
pub async fn deliver_due(
    db: &Db,
    transport: &Transport,
    from: &Mailbox,
    now: DateTime<Utc>,
) -> anyhow::Result<usize> {
    let mut c = db.conn().await?;
    let due: Vec<Due> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT id, recipient, subject, body, attempts FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $1 ORDER BY id LIMIT 100",
    )
    .bind(now)
    .fetch_all(&mut *c)
    .await)?;
    drop(c);
    let mut sent = 0;
    for m in due {
        let result = async {
            let to: Mailbox = m.recipient.parse()?;
            let domain = from.email.domain().to_string();
            // Quoted-printable keeps the text readable in transit (and checkable in tests).
            let body = SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .header(ContentTransferEncoding::QuotedPrintable)
                .body(m.body.clone());
            let msg = Message::builder()
                .from(from.clone())
                .to(to)
                .subject(&m.subject)
                .message_id(Some(format!("<outbox-{}@{domain}>", m.id)))
                .singlepart(body)?;
            transport.send(msg).await?;
            anyhow::Ok(())
        }
        .await;
        let mut w = db.writer().await?;
        match result {
            Ok(()) => {
                dispatch!(&mut w, c => sqlx::query("UPDATE outbox SET sent_at = $1, attempts = attempts + 1 WHERE id = $2")
                    .bind(now)
                    .bind(m.id)
                    .execute(&mut *c)
                    .await
                    .map(|r| r.rows_affected()))?;
                sent += 1;
            }
            Err(e) => {
                tracing::warn!(outbox_id = m.id, attempts = m.attempts + 1, error = %e, "email not delivered; will retry");
                dispatch!(&mut w, c => sqlx::query(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3",
                )
                .bind(now + backoff(m.attempts))
                .bind(e.to_string())
                .bind(m.id)
                .execute(&mut *c)
                .await
                .map(|r| r.rows_affected()))?;
            }
        }
    }
    Ok(sent)
}

/// The background sender: polls the outbox every `every` until the process ends.
pub fn spawn_sender(
    db: Db,
    config: &Config,
    clock: crate::clock::Clock,
    every: Duration,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let Some(transport) = transport(config)? else {
        tracing::warn!(
            "email is disabled (no smtp_host): messages wait in the outbox until it is configured"
        );
        return Ok(None);
    };
    let from: Mailbox = config
        .mail_from
        .parse()
        .map_err(|e| anyhow::anyhow!("invalid mail_from: {e}"))?;
    Ok(Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            if let Err(e) = deliver_due(&db, &transport, &from, clock.now()).await {
                tracing::warn!(error = format!("{e:#}"), "outbox sender");
            }
        }
    })))
}
