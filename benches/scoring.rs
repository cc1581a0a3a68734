//! Assessments scored per second with the largest shipped questionnaire:
//! `cargo bench --bench scoring`. Figures are recorded in docs/benchmarks.md.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use trivsel::questionnaire::Catalogue;
use trivsel::scoring::{Answers, score};

fn bench(c: &mut Criterion) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("questionnaires");
    let catalogue = Catalogue::load(&dir, "boernelineal").expect("shipped files");
    let q = catalogue
        .questionnaires
        .iter()
        .max_by_key(|q| q.model.items.len() + q.model.critical.len())
        .unwrap();
    let model = &q.model;
    // A spread of realistic answer sets: every option pattern, one unanswered item in each.
    let sets: Vec<Answers> = (0..64u32)
        .map(|seed| Answers {
            items: (0..model.items.len())
                .map(|i| {
                    if (i as u32 + seed).is_multiple_of(17) {
                        None
                    } else {
                        Some(((i as u32 * 7 + seed) % 3) as u8)
                    }
                })
                .collect(),
            critical: vec![Some(false); model.critical.len()],
        })
        .collect();
    let mut group = c.benchmark_group("scoring");
    group.throughput(Throughput::Elements(sets.len() as u64));
    group.bench_function(format!("{} ({} items)", q.def.id, model.items.len()), |b| {
        b.iter(|| {
            for a in &sets {
                black_box(score(black_box(model), black_box(a)));
            }
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
