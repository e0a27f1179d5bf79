//! Permissions an API call needs besides its own action (semantics doc §8.2,
//! "some events need several checks, all must pass"), read from the event's
//! `requestParameters`: the source object of an S3 copy, the ACL and tagging
//! headers of an object write, the session tags and source identity of an
//! `AssumeRole*`, and the role a call hands to a service (`iam:PassRole`).
//! Sits beside [`super::event`], which adds these checks after the call's own.
//!
//! (KMS `ReEncrypt`, two actions on two keys, is mapped in `action.rs` and
//! `event.rs`.) Not covered (the report cannot show them breaking): roles
//! passed inside nested parameters (EventBridge targets, ECS task overrides),
//! instance profiles (`ec2:RunInstances`, which would need the profile's role
//! from the inventory), KMS keys used on the caller's behalf (SSE-KMS).

use super::record::Json;
use percent_encoding::percent_decode_str;
use smallvec::SmallVec;

/// One implied check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Implied {
    /// The IAM action.
    pub action: &'static str,
    /// Its resource ARN.
    pub resource: String,
    /// An IAM role named without its path (see `Check::path_unknown`).
    pub path_unknown: bool,
    /// A context key only this check carries.
    pub key: Option<(&'static str, &'static str)>,
}

/// Calls that pass a role to a service: the action, the parameter naming the
/// role (an ARN, or for some services a name), and the service principal the
/// role is passed to (`iam:PassedToService`) where AWS documents it; where it
/// does not, the key stays unknown and a condition on it leaves the check
/// indeterminate.
const PASSED_ROLES: &[(&str, &str, Option<&str>)] = &[
    ("lambda:CreateFunction", "role", Some("lambda.amazonaws.com")),
    ("lambda:UpdateFunctionConfiguration", "role", Some("lambda.amazonaws.com")),
    ("ecs:RegisterTaskDefinition", "taskRoleArn", Some("ecs-tasks.amazonaws.com")),
    ("ecs:RegisterTaskDefinition", "executionRoleArn", Some("ecs-tasks.amazonaws.com")),
    ("eks:CreateCluster", "roleArn", Some("eks.amazonaws.com")),
    ("eks:CreateNodegroup", "nodeRole", None),
    ("eks:CreateFargateProfile", "podExecutionRoleArn", None),
    ("cloudformation:CreateStack", "roleARN", Some("cloudformation.amazonaws.com")),
    ("cloudformation:UpdateStack", "roleARN", Some("cloudformation.amazonaws.com")),
    ("states:CreateStateMachine", "roleArn", Some("states.amazonaws.com")),
    ("states:UpdateStateMachine", "roleArn", Some("states.amazonaws.com")),
    ("codebuild:CreateProject", "serviceRole", Some("codebuild.amazonaws.com")),
    ("codebuild:UpdateProject", "serviceRole", Some("codebuild.amazonaws.com")),
    ("glue:CreateJob", "role", Some("glue.amazonaws.com")),
    ("glue:CreateCrawler", "role", Some("glue.amazonaws.com")),
    ("sagemaker:CreateNotebookInstance", "roleArn", Some("sagemaker.amazonaws.com")),
    ("sagemaker:CreateTrainingJob", "roleArn", Some("sagemaker.amazonaws.com")),
    ("sagemaker:CreateProcessingJob", "roleArn", Some("sagemaker.amazonaws.com")),
    ("sagemaker:CreateModel", "executionRoleArn", Some("sagemaker.amazonaws.com")),
    ("rds:AddRoleToDBInstance", "roleArn", None),
    ("rds:AddRoleToDBCluster", "roleArn", None),
    ("rds:StartExportTask", "iamRoleArn", None),
    // "The caller of this operation must be granted the PassRole permission on
    // the IAM role by a permissions policy" (IAM API reference,
    // AddRoleToInstanceProfile,
    // https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddRoleToInstanceProfile.html).
    ("iam:AddRoleToInstanceProfile", "roleName", None),
];

/// Object-ACL request headers of S3 writes, which need `s3:PutObjectAcl` as
/// well (the PutObject API reference and semantics doc §8.2). AWS is not
/// consistent here: its cross-account upload examples grant only
/// `s3:PutObject` conditioned on `s3:x-amz-acl`. We follow the documented
/// rule, the side that can only over-report a break, never miss one.
const S3_ACL_HEADERS: &[&str] =
    &["x-amz-acl", "x-amz-grant-full-control", "x-amz-grant-read", "x-amz-grant-read-acp", "x-amz-grant-write-acp"];

/// The action whose copies read their source (CopyObject, UploadPartCopy)
/// and whose headers may set an ACL or tags.
const S3_WRITE: &str = "s3:PutObject";

/// The actions whose calls may tag the session or set its source identity.
const ASSUME_ROLE: [&str; 3] = ["sts:AssumeRole", "sts:AssumeRoleWithSAML", "sts:AssumeRoleWithWebIdentity"];

/// Whether some event of `action` can imply a check ([`implied_checks`]
/// finds none for the others, whatever the event): asked once per action
/// by the mapping's cache, so that most events skip the tables.
pub(super) fn may_imply(action: &str) -> bool {
    action == S3_WRITE || ASSUME_ROLE.contains(&action) || PASSED_ROLES.iter().any(|(a, _, _)| *a == action)
}

/// The checks `action` implies besides itself, given the event's parameters,
/// the account that owns what the call names, and the call's own resources.
pub(super) fn implied_checks(
    action: &str,
    params: &Json<'_>,
    account: &str,
    own_resources: &[String],
    out: &mut SmallVec<[Implied; 2]>,
) {
    let param = |k: &str| params.get(k).and_then(Json::as_str).filter(|s| !s.is_empty());
    let on_own = |action: &'static str, out: &mut SmallVec<[Implied; 2]>| {
        for r in own_resources.iter().filter(|r| *r != "*") {
            out.push(Implied { action, resource: r.clone(), path_unknown: false, key: None });
        }
    };
    match action {
        // CopyObject and UploadPartCopy write with s3:PutObject and read the source.
        S3_WRITE => {
            if let Some((resource, versioned)) = param("x-amz-copy-source").and_then(copy_source) {
                let read = if versioned { "s3:GetObjectVersion" } else { "s3:GetObject" };
                out.push(Implied { action: read, resource, path_unknown: false, key: None });
            }
            if S3_ACL_HEADERS.iter().any(|h| param(h).is_some()) {
                on_own("s3:PutObjectAcl", out);
            }
            if param("x-amz-tagging").is_some() {
                on_own("s3:PutObjectTagging", out);
            }
        }
        _ if ASSUME_ROLE.contains(&action) => {
            let listed = |k: &str| params.get(k).and_then(Json::as_array).is_some_and(|a| !a.is_empty());
            if listed("tags") || listed("transitiveTagKeys") {
                on_own("sts:TagSession", out);
            }
            if param("sourceIdentity").is_some() {
                on_own("sts:SetSourceIdentity", out);
            }
        }
        _ => {
            for (_, name, service) in PASSED_ROLES.iter().filter(|(a, _, _)| *a == action) {
                let Some(role) = param(name) else { continue };
                let (resource, path_unknown) = if role.starts_with("arn:") {
                    (role.to_string(), false)
                } else {
                    (format!("arn:aws:iam::{account}:role/{role}"), true)
                };
                let key = service.map(|s| ("iam:PassedToService", s));
                out.push(Implied { action: "iam:PassRole", resource, path_unknown, key });
            }
        }
    }
}

/// The object ARN an `x-amz-copy-source` names (`bucket/key`, `/bucket/key`
/// or an access-point ARN, URL-encoded, optionally with `?versionId=`), and
/// whether it names a version.
fn copy_source(source: &str) -> Option<(String, bool)> {
    let (path, query) = source.split_once('?').unwrap_or((source, ""));
    let versioned = query.split('&').any(|p| p.starts_with("versionId="));
    let path = percent_decode_str(path).decode_utf8().ok()?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    if path.starts_with("arn:") {
        return Some((path.to_string(), versioned));
    }
    let (bucket, key) = path.split_once('/').filter(|(b, k)| !b.is_empty() && !k.is_empty())?;
    Some((format!("arn:aws:s3:::{bucket}/{key}"), versioned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn implied(action: &str, params: Value, own: &[&str]) -> Vec<(String, String, bool, Option<&'static str>)> {
        let own: Vec<String> = own.iter().map(|s| s.to_string()).collect();
        let mut out = SmallVec::new();
        implied_checks(action, &Json::from_value(&params), "111122223333", &own, &mut out);
        out.into_iter().map(|i| (i.action.to_string(), i.resource, i.path_unknown, i.key.map(|(_, v)| v))).collect()
    }

    fn check(action: &str, resource: &str) -> (String, String, bool, Option<&'static str>) {
        (action.to_string(), resource.to_string(), false, None)
    }

    /// The mapping skips `implied_checks` for actions `may_imply` refuses:
    /// with every parameter any rule reads, each action that implies a
    /// check is one it accepts, and the ones it refuses imply none.
    #[test]
    fn actions_that_may_imply_are_all_that_do() {
        let mut params = serde_json::Map::new();
        for (_, name, _) in PASSED_ROLES {
            params.insert((*name).to_string(), json!("app"));
        }
        for h in S3_ACL_HEADERS.iter().chain(&["x-amz-copy-source", "x-amz-tagging", "sourceIdentity"]) {
            params.insert((*h).to_string(), json!("src/k"));
        }
        params.insert("tags".to_string(), json!([{"key": "k", "value": "v"}]));
        let params = Value::Object(params);
        let own = ["arn:aws:s3:::dst/k"];
        let mut actions: Vec<&str> = PASSED_ROLES.iter().map(|(a, _, _)| *a).collect();
        actions.extend([S3_WRITE, "s3:GetObject", "iam:PassRole", "ec2:DescribeInstances", "sts:GetCallerIdentity"]);
        actions.extend(ASSUME_ROLE);
        for action in actions {
            let implies = !implied(action, params.clone(), &own).is_empty();
            assert_eq!(implies, may_imply(action), "{action}");
        }
    }

    #[test]
    fn s3_copies_read_their_source_and_headers_need_their_permissions() {
        let dest = "arn:aws:s3:::dst/k";
        assert_eq!(
            implied("s3:PutObject", json!({"x-amz-copy-source": "src/dir%2Fa%20b.txt"}), &[dest]),
            [check("s3:GetObject", "arn:aws:s3:::src/dir/a b.txt")]
        );
        assert_eq!(
            implied(
                "s3:PutObject",
                json!({"x-amz-copy-source": "/src/k?versionId=3", "x-amz-acl": "private"}),
                &[dest]
            ),
            [check("s3:GetObjectVersion", "arn:aws:s3:::src/k"), check("s3:PutObjectAcl", dest)]
        );
        assert_eq!(
            implied("s3:PutObject", json!({"x-amz-tagging": "a=b", "x-amz-grant-read": "id=x"}), &[dest]),
            [check("s3:PutObjectAcl", dest), check("s3:PutObjectTagging", dest)]
        );
        // A source without a key names no object: nothing is guessed.
        assert_eq!(implied("s3:PutObject", json!({"x-amz-copy-source": "src"}), &[dest]), []);
        assert_eq!(implied("s3:PutObject", json!({"key": "k"}), &[dest]), []);
        assert_eq!(implied("s3:GetObject", json!({"x-amz-acl": "private"}), &[dest]), []);
    }

    #[test]
    fn assume_role_with_tags_or_source_identity_needs_those_permissions() {
        let role = "arn:aws:iam::111122223333:role/team/app";
        let tags = json!({"roleArn": role, "tags": [{"key": "k", "value": "v"}], "sourceIdentity": "alice"});
        assert_eq!(
            implied("sts:AssumeRole", tags, &[role]),
            [check("sts:TagSession", role), check("sts:SetSourceIdentity", role)]
        );
        assert_eq!(
            implied("sts:AssumeRoleWithSAML", json!({"transitiveTagKeys": ["k"]}), &[role]),
            [check("sts:TagSession", role)]
        );
        assert_eq!(implied("sts:AssumeRole", json!({"roleArn": role, "tags": []}), &[role]), []);
    }

    #[test]
    fn passed_roles_need_iam_pass_role() {
        let role = "arn:aws:iam::111122223333:role/service/fn-role";
        assert_eq!(
            implied("lambda:CreateFunction", json!({"functionName": "f", "role": role}), &[]),
            [("iam:PassRole".to_string(), role.to_string(), false, Some("lambda.amazonaws.com"))]
        );
        let both = json!({"taskRoleArn": role, "executionRoleArn": "arn:aws:iam::111122223333:role/exec"});
        assert_eq!(implied("ecs:RegisterTaskDefinition", both, &[]).len(), 2);
        // A role given by name: its path is unknown; an undocumented service: no key.
        assert_eq!(
            implied("glue:CreateJob", json!({"role": "etl"}), &[]),
            [(
                "iam:PassRole".to_string(),
                "arn:aws:iam::111122223333:role/etl".to_string(),
                true,
                Some("glue.amazonaws.com")
            )]
        );
        assert_eq!(implied("eks:CreateNodegroup", json!({"nodeRole": role}), &[])[0].3, None);
        assert_eq!(implied("lambda:UpdateFunctionConfiguration", json!({"timeout": 3}), &[]), []);
        assert_eq!(implied("sts:AssumeRole", json!({"roleArn": role}), &[role]), []);
    }
}
