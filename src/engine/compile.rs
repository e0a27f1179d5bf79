//! The compiler: a [`PolicySet`] becomes an immutable, `Send + Sync`
//! [`CompiledPolicySet`]: every action pattern of every statement in one
//! automaton ([`action`]), resource patterns as ARN matchers and conditions
//! as typed predicates (engine-internal `resource` and `condition`).
//!
//! Second stage of the pipeline: `policy` → `compile` → `eval`. Nothing here
//! evaluates requests; `eval` runs these structures.

pub mod action;
pub(in crate::engine) mod condition;
pub mod glob;
pub(in crate::engine) mod resource;

use crate::engine::policy::set::{KeyId, Shape};
use crate::engine::policy::{Effect, PolicySet, PrincipalSpec, StatementRef};
use action::{ActionIndex, ActionIndexBuilder};
use condition::CompiledCondition;
use resource::ResourceMatcher;

/// A policy set could not be compiled: what kind of limit it broke, and how.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot compile the policy set: {message}")]
pub struct CompileError {
    kind: CompileErrorKind,
    message: String,
}

/// The kinds of [`CompileError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CompileErrorKind {
    /// More SCP or RCP levels than [`MAX_GUARDRAIL_LEVELS`].
    TooManyLevels,
    /// More statements than a statement id can number (2^32).
    TooManyStatements,
    /// The action automaton exceeded its size limit.
    AutomatonTooLarge,
}

impl CompileError {
    pub(in crate::engine) fn new(kind: CompileErrorKind, message: String) -> CompileError {
        CompileError { kind, message }
    }
    /// What kind of limit.
    pub fn kind(&self) -> CompileErrorKind {
        self.kind
    }
}

/// One statement, compiled.
#[derive(Debug)]
pub struct CompiledStatement {
    /// Where it came from.
    pub sref: StatementRef,
    /// Its effect.
    pub effect: Effect,
    /// `(negated, patterns)`; `None` = no Resource element (the attached resource).
    pub resources: Option<(bool, Box<[ResourceMatcher]>)>,
    /// The principal element, for resource-based policies and RCPs.
    pub principal: Option<PrincipalSpec>,
    /// The key the principal element reads (see [`crate::engine::policy::Statement::principal_key`]).
    pub principal_key: Option<KeyId>,
    /// Conditions, AND-ed.
    pub conditions: Box<[CompiledCondition]>,
    /// Policy-variable keys the statement resolves (reported like condition keys).
    pub variables: Box<[(KeyId, Box<str>)]>,
}

impl CompiledStatement {
    /// Whether the statement applies to every request for its actions: no
    /// condition, no policy variable, no `Principal`, and no `Resource` element
    /// or one listing `*` (a `NotResource` never qualifies).
    pub fn always_hits(&self) -> bool {
        let every_resource = match &self.resources {
            None => true,
            Some((negated, matchers)) => !negated && matchers.iter().any(|m| matches!(m, ResourceMatcher::Any)),
        };
        every_resource && self.principal.is_none() && self.conditions.is_empty() && self.variables.is_empty()
    }
}

/// An immutable compiled policy set; share it across threads by reference.
///
/// # Example
/// ```
/// use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
/// use iamsim::engine::request::{Principal, Request};
/// use iamsim::{CompiledPolicySet, engine::eval::{Scratch, DecisionKind}};
/// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*NetworkInterface","Resource":"*"}}"#,
///                      "cni", PolicyKind::Identity)?;
/// let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() })?;
/// let mut scratch = Scratch::new(&set);
/// let req = Request::new(Principal::parse("arn:aws:iam::111122223333:role/node")?, "ec2:CreateNetworkInterface", "*");
/// assert_eq!(set.decide(&req, &mut scratch).kind, DecisionKind::Allowed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct CompiledPolicySet {
    /// Unique per compiled set, so per-thread scratch can be reused safely.
    pub(in crate::engine) id: u64,
    pub(in crate::engine) set: PolicySet,
    pub(in crate::engine) statements: Vec<CompiledStatement>,
    pub(in crate::engine) actions: ActionIndex,
    pub(in crate::engine) keys: Vec<String>,
    /// The same keys as the policies write them ([`CompiledPolicySet::key_as_written`]).
    written: Vec<String>,
    pub(in crate::engine) shape: Shape,
}

/// The most SCP or RCP levels a compiled set may have: the evaluator keeps
/// one bit per level. AWS Organizations nests at most seven (the root, five
/// levels of OUs, the account).
pub const MAX_GUARDRAIL_LEVELS: usize = 64;

impl CompiledPolicySet {
    /// Compiles a policy set.
    ///
    /// # Errors
    /// When an automaton exceeds its size limit, or the set has more than
    /// [`MAX_GUARDRAIL_LEVELS`] SCP or RCP levels.
    pub fn compile(set: PolicySet) -> Result<CompiledPolicySet, CompileError> {
        for (kind, levels) in [("SCP", set.scps.len()), ("RCP", set.rcps.len())] {
            if levels > MAX_GUARDRAIL_LEVELS {
                return Err(CompileError::new(
                    CompileErrorKind::TooManyLevels,
                    format!(
                        "{levels} {kind} levels: at most {MAX_GUARDRAIL_LEVELS} are supported \
                     (AWS Organizations nests at most 7: the root, five levels of OUs and the account)"
                    ),
                ));
            }
        }
        let written = set.condition_keys_as_written();
        let keys: Vec<String> = written.iter().map(|k| k.to_ascii_lowercase()).collect();
        let key_id =
            |k: &str| keys.iter().position(|x| x == k).and_then(|i| KeyId::try_from(i).ok()).unwrap_or(KeyId::MAX);
        let mut actions = ActionIndexBuilder::default();
        let mut statements = Vec::new();
        for (sref, policy, stmt) in set.statements() {
            let vars = policy.version.variables_enabled();
            let id = u32::try_from(statements.len()).map_err(|_| {
                CompileError::new(CompileErrorKind::TooManyStatements, "more than 2^32 statements".into())
            })?;
            actions.add(id, &stmt.actions.patterns, stmt.actions.negated);
            statements.push(CompiledStatement {
                sref,
                effect: stmt.effect,
                resources: stmt.resources.as_ref().map(|r| {
                    (r.negated, r.patterns.iter().map(|p| ResourceMatcher::new(p, policy.kind, vars)).collect())
                }),
                principal: stmt.principal.clone(),
                principal_key: stmt.principal_key().map(key_id),
                conditions: stmt
                    .conditions
                    .iter()
                    .map(|c| CompiledCondition::new(c, key_id(&c.key.to_ascii_lowercase()), vars))
                    .collect(),
                variables: stmt.variable_keys(vars).into_iter().map(|k| (key_id(&k), k.into_boxed_str())).collect(),
            });
        }
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(CompiledPolicySet { id, shape: set.shape(), actions: actions.build()?, statements, keys, written, set })
    }

    /// A number no other set compiled by this process has: a key for what a
    /// caller keeps per set (scratches, caches).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The source policies.
    pub fn policy_set(&self) -> &PolicySet {
        &self.set
    }

    /// The lower-cased name of a condition key reported in a decision.
    pub fn key_name(&self, key: KeyId) -> Option<&str> {
        self.keys.get(key as usize).map(String::as_str)
    }

    /// The name of condition key `key` as the policies first write it
    /// (`aws:SourceIp`): for reports; [`CompiledPolicySet::key_name`] is the
    /// lower-cased name lookups compare.
    pub fn key_as_written(&self, key: KeyId) -> Option<&str> {
        self.written.get(key as usize).map(String::as_str)
    }

    /// The lower-cased names of every condition key the set's statements test.
    pub fn key_names(&self) -> impl Iterator<Item = &str> + '_ {
        self.keys.iter().map(String::as_str)
    }

    /// Number of statements.
    pub fn statement_count(&self) -> usize {
        self.statements.len()
    }

    /// Number of distinct action patterns in the automaton.
    pub fn action_pattern_count(&self) -> usize {
        self.actions.pattern_count()
    }
}
