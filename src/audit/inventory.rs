//! Who has which policies: the output of `aws iam get-account-authorization-details`
//! (users, groups, roles; inline and attached managed policies; permissions
//! boundaries; tags), one file per account, several accounts at once.
//!
//! Beside the pipeline: builds [`PolicySet`]s per principal for `eval`.
//! Managed policies are taken from the file's `Policies` list (default
//! version), else from an optional folder of `<PolicyName>.json` documents
//! (e.g. the AWS managed policies); what cannot be found is listed as
//! unresolved, never silently dropped.
//!
//! ```
//! use iamsim::audit::inventory::Inventory;
//! let details = br#"{"RoleDetailList": [{"RoleName": "node", "Path": "/eks/",
//!   "Arn": "arn:aws:iam::111122223333:role/eks/node",
//!   "AttachedManagedPolicies": [{"PolicyName": "Gone", "PolicyArn": "arn:aws:iam::aws:policy/Gone"}],
//!   "RolePolicyList": [{"PolicyName": "tags", "PolicyDocument": {"Version": "2012-10-17",
//!     "Statement": {"Effect": "Allow", "Action": "ec2:CreateTags", "Resource": "*"}}}]}]}"#;
//! let mut inventory = Inventory::new();
//! inventory.load(details, "details.json", None)?;
//! let node = inventory.get("arn:aws:iam::111122223333:role/eks/node").unwrap();
//! assert_eq!(node.policies.len(), 1);
//! // Not in the file and no managed-policy folder given: listed, not dropped.
//! assert_eq!(node.unresolved, ["arn:aws:iam::aws:policy/Gone"]);
//! let set = inventory.policy_set("arn:aws:iam::111122223333:role/eks/node", &[]).unwrap();
//! assert_eq!(set.identity.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::engine::policy::json::{Json, JsonKind};
use crate::engine::policy::{policy_from_json, ParseError, ParseErrorKind, Policy, PolicyKind, PolicySet};

/// Authorization details that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    /// The file, or a policy document in it, could not be read as one.
    #[error(transparent)]
    Policy(#[from] ParseError),
    /// A managed policy file of the managed-policy folder cannot be read.
    #[error("{}: cannot read: {error}", path.display())]
    Unreadable {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        error: std::io::Error,
    },
}
use std::collections::BTreeMap;
use std::path::Path;

/// The policies of one IAM user or role.
#[derive(Clone, Debug, Default)]
pub struct Identity {
    /// The user or role ARN (with path).
    pub arn: String,
    /// Inline, attached managed, and (users) group policies.
    pub policies: Vec<Policy>,
    /// The permissions boundary, if any.
    pub boundary: Option<Policy>,
    /// Tags, as `aws:PrincipalTag/<key>` values.
    pub tags: Vec<(String, String)>,
    /// Managed policy ARNs (or group names) that could not be resolved.
    pub unresolved: Vec<String>,
    /// The role trust policy.
    pub trust_policy: Option<Policy>,
}

/// Every principal of every loaded account, by ARN.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    identities: BTreeMap<String, Identity>,
    /// User, role, group and instance-profile ARNs (with path) by [`path_less_key`].
    entities: BTreeMap<String, String>,
}

/// An IAM user, role or group ARN without its path, lower-cased (IAM names
/// are unique regardless of case): `arn:aws:iam::1:role/team/app` and
/// `arn:aws:iam::1:role/APP` give `arn:aws:iam::1:role/app`.
fn path_less_key(arn: &str) -> Option<String> {
    let (header, resource) = arn.rsplit_once(':').filter(|(h, _)| h.matches(':').count() == 4)?;
    let (kind, rest) = resource.split_once('/')?;
    let name = rest.rsplit('/').next().unwrap_or(rest);
    Some(format!("{header}:{kind}/{name}").to_ascii_lowercase())
}

fn arr<'a>(node: &'a Json, key: &str) -> &'a [Json] {
    match node.get(key).map(|v| &v.kind) {
        Some(JsonKind::Array(items)) => items,
        _ => &[],
    }
}

fn str_of<'a>(node: &'a Json, key: &str) -> Option<&'a str> {
    node.get(key).and_then(Json::as_str)
}

impl Inventory {
    /// An empty inventory.
    pub fn new() -> Inventory {
        Inventory::default()
    }

    /// The principals loaded, by ARN.
    pub fn identities(&self) -> impl Iterator<Item = &Identity> {
        self.identities.values()
    }

    /// Every user's and role's identity policies and permissions boundary
    /// (a policy attached to several comes once for each).
    pub fn policies(&self) -> impl Iterator<Item = &Policy> {
        self.identities().flat_map(|i| i.policies.iter().chain(&i.boundary))
    }

    /// Whether the ARN is a role (else a user).
    pub fn is_role(arn: &str) -> bool {
        arn.contains(":role/")
    }

    /// The user or role with this ARN.
    pub fn get(&self, arn: &str) -> Option<&Identity> {
        self.identities.get(arn)
    }

    /// The ARN, with its path, of the user, role, group or instance profile that `arn` names
    /// without one (`arn:aws:iam::<account>:role/<name>`, as CloudTrail
    /// requests name them). `None` when the file did not list it.
    pub fn entity_arn(&self, arn: &str) -> Option<&str> {
        self.entities.get(&path_less_key(arn)?).map(String::as_str)
    }

    fn add_entity(&mut self, arn: &str) {
        if let Some(key) = path_less_key(arn) {
            self.entities.insert(key, arn.to_string());
        }
    }

    /// Adds a user or role that no authorization details list, with
    /// `policies` as its identity policies (a replay of one principal's logs
    /// against a policy file, `replay --policy ARN=FILE`). Returns false,
    /// adding nothing, when `arn` is not an IAM user or role ARN
    /// (`arn:<partition>:iam::<account>:user/…` or `…:role/…`, path allowed)
    /// or is already listed.
    pub fn add_principal(&mut self, arn: &str, policies: Vec<Policy>) -> bool {
        let well_formed = crate::engine::policy::Arn::parse(arn).is_some_and(|a| {
            !a.partition.is_empty()
                && a.service == "iam"
                && a.region.is_empty()
                && a.account.len() == 12
                && a.account.bytes().all(|b| b.is_ascii_digit())
                && (a.resource.strip_prefix("user/").or_else(|| a.resource.strip_prefix("role/")))
                    .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
        });
        if !well_formed || self.identities.contains_key(arn) {
            return false;
        }
        self.add_entity(arn);
        self.identities.insert(arn.to_string(), Identity { arn: arn.to_string(), policies, ..Identity::default() });
        true
    }

    /// Replaces a principal's identity policies (a proposed policy for replay).
    /// Returns false when the principal is unknown.
    pub fn set_policies(&mut self, arn: &str, policies: Vec<Policy>) -> bool {
        match self.identities.get_mut(arn) {
            Some(id) => {
                id.policies = policies;
                id.unresolved.clear();
                true
            }
            None => false,
        }
    }

    /// Loads one authorization-details file. `managed_dir` resolves managed
    /// policies the file does not include.
    ///
    /// # Errors
    /// Invalid JSON or an invalid policy document, located.
    pub fn load(&mut self, bytes: &[u8], source: &str, managed_dir: Option<&Path>) -> Result<(), InventoryError> {
        let root = crate::engine::policy::parse_json(bytes, source)?;
        if root.as_object().is_none() {
            return Err(InventoryError::Policy(ParseError::at(
                ParseErrorKind::WrongType,
                source,
                "",
                Some(root.span),
                "expected the output of get-account-authorization-details (an object)",
            )));
        }
        // An object with none of the lists is not that output (a policy, a
        // CloudTrail file given in the wrong place): refused, not read as an
        // account with nobody in it.
        const LISTS: [&str; 4] = ["UserDetailList", "RoleDetailList", "GroupDetailList", "Policies"];
        if !LISTS.iter().any(|list| root.get(list).is_some()) {
            return Err(InventoryError::Policy(ParseError::at(
                ParseErrorKind::Missing,
                source,
                "",
                Some(root.span),
                "expected the output of get-account-authorization-details: an object with UserDetailList, RoleDetailList, GroupDetailList or Policies",
            )));
        }
        // Customer and AWS managed policies included in the file, default versions.
        let mut managed: BTreeMap<String, Policy> = BTreeMap::new();
        for (i, p) in arr(&root, "Policies").iter().enumerate() {
            let Some(arn) = str_of(p, "Arn") else { continue };
            let versions = arr(p, "PolicyVersionList");
            let default = versions
                .iter()
                .position(|v| matches!(v.get("IsDefaultVersion").map(|b| &b.kind), Some(JsonKind::Bool(true))));
            if let Some((j, doc)) =
                default.and_then(|j| versions.get(j).and_then(|v| v.get("Document")).map(|d| (j, d)))
            {
                let name = format!("{source}:Policies[{i}].PolicyVersionList[{j}].Document");
                let mut policy = policy_from_json(doc, &name, PolicyKind::Identity)?;
                policy.name = arn.to_string();
                managed.insert(arn.to_string(), policy);
            }
        }
        let resolve = |arn: &str, kind: PolicyKind| -> Result<Option<Policy>, InventoryError> {
            if let Some(p) = managed.get(arn) {
                let mut p = p.clone();
                p.kind = kind;
                return Ok(Some(p));
            }
            let name = arn.rsplit('/').next().unwrap_or(arn);
            let Some(path) = managed_dir.map(|d| d.join(format!("{name}.json"))).filter(|p| p.is_file()) else {
                return Ok(None);
            };
            let bytes =
                std::fs::read(&path).map_err(|error| InventoryError::Unreadable { path: path.clone(), error })?;
            let mut p = crate::engine::policy::parse_policy(&bytes, &path.display().to_string(), kind)?;
            p.name = arn.to_string();
            Ok(Some(p))
        };
        let inline = |node: &Json, list: &str, path: &str| -> Result<Vec<Policy>, ParseError> {
            arr(node, list)
                .iter()
                .enumerate()
                .filter_map(|(i, p)| p.get("PolicyDocument").map(|d| (i, p, d)))
                .map(|(i, p, d)| {
                    let mut policy = policy_from_json(
                        d,
                        &format!("{source}:{path}.{list}[{i}].PolicyDocument"),
                        PolicyKind::Identity,
                    )?;
                    policy.name = format!("{} (inline)", str_of(p, "PolicyName").unwrap_or("?"));
                    Ok(policy)
                })
                .collect()
        };
        let attached =
            |node: &Json, policies: &mut Vec<Policy>, unresolved: &mut Vec<String>| -> Result<(), InventoryError> {
                for a in arr(node, "AttachedManagedPolicies") {
                    if let Some(arn) = str_of(a, "PolicyArn") {
                        match resolve(arn, PolicyKind::Identity)? {
                            Some(p) => policies.push(p),
                            None => unresolved.push(arn.to_string()),
                        }
                    }
                }
                Ok(())
            };
        let boundary = |node: &Json, unresolved: &mut Vec<String>| -> Result<Option<Policy>, InventoryError> {
            let Some(arn) = node.get("PermissionsBoundary").and_then(|b| str_of(b, "PermissionsBoundaryArn")) else {
                return Ok(None);
            };
            let found = resolve(arn, PolicyKind::PermissionsBoundary)?;
            if found.is_none() {
                unresolved.push(format!("{arn} (boundary)"));
            }
            Ok(found)
        };
        let tags = |node: &Json| -> Vec<(String, String)> {
            arr(node, "Tags")
                .iter()
                .filter_map(|t| Some((str_of(t, "Key")?.to_string(), str_of(t, "Value").unwrap_or("").to_string())))
                .collect()
        };
        // Groups first: users inherit their policies.
        let mut groups: BTreeMap<String, (Vec<Policy>, Vec<String>)> = BTreeMap::new();
        for (i, g) in arr(&root, "GroupDetailList").iter().enumerate() {
            let Some(name) = str_of(g, "GroupName") else { continue };
            if let Some(arn) = str_of(g, "Arn") {
                self.add_entity(arn);
            }
            let mut policies = inline(g, "GroupPolicyList", &format!("GroupDetailList[{i}]"))?;
            let mut unresolved = Vec::new();
            attached(g, &mut policies, &mut unresolved)?;
            groups.insert(name.to_string(), (policies, unresolved));
        }
        for (i, u) in arr(&root, "UserDetailList").iter().enumerate() {
            let Some(arn) = str_of(u, "Arn") else { continue };
            let path = format!("UserDetailList[{i}]");
            let mut id = Identity { arn: arn.to_string(), tags: tags(u), ..Identity::default() };
            id.policies = inline(u, "UserPolicyList", &path)?;
            attached(u, &mut id.policies, &mut id.unresolved)?;
            id.boundary = boundary(u, &mut id.unresolved)?;
            for g in arr(u, "GroupList").iter().filter_map(Json::as_str) {
                match groups.get(g) {
                    Some((p, unresolved)) => {
                        id.policies.extend(p.iter().cloned());
                        id.unresolved.extend(unresolved.iter().cloned());
                    }
                    None => id.unresolved.push(format!("group {g}")),
                }
            }
            self.add_entity(arn);
            self.identities.insert(arn.to_string(), id);
        }
        for (i, r) in arr(&root, "RoleDetailList").iter().enumerate() {
            let Some(arn) = str_of(r, "Arn") else { continue };
            let path = format!("RoleDetailList[{i}]");
            let mut id = Identity { arn: arn.to_string(), tags: tags(r), ..Identity::default() };
            id.policies = inline(r, "RolePolicyList", &path)?;
            attached(r, &mut id.policies, &mut id.unresolved)?;
            id.boundary = boundary(r, &mut id.unresolved)?;
            if let Some(doc) = r.get("AssumeRolePolicyDocument") {
                id.trust_policy = Some(policy_from_json(
                    doc,
                    &format!("{source}:{path}.AssumeRolePolicyDocument"),
                    PolicyKind::Resource,
                )?);
            }
            self.add_entity(arn);
            // The role's instance profiles, with their paths: events name a
            // profile without its path (AddRoleToInstanceProfile…).
            for profile in arr(r, "InstanceProfileList") {
                if let Some(profile_arn) = str_of(profile, "Arn") {
                    self.add_entity(profile_arn);
                }
            }
            self.identities.insert(arn.to_string(), id);
        }
        Ok(())
    }

    /// The policy set for a principal's requests, with `scps` as the organization
    /// path of its account. `None` when the principal is not in the inventory.
    pub fn policy_set(&self, arn: &str, scps: &[Vec<Policy>]) -> Option<PolicySet> {
        let id = self.identities.get(arn)?;
        Some(PolicySet {
            identity: id.policies.clone(),
            permissions_boundary: id.boundary.clone(),
            scps: scps.to_vec(),
            ..PolicySet::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DETAILS: &str = r#"{
      "UserDetailList": [{"UserName":"alice","Arn":"arn:aws:iam::111122223333:user/alice","GroupList":["devs","ghost"],
         "UserPolicyList":[{"PolicyName":"own","PolicyDocument":"%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%7B%22Effect%22%3A%22Allow%22%2C%22Action%22%3A%22s3%3AGetObject%22%2C%22Resource%22%3A%22*%22%7D%7D"}],
         "AttachedManagedPolicies":[{"PolicyName":"Gone","PolicyArn":"arn:aws:iam::aws:policy/Gone"}],
         "Tags":[{"Key":"team","Value":"red"}]}],
      "GroupDetailList": [{"GroupName":"devs","GroupPolicyList":[],"AttachedManagedPolicies":[{"PolicyArn":"arn:aws:iam::111122223333:policy/Dev"}]}],
      "RoleDetailList": [{"RoleName":"app","Arn":"arn:aws:iam::111122223333:role/team/app",
         "InstanceProfileList":[{"InstanceProfileName":"app-profile","Path":"/nodes/","Arn":"arn:aws:iam::111122223333:instance-profile/nodes/app-profile"}],
         "AssumeRolePolicyDocument":{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]},
         "RolePolicyList":[],"AttachedManagedPolicies":[{"PolicyArn":"arn:aws:iam::111122223333:policy/Dev"}],
         "PermissionsBoundary":{"PermissionsBoundaryArn":"arn:aws:iam::111122223333:policy/Dev"}}],
      "Policies": [{"PolicyName":"Dev","Arn":"arn:aws:iam::111122223333:policy/Dev","PolicyVersionList":[
         {"VersionId":"v1","IsDefaultVersion":false,"Document":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}},
         {"VersionId":"v2","IsDefaultVersion":true,"Document":{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*","Resource":"*"}}}]}]
    }"#;

    #[test]
    fn loads_users_groups_roles_and_default_versions() {
        let mut inv = Inventory::new();
        inv.load(DETAILS.as_bytes(), "details.json", None).unwrap();
        let alice = inv.get("arn:aws:iam::111122223333:user/alice").unwrap();
        assert_eq!(alice.policies.len(), 2, "inline (URL-encoded) + group's managed policy");
        assert_eq!(alice.policies[1].statements[0].actions.patterns, ["ec2:*"], "the default version");
        assert_eq!(alice.unresolved, ["arn:aws:iam::aws:policy/Gone", "group ghost"]);
        assert_eq!(alice.tags, [("team".to_string(), "red".to_string())]);
        let role = inv.get("arn:aws:iam::111122223333:role/team/app").unwrap();
        assert!(role.boundary.is_some() && role.trust_policy.is_some());
        assert!(inv.policy_set("arn:aws:iam::111122223333:role/team/app", &[]).is_some());
        // Entities named without their path: roles, and the roles' instance profiles.
        assert_eq!(
            inv.entity_arn("arn:aws:iam::111122223333:role/APP"),
            Some("arn:aws:iam::111122223333:role/team/app")
        );
        assert_eq!(
            inv.entity_arn("arn:aws:iam::111122223333:instance-profile/app-profile"),
            Some("arn:aws:iam::111122223333:instance-profile/nodes/app-profile")
        );
        let e = Inventory::new().load(br#"{"UserDetailList":[{"Arn":"a","UserPolicyList":[{"PolicyDocument":{"Statement":{"Effect":"allow"}}}]}]}"#, "bad.json", None).unwrap_err();
        let InventoryError::Policy(e) = e else { panic!("{e}") };
        assert_eq!((e.path(), e.kind()), ("Statement.Effect", ParseErrorKind::Invalid));
        assert!(e.source_name().contains("UserDetailList[0].UserPolicyList[0]"), "{e}");
    }
}
