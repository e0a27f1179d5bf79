//! `principal-can`: every catalog action a principal is allowed, with the
//! resource patterns it is allowed on, the conditions it depends on, and
//! what the boundary, SCPs or Denies take away. Part of
//! [`access`](super): a [`SweepPlan`] is built once per model and catalog;
//! [`AccountModel::principal_can`] answers one principal with it.
//!
//! **How the sweep stays linear.** Every distinct identity policy's Allow
//! statements go through the catalog's action automaton once
//! ([`Catalog::expand_lists`], the matcher evaluation uses): each
//! policy set then knows, per catalog action, which of its statements can
//! allow it. An action no identity statement allows is answered "not
//! allowed" without a decision (an identity-based allow is needed for every
//! request the sweep asks, same-account and without a resource policy);
//! each other action is decided by the engine once per resource pattern.
//!
//! **Resource patterns** come from the allowing statements' `Resource`
//! elements and the action's resource types: `"*"` (or a `NotResource`)
//! becomes each resource type's ARN format with the principal's account
//! (`arn:aws:ec2:*:111122223333:instance/*`); a pattern that fits none of the
//! action's resource types grants nothing for it and is dropped; an action
//! without resource types is asked on `*`. `${aws:username}` is the user's
//! name; other policy variables are `*`.

use super::{
    answer, format_pattern, replace_placeholders, AccessError, AccountModel, Answer, PrincipalKind, Ruling, Subject,
};
use crate::audit::catalog::validate::ResourceFormats;
use crate::audit::catalog::{AccessLevel, ActionId, Catalog};
use crate::engine::compile::CompileError;
use crate::engine::eval::{DecisionKind, Scratch};
use crate::engine::policy::{Effect, Layer, Statement};
use rustc_hash::FxHashMap;
use serde::Serialize;

/// Which actions a sweep asks about.
#[derive(Clone, Debug, Default)]
pub struct SweepFilter {
    /// Only these service prefixes (empty: all).
    pub services: Vec<String>,
    /// Only these access levels (empty: all).
    pub access_levels: Vec<AccessLevel>,
}

impl SweepFilter {
    fn admits(&self, catalog: &Catalog, id: ActionId) -> bool {
        let service_ok = self.services.is_empty()
            || catalog.service_of(id).is_some_and(|s| self.services.iter().any(|p| p.eq_ignore_ascii_case(&s.prefix)));
        let level_ok = self.access_levels.is_empty()
            || catalog.action_def(id).is_some_and(|a| self.access_levels.contains(&a.access));
        service_ok && level_ok
    }
}

/// One resource pattern to ask an action on.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Witness {
    /// A resource type's ARN format (`${Account}` is the principal's).
    Format(String),
    /// A policy's own `Resource` pattern (its variables resolved per principal).
    Pattern(String),
}

/// Per distinct policy set of a model: the catalog actions its identity
/// statements can allow, each with the resource patterns to ask on.
pub struct SweepPlan<'c> {
    catalog: &'c Catalog,
    /// Per set (the model's order): (action, witnesses), in catalog order.
    per_set: Vec<Vec<(ActionId, Vec<Witness>)>>,
}

impl<'c> SweepPlan<'c> {
    /// The catalog the plan was built on.
    pub fn catalog(&self) -> &'c Catalog {
        self.catalog
    }
}

/// One allowed (or conditionally allowed) resource pattern of an action.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Grant {
    /// The resource pattern.
    pub resource: String,
    /// `allowed` or `conditional`, and what it rests on.
    #[serde(flatten)]
    pub ruling: Ruling,
}

/// One action a principal may perform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ActionCan {
    /// `service:Action`.
    pub action: String,
    /// Its access level in the catalog.
    pub access_level: &'static str,
    /// Where it is allowed.
    pub grants: Vec<Grant>,
}

/// One service's allowed actions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ServiceCan {
    /// The service prefix.
    pub service: String,
    /// Its allowed actions, in catalog order.
    pub actions: Vec<ActionCan>,
}

/// What a principal can do.
#[derive(Clone, Debug, Serialize)]
pub struct PrincipalCan {
    /// The principal's ARN.
    pub principal: String,
    /// Allowed (or conditionally allowed) actions, by service.
    pub services: Vec<ServiceCan>,
    /// What the identity policies allow and the rest takes away: each
    /// answer is `denied` or `not_allowed`, with the layer in `limited_by`.
    pub taken_away: Vec<Answer>,
    /// Catalog actions asked about (after the filter): every one is answered.
    pub actions_asked: usize,
    /// Of those, the actions some identity statement can allow (the rest
    /// are not allowed without a decision).
    pub actions_with_identity_allow: usize,
    /// Decisions the engine made (one per action and resource pattern).
    pub decisions: usize,
}

impl PrincipalCan {
    /// How many actions are allowed or conditionally allowed.
    pub fn allowed_actions(&self) -> usize {
        self.services.iter().map(|s| s.actions.len()).sum()
    }
}

impl AccountModel {
    /// Prepares [`AccountModel::principal_can`] over `catalog`: every
    /// distinct identity policy's Allow statements run through the catalog's
    /// action automaton once.
    ///
    /// # Errors
    /// When the statements' action patterns exceed the automaton's limits.
    pub fn sweep_plan<'c>(&self, catalog: &'c Catalog) -> Result<SweepPlan<'c>, CompileError> {
        // Each distinct policy's statements, in id order (a boundary, kept
        // out of identity lists, contributes none).
        let mut statements: Vec<&Statement> = Vec::new();
        let mut first_statement: Vec<usize> = Vec::with_capacity(self.policy_home.len());
        for &(set, position) in &self.policy_home {
            first_statement.push(statements.len());
            let home = self.sets.get(set).and_then(|s| s.policy_set().identity.get(position));
            statements.extend(home.into_iter().flat_map(|p| &p.statements));
        }
        let allows: Vec<(&[String], bool)> = statements
            .iter()
            .map(|s| match s.effect {
                Effect::Allow => (s.actions.patterns.as_slice(), s.actions.negated),
                // A Deny allows nothing: an empty Action list matches nothing.
                Effect::Deny => (&[][..], false),
            })
            .collect();
        let matched = catalog.expand_lists(&allows)?;
        let mut formats = FormatCache::default();
        let mut per_set = Vec::with_capacity(self.sets.len());
        for policies in &self.identity_ids {
            let mut by_action: FxHashMap<ActionId, Vec<Witness>> = FxHashMap::default();
            for &p in policies {
                let start = first_statement.get(p).copied().unwrap_or(0);
                let end = first_statement.get(p + 1).copied().unwrap_or(statements.len());
                for s in start..end {
                    let (Some(stmt), Some(actions)) = (statements.get(s), matched.get(s)) else { continue };
                    for &id in actions {
                        let witnesses = by_action.entry(id).or_default();
                        for w in witnesses_of(catalog, &mut formats, stmt, id) {
                            if !witnesses.contains(&w) {
                                witnesses.push(w);
                            }
                        }
                    }
                }
            }
            let mut actions: Vec<(ActionId, Vec<Witness>)> = by_action.into_iter().collect();
            actions.sort_unstable_by_key(|(id, _)| (id.service, id.action));
            per_set.push(actions);
        }
        Ok(SweepPlan { catalog, per_set })
    }

    /// Every catalog action (that `filter` admits) `principal` is allowed,
    /// grouped by service, each with its resource patterns and conditions;
    /// plus what the identity policies allow and the boundary, SCPs, session
    /// or Denies take away. Resources are taken to be in the principal's
    /// account; resource policies are not consulted (ask `who_can` or
    /// `can_access` about a resource that has one).
    ///
    /// # Errors
    /// The principal is not a user or role of the model.
    ///
    /// # Example
    /// ```
    /// use iamsim::audit::access::{AccessInputs, AccountModel};
    /// use iamsim::audit::access::sweep::SweepFilter;
    /// use iamsim::audit::catalog::Catalog;
    /// use iamsim::audit::inventory::Inventory;
    /// let catalog = Catalog::load(std::path::Path::new("corpus/catalog/service-reference"))?;
    /// let details = br#"{"RoleDetailList": [{"RoleName": "reader", "Arn": "arn:aws:iam::111122223333:role/reader",
    ///   "RolePolicyList": [{"PolicyName": "read", "PolicyDocument": {"Version": "2012-10-17", "Statement": [
    ///     {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::data/*"}]}}]}]}"#;
    /// let mut inventory = Inventory::new();
    /// inventory.load(details, "details.json", None)?;
    /// let model = AccountModel::build(&inventory, AccessInputs::default())?;
    /// let plan = model.sweep_plan(&catalog)?;
    /// let can = model.principal_can(&plan, "arn:aws:iam::111122223333:role/reader", &SweepFilter::default())?;
    /// let s3 = &can.services[0];
    /// assert_eq!(s3.service, "s3");
    /// // s3:GetObject on the objects; s3:GetBucketPolicy is on buckets, which `data/*` does not name.
    /// assert!(s3.actions.iter().any(|a| a.action == "s3:GetObject" && a.grants[0].resource == "arn:aws:s3:::data/*"));
    /// assert!(!s3.actions.iter().any(|a| a.action == "s3:GetBucketPolicy"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn principal_can(
        &self,
        plan: &SweepPlan<'_>,
        principal: &str,
        filter: &SweepFilter,
    ) -> Result<PrincipalCan, AccessError> {
        let subject = self.subject(principal)?;
        let catalog = plan.catalog;
        let set = &self.sets[subject.set];
        let candidates = plan.per_set.get(subject.set).map(Vec::as_slice).unwrap_or_default();
        let actions_asked = if filter.services.is_empty() && filter.access_levels.is_empty() {
            catalog.action_count()
        } else {
            catalog.action_ids().filter(|id| filter.admits(catalog, *id)).count()
        };
        let mut scratch = Scratch::new(set);
        let mut services: Vec<ServiceCan> = Vec::new();
        let mut taken_away = Vec::new();
        let (mut with_allow, mut decisions) = (0, 0);
        for (id, witnesses) in candidates.iter().filter(|(id, _)| filter.admits(catalog, *id)) {
            with_allow += 1;
            let action = catalog.action_name(*id);
            let mut grants = Vec::new();
            for w in witnesses {
                let resource = resolve(w, subject);
                let req = self.request(subject, &action, &resource, Some(&subject.account));
                let d = set.decide(&req, &mut scratch);
                decisions += 1;
                let a = answer(set, &req, &d, subject.arn.clone(), subject.kind, None);
                if a.ruling.access.may_allow() {
                    grants.push(Grant { resource: a.resource, ruling: a.ruling });
                } else if takes_away(&d) {
                    taken_away.push(a);
                }
            }
            if grants.is_empty() {
                continue;
            }
            let prefix = catalog.service_of(*id).map(|s| s.prefix.clone()).unwrap_or_default();
            let access_level = catalog.action_def(*id).map_or("", |a| a.access.as_str());
            let entry = ActionCan { action, access_level, grants };
            match services.last_mut() {
                Some(last) if last.service == prefix => last.actions.push(entry),
                _ => services.push(ServiceCan { service: prefix, actions: vec![entry] }),
            }
        }
        Ok(PrincipalCan {
            principal: subject.arn.clone(),
            services,
            taken_away,
            actions_asked,
            actions_with_identity_allow: with_allow,
            decisions,
        })
    }
}

/// Whether a refusal is something a layer other than the identity policies
/// took away (a Deny anywhere, or a boundary, session or SCP without an allow).
fn takes_away(d: &crate::engine::eval::Decision) -> bool {
    match d.kind {
        DecisionKind::ExplicitDeny => true,
        DecisionKind::ImplicitDeny => d.missing_allow.is_some_and(|l| l != Layer::Identity),
        _ => false,
    }
}

/// The witness as a request's resource for `subject`.
fn resolve(w: &Witness, subject: &Subject) -> String {
    match w {
        Witness::Format(f) => format_pattern(f, Some(&subject.account)),
        Witness::Pattern(p) if p.contains("${") => resolve_variables(p, subject),
        Witness::Pattern(p) => p.clone(),
    }
}

/// `${aws:username}` is the user's name, `${*}`, `${?}` and `${$}` their
/// character, any other variable `*` (it can be any value).
fn resolve_variables(pattern: &str, subject: &Subject) -> String {
    replace_placeholders(pattern, |inside, out| {
        // A default value (`${aws:username, 'x'}`) does not change the key.
        let key = inside.split(',').next().unwrap_or_default().trim();
        match (key, subject.kind, &subject.name) {
            ("*" | "?" | "$", _, _) => out.push_str(key),
            (k, PrincipalKind::User, Some(name)) if k.eq_ignore_ascii_case("aws:username") => out.push_str(name),
            _ => out.push('*'),
        }
    })
}

/// Each action's resource formats (strings, to ask on) and matcher, read
/// once per plan.
type FormatCache = FxHashMap<ActionId, (Vec<String>, ResourceFormats)>;

/// The resource patterns to ask `id` on for an Allow statement that names it.
fn witnesses_of(catalog: &Catalog, cache: &mut FormatCache, stmt: &Statement, id: ActionId) -> Vec<Witness> {
    let (formats, matcher) = cache.entry(id).or_insert_with(|| {
        let strings = catalog.resource_types_of(id).flat_map(|t| t.arn_formats.iter().cloned()).collect();
        (strings, catalog.resource_formats(id))
    });
    if formats.is_empty() {
        // No resource types: the request names `*`.
        return vec![Witness::Pattern("*".to_string())];
    }
    let Some(list) = &stmt.resources else { return Vec::new() };
    let everything = list.negated || list.patterns.iter().any(|p| p == "*");
    let mut out: Vec<Witness> = Vec::new();
    if everything {
        out.extend(formats.iter().map(|f| Witness::Format(f.clone())));
    }
    for p in list.patterns.iter().filter(|p| !list.negated && p.as_str() != "*") {
        if matcher.fits_pattern(p) {
            out.push(Witness::Pattern(p.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(kind: PrincipalKind, name: Option<&str>) -> Subject {
        Subject {
            arn: "arn:aws:iam::111122223333:user/alice".to_string(),
            kind,
            principal: crate::engine::request::Principal::Anonymous,
            set: 0,
            context: crate::engine::request::Context::new(),
            account: "111122223333".to_string(),
            name: name.map(str::to_string),
        }
    }

    #[test]
    fn variables_resolve_for_the_principal() {
        let alice = subject(PrincipalKind::User, Some("alice"));
        assert_eq!(resolve_variables("arn:aws:s3:::home/${aws:username}/*", &alice), "arn:aws:s3:::home/alice/*");
        assert_eq!(resolve_variables("arn:aws:s3:::t/${aws:PrincipalTag/team}", &alice), "arn:aws:s3:::t/*");
        assert_eq!(resolve_variables("a${*}b${oops", &alice), "a*b${oops");
        let role = subject(PrincipalKind::Role, None);
        assert_eq!(resolve_variables("arn:aws:s3:::home/${aws:username}", &role), "arn:aws:s3:::home/*");
    }
}
