//! The AWS managed policies in `../shared/data/managed-policies`: every one must
//! parse and compile (singly and as one set), and the EKS policies must decide
//! as AWS does. Skips with a printed reason when the data is absent.

use iamsim::engine::eval::{reference_decide, DecisionKind, Scratch};
use iamsim::engine::policy::{parse_policy, Policy, PolicyKind, PolicySet};
use iamsim::engine::request::{Context, ContextValue, Principal, Request};
use iamsim::CompiledPolicySet;

fn managed_dir() -> Option<std::path::PathBuf> {
    match crate::shared_data() {
        Some(d) => Some(d.join("managed-policies")),
        None => {
            println!("SKIP: ../shared/data is absent; managed-policy tests need it");
            None
        }
    }
}

fn load(name: &str) -> Option<Policy> {
    let path = managed_dir()?.join(format!("{name}.json"));
    let bytes = std::fs::read(&path).unwrap();
    Some(parse_policy(&bytes, name, PolicyKind::Identity).unwrap_or_else(|e| panic!("{e}")))
}

#[test]
fn every_managed_policy_parses_and_compiles() {
    let Some(dir) = managed_dir() else { return };
    let mut policies = Vec::new();
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        match parse_policy(&bytes, &path.file_name().unwrap().to_string_lossy(), PolicyKind::Identity) {
            Ok(p) => {
                // Written back out, every AWS policy parses to the same model.
                let again = parse_policy(p.to_json().to_string().as_bytes(), &p.name, PolicyKind::Identity).unwrap();
                assert_eq!(again, p, "{} does not round-trip", p.name);
                policies.push(p)
            }
            Err(e) => failures.push(e.to_string()),
        }
    }
    assert!(failures.is_empty(), "{} managed policies failed to parse:\n{}", failures.len(), failures.join("\n"));
    assert!(policies.len() >= 1594, "expected all 1,594 managed policies, found {}", policies.len());
    let statements: usize = policies.iter().map(|p| p.statements.len()).sum();
    let set = CompiledPolicySet::compile(PolicySet { identity: policies, ..Default::default() }).unwrap();
    assert_eq!(set.statement_count(), statements);
    println!(
        "compiled {} managed policies, {statements} statements, {} action patterns",
        set.policy_set().identity.len(),
        set.action_pattern_count()
    );
}

struct Expect<'a> {
    action: &'a str,
    resource: &'a str,
    context: &'a [(&'a str, &'a str)],
    want: DecisionKind,
}

fn check(policies: &[&str], principal: &str, cases: &[Expect<'_>]) {
    let Some(loaded) = policies.iter().map(|n| load(n)).collect::<Option<Vec<_>>>() else { return };
    let set = PolicySet { identity: loaded, ..Default::default() };
    let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
    let mut scratch = Scratch::new(&compiled);
    for c in cases {
        let mut req = Request::new(Principal::parse(principal).unwrap(), c.action, c.resource);
        let mut ctx = Context::new();
        for (k, v) in c.context {
            ctx.insert(k, ContextValue::Single((*v).to_string()));
        }
        req.context = ctx;
        let got = compiled.decide(&req, &mut scratch);
        assert_eq!(got, reference_decide(&set, &req), "compiled != reference for {} {}", c.action, c.resource);
        assert_eq!(got.kind, c.want, "{policies:?}: {} on {} with {:?}", c.action, c.resource, c.context);
    }
}

const NODE: &str = "arn:aws:sts::111122223333:assumed-role/eks-node-role/i-0abc";
const ENI: &str = "arn:aws:ec2:us-west-2:111122223333:network-interface/eni-0123";

#[test]
fn eks_cni_policy() {
    use DecisionKind::*;
    let e = |action, resource, want| Expect { action, resource, context: &[], want };
    check(
        &["AmazonEKS_CNI_Policy"],
        NODE,
        &[
            e("ec2:CreateNetworkInterface", "*", Allowed),
            e("ec2:AttachNetworkInterface", ENI, Allowed),
            e("EC2:deletenetworkinterface", ENI, Allowed),
            e("ec2:DescribeSubnets", "*", Allowed),
            e("ec2:CreateTags", ENI, Allowed),
            e("ec2:CreateTags", "arn:aws:ec2:us-west-2:111122223333:instance/i-1", ImplicitDeny),
            e("ec2:RunInstances", "*", ImplicitDeny),
            e("ec2:DeleteNetworkInterfacePermission", ENI, ImplicitDeny),
        ],
    );
}

#[test]
fn ebs_csi_driver_policy_tag_conditions() {
    use DecisionKind::*;
    let vol = "arn:aws:ec2:us-west-2:111122223333:volume/vol-1";
    let snap = "arn:aws:ec2:us-west-2::snapshot/snap-1";
    check(
        &["AmazonEBSCSIDriverPolicy"],
        NODE,
        &[
            // CreateVolume needs the CSI request tag.
            Expect {
                action: "ec2:CreateVolume",
                resource: vol,
                context: &[("aws:RequestTag/ebs.csi.aws.com/cluster", "true")],
                want: Allowed,
            },
            Expect { action: "ec2:CreateVolume", resource: vol, context: &[], want: ImplicitDeny },
            // DeleteVolume needs the resource tag (StringLike on ec2:ResourceTag/…).
            Expect {
                action: "ec2:DeleteVolume",
                resource: vol,
                context: &[("ec2:ResourceTag/ebs.csi.aws.com/cluster", "true")],
                want: Allowed,
            },
            Expect {
                action: "ec2:DeleteVolume",
                resource: vol,
                context: &[("ec2:ResourceTag/CSIVolumeName", "pvc-123")],
                want: Allowed,
            },
            Expect {
                action: "ec2:DeleteVolume",
                resource: vol,
                context: &[("ec2:ResourceTag/owner", "someone")],
                want: ImplicitDeny,
            },
            Expect {
                action: "ec2:DeleteSnapshot",
                resource: snap,
                context: &[("ec2:ResourceTag/CSIVolumeSnapshotName", "s1")],
                want: Allowed,
            },
            Expect { action: "ec2:DeleteSnapshot", resource: snap, context: &[], want: ImplicitDeny },
            Expect { action: "ec2:AttachVolume", resource: vol, context: &[], want: Allowed },
            Expect { action: "ec2:DescribeVolumes", resource: "*", context: &[], want: Allowed },
            Expect { action: "ec2:TerminateInstances", resource: "*", context: &[], want: ImplicitDeny },
        ],
    );
}

#[test]
fn eks_cluster_and_worker_policies() {
    use DecisionKind::*;
    let e = |action, resource, want| Expect { action, resource, context: &[], want };
    check(
        &["AmazonEKSClusterPolicy"],
        "arn:aws:sts::111122223333:assumed-role/eks-cluster-role/cluster",
        &[
            e("autoscaling:DescribeAutoScalingGroups", "*", Allowed),
            e("ec2:CreateSecurityGroup", "*", Allowed),
            e("elasticloadbalancing:CreateLoadBalancer", "*", Allowed),
            e("kms:DescribeKey", "*", Allowed),
            e("s3:GetObject", "arn:aws:s3:::b/k", ImplicitDeny),
            e("iam:CreateUser", "*", ImplicitDeny),
        ],
    );
    check(
        &["AmazonEKSWorkerNodePolicy", "AmazonEKS_CNI_Policy"],
        NODE,
        &[
            e("ec2:DescribeInstances", "*", Allowed),
            e("eks:DescribeCluster", "arn:aws:eks:us-west-2:111122223333:cluster/c1", Allowed),
            e("ec2:CreateNetworkInterface", "*", Allowed),
            e("eks:DeleteCluster", "arn:aws:eks:us-west-2:111122223333:cluster/c1", ImplicitDeny),
        ],
    );
}

#[test]
fn eks_outpost_policy_scoped_ecr_arns() {
    let Some(p) = load("AmazonEKSLocalOutpostClusterPolicy") else { return };
    // Find an ECR statement with a scoped resource and check that it matches inside
    // its scope and nowhere else, whatever the exact ARN AWS ships.
    let stmt = p
        .statements
        .iter()
        .find(|s| {
            s.actions.patterns.iter().any(|a| a.starts_with("ecr:"))
                && s.resources.as_ref().is_some_and(|r| r.patterns.iter().any(|x| x.starts_with("arn:")))
        })
        .expect("the Outpost policy has a scoped ECR statement");
    let action = stmt.actions.patterns.iter().find(|a| a.starts_with("ecr:") && !a.contains('*')).unwrap().clone();
    let pattern = stmt.resources.as_ref().unwrap().patterns.iter().find(|x| x.starts_with("arn:")).unwrap().clone();
    // Same account as the caller (otherwise it is a cross-account request that
    // needs a resource policy): fill the region and account, then the rest.
    let segs: Vec<&str> = pattern.splitn(6, ':').collect();
    let fill = |s: &str, with: &str| if s == "*" { with.to_string() } else { s.to_string() };
    let inside = format!(
        "arn:aws:ecr:{}:{}:{}",
        fill(segs[3], "us-west-2"),
        fill(segs[4], "111122223333"),
        segs[5].replace('*', "x")
    );
    let outside = "arn:aws:ecr:us-west-2:111122223333:repository/unrelated".to_string();
    let set = PolicySet { identity: vec![p], ..Default::default() };
    let compiled = CompiledPolicySet::compile(set.clone()).unwrap();
    let mut s = Scratch::new(&compiled);
    let principal = Principal::parse(NODE).unwrap();
    for (res, want) in [(inside, DecisionKind::Allowed), (outside, DecisionKind::ImplicitDeny)] {
        let req = Request::new(principal.clone(), &action, &res);
        let d = compiled.decide(&req, &mut s);
        assert_eq!(d, reference_decide(&set, &req));
        assert_eq!(d.kind, want, "{action} on {res} (pattern {pattern})");
    }
}
