//! A policy set: every policy that bears on one principal's requests, by layer
//! (identity, permissions boundary, session, resource-based, SCP levels, RCP
//! levels), plus the organization facts that decide where SCPs and RCPs apply.
//!
//! The unit that `compile` turns into automata and that the reference
//! evaluator interprets directly. Also reads the `eval` bundle format.

use super::json::{Json, JsonKind};
use super::model::{Policy, PolicyKind, Statement};
use super::parse::{policy_from_json, ParseError, ParseErrorKind};
use std::fmt;

/// The layer a policy belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Layer {
    /// Identity-based policies.
    Identity,
    /// The permissions boundary.
    PermissionsBoundary,
    /// Session policies.
    Session,
    /// The resource-based policy.
    Resource,
    /// SCPs at one organization level (0 = root).
    Scp(u16),
    /// RCPs at one organization level (0 = root).
    Rcp(u16),
}

impl Layer {
    /// The policy kind of this layer.
    pub fn kind(&self) -> PolicyKind {
        match self {
            Layer::Identity => PolicyKind::Identity,
            Layer::PermissionsBoundary => PolicyKind::PermissionsBoundary,
            Layer::Session => PolicyKind::Session,
            Layer::Resource => PolicyKind::Resource,
            Layer::Scp(_) => PolicyKind::Scp,
            Layer::Rcp(_) => PolicyKind::Rcp,
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Layer::Scp(l) => write!(f, "scp level {l}"),
            Layer::Rcp(l) => write!(f, "rcp level {l}"),
            other => f.write_str(other.kind().as_str()),
        }
    }
}

/// Addresses one statement of a [`PolicySet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct StatementRef {
    /// The layer.
    pub layer: Layer,
    /// Index of the policy within its layer (within its level for SCP/RCP).
    pub policy: u32,
    /// Index of the statement within the policy.
    pub statement: u32,
}

/// Organization facts for SCP/RCP applicability (§7.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Organization {
    /// The management account: SCPs do not apply to its principals, RCPs not to its resources.
    pub management_account: Option<String>,
    /// Member accounts. When given, SCPs apply only to principals of these
    /// accounts and RCPs only to resources they own; when absent, SCPs follow the
    /// principal and RCPs the resource owner, whatever the account.
    pub member_accounts: Option<Vec<String>>,
}

impl Organization {
    /// Whether `account` is a member account (not the management account).
    pub fn is_member(&self, account: Option<&str>) -> bool {
        let Some(account) = account else { return false };
        if self.management_account.as_deref() == Some(account) {
            return false;
        }
        self.member_accounts.as_ref().is_none_or(|m| m.iter().any(|a| a == account))
    }
}

/// Index of a condition key in [`PolicySet::condition_keys`].
pub type KeyId = u32;

/// The layers a set has, as the decision logic needs them.
#[derive(Clone, Debug, Default)]
pub struct Shape {
    /// Identity policies exist.
    pub has_identity: bool,
    /// A permissions boundary is attached.
    pub has_boundary: bool,
    /// Session policies were passed.
    pub has_session: bool,
    /// A resource policy exists.
    pub has_resource_policy: bool,
    /// Number of SCP levels.
    pub scp_levels: u16,
    /// Number of RCP levels.
    pub rcp_levels: u16,
    /// Organization facts.
    pub organization: Organization,
}

/// Every policy that applies to a principal's requests, by layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicySet {
    /// Identity-based policies (user + groups, or role).
    pub identity: Vec<Policy>,
    /// The permissions boundary, if any.
    pub permissions_boundary: Option<Policy>,
    /// Session policies: `None` = no session policy was passed.
    pub session: Option<Vec<Policy>>,
    /// The resource-based policy of the resource, if any.
    pub resource: Option<Policy>,
    /// SCPs by organization level, root first; each level holds the policies attached there.
    pub scps: Vec<Vec<Policy>>,
    /// RCPs by organization level, root first.
    pub rcps: Vec<Vec<Policy>>,
    /// Where SCPs and RCPs apply.
    pub organization: Organization,
}

impl PolicySet {
    /// Every policy with its layer and index, in a fixed order (the order
    /// statement ids and key ids are assigned in).
    pub fn policies(&self) -> impl Iterator<Item = (Layer, u32, &Policy)> {
        fn indexed(layer: Layer, ps: &[Policy]) -> impl Iterator<Item = (Layer, u32, &Policy)> {
            ps.iter().enumerate().map(move |(i, p)| (layer, u32::try_from(i).unwrap_or(u32::MAX), p))
        }
        fn levels(v: &[Vec<Policy>], mk: fn(u16) -> Layer) -> impl Iterator<Item = (Layer, u32, &Policy)> {
            v.iter().enumerate().flat_map(move |(l, ps)| indexed(mk(u16::try_from(l).unwrap_or(u16::MAX)), ps))
        }
        indexed(Layer::Identity, &self.identity)
            .chain(indexed(Layer::PermissionsBoundary, self.permissions_boundary.as_slice()))
            .chain(indexed(Layer::Session, self.session.as_deref().unwrap_or(&[])))
            .chain(indexed(Layer::Resource, self.resource.as_slice()))
            .chain(levels(&self.scps, Layer::Scp))
            .chain(levels(&self.rcps, Layer::Rcp))
    }

    /// Every statement with its address.
    pub fn statements(&self) -> impl Iterator<Item = (StatementRef, &Policy, &Statement)> {
        self.policies().flat_map(|(layer, policy, p)| {
            p.statements.iter().enumerate().map(move |(i, s)| {
                (StatementRef { layer, policy, statement: u32::try_from(i).unwrap_or(u32::MAX) }, p, s)
            })
        })
    }

    /// The policy and statement at `r`.
    pub fn get(&self, r: StatementRef) -> Option<(&Policy, &Statement)> {
        let idx = usize::try_from(r.policy).ok()?;
        let policy = match r.layer {
            Layer::Identity => self.identity.get(idx),
            Layer::PermissionsBoundary => self.permissions_boundary.as_ref().filter(|_| idx == 0),
            Layer::Session => self.session.as_ref().and_then(|s| s.get(idx)),
            Layer::Resource => self.resource.as_ref().filter(|_| idx == 0),
            Layer::Scp(l) => self.scps.get(usize::from(l)).and_then(|v| v.get(idx)),
            Layer::Rcp(l) => self.rcps.get(usize::from(l)).and_then(|v| v.get(idx)),
        }?;
        Some((policy, policy.statements.get(usize::try_from(r.statement).ok()?)?))
    }

    /// The layer summary the decision logic needs.
    pub fn shape(&self) -> Shape {
        Shape {
            has_identity: !self.identity.is_empty(),
            has_boundary: self.permissions_boundary.is_some(),
            has_session: self.session.is_some(),
            has_resource_policy: self.resource.is_some(),
            scp_levels: u16::try_from(self.scps.len()).unwrap_or(u16::MAX),
            rcp_levels: u16::try_from(self.rcps.len()).unwrap_or(u16::MAX),
            organization: self.organization.clone(),
        }
    }

    /// Every key the set's statements read (condition keys, policy-variable
    /// keys, and `aws:userid` for unique-id principals), lower-cased, in
    /// first-appearance order. A key's position is its [`KeyId`] in decisions.
    pub fn condition_keys(&self) -> Vec<String> {
        self.condition_keys_as_written().into_iter().map(|k| k.to_ascii_lowercase()).collect()
    }

    /// [`PolicySet::condition_keys`] spelt as the policies first write each
    /// (`aws:SourceIp`, not `aws:sourceip`): what reports show a person.
    pub fn condition_keys_as_written(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        for k in self.policies().flat_map(|(_, _, p)| p.keys_read()) {
            if !keys.iter().any(|seen| seen.eq_ignore_ascii_case(&k)) {
                keys.push(k);
            }
        }
        keys
    }

    /// Reads the `eval` bundle: `{"identity":[docs], "resource_policy":doc?,
    /// "permissions_boundary":doc?, "session":[docs], "scps":[[docs per level]],
    /// "rcps":[[…]], "organization":{"management_account","member_accounts"}?}`.
    /// Policy documents may also be CLI wrappers (see [`parse_policy`](super::parse_policy)).
    ///
    /// # Errors
    /// Invalid JSON, an unknown field, or an invalid policy, located by JSON path.
    pub fn from_bundle(bytes: &[u8], source: &str) -> Result<PolicySet, ParseError> {
        let root = super::parse::parse_json(bytes, source)?;
        let members = root.as_object().ok_or_else(|| {
            ParseError::at(
                ParseErrorKind::WrongType,
                source,
                "",
                Some(root.span),
                format!("expected a bundle object, found {}", root.type_name()),
            )
        })?;
        let mut set = PolicySet::default();
        let doc = |node: &Json, path: &str, kind: PolicyKind| -> Result<Policy, ParseError> {
            let name = format!("{source}:{path}");
            policy_from_json(node, &name, kind)
        };
        fn list<'j>(node: &'j Json, source: &str, path: &str) -> Result<&'j [Json], ParseError> {
            match &node.kind {
                JsonKind::Array(items) => Ok(items),
                _ => Err(ParseError::at(
                    ParseErrorKind::WrongType,
                    source,
                    path,
                    Some(node.span),
                    format!("expected an array, found {}", node.type_name()),
                )),
            }
        }
        let docs = |node: &Json, path: &str, kind: PolicyKind| -> Result<Vec<Policy>, ParseError> {
            list(node, source, path)?.iter().enumerate().map(|(i, d)| doc(d, &format!("{path}[{i}]"), kind)).collect()
        };
        let levels = |node: &Json, path: &str, kind: PolicyKind| -> Result<Vec<Vec<Policy>>, ParseError> {
            list(node, source, path)?.iter().enumerate().map(|(i, l)| docs(l, &format!("{path}[{i}]"), kind)).collect()
        };
        for m in members {
            let path = m.key.as_str();
            match path {
                "identity" => set.identity = docs(&m.value, path, PolicyKind::Identity)?,
                "permissions_boundary" => set.permissions_boundary = optional(&m.value, |v| doc(v, path, PolicyKind::PermissionsBoundary))?,
                "resource_policy" => set.resource = optional(&m.value, |v| doc(v, path, PolicyKind::Resource))?,
                "session" => set.session = optional(&m.value, |v| docs(v, path, PolicyKind::Session))?,
                "scps" => set.scps = levels(&m.value, path, PolicyKind::Scp)?,
                "rcps" => set.rcps = levels(&m.value, path, PolicyKind::Rcp)?,
                "organization" => set.organization = organization(&m.value, source)?,
                other => {
                    return Err(ParseError::at(ParseErrorKind::Unknown, source, other, Some(m.key_span), format!(
                        "unknown bundle field `{other}` (expected identity, permissions_boundary, session, resource_policy, scps, rcps or organization)")))
                }
            }
        }
        Ok(set)
    }
}

fn optional<T>(node: &Json, f: impl FnOnce(&Json) -> Result<T, ParseError>) -> Result<Option<T>, ParseError> {
    match node.kind {
        JsonKind::Null => Ok(None),
        _ => f(node).map(Some),
    }
}

fn organization(node: &Json, source: &str) -> Result<Organization, ParseError> {
    let mut org = Organization::default();
    let members = node.as_object().ok_or_else(|| {
        ParseError::at(ParseErrorKind::WrongType, source, "organization", Some(node.span), "expected an object")
    })?;
    for m in members {
        let path = format!("organization.{}", m.key);
        let string = |v: &Json| {
            v.as_str().map(str::to_string).ok_or_else(|| {
                ParseError::at(ParseErrorKind::WrongType, source, &path, Some(v.span), "expected a string")
            })
        };
        match m.key.as_str() {
            "management_account" => org.management_account = Some(string(&m.value)?),
            "member_accounts" => match &m.value.kind {
                JsonKind::Array(items) => {
                    org.member_accounts = Some(items.iter().map(string).collect::<Result<_, _>>()?)
                }
                _ => {
                    return Err(ParseError::at(
                        ParseErrorKind::WrongType,
                        source,
                        &path,
                        Some(m.value.span),
                        "expected an array of account ids",
                    ))
                }
            },
            other => {
                return Err(ParseError::at(
                    ParseErrorKind::Unknown,
                    source,
                    &path,
                    Some(m.key_span),
                    format!("unknown field `{other}`"),
                ))
            }
        }
    }
    Ok(org)
}
