//! What every page shares: the layout context, rendering, form errors and static assets.

pub mod branding;
pub mod csv;
pub mod i18n;
pub mod pager;
pub mod time;

pub use pager::Pager;

use std::collections::HashMap;
use std::sync::LazyLock;

use askama::Template;
use axum::Router;
use axum::extract::Path;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

use crate::auth::{CurrentUser, Role};
use crate::error::AppResult;
use crate::state::AppState;
pub use i18n::{Lang, tkey};

/// Layout context for `templates/base.html`: who is logged in, the language, the CSRF token for
/// forms, and the municipality's name.
#[derive(Debug, Clone)]
pub struct PageCtx {
    pub user: Option<CurrentUser>,
    pub lang: Lang,
    pub csrf: String,
    pub municipality: String,
    /// The page's own path and query, for "come back here" (the language switch); empty
    /// for anything but a GET.
    pub path: String,
    /// The municipality's time zone, in which every time is shown.
    pub tz: chrono_tz::Tz,
    /// For an admin: emails that need attention (undelivered for over an hour, or given up
    /// lately), shown as a warning on every page; 0 for everyone else.
    pub mail_warning: i64,
    /// The municipality's logo's URL, when one is configured.
    pub logo: Option<String>,
    /// How many alerts hold a message the user has not read (the menu shows it).
    pub unread: i64,
}

impl PageCtx {
    /// `at` as a local date and time ("25-10-2026 13:00").
    pub fn datetime(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time::datetime(self.tz, *at)
    }

    /// `at` as a local time to the second ("25-10-2026 02:59:07").
    pub fn timestamp(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time::timestamp(self.tz, *at)
    }

    /// `at` as a local date ("25-10-2026").
    pub fn date(&self, at: &chrono::DateTime<chrono::Utc>) -> String {
        time::date(self.tz, *at)
    }

    /// The text for `key` in the page's language.
    pub fn t(&self, key: &str) -> &'static str {
        i18n::text(self.lang, key)
    }

    pub fn lang_code(&self) -> &'static str {
        self.lang.code()
    }

    pub fn asset_version(&self) -> &'static str {
        &ASSET_VERSION
    }

    /// Whether the menu item for `href` is the page being shown (or the page's section):
    /// `/` only on the front page, any other item on its own path and below it.
    pub fn current(&self, href: &str) -> bool {
        let path = self.path.split(['?', '#']).next().unwrap_or_default();
        if href == "/" {
            return path == "/";
        }
        path == href
            || path
                .strip_prefix(href)
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// Where the vendored design system is served (its version in the path).
    pub fn dkfds(&self) -> String {
        format!("/assets/dkfds/{}", dkfds::VERSION)
    }

    pub fn is(&self, role: &str) -> bool {
        self.user.as_ref().is_some_and(|u| u.role.as_str() == role)
    }

    pub fn role_name(&self) -> &'static str {
        match &self.user {
            Some(u) => self.t(u.role.label_key()),
            None => "",
        }
    }

    pub fn is_admin(&self) -> bool {
        self.user.as_ref().is_some_and(|u| u.role == Role::Admin)
    }
}

/// Renders a page template into an HTML response.
pub fn render(page: impl Template) -> AppResult<Html<String>> {
    Ok(Html(page.render()?))
}

/// Messages per form field, as catalogue keys; a form that fails validation is rendered again
/// with the user's input and these beside each field.
#[derive(Debug, Clone, Default)]
pub struct FieldErrors(HashMap<String, &'static str>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, key: &'static str) {
        self.0.entry(field.to_string()).or_insert(key);
    }

    pub fn get(&self, field: &str) -> Option<&'static str> {
        self.0.get(field).copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `validator` errors of a form, keyed by field; each rule's `message` is a catalogue key.
    pub fn from_validation(errors: &validator::ValidationErrors) -> FieldErrors {
        let mut out = FieldErrors::default();
        for (field, errs) in errors.field_errors() {
            if let Some(first) = errs.first() {
                let key = match &first.message {
                    Some(std::borrow::Cow::Borrowed(k)) => k,
                    _ => "err.invalid",
                };
                out.add(&field, key);
            }
        }
        out
    }
}

/// A `validator` rule: the field must hold more than white space.
pub fn not_blank(value: &str) -> Result<(), validator::ValidationError> {
    if value.trim().is_empty() {
        Err(validator::ValidationError::new("blank")
            .with_message(std::borrow::Cow::Borrowed(tkey("err.required"))))
    } else {
        Ok(())
    }
}

const APP_CSS: &str = include_str!("../../assets/app.css");
const LIVE_JS: &str = include_str!("../../assets/live.js");
const PRINT_JS: &str = include_str!("../../assets/print.js");

/// FNV-1a of `bytes` as 16 hex digits: a version that changes whenever the content does, so
/// that a URL carrying it can be cached for ever.
pub fn content_version(bytes: impl IntoIterator<Item = u8>) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

static ASSET_VERSION: LazyLock<String> = LazyLock::new(|| {
    content_version(
        APP_CSS
            .bytes()
            .chain(LIVE_JS.bytes())
            .chain(PRINT_JS.bytes()),
    )
});

/// The version the URLs of the built-in assets carry.
pub fn asset_version() -> &'static str {
    &ASSET_VERSION
}

/// A file built into the binary, cached for ever (its URL carries the asset version).
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
}

/// Det Fælles Designsystem, vendored in assets/dkfds/ and embedded by build.rs.
pub mod dkfds {
    include!(concat!(env!("OUT_DIR"), "/dkfds.rs"));

    /// The file at `path` under the vendored package, with its content type.
    pub fn file(path: &str) -> Option<(&'static str, &'static [u8])> {
        let (_, body) = FILES.iter().find(|(p, _)| *p == path)?;
        let kind = match path.rsplit('.').next()? {
            "css" => "text/css; charset=utf-8",
            "svg" => "image/svg+xml",
            "png" => "image/png",
            "woff2" => "font/woff2",
            "woff" => "font/woff",
            "ttf" => "font/ttf",
            "eot" => "application/vnd.ms-fontobject",
            _ => "application/octet-stream",
        };
        Some((kind, body))
    }
}

/// A vendored design-system file. Its URL carries the package's version, so it is cached for
/// ever like the other assets; an unknown path or version is a 404.
async fn dkfds_file(Path((version, path)): Path<(String, String)>) -> axum::response::Response {
    match dkfds::file(&path).filter(|_| version == dkfds::VERSION) {
        Some((kind, body)) => (
            [
                (header::CONTENT_TYPE, kind),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            ],
            body,
        )
            .into_response(),
        None => crate::error::AppError::NotFound.into_response(),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/assets/dkfds/{version}/{*path}", get(dkfds_file))
        .route("/branding/logo", get(branding::logo))
        .route(
            "/assets/app.css",
            get(|| async { asset("text/css; charset=utf-8", APP_CSS) }),
        )
        // The assessment form's live suggestion (progressive enhancement; see the file).
        .route(
            "/assets/live.js",
            get(|| async { asset("text/javascript; charset=utf-8", LIVE_JS) }),
        )
        // The print view's button (progressive enhancement; see the file).
        .route(
            "/assets/print.js",
            get(|| async { asset("text/javascript; charset=utf-8", PRINT_JS) }),
        )
}
