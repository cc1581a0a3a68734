//! Nothing lost to an expired session. A page asked for without a session is remembered, and
//! the login leads back to it (a link from a notification email survives the login). An
//! assessment form submitted with an expired session or a stale CSRF token is not refused
//! outright: its fields are kept in the visitor's server-side session (never in a log line,
//! never in the URL), the login leads back to the form, and the form is drawn again with
//! every answer and the observation as they were sent, under the same submission key — so
//! submitting it again stores one assessment. Nothing is saved as an assessment until the
//! user submits again.
//!
//! Only our own request paths are remembered, and a remembered path is used only if it is a
//! local path ([`local_path`]), so none of this can become an open redirect. The kept fields
//! live as long as the session does (its idle time), and go when they are used.

use serde::{Deserialize, Serialize};
use tower_sessions::Session;

use crate::error::AppError;

const NEXT_KEY: &str = "resume_path";
const FORM_KEY: &str = "resume_form";

/// The largest form body kept (an assessment form is a few kilobytes).
pub const MAX_KEPT_BYTES: usize = 64 * 1024;

/// A form kept across a login: the path it was posted to and its fields.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeptForm {
    pub path: String,
    pub fields: Vec<(String, String)>,
}

/// `path` if it is a path on this site: it starts with one slash, and no second slash or
/// backslash (browsers read `/\host` as `//host`) could make it leave the site.
pub fn local_path(path: &str) -> Option<&str> {
    // Visible ASCII only: browsers drop tabs and line breaks from a location (`/\t/evil` would
    // become `//evil`, another site), and a control character cannot be a header value.
    (path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && path.bytes().all(|b| b.is_ascii_graphic()))
    .then_some(path)
}

/// Whether a form posted to `path` is kept across a login: the assessment form.
pub fn keeps_form(path: &str) -> bool {
    path.strip_prefix("/children/")
        .and_then(|rest| rest.strip_suffix("/assess"))
        .is_some_and(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
}

fn session_error(e: tower_sessions::session::Error) -> AppError {
    AppError::Internal(anyhow::anyhow!("session: {e}"))
}

/// Remembers `path` as where the login should lead.
pub async fn remember_path(session: &Session, path: &str) -> Result<(), AppError> {
    if local_path(path).is_some() {
        session
            .insert(NEXT_KEY, path)
            .await
            .map_err(session_error)?;
    }
    Ok(())
}

/// Where the login leads: the remembered path, once, or the start page.
pub async fn take_path(session: &Session) -> Result<String, AppError> {
    let next: Option<String> = session.remove(NEXT_KEY).await.map_err(session_error)?;
    Ok(next
        .as_deref()
        .and_then(local_path)
        .unwrap_or("/")
        .to_string())
}

/// Keeps `form`, and the path to return to.
pub async fn keep_form(session: &Session, form: &KeptForm) -> Result<(), AppError> {
    session
        .insert(FORM_KEY, form)
        .await
        .map_err(session_error)?;
    remember_path(session, &form.path).await
}

/// Whether a kept form waits for the login.
pub async fn has_form(session: &Session) -> Result<bool, AppError> {
    Ok(session
        .get::<KeptForm>(FORM_KEY)
        .await
        .map_err(session_error)?
        .is_some())
}

/// The form kept for `path`, once.
pub async fn take_form(session: &Session, path: &str) -> Result<Option<KeptForm>, AppError> {
    let kept: Option<KeptForm> = session.get(FORM_KEY).await.map_err(session_error)?;
    match kept {
        Some(k) if k.path == path => {
            session
                .remove::<KeptForm>(FORM_KEY)
                .await
                .map_err(session_error)?;
            Ok(Some(k))
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_and_the_assessment_form() {
        for ok in ["/", "/alerts/7", "/children/3/assess?edit=1"] {
            assert_eq!(local_path(ok), Some(ok));
        }
        for bad in [
            "//evil.example",
            "/\\evil.example",
            "https://evil.example",
            "",
            "alerts",
        ] {
            assert_eq!(local_path(bad), None, "{bad}");
        }
        assert!(keeps_form("/children/12/assess"));
        for no in [
            "/children//assess",
            "/children/1x/assess",
            "/children/1/decide",
            "/login",
        ] {
            assert!(!keeps_form(no), "{no}");
        }
    }
}
