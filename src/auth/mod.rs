//! Accounts, roles, sessions, CSRF and the one place that decides what a user may see
//! ([`scope`]). Handlers get the logged-in user through the [`Auth`] extractor.

pub mod account;
pub mod csrf;
pub mod password;
pub mod resume;
pub mod routes;
pub mod scope;
pub mod session_store;
pub mod sso;
pub mod throttle;
pub mod totp;
pub mod users;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::AppError;
use crate::state::AppState;
use crate::web::{Lang, PageCtx};

const USER_KEY: &str = "user_id";
const CSRF_KEY: &str = "csrf";
const SEEN_KEY: &str = "seen_minute";

/// What a staff member is. One role per account; the scope comes from its assignments
/// (groups for educators, institutions for leaders, districts for social workers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Educator,
    Leader,
    SocialWorker,
    Admin,
    /// The data-protection officer (databeskyttelsesrådgiver): reads the access log and who
    /// has seen a child; sees no assessments.
    Dpo,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Role::Educator,
        Role::Leader,
        Role::SocialWorker,
        Role::Admin,
        Role::Dpo,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Educator => "educator",
            Role::Leader => "leader",
            Role::SocialWorker => "social_worker",
            Role::Admin => "admin",
            Role::Dpo => "dpo",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label_key(self) -> &'static str {
        match self {
            Role::Educator => "role.educator",
            Role::Leader => "role.leader",
            Role::SocialWorker => "role.social_worker",
            Role::Admin => "role.admin",
            Role::Dpo => "role.dpo",
        }
    }
}

/// The logged-in staff member.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub lang: Lang,
}

/// A random URL-safe token (CSRF tokens, setup links).
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a secret token is stored: its SHA-256, in hex (setup links, device cookies).
pub fn token_hash(token: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The session's CSRF token, created on first use.
pub async fn csrf_token(session: &Session) -> Result<String, AppError> {
    let existing: Option<String> = session
        .get(CSRF_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?;
    if let Some(t) = existing {
        return Ok(t);
    }
    let token = random_token();
    session
        .insert(CSRF_KEY, &token)
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    Ok(token)
}

async fn session_of(parts: &mut Parts, state: &AppState) -> Result<Session, AppError> {
    Session::from_request_parts(parts, state)
        .await
        .map_err(|_| AppError::Internal(anyhow::anyhow!("session layer missing")))
}

async fn current_user(
    session: &Session,
    state: &AppState,
) -> Result<Option<CurrentUser>, AppError> {
    let id: Option<i64> = session
        .get(USER_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?;
    if id.is_none() {
        return Ok(None);
    }
    // Read with the session, in the same statement, when the account is active.
    let account: Option<users::UserRow> = session
        .get(session_store::ACCOUNT_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?;
    let user = account.and_then(users::UserRow::into_current);
    if user.is_some() {
        touch(session, state).await?;
    }
    if user.is_none() {
        // The account was deactivated or removed: end the session.
        session
            .flush()
            .await
            .map_err(|e| anyhow::anyhow!("flush session: {e}"))?;
    }
    Ok(user)
}

/// Keeps an active session alive. The store only writes a session that changed, so the
/// inactivity deadline would otherwise stay where login put it; marking the session once a
/// minute extends it at the cost of at most one write per minute per user.
async fn touch(session: &Session, state: &AppState) -> Result<(), AppError> {
    let minute = state.now().timestamp() / 60;
    let seen: Option<i64> = session
        .get(SEEN_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?;
    if seen != Some(minute) {
        session
            .insert(SEEN_KEY, minute)
            .await
            .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    }
    Ok(())
}

async fn page_ctx(
    parts: &Parts,
    session: &Session,
    state: &AppState,
    user: Option<CurrentUser>,
) -> Result<PageCtx, AppError> {
    let path = if parts.method == axum::http::Method::GET {
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_default()
    } else {
        String::new()
    };
    let lang = user.as_ref().map(|u| u.lang).unwrap_or_default();
    // A visitor who is not logged in gets no token: it would be the only thing in the
    // session, and every anonymous look at the login page would store a session. The two
    // forms such a visitor posts (login, first-admin setup) are checked by origin instead
    // (see `csrf`).
    let csrf = match &user {
        Some(_) => csrf_token(session).await?,
        None => session
            .get::<String>(CSRF_KEY)
            .await
            .map_err(|e| anyhow::anyhow!("read session: {e}"))?
            .unwrap_or_default(),
    };
    let mail_warning = match &user {
        Some(u) if u.role == Role::Admin => {
            let mut c = state.db.conn().await?;
            crate::notify::needing_attention(&mut c, state.now()).await?
        }
        _ => 0,
    };
    let unread = match &user {
        Some(u) if matches!(u.role, Role::SocialWorker | Role::Educator | Role::Leader) => {
            let mut c = state.db.conn().await?;
            crate::alerts::conversation::unread(&mut c, u.id).await?
        }
        _ => 0,
    };
    Ok(PageCtx {
        unread,
        logo: state.logo.as_ref().map(crate::web::branding::Logo::url),
        mail_warning,
        csrf,
        lang,
        municipality: state.municipality_name(),
        path,
        user,
        tz: state.config.time_zone,
    })
}

/// A logged-in user and the page context; anonymous requests are sent to `/login`.
pub struct Auth {
    pub user: CurrentUser,
    pub ctx: PageCtx,
    pub session: Session,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = session_of(parts, state).await?;
        let Some(user) = current_user(&session, state).await? else {
            // A page asked for before logging in (a link in an email): the login leads back.
            if parts.method == axum::http::Method::GET
                && let Some(path) = parts.uri.path_and_query()
            {
                resume::remember_path(&session, path.as_str()).await?;
            }
            return Err(AppError::Unauthenticated);
        };
        tracing::Span::current().record("user_id", user.id);
        let ctx = page_ctx(parts, &session, state, Some(user.clone())).await?;
        Ok(Auth { user, ctx, session })
    }
}

impl Auth {
    /// Refuses the request unless the user has one of `roles`.
    pub fn require(&self, roles: &[Role]) -> Result<(), AppError> {
        if roles.contains(&self.user.role) {
            Ok(())
        } else {
            Err(AppError::Forbidden)
        }
    }
}

/// Any visitor, logged in or not (login and setup pages).
pub struct Visitor {
    pub user: Option<CurrentUser>,
    pub ctx: PageCtx,
    pub session: Session,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let session = session_of(parts, state).await?;
        let user = current_user(&session, state).await?;
        let ctx = page_ctx(parts, &session, state, user.clone()).await?;
        Ok(Visitor { user, ctx, session })
    }
}

/// Starts an authenticated session: a new session id (against fixation) and a new CSRF token.
pub async fn log_in(session: &Session, user_id: i64) -> Result<(), AppError> {
    session
        .cycle_id()
        .await
        .map_err(|e| anyhow::anyhow!("cycle session id: {e}"))?;
    session
        .insert(USER_KEY, user_id)
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    session
        .insert(CSRF_KEY, random_token())
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    Ok(())
}

/// Whether `role` may enter the admin area at `path` (`/admin/…`): the admin everywhere, the
/// data protection officer in the access log and the retention pages, nobody else.
fn enters_admin_area(role: Role, path: &str) -> bool {
    let under = |prefix: &str| {
        path == prefix
            || path
                .strip_prefix(prefix)
                .is_some_and(|rest| rest.starts_with('/'))
    };
    match role {
        Role::Admin => true,
        Role::Dpo => under("/admin/access-log") || under("/admin/retention"),
        _ => false,
    }
}

/// A route-level gate in front of `/admin/…`: a logged-in user without the role gets 404
/// before the request body is read (no form parsed, no CSRF check, no upload buffered), and
/// learns nothing about which admin pages exist. A visitor who is not logged in passes on to
/// the handler, which sends them to the login page as everywhere else. The handlers keep
/// their own role checks; this is the first of two doors.
pub async fn admin_area(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let path = req.uri().path();
    if path != "/admin" && !path.starts_with("/admin/") {
        return next.run(req).await;
    }
    let (mut parts, body) = req.into_parts();
    let user = match session_of(&mut parts, &state).await {
        Ok(session) => current_user(&session, &state).await,
        Err(e) => Err(e),
    };
    match user {
        Ok(Some(user)) if !enters_admin_area(user.role, parts.uri.path()) => {
            AppError::NotFound.into_response()
        }
        Ok(_) => {
            next.run(axum::extract::Request::from_parts(parts, body))
                .await
        }
        Err(e) => e.into_response(),
    }
}
