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

/// One item compiled for scoring.
#[derive(Debug, Clone)]
pub struct ModelItem {
    pub id: String,
    pub domain: usize,
    /// Option values in file order.
    pub values: Vec<String>,
    /// Score of each option in hundredths, reverse scoring already applied.
    pub scores: Vec<i64>,
}

#[derive(Debug, Clone)]
pub struct ModelDomain {
    pub id: String,
    pub items: usize,
    pub min_answered: usize,
    pub mean: bool,
    /// Largest score the domain can reach, in hundredths.
    pub max: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Total,
    Domain(usize),
}

/// Cut-offs of one target: ascending `from` (hundredths) with ascending level index.
#[derive(Debug, Clone)]
pub struct ModelBand {
    pub target: Target,
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
    pub bands: Vec<ModelBand>,
    /// (from, level) pairs for "any domain at or above".
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
}

/// Why the engine suggests what it suggests.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Reason {
    /// A critical item was answered yes.
    Critical { item: String, level: usize },
    /// A score reached a cut-off.
    Band {
        target: String,
        #[serde(serialize_with = "centi")]
        score: i64,
        #[serde(serialize_with = "centi")]
        from: i64,
        level: usize,
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
    /// Index into the scale's levels (0 = thriving).
    pub level: usize,
    pub reasons: Vec<Reason>,
}

fn target_name(model: &Model, t: Target) -> String {
    match t {
        Target::Total => "total".to_string(),
        Target::Domain(d) => format!("domain:{}", model.domains[d].id),
    }
}

/// Divides rounding half away from zero (scores are never negative).
fn div_round(n: i64, d: i64) -> i64 {
    (2 * n + d) / (2 * d)
}

/// Scores `answers` with `model`. Answers of the wrong length or with an option index out of
/// range count as unanswered; the web form and `trivsel score` never produce them.
pub fn score(model: &Model, answers: &Answers) -> Outcome {
    let mut sums = vec![0i64; model.domains.len()];
    let mut answered = vec![0usize; model.domains.len()];
    for (i, item) in model.items.iter().enumerate() {
        if let Some(Some(choice)) = answers.items.get(i)
            && let Some(s) = item.scores.get(usize::from(*choice))
        {
            sums[item.domain] += s;
            answered[item.domain] += 1;
        }
    }
    let domains: Vec<DomainScore> = model
        .domains
        .iter()
        .enumerate()
        .map(|(d, dom)| {
            let n = answered[d];
            let score = if n == 0 || n < dom.min_answered {
                None
            } else if dom.mean {
                Some(div_round(sums[d], n as i64))
            } else if n == dom.items {
                Some(sums[d])
            } else {
                Some(div_round(sums[d] * dom.items as i64, n as i64))
            };
            DomainScore {
                id: dom.id.clone(),
                score,
                answered: n,
                items: dom.items,
            }
        })
        .collect();
    let total = model
        .total
        .iter()
        .try_fold(0i64, |acc, &d| domains[d].score.map(|s| acc + s));

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
        };
        let Some(value) = value else {
            reasons.push(Reason::NotEnoughAnswers {
                target: target_name(model, band.target),
            });
            continue;
        };
        if let Some(&(from, l)) = band.cutoffs.iter().rev().find(|(from, _)| value >= *from) {
            level = level.max(l);
            reasons.push(Reason::Band {
                target: target_name(model, band.target),
                score: value,
                from,
                level: l,
            });
        }
    }
    for &(from, l) in &model.any_domain {
        for (d, ds) in domains.iter().enumerate() {
            if let Some(s) = ds.score
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
            scores: if reverse {
                vec![200, 100, 0]
            } else {
                vec![0, 100, 200]
            },
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
                    max: 400,
                },
                ModelDomain {
                    id: "b".into(),
                    items: 2,
                    min_answered: 2,
                    mean: false,
                    max: 400,
                },
            ],
            critical: vec!["violence".into()],
            total: vec![0, 1],
            bands: vec![
                ModelBand {
                    target: Target::Total,
                    cutoffs: vec![(300, 1), (500, 2), (700, 3)],
                },
                ModelBand {
                    target: Target::Domain(1),
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
                level: 1
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
}
