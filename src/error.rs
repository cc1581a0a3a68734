//! One error type for handlers. Users see a short Danish page without internals; the cause
//! chain goes to the log (which never carries a child's personal data: causes are SQL and I/O
//! errors, not values).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

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
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
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
    title: &'static str,
    message: &'static str,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, title, message) = match &self {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "Siden findes ikke",
                "Siden findes ikke, eller du har ikke adgang til den.",
            ),
            AppError::Unauthenticated => {
                return axum::response::Redirect::to("/login").into_response();
            }
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Ingen adgang",
                "Din rolle giver ikke adgang til denne side.",
            ),
            AppError::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "Forespørgslen kunne ikke behandles",
                "Formularen var udløbet eller ugyldig. Gå tilbage, genindlæs siden og prøv igen.",
            ),
            AppError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "Der opstod en fejl",
                    "Der opstod en fejl hos os. Prøv igen om lidt.",
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
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, title).into_response(),
        }
    }
}
