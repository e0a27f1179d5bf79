//! Runs every case in `corpus/cases/*.json` (format: corpus/README.md) under
//! every engine: the reference evaluator, the compiled engine and the parallel
//! batch path. Each must give the expected decision, and compiled must equal
//! reference exactly (statements and missing keys included).

use iamsim::engine::eval::{batch::decide_all, reference_decide, Decision};
use iamsim::engine::policy::{parse_policy, Layer, PolicyKind, PolicySet, StatementRef};
use iamsim::engine::request::{Context, Principal, Request};
use iamsim::CompiledPolicySet;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    id: u32,
    name: String,
    #[allow(dead_code)]
    source: String,
    #[serde(default)]
    policies: Option<serde_json::Value>,
    #[serde(default)]
    checks: Vec<Check>,
    #[serde(default)]
    parse_error: Option<ParseErrorCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParseErrorCase {
    kind: String,
    document: String,
    path: String,
    message_contains: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Check {
    principal: String,
    action: String,
    resource: String,
    #[serde(default)]
    resource_account: Option<String>,
    #[serde(default)]
    context: Option<serde_json::Value>,
    expect: String,
    #[serde(default)]
    statements: Option<Vec<String>>,
    #[serde(default)]
    missing_context_keys: Option<Vec<String>>,
    #[serde(default)]
    unknown_context_keys: Option<Vec<String>>,
    /// Unlisted context keys are unknown rather than absent (replay).
    #[serde(default)]
    open_world: bool,
    /// An IAM user's credentials: `session_token` (GetSessionToken) or
    /// `unknown`; long-term when absent.
    #[serde(default)]
    user_credentials: Option<String>,
    #[serde(default)]
    #[allow(dead_code)]
    note: Option<String>,
}

fn statement_label(r: &StatementRef) -> String {
    let layer = match r.layer {
        Layer::Scp(l) => format!("scp/{l}"),
        Layer::Rcp(l) => format!("rcp/{l}"),
        other => other.kind().as_str().to_string(),
    };
    format!("{layer}:{}:{}", r.policy, r.statement)
}

fn kind_of(s: &str) -> PolicyKind {
    match s {
        "identity" => PolicyKind::Identity,
        "resource" => PolicyKind::Resource,
        "scp" => PolicyKind::Scp,
        "rcp" => PolicyKind::Rcp,
        "session" => PolicyKind::Session,
        "permissions_boundary" => PolicyKind::PermissionsBoundary,
        other => panic!("unknown kind {other}"),
    }
}

/// Runs one case file; returns (cases, checks, failures).
fn run_file(path: &std::path::Path) -> (usize, usize, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let file: File = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut failures = Vec::new();
    let mut checks = 0;
    for case in &file.cases {
        let label = format!("{} case {} ({})", path.file_name().unwrap().to_string_lossy(), case.id, case.name);
        if let Some(pe) = &case.parse_error {
            checks += 1;
            match parse_policy(pe.document.as_bytes(), "case.json", kind_of(&pe.kind)) {
                Ok(_) => failures.push(format!("{label}: parsed, expected an error at `{}`", pe.path)),
                Err(e) => {
                    if e.path() != pe.path || !e.message().contains(&pe.message_contains) {
                        failures.push(format!(
                            "{label}: got `{e}`, expected path `{}` and message containing `{}`",
                            pe.path, pe.message_contains
                        ));
                    }
                }
            }
            continue;
        }
        let bundle = serde_json::to_vec(case.policies.as_ref().unwrap_or(&serde_json::json!({}))).unwrap();
        let set = match PolicySet::from_bundle(&bundle, "case") {
            Ok(s) => s,
            Err(e) => {
                failures.push(format!("{label}: policies do not parse: {e}"));
                continue;
            }
        };
        let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
        let requests: Vec<Request> = case
            .checks
            .iter()
            .map(|c| {
                let mut r = Request::new(Principal::parse(&c.principal).unwrap(), &c.action, &c.resource);
                r.resource_account = c.resource_account.clone();
                r.user_credentials = match c.user_credentials.as_deref() {
                    None => iamsim::engine::request::UserCredentials::Unlimited,
                    Some("session_token") => iamsim::engine::request::UserCredentials::SessionToken,
                    Some("unknown") => iamsim::engine::request::UserCredentials::Unknown,
                    Some(other) => panic!("user_credentials: unknown value {other}"),
                };
                let mut ctx = if c.open_world { Context::open_world() } else { Context::new() };
                if let Some(given) = &c.context {
                    for (k, v) in Context::from_json(given).unwrap().iter() {
                        ctx.insert(k, v.to_value());
                    }
                }
                r.context = ctx;
                r
            })
            .collect();
        let batch = decide_all(&compiled, &requests);
        let mut scratch = iamsim::engine::eval::Scratch::new(&compiled);
        for ((c, req), from_batch) in case.checks.iter().zip(&requests).zip(&batch) {
            checks += 1;
            let what = format!("{label}: {} {} as {}", c.action, c.resource, c.principal);
            let reference: Decision = reference_decide(&set, req);
            let fast = compiled.decide(req, &mut scratch);
            if reference != fast {
                failures.push(format!("{what}: compiled {fast:?} != reference {reference:?}"));
            }
            if fast != *from_batch {
                failures.push(format!("{what}: batch {from_batch:?} != compiled {fast:?}"));
            }
            if fast.kind.as_str() != c.expect {
                failures.push(format!("{what}: got {} expected {} ({fast:?})", fast.kind, c.expect));
            }
            if let Some(want) = &c.statements {
                let got: Vec<String> = fast.statements.iter().map(statement_label).collect();
                if &got != want {
                    failures.push(format!("{what}: statements {got:?} expected {want:?}"));
                }
            }
            if let Some(want) = &c.unknown_context_keys {
                let got: Vec<&str> = fast.unknown_keys.iter().filter_map(|k| compiled.key_name(*k)).collect();
                if &got != want {
                    failures.push(format!("{what}: unknown keys {got:?} expected {want:?}"));
                }
            }
            if let Some(want) = &c.missing_context_keys {
                let got: Vec<&str> = fast.missing_keys.iter().filter_map(|k| compiled.key_name(*k)).collect();
                if &got != want {
                    failures.push(format!("{what}: missing keys {got:?} expected {want:?}"));
                }
            }
        }
    }
    let ids: std::collections::BTreeSet<u32> = file.cases.iter().map(|c| c.id).collect();
    (ids.len(), checks, failures)
}

#[test]
fn semantics_cases() {
    let paths = crate::json_files(&crate::root().join("corpus/cases"));
    let (mut cases, mut checks, mut failures) = (0, 0, Vec::new());
    for p in &paths {
        let (n, c, f) = run_file(p);
        cases += n;
        checks += c;
        failures.extend(f);
    }
    println!("corpus: {cases} semantics cases, {checks} checks in {} files", paths.len());
    assert!(failures.is_empty(), "{} corpus failures:\n{}", failures.len(), failures.join("\n"));
    assert!(cases >= 66 + 4, "expected every §9 case and the unknown-value cases, found {cases}");
}
