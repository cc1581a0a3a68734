//! One error type for handlers. Users see a short page (Danish, then English) without internals; the cause
//! chain goes to the log (which never carries a child's personal data: causes are SQL and I/O
//! errors, not values).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::web::i18n::{Lang, text, tkey};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// Missing, or outside the caller's scope: the two are deliberately indistinguishable.
    #[error("not found")]
    NotFound,
    /// Not logged in.
    #[error("unauthenticated")]
    Unauthenticated,
    /// Logged in, but the role may never do this (the object's existence is not revealed).
    #[error("forbidden")]
    Forbidden,
    /// A request no form of ours produces (bad CSRF token, malformed body).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The database cannot be reached or written just now: "try again in a moment".
    #[error("database unavailable")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

/// Whether `e` says the database is out of reach (down, unreachable, its pool exhausted, a
/// connection lost) rather than that a query went wrong.
pub fn is_unavailable(e: &anyhow::Error) -> bool {
    e.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(
                sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::Io(_)
                    | sqlx::Error::Tls(_)
                    | sqlx::Error::WorkerCrashed
            )
        )
    })
}

pub type AppResult<T> = Result<T, AppError>;

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<askama::Error> for AppError {
    fn from(e: askama::Error) -> Self {
        AppError::Internal(e.into())
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    /// Catalogue keys of the title and the message. The page has no user behind it (errors
    /// arise before or outside a handler's context), so it says both in Danish and, marked
    /// `lang="en"`, in English.
    title: &'static str,
    message: &'static str,
}

impl ErrorPage {
    fn da(&self, key: &str) -> &'static str {
        text(Lang::Da, key)
    }

    fn en(&self, key: &str) -> &'static str {
        text(Lang::En, key)
    }

    fn dkfds(&self) -> &'static str {
        crate::web::dkfds::VERSION
    }

    fn assets(&self) -> &'static str {
        crate::web::asset_version()
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                tkey("error.not_found"),
                tkey("error.not_found_message"),
            ),
            AppError::Unauthenticated => {
                return axum::response::Redirect::to("/login").into_response();
            }
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                tkey("error.forbidden"),
                tkey("error.forbidden_message"),
            ),
            AppError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                tkey("error.bad_request"),
                tkey("error.bad_request_message"),
            ),
            AppError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                tkey("error.unavailable"),
                tkey("error.unavailable_message"),
            ),
            AppError::Internal(e) if is_unavailable(e) => {
                tracing::error!(error = format!("{e:#}"), "database unavailable");
                return AppError::Unavailable.into_response();
            }
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    tkey("error.internal"),
                    tkey("error.internal_message"),
                )
            }
        };
        if let AppError::BadRequest(why) = &self {
            tracing::warn!(reason = why, "bad request");
        }
        let page = ErrorPage {
            status: status.as_u16(),
            title,
            message,
        };
        let mut response = match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, text(Lang::Da, title)).into_response(),
        };
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("10"),
            );
        }
        response
    }
}
