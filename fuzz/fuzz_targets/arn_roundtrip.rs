//! ARN parser and segment matcher: an ARN that parses prints back to itself,
//! and a wildcard-free pattern equal to it matches exactly it (and not a
//! one-character change of its resource part).
#![no_main]
use iamsim::engine::eval::{reference_decide, Scratch};
use iamsim::engine::policy::{Arn, PolicyKind};
use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|text: &str| -> Corpus {
    if text.len() > 512 {
        return Corpus::Reject;
    }
    let Some(arn) = Arn::parse(text) else { return Corpus::Reject };
    let printed = format!("arn:{}:{}:{}:{}:{}", arn.partition, arn.service, arn.region, arn.account, arn.resource);
    assert_eq!(printed, text);
    if text.contains(['*', '?']) || text.contains("${") {
        return Corpus::Keep;
    }
    // The pattern matches itself under both evaluators.
    let doc = serde_json::json!({"Version": "2012-10-17", "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": text}});
    let Ok(policy) = iamsim::engine::policy::parse_policy(doc.to_string().as_bytes(), "p", PolicyKind::Identity) else {
        return Corpus::Keep;
    };
    let set = iamsim::engine::policy::PolicySet { identity: vec![policy], ..Default::default() };
    let compiled = iamsim::CompiledPolicySet::compile(set.clone()).unwrap();
    let principal = iamsim::engine::request::Principal::parse("arn:aws:iam::111122223333:user/a").unwrap();
    let mut req = iamsim::engine::request::Request::new(principal, "s3:GetObject", text);
    req.resource_account = Some("111122223333".into());
    let d = compiled.decide(&req, &mut Scratch::new(&compiled));
    assert!(d.is_allowed(), "{text} does not match itself");
    assert_eq!(d, reference_decide(&set, &req));
    req.resource.push('x');
    assert!(!compiled.decide(&req, &mut Scratch::new(&compiled)).is_allowed(), "{text}x matched {text}");
    Corpus::Keep
});
