//! Replays minimized fuzz findings (`corpus/regressions/<target>/*`) through
//! the property of the target that found them.

use iamsim::audit::cloudtrail::reader::{read_stream_with, Item, Members};
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use std::path::PathBuf;

/// The regression inputs of `target`: each file's path and bytes.
fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = crate::root().join("corpus/regressions").join(target);
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            (path, data)
        })
        .collect();
    assert!(files.len() >= 2, "regression files missing from {}", dir.display());
    files
}

#[test]
fn parse_policy_regressions_stay_fixed() {
    for (path, data) in regressions("parse_policy") {
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Scp, PolicyKind::Rcp] {
            if let Err(e) = parse_policy(&data, "fuzz.json", kind) {
                assert!(e.span().is_some() || !e.path().is_empty(), "{}: unlocated error: {e}", path.display());
                assert!(e.to_string().starts_with("fuzz.json"), "{e}");
            }
        }
        let _ = PolicySet::from_bundle(&data, "bundle.json");
    }
}

/// Reading only the members the mapping uses gives the same records as
/// reading them whole, but for one accepted difference: serde_json skips a
/// number without checking that it fits an f64, and refuses it in a
/// `Value`. A record with `1e999` in a member the mapping skips is decided
/// by a replay (which reads the mapped members) and malformed when read
/// whole (which, inside one `{"Records":[…]}` document, stops there).
#[test]
fn cloudtrail_reader_regressions_stay_fixed() {
    let files = regressions("cloudtrail_reader");
    let mut accepted_differences = 0;
    for (path, data) in &files {
        let read = |members| {
            let mut out = Vec::new();
            read_stream_with(data.as_slice(), "fuzz", members, &mut |item| {
                out.push(match item {
                    Item::Event(at, _) => (format!("{at}"), None),
                    Item::Malformed(at, why) => (format!("{at}"), Some(why.message)),
                    Item::Skipped(at, why) => (format!("{at}"), Some(why.to_string())),
                })
            });
            out
        };
        let (some, whole) = (read(Members::Mapped), read(Members::All));
        // Which records were events (serde_json may word a problem in a
        // skipped member its own way, so messages are not compared).
        let events = |v: &[(String, Option<String>)], n: usize| -> Vec<(String, bool)> {
            v.iter().take(n).map(|(at, why)| (at.clone(), why.is_none())).collect()
        };
        // Up to the record refused whole, the reads agree; the mapped read
        // decides that record.
        let refused =
            whole.iter().position(|(_, why)| why.as_deref().is_some_and(|w| w.contains("number out of range")));
        let agreed = refused.unwrap_or(whole.len().max(some.len()));
        assert_eq!(events(&some, agreed), events(&whole, agreed), "{}", path.display());
        if let Some(i) = refused {
            assert!(some.get(i).is_some_and(|(_, why)| why.is_none()), "{}: {some:?}", path.display());
            accepted_differences += 1;
        }
    }
    assert_eq!(accepted_differences, files.len(), "each file shows the out-of-range difference");
}

/// `cloudtrail_reader`'s stricter property on the files where it once
/// failed: the mapped read and the whole read give every record the same
/// outcome and the same kind of problem (no accepted difference).
#[test]
fn cloudtrail_reader_kind_regressions_stay_fixed() {
    use iamsim::audit::cloudtrail::reader::{read_stream_with, Item, Members};
    for (path, data) in regressions("cloudtrail_reader_kinds") {
        let read = |members| {
            let mut out = Vec::new();
            read_stream_with(data.as_slice(), "fuzz", members, &mut |item| {
                out.push(match item {
                    Item::Event(at, _) => format!("{at}: event"),
                    Item::Malformed(at, why) => format!("{at}: {:?}", why.kind),
                    Item::Skipped(at, why) => format!("{at}: skipped: {why}"),
                })
            });
            out
        };
        assert_eq!(read(Members::Mapped), read(Members::All), "{}", path.display());
    }
}
