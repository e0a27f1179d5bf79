//! The engine's contract as an embedder sees it: a scratch or a prepared
//! request used with a set other than its own still gets that set's answer
//! (issue 18: an allow set's scratch once made a deny set answer `Allowed`),
//! and prepared requests decide the same on any thread.

use iamsim::engine::eval::{batch, DecisionKind, Scratch, Verdict};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Principal, Request};
use iamsim::CompiledPolicySet;
use rayon::prelude::*;

fn set_of(effect: &str) -> CompiledPolicySet {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"{effect}","Action":"s3:GetObject","Resource":"*"}}}}"#
    );
    let p = parse_policy(doc.as_bytes(), effect, PolicyKind::Identity).unwrap();
    CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() }).unwrap()
}

fn get_object() -> Request {
    Request::new(Principal::parse("arn:aws:iam::111122223333:user/a").unwrap(), "s3:GetObject", "arn:aws:s3:::b/k")
}

#[test]
fn a_scratch_from_another_set_answers_for_the_set_it_is_given_to() {
    let (allow, deny) = (set_of("Allow"), set_of("Deny"));
    let req = get_object();
    let mut scratch = Scratch::new(&allow);
    // Warm the memo with the allow set's plan for s3:GetObject.
    assert_eq!(allow.decide(&req, &mut scratch).kind, DecisionKind::Allowed);
    assert_eq!(deny.decide(&req, &mut scratch).kind, DecisionKind::ExplicitDeny);
    assert_eq!(allow.decide_verdict(&req, &mut scratch), Verdict::Allowed);
    assert_eq!(deny.decide_verdict(&req, &mut scratch), Verdict::ExplicitDeny);
    let prepared = deny.prepare(&req, &mut scratch);
    assert_eq!(allow.verdict(&allow.prepare(&req, &mut scratch), &mut scratch), Verdict::Allowed);
    // The scratch is the allow set's again; the deny set's prepared request still denies.
    assert_eq!(deny.verdict(&prepared, &mut scratch), Verdict::ExplicitDeny);
    // The deciding statement is the deny set's own.
    let d = deny.explain(&prepared, &mut scratch);
    assert_eq!(d.kind, DecisionKind::ExplicitDeny);
    assert_eq!(d.statements.len(), 1);
}

#[test]
fn a_request_prepared_by_another_set_gets_this_sets_answer() {
    let (allow, deny) = (set_of("Allow"), set_of("Deny"));
    let req = get_object();
    let from_allow = allow.prepare(&req, &mut Scratch::new(&allow));
    let mut scratch = Scratch::new(&deny);
    assert_eq!(deny.verdict(&from_allow, &mut scratch), Verdict::ExplicitDeny);
    assert_eq!(deny.explain(&from_allow, &mut scratch), deny.decide(&req, &mut scratch));
}

#[test]
fn a_thread_scratch_follows_the_set() {
    let (allow, deny) = (set_of("Allow"), set_of("Deny"));
    let reqs = vec![get_object(); 3];
    for _ in 0..2 {
        assert!(batch::decide_all(&allow, &reqs).iter().all(|d| d.kind == DecisionKind::Allowed));
        assert!(batch::decide_all(&deny, &reqs).iter().all(|d| d.kind == DecisionKind::ExplicitDeny));
    }
}

#[test]
fn prepared_requests_decide_alike_on_every_thread() {
    let p = parse_policy(
        br#"{"Version":"2012-10-17","Statement":[
          {"Effect":"Allow","Action":"ec2:*NetworkInterface","Resource":"*"},
          {"Effect":"Allow","Action":"ec2:CreateTags","Resource":"arn:aws:ec2:*:*:volume/*",
           "Condition":{"StringLike":{"ec2:ResourceTag/ebs.csi.aws.com/cluster":"true"}}}]}"#,
        "eks",
        PolicyKind::Identity,
    )
    .unwrap();
    let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() }).unwrap();
    let who = Principal::parse("arn:aws:iam::111122223333:role/node").unwrap();
    let mut reqs = Vec::new();
    for i in 0..400 {
        let (action, resource) = match i % 4 {
            0 => ("ec2:CreateNetworkInterface", "*".to_string()),
            1 => ("ec2:CreateTags", format!("arn:aws:ec2:us-east-1:111122223333:volume/vol-{i}")),
            2 => ("ec2:createtags", format!("arn:aws:ec2:us-east-1:111122223333:instance/i-{i}")),
            _ => ("ec2:DeleteVolume", "*".to_string()),
        };
        let mut r = Request::new(who.clone(), action, &resource);
        if i % 8 == 1 {
            r.context.insert(
                "ec2:ResourceTag/ebs.csi.aws.com/cluster",
                iamsim::engine::request::ContextValue::Single("true".into()),
            );
        }
        reqs.push(r);
    }
    let mut scratch = Scratch::new(&set);
    let prepared: Vec<_> = reqs.iter().map(|r| set.prepare(r, &mut scratch)).collect();
    let want: Vec<_> = reqs.iter().map(|r| set.decide(r, &mut scratch)).collect();
    let kinds: Vec<_> = want.iter().map(|d| d.kind).collect();
    // Every verdict class is exercised.
    for k in [DecisionKind::Allowed, DecisionKind::ImplicitDeny] {
        assert!(kinds.contains(&k), "{k:?}");
    }
    let got: Vec<_> = prepared.par_iter().map_init(|| Scratch::new(&set), |s, p| set.explain(p, s)).collect();
    assert_eq!(got, want);
    let verdicts: Vec<_> = prepared.par_iter().map_init(|| Scratch::new(&set), |s, p| set.verdict(p, s)).collect();
    assert_eq!(verdicts, kinds);
    // The batch calls: in input order, prepared on the pool's threads.
    let pooled = batch::prepare_all(&set, &reqs);
    assert_eq!(batch::verdicts(&set, &pooled), kinds);
    assert_eq!(batch::verdicts(&set, &prepared), kinds);
    // Prepared by another set: that set's answer is not reused.
    let deny = set_of("Deny");
    let denied = batch::verdicts(&deny, &pooled);
    for (r, v) in reqs.iter().zip(&denied) {
        assert_eq!(*v, deny.decide_verdict(r, &mut Scratch::new(&deny)), "{r:?}");
    }
    assert!(denied.contains(&Verdict::ImplicitDeny) && !denied.contains(&Verdict::Allowed));
}

/// All 1,594 managed policies as one set: the action automaton once let
/// `lambda:*` (in AmazonDataZoneProjectDeploymentPermissionsBoundary's
/// `NotAction` Deny) match inside `s3-object-lambda:GetObjectVersion` after
/// a few thousand searches, and the Deny dropped out of the decision. Every
/// `s3-object-lambda:` request of a long generated stream must equal the
/// reference's decision.
#[test]
fn a_wildcard_action_pattern_never_matches_inside_another_service_name() {
    let Some(data) = crate::shared_data() else {
        eprintln!("SKIP: ../shared/data is absent; the all-managed-policies automaton check needs it");
        return;
    };
    let identity: Vec<_> = crate::json_files(&data.join("managed-policies"))
        .iter()
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            parse_policy(&std::fs::read(p).unwrap(), &name, PolicyKind::Identity).unwrap()
        })
        .collect();
    let set = PolicySet { identity, ..Default::default() };
    let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
    let requests = iamsim::audit::workload::Generator::new(&set).generate(5_000, 1);
    let mut scratch = Scratch::new(&compiled);
    let mut checked = 0;
    for r in &requests {
        let got = compiled.decide(r, &mut scratch);
        if r.action.to_ascii_lowercase().starts_with("s3-object-lambda:") {
            assert_eq!(got, iamsim::engine::eval::reference_decide(&set, r), "{} on {}", r.action, r.resource);
            checked += 1;
        }
    }
    assert!(checked > 0, "the stream names s3-object-lambda actions");
}

/// A set past a compiler limit is refused with an error of that kind, and
/// the limit itself compiles.
#[test]
fn compile_errors_say_which_limit() {
    let scp = parse_policy(
        br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#,
        "scp",
        PolicyKind::Scp,
    )
    .unwrap();
    let levels = |n: usize| PolicySet { scps: vec![vec![scp.clone()]; n], ..Default::default() };
    let max = iamsim::engine::compile::MAX_GUARDRAIL_LEVELS;
    assert!(CompiledPolicySet::compile(levels(max)).is_ok());
    let err = CompiledPolicySet::compile(levels(max + 1)).unwrap_err();
    assert_eq!(err.kind(), iamsim::CompileErrorKind::TooManyLevels, "{err}");
    assert!(err.to_string().contains(&format!("{} SCP levels", max + 1)), "{err}");
}

/// An indeterminate decision says when the IAM user's credentials are what
/// it waits on (a session token may not call IAM without MFA), on every
/// path: explained, prepared and the reference evaluator; a decided answer
/// never carries the flag.
#[test]
fn a_decision_says_when_the_credentials_are_in_doubt() {
    use iamsim::engine::eval::reference_decide;
    use iamsim::engine::request::{ContextValue, UserCredentials};
    let doc = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"},
        {"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}},
        {"Effect":"Deny","Action":"iam:DeleteUser","Resource":"*"}]}"#;
    let p = parse_policy(doc.as_bytes(), "p", PolicyKind::Identity).unwrap();
    let boundary = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"iam:*","Resource":"*"}}"#;
    let boundary = parse_policy(boundary.as_bytes(), "boundary", PolicyKind::PermissionsBoundary).unwrap();
    // Identity policies alone, and with a boundary (the general rules' path).
    let sets = [
        PolicySet { identity: vec![p.clone()], ..Default::default() },
        PolicySet { identity: vec![p], permissions_boundary: Some(boundary), ..Default::default() },
    ]
    .map(|s| CompiledPolicySet::compile(s).unwrap());
    let principal = Principal::parse("arn:aws:iam::111122223333:user/a").unwrap();
    let ask = |action: &str, credentials: UserCredentials, open: bool| {
        let mut req = Request::new(principal.clone(), action, "*");
        req.user_credentials = credentials;
        if open {
            req.context.insert("aws:SecureTransport", ContextValue::Unknown);
        }
        req
    };
    let cases = [
        // (action, credentials, unknown context, kind, credentials in doubt)
        ("iam:ListUsers", UserCredentials::Unknown, false, DecisionKind::Indeterminate, true),
        ("iam:ListUsers", UserCredentials::Unlimited, false, DecisionKind::Allowed, false),
        ("iam:ListUsers", UserCredentials::SessionToken, false, DecisionKind::ImplicitDeny, false),
        // Denied whatever the credentials: nothing to wait on.
        ("iam:DeleteUser", UserCredentials::Unknown, false, DecisionKind::ExplicitDeny, false),
        ("iam:CreateUser", UserCredentials::Unknown, false, DecisionKind::ImplicitDeny, false),
        // Both a key and the credentials.
        ("iam:GetUser", UserCredentials::Unknown, true, DecisionKind::Indeterminate, true),
        ("iam:GetUser", UserCredentials::Unlimited, true, DecisionKind::Indeterminate, false),
    ];
    for set in &sets {
        let mut scratch = Scratch::new(set);
        for (action, credentials, open, kind, doubt) in cases {
            let req = ask(action, credentials, open);
            let d = set.decide(&req, &mut scratch);
            assert_eq!((d.kind, d.unknown_credentials), (kind, doubt), "{action} {credentials:?} {open}");
            assert_eq!(set.explain(&set.prepare(&req, &mut scratch), &mut scratch), d, "{action}: prepared");
            assert_eq!(reference_decide(set.policy_set(), &req), d, "{action}: reference");
            // Named in the explanation's JSON only when it is so.
            let json = serde_json::to_value(set.explanation(&d)).unwrap();
            assert_eq!(json.get("unknown_credentials").is_some(), doubt, "{json}");
        }
    }
}
