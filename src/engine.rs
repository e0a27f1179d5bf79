//! The embeddable core: policy documents in, decisions out, nothing else.
//!
//! A pipeline whose dependencies point one way:
//! [`policy`] (parse and validate) and [`request`] (what is being
//! authorised) at the bottom, [`compile`] (a policy set into automata and
//! typed predicates) over them, [`eval`] (decide requests) on top. Nothing
//! here reads CloudTrail, the service catalog or the command line; the
//! [`audit`](crate::audit) applications are built on this module's public API.

pub mod compile;
pub mod eval;
pub mod policy;
pub mod request;
mod words;
