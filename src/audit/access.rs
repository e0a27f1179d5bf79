//! Access queries over whole accounts: **who can** do an action on a
//! resource ([`AccountModel::who_can`]), what **a principal can** do
//! ([`AccountModel::principal_can`], in [`sweep`]), and what one principal
//! **can access** on one resource ([`AccountModel::can_access`]).
//!
//! Beside replay in the audit application: it uses only the engine's public
//! API, the [`inventory`](super::inventory) (who has which policies) and the
//! [`catalog`](super::catalog) (which actions exist, their access levels and
//! resource types).
//!
//! An [`AccountModel`] compiles each distinct policy set of the inventory's
//! users and roles once, with the SCPs and RCPs given; a query builds
//! requests and decides them on those sets, in parallel. A resource's own
//! policy (bucket policy, key policy…) is compiled in when a query names that
//! resource.
//!
//! **Unknowns are answered as such.** By default the request context is open
//! (every key the query does not give is unknown, semantics §5.5; the
//! principal's tags are known from the authorization details): an allow that
//! needs MFA, a resource tag or a region comes back
//! [`Access::Conditional`] with the keys and the conditions it depends on,
//! never as a plain yes or no. [`ContextMode::Closed`] asks as
//! `simulate` does instead: unlisted keys are absent.
//!
//! **Resource patterns.** A resource may be a pattern (`arn:aws:s3:::data/*`):
//! it is decided as one request whose resource is the pattern's text, which
//! every statement covering the pattern matches; a Deny that covers only
//! part of the pattern does not match it, so it is listed under
//! [`Ruling::except`] rather than dropped.
//!
//! ```
//! use iamsim::audit::access::{AccessInputs, AccountModel, Access};
//! use iamsim::audit::inventory::Inventory;
//! let details = br#"{"UserDetailList": [{"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice",
//!   "UserPolicyList": [{"PolicyName": "mfa-reads", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
//!     {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::data/*",
//!      "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}}]},
//!   {"UserName": "bob", "Arn": "arn:aws:iam::111122223333:user/bob", "UserPolicyList": []}]}"#;
//! let mut inventory = Inventory::new();
//! inventory.load(details, "details.json", None)?;
//! let model = AccountModel::build(&inventory, AccessInputs::default())?;
//! let who = model.who_can(None, "s3:GetObject", "arn:aws:s3:::data/report.csv", None)?;
//! // Alice, only with MFA; Bob not at all.
//! assert_eq!(who.answers.len(), 1);
//! assert_eq!(who.answers[0].principal, "arn:aws:iam::111122223333:user/alice");
//! assert_eq!(who.answers[0].ruling.access, Access::Conditional);
//! assert_eq!(who.answers[0].ruling.depends_on, ["aws:MultiFactorAuthPresent"]);
//! assert_eq!(who.not_allowed, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod sweep;

use crate::audit::catalog::validate::{format_parts, resource_tokens, FormatPart};
use crate::audit::catalog::{ActionId, Catalog};
use crate::audit::inventory::Inventory;
use crate::audit::resource_policies::governing;
use crate::engine::compile::{CompileError, CompiledPolicySet};
use crate::engine::eval::{batch, Decision, DecisionKind};
use crate::engine::policy::pattern::{pattern_covers, patterns_intersect, tokens, Token};
use crate::engine::policy::{
    Effect, Layer, PatternList, Policy, PolicyKind, PolicySet, PrincipalValue, Statement, StatementRef, Version,
};
use crate::engine::request::{is_account_id, Context, Principal, Request, RequestError, RequestTime};
use rayon::prelude::*;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// A query that cannot be answered.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The principal asked about is not a user or role of the inventory.
    #[error("{0}: not a user or role of the authorization details")]
    UnknownPrincipal(String),
    /// The action is not `service:Action`.
    #[error("`{0}`: expected an action as service:ActionName (wildcards allowed)")]
    BadAction(String),
    /// A wildcard action needs the catalog to be expanded.
    #[error("`{0}`: a wildcard action is expanded with the catalog; give one (--catalog or $IAMSIM_CATALOG)")]
    NeedsCatalog(String),
    /// No catalog action matches the pattern.
    #[error("`{0}`: no action of the catalog matches it")]
    NoAction(String),
    /// No catalog action the pattern matches acts on the resource.
    #[error("`{action}`: none of the catalog's actions it matches acts on {resource} (their resource types' ARN formats do not fit it)")]
    NoActionOn {
        /// The action pattern.
        action: String,
        /// The resource.
        resource: String,
    },
    /// The resource is not an ARN where one is needed.
    #[error("`{0}`: expected a resource ARN (arn:partition:service:region:account:resource)")]
    BadResource(String),
    /// A principal named by the query or a resource policy cannot be read.
    #[error(transparent)]
    Principal(#[from] RequestError),
    /// A policy set (or the catalog's action automaton) exceeds the engine's limits.
    #[error(transparent)]
    Compile(#[from] CompileError),
}

/// What the organization and the resources add to every principal's policies.
#[derive(Clone, Debug, Default)]
pub struct AccessInputs {
    /// SCPs of the principals' accounts, one list per organization level, root first.
    pub scps: Vec<Vec<Policy>>,
    /// RCPs of the resources' accounts, one list per level, root first.
    pub rcps: Vec<Vec<Policy>>,
    /// Resource-based policies by the ARN they guard (an S3 bucket's policy
    /// also governs its objects).
    pub resource_policies: BTreeMap<String, Policy>,
    /// The accounts owning resources whose ARN does not name one (S3
    /// buckets), by the ARN their policy guards, as AWS Config records them.
    pub resource_owners: BTreeMap<String, String>,
    /// Context keys the question fixes (`aws:SourceIp`, `aws:RequestedRegion`…).
    pub context: Context,
    /// How keys the context does not list are read.
    pub mode: ContextMode,
}

/// How context keys a query does not give are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ContextMode {
    /// Unknown: a decision that depends on them is [`Access::Conditional`],
    /// naming them (the question "who could, under some request?").
    #[default]
    Open,
    /// Absent, and the request time is now (as `simulate` and AWS's policy
    /// simulator read a request).
    Closed,
}

impl AccessInputs {
    /// The context every question's requests start from: the keys given,
    /// read as [`AccessInputs::mode`] says.
    fn question_context(&self) -> Context {
        match self.mode {
            ContextMode::Open => self.context.clone().into_open_world(),
            ContextMode::Closed => {
                let mut closed = self.context.clone();
                closed.set_request_time(&RequestTime::now());
                closed
            }
        }
    }
}

/// The answer for one principal, action and resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    /// Allowed whatever the unknown keys are.
    Allowed,
    /// Allowed only for some values of keys the question left unknown
    /// ([`Ruling::depends_on`]; the decision was `indeterminate`), or only
    /// if a policy the question lacks allows it too (a KMS key's key
    /// policy; [`Ruling::note`] says which).
    Conditional,
    /// A Deny applies.
    Denied,
    /// No statement allows it (implicit deny).
    NotAllowed,
}

impl Access {
    /// The access a decision gives.
    pub fn of(kind: DecisionKind) -> Access {
        match kind {
            DecisionKind::Allowed => Access::Allowed,
            DecisionKind::Indeterminate => Access::Conditional,
            DecisionKind::ExplicitDeny => Access::Denied,
            DecisionKind::ImplicitDeny => Access::NotAllowed,
        }
    }

    /// `allowed`, `conditional`, `denied` or `not_allowed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Access::Allowed => "allowed",
            Access::Conditional => "conditional",
            Access::Denied => "denied",
            Access::NotAllowed => "not_allowed",
        }
    }

    /// Allowed, or allowed under some values of the unknown keys.
    pub fn may_allow(&self) -> bool {
        matches!(self, Access::Allowed | Access::Conditional)
    }
}

/// What kind of principal an answer is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// An IAM user of the inventory.
    User,
    /// An IAM role of the inventory (answered for its sessions).
    Role,
    /// A principal of another account, or one the inventory does not list,
    /// named by the resource policy: answered for the resource's side only.
    External,
    /// A whole account named by the resource policy.
    Account,
    /// A service principal named by the resource policy.
    Service,
    /// Anyone (`"Principal": "*"`), including anonymous callers.
    Anyone,
}

/// One statement that decided an answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatementName {
    /// `Allow` or `Deny`.
    pub effect: &'static str,
    /// The layer (`identity`, `permissions boundary`, `scp level 0`…).
    pub layer: String,
    /// The policy's name.
    pub policy: String,
    /// The statement's index in the policy.
    pub statement_index: u32,
    /// Its `Sid`.
    pub sid: Option<String>,
}

impl StatementName {
    /// The statement `r` of `set`.
    pub fn of(set: &PolicySet, r: StatementRef) -> Option<StatementName> {
        let (policy, stmt) = set.get(r)?;
        Some(StatementName {
            effect: stmt.effect.as_str(),
            layer: r.layer.to_string(),
            policy: policy.name.clone(),
            statement_index: r.statement,
            sid: stmt.sid.clone(),
        })
    }
}

impl std::fmt::Display for StatementName {
    /// `Allow identity node.json statement 0 (Sid)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {} statement {}", self.effect, self.layer, self.policy, self.statement_index)?;
        match &self.sid {
            Some(sid) => write!(f, " ({sid})"),
            None => Ok(()),
        }
    }
}

/// An access and what it rests on: the part of an answer that does not
/// depend on who asked ([`Answer`] adds the principal, action and resource;
/// a [`sweep::Grant`] the resource pattern).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Ruling {
    /// The answer.
    pub access: Access,
    /// The engine's decision it rests on.
    pub decision: DecisionKind,
    /// The statements that decided it (the allowing ones, or the denying ones).
    pub statements: Vec<StatementName>,
    /// For [`Access::Conditional`]: the context keys, as policies write them,
    /// whose values decide.
    pub depends_on: Vec<String>,
    /// The conditions on those keys, as the applicable statements write them:
    /// `Allow identity p statement 0: Bool aws:MultiFactorAuthPresent [true]`.
    pub conditions: Vec<String>,
    /// Keys the decision read that the (closed) context lacked.
    pub missing_context_keys: Vec<String>,
    /// Parts of a resource pattern a Deny takes out (its `Resource` overlaps
    /// the pattern without covering it): `pattern (statement)`.
    pub except: Vec<String>,
    /// For a denied or not-allowed answer: the layer that lacked an allow
    /// or denied it (`permissions boundary`, `scp level 1`…).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limited_by: Option<String>,
    /// What the answer assumes, when it assumes anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The answer for one principal, action and resource.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Answer {
    /// The principal: a user or role ARN, an account, a service, or `*`.
    pub principal: String,
    /// What kind of principal it is.
    pub principal_type: PrincipalKind,
    /// The action.
    pub action: String,
    /// The resource (or resource pattern) asked about.
    pub resource: String,
    /// The access and what it rests on.
    #[serde(flatten)]
    pub ruling: Ruling,
}

/// Who can do an action on a resource.
#[derive(Clone, Debug, Serialize)]
pub struct WhoCan {
    /// The actions asked about (a wildcard expanded with the catalog).
    pub actions: Vec<String>,
    /// The resource (or pattern).
    pub resource: String,
    /// The name of the resource policy compiled in, if one governs the resource.
    pub resource_policy: Option<String>,
    /// Principals considered (users, roles, and those the resource policy names).
    pub principals: usize,
    /// Every answer [`Access::Allowed`] or [`Access::Conditional`], by
    /// principal then action.
    pub answers: Vec<Answer>,
    /// (principal, action) pairs a Deny refuses.
    pub denied: usize,
    /// (principal, action) pairs no statement allows.
    pub not_allowed: usize,
}

/// One user or role of the inventory.
struct Subject {
    arn: String,
    kind: PrincipalKind,
    principal: Principal,
    /// Index into [`AccountModel::sets`].
    set: usize,
    /// The request context: the question's, plus the principal's tags.
    context: Context,
    account: String,
    /// The user name (for `${aws:username}`).
    name: Option<String>,
}

/// Every user and role of an inventory with its policies compiled once.
/// `Send + Sync`: queries run in parallel on a shared model.
pub struct AccountModel {
    subjects: Vec<Subject>,
    /// Subject index by ARN.
    by_arn: HashMap<String, usize>,
    sets: Vec<Arc<CompiledPolicySet>>,
    /// Per set, its identity policies as distinct-policy ids (policies equal
    /// in name and content share one id across sets).
    identity_ids: Vec<Vec<usize>>,
    /// Per distinct-policy id, where it first appears: (set, position in
    /// its identity policies); a boundary's position is past them.
    policy_home: Vec<(usize, usize)>,
    inputs: AccessInputs,
    accounts: BTreeSet<String>,
}

impl AccountModel {
    /// Compiles the policy set of every user and role of `inventory` (one
    /// compilation per distinct set of policies, in parallel), with the
    /// organization's policies and the question's context from `inputs`.
    ///
    /// # Errors
    /// A principal ARN the request model cannot read, or a policy set over
    /// the engine's limits.
    pub fn build(inventory: &Inventory, inputs: AccessInputs) -> Result<AccountModel, AccessError> {
        // Policies are compared by content, once each: roles that share
        // their attachments share one compiled set, and the sweep expands
        // a policy attached to a thousand roles once.
        let mut policy_ids: HashMap<String, usize> = HashMap::new();
        let mut policy_home: Vec<(usize, usize)> = Vec::new();
        let mut set_ids: HashMap<Vec<usize>, usize> = HashMap::new();
        let mut identity_ids: Vec<Vec<usize>> = Vec::new();
        let mut sets: Vec<PolicySet> = Vec::new();
        let mut subjects = Vec::new();
        let question = inputs.question_context();
        for identity in inventory.identities() {
            let kind = if Inventory::is_role(&identity.arn) { PrincipalKind::Role } else { PrincipalKind::User };
            let principal = Principal::parse(&identity.arn)?;
            let Some(mut set) = inventory.policy_set(&identity.arn, &inputs.scps) else { continue };
            set.rcps.clone_from(&inputs.rcps);
            let next = sets.len();
            let ids: Vec<usize> = set
                .identity
                .iter()
                .chain(&set.permissions_boundary)
                .enumerate()
                .map(|(position, p)| {
                    let fresh = policy_home.len();
                    // As a boundary a policy gets an id of its own: the sweep
                    // reads identity policies' statements by id.
                    let role = if position < set.identity.len() { "identity" } else { "boundary" };
                    let id = *policy_ids.entry(format!("{role}\u{0}{}\u{0}{}", p.name, p.to_json())).or_insert(fresh);
                    if id == fresh {
                        // A policy not seen before makes its set new too.
                        policy_home.push((next, position));
                    }
                    id
                })
                .collect();
            // The boundary is told apart from a last identity policy.
            let mut key = ids.clone();
            key.insert(set.identity.len(), usize::MAX);
            let index = *set_ids.entry(key).or_insert(next);
            if index == next {
                identity_ids.push(ids.get(..set.identity.len()).unwrap_or_default().to_vec());
                sets.push(set);
            }
            let mut context = question.clone();
            context.insert_principal_tags(&identity.tags);
            let account = principal.account().unwrap_or_default().to_string();
            let name = match &principal {
                Principal::User { name, .. } => Some(name.clone()),
                _ => None,
            };
            subjects.push(Subject { arn: identity.arn.clone(), kind, principal, set: index, context, account, name });
        }
        let sets =
            sets.into_par_iter().map(|s| CompiledPolicySet::compile(s).map(Arc::new)).collect::<Result<Vec<_>, _>>()?;
        let accounts = subjects.iter().map(|s| s.account.clone()).collect();
        let by_arn = subjects.iter().enumerate().map(|(i, s)| (s.arn.clone(), i)).collect();
        Ok(AccountModel { subjects, by_arn, sets, identity_ids, policy_home, inputs, accounts })
    }

    /// The users and roles, by ARN.
    pub fn principals(&self) -> impl Iterator<Item = &str> {
        self.subjects.iter().map(|s| s.arn.as_str())
    }

    /// How many distinct policy sets were compiled.
    pub fn distinct_sets(&self) -> usize {
        self.sets.len()
    }

    /// The request the model decides for `principal` doing `action` on
    /// `resource` (owned by `resource_account`, or the principal's account):
    /// the principal's context, tags and context mode. With
    /// [`AccountModel::policy_set`], what a check of any answer re-decides.
    ///
    /// # Errors
    /// The principal is not a user or role of the model.
    pub fn request_for(
        &self,
        principal: &str,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
    ) -> Result<Request, AccessError> {
        let subject = self.subject(principal)?;
        Ok(self.request(subject, action, resource, Some(resource_account.unwrap_or(&subject.account))))
    }

    /// The policies `principal`'s requests are decided under (without a
    /// resource policy).
    ///
    /// # Errors
    /// The principal is not a user or role of the model.
    pub fn policy_set(&self, principal: &str) -> Result<&PolicySet, AccessError> {
        let subject = self.subject(principal)?;
        Ok(self.sets[subject.set].policy_set())
    }

    fn subject(&self, arn: &str) -> Result<&Subject, AccessError> {
        self.by_arn
            .get(arn)
            .and_then(|i| self.subjects.get(*i))
            .ok_or_else(|| AccessError::UnknownPrincipal(arn.to_string()))
    }

    /// The resource policy governing `resource`, if one was given.
    fn resource_policy(&self, resource: &str) -> Option<&Policy> {
        governing(&self.inputs.resource_policies, resource).map(|(_, p)| p)
    }

    /// Every principal that could do `action` (a wildcard expands with the
    /// catalog) on `resource` (an ARN or an ARN pattern): the inventory's
    /// users and roles under their full policy sets, and the principals a
    /// resource policy governing `resource` names that the inventory does
    /// not list (another account's, services, anyone), answered for the
    /// resource's side. `resource_account` names the resource's owner where
    /// the ARN does not (S3); by default the owner the resource policies'
    /// source recorded, else the inventory's account when it holds one,
    /// else each principal's own account.
    ///
    /// A resource policy governing `resource` is compiled into each distinct
    /// policy set for the query (in parallel); without one, the query only
    /// decides.
    ///
    /// # Errors
    /// A malformed action, a wildcard without a catalog or matching nothing,
    /// or a resource policy the engine cannot compile with a set.
    pub fn who_can(
        &self,
        catalog: Option<&Catalog>,
        action: &str,
        resource: &str,
        resource_account: Option<&str>,
    ) -> Result<WhoCan, AccessError> {
        let actions = expand_action(catalog, action, resource)?;
        let owner = self.resource_owner(resource, resource_account);
        let resource_account = owner.as_deref();
        let policy = self.resource_policy(resource).cloned();
        let sets = self.sets_with(policy.as_ref())?;
        let per_subject: Vec<Vec<Answer>> = self
            .subjects
            .par_iter()
            .map(|s| {
                // Each subject's set index comes from building `sets`.
                let set = &sets[s.set];
                let mut out = Vec::new();
                for a in &actions {
                    out.extend(answers_on(set, a, resource, |r| {
                        let req = self.request(s, a, r, resource_account);
                        let d = batch::with_thread_scratch(set, |scratch| set.decide(&req, scratch));
                        answer(set, &req, &d, s.arn.clone(), s.kind, None)
                    }));
                }
                out
            })
            .collect();
        let mut answers: Vec<Answer> = per_subject.into_iter().flatten().collect();
        let mut principals = self.subjects.len();
        if let Some(policy) = &policy {
            let external = self.named_outside(policy)?;
            principals += external.len();
            for outsider in &external {
                answers.extend(self.external_answers(policy, outsider, &actions, resource, resource_account)?);
            }
        }
        let denied = answers.iter().filter(|a| a.ruling.access == Access::Denied).count();
        let not_allowed = answers.iter().filter(|a| a.ruling.access == Access::NotAllowed).count();
        answers.retain(|a| a.ruling.access.may_allow());
        Ok(WhoCan {
            actions,
            resource: resource.to_string(),
            resource_policy: policy.map(|p| p.name),
            principals,
            denied,
            not_allowed,
            answers,
        })
    }

    /// What `principal` (a user or role of the inventory) can do to
    /// `resource`: every action of the resource's service whose resource
    /// types' ARN formats fit it, each decided under the principal's policies
    /// and the resource's own policy if one was given. Answers in catalog
    /// order, every access included.
    ///
    /// # Errors
    /// The principal is not in the inventory, the resource is not an ARN,
    /// or the set with the resource policy cannot be compiled.
    pub fn can_access(
        &self,
        catalog: &Catalog,
        principal: &str,
        resource: &str,
        resource_account: Option<&str>,
    ) -> Result<Vec<Answer>, AccessError> {
        let subject = self.subject(principal)?;
        let owner = self.resource_owner(resource, resource_account);
        let resource_account = owner.as_deref();
        let arn = crate::engine::policy::Arn::parse(resource)
            .filter(|a| !a.service.is_empty())
            .ok_or_else(|| AccessError::BadResource(resource.to_string()))?;
        let Some((service_index, service)) = catalog.service(arn.service) else { return Ok(Vec::new()) };
        let set = match self.resource_policy(resource) {
            Some(p) => Arc::new(with_resource_policy(&self.sets[subject.set], p)?),
            None => Arc::clone(&self.sets[subject.set]),
        };
        let mut scratch = crate::engine::eval::Scratch::new(&set);
        let mut out = Vec::new();
        for i in 0..service.actions.len() {
            let id = ActionId { service: service_index, action: u32::try_from(i).unwrap_or(u32::MAX) };
            if !catalog.resource_formats(id).fits_pattern(resource) {
                continue;
            }
            let action = catalog.action_name(id);
            let req = self.request(subject, &action, resource, resource_account);
            let d = set.decide(&req, &mut scratch);
            out.push(answer(&set, &req, &d, subject.arn.clone(), subject.kind, None));
        }
        Ok(out)
    }

    /// The account owning `resource`: as given, else as the resource
    /// policies' source recorded it, else the ARN's, else the model's one
    /// account when it has only one; `None` (each principal's own account)
    /// otherwise.
    fn resource_owner(&self, resource: &str, given: Option<&str>) -> Option<String> {
        if let Some(given) = given {
            return Some(given.to_string());
        }
        if let Some((_, owner)) = governing(&self.inputs.resource_owners, resource) {
            return Some(owner.clone());
        }
        let in_arn = crate::engine::policy::Arn::parse(resource).map(|a| a.account).filter(|a| is_account_id(a));
        match (in_arn, self.accounts.len()) {
            (Some(a), _) => Some(a.to_string()),
            (None, 1) => self.accounts.first().cloned(),
            _ => None,
        }
    }

    /// The request `subject` would send.
    fn request(&self, subject: &Subject, action: &str, resource: &str, resource_account: Option<&str>) -> Request {
        let mut req = Request::new(subject.principal.clone(), action, resource);
        req.context = subject.context.clone();
        req.resource_account = resource_account.map(str::to_string);
        req
    }

    /// The compiled sets, with `policy` as every set's resource policy.
    fn sets_with(&self, policy: Option<&Policy>) -> Result<Vec<Arc<CompiledPolicySet>>, AccessError> {
        match policy {
            None => Ok(self.sets.clone()),
            Some(p) => Ok(self
                .sets
                .par_iter()
                .map(|s| with_resource_policy(s, p).map(Arc::new))
                .collect::<Result<Vec<_>, _>>()?),
        }
    }

    /// The principals `policy` names that the inventory does not list.
    fn named_outside(&self, policy: &Policy) -> Result<Vec<Outsider>, AccessError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let listed: BTreeSet<&str> = self.subjects.iter().map(|s| s.arn.as_str()).collect();
        for stmt in policy.statements.iter().filter(|s| s.effect == Effect::Allow) {
            let Some(spec) = stmt.principal.as_ref().filter(|p| !p.negated) else { continue };
            for value in &spec.values {
                let (label, kind, principal) = match value {
                    PrincipalValue::Any => ("*".to_string(), PrincipalKind::Anyone, Principal::Anonymous),
                    PrincipalValue::Account(a) => {
                        let account =
                            a.strip_prefix("arn:aws:iam::").map_or(a.as_str(), |r| r.trim_end_matches(":root"));
                        if !is_account_id(account) {
                            continue;
                        }
                        (account.to_string(), PrincipalKind::Account, Principal::parse(account)?)
                    }
                    PrincipalValue::User(arn) if !listed.contains(arn.as_str()) => {
                        (arn.clone(), PrincipalKind::External, Principal::parse(arn)?)
                    }
                    PrincipalValue::Role { account, name } => {
                        let known = self.subjects.iter().any(|s| {
                            matches!(&s.principal, Principal::RoleSession { account: a, role_name, .. } if a == account && role_name == name)
                        });
                        if known {
                            continue;
                        }
                        let arn = format!("arn:aws:iam::{account}:role/{name}");
                        (arn.clone(), PrincipalKind::External, Principal::parse(&arn)?)
                    }
                    PrincipalValue::Session(arn) => (arn.clone(), PrincipalKind::External, Principal::parse(arn)?),
                    PrincipalValue::Service(name) => (name.clone(), PrincipalKind::Service, Principal::parse(name)?),
                    _ => continue,
                };
                if seen.insert(label.clone()) {
                    out.push(Outsider { label, kind, principal });
                }
            }
        }
        Ok(out)
    }

    /// Answers for a principal outside the inventory: its own account's
    /// identity policies are not known, so they are taken to allow
    /// everything, and the answer says so.
    fn external_answers(
        &self,
        policy: &Policy,
        outsider: &Outsider,
        actions: &[String],
        resource: &str,
        resource_account: Option<&str>,
    ) -> Result<Vec<Answer>, AccessError> {
        let Outsider { label, kind, principal } = outsider;
        let kind = *kind;
        let own = principal.account().is_some_and(|a| self.accounts.contains(a));
        let identity = if principal.has_identity_policies() { vec![unknown_identity_policies()] } else { Vec::new() };
        let set = CompiledPolicySet::compile(PolicySet {
            identity,
            resource: Some(policy.clone()),
            rcps: self.inputs.rcps.clone(),
            scps: if own { self.inputs.scps.clone() } else { Vec::new() },
            ..PolicySet::default()
        })?;
        let mut scratch = crate::engine::eval::Scratch::new(&set);
        let context = self.inputs.question_context();
        let note = match kind {
            PrincipalKind::Account => Some(format!(
                "the resource policy allows account {label}: any of its principals whose own identity policies (and SCPs) allow it too"
            )),
            PrincipalKind::External if own => Some("not in the authorization details: its identity policies are not known".to_string()),
            PrincipalKind::External => Some("another account's principal: if its own identity policies (and SCPs) allow it too".to_string()),
            _ => None,
        };
        let mut out = Vec::new();
        for a in actions {
            out.extend(answers_on(&set, a, resource, |r| {
                let mut req = Request::new(principal.clone(), a, r);
                req.context = context.clone();
                req.resource_account = resource_account.map(str::to_string);
                let d = set.decide(&req, &mut scratch);
                answer(&set, &req, &d, label.to_string(), kind, note.clone())
            }));
        }
        Ok(out)
    }
}

/// A principal a resource policy names that the inventory does not list.
struct Outsider {
    /// How answers name it: its ARN, account, service or `*`.
    label: String,
    kind: PrincipalKind,
    /// The principal decided for.
    principal: Principal,
}

/// The name of the stand-in for identity policies that are not known.
const UNKNOWN_IDENTITY: &str = "(their own identity policies: not known, taken to allow)";

/// Allows everything: stands for a principal's identity policies that the
/// question does not have, so what is decided is the resource's side.
fn unknown_identity_policies() -> Policy {
    let everything = |p: &str| PatternList { negated: false, patterns: vec![p.to_string()] };
    Policy {
        name: UNKNOWN_IDENTITY.to_string(),
        kind: PolicyKind::Identity,
        version: Version::V2012_10_17,
        id: None,
        statements: vec![Statement {
            sid: None,
            effect: Effect::Allow,
            actions: everything("*"),
            resources: Some(everything("*")),
            principal: None,
            conditions: Vec::new(),
        }],
    }
}

/// `set`'s policies with `policy` as the resource policy, compiled.
fn with_resource_policy(set: &CompiledPolicySet, policy: &Policy) -> Result<CompiledPolicySet, CompileError> {
    let mut plain = set.policy_set().clone();
    plain.resource = Some(policy.clone());
    CompiledPolicySet::compile(plain)
}

/// The actions `action` names: itself when it has no wildcard, else the
/// catalog's actions it matches that act on `resource` (one of their
/// resource types fits it).
fn expand_action(catalog: Option<&Catalog>, action: &str, resource: &str) -> Result<Vec<String>, AccessError> {
    let Some((service, name)) = action.split_once(':') else { return Err(AccessError::BadAction(action.to_string())) };
    if service.is_empty() || name.is_empty() {
        return Err(AccessError::BadAction(action.to_string()));
    }
    if !action.contains(['*', '?']) {
        return Ok(vec![action.to_string()]);
    }
    let catalog = catalog.ok_or_else(|| AccessError::NeedsCatalog(action.to_string()))?;
    let ids = catalog.expand_patterns(&[action.to_string()])?;
    if ids.is_empty() {
        return Err(AccessError::NoAction(action.to_string()));
    }
    // Only the actions that can act on the resource: `s3:Put*` on an object
    // is not asked as `s3:PutBucketPolicy`. On `*`, every action.
    let acts_on = |id: ActionId| resource == "*" || catalog.resource_formats(id).fits_pattern(resource);
    let names: Vec<String> = ids.into_iter().filter(|id| acts_on(*id)).map(|id| catalog.action_name(id)).collect();
    if names.is_empty() {
        return Err(AccessError::NoActionOn { action: action.to_string(), resource: resource.to_string() });
    }
    Ok(names)
}

/// A catalog ARN format as a pattern: `${Account}` is `account` when given,
/// the partition `aws`, every other `${…}` `*`.
fn format_pattern(format: &str, account: Option<&str>) -> String {
    replace_placeholders(format, |name, out| match (name, account) {
        ("Partition", _) => out.push_str("aws"),
        ("Account", Some(a)) => out.push_str(a),
        _ => out.push('*'),
    })
}

/// `text` with each `${name}` replaced by what `with` writes for `name`; an
/// unclosed `${` stays as written.
fn replace_placeholders(text: &str, mut with: impl FnMut(&str, &mut String)) -> String {
    let mut out = String::with_capacity(text.len());
    for part in format_parts(text) {
        match part {
            FormatPart::Text(t) => out.push_str(t),
            FormatPart::Var(name) => with(name, &mut out),
        }
    }
    out
}

/// `d` for `req` as an [`Answer`]: the deciding statements, the keys and
/// conditions an indeterminate answer depends on, and the Denies that take
/// part of a resource pattern out.
fn answer(
    set: &CompiledPolicySet,
    req: &Request,
    d: &Decision,
    principal: String,
    principal_type: PrincipalKind,
    note: Option<String>,
) -> Answer {
    let policies = set.policy_set();
    let statements = d.statements.iter().filter_map(|r| StatementName::of(policies, *r)).collect();
    let keys = |ids: &[crate::engine::eval::KeyId]| -> Vec<String> {
        ids.iter().filter_map(|k| set.key_as_written(*k)).map(str::to_string).collect()
    };
    let mut access = Access::of(d.kind);
    let mut note = note;
    if access == Access::Allowed && policies.resource.is_none() && crate::engine::eval::key_policy_governs(req) {
        // §7.4: on a KMS key, IAM policies count only where the key policy
        // lets them (AWS KMS "Default key policy",
        // https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html).
        access = Access::Conditional;
        let said = note.take().map(|n| format!("{n}; ")).unwrap_or_default();
        note = Some(format!(
            "{said}a KMS key: the identity policies allow it, which counts only if the key policy allows the account's IAM policies to (no key policy was given)"
        ));
    }
    // Unknown keys matter only where they leave the decision open.
    let depends_on = if access == Access::Conditional { keys(&d.unknown_keys) } else { Vec::new() };
    let conditions = if depends_on.is_empty() { Vec::new() } else { conditions_on(policies, req, &depends_on) };
    let except = if access.may_allow() { carve_outs(policies, &req.action, &req.resource) } else { Vec::new() };
    let limited_by = match d.kind {
        DecisionKind::ImplicitDeny => d.missing_allow.map(|l| l.to_string()),
        DecisionKind::ExplicitDeny => {
            let layers: BTreeSet<String> = d.statements.iter().map(|r| r.layer.to_string()).collect();
            Some(layers.into_iter().collect::<Vec<_>>().join(", "))
        }
        _ => None,
    };
    Answer {
        principal,
        principal_type,
        action: req.action.clone(),
        resource: req.resource.clone(),
        ruling: Ruling {
            access,
            decision: d.kind,
            statements,
            depends_on,
            conditions,
            missing_context_keys: keys(&d.missing_keys),
            except,
            limited_by,
            note,
        },
    }
}

/// The answer for `action` on `resource`, from `decide`; when `resource` is
/// a pattern not allowed as a whole, also the answers on each narrower
/// pattern inside it that an identity or resource policy's Allow names
/// (`arn:aws:s3:::data/app/*` inside `arn:aws:s3:::data/*`): those that
/// may be allowed, if any, else the whole's answer.
fn answers_on(
    set: &CompiledPolicySet,
    action: &str,
    resource: &str,
    mut decide: impl FnMut(&str) -> Answer,
) -> Vec<Answer> {
    let whole = decide(resource);
    if whole.ruling.access.may_allow() || !resource.contains(['*', '?']) {
        return vec![whole];
    }
    let wanted = tokens(resource);
    let mut inside: Vec<&str> = Vec::new();
    for (r, _, stmt) in set.policy_set().statements() {
        if stmt.effect != Effect::Allow
            || !matches!(r.layer, Layer::Identity | Layer::Resource)
            || !stmt.covers_action(action)
        {
            continue;
        }
        let Some(list) = stmt.resources.as_ref().filter(|l| !l.negated) else { continue };
        for p in &list.patterns {
            if p != resource && !inside.contains(&p.as_str()) && pattern_covers(&wanted, &tokens(p)) {
                inside.push(p);
            }
        }
    }
    let mut parts = Vec::new();
    for p in inside {
        let mut part = decide(p);
        if part.ruling.access.may_allow() {
            let said = part.ruling.note.take().map(|n| format!("; {n}")).unwrap_or_default();
            part.ruling.note = Some(format!("on part of {resource}{said}"));
            parts.push(part);
        }
    }
    // Allowed on a part: that is the answer, not "not allowed" on the whole.
    if parts.is_empty() {
        parts.push(whole);
    }
    parts
}

/// Whether `stmt`'s `Resource`/`NotResource` can apply to (some of) `resource`.
fn resource_overlaps(stmt: &Statement, resource: &[Token]) -> bool {
    match &stmt.resources {
        None => true,
        Some(list) if list.negated => !list.patterns.iter().any(|p| pattern_covers(&tokens(p), resource)),
        Some(list) => list.patterns.iter().any(|p| patterns_intersect(&resource_tokens(p), resource)),
    }
}

/// The conditions on `keys` (as written) of the statements that can apply
/// to `req`'s action and resource.
fn conditions_on(policies: &PolicySet, req: &Request, keys: &[String]) -> Vec<String> {
    let resource = tokens(&req.resource);
    let mut out = Vec::new();
    let on_keys = |c: &&crate::engine::policy::Condition| keys.iter().any(|k| k.eq_ignore_ascii_case(&c.key));
    for (r, policy, stmt) in policies.statements() {
        // The cheap test first: most statements have no condition on these keys.
        if !stmt.conditions.iter().any(|c| on_keys(&c))
            || !stmt.covers_action(&req.action)
            || !resource_overlaps(stmt, &resource)
        {
            continue;
        }
        for c in stmt.conditions.iter().filter(on_keys) {
            let line = format!(
                "{} {} {} statement {}: {} {} [{}]",
                stmt.effect.as_str(),
                r.layer,
                policy.name,
                r.statement,
                c.operator,
                c.key,
                c.values.join(", ")
            );
            if !out.contains(&line) {
                out.push(line);
            }
        }
    }
    out
}

/// The Deny statements whose `Resource` overlaps the pattern `resource`
/// without covering it (so they did not match its text): `pattern (statement)`.
fn carve_outs(policies: &PolicySet, action: &str, resource: &str) -> Vec<String> {
    if !resource.contains(['*', '?']) {
        return Vec::new();
    }
    let wanted = tokens(resource);
    let mut out = Vec::new();
    for (r, _, stmt) in policies.statements() {
        if stmt.effect != Effect::Deny || !stmt.covers_action(action) {
            continue;
        }
        let Some(list) = stmt.resources.as_ref().filter(|l| !l.negated) else { continue };
        for p in &list.patterns {
            // Listed when it may overlap and is not sure to cover: a
            // variable is any value for the first, its own text for the second.
            if patterns_intersect(&resource_tokens(p), &wanted) && !pattern_covers(&tokens(p), &wanted) {
                let by = StatementName::of(policies, r).map(|s| s.to_string()).unwrap_or_default();
                out.push(format!("{p} ({by})"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stand_in_for_unknown_identity_policies_allows_everything() {
        let p = unknown_identity_policies();
        let doc = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        let parsed = crate::engine::policy::parse_policy(doc, UNKNOWN_IDENTITY, PolicyKind::Identity).unwrap();
        assert_eq!(p, parsed);
    }

    #[test]
    fn a_policy_seen_first_as_a_boundary_still_grants_as_an_identity_policy() {
        let details = br#"{"RoleDetailList": [
          {"RoleName": "bounded", "Arn": "arn:aws:iam::111122223333:role/bounded", "RolePolicyList": [],
           "AttachedManagedPolicies": [], "PermissionsBoundary": {"PermissionsBoundaryArn": "arn:aws:iam::111122223333:policy/Read"}},
          {"RoleName": "reader", "Arn": "arn:aws:iam::111122223333:role/reader", "RolePolicyList": [],
           "AttachedManagedPolicies": [{"PolicyName": "Read", "PolicyArn": "arn:aws:iam::111122223333:policy/Read"}]}],
          "Policies": [{"PolicyName": "Read", "Arn": "arn:aws:iam::111122223333:policy/Read", "PolicyVersionList": [
            {"VersionId": "v1", "IsDefaultVersion": true, "Document": {"Version": "2012-10-17",
              "Statement": {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}}}]}]}"#;
        let mut inventory = Inventory::new();
        inventory.load(details, "details.json", None).unwrap();
        let model = AccountModel::build(&inventory, AccessInputs::default()).unwrap();
        assert_eq!(model.distinct_sets(), 2);
        let catalog = Catalog::load(std::path::Path::new("corpus/catalog/service-reference")).unwrap();
        let plan = model.sweep_plan(&catalog).unwrap();
        let filter = sweep::SweepFilter::default();
        let reader = model.principal_can(&plan, "arn:aws:iam::111122223333:role/reader", &filter).unwrap();
        assert_eq!(reader.services[0].actions[0].action, "s3:GetObject");
        let bounded = model.principal_can(&plan, "arn:aws:iam::111122223333:role/bounded", &filter).unwrap();
        assert_eq!(bounded.allowed_actions(), 0);
    }

    #[test]
    fn formats_become_patterns() {
        let f = "arn:${Partition}:ec2:${Region}:${Account}:instance/${InstanceId}";
        assert_eq!(format_pattern(f, Some("111122223333")), "arn:aws:ec2:*:111122223333:instance/*");
        assert_eq!(format_pattern(f, None), "arn:aws:ec2:*:*:instance/*");
        assert_eq!(format_pattern("arn:${Partition", None), "arn:${Partition");
    }
}
