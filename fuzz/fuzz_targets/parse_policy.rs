//! Arbitrary bytes → the policy parser and the bundle reader: never panics, and
//! every error is located (names the source and a line or a JSON path), as
//! is every warning about an action entry that matches nothing.
#![no_main]
use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|data: &[u8]| -> Corpus {
    if data.len() > 64 * 1024 {
        return Corpus::Reject;
    }
    for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Scp, PolicyKind::Rcp] {
        match parse_policy(data, "fuzz.json", kind) {
            Err(e) => {
                assert!(e.span().is_some() || !e.path().is_empty(), "unlocated error: {e}");
                assert!(e.to_string().starts_with("fuzz.json"));
            }
            // Every dead action entry is located in its statement.
            Ok(p) => {
                for w in p.action_warnings() {
                    assert!(w.starts_with("Statement[") && w.contains("Action["), "unlocated warning: {w}");
                }
            }
        }
    }
    let _ = PolicySet::from_bundle(data, "bundle.json");
    Corpus::Keep
});
