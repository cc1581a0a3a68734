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
                let mut order: Vec<usize> = (0..i.scores.len()).collect();
                order.sort_by_key(|&o| i.scores[o]);
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
        let current = answers.items[item].map(|o| it.scores[o as usize]).unwrap_or(-1);
        let worse: Vec<u8> = (0..it.scores.len() as u8).filter(|&o| it.scores[o as usize] >= current).collect();
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
        let n = it.scores.len();
        let max = *it.scores.iter().max().unwrap();
        let min = *it.scores.iter().min().unwrap();
        for o in 0..n {
            prop_assert_eq!(it.scores[o] + it.scores[n - 1 - o], max + min);
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
                .filter_map(|(i, it)| answers.items[i].map(|c| it.scores[c as usize]))
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
