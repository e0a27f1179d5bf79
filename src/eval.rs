//! Evaluation: requests → decisions. Third stage of the pipeline
//! (`policy` → `compile` → `eval`).
//!
//! * [`CompiledPolicySet::decide`](crate::CompiledPolicySet::decide) with a per-thread [`Scratch`]: the fast path;
//! * [`reference_decide`]: the naive oracle over the model;
//! * [`logic`]: the decision rules both share; [`principal`]: principal matching;
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
