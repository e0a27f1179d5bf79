//! Replay throughput against merely reading the same CloudTrail files with the
//! same reader (the members replay keeps), `.json`, `.json.gz` and JSON
//! Lines, in one criterion run (the throughput issue's measure). The
//! replay's answers are checked first: generated events record what the
//! engine decides, so nothing may break or disagree.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use iamsim::audit::cloudtrail::reader::{read_file_with, Item, Members};
use iamsim::audit::inventory::Inventory;
use iamsim::audit::replay::Replayer;
use iamsim::audit::workload::cloudtrail::EventGenerator;
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};

const EVENTS: usize = 20_000;

/// The allocator the `iamsim` binary runs replay on (src/main.rs), so that
/// the bench measures what the CLI does.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn inventory() -> Inventory {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut inv = Inventory::new();
    let bytes = std::fs::read(root.join("corpus/replay/authorization-details.json")).unwrap();
    inv.load(&bytes, "authorization-details.json", None).unwrap();
    inv
}

fn write_events(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let gen = EventGenerator::new(&inventory()).unwrap();
    let (mut body, mut lines) = (Vec::new(), Vec::new());
    body.extend_from_slice(b"{\"Records\":[");
    let mut first = true;
    gen.generate(EVENTS, 5, |e| {
        if !first {
            body.push(b',');
        }
        first = false;
        let text = e.to_string();
        body.extend_from_slice(text.as_bytes());
        lines.extend_from_slice(text.as_bytes());
        lines.push(b'\n');
    });
    body.extend_from_slice(b"]}");
    // The same events as JSON Lines (CloudTrail Lake and Athena exports).
    let jsonl = dir.join("events.jsonl");
    std::fs::write(&jsonl, &lines).unwrap();
    let json = dir.join("events.json");
    std::fs::write(&json, &body).unwrap();
    let gz = dir.join("events.json.gz");
    let mut enc = flate2::write::GzEncoder::new(std::fs::File::create(&gz).unwrap(), flate2::Compression::default());
    enc.write_all(&body).unwrap();
    enc.finish().unwrap();
    (json, gz, jsonl)
}

/// Reading as replay reads: the members the mapping needs.
fn parse_only(path: &Path) -> usize {
    let mut n = 0;
    read_file_with(path, Members::Mapped, &mut |item| {
        if let Item::Event(_, v) = item {
            black_box(&v);
        }
        n += 1;
    })
    .unwrap();
    n
}

/// Replay on one thread: read and decide in turn.
fn replay(path: &Path) -> iamsim::audit::replay::Report {
    let mut r = Replayer::new(inventory(), Vec::new(), Default::default());
    r.set_want_lines(false);
    read_file_with(path, Members::Mapped, &mut |item| match item {
        Item::Event(_, v) => {
            black_box(r.event(&v));
        }
        Item::Malformed(at, why) => r.malformed(&at, &why),
        Item::Skipped(..) => {}
    })
    .unwrap();
    r.finish(1.0)
}

/// Replay as the CLI runs it (`Replayer::replay_files`).
fn replay_files(path: &Path) -> iamsim::audit::replay::Report {
    let mut r = Replayer::new(inventory(), Vec::new(), Default::default());
    r.set_want_lines(false);
    r.replay_files(&[path.to_path_buf()], |_| {}, |_| {});
    r.finish(1.0)
}

fn bench(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("iamsim-bench-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (json, gz, jsonl) = write_events(&dir);
    for path in [&json, &gz, &jsonl] {
        assert_eq!(parse_only(path), EVENTS);
        for report in [replay(path), replay_files(path)] {
            assert_eq!(report.events_read, EVENTS);
            assert_eq!(report.events_evaluated, EVENTS);
            assert!(
                report.would_break.is_empty() && report.disagreements.is_empty(),
                "generated outcomes must replay identically"
            );
        }
    }
    // This VM's speed drifts over seconds; criterion's groups run one after
    // the other, so also time reading and replay back to back, many times,
    // and take the median of the pairs' ratios.
    // Skipped under `cargo test --benches`, which runs each bench once.
    let measuring = std::env::args().any(|a| a == "--bench");
    for (label, path) in [("json", &json), ("json_gz", &gz), ("jsonl", &jsonl)].into_iter().filter(|_| measuring) {
        let (mut read, mut replayed, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..15 {
            let t = std::time::Instant::now();
            black_box(parse_only(path));
            let r = t.elapsed().as_secs_f64();
            let t = std::time::Instant::now();
            black_box(replay_files(path));
            let p = t.elapsed().as_secs_f64();
            read.push(r);
            replayed.push(p);
            ratios.push(r / p);
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!(
            "interleaved {label}: reading {:.0} events/s, replay {:.0} events/s (medians of 15), \
             replay/reading {:.0}% (median of the pairs)",
            EVENTS as f64 / median(&mut read),
            EVENTS as f64 / median(&mut replayed),
            100.0 * median(&mut ratios)
        );
    }
    let mut g = c.benchmark_group("replay");
    g.throughput(Throughput::Elements(EVENTS as u64));
    g.sample_size(10);
    g.bench_function("parse_only/json", |b| b.iter(|| parse_only(&json)));
    g.bench_function("replay/json", |b| b.iter(|| replay_files(&json)));
    g.bench_function("parse_only/json_gz", |b| b.iter(|| parse_only(&gz)));
    g.bench_function("replay/json_gz", |b| b.iter(|| replay_files(&gz)));
    g.bench_function("parse_only/jsonl", |b| b.iter(|| parse_only(&jsonl)));
    g.bench_function("replay/jsonl", |b| b.iter(|| replay_files(&jsonl)));
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
