//! Hostile input: every element of a policy given every wrong JSON type, and
//! adversarial sizes (10,000-star patterns, deep nesting, huge documents,
//! overlong lines). Each is a located error or a correct answer; never a
//! panic, never unbounded memory.

use iamsim::engine::eval::{reference_decide, Scratch};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Context, ContextValue, Principal, Request};
use iamsim::CompiledPolicySet;
use serde_json::{json, Value};

fn base() -> Value {
    json!({
        "Version": "2012-10-17",
        "Id": "doc",
        "Statement": [{
            "Sid": "One",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": ["arn:aws:s3:::b/*"],
            "Condition": {"StringEquals": {"aws:PrincipalTag/team": ["eng"]}}
        }]
    })
}

/// JSON pointers to every element of the base policy, and the path our errors use for it.
const ELEMENTS: &[(&str, &str)] = &[
    ("/Version", "Version"),
    ("/Id", "Id"),
    ("/Statement", "Statement"),
    ("/Statement/0", "Statement[0]"),
    ("/Statement/0/Sid", "Statement[0].Sid"),
    ("/Statement/0/Effect", "Statement[0].Effect"),
    ("/Statement/0/Action", "Statement[0].Action"),
    ("/Statement/0/Action/0", "Statement[0].Action[0]"),
    ("/Statement/0/Resource", "Statement[0].Resource"),
    ("/Statement/0/Resource/0", "Statement[0].Resource[0]"),
    ("/Statement/0/Condition", "Statement[0].Condition"),
    ("/Statement/0/Condition/StringEquals", "Statement[0].Condition.StringEquals"),
    (
        "/Statement/0/Condition/StringEquals/aws:PrincipalTag~1team",
        "Statement[0].Condition.StringEquals.aws:PrincipalTag/team",
    ),
    (
        "/Statement/0/Condition/StringEquals/aws:PrincipalTag~1team/0",
        "Statement[0].Condition.StringEquals.aws:PrincipalTag/team[0]",
    ),
];

/// Every element replaced by every JSON type: either still a valid policy
/// (AWS accepts a string where a list is allowed, numbers and booleans as
/// condition values) or an error located at that element or inside it.
#[test]
fn every_element_rejects_every_wrong_type() {
    let replacements = [
        json!(7),
        json!(true),
        json!(null),
        json!({}),
        json!([]),
        json!("text"),
        json!([1]),
        json!({"x": 1}),
        json!([[]]),
    ];
    let mut errors = 0;
    for (pointer, path) in ELEMENTS {
        for r in &replacements {
            let mut doc = base();
            *doc.pointer_mut(pointer).unwrap() = r.clone();
            let text = doc.to_string();
            match parse_policy(text.as_bytes(), "hostile.json", PolicyKind::Identity) {
                Ok(_) => {}
                Err(e) => {
                    errors += 1;
                    let at = e.path();
                    // The error names this element (or, for containers, something inside it),
                    // or the statement when a required element is now missing.
                    let related =
                        at.starts_with(path) || path.starts_with(at) || at.is_empty() && *pointer == "/Statement";
                    assert!(related, "{pointer} = {r}: error located at `{at}`: {e}");
                    assert!(e.span().is_some() || at.is_empty(), "{pointer} = {r}: no line/column: {e}");
                    assert!(e.to_string().starts_with("hostile.json:"), "{e}");
                }
            }
        }
    }
    assert!(errors > 80, "only {errors} of the mutations were rejected");
}

/// Removing each required element, or adding an unknown one, is a located error.
#[test]
fn missing_and_unknown_elements_are_located_errors() {
    for (pointer, want) in
        [("/Statement/0/Effect", "Effect"), ("/Statement/0/Action", "Action"), ("/Statement/0/Resource", "Resource")]
    {
        let mut doc = base();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        doc.pointer_mut(parent).unwrap().as_object_mut().unwrap().remove(key);
        let e = parse_policy(doc.to_string().as_bytes(), "h", PolicyKind::Identity).err().unwrap();
        assert!(e.path().starts_with("Statement[0]") && e.to_string().contains(want), "{pointer}: {e}");
    }
    let mut doc = base();
    doc["Statement"][0]["Effects"] = json!("Allow");
    let e = parse_policy(doc.to_string().as_bytes(), "h", PolicyKind::Identity).err().unwrap();
    assert!(e.path().starts_with("Statement[0]") && e.to_string().contains("Effects"), "{e}");
}

fn decide_both(doc: &str, action: &str, resource: &str, context: Context) -> iamsim::DecisionKind {
    let policy = parse_policy(doc.as_bytes(), "big", PolicyKind::Identity).unwrap();
    let set = PolicySet { identity: vec![policy], ..PolicySet::default() };
    let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
    let mut req = Request::new(Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap(), action, resource);
    req.context = context;
    let fast = compiled.decide(&req, &mut Scratch::new(&compiled)).kind;
    assert_eq!(fast, reference_decide(&set, &req).kind);
    fast
}

/// Patterns of 10,000 stars compile and match in linear time and bounded
/// memory (the glob matchers never backtrack exponentially).
#[test]
fn ten_thousand_star_patterns_are_harmless() {
    let stars = "*".repeat(10_000);
    let doc = json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow",
        "Action": format!("s3:{stars}Get{stars}"),
        "Resource": format!("arn:aws:s3:::{}", "*a".repeat(5_000)),
        "Condition": {"StringLike": {"aws:PrincipalTag/team": format!("{stars}e{stars}")}}
    }]})
    .to_string();
    let mut ctx = Context::new();
    ctx.insert("aws:PrincipalTag/team", ContextValue::Single("eng".into()));
    let many_a = format!("arn:aws:s3:::{}", "a".repeat(5_000));
    assert_eq!(decide_both(&doc, "s3:GetObject", &many_a, ctx.clone()), iamsim::DecisionKind::Allowed);
    assert_eq!(decide_both(&doc, "s3:GetObject", "arn:aws:s3:::aaaa", ctx), iamsim::DecisionKind::ImplicitDeny);
}

/// A document with 20,000 statements parses, compiles and decides.
#[test]
fn huge_documents_parse_and_decide() {
    let statements: Vec<Value> = (0..20_000)
        .map(|i| json!({"Effect": "Allow", "Action": format!("s3:Get{i}-*"), "Resource": format!("arn:aws:s3:::bucket-{i}/*")}))
        .collect();
    let doc = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
    assert_eq!(
        decide_both(&doc, "s3:Get19999-Object", "arn:aws:s3:::bucket-19999/k", Context::new()),
        iamsim::DecisionKind::Allowed
    );
    assert_eq!(
        decide_both(&doc, "s3:Get19999-Object", "arn:aws:s3:::bucket-1/k", Context::new()),
        iamsim::DecisionKind::ImplicitDeny
    );
}

#[test]
fn nesting_past_the_limit_is_a_located_error() {
    let deep = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"*","Resource":"*","Sid":{}1{}}}}}"#,
        "[".repeat(100),
        "]".repeat(100)
    );
    let e = parse_policy(deep.as_bytes(), "deep.json", PolicyKind::Identity).err().unwrap();
    assert!(e.to_string().contains("nesting deeper than 64 levels") && e.span().is_some(), "{e}");
}

/// An overlong request line in `eval` is an error in its place; the rest is evaluated.
#[test]
fn overlong_lines_are_located_errors() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let requests = dir.join("requests.jsonl");
    let good = std::fs::read_to_string(crate::root().join("corpus/eks/requests.jsonl"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let long = format!(r#"{{"principal":"{}"}}"#, "x".repeat(17 << 20));
    std::fs::write(&requests, format!("{good}\n{long}\n{good}\n")).unwrap();
    let o = crate::iamsim_command()
        .args(["eval", "--bundle", "corpus/eks/bundle.json", "--requests"])
        .arg(&requests)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out:.300}");
    assert!(lines[1].contains(r#""line":2"#) && lines[1].contains("over the 16 MiB limit"), "{}", lines[1]);
    assert!(lines[0].contains("allowed") && lines[2].contains("allowed"));
    // The same line in a CloudTrail JSON Lines export is a counted, located malformed record.
    let events = dir.join("events.jsonl");
    std::fs::write(&events, format!("{long}\n")).unwrap();
    let o = crate::iamsim_command()
        .args([
            "replay",
            "--format",
            "json",
            "--authorization-details",
            "corpus/replay/authorization-details.json",
            "--cloudtrail",
        ])
        .arg(&events)
        .output()
        .unwrap();
    // A file holding no event is bad input (exit 1); the report still says why.
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no CloudTrail event found"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((r["events_read"].as_u64(), r["events_skipped"].as_u64()), (Some(1), Some(1)));
    assert!(
        r["malformed"][0].as_str().unwrap().contains(":1")
            && r["malformed"][0].as_str().unwrap().contains("over the 16 MiB limit"),
        "{}",
        r["malformed"]
    );
}
