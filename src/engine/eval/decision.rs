//! The result of evaluating one request: `allowed | explicitDeny | implicitDeny`
//! (or `indeterminate` when an unknown context value decides it), the
//! statements that decided it and the context keys it needed but lacked.

use crate::engine::policy::{Effect, Layer, StatementRef};
use smallvec::SmallVec;
use std::fmt;

pub use crate::engine::policy::set::KeyId;

/// The verdict; serialised as [`DecisionKind::as_str`] says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum DecisionKind {
    /// Some policy allows and every applicable layer lets it through.
    Allowed,
    /// A matching `Deny` statement.
    ExplicitDeny,
    /// Nothing (or not every required layer) allows.
    ImplicitDeny,
    /// The answer depends on context values the request marked unknown.
    Indeterminate,
}

/// The verdict alone, as the verdict-only paths
/// ([`CompiledPolicySet::verdict`](crate::CompiledPolicySet::verdict)) return it:
/// the same four answers as a [`Decision`]'s `kind`.
pub type Verdict = DecisionKind;

impl DecisionKind {
    /// `allowed`, `explicitDeny`, `implicitDeny` or `indeterminate`.
    pub fn as_str(&self) -> &'static str {
        match self {
            DecisionKind::Allowed => "allowed",
            DecisionKind::ExplicitDeny => "explicitDeny",
            DecisionKind::ImplicitDeny => "implicitDeny",
            DecisionKind::Indeterminate => "indeterminate",
        }
    }
}

impl fmt::Display for DecisionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a resource-policy statement's `Principal` names the caller (§4.2),
/// weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalClass {
    /// Names the caller's account: delegates to the account's identity policies.
    Account,
    /// Names the IAM user behind a federated-user session.
    ViaUser,
    /// Names the role of a role session.
    ViaRole,
    /// Names the caller itself, `*`, or the service; also identity-type statements.
    Direct,
}

/// One statement that applies to the request (action, resource and principal
/// match), with its condition result.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hit {
    /// Which statement.
    pub statement: StatementRef,
    /// Its effect.
    pub effect: Effect,
    /// How its principal names the caller (`Direct` for policies without one).
    pub class: PrincipalClass,
    /// Whether its conditions hold.
    pub result: crate::engine::request::Tri,
}

/// A decision with its explanation. Serialises with serde as it is (the
/// statements by reference, keys by [`KeyId`]); [`CompiledPolicySet::explanation`](crate::CompiledPolicySet::explanation)
/// gives it with the set's names.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Decision {
    /// The verdict.
    pub kind: DecisionKind,
    /// For `ExplicitDeny`: the matching Deny statements. For `Allowed`: the
    /// Allow statements that matched in the layers that apply. Sorted.
    pub statements: SmallVec<[StatementRef; 4]>,
    /// For `ImplicitDeny`: the layer that had no allowing statement.
    pub missing_allow: Option<Layer>,
    /// Condition keys of applicable statements that the request lacked. Sorted.
    pub missing_keys: SmallVec<[KeyId; 4]>,
    /// Condition keys of applicable statements whose value the request marked
    /// unknown (open-world replay contexts). Sorted.
    pub unknown_keys: SmallVec<[KeyId; 4]>,
    /// For `Indeterminate`: the caller's credentials may be refused for this
    /// action whatever the policies say ([`CREDENTIAL_RULES`](crate::engine::eval::CREDENTIAL_RULES)),
    /// and the request does not say which an IAM user signed with
    /// ([`UserCredentials::Unknown`](crate::engine::request::UserCredentials::Unknown)):
    /// knowing them would settle the decision, or help to.
    pub unknown_credentials: bool,
}

/// The context keys a decision needed, as the matchers found them, and
/// whether the caller's credentials were in doubt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyReport {
    /// Absent from the request.
    pub missing: SmallVec<[KeyId; 4]>,
    /// Unknown in the request.
    pub unknown: SmallVec<[KeyId; 4]>,
    /// The caller's credentials may be refused for the action.
    pub unknown_credentials: bool,
}

/// Where an evaluator records the condition keys it reads: a [`KeyReport`]
/// when the decision is explained, nothing (`()`) for a verdict alone.
pub(in crate::engine) trait KeyNotes: Default {
    /// Whether notes are kept (callers skip looking up a key only to note it).
    const RECORDS: bool;
    /// Records a condition key's lookup result.
    fn note(&mut self, key: KeyId, value: Option<crate::engine::request::Value<'_>>);
    /// Records that the caller's credentials may be refused for the action.
    fn note_unknown_credentials(&mut self);
    /// Called once, after the last note.
    fn finish(&mut self);
}

impl KeyNotes for () {
    const RECORDS: bool = false;
    #[inline(always)]
    fn note(&mut self, _: KeyId, _: Option<crate::engine::request::Value<'_>>) {}
    #[inline(always)]
    fn note_unknown_credentials(&mut self) {}
    #[inline(always)]
    fn finish(&mut self) {}
}

impl KeyNotes for KeyReport {
    const RECORDS: bool = true;
    fn note(&mut self, key: KeyId, value: Option<crate::engine::request::Value<'_>>) {
        KeyReport::note(self, key, value);
    }
    fn note_unknown_credentials(&mut self) {
        self.unknown_credentials = true;
    }
    fn finish(&mut self) {
        KeyReport::finish(self);
    }
}

/// What a decision path produces from the rules' outcome: the explained
/// [`Decision`] ([`Explained`]) or the [`Verdict`] alone ([`VerdictOnly`]),
/// which gathers no statements and no keys. The rules are written once,
/// generic over this, so the two can never disagree on the verdict.
pub(in crate::engine) trait Outcome {
    /// How keys are recorded.
    type Keys: KeyNotes;
    /// The result.
    type Out;
    /// The result for `kind`; `statements` is called only when explaining.
    fn conclude(
        kind: DecisionKind,
        keys: Self::Keys,
        missing_allow: Option<Layer>,
        statements: impl FnOnce() -> SmallVec<[StatementRef; 4]>,
    ) -> Self::Out;
}

/// The explained outcome: a [`Decision`].
pub(in crate::engine) struct Explained;

impl Outcome for Explained {
    type Keys = KeyReport;
    type Out = Decision;
    fn conclude(
        kind: DecisionKind,
        keys: KeyReport,
        missing_allow: Option<Layer>,
        statements: impl FnOnce() -> SmallVec<[StatementRef; 4]>,
    ) -> Decision {
        keys.into_decision(kind, statements(), missing_allow)
    }
}

/// The verdict-only outcome.
pub(in crate::engine) struct VerdictOnly;

impl Outcome for VerdictOnly {
    type Keys = ();
    type Out = Verdict;
    #[inline(always)]
    fn conclude(
        kind: DecisionKind,
        _: (),
        _: Option<Layer>,
        _: impl FnOnce() -> SmallVec<[StatementRef; 4]>,
    ) -> Verdict {
        kind
    }
}

impl KeyReport {
    /// Records a condition key's lookup result.
    pub fn note(&mut self, key: KeyId, value: Option<crate::engine::request::Value<'_>>) {
        match value {
            None => self.missing.push(key),
            Some(crate::engine::request::Value::Unknown) => self.unknown.push(key),
            Some(_) => {}
        }
    }

    /// The decision these keys were gathered for (the lists move, no copies).
    pub fn into_decision(
        self,
        kind: DecisionKind,
        statements: SmallVec<[StatementRef; 4]>,
        missing_allow: Option<Layer>,
    ) -> Decision {
        Decision {
            kind,
            statements,
            missing_allow,
            missing_keys: self.missing,
            unknown_keys: self.unknown,
            // Only an undecided answer is waiting on them.
            unknown_credentials: self.unknown_credentials && kind == DecisionKind::Indeterminate,
        }
    }

    /// Sorts and deduplicates both lists.
    pub fn finish(&mut self) {
        for list in [&mut self.missing, &mut self.unknown] {
            // Most decisions need no key at all: nothing to sort.
            if list.len() > 1 {
                list.sort_unstable();
                list.dedup();
            }
        }
    }
}

impl Decision {
    /// Whether the request is allowed.
    pub fn is_allowed(&self) -> bool {
        self.kind == DecisionKind::Allowed
    }
}

/// A [`Decision`] told with its set's names: the matching statements by
/// policy, index and `Sid`, the context keys as the policies write them.
/// What `simulate --format json` and `eval` print for each request.
///
/// ```
/// use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
/// use iamsim::engine::request::{Principal, Request};
/// use iamsim::{CompiledPolicySet, engine::eval::Scratch};
/// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Sid":"Tls","Effect":"Allow","Action":"s3:GetObject",
///     "Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"true"}}}}"#, "p", PolicyKind::Identity)?;
/// let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() })?;
/// let req = Request::new(Principal::parse("arn:aws:iam::111122223333:user/a")?, "s3:GetObject", "*");
/// let d = set.decide(&req, &mut Scratch::new(&set));
/// let json = serde_json::to_value(set.explanation(&d))?;
/// assert_eq!(json["decision"], "indeterminate");
/// assert_eq!(json["unknown_context_keys"][0], "aws:SecureTransport");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Explanation<'s> {
    /// The verdict.
    pub decision: DecisionKind,
    /// The statements that decided it.
    pub matched_statements: Vec<MatchedStatement<'s>>,
    /// Condition keys the request lacked.
    pub missing_context_keys: Vec<&'s str>,
    /// Condition keys whose values the request left unknown.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unknown_context_keys: Vec<&'s str>,
    /// The IAM user's credentials, which the request left unknown, may be
    /// refused for the action ([`Decision::unknown_credentials`]).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown_credentials: bool,
}

/// One statement of an [`Explanation`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MatchedStatement<'s> {
    /// The policy's kind (`identity`, `resource`, `scp`…).
    pub policy_type: &'static str,
    /// The policy's name (its file, ARN or label).
    pub policy: &'s str,
    /// The statement's index in the policy.
    pub statement_index: u32,
    /// Its `Sid`.
    pub sid: Option<&'s str>,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
}

impl crate::CompiledPolicySet {
    /// `d` (decided by this set) with the set's names.
    pub fn explanation<'s>(&'s self, d: &Decision) -> Explanation<'s> {
        let matched_statements = d
            .statements
            .iter()
            .filter_map(|r| {
                let (policy, stmt) = self.policy_set().get(*r)?;
                Some(MatchedStatement {
                    policy_type: r.layer.kind().as_str(),
                    policy: &policy.name,
                    statement_index: r.statement,
                    sid: stmt.sid.as_deref(),
                    effect: stmt.effect.as_str(),
                })
            })
            .collect();
        let names = |keys: &[KeyId]| keys.iter().filter_map(|k| self.key_as_written(*k)).collect();
        Explanation {
            decision: d.kind,
            matched_statements,
            missing_context_keys: names(&d.missing_keys),
            unknown_context_keys: names(&d.unknown_keys),
            unknown_credentials: d.unknown_credentials,
        }
    }
}
