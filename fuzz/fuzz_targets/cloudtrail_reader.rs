//! Arbitrary bytes → the CloudTrail reader and event mapping: never panics,
//! and every record is accounted for (an event or a located malformed item);
//! every event either converts or names a skip reason; reading only the
//! members the mapping reads gives the same mappings and the same problems
//! (serde_json's wording of a syntax error aside).
#![no_main]
use iamsim::audit::cloudtrail::event::to_checks;
use iamsim::audit::cloudtrail::reader::{read_stream, read_stream_with, Item, Members};
use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() > 64 * 1024 {
        return Corpus::Reject;
    }
    let (mut events, mut malformed) = (0usize, 0usize);
    read_stream(data, "fuzz", &mut |item| match item {
        Item::Event(_, v) => {
            events += 1;
            if let Ok(checks) = to_checks(&v) {
                for c in &checks.checks {
                    assert!(!c.action.is_empty());
                    if let Some(r) = checks.request(c) {
                        assert_eq!(Some(&r.resource), c.resource.as_ref());
                    }
                }
            }
        }
        Item::Malformed(at, why) => {
            malformed += 1;
            assert!(!why.message.is_empty() && at.file == "fuzz");
        }
        // A digest file: located, and said what it is.
        Item::Skipped(at, why) => {
            malformed += 1;
            assert!(!why.is_empty() && at.file == "fuzz");
        }
    });
    // Input yields nothing only when it is an empty event list (`[]`,
    // `{"Records":[]}`): anything else leaves an event or a located problem.
    if events + malformed == 0 && data.iter().any(|b| !b.is_ascii_whitespace()) {
        let v: serde_json::Value = serde_json::from_slice(data).expect("silent input must be valid JSON");
        let empty = |v: &serde_json::Value| v.as_array().is_some_and(Vec::is_empty);
        assert!(empty(&v) || v.get("Records").is_some_and(empty), "input vanished without a trace: {v}");
    }
    // Each record as (what the mapping made of it, whether it was refused
    // for a number out of f64 range).
    let mapped = |members| {
        let mut out = Vec::new();
        read_stream_with(data, "fuzz", members, &mut |item| match item {
            Item::Event(at, v) => out.push((format!("{at}: {:?}", to_checks(&v)), false)),
            // serde_json words an error inside a skipped member its own way
            // (and may place it a column off): compare what kind it is.
            Item::Malformed(at, why) => out.push((
                format!("{at}: {:?} {}", why.kind, why.message.split(':').next().unwrap_or("")),
                why.message.contains("number out of range"),
            )),
            Item::Skipped(at, why) => out.push((format!("{at}: skipped: {why}"), false)),
        });
        out
    };
    let (some, whole) = (mapped(Members::Mapped), mapped(Members::All));
    // The one accepted difference: serde_json skips a number without
    // checking that it fits an f64 but refuses it in a `Value`, so a member
    // the mapping skips may hold `1e999` (tests/regression.rs). Reading whole
    // then refuses that record (and, inside one JSON document, stops there);
    // the two reads must agree up to it.
    let agreed = whole.iter().position(|(_, out_of_range)| *out_of_range).unwrap_or(whole.len());
    if agreed == whole.len() {
        assert_eq!(some, whole);
    } else {
        assert_eq!(some.get(..agreed), whole.get(..agreed), "{some:?}\n{whole:?}");
    }
    Corpus::Keep
});
