//! Bytes choose a policy set (fragments of actions, ARNs, conditions, layers)
//! and a request, so every input is a valid policy; the compiled engine must
//! decide exactly as the reference evaluator (decision, statements, missing keys).
#![no_main]
use iamsim::engine::eval::{reference_decide, Scratch};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Context, Principal, Request};
use iamsim::CompiledPolicySet;
use libfuzzer_sys::{fuzz_target, Corpus};
use serde_json::{json, Value};

const SERVICES: &[&str] = &["s3", "ec2", "iam", "kms", "sts", "S3", "*"];
const NAMES: &[&str] =
    &["Get", "Object", "*", "?", "Put", "List", "Bucket", "Instance", "Role", "AssumeRole", "", "Network", "Interface"];
const ARNS: &[&str] = &[
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/",
    "arn:aws:ec2:",
    "us-*:",
    "*:",
    "111122223333:",
    "instance/",
    "arn:aws:iam::",
    "role/",
    "${aws:username}",
    "${*}",
    "x",
    "*",
    "?",
    "arn:aws:sqs",
    ":",
];
const OPS: &[&str] = &[
    "StringEquals",
    "StringNotLike",
    "StringLikeIfExists",
    "ForAllValues:StringEquals",
    "ForAnyValue:StringNotEquals",
    "NumericLessThan",
    "DateGreaterThan",
    "Bool",
    "IpAddress",
    "NotIpAddress",
    "ArnLike",
    "ArnNotEquals",
    "Null",
    "StringEqualsIgnoreCase",
];
const KEYS: &[&str] = &[
    "aws:username",
    "aws:TagKeys",
    "aws:SourceIp",
    "aws:CurrentTime",
    "s3:max-keys",
    "aws:PrincipalArn",
    "aws:MultiFactorAuthPresent",
    "aws:PrincipalTag/team",
];
const VALUES: &[&str] = &[
    "alice",
    "a*",
    "10",
    "2024-01-01T00:00:00Z",
    "203.0.113.0/24",
    "true",
    "false",
    "arn:aws:iam::*:role/*",
    "${aws:username}",
    "red",
];
const PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111122223333:user/alice",
    "arn:aws:sts::111122223333:assumed-role/R/s",
    "arn:aws:iam::111122223333:root",
    "arn:aws:iam::999999999999:user/eve",
    "anonymous",
];
const CONTEXT: &[(&str, &str)] = &[
    ("aws:username", "\"alice\""),
    ("aws:TagKeys", "[\"red\",\"env\"]"),
    ("aws:SourceIp", "\"203.0.113.9\""),
    ("aws:SourceIp", "\"::1\""),
    ("aws:CurrentTime", "\"2024-06-01T00:00:00Z\""),
    ("s3:max-keys", "\"7\""),
    ("aws:MultiFactorAuthPresent", "\"false\""),
    ("aws:PrincipalTag/team", "null"),
];

struct Bytes<'a>(std::slice::Iter<'a, u8>);
impl Bytes<'_> {
    fn pick<T: Copy>(&mut self, from: &[T]) -> T {
        from[self.0.next().map_or(0, |b| usize::from(*b)) % from.len()]
    }
    fn n(&mut self, max: usize) -> usize {
        self.0.next().map_or(0, |b| usize::from(*b)) % (max + 1)
    }
}

fn statement(b: &mut Bytes<'_>) -> Value {
    let action: String = format!("{}:{}{}", b.pick(SERVICES), b.pick(NAMES), b.pick(NAMES));
    let resource: String = (0..1 + b.n(3)).map(|_| b.pick(ARNS)).collect();
    let resource = if resource.starts_with("arn:") || resource == "*" { resource } else { "*".to_string() };
    let mut s = json!({"Effect": if b.n(1) == 0 { "Allow" } else { "Deny" }});
    s[if b.n(3) == 0 { "NotAction" } else { "Action" }] = json!(action);
    s[if b.n(4) == 0 { "NotResource" } else { "Resource" }] = json!(resource);
    for _ in 0..b.n(2) {
        let (op, key, value) = (b.pick(OPS), b.pick(KEYS), b.pick(VALUES));
        let valid = parse_policy(
            json!({"Statement": {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {op: {key: value}}}})
                .to_string()
                .as_bytes(),
            "c",
            PolicyKind::Identity,
        )
        .is_ok();
        if valid {
            s["Condition"][op][key] = json!(value);
        }
    }
    s
}

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() > 512 {
        return Corpus::Reject;
    }
    let mut b = Bytes(data.iter());
    let mut doc = || {
        let stmts: Vec<Value> = (0..1 + b.n(3)).map(|_| statement(&mut b)).collect();
        let version = if b.n(5) == 0 { json!(null) } else { json!("2012-10-17") };
        let mut d = json!({"Statement": stmts});
        if !version.is_null() {
            d["Version"] = version;
        }
        d
    };
    let identity = doc();
    let boundary = doc();
    let with_boundary = b.n(3) == 0;
    let parse = |v: &Value, kind| parse_policy(v.to_string().as_bytes(), "fuzz", kind);
    let (Ok(identity), Ok(boundary)) =
        (parse(&identity, PolicyKind::Identity), parse(&boundary, PolicyKind::PermissionsBoundary))
    else {
        return Corpus::Reject;
    };
    let set = PolicySet {
        identity: vec![identity],
        permissions_boundary: with_boundary.then_some(boundary),
        ..Default::default()
    };
    let compiled = CompiledPolicySet::compile(set.clone()).expect("small sets compile");
    let action = format!("{}:{}{}", b.pick(&SERVICES[..6]), b.pick(NAMES), b.pick(NAMES)).replace(['*', '?'], "X");
    let resource: String = (0..1 + b.n(4)).map(|_| b.pick(ARNS)).collect();
    let mut req = Request::new(Principal::parse(b.pick(PRINCIPALS)).unwrap(), &action, &resource);
    let ctx: String =
        (0..b.n(4)).map(|_| b.pick(CONTEXT)).map(|(k, v)| format!("\"{k}\":{v}")).collect::<Vec<_>>().join(",");
    if let Ok(v) = serde_json::from_str::<Value>(&format!("{{{ctx}}}")) {
        req.context = Context::from_json(&v).unwrap_or_default();
    }
    let want = reference_decide(&set, &req);
    let mut scratch = Scratch::new(&compiled);
    assert_eq!(compiled.decide(&req, &mut scratch), want, "{req:?}\n{set:?}");
    // Every other path: the verdict alone, and the prepared request both ways.
    assert_eq!(compiled.decide_verdict(&req, &mut scratch), want.kind, "verdict {req:?}\n{set:?}");
    let prepared = compiled.prepare(&req, &mut scratch);
    assert_eq!(compiled.verdict(&prepared, &mut scratch), want.kind, "prepared verdict {req:?}\n{set:?}");
    assert_eq!(compiled.explain(&prepared, &mut scratch), want, "prepared explain {req:?}\n{set:?}");
    Corpus::Keep
});
