//! The translation catalogue. Every visible text lives in `locales/<lang>.toml` as a flat
//! `key = "text"` table; templates ask for texts by key. Danish is the default language.

use std::collections::HashMap;
use std::sync::LazyLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Da,
    En,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Lang::Da => "da",
            Lang::En => "en",
        }
    }

    pub fn from_code(code: &str) -> Lang {
        match code {
            "en" => Lang::En,
            _ => Lang::Da,
        }
    }
}

const DA_SOURCE: &str = include_str!("../../locales/da.toml");
const EN_SOURCE: &str = include_str!("../../locales/en.toml");

fn parse(name: &str, source: &str) -> HashMap<String, String> {
    let table: toml::Table =
        toml::from_str(source).unwrap_or_else(|e| panic!("locales/{name}.toml: {e}"));
    table
        .into_iter()
        .map(|(k, v)| match v {
            toml::Value::String(s) => (k, s),
            other => panic!("locales/{name}.toml: key {k} must be a string, got {other}"),
        })
        .collect()
}

static DA: LazyLock<HashMap<String, String>> = LazyLock::new(|| parse("da", DA_SOURCE));
static EN: LazyLock<HashMap<String, String>> = LazyLock::new(|| parse("en", EN_SOURCE));

/// Looks `key` up in the catalogue of `lang`. A missing key shows as the key itself, so a
/// gap is visible on the page (and the catalogue test fails before that can ship).
pub fn text(lang: Lang, key: &str) -> &'static str {
    let map: &'static HashMap<String, String> = match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    };
    match map.get(key) {
        Some(s) => s.as_str(),
        None => {
            tracing::warn!(key, lang = lang.code(), "missing translation");
            // Leaked once per missing key and call site; only reachable when the catalogue
            // test has been ignored.
            Box::leak(key.to_string().into_boxed_str())
        }
    }
}

/// Marks a string literal in Rust code as a catalogue key, so the catalogue test checks it.
pub const fn tkey(key: &'static str) -> &'static str {
    key
}

/// Keys of each catalogue, for the consistency test.
pub fn keys(lang: Lang) -> Vec<String> {
    let map: &HashMap<String, String> = match lang {
        Lang::Da => &DA,
        Lang::En => &EN,
    };
    let mut keys: Vec<String> = map.keys().cloned().collect();
    keys.sort();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        assert_eq!(keys(Lang::Da), keys(Lang::En));
    }

    /// Every `ctx.t("…")` in a template, every validator `message = "…"` and every `tkey("…")`
    /// in Rust must name a key of the catalogue.
    #[test]
    fn every_key_used_exists() {
        let known = keys(Lang::Da);
        let mut missing = Vec::new();
        let mut files = Vec::new();
        for dir in ["templates", "src"] {
            collect(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
                &mut files,
            );
        }
        // This file describes the markers in prose; it holds no keys of its own.
        files.retain(|f| !f.ends_with("web/i18n.rs"));
        for file in files {
            let body = std::fs::read_to_string(&file).unwrap();
            for marker in ["ctx.t(\"", "message = \"", "tkey(\""] {
                for part in body.split(marker).skip(1) {
                    let key = part.split('"').next().unwrap();
                    if !key.is_empty() && !known.iter().any(|k| k == key) {
                        missing.push(format!("{}: {key}", file.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from locales: {missing:#?}"
        );
    }

    fn collect(dir: std::path::PathBuf, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect(path, out);
            } else if path.extension().is_some_and(|e| e == "html" || e == "rs") {
                out.push(path);
            }
        }
    }
}
