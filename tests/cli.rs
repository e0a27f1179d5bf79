//! The `iamsim` binary: the `simulate`, `eval` and `bench` contracts, the corpus main
//! job, and bad input (located errors, exit 1, never a panic).

use std::io::Write;
use std::process::{Output, Stdio};

fn iamsim(args: &[&str]) -> Output {
    crate::iamsim_command().args(args).output().unwrap()
}

fn iamsim_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = crate::iamsim_command()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    child.wait_with_output().unwrap()
}

/// `eval` of the corpus EKS requests against the EKS bundle on `threads` workers.
fn eval_eks(threads: &str) -> Output {
    iamsim(&[
        "eval",
        "--bundle",
        "corpus/eks/bundle.json",
        "--requests",
        "corpus/eks/requests.jsonl",
        "--threads",
        threads,
    ])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn simulate_json_follows_the_contract() {
    let o = iamsim(&[
        "simulate",
        "--identity-policy",
        "corpus/policies/eks-node-cni.json",
        "--action",
        "ec2:CreateTags",
        "--action",
        "ec2:RunInstances",
        "--resource",
        "arn:aws:ec2:us-west-2:123456789012:network-interface/eni-1",
        "--resource",
        "arn:aws:ec2:us-west-2:123456789012:volume/vol-1",
        "--format",
        "json",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let results = v["results"].as_array().unwrap();
    assert_eq!(results.len(), 4, "one result per (action, resource) pair");
    let first = &results[0];
    assert_eq!(first["action"], "ec2:CreateTags");
    assert_eq!(first["resource"], "arn:aws:ec2:us-west-2:123456789012:network-interface/eni-1");
    assert_eq!(first["decision"], "allowed");
    let m = &first["matched_statements"][0];
    assert_eq!(m["policy_type"], "identity");
    assert_eq!(m["policy"], "corpus/policies/eks-node-cni.json");
    assert_eq!(m["statement_index"], 1);
    assert_eq!(m["sid"], "TagOnlyNetworkInterfaces");
    assert_eq!(m["effect"], "Allow");
    assert!(first["missing_context_keys"].as_array().unwrap().is_empty());
    assert_eq!(results[1]["decision"], "implicitDeny", "CreateTags on a volume");
    assert_eq!(results[2]["decision"], "implicitDeny");
    assert!(results[1]["matched_statements"].as_array().unwrap().is_empty());
}

#[test]
fn simulate_reports_missing_context_keys_and_uses_context() {
    let base = [
        "simulate",
        "--identity-policy",
        "corpus/policies/eks-ebs-csi.json",
        "--action",
        "ec2:DeleteVolume",
        "--resource",
        "arn:aws:ec2:us-west-2:123456789012:volume/vol-1",
        "--format",
        "json",
    ];
    let o = iamsim(&base);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["results"][0]["decision"], "implicitDeny");
    assert_eq!(v["results"][0]["missing_context_keys"], serde_json::json!(["ec2:ResourceTag/ebs.csi.aws.com/cluster"]));
    let mut with_ctx = base.to_vec();
    with_ctx.extend(["--context", r#"{"ec2:ResourceTag/ebs.csi.aws.com/cluster":"true"}"#]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&iamsim(&with_ctx))).unwrap();
    assert_eq!(v["results"][0]["decision"], "allowed");
}

#[test]
fn simulate_layers_scp_boundary_and_resource_policy() {
    let o = iamsim(&[
        "simulate",
        "--principal",
        "arn:aws:sts::111122223333:assumed-role/eks-node-role/i-1",
        "--identity-policy",
        "corpus/policies/eks-node-cni.json",
        "--permissions-boundary",
        "corpus/policies/eks-node-boundary.json",
        "--resource-policy",
        "corpus/policies/bucket-eks-artifacts.json",
        "--scp",
        "corpus/policies/scp-full-access.json",
        "--scp",
        "corpus/policies/scp-region-guardrail.json",
        "--action",
        "s3:GetObject",
        "--action",
        "ec2:CreateNetworkInterface",
        "--action",
        "iam:PassRole",
        "--resource",
        "arn:aws:s3:::eks-artifacts/bin/kubelet",
        "--context",
        r#"{"aws:RequestedRegion":"ap-south-1","aws:SecureTransport":true}"#,
        "--format",
        "text",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("DECISION"), "{text}");
    // ap-south-1 is outside the SCP's approved regions: every non-global action is denied there.
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert!(lines[1].starts_with("s3:GetObject") && lines[1].ends_with("explicitDeny"), "{text}");
    assert!(text.contains("matched: Deny scp level 1 corpus/policies/scp-region-guardrail.json statement 1 (DenyOutsideApprovedRegions)"), "{text}");
    assert!(
        lines[3].starts_with("iam:PassRole") && lines[3].ends_with("explicitDeny"),
        "boundary denies iam:*: {text}"
    );
}

#[test]
fn eval_main_job_gives_the_expected_decisions_on_any_thread_count() {
    let expected: Vec<String> = std::fs::read_to_string(crate::root().join("corpus/eks/expected.txt"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let o = eval_eks(threads);
        assert!(o.status.success(), "{}", stderr(&o));
        let decisions: Vec<String> = stdout(&o)
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["decision"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(decisions, expected, "threads={threads}");
        outputs.push(stdout(&o));
    }
    assert_eq!(outputs[0], outputs[1], "output is identical and in input order whatever the thread count");
}

#[test]
fn eval_reads_stdin_and_keeps_bad_lines_in_place() {
    let input = b"{\"principal\":\"arn:aws:iam::111122223333:user/a\",\"action\":\"ec2:CreateNetworkInterface\",\"resource\":\"*\",\"context\":{\"aws:RequestedRegion\":\"us-west-2\"}}\n\
                  not json\n\
                  \n\
                  {\"principal\":\"bob\",\"action\":\"s3:GetObject\",\"resource\":\"*\"}\n\
                  {\"principal\":\"arn:aws:iam::111122223333:user/a\",\"action\":\"ec2:RunInstances\",\"resource\":\"*\",\"extra\":1}\n\
                  {\"principal\":\"arn:aws:iam::111122223333:user/a\",\"action\":\"ec2:RunInstances\",\"resource\":\"*\",\"context\":{\"aws:RequestedRegion\":\"us-west-2\"}}\n\
                  {\"principal\":\"arn:aws:iam::111122223333:user/a\",\"action\":\"ec2:RunInstances\",\"resource\":\"*\",\"context\":{\"aws:RequestedRegion\":\"us-west-2\",\"aws:RequestedRegion\":\"eu-west-1\"}}\n";
    let o = iamsim_stdin(&["eval", "--bundle", "corpus/eks/bundle.json", "--requests", "-"], input);
    assert_eq!(o.status.code(), Some(1), "malformed lines make the exit code 1");
    let lines: Vec<serde_json::Value> = stdout(&o).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 6, "one output line per non-blank input line");
    assert_eq!(lines[0]["decision"], "allowed");
    assert_eq!(lines[1]["line"], 2);
    assert!(lines[1]["error"].as_str().unwrap().contains("invalid request"));
    assert_eq!(lines[2]["line"], 4);
    assert!(lines[2]["error"].as_str().unwrap().contains("principal"));
    assert!(lines[3]["error"].as_str().unwrap().contains("unknown field `extra`"));
    assert_eq!(lines[4]["decision"], "implicitDeny");
    // A key given twice is refused, not read as either value.
    assert!(
        lines[5]["error"].as_str().unwrap().contains("context key `aws:RequestedRegion` given twice"),
        "{}",
        lines[5]
    );
    assert!(stderr(&o).contains("4 of 6 request lines were malformed"), "{}", stderr(&o));
}

/// Writes `content` to a file `name` in `dir` and returns its path.
fn write_file(dir: &tempfile::TempDir, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, content).unwrap();
    p
}

#[test]
fn bad_policies_get_located_errors_and_exit_1() {
    let cases: Vec<(&str, &[u8], &str)> = vec![
        ("syntax.json", b"{\"Version\":\"2012-10-17\",\n\"Statement\":[{\"Effect\":\"Allow\",}]}", "syntax.json:2:32: invalid JSON: expected a string key"),
        ("operator.json", br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLikee":{"a":"b"}}}]}"#, "at Statement[0].Condition.StringLikee: unknown condition operator `StringLikee` (did you mean `StringLike`?)"),
        ("dup.json", b"{\"Statement\":{\"Effect\":\"Allow\",\"Effect\":\"Deny\",\"Action\":\"*\",\"Resource\":\"*\"}}", "duplicate key `Effect`"),
        ("empty.json", b"  \n", "file is empty"),
        ("truncated.json", br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Act"#, "unterminated string"),
        ("binary.json", b"{\"Statement\":\"\xff\xfe\"}", "not valid UTF-8"),
        ("cidr.json", br#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NotIpAddress":{"aws:SourceIp":"10.0.0.0/33"}}}}"#, "at Statement.Condition.NotIpAddress.aws:SourceIp: `10.0.0.0/33` is not an IP address or CIDR"),
        ("date.json", br#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"DateLessThan":{"aws:CurrentTime":["2024-01-01","tomorrow"]}}}}"#, "aws:CurrentTime[1]: `tomorrow` is not a date"),
        ("number.json", br#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"NumericLessThan":{"s3:max-keys":"ten"}}}}"#, "is not a number"),
        ("base64.json", br#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"BinaryEquals":{"k":"***"}}}}"#, "is not base64"),
        ("qualifier.json", br#"{"Statement":{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"ForEveryValue:StringLike":{"k":"v"}}}}"#, "unknown set qualifier `ForEveryValue`"),
        ("types.json", br#"{"Statement":{"Effect":"Allow","Action":{"a":1},"Resource":"*"}}"#, "at Statement.Action: expected a string or an array of strings, found an object"),
    ];
    let scratch = crate::scratch_dir();
    for (name, content, want) in cases {
        let p = write_file(&scratch, name, content);
        let o = iamsim(&["simulate", "--identity-policy", p.to_str().unwrap(), "--action", "s3:GetObject"]);
        assert_eq!(o.status.code(), Some(1), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{name}: stderr `{}` lacks `{want}`", stderr(&o));
        assert!(stderr(&o).contains(name), "{name}: error must name the file: {}", stderr(&o));
    }
}

#[test]
fn bad_arguments_exit_1_without_panicking() {
    let dir = std::env::temp_dir();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["simulate", "--identity-policy", "no/such/file.json", "--action", "s3:GetObject"],
            "no/such/file.json: cannot read",
        ),
        (vec!["simulate", "--identity-policy", dir.to_str().unwrap(), "--action", "s3:GetObject"], "is a directory"),
        (vec!["simulate", "--action", "s3:GetObject", "--principal", "bob"], "--principal: `bob` is not a principal"),
        (vec!["simulate", "--action", "s3:GetObject", "--context", "{\"k\":"], "--context: invalid JSON"),
        (vec!["simulate", "--action", "s3:GetObject", "--context", "[1]"], "context must be a JSON object"),
        (
            vec![
                "simulate",
                "--action",
                "s3:GetObject",
                "--context",
                "{\"aws:SourceIp\":\"a\",\"AWS:SourceIP\":\"b\"}",
            ],
            "--context: context key `AWS:SourceIP` given twice",
        ),
        (vec!["simulate", "--action", "GetObject"], "not of the form service:ActionName"),
        (vec!["simulate", "--action", "s3:GetObject", "--resource-account", "12"], "not a 12-digit account id"),
        (
            vec!["eval", "--bundle", "corpus/eks/bundle.json", "--requests", "no/such.jsonl"],
            "no/such.jsonl: cannot read",
        ),
        (
            vec!["eval", "--bundle", "corpus/eks/requests.jsonl", "--requests", "-"],
            "corpus/eks/requests.jsonl:2:1: invalid JSON: unexpected content after the JSON value",
        ),
    ];
    for (args, want) in cases {
        let o = iamsim(&args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(want), "{args:?}: stderr `{}` lacks `{want}`", stderr(&o));
    }
    let scratch = crate::scratch_dir();
    let bundle = write_file(&scratch, "bundle.json", br#"{"identity":[{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}],"scps":[[{"Statement":{"Effect":"Allow","Action":"*"}}]]}"#);
    let o = iamsim(&["eval", "--bundle", bundle.to_str().unwrap(), "--requests", "-"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("bundle.json:scps[0][0]:1:98: at Statement: missing `Resource` or `NotResource`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bench_json_has_the_fields_scripts_rely_on() {
    let o = iamsim(&[
        "bench",
        "--bundle",
        "corpus/eks/bundle.json",
        "--requests",
        "300",
        "--threads",
        "2",
        "--min-seconds",
        "0.05",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["requests"], 300);
    assert_eq!(v["mismatches"], 0);
    let d = &v["decisions"];
    let kinds = ["allowed", "explicitDeny", "implicitDeny"].map(|k| d[k].as_u64().unwrap());
    assert!(kinds.iter().all(|&n| n > 0), "the generated mix yields all three decisions: {d}");
    assert_eq!(kinds.iter().sum::<u64>() + d["indeterminate"].as_u64().unwrap(), 300);
    for field in ["compile_ms", "compiled_per_sec", "reference_per_sec", "ratio", "parse_per_sec", "ns_per_decision"] {
        assert!(v[field].as_f64().is_some_and(|x| x > 0.0), "{field}: {}", v[field]);
    }
    assert!(v["compiled_bytes"].as_u64().is_some_and(|b| b > 0), "{}", v["compiled_bytes"]);
    let threads: Vec<u64> = v["scaling"].as_array().unwrap().iter().map(|s| s["threads"].as_u64().unwrap()).collect();
    assert_eq!(threads, [1, 2]);
    // The fastest pass is never slower than the mean over all passes.
    let at_least_mean = |best: &serde_json::Value, mean: &serde_json::Value| {
        let (b, m) = (best.as_f64().unwrap(), mean.as_f64().unwrap());
        m > 0.0 && b >= m
    };
    // 0.05 s of 300-request passes: several of them.
    assert!(v["passes"].as_u64().is_some_and(|n| n >= 2), "{}", v["passes"]);
    assert!(at_least_mean(&v["compiled_best_per_sec"], &v["compiled_per_sec"]), "{v}");
    assert!(v["scaling"].as_array().unwrap().iter().all(|s| at_least_mean(&s["best_per_sec"], &s["per_sec"])), "{v}");
    // The text form names the same figures.
    let o = iamsim(&[
        "bench",
        "--bundle",
        "corpus/eks/bundle.json",
        "--requests",
        "50",
        "--threads",
        "1",
        "--min-seconds",
        "0",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for label in ["compile", "compiled", "fastest of", "reference", "ratio", "parse", "threads 1", "mismatches      0"]
    {
        assert!(stdout(&o).contains(label), "{label} missing from:\n{}", stdout(&o));
    }
}

/// A full disk is a reported error (exit 1, the reason on stderr), never a
/// panic, for every command that writes to stdout.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_error_not_a_panic() {
    let commands: [&[&str]; 5] = [
        &[
            "replay",
            "--max-malformed",
            "100",
            "--cloudtrail",
            "corpus/replay/cloudtrail",
            "--authorization-details",
            "corpus/replay/authorization-details.json",
        ],
        &["bench", "--bundle", "corpus/eks/bundle.json", "--requests", "50", "--threads", "1", "--min-seconds", "0.01"],
        &["simulate", "--identity-policy", "corpus/policies/eks-node-cni.json", "--action", "ec2:CreateTags"],
        &["eval", "--bundle", "corpus/eks/bundle.json", "--requests", "corpus/eks/requests.jsonl"],
        &["catalog", "info", "--catalog", "corpus/catalog/service-reference"],
    ];
    for args in commands {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let o = crate::iamsim_command().args(args).stdout(full).output().unwrap();
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains("No space left on device") && !err.contains("panicked"), "{args:?}: {err}");
    }
}

/// `--threads` is at least 1 and at most a sane multiple of the cores: a
/// typo does not spawn a hundred thousand threads.
#[test]
fn thread_counts_are_bounded() {
    let (one, many) = (eval_eks("1"), eval_eks("100000"));
    assert_eq!(many.status.code(), Some(0), "{}", stderr(&many));
    assert!(stderr(&many).contains("warning: --threads 100000: using"), "{}", stderr(&many));
    assert_eq!(stdout(&many), stdout(&one));
    let zero = eval_eks("0");
    assert_eq!(zero.status.code(), Some(1));
    assert!(stderr(&zero).contains("--threads: expected at least 1"), "{}", stderr(&zero));
}

/// An `Action`/`NotAction` entry that matches no action (a missing colon,
/// a space, a full-width colon, a comma) is accepted, as policy stores
/// accept it, and every command warns where it is and what it means.
#[test]
fn dead_action_entries_are_warned_about_everywhere() {
    let scratch = crate::scratch_dir();
    let doc = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
        {"Effect":"Deny","Action":["s3DeleteBucket","s3：DeleteObject","s3:GetObject,PutObject"],"Resource":"*"},
        {"Effect":"Deny","NotAction":" iam:*","Resource":"*"}]}"#;
    let policy = write_file(&scratch, "dead.json", doc.as_bytes());
    let bundle = write_file(&scratch, "bundle.json", format!(r#"{{"identity":[{doc}]}}"#).as_bytes());
    let requests = write_file(
        &scratch,
        "r.jsonl",
        br#"{"principal":"arn:aws:iam::111122223333:user/a","action":"s3:DeleteBucket","resource":"*"}"#,
    );
    let p = policy.to_str().unwrap();
    let runs = [
        iamsim(&["simulate", "--identity-policy", p, "--action", "s3:DeleteBucket"]),
        iamsim(&["eval", "--bundle", bundle.to_str().unwrap(), "--requests", requests.to_str().unwrap()]),
        iamsim(&[
            "bench",
            "--bundle",
            bundle.to_str().unwrap(),
            "--requests",
            "20",
            "--threads",
            "1",
            "--min-seconds",
            "0.01",
        ]),
    ];
    for o in &runs {
        let err = stderr(o);
        assert_eq!(o.status.code(), Some(0), "{err}");
        for at in
            ["Statement[1].Action[0]", "Statement[1].Action[1]", "Statement[1].Action[2]", "Statement[2].NotAction[0]"]
        {
            assert!(err.contains("iamsim: warning:") && err.contains(at), "{at} not warned about: {err}");
        }
        assert!(err.contains("this Deny never applies to it") && err.contains("excludes nothing"), "{err}");
        assert!(err.contains("(that colon is not `:`)"), "{err}");
    }
    // They still decide as the semantics say: the dead Deny entries deny nothing.
    assert!(
        stdout(&runs[0]).contains("explicitDeny"),
        "the NotAction Deny (excluding nothing) applies: {}",
        stdout(&runs[0])
    );
}

/// `simulate --authorization-details … --principal ARN` (as `aws iam
/// simulate-principal-policy` does) decides exactly as listing the same
/// principal's policies by hand: inline, attached and group policies as
/// identity policies, the boundary, and the user's tags as principal tags.
#[test]
fn simulate_from_authorization_details_equals_the_policies_by_hand() {
    let details_path = "corpus/replay/authorization-details.json";
    let details: serde_json::Value = serde_json::from_slice(&std::fs::read(details_path).unwrap()).unwrap();
    let managed = |arn: &str| -> serde_json::Value {
        let p = details["Policies"].as_array().unwrap().iter().find(|p| p["Arn"] == arn).unwrap();
        let v = p["PolicyVersionList"].as_array().unwrap().iter().find(|v| v["IsDefaultVersion"] == true).unwrap();
        v["Document"].clone()
    };
    let attached = |entity: &serde_json::Value| -> Vec<serde_json::Value> {
        entity["AttachedManagedPolicies"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|a| managed(a["PolicyArn"].as_str().unwrap()))
            .collect()
    };
    let scratch = tempfile::tempdir().unwrap();
    let actions = [
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "ec2:CreateNetworkInterface",
        "ec2:RunInstances",
        "iam:ListUsers",
        "kms:Decrypt",
    ];
    let decisions = |args: &[String]| -> Vec<String> {
        let mut all: Vec<String> = vec!["simulate".into(), "--format".into(), "json".into()];
        for a in actions {
            all.extend(["--action".to_string(), a.to_string()]);
        }
        all.extend(["--resource".into(), "*".into(), "--resource".into(), "arn:aws:s3:::data/a.csv".into()]);
        all.extend_from_slice(args);
        let o = iamsim(&all.iter().map(String::as_str).collect::<Vec<_>>());
        assert!(o.status.success(), "{}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| format!("{} {} {}", r["action"], r["resource"], r["decision"]))
            .collect()
    };
    let principals =
        [("UserDetailList", "alice", "UserPolicyList"), ("RoleDetailList", "eks-node-role", "RolePolicyList")];
    let mut compared = 0;
    for (list, name, inline) in principals {
        let entity =
            details[list].as_array().unwrap().iter().find(|e| e["UserName"] == name || e["RoleName"] == name).unwrap();
        let arn = entity["Arn"].as_str().unwrap();
        let mut docs: Vec<serde_json::Value> =
            entity[inline].as_array().into_iter().flatten().map(|p| p["PolicyDocument"].clone()).collect();
        docs.extend(attached(entity));
        for group in entity["GroupList"].as_array().into_iter().flatten() {
            let g = details["GroupDetailList"].as_array().unwrap().iter().find(|g| g["GroupName"] == *group).unwrap();
            docs.extend(g["GroupPolicyList"].as_array().into_iter().flatten().map(|p| p["PolicyDocument"].clone()));
            docs.extend(attached(g));
        }
        let mut by_hand: Vec<String> = vec!["--principal".into(), arn.into()];
        for (i, doc) in docs.iter().enumerate() {
            let f = scratch.path().join(format!("{name}-{i}.json"));
            std::fs::write(&f, doc.to_string()).unwrap();
            by_hand.extend(["--identity-policy".to_string(), f.display().to_string()]);
        }
        if let Some(b) = entity["PermissionsBoundary"]["PermissionsBoundaryArn"].as_str() {
            let f = scratch.path().join(format!("{name}-boundary.json"));
            std::fs::write(&f, managed(b).to_string()).unwrap();
            by_hand.extend(["--permissions-boundary".to_string(), f.display().to_string()]);
        }
        let tags: serde_json::Map<String, serde_json::Value> = entity["Tags"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|t| (format!("aws:PrincipalTag/{}", t["Key"].as_str().unwrap()), t["Value"].clone()))
            .collect();
        if !tags.is_empty() {
            by_hand.extend(["--context".to_string(), serde_json::Value::Object(tags).to_string()]);
        }
        let from_details =
            decisions(&["--authorization-details".into(), details_path.into(), "--principal".into(), arn.into()]);
        assert_eq!(from_details, decisions(&by_hand), "{arn}");
        assert!(
            from_details.iter().any(|d| d.ends_with("\"allowed\""))
                && from_details.iter().any(|d| !d.ends_with("\"allowed\"")),
            "{from_details:?}"
        );
        compared += from_details.len();
    }
    assert_eq!(compared, 2 * 7 * 2);
    // A principal the details do not list is an error.
    let o = iamsim(&[
        "simulate",
        "--authorization-details",
        details_path,
        "--principal",
        "arn:aws:iam::111122223333:user/nobody",
        "--action",
        "s3:GetObject",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a user or role of the authorization details"), "{}", stderr(&o));
}

/// `--context-entries` in the AWS CLI's shorthand and JSON forms: values
/// are checked against their type, lists are multi-valued, and the entries
/// decide like the same `--context`.
#[test]
fn simulate_reads_aws_cli_context_entries() {
    let policy = "corpus/policies/eks-node-cni.json";
    let run = |extra: &[&str]| {
        let mut args = vec!["simulate", "--identity-policy", policy, "--action", "ec2:CreateTags", "--format", "aws"];
        args.extend_from_slice(extra);
        iamsim(&args)
    };
    let bad = run(&["--context-entries", "ContextKeyName=aws:SourceIp,ContextKeyValues=10.1.2,ContextKeyType=ip"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("aws:SourceIp: `10.1.2` is not an IP address"), "{}", stderr(&bad));
    // --context too, typed by the catalog's keys.
    let catalog = "corpus/catalog/service-reference";
    let bad = run(&["--catalog", catalog, "--context", r#"{"aws:SourceIp":"10.1.2"}"#]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("--context: aws:SourceIp: `10.1.2` is not an IP address"), "{}", stderr(&bad));
    assert!(run(&["--catalog", catalog, "--context", r#"{"aws:SourceIp":"10.1.2.3"}"#]).status.success());
    for wrong in [
        "ContextKeyName=aws:MultiFactorAuthPresent,ContextKeyValues=yes,ContextKeyType=boolean",
        "ContextKeyName=aws:EpochTime,ContextKeyValues=soon,ContextKeyType=numeric",
        "ContextKeyName=aws:TagKeys,ContextKeyValues=a,b,ContextKeyType=string",
        "ContextKeyName=k,ContextKeyValues=a,ContextKeyType=colour",
        "ContextKeyValues=a",
    ] {
        assert_eq!(run(&["--context-entries", wrong]).status.code(), Some(1), "{wrong}");
    }
    let shorthand = run(&[
        "--context-entries",
        "ContextKeyName=aws:SourceIp,ContextKeyValues=203.0.113.9,ContextKeyType=ip",
        "ContextKeyName=aws:TagKeys,ContextKeyValues=[kubernetes.io/cluster/a,Name],ContextKeyType=stringList",
    ]);
    let json = run(&[
        "--context-entries",
        r#"[{"ContextKeyName":"aws:SourceIp","ContextKeyValues":["203.0.113.9"],"ContextKeyType":"ip"},
            {"ContextKeyName":"aws:TagKeys","ContextKeyValues":["kubernetes.io/cluster/a","Name"],"ContextKeyType":"stringList"}]"#,
    ]);
    let plain =
        run(&["--context", r#"{"aws:SourceIp":"203.0.113.9","aws:TagKeys":["kubernetes.io/cluster/a","Name"]}"#]);
    assert!(shorthand.status.success(), "{}", stderr(&shorthand));
    assert_eq!(stdout(&shorthand), stdout(&json));
    let spelt_as_aws = iamsim(&[
        "simulate",
        "--identity-policy",
        policy,
        "--action",
        "ec2:CreateTags",
        "--output",
        "aws",
        "--context-entries",
        "ContextKeyName=aws:SourceIp,ContextKeyValues=203.0.113.9,ContextKeyType=ip",
        "ContextKeyName=aws:TagKeys,ContextKeyValues=[kubernetes.io/cluster/a,Name],ContextKeyType=stringList",
    ]);
    assert_eq!(stdout(&spelt_as_aws), stdout(&shorthand));
    assert_eq!(stdout(&shorthand), stdout(&plain));
    let v: serde_json::Value = serde_json::from_slice(&shorthand.stdout).unwrap();
    let r = &v["EvaluationResults"][0];
    assert_eq!(r["EvalActionName"], "ec2:CreateTags");
    assert!(
        r["EvalDecision"].is_string() && r["MatchedStatements"].is_array() && r["MissingContextValues"].is_array(),
        "{r}"
    );
}

/// Shell completions (bash's parses with `bash -n`) and the man page come
/// from the same command definitions: every subcommand is in them.
#[test]
fn completions_and_man_page_cover_every_subcommand() {
    let subcommands = ["simulate", "eval", "replay", "validate", "diff", "generate", "expand", "catalog"];
    for shell in ["bash", "zsh", "fish"] {
        let o = iamsim(&["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", stderr(&o));
        let script = stdout(&o);
        for s in subcommands {
            assert!(script.contains(s), "{shell} completions lack {s}");
        }
        if shell == "bash" {
            let path = std::env::temp_dir().join(format!("iamsim-completion-{}.bash", std::process::id()));
            std::fs::write(&path, &script).unwrap();
            let check = std::process::Command::new("bash").arg("-n").arg(&path).output().unwrap();
            let _ = std::fs::remove_file(&path);
            assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
        }
    }
    let man = stdout(&iamsim(&["man"]));
    assert!(man.contains(".TH iamsim 1"), "{}", &man[..man.len().min(200)]);
    for s in subcommands {
        assert!(man.contains(s), "the man page lacks {s}");
    }
    assert_eq!(iamsim(&["completions", "tcsh"]).status.code(), Some(2), "an unknown shell is a usage error");
}

/// Every subcommand's `--help` ends with a worked example, and the
/// one-line examples run as written from the repository's root (exit 0, or
/// 3 where the example asks a check that flags).
#[test]
fn every_help_has_a_worked_example_that_runs() {
    let subcommands = [
        "simulate",
        "eval",
        "replay",
        "bench",
        "gen-requests",
        "gen-cloudtrail",
        "catalog",
        "expand",
        "validate",
        "diff",
        "generate",
    ];
    for sub in subcommands {
        let help = stdout(&iamsim(&[sub, "--help"]));
        let (_, example) =
            help.split_once("Example (from the repository's root):").unwrap_or_else(|| panic!("{sub}: no example"));
        let lines: Vec<&str> = example.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        assert!(lines.iter().all(|l| l.starts_with("iamsim ")), "{sub}: {lines:?}");
        assert!(lines[0].starts_with(&format!("iamsim {sub}")) || lines.len() > 1, "{sub}: {lines:?}");
        if let [one] = lines[..] {
            let args: Vec<&str> = one.split_whitespace().skip(1).collect();
            let o = iamsim(&args);
            assert!(matches!(o.status.code(), Some(0 | 3)), "{one}: {}", stderr(&o));
        }
    }
}

/// `simulate --session-token`: an IAM user's GetSessionToken credentials
/// call IAM only with MFA (engine::eval::CREDENTIAL_RULES), and the reason
/// names the rule and its page.
#[test]
fn simulate_knows_what_session_token_credentials_may_call() {
    let dir = tempfile::tempdir().unwrap();
    let policy = write_file(
        &dir,
        "all.json",
        br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "simulate",
            "--format",
            "json",
            "--principal",
            "arn:aws:iam::111122223333:user/a",
            "--action",
            "iam:ListUsers",
        ];
        let p = policy.to_str().unwrap();
        args.extend(["--identity-policy", p]);
        args.extend_from_slice(extra);
        let o = iamsim(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["results"][0].clone()
    };
    assert_eq!(run(&[])["decision"], "allowed");
    let refused = run(&["--session-token"]);
    assert_eq!(refused["decision"], "implicitDeny");
    assert!(refused["reason"].as_str().unwrap().contains("API_GetSessionToken.html"), "{refused}");
    assert_eq!(
        run(&["--session-token", "--context", r#"{"aws:MultiFactorAuthPresent":"true"}"#])["decision"],
        "allowed"
    );
}
