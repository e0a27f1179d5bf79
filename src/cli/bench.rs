//! `iamsim bench`: compile a set, generate requests, decide them with the
//! compiled engine and with the reference evaluator, fail on any mismatch, and
//! report decisions per second, the ratio, decision counts and thread scaling,
//! and beside them how fast the same requests are read from `eval` lines
//! (what deciding is weighed against in `iamsim eval`). Timings repeat passes
//! over the request set for at least `--min-seconds`; each figure is the mean
//! over all passes, and deciding also reports its fastest pass.

use super::{load, thread_count, CliError, Format, MemoryProbe};
use iamsim::audit::workload::{request_json, Generator};
use iamsim::engine::compile::CompiledPolicySet;
use iamsim::engine::eval::batch::with_thread_scratch;
use iamsim::engine::eval::{reference_decide, DecisionKind, Prepared, Scratch};
use iamsim::engine::request::Request;
use rayon::prelude::*;
use std::fmt::Write as _;
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
    /// The access-query scenario instead of request decisions: an account
    /// of this many roles, each with --policies-per-role policies drawn from
    /// the set's identity policies plus an inline one; `principal-can` of
    /// every role over the catalog (--catalog), and `who-can` of one action.
    #[arg(long = "access-roles", requires = "policies")]
    access_roles: Option<usize>,
    /// With --access-roles: policies drawn per role.
    #[arg(long = "policies-per-role", default_value_t = 5)]
    policies_per_role: usize,
    /// With --access-roles: the catalog to sweep.
    #[command(flatten)]
    catalog: super::catalog_cmd::CatalogArg,
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

/// Per-pass timings of one measured path.
#[derive(Debug, Default)]
struct Timer {
    total: Duration,
    fastest: Option<Duration>,
    passes: usize,
}

impl Timer {
    fn time(&mut self, work: impl FnOnce()) {
        let t = Instant::now();
        work();
        let took = t.elapsed();
        self.total += took;
        self.fastest = Some(self.fastest.map_or(took, |f| f.min(took)));
        self.passes += 1;
    }

    fn rate(&self, items: usize) -> Rate {
        let per_sec = |n: usize, d: Duration| n as f64 / d.as_secs_f64().max(f64::MIN_POSITIVE);
        Rate {
            mean: per_sec(self.passes * items, self.total),
            best: per_sec(items, self.fastest.unwrap_or(self.total)),
            passes: self.passes,
        }
    }
}

/// Runs every path (one pass over `items` items each) in rounds, one pass
/// of each per round, until each has run for at least `min`: the paths
/// share the same minutes of the machine, so a slowed stretch slows them
/// all and their ratios hold within a run.
fn interleaved(items: usize, min: Duration, paths: &mut [&mut dyn FnMut()]) -> Vec<Rate> {
    let mut timers: Vec<Timer> = paths.iter().map(|_| Timer::default()).collect();
    while timers.iter().any(|t| t.passes == 0 || t.total < min) {
        for (path, timer) in paths.iter_mut().zip(&mut timers) {
            if timer.passes == 0 || timer.total < min {
                timer.time(&mut **path);
            }
        }
    }
    timers.iter().map(|t| t.rate(items)).collect()
}

/// One pass of owned, explained decisions over `requests` on `pool`'s threads.
fn parallel_pass(pool: &rayon::ThreadPool, set: &CompiledPolicySet, requests: &[Request]) {
    pool.install(|| {
        requests.par_chunks(1024).for_each(|chunk| {
            with_thread_scratch(set, |s| {
                for r in chunk {
                    black_box(set.decide(r, s));
                }
            })
        })
    })
}

/// Counts of each verdict, in `DecisionKind` order.
fn tally(kinds: impl Iterator<Item = DecisionKind>) -> [usize; 4] {
    let mut counts = [0usize; 4];
    for k in kinds {
        counts[match k {
            DecisionKind::Allowed => 0,
            DecisionKind::ExplicitDeny => 1,
            DecisionKind::ImplicitDeny => 2,
            DecisionKind::Indeterminate => 3,
        }] += 1;
    }
    counts
}

/// Runs `bench`.
pub fn run(args: &BenchArgs, memory: Option<MemoryProbe>) -> Result<ExitCode, CliError> {
    if let Some(roles) = args.access_roles {
        return run_access(args, roles);
    }
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
    let prepared: Vec<Prepared<'_>> = requests.iter().map(|r| compiled.prepare(r, &mut scratch)).collect();
    // The same prepared requests with each action's together (a sweep's
    // natural order; the sort is not timed).
    let mut grouped = prepared.clone();
    grouped.sort_by_key(Prepared::action_group);
    let mut mismatches = 0usize;
    let mut first_mismatch = None;
    for ((r, p), want) in requests.iter().zip(&prepared).zip(&reference) {
        // Every path must give the reference's answer.
        let paths = [("decide", compiled.decide(r, &mut scratch)), ("explain", compiled.explain(p, &mut scratch))];
        let verdicts = [
            ("decide_verdict", compiled.decide_verdict(r, &mut scratch)),
            ("verdict", compiled.verdict(p, &mut scratch)),
        ];
        let wrong =
            paths.iter().find(|(_, got)| got != want).map(|(path, got)| format!("{path} {got:?}")).or_else(|| {
                verdicts.iter().find(|(_, got)| *got != want.kind).map(|(path, got)| format!("{path} {got:?}"))
            });
        if let Some(wrong) = wrong {
            mismatches += 1;
            first_mismatch.get_or_insert_with(|| format!("{}: compiled {wrong}, reference {want:?}", request_json(r)));
        }
    }
    let counts = tally(reference.iter().map(|d| d.kind));
    let grouped_want = tally(grouped.iter().map(|p| compiled.verdict(p, &mut scratch)));
    if grouped_want != counts {
        mismatches += 1;
        first_mismatch.get_or_insert_with(|| format!("grouped verdicts {grouped_want:?}, reference {counts:?}"));
    }

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
    let max_threads = super::thread_count(args.threads)?.unwrap_or_else(rayon::current_num_threads).max(1);
    let pools = (1..=max_threads)
        .map(|t| rayon::ThreadPoolBuilder::new().num_threads(t).build())
        .collect::<Result<Vec<_>, _>>()?;

    // Every figure in the same rounds (see `interleaved`); one thread each
    // but the scaling passes.
    let n = requests.len();
    let s = &mut scratch;
    let mut owned_explained = || {
        for r in &requests {
            black_box(compiled.decide(r, s));
        }
    };
    let mut s2 = Scratch::new(&compiled);
    let mut owned_verdict = || {
        for r in &requests {
            black_box(compiled.decide_verdict(r, &mut s2));
        }
    };
    let mut s3 = Scratch::new(&compiled);
    let mut prepared_explained = || {
        for p in &prepared {
            black_box(compiled.explain(p, &mut s3));
        }
    };
    let mut s4 = Scratch::new(&compiled);
    let mut prepared_verdict = || {
        for p in &prepared {
            black_box(compiled.verdict(p, &mut s4));
        }
    };
    let mut s5 = Scratch::new(&compiled);
    let mut grouped_verdict = || {
        for p in &grouped {
            black_box(compiled.verdict(p, &mut s5));
        }
    };
    let mut s6 = Scratch::new(&compiled);
    let mut preparing = || {
        for r in &requests {
            black_box(compiled.prepare(r, &mut s6));
        }
    };
    let mut parsing = || {
        for line in &lines {
            let _ = black_box(Request::from_json_text(line));
        }
    };
    let (compiled_ref, requests_ref) = (&compiled, &requests[..]);
    let mut scaling_passes: Vec<_> =
        pools.iter().map(|pool| move || parallel_pass(pool, compiled_ref, requests_ref)).collect();
    let mut paths: Vec<&mut dyn FnMut()> = vec![
        &mut owned_explained,
        &mut owned_verdict,
        &mut prepared_explained,
        &mut prepared_verdict,
        &mut grouped_verdict,
        &mut preparing,
        &mut parsing,
    ];
    paths.extend(scaling_passes.iter_mut().map(|p| p as &mut dyn FnMut()));
    let rates = interleaved(n, min, &mut paths);
    let rate_at = |i: usize| rates.get(i).copied().unwrap_or(Rate { mean: 0.0, best: 0.0, passes: 0 });
    let one_thread = rate_at(0);
    let compiled_per_sec = one_thread.mean;
    let (owned_verdict, prepared_explained, prepared_verdict, grouped_verdict, preparing) =
        (rate_at(1), rate_at(2), rate_at(3), rate_at(4), rate_at(5));
    let parse_per_sec = rate_at(6).mean;
    let scaling: Vec<(usize, Rate)> = (1..=max_threads).map(|t| (t, rate_at(6 + t))).collect();
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
        "owned_verdict_per_sec": owned_verdict.mean,
        "prepared_explain_per_sec": prepared_explained.mean,
        "prepared_verdict_per_sec": prepared_verdict.mean,
        "prepared_verdict_grouped_per_sec": grouped_verdict.mean,
        "prepare_per_sec": preparing.mean,
        "best_per_sec": {
            "owned_explained": one_thread.best,
            "owned_verdict": owned_verdict.best,
            "prepared_explained": prepared_explained.best,
            "prepared_verdict": prepared_verdict.best,
            "prepared_verdict_grouped": grouped_verdict.best,
        },
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
    // Built whole, then written through the error-handling writer.
    let mut out = String::new();
    match args.format {
        Format::Json => writeln!(out, "{json}")?,
        Format::Text => {
            writeln!(out, "policy set      {} policies, {statements} statements", set.policies().count())?;
            writeln!(
                out,
                "compile         {compile_ms:.2} ms, {} bytes",
                compiled_bytes.map_or("?".to_string(), |b| b.to_string())
            )?;
            writeln!(out, "requests        {} (seed {})", requests.len(), args.seed)?;
            writeln!(
                out,
                "decisions       allowed {}, explicitDeny {}, implicitDeny {}, indeterminate {}",
                counts[0], counts[1], counts[2], counts[3]
            )?;
            writeln!(
                out,
                "compiled        {:.0} decisions/s ({:.1} ns/decision), 1 thread; fastest of {} passes {:.0}/s",
                compiled_per_sec,
                1e9 / compiled_per_sec,
                one_thread.passes,
                one_thread.best
            )?;
            for (label, r) in [
                ("owned verdict", owned_verdict),
                ("prepared expl.", prepared_explained),
                ("prepared verd.", prepared_verdict),
                ("  by action", grouped_verdict),
            ] {
                writeln!(
                    out,
                    "{label:<15} {:.0} decisions/s ({:.1} ns/decision, {:.2}x owned explained); fastest pass {:.0}/s",
                    r.mean,
                    1e9 / r.mean.max(f64::MIN_POSITIVE),
                    r.mean / compiled_per_sec.max(f64::MIN_POSITIVE),
                    r.best
                )?;
            }
            writeln!(out, "prepare         {:.0} requests/s, 1 thread", preparing.mean)?;
            writeln!(out, "reference       {reference_per_sec:.0} decisions/s")?;
            writeln!(out, "ratio           {ratio:.1}x compiled vs reference")?;
            writeln!(
                out,
                "parse           {parse_per_sec:.0} requests/s from eval lines, 1 thread (deciding {:.1}x as fast)",
                compiled_per_sec / parse_per_sec.max(f64::MIN_POSITIVE)
            )?;
            for (t, r) in &scaling {
                let base = scaling.first().map_or(1.0, |(_, b)| b.mean);
                writeln!(
                    out,
                    "threads {t:<7} {:.0} decisions/s ({:.2}x); fastest pass {:.0}/s",
                    r.mean,
                    r.mean / base,
                    r.best
                )?;
            }
            writeln!(out, "mismatches      {mismatches}")?;
        }
    }
    super::output::print_stdout(&out)?;
    if let Some(m) = first_mismatch {
        eprintln!("iamsim: error: {mismatches} decisions differ between compiled and reference; first: {m}");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// `--access-roles`: the access-query scenario. Every figure is one
/// measured run (a sweep of a thousand roles takes seconds, not
/// microseconds); the sweep runs once on one thread, once on `--threads`.
/// Answers of every 50th role are re-decided by the reference evaluator.
fn run_access(args: &BenchArgs, roles: usize) -> Result<ExitCode, CliError> {
    use iamsim::audit::access::sweep::SweepFilter;
    use iamsim::audit::access::{AccessInputs, AccountModel};
    let pool = args.source.load()?.identity;
    if pool.is_empty() {
        return Err(CliError::new("--access-roles: the policy set has no identity policies to draw from"));
    }
    let catalog = args.catalog.load()?;
    let threads =
        thread_count(args.threads)?.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().map_err(|e| CliError::new(e.to_string()))?;
    let many =
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().map_err(|e| CliError::new(e.to_string()))?;
    let inventory = iamsim::audit::workload::account::account(&pool, roles, args.policies_per_role, args.seed);
    let t = Instant::now();
    let model = one.install(|| AccountModel::build(&inventory, AccessInputs::default()))?;
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let plan = model.sweep_plan(&catalog)?;
    let plan_s = t.elapsed().as_secs_f64();
    let principals: Vec<&str> = model.principals().collect();
    let filter = SweepFilter::default();
    let sweep = |p: &str| model.principal_can(&plan, p, &filter);
    // One thread: every role in turn.
    let t = Instant::now();
    let (mut pairs, mut decisions, mut allowed, mut taken) = (0usize, 0usize, 0usize, 0usize);
    for p in &principals {
        let can = sweep(p)?;
        pairs += can.actions_asked;
        decisions += can.decisions;
        allowed += can.allowed_actions();
        taken += can.taken_away.len();
    }
    let sweep_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let parallel: Result<Vec<usize>, _> =
        many.install(|| principals.par_iter().map(|p| sweep(p).map(|c| c.decisions)).collect());
    let sweep_many_s = t.elapsed().as_secs_f64();
    if parallel?.iter().sum::<usize>() != decisions {
        return Err(CliError::new("the parallel sweep made other decisions than the sequential one"));
    }
    // The sweep against the reference evaluator, on a sample of roles.
    let (mut checked, mut mismatches) = (0usize, Vec::new());
    for p in principals.iter().step_by(50) {
        let can = sweep(p)?;
        let set = model.policy_set(p)?;
        for (action, grant) in
            can.services.iter().flat_map(|s| &s.actions).flat_map(|a| a.grants.iter().map(move |g| (a, g)))
        {
            let req = model.request_for(p, &action.action, &grant.resource, None)?;
            checked += 1;
            if reference_decide(set, &req).kind != grant.ruling.decision {
                mismatches.push(format!("{p} {} {}", action.action, grant.resource));
            }
        }
    }
    // who-can of one action on one resource, over every role (median of 11).
    let resource = "arn:aws:s3:::team-0001/report.csv";
    let mut times = Vec::new();
    let mut who_answers = 0;
    for _ in 0..11 {
        let t = Instant::now();
        let who = one.install(|| model.who_can(Some(&catalog), "s3:GetObject", resource, None))?;
        times.push(t.elapsed().as_secs_f64());
        who_answers = who.answers.len();
    }
    times.sort_by(f64::total_cmp);
    let who_ms = times.get(times.len() / 2).copied().unwrap_or_default() * 1000.0;
    let per_sec = |n: usize, secs: f64| n as f64 / secs.max(f64::MIN_POSITIVE);
    let figures = serde_json::json!({
        "roles": roles,
        "policies_per_role": args.policies_per_role,
        "distinct_policy_sets": model.distinct_sets(),
        "catalog_actions": catalog.action_count(),
        "build_seconds": build_s,
        "plan_seconds": plan_s,
        "sweep_seconds_1_thread": sweep_s,
        "pairs": pairs,
        "pairs_per_sec": per_sec(pairs, sweep_s),
        "decisions": decisions,
        "decisions_per_sec": per_sec(decisions, sweep_s),
        "allowed_actions": allowed,
        "taken_away": taken,
        "threads": threads,
        "sweep_seconds_threads": sweep_many_s,
        "who_can_ms": who_ms,
        "who_can_answers": who_answers,
        "reference_checked": checked,
        "mismatches": mismatches.len(),
    });
    let text = match args.format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(&figures)?),
        Format::Text => {
            let mut out = String::new();
            let _ = writeln!(
                out,
                "account         {roles} roles x {} policies + 1 inline; {} distinct policy sets",
                args.policies_per_role,
                model.distinct_sets()
            );
            let _ = writeln!(
                out,
                "build           {build_s:.2} s (compile, 1 thread); sweep plan {plan_s:.2} s ({} catalog actions)",
                catalog.action_count()
            );
            let _ = writeln!(out, "principal-can   every role, 1 thread: {sweep_s:.2} s; {pairs} (role, action) pairs, {:.1} M/s; {decisions} decisions, {:.2} M/s", per_sec(pairs, sweep_s) / 1e6, per_sec(decisions, sweep_s) / 1e6);
            let _ = writeln!(out, "                {allowed} allowed actions, {taken} taken away; {threads} threads: {sweep_many_s:.2} s ({:.2}x)", sweep_s / sweep_many_s.max(f64::MIN_POSITIVE));
            let _ = writeln!(out, "who-can         s3:GetObject on {resource}: {who_ms:.2} ms (median of 11, 1 thread), {who_answers} answers");
            let _ =
                writeln!(out, "mismatches      {} of {checked} answers re-decided by the reference", mismatches.len());
            out
        }
    };
    super::output::print_stdout(&text)?;
    if let Some(first) = mismatches.first() {
        return Err(CliError::new(format!(
            "{} answers differ from the reference evaluator; first: {first}",
            mismatches.len()
        )));
    }
    Ok(ExitCode::SUCCESS)
}
