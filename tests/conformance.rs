//! Differential conformance against @cloud-copilot/iam-simulate, an
//! independent TypeScript implementation. Opt-in (`#[ignore]`): run
//! `tests/conformance/run.sh`, which installs it with npm into a temporary
//! folder and runs this test with `IAMSIM_IAM_SIMULATE_DIR` pointing there.
//!
//! Cases are generated from the catalog (real actions, ARNs instantiated from
//! their resource types' formats, global condition keys, so iam-simulate's
//! input validation accepts them) and decided by our compiled engine, our
//! reference evaluator and iam-simulate (Strict mode). Every disagreement must
//! fall in a class adjudicated in `corpus/conformance/adjudicated.md`; any
//! other fails the test and is listed.

use iamsim::audit::catalog::Catalog;
use iamsim::audit::workload::Rng;
use iamsim::engine::eval::{reference_decide, DecisionKind, Scratch};
use iamsim::engine::policy::{parse_policy, Policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Context, ContextValue, Principal, Request};
use iamsim::CompiledPolicySet;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;

const ACCOUNT: &str = "111122223333";
const OTHER: &str = "444455556666";
const USER: &str = "arn:aws:iam::111122223333:user/alice";
const SERVICES: &[&str] = &["s3", "ec2", "iam", "kms", "sqs", "sns", "dynamodb", "lambda", "logs", "secretsmanager"];
const RESOURCE_POLICY_SERVICES: &[&str] = &["s3", "kms", "sqs", "sns", "lambda", "secretsmanager"];

/// One generated case: the simulation in iam-simulate's shape, and ours.
struct Case {
    simulation: Value,
    set: PolicySet,
    request: Request,
}

/// An action and a concrete resource for it.
struct Target {
    action: String,
    resource: String,
    account: String,
}

fn instantiate(format: &str, rng: &mut Rng) -> (String, String) {
    let mut out = String::new();
    let mut rest = format;
    let mut account = ACCOUNT.to_string();
    while let Some(open) = rest.find("${") {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else { break };
        let var = &rest[open + 2..open + close];
        let value = match var {
            "Partition" => "aws".to_string(),
            "Region" => rng.pick(&["us-east-1", "us-west-2"]).copied().unwrap_or("us-east-1").to_string(),
            "Account" => {
                account = if rng.chance(85) { ACCOUNT } else { OTHER }.to_string();
                account.clone()
            }
            _ => rng.pick(&["alpha", "beta", "prod-1"]).copied().unwrap_or("alpha").to_string(),
        };
        out.push_str(&value);
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    (out, account)
}

fn targets(catalog: &Catalog, rng: &mut Rng, n: usize) -> Vec<Target> {
    let mut pool = Vec::new();
    for prefix in SERVICES {
        let Some((_, service)) = catalog.service(prefix) else { continue };
        for (i, _) in service.actions.iter().enumerate() {
            pool.push(catalog.action(&format!("{prefix}:{}", service.actions[i].name)).unwrap());
        }
    }
    (0..n)
        .map(|_| {
            let id = *rng.pick(&pool).unwrap();
            let action = catalog.action_name(id);
            let formats: Vec<&String> = catalog.resource_types_of(id).flat_map(|t| t.arn_formats.iter()).collect();
            match rng.pick(&formats) {
                None => Target { action, resource: "*".to_string(), account: ACCOUNT.to_string() },
                Some(format) => {
                    let (resource, mut account) = instantiate(format, rng);
                    // S3 ARNs carry no account: the owner is given beside it.
                    if resource.starts_with("arn:aws:s3:::") && rng.chance(15) {
                        account = OTHER.to_string();
                    }
                    Target { action, resource, account }
                }
            }
        })
        .collect()
}

fn action_pattern(t: &Target, catalog: &Catalog, rng: &mut Rng) -> String {
    let (service, name) = t.action.split_once(':').unwrap();
    match rng.below(8) {
        0 => t.action.clone(),
        1 => t.action.to_ascii_lowercase(),
        2 => format!("{service}:{}*", &name[..name.len().min(3)]),
        3 => format!("{service}:*"),
        4 => "*".to_string(),
        5 => format!("{service}:*{}", &name[name.len().saturating_sub(4)..]),
        6 => {
            let (_, s) = catalog.service(service).unwrap();
            format!("{service}:{}", rng.pick(&s.actions).unwrap().name)
        }
        _ => format!("{service}:{}?{}", &name[..1], &name[2..]),
    }
}

fn resource_pattern(t: &Target, rng: &mut Rng) -> String {
    if t.resource == "*" {
        return rng.pick(&["*", "arn:aws:s3:::alpha"]).unwrap().to_string();
    }
    match rng.below(7) {
        0 | 1 => t.resource.clone(),
        2 => "*".to_string(),
        3 => match t.resource.rfind(['/', ':']) {
            Some(i) => format!("{}*", &t.resource[..=i]),
            None => "*".to_string(),
        },
        4 => {
            let parts: Vec<&str> = t.resource.splitn(6, ':').collect();
            if parts.len() == 6 {
                format!("arn:aws:{}:*:*:*", parts[2])
            } else {
                t.resource.clone()
            }
        }
        5 => t.resource.replace("alpha", "beta"),
        _ => t.resource.replace("alpha", "${aws:username}"),
    }
}

fn condition(rng: &mut Rng) -> (String, String, Value) {
    let (op, key, value): (&str, &str, Value) = match rng.below(16) {
        0 => ("StringEquals", "aws:PrincipalTag/team", json!(["eng", "ops"][rng.below(2)])),
        1 => ("StringNotEquals", "aws:PrincipalTag/team", json!("eng")),
        2 => ("StringLike", "aws:RequestedRegion", json!("us-*")),
        3 => ("StringEqualsIfExists", "aws:RequestedRegion", json!("us-west-2")),
        4 => ("IpAddress", "aws:SourceIp", json!("10.0.0.0/8")),
        5 => ("NotIpAddress", "aws:SourceIp", json!(["192.0.2.0/24", "198.51.100.0/24"])),
        6 => ("Bool", "aws:MultiFactorAuthPresent", json!(["true", "false"][rng.below(2)])),
        7 => ("BoolIfExists", "aws:MultiFactorAuthPresent", json!("false")),
        8 => ("DateGreaterThan", "aws:CurrentTime", json!("2026-01-01T00:00:00Z")),
        9 => ("NumericLessThan", "aws:MultiFactorAuthAge", json!("3600")),
        10 => ("ForAnyValue:StringEquals", "aws:TagKeys", json!(["team", "cost"])),
        11 => ("ForAllValues:StringEquals", "aws:TagKeys", json!(["team", "cost"])),
        12 => ("Null", "aws:SourceIp", json!(["true", "false"][rng.below(2)])),
        13 => ("ArnLike", "aws:PrincipalArn", json!("arn:aws:iam::111122223333:user/*")),
        14 => ("StringEqualsIgnoreCase", "aws:username", json!("ALICE")),
        _ => ("StringNotLikeIfExists", "aws:PrincipalTag/team", json!("o*")),
    };
    (op.to_string(), key.to_string(), value)
}

fn statement(t: &Target, catalog: &Catalog, rng: &mut Rng, principal: Option<Value>) -> Value {
    let mut s = serde_json::Map::new();
    s.insert("Effect".into(), json!(if rng.chance(70) { "Allow" } else { "Deny" }));
    if let Some(p) = principal {
        s.insert("Principal".into(), p);
    }
    let actions: Vec<String> = (0..1 + rng.below(2)).map(|_| action_pattern(t, catalog, rng)).collect();
    s.insert(if rng.chance(10) { "NotAction" } else { "Action" }.into(), json!(actions));
    let resources: Vec<String> = (0..1 + rng.below(2)).map(|_| resource_pattern(t, rng)).collect();
    s.insert(if rng.chance(10) { "NotResource" } else { "Resource" }.into(), json!(resources));
    if rng.chance(40) {
        let mut c: BTreeMap<String, serde_json::Map<String, Value>> = BTreeMap::new();
        for _ in 0..1 + rng.below(2) {
            let (op, key, value) = condition(rng);
            c.entry(op).or_default().insert(key, value);
        }
        s.insert("Condition".into(), json!(c));
    }
    Value::Object(s)
}

fn document(statements: Vec<Value>) -> Value {
    json!({"Version": "2012-10-17", "Statement": statements})
}

fn context(rng: &mut Rng, t: &Target) -> BTreeMap<String, Value> {
    let mut c = BTreeMap::new();
    // Principal keys, given explicitly: iam-simulate does not derive them.
    c.insert("aws:PrincipalArn".to_string(), json!(USER));
    c.insert("aws:PrincipalAccount".to_string(), json!(ACCOUNT));
    c.insert("aws:username".to_string(), json!("alice"));
    c.insert("aws:userid".to_string(), json!("AIDAALICE"));
    c.insert("aws:PrincipalType".to_string(), json!("User"));
    let region = t.resource.split(':').nth(3).filter(|r| !r.is_empty()).unwrap_or("us-east-1");
    let optional: [(&str, Value); 7] = [
        ("aws:SourceIp", json!(["10.1.2.3", "192.0.2.7"][rng.below(2)])),
        ("aws:RequestedRegion", json!(region)),
        ("aws:PrincipalTag/team", json!(["eng", "ops", "other"][rng.below(3)])),
        ("aws:MultiFactorAuthPresent", json!(["true", "false"][rng.below(2)])),
        ("aws:MultiFactorAuthAge", json!(["60", "7200"][rng.below(2)])),
        ("aws:CurrentTime", json!(["2026-06-01T00:00:00Z", "2025-06-01T00:00:00Z"][rng.below(2)])),
        ("aws:TagKeys", if rng.chance(50) { json!(["team"]) } else { json!(["team", "owner"]) }),
    ];
    for (k, v) in optional {
        if rng.chance(60) {
            c.insert(k.to_string(), v);
        }
    }
    c
}

fn parse(doc: &Value, kind: PolicyKind) -> Policy {
    parse_policy(doc.to_string().as_bytes(), "case", kind)
        .unwrap_or_else(|e| panic!("generated policy does not parse: {e}\n{doc}"))
}

fn generate(catalog: &Catalog, count: usize, seed: u64) -> Vec<Case> {
    let mut rng = Rng::new(seed);
    let list = targets(catalog, &mut rng, count);
    list.into_iter()
        .map(|t| {
            let identity: Vec<Value> =
                (0..1 + rng.below(2)).map(|_| document((0..1 + rng.below(3)).map(|_| statement(&t, catalog, &mut rng, None)).collect())).collect();
            let boundary = rng.chance(15).then(|| document(vec![statement(&t, catalog, &mut rng, None)]));
            let scp = rng.chance(15).then(|| {
                document(vec![json!({"Effect": "Allow", "Action": "*", "Resource": "*"}), statement(&t, catalog, &mut rng, None)])
            });
            let service = t.action.split(':').next().unwrap();
            // KMS: key policies attach to keys, not aliases.
            let attachable = t.resource != "*" && (service != "kms" || t.resource.contains(":key/"));
            let resource_policy = (RESOURCE_POLICY_SERVICES.contains(&service) && attachable && rng.chance(35)).then(|| {
                let principal = match rng.below(3) {
                    0 => json!({"AWS": USER}),
                    1 => json!({"AWS": format!("arn:aws:iam::{ACCOUNT}:root")}),
                    _ => json!("*"),
                };
                document(vec![statement(&t, catalog, &mut rng, Some(principal))])
            });
            // Every KMS key has a key policy: when none was drawn, the key gets
            // AWS's default one (delegating to the account), as AWS does.
            let resource_policy = match resource_policy {
                None if service == "kms" && t.resource.contains(":key/") => Some(json!({
                    "Version": "2012-10-17",
                    "Statement": [{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                        "Principal": {"AWS": format!("arn:aws:iam::{}:root", t.account)}, "Action": "kms:*", "Resource": "*"}]
                })),
                other => other,
            };
            let ctx = context(&mut rng, &t);
            let simulation = json!({
                "request": {
                    "principal": USER,
                    "action": t.action,
                    "resource": {"resource": t.resource, "accountId": t.account},
                    "contextVariables": ctx,
                },
                "identityPolicies": identity.iter().enumerate().map(|(i, p)| json!({"name": format!("identity{i}"), "policy": p})).collect::<Vec<_>>(),
                "permissionBoundaryPolicies": boundary.iter().map(|p| json!({"name": "boundary", "policy": p})).collect::<Vec<_>>(),
                "serviceControlPolicies": scp.iter().map(|p| json!({"orgIdentifier": "ou-1", "policies": [{"name": "scp", "policy": p}]})).collect::<Vec<_>>(),
                "resourceControlPolicies": [],
                "resourcePolicy": resource_policy,
            });
            let mut set = PolicySet {
                identity: identity.iter().map(|p| parse(p, PolicyKind::Identity)).collect(),
                permissions_boundary: boundary.as_ref().map(|p| parse(p, PolicyKind::PermissionsBoundary)),
                resource: resource_policy.as_ref().map(|p| parse(p, PolicyKind::Resource)),
                ..PolicySet::default()
            };
            if let Some(p) = &scp {
                set.scps = vec![vec![parse(p, PolicyKind::Scp)]];
            }
            let mut request = Request::new(Principal::parse(USER).unwrap(), &t.action, &t.resource);
            request.resource_account = Some(t.account.clone());
            let mut context = Context::new();
            for (k, v) in &ctx {
                let value = match v {
                    Value::Array(items) => ContextValue::Multi(items.iter().map(|i| i.as_str().unwrap().to_string()).collect()),
                    v => ContextValue::Single(v.as_str().unwrap().to_string()),
                };
                context.insert(k, value);
            }
            request.context = context;
            Case { simulation, set, request }
        })
        .collect()
}

fn theirs(kind: &str) -> Option<DecisionKind> {
    match kind {
        "Allowed" => Some(DecisionKind::Allowed),
        "ExplicitlyDenied" => Some(DecisionKind::ExplicitDeny),
        "ImplicitlyDenied" => Some(DecisionKind::ImplicitDeny),
        _ => None,
    }
}

/// The adjudicated class a disagreement belongs to (see corpus/conformance/adjudicated.md), if any.
fn adjudicated(case: &Case, ours: DecisionKind, theirs: DecisionKind) -> Option<&'static str> {
    let key = case.request.action.to_ascii_lowercase().starts_with("kms:") && case.request.resource.contains(":key/");
    // 1. A KMS key request simulated without its key policy: we evaluate the
    //    policies given (as AWS's simulate-custom-policy does); iam-simulate
    //    assumes a key policy that does not delegate to the account.
    if key && case.set.resource.is_none() && ours == DecisionKind::Allowed && theirs == DecisionKind::ImplicitDeny {
        return Some("kms-key-policy-not-given");
    }
    None
}

#[test]
#[ignore = "opt-in: tests/conformance/run.sh installs @cloud-copilot/iam-simulate with npm and runs this"]
fn agrees_with_iam_simulate() {
    let Some(runner) = std::env::var_os("IAMSIM_IAM_SIMULATE_DIR") else {
        println!("SKIP: IAMSIM_IAM_SIMULATE_DIR is not set; run tests/conformance/run.sh");
        return;
    };
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; cases are generated from its catalog");
        return;
    };
    let catalog = Catalog::load(&data.join("iam-catalog")).unwrap();
    let count = std::env::var("IAMSIM_CONFORMANCE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(3000);
    let seed = std::env::var("IAMSIM_CONFORMANCE_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(1);
    let cases = generate(&catalog, count, seed);
    let mut input = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        writeln!(input, "{}", json!({"id": i, "simulation": c.simulation})).unwrap();
    }
    let mut child = std::process::Command::new("node")
        .arg(std::path::Path::new(&runner).join("iam-simulate-runner.mjs"))
        .current_dir(&runner)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());
    let mut compared = 0;
    let mut rejected = Vec::new();
    let mut unexplained = Vec::new();
    let mut classes: BTreeMap<&str, usize> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).unwrap().lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        let i = r["id"].as_u64().unwrap() as usize;
        let case = &cases[i];
        let compiled = CompiledPolicySet::compile(case.set.clone()).unwrap();
        let ours = compiled.decide(&case.request, &mut Scratch::new(&compiled)).kind;
        assert_eq!(ours, reference_decide(&case.set, &case.request).kind, "compiled vs reference, case {i}");
        let Some(them) = r["result"].as_str().and_then(theirs) else {
            rejected.push(format!(
                "case {i}: iam-simulate rejected {} on {}: {}",
                case.request.action, case.request.resource, r["error"]
            ));
            continue;
        };
        compared += 1;
        if ours != them {
            match adjudicated(case, ours, them) {
                Some(class) => *classes.entry(class).or_default() += 1,
                None => unexplained.push(format!(
                    "case {i}: ours {} theirs {}\n{}",
                    ours.as_str(),
                    them.as_str(),
                    serde_json::to_string_pretty(&case.simulation).unwrap()
                )),
            }
        }
    }
    let agreeing = compared - unexplained.len() - classes.values().sum::<usize>();
    println!(
        "conformance: {} cases, {compared} compared, {agreeing} agree ({:.2}%), {} rejected by iam-simulate, adjudicated {classes:?}",
        cases.len(),
        100.0 * agreeing as f64 / compared.max(1) as f64,
        rejected.len()
    );
    for r in rejected.iter().take(10) {
        println!("{r}");
    }
    assert!(
        unexplained.is_empty(),
        "{} unadjudicated disagreements:\n{}",
        unexplained.len(),
        unexplained.iter().take(10).cloned().collect::<Vec<_>>().join("\n")
    );
}
