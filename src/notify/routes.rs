//! The admin's view of the outbox: what waits, what fails and what was given up. It shows
//! who a message is for by role and never what it says.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};

use crate::auth::{Auth, Role, scope};
use crate::dispatch;
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/outbox", get(outbox_page))
}

/// How many undelivered messages the page lists (the oldest first).
const LISTED: i64 = 200;

#[derive(sqlx::FromRow)]
struct Waiting {
    id: i64,
    created_at: DateTime<Utc>,
    attempts: i32,
    next_attempt_at: DateTime<Utc>,
    given_up_at: Option<DateTime<Utc>>,
    last_error: String,
    role: Option<String>,
}

impl Waiting {
    fn role_key(&self) -> &'static str {
        self.role
            .as_deref()
            .and_then(Role::parse)
            .map(Role::label_key)
            .unwrap_or("outbox.not_staff")
    }

    fn status_key(&self, now: &DateTime<Utc>) -> &'static str {
        if self.given_up_at.is_some() {
            "outbox.given_up"
        } else if self.attempts > 0 {
            "outbox.failing"
        } else if *now - self.created_at > super::OVERDUE_AFTER {
            "outbox.overdue"
        } else {
            "outbox.queued"
        }
    }
}

#[derive(Template)]
#[template(path = "admin/outbox.html")]
struct OutboxPage {
    ctx: PageCtx,
    now: DateTime<Utc>,
    queued: i64,
    failing: i64,
    given_up: i64,
    sent_last_day: i64,
    waiting: Vec<Waiting>,
}

async fn outbox_page(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let now = state.now();
    let mut c = state.db.conn().await?;
    let (queued, failing, given_up, sent_last_day): (i64, i64, i64, i64) = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT \
         COALESCE(SUM(CASE WHEN sent_at IS NULL AND given_up_at IS NULL AND attempts = 0 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN sent_at IS NULL AND given_up_at IS NULL AND attempts > 0 THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN given_up_at IS NOT NULL THEN 1 ELSE 0 END), 0), \
         COALESCE(SUM(CASE WHEN sent_at > $1 THEN 1 ELSE 0 END), 0) \
         FROM outbox WHERE sent_at IS NULL OR sent_at > $1",
    )
    .bind(now - chrono::Duration::days(1))
    .fetch_one(&mut *c)
    .await)?;
    let waiting: Vec<Waiting> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT o.id, o.created_at, o.attempts, o.next_attempt_at, o.given_up_at, o.last_error, \
         (SELECT u.role FROM users u WHERE u.email = o.recipient) AS role \
         FROM outbox o WHERE o.sent_at IS NULL ORDER BY o.created_at, o.id LIMIT $1",
    )
    .bind(LISTED)
    .fetch_all(&mut *c)
    .await)?;
    Ok(render(OutboxPage {
        ctx: a.ctx,
        now,
        queued,
        failing,
        given_up,
        sent_last_day,
        waiting,
    })?
    .into_response())
}
