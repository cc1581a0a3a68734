//! The questionnaire version an assessment was made with. Every version's text is kept in
//! `questionnaire_versions` by content hash ([`super::register_versions`]); an assessment is
//! shown, explained and corrected with its own version, never with a later file that may have
//! renamed, added or re-scored items.

use std::collections::HashSet;
use std::sync::Arc;

use crate::db::Conn;
use crate::dispatch;
use crate::questionnaire::{Catalogue, Questionnaire};

use super::AnswerMap;

/// The questionnaire with content `hash`: the file in use when it matches, else the stored
/// text of that version compiled against the scale in use (once per instance). When no text
/// was stored (versions recorded before texts were kept) or it no longer compiles, the
/// current file with the same id, as before texts were kept.
pub async fn questionnaire(
    c: &mut impl Conn,
    cat: &Catalogue,
    id: &str,
    hash: &str,
) -> anyhow::Result<Option<Arc<Questionnaire>>> {
    if let Some(known) = cat.version(hash) {
        return Ok(known.or_else(|| cat.by_id(id).cloned()));
    }
    let text: Option<Option<String>> = dispatch!(c, c => sqlx::query_scalar(
        "SELECT definition FROM questionnaire_versions WHERE hash = $1 LIMIT 1",
    )
    .bind(hash)
    .fetch_optional(&mut *c)
    .await)?;
    Ok(match text.flatten() {
        Some(text) => cat.add_version(hash, &text),
        None => None,
    }
    .or_else(|| cat.by_id(id).cloned()))
}

/// Old answers carried into the current version of the questionnaire: those whose item still
/// exists and whose option is still offered. Returns the carried answers and the ids of the
/// current version's items that the old version did not have.
pub fn carry_over(
    old: &Questionnaire,
    current: &Questionnaire,
    answers: &AnswerMap,
) -> (AnswerMap, HashSet<String>) {
    let offered = |id: &str, value: &str| {
        if current.def.critical.iter().any(|c| c.id == id) {
            return matches!(value, "yes" | "no");
        }
        current.def.items.iter().any(|i| {
            i.id == id
                && current
                    .def
                    .response_sets
                    .get(&i.responses)
                    .is_some_and(|s| s.options.iter().any(|o| o.value == value))
        })
    };
    let carried = answers
        .iter()
        .filter(|(id, value)| offered(id, value))
        .map(|(id, value)| (id.clone(), value.clone()))
        .collect();
    let before: HashSet<&str> = old.item_ids().collect();
    let new = current
        .item_ids()
        .filter(|id| !before.contains(id))
        .map(str::to_string)
        .collect();
    (carried, new)
}
