//! Evaluation: requests → decisions. Third stage of the pipeline
//! (`policy` → `compile` → `eval`).
//!
//! * [`CompiledPolicySet::decide`](crate::CompiledPolicySet::decide) with a
//!   per-thread [`Scratch`]: an owned [`Request`](crate::engine::request::Request),
//!   explained; [`decide_verdict`](crate::CompiledPolicySet::decide_verdict):
//!   the [`Verdict`] alone;
//! * [`prepare`](crate::CompiledPolicySet::prepare) → [`Prepared`], then
//!   [`verdict`](crate::CompiledPolicySet::verdict) (the fast path) or
//!   [`explain`](crate::CompiledPolicySet::explain): a request resolved once,
//!   decided many times;
//! * [`reference_decide`]: the naive oracle over the model;
//! * `logic` and `principal` (engine-internal): the decision rules every
//!   path shares, and principal matching;
//! * [`batch`]: parallel, order-preserving evaluation of many requests.

pub mod batch;
pub(in crate::engine) mod compiled;
pub(in crate::engine) mod decision;
pub(in crate::engine) mod logic;
pub(in crate::engine) mod principal;
pub(in crate::engine) mod reference;

pub use compiled::{Prepared, Scratch};
pub use decision::{
    Decision, DecisionKind, Explanation, Hit, KeyId, KeyReport, MatchedStatement, PrincipalClass, Verdict,
};
pub use logic::{
    credential_refusal, Callers, CredentialRule, Exempt, Exemption, Guardrail, CREDENTIAL_RULES, GUARDRAIL_EXEMPTIONS,
};
pub use reference::reference_decide;

/// Whether `request` is on a KMS key, where identity policies count only if
/// the key policy delegates to the account (§7.4): decided without the key
/// policy, an `Allowed` from identity policies is not certain. Aliases (and
/// `*`) are governed by IAM policies alone.
pub fn key_policy_governs(request: &crate::engine::request::Request) -> bool {
    // Not `ActionFacts::of`: its credential rules cost a replay ~1,500
    // instructions a check, for one fact.
    logic::is_kms_action(&request.action) && logic::names_kms_key(&request.resource)
}
