//! The catalog issue's targets: loading the snapshot (< 50 ms) against
//! loading the source directory, and validating all 1,594 managed policies
//! (< 2 s). Needs `../shared/data`; without it, says so and measures nothing.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion};
use iamsim::audit::catalog::validate::validate;
use iamsim::audit::catalog::Catalog;
use iamsim::engine::policy::{json, policy_from_json, PolicyKind};
use std::hint::black_box;
use std::path::PathBuf;

fn shared() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data");
    if p.is_dir() {
        Some(p)
    } else {
        println!("SKIP catalog benches: ../shared/data is absent");
        None
    }
}

fn catalog(c: &mut Criterion) {
    let Some(data) = shared() else { return };
    let dir = data.join("iam-catalog");
    let snapshot = std::env::temp_dir().join(format!("iamsim-bench-catalog-{}.json", std::process::id()));
    let source = Catalog::load(&dir).unwrap();
    source.write_snapshot(&snapshot).unwrap();
    // The snapshot must hold the same catalog before its speed means anything.
    let again = Catalog::load(&snapshot).unwrap();
    assert_eq!(again.action_count(), source.action_count());
    assert_eq!(again.services().len(), source.services().len());

    let mut documents = Vec::new();
    for entry in std::fs::read_dir(data.join("managed-policies")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|x| x == "json") {
            documents.push(std::fs::read(&path).unwrap());
        }
    }
    assert_eq!(documents.len(), 1594);

    let mut group = c.benchmark_group("catalog");
    group.sample_size(10);
    group.bench_function("load_snapshot", |b| b.iter(|| black_box(Catalog::load(&snapshot).unwrap())));
    group.bench_function("load_iam_catalog_dir", |b| b.iter(|| black_box(Catalog::load(&dir).unwrap())));
    group.bench_function("validate_1594_managed", |b| {
        b.iter(|| {
            let mut findings = 0;
            for bytes in &documents {
                let root = json::parse(bytes).unwrap();
                let policy = policy_from_json(&root, "p", PolicyKind::Identity).unwrap();
                findings += validate(&again, &policy, Some(&root)).unwrap().len();
            }
            black_box(findings)
        })
    });
    group.finish();
    let _ = std::fs::remove_file(&snapshot);
}

criterion_group!(benches, catalog);
criterion_main!(benches);
