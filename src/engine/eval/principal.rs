//! `Principal` / `NotPrincipal` matching (semantics doc §4): how strongly a
//! resource-policy statement names the caller. Works on the typed
//! [`PrincipalValue`]s the parser built, so no ARN is parsed per request.

use super::decision::PrincipalClass;
use crate::engine::policy::principal::USERID_KEY;
use crate::engine::policy::{Effect, PrincipalSpec, PrincipalValue};
use crate::engine::request::{Principal, Request, Tri, Value};

/// How strongly the statement names the caller and whether it surely does:
/// `None` if it does not, else the class with [`Tri::True`], or with
/// [`Tri::Unknown`] when only a unique-id entry could name the caller and the
/// request's `aws:userid` is unknown (open-world replay). Unknown must not
/// read as "no match": a `Deny` naming the caller's unique id would be
/// skipped (fail open).
///
/// When one entry surely names the caller and a stronger one only might, the
/// sure, weaker class is kept: for a `Deny` the class does not matter, and for
/// an `Allow` the weaker class (an account, which delegates to identity
/// policies) never allows more than the stronger would.
///
/// `NotPrincipal` (§4.3, strict reading of Appendix A-2): the caller is excluded
/// only when every identity in its chain is listed (user → user ARN + account;
/// session → session ARN + role + account; federated → its ARN + account;
/// root → account); a unique id lists the user or role it names. A `Deny` +
/// `NotPrincipal` always applies to a caller with a permissions boundary.
/// Anonymous callers are excluded only by `*`.
pub fn principal_class(
    spec: &PrincipalSpec,
    req: &Request,
    effect: Effect,
    has_boundary: bool,
) -> Option<(PrincipalClass, Tri)> {
    let p = &req.principal;
    if !spec.negated {
        let (mut sure, mut maybe) = (None, None);
        for v in &spec.values {
            match entry_class(v, req) {
                Some((c, Tri::True)) => sure = sure.max(Some(c)),
                Some((c, _)) => maybe = maybe.max(Some(c)),
                None => {}
            }
        }
        return match (sure, maybe) {
            (Some(c), _) => Some((c, Tri::True)),
            (None, Some(c)) => Some((c, Tri::Unknown)),
            (None, None) => None,
        };
    }
    if effect == Effect::Deny && has_boundary && p.has_identity_policies() {
        return Some((PrincipalClass::Direct, Tri::True));
    }
    let listed = |pred: &dyn Fn(&PrincipalValue) -> bool| {
        Tri::from_bool(spec.values.iter().any(|v| *v == PrincipalValue::Any || pred(v)))
    };
    let account_listed = |acct: &str| listed(&|v| matches!(v, PrincipalValue::Account(a) if a == acct));
    // The caller's user or role, listed by name or (as IAM stores a deleted
    // one) by unique id.
    let entity_listed = |by_name: &dyn Fn(&PrincipalValue) -> bool| {
        listed(by_name).or(spec.values.iter().fold(Tri::False, |t, v| match v {
            PrincipalValue::UniqueId(id) => t.or(own_unique_id_is(id, req)),
            _ => t,
        }))
    };
    let excluded = match p {
        Principal::Anonymous => listed(&|_| false),
        Principal::Service { name } => {
            listed(&|v| matches!(v, PrincipalValue::Service(s) if s.eq_ignore_ascii_case(name)))
        }
        Principal::Root { account, .. } => account_listed(account),
        Principal::User { account, arn, .. } => {
            entity_listed(&|v| matches!(v, PrincipalValue::User(u) if u == arn)).and(account_listed(account))
        }
        Principal::FederatedUser { account, arn, .. } => {
            listed(&|v| matches!(v, PrincipalValue::Session(s) if s == arn)).and(account_listed(account))
        }
        Principal::RoleSession { account, role_name, session_arn, .. } => {
            listed(&|v| matches!(v, PrincipalValue::Session(s) if s == session_arn))
                .and(entity_listed(
                    &|v| matches!(v, PrincipalValue::Role { account: a, name } if a == account && name.eq_ignore_ascii_case(role_name)),
                ))
                .and(account_listed(account))
        }
    };
    match excluded {
        Tri::True => None,
        Tri::False => Some((PrincipalClass::Direct, Tri::True)),
        Tri::Unknown => Some((PrincipalClass::Direct, Tri::Unknown)),
    }
}

/// Whether the caller is the user or role with unique id `id`, read from its
/// `aws:userid` (`AIDA…` for a user, `AROA…:session` for a role session).
/// Absent (a closed-world request that did not say): it is not. Unknown, or
/// not a single value: unknown.
fn own_unique_id_is(id: &str, req: &Request) -> Tri {
    if !matches!(req.principal, Principal::User { .. } | Principal::RoleSession { .. }) {
        return Tri::False;
    }
    match req.lookup_lowered(USERID_KEY) {
        None => Tri::False,
        Some(Value::Single(userid)) => Tri::from_bool(userid.split(':').next() == Some(id)),
        Some(Value::Multi(_) | Value::Unknown) => Tri::Unknown,
    }
}

fn entry_class(v: &PrincipalValue, req: &Request) -> Option<(PrincipalClass, Tri)> {
    let p = &req.principal;
    let sure = |c: PrincipalClass| Some((c, Tri::True));
    match v {
        PrincipalValue::Any => sure(PrincipalClass::Direct),
        PrincipalValue::Service(s) => match p {
            Principal::Service { name } if name.eq_ignore_ascii_case(s) => sure(PrincipalClass::Direct),
            _ => None,
        },
        PrincipalValue::Account(acct) => match p {
            Principal::Root { account, .. } if account == acct => sure(PrincipalClass::Direct),
            _ if p.account() == Some(acct.as_str()) => sure(PrincipalClass::Account),
            _ => None,
        },
        PrincipalValue::User(arn) => match p {
            Principal::User { arn: a, .. } if a == arn => sure(PrincipalClass::Direct),
            Principal::FederatedUser { issuer: Some(user), .. } if user == arn => sure(PrincipalClass::ViaUser),
            _ => None,
        },
        PrincipalValue::Role { account, name } => match p {
            Principal::RoleSession { account: a, role_name, .. }
                if a == account && role_name.eq_ignore_ascii_case(name) =>
            {
                sure(PrincipalClass::ViaRole)
            }
            _ => None,
        },
        PrincipalValue::Session(arn) => match p {
            Principal::RoleSession { session_arn, .. } if session_arn == arn => sure(PrincipalClass::Direct),
            Principal::FederatedUser { arn: a, .. } if a == arn => sure(PrincipalClass::Direct),
            _ => None,
        },
        PrincipalValue::UniqueId(id) => {
            // Matches only the entity with that id (a re-created namesake has another).
            let class = match p {
                Principal::RoleSession { .. } => PrincipalClass::ViaRole,
                _ => PrincipalClass::Direct,
            };
            match own_unique_id_is(id, req) {
                Tri::False => None,
                t => Some((class, t)),
            }
        }
        PrincipalValue::Never(_) => None,
    }
}
