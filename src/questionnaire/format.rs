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
    /// Whether the number is finite and above 0 (a cut-off of `nan`, `inf`, 0 or less would
    /// place every child, or none).
    pub fn is_positive(self) -> bool {
        match self {
            Number::Int(i) => i > 0,
            Number::Float(f) => f.is_finite() && f > 0.0,
        }
    }

    /// Whether the number is finite and 0 or more (an "at most" cut-off may be 0).
    pub fn is_finite_non_negative(self) -> bool {
        match self {
            Number::Int(i) => i >= 0,
            Number::Float(f) => f.is_finite() && f >= 0.0,
        }
    }

    /// In hundredths, the unit the engine counts in (no floating point in scores).
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

/// What an option without a score means.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NoScore {
    /// Counted as unanswered: the domain is prorated over the answered items ("ved ikke").
    Missing,
    /// Counted neither as a score nor as missing: the item is left out of its domain
    /// ("ikke relevant").
    NotApplicable,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseOption {
    pub value: String,
    /// Absent on an option that gives no score; then `no_score` says what it means.
    pub score: Option<i64>,
    pub no_score: Option<NoScore>,
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

/// How a prorated, averaged or summed score is rounded: written `none`, `half_up` or
/// `half_even` (the engine's own type).
pub use crate::scoring::Rounding;

/// Which end of a domain's scores is the concern.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Concern {
    /// Difficulties: the higher the score, the greater the concern.
    #[default]
    High,
    /// Strengths (e.g. prosocial behaviour): a low score is the concern; its cut-offs are
    /// written with `to` ("at most").
    Low,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Domain {
    pub id: String,
    pub label: Text,
    #[serde(default)]
    pub aggregate: Aggregate,
    #[serde(default)]
    pub rounding: Rounding,
    #[serde(default)]
    pub concern: Concern,
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
    /// Shown under the item on the form.
    pub help: Option<Text>,
    /// Asked only when an earlier item was answered with one of `values`; otherwise it is left
    /// out of its domain, whatever was answered.
    pub show_if: Option<ShowIf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShowIf {
    /// The id of an earlier item.
    pub item: String,
    /// Option values of that item.
    pub values: Vec<String>,
}

/// A question answered in the professional's own words: shown on the form and the
/// assessment, never scored, and deleted with the other free text (`retention.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FreeText {
    pub id: String,
    pub text: Text,
    pub help: Option<Text>,
    /// The longest answer, in characters (default 1000).
    pub max_chars: Option<usize>,
}

impl FreeText {
    pub fn max(&self) -> usize {
        self.max_chars.unwrap_or(1000)
    }
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
    /// Applied to the sum of the domains' (already rounded) scores.
    #[serde(default)]
    pub rounding: Rounding,
}

/// A named sum of domains with its own cut-offs (band target `composite:<id>`); a domain may
/// belong to several.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Composite {
    pub id: String,
    pub label: Text,
    pub domains: Vec<String>,
    #[serde(default)]
    pub rounding: Rounding,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cutoff {
    /// At or above: for targets where a high score is the concern.
    pub from: Option<Number>,
    /// At or below: for a domain (or a composite of domains) where a low score is the concern.
    pub to: Option<Number>,
    pub level: String,
}

/// Banding of the total or of one domain into levels.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Band {
    /// `total`, `domain:<id>` or `composite:<id>`.
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
    /// The scale's levels this instrument's bands map onto, lowest first (a three-band
    /// instrument on a four-level scale may skip one). Only these may be named, and each must
    /// be reachable; without it every level of the scale must be.
    pub levels: Option<Vec<String>>,
    #[serde(default)]
    pub bands: Vec<Band>,
    #[serde(default)]
    pub any_domain: Vec<AnyDomain>,
}

/// Whose view a questionnaire records.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Informant {
    /// The child's educators or teachers (the team's position is always recorded with one).
    #[default]
    Educator,
    /// The parents, answered at a meeting or on paper and entered by staff.
    Parent,
    /// The child's own voice, asked by staff.
    Child,
}

impl Informant {
    /// As written in a file.
    pub fn as_str(self) -> &'static str {
        match self {
            Informant::Educator => "educator",
            Informant::Parent => "parent",
            Informant::Child => "child",
        }
    }

    /// The locale key of its name.
    pub fn label_key(self) -> &'static str {
        match self {
            Informant::Educator => "informant.educator",
            Informant::Parent => "informant.parent",
            Informant::Child => "informant.child",
        }
    }
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
    #[serde(default)]
    pub informant: Informant,
    /// Used only in the rounds that name it, beside the questionnaire for the child's age;
    /// its ages may overlap others'. Without it the file is the questionnaire for its ages
    /// (the team's position), and no two such files may share an age.
    #[serde(default)]
    pub optional: bool,
    pub response_sets: BTreeMap<String, ResponseSet>,
    pub domains: Vec<Domain>,
    pub items: Vec<Item>,
    #[serde(default)]
    pub critical: Vec<Critical>,
    #[serde(default)]
    pub free_text: Vec<FreeText>,
    pub total: Total,
    #[serde(default)]
    pub composites: Vec<Composite>,
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
