//! The decision rules both evaluators share, written once:
//!
//! * [`condition_result`]: missing keys, `IfExists`, set qualifiers and negation
//!   over a per-value match function (semantics doc §5.1, §5.3, §5.4);
//! * [`combine`]: statement hits → decision (§7.2–7.5): explicit deny anywhere,
//!   RCP and SCP guardrails level by level, then the same-account or
//!   cross-account grant with boundary and session limits.
//!
//! The two evaluators differ in how they find hits (naive interpretation vs
//! compiled automata); that is what differential testing compares.

use super::decision::{Decision, DecisionKind, Hit, KeyId, PrincipalClass};
use crate::policy::{Effect, Layer, Operator, SetQualifier, Shape, StatementRef};
use crate::request::{Principal, Request, Tri, Value};
use smallvec::SmallVec;

/// Evaluates one condition given the request value and `matches`, which says
/// whether one request value matches any of the policy values under the
/// *positive* form of the operator (`None` = the request value does not parse
/// as the operator's type). `Null` is handled by the caller.
///
/// * Absent key: `IfExists` ⇒ true; `ForAllValues` ⇒ true; `ForAnyValue` ⇒ false;
///   otherwise negated operators ⇒ true, positive ⇒ false (§5.3).
/// * Unknown value ⇒ unknown (§5.5).
/// * Unqualified operator on a multi-valued value ⇒ false (Appendix A-4).
/// * A request value of the wrong type ⇒ false, negated or not (Appendix A-5).
pub fn condition_result(op: &Operator, value: Option<Value<'_>>, mut matches: impl FnMut(&str) -> Option<Tri>) -> Tri {
    let negated = op.base.negated;
    let mut one = |v: &str| match matches(v) {
        None => Tri::False,
        Some(t) if negated => t.not(),
        Some(t) => t,
    };
    match value {
        None => Tri::from_bool(match op.qualifier {
            _ if op.if_exists => true,
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => false,
            None => negated,
        }),
        Some(Value::Unknown) => Tri::Unknown,
        Some(Value::Single(v)) => one(v),
        Some(Value::Multi(vs)) => match op.qualifier {
            None => Tri::False,
            Some(SetQualifier::ForAnyValue) => vs.iter().fold(Tri::False, |acc, v| acc.or(one(v))),
            Some(SetQualifier::ForAllValues) => vs.iter().fold(Tri::True, |acc, v| acc.and(one(v))),
        },
    }
}

/// `Null`: policy value `true` ⇒ key absent or empty; `false` ⇒ present and
/// non-empty (§5.3, Appendix A-11). Values are OR-ed.
pub fn null_result(want_null: impl Iterator<Item = bool>, value: Option<Value<'_>>) -> Tri {
    let is_null = match value {
        None => true,
        Some(Value::Unknown) => return Tri::Unknown,
        Some(Value::Single(s)) => s.is_empty(),
        Some(Value::Multi(m)) => m.is_empty(),
    };
    let mut any = false;
    for w in want_null {
        any |= w == is_null;
    }
    Tri::from_bool(any)
}

/// Actions that are not authorised by policies at all (§7.3 step 0).
const AUTHORIZATION_FREE: &[&str] = &["sts:getcalleridentity", "sts:getsessiontoken"];

/// Services whose resources RCPs govern (§7.2; data, extend as AWS adds services).
const RCP_SERVICES: &[&str] = &["s3", "sts", "kms", "sqs", "secretsmanager", "ecr", "aoss", "cognito-idp", "logs"];

/// Actions a role trust policy governs (§7.4).
const TRUST_ACTIONS: &[&str] = &[
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
    "sts:setcontext",
];

fn service_of(action: &str) -> &str {
    action.split_once(':').map_or(action, |(s, _)| s)
}

/// Whether `action` (any case) is one of `list` (lower-case).
fn is_one_of(action: &str, list: &[&str]) -> bool {
    list.iter().any(|a| a.eq_ignore_ascii_case(action))
}

/// Whether SCPs govern this request's principal (§7.2): member-account users,
/// role sessions (not service-linked) and root users.
pub fn scps_apply(shape: &Shape, req: &Request) -> bool {
    let p = &req.principal;
    shape.scp_levels > 0
        && matches!(
            p,
            Principal::User { .. }
                | Principal::RoleSession { .. }
                | Principal::FederatedUser { .. }
                | Principal::Root { .. }
        )
        && !p.is_service_linked_role()
        && shape.organization.is_member(p.account())
}

/// Whether RCPs govern this request's resource (§7.2).
pub fn rcps_apply(shape: &Shape, req: &Request) -> bool {
    let service = service_of(&req.action);
    shape.rcp_levels > 0
        && RCP_SERVICES.iter().any(|s| s.eq_ignore_ascii_case(service))
        && shape.organization.is_member(req.resource_account())
}

/// Applies §7.3: hits (statements whose action, resource and principal match,
/// with their condition results) → decision.
pub fn combine(shape: &Shape, req: &Request, hits: &[Hit], missing_keys: SmallVec<[KeyId; 4]>) -> Decision {
    let decision = |kind, statements, missing_allow| Decision {
        kind,
        statements,
        missing_allow,
        missing_keys: missing_keys.clone(),
    };
    if is_one_of(&req.action, AUTHORIZATION_FREE) {
        return decision(DecisionKind::Allowed, SmallVec::new(), None);
    }
    let p = &req.principal;
    let identity_applies = p.has_identity_policies();
    let scp = scps_apply(shape, req);
    let rcp = rcps_apply(shape, req);
    let applies = |layer: Layer| match layer {
        Layer::Identity | Layer::PermissionsBoundary | Layer::Session => identity_applies,
        Layer::Resource => true,
        Layer::Scp(_) => scp,
        Layer::Rcp(_) => rcp,
    };

    // Step 1: an explicit deny anywhere wins.
    let mut unknown = false;
    let mut denies: SmallVec<[StatementRef; 4]> = SmallVec::new();
    for h in hits.iter().filter(|h| h.effect == Effect::Deny && applies(h.statement.layer)) {
        match h.result {
            Tri::True => denies.push(h.statement),
            Tri::Unknown => unknown = true,
            Tri::False => {}
        }
    }
    if !denies.is_empty() {
        denies.sort_unstable();
        return decision(DecisionKind::ExplicitDeny, denies, None);
    }

    let allows = |pred: &dyn Fn(&Hit) -> bool| {
        hits.iter().filter(|h| h.effect == Effect::Allow && pred(h)).fold(Tri::False, |acc, h| acc.or(h.result))
    };

    // Steps 2 and 3: every RCP level, then every SCP level, must allow.
    let guardrails = [(rcp, shape.rcp_levels, Layer::Rcp as fn(u16) -> Layer), (scp, shape.scp_levels, Layer::Scp)];
    for (active, levels, layer_of) in guardrails {
        if !active {
            continue;
        }
        for level in 0..levels {
            let layer = layer_of(level);
            match allows(&|h| h.statement.layer == layer) {
                Tri::False => return decision(DecisionKind::ImplicitDeny, SmallVec::new(), Some(layer)),
                Tri::Unknown => unknown = true,
                Tri::True => {}
            }
        }
    }

    // Step 4: grants (§7.4 same account, §7.5 cross-account and non-IAM callers).
    let layer_allows = |layer: Layer| allows(&|h| h.statement.layer == layer);
    let rb = |class: PrincipalClass| allows(&|h| h.statement.layer == Layer::Resource && h.class == class);
    let id = if identity_applies && shape.has_identity { layer_allows(Layer::Identity) } else { Tri::False };
    let pb = if identity_applies && shape.has_boundary { layer_allows(Layer::PermissionsBoundary) } else { Tri::True };
    let sp = match (shape.has_session, p) {
        (true, _) if identity_applies => layer_allows(Layer::Session),
        // A federated-user session created without a session policy has no
        // identity-derived permissions (STS GetFederationToken).
        (false, Principal::FederatedUser { .. }) => Tri::False,
        _ => Tri::True,
    };
    let (direct, via, account) = (
        rb(PrincipalClass::Direct),
        rb(PrincipalClass::ViaRole).or(rb(PrincipalClass::ViaUser)),
        rb(PrincipalClass::Account),
    );
    let is_root = matches!(p, Principal::Root { .. });
    // The root user has every permission in its own account (§7.4).
    let identity_side = if is_root { Tri::True } else { id.and(pb).and(sp) };
    let limits = pb.and(sp);
    let is_kms = service_of(&req.action).eq_ignore_ascii_case("kms") && shape.has_resource_policy;
    let is_trust = is_one_of(&req.action, TRUST_ACTIONS) && req.resource.contains(":role/");

    let grant = match p {
        Principal::Service { .. } | Principal::Anonymous => direct,
        _ if p.account() == req.resource_account() => {
            // KMS: identity policies count only if the key policy delegates to the
            // account; trust policies: the trust policy must name the caller or its
            // account (then the identity side must allow too).
            let trusts_iam = if is_kms {
                account.or(if is_root { direct } else { Tri::False })
            } else if is_trust {
                account
            } else {
                Tri::True
            };
            // Appendix A-3: a trust policy naming the caller is still limited by its boundary.
            let direct = if is_trust { direct.and(pb) } else { direct };
            direct.or(via.and(limits)).or(identity_side.and(trusts_iam))
        }
        _ => identity_side.and(direct.or(via).or(account)),
    };

    match grant {
        Tri::False => {
            let same = p.account() == req.resource_account();
            let reason = if matches!(p, Principal::Service { .. } | Principal::Anonymous) {
                Layer::Resource
            } else if identity_side == Tri::False && !is_root {
                if id == Tri::False {
                    Layer::Identity
                } else if pb == Tri::False {
                    Layer::PermissionsBoundary
                } else {
                    Layer::Session
                }
            } else if same && !is_kms && !is_trust {
                Layer::Identity
            } else {
                Layer::Resource
            };
            decision(DecisionKind::ImplicitDeny, SmallVec::new(), Some(reason))
        }
        Tri::True if !unknown => {
            let mut granted: SmallVec<[StatementRef; 4]> = hits
                .iter()
                .filter(|h| h.effect == Effect::Allow && h.result == Tri::True && applies(h.statement.layer))
                .map(|h| h.statement)
                .collect();
            granted.sort_unstable();
            decision(DecisionKind::Allowed, granted, None)
        }
        _ => decision(DecisionKind::Indeterminate, SmallVec::new(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> Operator {
        Operator::parse(name).unwrap()
    }

    fn eq_any<'a>(policy: &'a [&'a str]) -> impl FnMut(&str) -> Option<Tri> + 'a {
        move |v| Some(Tri::from_bool(policy.contains(&v)))
    }

    #[test]
    fn missing_keys_and_qualifiers() {
        let p = ["env", "team"];
        assert_eq!(condition_result(&op("StringEquals"), None, eq_any(&p)), Tri::False);
        assert_eq!(condition_result(&op("StringNotEquals"), None, eq_any(&p)), Tri::True);
        assert_eq!(condition_result(&op("StringEqualsIfExists"), None, eq_any(&p)), Tri::True);
        assert_eq!(condition_result(&op("ForAllValues:StringEquals"), None, eq_any(&p)), Tri::True);
        assert_eq!(condition_result(&op("ForAnyValue:StringNotEquals"), None, eq_any(&p)), Tri::False);
        let set = vec!["env".to_string(), "owner".to_string()];
        assert_eq!(
            condition_result(&op("ForAllValues:StringEquals"), Some(Value::Multi(&set)), eq_any(&p)),
            Tri::False
        );
        assert_eq!(condition_result(&op("ForAnyValue:StringEquals"), Some(Value::Multi(&set)), eq_any(&p)), Tri::True);
        assert_eq!(
            condition_result(&op("ForAnyValue:StringNotEquals"), Some(Value::Multi(&set)), eq_any(&p)),
            Tri::True
        );
        assert_eq!(condition_result(&op("StringEquals"), Some(Value::Multi(&set)), eq_any(&p)), Tri::False);
        assert_eq!(condition_result(&op("StringNotEquals"), Some(Value::Multi(&set)), eq_any(&p)), Tri::False);
        let empty: Vec<String> = vec![];
        assert_eq!(
            condition_result(&op("ForAllValues:StringEquals"), Some(Value::Multi(&empty)), eq_any(&p)),
            Tri::True
        );
        assert_eq!(
            condition_result(&op("ForAnyValue:StringEquals"), Some(Value::Multi(&empty)), eq_any(&p)),
            Tri::False
        );
        assert_eq!(condition_result(&op("StringEquals"), Some(Value::Unknown), eq_any(&p)), Tri::Unknown);
        // Type mismatch: false under negation too.
        assert_eq!(condition_result(&op("NotIpAddress"), Some(Value::Single("x")), |_| None), Tri::False);
    }

    #[test]
    fn null_operator() {
        assert_eq!(null_result([true].into_iter(), None), Tri::True);
        assert_eq!(null_result([false].into_iter(), None), Tri::False);
        assert_eq!(null_result([true].into_iter(), Some(Value::Single(""))), Tri::True);
        assert_eq!(null_result([false].into_iter(), Some(Value::Single("x"))), Tri::True);
    }
}
