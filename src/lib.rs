//! # iamsim
//!
//! Answers "would AWS IAM allow this request?" the way AWS does, fast enough
//! to replay months of CloudTrail.
//!
//! The pipeline:
//! 1. [`policy`]: parse policy documents (identity, boundary, session,
//!    resource-based, SCP, RCP, trust) into a validated model, with errors that
//!    name the file, line and JSON path;
//! 2. [`compile`]: turn a [`policy::PolicySet`] into an immutable
//!    [`CompiledPolicySet`] (action automaton, ARN matchers, typed predicates);
//! 3. [`eval`]: decide [`request::Request`]s: `allowed | explicitDeny |
//!    implicitDeny`, with the deciding statements and the context keys the
//!    request lacked.
//!
//! Beside it: [`catalog`] (the AWS service reference: expand, validate, diff),
//! [`cloudtrail`] and [`replay`] (CloudTrail against current or proposed
//! policies), [`generate`] (least-privilege policies from a replay) and
//! [`cli`].
//!
//! ```
//! use iamsim::policy::{parse_policy, PolicyKind, PolicySet};
//! use iamsim::request::{Principal, Request};
//! use iamsim::{CompiledPolicySet, eval::{Scratch, DecisionKind}};
//!
//! let doc = br#"{"Version":"2012-10-17","Statement":[
//!   {"Effect":"Allow","Action":"s3:*","Resource":"*"},
//!   {"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
//! let policy = parse_policy(doc, "policy.json", PolicyKind::Identity)?;
//! let set = CompiledPolicySet::compile(PolicySet { identity: vec![policy], ..Default::default() })?;
//! let mut scratch = Scratch::new(&set);
//! let alice = Principal::parse("arn:aws:iam::111122223333:user/alice")?;
//! let get = Request::new(alice.clone(), "s3:GetObject", "arn:aws:s3:::bucket/key");
//! assert_eq!(set.decide(&get, &mut scratch).kind, DecisionKind::Allowed);
//! let delete = Request::new(alice, "s3:DeleteBucket", "arn:aws:s3:::bucket");
//! assert_eq!(set.decide(&delete, &mut scratch).kind, DecisionKind::ExplicitDeny);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod catalog;
pub mod cli;
pub mod cloudtrail;
pub mod compile;
pub mod eval;
pub mod generate;
pub mod inventory;
pub mod lines;
pub mod policy;
pub mod replay;
pub mod request;
mod words;
pub mod workload;

pub use compile::{CompileError, CompiledPolicySet};
pub use eval::{Decision, DecisionKind};

#[cfg(test)]
mod testoibits {
    //! The compiled set is shared across threads by reference; scratch moves
    //! between threads; decisions and errors cross thread boundaries.
    fn assert_send_sync_unwind<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn public_types_are_thread_safe() {
        assert_send_sync_unwind::<crate::CompiledPolicySet>();
        assert_send_sync_unwind::<crate::policy::PolicySet>();
        assert_send_sync_unwind::<crate::request::Request>();
        assert_send_sync_unwind::<crate::Decision>();
        assert_send_sync_unwind::<crate::policy::ParseError>();
        assert_send_sync_unwind::<crate::CompileError>();
        assert_send::<crate::eval::Scratch>();
    }
}
