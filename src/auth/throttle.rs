//! Login throttling that holds across instances and cannot be turned against the user.
//!
//! Every attempt is recorded *before* the password is checked, in a short transaction that
//! also counts the attempts so far (PostgreSQL: under an advisory lock per account; SQLite's
//! transactions run one at a time), so a burst of parallel guesses gets no more than the
//! limit between them. The password is then checked with no connection held; a success marks
//! its attempt.
//!
//! After `login_max_failures` failures within `login_window_minutes` (since the last success)
//! an account is locked — for unknown devices. A browser that has logged in to the account
//! before carries a device cookie (a random token; the database keeps its hash), and it still
//! gets in with the right password, with a failure budget of its own. So five wrong passwords
//! from anywhere no longer lock a social worker out of her own computer while her deadlines
//! run; a guesser has five tries per window and account, and a stolen cookie five more.

use anyhow::Context;
use axum::http::{HeaderMap, HeaderValue, header};
use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::config::Config;
use crate::db::{Db, Tx};
use crate::dispatch;

/// The device cookie's name; it is sent only to the login.
pub const DEVICE_COOKIE: &str = "trivsel_device";

/// How long a device stays known without a login.
const DEVICE_DAYS: i64 = 365;

/// The hash of the device token the browser sent, if any.
pub fn device_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == DEVICE_COOKIE)
        .map(|(_, token)| super::token_hash(token))
}

/// The `Set-Cookie` value that makes this browser a known device of the account.
pub fn device_cookie(token: &str, secure: bool) -> anyhow::Result<HeaderValue> {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{DEVICE_COOKIE}={token}; Path=/login; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        DEVICE_DAYS * 24 * 3600
    ))
    .context("device cookie")
}

/// An account's failed attempts since its last success within the window (`$2` its start).
/// "Since" goes by the attempts' order of recording (their ids), which two attempts in the
/// same instant cannot tie.
const FAILURES: &str = "SELECT COUNT(*) FROM login_attempts WHERE email = $1 AND at > $2 AND NOT success \
     AND id > COALESCE((SELECT MAX(id) FROM login_attempts WHERE email = $1 AND success), 0)";

/// A recorded attempt, awaiting the password check.
pub struct Attempt {
    id: i64,
}

/// The advisory lock key of an account's attempts.
fn lock_key(email: &str) -> i64 {
    let d = Sha256::digest(email.as_bytes());
    i64::from_be_bytes([d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]])
}

/// Records an attempt to log in as `email` from `device`, unless the account is locked for
/// it: `None` then.
pub async fn begin(
    db: &Db,
    config: &Config,
    email: &str,
    device: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Attempt>> {
    let since = now - chrono::Duration::minutes(config.login_window_minutes);
    let mut tx = db.begin().await?;
    if let Tx::Postgres(t) = &mut tx {
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock_key(email))
            .execute(&mut **t)
            .await
            .context("lock the account's attempts")?;
    }
    let known = match device {
        Some(d) => known_device(&mut tx, email, d, now).await?,
        None => false,
    };
    // Failures since the last success in the window: the account's, or a known device's own.
    let failures: i64 = if known {
        dispatch!(&mut tx, c => sqlx::query_scalar(&format!("{FAILURES} AND device = $3"))
            .bind(email)
            .bind(since)
            .bind(device.unwrap_or(""))
            .fetch_one(&mut *c)
            .await)?
    } else {
        dispatch!(&mut tx, c => sqlx::query_scalar(FAILURES)
            .bind(email)
            .bind(since)
            .fetch_one(&mut *c)
            .await)?
    };
    if failures >= config.login_max_failures {
        tracing::warn!(
            known_device = known,
            "login refused: too many failed attempts for one account"
        );
        return Ok(None);
    }
    let id: i64 = dispatch!(&mut tx, c => sqlx::query_scalar(
        "INSERT INTO login_attempts (email, at, success, device) VALUES ($1, $2, FALSE, $3) RETURNING id",
    )
    .bind(email)
    .bind(now)
    .bind(if known { device.unwrap_or("") } else { "" })
    .fetch_one(&mut *c)
    .await)?;
    tx.commit().await?;
    Ok(Some(Attempt { id }))
}

/// Whether `device` has logged in to the account of `email` within [`DEVICE_DAYS`].
async fn known_device(
    tx: &mut Tx,
    email: &str,
    device: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let n: i64 = dispatch!(tx, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM known_devices k JOIN users u ON u.id = k.user_id \
         WHERE k.token_hash = $1 AND u.email = $2 AND k.last_used_at > $3",
    )
    .bind(device)
    .bind(email)
    .bind(now - chrono::Duration::days(DEVICE_DAYS))
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0)
}

/// Marks the attempt a success and makes the browser a known device of `user_id`: keeps its
/// token (`Some(hash)` sent) fresh, or returns a new token to set as its cookie.
pub async fn succeeded(
    db: &Db,
    attempt: Attempt,
    user_id: i64,
    device: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<String>> {
    let mut tx = db.begin().await?;
    dispatch!(&mut tx, c => sqlx::query("UPDATE login_attempts SET success = TRUE WHERE id = $1")
        .bind(attempt.id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    let refreshed = match device {
        Some(d) => dispatch!(&mut tx, c => sqlx::query(
            "UPDATE known_devices SET last_used_at = $1 WHERE token_hash = $2 AND user_id = $3",
        )
        .bind(now)
        .bind(d)
        .bind(user_id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?,
        None => 0,
    };
    let token = if refreshed == 0 {
        let token = super::random_token();
        dispatch!(&mut tx, c => sqlx::query(
            "INSERT INTO known_devices (token_hash, user_id, created_at, last_used_at) VALUES ($1, $2, $3, $3)",
        )
        .bind(super::token_hash(&token))
        .bind(user_id)
        .bind(now)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
        Some(token)
    } else {
        None
    };
    tx.commit().await?;
    Ok(token)
}

/// Marks an attempt at a step after the password (the second factor) a success; that step
/// knows no devices.
pub async fn step_succeeded(db: &Db, attempt: Attempt) -> anyhow::Result<()> {
    let mut w = db.writer().await?;
    dispatch!(&mut w, c => sqlx::query("UPDATE login_attempts SET success = TRUE WHERE id = $1")
        .bind(attempt.id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}
