//! Least-privilege policy generation: from what a replay saw one principal
//! do successfully ([`crate::audit::replay::Used`]), the identity policy granting
//! exactly those actions, on the resources the logs name.
//!
//! Beside `replay` at the top of the pipeline: reads its report and the
//! catalog (AWS casing; which actions take no resource). The CLI proves each
//! generated policy by replaying the same events with it in place.
//!
//! Resources per action: `*` for actions authorised on `*` alone, for
//! actions whose resource some event did not show, and for actions seen on
//! `*`; the exact ARNs seen otherwise; when more distinct ARNs were seen than
//! the report keeps, their common prefix up to a `/` or `:` boundary plus
//! `*` (or `*` when that prefix would not reach the resource part).
//! Statements group one service's actions that share a resource list.
//!
//! ```
//! use iamsim::audit::generate::least_privilege;
//! use iamsim::audit::replay::{Used, UsedAction};
//! let used = |action: &str, resources: &[&str]| UsedAction {
//!     action: action.into(), count: 1, denied: 0, indeterminate: 0,
//!     resources: resources.iter().map(|r| r.to_string()).collect(),
//!     more_resources: false, unknown_resources: false,
//! };
//! let node = Used { principal: "arn:aws:iam::111122223333:role/node".into(), actions: vec![
//!     used("ec2:DescribeInstances", &["*"]),
//!     used("s3:GetObject", &["arn:aws:s3:::logs/a", "arn:aws:s3:::logs/b"]),
//! ]};
//! let policy = least_privilege(&node, None, "node-least-privilege");
//! let grants: Vec<(Vec<String>, Vec<String>)> = policy.statements.iter()
//!     .map(|s| (s.actions.patterns.clone(), s.resources.as_ref().unwrap().patterns.clone()))
//!     .collect();
//! assert_eq!(grants, [
//!     (vec!["ec2:DescribeInstances".to_string()], vec!["*".to_string()]),
//!     (vec!["s3:GetObject".to_string()], vec!["arn:aws:s3:::logs/a".to_string(), "arn:aws:s3:::logs/b".to_string()]),
//! ]);
//! ```

use crate::audit::catalog::Catalog;
use crate::audit::replay::{Used, UsedAction};
use crate::engine::policy::{Effect, PatternList, Policy, PolicyKind, Statement, Version};
use std::collections::BTreeMap;

/// The resource patterns to grant for one used action.
fn resources_for(used: &UsedAction, catalog: Option<&Catalog>) -> Vec<String> {
    let star_only = catalog.and_then(|c| c.action(&used.action).map(|id| c.is_wildcard_only(id))).unwrap_or(false);
    if star_only || used.unknown_resources || used.resources.is_empty() || used.resources.iter().any(|r| r == "*") {
        return vec!["*".to_string()];
    }
    if used.more_resources {
        return vec![common_pattern(&used.resources)];
    }
    let mut list = used.resources.clone();
    list.sort();
    list.dedup();
    list
}

/// The common prefix of `arns`, cut back to its last `/` or `:` inside the
/// resource part, plus `*`; `*` when there is no such prefix.
fn common_pattern(arns: &[String]) -> String {
    let Some(first) = arns.first() else { return "*".to_string() };
    let mut len = first.len();
    for a in arns {
        len = len.min(first.bytes().zip(a.bytes()).take_while(|(x, y)| x == y).count());
    }
    let prefix = first.get(..len).unwrap_or("");
    // The resource part starts after the fifth colon.
    let resource_start = prefix.match_indices(':').nth(4).map(|(i, _)| i + 1);
    let cut = prefix.rfind(['/', ':']).map(|i| i + 1);
    match (resource_start, cut) {
        (Some(start), Some(cut)) if cut > start => format!("{}*", &prefix[..cut]),
        (Some(start), _) => format!("{}*", &prefix[..start]),
        _ => "*".to_string(),
    }
}

/// A statement id from a service prefix: `ec2` → `Ec2`, `resource-groups` → `ResourceGroups`.
fn sid_stem(service: &str) -> String {
    service
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut chars = w.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect()
}

/// The actions `used` shows that the catalog does not know: no policy AWS
/// accepts can grant them (an internal event name, a mapping the service
/// reference does not confirm, or a catalog older than the logs), so
/// [`least_privilege`] leaves them out.
pub fn ungrantable<'a>(used: &'a Used, catalog: Option<&Catalog>) -> Vec<&'a str> {
    let Some(c) = catalog else { return Vec::new() };
    used.actions.iter().map(|a| a.action.as_str()).filter(|a| c.action(a).is_none()).collect()
}

/// The least-privilege identity policy for what `used` shows, named `name`.
/// Action names take the catalog's casing when it knows them; actions it
/// does not know ([`ungrantable`]) are left out.
pub fn least_privilege(used: &Used, catalog: Option<&Catalog>, name: &str) -> Policy {
    let left_out = ungrantable(used, catalog);
    // (service, resources) → actions
    let mut groups: BTreeMap<(String, Vec<String>), Vec<String>> = BTreeMap::new();
    for action in used.actions.iter().filter(|a| !left_out.contains(&a.action.as_str())) {
        let shown = catalog
            .and_then(|c| c.action(&action.action).map(|id| c.action_name(id)))
            .unwrap_or_else(|| action.action.clone());
        let service = shown.split_once(':').map_or(shown.as_str(), |(s, _)| s).to_ascii_lowercase();
        groups.entry((service, resources_for(action, catalog))).or_default().push(shown);
    }
    let mut per_service: BTreeMap<String, usize> = BTreeMap::new();
    for (service, _) in groups.keys() {
        *per_service.entry(service.clone()).or_default() += 1;
    }
    let mut ordinal: BTreeMap<String, usize> = BTreeMap::new();
    let statements = groups
        .into_iter()
        .map(|((service, resources), mut actions)| {
            actions.sort_by_key(|a| a.to_ascii_lowercase());
            actions.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
            let n = ordinal.entry(service.clone()).or_default();
            *n += 1;
            let sid = if per_service.get(&service).copied().unwrap_or(0) > 1 {
                format!("{}{n}", sid_stem(&service))
            } else {
                sid_stem(&service)
            };
            Statement {
                sid: Some(sid),
                effect: Effect::Allow,
                actions: PatternList { negated: false, patterns: actions },
                resources: Some(PatternList { negated: false, patterns: resources }),
                principal: None,
                conditions: Vec::new(),
            }
        })
        .collect();
    Policy { name: name.to_string(), kind: PolicyKind::Identity, version: Version::V2012_10_17, id: None, statements }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn used(action: &str, resources: &[&str], more: bool, unknown: bool) -> UsedAction {
        UsedAction {
            action: action.to_string(),
            count: 1,
            denied: 0,
            indeterminate: 0,
            resources: resources.iter().map(|r| r.to_string()).collect(),
            more_resources: more,
            unknown_resources: unknown,
        }
    }

    #[test]
    fn common_patterns_stop_at_a_boundary_in_the_resource_part() {
        let arns = ["arn:aws:s3:::logs/2026/a.gz".to_string(), "arn:aws:s3:::logs/2026/b.gz".to_string()];
        assert_eq!(common_pattern(&arns), "arn:aws:s3:::logs/2026/*");
        let arns = ["arn:aws:s3:::alpha/x".to_string(), "arn:aws:s3:::alps/y".to_string()];
        assert_eq!(common_pattern(&arns), "arn:aws:s3:::*");
        let arns =
            ["arn:aws:ec2:us-east-1:1:instance/i-1".to_string(), "arn:aws:ec2:us-west-2:1:instance/i-2".to_string()];
        assert_eq!(common_pattern(&arns), "*");
    }

    #[test]
    fn statements_group_by_service_and_resources() {
        let u = Used {
            principal: "arn:aws:iam::1:role/r".to_string(),
            actions: vec![
                used("s3:GetObject", &["arn:aws:s3:::b/k2", "arn:aws:s3:::b/k1"], false, false),
                used("s3:PutObject", &["arn:aws:s3:::b/k1", "arn:aws:s3:::b/k2"], false, false),
                used("s3:ListBucket", &["arn:aws:s3:::b"], false, false),
                used("ec2:DescribeInstances", &["*"], false, false),
                used("ec2:CreateTags", &["arn:aws:ec2:r:1:instance/i-1"], false, true),
            ],
        };
        let p = least_privilege(&u, None, "generated");
        let shape: Vec<(String, Vec<String>, Vec<String>)> = p
            .statements
            .iter()
            .map(|s| {
                (
                    s.sid.clone().unwrap_or_default(),
                    s.actions.patterns.clone(),
                    s.resources.clone().map(|r| r.patterns).unwrap_or_default(),
                )
            })
            .collect();
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            shape,
            vec![
                ("Ec2".to_string(), v(&["ec2:CreateTags", "ec2:DescribeInstances"]), v(&["*"])),
                ("S31".to_string(), v(&["s3:ListBucket"]), v(&["arn:aws:s3:::b"])),
                (
                    "S32".to_string(),
                    v(&["s3:GetObject", "s3:PutObject"]),
                    v(&["arn:aws:s3:::b/k1", "arn:aws:s3:::b/k2"])
                ),
            ]
        );
    }

    #[test]
    fn sid_stems_are_alphanumeric() {
        assert_eq!(sid_stem("resource-groups"), "ResourceGroups");
        assert_eq!(sid_stem("s3"), "S3");
    }
}
