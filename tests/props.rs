//! Property tests: on random policy sets and requests the compiled engine
//! decides exactly as the naive reference evaluator (decision, deciding
//! statements, missing keys), and basic monotonicity laws hold; the request
//! reader over JSON text agrees with the one over a parsed value.

use iamsim::engine::eval::{reference_decide, DecisionKind, Scratch};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Context, Principal, Request};
use iamsim::CompiledPolicySet;
use proptest::prelude::*;
use serde_json::{json, Value};

const ACTIONS: &[&str] = &[
    "s3:GetObject",
    "s3:PutObject",
    "s3:ListBucket",
    "s3:ListAllMyBuckets",
    "ec2:RunInstances",
    "ec2:CreateTags",
    "iam:GetUser",
    "iam:CreateUser",
    "kms:Decrypt",
    "sts:AssumeRole",
    "sqs:SendMessage",
    "sts:GetCallerIdentity",
];
const RESOURCES: &[&str] = &[
    "*",
    "arn:aws:s3:::b",
    "arn:aws:s3:::b/alice/x",
    "arn:aws:s3:::b/*",
    "arn:aws:s3:::log-2024",
    "arn:aws:ec2:us-east-1:111111111111:instance/i-1",
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:role/T",
    "arn:aws:kms:us-east-1:111111111111:key/k1",
    "arn:aws:sqs:eu-west-1:222222222222:q1",
    "arn:AWS:s3:::b/alice/x",
    "arn:aws:EC2:us-east-1:111111111111:instance/i-1",
    "arn:aws:s3:::b/bob/x",
    "arn:aws:s3:::b/*",
];
const PRINCIPALS: &[&str] = &[
    "arn:aws:iam::111111111111:user/alice",
    "arn:aws:iam::111111111111:user/bob",
    "arn:aws:sts::111111111111:assumed-role/R/s1",
    "arn:aws:iam::111111111111:root",
    "arn:aws:iam::333333333333:user/carol",
    "anonymous",
    "ec2.amazonaws.com",
    "arn:aws:sts::111111111111:federated-user/f",
];

fn action_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(ACTIONS).prop_map(str::to_string),
        1 => Just("*".to_string()),
        2 => prop::sample::select(&["s3:*", "s3:Get*", "s3:*Object", "ec2:*Tags", "iam:Get?ser", "S3:getobject", "s3:List*", "*:GetObject", "s3:GetObject,PutObject", " s3:GetObject", "kms:*"][..]).prop_map(str::to_string),
    ]
}

fn resource_pattern() -> impl Strategy<Value = String> {
    prop::sample::select(
        &[
            "*",
            "arn:aws:s3:::b",
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::*",
            "arn:aws:s3:::b/${aws:username}/*",
            "arn:aws:s3:::b/${aws:PrincipalTag/team, 'alice'}/*",
            "arn:aws:s3:::log-20??",
            "arn:aws:ec2:*:111111111111:instance/*",
            "arn:aws:ec2:us-*:*:*",
            "arn:aws:iam::111111111111:user/${aws:username}",
            "arn:aws:iam::*:role/T",
            "arn:aws:sqs",
            "arn:aws:kms:*:111111111111:key/*",
            "arn:aws:s3:::b/${*}",
            "arn:aws:s3:::*/x",
            "arn:aws:s3:::*alice/x",
            "arn:AWS:S3:::b/*",
            "arn:aws:iam::111111111111:*/alice",
            "arn:aws:ec2:*:*:instance/i-?",
            "arn:aws:s3:::b/*/?",
        ][..],
    )
    .prop_map(str::to_string)
}

fn condition() -> impl Strategy<Value = (String, String, Value)> {
    prop_oneof![
        prop::sample::select(
            &[
                "StringEquals",
                "StringNotEquals",
                "StringLike",
                "StringNotLike",
                "StringEqualsIgnoreCase",
                "StringEqualsIfExists",
                "StringNotLikeIfExists",
                "ForAnyValue:StringEquals",
                "ForAllValues:StringLike",
                "ForAnyValue:StringNotEquals",
                "ForAllValues:StringNotEquals"
            ][..]
        )
        .prop_flat_map(|op| (
            Just(op.to_string()),
            prop::sample::select(&["aws:PrincipalTag/team", "aws:TagKeys", "aws:username", "aws:RequestedRegion"][..]),
            prop::sample::select(
                &[
                    "red",
                    "blue",
                    "env",
                    "us-*",
                    "alice",
                    "${aws:username}",
                    "${aws:PrincipalTag/team}",
                    "ALICE",
                    "*east-1",
                    "*lic*",
                    "?lice",
                    "*d",
                    "r?d"
                ][..]
            )
        ))
        .prop_map(|(o, k, v)| (o, k.to_string(), json!(v))),
        (
            prop::sample::select(
                &["NumericLessThan", "NumericEquals", "NumericGreaterThanEquals", "NumericNotEquals"][..]
            ),
            0..20i32
        )
            .prop_map(|(o, n)| (o.to_string(), "s3:max-keys".to_string(), json!(n))),
        prop::sample::select(&["DateGreaterThan", "DateLessThanEquals", "DateNotEquals"][..]).prop_map(|o| (
            o.to_string(),
            "aws:CurrentTime".to_string(),
            json!("2024-01-01T00:00:00Z")
        )),
        (prop::sample::select(&["Bool", "BoolIfExists"][..]), any::<bool>()).prop_map(|(o, b)| (
            o.to_string(),
            "aws:MultiFactorAuthPresent".to_string(),
            json!(b)
        )),
        prop::sample::select(&["IpAddress", "NotIpAddress", "NotIpAddressIfExists"][..]).prop_map(|o| (
            o.to_string(),
            "aws:SourceIp".to_string(),
            json!(["203.0.113.0/24", "2001:db8::/32"])
        )),
        prop::sample::select(&["ArnLike", "ArnNotLike", "ArnEquals"][..]).prop_map(|o| (
            o.to_string(),
            "aws:PrincipalArn".to_string(),
            json!("arn:aws:iam::*:role/*")
        )),
        any::<bool>().prop_map(|b| ("Null".to_string(), "aws:PrincipalTag/team".to_string(), json!(b))),
    ]
}

fn statement(with_principal: bool) -> impl Strategy<Value = Value> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec(action_pattern(), 1..3),
        prop::option::weighted(0.85, (any::<bool>(), prop::collection::vec(resource_pattern(), 1..3))),
        prop::collection::vec(condition(), 0..3),
        prop::sample::select(
            &[
                "*",
                "111111111111",
                "arn:aws:iam::111111111111:user/alice",
                "arn:aws:iam::111111111111:role/R",
                "arn:aws:sts::111111111111:assumed-role/R/s1",
                "333333333333",
                "arn:aws:iam::111111111111:root",
                "AIDAEXAMPLEALICE0001",
                "AROAEXAMPLEROLER0001",
            ][..],
        ),
        prop::bool::weighted(0.15),
    )
        .prop_map(move |(allow, not_action, actions, resources, conds, principal, not_principal)| {
            let mut s = serde_json::Map::new();
            s.insert("Effect".into(), json!(if allow { "Allow" } else { "Deny" }));
            s.insert(if not_action { "NotAction" } else { "Action" }.into(), json!(actions));
            let resources = resources.or(if with_principal { None } else { Some((false, vec!["*".to_string()])) });
            if let Some((not_resource, rs)) = resources {
                s.insert(if not_resource { "NotResource" } else { "Resource" }.into(), json!(rs));
            }
            if with_principal {
                let p = if principal == "*" { json!("*") } else { json!({ "AWS": principal }) };
                s.insert(if not_principal && !allow { "NotPrincipal" } else { "Principal" }.into(), p);
            }
            let mut c = serde_json::Map::new();
            for (op, key, value) in conds {
                c.entry(op).or_insert_with(|| json!({})).as_object_mut().unwrap().insert(key, value);
            }
            if !c.is_empty() {
                s.insert("Condition".into(), Value::Object(c));
            }
            Value::Object(s)
        })
}

fn policy(kind: PolicyKind) -> impl Strategy<Value = iamsim::engine::policy::Policy> {
    (prop::collection::vec(statement(kind == PolicyKind::Resource), 1..4), prop::bool::weighted(0.8)).prop_map(
        move |(stmts, v2012)| {
            let mut doc = json!({ "Statement": stmts });
            if v2012 {
                doc["Version"] = json!("2012-10-17");
            }
            parse_policy(doc.to_string().as_bytes(), "generated", kind).expect("generated policies are valid")
        },
    )
}

fn policy_set() -> impl Strategy<Value = PolicySet> {
    (
        prop::collection::vec(policy(PolicyKind::Identity), 0..3),
        prop::option::weighted(0.3, policy(PolicyKind::PermissionsBoundary)),
        prop::option::weighted(0.2, prop::collection::vec(policy(PolicyKind::Session), 1..2)),
        prop::option::weighted(0.5, policy(PolicyKind::Resource)),
        prop::collection::vec(prop::collection::vec(policy(PolicyKind::Scp), 1..3), 0..3),
    )
        .prop_map(|(identity, permissions_boundary, session, resource, scps)| PolicySet {
            identity,
            permissions_boundary,
            session,
            resource,
            scps,
            ..Default::default()
        })
}

fn request() -> impl Strategy<Value = Request> {
    (
        prop::sample::select(PRINCIPALS),
        prop::sample::select(ACTIONS),
        any::<bool>(),
        prop::sample::select(RESOURCES),
        prop::option::of(prop::sample::select(&["111111111111", "222222222222"][..])),
        prop::collection::vec(
            prop::sample::select(vec![
                ("aws:PrincipalTag/team", json!("red")),
                ("aws:PrincipalTag/team", json!("alice")),
                ("aws:TagKeys", json!(["env", "red"])),
                ("aws:TagKeys", json!([])),
                ("aws:RequestedRegion", json!("us-east-1")),
                ("s3:max-keys", json!("7")),
                ("s3:max-keys", json!("abc")),
                ("aws:CurrentTime", json!("2024-06-01T00:00:00Z")),
                ("aws:MultiFactorAuthPresent", json!("true")),
                ("aws:SourceIp", json!("203.0.113.9")),
                ("aws:SourceIp", json!("2001:db8::1")),
                ("aws:SourceIp", json!(null)),
                ("aws:username", json!("ALICE")),
                ("aws:userid", json!("AIDAEXAMPLEALICE0001")),
                ("aws:userid", json!("AROAEXAMPLEROLER0001:s1")),
                ("aws:userid", json!(null)),
            ]),
            0..4,
        ),
    )
        .prop_map(|(p, action, upper, resource, account, ctx)| {
            let action = if upper { action.to_ascii_uppercase() } else { action.to_string() };
            let mut r = Request::new(Principal::parse(p).unwrap(), &action, resource);
            r.resource_account = account.map(str::to_string);
            let mut obj = serde_json::Map::new();
            for (k, v) in ctx {
                obj.insert(k.to_string(), v);
            }
            r.context = Context::from_json(&Value::Object(obj)).unwrap();
            r
        })
}

/// Every decision path of the compiled engine against the reference's
/// decision: owned explained and verdict-only, prepared explained and
/// verdict-only, the prepared request decided twice (the second time from
/// a scratch that has seen it).
fn every_path_is_the_reference(
    compiled: &CompiledPolicySet,
    scratch: &mut Scratch,
    req: &Request,
    want: &iamsim::Decision,
) -> Result<(), TestCaseError> {
    prop_assert_eq!(&compiled.decide(req, scratch), want, "decide {:?}", req);
    prop_assert_eq!(compiled.decide_verdict(req, scratch), want.kind, "decide_verdict {:?}", req);
    let prepared = compiled.prepare(req, scratch);
    for _ in 0..2 {
        prop_assert_eq!(compiled.verdict(&prepared, scratch), want.kind, "verdict {:?}", req);
        prop_assert_eq!(&compiled.explain(&prepared, scratch), want, "explain {:?}", req);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn compiled_equals_reference(set in policy_set(), reqs in prop::collection::vec(request(), 1..6)) {
        let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
        let mut scratch = Scratch::new(&compiled);
        for req in &reqs {
            every_path_is_the_reference(&compiled, &mut scratch, req, &reference_decide(&set, req))?;
        }
    }

    /// Identity policies alone take the compiled engine's folded rules
    /// (`combine_identity_only`); the reference always runs the general ones.
    #[test]
    fn compiled_equals_reference_on_identity_policies_alone(
        identity in prop::collection::vec(policy(PolicyKind::Identity), 0..4),
        reqs in prop::collection::vec(request(), 1..8),
    ) {
        let set = PolicySet { identity, ..Default::default() };
        let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
        let mut scratch = Scratch::new(&compiled);
        for req in &reqs {
            every_path_is_the_reference(&compiled, &mut scratch, req, &reference_decide(&set, req))?;
        }
    }

    #[test]
    fn adding_a_deny_never_allows_and_adding_an_allow_never_denies(set in policy_set(), extra in statement(false), req in request()) {
        let before = reference_decide(&set, &req).kind;
        let doc = json!({"Version": "2012-10-17", "Statement": [extra]});
        let extra = parse_policy(doc.to_string().as_bytes(), "extra", PolicyKind::Identity).unwrap();
        let is_allow = extra.statements[0].effect == iamsim::engine::policy::Effect::Allow;
        let mut more = set.clone();
        more.identity.push(extra);
        let after = reference_decide(&more, &req).kind;
        let compiled = CompiledPolicySet::compile(more).unwrap();
        prop_assert_eq!(compiled.decide(&req, &mut Scratch::new(&compiled)).kind, after);
        if is_allow {
            prop_assert!(!(before == DecisionKind::Allowed && after != DecisionKind::Allowed), "allow removed: {before:?} -> {after:?}");
        } else {
            prop_assert!(!(before != DecisionKind::Allowed && after == DecisionKind::Allowed), "deny granted: {before:?} -> {after:?}");
        }
    }

    #[test]
    fn statement_order_does_not_matter(set in policy_set(), req in request()) {
        let mut reversed = set.clone();
        for p in &mut reversed.identity {
            p.statements.reverse();
        }
        reversed.identity.reverse();
        prop_assert_eq!(reference_decide(&set, &req).kind, reference_decide(&reversed, &req).kind);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    /// Policy JSON round-trips through the model, for every kind.
    #[test]
    fn policy_json_round_trips(set in policy_set()) {
        for (_, _, p) in set.policies() {
            let again = parse_policy(p.to_json().to_string().as_bytes(), &p.name, p.kind).unwrap();
            prop_assert_eq!(&again, p);
        }
    }
}

/// Any JSON value up to a small depth (strings with escapes and non-ASCII).
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        (-1e6f64..1e6).prop_map(Value::from),
        "[a-zA-Z0-9:/\"\\\\é* -]{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::from),
            prop::collection::vec(("[a-c]{1,2}", inner), 0..3).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// A request line: the right fields mostly, with valid or arbitrary values;
/// context keys that repeat in another case now and then.
fn request_line() -> impl Strategy<Value = Value> {
    let text = |valid: &'static [&'static str]| prop_oneof![4 => prop::sample::select(valid).prop_map(Value::from), 1 => any_json()];
    let key = prop::sample::select(&["aws:SourceIp", "AWS:SOURCEIP", "aws:TagKeys", "s3:prefix", "k\u{e9}"][..]);
    let value = prop_oneof![
        3 => "[a-z0-9.]{0,6}".prop_map(Value::from),
        1 => any_json(),
    ];
    let context = prop_oneof![
        4 => prop::collection::vec((key, value), 0..4).prop_map(|kv| {
            Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
        }),
        1 => any_json(),
    ];
    (
        prop::option::weighted(0.95, text(PRINCIPALS)),
        prop::option::weighted(0.95, text(&["s3:GetObject", "ec2:RunInstances", "GetObject", "S3:getobject"])),
        prop::option::weighted(0.95, text(RESOURCES)),
        prop::option::weighted(0.2, text(&["111111111111", ""])),
        prop::option::weighted(0.7, context),
        prop::option::weighted(0.05, any_json()),
    )
        .prop_map(|(principal, action, resource, account, context, extra)| {
            let fields = [
                ("principal", principal),
                ("action", action),
                ("resource", resource),
                ("resource_account", account),
                ("context", context),
                ("extra", extra),
            ];
            Value::Object(fields.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect())
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    /// The text reader (`eval`'s) accepts exactly what the value reader
    /// accepts and reads the same request. Context keys repeated in another
    /// case are refused by both; exact repeats, which only the text reader
    /// refuses, cannot occur in a JSON map (unit tests cover them).
    #[test]
    fn request_text_reader_agrees_with_value_reader(line in request_line()) {
        let text = line.to_string();
        let from_text = Request::from_json_text(&text);
        let from_value = Request::from_json(&line);
        prop_assert_eq!(from_text.is_ok(), from_value.is_ok(), "{}: {:?} vs {:?}", text, from_text, from_value);
        if let (Ok(a), Ok(b)) = (from_text, from_value) {
            prop_assert_eq!(a, b);
        }
    }
}
