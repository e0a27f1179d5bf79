//! A synthetic account for the access-query benchmarks and tests: `roles`
//! roles, each with `per_role` distinct policies drawn from a pool (the AWS
//! managed policies) and one inline policy of its own (objects of its own
//! bucket, its own queue only with MFA, no bucket deletion anywhere).
//!
//! ```
//! use iamsim::audit::workload::account::account;
//! use iamsim::{parse_policy, PolicyKind};
//! let pool = vec![parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:Describe*","Resource":"*"}}"#,
//!                              "describe", PolicyKind::Identity)?];
//! let inventory = account(&pool, 3, 1, 7);
//! let role = inventory.get("arn:aws:iam::111122223333:role/bench/role-0002").unwrap();
//! assert_eq!(role.policies.len(), 2);
//! assert_eq!(role.policies[0].name, "describe");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{Rng, ACCOUNT};
use crate::audit::inventory::Inventory;
use crate::engine::policy::{parse_policy, Policy, PolicyKind};

/// The account: roles `arn:aws:iam::111122223333:role/bench/role-NNNN`, the
/// same for the same arguments.
pub fn account(pool: &[Policy], roles: usize, per_role: usize, seed: u64) -> Inventory {
    let mut rng = Rng::new(seed);
    let mut inventory = Inventory::new();
    let per_role = per_role.min(pool.len());
    for i in 0..roles {
        let mut picked: Vec<usize> = Vec::with_capacity(per_role);
        while picked.len() < per_role {
            let j = rng.below(pool.len());
            if !picked.contains(&j) {
                picked.push(j);
            }
        }
        let mut policies: Vec<Policy> = picked.iter().filter_map(|&j| pool.get(j).cloned()).collect();
        policies.extend(inline(i));
        inventory.add_principal(&format!("arn:aws:iam::{ACCOUNT}:role/bench/role-{i:04}"), policies);
    }
    inventory
}

/// Role `i`'s own policy.
fn inline(i: usize) -> Option<Policy> {
    let doc = format!(
        r#"{{"Version":"2012-10-17","Statement":[
          {{"Sid":"OwnObjects","Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::team-{i:04}/*"}},
          {{"Sid":"OwnQueueWithMfa","Effect":"Allow","Action":"sqs:SendMessage","Resource":"arn:aws:sqs:*:{ACCOUNT}:queue-{i:04}",
            "Condition":{{"Bool":{{"aws:MultiFactorAuthPresent":"true"}}}}}},
          {{"Sid":"KeepBuckets","Effect":"Deny","Action":"s3:DeleteBucket","Resource":"*"}}]}}"#
    );
    // A document this module writes; the parser accepts it (tested).
    parse_policy(doc.as_bytes(), &format!("role-{i:04}-inline"), PolicyKind::Identity).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_inline_policy_parses() {
        let p = super::inline(12).unwrap();
        assert_eq!(p.statements.len(), 3);
        assert_eq!(p.statements[0].resources.as_ref().unwrap().patterns, ["arn:aws:s3:::team-0012/*"]);
    }
}
