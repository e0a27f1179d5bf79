//! Fail-safe review: every way an unknown or unusable value could turn a
//! Deny into "no match", with the result we document for it. Each case is an
//! `Allow *` plus one Deny that should catch the request; both engines must
//! give the stated result. Where AWS's documented rule makes the Deny not
//! apply (a key the request lacks; Appendix A-5), the decision must say so
//! (missing keys) rather than stay silent.

use iamsim::engine::eval::{reference_decide, DecisionKind, Scratch};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Context, ContextValue, Principal, Request, RequestTime};
use iamsim::CompiledPolicySet;

const ALLOW_ALL: &str = r#"{"Effect":"Allow","Action":"*","Resource":"*"}"#;

fn decide(deny: &str, resource: &str, context: Context) -> (DecisionKind, Vec<String>, Vec<String>) {
    decide_as(Principal::parse("arn:aws:iam::111122223333:user/alice").unwrap(), deny, resource, context)
}

fn decide_as(
    principal: Principal,
    deny: &str,
    resource: &str,
    context: Context,
) -> (DecisionKind, Vec<String>, Vec<String>) {
    let doc = format!(r#"{{"Version":"2012-10-17","Statement":[{ALLOW_ALL},{deny}]}}"#);
    let policy = parse_policy(doc.as_bytes(), "failsafe", PolicyKind::Identity).unwrap();
    let set = PolicySet { identity: vec![policy], ..PolicySet::default() };
    let mut req = Request::new(principal, "s3:GetObject", resource);
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

/// Keys AWS sends with every request ("AWS global condition context keys",
/// Availability) are never absent: a closed-world request (simulate, eval)
/// that does not give one holds it unknown, so a Deny conditioned on it is
/// indeterminate, not silently skipped. The time keys are given "now" by
/// simulate and eval; the principal's keys are derived where its ARN tells
/// them (the root user's `aws:userid` is its account). A key AWS sends only
/// sometimes (`aws:SourceVpc`) is still absent when not given.
#[test]
fn keys_aws_always_sets_are_never_absent() {
    let deny = |op: &str, key: &str, value: &str| {
        format!(r#"{{"Effect":"Deny","Action":"*","Resource":"*","Condition":{{"{op}":{{"{key}":"{value}"}}}}}}"#)
    };
    let unknown = |key: &str| (DecisionKind::Indeterminate, vec![], vec![key.to_string()]);
    let cases = [
        (deny("DateGreaterThan", "aws:CurrentTime", "2020-01-01T00:00:00Z"), "aws:currenttime"),
        (deny("NumericGreaterThan", "aws:EpochTime", "1577836800"), "aws:epochtime"),
        (deny("Bool", "aws:SecureTransport", "false"), "aws:securetransport"),
        (deny("StringNotEquals", "aws:RequestedRegion", "eu-west-1"), "aws:requestedregion"),
        (deny("Bool", "aws:ViaAWSService", "false"), "aws:viaawsservice"),
        (deny("StringEquals", "aws:userid", "AIDAEXAMPLE"), "aws:userid"),
    ];
    for (d, key) in &cases {
        assert_eq!(decide(d, "*", Context::new()), unknown(key), "{d}");
    }
    // Given, they decide; the time keys as simulate and eval give them.
    let mut now = Context::new();
    now.set_request_time(&RequestTime::now());
    assert_eq!(decide(&cases[0].0, "*", now.clone()).0, DecisionKind::ExplicitDeny);
    assert_eq!(decide(&cases[1].0, "*", now).0, DecisionKind::ExplicitDeny);
    let tls = closed_with(&[("aws:SecureTransport", ContextValue::Single("true".into()))]);
    assert_eq!(decide(&cases[2].0, "*", tls).0, DecisionKind::Allowed);
    // The root user's aws:userid is its account id (identity policies do
    // not govern the root user, so this is read off the request).
    let root = Request::new(Principal::parse("111122223333").unwrap(), "s3:GetObject", "*");
    assert_eq!(root.lookup("aws:userid"), Some(iamsim::engine::request::Value::Single("111122223333")));
    // Sent only through a VPC endpoint: absent, the lacking key reported.
    let vpc = deny("StringEquals", "aws:SourceVpc", "vpc-1");
    assert_eq!(decide(&vpc, "*", Context::new()), (DecisionKind::Allowed, vec!["aws:sourcevpc".into()], vec![]));
}

/// A role session's ARN does not carry the role's path. Named by its
/// session ARN alone, the role's `aws:PrincipalArn` is unknown, so a Deny
/// on a path pattern is indeterminate rather than missed by assuming `/`;
/// with the role ARN known (a CloudTrail session issuer, or the role ARN
/// given as the principal) it decides.
#[test]
fn a_sessions_role_path_is_never_assumed() {
    let deny = r#"{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin/*"}}}"#;
    let session = "arn:aws:sts::111122223333:assumed-role/ops/s1";
    let unknown = (DecisionKind::Indeterminate, vec![], vec!["aws:principalarn".to_string()]);
    assert_eq!(decide_as(Principal::parse(session).unwrap(), deny, "*", Context::new()), unknown);
    let with_role = |arn: &str| Principal::parse_with_role(session, Some(arn)).unwrap();
    let at_admin = with_role("arn:aws:iam::111122223333:role/admin/ops");
    assert_eq!(decide_as(at_admin, deny, "*", Context::new()).0, DecisionKind::ExplicitDeny);
    let at_root = with_role("arn:aws:iam::111122223333:role/ops");
    assert_eq!(decide_as(at_root, deny, "*", Context::new()).0, DecisionKind::Allowed);
    let role = Principal::parse("arn:aws:iam::111122223333:role/admin/ops").unwrap();
    assert_eq!(decide_as(role, deny, "*", Context::new()).0, DecisionKind::ExplicitDeny);
    // Replay: an event without its session issuer takes the role's path
    // from the authorization details, and decides.
    use iamsim::audit::cloudtrail::record::Record;
    let policy = format!(r#"{{"Version":"2012-10-17","Statement":[{ALLOW_ALL},{deny}]}}"#);
    let details = format!(
        r#"{{"RoleDetailList":[{{"RoleName":"ops","Path":"/admin/","Arn":"arn:aws:iam::111122223333:role/admin/ops",
             "RolePolicyList":[{{"PolicyName":"p","PolicyDocument":{policy}}}]}}]}}"#
    );
    let mut inventory = iamsim::audit::inventory::Inventory::new();
    inventory.load(details.as_bytes(), "details.json", None).unwrap();
    let mut replayer = iamsim::audit::replay::Replayer::new(inventory, Vec::new(), Default::default());
    replayer.set_want_lines(true);
    let event = serde_json::json!({"eventVersion": "1.08", "eventType": "AwsApiCall", "eventID": "e",
        "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
        "userIdentity": {"type": "AssumedRole", "arn": session, "accountId": "111122223333",
                         "principalId": "AROAEXAMPLE:s1", "accessKeyId": "ASIAEXAMPLE"}});
    let lines = replayer.event(&Record::from_value(&event));
    assert_eq!(lines.iter().map(|l| l.decision).collect::<Vec<_>>(), ["explicitDeny"]);
}

/// A role session's principal tags are its session tags over its role's
/// (semantics doc §8.6). A session's own events do not say its session
/// tags: unless the call that created it is in the logs, they stay unknown,
/// and a Deny on `aws:PrincipalTag` is not settled by the role's tags alone
/// (the session may carry other values). An IAM user's tags are its
/// principal tags, and decide.
#[test]
fn session_tags_are_unknown_never_the_roles_alone() {
    use iamsim::audit::cloudtrail::record::Record;
    use iamsim::audit::inventory::Inventory;
    use iamsim::audit::replay::Replayer;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"},
        {"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEquals":{"aws:PrincipalTag/team":"red"}}}]}"#;
    let details = format!(
        r#"{{"UserDetailList":[{{"UserName":"u","Arn":"arn:aws:iam::111122223333:user/u","Tags":[{{"Key":"team","Value":"red"}}],
             "UserPolicyList":[{{"PolicyName":"p","PolicyDocument":{policy}}}]}}],
           "RoleDetailList":[{{"RoleName":"app","Arn":"arn:aws:iam::111122223333:role/app","Tags":[{{"Key":"team","Value":"red"}}],
             "RolePolicyList":[{{"PolicyName":"p","PolicyDocument":{policy}}}]}}]}}"#
    );
    let mut inventory = Inventory::new();
    inventory.load(details.as_bytes(), "details.json", None).unwrap();
    let mut replayer = Replayer::new(inventory, Vec::new(), Default::default());
    let event = |identity: serde_json::Value| {
        serde_json::json!({"eventVersion": "1.08", "eventType": "AwsApiCall", "eventID": "e",
            "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1",
            "userIdentity": identity})
    };
    let user = event(serde_json::json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/u",
        "accountId": "111122223333", "principalId": "AIDAEXAMPLE"}));
    let session =
        event(serde_json::json!({"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s",
        "accountId": "111122223333", "principalId": "AROAEXAMPLE:s", "accessKeyId": "ASIAEXAMPLE",
        "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app"},
                           "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-01T00:00:00Z"}}}));
    replayer.set_want_lines(true);
    let decided = |replayer: &mut Replayer, e: &serde_json::Value| {
        let lines = replayer.event(&Record::from_value(e));
        lines.iter().map(|l| (l.decision, l.unknown_context_keys.clone())).collect::<Vec<_>>()
    };
    assert_eq!(decided(&mut replayer, &user), [("allowed", vec![])]);
    assert_eq!(decided(&mut replayer, &session), [("indeterminate", vec!["aws:PrincipalTag/team".to_string()])]);
    // With the AssumeRole calls that created them in the logs, sessions'
    // tags are known: a session tag overrides the role's (team=blue, where
    // the role says red), transitive tags pass down a chain, and a session
    // tagged as its role decides as the role would.
    let assume = |caller: &str, key: &str, tags: serde_json::Value, transitive: &[&str]| {
        serde_json::json!({"eventVersion": "1.08", "eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/u", "accessKeyId": caller},
            "requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/app", "roleSessionName": "s",
                                  "tags": tags, "transitiveTagKeys": transitive},
            "responseElements": {"credentials": {"accessKeyId": key}}})
    };
    let mut index = iamsim::audit::sessions::SessionTags::new();
    for e in [
        assume("AKIAUSER", "ASIABLUE", serde_json::json!([{"key": "team", "value": "blue"}]), &["team"]),
        assume("ASIABLUE", "ASIACHAINED", serde_json::json!([]), &[]),
        assume("AKIAUSER", "ASIARED", serde_json::json!([{"key": "team", "value": "red"}]), &[]),
    ] {
        assert!(index.note(&Record::from_value(&e)));
    }
    replayer.set_session_tags(index);
    let session_with = |key: &str| {
        let mut e = session.clone();
        e["userIdentity"]["accessKeyId"] = key.into();
        e
    };
    assert_eq!(decided(&mut replayer, &session_with("ASIABLUE")), [("explicitDeny", vec![])]);
    assert_eq!(decided(&mut replayer, &session_with("ASIACHAINED")), [("explicitDeny", vec![])]);
    assert_eq!(decided(&mut replayer, &session_with("ASIARED")), [("allowed", vec![])]);
    assert_eq!(
        decided(&mut replayer, &session_with("ASIAELSEWHERE")),
        [("indeterminate", vec!["aws:PrincipalTag/team".to_string()])]
    );
}
