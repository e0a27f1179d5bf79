//! `iamsim bench`: compile a set, generate requests, decide them with the
//! compiled engine and with the reference evaluator, fail on any mismatch, and
//! report decisions per second, the ratio, decision counts and thread scaling,
//! and beside them how fast the same requests are read from `eval` lines
//! (what deciding is weighed against in `iamsim eval`). Timings repeat passes
//! over the request set for at least `--min-seconds`; each figure is the mean
//! over all passes, and deciding also reports its fastest pass.

use super::{load, CliError, Format, MemoryProbe};
use crate::compile::CompiledPolicySet;
use crate::eval::batch::with_thread_scratch;
use crate::eval::{reference_decide, DecisionKind, Scratch};
use crate::request::Request;
use crate::workload::{request_json, Generator};
use rayon::prelude::*;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Arguments of `iamsim bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    source: load::SetSource,
    /// Requests to generate (all of them also go through the reference evaluator).
    #[arg(long, default_value_t = 100_000)]
    requests: usize,
    /// Measure scaling from 1 to this many threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Workload seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Minimum measuring time per figure, in seconds.
    #[arg(long, default_value_t = 1.0)]
    min_seconds: f64,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// Items per second over repeated passes.
#[derive(Debug, Clone, Copy)]
struct Rate {
    /// Over all passes: total items / total time.
    mean: f64,
    /// Of the fastest pass. On a shared machine other load only slows passes
    /// down, so this varies less between runs than the mean.
    best: f64,
    passes: usize,
}

/// Runs `work` (one pass over `items` items) until `min` has elapsed, timing each pass.
fn rate(items: usize, min: Duration, mut work: impl FnMut()) -> Rate {
    let mut total = Duration::ZERO;
    let mut fastest = Duration::MAX;
    let mut passes = 0usize;
    while passes == 0 || total < min {
        let t = Instant::now();
        work();
        let took = t.elapsed();
        total += took;
        fastest = fastest.min(took);
        passes += 1;
    }
    let per_sec = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(f64::MIN_POSITIVE);
    Rate { mean: per_sec(passes * items, total), best: per_sec(items, fastest), passes }
}

fn parallel_rate(
    set: &CompiledPolicySet,
    requests: &[Request],
    threads: usize,
    min: Duration,
) -> Result<Rate, CliError> {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    Ok(pool.install(|| {
        rate(requests.len(), min, || {
            requests.par_chunks(1024).for_each(|chunk| {
                with_thread_scratch(set, |s| {
                    for r in chunk {
                        black_box(set.decide(r, s));
                    }
                })
            })
        })
    }))
}

/// Runs `bench`.
pub fn run(args: &BenchArgs, memory: Option<MemoryProbe>) -> Result<ExitCode, CliError> {
    let set = args.source.load()?;
    let statements = set.statements().count();
    let before = memory.map(|m| m());
    let t0 = Instant::now();
    let compiled = CompiledPolicySet::compile(set.clone())?;
    let compile_ms = t0.elapsed().as_secs_f64() * 1000.0;
    let compiled_bytes = match (memory, before) {
        // The counter wraps when memory from before the first probe is freed.
        (Some(m), Some(b)) => Some(isize::try_from(m().wrapping_sub(b)).unwrap_or(0).max(0).unsigned_abs()),
        _ => None,
    };
    let requests = Generator::new(&set).generate(args.requests.max(1), args.seed);
    let min = Duration::from_secs_f64(args.min_seconds.max(0.0));

    // Correctness first: every request through both engines.
    let t_ref = Instant::now();
    let reference: Vec<_> = requests.iter().map(|r| reference_decide(&set, r)).collect();
    let reference_per_sec = requests.len() as f64 / t_ref.elapsed().as_secs_f64().max(f64::MIN_POSITIVE);
    let mut scratch = Scratch::new(&compiled);
    let mut mismatches = 0usize;
    let mut first_mismatch = None;
    let mut counts = [0usize; 4];
    for (r, want) in requests.iter().zip(&reference) {
        let got = compiled.decide(r, &mut scratch);
        if got != *want {
            mismatches += 1;
            first_mismatch.get_or_insert_with(|| format!("{r:?}: compiled {got:?}, reference {want:?}"));
        }
        counts[match got.kind {
            DecisionKind::Allowed => 0,
            DecisionKind::ExplicitDeny => 1,
            DecisionKind::ImplicitDeny => 2,
            DecisionKind::Indeterminate => 3,
        }] += 1;
    }

    let one_thread = rate(requests.len(), min, || {
        for r in &requests {
            black_box(compiled.decide(r, &mut scratch));
        }
    });
    let compiled_per_sec = one_thread.mean;
    // Reading the same requests from their `eval` lines, one thread: each
    // line must read back as its request (a role session's line names no
    // role path, so the principal is compared by its session ARN).
    let lines: Vec<String> = requests.iter().map(|r| request_json(r).to_string()).collect();
    for (line, r) in lines.iter().zip(&requests) {
        let read = Request::from_json_text(line).map_err(|e| CliError::new(format!("{line}: {e}")))?;
        if (&read.action, &read.resource, &read.context) != (&r.action, &r.resource, &r.context)
            || read.principal.display_name() != r.principal.display_name()
        {
            return Err(CliError::new(format!("{line}: reads back as {read:?}, generated as {r:?}")));
        }
    }
    let parse_per_sec = rate(lines.len(), min, || {
        for line in &lines {
            let _ = black_box(Request::from_json_text(line));
        }
    })
    .mean;
    let max_threads = args.threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let mut scaling = Vec::new();
    for t in 1..=max_threads {
        scaling.push((t, parallel_rate(&compiled, &requests, t, min)?));
    }
    let ratio = compiled_per_sec / reference_per_sec.max(f64::MIN_POSITIVE);
    let json = serde_json::json!({
        "requests": requests.len(),
        "policies": set.policies().count(),
        "statements": statements,
        "compile_ms": compile_ms,
        "compiled_bytes": compiled_bytes,
        "compiled_per_sec": compiled_per_sec,
        "compiled_best_per_sec": one_thread.best,
        "passes": one_thread.passes,
        "ns_per_decision": 1e9 / compiled_per_sec.max(f64::MIN_POSITIVE),
        "reference_per_sec": reference_per_sec,
        "ratio": ratio,
        "parse_per_sec": parse_per_sec,
        "mismatches": mismatches,
        "decisions": {"allowed": counts[0], "explicitDeny": counts[1], "implicitDeny": counts[2], "indeterminate": counts[3]},
        "scaling": scaling
            .iter()
            .map(|(t, r)| serde_json::json!({"threads": t, "per_sec": r.mean, "best_per_sec": r.best}))
            .collect::<Vec<_>>(),
    });
    match args.format {
        Format::Json => println!("{json}"),
        Format::Text => {
            println!("policy set      {} policies, {statements} statements", set.policies().count());
            println!(
                "compile         {compile_ms:.2} ms, {} bytes",
                compiled_bytes.map_or("?".to_string(), |b| b.to_string())
            );
            println!("requests        {} (seed {})", requests.len(), args.seed);
            println!(
                "decisions       allowed {}, explicitDeny {}, implicitDeny {}, indeterminate {}",
                counts[0], counts[1], counts[2], counts[3]
            );
            println!(
                "compiled        {:.0} decisions/s ({:.1} ns/decision), 1 thread; fastest of {} passes {:.0}/s",
                compiled_per_sec,
                1e9 / compiled_per_sec,
                one_thread.passes,
                one_thread.best
            );
            println!("reference       {reference_per_sec:.0} decisions/s");
            println!("ratio           {ratio:.1}x compiled vs reference");
            println!(
                "parse           {parse_per_sec:.0} requests/s from eval lines, 1 thread (deciding {:.1}x as fast)",
                compiled_per_sec / parse_per_sec.max(f64::MIN_POSITIVE)
            );
            for (t, r) in &scaling {
                let base = scaling.first().map_or(1.0, |(_, b)| b.mean);
                println!(
                    "threads {t:<7} {:.0} decisions/s ({:.2}x); fastest pass {:.0}/s",
                    r.mean,
                    r.mean / base,
                    r.best
                );
            }
            println!("mismatches      {mismatches}");
        }
    }
    if let Some(m) = first_mismatch {
        eprintln!("iamsim: error: {mismatches} decisions differ between compiled and reference; first: {m}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
