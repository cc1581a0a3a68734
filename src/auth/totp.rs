//! A second factor for password accounts: a time-based one-time code (TOTP, RFC 6238: SHA-1,
//! six digits, 30-second steps, one step of clock drift either way) from an authenticator app,
//! or one of ten recovery codes.
//!
//! - Required for the roles in `two_factor_roles` (unset: admins and social workers), optional
//!   for everyone else (`/account/security`). An account that has one always uses it.
//! - The password (or a password chosen from an emailed link) only makes the session *pending*:
//!   it names the account but logs nobody in, for [`PENDING_MINUTES`]. The code completes the
//!   login; an account that must have a second factor and has none enrols first.
//! - Enrolment: the server draws the secret, shows it as a QR code it renders itself (SVG, no
//!   third party) and as text, and keeps it only in the session until a code from the app
//!   confirms it. Then ten recovery codes are shown once and stored as hashes.
//! - A code is accepted once: the account keeps the last accepted time step, and the statement
//!   that records a newer one is the check. Wrong codes count towards the same throttle as
//!   wrong passwords (`throttle`, under the account's own key for this step).
//! - The admin can reset an account's second factor (logged; the user is told by email, which
//!   names no child). The user then enrols again at the next login.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use totp_rs::{Builder, Secret, Totp};
use tower_sessions::Session;

use super::{Auth, Role, Visitor, scope, throttle};
use crate::audit::{self, Action};
use crate::db::Conn;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{PageCtx, render, tkey};

/// The session key of a login that still needs its second factor.
const PENDING_KEY: &str = "pending_login";
/// The session key of a secret being enrolled (until a code confirms it).
const SETUP_KEY: &str = "totp_setup";
/// How long a password stays good for the second step.
pub const PENDING_MINUTES: i64 = 10;
/// How many recovery codes an enrolment gives.
pub const RECOVERY_CODES: usize = 10;
/// The name the authenticator app shows.
const ISSUER: &str = "Trivsel";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/code", get(code_page).post(code))
        .route("/two-factor/setup", get(setup_page).post(setup))
        .route("/account/security", get(security_page))
        .route("/admin/users/{id}/two-factor/reset", post(reset))
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Pending {
    user: i64,
    /// Unix seconds of the password check.
    since: i64,
}

/// An account as the second step needs it.
#[derive(sqlx::FromRow)]
struct Factor {
    email: String,
    role: String,
    totp_secret: Option<String>,
}

async fn factor(c: &mut impl Conn, user_id: i64) -> anyhow::Result<Option<Factor>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT email, role, totp_secret FROM users WHERE id = $1 AND active",
    )
    .bind(user_id)
    .fetch_optional(&mut *c)
    .await)?)
}

fn totp(secret: Secret, email: &str) -> anyhow::Result<Totp> {
    Builder::new()
        .with_secret(secret)
        .with_account_name(email.replace(':', ""))
        .with_issuer(Some(ISSUER))
        .build()
        .map_err(|e| anyhow::anyhow!("TOTP: {e}"))
}

/// The time step a six-digit `code` is valid for at `now` under `secret`, if it is.
fn step_of(secret: &str, email: &str, code: &str, now: DateTime<Utc>) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let secret = Secret::try_from_base32(secret).ok()?;
    totp(secret, email)
        .ok()?
        .check(&code, u64::try_from(now.timestamp()).ok()?)
}

/// After a correct password (or a password chosen from a link) for `user_id`: where the login
/// goes on — the second step, when the account has a second factor or its role needs one —
/// or `None` when it is complete and the caller logs the user in.
pub async fn after_password(
    state: &AppState,
    session: &Session,
    user_id: i64,
) -> AppResult<Option<&'static str>> {
    let f = {
        let mut c = state.db.conn().await?;
        factor(&mut c, user_id).await?.ok_or(AppError::NotFound)?
    };
    let required = Role::parse(&f.role).is_some_and(|r| state.config.two_factor_required(r));
    if f.totp_secret.is_none() && !required {
        return Ok(None);
    }
    session
        .cycle_id()
        .await
        .map_err(|e| anyhow::anyhow!("cycle session id: {e}"))?;
    let pending = Pending {
        user: user_id,
        since: state.now().timestamp(),
    };
    session
        .insert(PENDING_KEY, pending)
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    Ok(Some("/login/code"))
}

/// The account waiting for its second step, if the password was given recently enough.
async fn pending(state: &AppState, session: &Session) -> AppResult<Option<i64>> {
    let p: Option<Pending> = session
        .get(PENDING_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?;
    Ok(
        p.filter(|p| state.now().timestamp() - p.since <= PENDING_MINUTES * 60)
            .map(|p| p.user),
    )
}

/// Completes a pending login.
async fn complete(session: &Session, user_id: i64) -> AppResult<()> {
    session
        .remove::<Pending>(PENDING_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    super::log_in(session, user_id).await
}

// ---- the second step ----

#[derive(Template)]
#[template(path = "login_code.html")]
struct CodePage {
    ctx: PageCtx,
    error: Option<&'static str>,
}

async fn code_page(State(state): State<AppState>, v: Visitor) -> AppResult<Response> {
    let Some(user_id) = pending(&state, &v.session).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let mut c = state.db.conn().await?;
    let f = factor(&mut c, user_id).await?.ok_or(AppError::NotFound)?;
    if f.totp_secret.is_none() {
        return Ok(Redirect::to("/two-factor/setup").into_response());
    }
    Ok(render(CodePage {
        ctx: v.ctx,
        error: None,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn code(
    State(state): State<AppState>,
    v: Visitor,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let Some(user_id) = pending(&state, &v.session).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let now = state.now();
    let f = {
        let mut c = state.db.conn().await?;
        factor(&mut c, user_id).await?.ok_or(AppError::NotFound)?
    };
    let Some(secret) = &f.totp_secret else {
        return Ok(Redirect::to("/two-factor/setup").into_response());
    };
    let page = |error, status: StatusCode| -> AppResult<Response> {
        Ok((
            status,
            render(CodePage {
                ctx: v.ctx.clone(),
                error: Some(error),
            })?,
        )
            .into_response())
    };
    // The step is throttled like the password, under its own key for the account.
    let key = format!("two-factor:{}", f.email);
    let Some(attempt) = throttle::begin(&state.db, &state.config, &key, None, now).await? else {
        return page(tkey("login.throttled"), StatusCode::TOO_MANY_REQUESTS);
    };
    let mut w = state.db.writer().await?;
    let accepted = match step_of(secret, &f.email, &form.code, now) {
        // Once only: the update that records the step is the check.
        Some(step) => {
            dispatch!(&mut w, c => sqlx::query(
                "UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2",
            )
            .bind(user_id)
            .bind(step as i64)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?
                == 1
        }
        None => {
            dispatch!(&mut w, c => sqlx::query(
                "UPDATE recovery_codes SET used_at = $3 WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL",
            )
            .bind(user_id)
            .bind(recovery_hash(&form.code))
            .bind(now)
            .execute(&mut *c)
            .await
            .map(|r| r.rows_affected()))?
                == 1
        }
    };
    drop(w);
    if !accepted {
        return page(tkey("two_factor.failed"), StatusCode::UNAUTHORIZED);
    }
    throttle::step_succeeded(&state.db, attempt).await?;
    complete(&v.session, user_id).await?;
    tracing::info!(user_id, "logged in with a second factor");
    let next = super::resume::take_path(&v.session).await?;
    Ok(Redirect::to(&next).into_response())
}

// ---- enrolment ----

#[derive(Template)]
#[template(path = "two_factor_setup.html")]
struct SetupPage {
    ctx: PageCtx,
    /// The QR code of the `otpauth://` address, as SVG drawn here.
    qr: String,
    /// The secret in base32, in groups of four, for typing into the app.
    secret: String,
    error: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "two_factor_codes.html")]
struct CodesPage {
    ctx: PageCtx,
    codes: Vec<String>,
}

/// Whose second factor is being set up: the logged-in user's, or a pending login's.
async fn enrolling(state: &AppState, v: &Visitor) -> AppResult<Option<i64>> {
    Ok(match &v.user {
        Some(u) => Some(u.id),
        None => pending(state, &v.session).await?,
    })
}

/// The secret being enrolled, drawn on first use and kept in the session until confirmed.
async fn setup_secret(session: &Session) -> AppResult<String> {
    if let Some(s) = session
        .get::<String>(SETUP_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?
    {
        return Ok(s);
    }
    let mut bytes = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let s = Secret::new_stack(bytes).to_base32();
    session
        .insert(SETUP_KEY, &s)
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    Ok(s)
}

async fn setup_view(
    state: &AppState,
    v: &Visitor,
    user_id: i64,
    error: Option<&'static str>,
) -> AppResult<SetupPage> {
    let secret = setup_secret(&v.session).await?;
    let email = {
        let mut c = state.db.conn().await?;
        factor(&mut c, user_id)
            .await?
            .ok_or(AppError::NotFound)?
            .email
    };
    let url = totp(
        Secret::try_from_base32(&secret).map_err(|e| anyhow::anyhow!("secret: {e}"))?,
        &email,
    )?
    .to_url()
    .map_err(|e| anyhow::anyhow!("otpauth address: {e}"))?;
    let qr = qrcode::QrCode::new(url.as_bytes())
        .map_err(|e| anyhow::anyhow!("QR code: {e}"))?
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build();
    let grouped = secret
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(SetupPage {
        ctx: v.ctx.clone(),
        qr,
        secret: grouped,
        error,
    })
}

async fn setup_page(State(state): State<AppState>, v: Visitor) -> AppResult<Response> {
    let Some(user_id) = enrolling(&state, &v).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    Ok(render(setup_view(&state, &v, user_id, None).await?)?.into_response())
}

async fn setup(
    State(state): State<AppState>,
    v: Visitor,
    Form(form): Form<CodeForm>,
) -> AppResult<Response> {
    let Some(user_id) = enrolling(&state, &v).await? else {
        return Ok(Redirect::to("/login").into_response());
    };
    let now = state.now();
    let secret = setup_secret(&v.session).await?;
    let email = {
        let mut c = state.db.conn().await?;
        factor(&mut c, user_id)
            .await?
            .ok_or(AppError::NotFound)?
            .email
    };
    let Some(step) = step_of(&secret, &email, &form.code, now) else {
        let page = setup_view(&state, &v, user_id, Some(tkey("two_factor.failed"))).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    };
    let codes: Vec<String> = (0..RECOVERY_CODES).map(|_| recovery_code()).collect();
    let mut tx = state.db.begin().await?;
    set_factor(&mut tx, user_id, Some((&secret, step as i64))).await?;
    for code in &codes {
        dispatch!(&mut tx, c => sqlx::query(
            "INSERT INTO recovery_codes (user_id, code_hash) VALUES ($1, $2)",
        )
        .bind(user_id)
        .bind(recovery_hash(code))
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    }
    tx.commit().await?;
    v.session
        .remove::<String>(SETUP_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    let mut ctx = v.ctx;
    if v.user.is_none() {
        complete(&v.session, user_id).await?;
        // The login gave the session a new token: the page's forms carry it.
        ctx.csrf = super::csrf_token(&v.session).await?;
    }
    tracing::info!(user_id, "second factor set up");
    Ok(render(CodesPage { ctx, codes })?.into_response())
}

/// Sets the account's secret and the step its confirming code was for (`None`: removes the
/// second factor); the recovery codes of an earlier factor go in either case.
async fn set_factor(
    c: &mut impl Conn,
    user_id: i64,
    secret: Option<(&str, i64)>,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "UPDATE users SET totp_secret = $2, totp_last_step = $3 WHERE id = $1",
    )
    .bind(user_id)
    .bind(secret.map(|(s, _)| s))
    .bind(secret.map_or(0, |(_, step)| step))
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    dispatch!(c, c => sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

/// A recovery code: ten letters and digits that cannot be mistaken for each other, grouped
/// five and five.
fn recovery_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut bytes = [0u8; 10];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    format!("{}-{}", &chars[..5], &chars[5..])
}

/// How a recovery code is stored: as typed, without spaces or dashes and in capitals, hashed.
fn recovery_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    super::token_hash(&normal)
}

// ---- the account's own page ----

#[derive(Template)]
#[template(path = "account_security.html")]
struct SecurityPage {
    ctx: PageCtx,
    enabled: bool,
    required: bool,
    codes_left: i64,
}

async fn security_page(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    let mut c = state.db.conn().await?;
    let f = factor(&mut c, a.user.id).await?.ok_or(AppError::NotFound)?;
    let codes_left: i64 = dispatch!(&mut c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(a.user.id)
    .fetch_one(&mut *c)
    .await)?;
    Ok(render(SecurityPage {
        enabled: f.totp_secret.is_some(),
        required: state.config.two_factor_required(a.user.role),
        codes_left,
        ctx: a.ctx,
    })?
    .into_response())
}

// ---- the admin resets an account's second factor ----

async fn reset(State(state): State<AppState>, a: Auth, Path(id): Path<i64>) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let f = factor(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    set_factor(&mut tx, id, None).await?;
    audit::record(
        &mut tx,
        &a.user,
        Action::Change,
        None,
        &format!("user:{id}"),
        "two-factor-reset",
        now,
    )
    .await?;
    crate::notify::enqueue(
        &mut tx,
        &f.email,
        "Trivsel: din anden faktor er nulstillet",
        "En administrator har nulstillet den anden faktor (koden fra din app) til din bruger i Trivsel. Næste gang du logger ind, sætter du den op igen.\n\nHar du ikke bedt om det, så kontakt din administrator.\n\nDenne e-mail indeholder ingen oplysninger om børn.\n",
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = a.user.id, account = id, "second factor reset");
    Ok(Redirect::to(&format!("/admin/users/{id}?two_factor_reset=1")).into_response())
}
