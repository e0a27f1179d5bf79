//! Parallel batch evaluation: rayon workers, results in input order. Each
//! worker thread keeps one [`Scratch`] per compiled set for as long as the set
//! is in use, so its action memo stays warm across chunks and calls.

use super::{Decision, Scratch};
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
pub fn decide_all(set: &CompiledPolicySet, requests: &[Request]) -> Vec<Decision> {
    let chunks: Vec<Vec<Decision>> = requests
        .par_chunks(CHUNK)
        .map(|chunk| with_thread_scratch(set, |s| chunk.iter().map(|r| set.decide(r, s)).collect()))
        .collect();
    let mut out = Vec::with_capacity(requests.len());
    for c in chunks {
        out.extend(c);
    }
    out
}
