//! `Principal` / `NotPrincipal` matching (semantics doc §4): how strongly a
//! resource-policy statement names the caller. Works on the typed
//! [`PrincipalValue`]s the parser built, so no ARN is parsed per request.

use super::decision::PrincipalClass;
use crate::policy::{Effect, PrincipalSpec, PrincipalValue};
use crate::request::{Principal, Request, Value};

/// The class of the strongest entry naming the caller, `None` if none does.
///
/// `NotPrincipal` (§4.3, strict reading of Appendix A-2): the caller is excluded
/// only when every identity in its chain is listed (user → user ARN + account;
/// session → session ARN + role + account; federated → its ARN + account;
/// root → account). A `Deny` + `NotPrincipal` always applies to a caller with a
/// permissions boundary. Anonymous callers are excluded only by `*`.
pub fn principal_class(
    spec: &PrincipalSpec,
    req: &Request,
    effect: Effect,
    has_boundary: bool,
) -> Option<PrincipalClass> {
    let p = &req.principal;
    if !spec.negated {
        return spec.values.iter().filter_map(|v| entry_class(v, req)).max();
    }
    if effect == Effect::Deny && has_boundary && p.has_identity_policies() {
        return Some(PrincipalClass::Direct);
    }
    let listed =
        |pred: &dyn Fn(&PrincipalValue) -> bool| spec.values.iter().any(|v| *v == PrincipalValue::Any || pred(v));
    let account_listed = |acct: &str| listed(&|v| matches!(v, PrincipalValue::Account(a) if a == acct));
    let excluded = match p {
        Principal::Anonymous => listed(&|_| false),
        Principal::Service { name } => {
            listed(&|v| matches!(v, PrincipalValue::Service(s) if s.eq_ignore_ascii_case(name)))
        }
        Principal::Root { account, .. } => account_listed(account),
        Principal::User { account, arn, .. } => {
            listed(&|v| matches!(v, PrincipalValue::User(u) if u == arn)) && account_listed(account)
        }
        Principal::FederatedUser { account, arn, .. } => {
            listed(&|v| matches!(v, PrincipalValue::Session(s) if s == arn)) && account_listed(account)
        }
        Principal::RoleSession { account, role_name, session_arn, .. } => {
            listed(&|v| matches!(v, PrincipalValue::Session(s) if s == session_arn))
                && listed(
                    &|v| matches!(v, PrincipalValue::Role { account: a, name } if a == account && name.eq_ignore_ascii_case(role_name)),
                )
                && account_listed(account)
        }
    };
    if excluded {
        None
    } else {
        Some(PrincipalClass::Direct)
    }
}

fn entry_class(v: &PrincipalValue, req: &Request) -> Option<PrincipalClass> {
    let p = &req.principal;
    match v {
        PrincipalValue::Any => Some(PrincipalClass::Direct),
        PrincipalValue::Service(s) => {
            matches!(p, Principal::Service { name } if name.eq_ignore_ascii_case(s)).then_some(PrincipalClass::Direct)
        }
        PrincipalValue::Account(acct) => match p {
            Principal::Root { account, .. } if account == acct => Some(PrincipalClass::Direct),
            _ if p.account() == Some(acct.as_str()) => Some(PrincipalClass::Account),
            _ => None,
        },
        PrincipalValue::User(arn) => match p {
            Principal::User { arn: a, .. } if a == arn => Some(PrincipalClass::Direct),
            Principal::FederatedUser { issuer: Some(user), .. } if user == arn => Some(PrincipalClass::ViaUser),
            _ => None,
        },
        PrincipalValue::Role { account, name } => match p {
            Principal::RoleSession { account: a, role_name, .. }
                if a == account && role_name.eq_ignore_ascii_case(name) =>
            {
                Some(PrincipalClass::ViaRole)
            }
            _ => None,
        },
        PrincipalValue::Session(arn) => match p {
            Principal::RoleSession { session_arn, .. } if session_arn == arn => Some(PrincipalClass::Direct),
            Principal::FederatedUser { arn: a, .. } if a == arn => Some(PrincipalClass::Direct),
            _ => None,
        },
        PrincipalValue::UniqueId(id) => {
            // Unique ids match only the entity with that id (`aws:userid`).
            let Some(Value::Single(userid)) = req.lookup_lowered("aws:userid") else { return None };
            let own = userid.split(':').next().unwrap_or(userid);
            match p {
                Principal::User { .. } if own == id => Some(PrincipalClass::Direct),
                Principal::RoleSession { .. } if own == id => Some(PrincipalClass::ViaRole),
                _ => None,
            }
        }
        PrincipalValue::Never(_) => None,
    }
}
