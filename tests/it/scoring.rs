//! The scoring engine against the shipped files: properties that must hold for any answers,
//! and validation that refuses broken files with file, key and reason.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use trivsel::questionnaire::Catalogue;
use trivsel::scoring::{Answers, Model, score};

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires")
}

fn catalogue(scale: &str) -> Catalogue {
    Catalogue::load(&shipped(), scale).unwrap_or_else(|p| panic!("{p}"))
}

static LARGEST: std::sync::LazyLock<Model> = std::sync::LazyLock::new(|| {
    let c = catalogue("boernelineal");
    c.questionnaires
        .iter()
        .max_by_key(|q| q.model.items.len() + q.model.critical.len())
        .unwrap()
        .model
        .clone()
});

/// The largest shipped questionnaire (most items), for the properties.
fn largest() -> Model {
    LARGEST.clone()
}

/// The scores of an item's options (the shipped files give every option a score).
fn pts(it: &trivsel::scoring::ModelItem) -> Vec<i64> {
    it.points.iter().map(|p| p.score().unwrap()).collect()
}

/// Random answers for `model`: any option or none per item, critical items "no" or unanswered.
fn answers_for(model: &Model) -> impl Strategy<Value = Answers> + use<> {
    let items: Vec<_> = model
        .items
        .iter()
        .map(|i| proptest::option::weighted(0.9, 0..i.values.len() as u8))
        .collect();
    let critical =
        proptest::collection::vec(proptest::option::of(Just(false)), model.critical.len());
    (items, critical).prop_map(|(items, critical)| Answers { items, critical })
}

#[test]
fn shipped_files_load_under_both_scales() {
    for scale in ["boernelineal", "topi"] {
        let c = catalogue(scale);
        assert_eq!(c.questionnaires.len(), 5, "{scale}");
        for age in 0..=17 {
            assert!(
                c.for_age(age).is_some(),
                "{scale}: no questionnaire for age {age}"
            );
        }
        assert!(c.for_age(18).is_none());
    }
    assert_eq!(catalogue("boernelineal").scale.def.levels.len(), 4);
    assert_eq!(catalogue("topi").scale.def.levels.len(), 3);
}

#[test]
fn every_level_is_reachable_in_every_shipped_file() {
    for scale in ["boernelineal", "topi"] {
        let c = catalogue(scale);
        for q in &c.questionnaires {
            let m = &q.model;
            let mut seen = vec![false; m.levels];
            // The first k items at the step-th best option, the rest at their best: totals and
            // domain scores rise through every value the cut-offs can meet.
            let steps = m.items.iter().map(|i| i.values.len()).max().unwrap();
            let ranked = |i: &trivsel::scoring::ModelItem, step: usize| {
                let mut order: Vec<usize> = (0..pts(i).len()).collect();
                order.sort_by_key(|&o| pts(i)[o]);
                order[step.min(order.len() - 1)] as u8
            };
            for k in 0..=m.items.len() {
                for step in 0..steps {
                    let items = m
                        .items
                        .iter()
                        .enumerate()
                        .map(|(n, i)| Some(ranked(i, if n < k { step } else { 0 })));
                    let a = Answers {
                        items: items.collect(),
                        critical: vec![Some(false); m.critical.len()],
                    };
                    seen[score(m, &a).level] = true;
                }
            }
            let a = Answers {
                items: vec![None; m.items.len()],
                critical: vec![Some(true); m.critical.len()],
            };
            seen[score(m, &a).level] = true;
            assert!(
                seen.iter().all(|s| *s),
                "{scale} {}: levels reached {seen:?}",
                q.def.id
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Changing one answer to an option that scores higher never gives a better level.
    #[test]
    fn a_worse_answer_never_gives_a_better_level(
        (model, answers, item, pick) in Just(largest()).prop_flat_map(|m| {
            let a = answers_for(&m);
            let n = m.items.len();
            (Just(m), a, 0..n, 0..3u8)
        })
    ) {
        let before = score(&model, &answers);
        let it = &model.items[item];
        let current = answers.items[item].map(|o| pts(it)[o as usize]).unwrap_or(-1);
        let worse: Vec<u8> = (0..pts(it).len() as u8).filter(|&o| pts(it)[o as usize] >= current).collect();
        prop_assume!(answers.items[item].is_some() && !worse.is_empty());
        let mut changed = answers.clone();
        changed.items[item] = Some(worse[pick as usize % worse.len()]);
        let after = score(&model, &changed);
        prop_assert!(after.level >= before.level, "level fell from {} to {}", before.level, after.level);
        if let (Some(t0), Some(t1)) = (before.total, after.total) {
            prop_assert!(t1 >= t0);
        }
    }

    /// Any critical item answered yes gives the top level, whatever else is answered.
    #[test]
    fn a_critical_yes_always_gives_the_top_level(
        (model, mut answers, which) in Just(largest()).prop_flat_map(|m| {
            let a = answers_for(&m);
            let n = m.critical.len();
            (Just(m), a, 0..n)
        })
    ) {
        answers.critical[which] = Some(true);
        let o = score(&model, &answers);
        prop_assert_eq!(o.level, model.levels - 1);
        let critical = o.reasons.iter().any(|r| matches!(r, trivsel::scoring::Reason::Critical { .. }));
        prop_assert!(critical, "no critical reason");
    }

    /// A reverse-scored item mirrors its options: option i scores what option (n-1-i) scores on
    /// a normal item of the same response set.
    #[test]
    fn reverse_scoring_is_symmetric(i in 0usize..200) {
        let model = largest();
        let items = &model.items;
        let it = &items[i % items.len()];
        let n = pts(it).len();
        let max = *pts(it).iter().max().unwrap();
        let min = *pts(it).iter().min().unwrap();
        for o in 0..n {
            prop_assert_eq!(pts(it)[o] + pts(it)[n - 1 - o], max + min);
        }
    }

    /// With k of n items answered (k ≥ the domain's minimum) a summed domain is prorated to
    /// sum · n / k; below the minimum it has no score.
    #[test]
    fn prorating_matches_the_rule(answers in answers_for(&largest())) {
        let model = largest();
        let o = score(&model, &answers);
        for (d, dom) in model.domains.iter().enumerate() {
            let picked: Vec<i64> = model.items.iter().enumerate()
                .filter(|(_, it)| it.domain == d)
                .filter_map(|(i, it)| answers.items[i].map(|c| pts(it)[c as usize]))
                .collect();
            let k = picked.len() as i64;
            if (k as usize) < dom.min_answered || k == 0 {
                prop_assert_eq!(o.domains[d].score, None);
            } else {
                let expected = (2 * picked.iter().sum::<i64>() * dom.items as i64 + k) / (2 * k);
                prop_assert_eq!(o.domains[d].score, Some(expected));
            }
        }
    }
}

fn write(dir: &Path, name: &str, body: &str) {
    std::fs::write(dir.join(name), body).unwrap();
}

/// A copy of the shipped folder with one file replaced, for the validation tests.
fn broken(file: &str, edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scales")).unwrap();
    for sub in ["", "scales"] {
        for e in std::fs::read_dir(shipped().join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                let mut body = std::fs::read_to_string(&p).unwrap();
                if Path::new(sub).join(&name) == Path::new(file) {
                    body = edit(body);
                }
                write(&dir.path().join(sub), &name, &body);
            }
        }
    }
    dir
}

fn problems(dir: &Path) -> String {
    match Catalogue::load(dir, "boernelineal") {
        Ok(_) => panic!("a broken file was accepted"),
        Err(p) => p.to_string(),
    }
}

#[test]
fn broken_files_are_refused_with_file_key_and_reason() {
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "3-5.toml",
            Box::new(|b| b.replacen("reverse = true", "revers = true", 1)),
            "3-5.toml: items[0].revers: unknown field `revers`",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("id = \"social_2\"", "id = \"social_1\"", 1)),
            "3-5.toml: items[4].id: duplicate id \"social_1\"",
        ),
        (
            "3-5.toml",
            Box::new(|b| {
                b.replacen(
                    "en = \"The child is left out of the group.\"",
                    "en = \"\"",
                    1,
                )
            }),
            "3-5.toml: items[4].text.en: missing English text",
        ),
        (
            "3-5.toml",
            Box::new(|b| {
                b.replacen(
                    "{ from = 14, level = \"orange\" }",
                    "{ from = 6, level = \"orange\" }",
                    1,
                )
            }),
            "3-5.toml: scoring[0].bands[0].cutoffs[1]: cut-offs must rise in both score and level",
        ),
        (
            "3-5.toml",
            Box::new(|b| {
                b.replacen(
                    "{ from = 22, level = \"red\" }",
                    "{ from = 99, level = \"red\" }",
                    1,
                )
            }),
            "3-5.toml: scoring[0].bands[0].cutoffs[2].from: unreachable: the highest possible score is 36",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("domain = \"health\"", "domain = \"helbred\"", 1)),
            "3-5.toml: items[15].domain: domain \"helbred\" is not defined",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("level = \"yellow\" }", "level = \"gul\" }", 1)),
            "3-5.toml: scoring[0].bands[0].cutoffs[0].level: level \"gul\" is not in scale \"boernelineal\"",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("age_from = 3", "age_from = 2", 1)),
            "3-5.toml: age_from: ages 2–5 overlap with",
        ),
        (
            "scales/boernelineal.toml",
            Box::new(|b| b.replacen("colour = \"#e65100\"", "colour = \"orange\"", 1)),
            "boernelineal.toml: levels[2].colour: \"orange\" is not a colour",
        ),
        (
            "6-9.toml",
            Box::new(|b| b.replacen("version = 1", "version = \"one\"", 1)),
            "6-9.toml: version: invalid type",
        ),
        // Cut-offs that would place every child, or none.
        (
            "3-5.toml",
            Box::new(|b| b.replacen("{ from = 8, level", "{ from = nan, level", 1)),
            "3-5.toml: scoring[0].bands[0].cutoffs[0].from: must be a number above 0",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("{ from = 8, level", "{ from = inf, level", 1)),
            "3-5.toml: scoring[0].bands[0].cutoffs[0].from: must be a number above 0",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("{ from = 8, level", "{ from = -3, level", 1)),
            "3-5.toml: scoring[0].bands[0].cutoffs[0].from: must be a number above 0",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("any_domain = [{ from = 4,", "any_domain = [{ from = 0,", 1)),
            "3-5.toml: scoring[0].any_domain[0].from: must be a number above 0",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("\"social\", \"participation\"", "\"social\", \"social\"", 1)),
            "3-5.toml: total.domains[2]: domain \"social\" is listed twice",
        ),
        (
            "3-5.toml",
            Box::new(|b| b.replacen("scale = \"topi\"", "scale = \"boernelineal\"", 1)),
            "3-5.toml: scoring[1].scale: a second [[scoring]] for scale \"boernelineal\"",
        ),
        (
            "3-5.toml",
            Box::new(|b| {
                b.replacen(
                    "score = 2, label = { da = \"Passer helt\"",
                    "score = 9200000000000000, label = { da = \"Passer helt\"",
                    1,
                )
            }),
            "3-5.toml: response_sets.agreement.options[2].score: scores are 0 to 1000",
        ),
        // The block for the scale not in use is checked too.
        (
            "3-5.toml",
            Box::new(|b| {
                b.replacen(
                    "{ from = 20, level = \"red\" }",
                    "{ from = 20, level = \"orange\" }",
                    1,
                )
            }),
            "3-5.toml: scoring[1].bands[0].cutoffs[1].level: level \"orange\" is not in scale \"topi\"",
        ),
    ];
    for (file, edit, expected) in cases {
        let dir = broken(file, edit);
        let msg = problems(dir.path());
        assert!(
            msg.contains(expected),
            "editing {file}: expected {expected:?} in:\n{msg}"
        );
    }
    // A file that is not UTF-8 is refused, not read with its letters replaced.
    let dir = broken("3-5.toml", |b| b);
    let mut bytes = std::fs::read(dir.path().join("3-5.toml")).unwrap();
    let at = bytes.windows(2).position(|w| w == "ø".as_bytes()).unwrap();
    bytes.splice(at..at + 2, [0xf8]);
    std::fs::write(dir.path().join("3-5.toml"), bytes).unwrap();
    let msg = problems(dir.path());
    assert!(msg.contains("3-5.toml: not UTF-8 text"), "{msg}");
    // A backup copy of the scale does not silently become the scale in use.
    let dir = broken("3-5.toml", |b| b);
    std::fs::copy(
        dir.path().join("scales/boernelineal.toml"),
        dir.path().join("scales/boernelineal - Kopi.toml"),
    )
    .unwrap();
    let msg = problems(dir.path());
    assert!(
        msg.contains("boernelineal.toml: id: id \"boernelineal\" is also used by"),
        "{msg}"
    );
    // A file named `.TOML` is read like any other.
    let dir = broken("3-5.toml", |b| b);
    std::fs::rename(dir.path().join("3-5.toml"), dir.path().join("3-5.TOML")).unwrap();
    let cat = Catalogue::load(dir.path(), "boernelineal").unwrap();
    assert!(cat.by_id("trivsel-3-5").is_some());

    // A missing level makes it unreachable.
    let dir = broken("3-5.toml", |b| {
        b.replace("{ from = 22, level = \"red\" }", "")
            .replace("{ from = 14, level = \"orange\" }, ", "")
            .replace(
                "{ target = \"domain:security\", cutoffs = [{ from = 4, level = \"orange\" }] },",
                "",
            )
            .replace("{ from = 5, level = \"orange\" }", "")
            .replace("[[critical]]", "[[crit]]")
    });
    let msg = problems(dir.path());
    assert!(msg.contains("3-5.toml"), "{msg}");
}

// ---- the example of a published instrument's structure ----

const EXAMPLE: &str = "examples/strengths-difficulties.toml";

/// A folder holding the shipped scales and alert rules and only the example instrument, edited
/// by `edit`.
fn example_dir(edit: impl Fn(String) -> String) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scales")).unwrap();
    for name in ["boernelineal.toml", "topi.toml"] {
        std::fs::copy(
            shipped().join("scales").join(name),
            dir.path().join("scales").join(name),
        )
        .unwrap();
    }
    std::fs::copy(
        shipped().join("alerts.toml"),
        dir.path().join("alerts.toml"),
    )
    .unwrap();
    let body = std::fs::read_to_string(shipped().join(EXAMPLE)).unwrap();
    write(dir.path(), "sd-25.toml", &edit(body));
    dir
}

fn example(scale: &str) -> std::sync::Arc<trivsel::questionnaire::Questionnaire> {
    let dir = example_dir(|b| b);
    let c = Catalogue::load(dir.path(), scale).unwrap_or_else(|p| panic!("{p}"));
    c.by_id("example-sd-25").unwrap().clone()
}

/// The instrument's published scoring rules, written out independently of the engine: item
/// numbers 1–25, five domains of five, reversed items 7, 11, 14, 21, 25, a domain scored from
/// three answers as round(mean × 5) halves up, the total of the four difficulty domains, and
/// the three bands (0 normal, 1 borderline, 2 abnormal).
mod reference {
    pub const DOMAINS: [(&str, [usize; 5]); 5] = [
        ("emotional", [3, 8, 13, 16, 24]),
        ("conduct", [5, 7, 12, 18, 22]),
        ("hyperactivity", [2, 10, 15, 21, 25]),
        ("peer", [6, 11, 14, 19, 23]),
        ("prosocial", [1, 4, 9, 17, 20]),
    ];
    const REVERSED: [usize; 5] = [7, 11, 14, 21, 25];
    /// (borderline from, abnormal from) for the difficulty domains and the total.
    const CUTS: [(&str, u32, u32); 5] = [
        ("emotional", 4, 5),
        ("conduct", 3, 4),
        ("hyperactivity", 6, 7),
        ("peer", 3, 4),
        ("total", 14, 17),
    ];

    /// `answers[n - 1]` is item n's answer (0, 1, 2) or `None`.
    pub fn domain(answers: &[Option<u8>; 25], name: &str) -> Option<u32> {
        let items = DOMAINS.iter().find(|(d, _)| *d == name).unwrap().1;
        let given: Vec<f64> = items
            .iter()
            .filter_map(|&n| {
                answers[n - 1].map(|a| {
                    if REVERSED.contains(&n) {
                        2.0 - f64::from(a)
                    } else {
                        f64::from(a)
                    }
                })
            })
            .collect();
        if given.len() < 3 {
            return None;
        }
        let mean = given.iter().sum::<f64>() / given.len() as f64;
        Some((mean * 5.0 + 0.5).floor() as u32)
    }

    pub fn total(answers: &[Option<u8>; 25]) -> Option<u32> {
        ["emotional", "conduct", "hyperactivity", "peer"]
            .iter()
            .map(|d| domain(answers, d))
            .sum()
    }

    pub fn band(target: &str, score: u32) -> u8 {
        if target == "prosocial" {
            return match score {
                0..=4 => 2,
                5 => 1,
                _ => 0,
            };
        }
        let (_, borderline, abnormal) = CUTS.iter().find(|(t, ..)| *t == target).unwrap();
        if score >= *abnormal {
            2
        } else if score >= *borderline {
            1
        } else {
            0
        }
    }
}

/// The band the engine gave a target: that of its reason, or the lowest when it gave none.
fn engine_band(o: &trivsel::scoring::Outcome, target: &str, bands_to_levels: &[usize]) -> u8 {
    o.reasons
        .iter()
        .find_map(|r| match r {
            trivsel::scoring::Reason::Band {
                target: t, level, ..
            } if t == target => {
                Some(bands_to_levels.iter().position(|l| l == level).unwrap() as u8)
            }
            _ => None,
        })
        .unwrap_or(0)
}

#[test]
fn the_example_instrument_scores_exactly_as_its_published_rules() {
    use rand::{Rng, SeedableRng};
    // Bands → levels: green, yellow, red on the Børnelineal (orange skipped); one to one on TOPI.
    for (scale, levels) in [("boernelineal", [0, 1, 3]), ("topi", [0, 1, 2])] {
        let q = example(scale);
        let m = &q.model;
        let mut rng = rand::rngs::StdRng::seed_from_u64(19);
        let mut prorated = 0;
        for case in 0..4000 {
            // About one answer in eight missing, more in some cases.
            let missing = if case % 4 == 0 { 0.35 } else { 0.12 };
            let raw: [Option<u8>; 25] =
                std::array::from_fn(|_| (!rng.gen_bool(missing)).then(|| rng.gen_range(0..3u8)));
            let answers = Answers {
                items: m
                    .items
                    .iter()
                    .map(|it| {
                        let n: usize = it.id[1..].parse().unwrap();
                        raw[n - 1]
                    })
                    .collect(),
                critical: Vec::new(),
            };
            let o = score(m, &answers);
            let mut expected_level = 0;
            for (d, _) in reference::DOMAINS {
                let want = reference::domain(&raw, d);
                let got = o.domains.iter().find(|x| x.id == d).unwrap();
                assert_eq!(got.score, want.map(|s| i64::from(s) * 100), "{d} {raw:?}");
                if got.answered < 5 && want.is_some() {
                    prorated += 1;
                }
                let target = format!("domain:{d}");
                let band = want.map_or(0, |s| reference::band(d, s));
                assert_eq!(engine_band(&o, &target, &levels), band, "{target} {raw:?}");
                expected_level = expected_level.max(levels[band as usize]);
            }
            let total = reference::total(&raw);
            assert_eq!(o.total, total.map(|t| i64::from(t) * 100), "total {raw:?}");
            let band = total.map_or(0, |t| reference::band("total", t));
            assert_eq!(engine_band(&o, "total", &levels), band, "total {raw:?}");
            expected_level = expected_level.max(levels[band as usize]);
            for (id, parts) in [
                ("internalising", ["emotional", "peer"]),
                ("externalising", ["conduct", "hyperactivity"]),
            ] {
                let want: Option<u32> = parts.iter().map(|d| reference::domain(&raw, d)).sum();
                let got = o.composites.iter().find(|c| c.id == id).unwrap();
                assert_eq!(got.score, want.map(|s| i64::from(s) * 100), "{id} {raw:?}");
            }
            assert_eq!(o.level, expected_level, "{scale} {raw:?}: {:?}", o.reasons);
        }
        assert!(
            prorated > 2000,
            "too few prorated domains to test: {prorated}"
        );
    }
}

/// The example file with a "don't know" option (counted as unanswered) and a "not relevant"
/// option (left out of the domain) added to its response set.
fn example_with_no_score_options() -> trivsel::questionnaire::Questionnaire {
    let dir = example_dir(|b| {
        b.replacen(
            "  { value = \"2\", score = 2, label = { da = \"Passer helt\", en = \"Certainly true\" } },\n",
            "  { value = \"2\", score = 2, label = { da = \"Passer helt\", en = \"Certainly true\" } },\n  { value = \"vi\", no_score = \"missing\", label = { da = \"Ved ikke\", en = \"Don't know\" } },\n  { value = \"ir\", no_score = \"not_applicable\", label = { da = \"Ikke relevant\", en = \"Not relevant\" } },\n",
            1,
        )
    });
    let c = Catalogue::load(dir.path(), "boernelineal").unwrap_or_else(|p| panic!("{p}"));
    c.by_id("example-sd-25").unwrap().as_ref().clone()
}

static WITH_NO_SCORE: std::sync::LazyLock<Model> =
    std::sync::LazyLock::new(|| example_with_no_score_options().model);

/// Answers of the scored options (0–2) or none.
fn scored_answers(items: usize) -> impl Strategy<Value = Vec<Option<u8>>> {
    proptest::collection::vec(proptest::option::weighted(0.8, 0..3u8), items)
}

/// The reference rule for whole-number rounding: the whole number nearest to `num / den`
/// hundredths, a tie going up (`even = false`) or to the even neighbour.
fn nearest_whole(num: i64, den: i64, even: bool) -> i64 {
    // r is nearest when |num/den − 100r| ≤ 50, i.e. |num − 100·r·den| · 2 ≤ 100·den.
    let candidates = [num / (100 * den), num / (100 * den) + 1];
    let dist = |r: i64| (num - 100 * r * den).abs() * 2;
    let best: Vec<i64> = candidates
        .iter()
        .copied()
        .filter(|&r| dist(r) <= 100 * den)
        .collect();
    match best.as_slice() {
        [r] => *r,
        [a, b] => {
            if even {
                if a % 2 == 0 { *a } else { *b }
            } else {
                *b
            }
        }
        _ => unreachable!("no nearest whole number to {num}/{den}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Each rounding rule gives the number its definition says.
    #[test]
    fn rounding_rules_match_their_definition(num in 0i64..2_000_000, den in 1i64..60) {
        use trivsel::scoring::Rounding;
        prop_assert_eq!(Rounding::HalfUp.apply(num, den), 100 * nearest_whole(num, den, false));
        prop_assert_eq!(Rounding::HalfEven.apply(num, den), 100 * nearest_whole(num, den, true));
        let h = Rounding::Hundredths.apply(num, den);
        prop_assert!((h * den - num).abs() * 2 <= den, "{} is not {}/{} in hundredths", h, num, den);
    }

    /// Raising answers towards concern (higher on a difficulty item, lower on a strength item)
    /// never gives a better level: every band maps monotonically onto the scale.
    #[test]
    fn band_mapping_is_monotone(a in scored_answers(25), raise in proptest::collection::vec(any::<bool>(), 25)) {
        let m = &WITH_NO_SCORE;
        let toward_concern = |i: usize, v: u8| {
            let low = m.domains[m.items[i].domain].low_is_concern;
            let p = |o: u8| m.items[i].points[o as usize].score().unwrap();
            // The option one step further towards concern, if any.
            (0..3u8)
                .filter(|&o| if low { p(o) < p(v) } else { p(o) > p(v) })
                .min_by_key(|&o| (p(o) - p(v)).abs())
                .unwrap_or(v)
        };
        let b: Vec<Option<u8>> = a
            .iter()
            .enumerate()
            .map(|(i, v)| v.map(|v| if raise[i] { toward_concern(i, v) } else { v }))
            .collect();
        let before = score(m, &Answers { items: a, critical: Vec::new() });
        let after = score(m, &Answers { items: b, critical: Vec::new() });
        prop_assert!(after.level >= before.level, "{} then {}", before.level, after.level);
    }

    /// A composite is the sum of its domains, and has no score when one of them has none.
    #[test]
    fn composites_equal_the_sum_of_their_parts(a in scored_answers(25)) {
        let m = &WITH_NO_SCORE;
        let o = score(m, &Answers { items: a, critical: Vec::new() });
        for (c, comp) in m.composites.iter().enumerate() {
            let parts: Option<i64> = comp.domains.iter().map(|&d| o.domains[d].score).sum();
            prop_assert_eq!(o.composites[c].score, parts);
        }
    }

    /// Answering "don't know" where nothing was answered changes no score and no level.
    #[test]
    fn dont_know_never_changes_a_score(a in scored_answers(25), mark in proptest::collection::vec(any::<bool>(), 25)) {
        let m = &WITH_NO_SCORE;
        let dont_know = m.items[0].values.iter().position(|v| v == "vi").unwrap() as u8;
        let b: Vec<Option<u8>> = a
            .iter()
            .zip(&mark)
            .map(|(v, &mk)| if v.is_none() && mk { Some(dont_know) } else { *v })
            .collect();
        let before = score(m, &Answers { items: a, critical: Vec::new() });
        let after = score(m, &Answers { items: b, critical: Vec::new() });
        prop_assert_eq!(before, after);
    }
}

#[test]
fn not_relevant_leaves_an_item_out_of_its_domain() {
    let m = &WITH_NO_SCORE;
    let ir = m.items[0].values.iter().position(|v| v == "ir").unwrap() as u8;
    // Emotional (items 3, 8, 13, 16, 24): 2, 2, 1 and two not relevant → 5 over three items.
    let mut items = vec![Some(0u8); 25];
    for (n, v) in [(3, 2), (8, 2), (13, 1), (16, ir), (24, ir)] {
        let i = m
            .items
            .iter()
            .position(|it| it.id == format!("s{n:02}"))
            .unwrap();
        items[i] = Some(v);
    }
    let o = score(
        m,
        &Answers {
            items,
            critical: Vec::new(),
        },
    );
    let emotional = o.domains.iter().find(|d| d.id == "emotional").unwrap();
    assert_eq!(emotional.score, Some(500));
    assert_eq!((emotional.answered, emotional.not_applicable), (3, 2));
}

#[test]
fn mistakes_in_the_new_keys_are_refused_with_file_key_and_reason() {
    type Edit = Box<dyn Fn(String) -> String>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|b| b.replacen("{ to = 5, level", "{ from = 5, level", 1)),
            "sd-25.toml: scoring[0].bands[5].cutoffs[0]: a low score is the concern here",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "{ from = 14, level = \"yellow\" }",
                    "{ to = 14, level = \"yellow\" }",
                    1,
                )
            }),
            "sd-25.toml: scoring[0].bands[0].cutoffs[0]: a high score is the concern here",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "{ to = 4, level = \"red\" }",
                    "{ to = 6, level = \"red\" }",
                    1,
                )
            }),
            "sd-25.toml: scoring[0].bands[5].cutoffs[1]: cut-offs must fall in score as they rise in level",
        ),
        (
            Box::new(|b| b.replacen("{ to = 5, level", "{ to = 10, level", 1)),
            "sd-25.toml: scoring[0].bands[5].cutoffs[0].to: every score is at or below it",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "{ from = 17, level = \"red\" }",
                    "{ from = 17, level = \"orange\" }",
                    1,
                )
            }),
            "sd-25.toml: scoring[0].bands[0].cutoffs[1].level: level \"orange\" is not among this block's `levels`",
        ),
        (
            Box::new(|b| b.replacen("levels = [\"green\", \"yellow\", \"red\"]\n", "", 1)),
            "sd-25.toml: scoring[0]: level \"orange\" can never be suggested",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "levels = [\"green\", \"yellow\", \"red\"]",
                    "levels = [\"yellow\", \"red\"]",
                    1,
                )
            }),
            "sd-25.toml: scoring[0].levels: list two or more levels, starting with the scale's lowest",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "levels = [\"green\", \"yellow\", \"red\"]",
                    "levels = [\"green\", \"red\", \"yellow\"]",
                    1,
                )
            }),
            "sd-25.toml: scoring[0].levels[2]: levels must be listed lowest first",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "\"hyperactivity\", \"peer\"]",
                    "\"hyperactivity\", \"prosocial\"]",
                    1,
                )
            }),
            "sd-25.toml: total.domains: mixes domains where a low score is the concern",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "domains = [\"emotional\", \"peer\"]",
                    "domains = [\"emotional\", \"peers\"]",
                    1,
                )
            }),
            "sd-25.toml: composites[0].domains[1]: domain \"peers\" is not defined",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "domains = [\"emotional\", \"peer\"]",
                    "domains = [\"emotional\"]",
                    1,
                )
            }),
            "sd-25.toml: composites[0].domains: a composite sums two or more domains",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "{ target = \"total\",",
                    "{ target = \"composite:internal\",",
                    1,
                )
            }),
            "sd-25.toml: scoring[0].bands[0].target: \"composite:internal\" is neither",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "id = \"s02\"\n",
                    "id = \"s02\"\nshow_if = { item = \"s03\", values = [\"1\"] }\n",
                    1,
                )
            }),
            "sd-25.toml: items[1].show_if.item: \"s03\" is not an item earlier in the file",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "id = \"s02\"\n",
                    "id = \"s02\"\nshow_if = { item = \"s01\", values = [\"ja\"] }\n",
                    1,
                )
            }),
            "sd-25.toml: items[1].show_if.values[0]: \"ja\" is not an option of item \"s01\"",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "id = \"s02\"\n",
                    "id = \"s02\"\nshow_if = { item = \"s01\", values = [] }\n",
                    1,
                )
            }),
            "sd-25.toml: items[1].show_if.values: name at least one option value",
        ),
        (
            Box::new(|b| {
                b.replacen("[total]", "[[free_text]]\nid = \"s01\"\ntext = { da = \"Andet?\", en = \"Other?\" }\n\n[total]", 1)
            }),
            "sd-25.toml: free_text[0].id: duplicate id \"s01\"",
        ),
        (
            Box::new(|b| {
                b.replacen("[total]", "[[free_text]]\nid = \"other\"\ntext = { da = \"Andet?\", en = \"Other?\" }\nmax_chars = 0\n\n[total]", 1)
            }),
            "sd-25.toml: free_text[0].max_chars: 1 to 4000 characters",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "informant = \"educator\"\noptional = true",
                    "informant = \"parent\"",
                    1,
                )
            }),
            "sd-25.toml: optional: a parent's or child's questionnaire is used beside the educators' one",
        ),
        (
            Box::new(|b| b.replacen("rounding = \"half_up\"", "rounding = \"half_down\"", 1)),
            "sd-25.toml: domains[0].rounding: unknown variant `half_down`",
        ),
        (
            Box::new(|b| b.replacen("{ value = \"1\", score = 1,", "{ value = \"1\",", 1)),
            "sd-25.toml: response_sets.truth.options[1].score: missing: give a score, or no_score",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "{ value = \"1\", score = 1,",
                    "{ value = \"1\", score = 1, no_score = \"missing\",",
                    1,
                )
            }),
            "sd-25.toml: response_sets.truth.options[1].no_score: an option has a score or no_score, not both",
        ),
        (
            Box::new(|b| {
                b.replacen(
                    "responses = \"truth\"",
                    "responses = \"truth\"\nhelp = { da = \"Hjælp\", en = \"\" }",
                    1,
                )
            }),
            "sd-25.toml: items[0].help.en: missing English text",
        ),
    ];
    for (edit, expected) in cases {
        let dir = example_dir(edit);
        let msg = problems(dir.path());
        assert!(msg.contains(expected), "expected {expected:?} in:\n{msg}");
    }
}

#[test]
fn an_age_overlap_does_not_hide_the_files_other_problems() {
    let dir = broken("3-5.toml", |b| {
        b.replacen("age_from = 3", "age_from = 2", 1).replacen(
            "{ from = 8, level",
            "{ from = nan, level",
            1,
        )
    });
    let msg = problems(dir.path());
    assert!(
        msg.contains("3-5.toml: age_from: ages 2–5 overlap with"),
        "{msg}"
    );
    assert!(
        msg.contains("3-5.toml: scoring[0].bands[0].cutoffs[0].from: must be a number above 0"),
        "{msg}"
    );
}

#[test]
fn sizes_beyond_the_limits_are_refused() {
    // 51 options: answers are stored and indexed one byte each, and no instrument needs more.
    let dir = example_dir(|b| {
        let extra: String = (3..51)
            .map(|n| format!("  {{ value = \"{n}\", score = 2, label = {{ da = \"Svar {n}\", en = \"Answer {n}\" }} }},\n"))
            .collect();
        b.replacen(
            "  { value = \"2\", score = 2, label = { da = \"Passer helt\", en = \"Certainly true\" } },\n",
            &format!("  {{ value = \"2\", score = 2, label = {{ da = \"Passer helt\", en = \"Certainly true\" }} }},\n{extra}"),
            1,
        )
    });
    let msg = problems(dir.path());
    assert!(
        msg.contains("sd-25.toml: response_sets.truth.options: at most 50 options"),
        "{msg}"
    );
    // 505 items.
    let dir = example_dir(|b| {
        let extra: String = (26..=505)
            .map(|n| format!("[[items]]\nid = \"s{n:03}\"\ndomain = \"peer\"\ntext = {{ da = \"Udsagn {n}\", en = \"Statement {n}\" }}\nresponses = \"truth\"\n\n"))
            .collect();
        b.replacen("[total]", &format!("{extra}[total]"), 1)
    });
    let msg = problems(dir.path());
    assert!(
        msg.contains("sd-25.toml: items: at most 500 items"),
        "{msg}"
    );
}
