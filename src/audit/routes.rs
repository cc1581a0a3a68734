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
    /// The names of the children on the page, by id (the admin and the DPO see who).
    names: std::collections::HashMap<i64, String>,
    /// A name typed in a filter that matched several: the ones to choose from.
    child_choices: Vec<Child>,
    user_choices: Vec<crate::auth::users::UserRow>,
    /// The catalogue key of a message at a filter that matched nothing.
    child_error: Option<&'static str>,
    user_error: Option<&'static str>,
}

/// What a filter field typed as text came to.
enum Resolved<T> {
    /// Left empty.
    Any,
    One(i64),
    Several(Vec<T>),
    None,
}

/// How many matches a name filter offers to choose from.
const CHOICES: i64 = 20;

/// The child filter: an id, or a name matched as the child search does.
async fn resolve_child(c: &mut impl crate::db::Conn, text: &str) -> AppResult<Resolved<Child>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Resolved::Any);
    }
    if let Ok(id) = text.parse::<i64>() {
        return Ok(Resolved::One(id));
    }
    let (found, _) = crate::org::db::search_children(c, text, CHOICES, 0).await?;
    Ok(match found.len() {
        0 => Resolved::None,
        1 => Resolved::One(found[0].id),
        _ => Resolved::Several(found),
    })
}

/// The user filter: an id, or part of a name or an email address.
async fn resolve_user(
    c: &mut impl crate::db::Conn,
    text: &str,
) -> AppResult<Resolved<crate::auth::users::UserRow>> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Resolved::Any);
    }
    if let Ok(id) = text.parse::<i64>() {
        return Ok(Resolved::One(id));
    }
    let found = crate::auth::users::search(c, text, CHOICES).await?;
    Ok(match found.len() {
        0 => Resolved::None,
        1 => Resolved::One(found[0].id),
        _ => Resolved::Several(found),
    })
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
    let child = resolve_child(&mut c, &f.child).await?;
    let user = resolve_user(&mut c, &f.user).await?;
    let mut page = AccessLogPage {
        ctx: a.ctx,
        child: f.child.clone(),
        user: f.user.clone(),
        action: f.action.clone(),
        from: f.from.clone(),
        to: f.to.clone(),
        actions: super::Action::ALL,
        entries: Vec::new(),
        next: None,
        names: Default::default(),
        child_choices: Vec::new(),
        user_choices: Vec::new(),
        child_error: None,
        user_error: None,
    };
    let mut settled = true;
    let child = match child {
        Resolved::Any => None,
        Resolved::One(id) => Some(id),
        Resolved::Several(found) => {
            page.child_choices = found;
            settled = false;
            None
        }
        Resolved::None => {
            page.child_error = Some("log.no_child");
            settled = false;
            None
        }
    };
    let user = match user {
        Resolved::Any => None,
        Resolved::One(id) => Some(id),
        Resolved::Several(found) => {
            page.user_choices = found;
            settled = false;
            None
        }
        Resolved::None => {
            page.user_error = Some("log.no_user");
            settled = false;
            None
        }
    };
    if settled {
        let filter = super::LogFilter {
            child,
            user,
            action: super::Action::parse(&f.action),
            since: day_start(tz, &f.from),
            until: chrono::NaiveDate::parse_from_str(f.to.trim(), "%Y-%m-%d")
                .ok()
                .and_then(|d| day_start(tz, &(d + chrono::Duration::days(1)).to_string())),
        };
        let before = Some(f.before.as_str()).filter(|b| !b.is_empty());
        let (entries, next) =
            page_of(super::entries_filtered(&mut c, &filter, before, PAGE + 1).await?);
        let mut ids: Vec<i64> = entries.iter().filter_map(|e| e.child_id).collect();
        ids.sort_unstable();
        ids.dedup();
        page.names = crate::org::db::children_by_ids(&mut c, &ids)
            .await?
            .into_iter()
            .map(|ch| (ch.id, ch.full_name()))
            .collect();
        page.entries = entries;
        page.next = next;
    }
    Ok(render(page)?.into_response())
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

    fn name_of(&self, child: &i64) -> Option<&str> {
        self.names.get(child).map(String::as_str)
    }

    /// The filters as a query string without `name` (for links that set it anew).
    fn query_without(&self, name: &str) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("child", &self.child),
            ("user", &self.user),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if k != name && !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.finish()
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
