//! The social worker's inbox and case page, and the educator's view of an alert they raised.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{ANONYMOUS, NOTIFICATION};
use crate::assessment::routes::LevelView;
use crate::audit::{self, Action};
use crate::auth::{Auth, CurrentUser, Role, scope};
use crate::consent::{self, Purpose};
use crate::db::Conn;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{FieldErrors, PageCtx, render, tkey};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/alerts", get(inbox))
        .route("/alerts/{id}", get(alert_page))
        .route("/alerts/{id}/take", post(take))
        .route("/alerts/{id}/progress", post(progress))
        .route("/alerts/{id}/close", post(close))
        .route("/alerts/{id}/details", post(details))
        .route("/alerts/{id}/messages", post(post_message))
        .route("/alerts/{id}/measures", post(record_measure))
        .route("/measures/{id}/reviews", post(record_review))
        .route("/alerts/{id}/meetings", post(record_meeting))
}

pub const OUTCOMES: [&str; 6] = [
    "no_action",
    "consultation_given",
    "parent_meeting",
    "early_measure",
    "notification_assessed",
    "investigation_started",
];

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AlertRow {
    pub id: i64,
    pub child_id: i64,
    pub assessment_id: i64,
    pub district_id: Option<i64>,
    pub kind: String,
    pub status: String,
    pub level_rank: i32,
    pub rules: String,
    pub consultation_text: String,
    pub parents_informed: String,
    pub taken_by: Option<i64>,
    pub taken_by_name: Option<String>,
    pub outcome: Option<String>,
    pub deadline: DateTime<Utc>,
    pub escalated_at: Option<DateTime<Utc>>,
    pub created_by: i64,
    pub created_at: DateTime<Utc>,
}

impl AlertRow {
    pub fn status_key(&self) -> &'static str {
        match self.status.as_str() {
            "new" => tkey("alert.status.new"),
            "taken" => tkey("alert.status.taken"),
            "in_progress" => tkey("alert.status.in_progress"),
            _ => tkey("alert.status.closed"),
        }
    }

    pub fn kind_key(&self) -> &'static str {
        match self.kind.as_str() {
            NOTIFICATION => tkey("alert.kind.notification"),
            ANONYMOUS => tkey("alert.kind.anonymous"),
            _ => tkey("alert.kind.named"),
        }
    }

    pub fn informed_key(&self) -> &'static str {
        match self.parents_informed.as_str() {
            "yes" => tkey("alert.informed.yes"),
            "not_yet" => tkey("alert.informed.not_yet"),
            "no_suspected_abuse" => tkey("alert.informed.no_suspected_abuse"),
            _ => tkey("alert.informed.unknown"),
        }
    }
}

const SELECT: &str = "SELECT a.id, a.child_id, a.assessment_id, a.district_id, a.kind, a.status, a.level_rank, a.rules, \
     a.consultation_text, a.parents_informed, a.taken_by, u.name AS taken_by_name, a.outcome, a.deadline, a.escalated_at, \
     a.created_by, a.created_at FROM alerts a LEFT JOIN users u ON u.id = a.taken_by";

/// Alerts `child_id` has: for the child's page.
pub async fn of_child(c: &mut impl Conn, child_id: i64) -> anyhow::Result<Vec<AlertRow>> {
    let sql = format!("{SELECT} WHERE a.child_id = $1 ORDER BY a.created_at DESC");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(child_id).fetch_all(&mut *c).await)?)
}

async fn get_alert(c: &mut impl Conn, id: i64) -> anyhow::Result<Option<AlertRow>> {
    let sql = format!("{SELECT} WHERE a.id = $1");
    Ok(dispatch!(c, c => sqlx::query_as(&sql).bind(id).fetch_optional(&mut *c).await)?)
}

/// Whether the alert is in a social worker's queue: their districts, or the municipal queue.
async fn in_worker_scope(
    c: &mut impl Conn,
    user: &CurrentUser,
    alert: &AlertRow,
) -> anyhow::Result<bool> {
    if user.role != Role::SocialWorker {
        return Ok(false);
    }
    match alert.district_id {
        None => Ok(true),
        Some(d) => Ok(crate::auth::users::assignments(c, user.id)
            .await?
            .districts
            .contains(&d)),
    }
}

/// The one rule for showing who the child is on an alert: the duty to notify, or consent to
/// share with the social worker that holds today (withdrawal hides it again at once).
pub async fn identity_visible(
    c: &mut impl Conn,
    alert: &AlertRow,
    today: chrono::NaiveDate,
) -> anyhow::Result<bool> {
    let events = consent::db::as_events(&consent::db::events(c, alert.child_id).await?);
    Ok(consent::may_disclose_identity(
        &events,
        Purpose::ShareWithSocialWorker,
        today,
        alert.kind == NOTIFICATION,
    ))
}

/// What the worker sees of the child: everything with identity, or only the anonymous facts.
pub struct Subject {
    pub named: bool,
    pub name: String,
    pub birth_date: String,
    pub institution: String,
    pub group: String,
    pub age_band: String,
    pub institution_kind: &'static str,
}

async fn subject(
    c: &mut impl Conn,
    state: &AppState,
    alert: &AlertRow,
    named: bool,
) -> AppResult<Subject> {
    let child = crate::org::db::child(c, alert.child_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let place = places(c, &[alert.child_id]).await?.remove(&alert.child_id);
    Ok(subject_of(state, &child, place, named))
}

/// Where each of `children` is enrolled now: institution name and kind, group name.
async fn places(
    c: &mut impl Conn,
    children: &[i64],
) -> anyhow::Result<std::collections::HashMap<i64, (String, String, String)>> {
    if children.is_empty() {
        return Ok(Default::default());
    }
    let sql = format!(
        "SELECT e.child_id, i.name, i.kind, g.name FROM enrolments e JOIN groups g ON g.id = e.group_id \
         JOIN institutions i ON i.id = g.institution_id \
         WHERE e.child_id IN ({}) AND e.to_date IS NULL",
        crate::db::placeholders(1, children.len())
    );
    let rows: Vec<(i64, String, String, String)> =
        crate::db::fetch_all_with_ids(c, &sql, children).await?;
    Ok(rows
        .into_iter()
        .map(|(child, inst, kind, group)| (child, (inst, kind, group)))
        .collect())
}

/// What the worker sees of `child`: named, everything; otherwise only the age band and the
/// kind of institution.
fn subject_of(
    state: &AppState,
    child: &crate::org::db::Child,
    place: Option<(String, String, String)>,
    named: bool,
) -> Subject {
    let (inst, kind, group) = place.unwrap_or_default();
    let age = crate::org::age_on(child.birth_date, state.now().date_naive());
    let age_band = state
        .catalogue
        .as_ref()
        .and_then(|cat| {
            cat.for_age(age)
                .map(|q| format!("{}–{}", q.def.age_from, q.def.age_to))
        })
        .unwrap_or_default();
    let institution_kind = crate::org::InstitutionKind::parse(&kind)
        .map(|k| k.label_key())
        .unwrap_or("kind.unknown");
    if named {
        Subject {
            named,
            name: child.full_name(),
            birth_date: child.birth_date.format("%d-%m-%Y").to_string(),
            institution: inst,
            group,
            age_band,
            institution_kind,
        }
    } else {
        Subject {
            named,
            name: String::new(),
            birth_date: String::new(),
            institution: String::new(),
            group: String::new(),
            age_band,
            institution_kind,
        }
    }
}

pub struct InboxRow {
    pub alert: AlertRow,
    pub level: LevelView,
    pub overdue: bool,
    pub subject: Subject,
    /// A message on it the user has not read.
    pub unread: bool,
}

#[derive(Template)]
#[template(path = "alerts/inbox.html")]
struct InboxPage {
    ctx: PageCtx,
    rows: Vec<InboxRow>,
    pager: crate::web::Pager,
    /// The worker's filters (the team's list has none).
    filters: Vec<InboxFilter>,
    filter: InboxFilter,
    worker: bool,
}

impl InboxPage {
    fn is_filter(&self, f: &InboxFilter) -> bool {
        *f == self.filter
    }
}

/// Alerts per page of the inbox.
const INBOX_PAGE: i64 = 50;

/// The inbox's filters: the open queue (the default), the worker's own cases, those nobody has
/// taken, those past their deadline untaken, and the closed ones (which stay findable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxFilter {
    Open,
    Mine,
    NotTaken,
    Overdue,
    Closed,
}

impl InboxFilter {
    pub const ALL: [InboxFilter; 5] = [
        InboxFilter::Open,
        InboxFilter::Mine,
        InboxFilter::NotTaken,
        InboxFilter::Overdue,
        InboxFilter::Closed,
    ];

    fn parse(s: &str) -> InboxFilter {
        InboxFilter::ALL
            .into_iter()
            .find(|f| f.as_str() == s)
            .unwrap_or(InboxFilter::Open)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            InboxFilter::Open => "open",
            InboxFilter::Mine => "mine",
            InboxFilter::NotTaken => "new",
            InboxFilter::Overdue => "overdue",
            InboxFilter::Closed => "closed",
        }
    }

    pub fn label_key(self) -> &'static str {
        match self {
            InboxFilter::Open => "alert.filter.open",
            InboxFilter::Mine => "alert.filter.mine",
            InboxFilter::NotTaken => "alert.filter.new",
            InboxFilter::Overdue => "alert.filter.overdue",
            InboxFilter::Closed => "alert.filter.closed",
        }
    }

    /// The filter's condition on `a` (`$1` is the worker, `$2` now, used only by
    /// [`InboxFilter::Overdue`]). Written here, never from the request.
    fn condition(self) -> &'static str {
        match self {
            InboxFilter::Open => "a.status <> 'closed'",
            InboxFilter::Mine => "a.status <> 'closed' AND a.taken_by = $1",
            InboxFilter::NotTaken => "a.status = 'new'",
            InboxFilter::Overdue => "a.status = 'new' AND a.deadline < $2",
            InboxFilter::Closed => "a.status = 'closed'",
        }
    }

    fn uses_now(self) -> bool {
        self == InboxFilter::Overdue
    }
}

/// The worker's queue under `filter`: alerts of their districts, and of the municipal queue
/// (no district); two branches, so that each reads the alerts' district index. `$1` is the
/// worker.
fn inbox_from(filter: InboxFilter, select: &str) -> String {
    let cond = filter.condition();
    format!(
        "{select} WHERE {cond} \
         AND a.district_id IN (SELECT ud.district_id FROM user_districts ud WHERE ud.user_id = $1) \
         UNION ALL {select} WHERE {cond} AND a.district_id IS NULL"
    )
}

/// One page of the inbox: overdue first, then the most serious, then the oldest (closed
/// alerts newest first). `$2` is now, `$3`/`$4` limit and offset.
pub fn inbox_sql(filter: InboxFilter) -> String {
    let order = if filter == InboxFilter::Closed {
        "x.created_at DESC, x.id DESC"
    } else {
        "CASE WHEN x.status = 'new' AND x.deadline < $2 THEN 0 ELSE 1 END, x.level_rank DESC, x.created_at, x.id"
    };
    format!(
        "SELECT * FROM ({}) x ORDER BY {order} LIMIT $3 OFFSET $4",
        inbox_from(filter, SELECT)
    )
}

/// How many alerts the inbox holds under `filter` (`$1` is the worker, `$2` now if used).
fn inbox_count_sql(filter: InboxFilter) -> String {
    format!(
        "SELECT COUNT(*) FROM ({}) x",
        inbox_from(filter, "SELECT a.id FROM alerts a")
    )
}

/// The team's alerts: those of the children in the user's groups (an educator) or
/// institutions (a leader) today. `$1` is the user.
pub fn team_alerts_sql(role: Role) -> String {
    let children = if role == Role::Leader {
        "SELECT e.child_id FROM enrolments e JOIN groups g ON g.id = e.group_id \
         JOIN user_institutions ui ON ui.institution_id = g.institution_id \
         WHERE ui.user_id = $1 AND e.to_date IS NULL"
    } else {
        "SELECT e.child_id FROM enrolments e JOIN user_groups ug ON ug.group_id = e.group_id \
         WHERE ug.user_id = $1 AND e.to_date IS NULL"
    };
    format!(
        "{SELECT} WHERE a.child_id IN ({children}) \
         ORDER BY CASE WHEN a.status = 'closed' THEN 1 ELSE 0 END, a.created_at DESC, a.id DESC LIMIT $2 OFFSET $3"
    )
}

#[derive(Deserialize, Default)]
struct InboxQuery {
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    filter: String,
}

/// The social worker's inbox, a page at a time, in a fixed number of queries whatever its
/// length: the page of alerts (filtered and ordered in SQL), their count, and for the page's
/// children their details, places and consent events; the disclosure rule is applied to each
/// in Rust ([`consent::may_disclose_identity`]). The access log gets a row per listed child.
async fn inbox(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<InboxQuery>,
) -> AppResult<Response> {
    let worker = a.user.role == Role::SocialWorker;
    if !worker && !matches!(a.user.role, Role::Educator | Role::Leader) {
        return Err(AppError::NotFound);
    }
    let cat = state
        .catalogue
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no catalogue"))?;
    let now = state.now();
    let today = now.date_naive();
    let page = q.page.unwrap_or(1).max(1);
    let filter = InboxFilter::parse(&q.filter);
    let mut c = state.db.conn().await?;
    let (total, alerts): (i64, Vec<AlertRow>) = if worker {
        let count_sql = inbox_count_sql(filter);
        let total: i64 = dispatch!(&mut c, c => {
            let mut q = sqlx::query_scalar(&count_sql).bind(a.user.id);
            if filter.uses_now() {
                q = q.bind(now);
            }
            q.fetch_one(&mut *c).await
        })?;
        let alerts = dispatch!(&mut c, c => sqlx::query_as(&inbox_sql(filter))
            .bind(a.user.id)
            .bind(now)
            .bind(INBOX_PAGE)
            .bind((page - 1) * INBOX_PAGE)
            .fetch_all(&mut *c)
            .await)?;
        (total, alerts)
    } else {
        // A team's alerts are few (a group's or an institution's children): one page holds
        // them; the pager appears only past it.
        let alerts: Vec<AlertRow> = dispatch!(&mut c, c => sqlx::query_as(&team_alerts_sql(a.user.role))
            .bind(a.user.id)
            .bind(INBOX_PAGE + 1)
            .bind((page - 1) * INBOX_PAGE)
            .fetch_all(&mut *c)
            .await)?;
        let total = (page - 1) * INBOX_PAGE + alerts.len() as i64;
        (
            total,
            alerts.into_iter().take(INBOX_PAGE as usize).collect(),
        )
    };
    let mut ids: Vec<i64> = alerts.iter().map(|x| x.child_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let children: std::collections::HashMap<i64, crate::org::db::Child> =
        crate::org::db::children_by_ids(&mut c, &ids)
            .await?
            .into_iter()
            .map(|ch| (ch.id, ch))
            .collect();
    let places = places(&mut c, &ids).await?;
    let consents = consent::db::events_of(&mut c, &ids).await?;
    let alert_ids: Vec<i64> = alerts.iter().map(|x| x.id).collect();
    let unread = super::conversation::unread_among(&mut c, a.user.id, &alert_ids).await?;
    drop(c);
    let mut rows = Vec::with_capacity(alerts.len());
    for alert in alerts {
        let Some(child) = children.get(&alert.child_id) else {
            continue;
        };
        let events = consents
            .get(&alert.child_id)
            .map(Vec::as_slice)
            .unwrap_or_default();
        // Staff at the child's own institution know who the child is.
        let named = !worker
            || consent::may_disclose_identity(
                events,
                Purpose::ShareWithSocialWorker,
                today,
                alert.kind == NOTIFICATION,
            );
        let place = places.get(&alert.child_id).cloned();
        rows.push(InboxRow {
            level: LevelView::of(&cat.scale, alert.level_rank.max(0) as usize, a.ctx.lang),
            overdue: alert.status == "new" && alert.deadline < now,
            subject: subject_of(&state, child, place, named),
            unread: unread.contains(&alert.id),
            alert,
        });
    }
    audit::record_many(
        &mut state.db.writer().await?,
        &a.user,
        Action::Read,
        &ids,
        "alert-inbox",
        now,
    )
    .await?;
    let base = match filter {
        InboxFilter::Open => "/alerts?".to_string(),
        f => format!("/alerts?filter={}&", f.as_str()),
    };
    Ok(render(InboxPage {
        ctx: a.ctx,
        rows,
        pager: crate::web::Pager::new(page, INBOX_PAGE, total, &base),
        filters: if worker {
            InboxFilter::ALL.to_vec()
        } else {
            Vec::new()
        },
        filter,
        worker,
    })?
    .into_response())
}

pub struct EventView {
    pub at: String,
    pub who: String,
    pub event: &'static str,
}

/// A message of the conversation as the reader sees it.
pub struct MessageView {
    pub at: String,
    /// The author's name and role, or "the team" where the reader may not know who.
    pub who: String,
    pub from_worker: bool,
    pub own: bool,
    pub body: String,
}

/// A measure as the worker's page shows it.
pub struct MeasureView {
    pub id: i64,
    pub kind: String,
    pub section30: bool,
    pub started: String,
    pub planned_end: String,
    pub planned_weeks: i32,
    pub responsible: String,
    pub review_weeks: i32,
    pub next_review: String,
    pub active: bool,
    pub ended: String,
    pub review_overdue: bool,
    pub past_planned_length: bool,
    /// (date, what changed, decision key, by whom), oldest first.
    pub reviews: Vec<(String, String, &'static str, String)>,
}

pub struct MeetingView {
    pub kind: &'static str,
    pub held_on: String,
    pub participants: String,
    pub agreements: String,
    pub shared: bool,
}

/// What the worker typed into the meeting form, kept when it comes back.
#[derive(Deserialize, Default, Clone)]
pub struct MeetingForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub held_on: String,
    #[serde(default)]
    pub participants: String,
    #[serde(default)]
    pub agreements: String,
    #[serde(default)]
    pub shared: Option<String>,
}

/// What the worker typed into the measure form, kept when it comes back.
#[derive(Deserialize, Default, Clone)]
pub struct MeasureForm {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub started_on: String,
    #[serde(default)]
    pub planned_weeks: String,
    #[serde(default)]
    pub responsible: String,
    #[serde(default)]
    pub review_weeks: String,
}

fn decision_key(d: &str) -> &'static str {
    match d {
        "continue" => tkey("measure.decision.continue"),
        "change" => tkey("measure.decision.change"),
        _ => tkey("measure.decision.end"),
    }
}

/// An alert event as read: when, by whom (name, role), what, its note.
type EventRow = (
    DateTime<Utc>,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn event_key(event: &str) -> &'static str {
    match event {
        "created" => tkey("alert.event.created"),
        "taken" => tkey("alert.event.taken"),
        "in_progress" => tkey("alert.event.in_progress"),
        "closed" => tkey("alert.event.closed"),
        "escalated" => tkey("alert.event.escalated"),
        "identity_shared" => tkey("alert.event.identity_shared"),
        "rerouted" => tkey("alert.event.rerouted"),
        "details" => tkey("alert.event.details"),
        "corrected" => tkey("alert.event.corrected"),
        "lowered" => tkey("alert.event.lowered"),
        "raised" => tkey("alert.event.raised"),
        "reopened" => tkey("alert.event.reopened"),
        "message" => tkey("alert.event.message"),
        "measure" => tkey("alert.event.measure"),
        "review" => tkey("alert.event.review"),
        "meeting" => tkey("alert.event.meeting"),
        _ => tkey("alert.event.other"),
    }
}

#[derive(Template)]
#[template(path = "alerts/alert.html")]
struct AlertPage {
    ctx: PageCtx,
    alert: AlertRow,
    level: LevelView,
    subject: Subject,
    worker: bool,
    overdue: bool,
    domains: Vec<(String, String)>,
    reasons: Vec<crate::assessment::routes::ReasonView>,
    observation: String,
    events: Vec<EventView>,
    messages: Vec<MessageView>,
    /// The worker's note when closing, shown on the closed alert.
    closing_note: String,
    /// The case's preventive measures (the worker's side only; on a named case).
    measures: Vec<MeasureView>,
    may_record_measure: bool,
    /// (id, label, planned weeks, review weeks) of each configured kind.
    measure_types: Vec<(String, String, u32, u32)>,
    measure_form: MeasureForm,
    /// A review that came back invalid: its measure and what was typed, kept.
    review_input: Option<(i64, ReviewForm)>,
    /// Meetings with the parents: every one for the worker, the shared ones for the team.
    meetings: Vec<MeetingView>,
    meeting_form: MeetingForm,
    outcomes: Vec<&'static str>,
    errors: FieldErrors,
    /// What the user typed, kept when a form comes back with an error.
    note: String,
    message: String,
    consultation_text: String,
    deadline: String,
    created: String,
}

impl AlertPage {
    fn decision_label(&self, d: &str) -> &'static str {
        decision_key(d)
    }

    /// What was typed into measure `id`'s review form, if it came back invalid.
    fn review_of(&self, id: &i64) -> Option<&ReviewForm> {
        self.review_input
            .as_ref()
            .filter(|(m, _)| m == id)
            .map(|(_, f)| f)
    }

    fn meeting_label(&self, k: &str) -> &'static str {
        super::measures::meeting_kind_key(k)
    }

    fn outcome_key(&self, o: &str) -> &'static str {
        match o {
            "no_action" => tkey("alert.outcome.no_action"),
            "consultation_given" => tkey("alert.outcome.consultation_given"),
            "parent_meeting" => tkey("alert.outcome.parent_meeting"),
            "early_measure" => tkey("alert.outcome.early_measure"),
            "notification_assessed" => tkey("alert.outcome.notification_assessed"),
            "investigation_started" => tkey("alert.outcome.investigation_started"),
            _ => tkey("alert.outcome.unknown"),
        }
    }
}

/// Loads an alert for the caller: a worker of its district (or any worker for the municipal
/// queue), or an educator or leader who works with the child. Everyone else gets 404.
async fn load(state: &AppState, user: &CurrentUser, id: i64) -> AppResult<(AlertRow, bool)> {
    let mut c = state.db.conn().await?;
    let alert = get_alert(&mut c, id).await?.ok_or(AppError::NotFound)?;
    if in_worker_scope(&mut c, user, &alert).await? {
        return Ok((alert, true));
    }
    scope::assessable_child(&mut c, user, alert.child_id).await?;
    Ok((alert, false))
}

async fn page(
    state: &AppState,
    a: &Auth,
    alert: AlertRow,
    worker: bool,
    errors: FieldErrors,
) -> AppResult<AlertPage> {
    let cat = state
        .catalogue
        .clone()
        .ok_or_else(|| anyhow::anyhow!("no catalogue"))?;
    let now = state.now();
    let mut c = state.db.conn().await?;
    // Staff at the child's own institution always know who the child is.
    let named = !worker || identity_visible(&mut c, &alert, now.date_naive()).await?;
    let subject = subject(&mut c, state, &alert, named).await?;
    let assessment = crate::assessment::db::get(&mut c, alert.assessment_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let q = crate::assessment::versions::questionnaire(
        &mut c,
        &cat,
        &assessment.questionnaire_id,
        &assessment.questionnaire_hash,
    )
    .await?;
    let domains = assessment
        .domains()
        .into_iter()
        .map(|d| {
            let label = q
                .as_ref()
                .and_then(|q| q.def.domains.iter().find(|x| x.id == d.id))
                .map(|x| x.label.get(a.ctx.lang).to_string())
                .unwrap_or(d.id.clone());
            (
                label,
                d.score
                    .map(|s| format!("{}", s as f64 / 100.0))
                    .unwrap_or("–".into()),
            )
        })
        .collect();
    let rows: Vec<EventRow> = dispatch!(&mut c, c => sqlx::query_as(
        "SELECT e.at, u.name, u.role, e.event, e.note FROM alert_events e LEFT JOIN users u ON u.id = e.user_id WHERE e.alert_id = $1 ORDER BY e.at, e.id",
    )
    .bind(alert.id)
    .fetch_all(&mut *c)
    .await)?;
    let closing_note = if alert.status == "closed" {
        rows.iter()
            .rev()
            .find(|r| r.3 == "closed")
            .map(|r| r.4.clone())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let today = now.with_timezone(&state.config.time_zone).date_naive();
    let label_of = |kind: &str| {
        state
            .config
            .measure_types
            .iter()
            .find(|t| t.id == kind)
            .map_or(kind.to_string(), |t| t.label(a.ctx.lang).to_string())
    };
    let measures = if worker && named {
        let reviews = super::measures::reviews_of_alert(&mut c, alert.id).await?;
        super::measures::of_alert(&mut c, alert.id)
            .await?
            .into_iter()
            .map(|m| MeasureView {
                id: m.id,
                kind: label_of(&m.kind),
                section30: m.section30,
                started: m.started_on.format("%d-%m-%Y").to_string(),
                planned_end: m.planned_end().format("%d-%m-%Y").to_string(),
                planned_weeks: m.planned_weeks,
                responsible: m.responsible.clone(),
                review_weeks: m.review_weeks,
                next_review: m.next_review_on.format("%d-%m-%Y").to_string(),
                active: m.status == super::measures::ACTIVE,
                ended: m
                    .ended_on
                    .map(|d| d.format("%d-%m-%Y").to_string())
                    .unwrap_or_default(),
                review_overdue: m.review_overdue(today),
                past_planned_length: m.past_planned_length(today),
                reviews: reviews
                    .iter()
                    .filter(|r| r.measure_id == m.id)
                    .map(|r| {
                        (
                            r.reviewed_on.format("%d-%m-%Y").to_string(),
                            r.changed.clone(),
                            decision_key(&r.decision),
                            r.by_name.clone(),
                        )
                    })
                    .collect(),
            })
            .collect()
    } else {
        Vec::new()
    };
    // The team sees the agreements the worker shared with it, on a case it may see named.
    let meetings = if worker && !named {
        Vec::new()
    } else {
        super::measures::meetings_of_alert(&mut c, alert.id, !worker)
            .await?
            .into_iter()
            .map(|m| MeetingView {
                kind: super::measures::meeting_kind_key(&m.kind),
                held_on: m.held_on.format("%d-%m-%Y").to_string(),
                participants: m.participants,
                agreements: m.agreements,
                shared: m.shared_with_team,
            })
            .collect()
    };
    let messages = super::conversation::messages(&mut c, alert.id)
        .await?
        .into_iter()
        .map(|m| {
            let from_worker = m.side == super::conversation::WORKER;
            let role = crate::auth::Role::parse(&m.author_role)
                .map(|r| a.ctx.t(r.label_key()))
                .unwrap_or_default();
            MessageView {
                at: a.ctx.datetime(&m.created_at),
                // Who on the team wrote it would point to the group: named only where the
                // child is.
                who: if from_worker || named {
                    format!("{} ({role})", m.author_name)
                } else {
                    a.ctx.t("alert.msg.team").to_string()
                },
                own: m.author_id == a.user.id,
                from_worker,
                body: m.body,
            }
        })
        .collect();
    Ok(AlertPage {
        level: LevelView::of(&cat.scale, alert.level_rank.max(0) as usize, a.ctx.lang),
        overdue: alert.status == "new" && alert.deadline < now,
        // The educator's observation may name people: it goes only where the identity may.
        observation: if named {
            assessment.observation.clone()
        } else {
            String::new()
        },
        reasons: crate::assessment::routes::reason_views(&assessment, &cat, q.as_deref(), &a.ctx),
        // Without the identity, the educator's name is withheld too: it would point to the group.
        events: rows
            .into_iter()
            .map(|(at, who, role, event, _note)| EventView {
                at: a.ctx.datetime(&at),
                who: if named || role.as_deref() == Some("social_worker") {
                    who.unwrap_or_default()
                } else {
                    String::new()
                },
                event: event_key(&event),
            })
            .collect(),
        outcomes: OUTCOMES.to_vec(),
        note: String::new(),
        message: String::new(),
        messages,
        closing_note,
        measures,
        may_record_measure: worker && named,
        measure_types: state
            .config
            .measure_types
            .iter()
            .map(|t| {
                (
                    t.id.clone(),
                    t.label(a.ctx.lang).to_string(),
                    t.planned_weeks,
                    t.review_weeks,
                )
            })
            .collect(),
        measure_form: MeasureForm {
            started_on: today.to_string(),
            ..Default::default()
        },
        meetings,
        review_input: None,
        meeting_form: MeetingForm {
            held_on: today.to_string(),
            ..Default::default()
        },
        consultation_text: alert.consultation_text.clone(),
        deadline: a.ctx.datetime(&alert.deadline),
        created: a.ctx.datetime(&alert.created_at),
        subject,
        worker,
        domains,
        errors,
        alert,
        ctx: a.ctx.clone(),
    })
}

async fn alert_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let (alert, worker) = load(&state, &a.user, id).await?;
    let child = alert.child_id;
    let p = page(&state, &a, alert, worker, FieldErrors::default()).await?;
    let mut w = state.db.writer().await?;
    super::conversation::mark_read(&mut w, a.user.id, id).await?;
    audit::record(
        &mut w,
        &a.user,
        Action::Read,
        Some(child),
        &format!("alert:{id}"),
        if p.subject.named {
            "named"
        } else {
            "anonymous"
        },
        state.now(),
    )
    .await?;
    Ok(render(p)?.into_response())
}

/// One step of an alert's life: from which statuses, to which, and what it records.
struct Step<'a> {
    from: &'a [&'a str],
    to: &'a str,
    take: bool,
    outcome: Option<&'a str>,
    note: &'a str,
}

/// Moves an alert from one status to the next, recording who and when. Only the worker who
/// took it moves it on; a step that no longer applies (a second click) changes nothing.
async fn transition(state: &AppState, a: &Auth, id: i64, step: Step<'_>) -> AppResult<bool> {
    let Step {
        from,
        to,
        take: set_taker,
        outcome,
        note,
    } = step;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let alert = get_alert(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    if !in_worker_scope(&mut tx, &a.user, &alert).await? {
        return Err(AppError::NotFound);
    }
    if !from.contains(&alert.status.as_str()) || (!set_taker && alert.taken_by != Some(a.user.id)) {
        return Ok(false);
    }
    // Taking needs a case nobody has: a second worker's click changes nothing.
    let n = dispatch!(&mut tx, c => sqlx::query(
        "UPDATE alerts SET status = $1, taken_by = COALESCE($2, taken_by), outcome = COALESCE($3, outcome), updated_at = $4 \
         WHERE id = $5 AND status = $6 AND ($2 IS NULL OR taken_by IS NULL)",
    )
    .bind(to)
    .bind(set_taker.then_some(a.user.id))
    .bind(outcome)
    .bind(now)
    .bind(id)
    .bind(&alert.status)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    if n == 1 {
        super::event(&mut tx, id, Some(a.user.id), to, note, now).await?;
        audit::record(
            &mut tx,
            &a.user,
            Action::Change,
            Some(alert.child_id),
            &format!("alert:{id}"),
            to,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(n == 1)
}

async fn take(State(state): State<AppState>, a: Auth, Path(id): Path<i64>) -> AppResult<Response> {
    // A new case becomes taken; a case that moved district with the child keeps its status
    // and gets the new district's worker.
    let (alert, _) = load(&state, &a.user, id).await?;
    let status = if alert.status == "new" || alert.taken_by.is_some() {
        "taken"
    } else {
        alert.status.as_str()
    };
    transition(
        &state,
        &a,
        id,
        Step {
            from: &["new", "taken", "in_progress"],
            to: status,
            take: true,
            outcome: None,
            note: "",
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/alerts/{id}")).into_response())
}

async fn progress(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    transition(
        &state,
        &a,
        id,
        Step {
            from: &["taken"],
            to: "in_progress",
            take: false,
            outcome: None,
            note: "",
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/alerts/{id}")).into_response())
}

#[derive(Deserialize)]
struct CloseForm {
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    note: String,
}

async fn close(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<CloseForm>,
) -> AppResult<Response> {
    if !OUTCOMES.contains(&form.outcome.as_str()) || form.note.chars().count() > 2000 {
        let (alert, worker) = load(&state, &a.user, id).await?;
        let mut errors = FieldErrors::default();
        errors.add(
            "outcome",
            if form.note.chars().count() > 2000 {
                tkey("err.too_long")
            } else {
                tkey("err.choose")
            },
        );
        let mut p = page(&state, &a, alert, worker, errors).await?;
        p.note = form.note;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(p)?).into_response());
    }
    transition(
        &state,
        &a,
        id,
        Step {
            from: &["taken", "in_progress"],
            to: "closed",
            take: false,
            outcome: Some(&form.outcome),
            note: form.note.trim(),
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/alerts/{id}")).into_response())
}

#[derive(Deserialize)]
struct DetailsForm {
    #[serde(default)]
    consultation_text: String,
    #[serde(default)]
    parents_informed: String,
}

/// The educator's part: the text for an anonymous consultation, and for a notification whether
/// the parents were told (or why not).
async fn details(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<DetailsForm>,
) -> AppResult<Response> {
    let (alert, worker) = load(&state, &a.user, id).await?;
    if worker || alert.status == "closed" {
        return Err(AppError::NotFound);
    }
    let informed = form.parents_informed.trim();
    let mut errors = FieldErrors::default();
    if form.consultation_text.chars().count() > 4000 {
        errors.add("consultation_text", tkey("err.too_long"));
    }
    if !matches!(informed, "" | "yes" | "not_yet" | "no_suspected_abuse") {
        errors.add("parents_informed", tkey("err.choose"));
    }
    if !errors.is_empty() {
        let mut p = page(&state, &a, alert, worker, errors).await?;
        p.consultation_text = form.consultation_text;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(p)?).into_response());
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let text = if alert.kind == ANONYMOUS || alert.kind == super::NAMED {
        form.consultation_text.trim()
    } else {
        alert.consultation_text.as_str()
    };
    dispatch!(&mut tx, c => sqlx::query("UPDATE alerts SET consultation_text = $1, parents_informed = $2, updated_at = $3 WHERE id = $4")
        .bind(text)
        .bind(if informed.is_empty() { alert.parents_informed.as_str() } else { informed })
        .bind(now)
        .bind(id)
        .execute(&mut *c)
        .await
        .map(|r| r.rows_affected()))?;
    super::event(&mut tx, id, Some(a.user.id), "details", "", now).await?;
    audit::record(
        &mut tx,
        &a.user,
        Action::Change,
        Some(alert.child_id),
        &format!("alert:{id}"),
        "details",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/alerts/{id}")).into_response())
}

#[derive(Deserialize)]
struct MessageForm {
    #[serde(default)]
    body: String,
}

/// A message on the alert from the worker (who must be in the alert's queue) or from the
/// team (who must work with the child). A closed alert takes no more messages.
async fn post_message(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<MessageForm>,
) -> AppResult<Response> {
    let (alert, worker) = load(&state, &a.user, id).await?;
    if alert.status == "closed" {
        return Err(AppError::NotFound);
    }
    let body = form.body.trim();
    let error = if body.is_empty() {
        Some(tkey("err.required"))
    } else if body.chars().count() > super::conversation::MAX_CHARS {
        Some(tkey("err.too_long"))
    } else {
        None
    };
    if let Some(e) = error {
        let mut errors = FieldErrors::default();
        errors.add("message", e);
        let mut p = page(&state, &a, alert, worker, errors).await?;
        p.message = form.body;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(p)?).into_response());
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    super::conversation::post(
        &mut tx,
        &state,
        &a.user,
        super::conversation::Post {
            alert_id: id,
            child_id: alert.child_id,
            district_id: alert.district_id,
            taken_by: alert.taken_by,
            side: if worker {
                super::conversation::WORKER
            } else {
                super::conversation::TEAM
            },
            body,
        },
        now,
    )
    .await?;
    audit::record(
        &mut tx,
        &a.user,
        Action::Change,
        Some(alert.child_id),
        &format!("alert:{id}"),
        "message",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/alerts/{id}#conversation")).into_response())
}

/// What a change to a case records beside itself, in the caller's transaction: an event in
/// the alert's history and an access-log entry about the child.
struct CaseEntry<'a> {
    event: &'a str,
    action: Action,
    object: String,
    detail: &'a str,
}

async fn record_case_entry(
    c: &mut impl Conn,
    user: &CurrentUser,
    alert: &AlertRow,
    e: CaseEntry<'_>,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    super::event(c, alert.id, Some(user.id), e.event, "", now).await?;
    audit::record(
        c,
        user,
        e.action,
        Some(alert.child_id),
        &e.object,
        e.detail,
        now,
    )
    .await
}

/// Loads an alert for its worker, on a case whose child may be named (a measure concerns a
/// known family): anyone else gets 404.
async fn load_named_case(state: &AppState, a: &Auth, id: i64) -> AppResult<AlertRow> {
    let (alert, worker) = load(state, &a.user, id).await?;
    let mut c = state.db.conn().await?;
    if !worker || !identity_visible(&mut c, &alert, state.now().date_naive()).await? {
        return Err(AppError::NotFound);
    }
    Ok(alert)
}

/// A whole number of weeks between 1 and 104, or the message for the field.
fn weeks(text: &str) -> Result<i32, &'static str> {
    match text.trim().parse::<i32>() {
        Ok(n) if (1..=104).contains(&n) => Ok(n),
        Ok(_) => Err(tkey("measure.err.weeks")),
        Err(_) => Err(tkey("err.required")),
    }
}

/// The worker records a preventive measure on a named case.
async fn record_measure(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<MeasureForm>,
) -> AppResult<Response> {
    let alert = load_named_case(&state, &a, id).await?;
    let mut errors = FieldErrors::default();
    let kind = state
        .config
        .measure_types
        .iter()
        .find(|t| t.id == form.kind);
    if kind.is_none() {
        errors.add("m_kind", tkey("err.choose"));
    }
    let started = crate::org::parse_date(&form.started_on);
    if started.is_none() {
        errors.add("m_started_on", tkey("err.date"));
    }
    // Left empty, the kind's defaults.
    let or_default = |text: &str, default: Option<u32>| match (text.trim(), default) {
        ("", Some(d)) => Ok(d as i32),
        _ => weeks(text),
    };
    let planned = or_default(&form.planned_weeks, kind.map(|k| k.planned_weeks))
        .map_err(|e| errors.add("m_planned_weeks", e));
    let rhythm = or_default(&form.review_weeks, kind.map(|k| k.review_weeks))
        .map_err(|e| errors.add("m_review_weeks", e));
    let responsible = form.responsible.trim();
    if responsible.is_empty() {
        errors.add("m_responsible", tkey("err.required"));
    } else if responsible.chars().count() > 200 {
        errors.add("m_responsible", tkey("err.too_long"));
    }
    let (Some(kind), Some(started), Ok(planned), Ok(rhythm), true) =
        (kind, started, planned, rhythm, errors.is_empty())
    else {
        let mut p = page(&state, &a, alert, true, errors).await?;
        p.measure_form = form;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(p)?).into_response());
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let mid = super::measures::insert(
        &mut tx,
        &a.user,
        super::measures::NewMeasure {
            alert_id: id,
            child_id: alert.child_id,
            kind,
            started_on: started,
            planned_weeks: planned,
            responsible,
            review_weeks: rhythm,
        },
        now,
    )
    .await?;
    record_case_entry(
        &mut tx,
        &a.user,
        &alert,
        CaseEntry {
            event: "measure",
            action: Action::Create,
            object: format!("measure:{mid}"),
            detail: &kind.id,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/alerts/{id}#measures")).into_response())
}

#[derive(Deserialize, Default, Clone)]
struct ReviewForm {
    #[serde(default)]
    changed: String,
    #[serde(default)]
    decision: String,
    #[serde(default)]
    review_weeks: String,
}

/// The worker records a review of a measure: what changed, and whether it continues,
/// changes rhythm or ends.
async fn record_review(
    State(state): State<AppState>,
    a: Auth,
    Path(mid): Path<i64>,
    Form(form): Form<ReviewForm>,
) -> AppResult<Response> {
    let measure = {
        let mut c = state.db.conn().await?;
        super::measures::get(&mut c, mid)
            .await?
            .ok_or(AppError::NotFound)?
    };
    let alert = load_named_case(&state, &a, measure.alert_id).await?;
    let mut errors = FieldErrors::default();
    let changed = form.changed.trim();
    if changed.is_empty() {
        errors.add(&format!("r{mid}_changed"), tkey("err.required"));
    } else if changed.chars().count() > 4000 {
        errors.add(&format!("r{mid}_changed"), tkey("err.too_long"));
    }
    if !super::measures::DECISIONS.contains(&form.decision.as_str()) {
        errors.add(&format!("r{mid}_decision"), tkey("err.choose"));
    }
    let rhythm = if form.review_weeks.trim().is_empty() {
        Ok(measure.review_weeks)
    } else {
        weeks(&form.review_weeks)
    };
    if let Err(e) = rhythm {
        errors.add(&format!("r{mid}_review_weeks"), e);
    }
    if !errors.is_empty() || measure.status != super::measures::ACTIVE {
        let mut p = page(&state, &a, alert, true, errors).await?;
        p.review_input = Some((mid, form));
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(p)?).into_response());
    }
    let now = state.now();
    let today = now.with_timezone(&state.config.time_zone).date_naive();
    let mut tx = state.db.begin().await?;
    let done = super::measures::review(
        &mut tx,
        &a.user,
        &measure,
        super::measures::NewReview {
            changed,
            decision: &form.decision,
            review_weeks: rhythm.unwrap_or(measure.review_weeks),
            on: today,
        },
        now,
    )
    .await?;
    if done {
        record_case_entry(
            &mut tx,
            &a.user,
            &alert,
            CaseEntry {
                event: "review",
                action: Action::Change,
                object: format!("measure:{mid}"),
                detail: &form.decision,
            },
            now,
        )
        .await?;
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/alerts/{}#measure-{mid}", alert.id)).into_response())
}

/// The worker records a dialogue or network meeting with the parents on a named case.
async fn record_meeting(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<MeetingForm>,
) -> AppResult<Response> {
    let alert = load_named_case(&state, &a, id).await?;
    let mut errors = FieldErrors::default();
    if !super::measures::MEETING_KINDS.contains(&form.kind.as_str()) {
        errors.add("mt_kind", tkey("err.choose"));
    }
    let held_on = crate::org::parse_date(&form.held_on);
    if held_on.is_none() {
        errors.add("mt_held_on", tkey("err.date"));
    }
    for (field, text, max) in [
        ("mt_participants", form.participants.trim(), 500),
        ("mt_agreements", form.agreements.trim(), 4000),
    ] {
        if text.is_empty() {
            errors.add(field, tkey("err.required"));
        } else if text.chars().count() > max {
            errors.add(field, tkey("err.too_long"));
        }
    }
    let Some(held_on) = held_on.filter(|_| errors.is_empty()) else {
        let mut p = page(&state, &a, alert, true, errors).await?;
        p.meeting_form = form;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(p)?).into_response());
    };
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let mid = super::measures::insert_meeting(
        &mut tx,
        &a.user,
        super::measures::NewMeeting {
            alert_id: id,
            child_id: alert.child_id,
            kind: &form.kind,
            held_on,
            participants: form.participants.trim(),
            agreements: form.agreements.trim(),
            shared_with_team: form.shared.is_some(),
        },
        now,
    )
    .await?;
    record_case_entry(
        &mut tx,
        &a.user,
        &alert,
        CaseEntry {
            event: "meeting",
            action: Action::Create,
            object: format!("meeting:{mid}"),
            detail: &form.kind,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/alerts/{id}#meetings")).into_response())
}
