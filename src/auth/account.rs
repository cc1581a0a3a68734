//! Staff choose their own passwords: the admin invites an account by email, and "Glemt
//! adgangskode" sends a reset link. Both are single-use links with an expiry, stored only as the
//! SHA-256 of their token (`account_tokens`); a new link replaces the account's unused ones. The
//! admin never types or sees a password; `trivsel user add` still sets one for scripts.
//!
//! The reset form answers the same whether or not the address has an account, and sends at most
//! [`RESETS_PER_HOUR`] links an hour to one account. Setting a password from a reset link ends
//! every session of the account. Emails go through the outbox and name no child.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use super::{Auth, Visitor, password, scope, users};
use crate::db::Conn;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{FieldErrors, PageCtx, render, tkey};

/// How long an invitation link works.
pub const INVITE_DAYS: i64 = 7;
/// How long a reset link works.
pub const RESET_MINUTES: i64 = 60;
/// The most reset links one account is sent in an hour.
pub const RESETS_PER_HOUR: i64 = 3;

/// What a link is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Invite,
    Reset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Invite => "invite",
            Purpose::Reset => "reset",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Purpose::Invite => Duration::days(INVITE_DAYS),
            Purpose::Reset => Duration::minutes(RESET_MINUTES),
        }
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/password/forgot", get(forgot_page).post(forgot))
        .route("/account/{token}", get(password_page).post(set_password))
        .route("/admin/users/{id}/invite", post(invite_again))
}

/// Creates a link for `user_id` (replacing its unused ones) and queues the email with it;
/// returns the link's expiry.
pub async fn send_link(
    c: &mut impl Conn,
    base_url: &str,
    user_id: i64,
    email: &str,
    purpose: Purpose,
    now: DateTime<Utc>,
    tz: chrono_tz::Tz,
) -> anyhow::Result<DateTime<Utc>> {
    let token = super::random_token();
    let expires = now + purpose.lifetime();
    dispatch!(c, c => sqlx::query(
        "UPDATE account_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL",
    )
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    dispatch!(c, c => sqlx::query(
        "INSERT INTO account_tokens (user_id, purpose, token_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(super::token_hash(&token))
    .bind(now)
    .bind(expires.timestamp())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    let until = expires.with_timezone(&tz).format("%d-%m-%Y kl. %H:%M");
    let url = format!("{base_url}/account/{token}");
    let (subject, body) = match purpose {
        Purpose::Invite => (
            "Trivsel: du er inviteret",
            format!(
                "Du er oprettet som bruger af Trivsel. Vælg din adgangskode her (linket virker én gang, indtil {until}):\n\n{url}\n\nHar du ikke ventet denne e-mail, så se bort fra den.\n\nDenne e-mail indeholder ingen oplysninger om børn.\n"
            ),
        ),
        Purpose::Reset => (
            "Trivsel: ny adgangskode",
            format!(
                "Der er bedt om en ny adgangskode til din bruger i Trivsel. Vælg den her (linket virker én gang, indtil {until}):\n\n{url}\n\nHar du ikke selv bedt om det, så se bort fra denne e-mail: din adgangskode er uændret.\n\nDenne e-mail indeholder ingen oplysninger om børn.\n"
            ),
        ),
    };
    crate::notify::enqueue(c, email, subject, &body, now).await?;
    Ok(expires)
}

/// The account and purpose of an unused, unexpired link.
async fn valid_link(
    c: &mut impl Conn,
    token: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<(i64, String)>> {
    Ok(dispatch!(c, c => sqlx::query_as(
        "SELECT t.user_id, t.purpose FROM account_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND t.used_at IS NULL AND t.expires_at > $2 AND u.active",
    )
    .bind(super::token_hash(token))
    .bind(now.timestamp())
    .fetch_optional(&mut *c)
    .await)?)
}

// ---- forgotten password ----

#[derive(Template)]
#[template(path = "password_forgot.html")]
struct ForgotPage {
    ctx: PageCtx,
    email: String,
    sent: bool,
    errors: FieldErrors,
}

async fn forgot_page(v: Visitor) -> AppResult<Response> {
    Ok(render(ForgotPage {
        ctx: v.ctx,
        email: String::new(),
        sent: false,
        errors: FieldErrors::default(),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

async fn forgot(
    State(state): State<AppState>,
    v: Visitor,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    if !validator::ValidateEmail::validate_email(&form.email.trim()) {
        let mut errors = FieldErrors::default();
        errors.add("email", tkey("err.email"));
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(ForgotPage {
                ctx: v.ctx,
                email: form.email,
                sent: false,
                errors,
            })?,
        )
            .into_response());
    }
    let email = users::normalise_email(&form.email);
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let account: Option<(i64, i64)> = dispatch!(&mut tx, c => sqlx::query_as(
        "SELECT u.id, (SELECT COUNT(*) FROM account_tokens t WHERE t.user_id = u.id AND t.purpose = 'reset' AND t.created_at > $2) \
         FROM users u WHERE u.email = $1 AND u.active",
    )
    .bind(&email)
    .bind(now - Duration::hours(1))
    .fetch_optional(&mut *c)
    .await)?;
    // The same page whatever the address: whether an account exists is not told.
    if let Some((id, recent)) = account
        && recent < RESETS_PER_HOUR
    {
        send_link(
            &mut tx,
            &state.config.base_url(),
            id,
            &email,
            Purpose::Reset,
            now,
            state.config.time_zone,
        )
        .await?;
        tracing::info!(user_id = id, "password reset link sent");
    }
    tx.commit().await?;
    Ok(render(ForgotPage {
        ctx: v.ctx,
        email: String::new(),
        sent: true,
        errors: FieldErrors::default(),
    })?
    .into_response())
}

// ---- choosing a password from a link ----

#[derive(Template)]
#[template(path = "account_password.html")]
struct PasswordPage {
    ctx: PageCtx,
    token: String,
    invite: bool,
    errors: FieldErrors,
}

async fn password_page(
    State(state): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let mut c = state.db.conn().await?;
    let (_, purpose) = valid_link(&mut c, &token, state.now())
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(render(PasswordPage {
        ctx: v.ctx,
        token,
        invite: purpose == Purpose::Invite.as_str(),
        errors: FieldErrors::default(),
    })?
    .into_response())
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

async fn set_password(
    State(state): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
    Form(form): Form<PasswordForm>,
) -> AppResult<Response> {
    let now = state.now();
    let (user_id, purpose) = {
        let mut c = state.db.conn().await?;
        valid_link(&mut c, &token, now)
            .await?
            .ok_or(AppError::NotFound)?
    };
    let mut errors = FieldErrors::default();
    let length = form.password.chars().count();
    if !(password::MIN_LENGTH..=200).contains(&length) {
        errors.add("password", tkey("err.password_length"));
    } else if form.password != form.password2 {
        errors.add("password2", tkey("err.password_mismatch"));
    }
    if !errors.is_empty() {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(PasswordPage {
                ctx: v.ctx,
                token,
                invite: purpose == Purpose::Invite.as_str(),
                errors,
            })?,
        )
            .into_response());
    }
    let hash = password::hash(form.password).await?;
    let mut tx = state.db.begin().await?;
    // Used once: the statement that spends the link also decides whether it still could be.
    let spent = dispatch!(&mut tx, c => sqlx::query(
        "UPDATE account_tokens SET used_at = $2 WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $3",
    )
    .bind(super::token_hash(&token))
    .bind(now)
    .bind(now.timestamp())
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if spent != 1 {
        return Err(AppError::NotFound);
    }
    users::set_password_hash(&mut tx, user_id, &hash).await?;
    // Every session of the account ends: whoever knew the old password is logged out.
    dispatch!(&mut tx, c => sqlx::query("DELETE FROM sessions WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    tx.commit().await?;
    state.sessions.forget_user(user_id);
    tracing::info!(user_id, purpose = %purpose, "password chosen from a link");
    // A link is one factor: an account with (or needing) a second one goes on to it.
    if let Some(step) = super::totp::after_password(&state, &v.session, user_id).await? {
        return Ok(Redirect::to(step).into_response());
    }
    super::log_in(&v.session, user_id).await?;
    Ok(Redirect::to("/").into_response())
}

// ---- the admin sends an invitation again ----

async fn invite_again(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let user = users::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if !user.active {
        return Err(AppError::BadRequest("the account is not active"));
    }
    send_link(
        &mut tx,
        &state.config.base_url(),
        id,
        &user.email,
        Purpose::Invite,
        now,
        state.config.time_zone,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = a.user.id, account = id, "invitation sent");
    Ok(Redirect::to(&format!("/admin/users/{id}?invited=1")).into_response())
}
