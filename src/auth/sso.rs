//! Single sign-on over OpenID Connect (Unilogin's broker, the municipality's Entra ID), with
//! the `openidconnect` crate: the authorization code flow with PKCE, `state` and `nonce`; the ID
//! token's signature, issuer, audience, expiry and nonce are checked by the crate against the
//! provider's discovered metadata and keys. The metadata is fetched again after an hour, and at
//! once when a token is signed with a key it does not list (key rotation).
//!
//! - Accounts are matched, never created: an identity (the configured claim, e.g. `email`,
//!   `uniid` or `oid`) logs in only to the active account linked to it (`sso_identities`). The
//!   admin links one on the account's page; an invited account that has not chosen a password
//!   is linked at its first login when the claim is its email. Roles and scope stay in Trivsel.
//! - A role in the provider's `assurance_roles` (default admins and social workers) logs in only
//!   with an `assurance_claim` value in `assurance_values` (e.g. NSIS Substantial).
//! - The provider's login is the second factor's equivalent: no TOTP after it.
//! - Logout ends the local session and, where the provider has an `end_session_endpoint`, the
//!   provider's (RP-initiated logout).
//! - With `password_login = false` only the `break_glass` accounts may use a password.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use askama::Template;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;

use super::{Auth, Visitor, scope, users};
use crate::config::OidcProvider;
use crate::db::Conn;
use crate::dispatch;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::{PageCtx, render, tkey};

/// The session key of a login under way at a provider.
const FLOW_KEY: &str = "sso_flow";
/// The session key of a login made with a provider (for its logout).
pub const LOGGED_IN_KEY: &str = "sso_login";
/// How long a login may stay at the provider.
const FLOW_MINUTES: i64 = 10;
/// How long discovered metadata is used before it is fetched again.
const METADATA_TTL: Duration = Duration::from_secs(3600);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login/sso/{id}", get(start))
        .route("/login/sso/{id}/callback", get(callback))
        .route("/admin/users/{id}/sso", post(link))
}

/// A provider's discovered metadata, kept for [`METADATA_TTL`].
#[derive(Clone)]
struct Discovered {
    metadata: CoreProviderMetadata,
    end_session: Option<String>,
    at: Instant,
}

/// Each provider's metadata, shared by the instance's requests.
#[derive(Default)]
pub struct Discovery {
    cache: RwLock<HashMap<String, Discovered>>,
}

fn http() -> anyhow::Result<openidconnect::reqwest::Client> {
    // No redirects: following them would let a provider's answer send us anywhere (SSRF).
    Ok(openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()?)
}

impl Discovery {
    async fn get(&self, p: &OidcProvider, fresh: bool) -> anyhow::Result<Discovered> {
        if !fresh
            && let Some(d) = self.cache.read().await.get(&p.id)
            && d.at.elapsed() < METADATA_TTL
        {
            return Ok(d.clone());
        }
        let http = http()?;
        let issuer = IssuerUrl::new(p.issuer.clone())?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &http)
            .await
            .map_err(|e| anyhow::anyhow!("discovery of {:?}: {e}", p.id))?;
        // The logout endpoint is not in the core metadata: read it from the same document.
        let body = http
            .get(format!(
                "{}/.well-known/openid-configuration",
                p.issuer.trim_end_matches('/')
            ))
            .send()
            .await?
            .bytes()
            .await?;
        let doc: serde_json::Value = serde_json::from_slice(&body)?;
        let d = Discovered {
            metadata,
            end_session: doc
                .get("end_session_endpoint")
                .and_then(|v| v.as_str())
                .map(str::to_string),
            at: Instant::now(),
        };
        self.cache.write().await.insert(p.id.clone(), d.clone());
        Ok(d)
    }
}

fn provider<'a>(state: &'a AppState, id: &str) -> AppResult<&'a OidcProvider> {
    state
        .config
        .oidc
        .iter()
        .find(|p| p.id == id)
        .ok_or(AppError::NotFound)
}

/// Where the provider sends the browser back: under `public_url`, or the address the browser
/// used (a provider accepts only the addresses registered for the client).
fn redirect_url(state: &AppState, headers: &HeaderMap, id: &str) -> anyhow::Result<RedirectUrl> {
    let base = match &state.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => format!(
            "http://{}",
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1")
        ),
    };
    Ok(RedirectUrl::new(format!("{base}/login/sso/{id}/callback"))?)
}

/// A login under way at a provider: what the callback must see again.
#[derive(Serialize, Deserialize)]
struct Flow {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    redirect: String,
    since: i64,
}

/// A login made with a provider, for its logout.
#[derive(Serialize, Deserialize)]
pub struct LoggedIn {
    pub provider: String,
    pub id_token: String,
}

async fn start(
    State(state): State<AppState>,
    v: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    let p = provider(&state, &id)?;
    let d = state.sso.get(p, false).await?;
    let redirect = redirect_url(&state, &headers, &id)?;
    let client = CoreClient::from_provider_metadata(
        d.metadata,
        ClientId::new(p.client_id.clone()),
        Some(ClientSecret::new(
            p.client_secret.expose_secret().to_string(),
        )),
    )
    .set_redirect_uri(redirect.clone());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client.authorize_url(
        CoreAuthenticationFlow::AuthorizationCode,
        CsrfToken::new_random,
        Nonce::new_random,
    );
    for s in p.scopes.iter().filter(|s| *s != "openid") {
        request = request.add_scope(Scope::new(s.clone()));
    }
    let (url, csrf, nonce) = request.set_pkce_challenge(challenge).url();
    let flow = Flow {
        provider: id,
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        verifier: verifier.secret().clone(),
        redirect: redirect.to_string(),
        since: state.now().timestamp(),
    };
    v.session
        .insert(FLOW_KEY, flow)
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    Ok(Redirect::to(url.as_str()).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    state: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "sso_refused.html")]
struct RefusedPage {
    ctx: PageCtx,
    reason: &'static str,
}

fn refused(ctx: PageCtx, reason: &'static str) -> AppResult<Response> {
    Ok((StatusCode::FORBIDDEN, render(RefusedPage { ctx, reason })?).into_response())
}

async fn callback(
    State(state): State<AppState>,
    v: Visitor,
    Path(id): Path<String>,
    Query(q): Query<CallbackQuery>,
) -> AppResult<Response> {
    let p = provider(&state, &id)?;
    // The flow is used once: a replayed callback finds none.
    let flow: Option<Flow> = v
        .session
        .remove(FLOW_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("session: {e}"))?;
    let now = state.now();
    let Some(flow) = flow.filter(|f| {
        f.provider == id
            && now.timestamp() - f.since <= FLOW_MINUTES * 60
            && q.state.as_deref().is_some_and(|s| {
                subtle::ConstantTimeEq::ct_eq(s.as_bytes(), f.state.as_bytes()).into()
            })
    }) else {
        tracing::warn!(provider = %id, "single sign-on refused: no matching login under way");
        return refused(v.ctx, tkey("sso.refused.flow"));
    };
    let Some(code) = q.code.filter(|_| q.error.is_none()) else {
        return refused(v.ctx, tkey("sso.refused.provider"));
    };
    let (claims, id_token) = match verified_claims(&state, p, &flow, code).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(provider = %id, error = %e, "single sign-on refused: the ID token did not verify");
            return refused(v.ctx, tkey("sso.refused.token"));
        }
    };
    let Some(identity) = claims
        .get(&p.identity_claim)
        .and_then(|v| v.as_str())
        .map(str::to_string)
    else {
        return refused(v.ctx, tkey("sso.refused.unknown"));
    };
    let mut tx = state.db.begin().await?;
    let Some((user_id, role)) = account_for(&mut tx, p, &identity, now).await? else {
        if p.create_accounts && created(&mut tx, p, &identity, &claims, now).await? {
            tx.commit().await?;
            return Ok((
                StatusCode::ACCEPTED,
                render(RefusedPage {
                    ctx: v.ctx,
                    reason: tkey("sso.created"),
                })?,
            )
                .into_response());
        }
        tracing::warn!(provider = %id, "single sign-on refused: no account is linked to the identity");
        return refused(v.ctx, tkey("sso.refused.unknown"));
    };
    if super::Role::parse(&role).is_none() {
        // Created at an earlier login (`create_accounts`): waiting for the admin.
        return Ok((
            StatusCode::ACCEPTED,
            render(RefusedPage {
                ctx: v.ctx,
                reason: tkey("sso.created"),
            })?,
        )
            .into_response());
    }
    let needs_assurance = match &p.assurance_roles {
        Some(roles) => roles.contains(&role),
        None => matches!(role.as_str(), "admin" | "social_worker"),
    };
    if needs_assurance && let Some(claim) = &p.assurance_claim {
        let given = claims.get(claim).and_then(|v| v.as_str()).unwrap_or("");
        if !p.assurance_values.iter().any(|v| v == given) {
            tracing::warn!(user_id, provider = %id, "single sign-on refused: assurance too low for the role");
            return refused(v.ctx, tkey("sso.refused.assurance"));
        }
    }
    tx.commit().await?;
    super::log_in(&v.session, user_id).await?;
    v.session
        .insert(
            LOGGED_IN_KEY,
            LoggedIn {
                provider: id.clone(),
                id_token,
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("write session: {e}"))?;
    tracing::info!(user_id, provider = %id, "logged in with single sign-on");
    let next = super::resume::take_path(&v.session).await?;
    Ok(Redirect::to(&next).into_response())
}

/// A verified ID token's claims, and the token (kept for the provider's logout).
type Verified = (serde_json::Map<String, serde_json::Value>, String);

/// Exchanges the code and returns the verified ID token's claims and the token. A token signed
/// with a key the cached metadata does not list is checked once more against freshly
/// discovered keys.
async fn verified_claims(
    state: &AppState,
    p: &OidcProvider,
    flow: &Flow,
    code: String,
) -> anyhow::Result<Verified> {
    let http = http()?;
    let d = state.sso.get(p, false).await?;
    let client = |metadata: CoreProviderMetadata| -> anyhow::Result<_> {
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(p.client_id.clone()),
            Some(ClientSecret::new(
                p.client_secret.expose_secret().to_string(),
            )),
        )
        .set_redirect_uri(RedirectUrl::new(flow.redirect.clone())?))
    };
    let c = client(d.metadata)?;
    let response = c
        .exchange_code(AuthorizationCode::new(code))?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| anyhow::anyhow!("token request: {e}"))?;
    let token = response
        .id_token()
        .ok_or_else(|| anyhow::anyhow!("no ID token"))?;
    let nonce = Nonce::new(flow.nonce.clone());
    if let Err(first) = token.claims(&c.id_token_verifier(), &nonce) {
        // Perhaps the provider rotated its keys: check once more with fresh metadata.
        let fresh = client(state.sso.get(p, true).await?.metadata)?;
        token
            .claims(&fresh.id_token_verifier(), &nonce)
            .map_err(|e| anyhow::anyhow!("{first}; with fresh keys: {e}"))?;
    }
    // Verified: its payload is read as it is, for the configured claims.
    let raw = token.to_string();
    let payload = raw
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("malformed ID token"))?;
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?;
    let claims: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes)?;
    Ok((claims, raw))
}

/// The active account linked to `identity` at provider `p`, and its role. An invited account
/// that has not chosen a password is linked at its first login when the identity is its email.
async fn account_for(
    c: &mut impl Conn,
    p: &OidcProvider,
    identity: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<Option<(i64, String)>> {
    let linked: Option<(i64, String)> = dispatch!(c, c => sqlx::query_as(
        "SELECT u.id, u.role FROM sso_identities s JOIN users u ON u.id = s.user_id \
         WHERE s.provider = $1 AND s.identity = $2 AND u.active",
    )
    .bind(&p.id)
    .bind(identity)
    .fetch_optional(&mut *c)
    .await)?;
    if linked.is_some() || p.identity_claim != "email" {
        return Ok(linked);
    }
    let invited: Option<(i64, String)> = dispatch!(c, c => sqlx::query_as(
        "SELECT u.id, u.role FROM users u WHERE u.email = $1 AND u.active AND u.password_hash IS NULL \
         AND NOT EXISTS (SELECT 1 FROM sso_identities s WHERE s.user_id = u.id AND s.provider = $2)",
    )
    .bind(users::normalise_email(identity))
    .bind(&p.id)
    .fetch_optional(&mut *c)
    .await)?;
    if let Some((id, _)) = &invited {
        insert_link(c, &p.id, identity, *id, now).await?;
        tracing::info!(user_id = id, provider = %p.id, "identity linked at its first login");
    }
    Ok(invited)
}

/// Creates an account with no role and no scope for an unknown identity whose `email` claim no
/// account uses, linked to it, for the admin to complete (`create_accounts`); whether it did.
async fn created(
    c: &mut impl Conn,
    p: &OidcProvider,
    identity: &str,
    claims: &serde_json::Map<String, serde_json::Value>,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<bool> {
    let Some(email) = claims
        .get("email")
        .and_then(|e| e.as_str())
        .filter(validator::ValidateEmail::validate_email)
    else {
        return Ok(false);
    };
    if users::email_taken(c, email, None).await? {
        return Ok(false);
    }
    let name = claims
        .get("name")
        .and_then(|n| n.as_str())
        .unwrap_or(email)
        .to_string();
    let id: i64 = dispatch!(c, c => sqlx::query_scalar(
        "INSERT INTO users (email, name, role, password_hash, active, created_at) VALUES ($1, $2, '', NULL, TRUE, $3) RETURNING id",
    )
    .bind(users::normalise_email(email))
    .bind(&name)
    .bind(now)
    .fetch_one(&mut *c)
    .await)?;
    insert_link(c, &p.id, identity, id, now).await?;
    tracing::info!(account = id, provider = %p.id, "account created at its first login, waiting for a role");
    Ok(true)
}

/// Links `identity` at `provider` to the account `user_id` (replacing an earlier link of the
/// identity).
pub async fn insert_link(
    c: &mut impl Conn,
    provider: &str,
    identity: &str,
    user_id: i64,
    now: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<()> {
    dispatch!(c, c => sqlx::query(
        "INSERT INTO sso_identities (provider, identity, user_id, created_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (provider, identity) DO UPDATE SET user_id = excluded.user_id, created_at = excluded.created_at",
    )
    .bind(provider)
    .bind(identity)
    .bind(user_id)
    .bind(now)
    .execute(&mut *c)
    .await
    .map(|r| r.rows_affected()))?;
    Ok(())
}

/// Where the browser goes after the local session ended: the provider's logout when the login
/// was made there and it has one, else the login page.
pub async fn logout_target(state: &AppState, login: Option<LoggedIn>) -> String {
    let Some(login) = login else {
        return "/login".into();
    };
    let Some(p) = state.config.oidc.iter().find(|p| p.id == login.provider) else {
        return "/login".into();
    };
    match state.sso.get(p, false).await {
        Ok(Discovered {
            end_session: Some(end),
            ..
        }) => {
            let back = format!("{}/login", state.config.base_url().trim_end_matches('/'));
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("id_token_hint", &login.id_token)
                .append_pair("client_id", &p.client_id)
                .append_pair("post_logout_redirect_uri", &back)
                .finish();
            format!("{end}?{query}")
        }
        _ => "/login".into(),
    }
}

// ---- the admin links an identity ----

#[derive(Deserialize)]
struct LinkForm {
    #[serde(default)]
    provider: String,
    #[serde(default)]
    identity: String,
}

async fn link(
    State(state): State<AppState>,
    a: Auth,
    Path(id): Path<i64>,
    Form(form): Form<LinkForm>,
) -> AppResult<Response> {
    scope::admin(&a.user)?;
    provider(&state, &form.provider)?;
    let identity = form.identity.trim();
    if identity.is_empty() || identity.len() > 320 {
        let mut errors = crate::web::FieldErrors::default();
        errors.add(
            "sso-identity",
            if identity.is_empty() {
                crate::web::tkey("err.required")
            } else {
                crate::web::tkey("err.too_long")
            },
        );
        let page = super::routes::edit_user_page_for(&state, a, id, errors).await?;
        return Ok((
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            crate::web::render(page)?,
        )
            .into_response());
    }
    let now = state.now();
    let mut tx = state.db.begin().await?;
    users::by_id(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    insert_link(&mut tx, &form.provider, identity, id, now).await?;
    crate::audit::record(
        &mut tx,
        &a.user,
        crate::audit::Action::Change,
        None,
        &format!("user:{id}"),
        &format!("sso-link:{}", form.provider),
        now,
    )
    .await?;
    tx.commit().await?;
    tracing::info!(user_id = a.user.id, account = id, provider = %form.provider, "identity linked");
    Ok(Redirect::to(&format!("/admin/users/{id}")).into_response())
}
