//! Evaluation: requests → decisions. Third stage of the pipeline
//! (`policy` → `compile` → `eval`).
//!
//! * [`CompiledPolicySet::decide`](crate::CompiledPolicySet::decide) with a
//!   per-thread [`Scratch`]: an owned [`Request`](crate::request::Request),
//!   explained; [`decide_verdict`](crate::CompiledPolicySet::decide_verdict):
//!   the [`Verdict`] alone;
//! * [`prepare`](crate::CompiledPolicySet::prepare) → [`Prepared`], then
//!   [`verdict`](crate::CompiledPolicySet::verdict) (the fast path) or
//!   [`explain`](crate::CompiledPolicySet::explain): a request resolved once,
//!   decided many times;
//! * [`reference_decide`]: the naive oracle over the model;
//! * `logic` (crate-private): the decision rules every path shares;
//!   [`principal`]: principal matching;
//! * [`batch`]: parallel, order-preserving evaluation of many requests.

pub mod batch;
pub mod compiled;
pub mod decision;
pub(crate) mod logic;
pub mod principal;
pub mod reference;

pub use compiled::{Prepared, Scratch};
pub use decision::{Decision, DecisionKind, Hit, KeyId, KeyReport, PrincipalClass, Verdict};
pub use reference::reference_decide;
