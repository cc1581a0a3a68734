//! Questionnaires and scales as files (`questionnaires/`): loading, validation with precise
//! messages, content hashes, and compilation into the scoring engine's model. The service
//! refuses to start on an invalid file, and `trivsel check` reports every problem.

pub mod format;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::scoring::{
    self, Answers, Model, ModelBand, ModelComposite, ModelDomain, ModelItem, Points, Target,
};
use format::{Aggregate, Concern, QuestionnaireFile, ScaleFile};

/// One problem in one file: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: String,
    pub key: String,
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}: {}", self.file, self.reason)
        } else {
            write!(f, "{}: {}: {}", self.file, self.key, self.reason)
        }
    }
}

/// All problems found, one per line.
#[derive(Debug, Clone)]
pub struct Problems(pub Vec<Problem>);

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} problem(s) in the questionnaire files:", self.0.len())?;
        for p in &self.0 {
            writeln!(f, "  {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

struct Check<'a> {
    file: &'a str,
    problems: Vec<Problem>,
}

impl Check<'_> {
    fn fail(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.to_string(),
            key: key.into(),
            reason: reason.into(),
        });
    }

    fn text(&mut self, key: &str, t: &format::Text) {
        if t.da.trim().is_empty() {
            self.fail(format!("{key}.da"), "missing Danish text");
        }
        if t.en.trim().is_empty() {
            self.fail(format!("{key}.en"), "missing English text");
        }
    }

    fn id(&mut self, key: &str, id: &str, seen: &mut HashSet<String>) {
        if id.is_empty()
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            self.fail(
                key,
                format!("id {id:?} must be letters a-z, digits, '-' or '_'"),
            );
        } else if !seen.insert(id.to_string()) {
            self.fail(key, format!("duplicate id {id:?}"));
        }
    }
}

/// Hex SHA-256 of a file's bytes: stored with every assessment.
pub fn content_hash(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn parse<T: serde::de::DeserializeOwned>(file: &str, text: &str) -> Result<T, Problem> {
    let de = toml::Deserializer::new(text);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let key = e.path().to_string();
        let inner = e.into_inner();
        let mut reason = inner.message().to_string();
        if let Some(span) = inner.span() {
            let line = text[..span.start.min(text.len())].lines().count().max(1);
            reason = format!("{reason} (line {line})");
        }
        Problem {
            file: file.to_string(),
            key: if key == "." { String::new() } else { key },
            reason,
        }
    })
}

/// [`parse`] of a file's bytes, which must be UTF-8 (a file saved in another encoding would
/// otherwise have its æ, ø and å silently replaced).
pub(crate) fn parse_bytes<T: serde::de::DeserializeOwned>(
    file: &str,
    bytes: &[u8],
) -> Result<T, Problem> {
    let text = std::str::from_utf8(bytes).map_err(|e| Problem {
        file: file.to_string(),
        key: String::new(),
        reason: format!(
            "not UTF-8 text (byte {}): save the file as UTF-8",
            e.valid_up_to()
        ),
    })?;
    parse(file, text)
}

/// A loaded scale.
#[derive(Debug, Clone)]
pub struct Scale {
    pub file: String,
    pub hash: String,
    pub def: ScaleFile,
}

impl Scale {
    pub fn top(&self) -> usize {
        self.def.levels.len() - 1
    }

    pub fn level(&self, index: usize) -> &format::Level {
        &self.def.levels[index.min(self.top())]
    }

    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.def.levels.iter().position(|l| l.id == id)
    }
}

pub fn validate_scale(file: &str, def: &ScaleFile) -> Vec<Problem> {
    let mut c = Check {
        file,
        problems: Vec::new(),
    };
    if def.id.is_empty() {
        c.fail("id", "missing");
    }
    if def.version == 0 {
        c.fail("version", "must be 1 or higher");
    }
    c.text("name", &def.name);
    if !(3..=5).contains(&def.levels.len()) {
        c.fail(
            "levels",
            format!(
                "a scale has 3 to 5 levels, this one has {}",
                def.levels.len()
            ),
        );
    }
    let mut seen = HashSet::new();
    for (i, l) in def.levels.iter().enumerate() {
        let key = format!("levels[{i}]");
        c.id(&format!("{key}.id"), &l.id, &mut seen);
        let hex = l
            .colour
            .strip_prefix('#')
            .filter(|h| h.len() == 6 && h.chars().all(|ch| ch.is_ascii_hexdigit()));
        if hex.is_none() {
            c.fail(
                format!("{key}.colour"),
                format!("{:?} is not a colour like #2e7d32", l.colour),
            );
        }
        c.text(&format!("{key}.name"), &l.name);
        c.text(&format!("{key}.description"), &l.description);
        c.text(&format!("{key}.handleguide.now"), &l.handleguide.now);
        if i > 0 && l.handleguide.involve.is_empty() {
            c.fail(
                format!("{key}.handleguide.involve"),
                "say who must be involved at this level",
            );
        }
    }
    c.problems
}

/// A loaded, valid questionnaire compiled against the configured scale.
#[derive(Debug, Clone)]
pub struct Questionnaire {
    pub file: String,
    pub hash: String,
    /// The file's text, kept by the database under its hash so that every assessment can
    /// always be shown and scored with the version it was made with.
    pub text: Arc<str>,
    pub def: QuestionnaireFile,
    pub model: Model,
}

impl Questionnaire {
    /// Reads and compiles a questionnaire file's bytes (UTF-8) against `scale`; `file` names it
    /// in problems.
    pub fn from_bytes(file: &str, bytes: &[u8], scale: &Scale) -> Result<Questionnaire, Problems> {
        let def: QuestionnaireFile = parse_bytes(file, bytes).map_err(|p| Problems(vec![p]))?;
        let model = compile(file, &def, scale).map_err(Problems)?;
        Ok(Questionnaire {
            file: file.to_string(),
            hash: content_hash(bytes),
            // `parse_bytes` accepted it: UTF-8.
            text: String::from_utf8_lossy(bytes).into(),
            def,
            model,
        })
    }

    /// Every item, critical item and free-text item id, in file order.
    pub fn item_ids(&self) -> impl Iterator<Item = &str> {
        self.def
            .items
            .iter()
            .map(|i| i.id.as_str())
            .chain(self.def.critical.iter().map(|c| c.id.as_str()))
            .chain(self.def.free_text.iter().map(|f| f.id.as_str()))
    }
}

/// The largest score an option may give: far beyond any instrument, and small enough that no
/// sum of them can overflow.
pub const MAX_OPTION_SCORE: i64 = 1000;
/// The most options a response set may have (answers are stored one byte each).
pub const MAX_OPTIONS: usize = 50;
/// The most items a questionnaire may have.
pub const MAX_ITEMS: usize = 500;
/// The most free-text items a questionnaire may have, and the longest answer to one.
pub const MAX_FREE_TEXT: usize = 20;
pub const MAX_FREE_TEXT_CHARS: usize = 4000;

/// A response set as the engine needs it: option values and what each gives (before reverse
/// scoring).
struct CompiledSet {
    values: Vec<String>,
    scores: Vec<Option<i64>>,
    no_score: Vec<Option<format::NoScore>>,
}

fn compile_response_sets<'a>(
    c: &mut Check,
    def: &'a QuestionnaireFile,
) -> HashMap<&'a str, CompiledSet> {
    let mut sets = HashMap::new();
    for (name, set) in &def.response_sets {
        let key = format!("response_sets.{name}");
        if set.options.iter().filter(|o| o.score.is_some()).count() < 2 {
            c.fail(
                format!("{key}.options"),
                "needs at least two scored options",
            );
        }
        if set.options.len() > MAX_OPTIONS {
            c.fail(
                format!("{key}.options"),
                format!("at most {MAX_OPTIONS} options"),
            );
        }
        let mut seen = HashSet::new();
        for (i, o) in set.options.iter().enumerate() {
            let okey = format!("{key}.options[{i}]");
            if !seen.insert(o.value.clone()) {
                c.fail(
                    format!("{okey}.value"),
                    format!("duplicate value {:?}", o.value),
                );
            }
            match (o.score, o.no_score) {
                (Some(s), None) if !(0..=MAX_OPTION_SCORE).contains(&s) => c.fail(
                    format!("{okey}.score"),
                    format!("scores are 0 to {MAX_OPTION_SCORE}"),
                ),
                (Some(_), None) | (None, Some(_)) => {}
                (Some(_), Some(_)) => c.fail(
                    format!("{okey}.no_score"),
                    "an option has a score or no_score, not both",
                ),
                (None, None) => c.fail(
                    format!("{okey}.score"),
                    "missing: give a score, or no_score = \"missing\" (counted as unanswered) or \"not_applicable\" (left out of the domain)",
                ),
            }
            c.text(&format!("{okey}.label"), &o.label);
        }
        sets.insert(
            name.as_str(),
            CompiledSet {
                values: set.options.iter().map(|o| o.value.clone()).collect(),
                scores: set
                    .options
                    .iter()
                    .map(|o| o.score.map(|s| s.clamp(0, MAX_OPTION_SCORE)))
                    .collect(),
                no_score: set.options.iter().map(|o| o.no_score).collect(),
            },
        );
    }
    sets
}

/// Resolves a list of domain ids (of the total or a composite) to indices, refusing unknown and
/// repeated ids and a mix of difficulty and strength domains (a sum of the two means nothing).
fn domain_list(
    c: &mut Check,
    key: &str,
    ids: &[String],
    index: &HashMap<&str, usize>,
    domains: &[ModelDomain],
) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        match index.get(id.as_str()) {
            Some(&d) if out.contains(&d) => c.fail(
                format!("{key}[{i}]"),
                format!("domain {id:?} is listed twice (it would be counted twice)"),
            ),
            Some(&d) => out.push(d),
            None => c.fail(
                format!("{key}[{i}]"),
                format!("domain {id:?} is not defined"),
            ),
        }
    }
    let low = out
        .iter()
        .filter(|&&d| domains.get(d).is_some_and(|x| x.low_is_concern))
        .count();
    if low > 0 && low < out.len() {
        c.fail(
            key,
            "mixes domains where a low score is the concern with domains where a high score is",
        );
    }
    out
}

/// An item's `show_if`, resolved against the items before it: (item index, option indices).
fn condition(
    c: &mut Check,
    key: &str,
    cond: &format::ShowIf,
    earlier: &[ModelItem],
) -> Option<(usize, Vec<u8>)> {
    let Some(j) = earlier.iter().position(|m| m.id == cond.item) else {
        c.fail(
            format!("{key}.show_if.item"),
            format!(
                "{:?} is not an item earlier in the file (a condition refers back)",
                cond.item
            ),
        );
        return None;
    };
    if cond.values.is_empty() {
        c.fail(
            format!("{key}.show_if.values"),
            "name at least one option value",
        );
    }
    let mut options = Vec::new();
    for (vi, v) in cond.values.iter().enumerate() {
        match earlier[j].values.iter().position(|x| x == v) {
            Some(p) => options.push(p as u8),
            None => c.fail(
                format!("{key}.show_if.values[{vi}]"),
                format!("{v:?} is not an option of item {:?}", cond.item),
            ),
        }
    }
    Some((j, options))
}

/// Checks a questionnaire against itself and `scale`; on success, its scoring model.
pub fn compile(file: &str, def: &QuestionnaireFile, scale: &Scale) -> Result<Model, Vec<Problem>> {
    let mut c = Check {
        file,
        problems: Vec::new(),
    };
    if def.id.is_empty() {
        c.fail("id", "missing");
    }
    if def.version == 0 {
        c.fail("version", "must be 1 or higher");
    }
    c.text("title", &def.title);
    if def.informant != format::Informant::Educator && !def.optional {
        c.fail(
            "optional",
            "a parent's or child's questionnaire is used beside the educators' one: set optional = true",
        );
    }
    if def.age_from > def.age_to || def.age_to > 25 {
        c.fail(
            "age_to",
            format!("age range {}–{} is not valid", def.age_from, def.age_to),
        );
    }
    let sets = compile_response_sets(&mut c, def);
    // Domains.
    let mut seen = HashSet::new();
    let mut domain_index = HashMap::new();
    for (i, d) in def.domains.iter().enumerate() {
        c.id(&format!("domains[{i}].id"), &d.id, &mut seen);
        c.text(&format!("domains[{i}].label"), &d.label);
        domain_index.insert(d.id.as_str(), i);
    }
    if def.items.len() > MAX_ITEMS {
        c.fail("items", format!("at most {MAX_ITEMS} items"));
    }
    // Items (ids share one namespace with critical items: answers are keyed by them).
    let mut item_ids = HashSet::new();
    let mut items = Vec::new();
    let mut per_domain = vec![0usize; def.domains.len()];
    let mut max_per_domain = vec![0i64; def.domains.len()];
    for (i, it) in def.items.iter().enumerate() {
        let key = format!("items[{i}]");
        c.id(&format!("{key}.id"), &it.id, &mut item_ids);
        c.text(&format!("{key}.text"), &it.text);
        if let Some(help) = &it.help {
            c.text(&format!("{key}.help"), help);
        }
        let Some(&d) = domain_index.get(it.domain.as_str()) else {
            c.fail(
                format!("{key}.domain"),
                format!("domain {:?} is not defined", it.domain),
            );
            continue;
        };
        let Some(set) = sets.get(it.responses.as_str()) else {
            c.fail(
                format!("{key}.responses"),
                format!("response set {:?} is not defined", it.responses),
            );
            continue;
        };
        let max = set.scores.iter().flatten().copied().max().unwrap_or(0);
        let min = set.scores.iter().flatten().copied().min().unwrap_or(0);
        let points = set
            .scores
            .iter()
            .zip(&set.no_score)
            .map(|(s, no)| match (s, no) {
                (Some(s), _) => Points::Score(100 * if it.reverse { max + min - s } else { *s }),
                (None, Some(format::NoScore::NotApplicable)) => Points::NotApplicable,
                (None, _) => Points::Missing,
            })
            .collect();
        let show_if = it
            .show_if
            .as_ref()
            .and_then(|cond| condition(&mut c, &key, cond, &items));
        per_domain[d] += 1;
        max_per_domain[d] += 100 * max;
        items.push(ModelItem {
            id: it.id.clone(),
            domain: d,
            values: set.values.clone(),
            points,
            show_if,
        });
    }
    for (i, cr) in def.critical.iter().enumerate() {
        c.id(&format!("critical[{i}].id"), &cr.id, &mut item_ids);
        c.text(&format!("critical[{i}].text"), &cr.text);
    }
    if def.free_text.len() > MAX_FREE_TEXT {
        c.fail(
            "free_text",
            format!("at most {MAX_FREE_TEXT} free-text items"),
        );
    }
    for (i, ft) in def.free_text.iter().enumerate() {
        let key = format!("free_text[{i}]");
        c.id(&format!("{key}.id"), &ft.id, &mut item_ids);
        c.text(&format!("{key}.text"), &ft.text);
        if let Some(help) = &ft.help {
            c.text(&format!("{key}.help"), help);
        }
        if !(1..=MAX_FREE_TEXT_CHARS).contains(&ft.max()) {
            c.fail(
                format!("{key}.max_chars"),
                format!("1 to {MAX_FREE_TEXT_CHARS} characters"),
            );
        }
    }
    let mut domains = Vec::new();
    for (i, d) in def.domains.iter().enumerate() {
        if per_domain[i] == 0 {
            c.fail(
                format!("domains[{i}]"),
                format!("domain {:?} has no items", d.id),
            );
        }
        if d.min_answered == 0 || d.min_answered > per_domain[i].max(1) {
            c.fail(
                format!("domains[{i}].min_answered"),
                format!("must be between 1 and the domain's {} items", per_domain[i]),
            );
        }
        let max = if d.aggregate == Aggregate::Mean {
            max_per_domain[i] / per_domain[i].max(1) as i64
        } else {
            max_per_domain[i]
        };
        domains.push(ModelDomain {
            id: d.id.clone(),
            items: per_domain[i],
            min_answered: d.min_answered,
            mean: d.aggregate == Aggregate::Mean,
            rounding: d.rounding,
            low_is_concern: d.concern == Concern::Low,
            max,
        });
    }
    let total = domain_list(
        &mut c,
        "total.domains",
        &def.total.domains,
        &domain_index,
        &domains,
    );
    let sum_max = |parts: &[usize]| -> i64 {
        parts
            .iter()
            .map(|&d| domains.get(d).map_or(0, |x: &ModelDomain| x.max))
            .sum()
    };
    let total_max = sum_max(&total);
    let total_low = total.first().is_some_and(|&d| domains[d].low_is_concern);
    let mut composites = Vec::new();
    let mut composite_index = HashMap::new();
    let mut composite_ids = HashSet::new();
    for (i, cp) in def.composites.iter().enumerate() {
        let key = format!("composites[{i}]");
        c.id(&format!("{key}.id"), &cp.id, &mut composite_ids);
        c.text(&format!("{key}.label"), &cp.label);
        let parts = domain_list(
            &mut c,
            &format!("{key}.domains"),
            &cp.domains,
            &domain_index,
            &domains,
        );
        if parts.len() < 2 {
            c.fail(
                format!("{key}.domains"),
                "a composite sums two or more domains",
            );
        }
        composite_index.insert(cp.id.as_str(), composites.len());
        composites.push(ModelComposite {
            id: cp.id.clone(),
            domains: parts,
            rounding: cp.rounding,
        });
    }

    // Scoring for the configured scale.
    let Some((si, scoring)) = def
        .scoring
        .iter()
        .enumerate()
        .find(|(_, s)| s.scale == scale.def.id)
    else {
        c.fail(
            "scoring",
            format!("no [[scoring]] for the configured scale {:?}", scale.def.id),
        );
        return Err(c.problems);
    };
    let mut scales_seen = HashSet::new();
    for (i, sc) in def.scoring.iter().enumerate() {
        if !scales_seen.insert(sc.scale.as_str()) {
            c.fail(
                format!("scoring[{i}].scale"),
                format!("a second [[scoring]] for scale {:?}", sc.scale),
            );
        }
    }
    // The levels this instrument may suggest: those its bands map onto, or the whole scale.
    let mut allowed = vec![scoring.levels.is_none(); scale.def.levels.len()];
    if let Some(levels) = &scoring.levels {
        let mut prev: Option<usize> = None;
        for (li, id) in levels.iter().enumerate() {
            let key = format!("scoring[{si}].levels[{li}]");
            match scale.index_of(id) {
                None => c.fail(
                    key,
                    format!("level {id:?} is not in scale {:?}", scale.def.id),
                ),
                Some(l) if prev.is_some_and(|p| l <= p) => {
                    c.fail(key, "levels must be listed lowest first, each once")
                }
                Some(l) => {
                    allowed[l] = true;
                    prev = Some(l);
                }
            }
        }
        if levels.len() < 2 || !allowed[0] {
            c.fail(
                format!("scoring[{si}].levels"),
                format!(
                    "list two or more levels, starting with the scale's lowest ({:?})",
                    scale.def.levels[0].id
                ),
            );
        }
        if !def.critical.is_empty() && !allowed[scale.top()] {
            c.fail(
                format!("scoring[{si}].levels"),
                "a critical item gives the scale's top level: list it",
            );
        }
    }
    let level_of = |c: &mut Check, key: String, id: &str| match scale.index_of(id) {
        None => {
            c.fail(
                key,
                format!("level {id:?} is not in scale {:?}", scale.def.id),
            );
            None
        }
        Some(l) if !allowed[l] => {
            c.fail(
                key,
                format!("level {id:?} is not among this block's `levels`"),
            );
            None
        }
        Some(l) => Some(l),
    };
    let mut bands = Vec::new();
    let mut reachable = vec![false; scale.def.levels.len()];
    reachable[0] = true;
    if !def.critical.is_empty() {
        reachable[scale.top()] = true;
    }
    for (bi, b) in scoring.bands.iter().enumerate() {
        let key = format!("scoring[{si}].bands[{bi}]");
        let domain = b
            .target
            .strip_prefix("domain:")
            .and_then(|id| domain_index.get(id));
        let composite = b
            .target
            .strip_prefix("composite:")
            .and_then(|id| composite_index.get(id));
        let (target, max, low) = if b.target == "total" {
            (Target::Total, total_max, total_low)
        } else if let Some(&d) = domain {
            let dm = domains.get(d);
            (
                Target::Domain(d),
                dm.map_or(0, |x| x.max),
                dm.is_some_and(|x| x.low_is_concern),
            )
        } else if let Some(&k) = composite {
            let parts = &composites[k].domains;
            (
                Target::Composite(k),
                sum_max(parts),
                parts.first().is_some_and(|&d| domains[d].low_is_concern),
            )
        } else {
            c.fail(
                format!("{key}.target"),
                format!(
                    "{:?} is neither \"total\", \"domain:<id>\" nor \"composite:<id>\" of a defined domain or composite",
                    b.target
                ),
            );
            continue;
        };
        let mut cutoffs = Vec::new();
        let mut prev: Option<(i64, usize)> = None;
        for (ci, cut) in b.cutoffs.iter().enumerate() {
            let ckey = format!("{key}.cutoffs[{ci}]");
            let Some(level) = level_of(&mut c, format!("{ckey}.level"), &cut.level) else {
                continue;
            };
            let threshold = match (low, cut.from, cut.to) {
                (false, Some(from), None) if from.is_positive() => from.centi(),
                (false, Some(_), None) => {
                    c.fail(
                        format!("{ckey}.from"),
                        "must be a number above 0 (not nan, inf, 0 or less)",
                    );
                    continue;
                }
                (true, None, Some(to)) if to.is_finite_non_negative() => to.centi(),
                (true, None, Some(_)) => {
                    c.fail(
                        format!("{ckey}.to"),
                        "must be a number of 0 or more (not nan or inf)",
                    );
                    continue;
                }
                (false, _, _) => {
                    c.fail(
                        ckey.clone(),
                        "a high score is the concern here: give `from` (at or above), not `to`",
                    );
                    continue;
                }
                (true, _, _) => {
                    c.fail(
                        ckey.clone(),
                        "a low score is the concern here (concern = \"low\"): give `to` (at or below), not `from`",
                    );
                    continue;
                }
            };
            if let Some((pt, pl)) = prev {
                let wrong_way = if low {
                    threshold >= pt
                } else {
                    threshold <= pt
                };
                if wrong_way || level <= pl {
                    c.fail(
                        ckey.clone(),
                        if low {
                            "cut-offs must fall in score as they rise in level"
                        } else {
                            "cut-offs must rise in both score and level"
                        },
                    );
                }
            }
            if level == 0 {
                c.fail(format!("{ckey}.level"), "the lowest level needs no cut-off");
            }
            if !low && threshold > max {
                c.fail(
                    format!("{ckey}.from"),
                    format!(
                        "unreachable: the highest possible score is {}",
                        max as f64 / 100.0
                    ),
                );
            } else if low && threshold >= max {
                c.fail(
                    format!("{ckey}.to"),
                    format!(
                        "every score is at or below it: the highest possible score is {}",
                        max as f64 / 100.0
                    ),
                );
            } else {
                reachable[level] = true;
            }
            prev = Some((threshold, level));
            cutoffs.push((threshold, level));
        }
        if cutoffs.is_empty() {
            c.fail(format!("{key}.cutoffs"), "needs at least one cut-off");
        }
        bands.push(ModelBand {
            target,
            low,
            cutoffs,
        });
    }
    let mut any_domain = Vec::new();
    for (ai, r) in scoring.any_domain.iter().enumerate() {
        let key = format!("scoring[{si}].any_domain[{ai}]");
        let Some(level) = level_of(&mut c, format!("{key}.level"), &r.level) else {
            continue;
        };
        if !r.from.is_positive() {
            c.fail(
                format!("{key}.from"),
                "must be a number above 0 (not nan, inf, 0 or less)",
            );
            continue;
        }
        let from = r.from.centi();
        if domains.iter().all(|d| d.low_is_concern || d.max < from) {
            c.fail(
                format!("{key}.from"),
                "unreachable: no domain can score that high",
            );
        } else {
            reachable[level] = true;
        }
        any_domain.push((from, level));
    }
    for (l, ok) in reachable.iter().enumerate() {
        if allowed[l] && !ok {
            c.fail(
                format!("scoring[{si}]"),
                format!("level {:?} can never be suggested", scale.def.levels[l].id),
            );
        }
    }
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    Ok(Model {
        items,
        domains,
        critical: def.critical.iter().map(|c| c.id.clone()).collect(),
        total,
        total_rounding: def.total.rounding,
        composites,
        bands,
        any_domain,
        levels: scale.def.levels.len(),
    })
}

/// The problems of a questionnaire's `[[scoring]]` blocks for scales other than the one in use:
/// each is compiled against its scale when that scale is in `scales/` (a folder may keep only
/// the scale it uses, beside questionnaires written for several).
fn check_other_scales(
    file: &str,
    def: &QuestionnaireFile,
    in_use: &Scale,
    scales: &[Scale],
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for block in &def.scoring {
        if block.scale == in_use.def.id {
            continue;
        }
        if let Some(other) = scales.iter().find(|s| s.def.id == block.scale)
            && let Err(p) = compile(file, def, other)
        {
            problems.extend(p);
        }
    }
    problems
}

/// The alert rules for the scale in use, with level ids resolved to ranks.
#[derive(Debug, Clone)]
pub struct Alerting {
    pub level_at_least: Option<usize>,
    pub worse_by: Option<usize>,
    pub repeat: Option<(usize, usize)>,
    pub critical: bool,
    pub deadlines: format::Deadlines,
}

/// The scale and questionnaires the service runs with.
#[derive(Debug, Clone)]
pub struct Catalogue {
    pub scale: Arc<Scale>,
    pub questionnaires: Vec<Arc<Questionnaire>>,
    pub alerting: Alerting,
    /// Earlier versions compiled on demand, by content hash (`None`: the stored text no
    /// longer compiles against the scale in use).
    earlier: Arc<std::sync::Mutex<HashMap<String, Option<Arc<Questionnaire>>>>>,
}

fn load_alerting(source: &Source, scale: &Scale, problems: &mut Vec<Problem>) -> Option<Alerting> {
    let (name, read) = source.side_file("alerts.toml");
    let bytes = match read {
        Ok(bytes) => bytes,
        Err(e) => {
            problems.push(Problem {
                file: name,
                key: String::new(),
                reason: format!("cannot read: {e}"),
            });
            return None;
        }
    };
    let file: format::AlertsFile = match parse_bytes(&name, &bytes) {
        Ok(f) => f,
        Err(p) => {
            problems.push(p);
            return None;
        }
    };
    let Some((i, rules)) = file
        .rules
        .iter()
        .enumerate()
        .find(|(_, r)| r.scale == scale.def.id)
    else {
        problems.push(Problem {
            file: name,
            key: "rules".into(),
            reason: format!("no [[rules]] for the configured scale {:?}", scale.def.id),
        });
        return None;
    };
    let mut c = Check {
        file: &name,
        problems: Vec::new(),
    };
    let mut level = |key: &str, id: &Option<String>| match id {
        None => None,
        Some(id) => match scale.index_of(id) {
            Some(r) => Some(r),
            None => {
                c.fail(
                    format!("rules[{i}].{key}"),
                    format!("level {id:?} is not in scale {:?}", scale.def.id),
                );
                None
            }
        },
    };
    let level_at_least = level("level_at_least", &rules.level_at_least);
    let repeat_level = level("repeat_level", &rules.repeat_level);
    let repeat = match (repeat_level, rules.repeat_count) {
        (Some(l), Some(n)) if n >= 2 => Some((l, n as usize)),
        (None, None) => None,
        _ => {
            c.fail(
                format!("rules[{i}].repeat_count"),
                "repeat_level and a repeat_count of 2 or more go together",
            );
            None
        }
    };
    if rules.worse_by == Some(0) {
        c.fail(format!("rules[{i}].worse_by"), "must be 1 or more");
    }
    if file.deadlines.notification_hours == 0 || file.deadlines.notification_hours > 24 {
        c.fail(
            "deadlines.notification_hours",
            "a notification must be assessed within 24 hours: 1 to 24",
        );
    }
    if file.deadlines.named_days == 0 || file.deadlines.anonymous_days == 0 {
        c.fail("deadlines", "deadlines must be at least one day");
    }
    problems.extend(c.problems);
    Some(Alerting {
        level_at_least,
        worse_by: rules.worse_by.map(|w| w as usize),
        repeat,
        critical: rules.critical,
        deadlines: file.deadlines,
    })
}

/// The questionnaires, scales and alert rules built into the binary: the shipped files, so the
/// service runs from any folder. `questionnaire_dir` replaces them; `trivsel init` writes
/// editable copies.
pub const BUILT_IN: &[(&str, &[u8])] = &[
    ("0-2.toml", include_bytes!("../../questionnaires/0-2.toml")),
    (
        "10-13.toml",
        include_bytes!("../../questionnaires/10-13.toml"),
    ),
    (
        "14-17.toml",
        include_bytes!("../../questionnaires/14-17.toml"),
    ),
    ("3-5.toml", include_bytes!("../../questionnaires/3-5.toml")),
    ("6-9.toml", include_bytes!("../../questionnaires/6-9.toml")),
    (
        "alerts.toml",
        include_bytes!("../../questionnaires/alerts.toml"),
    ),
    // Not loaded: a starting point that `trivsel init` copies (docs/questionnaires.md).
    (
        "examples/strengths-difficulties.toml",
        include_bytes!("../../questionnaires/examples/strengths-difficulties.toml"),
    ),
    (
        "retention.toml",
        include_bytes!("../../questionnaires/retention.toml"),
    ),
    (
        "scales/boernelineal.toml",
        include_bytes!("../../questionnaires/scales/boernelineal.toml"),
    ),
    (
        "scales/topi.toml",
        include_bytes!("../../questionnaires/scales/topi.toml"),
    ),
];

/// The files beside the questionnaires that are not questionnaires: the alert rules and the
/// retention policy (`crate::retention::policy`).
const SIDE_FILES: [&str; 2] = ["alerts.toml", "retention.toml"];

/// Where a catalogue's files come from.
pub enum Source<'a> {
    /// A folder: `*.toml` questionnaires, `alerts.toml` and `retention.toml`, scales in
    /// `scales/` (a sub-folder such as `examples/` is not read).
    Folder(&'a Path),
    /// The copies built into the binary ([`BUILT_IN`]).
    BuiltIn,
}

/// A file's name (as problems name it) and its bytes, or why it could not be read.
type Read = (String, Result<Vec<u8>, String>);

impl Source<'_> {
    /// What the source is called in messages.
    fn label(&self, sub: &str) -> String {
        match self {
            Source::Folder(dir) => dir.join(sub).display().to_string(),
            Source::BuiltIn => format!("built-in questionnaires/{sub}"),
        }
    }

    /// The `*.toml` files of the folder (or of `scales/`), sorted by name.
    fn files(&self, scales: bool) -> Result<Vec<Read>, Problem> {
        match self {
            Source::Folder(dir) => {
                let dir = if scales {
                    dir.join("scales")
                } else {
                    dir.to_path_buf()
                };
                let entries = std::fs::read_dir(&dir).map_err(|e| Problem {
                    file: dir.display().to_string(),
                    key: String::new(),
                    reason: format!("cannot read folder: {e}"),
                })?;
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| {
                        p.extension()
                            .is_some_and(|x| x.eq_ignore_ascii_case("toml"))
                    })
                    .filter(|p| scales || !SIDE_FILES.iter().any(|f| p.ends_with(f)))
                    .collect();
                paths.sort();
                Ok(paths
                    .into_iter()
                    .map(|p| {
                        let read = std::fs::read(&p).map_err(|e| e.to_string());
                        (p.display().to_string(), read)
                    })
                    .collect())
            }
            Source::BuiltIn => Ok(BUILT_IN
                .iter()
                .filter(|(name, _)| {
                    name.starts_with("scales/") == scales
                        && !name.starts_with("examples/")
                        && !SIDE_FILES.contains(name)
                })
                .map(|(name, bytes)| (self.label(name), Ok(bytes.to_vec())))
                .collect()),
        }
    }

    /// One of the files beside the questionnaires ([`SIDE_FILES`]).
    pub(crate) fn side_file(&self, file: &str) -> Read {
        match self {
            Source::Folder(dir) => {
                let path = dir.join(file);
                let read = std::fs::read(&path).map_err(|e| e.to_string());
                (path.display().to_string(), read)
            }
            Source::BuiltIn => (
                self.label(file),
                BUILT_IN
                    .iter()
                    .find(|(name, _)| *name == file)
                    .map(|(_, bytes)| bytes.to_vec())
                    .ok_or_else(|| "not built in".to_string()),
            ),
        }
    }
}

impl Catalogue {
    /// Loads `dir/scales/*.toml` and `dir/*.toml`, with `scale_id` as the scale in use.
    /// Every problem in every file is collected before giving up.
    pub fn load(dir: &Path, scale_id: &str) -> Result<Catalogue, Problems> {
        Self::load_from(&Source::Folder(dir), scale_id)
    }

    /// The catalogue built into the binary, with `scale_id` as the scale in use.
    pub fn built_in(scale_id: &str) -> Result<Catalogue, Problems> {
        Self::load_from(&Source::BuiltIn, scale_id)
    }

    fn load_from(source: &Source, scale_id: &str) -> Result<Catalogue, Problems> {
        let mut problems = Vec::new();
        let mut scales = Vec::new();
        match source.files(true) {
            Ok(files) => {
                for (name, read) in files {
                    match read {
                        Ok(bytes) => match parse_bytes::<ScaleFile>(&name, &bytes) {
                            Ok(def) => {
                                let p = validate_scale(&name, &def);
                                if p.is_empty() {
                                    scales.push(Scale {
                                        file: name,
                                        hash: content_hash(&bytes),
                                        def,
                                    });
                                }
                                problems.extend(p);
                            }
                            Err(p) => problems.push(p),
                        },
                        Err(e) => problems.push(Problem {
                            file: name,
                            key: String::new(),
                            reason: e,
                        }),
                    }
                }
            }
            Err(p) => problems.push(p),
        }
        // Two scale files with one id (a backup copy such as `boernelineal - Kopi.toml`) would
        // leave which one is used to the order of the file names.
        for (i, a) in scales.iter().enumerate() {
            if let Some(b) = scales[..i].iter().find(|b| b.def.id == a.def.id) {
                problems.push(Problem {
                    file: a.file.clone(),
                    key: "id".into(),
                    reason: format!("id {:?} is also used by {}", a.def.id, b.file),
                });
            }
        }
        let scale = scales.iter().find(|s| s.def.id == scale_id).cloned();
        if scale.is_none() && problems.is_empty() {
            problems.push(Problem {
                file: source.label("scales"),
                key: "id".into(),
                reason: format!("no scale with id {scale_id:?} (the configured `scale`)"),
            });
        }
        let mut questionnaires: Vec<Arc<Questionnaire>> = Vec::new();
        // Every file read, compiled or not: the checks across files see them all, so one
        // file's mistake does not hide another's.
        let mut parsed: Vec<(String, QuestionnaireFile)> = Vec::new();
        match source.files(false) {
            Ok(files) => {
                // `alerts.toml` and `retention.toml` sit beside the questionnaires.
                for (name, read) in files {
                    let bytes = match read {
                        Ok(b) => b,
                        Err(e) => {
                            problems.push(Problem {
                                file: name,
                                key: String::new(),
                                reason: e,
                            });
                            continue;
                        }
                    };
                    let def = match parse_bytes::<QuestionnaireFile>(&name, &bytes) {
                        Ok(d) => d,
                        Err(p) => {
                            problems.push(p);
                            continue;
                        }
                    };
                    parsed.push((name.clone(), def.clone()));
                    let Some(scale) = &scale else { continue };
                    match compile(&name, &def, scale) {
                        Ok(model) => {
                            // The blocks for the other scales are checked too, so a mistake
                            // there is not found only when the scale is switched.
                            problems.extend(check_other_scales(&name, &def, scale, &scales));
                            questionnaires.push(Arc::new(Questionnaire {
                                file: name,
                                hash: content_hash(&bytes),
                                // `parse_bytes` accepted it: UTF-8.
                                text: String::from_utf8_lossy(&bytes).into(),
                                def,
                                model,
                            }))
                        }
                        Err(p) => problems.extend(p),
                    }
                }
            }
            Err(p) => problems.push(p),
        }
        // Across files: unique ids, and age bands that do not overlap.
        let mut ids: BTreeMap<&str, &str> = BTreeMap::new();
        for (file, def) in &parsed {
            if let Some(other) = ids.insert(&def.id, file) {
                problems.push(Problem {
                    file: file.clone(),
                    key: "id".into(),
                    reason: format!("id {:?} is also used by {other}", def.id),
                });
            }
        }
        // The questionnaire for an age (the team's position) is never in doubt: optional
        // instruments, used only where a round names them, may overlap anything.
        let core: Vec<&(String, QuestionnaireFile)> =
            parsed.iter().filter(|(_, d)| !d.optional).collect();
        for (i, (a_file, a)) in core.iter().map(|x| (&x.0, &x.1)).enumerate() {
            for (b_file, b) in core[i + 1..].iter().map(|x| (&x.0, &x.1)) {
                if a.age_from <= b.age_to && b.age_from <= a.age_to {
                    problems.push(Problem {
                        file: b_file.clone(),
                        key: "age_from".into(),
                        reason: format!(
                            "ages {}–{} overlap with {a_file} (mark one `optional = true` to use both, the optional one in the rounds that name it)",
                            b.age_from, b.age_to
                        ),
                    });
                }
            }
        }
        if questionnaires.is_empty() && problems.is_empty() {
            problems.push(Problem {
                file: source.label(""),
                key: String::new(),
                reason: "no questionnaire files".into(),
            });
        }
        let alerting = scale
            .as_ref()
            .and_then(|s| load_alerting(source, s, &mut problems));
        match (scale, alerting) {
            (Some(scale), Some(alerting)) if problems.is_empty() => Ok(Catalogue {
                scale: Arc::new(scale),
                questionnaires,
                alerting,
                earlier: Default::default(),
            }),
            _ => Err(Problems(problems)),
        }
    }

    /// The questionnaire for a child of `age` whole years (the one the team's position is
    /// recorded with), if any band covers it.
    pub fn for_age(&self, age: i32) -> Option<&Arc<Questionnaire>> {
        let age = u32::try_from(age).ok()?;
        self.questionnaires
            .iter()
            .find(|q| !q.def.optional && q.def.age_from <= age && age <= q.def.age_to)
    }

    /// Every questionnaire a child of `age` is assessed with in a round that names the
    /// optional instruments `named`: the one for the age first, then the named optional ones
    /// whose ages cover the child, in file order.
    pub fn instruments(&self, age: i32, named: &[&str]) -> Vec<Arc<Questionnaire>> {
        let Ok(years) = u32::try_from(age) else {
            return Vec::new();
        };
        let optional = self.questionnaires.iter().filter(|q| {
            q.def.optional
                && named.contains(&q.def.id.as_str())
                && q.def.age_from <= years
                && years <= q.def.age_to
        });
        self.for_age(age)
            .into_iter()
            .chain(optional)
            .cloned()
            .collect()
    }

    /// The optional instruments a round may name.
    pub fn optional(&self) -> impl Iterator<Item = &Arc<Questionnaire>> {
        self.questionnaires.iter().filter(|q| q.def.optional)
    }

    pub fn by_id(&self, id: &str) -> Option<&Arc<Questionnaire>> {
        self.questionnaires.iter().find(|q| q.def.id == id)
    }

    /// The questionnaire with content `hash` if it is in use or was compiled before:
    /// `Some(None)` when it was found not to compile, `None` when not known yet.
    pub fn version(&self, hash: &str) -> Option<Option<Arc<Questionnaire>>> {
        if let Some(q) = self.questionnaires.iter().find(|q| q.hash == hash) {
            return Some(Some(q.clone()));
        }
        self.earlier.lock().ok()?.get(hash).cloned()
    }

    /// Compiles an earlier version's stored text against the scale in use and keeps it. A
    /// version that does not compile (written for another scale, or under rules since
    /// tightened) is remembered as such, and its assessments are shown from what was stored.
    pub fn add_version(&self, hash: &str, text: &str) -> Option<Arc<Questionnaire>> {
        let compiled =
            Questionnaire::from_bytes(&format!("version {hash:.12}"), text.as_bytes(), &self.scale)
                .ok()
                .filter(|q| q.hash == hash)
                .map(Arc::new);
        if let Ok(mut earlier) = self.earlier.lock() {
            earlier.insert(hash.to_string(), compiled.clone());
        }
        compiled
    }
}

/// Answers keyed by item id (as in a form or a JSON file), turned into the engine's
/// positional answers. Unknown ids and values are reported, not ignored.
pub fn answers_from_map(
    q: &Questionnaire,
    map: &BTreeMap<String, String>,
) -> Result<Answers, Vec<String>> {
    let mut errors = Vec::new();
    let mut known: HashSet<&str> = HashSet::new();
    let mut answers = Answers {
        items: vec![None; q.model.items.len()],
        critical: vec![None; q.model.critical.len()],
    };
    for (i, item) in q.model.items.iter().enumerate() {
        known.insert(&item.id);
        if let Some(v) = map.get(&item.id).filter(|v| !v.is_empty()) {
            match item.values.iter().position(|x| x == v) {
                Some(p) => answers.items[i] = Some(p as u8),
                None => errors.push(format!(
                    "{}: {v:?} is not one of {:?}",
                    item.id, item.values
                )),
            }
        }
    }
    for (j, id) in q.model.critical.iter().enumerate() {
        known.insert(id);
        match map.get(id).map(String::as_str) {
            None | Some("") => {}
            Some("yes" | "ja") => answers.critical[j] = Some(true),
            Some("no" | "nej") => answers.critical[j] = Some(false),
            Some(v) => errors.push(format!("{id}: {v:?} is not \"yes\" or \"no\"")),
        }
    }
    for k in map.keys() {
        if !known.contains(k.as_str()) {
            errors.push(format!("{k}: no such item in {}", q.def.id));
        }
    }
    if errors.is_empty() {
        Ok(answers)
    } else {
        Err(errors)
    }
}

/// What `trivsel score` prints.
#[derive(Debug, serde::Serialize)]
pub struct ScoreReport<'a> {
    pub questionnaire: &'a str,
    pub version: u32,
    pub hash: &'a str,
    pub scale: &'a str,
    pub level: &'a str,
    pub level_name: &'a str,
    pub outcome: scoring::Outcome,
}
