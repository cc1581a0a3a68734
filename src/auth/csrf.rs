//! CSRF protection for every state-changing request, in one middleware so no handler can
//! forget it: the synchronizer token kept in the server-side session must come back in the
//! form (`csrf_token` field, url-encoded or multipart) or the `x-csrf-token` header, and a
//! browser-sent `Origin` must be our own.
//!
//! A visitor who is not logged in has no session to keep a token in (none is stored until it
//! holds something). The forms such a visitor posts — the login and its second step, the first
//! admin's setup, the request for a reset link and the password chosen from an emailed link —
//! are accepted without a token only when the browser says where they came from and it
//! is here: an `Origin` of our own, or `Sec-Fetch-Site: same-origin`. Browsers send at least
//! one of them on every cross-site form post, so a forged login (login CSRF) is refused, and
//! so is a post that says nothing about its origin.

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;
use tower_sessions::Session;

use crate::error::AppError;
use crate::state::AppState;

pub const FIELD: &str = "csrf_token";

pub async fn protect(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    match check(&state, req).await {
        Ok(req) => next.run(req).await,
        Err(refused) => refused,
    }
}

/// The request with its token checked, or the response that refuses it.
async fn check(state: &AppState, req: Request) -> Result<Request, Response> {
    let path = req.uri().path().to_string();
    let (session, parts, bytes) = match token_checked(state, req).await {
        Ok(Checked::Passed(req)) => return Ok(req),
        Ok(Checked::Anonymous(_, parts, bytes))
            if anonymous_form(&path) && declared_same_origin(&parts.headers) =>
        {
            return Ok(Request::from_parts(parts, Body::from(bytes)));
        }
        Ok(Checked::Failed(session, parts, bytes) | Checked::Anonymous(session, parts, bytes)) => {
            (session, parts, bytes)
        }
        Err(e) => return Err(e.into_response()),
    };
    // An assessment form posted with an expired session or a stale token keeps its answers:
    // they wait in the session, and the login (or, if still logged in, a fresh form) leads
    // back to them (see `resume`).
    let urlencoded = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/x-www-form-urlencoded"));
    if super::resume::keeps_form(&path)
        && urlencoded
        && bytes.len() <= super::resume::MAX_KEPT_BYTES
    {
        let kept = super::resume::KeptForm {
            fields: form_urlencoded::parse(&bytes)
                .filter(|(k, _)| k != FIELD)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
            path: path.clone(),
        };
        let logged_in = session
            .get::<i64>(super::USER_KEY)
            .await
            .ok()
            .flatten()
            .is_some();
        return Err(match super::resume::keep_form(&session, &kept).await {
            Ok(()) if logged_in => axum::response::Redirect::to(&path).into_response(),
            Ok(()) => axum::response::Redirect::to("/login").into_response(),
            Err(e) => e.into_response(),
        });
    }
    Err(AppError::BadRequest("missing or wrong CSRF token").into_response())
}

enum Checked {
    Passed(Request),
    /// The token is missing or wrong: the session and the request as read.
    Failed(Session, axum::http::request::Parts, axum::body::Bytes),
    /// The session holds no token (a visitor not logged in): the same.
    Anonymous(Session, axum::http::request::Parts, axum::body::Bytes),
}

/// The forms a visitor who is not logged in posts.
fn anonymous_form(path: &str) -> bool {
    path == "/login"
        || path == "/login/code"
        || path == "/two-factor/setup"
        || path == "/password/forgot"
        || path.starts_with("/setup/")
        || path.starts_with("/account/")
}

/// Whether the browser declared that the request comes from our own pages. The `Origin` itself
/// was checked already: if present, it is ours.
fn declared_same_origin(headers: &HeaderMap) -> bool {
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    match fetch_site {
        Some(site) => site == "same-origin",
        None => headers.contains_key(header::ORIGIN),
    }
}

async fn token_checked(state: &AppState, req: Request) -> Result<Checked, AppError> {
    if !origin_ok(req.headers(), state.config.public_url.as_deref()) {
        return Err(AppError::BadRequest("cross-origin request"));
    }
    let session = req
        .extensions()
        .get::<Session>()
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("session layer missing"))?;
    let expected: Option<String> = session
        .get(super::CSRF_KEY)
        .await
        .map_err(|e| anyhow::anyhow!("read session: {e}"))?;
    let (parts, body) = req.into_parts();
    let bytes = to_bytes(body, state.config.body_limit_bytes)
        .await
        .map_err(|_| AppError::BadRequest("request body too large or unreadable"))?;
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();

    let sent = if content_type.starts_with("application/x-www-form-urlencoded") {
        // Only the token is wanted: the pairs are decoded one by one, without copying the
        // rest of the form (the handler parses it).
        form_urlencoded::parse(&bytes)
            .find(|(k, _)| k == FIELD)
            .map(|(_, v)| v.into_owned())
    } else if content_type.starts_with("multipart/form-data") {
        multipart_token(&parts, bytes.clone()).await
    } else {
        None
    };
    let sent = sent.or_else(|| {
        parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    });
    match (sent, expected) {
        (Some(sent), Some(expected)) if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) => {
            Ok(Checked::Passed(Request::from_parts(
                parts,
                Body::from(bytes),
            )))
        }
        (_, None) => Ok(Checked::Anonymous(session, parts, bytes)),
        _ => Ok(Checked::Failed(session, parts, bytes)),
    }
}

async fn multipart_token(
    parts: &axum::http::request::Parts,
    bytes: axum::body::Bytes,
) -> Option<String> {
    let mut req = Request::new(Body::from(bytes));
    *req.headers_mut() = parts.headers.clone();
    // The extensions carry the configured body limit; without them the multipart reader
    // falls back to its own 2 MiB and refuses a larger upload as if its token were wrong.
    *req.extensions_mut() = parts.extensions.clone();
    let mut form = Multipart::from_request(req, &()).await.ok()?;
    while let Ok(Some(field)) = form.next_field().await {
        if field.name() == Some(FIELD) {
            return field.text().await.ok();
        }
    }
    None
}

/// A request without `Origin` (not from a browser, or an old one) passes on the token alone.
/// With one, it must be the configured public origin, or else match the `Host` it was sent to.
fn origin_ok(headers: &HeaderMap, public_url: Option<&str>) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    if let Some(public) = public_url {
        return origin == public.trim_end_matches('/');
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    matches!((origin_host, host), (Some(o), Some(h)) if o == h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(origin: Option<&'static str>, host: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static(host));
        if let Some(o) = origin {
            h.insert(header::ORIGIN, HeaderValue::from_static(o));
        }
        h
    }

    #[test]
    fn origin_rules() {
        assert!(origin_ok(&headers(None, "a:1"), None));
        assert!(origin_ok(&headers(Some("http://a:1"), "a:1"), None));
        assert!(!origin_ok(&headers(Some("http://evil:1"), "a:1"), None));
        assert!(!origin_ok(&headers(Some("null"), "a:1"), None));
        let public = Some("https://trivsel.kommune.dk/");
        assert!(origin_ok(
            &headers(Some("https://trivsel.kommune.dk"), "x"),
            public
        ));
        assert!(!origin_ok(
            &headers(Some("http://trivsel.kommune.dk"), "x"),
            public
        ));
    }
}
