//! Access diff of two policy versions over the catalog, in the manner of IAM
//! Access Analyzer's CheckNoNewAccess: the (action, resource pattern,
//! condition) grants NEW has that OLD does not cover, and the reverse.
//!
//! Each policy becomes a list of grants per catalog action (its statements'
//! actions expanded through the evaluation automaton). A NEW grant is covered
//! by an OLD grant of the same effect when OLD's resource pattern covers NEW's
//! ([`pattern_covers`]) and OLD's conditions are absent or identical. New
//! access is an Allow grant OLD did not cover, or a Deny grant of OLD that NEW
//! no longer covers. Coverage is decided syntactically and never claims more
//! than is true, so the diff may over-report new access, never under-report.
//!
//! ```
//! use iamsim::audit::catalog::{diff::diff, Catalog};
//! use iamsim::{parse_policy, PolicyKind};
//! let catalog = Catalog::load(std::path::Path::new("corpus/catalog/service-reference"))?;
//! let doc = |actions: &str| format!(r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":{actions},"Resource":"*"}}}}"#);
//! let old = parse_policy(doc(r#""ec2:CreateNetworkInterface""#).as_bytes(), "old", PolicyKind::Identity)?;
//! let new = parse_policy(doc(r#""ec2:*NetworkInterface""#).as_bytes(), "new", PolicyKind::Identity)?;
//! let d = diff(&catalog, &[old], &[new])?;
//! assert!(d.grants_new_access());
//! let added: Vec<&str> = d.new_access.iter().map(|g| g.action.as_str()).collect();
//! assert_eq!(added, ["ec2:AttachNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DetachNetworkInterface"]);
//! assert!(d.removed_access.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{ActionId, Catalog};
use crate::engine::compile::CompileError;
use crate::engine::policy::pattern::{pattern_covers, tokens, Token};
use crate::engine::policy::{Condition, Effect, Policy};
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::rc::Rc;

/// One grant: an effect on an action for a resource pattern, under conditions.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Grant {
    /// `service:Action` in AWS casing.
    pub action: String,
    /// `Allow` or `Deny`.
    pub effect: &'static str,
    /// Resource pattern; `NotResource […]` for a NotResource element; `(attached resource)` when absent.
    pub resource: String,
    /// The conditions, as text; empty when unconditional.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub condition: String,
}

/// What changed between two versions.
#[derive(Debug, Default, Serialize)]
pub struct AccessDiff {
    /// Access NEW allows that OLD did not: added Allow grants and removed Deny grants.
    pub new_access: Vec<Grant>,
    /// Access OLD allowed that NEW does not: removed Allow grants and added Deny grants.
    pub removed_access: Vec<Grant>,
}

impl AccessDiff {
    /// Whether NEW grants access OLD did not (CheckNoNewAccess fails).
    pub fn grants_new_access(&self) -> bool {
        !self.new_access.is_empty()
    }
}

/// A statement's resource pattern, tokenised once and shared by all its actions' items.
struct Resource {
    text: String,
    /// `None` for `NotResource` and an absent element: compared as text.
    tokens: Option<Vec<Token>>,
}

struct Item<'a> {
    effect: Effect,
    resource: Rc<Resource>,
    conditions: &'a [Condition],
}

type Grants<'a> = HashMap<ActionId, Vec<Item<'a>>>;

fn grants<'a>(catalog: &Catalog, policies: &'a [Policy]) -> Result<Grants<'a>, CompileError> {
    let statements: Vec<_> = policies.iter().flat_map(|p| &p.statements).collect();
    let lists: Vec<(&[String], bool)> =
        statements.iter().map(|s| (s.actions.patterns.as_slice(), s.actions.negated)).collect();
    let expanded = catalog.expand_lists(&lists)?;
    let mut out: Grants<'a> = HashMap::new();
    for (st, actions) in statements.iter().zip(expanded) {
        let resources: Vec<Rc<Resource>> = match &st.resources {
            Some(r) if !r.negated => {
                r.patterns.iter().map(|p| Rc::new(Resource { text: p.clone(), tokens: Some(tokens(p)) })).collect()
            }
            Some(r) => vec![Rc::new(Resource { text: format!("NotResource {:?}", r.patterns), tokens: None })],
            None => vec![Rc::new(Resource { text: "(attached resource)".to_string(), tokens: None })],
        };
        for action in actions {
            let items = out.entry(action).or_default();
            for resource in &resources {
                items.push(Item { effect: st.effect, resource: Rc::clone(resource), conditions: &st.conditions });
            }
        }
    }
    Ok(out)
}

fn covered(item: &Item<'_>, by: Option<&Vec<Item<'_>>>) -> bool {
    by.is_some_and(|list| {
        list.iter().any(|other| {
            other.effect == item.effect
                && (other.conditions.is_empty() || equivalent(other.conditions, item.conditions))
                && match (&other.resource.tokens, &item.resource.tokens) {
                    (Some(g), Some(s)) => pattern_covers(g, s),
                    _ => other.resource.text == item.resource.text,
                }
        })
    })
}

/// Whether two condition blocks say the same, read syntactically (so never
/// more than is true): the same conditions in any order, keys in any case,
/// values in any order, and a `…Like` operator whose values hold no
/// wildcard or variable read as its `…Equals` (`StringLike` on
/// `elasticloadbalancing.amazonaws.com` is `StringEquals` on it:
/// AmazonEKSClusterPolicy v4 → v5 changed only that).
fn equivalent(a: &[Condition], b: &[Condition]) -> bool {
    a == b || canonical(a) == canonical(b)
}

/// A condition block in one spelling (see [`equivalent`]).
fn canonical(conditions: &[Condition]) -> Vec<(String, String, Vec<&str>)> {
    let mut out: Vec<_> = conditions
        .iter()
        .map(|c| {
            let mut values: Vec<&str> = c.values.iter().map(String::as_str).collect();
            values.sort_unstable();
            values.dedup();
            let mut operator = c.operator;
            if values.iter().all(|v| !v.contains(['*', '?', '$'])) {
                operator.base = operator.base.literal_equivalent();
            }
            (operator.to_string(), c.key.to_ascii_lowercase(), values)
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

fn condition_text(conditions: &[Condition]) -> String {
    conditions.iter().map(|c| format!("{} {} {:?}", c.operator, c.key, c.values)).collect::<Vec<_>>().join(" AND ")
}

/// The access diff of NEW against OLD (each a list of policies applied together).
///
/// # Errors
/// When action patterns exceed the automaton's size limits.
pub fn diff(catalog: &Catalog, old: &[Policy], new: &[Policy]) -> Result<AccessDiff, CompileError> {
    let (old_grants, new_grants) = (grants(catalog, old)?, grants(catalog, new)?);
    let mut new_access = BTreeSet::new();
    let mut removed_access = BTreeSet::new();
    let grant = |action: ActionId, item: &Item<'_>| Grant {
        action: catalog.action_name(action),
        effect: item.effect.as_str(),
        resource: item.resource.text.clone(),
        condition: condition_text(item.conditions),
    };
    for (action, items) in &new_grants {
        for item in items.iter().filter(|i| !covered(i, old_grants.get(action))) {
            if item.effect == Effect::Allow { &mut new_access } else { &mut removed_access }
                .insert(grant(*action, item));
        }
    }
    for (action, items) in &old_grants {
        for item in items.iter().filter(|i| !covered(i, new_grants.get(action))) {
            if item.effect == Effect::Allow { &mut removed_access } else { &mut new_access }
                .insert(grant(*action, item));
        }
    }
    Ok(AccessDiff {
        new_access: new_access.into_iter().collect(),
        removed_access: removed_access.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::policy::{parse_policy, PolicyKind};

    fn block(condition: &str) -> Vec<Condition> {
        let doc = format!(
            r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{condition}}}}}"#
        );
        match parse_policy(doc.as_bytes(), "p", PolicyKind::Identity) {
            Ok(mut p) => p.statements.pop().map(|s| s.conditions).unwrap_or_default(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Equivalent spellings are equivalent; nothing that can differ is.
    #[test]
    fn equivalent_condition_blocks() {
        let same = [
            (r#"{"StringLike":{"k":"a"}}"#, r#"{"StringEquals":{"k":"a"}}"#),
            (r#"{"StringNotLike":{"k":["b","a"]}}"#, r#"{"StringNotEquals":{"K":["a","b","a"]}}"#),
            (r#"{"ForAnyValue:StringLike":{"k":"a"}}"#, r#"{"ForAnyValue:StringEquals":{"k":"a"}}"#),
            (r#"{"StringEquals":{"k":"a"},"Bool":{"b":"true"}}"#, r#"{"Bool":{"b":"true"},"StringEquals":{"k":"a"}}"#),
        ];
        for (a, b) in same {
            assert!(equivalent(&block(a), &block(b)), "{a} vs {b}");
        }
        let different = [
            (r#"{"StringLike":{"k":"a*"}}"#, r#"{"StringEquals":{"k":"a*"}}"#),
            (r#"{"StringLike":{"k":"a?"}}"#, r#"{"StringEquals":{"k":"a?"}}"#),
            (r#"{"StringLike":{"k":"${aws:username}"}}"#, r#"{"StringEquals":{"k":"${aws:username}"}}"#),
            (r#"{"StringLike":{"k":"a"}}"#, r#"{"StringEqualsIgnoreCase":{"k":"a"}}"#),
            (r#"{"StringLike":{"k":"a"}}"#, r#"{"StringNotEquals":{"k":"a"}}"#),
            (r#"{"StringEquals":{"k":"a"}}"#, r#"{"StringEquals":{"k":"A"}}"#),
            (r#"{"StringEquals":{"k":"a"}}"#, r#"{"StringEqualsIfExists":{"k":"a"}}"#),
            (r#"{"StringEquals":{"k":"a"}}"#, r#"{"ForAllValues:StringEquals":{"k":"a"}}"#),
        ];
        for (a, b) in different {
            assert!(!equivalent(&block(a), &block(b)), "{a} vs {b}");
        }
    }
}
