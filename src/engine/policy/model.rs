//! The validated policy model: what a policy document says, with every value
//! normalised (single values as one-element lists, condition values as text).
//!
//! Built by `policy::parse`, consumed by `compile` and by the reference
//! evaluator. Holds no matching logic.

use super::operator::Operator;
use std::fmt;

/// Which kind of policy a document is; decides which elements are required or
/// forbidden (semantics doc §1.3) and how short ARNs are read (§3.2 rule 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PolicyKind {
    /// Identity-based policy (user, group or role; inline or managed).
    Identity,
    /// Permissions boundary of a user or role.
    PermissionsBoundary,
    /// Session policy passed when a session was created.
    Session,
    /// Resource-based policy (bucket, key, queue, role trust policy…).
    Resource,
    /// Service control policy (one organization level).
    Scp,
    /// Resource control policy (one organization level).
    Rcp,
}

impl PolicyKind {
    /// The name used in decisions and JSON output.
    pub fn as_str(&self) -> &'static str {
        match self {
            PolicyKind::Identity => "identity",
            PolicyKind::PermissionsBoundary => "permissions_boundary",
            PolicyKind::Session => "session",
            PolicyKind::Resource => "resource",
            PolicyKind::Scp => "scp",
            PolicyKind::Rcp => "rcp",
        }
    }

    /// Whether statements of this kind carry a `Principal`.
    pub fn has_principal(&self) -> bool {
        matches!(self, PolicyKind::Resource | PolicyKind::Rcp)
    }
}

impl fmt::Display for PolicyKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The policy language version (§1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `2012-10-17`: policy variables are recognised.
    V2012_10_17,
    /// `2008-10-17`: `${…}` is literal text.
    V2008_10_17,
    /// No `Version`: same as 2008-10-17.
    Absent,
}

impl Version {
    /// Whether `${…}` policy variables are substituted.
    pub fn variables_enabled(&self) -> bool {
        matches!(self, Version::V2012_10_17)
    }
}

/// `Allow` or `Deny`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Effect {
    /// Grants the matched requests.
    Allow,
    /// Denies the matched requests; wins over every Allow.
    Deny,
}

impl Effect {
    /// `Allow` or `Deny`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Effect::Allow => "Allow",
            Effect::Deny => "Deny",
        }
    }
}

/// A list of patterns under `Action`/`Resource` (`negated` = false) or
/// `NotAction`/`NotResource` (`negated` = true).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternList {
    /// `true` for the `Not…` form: the statement applies when no pattern matches.
    pub negated: bool,
    /// The patterns as written.
    pub patterns: Vec<String>,
}

/// The kind of a principal entry in a `Principal` map.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PrincipalType {
    /// `AWS`: accounts, users, roles, sessions, `*`.
    Aws,
    /// `Service`: service principals such as `ec2.amazonaws.com`.
    Service,
    /// `Federated`: SAML/OIDC providers.
    Federated,
    /// `CanonicalUser`: S3 canonical user ids.
    CanonicalUser,
}

impl PrincipalType {
    /// The JSON key.
    pub fn as_str(&self) -> &'static str {
        match self {
            PrincipalType::Aws => "AWS",
            PrincipalType::Service => "Service",
            PrincipalType::Federated => "Federated",
            PrincipalType::CanonicalUser => "CanonicalUser",
        }
    }
}

/// The value of `Principal`/`NotPrincipal`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrincipalSpec {
    /// `true` for `NotPrincipal`.
    pub negated: bool,
    /// The listed principals as written; `"*"` is stored as `(Aws, "*")`.
    pub entries: Vec<(PrincipalType, String)>,
    /// The same entries, typed (see [`PrincipalSpec::new`]).
    pub values: Vec<super::principal::PrincipalValue>,
}

impl PrincipalSpec {
    /// Builds a spec, typing every entry once.
    pub fn new(negated: bool, entries: Vec<(PrincipalType, String)>) -> PrincipalSpec {
        let values = entries.iter().map(|(t, v)| super::principal::PrincipalValue::new(*t, v)).collect();
        PrincipalSpec { negated, entries, values }
    }
}

/// One condition: operator, key and the values OR-ed under it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The operator with its qualifiers.
    pub operator: Operator,
    /// The context key as written (compared case-insensitively).
    pub key: String,
    /// The values as text (`true`, `10.0`…), at least one.
    pub values: Vec<String>,
}

/// One statement of a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    /// `Sid`, if given.
    pub sid: Option<String>,
    /// `Allow` or `Deny`.
    pub effect: Effect,
    /// `Action` / `NotAction`.
    pub actions: PatternList,
    /// `Resource` / `NotResource`; `None` when absent (resource policies may omit
    /// it, meaning the resource the policy is attached to).
    pub resources: Option<PatternList>,
    /// `Principal` / `NotPrincipal`; `None` in identity-type policies.
    pub principal: Option<PrincipalSpec>,
    /// Conditions, all AND-ed; empty = always true.
    pub conditions: Vec<Condition>,
}

impl Statement {
    /// Whether `Action`/`NotAction` covers `action`, by direct interpretation
    /// (each pattern tokenised on every call; the compiled engine matches
    /// actions with automata instead).
    pub fn covers_action(&self, action: &str) -> bool {
        let named = self
            .actions
            .patterns
            .iter()
            .any(|p| super::pattern::tokens_match(&super::pattern::tokens(p), action, true));
        named != self.actions.negated
    }

    /// The context key its `Principal`/`NotPrincipal` reads: `aws:userid`
    /// when it lists a unique id (matched on the caller's id), else none.
    pub fn principal_key(&self) -> Option<&'static str> {
        let spec = self.principal.as_ref()?;
        let unique = spec.values.iter().any(|v| matches!(v, super::principal::PrincipalValue::UniqueId(_)));
        unique.then_some(super::principal::USERID_KEY)
    }

    /// The lower-cased keys of the policy variables the statement uses (in the
    /// resource part of `Resource`/`NotResource` patterns and in the values of
    /// operators that take variables), in order of appearance, without
    /// repeats. Empty unless `variables` (Version 2012-10-17).
    pub fn variable_keys(&self, variables: bool) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        if !variables {
            return keys;
        }
        let mut add = |text: &str| {
            for piece in super::variables::Template::parse(text, true).pieces {
                if let super::variables::Piece::Var { key, .. } = piece {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
        };
        for pattern in self.resources.iter().flat_map(|r| &r.patterns) {
            // Variables count only in the resource part of an ARN (§6).
            let resource_part = match pattern.match_indices(':').nth(4) {
                Some((i, _)) if pattern.starts_with("arn:") => &pattern[i + 1..],
                _ => pattern.as_str(),
            };
            add(resource_part);
        }
        for c in self.conditions.iter().filter(|c| c.operator.base.accepts_variables()) {
            for v in &c.values {
                add(v);
            }
        }
        keys
    }
}

/// A parsed, validated policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// A name for reports (usually the file name).
    pub name: String,
    /// The kind it was parsed as.
    pub kind: PolicyKind,
    /// The language version.
    pub version: Version,
    /// `Id`, if given.
    pub id: Option<String>,
    /// The statements, in document order.
    pub statements: Vec<Statement>,
}

impl Policy {
    /// Every context key the policy's statements read, as written, statement
    /// by statement (repeats kept): `aws:userid` where a `Principal` names a
    /// unique id, the condition keys, then the policy-variable keys. A key no
    /// policy of a set reads cannot change its decisions.
    pub fn keys_read(&self) -> impl Iterator<Item = String> + '_ {
        let variables = self.version.variables_enabled();
        self.statements.iter().flat_map(move |s| {
            let principal = s.principal_key().map(str::to_string);
            principal.into_iter().chain(s.conditions.iter().map(|c| c.key.clone())).chain(s.variable_keys(variables))
        })
    }

    /// The `Action`/`NotAction` entries of this policy that match no request
    /// (see [`action_problem`](super::action_problem)), each as
    /// `Statement[i].Action[j]: what is wrong and what it means here`. A
    /// dead entry in an Allow only grants less; in a Deny it denies nothing,
    /// in a `NotAction` it excludes nothing: callers print these for every
    /// command, not only `validate`.
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::policy::{parse_policy, PolicyKind};
    /// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"},
    ///     {"Effect":"Deny","Action":["s3:DeleteBucket","s3DeleteObject"],"Resource":"*"}]}"#, "p", PolicyKind::Identity)?;
    /// let w = p.action_warnings();
    /// assert_eq!(w.len(), 1);
    /// assert!(w[0].starts_with("Statement[1].Action[1]: expected `service:Action`"), "{}", w[0]);
    /// assert!(w[0].contains("this Deny never applies to it"), "{}", w[0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn action_warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, s) in self.statements.iter().enumerate() {
            let element = if s.actions.negated { "NotAction" } else { "Action" };
            for (j, a) in s.actions.patterns.iter().enumerate() {
                let Some(problem) = super::parse::action_problem(a) else { continue };
                let meaning = match (s.actions.negated, s.effect) {
                    (true, _) => "it matches no action, so it excludes nothing",
                    (false, Effect::Deny) => "it matches no action: this Deny never applies to it",
                    (false, Effect::Allow) => "it matches no action: it allows nothing",
                };
                out.push(format!("Statement[{i}].{element}[{j}]: {problem}; {meaning}"));
            }
        }
        out
    }

    /// The policy as an AWS policy document. Parsing it again gives an equal
    /// `Policy` (same kind); single values are written as arrays and condition
    /// values as strings, both of which AWS treats as equivalent (§1.2).
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::policy::{parse_policy, PolicyKind};
    /// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":"iam:*","Resource":"*"}}"#, "p", PolicyKind::Identity)?;
    /// let again = parse_policy(p.to_json().to_string().as_bytes(), "p", PolicyKind::Identity)?;
    /// assert_eq!(again, p);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Map, Value};
        let statements: Vec<Value> = self
            .statements
            .iter()
            .map(|s| {
                let mut m = Map::new();
                if let Some(sid) = &s.sid {
                    m.insert("Sid".into(), json!(sid));
                }
                m.insert("Effect".into(), json!(s.effect.as_str()));
                if let Some(p) = &s.principal {
                    let key = if p.negated { "NotPrincipal" } else { "Principal" };
                    let value = if p.entries == [(PrincipalType::Aws, "*".to_string())] {
                        json!("*")
                    } else {
                        let mut by_type: Map<String, Value> = Map::new();
                        for (t, v) in &p.entries {
                            let list = by_type.entry(t.as_str()).or_insert_with(|| json!([]));
                            if let Some(a) = list.as_array_mut() {
                                a.push(json!(v));
                            }
                        }
                        Value::Object(by_type)
                    };
                    m.insert(key.into(), value);
                }
                m.insert(if s.actions.negated { "NotAction" } else { "Action" }.into(), json!(s.actions.patterns));
                if let Some(r) = &s.resources {
                    m.insert(if r.negated { "NotResource" } else { "Resource" }.into(), json!(r.patterns));
                }
                if !s.conditions.is_empty() {
                    let mut ops: Map<String, Value> = Map::new();
                    for c in &s.conditions {
                        let keys = ops.entry(c.operator.to_string()).or_insert_with(|| json!({}));
                        if let Some(k) = keys.as_object_mut() {
                            k.insert(c.key.clone(), json!(c.values));
                        }
                    }
                    m.insert("Condition".into(), Value::Object(ops));
                }
                Value::Object(m)
            })
            .collect();
        let mut doc = Map::new();
        match self.version {
            Version::V2012_10_17 => {
                doc.insert("Version".into(), json!("2012-10-17"));
            }
            Version::V2008_10_17 => {
                doc.insert("Version".into(), json!("2008-10-17"));
            }
            Version::Absent => {}
        }
        if let Some(id) = &self.id {
            doc.insert("Id".into(), json!(id));
        }
        doc.insert("Statement".into(), Value::Array(statements));
        Value::Object(doc)
    }
}

/// [`Policy::action_warnings`] of every policy, once per policy name (a
/// managed policy attached to many principals is said once), each as
/// `name: warning`.
pub fn dead_action_warnings<'a>(policies: impl IntoIterator<Item = &'a Policy>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for p in policies {
        let warnings = p.action_warnings();
        if !warnings.is_empty() && seen.insert(p.name.as_str()) {
            out.extend(warnings.into_iter().map(|w| format!("{}: {w}", p.name)));
        }
    }
    out
}
