//! # iamsim
//!
//! Answers "would AWS IAM allow this request?" the way AWS does, fast enough
//! to replay months of CloudTrail.
//!
//! Two parts, and the second uses only the first's public API:
//!
//! * [`engine`], the embeddable core, a pipeline:
//!   1. [`engine::policy`]: parse policy documents (identity, boundary,
//!      session, resource-based, SCP, RCP, trust) into a validated model,
//!      with errors that name the file, line and JSON path;
//!   2. [`engine::compile`]: turn a [`PolicySet`] into an immutable
//!      [`CompiledPolicySet`] (action automaton, ARN matchers, typed
//!      predicates);
//!   3. [`engine::eval`]: decide [`Request`]s: `allowed | explicitDeny |
//!      implicitDeny | indeterminate`, verdict only or explained with the
//!      deciding statements and the context keys the request lacked; a
//!      request [`prepare`](CompiledPolicySet::prepare)d once is decided many
//!      times without touching strings.
//! * [`audit`], the applications built on it: the AWS service
//!   [`catalog`](audit::catalog) (expand, validate, diff),
//!   [`cloudtrail`](audit::cloudtrail) reading and [`replay`](audit::replay)
//!   (CloudTrail against current or proposed policies), the account
//!   [`inventory`](audit::inventory), and [`generate`](audit::generate)
//!   (least-privilege policies from a replay).
//!
//! The `iamsim` command line is binary-only. The library builds without its
//! dependencies: with `default-features = false` it needs neither clap,
//! indicatif, tempfile, flate2 nor mimalloc (feature `gzip` brings flate2 back
//! for reading `.gz` CloudTrail files; feature `cli` builds the binary).
//!
//! The items used most are re-exported here:
//!
//! ```
//! use iamsim::{parse_policy, CompiledPolicySet, PolicyKind, PolicySet};
//! use iamsim::{Principal, Request, Scratch, Verdict};
//!
//! let doc = br#"{"Version":"2012-10-17","Statement":[
//!   {"Effect":"Allow","Action":"s3:*","Resource":"*"},
//!   {"Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}]}"#;
//! let policy = parse_policy(doc, "policy.json", PolicyKind::Identity)?;
//! let set = CompiledPolicySet::compile(PolicySet { identity: vec![policy], ..Default::default() })?;
//! let mut scratch = Scratch::new(&set);
//! let alice = Principal::parse("arn:aws:iam::111122223333:user/alice")?;
//! let get = Request::new(alice.clone(), "s3:GetObject", "arn:aws:s3:::bucket/key");
//! assert_eq!(set.decide_verdict(&get, &mut scratch), Verdict::Allowed);
//!
//! // Prepared once, decided as often as needed; the explanation on demand.
//! let delete = Request::new(alice, "s3:DeleteBucket", "arn:aws:s3:::bucket");
//! let prepared = set.prepare(&delete, &mut scratch);
//! assert_eq!(set.verdict(&prepared, &mut scratch), Verdict::ExplicitDeny);
//! let why = set.explain(&prepared, &mut scratch);
//! assert_eq!(why.kind, Verdict::ExplicitDeny);
//! assert_eq!(why.statements.len(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod audit;
pub mod engine;

// The Python extension module (feature `python`; built by maturin).
#[cfg(feature = "python")]
mod bindings;

pub use engine::compile::{CompileError, CompileErrorKind, CompiledPolicySet};
pub use engine::eval::{Decision, DecisionKind, Prepared, Scratch, Verdict};
pub use engine::policy::{parse_policy, ParseError, Policy, PolicyKind, PolicySet};
pub use engine::request::{Context, Principal, Request};

#[cfg(test)]
mod testoibits {
    //! The compiled set is shared across threads by reference; scratch moves
    //! between threads; decisions and errors cross thread boundaries.
    fn assert_send_sync_unwind<T: Send + Sync + std::panic::UnwindSafe + std::panic::RefUnwindSafe>() {}
    fn assert_send<T: Send>() {}

    #[test]
    fn public_types_are_thread_safe() {
        assert_send_sync_unwind::<crate::CompiledPolicySet>();
        assert_send_sync_unwind::<crate::PolicySet>();
        assert_send_sync_unwind::<crate::Request>();
        assert_send_sync_unwind::<crate::Decision>();
        assert_send_sync_unwind::<crate::audit::access::AccountModel>();
        assert_send_sync_unwind::<crate::ParseError>();
        assert_send_sync_unwind::<crate::CompileError>();
        assert_send::<crate::Scratch>();
    }
}

/// The README's Rust examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
