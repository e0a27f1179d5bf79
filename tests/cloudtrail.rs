//! The real CloudTrail samples in `../shared/data/cloudtrail`: every event is
//! read and accounted for (checks or a named skip reason), identity types map
//! as the semantics doc §8.3 says. Skips with a printed reason without the data.

use iamsim::cloudtrail::event::{to_checks, SkipReason};
use iamsim::cloudtrail::reader::{collect_files, read_file, Item};
use iamsim::request::Principal;
use std::collections::BTreeMap;

#[test]
fn every_sample_event_is_accounted_for() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; CloudTrail sample tests need it");
        return;
    };
    let files = collect_files(&[data.join("cloudtrail")]).unwrap();
    assert_eq!(files.len(), 8, "{files:?}");
    let (mut read, mut malformed, mut converted, mut checks, mut undetermined_resource) =
        (0usize, 0usize, 0usize, 0usize, 0usize);
    let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
    let mut principals: BTreeMap<&'static str, usize> = BTreeMap::new();
    for f in &files {
        read_file(f, &mut |item| {
            read += 1;
            match item {
                Item::Malformed(at, why) => {
                    malformed += 1;
                    panic!("{at}: {why}");
                }
                Item::Event(_, v) => match to_checks(&v) {
                    Ok(c) => {
                        converted += 1;
                        checks += c.checks.len();
                        undetermined_resource += c.checks.iter().filter(|k| k.resource.is_none()).count();
                        let kind = match c.principal {
                            Principal::User { .. } => "user",
                            Principal::RoleSession { .. } => "role session",
                            Principal::Root { .. } => "root",
                            Principal::FederatedUser { .. } => "federated user",
                            Principal::Service { .. } => "service",
                            Principal::Anonymous => "anonymous",
                        };
                        *principals.entry(kind).or_default() += 1;
                    }
                    Err(reason) => {
                        let key = match reason {
                            SkipReason::UnmappedAction(_) => "unmapped action".to_string(),
                            other => other.to_string(),
                        };
                        *skipped.entry(key).or_default() += 1;
                    }
                },
            }
        })
        .unwrap();
    }
    let skipped_total: usize = skipped.values().sum();
    println!("read {read}, converted {converted} into {checks} checks ({undetermined_resource} with an underivable resource), skipped {skipped_total}: {skipped:?}; principals {principals:?}");
    assert_eq!(read, 34_585, "every event in the samples is read");
    assert_eq!(malformed, 0);
    assert_eq!(read, converted + skipped_total, "events read = converted + skipped");
    // Identity forms of the samples (data README): each modelled kind converts.
    for kind in ["user", "role session", "root", "federated user", "service"] {
        assert!(principals.get(kind).copied().unwrap_or(0) > 0, "no {kind} converted: {principals:?}");
    }
    assert!(skipped.get("identity type AWSAccount is not modelled").copied().unwrap_or(0) > 0);
    assert!(skipped.keys().any(|k| k.starts_with("not an API call")));
    assert!(principals["service"] > 20_000, "AWSService events dominate the SANS lab: {principals:?}");
}
