//! Access queries (`who-can`, `principal-can`, `can-access`): the corpus
//! account's answers pinned (hand-checked, `corpus/access/expected/`), bad
//! input named, the sweep equal to one fresh decision per request (the
//! engine as `simulate` uses it, and the reference evaluator), and an account
//! built from the AWS managed policies.

use iamsim::audit::access::sweep::{PrincipalCan, SweepFilter};
use iamsim::audit::access::{Access, AccessInputs, AccountModel};
use iamsim::audit::catalog::{ActionId, Catalog};
use iamsim::audit::inventory::Inventory;
use iamsim::engine::eval::{reference_decide, DecisionKind, Scratch};
use iamsim::engine::policy::{parse_policy, PolicyKind};
use iamsim::CompiledPolicySet;
use proptest::prelude::*;
use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

fn iamsim(args: &[&str]) -> Output {
    crate::iamsim_command().args(args).output().unwrap()
}

const DETAILS: &str = "corpus/access/authorization-details.json";
const SCP: &str = "corpus/access/scp.json";
const RESOURCE_POLICIES: &str = "corpus/access/resource-policies.json";
const CATALOG: &str = "corpus/catalog/service-reference";

/// Each pinned answer: its file under `corpus/access/expected/` and the
/// command that writes it (run from the repository root).
fn pinned() -> Vec<(&'static str, Vec<&'static str>)> {
    let account = ["--authorization-details", DETAILS, "--scp", SCP];
    let with = |head: &[&'static str], tail: &[&'static str]| -> Vec<&'static str> {
        head.iter().chain(&account).chain(tail).copied().collect()
    };
    let tls = ["--context", r#"{"aws:SecureTransport": true}"#];
    vec![
        (
            "who-can-get-objects.txt",
            with(
                &["who-can", "s3:GetObject", "arn:aws:s3:::example-data/*"],
                &[&["--resource-policies", RESOURCE_POLICIES][..], &tls].concat(),
            ),
        ),
        (
            "who-can-put-logs.txt",
            with(
                &["who-can", "s3:Put*", "arn:aws:s3:::example-data/AWSLogs/111122223333/x.json.gz"],
                &["--resource-policies", RESOURCE_POLICIES, "--catalog", CATALOG],
            ),
        ),
        (
            "principal-can-alice.txt",
            with(&["principal-can", "arn:aws:iam::111122223333:user/dev/alice"], &["--catalog", CATALOG]),
        ),
        (
            "principal-can-app.txt",
            with(&["principal-can", "arn:aws:iam::111122223333:role/app"], &["--catalog", CATALOG]),
        ),
        (
            "principal-can-carol-s3.txt",
            with(
                &["principal-can", "arn:aws:iam::111122223333:user/carol"],
                &["--catalog", CATALOG, "--service", "s3"],
            ),
        ),
        (
            "can-access-app.txt",
            with(
                &[
                    "can-access",
                    "--from",
                    "arn:aws:iam::111122223333:role/app",
                    "--to",
                    "arn:aws:s3:::example-data/app/q1.csv",
                ],
                &[&["--resource-policies", RESOURCE_POLICIES, "--catalog", CATALOG, "--all"][..], &tls].concat(),
            ),
        ),
    ]
}

#[test]
fn corpus_answers_are_pinned() {
    for (file, args) in pinned() {
        let out = iamsim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{file}: {args:?}\n{stderr}");
        let want = std::fs::read_to_string(crate::root().join("corpus/access/expected").join(file)).unwrap();
        let got = String::from_utf8(out.stdout).unwrap();
        assert_eq!(got, want, "{file}: `iamsim {}` no longer prints what was checked by hand", args.join(" "));
    }
}

#[test]
fn who_can_json_carries_the_answers_and_what_they_rest_on() {
    let out = iamsim(&[
        "who-can",
        "s3:GetObject",
        "arn:aws:s3:::example-data/*",
        "--authorization-details",
        DETAILS,
        "--scp",
        SCP,
        "--resource-policies",
        RESOURCE_POLICIES,
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["principals"], 7);
    let answers = v["answers"].as_array().unwrap();
    // Without --context, aws:SecureTransport is unknown and the bucket's TLS
    // Deny may apply: every answer is conditional on it, none a plain yes.
    assert_eq!(answers.len(), 5);
    for a in answers {
        assert_eq!(a["access"], "conditional", "{a}");
        assert_eq!(a["decision"], "indeterminate", "{a}");
        assert_eq!(a["depends_on"], serde_json::json!(["aws:SecureTransport"]), "{a}");
        assert!(a["conditions"][0].as_str().unwrap().ends_with("Bool aws:SecureTransport [false]"), "{a}");
    }
    let partner = answers.iter().find(|a| a["principal_type"] == "external").unwrap();
    assert_eq!(partner["principal"], "arn:aws:iam::444455556666:role/partner-reader");
    assert_eq!(partner["resource"], "arn:aws:s3:::example-data/shared/*");
    let carol = answers.iter().find(|a| a["principal"] == "arn:aws:iam::111122223333:user/carol").unwrap();
    assert_eq!(carol["except"][0].as_str().unwrap().split(' ').next(), Some("arn:aws:s3:::example-data/secret/*"));
}

#[test]
fn bad_input_is_named() {
    let account = ["--authorization-details", DETAILS];
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["principal-can", "arn:aws:iam::111122223333:user/nobody", "--catalog", CATALOG],
            "arn:aws:iam::111122223333:user/nobody: not a user or role of the authorization details",
        ),
        (vec!["principal-can", "arn:aws:iam::111122223333:user/bob"], "principal-can lists the catalog's actions"),
        (vec!["who-can", "s3:Get*", "arn:aws:s3:::example-data/x"], "a wildcard action is expanded with the catalog"),
        (vec!["who-can", "s3GetObject", "*"], "`s3GetObject`: expected an action as service:ActionName"),
        (
            vec!["who-can", "s3:PutBucket*", "arn:aws:s3:::example-data/k", "--catalog", CATALOG],
            "none of the catalog's actions it matches acts on arn:aws:s3:::example-data/k",
        ),
        (
            vec![
                "can-access",
                "--from",
                "arn:aws:iam::111122223333:user/bob",
                "--to",
                "example-data",
                "--catalog",
                CATALOG,
            ],
            "`example-data`: expected a resource ARN",
        ),
        (
            vec![
                "principal-can",
                "arn:aws:iam::111122223333:user/bob",
                "--catalog",
                CATALOG,
                "--access-level",
                "Reads",
            ],
            "--access-level `Reads`: expected List, Read, Write, Tagging",
        ),
        (
            vec!["principal-can", "arn:aws:iam::111122223333:user/bob", "--catalog", CATALOG, "--service", "s4"],
            "--service `s4`: not a service prefix of the catalog",
        ),
        (
            vec!["who-can", "s3:GetObject", "*", "--resource-account", "12345"],
            "--resource-account: `12345` is not a 12-digit account id",
        ),
        (vec!["who-can", "s3:GetObject", "*", "--context", "{\"a\":"], "--context:"),
    ];
    for (args, want) in cases {
        let args: Vec<&str> = args.iter().chain(&account).copied().collect();
        let out = iamsim(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: expected `{want}` in:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let missing = iamsim(&["who-can", "s3:GetObject", "*", "--authorization-details", "corpus/access/none.json"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("corpus/access/none.json: cannot read"));
}

/// The corpus account as the library reads it.
fn corpus_model() -> AccountModel {
    let mut inventory = Inventory::new();
    inventory.load(&std::fs::read(crate::root().join(DETAILS)).unwrap(), DETAILS, None).unwrap();
    let scp = parse_policy(&std::fs::read(crate::root().join(SCP)).unwrap(), SCP, PolicyKind::Scp).unwrap();
    AccountModel::build(&inventory, AccessInputs { scps: vec![vec![scp]], ..AccessInputs::default() }).unwrap()
}

/// `can`'s answer for `action` re-decided one request at a time: each
/// granted resource pattern by a fresh compile of the principal's policies
/// (what `simulate` does) and by the reference evaluator; an action not
/// granted is refused on each of its resource types' ARN formats and on `*`.
fn check_against_single_decisions(model: &AccountModel, catalog: &Catalog, can: &PrincipalCan, id: ActionId) {
    let principal = can.principal.as_str();
    let set = model.policy_set(principal).unwrap().clone();
    let fresh = CompiledPolicySet::compile(set.clone()).unwrap();
    let mut scratch = Scratch::new(&fresh);
    let action = catalog.action_name(id);
    let granted = can.services.iter().flat_map(|s| &s.actions).find(|a| a.action == action);
    match granted {
        Some(a) => {
            for g in &a.grants {
                let req = model.request_for(principal, &action, &g.resource, None).unwrap();
                let single = fresh.decide(&req, &mut scratch).kind;
                assert_eq!(single, g.ruling.decision, "{principal} {action} {}: sweep vs a fresh decision", g.resource);
                assert_eq!(
                    reference_decide(&set, &req).kind,
                    g.ruling.decision,
                    "{principal} {action} {}: vs the reference",
                    g.resource
                );
                assert!(g.ruling.access.may_allow());
            }
        }
        None => {
            let account = principal.split(':').nth(4).unwrap();
            let formats = catalog.resource_types_of(id).flat_map(|t| t.arn_formats.iter()).map(|f| {
                let f = f.replace("${Partition}", "aws").replace("${Account}", account);
                let mut out = String::new();
                let mut in_var = false;
                for c in f.chars() {
                    match c {
                        '$' => in_var = true,
                        '}' if in_var => {
                            in_var = false;
                            out.push('*');
                        }
                        _ if in_var => {}
                        c => out.push(c),
                    }
                }
                out
            });
            for resource in formats.chain(["*".to_string()]) {
                let req = model.request_for(principal, &action, &resource, None).unwrap();
                let single = fresh.decide(&req, &mut scratch).kind;
                assert!(
                    !matches!(single, DecisionKind::Allowed | DecisionKind::Indeterminate),
                    "{principal} {action} on {resource}: {single:?}, but the sweep lists no grant"
                );
            }
        }
    }
}

#[test]
fn the_sweep_equals_one_decision_per_request_on_the_corpus_account() {
    let catalog = Catalog::load(&crate::root().join(CATALOG)).unwrap();
    let model = corpus_model();
    let plan = model.sweep_plan(&catalog).unwrap();
    let principals: Vec<String> = model.principals().map(str::to_string).collect();
    assert_eq!(principals.len(), 5);
    for p in &principals {
        let can = model.principal_can(&plan, p, &SweepFilter::default()).unwrap();
        assert_eq!(can.actions_asked, catalog.action_count());
        for id in catalog.action_ids() {
            check_against_single_decisions(&model, &catalog, &can, id);
        }
    }
    // Bob has no policy: nothing allowed, nothing decided.
    let bob = model.principal_can(&plan, "arn:aws:iam::111122223333:user/bob", &SweepFilter::default()).unwrap();
    assert_eq!((bob.allowed_actions(), bob.decisions), (0, 0));
}

/// An account of 20 roles, each with 5 AWS managed policies and an inline
/// one, and the full catalog: built once for the tests that use it.
fn managed_account() -> Option<&'static (AccountModel, Catalog)> {
    static ACCOUNT: OnceLock<Option<(AccountModel, Catalog)>> = OnceLock::new();
    ACCOUNT
        .get_or_init(|| {
            let Some(data) = crate::shared_data() else {
                println!("SKIP: ../shared/data is absent; the managed-policy account needs it");
                return None;
            };
            let pool: Vec<_> = crate::json_files(&data.join("managed-policies"))
                .iter()
                .map(|p| {
                    let name = p.file_stem().unwrap().to_string_lossy();
                    parse_policy(&std::fs::read(p).unwrap(), &name, PolicyKind::Identity).unwrap()
                })
                .collect();
            let inventory = iamsim::audit::workload::account::account(&pool, 20, 5, 3);
            let catalog = Catalog::load(&data.join("iam-catalog")).unwrap();
            Some((AccountModel::build(&inventory, AccessInputs::default()).unwrap(), catalog))
        })
        .as_ref()
}

/// Each role's sweep over the whole catalog, computed once.
fn managed_sweeps() -> Option<&'static Vec<PrincipalCan>> {
    static SWEEPS: OnceLock<Option<Vec<PrincipalCan>>> = OnceLock::new();
    SWEEPS
        .get_or_init(|| {
            let (model, catalog) = managed_account()?;
            let plan = model.sweep_plan(catalog).unwrap();
            let all: Vec<String> = model.principals().map(str::to_string).collect();
            Some(all.iter().map(|p| model.principal_can(&plan, p, &SweepFilter::default()).unwrap()).collect())
        })
        .as_ref()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// A role and an action (half the time one the role is granted): the
    /// sweep's answer equals one decision per request.
    #[test]
    fn the_sweep_equals_one_decision_per_request_on_managed_policies(role in 0usize..20, pick in any::<prop::sample::Index>(), granted in any::<bool>()) {
        let (Some((model, catalog)), Some(sweeps)) = (managed_account(), managed_sweeps()) else { return Ok(()) };
        let can = &sweeps[role];
        let ids: Vec<ActionId> = catalog.action_ids().collect();
        let id = if granted && can.allowed_actions() > 0 {
            let names: Vec<&str> = can.services.iter().flat_map(|s| &s.actions).map(|a| a.action.as_str()).collect();
            let name: &str = pick.get::<&str>(&names);
            catalog.action(name).unwrap()
        } else {
            *pick.get(&ids)
        };
        check_against_single_decisions(model, catalog, can, id);
    }
}

#[test]
fn the_three_queries_answer_on_an_account_of_managed_policies() {
    let (Some((model, catalog)), Some(sweeps)) = (managed_account(), managed_sweeps()) else { return };
    // Every role's own bucket: the role itself may read it (its inline policy).
    let own = model.who_can(Some(catalog), "s3:GetObject", "arn:aws:s3:::team-0007/report.csv", None).unwrap();
    let role7 = "arn:aws:iam::111122223333:role/bench/role-0007";
    assert!(
        own.answers.iter().any(|a| a.principal == role7 && a.ruling.access == Access::Allowed),
        "{:?}",
        own.answers
    );
    assert_eq!(own.principals, 20);
    // The queue only with MFA: conditional, naming the key.
    let queue =
        model.who_can(Some(catalog), "sqs:SendMessage", "arn:aws:sqs:us-east-1:111122223333:queue-0007", None).unwrap();
    let mine = queue.answers.iter().find(|a| a.principal == role7).unwrap();
    assert!(mine.ruling.access.may_allow());
    // The inline Deny on bucket deletion is taken away from every role that a
    // managed policy would let delete buckets.
    for can in sweeps {
        assert_eq!(can.actions_asked, catalog.action_count());
        assert!(
            !can.services.iter().flat_map(|s| &s.actions).any(|a| a.action == "s3:DeleteBucket"),
            "{} may delete buckets",
            can.principal
        );
    }
    let access = model.can_access(catalog, role7, "arn:aws:s3:::team-0007/report.csv", None).unwrap();
    assert!(access.iter().any(|a| a.action == "s3:GetObject" && a.ruling.access == Access::Allowed));
    assert!(access.iter().all(|a| a.action.starts_with("s3:")));
}

#[test]
fn the_bench_scenario_runs_and_agrees_with_the_reference() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; the access bench needs the managed policies and the catalog");
        return;
    };
    let policies = data.join("managed-policies");
    let catalog = data.join("iam-catalog");
    let out = iamsim(&[
        "bench",
        "--policies",
        policies.to_str().unwrap(),
        "--access-roles",
        "10",
        "--catalog",
        catalog.to_str().unwrap(),
        "--threads",
        "2",
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["roles"], 10);
    assert_eq!(v["mismatches"], 0);
    assert!(v["reference_checked"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["pairs"].as_u64(), v["catalog_actions"].as_u64().map(|n| n * 10));
    assert!(Path::new(&catalog).is_dir());
}

/// The seed use case: the EKS node role (worker node, CNI and ECR read-only
/// policies) and the EBS CSI driver's role, their policies referenced as AWS
/// managed policies and read from `../shared/data`, asked through the CLI.
#[test]
fn the_eks_roles_answer_as_their_managed_policies_say() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; the EKS managed policies are read from it");
        return;
    };
    let dir = crate::scratch_dir();
    let details = dir.path().join("details.json");
    let attach = |names: &[&str]| -> Vec<serde_json::Value> {
        names
            .iter()
            .map(|n| serde_json::json!({"PolicyName": n, "PolicyArn": format!("arn:aws:iam::aws:policy/{n}")}))
            .collect()
    };
    let doc = serde_json::json!({"RoleDetailList": [
        {"RoleName": "eks-node", "Arn": "arn:aws:iam::111122223333:role/eks-node", "RolePolicyList": [],
         "AttachedManagedPolicies": attach(&["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy", "AmazonEC2ContainerRegistryReadOnly"])},
        {"RoleName": "ebs-csi", "Arn": "arn:aws:iam::111122223333:role/ebs-csi", "RolePolicyList": [],
         "AttachedManagedPolicies": attach(&["AmazonEBSCSIDriverPolicy"])}]});
    std::fs::write(&details, doc.to_string()).unwrap();
    let managed = data.join("managed-policies");
    let catalog = data.join("iam-catalog");
    let run = |args: &[&str]| -> serde_json::Value {
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "--authorization-details",
            details.to_str().unwrap(),
            "--managed-policies",
            managed.to_str().unwrap(),
            "--catalog",
            catalog.to_str().unwrap(),
            "--format",
            "json",
        ]);
        let out = iamsim(&all);
        assert!(out.status.success(), "{all:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let node = "arn:aws:iam::111122223333:role/eks-node";
    let csi = "arn:aws:iam::111122223333:role/ebs-csi";
    // `ec2:*NetworkInterface` on an ENI: the four actions that act on one,
    // allowed to the node role (the CNI policy, Resource "*"), to it alone.
    let eni = run(&["who-can", "ec2:*NetworkInterface", "arn:aws:ec2:us-west-2:111122223333:network-interface/eni-1"]);
    let actions: Vec<&str> = eni["actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert!(
        actions.contains(&"ec2:CreateNetworkInterface") && actions.contains(&"ec2:DeleteNetworkInterface"),
        "{actions:?}"
    );
    for a in eni["answers"].as_array().unwrap() {
        assert_eq!((a["principal"].as_str(), a["access"].as_str()), (Some(node), Some("allowed")), "{a}");
    }
    assert_eq!(eni["answers"].as_array().unwrap().len(), actions.len());
    // DeleteVolume: the CSI driver only on volumes it tagged.
    let delete = run(&["who-can", "ec2:DeleteVolume", "arn:aws:ec2:us-west-2:111122223333:volume/vol-1"]);
    let answers = delete["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!((answers[0]["principal"].as_str(), answers[0]["access"].as_str()), (Some(csi), Some("conditional")));
    let keys: Vec<&str> = answers[0]["depends_on"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(keys.contains(&"ec2:ResourceTag/ebs.csi.aws.com/cluster"), "{keys:?}");
    // principal-can: CreateVolume from a snapshot outright, a new volume only with the request tags.
    let can = run(&["principal-can", csi, "--service", "ec2", "--access-level", "Write"]);
    let create =
        can["services"][0]["actions"].as_array().unwrap().iter().find(|a| a["action"] == "ec2:CreateVolume").unwrap();
    let grant = |pattern: &str| create["grants"].as_array().unwrap().iter().find(|g| g["resource"] == pattern).cloned();
    assert_eq!(grant("arn:aws:ec2:*:*:snapshot/*").unwrap()["access"], "allowed");
    let volume = grant("arn:aws:ec2:*:*:volume/*").unwrap();
    assert_eq!(volume["access"], "conditional");
    assert!(volume["depends_on"].as_array().unwrap().iter().any(|k| k == "aws:RequestTag/ebs.csi.aws.com/cluster"));
    // can-access: the node role on an ENI, every action of EC2 that acts on one.
    let access =
        run(&["can-access", "--from", node, "--to", "arn:aws:ec2:us-west-2:111122223333:network-interface/eni-1"]);
    let allowed: Vec<&str> =
        access["answers"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert!(allowed.contains(&"ec2:AttachNetworkInterface") && !allowed.contains(&"ec2:RunInstances"), "{allowed:?}");
    assert!(access["actions_asked"].as_u64().unwrap() > allowed.len() as u64);
}

/// A name that holds `/` where another of its service's formats puts one
/// after it (a partner event bus, `event-bus/aws.partner/…`): the grants AWS
/// managed policies make on it are listed. Inferring "never holds a `/`"
/// from the formats once dropped them, and `principal-can` answered that
/// the role could do nothing.
#[test]
fn grants_on_names_with_slashes_are_listed() {
    let Some(data) = crate::shared_data() else {
        println!("SKIP: ../shared/data is absent; the managed policy and catalog are read from it");
        return;
    };
    let dir = crate::scratch_dir();
    let details = dir.path().join("details.json");
    let role = "arn:aws:iam::111122223333:role/odb";
    let doc = serde_json::json!({"RoleDetailList": [{"RoleName": "odb", "Arn": role, "RolePolicyList": [],
        "AttachedManagedPolicies": [{"PolicyName": "AmazonODBServiceRolePolicy",
            "PolicyArn": "arn:aws:iam::aws:policy/aws-service-role/AmazonODBServiceRolePolicy"}]}]});
    std::fs::write(&details, doc.to_string()).unwrap();
    let out = iamsim(&[
        "principal-can",
        role,
        "--service",
        "events",
        "--authorization-details",
        details.to_str().unwrap(),
        "--managed-policies",
        data.join("managed-policies").to_str().unwrap(),
        "--catalog",
        data.join("iam-catalog").to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let can: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let grants: Vec<(String, String)> = can["services"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap())
        .flat_map(|a| {
            let action = a["action"].as_str().unwrap().to_string();
            a["grants"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |g| (action.clone(), g["resource"].as_str().unwrap().to_string()))
        })
        .collect();
    for (action, resource) in [
        ("events:CreateEventBus", "arn:aws:events:*:*:event-bus/aws.partner/odb*"),
        ("events:ActivateEventSource", "arn:aws:events:*:*:event-source/aws.partner/odb*"),
    ] {
        assert!(grants.contains(&(action.to_string(), resource.to_string())), "{action} on {resource}: {grants:?}");
    }
}
