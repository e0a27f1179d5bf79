//! `iamsim replay` on the corpus replay job: the report's counts, groups and
//! unused permissions are exactly what the hand-written events imply
//! (corpus/replay/README.md lists each event's expected result), and a
//! proposed policy (`--override`) shows what it would break.

fn replay(extra: &[&str]) -> serde_json::Value {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let report = dir.join("report.json");
    let out = dir.join("decisions.jsonl");
    let mut args = vec![
        "replay",
        "--cloudtrail",
        "corpus/replay/cloudtrail",
        // Two malformed records on purpose (corpus/replay/README.md).
        "--max-malformed",
        "100",
        "--authorization-details",
        "corpus/replay/authorization-details.json",
        "--report",
        report.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = crate::iamsim_command().args(&args).output().unwrap();
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
    assert_eq!(r["skipped_reasons"]["malformed_record"], 2, "{}", r["skipped_reasons"]);
    assert_eq!(r["skipped_details"]["malformed record: not_an_object"], 1, "{}", r["skipped_details"]);
    assert_eq!(r["skipped_details"]["malformed record: invalid_json"], 1, "{}", r["skipped_details"]);
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
        serde_json::json!({"allowed": 6, "explicitDeny": 3, "implicitDeny": 1, "indeterminate": 3})
    );
    assert_eq!(
        r["breakage"],
        serde_json::json!({"would_break": 2, "would_break_unless": 1, "disagreements": 1, "new": 0, "existing": 0})
    );
    // The node role's policies do not allow kms:Decrypt; the key policy,
    // which the replay was not given, still could.
    assert_eq!(groups(&r["would_break_unless"]), vec![(NODE.into(), "kms:Decrypt".into(), 1)]);
    assert_eq!(r["would_break_unless"][0]["unless"], "resource_policy_missing");
    assert_eq!(r["would_break_unless"][0]["event_ids"], serde_json::json!(["00000000-0000-0000-0000-000000000013"]));
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
    assert_eq!(
        node["unused_statements"],
        serde_json::json!([{"policy": "cni (inline)", "statement_index": 1, "sid": "TagOnlyNetworkInterfaces",
            "grants": ["ec2:CreateTags"], "not_action": false}])
    );
    // What its own statements grant and its own successful calls never
    // matched (no catalog: by pattern), not what other principals called.
    assert_eq!(
        node["unused_actions"],
        serde_json::json!([
            "ec2:AssignPrivateIpAddresses",
            "ec2:CreateTags",
            "ec2:ModifyNetworkInterfaceAttribute",
            "ec2:UnassignPrivateIpAddresses"
        ])
    );
    assert_eq!((node["calls"].as_u64(), node["expanded"].as_bool()), (Some(6), Some(false)));
    // Every principal of the details has events here.
    assert_eq!(r["principals_without_events"], serde_json::json!([]));
    // The node's CreateNetworkInterface names no network interface, but every
    // statement for it says `Resource: *`: decided, not indeterminate.
    assert!(r["indeterminate_reasons"].get("resource_not_derivable").is_none(), "{}", r["indeterminate_reasons"]);
    for (kind, reason) in [
        ("principal_not_in_inventory", "principal not in the authorization details"),
        ("resource_policy_missing", "a resource policy could allow it, and none was provided"),
        ("unresolved_managed_policy", "some of the principal's managed policies could not be resolved"),
    ] {
        assert_eq!(r["indeterminate_reasons"][kind], 1, "{kind}: {}", r["indeterminate_reasons"]);
        assert_eq!(r["indeterminate_details"][reason], 1, "{reason}: {}", r["indeterminate_details"]);
    }
}

#[test]
fn proposed_policy_shows_what_would_break() {
    let r =
        replay(&["--override", "arn:aws:iam::111122223333:role/eks-node-role=corpus/replay/proposed-node-policy.json"]);
    let broken: Vec<(String, String)> = r["would_break"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["principal"] == NODE)
        .map(|g| (g["action"].as_str().unwrap().to_string(), g["status"].as_str().unwrap().to_string()))
        .collect();
    // The proposed policy (ec2:Describe* only) breaks the network-interface
    // calls, the one whose event names no interface included: no statement
    // for it is left, so the resource cannot matter. RunInstances was broken
    // before.
    assert_eq!(
        broken,
        [
            ("ec2:AttachNetworkInterface".into(), "new".into()),
            ("ec2:CreateNetworkInterface".into(), "new".into()),
            ("ec2:DeleteNetworkInterface".into(), "new".into()),
            ("ec2:RunInstances".into(), "existing".into()),
        ]
    );
    assert_eq!(r["would_break_unless"][0]["status"], "existing", "{}", r["would_break_unless"]);
    assert_eq!((r["breakage"]["new"].as_u64(), r["breakage"]["existing"].as_u64()), (Some(3), Some(3)));
    assert_eq!(r["events_read"], 17);
}

#[test]
fn generated_events_round_trip_through_replay() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    for name in ["events.json.gz", "events.jsonl"] {
        let events = dir.join(name);
        let o = crate::iamsim_command()
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
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let r = {
            let report = dir.join(format!("{name}.report.json"));
            let o = crate::iamsim_command()
                .args(["replay", "--authorization-details", "corpus/replay/authorization-details.json", "--cloudtrail"])
                .arg(&events)
                .arg("--report")
                .arg(&report)
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
    let scratch = crate::scratch_dir();
    let report = scratch.path().join("report.json");
    let o = crate::iamsim_command()
        .args([
            "replay",
            "--cloudtrail",
            "corpus/replay/cloudtrail",
            // Two malformed records on purpose (corpus/replay/README.md).
            "--max-malformed",
            "100",
            "--authorization-details",
            "corpus/replay/authorization-details.json",
            "--report",
        ])
        .arg(&report)
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

/// With a catalog, events whose actions it does not know are reported (the
/// corpus catalog holds only parts of s3, ec2, iam and kms), and resources
/// the hand tables do not name come from its ARN formats: CreateNetworkInterface
/// is also checked on the subnet it names (allowed), beside the interface it
/// creates (unknown; every statement for it says `*`, so allowed too).
#[test]
fn replay_with_a_catalog_reports_unknown_actions() {
    let without = replay(&[]);
    let with = replay(&["--catalog", "corpus/catalog/service-reference"]);
    assert_eq!(without.get("unknown_actions"), None);
    assert_eq!(
        with["unknown_actions"],
        serde_json::json!({"iam:CreateUser": 1, "iam:DeleteRole": 1, "iam:ListUsers": 1, "logs:PutLogEvents": 1})
    );
    let mut decisions = without["decisions"].clone();
    decisions["allowed"] = (decisions["allowed"].as_u64().unwrap() + 1).into();
    assert_eq!(with["decisions"], decisions);
    assert_eq!((with["checks"].as_u64(), without["checks"].as_u64()), (Some(14), Some(13)));
    assert_eq!(with["inputs"]["catalog"], "corpus/catalog/service-reference");
}

fn write(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

/// Authorization details holding one user, dave, whose one inline policy is
/// `policy`, beside `roles`.
fn dave_details(dir: &std::path::Path, policy: &str, roles: Vec<serde_json::Value>) -> String {
    let details = serde_json::json!({"UserDetailList": [{"Path": "/", "UserName": "dave", "UserId": "AIDADAVE",
        "Arn": "arn:aws:iam::111122223333:user/dave", "GroupList": [], "AttachedManagedPolicies": [], "Tags": [],
        "UserPolicyList": [{"PolicyName": "p", "PolicyDocument": policy}]}],
        "GroupDetailList": [], "RoleDetailList": roles, "Policies": []});
    write(dir, "details.json", &details.to_string())
}

/// One CloudTrail record (a JSON line) of dave calling `source`'s `name`;
/// `denied` records an AccessDenied.
fn dave_event(id: &str, source: &str, name: &str, params: serde_json::Value, denied: bool) -> String {
    let mut e = serde_json::json!({"eventVersion": "1.08", "userIdentity": {"type": "IAMUser", "principalId": "AIDADAVE", "accessKeyId": "AKIADAVE",
        "arn": "arn:aws:iam::111122223333:user/dave", "accountId": "111122223333", "userName": "dave"},
        "eventTime": "2026-11-01T10:00:00Z", "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.1", "userAgent": "cli", "requestParameters": params, "responseElements": null,
        "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": "111122223333"});
    if denied {
        e["errorCode"] = "AccessDenied".into();
    }
    format!("{e}\n")
}

/// Replays `events` against `details` (plus `extra` arguments): the JSON
/// report, and `fields` of each decision line.
fn replay_lines(
    dir: &std::path::Path,
    events: &str,
    details: &str,
    extra: &[&str],
    fields: [&str; 3],
) -> (serde_json::Value, Vec<(String, String, String)>) {
    let out = dir.join("decisions.jsonl");
    let o = crate::iamsim_command()
        .args(["replay", "--format", "json", "--cloudtrail", events, "--authorization-details", details, "--out"])
        .arg(&out)
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let lines = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let [a, b, c] = fields.map(|k| v[k].as_str().unwrap_or("-").to_string());
            (a, b, c)
        })
        .collect();
    (serde_json::from_slice(&o.stdout).unwrap(), lines)
}

/// A service condition key the catalog says an action never carries is
/// absent, not unknown: `ec2:InstanceType` is not in DescribeInstances'
/// context, so `StringEqualsIfExists` on it holds.
#[test]
fn catalog_makes_keys_an_action_never_carries_absent() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*","Condition":{"StringEqualsIfExists":{"ec2:InstanceType":"t3.micro"}}}]}"#;
    let details = dave_details(dir, policy, Vec::new());
    let event = dave_event("e1", "ec2.amazonaws.com", "DescribeInstances", serde_json::json!({}), false);
    let events = write(dir, "events.jsonl", &event);
    let fields = ["action", "resource", "decision"];
    let (open, _) = replay_lines(dir, &events, &details, &[], fields);
    assert_eq!(open["decisions"]["indeterminate"], 1, "{open}");
    assert_eq!(open["indeterminate_reasons"], serde_json::json!({"unknown_context": 1}));
    assert_eq!(open["indeterminate_details"], serde_json::json!({"unknown context: ec2:InstanceType": 1}));
    let (typed, _) = replay_lines(dir, &events, &details, &["--catalog", "corpus/catalog/service-reference"], fields);
    assert_eq!(typed["decisions"]["allowed"], 1, "{typed}");
}

/// IAM events name users, roles and groups without their path; the replay
/// takes the path from the authorization details (or from CreateRole's
/// `path`), and where it cannot, decides only if no statement for the action
/// tells paths apart (else indeterminate, never a guess at `/`).
#[test]
fn iam_entity_paths_come_from_the_authorization_details() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let roles = "arn:aws:iam::111122223333:role";
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "iam:GetRole", "Resource": format!("{roles}/*")},
        {"Effect": "Allow", "Action": ["iam:DeleteRole", "iam:CreateRole"], "Resource": format!("{roles}/team/*")},
        {"Effect": "Allow", "Action": "iam:UpdateRole", "Resource": format!("{roles}/*")},
        {"Effect": "Deny", "Action": "iam:UpdateRole", "Resource": format!("{roles}/admin/*")}]});
    let role = |path: &str, name: &str| {
        serde_json::json!({"Path": path, "RoleName": name, "RoleId": format!("AROA{name}"),
        "Arn": format!("{roles}{path}{name}"), "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
        "RolePolicyList": [], "AttachedManagedPolicies": [], "Tags": []})
    };
    let details = dave_details(dir, &policy.to_string(), vec![role("/team/", "app"), role("/admin/", "boss")]);
    let event = |id: &str, name: &str, params: serde_json::Value, denied: bool| {
        dave_event(id, "iam.amazonaws.com", name, params, denied)
    };
    let events = [
        event("get-app", "GetRole", serde_json::json!({"roleName": "app"}), false),
        event("delete-app", "DeleteRole", serde_json::json!({"roleName": "app"}), false),
        event("update-boss", "UpdateRole", serde_json::json!({"roleName": "boss"}), true),
        event("get-gone", "GetRole", serde_json::json!({"roleName": "gone"}), false),
        event("delete-gone", "DeleteRole", serde_json::json!({"roleName": "gone"}), false),
        event("create-new", "CreateRole", serde_json::json!({"roleName": "new", "path": "/team/"}), false),
    ];
    let events = write(dir, "events.jsonl", &events.concat());
    let (report, decided) = replay_lines(dir, &events, &details, &[], ["event_id", "resource", "decision"]);
    let want = [
        ("get-app", "team/app", "allowed"),
        ("delete-app", "team/app", "allowed"),
        ("update-boss", "admin/boss", "explicitDeny"),
        // Not in the details, but `role/*` matches it at any path.
        ("get-gone", "gone", "allowed"),
        // `role/team/*` depends on the path the event does not give.
        ("delete-gone", "gone", "indeterminate"),
        ("create-new", "team/new", "allowed"),
    ]
    .map(|(id, r, d)| (id.to_string(), format!("{roles}/{r}"), d.to_string()));
    assert_eq!(decided, want);
    assert_eq!(report["indeterminate_reasons"], serde_json::json!({"entity_path_unknown": 1}));
    assert_eq!(
        report["indeterminate_details"],
        serde_json::json!({"IAM user, role or group not in the authorization details: its path is unknown": 1})
    );
    assert_eq!(report["would_break"], serde_json::json!([]), "{report}");
    assert_eq!(report["disagreements"], serde_json::json!([]), "{report}");
}

/// Calls that need more than their own action (a passed role, a copy's
/// source) are checked for each; a proposed policy without those permissions
/// shows the calls breaking.
#[test]
fn implied_permissions_are_checked_and_shown_breaking() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let policy = |with_implied: bool| {
        let mut statements = vec![
            serde_json::json!({"Effect": "Allow", "Action": "lambda:CreateFunction", "Resource": "*"}),
            serde_json::json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::dst/*"}),
        ];
        if with_implied {
            statements.push(serde_json::json!({"Effect": "Allow", "Action": "iam:PassRole",
                "Resource": "arn:aws:iam::111122223333:role/service/*",
                "Condition": {"StringEquals": {"iam:PassedToService": "lambda.amazonaws.com"}}}));
            statements.push(
                serde_json::json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::src/*"}),
            );
        }
        serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string()
    };
    let details = dave_details(dir, &policy(true), Vec::new());
    let proposed = write(dir, "proposed.json", &policy(false));
    let events = [
        dave_event(
            "fn",
            "lambda.amazonaws.com",
            "CreateFunction20150331",
            serde_json::json!({"functionName": "f", "role": "arn:aws:iam::111122223333:role/service/fn"}),
            false,
        ),
        dave_event(
            "copy",
            "s3.amazonaws.com",
            "CopyObject",
            serde_json::json!({"bucketName": "dst", "key": "k", "x-amz-copy-source": "src/a%2Fb"}),
            false,
        ),
    ];
    let events = write(dir, "events.jsonl", &events.concat());
    let fields = ["action", "resource", "decision"];
    let check = |a: &str, r: &str, d: &str| (a.to_string(), r.to_string(), d.to_string());
    let (report, decided) = replay_lines(dir, &events, &details, &[], fields);
    assert_eq!(
        decided,
        [
            check("lambda:CreateFunction", "arn:aws:lambda:us-east-1:111122223333:function:f", "allowed"),
            // Allowed only because the check carries iam:PassedToService.
            check("iam:PassRole", "arn:aws:iam::111122223333:role/service/fn", "allowed"),
            check("s3:PutObject", "arn:aws:s3:::dst/k", "allowed"),
            check("s3:GetObject", "arn:aws:s3:::src/a/b", "allowed"),
        ]
    );
    assert_eq!(report["would_break"], serde_json::json!([]), "{report}");
    let dave = format!("arn:aws:iam::111122223333:user/dave={proposed}");
    let (report, decided) = replay_lines(dir, &events, &details, &["--override", &dave], fields);
    let broken: Vec<&str> =
        report["would_break"].as_array().unwrap().iter().map(|g| g["action"].as_str().unwrap()).collect();
    assert_eq!(broken, ["iam:PassRole"], "{report}");
    // The source bucket's policy (not given) could still grant the read.
    assert_eq!(decided[3], check("s3:GetObject", "arn:aws:s3:::src/a/b", "indeterminate"));
    assert_eq!(report["indeterminate_reasons"], serde_json::json!({"resource_policy_missing": 1}));
}

/// `generate --from-replay`: a policy with exactly the node role's used
/// actions, proved by replaying the same logs with it in place.
#[test]
fn generated_policy_covers_what_was_used_and_is_proved() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let report = dir.join("report.json");
    let o = crate::iamsim_command()
        .args([
            "replay",
            "--cloudtrail",
            "corpus/replay/cloudtrail",
            // Two malformed records on purpose (corpus/replay/README.md).
            "--max-malformed",
            "100",
            "--authorization-details",
            "corpus/replay/authorization-details.json",
        ])
        .args(["--catalog", "corpus/catalog/service-reference", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success());
    let policy_path = dir.join("policy.json");
    let o = crate::iamsim_command()
        .args(["generate", "--from-replay"])
        .arg(&report)
        .args(["--principal", "arn:aws:iam::111122223333:role/eks-node-role", "--out"])
        .arg(&policy_path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains(
            "none of the 7 recorded successes of arn:aws:iam::111122223333:role/eks-node-role in 6 actions is denied (1 of them indeterminate"
        ),
        "{err}"
    );
    let policy = iamsim::engine::policy::parse_policy(
        &std::fs::read(&policy_path).unwrap(),
        "p",
        iamsim::engine::policy::PolicyKind::Identity,
    )
    .unwrap();
    let granted: std::collections::BTreeMap<String, Vec<String>> = policy
        .statements
        .iter()
        .flat_map(|s| s.actions.patterns.iter().map(move |a| (a.clone(), s.resources.clone().unwrap().patterns)))
        .collect();
    let want: std::collections::BTreeMap<String, Vec<String>> = [
        ("ec2:AttachNetworkInterface", "arn:aws:ec2:us-west-2:111122223333:network-interface/eni-01"),
        // The event names the subnet, not the interface the call creates: `*`.
        ("ec2:CreateNetworkInterface", "*"),
        ("ec2:DeleteNetworkInterface", "arn:aws:ec2:us-west-2:111122223333:network-interface/eni-02"),
        ("ec2:DescribeInstances", "*"),
        ("ec2:RunInstances", "arn:aws:ec2:us-west-2:111122223333:instance/i-9"),
        ("kms:Decrypt", "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
    ]
    .into_iter()
    .map(|(a, r)| (a.to_string(), vec![r.to_string()]))
    .collect();
    assert_eq!(granted, want);
    // Printed to stdout instead, the same policy is proved in memory: no
    // temporary file is ever written (TMPDIR points at an empty directory),
    // so an interrupt (SIGINT, SIGTERM) has none to leave behind.
    let tmp = crate::scratch_dir();
    let o = crate::iamsim_command()
        .env("TMPDIR", tmp.path())
        .args(["generate", "--from-replay"])
        .arg(&report)
        .args(["--principal", "arn:aws:iam::111122223333:role/eks-node-role"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("proof: replayed 17 events; none of the 7 recorded successes"), "{err}");
    assert_eq!(o.stdout, std::fs::read(&policy_path).unwrap());
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0, "a temporary file was written");
    // An unknown principal is a clear error naming the ones the report has.
    let o = crate::iamsim_command()
        .args(["generate", "--no-prove", "--from-replay"])
        .arg(&report)
        .args(["--principal", "arn:aws:iam::111122223333:user/nobody"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr)
        .contains("principals with some: arn:aws:iam::111122223333:role/eks-node-role"));
}

/// Files replayed on two threads give the same report as on one, and the
/// same decided checks (each file's in its own order).
#[test]
fn parallel_replay_matches_sequential() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    for seed in 1..=6 {
        let o = crate::iamsim_command()
            .args([
                "gen-cloudtrail",
                "--authorization-details",
                "corpus/replay/authorization-details.json",
                "--count",
                "400",
                "--seed",
            ])
            .arg(seed.to_string())
            .arg("--out")
            .arg(logs.join(format!("f{seed}.json.gz")))
            .output()
            .unwrap();
        assert!(o.status.success());
    }
    // One malformed file too: counted once, whichever worker reads it.
    std::fs::write(logs.join("broken.json"), b"{\"Records\":[{\"eventVersion\":").unwrap();
    let run = |threads: &str| {
        let (report, out) = (dir.join(format!("r{threads}.json")), dir.join(format!("d{threads}.jsonl")));
        let o = crate::iamsim_command()
            .args([
                "replay",
                "--authorization-details",
                "corpus/replay/authorization-details.json",
                "--threads",
                threads,
                "--cloudtrail",
            ])
            .arg(&logs)
            .arg("--report")
            .arg(&report)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap();
        r.as_object_mut().unwrap().remove("events_per_sec");
        let mut lines: Vec<String> = std::fs::read_to_string(out).unwrap().lines().map(str::to_string).collect();
        lines.sort();
        (r, lines)
    };
    let (one, one_lines) = run("1");
    let (two, two_lines) = run("2");
    assert_eq!(one["events_read"], 2401);
    assert_eq!(one["files"], 7);
    assert_eq!(one, two);
    assert_eq!(one_lines, two_lines);
}

/// An output that is an input (or the other output) is refused before
/// anything is written: the input is left as it was. A log file given twice
/// is read once, with a warning and a line in the report.
#[test]
fn outputs_never_overwrite_inputs() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let details = dir.join("details.json");
    std::fs::copy("corpus/replay/authorization-details.json", &details).unwrap();
    let before = std::fs::read(&details).unwrap();
    let logs = "corpus/replay/cloudtrail/lake-export.jsonl";
    let log_copy = dir.join("events.jsonl");
    std::fs::copy(logs, &log_copy).unwrap();
    let run = |extra: &[&str]| {
        // The export holds a malformed line on purpose (corpus/replay/README.md).
        let mut args = vec!["replay", "--max-malformed", "100", "--cloudtrail", log_copy.to_str().unwrap()];
        args.push("--authorization-details");
        args.push(details.to_str().unwrap());
        args.extend_from_slice(extra);
        crate::iamsim_command().args(&args).output().unwrap()
    };
    let via_dot = format!("{}/./details.json", dir.display());
    let report = dir.join("report.json");
    for (flag, target, says) in [
        ("--out", details.to_str().unwrap(), "is an input"),
        ("--report", via_dot.as_str(), "is an input"),
        ("--report", log_copy.to_str().unwrap(), "is an input"),
    ] {
        let o = run(&[flag, target]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{flag} {target}: {err}");
        assert!(err.contains(says), "{err}");
    }
    let same = run(&["--out", report.to_str().unwrap(), "--report", report.to_str().unwrap()]);
    assert_eq!(same.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&same.stderr).contains("the same file"));
    assert_eq!(std::fs::read(&details).unwrap(), before);
    assert_eq!(std::fs::read(&log_copy).unwrap(), std::fs::read(logs).unwrap());
    // Given twice: read once. A digest file: read, and said to hold no events.
    let digest = dir.join("111122223333_CloudTrail-Digest_us-west-2_trail_us-west-2_20261101T000000Z.json");
    std::fs::write(
        &digest,
        r#"{"awsAccountId":"111122223333","digestStartTime":"2026-11-01T00:00:00Z","logFiles":[]}"#,
    )
    .unwrap();
    let args = ["--cloudtrail", log_copy.to_str().unwrap(), "--cloudtrail", digest.to_str().unwrap()];
    let o = run(&[&args[..], &["--report", report.to_str().unwrap()]].concat());
    // A path given that holds no event (the digest) is bad input; the report is out first.
    assert_eq!(o.status.code(), Some(1), "{}", String::from_utf8_lossy(&o.stderr));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("skipped: already read"));
    assert!(err.contains("CloudTrail-Digest") && err.contains("no CloudTrail event found there"), "{err}");
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    assert_eq!(r["files"], 2);
    let skipped: Vec<&str> = r["skipped_paths"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert!(skipped.iter().any(|s| s.contains("CloudTrail-Digest") && s.contains("digest file")), "{skipped:?}");
}

/// A report records absolute input paths, so `generate` proves its policy
/// from any working directory; a doctored report's inputs are checked
/// before they are read (no devices, no /proc, no stdin).
#[test]
fn generate_reads_only_what_a_report_may_name() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let report = dir.join("report.json");
    let o = crate::iamsim_command()
        .args(["replay", "--max-malformed", "100", "--cloudtrail", "corpus/replay/cloudtrail"])
        .args(["--authorization-details", "corpus/replay/authorization-details.json", "--report"])
        .arg(&report)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let recorded: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let logs = recorded["inputs"]["cloudtrail"][0].as_str().unwrap().to_string();
    assert!(std::path::Path::new(&logs).is_absolute(), "{logs}");
    let generate = |report: &std::path::Path| {
        crate::iamsim_command()
            .current_dir(dir)
            .args(["generate", "--from-replay"])
            .arg(report)
            .args(["--principal", "arn:aws:iam::111122223333:role/eks-node-role", "--out"])
            .arg(dir.join("policy.json"))
            .output()
            .unwrap()
    };
    let o = generate(&report);
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    for (doctored, says) in [("/dev/zero", "/dev/zero"), ("/proc/self/environ", "not a log"), ("-", "stdin")] {
        let mut r = recorded.clone();
        r["inputs"]["cloudtrail"] = serde_json::json!([doctored]);
        let path = dir.join("doctored.json");
        std::fs::write(&path, r.to_string()).unwrap();
        let o = generate(&path);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{doctored}: {err}");
        assert!(err.contains("the report's input") && err.contains(says), "{doctored}: {err}");
    }
}

/// The events of the breakage-class tests: all but the last recorded as
/// successes, each showing one class (see `breakage_is_never_hidden`).
fn breakage_events() -> String {
    let mut events = String::new();
    let object = serde_json::json!({"bucketName": "data", "key": "k"});
    // Not allowed; a bucket policy (not given) could still allow it.
    events += &dave_event("e1-put", "s3.amazonaws.com", "PutObject", object.clone(), false);
    // Not allowed; IAM users have no resource policy: certain.
    events += &dave_event("e2-iam", "iam.amazonaws.com", "ListUsers", serde_json::json!({}), false);
    // Allowed only for instances tagged team=blue: the event does not say.
    events += &dave_event(
        "e3-tag",
        "ec2.amazonaws.com",
        "StopInstances",
        serde_json::json!({"instancesSet": {"items": [{"instanceId": "i-1"}]}}),
        false,
    );
    // A bucket of another account: the caller's side must allow, and does not.
    let mut cross: serde_json::Value = serde_json::from_str(&dave_event(
        "e4-cross",
        "s3.amazonaws.com",
        "PutObject",
        serde_json::json!({"bucketName": "theirs", "key": "k"}),
        false,
    ))
    .unwrap();
    cross["resources"] = serde_json::json!([{"type": "AWS::S3::Object", "ARN": "arn:aws:s3:::theirs/k"},
        {"accountId": "444455556666", "type": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::theirs"}]);
    events += &format!("{cross}\n");
    // CloudTrail delivering to a bucket: a service acting as itself.
    let mut service: serde_json::Value = serde_json::from_str(&dave_event(
        "e5-service",
        "s3.amazonaws.com",
        "GetBucketAcl",
        serde_json::json!({"bucketName": "data"}),
        false,
    ))
    .unwrap();
    service["userIdentity"] = serde_json::json!({"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"});
    events += &format!("{service}\n");
    // Denied by AWS, allowed here.
    events += &dave_event("e6-denied", "s3.amazonaws.com", "GetObject", object, true);
    events
}

/// dave's policy for the breakage tests: reads `data`, stops blue instances.
const BREAKAGE_POLICY: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"},
  {"Effect":"Allow","Action":"ec2:StopInstances","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"blue"}}}]}"#;

/// `(action, resource, unless)` of a report's groups.
fn classed(groups: &serde_json::Value) -> Vec<(String, String, String)> {
    groups
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            let text = |k: &str| g[k].as_str().unwrap_or("-").to_string();
            (text("action"), text("resource"), text("unless"))
        })
        .collect()
}

/// Each class of breakage on hand-written events: a certain deny is
/// `would_break`, a deny that only something not provided could lift is
/// `would_break_unless` (saying what), never a bare indeterminate; calls by
/// service principals are their own class; every event is accounted for.
#[test]
fn breakage_is_never_hidden() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let details = dave_details(dir, BREAKAGE_POLICY, Vec::new());
    let events = write(dir, "events.jsonl", &breakage_events());
    let (r, lines) = replay_lines(dir, &events, &details, &[], ["event_id", "decision", "breakage"]);
    assert_eq!(
        classed(&r["would_break"]),
        [
            ("iam:ListUsers".into(), "*".into(), "-".into()),
            ("s3:PutObject".into(), "arn:aws:s3:::theirs/k".into(), "-".into())
        ]
    );
    assert_eq!(
        classed(&r["would_break_unless"]),
        [
            (
                "ec2:StopInstances".into(),
                "arn:aws:ec2:us-east-1:111122223333:instance/i-1".into(),
                "unknown_context".into()
            ),
            ("s3:PutObject".into(), "arn:aws:s3:::data/k".into(), "resource_policy_missing".into()),
        ]
    );
    assert_eq!(r["would_break_unless"][0]["unless_detail"], "unknown context: aws:ResourceTag/team");
    assert_eq!(classed(&r["disagreements"]), [("s3:GetObject".into(), "arn:aws:s3:::data/k".into(), "-".into())]);
    assert_eq!(r["service_principal_events"], 1);
    assert_eq!(r["service_principal_calls"], serde_json::json!({"cloudtrail.amazonaws.com": 1}));
    let sum = ["events_evaluated", "events_skipped", "service_principal_events"].map(|k| r[k].as_u64().unwrap());
    assert_eq!(r["events_read"].as_u64(), Some(sum.iter().sum()), "{sum:?}");
    assert_eq!(r["events_read"], 6);
    // Each decision line says its class.
    let class = |id: &str| lines.iter().find(|l| l.0 == id).map(|l| (l.1.clone(), l.2.clone())).unwrap();
    assert_eq!(class("e1-put"), ("indeterminate".into(), "would_break_unless".into()));
    assert_eq!(class("e2-iam"), ("implicitDeny".into(), "would_break".into()));
    assert_eq!(class("e4-cross"), ("implicitDeny".into(), "would_break".into()));
    assert_eq!(class("e6-denied"), ("allowed".into(), "disagreement".into()));
    assert!(lines.iter().all(|l| l.0 != "e5-service"), "service calls are not checked: {lines:?}");
}

/// `replay` exits 3 when `--fail-on` names a class the report has, 0 when
/// not, and 1 for `--fail-on new` without current policies to compare with.
#[test]
fn fail_on_sets_the_exit_code() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let details = dave_details(dir, BREAKAGE_POLICY, Vec::new());
    let events = write(dir, "events.jsonl", &breakage_events());
    let allowed = write(
        dir,
        "allowed.jsonl",
        &dave_event(
            "ok",
            "s3.amazonaws.com",
            "GetObject",
            serde_json::json!({"bucketName": "data", "key": "k"}),
            false,
        ),
    );
    let run = |logs: &str, extra: &[&str]| {
        let o = crate::iamsim_command()
            .args(["replay", "--cloudtrail", logs, "--authorization-details", &details])
            .args(extra)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).to_string())
    };
    assert_eq!(run(&events, &[]).0, Some(0));
    for class in ["would-break", "would-break-unless"] {
        let (code, err) = run(&events, &["--fail-on", class]);
        assert_eq!(code, Some(3), "{class}: {err}");
        assert!(err.contains(&format!("flagged (--fail-on): {class}")), "{err}");
        assert_eq!(run(&allowed, &["--fail-on", class]).0, Some(0), "{class}");
    }
    let (code, err) = run(&events, &["--fail-on", "new"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("--fail-on new"), "{err}");
    // With a proposed policy: dropping s3:GetObject breaks the allowed call,
    // newly; keeping it breaks nothing new.
    let dave = "arn:aws:iam::111122223333:user/dave";
    let narrower = write(
        dir,
        "narrower.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
    );
    let same = write(dir, "same.json", BREAKAGE_POLICY);
    let (code, err) = run(&allowed, &["--override", &format!("{dave}={narrower}"), "--fail-on", "new"]);
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(run(&events, &["--override", &format!("{dave}={same}"), "--fail-on", "new"]).0, Some(0));
}

/// `--policy ARN=FILE` replays a principal that no authorization details
/// list: the same classes as with the details.
#[test]
fn policy_replays_without_authorization_details() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let details = dave_details(dir, BREAKAGE_POLICY, Vec::new());
    let policy = write(dir, "dave.json", BREAKAGE_POLICY);
    let events = write(dir, "events.jsonl", &breakage_events());
    let report = |args: &[&str]| {
        let o = crate::iamsim_command()
            .args(["replay", "--format", "json", "--cloudtrail", &events])
            .args(args)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let mut r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        r.as_object_mut().unwrap().retain(|k, _| !["events_per_sec", "inputs"].contains(&k.as_str()));
        // The policy's name: the file's path here, `p (inline)` in the details.
        for u in r["unused_permissions"].as_array_mut().unwrap() {
            for s in u["unused_statements"].as_array_mut().unwrap() {
                s["policy"] = serde_json::Value::Null;
            }
        }
        r
    };
    let with_details = report(&["--authorization-details", &details]);
    let without = report(&["--policy", &format!("arn:aws:iam::111122223333:user/dave={policy}")]);
    assert_eq!(with_details, without);
    // Neither details nor a policy: nothing to replay against.
    let o = crate::iamsim_command().args(["replay", "--cloudtrail", &events]).output().unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nothing to replay against"));
    // Not a user or role ARN.
    let o = crate::iamsim_command()
        .args(["replay", "--cloudtrail", &events, "--policy", &format!("arn:aws:s3:::bucket={policy}")])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected an IAM user or role ARN"));
}

/// With a catalog, unused permissions are the catalog actions a principal's
/// statements grant and its own calls never used; principals with policies
/// and no events are listed apart.
#[test]
fn unused_permissions_are_the_principals_own() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let idle = serde_json::json!({"RoleName": "idle", "Arn": "arn:aws:iam::111122223333:role/idle", "Path": "/",
        "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#}],
        "AttachedManagedPolicies": [], "Tags": []});
    let policy = r#"{"Version":"2012-10-17","Statement":[
      {"Sid":"Read","Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":"*"},
      {"Sid":"Keys","Effect":"Allow","Action":"kms:Decrypt","Resource":"*"}]}"#;
    let details = dave_details(dir, policy, vec![idle]);
    let events = write(
        dir,
        "events.jsonl",
        &dave_event(
            "e1",
            "s3.amazonaws.com",
            "GetObject",
            serde_json::json!({"bucketName": "data", "key": "k"}),
            false,
        ),
    );
    let (r, _) = replay_lines(
        dir,
        &events,
        &details,
        &["--catalog", "corpus/catalog/service-reference"],
        ["event_id", "decision", "action"],
    );
    let unused = r["unused_permissions"].as_array().unwrap();
    assert_eq!(unused.len(), 1, "only principals seen in the logs: {unused:?}");
    let dave = &unused[0];
    assert_eq!(dave["principal"], "arn:aws:iam::111122223333:user/dave");
    assert_eq!(dave["expanded"], true);
    assert_eq!(dave["unused_actions"], serde_json::json!(["kms:Decrypt", "s3:ListBucket"]));
    assert_eq!(dave["unused_statements"].as_array().unwrap().len(), 1);
    assert_eq!(dave["unused_statements"][0]["sid"], "Keys");
    assert_eq!(dave["unused_statements"][0]["granted_actions"], 1);
    assert_eq!(r["principals_without_events"], serde_json::json!(["arn:aws:iam::111122223333:role/idle"]));
}

/// Resource policies as users have them: a Config snapshot (a bucket policy
/// granting dave, a bucket with no policy, another account's bucket) and an
/// `aws sqs get-queue-attributes` output. What was unknown is decided: the
/// grant allows, no bucket policy is a certain break, and across accounts
/// the caller's own policies must allow too.
#[test]
fn resource_policies_from_config_and_the_cli() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let details = dave_details(
        dir,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}]}"#,
        Vec::new(),
    );
    let grant = |bucket: &str| {
        serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::111122223333:user/dave"}, "Action": "s3:PutObject",
            "Resource": format!("arn:aws:s3:::{bucket}/*")}]})
        .to_string()
    };
    let item = |bucket: &str, account: &str, policy: serde_json::Value| {
        serde_json::json!({"resourceType": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}"),
            "awsAccountId": account, "supplementaryConfiguration": {"BucketPolicy": {"policyText": policy}}})
    };
    // A queue that records no `Policy` attribute has none; a key policy
    // from the item's supplementaryConfiguration grants on its own.
    let key = "arn:aws:kms:us-east-1:111122223333:key/k1";
    let key_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/dave"}, "Action": "kms:Decrypt", "Resource": "*"}]});
    let snapshot = serde_json::json!({"fileVersion": "1.0", "configurationItems": [
        item("granted", "111122223333", grant("granted").into()),
        item("closed", "111122223333", serde_json::Value::Null),
        item("theirs", "444455556666", grant("theirs").into()),
        {"resourceType": "AWS::SQS::Queue", "ARN": "arn:aws:sqs:us-east-1:111122223333:quiet",
         "awsAccountId": "111122223333", "configuration": {"DelaySeconds": "0"}},
        {"resourceType": "AWS::KMS::Key", "ARN": key, "awsAccountId": "111122223333",
         "supplementaryConfiguration": {"KeyRotationStatus": false, "Policy": key_policy.to_string()}}]});
    let snapshot = write(dir, "snapshot.json", &snapshot.to_string());
    let queue = "arn:aws:sqs:us-east-1:111122223333:jobs";
    let sqs_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:user/dave"}, "Action": "sqs:SendMessage", "Resource": queue}]});
    let attributes =
        write(dir, "queue.json", &serde_json::json!({"Attributes": {"Policy": sqs_policy.to_string()}}).to_string());
    let put = |id: &str, bucket: &str| {
        dave_event(id, "s3.amazonaws.com", "PutObject", serde_json::json!({"bucketName": bucket, "key": "k"}), false)
    };
    let events = put("e-granted", "granted")
        + &put("e-closed", "closed")
        + &put("e-theirs", "theirs")
        + &dave_event(
            "e-queue",
            "sqs.amazonaws.com",
            "SendMessage",
            serde_json::json!({"queueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/jobs"}),
            false,
        )
        + &dave_event(
            "e-quiet",
            "sqs.amazonaws.com",
            "SendMessage",
            serde_json::json!({"queueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/quiet"}),
            false,
        )
        + &dave_event("e-key", "kms.amazonaws.com", "Decrypt", serde_json::json!({"keyId": key}), false);
    let events = write(dir, "events.jsonl", &events);
    let (r, lines) = replay_lines(
        dir,
        &events,
        &details,
        &["--resource-policies", &snapshot, "--resource-policy", &format!("{queue}={attributes}")],
        ["event_id", "decision", "breakage"],
    );
    let decided = |id: &str| lines.iter().find(|l| l.0 == id).map(|l| (l.1.as_str(), l.2.as_str())).unwrap();
    assert_eq!(decided("e-granted"), ("allowed", "-"));
    assert_eq!(decided("e-closed"), ("implicitDeny", "would_break"));
    // The bucket policy grants, but dave's own policies do not: across accounts both must.
    assert_eq!(decided("e-theirs"), ("implicitDeny", "would_break"));
    assert_eq!(decided("e-queue"), ("allowed", "-"));
    assert_eq!(decided("e-quiet"), ("implicitDeny", "would_break"));
    assert_eq!(decided("e-key"), ("allowed", "-"));
    assert_eq!(r["breakage"]["would_break_unless"], 0, "{}", r["would_break_unless"]);
}

/// Wrong inputs exit 1 with a message saying what is wrong: a --cloudtrail
/// path holding no CloudTrail event, an --authorization-details file that is
/// not one, more malformed records than --max-malformed (1% unless said).
#[test]
fn wrong_inputs_exit_1() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let run = |logs: &std::path::Path, details: &str, extra: &[&str]| {
        let o = crate::iamsim_command()
            .arg("replay")
            .arg("--cloudtrail")
            .arg(logs)
            .args(["--authorization-details", details])
            .args(extra)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let details = "corpus/replay/authorization-details.json";
    // Not CloudTrail: JSON objects with none of an event's members.
    let other = dir.join("other.jsonl");
    std::fs::write(&other, "{\"a\":1}\n{\"b\":2}\n").unwrap();
    let (code, err) = run(&other, details, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("other.jsonl: no CloudTrail event found there (1 files: none held an event)"), "{err}");
    // Each path given must hold an event: a good one beside does not make it fine.
    let logs = std::path::Path::new("corpus/replay/cloudtrail/lake-export.jsonl");
    let o = crate::iamsim_command()
        .args(["replay", "--max-malformed", "100", "--authorization-details", details, "--cloudtrail"])
        .arg(logs)
        .arg("--cloudtrail")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("other.jsonl: no CloudTrail event found there"));
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert_eq!(run(&empty, details, &[]).0, Some(1));
    // A policy given as the authorization details.
    let (code, err) = run(logs, "corpus/policies/eks-node-cni.json", &["--max-malformed", "100"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("expected the output of get-account-authorization-details"), "{err}");
    // One malformed line of the export's: over 1%, under 50%.
    let (code, err) = run(logs, details, &[]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("are malformed") && err.contains("over --max-malformed 1%"), "{err}");
    assert_eq!(run(logs, details, &["--max-malformed", "50%"]).0, Some(0));
    let (code, err) = run(logs, details, &["--max-malformed", "101"]);
    assert_eq!(code, Some(2), "a percentage over 100 is a usage error: {err}");
}

/// `--format junit`: well-formed JUnit XML (read back with an XML parser),
/// a suite per breakage class, a failed case per group of the report, with
/// its sample events; a class without groups passes.
#[test]
fn junit_shows_each_breakage_group_as_a_failed_case() {
    let report = replay(&[]);
    let o = crate::iamsim_command()
        .args(["replay", "--max-malformed", "100", "--cloudtrail", "corpus/replay/cloudtrail"])
        .args(["--authorization-details", "corpus/replay/authorization-details.json", "--format", "junit"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8(o.stdout).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let suites: Vec<_> = doc.descendants().filter(|n| n.has_tag_name("testsuite")).collect();
    assert_eq!(suites.len(), 3);
    for suite in suites {
        let class = suite.attribute("name").unwrap();
        let groups = report[class].as_array().unwrap();
        let failed: Vec<_> = suite.descendants().filter(|n| n.has_tag_name("failure")).collect();
        assert_eq!(failed.len(), groups.len(), "{class}");
        assert_eq!(suite.attribute("failures"), Some(groups.len().to_string().as_str()));
        for (g, f) in groups.iter().zip(&failed) {
            let case = f.parent().unwrap().attribute("name").unwrap();
            assert!(case.contains(g["principal"].as_str().unwrap()) && case.contains(g["action"].as_str().unwrap()));
            let first = g["event_ids"][0].as_str().unwrap();
            assert!(f.text().unwrap().contains(first), "{class}: {:?}", f.text());
        }
        if groups.is_empty() {
            assert_eq!(suite.descendants().filter(|n| n.has_tag_name("testcase")).count(), 1);
        }
    }
}

/// The first of `names` on the PATH.
fn on_path(names: &[&str]) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).flat_map(|dir| names.iter().map(move |n| dir.join(n))).find(|p| p.is_file())
}

/// `replay --html`: one self-contained page (a Content-Security-Policy that
/// allows no request, nothing fetched from elsewhere), rendered in a real
/// headless Chromium: its script runs, its figures equal report.json's, no
/// request is refused (none is made), and it screenshots.
#[test]
fn html_report_renders_in_a_real_browser() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let (html, json) = (dir.join("report.html"), dir.join("report.json"));
    let o = crate::iamsim_command()
        .args(["replay", "--max-malformed", "100", "--cloudtrail", "corpus/replay/cloudtrail"])
        .args(["--authorization-details", "corpus/replay/authorization-details.json", "--html"])
        .arg(&html)
        .arg("--report")
        .arg(&json)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    let report: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(page.contains("content=\"default-src 'none';"), "no request may leave the page");
    for external in ["src=\"http", "href=\"http", "url(", "@import"] {
        assert!(!page.contains(external), "the page refers elsewhere: {external}");
    }
    let Some(browser) = on_path(&["chromium", "chromium-browser", "google-chrome"]) else {
        println!("SKIP (part): no chromium on the PATH (.ci/run installs Debian's): the page was checked as text only");
        return;
    };
    let url = format!("file://{}", html.display());
    let run = |extra: &[&str]| {
        std::process::Command::new(&browser)
            .args(["--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0"])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let dom = run(&["--dump-dom"]);
    assert!(dom.status.success(), "{}", String::from_utf8_lossy(&dom.stderr));
    let rendered = String::from_utf8_lossy(&dom.stdout);
    assert!(rendered.contains("data-ready=\"yes\""), "the page's script did not run");
    let shown = |id: &str| -> u64 {
        let at = rendered.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no #{id}"));
        let rest = &rendered[at..];
        let text = &rest[rest.find('>').unwrap() + 1..rest.find('<').unwrap()];
        text.trim().parse().unwrap()
    };
    let decisions = &report["decisions"];
    let expected = [
        ("events_read", &report["events_read"]),
        ("events_evaluated", &report["events_evaluated"]),
        ("events_skipped", &report["events_skipped"]),
        ("checks", &report["checks"]),
        ("allowed", &decisions["allowed"]),
        ("explicit_deny", &decisions["explicitDeny"]),
        ("implicit_deny", &decisions["implicitDeny"]),
        ("indeterminate", &decisions["indeterminate"]),
        ("would_break", &report["breakage"]["would_break"]),
        ("would_break_unless", &report["breakage"]["would_break_unless"]),
        ("disagreements", &report["breakage"]["disagreements"]),
    ];
    for (id, value) in expected {
        assert_eq!(shown(id), value.as_u64().unwrap(), "#{id}");
    }
    let groups = rendered.matches("<tr data-principal=").count();
    let listed = ["would_break", "would_break_unless", "disagreements", "unused_permissions"]
        .iter()
        .map(|k| report[k].as_array().unwrap().len())
        .sum::<usize>();
    assert_eq!(groups, listed);
    let log = String::from_utf8_lossy(&dom.stderr);
    assert!(!log.contains("Refused to"), "the page tried a request: {log}");
    let shot = dir.join("report.png");
    let o = run(&["--hide-scrollbars", "--window-size=1280,1600", &format!("--screenshot={}", shot.display())]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let png = std::fs::read(&shot).unwrap();
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{} bytes", png.len());
}

/// Where a policy tests aws:PrincipalTag, replay reads the logs for the
/// AssumeRole calls that created role sessions: a session found there has
/// its session tags (over its role's) as principal tags and decides; one
/// not found stays unknown.
#[test]
fn session_tags_come_from_the_assume_role_calls_in_the_logs() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "*", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"StringNotEquals": {"aws:PrincipalTag/team": "red"}}}]});
    let role = serde_json::json!({"Path": "/", "RoleName": "app", "RoleId": "AROAAPP", "Arn": "arn:aws:iam::111122223333:role/app",
        "Tags": [{"Key": "team", "Value": "red"}], "AttachedManagedPolicies": [],
        "RolePolicyList": [{"PolicyName": "p", "PolicyDocument": policy}]});
    let details = dave_details(dir, &policy.to_string(), vec![role]);
    let mut assume: serde_json::Value = serde_json::from_str(
        dave_event(
            "e-assume",
            "sts.amazonaws.com",
            "AssumeRole",
            serde_json::json!({
            "roleArn": "arn:aws:iam::111122223333:role/app", "roleSessionName": "s",
            "tags": [{"key": "team", "value": "blue"}]}),
            false,
        )
        .trim(),
    )
    .unwrap();
    assume["responseElements"] = serde_json::json!({"credentials": {"accessKeyId": "ASIABLUE"}});
    let session = |id: &str, key: &str| {
        serde_json::json!({"eventVersion": "1.08", "eventID": id, "eventType": "AwsApiCall", "eventTime": "2026-11-01T10:05:00Z",
            "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets", "awsRegion": "us-east-1", "recipientAccountId": "111122223333",
            "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::111122223333:assumed-role/app/s", "accountId": "111122223333",
                "principalId": "AROAAPP:s", "accessKeyId": key,
                "sessionContext": {"sessionIssuer": {"type": "Role", "arn": "arn:aws:iam::111122223333:role/app"},
                    "attributes": {"mfaAuthenticated": "false", "creationDate": "2026-11-01T10:00:00Z"}}}})
        .to_string()
    };
    let events = format!("{assume}\n{}\n{}\n", session("e-known", "ASIABLUE"), session("e-unknown", "ASIAOTHER"));
    let events = write(dir, "events.jsonl", &events);
    let (_, lines) = replay_lines(dir, &events, &details, &[], ["event_id", "decision", "breakage"]);
    let decided = |id: &str| lines.iter().find(|l| l.0 == id).map(|l| (l.1.as_str(), l.2.as_str())).unwrap();
    assert_eq!(decided("e-known"), ("explicitDeny", "would_break"));
    assert_eq!(decided("e-unknown"), ("indeterminate", "would_break_unless"));
}

/// Guardrails on the calls that attach policies are decided from what the
/// call logs (`iam:PolicyARN`), and a call whose record gives no access key
/// is undecided only where its credentials could have refused it: a
/// success shows they did not.
#[test]
fn attach_guardrails_are_decided_from_the_logged_policy() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let policy = write(
        dir,
        "dev.json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:AttachRolePolicy","Resource":"*",
            "Condition":{"ArnEquals":{"iam:PolicyARN":"arn:aws:iam::aws:policy/ReadOnlyAccess"}}}]}"#,
    );
    let event = |id: &str, attached: &str, error: Option<&str>| {
        let mut e = serde_json::json!({"eventVersion":"1.08","eventType":"AwsApiCall","eventSource":"iam.amazonaws.com",
            "eventName":"AttachRolePolicy","eventTime":"2024-01-01T00:00:00Z","awsRegion":"us-east-1","eventID":id,
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/dev","accountId":"111122223333"},
            "requestParameters":{"roleName":"app","policyArn":format!("arn:aws:iam::aws:policy/{attached}")}});
        if let Some(code) = error {
            e["errorCode"] = code.into();
        }
        e.to_string()
    };
    let lines = [
        event("admin", "AdministratorAccess", None),
        event("read-only", "ReadOnlyAccess", None),
        event("read-only-denied", "ReadOnlyAccess", Some("AccessDenied")),
    ]
    .join("\n");
    let events = write(dir, "events.jsonl", &lines);
    let o = crate::iamsim_command()
        .args(["replay", "--format", "json", "--cloudtrail", &events, "--policy"])
        .arg(format!("arn:aws:iam::111122223333:user/dev={policy}"))
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let d = &r["decisions"];
    assert_eq!(
        (d["allowed"].as_u64(), d["implicitDeny"].as_u64(), d["indeterminate"].as_u64()),
        (Some(1), Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["indeterminate_reasons"], serde_json::json!({"credentials_unknown": 1}), "{r}");
    // Attaching AdministratorAccess breaks for certain: IAM roles have no
    // resource policy that could allow it.
    assert_eq!(r["would_break"].as_array().map(Vec::len), Some(1), "{r}");
}

/// A listing's prefix and a new role's boundary are decided from the logged
/// parameters, a parameter the call did not send included (the key is then
/// absent, and a policy that requires it does not allow the call); only a
/// record without the call's parameters leaves the key unknown.
#[test]
fn listing_and_boundary_guardrails_are_decided_from_the_logged_parameters() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let boundary = "arn:aws:iam::111122223333:policy/boundary";
    let policy = serde_json::json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::shared",
         "Condition":{"StringLike":{"s3:prefix":["home/${aws:username}/*"]}}},
        {"Effect":"Allow","Action":"iam:CreateRole","Resource":"*"},
        {"Effect":"Deny","Action":"iam:CreateRole","Resource":"*",
         "Condition":{"StringNotEquals":{"iam:PermissionsBoundary":boundary}}}]});
    let details = dave_details(dir, &policy.to_string(), vec![]);
    // A data event names its bucket, with the owner, in `resources`.
    let list = |id: &str, params: serde_json::Value| {
        let mut e: serde_json::Value =
            serde_json::from_str(&dave_event(id, "s3.amazonaws.com", "ListObjects", params, false)).unwrap();
        e["resources"] =
            serde_json::json!([{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::shared","accountId":"111122223333"}]);
        format!("{e}\n")
    };
    let create = |id: &str, params: serde_json::Value| dave_event(id, "iam.amazonaws.com", "CreateRole", params, false);
    // The bucket's policy grants dave nothing: a listing the identity
    // policy does not allow breaks for certain.
    let bucket_policy = write(
        dir,
        "bucket-policies.json",
        &serde_json::json!({"arn:aws:s3:::shared":{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject",
             "Resource":"arn:aws:s3:::shared/public/*"}]}})
        .to_string(),
    );
    let events = [
        list("own-folder", serde_json::json!({"bucketName":"shared","prefix":"home/dave/docs/"})),
        list("other-folder", serde_json::json!({"bucketName":"shared","prefix":"home/bob/"})),
        list("no-prefix", serde_json::json!({"bucketName":"shared"})),
        list("parameters-not-logged", serde_json::Value::Null),
        create("with-boundary", serde_json::json!({"roleName":"app","permissionsBoundary":boundary})),
        create("without-boundary", serde_json::json!({"roleName":"app"})),
    ]
    .concat();
    let events = write(dir, "events.jsonl", &events);
    let (r, lines) = replay_lines(
        dir,
        &events,
        &details,
        &["--resource-policies", &bucket_policy],
        ["event_id", "decision", "reason"],
    );
    let decided = |id: &str| lines.iter().find(|l| l.0 == id).map(|l| (l.1.as_str(), l.2.as_str()));
    assert_eq!(decided("own-folder"), Some(("allowed", "-")), "{lines:?}");
    assert_eq!(decided("other-folder"), Some(("implicitDeny", "-")), "{lines:?}");
    assert_eq!(decided("no-prefix"), Some(("implicitDeny", "-")), "{lines:?}");
    assert_eq!(decided("with-boundary"), Some(("allowed", "-")), "{lines:?}");
    assert_eq!(decided("without-boundary"), Some(("explicitDeny", "-")), "{lines:?}");
    assert_eq!(decided("parameters-not-logged"), Some(("indeterminate", "unknown context: s3:prefix")), "{lines:?}");
    // Three certain breaks (two listings, the role without a boundary); the
    // listing whose parameters were not logged could still be allowed.
    let count = |class: &str| -> u64 {
        r[class].as_array().map(|groups| groups.iter().filter_map(|g| g["count"].as_u64()).sum()).unwrap_or(0)
    };
    assert_eq!((count("would_break"), count("would_break_unless")), (3, 1), "{r}");
}

/// `ec2:InstanceType` is a key of RunInstances' instance only: the logged
/// type decides an instance-type guardrail on the instance check, and the
/// launch's other resources (a subnet here) never get it.
#[test]
fn instance_type_is_decided_on_the_instance_alone() {
    let scratch = crate::scratch_dir();
    let dir = scratch.path();
    let deny = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*"},
        {"Effect":"Deny","Action":"ec2:RunInstances","Resource":"arn:aws:ec2:*:*:instance/*",
         "Condition":{"StringNotLike":{"ec2:InstanceType":["t3.*"]}}}]}"#;
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:RunInstances","Resource":"*",
        "Condition":{"StringLike":{"ec2:InstanceType":["t3.*"]}}}]}"#;
    // A launch of one instance, `i-<id>`, in `subnet-<id>`.
    let launch = |id: &str, instance_type: Option<&str>| {
        let mut params = serde_json::json!({"instancesSet":{"items":[{"imageId":"ami-1","minCount":1,"maxCount":1}]},
            "subnetId":format!("subnet-{id}")});
        if let Some(t) = instance_type {
            params["instanceType"] = t.into();
        }
        let mut e: serde_json::Value =
            serde_json::from_str(&dave_event(id, "ec2.amazonaws.com", "RunInstances", params, false)).unwrap();
        e["responseElements"] = serde_json::json!({"instancesSet":{"items":[{"instanceId":format!("i-{id}")}]}});
        format!("{e}\n")
    };
    let catalog = ["--catalog", "corpus/catalog/service-reference"];
    // (resource, decision, reason) of each check, under `policy`.
    let replay = |policy: &str, events: &[String]| {
        let details = dave_details(dir, policy, vec![]);
        let events = write(dir, "events.jsonl", &events.concat());
        replay_lines(dir, &events, &details, &catalog, ["resource", "decision", "reason"]).1
    };
    let arn = |r: &str| format!("arn:aws:ec2:us-east-1:111122223333:{r}");
    let unknown_type = "unknown context: ec2:InstanceType";
    let denied =
        replay(deny, &[launch("small", Some("t3.micro")), launch("large", Some("p2.xlarge")), launch("untyped", None)]);
    let on = |lines: &[(String, String, String)], r: &str| {
        lines.iter().find(|l| l.0 == arn(r)).map(|l| (l.1.clone(), l.2.clone()))
    };
    let decision = |d: &str, reason: &str| Some((d.to_string(), reason.to_string()));
    assert_eq!(on(&denied, "instance/i-small"), decision("allowed", "-"), "{denied:?}");
    assert_eq!(on(&denied, "instance/i-large"), decision("explicitDeny", "-"), "{denied:?}");
    assert_eq!(on(&denied, "instance/i-untyped"), decision("indeterminate", unknown_type), "{denied:?}");
    assert_eq!(on(&denied, "subnet/subnet-large"), decision("allowed", "-"), "{denied:?}");
    let allowed = replay(allow, &[launch("small", Some("t3.micro"))]);
    assert_eq!(on(&allowed, "instance/i-small"), decision("allowed", "-"), "{allowed:?}");
    // The subnet's authorisation carries no instance type: the conditional
    // allow cannot be said to cover it.
    assert_eq!(on(&allowed, "subnet/subnet-small"), decision("indeterminate", unknown_type), "{allowed:?}");
}
