//! The scoring engine: answers + questionnaire + scale → domain scores, total, the suggested
//! level and the reasons for it. Pure: no I/O, no clock, no database, no allocation beyond
//! the outcome. Scores are counted in hundredths (integers), so prorating is exact enough and
//! stores as an integer on both databases.
//!
//! The suggestion is only a suggestion: the professional decides the position.

use serde::{Serialize, Serializer};

/// Scores are counted in hundredths but shown as numbers (`650` is written `6.5`).
fn centi<S: Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*v as f64 / 100.0)
}

fn centi_opt<S: Serializer>(v: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => centi(v, s),
        None => s.serialize_none(),
    }
}

/// What choosing one option gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Points {
    /// A score in hundredths, reverse scoring already applied.
    Score(i64),
    /// No score, and the item counts as unanswered ("ved ikke" where the file says so).
    Missing,
    /// No score, and the item counts neither as answered nor as missing: it is left out of
    /// its domain ("ikke relevant").
    NotApplicable,
}

impl Points {
    pub fn score(self) -> Option<i64> {
        match self {
            Points::Score(s) => Some(s),
            Points::Missing | Points::NotApplicable => None,
        }
    }
}

/// One item compiled for scoring.
#[derive(Debug, Clone)]
pub struct ModelItem {
    pub id: String,
    pub domain: usize,
    /// Option values in file order.
    pub values: Vec<String>,
    /// What each option gives, in file order.
    pub points: Vec<Points>,
    /// Asked only when the earlier item (by index) was answered with one of these options
    /// (indices) and was itself asked; otherwise left out of its domain.
    pub show_if: Option<(usize, Vec<u8>)>,
}

/// How a score is rounded once prorated, averaged or summed (as a questionnaire file writes
/// it: `none`, `half_up`, `half_even`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// Kept to hundredths (half up at the third decimal).
    #[default]
    #[serde(rename = "none")]
    Hundredths,
    /// A whole number, halves rounded up (most published instruments' prorating).
    HalfUp,
    /// A whole number, halves rounded to the even neighbour.
    HalfEven,
}

impl Rounding {
    /// `num / den` (hundredths) rounded by this rule, in hundredths. `den` > 0, `num` ≥ 0.
    pub fn apply(self, num: i64, den: i64) -> i64 {
        match self {
            Rounding::Hundredths => div_round(num, den),
            Rounding::HalfUp => div_round(num, den * 100) * 100,
            Rounding::HalfEven => {
                let d = den * 100;
                let (q, r) = (num / d, num % d);
                let up = 2 * r > d || (2 * r == d && q % 2 == 1);
                (q + i64::from(up)) * 100
            }
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelDomain {
    pub id: String,
    pub items: usize,
    pub min_answered: usize,
    pub mean: bool,
    pub rounding: Rounding,
    /// A strengths domain: a low score is the concern, and its cut-offs are "at most".
    pub low_is_concern: bool,
    /// Largest score the domain can reach, in hundredths.
    pub max: i64,
}

/// A sum of domains with its own cut-offs (e.g. internalising = emotional + peer).
#[derive(Debug, Clone)]
pub struct ModelComposite {
    pub id: String,
    pub domains: Vec<usize>,
    pub rounding: Rounding,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Total,
    Domain(usize),
    Composite(usize),
}

/// Cut-offs of one target, with ascending level index. For a target where a high score is the
/// concern, `threshold` rises and a score at or above it reaches the level; where a low score
/// is the concern (`low`), `threshold` falls and a score at or below it reaches the level.
#[derive(Debug, Clone)]
pub struct ModelBand {
    pub target: Target,
    pub low: bool,
    pub cutoffs: Vec<(i64, usize)>,
}

/// A questionnaire compiled against one scale: everything the engine needs, by index.
#[derive(Debug, Clone)]
pub struct Model {
    pub items: Vec<ModelItem>,
    pub domains: Vec<ModelDomain>,
    pub critical: Vec<String>,
    /// Indices of the domains summed into the total.
    pub total: Vec<usize>,
    pub total_rounding: Rounding,
    pub composites: Vec<ModelComposite>,
    pub bands: Vec<ModelBand>,
    /// (from, level) pairs for "any domain at or above" (domains where a high score is the
    /// concern).
    pub any_domain: Vec<(i64, usize)>,
    /// Number of levels of the scale; the top level is `levels - 1`.
    pub levels: usize,
}

/// Answers by position: `items[i]` is the chosen option of item `i`, `critical[j]` whether
/// critical item `j` was answered yes (`None`: not answered).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub items: Vec<Option<u8>>,
    pub critical: Vec<Option<bool>>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DomainScore {
    pub id: String,
    /// Hundredths; `None` when fewer than `min_answered` items were answered.
    #[serde(serialize_with = "centi_opt")]
    pub score: Option<i64>,
    pub answered: usize,
    pub items: usize,
    /// Items answered "not applicable": left out of the domain.
    #[serde(skip_serializing_if = "is_zero")]
    pub not_applicable: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CompositeScore {
    pub id: String,
    /// Hundredths; `None` when one of its domains has no score.
    #[serde(serialize_with = "centi_opt")]
    pub score: Option<i64>,
}

/// Why the engine suggests what it suggests.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A critical item was answered yes.
    Critical { item: String, level: usize },
    /// A score reached a cut-off: at or above `from`, or at or below it when `low`.
    Band {
        target: String,
        #[serde(serialize_with = "centi")]
        score: i64,
        #[serde(serialize_with = "centi")]
        from: i64,
        level: usize,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        low: bool,
    },
    /// A domain reached the "any domain" rule.
    AnyDomain {
        domain: String,
        #[serde(serialize_with = "centi")]
        score: i64,
        #[serde(serialize_with = "centi")]
        from: i64,
        level: usize,
    },
    /// A target could not be scored: too few answers.
    NotEnoughAnswers { target: String },
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Outcome {
    pub domains: Vec<DomainScore>,
    /// Hundredths; `None` when a domain of the total has too few answers.
    #[serde(serialize_with = "centi_opt")]
    pub total: Option<i64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub composites: Vec<CompositeScore>,
    /// Index into the scale's levels (0 = thriving).
    pub level: usize,
    pub reasons: Vec<Reason>,
}

fn target_name(model: &Model, t: Target) -> String {
    match t {
        Target::Total => "total".to_string(),
        Target::Domain(d) => format!("domain:{}", model.domains[d].id),
        Target::Composite(c) => format!("composite:{}", model.composites[c].id),
    }
}

/// Divides rounding half away from zero (scores are never negative).
fn div_round(n: i64, d: i64) -> i64 {
    (2 * n + d) / (2 * d)
}

/// Which items are asked: an item with a condition only when its earlier item was asked and
/// answered with one of the condition's options.
pub fn asked(model: &Model, answers: &Answers) -> Vec<bool> {
    let mut asked = Vec::with_capacity(model.items.len());
    for item in &model.items {
        let shown = match &item.show_if {
            None => true,
            Some((j, options)) => {
                asked.get(*j).copied().unwrap_or(false)
                    && answers
                        .items
                        .get(*j)
                        .copied()
                        .flatten()
                        .is_some_and(|o| options.contains(&o))
            }
        };
        asked.push(shown);
    }
    asked
}

/// The sum of `parts`' scores rounded by `rounding`; `None` when one has no score.
fn sum_of(domains: &[DomainScore], parts: &[usize], rounding: Rounding) -> Option<i64> {
    let sum = parts
        .iter()
        .try_fold(0i64, |acc, &d| domains[d].score.map(|s| acc + s))?;
    Some(rounding.apply(sum, 1))
}

/// Scores `answers` with `model`. Answers of the wrong length or with an option index out of
/// range count as unanswered; the web form and `trivsel score` never produce them.
///
/// A domain with `n` of its `k` applicable items answered (items answered "not applicable" are
/// left out) and at least `min_answered` answers scores, before rounding, the sum prorated to
/// `k` items (`sum · k / n`), or for a mean domain the mean of the answers.
pub fn score(model: &Model, answers: &Answers) -> Outcome {
    let mut sums = vec![0i64; model.domains.len()];
    let mut answered = vec![0usize; model.domains.len()];
    let mut excluded = vec![0usize; model.domains.len()];
    let asked = asked(model, answers);
    for (i, item) in model.items.iter().enumerate() {
        if !asked[i] {
            excluded[item.domain] += 1;
            continue;
        }
        let Some(Some(choice)) = answers.items.get(i) else {
            continue;
        };
        match item.points.get(usize::from(*choice)) {
            Some(Points::Score(s)) => {
                sums[item.domain] += s;
                answered[item.domain] += 1;
            }
            Some(Points::NotApplicable) => excluded[item.domain] += 1,
            Some(Points::Missing) | None => {}
        }
    }
    let domains: Vec<DomainScore> = model
        .domains
        .iter()
        .enumerate()
        .map(|(d, dom)| {
            let n = answered[d];
            let applicable = dom.items.saturating_sub(excluded[d]) as i64;
            let score = if n == 0 || n < dom.min_answered {
                None
            } else if dom.mean {
                Some(dom.rounding.apply(sums[d], n as i64))
            } else {
                Some(dom.rounding.apply(sums[d] * applicable, n as i64))
            };
            DomainScore {
                id: dom.id.clone(),
                score,
                answered: n,
                items: dom.items,
                not_applicable: excluded[d],
            }
        })
        .collect();
    let total = sum_of(&domains, &model.total, model.total_rounding);
    let composites: Vec<CompositeScore> = model
        .composites
        .iter()
        .map(|c| CompositeScore {
            id: c.id.clone(),
            score: sum_of(&domains, &c.domains, c.rounding),
        })
        .collect();

    let mut level = 0;
    let mut reasons = Vec::new();
    for (j, id) in model.critical.iter().enumerate() {
        if answers.critical.get(j).copied().flatten() == Some(true) {
            level = model.levels - 1;
            reasons.push(Reason::Critical {
                item: id.clone(),
                level,
            });
        }
    }
    for band in &model.bands {
        let value = match band.target {
            Target::Total => total,
            Target::Domain(d) => domains[d].score,
            Target::Composite(c) => composites[c].score,
        };
        let Some(value) = value else {
            reasons.push(Reason::NotEnoughAnswers {
                target: target_name(model, band.target),
            });
            continue;
        };
        let reached = |&&(threshold, _): &&(i64, usize)| {
            if band.low {
                value <= threshold
            } else {
                value >= threshold
            }
        };
        if let Some(&(from, l)) = band.cutoffs.iter().rev().find(reached) {
            level = level.max(l);
            reasons.push(Reason::Band {
                target: target_name(model, band.target),
                score: value,
                from,
                level: l,
                low: band.low,
            });
        }
    }
    for &(from, l) in &model.any_domain {
        for (d, ds) in domains.iter().enumerate() {
            if let Some(s) = ds.score
                && !model.domains[d].low_is_concern
                && s >= from
            {
                level = level.max(l);
                reasons.push(Reason::AnyDomain {
                    domain: model.domains[d].id.clone(),
                    score: s,
                    from,
                    level: l,
                });
            }
        }
    }
    // Strongest reasons first.
    reasons.sort_by_key(|r| {
        std::cmp::Reverse(match r {
            Reason::Critical { level, .. }
            | Reason::Band { level, .. }
            | Reason::AnyDomain { level, .. } => *level + 1,
            Reason::NotEnoughAnswers { .. } => 0,
        })
    });
    Outcome {
        domains,
        total,
        composites,
        level,
        reasons,
    }
}

/// The reasons as a reader needs them: one per domain (or total, or critical item) — the
/// strongest, so only the highest cut-off a domain reached — in the engine's order, which
/// leads with what decided the level. `reasons` must be in [`score`]'s order (strongest
/// first; within a level, cut-off bands before the "any domain" rule).
pub fn condense(reasons: Vec<Reason>) -> Vec<Reason> {
    let mut seen = std::collections::HashSet::new();
    reasons
        .into_iter()
        .filter(|r| {
            let key = match r {
                Reason::Critical { item, .. } => format!("critical:{item}"),
                Reason::Band { target, .. } => target.clone(),
                Reason::AnyDomain { domain, .. } => format!("domain:{domain}"),
                Reason::NotEnoughAnswers { target } => format!("missing:{target}"),
            };
            seen.insert(key)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two domains of two items scored 0/1/2 (the second reverse-scored), bands on the total
    /// and on domain b, an any-domain rule and one critical item, on a four-level scale.
    fn model() -> Model {
        let item = |id: &str, domain, reverse: bool| ModelItem {
            id: id.into(),
            domain,
            values: vec!["0".into(), "1".into(), "2".into()],
            points: if reverse {
                vec![Points::Score(200), Points::Score(100), Points::Score(0)]
            } else {
                vec![Points::Score(0), Points::Score(100), Points::Score(200)]
            },
            show_if: None,
        };
        Model {
            items: vec![
                item("a1", 0, false),
                item("a2", 0, true),
                item("b1", 1, false),
                item("b2", 1, false),
            ],
            domains: vec![
                ModelDomain {
                    id: "a".into(),
                    items: 2,
                    min_answered: 1,
                    mean: false,
                    rounding: Rounding::Hundredths,
                    low_is_concern: false,
                    max: 400,
                },
                ModelDomain {
                    id: "b".into(),
                    items: 2,
                    min_answered: 2,
                    mean: false,
                    rounding: Rounding::Hundredths,
                    low_is_concern: false,
                    max: 400,
                },
            ],
            critical: vec!["violence".into()],
            total: vec![0, 1],
            total_rounding: Rounding::Hundredths,
            composites: Vec::new(),
            bands: vec![
                ModelBand {
                    target: Target::Total,
                    low: false,
                    cutoffs: vec![(300, 1), (500, 2), (700, 3)],
                },
                ModelBand {
                    target: Target::Domain(1),
                    low: false,
                    cutoffs: vec![(400, 2)],
                },
            ],
            any_domain: vec![(350, 1)],
            levels: 4,
        }
    }

    fn answers(items: [Option<u8>; 4], critical: Option<bool>) -> Answers {
        Answers {
            items: items.to_vec(),
            critical: vec![critical],
        }
    }

    #[test]
    fn all_good_is_level_zero() {
        let o = score(
            &model(),
            &answers([Some(0), Some(2), Some(0), Some(0)], Some(false)),
        );
        assert_eq!(o.total, Some(0));
        assert_eq!(o.level, 0);
        assert!(o.reasons.is_empty());
    }

    #[test]
    fn reverse_scoring_and_bands() {
        // a = 1 + (2-0)=... a1=1 (100), a2 chose 0 → reversed 200: a = 300; b = 0 + 100.
        let o = score(
            &model(),
            &answers([Some(1), Some(0), Some(0), Some(1)], None),
        );
        assert_eq!(o.domains[0].score, Some(300));
        assert_eq!(o.domains[1].score, Some(100));
        assert_eq!(o.total, Some(400));
        assert_eq!(o.level, 1);
        assert_eq!(
            o.reasons[0],
            Reason::Band {
                target: "total".into(),
                score: 400,
                from: 300,
                level: 1,
                low: false,
            }
        );
    }

    #[test]
    fn prorating_and_not_enough_answers() {
        // a has one of two answered (min 1): 200 prorated to 400. b has one of two (min 2): none.
        let o = score(&model(), &answers([Some(2), None, Some(2), None], None));
        assert_eq!(o.domains[0].score, Some(400));
        assert_eq!(o.domains[0].answered, 1);
        assert_eq!(o.domains[1].score, None);
        assert_eq!(o.total, None);
        assert!(o.reasons.contains(&Reason::NotEnoughAnswers {
            target: "total".into()
        }));
        assert!(o.reasons.contains(&Reason::NotEnoughAnswers {
            target: "domain:b".into()
        }));
        // The any-domain rule still sees domain a.
        assert_eq!(o.level, 1);
    }

    #[test]
    fn a_critical_item_gives_the_top_level() {
        let o = score(
            &model(),
            &answers([Some(0), Some(2), Some(0), Some(0)], Some(true)),
        );
        assert_eq!(o.level, 3);
        assert_eq!(
            o.reasons[0],
            Reason::Critical {
                item: "violence".into(),
                level: 3
            }
        );
    }

    #[test]
    fn domain_band_lifts_the_level() {
        let o = score(
            &model(),
            &answers([Some(0), Some(2), Some(2), Some(2)], None),
        );
        assert_eq!(o.domains[1].score, Some(400));
        assert_eq!(o.level, 2);
    }

    #[test]
    fn condensed_reasons_name_each_domain_once_at_its_highest_cut_off() {
        // b = 400 reaches its own band (level 2) and the any-domain rule (level 1); the
        // total 400 reaches level 1.
        let o = score(
            &model(),
            &answers([Some(0), Some(2), Some(2), Some(2)], None),
        );
        assert_eq!(o.reasons.len(), 3);
        let band = |target: &str, score, from, level| Reason::Band {
            target: target.into(),
            score,
            from,
            level,
            low: false,
        };
        assert_eq!(
            condense(o.reasons),
            vec![band("domain:b", 400, 400, 2), band("total", 400, 300, 1)]
        );
    }

    #[test]
    fn out_of_range_answers_count_as_unanswered() {
        let o = score(
            &model(),
            &answers([Some(9), Some(2), Some(0), Some(0)], None),
        );
        assert_eq!(o.domains[0].answered, 1);
    }

    #[test]
    fn rounding_rules() {
        // 250 hundredths = 2.5: a tie.
        assert_eq!(Rounding::Hundredths.apply(250, 1), 250);
        assert_eq!(Rounding::HalfUp.apply(250, 1), 300);
        assert_eq!(Rounding::HalfEven.apply(250, 1), 200);
        assert_eq!(Rounding::HalfEven.apply(350, 1), 400);
        // 1000 / 3 = 3.333…
        assert_eq!(Rounding::Hundredths.apply(1000, 3), 333);
        assert_eq!(Rounding::HalfUp.apply(1000, 3), 300);
        assert_eq!(Rounding::HalfEven.apply(1000, 3), 300);
        // 500 / 3 = 1.666…
        assert_eq!(Rounding::HalfUp.apply(500, 3), 200);
        assert_eq!(Rounding::HalfEven.apply(500, 3), 200);
    }

    /// Domain a prorated to whole numbers, b a strength where low is the concern, and a
    /// composite of both lists.
    fn whole_model() -> Model {
        let mut m = model();
        m.domains[0].rounding = Rounding::HalfUp;
        m.domains[1].low_is_concern = true;
        m.domains[1].min_answered = 1;
        m.total = vec![0];
        m.bands = vec![ModelBand {
            target: Target::Domain(1),
            low: true,
            cutoffs: vec![(200, 1), (100, 3)],
        }];
        m.any_domain = vec![(300, 2)];
        m.composites = vec![ModelComposite {
            id: "ab".into(),
            domains: vec![0, 1],
            rounding: Rounding::Hundredths,
        }];
        m
    }

    #[test]
    fn whole_number_prorating_and_low_is_concern() {
        let m = whole_model();
        // a: one of two answered, 100 prorated to 200 (exact); b: 0 + 100 = 100 ≤ 100: level 3.
        let o = score(&m, &answers([Some(1), None, Some(0), Some(1)], None));
        assert_eq!(o.domains[0].score, Some(200));
        assert_eq!(o.domains[1].score, Some(100));
        assert_eq!(o.level, 3);
        assert!(matches!(
            o.reasons[0],
            Reason::Band {
                low: true,
                level: 3,
                from: 100,
                ..
            }
        ));
        assert_eq!(o.composites[0].score, Some(300));
        // b = 400 is no concern, and a strength domain never meets the "any domain" rule.
        let o = score(&m, &answers([Some(0), Some(2), Some(2), Some(2)], None));
        assert_eq!(o.domains[1].score, Some(400));
        assert_eq!(o.level, 0, "{:?}", o.reasons);
    }

    #[test]
    fn not_applicable_leaves_the_item_out_and_missing_counts_as_unanswered() {
        let mut m = model();
        for it in &mut m.items {
            it.values.push("na".into());
            it.points.push(Points::NotApplicable);
            it.values.push("dk".into());
            it.points.push(Points::Missing);
        }
        // a: a1 = 2, a2 not applicable → 200 over one applicable item, not prorated to 400.
        let o = score(&m, &answers([Some(2), Some(3), Some(0), Some(0)], None));
        assert_eq!(o.domains[0].score, Some(200));
        assert_eq!(o.domains[0].not_applicable, 1);
        // a2 "don't know" is unanswered: prorated to 400, as with no answer at all.
        let dk = score(&m, &answers([Some(2), Some(4), Some(0), Some(0)], None));
        let none = score(&m, &answers([Some(2), None, Some(0), Some(0)], None));
        assert_eq!(dk.domains[0].score, Some(400));
        assert_eq!(dk, none);
    }

    #[test]
    fn a_conditional_item_counts_only_when_asked() {
        let mut m = model();
        // b2 is asked only when b1 was answered 1 or 2.
        m.items[3].show_if = Some((2, vec![1, 2]));
        m.domains[1].min_answered = 1;
        // b1 = 0: b2 not asked, left out whatever was answered: b = 0 over one item.
        let o = score(&m, &answers([Some(0), Some(2), Some(0), Some(2)], None));
        assert_eq!(o.domains[1].score, Some(0));
        assert_eq!(o.domains[1].not_applicable, 1);
        // b1 = 1: b2 asked and counted.
        let o = score(&m, &answers([Some(0), Some(2), Some(1), Some(2)], None));
        assert_eq!(o.domains[1].score, Some(300));
        // Asked but unanswered: missing, so prorated.
        let o = score(&m, &answers([Some(0), Some(2), Some(1), None], None));
        assert_eq!(o.domains[1].score, Some(200));
    }
}
