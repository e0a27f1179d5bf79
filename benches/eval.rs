//! Criterion benchmarks. Each group first checks its answers (the corpus main
//! job against `corpus/eks/expected.txt`, generated workloads against the
//! reference evaluator, iam-rs against iamsim on the flat policy and on the EKS
//! managed set), so a wrong answer fails the benchmark instead of producing a
//! fast wrong figure.
//! `cargo test --benches` runs each once (CI keeps them compiling and right).
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use iamsim::audit::workload::Generator;
use iamsim::engine::eval::batch::{decide_all, prepare_all, verdicts};
use iamsim::engine::eval::{reference_decide, DecisionKind, Prepared, Scratch};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Principal, Request};
use iamsim::CompiledPolicySet;
use std::hint::black_box;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn eks_bundle() -> PolicySet {
    let bytes = std::fs::read(root().join("corpus/eks/bundle.json")).unwrap();
    PolicySet::from_bundle(&bytes, "bundle.json").unwrap()
}

fn corpus_requests() -> (Vec<Request>, Vec<String>) {
    let text = std::fs::read_to_string(root().join("corpus/eks/requests.jsonl")).unwrap();
    let expected = std::fs::read_to_string(root().join("corpus/eks/expected.txt")).unwrap();
    let reqs = text.lines().map(iamsim_request).collect();
    (reqs, expected.lines().map(str::to_string).collect())
}

fn iamsim_request(line: &str) -> Request {
    Request::from_json(&serde_json::from_str(line).unwrap()).unwrap()
}

/// The AWS managed policies whose file name matches `pred`, when `../shared/data` is present.
fn managed(pred: impl Fn(&str) -> bool) -> Option<Vec<iamsim::engine::policy::Policy>> {
    let dir = root().join("../shared/data/managed-policies");
    if !dir.is_dir() {
        eprintln!("SKIP: {} is absent; managed-policy benchmarks need it", dir.display());
        return None;
    }
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let name = |p: &Path| p.file_stem().unwrap().to_string_lossy().into_owned();
    Some(
        paths
            .iter()
            .filter(|p| pred(&name(p)))
            .map(|p| parse_policy(&std::fs::read(p).unwrap(), &name(p), PolicyKind::Identity).unwrap())
            .collect(),
    )
}

fn check_against_reference(set: &PolicySet, compiled: &CompiledPolicySet, reqs: &[Request]) {
    let mut s = Scratch::new(compiled);
    for r in reqs {
        assert_eq!(compiled.decide(r, &mut s), reference_decide(set, r), "{r:?}");
    }
}

fn compile(c: &mut Criterion) {
    let mut g = c.benchmark_group("compile");
    let eks = eks_bundle();
    g.bench_function("eks_bundle", |b| b.iter(|| CompiledPolicySet::compile(black_box(eks.clone())).unwrap()));
    if let Some(all) = managed(|_| true) {
        assert!(all.len() >= 1594);
        let set = PolicySet { identity: all, ..Default::default() };
        g.sample_size(10);
        g.bench_function("all_managed_policies", |b| {
            b.iter(|| CompiledPolicySet::compile(black_box(set.clone())).unwrap())
        });
    }
    g.finish();
}

fn decide(c: &mut Criterion) {
    let set = eks_bundle();
    let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
    let (corpus, expected) = corpus_requests();
    // The main job's answers first.
    let got: Vec<_> = decide_all(&compiled, &corpus).iter().map(|d| d.kind.as_str().to_string()).collect();
    assert_eq!(got, expected, "corpus main job decisions");
    let generated = Generator::new(&set).generate(2_000, 1);
    check_against_reference(&set, &compiled, &generated);

    let mut g = c.benchmark_group("decide");
    let one = &corpus[0];
    let mut s = Scratch::new(&compiled);
    assert_eq!(compiled.decide(one, &mut s).kind, DecisionKind::Allowed);
    g.bench_function("single/compiled", |b| b.iter(|| compiled.decide(black_box(one), &mut s)));
    g.bench_function("single/reference", |b| b.iter(|| reference_decide(&set, black_box(one))));
    g.throughput(Throughput::Elements(generated.len() as u64));
    g.bench_function("batch/compiled_1_thread", |b| {
        b.iter(|| {
            for r in &generated {
                black_box(compiled.decide(r, &mut s));
            }
        })
    });
    g.bench_function("batch/compiled_all_threads", |b| b.iter(|| decide_all(&compiled, black_box(&generated))));
    g.sample_size(10);
    g.bench_function("batch/reference", |b| {
        b.iter(|| {
            for r in &generated {
                black_box(reference_decide(&set, r));
            }
        })
    });
    g.finish();

    if let Some(eks) = managed(|n| n.starts_with("AmazonEKS") || n == "AmazonEBSCSIDriverPolicy") {
        let set = PolicySet { identity: eks, ..Default::default() };
        let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
        let generated = Generator::new(&set).generate(2_000, 1);
        check_against_reference(&set, &compiled, &generated);
        let mut g = c.benchmark_group("eks_managed_identity");
        g.throughput(Throughput::Elements(generated.len() as u64));
        let mut s = Scratch::new(&compiled);
        g.bench_function(BenchmarkId::new("compiled", "1_thread"), |b| {
            b.iter(|| {
                for r in &generated {
                    black_box(compiled.decide(r, &mut s));
                }
            })
        });
        g.bench_function(BenchmarkId::new("compiled", "all_threads"), |b| {
            b.iter(|| decide_all(&compiled, black_box(&generated)))
        });
        // Every path of the engine side by side, one thread (as `iamsim
        // bench` prints them); the property tests check that they agree.
        g.bench_function(BenchmarkId::new("owned_verdict", "1_thread"), |b| {
            b.iter(|| {
                for r in &generated {
                    black_box(compiled.decide_verdict(r, &mut s));
                }
            })
        });
        let prepared = prepare_all(&compiled, &generated);
        let mut grouped = prepared.clone();
        grouped.sort_by_key(Prepared::action_group);
        for (name, batch) in [("prepared", &prepared), ("prepared_by_action", &grouped)] {
            g.bench_function(BenchmarkId::new(name, "explain_1_thread"), |b| {
                b.iter(|| {
                    for p in batch.iter() {
                        black_box(compiled.explain(p, &mut s));
                    }
                })
            });
            g.bench_function(BenchmarkId::new(name, "verdict_1_thread"), |b| {
                b.iter(|| {
                    for p in batch.iter() {
                        black_box(compiled.verdict(p, &mut s));
                    }
                })
            });
        }
        g.bench_function(BenchmarkId::new("prepared", "verdicts_all_threads"), |b| {
            b.iter(|| verdicts(&compiled, black_box(&prepared)))
        });
        g.finish();
    }
}

/// A flat four-statement identity policy both engines understand.
const FLAT: &str = r#"{"Version":"2012-10-17","Statement":[
 {"Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::data-bucket","arn:aws:s3:::data-bucket/*"]},
 {"Sid":"Describe","Effect":"Allow","Action":"ec2:Describe*","Resource":"*"},
 {"Sid":"NoDelete","Effect":"Deny","Action":"s3:DeleteObject","Resource":"*"},
 {"Sid":"Orders","Effect":"Allow","Action":"dynamodb:GetItem","Resource":"arn:aws:dynamodb:us-east-1:123456789012:table/orders"}]}"#;

fn flat_requests() -> Vec<(String, String)> {
    let actions = [
        "s3:GetObject",
        "s3:ListBucket",
        "s3:DeleteObject",
        "s3:PutObject",
        "ec2:DescribeInstances",
        "ec2:RunInstances",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ];
    let resources = [
        "arn:aws:s3:::data-bucket/a/b.txt",
        "arn:aws:s3:::data-bucket",
        "arn:aws:s3:::other/x",
        "arn:aws:ec2:us-east-1:123456789012:instance/i-1",
        "arn:aws:dynamodb:us-east-1:123456789012:table/orders",
        "arn:aws:dynamodb:us-east-1:123456789012:table/users",
    ];
    let mut rng = iamsim::audit::workload::Rng::new(42);
    (0..1000).map(|_| (rng.pick(&actions).unwrap().to_string(), rng.pick(&resources).unwrap().to_string())).collect()
}

fn versus_iam_rs(c: &mut Criterion) {
    let pairs = flat_requests();
    let principal = "arn:aws:iam::123456789012:user/alice";
    let ours_set = PolicySet {
        identity: vec![parse_policy(FLAT.as_bytes(), "flat", PolicyKind::Identity).unwrap()],
        ..Default::default()
    };
    let ours = CompiledPolicySet::compile(ours_set).unwrap();
    let our_reqs: Vec<Request> =
        pairs.iter().map(|(a, r)| Request::new(Principal::parse(principal).unwrap(), a, r)).collect();
    let theirs = iam_rs::PolicyEvaluator::with_policies(vec![iam_rs::IAMPolicy::from_json(FLAT).unwrap()]);
    let their_reqs: Vec<iam_rs::IAMRequest> = pairs
        .iter()
        .map(|(a, r)| {
            iam_rs::IAMRequest::new(
                iam_rs::Principal::Aws(iam_rs::PrincipalId::String(principal.into())),
                a.clone(),
                iam_rs::Arn::parse(r).unwrap(),
            )
        })
        .collect();
    // Same answers first.
    let mut s = Scratch::new(&ours);
    for (o, t) in our_reqs.iter().zip(&their_reqs) {
        let mine = ours.decide(o, &mut s).kind;
        let other = their_kind(theirs.evaluate(t).unwrap().decision);
        assert_eq!(mine, other, "{} on {}", o.action, o.resource);
    }
    side_by_side(c, "versus_iam_rs_flat_policy", None, (&ours, &our_reqs), (&theirs, &their_reqs));
}

/// iam-rs's verdict in iamsim's terms.
fn their_kind(d: iam_rs::Decision) -> DecisionKind {
    match d {
        iam_rs::Decision::Allow => DecisionKind::Allowed,
        iam_rs::Decision::Deny => DecisionKind::ExplicitDeny,
        iam_rs::Decision::NotApplicable => DecisionKind::ImplicitDeny,
    }
}

/// Times both engines on the same requests (already checked to agree).
fn side_by_side(
    c: &mut Criterion,
    group: &str,
    samples: Option<usize>,
    (ours, our_reqs): (&CompiledPolicySet, &[Request]),
    (theirs, their_reqs): (&iam_rs::PolicyEvaluator, &[iam_rs::IAMRequest]),
) {
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements(our_reqs.len() as u64));
    if let Some(n) = samples {
        g.sample_size(n);
    }
    let mut s = Scratch::new(ours);
    g.bench_function("iamsim_compiled", |b| {
        b.iter(|| {
            for r in our_reqs {
                black_box(ours.decide(r, &mut s));
            }
        })
    });
    let prepared: Vec<_> = our_reqs.iter().map(|r| ours.prepare(r, &mut s)).collect();
    g.bench_function("iamsim_prepared_verdict", |b| {
        b.iter(|| {
            for p in &prepared {
                black_box(ours.verdict(p, &mut s));
            }
        })
    });
    g.bench_function("iam_rs", |b| {
        b.iter(|| {
            for r in their_reqs {
                black_box(theirs.evaluate(r).unwrap());
            }
        })
    });
    g.finish();
}

/// The EKS managed identity set (21 policies, 144 statements) in both
/// engines, on generated requests iam-rs can express: a resource ARN it
/// accepts (not `*`) owned by the principal's account (iam-rs has no
/// cross-account rule). Every one must get the same decision from both.
fn versus_iam_rs_eks(c: &mut Criterion) {
    let is_eks = |n: &str| n.starts_with("AmazonEKS") || n == "AmazonEBSCSIDriverPolicy";
    let Some(ours_policies) = managed(is_eks) else { return };
    let dir = root().join("../shared/data/managed-policies");
    let theirs_policies: Vec<iam_rs::IAMPolicy> = ours_policies
        .iter()
        .map(|p| {
            iam_rs::IAMPolicy::from_json(&std::fs::read_to_string(dir.join(format!("{}.json", p.name))).unwrap())
                .unwrap()
        })
        .collect();
    let set = PolicySet { identity: ours_policies, ..Default::default() };
    let ours = CompiledPolicySet::compile(set.clone()).unwrap();
    let theirs = iam_rs::PolicyEvaluator::with_policies(theirs_policies);
    let mut s = Scratch::new(&ours);
    let mut our_reqs = Vec::new();
    let mut their_reqs = Vec::new();
    let mut counts = [0usize; 2];
    for r in Generator::new(&set).generate(2_000, 1) {
        let same_account = r.principal.account().is_some() && r.resource_account() == r.principal.account();
        let Ok(arn) = iam_rs::Arn::parse(&r.resource) else { continue };
        if !same_account {
            continue;
        }
        let mut t = iam_rs::IAMRequest::new(
            iam_rs::Principal::Aws(iam_rs::PrincipalId::String(r.principal.display_name().into())),
            r.action.clone(),
            arn,
        );
        for (k, v) in r.context.iter() {
            if let iamsim::engine::request::ContextEntry::Single(v) = v {
                t.context.insert(k.to_string(), iam_rs::ContextValue::String(v.to_string()));
            }
        }
        // iam-rs refuses some generated ARNs (a `*` partition): not comparable.
        let Ok(other) = theirs.evaluate(&t) else { continue };
        let other = their_kind(other.decision);
        let mine = ours.decide(&r, &mut s).kind;
        assert_eq!(mine, other, "{r:?}");
        counts[usize::from(mine != DecisionKind::Allowed)] += 1;
        our_reqs.push(r);
        their_reqs.push(t);
    }
    // Most of the workload is comparable, with both verdicts well represented.
    assert!(our_reqs.len() >= 1_000 && counts[0] >= 300 && counts[1] >= 300, "{counts:?}");
    // iam-rs takes ~0.2 ms per decision here: ten samples of the whole workload.
    side_by_side(c, "versus_iam_rs_eks_managed", Some(10), (&ours, &our_reqs), (&theirs, &their_reqs));
}

criterion_group!(benches, compile, decide, versus_iam_rs, versus_iam_rs_eks);
criterion_main!(benches);
