//! Login, logout, first-admin setup, the language switch, and the admin's staff pages.

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use validator::Validate;

use super::users::{self, Assignments, UserRow};
use super::{Auth, Role, Visitor, password, scope, throttle};
use crate::db::{Conn, Db};
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::org::choice::{CHOOSE_INSTITUTION, GroupChoice};
use crate::org::db::{self as org, District, Group, Institution};
use crate::state::AppState;
use crate::web::{FieldErrors, Lang, PageCtx, render, tkey};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/session/alive", post(alive))
        .route("/setup/{token}", get(setup_page).post(setup))
        .route("/lang", post(set_lang))
        .route("/admin/users", get(user_list))
        .route("/admin/users/new", get(new_user_page).post(create_user))
        .route("/admin/users/{id}", get(edit_user_page).post(update_user))
}

// ---- login ----

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    ctx: PageCtx,
    email: String,
    error: Option<&'static str>,
    /// A form's answers wait for this login (see `super::resume`).
    resumed: bool,
    /// The single sign-on providers: id and button text.
    providers: Vec<(String, String)>,
    /// Whether the password form is offered (see `password_login`).
    password_login: bool,
}

fn providers(state: &AppState) -> Vec<(String, String)> {
    state
        .config
        .oidc
        .iter()
        .map(|p| (p.id.clone(), p.label.clone()))
        .collect()
}

async fn login_page(State(state): State<AppState>, v: Visitor) -> AppResult<Response> {
    if v.user.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    Ok(render(LoginPage {
        resumed: super::resume::has_form(&v.session).await?,
        ctx: v.ctx,
        email: String::new(),
        error: None,
        providers: providers(&state),
        password_login: state.config.password_login,
    })?
    .into_response())
}

#[derive(Deserialize)]
struct LoginForm {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    v: Visitor,
    headers: axum::http::HeaderMap,
    Form(form): Form<LoginForm>,
) -> AppResult<Response> {
    let now = state.now();
    let email = users::normalise_email(&form.email);
    let device = throttle::device_of(&headers);
    let resumed = super::resume::has_form(&v.session).await?;
    let page = |error, status| -> AppResult<Response> {
        Ok((
            status,
            render(LoginPage {
                ctx: v.ctx.clone(),
                email: form.email.clone(),
                error: Some(error),
                resumed,
                providers: providers(&state),
                password_login: state.config.password_login,
            })?,
        )
            .into_response())
    };
    // With passwords switched off, only the break-glass accounts may use one.
    if !state.config.password_login
        && !state
            .config
            .break_glass
            .iter()
            .any(|b| users::normalise_email(b) == email)
    {
        return page(tkey("login.password_off"), StatusCode::FORBIDDEN);
    }
    let Some(attempt) =
        throttle::begin(&state.db, &state.config, &email, device.as_deref(), now).await?
    else {
        return page(tkey("login.throttled"), StatusCode::TOO_MANY_REQUESTS);
    };
    let creds = {
        let mut c = state.db.conn().await?;
        users::credentials(&mut c, &email).await?
    };
    let (stored, user) = match &creds {
        Some((id, Some(hash), true)) => (hash.clone(), Some(*id)),
        _ => (password::dummy_hash().to_string(), None),
    };
    // The hash is checked with no connection held: a burst of wrong passwords must not hold
    // up anyone's writes.
    let ok = password::verify(form.password.clone(), stored).await? && user.is_some();
    match user {
        Some(id) if ok => {
            let token = throttle::succeeded(&state.db, attempt, id, device.as_deref(), now).await?;
            // With a second factor the password only opens the second step.
            let next = match super::totp::after_password(&state, &v.session, id).await? {
                Some(step) => step.to_string(),
                None => {
                    super::log_in(&v.session, id).await?;
                    tracing::info!(user_id = id, "logged in");
                    super::resume::take_path(&v.session).await?
                }
            };
            let mut response = Redirect::to(&next).into_response();
            if let Some(token) = token {
                response.headers_mut().append(
                    axum::http::header::SET_COOKIE,
                    throttle::device_cookie(&token, state.config.secure_cookies())?,
                );
            }
            Ok(response)
        }
        _ => page(tkey("login.failed"), StatusCode::UNAUTHORIZED),
    }
}

async fn logout(State(state): State<AppState>, a: Auth) -> AppResult<Redirect> {
    let sso: Option<super::sso::LoggedIn> = a
        .session
        .get(super::sso::LOGGED_IN_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?;
    // The local session ends in any case; a single sign-on also at its provider.
    a.session
        .flush()
        .await
        .map_err(|e| anyhow::anyhow!("flush session: {e}"))?;
    Ok(Redirect::to(&super::sso::logout_target(&state, sso).await))
}

/// Keeps the session of a user who is working on an open form alive (`assets/live.js` asks
/// while there is activity on the page); the extractor marks the session active.
async fn alive(_a: Auth) -> StatusCode {
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct LangForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// Stores the language on the account, so it follows the user to every device.
async fn set_lang(
    State(state): State<AppState>,
    a: Auth,
    Form(form): Form<LangForm>,
) -> AppResult<Redirect> {
    let mut c = state.db.writer().await?;
    users::set_lang(&mut c, a.user.id, Lang::from_code(&form.lang)).await?;
    state.sessions.forget_user(a.user.id);
    // Only local paths, so the switch cannot be used as an open redirect.
    let back = super::resume::local_path(&form.back).unwrap_or("/");
    Ok(Redirect::to(back))
}

// ---- first admin ----

/// On a database without any account, creates a one-time setup token (replacing older ones)
/// and returns it; `None` when accounts exist.
pub async fn issue_setup_token(db: &Db, now: DateTime<Utc>) -> anyhow::Result<Option<String>> {
    let mut tx = db.begin().await?;
    if users::count(&mut tx).await? > 0 {
        return Ok(None);
    }
    let token = super::random_token();
    dispatch!(&mut tx, c => sqlx::query("DELETE FROM setup_tokens WHERE used_at IS NULL").execute(&mut *c).await.map(|r| r.rows_affected()))?;
    dispatch!(&mut tx, c => sqlx::query("INSERT INTO setup_tokens (token_hash, created_at) VALUES ($1, $2)")
        .bind(super::token_hash(&token))
        .bind(now)
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(Some(token))
}

async fn setup_token_valid(c: &mut impl Conn, token: &str) -> anyhow::Result<bool> {
    let n: i64 = dispatch!(c, c => sqlx::query_scalar(
        "SELECT COUNT(*) FROM setup_tokens WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(super::token_hash(token))
    .fetch_one(&mut *c)
    .await)?;
    Ok(n > 0 && users::count(c).await? == 0)
}

#[derive(Template)]
#[template(path = "setup.html")]
struct SetupPage {
    ctx: PageCtx,
    token: String,
    form: SetupForm,
    errors: FieldErrors,
}

#[derive(Deserialize, Validate, Default, Clone)]
struct SetupForm {
    #[validate(
        custom(function = "crate::web::not_blank"),
        length(max = 200, message = "err.too_long")
    )]
    name: String,
    #[validate(email(message = "err.email"))]
    email: String,
    #[validate(length(min = 10, max = 200, message = "err.password_length"))]
    password: String,
    password2: String,
}

async fn setup_page(
    State(state): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
) -> AppResult<Response> {
    let mut c = state.db.conn().await?;
    if !setup_token_valid(&mut c, &token).await? {
        return Err(AppError::NotFound);
    }
    Ok(render(SetupPage {
        ctx: v.ctx,
        token,
        form: SetupForm::default(),
        errors: FieldErrors::default(),
    })?
    .into_response())
}

async fn setup(
    State(state): State<AppState>,
    v: Visitor,
    Path(token): Path<String>,
    Form(form): Form<SetupForm>,
) -> AppResult<Response> {
    let mut errors = match form.validate() {
        Ok(()) => FieldErrors::default(),
        Err(e) => FieldErrors::from_validation(&e),
    };
    if form.password != form.password2 {
        errors.add("password2", tkey("err.password_mismatch"));
    }
    if !errors.is_empty() {
        let mut form = form;
        form.password.clear();
        form.password2.clear();
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            render(SetupPage {
                ctx: v.ctx,
                token,
                form,
                errors,
            })?,
        )
            .into_response());
    }
    let hash = password::hash(form.password.clone()).await?;
    let now = state.now();
    let mut tx = state.db.begin().await?;
    if !setup_token_valid(&mut tx, &token).await? {
        return Err(AppError::NotFound);
    }
    let id = users::insert(
        &mut tx,
        &form.email,
        &form.name,
        Role::Admin,
        Some(&hash),
        now,
    )
    .await?;
    dispatch!(&mut tx, c => sqlx::query("UPDATE setup_tokens SET used_at = $1 WHERE token_hash = $2")
        .bind(now)
        .bind(super::token_hash(&token))
        .execute(&mut *c)
        .await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    super::log_in(&v.session, id).await?;
    tracing::info!(user_id = id, "first admin created");
    Ok(Redirect::to("/").into_response())
}

// ---- staff accounts (admin) ----

struct UserListItem {
    user: UserRow,
    role_key: &'static str,
}

#[derive(Template)]
#[template(path = "admin/users.html")]
struct UserListPage {
    ctx: PageCtx,
    users: Vec<UserListItem>,
}

async fn user_list(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let users = users::list(&mut c)
        .await?
        .into_iter()
        .map(|u| UserListItem {
            role_key: u.role().map(Role::label_key).unwrap_or("role.unknown"),
            user: u,
        })
        .collect();
    Ok(render(UserListPage { ctx: a.ctx, users })?.into_response())
}

/// The staff form, parsed from the raw field list because assignments repeat
/// (`assign_group=3&assign_group=7`). Each kind of assignment has its own field, so boxes left
/// ticked under another role are never read as ids of the wrong kind; only the role's own kind
/// is saved.
#[derive(Debug, Clone, Default)]
struct UserForm {
    name: String,
    email: String,
    role: String,
    active: bool,
    groups: Vec<i64>,
    institutions: Vec<i64>,
    districts: Vec<i64>,
    /// The institution whose groups the form shows for ticking (org/choice.rs).
    institution_id: Option<i64>,
    action: String,
}

impl UserForm {
    fn from_fields(fields: Vec<(String, String)>) -> UserForm {
        let mut f = UserForm::default();
        for (k, v) in fields {
            match k.as_str() {
                "name" => f.name = v,
                "email" => f.email = v,
                "role" => f.role = v,
                "active" => f.active = true,
                "assign_group" => f.groups.extend(v.parse::<i64>().ok()),
                "assign_institution" => f.institutions.extend(v.parse::<i64>().ok()),
                "assign_district" => f.districts.extend(v.parse::<i64>().ok()),
                "institution_id" => f.institution_id = v.parse::<i64>().ok(),
                "action" => f.action = v,
                _ => {}
            }
        }
        for ids in [&mut f.groups, &mut f.institutions, &mut f.districts] {
            ids.sort_unstable();
            ids.dedup();
        }
        f
    }

    /// The assignments the role keeps.
    fn assign(&self, role: Role) -> &[i64] {
        match role {
            Role::Educator => &self.groups,
            Role::Leader => &self.institutions,
            Role::SocialWorker => &self.districts,
            Role::Admin | Role::Dpo => &[],
        }
    }

    fn has_group(&self, id: &i64) -> bool {
        self.groups.contains(id)
    }

    fn has_institution(&self, id: &i64) -> bool {
        self.institutions.contains(id)
    }

    fn has_district(&self, id: &i64) -> bool {
        self.districts.contains(id)
    }

    fn role_is(&self, role: &str) -> bool {
        self.role == role
    }
}

#[derive(Template)]
#[template(path = "admin/user_form.html")]
pub(crate) struct UserFormPage {
    ctx: PageCtx,
    id: Option<i64>,
    /// An invitation was just sent (`?invited=1`).
    invited: bool,
    /// The second factor was just reset (`?two_factor_reset=1`).
    two_factor_reset: bool,
    /// The single sign-on providers an identity can be linked at.
    providers: Vec<(String, String)>,
    form: UserForm,
    errors: FieldErrors,
    roles: Vec<(&'static str, &'static str)>,
    /// The groups ticked so far, then the rest of the chosen institution's groups.
    groups: Vec<Group>,
    choice: GroupChoice,
    institutions: Vec<Institution>,
    districts: Vec<District>,
}

impl UserFormPage {
    async fn new(
        c: &mut impl Conn,
        ctx: PageCtx,
        id: Option<i64>,
        form: UserForm,
        errors: FieldErrors,
    ) -> AppResult<Self> {
        let choice =
            GroupChoice::load(c, form.institution_id, form.groups.first().copied()).await?;
        let mut groups = org::groups_by_ids(c, &form.groups).await?;
        groups.extend(
            choice
                .groups
                .iter()
                .filter(|g| !form.has_group(&g.id))
                .cloned(),
        );
        Ok(UserFormPage {
            ctx,
            id,
            invited: false,
            two_factor_reset: false,
            providers: Vec::new(),
            form,
            errors,
            roles: Role::ALL
                .iter()
                .map(|r| (r.as_str(), r.label_key()))
                .collect(),
            groups,
            choice,
            institutions: org::institutions(c).await?,
            districts: org::districts(c).await?,
        })
    }
}

async fn new_user_page(State(state): State<AppState>, a: Auth) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let form = UserForm {
        active: true,
        role: "educator".into(),
        ..Default::default()
    };
    Ok(
        render(UserFormPage::new(&mut c, a.ctx, None, form, FieldErrors::default()).await?)?
            .into_response(),
    )
}

#[derive(Deserialize)]
struct EditQuery {
    #[serde(default)]
    invited: Option<String>,
    #[serde(default)]
    two_factor_reset: Option<String>,
}

async fn edit_user_page(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Query(q): Query<EditQuery>,
) -> AppResult<Response> {
    let mut page = edit_user_page_for(&state, a, id, FieldErrors::default()).await?;
    page.invited = q.invited.is_some();
    page.two_factor_reset = q.two_factor_reset.is_some();
    Ok(render(page)?.into_response())
}

/// An account's page as the admin sees it, with `errors` (from a form further down the page,
/// such as linking a single sign-on identity) beside their fields.
pub(crate) async fn edit_user_page_for(
    state: &AppState,
    a: Auth,
    id: i64,
    errors: FieldErrors,
) -> AppResult<UserFormPage> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    let user = users::by_id(&mut c, id).await?.ok_or(AppError::NotFound)?;
    let Assignments {
        groups,
        institutions,
        districts,
    } = users::assignments(&mut c, id).await?;
    let form = UserForm {
        name: user.name,
        email: user.email,
        role: user.role,
        active: user.active,
        groups,
        institutions,
        districts,
        ..Default::default()
    };
    let mut page = UserFormPage::new(&mut c, a.ctx, Some(id), form, errors).await?;
    page.providers = providers(state);
    Ok(page)
}

async fn create_user(
    State(state): State<AppState>,
    a: Auth,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    save_user(state, a, None, UserForm::from_fields(fields)).await
}

async fn update_user(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(fields): Form<Vec<(String, String)>>,
) -> AppResult<Response> {
    save_user(state, a, Some(id), UserForm::from_fields(fields)).await
}

async fn save_user(
    state: AppState,
    a: Auth,
    id: Option<i64>,
    form: UserForm,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    let mut c = state.db.conn().await?;
    if let Some(id) = id {
        users::by_id(&mut c, id).await?.ok_or(AppError::NotFound)?;
    }
    if form.action == CHOOSE_INSTITUTION {
        // Only the institution's groups were asked for.
        let page = UserFormPage::new(&mut c, a.ctx, id, form, FieldErrors::default()).await?;
        return Ok(render(page)?.into_response());
    }
    let mut errors = FieldErrors::default();
    if form.name.trim().is_empty() {
        errors.add("name", tkey("err.required"));
    }
    if !validator::ValidateEmail::validate_email(&form.email.trim()) {
        errors.add("email", tkey("err.email"));
    } else if users::email_taken(&mut c, &form.email, id).await? {
        errors.add("email", tkey("err.email_taken"));
    }
    let role = Role::parse(&form.role);
    match role {
        None => errors.add("role", tkey("err.required")),
        Some(Role::Admin | Role::Dpo) => {}
        Some(r) if form.assign(r).is_empty() => errors.add("assign", tkey("err.assign_required")),
        Some(r) => {
            if !users::assignments_exist(&mut c, r, form.assign(r)).await? {
                errors.add("assign", tkey("err.choose"));
            }
        }
    }
    if id == Some(a.user.id) && (role != Some(Role::Admin) || !form.active) {
        errors.add("role", tkey("err.own_admin"));
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        let page = UserFormPage::new(&mut c, a.ctx, id, form, errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)?).into_response());
    };
    drop(c);
    let now = state.now();
    let mut tx = state.db.begin().await?;
    let user_id = match id {
        Some(id) => {
            users::update(&mut tx, id, &form.email, &form.name, role, form.active).await?;
            id
        }
        None => {
            // No password: the new user chooses one from the invitation.
            let id = users::insert(&mut tx, &form.email, &form.name, role, None, now).await?;
            super::account::send_link(
                &mut tx,
                &state.config.base_url(),
                id,
                &users::normalise_email(&form.email),
                super::account::Purpose::Invite,
                now,
                state.config.time_zone,
            )
            .await?;
            id
        }
    };
    users::set_assignments(&mut tx, user_id, role, form.assign(role)).await?;
    tx.commit().await?;
    // Its sessions read the account afresh on their next request.
    state.sessions.forget_user(user_id);
    tracing::info!(
        user_id = a.user.id,
        account = user_id,
        "staff account saved"
    );
    Ok(match id {
        Some(_) => Redirect::to("/admin/users"),
        None => Redirect::to(&format!("/admin/users/{user_id}?invited=1")),
    }
    .into_response())
}
