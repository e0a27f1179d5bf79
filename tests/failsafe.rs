//! Fail-safe review: every way an unknown or unusable value could turn a
//! Deny into "no match", with the result we document for it. Each case is an
//! `Allow *` plus one Deny that should catch the request; both engines must
//! give the stated result. Where AWS's documented rule makes the Deny not
//! apply (a key the request lacks; Appendix A-5), the decision must say so
//! (missing keys) rather than stay silent.

use iamsim::engine::eval::{reference_decide, DecisionKind, Scratch};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Context, ContextValue, Principal, Request};
use iamsim::CompiledPolicySet;

const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;

fn decide(deny: &str, resource: &str, context: Context) -> (DecisionKind, Vec<String>, Vec<String>) {
    let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{ALLOW_ALL},{deny}]}}"#);
    let policy = parse_policy(doc.as_bytes(), "failsafe", PolicyKind::Identity).unwrap();
    let set = PolicySet { identity: vec![policy], ..PolicySet::default() };
    let mut req =
        Request::new(Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap(), "s3:GetObject", resource);
    req.context = context;
    let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
    let d = compiled.decide(&req, &mut Scratch::new(&compiled));
    let r = reference_decide(&set, &req);
    assert_eq!(d.kind, r.kind, "compiled vs reference for {deny}");
    let names = |keys: &[iamsim::engine::policy::KeyId]| {
        keys.iter().filter_map(|k| compiled.key_name(*k).map(str::to_string)).collect::<Vec<_>>()
    };
    (d.kind, names(&d.missing_keys), names(&d.unknown_keys))
}

fn open_with(pairs: &[(&str, ContextValue)]) -> Context {
    let mut c = Context::open_world();
    for (k, v) in pairs {
        c.insert(k, v.clone());
    }
    c
}

fn closed_with(pairs: &[(&str, ContextValue)]) -> Context {
    let mut c = Context::new();
    for (k, v) in pairs {
        c.insert(k, v.clone());
    }
    c
}

const OBJECT: &str = "arn:aws:s3:::bucket/key";

/// An unknown value (replay: the logs cannot tell) under every kind of
/// operator makes the decision indeterminate, never allowed.
#[test]
fn unknown_values_never_let_a_deny_slip() {
    let denies = [
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blocked"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"ok"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEqualsIfExists":{"aws:PrincipalTag/team":"ok"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAnyValue:StringEquals":{"aws:TagKeys":"secret"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAllValues:StringNotLike":{"aws:TagKeys":"ok-*"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Null":{"aws:PrincipalTag/team":"true"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"}}}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ArnNotLike":{"aws:SourceArn":"arn:aws:sqs:*:111122223333:*"}}}"#,
        // A variable whose value is unknown, in the resource and in a condition.
        r#"{"Effect":"Deny","Action":"*","Resource":"arn:aws:s3:::${aws:PrincipalTag/bucket}/*"}"#,
        r#"{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::${aws:PrincipalTag/bucket}/*"}"#,
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"s3:prefix":"${aws:PrincipalTag/home}"}}}"#,
    ];
    for deny in denies {
        let (kind, _, unknown) = decide(deny, OBJECT, Context::open_world());
        assert_eq!(kind, DecisionKind::Indeterminate, "{deny}");
        assert!(!unknown.is_empty(), "{deny}: the decision must name the unknown keys");
    }
    // The same with the value explicitly unknown in an otherwise known context.
    let (kind, _, unknown) = decide(denies[0], OBJECT, open_with(&[("aws:PrincipalTag/team", ContextValue::Unknown)]));
    assert_eq!((kind, unknown), (DecisionKind::Indeterminate, vec!["aws:principaltag/team".to_string()]));
    // Once the value is known, the Deny decides.
    let (kind, _, _) =
        decide(denies[0], OBJECT, open_with(&[("aws:PrincipalTag/team", ContextValue::Single("blocked".into()))]));
    assert_eq!(kind, DecisionKind::ExplicitDeny);
}

/// A variable that does not resolve (closed world: the key is absent).
#[test]
fn unresolved_variables_fail_towards_the_deny() {
    // In NotResource it excludes nothing: the Deny covers every resource.
    let deny = r#"{"Effect":"Deny","Action":"*","NotResource":"arn:aws:s3:::${aws:PrincipalTag/bucket}/*"}"#;
    assert_eq!(decide(deny, OBJECT, Context::new()).0, DecisionKind::ExplicitDeny);
    // Under a negated operator the condition holds (A-6, the documented reading).
    let deny = r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"s3:prefix":"${aws:PrincipalTag/home}"}}}"#;
    let ctx = closed_with(&[("s3:prefix", ContextValue::Single("home/alice".into()))]);
    assert_eq!(decide(deny, OBJECT, ctx).0, DecisionKind::ExplicitDeny);
}

/// A key the request lacks: AWS's documented rule is that a positive
/// operator on it is false, so the Deny does not apply. The decision is
/// allowed, and says which keys were missing so the caller can see why.
#[test]
fn missing_keys_are_reported_when_a_deny_does_not_apply() {
    let deny = r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"blocked"}}}"#;
    let (kind, missing, _) = decide(deny, OBJECT, Context::new());
    assert_eq!(kind, DecisionKind::Allowed);
    assert_eq!(missing, ["aws:principaltag/team"]);
    // Negated operators on a missing key are true: the Deny applies.
    let deny = r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"ok"}}}"#;
    assert_eq!(decide(deny, OBJECT, Context::new()).0, DecisionKind::ExplicitDeny);
    // ForAllValues on a missing key is true: the Deny applies.
    let deny = r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForAllValues:StringEquals":{"aws:TagKeys":"x"}}}"#;
    assert_eq!(decide(deny, OBJECT, Context::new()).0, DecisionKind::ExplicitDeny);
}

/// A request value of the wrong type under a negated operator is false
/// (Appendix A-5, the simulator's behaviour): the Deny does not apply. The
/// decision is allowed; this is the documented rule, pinned here so a change
/// is deliberate.
#[test]
fn unparsable_request_values_follow_appendix_a5() {
    let deny =
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#;
    let ctx = closed_with(&[("aws:SourceIp", ContextValue::Single("not-an-ip".into()))]);
    assert_eq!(decide(deny, OBJECT, ctx).0, DecisionKind::Allowed);
    let deny = r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericNotEquals":{"s3:max-keys":"10"}}}"#;
    let ctx = closed_with(&[("s3:max-keys", ContextValue::Single("ten".into()))]);
    assert_eq!(decide(deny, OBJECT, ctx).0, DecisionKind::Allowed);
    // A well-formed value outside the range: the Deny applies.
    let ctx = closed_with(&[("aws:SourceIp", ContextValue::Single("192.0.2.1".into()))]);
    let deny =
        r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}"#;
    assert_eq!(decide(deny, OBJECT, ctx).0, DecisionKind::ExplicitDeny);
}

/// Policy-side problems never become a dead Deny: they are parse errors.
#[test]
fn unusable_deny_statements_are_rejected_at_parse_time() {
    let bad = [
        (
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEqualz":{"k":"v"}}}"#,
            "unknown condition operator",
        ),
        (
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForSomeValues:StringEquals":{"k":"v"}}}"#,
            "unknown set qualifier",
        ),
        (
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}"#,
            "is not a number",
        ),
        (
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.300/8"}}}"#,
            "is not an IP address or CIDR",
        ),
        (
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":"someday"}}}"#,
            "is not a date",
        ),
        (
            r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"maybe"}}}"#,
            "true",
        ),
        (r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"k":"%%%"}}}"#, "is not base64"),
        (r#"{"Effect":"Denny","Action":"*","Resource":"*"}"#, "Effect"),
        (r#"{"Effect":"Deny","Action":"*"}"#, "missing `Resource` or `NotResource`"),
        (r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringEquals":{"k":[]}}}"#, "at least one"),
    ];
    for (deny, want) in bad {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{ALLOW_ALL},{deny}]}}"#);
        let e = parse_policy(doc.as_bytes(), "failsafe", PolicyKind::Identity)
            .err()
            .unwrap_or_else(|| panic!("accepted: {deny}"));
        assert!(e.to_string().contains(want), "{deny}: {e}");
        assert!(e.path().starts_with("Statement[1]"), "{deny}: located at {}", e.path());
    }
}

/// SCP and RCP chains as deep as a set may be: every level must allow, the
/// first that does not is named, and one level past the limit is refused at
/// compile time rather than evaluated wrong.
#[test]
fn deep_guardrail_chains_need_every_level() {
    use iamsim::engine::policy::Layer;
    let policy = |statement: &str, kind| {
        let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{statement}]}}"#);
        parse_policy(doc.as_bytes(), "chain", kind).unwrap()
    };
    let identity = policy(ALLOW_ALL, PolicyKind::Identity);
    let scp_all = policy(ALLOW_ALL, PolicyKind::Scp);
    let scp_s3 = policy(r#"{"Effect":"Allow","Action":"s3:*","Resource":"*"}"#, PolicyKind::Scp);
    let rcp_all = policy(r#"{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}"#, PolicyKind::Rcp);
    // A level with no allow at all refuses every action RCPs govern.
    let rcp_none = policy(r#"{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"*"}"#, PolicyKind::Rcp);
    let alice = Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap();
    let object = "arn:aws:s3:::bucket/key";
    for (levels, narrow) in [(7, 6), (40, 0), (64, 63)] {
        let mut scps = vec![vec![scp_all.clone()]; levels];
        scps[narrow] = vec![scp_s3.clone()];
        let mut rcps = vec![vec![rcp_all.clone()]; levels];
        rcps[narrow] = vec![rcp_none.clone()];
        let scp_chain = PolicySet { identity: vec![identity.clone()], scps, ..PolicySet::default() };
        let rcp_chain = PolicySet { identity: vec![identity.clone()], rcps, ..PolicySet::default() };
        let at = narrow as u16;
        for (set, action, want, layer) in [
            (&scp_chain, "s3:GetObject", DecisionKind::Allowed, None),
            (&scp_chain, "ec2:RunInstances", DecisionKind::ImplicitDeny, Some(Layer::Scp(at))),
            (&rcp_chain, "s3:GetObject", DecisionKind::ImplicitDeny, Some(Layer::Rcp(at))),
            // RCPs do not govern EC2.
            (&rcp_chain, "ec2:RunInstances", DecisionKind::Allowed, None),
        ] {
            let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
            let req = Request::new(alice.clone(), action, object);
            let d = compiled.decide(&req, &mut Scratch::new(&compiled));
            assert_eq!(d, reference_decide(set, &req), "{levels} levels, {action}");
            assert_eq!((d.kind, d.missing_allow), (want, layer), "{levels} levels, {action}");
        }
    }
    for (scps, rcps) in [(65, 0), (0, 65)] {
        let too_deep = PolicySet {
            identity: vec![identity.clone()],
            scps: vec![vec![scp_all.clone()]; scps],
            rcps: vec![vec![rcp_all.clone()]; rcps],
            ..PolicySet::default()
        };
        let Err(err) = CompiledPolicySet::compile(too_deep.clone()) else { panic!("65 levels are refused") };
        assert!(err.to_string().contains("65 SCP levels") || err.to_string().contains("65 RCP levels"), "{err}");
        // The reference evaluator shares the rules: past the tracked levels it
        // denies, even though every level allows.
        let d = reference_decide(&too_deep, &Request::new(alice.clone(), "s3:GetObject", object));
        assert_eq!(d.kind, DecisionKind::ImplicitDeny, "{scps} SCP / {rcps} RCP levels");
    }
}
