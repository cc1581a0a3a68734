//! The admin's view of the access log, filtered by child and/or user. Looking at the log is
//! itself not logged per child: it shows ids, not personal data.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Entry;
use crate::auth::{Auth, scope};
use crate::error::AppResult;
use crate::state::AppState;
use crate::web::{PageCtx, render};

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/access-log", get(access_log))
}

#[derive(Deserialize, Default)]
struct Filter {
    #[serde(default)]
    child: String,
    #[serde(default)]
    user: String,
}

#[derive(Template)]
#[template(path = "admin/access_log.html")]
struct AccessLogPage {
    ctx: PageCtx,
    child: String,
    user: String,
    entries: Vec<Entry>,
}

async fn access_log(
    State(state): State<AppState>,
    a: Auth,
    Query(f): Query<Filter>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let child = f.child.trim().parse::<i64>().ok();
    let user = f.user.trim().parse::<i64>().ok();
    let entries = super::entries(&mut c, child, user, 500).await?;
    Ok(render(AccessLogPage {
        ctx: a.ctx,
        child: f.child,
        user: f.user,
        entries,
    })?
    .into_response())
}
