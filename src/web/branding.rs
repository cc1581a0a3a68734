//! The municipality's logo in the header. Configured as an image file (`logo`, PNG, JPEG,
//! WebP or SVG, at most 512 KiB), read and checked once at start-up — a missing, empty, too
//! large or unrecognised file refuses the start with the path and the reason — and served
//! from memory at `/branding/logo?v=<hash>`, cached for ever like the other assets. Without
//! one the header shows the municipality's name alone; `serve --demo` shows a plain demo logo.

use std::path::Path;
use std::sync::Arc;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// The largest logo accepted.
pub const MAX_BYTES: usize = 512 * 1024;

/// The demo municipality's logo: a plain mark, no real municipality's.
const DEMO_LOGO: &[u8] = include_bytes!("../../assets/demo-logo.svg");

#[derive(Clone)]
pub struct Logo {
    /// The image as configured.
    pub bytes: Arc<[u8]>,
    pub content_type: &'static str,
    /// Changes with the file, so the URL can be cached for ever.
    pub version: String,
}

impl std::fmt::Debug for Logo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logo")
            .field("content_type", &self.content_type)
            .field("bytes", &self.bytes.len())
            .finish()
    }
}

impl Logo {
    /// Reads and checks the logo at `path`.
    pub fn load(path: &Path) -> anyhow::Result<Logo> {
        let bytes = std::fs::read(path)
            .map_err(|e| anyhow::anyhow!("logo {}: cannot be read: {e}", path.display()))?;
        Logo::from_bytes(&bytes)
            .map_err(|reason| anyhow::anyhow!("logo {}: {reason}", path.display()))
    }

    /// The demo's logo.
    pub fn demo() -> Logo {
        Logo::from_bytes(DEMO_LOGO).expect("the demo logo is a valid SVG")
    }

    /// A logo from its bytes, recognised by content (not by the file's name).
    fn from_bytes(bytes: &[u8]) -> Result<Logo, String> {
        if bytes.is_empty() {
            return Err("the file is empty".into());
        }
        if bytes.len() > MAX_BYTES {
            return Err(format!(
                "{} bytes is larger than the {MAX_BYTES} bytes allowed",
                bytes.len()
            ));
        }
        let content_type = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            "image/png"
        } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
            "image/jpeg"
        } else if bytes.len() > 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
            "image/webp"
        } else if std::str::from_utf8(bytes).is_ok_and(|s| s.contains("<svg")) {
            "image/svg+xml"
        } else {
            return Err("not a PNG, JPEG, WebP or SVG image".into());
        };
        Ok(Logo {
            bytes: bytes.into(),
            content_type,
            version: super::content_version(bytes.iter().copied()),
        })
    }

    /// Where pages link the logo.
    pub fn url(&self) -> String {
        format!("/branding/logo?v={}", self.version)
    }
}

/// `GET /branding/logo`: the configured logo, or 404. An SVG is shown only as an image: its
/// own policy forbids scripts and loads should someone open it directly.
pub async fn logo(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
) -> Response {
    let Some(logo) = state.logo.clone() else {
        return crate::error::AppError::NotFound.into_response();
    };
    let mut res = (
        [
            (header::CONTENT_TYPE, logo.content_type),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        logo.bytes.to_vec(),
    )
        .into_response();
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logos_are_recognised_by_content_and_refused_with_a_reason() {
        assert_eq!(Logo::demo().content_type, "image/svg+xml");
        assert_eq!(
            Logo::from_bytes(b"\x89PNG\r\n\x1a\nrest")
                .unwrap()
                .content_type,
            "image/png"
        );
        assert!(Logo::from_bytes(b"").unwrap_err().contains("empty"));
        assert!(
            Logo::from_bytes(b"GIF89a....")
                .unwrap_err()
                .contains("not a PNG")
        );
        let big = vec![b' '; MAX_BYTES + 1];
        assert!(Logo::from_bytes(&big).unwrap_err().contains("larger"));
        let err = Logo::load(Path::new("/no/such/logo.svg"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/no/such/logo.svg") && err.contains("cannot be read"),
            "{err}"
        );
    }
}
