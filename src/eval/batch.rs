//! Parallel batch evaluation: rayon workers, each with its own [`Scratch`],
//! results in input order.

use super::{Decision, Scratch};
use crate::compile::CompiledPolicySet;
use crate::request::Request;
use rayon::prelude::*;

/// Decides every request in parallel; `out[i]` is the decision for `requests[i]`.
pub fn decide_all(set: &CompiledPolicySet, requests: &[Request]) -> Vec<Decision> {
    requests.par_iter().map_init(|| Scratch::new(set), |scratch, req| set.decide(req, scratch)).collect()
}
