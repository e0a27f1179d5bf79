//! `Principal` / `NotPrincipal` matching (semantics doc §4): how strongly a
//! resource-policy statement names the caller.
//!
//! Shared by both evaluators: resource policies are small and their
//! principal lists are matched once per request, off the action-indexed hot path.

use super::decision::PrincipalClass;
use crate::policy::{Arn, Effect, PrincipalSpec, PrincipalType};
use crate::request::{is_account_id, Principal, Request, Value};

/// The class of the strongest entry naming the caller, `None` if none does.
///
/// `NotPrincipal` (§4.3, strict reading of Appendix A-2): the caller is excluded
/// only when every identity in its chain is listed (user → user ARN + account;
/// session → session ARN + role ARN + account; federated → its ARN + account;
/// root → account). A `Deny` + `NotPrincipal` always applies to a caller with a
/// permissions boundary. Anonymous callers are excluded only by `*`.
pub fn principal_class(
    spec: &PrincipalSpec,
    req: &Request,
    effect: Effect,
    has_boundary: bool,
) -> Option<PrincipalClass> {
    let p = &req.principal;
    if spec.negated {
        if effect == Effect::Deny && has_boundary && p.has_identity_policies() {
            return Some(PrincipalClass::Direct);
        }
        let listed = |pred: &dyn Fn(PrincipalType, &str) -> bool| {
            spec.entries.iter().any(|(t, v)| (*t == PrincipalType::Aws && v == "*") || pred(*t, v))
        };
        let account_listed = |acct: &str| listed(&|t, v| t == PrincipalType::Aws && names_account(v) == Some(acct));
        let arn_listed = |arn: &str| listed(&|t, v| t == PrincipalType::Aws && v == arn);
        let excluded = match p {
            Principal::Anonymous => listed(&|_, _| false),
            Principal::Service { name } => listed(&|t, v| t == PrincipalType::Service && v.eq_ignore_ascii_case(name)),
            Principal::Root { account, .. } => account_listed(account),
            Principal::User { account, arn, .. } => arn_listed(arn) && account_listed(account),
            Principal::FederatedUser { account, arn, .. } => arn_listed(arn) && account_listed(account),
            Principal::RoleSession { account, role_name, session_arn, .. } => {
                arn_listed(session_arn)
                    && listed(&|t, v| {
                        t == PrincipalType::Aws && names_role(v) == Some((account.as_str(), role_name.as_str()))
                    })
                    && account_listed(account)
            }
        };
        return if excluded { None } else { Some(PrincipalClass::Direct) };
    }
    spec.entries.iter().filter_map(|(t, v)| entry_class(*t, v, req)).max()
}

/// The account an `AWS` principal entry names as a whole (`123456789012` or its root ARN).
fn names_account(v: &str) -> Option<&str> {
    if is_account_id(v) {
        return Some(v);
    }
    let arn = Arn::parse(v)?;
    (arn.service == "iam" && arn.resource == "root" && is_account_id(arn.account)).then_some(arn.account)
}

/// (account, role name) of a role ARN entry; roles are matched on the last path component.
fn names_role(v: &str) -> Option<(&str, &str)> {
    let arn = Arn::parse(v)?;
    let path = arn.resource.strip_prefix("role/")?;
    (arn.service == "iam").then(|| (arn.account, path.rsplit('/').next().unwrap_or(path)))
}

fn entry_class(t: PrincipalType, v: &str, req: &Request) -> Option<PrincipalClass> {
    let p = &req.principal;
    match t {
        PrincipalType::Aws => {}
        PrincipalType::Service => {
            return matches!(p, Principal::Service { name } if name.eq_ignore_ascii_case(v))
                .then_some(PrincipalClass::Direct)
        }
        // Web-identity/SAML callers and S3 canonical ids are not modelled as request principals.
        PrincipalType::Federated | PrincipalType::CanonicalUser => return None,
    }
    if v == "*" {
        return Some(PrincipalClass::Direct);
    }
    // Wildcards inside a principal value are invalid and never match (§4.1).
    if v.contains(['*', '?']) {
        return None;
    }
    if let Some(acct) = names_account(v) {
        return match p {
            Principal::Root { account, .. } if account == acct => Some(PrincipalClass::Direct),
            _ if p.account() == Some(acct) => Some(PrincipalClass::Account),
            _ => None,
        };
    }
    if v.starts_with("AIDA") || v.starts_with("AROA") {
        // Unique ids match only the entity with that id (`aws:userid`).
        let Some(Value::Single(userid)) = req.lookup("aws:userid") else { return None };
        let id = userid.split(':').next().unwrap_or(userid);
        return match p {
            Principal::User { .. } if id == v => Some(PrincipalClass::Direct),
            Principal::RoleSession { .. } if id == v => Some(PrincipalClass::ViaRole),
            _ => None,
        };
    }
    if let Some((acct, role)) = names_role(v) {
        return match p {
            Principal::RoleSession { account, role_name, .. }
                if account == acct && role_name.eq_ignore_ascii_case(role) =>
            {
                Some(PrincipalClass::ViaRole)
            }
            _ => None,
        };
    }
    match p {
        Principal::User { arn, .. } | Principal::FederatedUser { arn, .. } if arn == v => Some(PrincipalClass::Direct),
        Principal::RoleSession { session_arn, .. } if session_arn == v => Some(PrincipalClass::Direct),
        Principal::FederatedUser { issuer: Some(user), .. } if user == v => Some(PrincipalClass::ViaUser),
        _ => None,
    }
}
