//! Parallel batch evaluation: rayon workers, results in input order. Each
//! worker thread keeps one [`Scratch`] per compiled set for as long as the set
//! is in use, so its action memo stays warm across chunks and calls.
//!
//! [`decide_all`] explains owned requests; [`prepare_all`] then [`verdicts`]
//! is the fast path for a batch decided more than once (a who-can sweep, a
//! benchmark). A batch decided repeatedly is fastest stored in action order
//! (`sort_by_key(Prepared::action_group)` once): each action's plan and
//! statements stay in cache (`iamsim bench`'s `by action` row, 1.2x). The
//! calls here do not regroup: measured on 100,000 prepared EKS requests,
//! deciding through an index sorted by action took twice as long as input
//! order (the sort, and every request read out of place; benches/README.md,
//! session 11).

use super::{Decision, Prepared, Scratch, Verdict};
use crate::engine::compile::CompiledPolicySet;
use crate::engine::request::Request;
use rayon::prelude::*;
use std::cell::RefCell;

/// Requests handed to a worker at a time: large enough that the per-chunk
/// thread-local borrow is noise, small enough to balance load.
const CHUNK: usize = 512;

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's scratch for `set` (created on first use, and
/// replaced when the thread moves on to another set).
pub fn with_thread_scratch<R>(set: &CompiledPolicySet, f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => {
            // A scratch of another set would also re-bind itself on first
            // use; replacing it here keeps that out of the loop.
            if slot.as_ref().is_none_or(|s| !s.is_for(set)) {
                *slot = Some(Scratch::new(set));
            }
            match slot.as_mut() {
                Some(scratch) => f(scratch),
                None => f(&mut Scratch::new(set)),
            }
        }
        // Re-entered from inside `f` (not done by this crate): use a fresh scratch.
        Err(_) => f(&mut Scratch::new(set)),
    })
}

/// Decides every request in parallel; `out[i]` is the decision for `requests[i]`.
///
/// # Example
/// ```
/// use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
/// use iamsim::engine::request::{Principal, Request};
/// use iamsim::{CompiledPolicySet, engine::eval::batch::decide_all};
/// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, "p", PolicyKind::Identity)?;
/// let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() })?;
/// let alice = Principal::parse("arn:aws:iam::111122223333:user/alice")?;
/// let reqs = vec![Request::new(alice.clone(), "s3:GetObject", "*"), Request::new(alice, "ec2:RunInstances", "*")];
/// let out = decide_all(&set, &reqs);
/// assert!(out[0].is_allowed() && !out[1].is_allowed());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// The requests may be held by reference (`&[&Request]`): a caller whose
/// requests live elsewhere (a binding's objects) need not copy them.
pub fn decide_all<R: std::borrow::Borrow<Request> + Sync>(set: &CompiledPolicySet, requests: &[R]) -> Vec<Decision> {
    each_in_parallel(set, requests, |r, s| set.decide(r.borrow(), s))
}

/// `f` of every item, in parallel chunks on the pool's thread scratches for
/// `set`; `out[i]` is `items[i]`'s.
fn each_in_parallel<'a, T: Sync, R: Send>(
    set: &CompiledPolicySet,
    items: &'a [T],
    f: impl Fn(&'a T, &mut Scratch) -> R + Sync,
) -> Vec<R> {
    let chunks: Vec<Vec<R>> = items
        .par_chunks(CHUNK)
        .map(|chunk| with_thread_scratch(set, |s| chunk.iter().map(|item| f(item, s)).collect()))
        .collect();
    let mut out = Vec::with_capacity(items.len());
    for c in chunks {
        out.extend(c);
    }
    out
}

/// Prepares every request in parallel; `out[i]` is `requests[i]` prepared
/// (see [`CompiledPolicySet::prepare`]).
pub fn prepare_all<'r>(set: &CompiledPolicySet, requests: &'r [Request]) -> Vec<Prepared<'r>> {
    each_in_parallel(set, requests, |r, s| set.prepare(r, s))
}

/// The verdict of every prepared request, in parallel; `out[i]` is
/// `prepared[i]`'s. Requests prepared by another set are prepared again for
/// `set` on the way (see [`CompiledPolicySet::verdict`]).
///
/// # Example
/// ```
/// use iamsim::engine::eval::batch::{prepare_all, verdicts};
/// use iamsim::{parse_policy, CompiledPolicySet, PolicyKind, PolicySet, Principal, Request, Verdict};
/// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#, "p", PolicyKind::Identity)?;
/// let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() })?;
/// let alice = Principal::parse("arn:aws:iam::111122223333:user/alice")?;
/// let reqs = vec![Request::new(alice.clone(), "s3:GetObject", "*"), Request::new(alice, "ec2:RunInstances", "*")];
/// let prepared = prepare_all(&set, &reqs);
/// assert_eq!(verdicts(&set, &prepared), [Verdict::Allowed, Verdict::ImplicitDeny]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verdicts(set: &CompiledPolicySet, prepared: &[Prepared<'_>]) -> Vec<Verdict> {
    each_in_parallel(set, prepared, |p, s| set.verdict(p, s))
}
