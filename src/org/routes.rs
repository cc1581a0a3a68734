//! Pages of the organisation: groups and children for the staff who work with them, and the
//! admin's forms to maintain districts, institutions, groups, children, enrolments and
//! guardians. Every read or change of a child's data goes to the access log.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::NaiveDate;
use serde::Deserialize;
use validator::Validate;

use super::choice::{CHOOSE_INSTITUTION, GroupChoice};
use super::db::{
    self as org, Child, ChildInput, District, Enrolment, Group, Guardian, GuardianInput,
    Institution,
};
use super::{GroupKind, InstitutionKind, parse_date, parse_gender, valid_school_year};
use crate::audit::{self, Action};
use crate::auth::{Auth, scope};
use crate::consent::routes::ConsentForm;
use crate::db::Conn;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{FieldErrors, PageCtx, render, tkey};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/groups/{id}", get(group_page))
        .route("/children/{id}", get(child_page))
        .route("/institutions/{id}", get(institution_page))
        .route("/admin/org", get(org_page))
        .route(
            "/admin/districts/new",
            get(new_district).post(create_district),
        )
        .route(
            "/admin/districts/{id}",
            get(edit_district).post(update_district),
        )
        .route(
            "/admin/institutions/new",
            get(new_institution).post(create_institution),
        )
        .route(
            "/admin/institutions/{id}",
            get(edit_institution).post(update_institution),
        )
        .route("/admin/groups/new", get(new_group).post(create_group))
        .route("/admin/groups/{id}", get(edit_group).post(update_group))
        .route("/admin/children", get(child_search))
        .route("/admin/children/new", get(new_child).post(create_child))
        .route("/admin/children/{id}", get(edit_child).post(update_child))
        .route("/admin/children/{id}/enrol", post(enrol_child))
        .route("/admin/children/{id}/left", post(mark_left))
        .route("/children/{id}/holds", post(place_hold))
        .route("/children/{id}/holds/{hold}/lift", post(lift_hold))
        .route("/admin/children/{id}/guardians", post(add_guardian))
        .route(
            "/admin/children/{id}/guardians/{gid}/delete",
            post(delete_guardian),
        )
        .merge(super::import::router())
}

fn invalid(page: impl Template) -> AppResult<Response> {
    Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response())
}

fn parse_id(s: &str) -> Option<i64> {
    s.trim().parse().ok()
}

// ---- staff pages ----

#[derive(Template)]
#[template(path = "group.html")]
struct GroupPage {
    ctx: PageCtx,
    group: Group,
    children: Vec<Child>,
    today: NaiveDate,
    status: Option<crate::assessment::screening::GroupStatus>,
    /// Back from the last child of the round ("Gem og næste barn" found no one left).
    complete: bool,
    /// What the last position saved sent.
    after: Option<crate::assessment::after_save::AfterSave>,
}

impl GroupPage {
    fn age(&self, child: &Child) -> i32 {
        super::age_on(child.birth_date, self.today)
    }

    /// A fresh submission key for a row's quick-placement form (a repeated click is one
    /// placement).
    fn key(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }
}

#[derive(Deserialize, Default)]
struct GroupQuery {
    #[serde(default)]
    complete: Option<String>,
    #[serde(default)]
    after: Option<i64>,
}

async fn group_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Query(gq): Query<GroupQuery>,
) -> AppResult<Response> {
    let mut c = state.db.conn().await?;
    let group = scope::group(&mut c, &a.user, id).await?;
    let children = org::children_in_group(&mut c, id).await?;
    let status = if scope::sees_assessments(&a.user) {
        let kind = org::institution(&mut c, group.institution_id)
            .await?
            .map(|i| i.kind)
            .unwrap_or_default();
        Some(
            crate::assessment::screening::group_status(&mut c, &state, &kind, id, a.ctx.lang)
                .await?,
        )
    } else {
        None
    };
    let after = match (gq.after, &state.catalogue) {
        (Some(prev), Some(cat)) => {
            crate::assessment::after_save::previous(&mut c, &cat.scale, a.user.id, prev, &a.ctx)
                .await?
        }
        _ => None,
    };
    // Give the read connection back before taking the writer: on PostgreSQL both come from
    // one pool, and holding one while waiting for another can exhaust it under load.
    drop(c);
    let ids: Vec<i64> = children.iter().map(|ch| ch.id).collect();
    let now = state.now();
    audit::record_many(
        &mut state.db.writer().await?,
        &a.user,
        Action::Read,
        &ids,
        &format!("group:{id}"),
        now,
    )
    .await?;
    Ok(render(GroupPage {
        ctx: a.ctx,
        group,
        children,
        today: now.date_naive(),
        status,
        complete: gq.complete.is_some(),
        after,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "institution.html")]
struct InstitutionPage {
    ctx: PageCtx,
    institution: Institution,
    groups: Vec<Group>,
    progress: std::collections::HashMap<i64, (String, i64)>,
}

async fn institution_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    let mut c = state.db.conn().await?;
    let institution = scope::institution(&mut c, &a.user, id).await?;
    let groups = org::groups_of_institution(&mut c, id).await?;
    // Round progress is about assessments: only for those who work with them.
    let progress = if scope::sees_assessments(&a.user) {
        crate::assessment::db::progress_for(&mut c, &groups, state.now().date_naive()).await?
    } else {
        Default::default()
    };
    Ok(render(InstitutionPage {
        ctx: a.ctx,
        institution,
        groups,
        progress,
    })?
    .into_response())
}

#[derive(Template)]
#[template(path = "child.html")]
pub struct ChildPage {
    ctx: PageCtx,
    /// What was just saved (`?saved=`).
    saved: Option<&'static str>,
    consent_states: Vec<crate::consent::routes::PurposeView>,
    consent_events: Vec<crate::consent::db::Row>,
    consent_error: Option<&'static str>,
    consent_form: ConsentForm,
    alerts: Vec<crate::alerts::routes::AlertRow>,
    sees_assessments: bool,
    history: Vec<crate::assessment::routes::SummaryView>,
    chart: Option<crate::assessment::routes::Chart>,
    child: Child,
    age: i32,
    enrolments: Vec<Enrolment>,
    guardians: Vec<Guardian>,
    show_addresses: bool,
    /// Legal holds, for the admin and the data-protection officer (`retention`).
    manages_holds: bool,
    holds: Vec<crate::retention::Hold>,
    hold_form: crate::retention::HoldForm,
    hold_error: Option<&'static str>,
    /// What earlier institutions handed over (or that the parents did not consent).
    handover: Option<crate::assessment::handover::Handover>,
}

/// The child's page again with the hold form's message at its field.
pub async fn child_page_with_hold_error(
    state: &AppState,
    a: Auth,
    id: i64,
    form: crate::retention::HoldForm,
    error: &'static str,
) -> AppResult<axum::response::Html<String>> {
    let mut page = child_page_for(state, a, id, ConsentForm::default(), None).await?;
    page.hold_form = form;
    page.hold_error = Some(error);
    Ok(axum::response::Html(page.render()?))
}

async fn child_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let mut page = child_page_for(&state, a, id, ConsentForm::default(), None).await?;
    page.saved = q.message();
    Ok(render(page)?.into_response())
}

/// The child's page; `consent_form` and `consent_error` fill the consent form again after an
/// invalid submission (the form's choices come back as they were made).
pub async fn child_page_for(
    state: &AppState,
    a: Auth,
    id: i64,
    consent_form: ConsentForm,
    consent_error: Option<&'static str>,
) -> AppResult<ChildPage> {
    let mut c = state.db.conn().await?;
    let child = scope::child(&mut c, &a.user, id).await?;
    let enrolments = org::enrolments(&mut c, id).await?;
    let guardians = org::guardians(&mut c, id).await?;
    let sees_assessments = scope::sees_assessments(&a.user);
    let history = if sees_assessments {
        let today = state.now().date_naive();
        let window = scope::record_window(&mut c, &a.user, id, today).await?;
        crate::assessment::routes::child_history(&mut c, state, id, &window, &a.ctx).await?
    } else {
        Vec::new()
    };
    let chart = if sees_assessments {
        crate::assessment::routes::chart(&history, state, a.ctx.lang)?
    } else {
        None
    };
    let (consent_events, alerts) = if sees_assessments {
        (
            crate::consent::db::events(&mut c, id).await?,
            crate::alerts::routes::of_child(&mut c, id).await?,
        )
    } else {
        (Vec::new(), Vec::new())
    };
    let handover = if sees_assessments {
        crate::assessment::handover::for_child(&mut c, state, &a.user, id, &a.ctx).await?
    } else {
        None
    };
    let manages_holds = crate::retention::manages_holds(a.user.role);
    let holds = if manages_holds {
        crate::retention::holds(&mut c, id).await?
    } else {
        Vec::new()
    };
    drop(c); // before taking the writer, as in `group_page`
    let now = state.now();
    let mut w = state.db.writer().await?;
    audit::record(&mut w, &a.user, Action::Read, Some(id), "child", "", now).await?;
    if let Some(crate::assessment::handover::Handover::Consented(sm)) = &handover {
        let from = sm
            .from_institution
            .map(|i| format!("from:{i}"))
            .unwrap_or_default();
        audit::record(
            &mut w,
            &a.user,
            Action::Read,
            Some(id),
            "handover",
            &from,
            now,
        )
        .await?;
    }
    drop(w);
    let page = ChildPage {
        handover,
        saved: None,
        manages_holds,
        holds,
        hold_form: Default::default(),
        hold_error: None,
        consent_states: crate::consent::routes::purpose_views(
            &crate::consent::db::as_events(&consent_events),
            now.date_naive(),
        ),
        consent_error,
        consent_form,
        consent_events,
        alerts,
        sees_assessments,
        history,
        chart,
        age: super::age_on(child.birth_date, now.date_naive()),
        enrolments,
        guardians,
        show_addresses: scope::may_see_addresses(&a.user, &child),
        child,
        ctx: a.ctx,
    };
    Ok(page)
}

impl ChildPage {
    /// The catalogue key of a consent event.
    fn event_key(&self, event: &str) -> &'static str {
        match event {
            "given" => tkey("consent.event.given"),
            "refused" => tkey("consent.event.refused"),
            "withdrawn" => tkey("consent.event.withdrawn"),
            _ => tkey("consent.event.requested"),
        }
    }

    /// Whether the consent form's error concerns `field` (to mark it and tie the message).
    fn consent_error_on(&self, field: &str) -> bool {
        let on = match self.consent_error {
            Some("consent.err.transition") => "event",
            Some("consent.err.guardian") => "guardian_id",
            Some("consent.err.method") => "method",
            Some("consent.err.expiry") => "expires_on",
            Some(_) => "note",
            None => return false,
        };
        on == field
    }
}

// ---- admin: overview ----

#[derive(Template)]
#[template(path = "admin/org.html")]
struct OrgPage {
    ctx: PageCtx,
    districts: Vec<District>,
    institutions: Vec<Institution>,
}

async fn org_page(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    Ok(render(OrgPage {
        districts: org::districts(&mut c).await?,
        institutions: org::institutions(&mut c).await?,
        ctx: a.ctx,
    })?
    .into_response())
}

// ---- admin: districts ----

#[derive(Deserialize, Validate, Default, Clone)]
struct DistrictForm {
    #[validate(
        custom(function = "crate::web::not_blank"),
        length(max = 120, message = "err.too_long")
    )]
    name: String,
}

#[derive(Template)]
#[template(path = "admin/district_form.html")]
struct DistrictFormPage {
    ctx: PageCtx,
    id: Option<i64>,
    form: DistrictForm,
    errors: FieldErrors,
}

async fn new_district(a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    Ok(render(DistrictFormPage {
        ctx: a.ctx,
        id: None,
        form: DistrictForm::default(),
        errors: FieldErrors::default(),
    })?
    .into_response())
}

async fn edit_district(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let d = org::district(&mut c, id).await?.ok_or(AppError::NotFound)?;
    Ok(render(DistrictFormPage {
        ctx: a.ctx,
        id: Some(id),
        form: DistrictForm { name: d.name },
        errors: FieldErrors::default(),
    })?
    .into_response())
}

async fn create_district(
    State(state): State<AppState>,
    a: Auth,
    Form(form): Form<DistrictForm>,
) -> AppResult<Response> {
    save_district(state, a, None, form).await
}

async fn update_district(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<DistrictForm>,
) -> AppResult<Response> {
    save_district(state, a, Some(id), form).await
}

async fn save_district(
    state: AppState,
    a: Auth,
    id: Option<i64>,
    form: DistrictForm,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.begin().await?;
    if let Some(id) = id {
        org::district(&mut c, id).await?.ok_or(AppError::NotFound)?;
    }
    let mut errors = form
        .validate()
        .err()
        .map(|e| FieldErrors::from_validation(&e))
        .unwrap_or_default();
    if errors.is_empty()
        && org::save_district(&mut c, id, &form.name, state.now())
            .await?
            .is_none()
    {
        errors.add("name", tkey("err.name_taken"));
    }
    if !errors.is_empty() {
        return invalid(DistrictFormPage {
            ctx: a.ctx,
            id,
            form,
            errors,
        });
    }
    c.commit().await?;
    Ok(Redirect::to("/admin/org").into_response())
}

// ---- admin: institutions ----

#[derive(Deserialize, Validate, Default, Clone)]
struct InstitutionForm {
    #[validate(
        custom(function = "crate::web::not_blank"),
        length(max = 120, message = "err.too_long")
    )]
    name: String,
    #[serde(default)]
    district_id: String,
    #[serde(default)]
    kind: String,
}

#[derive(Template)]
#[template(path = "admin/institution_form.html")]
struct InstitutionFormPage {
    ctx: PageCtx,
    id: Option<i64>,
    form: InstitutionForm,
    errors: FieldErrors,
    districts: Vec<District>,
    kinds: Vec<(&'static str, &'static str)>,
}

impl InstitutionFormPage {
    async fn new(
        c: &mut impl Conn,
        ctx: PageCtx,
        id: Option<i64>,
        form: InstitutionForm,
        errors: FieldErrors,
    ) -> AppResult<Self> {
        Ok(InstitutionFormPage {
            ctx,
            id,
            form,
            errors,
            districts: org::districts(c).await?,
            kinds: InstitutionKind::ALL
                .iter()
                .map(|k| (k.as_str(), k.label_key()))
                .collect(),
        })
    }
}

async fn new_institution(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    Ok(render(
        InstitutionFormPage::new(
            &mut c,
            a.ctx,
            None,
            InstitutionForm::default(),
            FieldErrors::default(),
        )
        .await?,
    )?
    .into_response())
}

async fn edit_institution(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let i = org::institution(&mut c, id)
        .await?
        .ok_or(AppError::NotFound)?;
    let form = InstitutionForm {
        name: i.name,
        district_id: i.district_id.to_string(),
        kind: i.kind,
    };
    Ok(render(
        InstitutionFormPage::new(&mut c, a.ctx, Some(id), form, FieldErrors::default()).await?,
    )?
    .into_response())
}

async fn create_institution(
    State(state): State<AppState>,
    a: Auth,
    Form(form): Form<InstitutionForm>,
) -> AppResult<Response> {
    save_institution(state, a, None, form).await
}

async fn update_institution(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<InstitutionForm>,
) -> AppResult<Response> {
    save_institution(state, a, Some(id), form).await
}

async fn save_institution(
    state: AppState,
    a: Auth,
    id: Option<i64>,
    form: InstitutionForm,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.begin().await?;
    if let Some(id) = id {
        org::institution(&mut c, id)
            .await?
            .ok_or(AppError::NotFound)?;
    }
    let mut errors = form
        .validate()
        .err()
        .map(|e| FieldErrors::from_validation(&e))
        .unwrap_or_default();
    let district = match parse_id(&form.district_id) {
        Some(d) => org::district(&mut c, d).await?.map(|d| d.id),
        None => None,
    };
    if district.is_none() {
        errors.add("district_id", tkey("err.choose"));
    }
    let kind = InstitutionKind::parse(&form.kind);
    if kind.is_none() {
        errors.add("kind", tkey("err.choose"));
    }
    if let (true, Some(district), Some(kind)) = (errors.is_empty(), district, kind) {
        match org::save_institution(&mut c, id, district, &form.name, kind, state.now()).await? {
            Some(_) => {
                c.commit().await?;
                return Ok(Redirect::to("/admin/org").into_response());
            }
            None => errors.add("name", tkey("err.name_taken")),
        }
    }
    invalid(InstitutionFormPage::new(&mut c, a.ctx, id, form, errors).await?)
}

// ---- admin: groups ----

#[derive(Deserialize, Validate, Default, Clone)]
struct GroupForm {
    #[validate(
        custom(function = "crate::web::not_blank"),
        length(max = 60, message = "err.too_long")
    )]
    name: String,
    #[serde(default)]
    institution_id: String,
    #[serde(default)]
    school_year: String,
}

#[derive(Deserialize)]
struct NewGroupQuery {
    institution: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/group_form.html")]
struct GroupFormPage {
    ctx: PageCtx,
    id: Option<i64>,
    form: GroupForm,
    errors: FieldErrors,
    institutions: Vec<Institution>,
}

async fn new_group(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<NewGroupQuery>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let form = GroupForm {
        name: String::new(),
        institution_id: q.institution.map(|i| i.to_string()).unwrap_or_default(),
        school_year: super::school_year_of(state.now().date_naive()),
    };
    let institutions = org::institutions(&mut c).await?;
    Ok(render(GroupFormPage {
        ctx: a.ctx,
        id: None,
        form,
        errors: FieldErrors::default(),
        institutions,
    })?
    .into_response())
}

async fn edit_group(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let g = org::group(&mut c, id).await?.ok_or(AppError::NotFound)?;
    let form = GroupForm {
        name: g.name,
        institution_id: g.institution_id.to_string(),
        school_year: g.school_year,
    };
    let institutions = org::institutions(&mut c).await?;
    Ok(render(GroupFormPage {
        ctx: a.ctx,
        id: Some(id),
        form,
        errors: FieldErrors::default(),
        institutions,
    })?
    .into_response())
}

async fn create_group(
    State(state): State<AppState>,
    a: Auth,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    save_group(state, a, None, form).await
}

async fn update_group(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<GroupForm>,
) -> AppResult<Response> {
    save_group(state, a, Some(id), form).await
}

async fn save_group(
    state: AppState,
    a: Auth,
    id: Option<i64>,
    form: GroupForm,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.begin().await?;
    if let Some(id) = id {
        org::group(&mut c, id).await?.ok_or(AppError::NotFound)?;
    }
    let mut errors = form
        .validate()
        .err()
        .map(|e| FieldErrors::from_validation(&e))
        .unwrap_or_default();
    let institution = match parse_id(&form.institution_id) {
        Some(i) => org::institution(&mut c, i).await?,
        None => None,
    };
    if institution.is_none() {
        errors.add("institution_id", tkey("err.choose"));
    }
    if !valid_school_year(form.school_year.trim()) {
        errors.add("school_year", tkey("err.school_year"));
    }
    if let (true, Some(inst)) = (errors.is_empty(), &institution) {
        let kind = InstitutionKind::parse(&inst.kind)
            .map(InstitutionKind::group_kind)
            .unwrap_or(GroupKind::Stue);
        match org::save_group(
            &mut c,
            id,
            inst.id,
            &form.name,
            kind,
            form.school_year.trim(),
            state.now(),
        )
        .await?
        {
            Some(gid) => {
                c.commit().await?;
                return Ok(Redirect::to(&format!("/groups/{gid}")).into_response());
            }
            None => errors.add("name", tkey("err.name_taken")),
        }
    }
    let institutions = org::institutions(&mut c).await?;
    invalid(GroupFormPage {
        ctx: a.ctx,
        id,
        form,
        errors,
        institutions,
    })
}

// ---- admin: children ----

#[derive(Deserialize)]
struct SearchQuery {
    #[serde(default)]
    q: String,
    /// Show the children without a current enrolment.
    #[serde(default)]
    unenrolled: Option<String>,
    #[serde(default)]
    page: Option<i64>,
}

#[derive(Template)]
#[template(path = "admin/children.html")]
struct ChildSearchPage {
    ctx: PageCtx,
    q: String,
    results: Vec<Child>,
    /// Asked for: the children without a current enrolment.
    unenrolled: Option<Vec<Child>>,
    pager: crate::web::Pager,
}

/// Rows per page of the search and of the unenrolled list.
const CHILDREN_PAGE: i64 = 50;

/// Admin search by name prefix (first or last name first) or external id, and, when asked
/// for, the children without a current enrolment; both a page at a time. The criteria and
/// the children shown are logged.
async fn child_search(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<SearchQuery>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let now = state.now();
    let term = q.q.trim().to_string();
    let page = q.page.unwrap_or(1).max(1);
    let offset = (page - 1) * CHILDREN_PAGE;
    let (results, found) = if term.is_empty() {
        (Vec::new(), 0)
    } else {
        org::search_children(&mut c, &term, CHILDREN_PAGE, offset).await?
    };
    let (unenrolled, pager) = if q.unenrolled.is_some() {
        let (list, total) = org::unenrolled_children(&mut c, CHILDREN_PAGE, offset).await?;
        let pager =
            crate::web::Pager::new(page, CHILDREN_PAGE, total, "/admin/children?unenrolled=1&");
        (Some(list), pager)
    } else {
        let base = format!(
            "/admin/children?q={}&",
            form_urlencoded::byte_serialize(term.as_bytes()).collect::<String>()
        );
        (
            None,
            crate::web::Pager::new(page, CHILDREN_PAGE, found, &base),
        )
    };
    drop(c);
    let mut c = state.db.begin().await?;
    if !term.is_empty() {
        audit::record(
            &mut c,
            &a.user,
            Action::Search,
            None,
            "children",
            &format!("q={term}"),
            now,
        )
        .await?;
        let ids: Vec<i64> = results.iter().map(|ch| ch.id).collect();
        audit::record_many(&mut c, &a.user, Action::Read, &ids, "search", now).await?;
    }
    if let Some(list) = &unenrolled {
        let ids: Vec<i64> = list.iter().map(|ch| ch.id).collect();
        audit::record_many(&mut c, &a.user, Action::Read, &ids, "unenrolled", now).await?;
    }
    c.commit().await?;
    Ok(render(ChildSearchPage {
        ctx: a.ctx,
        q: term,
        results,
        unenrolled,
        pager,
    })?
    .into_response())
}

#[derive(Deserialize, Validate, Default, Clone)]
struct ChildForm {
    #[validate(
        custom(function = "crate::web::not_blank"),
        length(max = 100, message = "err.too_long")
    )]
    first_name: String,
    #[validate(
        custom(function = "crate::web::not_blank"),
        length(max = 100, message = "err.too_long")
    )]
    last_name: String,
    #[serde(default)]
    birth_date: String,
    #[serde(default)]
    gender: String,
    #[serde(default)]
    #[validate(length(max = 60, message = "err.too_long"))]
    external_id: String,
    #[serde(default)]
    protected_address: Option<String>,
    #[serde(default)]
    institution_id: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    from_date: String,
    /// `choose_institution` shows an institution's groups instead of saving.
    #[serde(default)]
    action: String,
}

impl ChildForm {
    /// Validates the form against the database; on success the child's details.
    async fn parse(
        &self,
        c: &mut impl Conn,
        id: Option<i64>,
        today: NaiveDate,
    ) -> anyhow::Result<Result<ChildInput, FieldErrors>> {
        let mut errors = self
            .validate()
            .err()
            .map(|e| FieldErrors::from_validation(&e))
            .unwrap_or_default();
        let birth = parse_date(&self.birth_date);
        match birth {
            None => errors.add("birth_date", tkey("err.date")),
            Some(b) if b > today || super::age_on(b, today) > 25 => {
                errors.add("birth_date", tkey("err.birth_date_range"))
            }
            Some(_) => {}
        }
        let gender = parse_gender(&self.gender);
        if gender.is_none() {
            errors.add("gender", tkey("err.choose"));
        }
        let external_id = Some(self.external_id.trim().to_string()).filter(|s| !s.is_empty());
        if let Some(ext) = &external_id
            && org::external_id_taken(c, ext, id).await?
        {
            errors.add("external_id", tkey("err.external_id_taken"));
        }
        match (birth, gender, errors.is_empty()) {
            (Some(birth_date), Some(gender), true) => Ok(Ok(ChildInput {
                first_name: self.first_name.clone(),
                last_name: self.last_name.clone(),
                birth_date,
                gender,
                external_id,
                protected_address: self.protected_address.is_some(),
            })),
            _ => Ok(Err(errors)),
        }
    }
}

#[derive(Template)]
#[template(path = "admin/child_form.html")]
struct ChildFormPage {
    ctx: PageCtx,
    form: ChildForm,
    errors: FieldErrors,
    choice: GroupChoice,
}

#[derive(Deserialize)]
struct NewChildQuery {
    group: Option<i64>,
}

async fn new_child(
    State(state): State<AppState>,
    a: Auth,
    Query(q): Query<NewChildQuery>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let form = ChildForm {
        group_id: q.group.map(|g| g.to_string()).unwrap_or_default(),
        from_date: state.now().date_naive().to_string(),
        gender: "u".into(),
        ..Default::default()
    };
    let choice = GroupChoice::load(&mut c, None, q.group).await?;
    Ok(render(ChildFormPage {
        ctx: a.ctx,
        form,
        errors: FieldErrors::default(),
        choice,
    })?
    .into_response())
}

async fn create_child(
    State(state): State<AppState>,
    a: Auth,
    Form(form): Form<ChildForm>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let now = state.now();
    let institution = parse_id(&form.institution_id);
    if form.action == CHOOSE_INSTITUTION {
        let mut c = state.db.conn().await?;
        let choice = GroupChoice::load(&mut c, institution, parse_id(&form.group_id)).await?;
        let errors = FieldErrors::default();
        return Ok(render(ChildFormPage {
            ctx: a.ctx,
            form,
            errors,
            choice,
        })?
        .into_response());
    }
    let mut tx = state.db.begin().await?;
    let parsed = form.parse(&mut tx, None, now.date_naive()).await?;
    let group = match parse_id(&form.group_id) {
        Some(g) => org::group(&mut tx, g).await?,
        None => None,
    };
    let from = parse_date(&form.from_date);
    let fits = group
        .as_ref()
        .is_none_or(|g| GroupChoice::fits(institution, g));
    let input = match (parsed, &group, from) {
        (Ok(input), Some(_), Some(_)) if fits => input,
        (parsed, group, from) => {
            let mut errors = parsed.err().unwrap_or_default();
            if group.is_none() {
                errors.add("group_id", tkey("err.choose"));
            } else if !fits {
                errors.add("group_id", tkey("err.group_elsewhere"));
            }
            if from.is_none() {
                errors.add("from_date", tkey("err.date"));
            }
            let group = group.as_ref().filter(|_| fits).map(|g| g.id);
            let choice = GroupChoice::load(&mut tx, institution, group).await?;
            return invalid(ChildFormPage {
                ctx: a.ctx,
                form,
                errors,
                choice,
            });
        }
    };
    let (Some(group), Some(from)) = (group, from) else {
        unreachable!("checked above")
    };
    let id = org::insert_child(&mut tx, &input, now).await?;
    org::enrol(&mut tx, id, group.id, from).await?;
    audit::record(&mut tx, &a.user, Action::Create, Some(id), "child", "", now).await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/children/{id}?saved=created")).into_response())
}

#[derive(Template)]
#[template(path = "admin/child_edit.html")]
struct ChildEditPage {
    ctx: PageCtx,
    id: i64,
    /// The child's name as stored, for the heading.
    name: String,
    /// What was just saved (`?saved=`), said above the form.
    saved: Option<&'static str>,
    form: ChildForm,
    errors: FieldErrors,
    choice: GroupChoice,
    enrolments: Vec<Enrolment>,
    guardians: Vec<Guardian>,
    show_addresses: bool,
    enrol: EnrolForm,
    enrol_errors: FieldErrors,
    guardian: GuardianForm,
    guardian_errors: FieldErrors,
    left: String,
    left_errors: FieldErrors,
}

impl ChildEditPage {
    async fn load(c: &mut impl Conn, a: &Auth, child: &Child, today: NaiveDate) -> AppResult<Self> {
        let enrolments = org::enrolments(c, child.id).await?;
        let current = enrolments.iter().find(|e| e.to_date.is_none());
        let choice = GroupChoice::load(c, None, current.map(|e| e.group_id)).await?;
        Ok(ChildEditPage {
            ctx: a.ctx.clone(),
            id: child.id,
            name: child.full_name(),
            saved: None,
            form: ChildForm {
                first_name: child.first_name.clone(),
                last_name: child.last_name.clone(),
                birth_date: child.birth_date.to_string(),
                gender: child.gender.clone(),
                external_id: child.external_id.clone().unwrap_or_default(),
                protected_address: child.protected_address.then(|| "on".to_string()),
                ..Default::default()
            },
            errors: FieldErrors::default(),
            choice,
            enrolments,
            guardians: org::guardians(c, child.id).await?,
            show_addresses: scope::may_see_addresses(&a.user, child),
            enrol: EnrolForm {
                from_date: today.to_string(),
                ..Default::default()
            },
            enrol_errors: FieldErrors::default(),
            guardian: GuardianForm {
                has_custody: Some("on".into()),
                ..Default::default()
            },
            guardian_errors: FieldErrors::default(),
            left: child
                .left_on
                .map(|d| d.to_string())
                .unwrap_or_else(|| today.to_string()),
            left_errors: FieldErrors::default(),
        })
    }
}

/// Loads a child for an admin page and logs the read.
async fn admin_child(c: &mut impl Conn, state: &AppState, a: &Auth, id: i64) -> AppResult<Child> {
    scope::admin(&a.user)?;
    let child = scope::child(c, &a.user, id).await?;
    audit::record(
        c,
        &a.user,
        Action::Read,
        Some(id),
        "child",
        "admin",
        state.now(),
    )
    .await?;
    Ok(child)
}

/// What a page says was just saved (`?saved=`): a confirmation after the redirect.
#[derive(Deserialize, Default)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

impl SavedQuery {
    /// The message for what was saved, if it is one we say something about.
    pub fn message(&self) -> Option<&'static str> {
        match self.saved.as_deref()? {
            "created" => Some(crate::web::tkey("saved.child_created")),
            "changed" => Some(crate::web::tkey("saved.changed")),
            "consent" => Some(crate::web::tkey("saved.consent")),
            _ => None,
        }
    }
}

async fn edit_child(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Query(q): Query<SavedQuery>,
) -> AppResult<Response> {
    let mut tx = state.db.begin().await?;
    let child = admin_child(&mut tx, &state, &a, id).await?;
    tx.commit().await?;
    let mut c = state.db.conn().await?;
    let mut page = ChildEditPage::load(&mut c, &a, &child, state.now().date_naive()).await?;
    page.saved = q.message();
    Ok(render(page)?.into_response())
}

async fn update_child(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<ChildForm>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let child = admin_child(&mut tx, &state, &a, id).await?;
    match form.parse(&mut tx, Some(id), now.date_naive()).await? {
        Ok(input) => {
            org::update_child(&mut tx, id, &input, now).await?;
            // The municipal figures count positions by gender and age: they follow.
            crate::assessment::db::child_details_changed(
                &mut tx,
                id,
                input.gender,
                input.birth_date,
            )
            .await?;
            audit::record(&mut tx, &a.user, Action::Change, Some(id), "child", "", now).await?;
            tx.commit().await?;
            Ok(Redirect::to(&format!("/admin/children/{id}?saved=changed")).into_response())
        }
        Err(errors) => {
            let mut page = ChildEditPage::load(&mut tx, &a, &child, now.date_naive()).await?;
            tx.commit().await?; // keeps the read in the access log
            page.form = form;
            page.errors = errors;
            invalid(page)
        }
    }
}

#[derive(Deserialize, Default, Clone)]
struct EnrolForm {
    #[serde(default)]
    institution_id: String,
    #[serde(default)]
    group_id: String,
    #[serde(default)]
    from_date: String,
    /// `choose_institution` shows an institution's groups instead of moving the child.
    #[serde(default)]
    action: String,
}

async fn enrol_child(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<EnrolForm>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let child = admin_child(&mut tx, &state, &a, id).await?;
    let institution = parse_id(&form.institution_id);
    let mut errors = FieldErrors::default();
    let mut group = match parse_id(&form.group_id) {
        Some(g) => org::group(&mut tx, g).await?,
        None => None,
    };
    let choosing = form.action == CHOOSE_INSTITUTION;
    if group
        .as_ref()
        .is_some_and(|g| !GroupChoice::fits(institution, g))
    {
        group = None;
        if !choosing {
            errors.add("group_id", tkey("err.group_elsewhere"));
        }
    } else if group.is_none() && !choosing {
        errors.add("group_id", tkey("err.choose"));
    }
    let from = parse_date(&form.from_date);
    if from.is_none() && !choosing {
        errors.add("from_date", tkey("err.date"));
    }
    if let (Some(group), Some(from), false) = (&group, from, choosing) {
        if org::enrol(&mut tx, id, group.id, from).await? {
            crate::alerts::reroute_child(&mut tx, &state, &a.user, id, now).await?;
            crate::assessment::handover::on_move(&mut tx, &state, id, from, now).await?;
            audit::record(
                &mut tx,
                &a.user,
                Action::Change,
                Some(id),
                "enrolment",
                &format!("group:{}", group.id),
                now,
            )
            .await?;
            tx.commit().await?;
            return Ok(Redirect::to(&format!("/admin/children/{id}?saved=changed")).into_response());
        }
        errors.add("from_date", tkey("err.enrol_date"));
    }
    // Nothing is written for an invalid move: start over from a clean transaction (the read
    // stays logged when only the institution's groups were asked for).
    if choosing {
        tx.commit().await?;
    } else {
        drop(tx);
    }
    let mut c = state.db.conn().await?;
    let mut page = ChildEditPage::load(&mut c, &a, &child, now.date_naive()).await?;
    page.choice = GroupChoice::load(&mut c, institution, group.map(|g| g.id)).await?;
    page.enrol = form;
    page.enrol_errors = errors;
    if choosing {
        return Ok(render(page)?.into_response());
    }
    invalid(page)
}

#[derive(Deserialize, Validate, Default, Clone)]
struct GuardianForm {
    #[validate(
        custom(function = "crate::web::not_blank"),
        length(max = 200, message = "err.too_long")
    )]
    name: String,
    #[serde(default)]
    #[validate(length(max = 60, message = "err.too_long"))]
    relation: String,
    #[serde(default)]
    #[validate(length(max = 40, message = "err.too_long"))]
    phone: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    #[validate(length(max = 300, message = "err.too_long"))]
    address: String,
    #[serde(default)]
    has_custody: Option<String>,
}

async fn add_guardian(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<GuardianForm>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let child = admin_child(&mut tx, &state, &a, id).await?;
    let mut errors = form
        .validate()
        .err()
        .map(|e| FieldErrors::from_validation(&e))
        .unwrap_or_default();
    let email = form.email.trim();
    if !email.is_empty() && !validator::ValidateEmail::validate_email(&email) {
        errors.add("email", tkey("err.email"));
    }
    if errors.is_empty() {
        let input = GuardianInput {
            name: form.name.clone(),
            relation: form.relation.clone(),
            phone: form.phone.clone(),
            email: email.to_string(),
            address: form.address.clone(),
            has_custody: form.has_custody.is_some(),
        };
        let gid = org::insert_guardian(&mut tx, id, &input, now).await?;
        audit::record(
            &mut tx,
            &a.user,
            Action::Create,
            Some(id),
            &format!("guardian:{gid}"),
            "",
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(Redirect::to(&format!("/admin/children/{id}?saved=changed")).into_response());
    }
    let mut page = ChildEditPage::load(&mut tx, &a, &child, now.date_naive()).await?;
    tx.commit().await?;
    page.guardian = form;
    page.guardian_errors = errors;
    invalid(page)
}

async fn delete_guardian(
    State(state): State<AppState>,
    a: Auth,
    Path((id, gid)): Path<(i64, i64)>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    admin_child(&mut tx, &state, &a, id).await?;
    if !org::delete_guardian(&mut tx, id, gid).await? {
        return Err(AppError::NotFound);
    }
    audit::record(
        &mut tx,
        &a.user,
        Action::Delete,
        Some(id),
        &format!("guardian:{gid}"),
        "",
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Redirect::to(&format!("/admin/children/{id}?saved=changed")).into_response())
}

// ---- legal holds (see `crate::retention`) ----

async fn place_hold(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<crate::retention::HoldForm>,
) -> AppResult<Response> {
    if !crate::retention::manages_holds(a.user.role) {
        return Err(AppError::NotFound);
    }
    let reason = form.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        let error = if reason.is_empty() {
            tkey("err.required")
        } else {
            tkey("err.too_long")
        };
        let page = child_page_with_hold_error(&state, a, id, form, error).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    scope::child(&mut tx, &a.user, id).await?;
    let hold = crate::retention::place(&mut tx, id, &reason, a.user.id, now).await?;
    let object = format!("legal-hold:{hold}");
    audit::record(&mut tx, &a.user, Action::Create, Some(id), &object, "", now).await?;
    tx.commit().await?;
    tracing::info!(user_id = a.user.id, hold, "legal hold placed");
    Ok(Redirect::to(&format!("/children/{id}#holds")).into_response())
}

async fn lift_hold(
    State(state): State<AppState>,
    a: Auth,
    Path((id, hold)): Path<(i64, i64)>,
) -> AppResult<Response> {
    if !crate::retention::manages_holds(a.user.role) {
        return Err(AppError::NotFound);
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    scope::child(&mut tx, &a.user, id).await?;
    if !crate::retention::lift(&mut tx, id, hold, a.user.id, now).await? {
        return Err(AppError::NotFound);
    }
    let object = format!("legal-hold:{hold}");
    audit::record(
        &mut tx,
        &a.user,
        Action::Change,
        Some(id),
        &object,
        "lifted",
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = a.user.id, hold, "legal hold lifted");
    Ok(Redirect::to(&format!("/children/{id}#holds")).into_response())
}

#[derive(Deserialize, Default, Clone)]
struct LeftForm {
    #[serde(default)]
    left_on: String,
}

/// The admin marks that the child left the municipality's institutions (the current
/// enrolment ends that day; retention counts from it).
async fn mark_left(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<LeftForm>,
) -> AppResult<Response> {
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let child = admin_child(&mut tx, &state, &a, id).await?;
    if let Some(on) = parse_date(&form.left_on)
        && org::mark_left(&mut tx, id, on).await?
    {
        audit::record(
            &mut tx,
            &a.user,
            Action::Change,
            Some(id),
            "child",
            "left",
            now,
        )
        .await?;
        tx.commit().await?;
        return Ok(Redirect::to(&format!("/admin/children/{id}?saved=changed")).into_response());
    }
    drop(tx);
    let mut c = state.db.conn().await?;
    let mut page = ChildEditPage::load(&mut c, &a, &child, now.date_naive()).await?;
    page.left = form.left_on;
    page.left_errors.add("left_on", tkey("err.left_date"));
    invalid(page)
}
