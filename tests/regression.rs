//! Replays minimized fuzz findings (`corpus/regressions/<target>/*`) through
//! the property of the target that found them.

use iamsim::policy::{parse_policy, PolicyKind, PolicySet};

#[test]
fn parse_policy_regressions_stay_fixed() {
    let dir = crate::root().join("corpus/regressions/parse_policy");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        n += 1;
        for kind in [PolicyKind::Identity, PolicyKind::Resource, PolicyKind::Scp, PolicyKind::Rcp] {
            if let Err(e) = parse_policy(&data, "fuzz.json", kind) {
                assert!(e.span().is_some() || !e.path().is_empty(), "{}: unlocated error: {e}", path.display());
                assert!(e.to_string().starts_with("fuzz.json"), "{e}");
            }
        }
        let _ = PolicySet::from_bundle(&data, "bundle.json");
    }
    assert!(n >= 2, "regression files missing from {}", dir.display());
}
