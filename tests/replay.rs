//! `iamsim replay` on the corpus replay job: the report's counts, groups and
//! unused permissions are exactly what the hand-written events imply
//! (corpus/replay/README.md lists each event's expected result), and a
//! proposed policy (`--override`) shows what it would break.

use std::process::Command;

fn replay(extra: &[&str]) -> serde_json::Value {
    let dir = std::env::temp_dir().join(format!("iamsim-replay-{}-{}", std::process::id(), extra.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let report = dir.join("report.json");
    let out = dir.join("decisions.jsonl");
    let mut args = vec![
        "replay",
        "--cloudtrail",
        "corpus/replay/cloudtrail",
        "--authorization-details",
        "corpus/replay/authorization-details.json",
        "--report",
        report.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = Command::new(env!("CARGO_BIN_EXE_iamsim")).args(&args).current_dir(crate::root()).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let lines = std::fs::read_to_string(&out).unwrap().lines().count();
    assert_eq!(lines as u64, r["checks"].as_u64().unwrap(), "one decisions.jsonl line per check");
    r
}

fn groups(v: &serde_json::Value) -> Vec<(String, String, u64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["principal"].as_str().unwrap().to_string(),
                g["action"].as_str().unwrap().to_string(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

const NODE: &str = "arn:aws:sts::111122223333:assumed-role/eks-node-role/i-0abc";
const ALICE: &str = "arn:aws:iam::111122223333:user/alice";

#[test]
fn corpus_replay_report() {
    let r = replay(&[]);
    assert_eq!(r["events_read"], 17);
    assert_eq!(r["events_evaluated"], 13);
    assert_eq!(r["events_skipped"], 4);
    assert_eq!(r["skipped_reasons"]["malformed record"], 2);
    assert_eq!(r["malformed"].as_array().unwrap().len(), 2);
    assert!(
        r["malformed"][0].as_str().unwrap().contains("_corpus.json record 8: record is not a JSON object"),
        "{}",
        r["malformed"]
    );
    assert!(r["malformed"][1].as_str().unwrap().contains("lake-export.jsonl:4: invalid JSON"), "{}", r["malformed"]);
    assert_eq!(r["checks"], 13);
    assert_eq!(
        r["decisions"],
        serde_json::json!({"allowed": 5, "explicitDeny": 3, "implicitDeny": 1, "indeterminate": 4})
    );
    assert_eq!(
        groups(&r["would_break"]),
        vec![(ALICE.into(), "iam:ListUsers".into(), 1), (NODE.into(), "ec2:RunInstances".into(), 1)]
    );
    assert_eq!(groups(&r["disagreements"]), vec![(ALICE.into(), "s3:GetObject".into(), 1)]);
    assert_eq!(r["unknown_principals"], serde_json::json!({"arn:aws:iam::111122223333:user/bob": 1}));
    let node = r["unused_permissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["principal"] == "arn:aws:iam::111122223333:role/eks-node-role")
        .unwrap();
    assert_eq!(node["unused_statements"][0]["sid"], "TagOnlyNetworkInterfaces");
    assert_eq!(node["unused_actions"], serde_json::json!(["ec2:DescribeVolumes"]));
    for reason in [
        "principal not in the authorization details",
        "resource not derivable from the event",
        "a resource policy could allow it, and none was provided",
        "some of the principal's managed policies could not be resolved",
    ] {
        assert_eq!(r["indeterminate_reasons"][reason], 1, "{reason}: {}", r["indeterminate_reasons"]);
    }
}

#[test]
fn proposed_policy_shows_what_would_break() {
    let r =
        replay(&["--override", "arn:aws:iam::111122223333:role/eks-node-role=corpus/replay/proposed-node-policy.json"]);
    let broken: Vec<String> =
        groups(&r["would_break"]).into_iter().filter(|(p, _, _)| p == NODE).map(|(_, a, _)| a).collect();
    assert_eq!(broken, ["ec2:AttachNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:RunInstances"]);
    assert_eq!(r["events_read"], 17);
}

#[test]
fn generated_events_round_trip_through_replay() {
    let dir = std::env::temp_dir().join(format!("iamsim-gen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for name in ["events.json.gz", "events.jsonl"] {
        let events = dir.join(name);
        let o = Command::new(env!("CARGO_BIN_EXE_iamsim"))
            .args([
                "gen-cloudtrail",
                "--authorization-details",
                "corpus/replay/authorization-details.json",
                "--count",
                "3000",
                "--seed",
                "11",
                "--out",
            ])
            .arg(&events)
            .current_dir(crate::root())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = {
            let report = dir.join(format!("{name}.report.json"));
            let o = Command::new(env!("CARGO_BIN_EXE_iamsim"))
                .args(["replay", "--authorization-details", "corpus/replay/authorization-details.json", "--cloudtrail"])
                .arg(&events)
                .arg("--report")
                .arg(&report)
                .current_dir(crate::root())
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(report).unwrap()).unwrap()
        };
        assert_eq!(r["events_read"], 3000, "{name}");
        assert_eq!(r["events_evaluated"], 3000, "{name}");
        // The recorded outcomes are what the engine decides: nothing may break or disagree.
        assert_eq!(r["would_break"], serde_json::json!([]), "{name}");
        assert_eq!(r["disagreements"], serde_json::json!([]), "{name}");
        let d = &r["decisions"];
        for kind in ["allowed", "explicitDeny", "implicitDeny"] {
            assert!(d[kind].as_u64().unwrap() > 0, "{name}: no {kind}: {d}");
        }
    }
}

#[test]
fn report_is_the_same_without_decision_output() {
    let with_out = replay(&[]);
    let report = std::env::temp_dir().join(format!("iamsim-replay-noout-{}.json", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_iamsim"))
        .args([
            "replay",
            "--cloudtrail",
            "corpus/replay/cloudtrail",
            "--authorization-details",
            "corpus/replay/authorization-details.json",
            "--report",
        ])
        .arg(&report)
        .current_dir(crate::root())
        .output()
        .unwrap();
    assert!(o.status.success());
    let mut without: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
    let mut with_out = with_out;
    for r in [&mut without, &mut with_out] {
        r.as_object_mut().unwrap().remove("events_per_sec");
    }
    assert_eq!(without, with_out);
}
