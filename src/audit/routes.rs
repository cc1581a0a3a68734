//! The access log as people read it: the admin's view of the whole log (filtered by child
//! and/or user), and "who has seen this child" on a child's own page for the institution's
//! leader and the admin. Both read a page at a time by keyset, newest first. Looking at the
//! log is itself not logged per child: it shows staff and times, not the child's data.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::Entry;
use crate::auth::{Auth, Role, scope};
use crate::error::{AppError, AppResult};
use crate::org::db::Child;
use crate::state::AppState;
use crate::web::{PageCtx, render};

/// Entries per page.
const PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/access-log", get(access_log))
        .route("/children/{id}/accesses", get(child_accesses))
}

#[derive(Deserialize, Default)]
struct Filter {
    #[serde(default)]
    child: String,
    #[serde(default)]
    user: String,
    #[serde(default)]
    action: String,
    /// Local dates, `YYYY-MM-DD`: from the start of `from` to the end of `to`.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    before: String,
}

/// The start of local day `day` in `tz`, as UTC.
fn day_start(tz: chrono_tz::Tz, day: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::TimeZone;
    let d = chrono::NaiveDate::parse_from_str(day.trim(), "%Y-%m-%d").ok()?;
    tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
        .earliest()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// One page of entries and, when there are more, where the next starts.
fn page_of(mut entries: Vec<Entry>) -> (Vec<Entry>, Option<String>) {
    let more = entries.len() as i64 > PAGE;
    entries.truncate(PAGE as usize);
    let next = more.then(|| entries.last().map(Entry::cursor)).flatten();
    (entries, next)
}

#[derive(Template)]
#[template(path = "admin/access_log.html")]
struct AccessLogPage {
    ctx: PageCtx,
    child: String,
    user: String,
    action: String,
    from: String,
    to: String,
    actions: [super::Action; 6],
    entries: Vec<Entry>,
    next: Option<String>,
}

async fn access_log(
    State(state): State<AppState>,
    a: Auth,
    Query(f): Query<Filter>,
) -> AppResult<Response> {
    if !matches!(a.user.role, Role::Admin | Role::Dpo) {
        return Err(AppError::NotFound);
    }
    let mut c = state.db.conn().await?;
    let tz = a.ctx.tz;
    let filter = super::LogFilter {
        child: f.child.trim().parse::<i64>().ok(),
        user: f.user.trim().parse::<i64>().ok(),
        action: super::Action::parse(&f.action),
        since: day_start(tz, &f.from),
        until: chrono::NaiveDate::parse_from_str(f.to.trim(), "%Y-%m-%d")
            .ok()
            .and_then(|d| day_start(tz, &(d + chrono::Duration::days(1)).to_string())),
    };
    let before = Some(f.before.as_str()).filter(|b| !b.is_empty());
    let (entries, next) =
        page_of(super::entries_filtered(&mut c, &filter, before, PAGE + 1).await?);
    Ok(render(AccessLogPage {
        ctx: a.ctx,
        child: f.child,
        user: f.user,
        action: f.action,
        from: f.from,
        to: f.to,
        actions: super::Action::ALL,
        entries,
        next,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "child_accesses.html")]
struct ChildAccessesPage {
    ctx: PageCtx,
    child: Child,
    entries: Vec<Entry>,
    next: Option<String>,
}

impl AccessLogPage {
    fn is_action(&self, code: &str) -> bool {
        self.action == code
    }
}

/// Whether `role` may see who has seen a child (in its scope): the leader and the admin.
pub fn sees_accesses(role: Role) -> bool {
    matches!(role, Role::Leader | Role::Admin | Role::Dpo)
}

/// "Hvem har set barnets oplysninger": the accesses to one child, newest first.
async fn child_accesses(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Query(f): Query<Filter>,
) -> AppResult<Response> {
    if !sees_accesses(a.user.role) {
        return Err(AppError::NotFound);
    }
    let mut c = state.db.conn().await?;
    let child = scope::child(&mut c, &a.user, id).await?;
    let before = Some(f.before.as_str()).filter(|b| !b.is_empty());
    let (entries, next) = page_of(super::entries(&mut c, Some(id), None, before, PAGE + 1).await?);
    Ok(render(ChildAccessesPage {
        ctx: a.ctx,
        child,
        entries,
        next,
    })?
    .into_response())
}
