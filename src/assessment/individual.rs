//! The team's position starts from the individual views of the round, so that a team does
//! not fill in the questionnaire a third time: an answer every view gave alike is filled in,
//! and an item the views answered differently is marked with each view's answer side by side
//! for the team to settle. Only each professional's newest current view counts, and only
//! views drawn from the same questionnaire as the form. Pure.

use std::collections::BTreeMap;

use super::AnswerMap;
use super::db::Assessment;

/// Where a team form starts.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Start {
    /// The answers every view gave alike.
    pub agreed: AnswerMap,
    /// Items answered differently: each view's author and answer, in the views' order.
    pub split: BTreeMap<String, Vec<(String, String)>>,
}

/// The start of the team form of questionnaire `questionnaire_id` from `views` (the round's
/// submitted individual views, oldest first).
pub fn start(views: &[Assessment], questionnaire_id: &str) -> Start {
    let mut newest: BTreeMap<i64, (usize, &Assessment)> = BTreeMap::new();
    for (i, v) in views.iter().enumerate() {
        if !v.superseded && v.questionnaire_id == questionnaire_id {
            newest.insert(v.author_id, (i, v));
        }
    }
    let mut current: Vec<(usize, &Assessment)> = newest.into_values().collect();
    current.sort_by_key(|(i, _)| *i);
    let answers: Vec<(&str, AnswerMap)> = current
        .iter()
        .map(|(_, v)| (v.author_name.as_str(), v.answer_map()))
        .collect();
    let mut out = Start::default();
    if answers.is_empty() {
        return out;
    }
    let items: std::collections::BTreeSet<&String> =
        answers.iter().flat_map(|(_, a)| a.keys()).collect();
    for item in items {
        let given: Vec<(&str, &String)> = answers
            .iter()
            .filter_map(|(who, a)| a.get(item).map(|v| (*who, v)))
            .collect();
        let first = given[0].1;
        if given.iter().all(|(_, v)| *v == first) {
            if given.len() == answers.len() {
                out.agreed.insert(item.clone(), first.clone());
            }
        } else {
            out.split.insert(
                item.clone(),
                given
                    .into_iter()
                    .map(|(who, v)| (who.to_string(), v.clone()))
                    .collect(),
            );
        }
    }
    out
}
