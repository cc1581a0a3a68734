//! The file formats of scales and questionnaires, as written by a municipal consultant (see
//! `docs/questionnaires.md`). Unknown keys are refused, so a misspelt key is never ignored.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A text in both languages.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    pub da: String,
    pub en: String,
}

impl Text {
    pub fn get(&self, lang: crate::web::Lang) -> &str {
        match lang {
            crate::web::Lang::Da => &self.da,
            crate::web::Lang::En => &self.en,
        }
    }
}

/// A number in a file: integer or decimal (`6` or `5.5`).
#[derive(Debug, Clone, Copy, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// In hundredths, the unit the engine counts in (no floating point in scores).
    /// Whether the number is finite and above 0 (a cut-off of `nan`, `inf`, 0 or less would
    /// place every child, or none).
    pub fn is_positive(self) -> bool {
        match self {
            Number::Int(i) => i > 0,
            Number::Float(f) => f.is_finite() && f > 0.0,
        }
    }

    pub fn centi(self) -> i64 {
        match self {
            Number::Int(i) => i.saturating_mul(100),
            Number::Float(f) => (f * 100.0).round() as i64,
        }
    }
}

/// Who the handleguide says must be involved at a level.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Involve {
    Team,
    Leader,
    Parents,
    Ppr,
    SocialWorker,
    Municipality,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Handleguide {
    /// What the educator does now.
    pub now: Text,
    pub involve: Vec<Involve>,
    /// Weeks until the position is reviewed; none at the lowest level.
    pub review_weeks: Option<u32>,
    /// The duty to notify the municipality applies at this level.
    #[serde(default)]
    pub notify: bool,
    /// What the professional must still do by the municipality's own procedure once the
    /// position is saved (shown after saving, under what Trivsel sent). Without it, a level
    /// with the duty to notify says that Trivsel's message is not the formal notification.
    #[serde(default)]
    pub procedure: Option<Text>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub id: String,
    /// `#rrggbb`, always shown together with the name (colour never speaks alone).
    pub colour: String,
    pub name: Text,
    pub description: Text,
    pub handleguide: Handleguide,
}

/// An ordered scale, from "thriving" to the most serious concern.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleFile {
    pub id: String,
    pub version: u32,
    pub name: Text,
    pub levels: Vec<Level>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseOption {
    pub value: String,
    pub score: i64,
    pub label: Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSet {
    pub options: Vec<ResponseOption>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Aggregate {
    #[default]
    Sum,
    Mean,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub id: String,
    pub label: Text,
    #[serde(default)]
    pub aggregate: Aggregate,
    /// With fewer answered items the domain has "not enough answers"; with at least this many
    /// a sum is prorated to the full number of items.
    pub min_answered: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub id: String,
    pub domain: String,
    pub text: Text,
    pub responses: String,
    /// Positively worded: the highest-scoring option means the least concern.
    #[serde(default)]
    pub reverse: bool,
}

/// An item critical on its own (signs of violence, abuse, neglect): answered yes, the child
/// is placed at the top level whatever else is answered.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Critical {
    pub id: String,
    pub text: Text,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Total {
    pub domains: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutoff {
    pub from: Number,
    pub level: String,
}

/// Banding of the total or of one domain into levels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// `total` or `domain:<id>`.
    pub target: String,
    pub cutoffs: Vec<Cutoff>,
}

/// "Any domain at or above `from` ⇒ at least `level`".
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnyDomain {
    pub from: Number,
    pub level: String,
}

/// How scores map to the levels of one scale.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scoring {
    pub scale: String,
    #[serde(default)]
    pub bands: Vec<Band>,
    #[serde(default)]
    pub any_domain: Vec<AnyDomain>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionnaireFile {
    pub id: String,
    pub version: u32,
    pub title: Text,
    /// Whole years of age, inclusive.
    pub age_from: u32,
    pub age_to: u32,
    pub response_sets: BTreeMap<String, ResponseSet>,
    pub domains: Vec<Domain>,
    pub items: Vec<Item>,
    #[serde(default)]
    pub critical: Vec<Critical>,
    pub total: Total,
    pub scoring: Vec<Scoring>,
}

/// When a team's position raises an alert, per scale (`questionnaires/alerts.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRules {
    pub scale: String,
    pub level_at_least: Option<String>,
    pub worse_by: Option<u32>,
    pub repeat_level: Option<String>,
    pub repeat_count: Option<u32>,
    #[serde(default)]
    pub critical: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deadlines {
    pub notification_hours: u32,
    pub named_days: u32,
    pub anonymous_days: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsFile {
    pub rules: Vec<AlertRules>,
    pub deadlines: Deadlines,
}
