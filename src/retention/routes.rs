//! The retention page (`/admin/retention`), for the admin and the data-protection officer:
//! the policy in force, what it would delete today (a dry run, on request), the legal holds in
//! force, and the report of every run. The admin can also start a run at once — it deletes
//! only what tonight's run would.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::run::{self, Line, Report};
use crate::audit::{self, Action};
use crate::auth::{Auth, Role, scope};
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/retention", get(retention_page))
        .route("/admin/retention/run", post(run_now))
}

/// How many runs the page lists (newest first).
const REPORTS: i64 = 30;

/// A hold in force, with the child it keeps.
#[derive(sqlx::FromRow)]
struct HeldChild {
    child_id: i64,
    first_name: String,
    last_name: String,
    reason: String,
    placed_by_name: String,
    placed_at: DateTime<Utc>,
}

#[derive(Template)]
#[template(path = "admin/retention.html")]
struct RetentionPage {
    ctx: PageCtx,
    file: String,
    rules: Vec<Line>,
    preview: Option<Vec<Line>>,
    holds: Vec<HeldChild>,
    reports: Vec<Report>,
    can_run: bool,
    /// The run just started from this page.
    ran: Option<i64>,
}

impl RetentionPage {
    fn rule_text(&self, l: &Line) -> String {
        l.describe_in(&self.ctx)
    }
}

#[derive(Deserialize, Default)]
struct PageQuery {
    #[serde(default)]
    preview: Option<String>,
    #[serde(default)]
    ran: Option<i64>,
}

fn reads_retention(role: Role) -> bool {
    matches!(role, Role::Admin | Role::Dpo)
}

async fn retention_page(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<PageQuery>,
) -> AppResult<Response> {
    if !reads_retention(a.user.role) {
        return Err(AppError::NotFound);
    }
    let now = state.now();
    let policy = &state.retention;
    let rules = policy.rules.iter().map(|r| Line::of(r, 0)).collect();
    let preview = match q.preview {
        Some(_) => Some(run::dry_run(&state.db, policy, now).await?),
        None => None,
    };
    let mut c = state.db.conn().await?;
    let holds: Vec<HeldChild> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT h.child_id, ch.first_name, ch.last_name, h.reason, u.name AS placed_by_name, h.placed_at \
         FROM legal_holds h JOIN children ch ON ch.id = h.child_id JOIN users u ON u.id = h.placed_by \
         WHERE h.lifted_at IS NULL ORDER BY h.placed_at DESC, h.id DESC",
    )
    .fetch_all(&mut *c)
    .await)?;
    let reports = run::reports(&mut c, REPORTS).await?;
    drop(c);
    // The holds name children: a read of each, in the log.
    let ids: Vec<i64> = holds.iter().map(|h| h.child_id).collect();
    audit::record_many(
        &mut state.db.writer().await?,
        &a.user,
        Action::Read,
        &ids,
        "legal-holds",
        now,
    )
    .await?;
    Ok(render(RetentionPage {
        can_run: a.user.role == Role::Admin,
        ctx: a.ctx,
        file: policy.file.clone(),
        rules,
        preview,
        holds,
        reports,
        ran: q.ran,
    })?
    .into_response())
}

/// The admin runs the policy now (the same deletion as the daily run), recorded as a run of
/// its own. The run goes on in the background; the page shows it running, then its report.
async fn run_now(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let id = run::start(
        &state.db,
        state.retention.clone(),
        run::Trigger::Admin,
        Some(a.user.id),
        &state.clock,
    )
    .await?;
    tracing::info!(
        user_id = a.user.id,
        run = id,
        "deletion by the retention policy, started by the admin"
    );
    Ok(Redirect::to(&format!("/admin/retention?ran={id}#run-{id}")).into_response())
}
