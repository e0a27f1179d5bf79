//! The reference evaluator: a deliberately naive, direct interpretation of the
//! policy model. Every statement of every policy is checked for every request;
//! patterns are re-tokenised, values re-parsed, variables re-resolved each time.
//!
//! It is the oracle the compiled engine is checked against (proptest, fuzzing,
//! `iamsim bench`), so it favours obviousness over speed. It shares only the
//! decision rules in [`super::logic`] and principal matching with the compiled engine.

use super::decision::{Decision, Explained, Hit, KeyId, KeyReport, PrincipalClass};
use super::logic::{combine, condition_result, null_result, ActionFacts, FixedLayers, Situation};
use super::principal::principal_class;
use crate::engine::policy::pattern::{tokens, tokens_match, Token};
use crate::engine::policy::values::*;
use crate::engine::policy::variables::{Lookup, Resolved, Template};
use crate::engine::policy::{Arn, ArnPattern, Comparison, Condition, Family, PolicyKind, PolicySet, Statement};
use crate::engine::request::{Request, Tri, Value};

/// Decides `req` against `set` by direct interpretation.
///
/// # Example
/// ```
/// use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
/// use iamsim::engine::request::{Principal, Request};
/// use iamsim::engine::eval::{reference_decide, DecisionKind};
/// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:Get*","Resource":"*"}}"#,
///                      "p", PolicyKind::Identity)?;
/// let set = PolicySet { identity: vec![p], ..Default::default() };
/// let req = Request::new(Principal::parse("arn:aws:iam::111122223333:user/alice")?, "s3:GetObject", "arn:aws:s3:::b/k");
/// assert_eq!(reference_decide(&set, &req).kind, DecisionKind::Allowed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn reference_decide(set: &PolicySet, req: &Request) -> Decision {
    let keys = set.condition_keys();
    let has_boundary = set.permissions_boundary.is_some();
    let mut hits = Vec::new();
    let mut keys_report = KeyReport::default();
    for (sref, policy, stmt) in set.statements() {
        let vars = policy.version.variables_enabled();
        if !stmt.covers_action(&req.action) {
            continue;
        }
        let resource = resource_matches(stmt, policy.kind, vars, req);
        if resource == Tri::False {
            continue;
        }
        let (class, named) = match &stmt.principal {
            None => (PrincipalClass::Direct, Tri::True),
            Some(spec) => {
                // A unique-id entry reads `aws:userid`: reported whether or not it names the caller.
                if let Some(key) = stmt.principal_key() {
                    if let Some(id) = keys.iter().position(|k| k == key) {
                        keys_report.note(KeyId::try_from(id).unwrap_or(KeyId::MAX), req.lookup(key));
                    }
                }
                match principal_class(spec, req, stmt.effect, has_boundary) {
                    Some(c) => c,
                    None => continue,
                }
            }
        };
        let mut result = resource.and(named);
        for c in &stmt.conditions {
            let key = c.key.to_ascii_lowercase();
            if let Some(id) = keys.iter().position(|k| *k == key) {
                keys_report.note(KeyId::try_from(id).unwrap_or(KeyId::MAX), req.lookup(&key));
            }
            result = result.and(condition(c, vars, req));
        }
        // Variables the statement resolved: absent or unknown ones are reported too.
        for key in stmt.variable_keys(vars) {
            if let Some(id) = keys.iter().position(|k| *k == key) {
                keys_report.note(KeyId::try_from(id).unwrap_or(KeyId::MAX), req.lookup(&key));
            }
        }
        if result != Tri::False {
            hits.push(Hit { statement: sref, effect: stmt.effect, class, result });
        }
    }
    keys_report.finish();
    let no_fixed = FixedLayers::default();
    let (shape, facts) = (set.shape(), ActionFacts::of(&req.action));
    let at = Situation::of(&shape, req, req.resource_account(), &facts);
    combine::<Explained>(&shape, at, &facts, &no_fixed, &hits, keys_report)
}

fn lookup<'a>(req: &'a Request) -> impl Fn(&str) -> Lookup<'a> {
    move |key| match req.lookup(key) {
        Some(Value::Single(v)) => Lookup::Value(v),
        Some(Value::Unknown) => Lookup::Unknown,
        Some(Value::Multi(_)) | None => Lookup::Missing,
    }
}

fn resource_matches(stmt: &Statement, kind: PolicyKind, vars: bool, req: &Request) -> Tri {
    // No Resource element: the resource the policy is attached to.
    let Some(list) = &stmt.resources else { return Tri::True };
    let any = list.patterns.iter().fold(Tri::False, |acc, p| acc.or(resource_pattern_matches(p, kind, vars, req)));
    if list.negated {
        any.not()
    } else {
        any
    }
}

fn resource_pattern_matches(pattern: &str, kind: PolicyKind, vars: bool, req: &Request) -> Tri {
    if pattern == "*" {
        return Tri::True;
    }
    let (Some(pat), Some(arn)) = (ArnPattern::parse(pattern, kind), Arn::parse(&req.resource)) else {
        return Tri::False;
    };
    let header_ok = pat.header.iter().zip(arn.header()).all(|(p, s)| tokens_match(&tokens(p), s, true));
    if !header_ok {
        return Tri::False;
    }
    match Template::parse(&pat.resource, vars).resolve(lookup(req)) {
        Resolved::Tokens(t) => Tri::from_bool(tokens_match(&t, arn.resource, false)),
        Resolved::Missing => Tri::False,
        Resolved::Unknown => Tri::Unknown,
    }
}

fn condition(c: &Condition, vars: bool, req: &Request) -> Tri {
    let value = req.lookup(&c.key.to_ascii_lowercase());
    if c.operator.base.family == Family::Null {
        return null_result(c.values.iter().map(|v| parse_bool(v) == Some(true)), value);
    }
    condition_result(&c.operator, value, |r| match_value(c, vars, req, r))
}

/// Whether request value `r` matches any policy value under the positive operator.
fn match_value(c: &Condition, vars: bool, req: &Request, r: &str) -> Option<Tri> {
    let cmp = c.operator.base.comparison;
    let resolve = |v: &str| -> Resolved {
        if c.operator.base.accepts_variables() {
            Template::parse(v, vars).resolve(lookup(req))
        } else {
            Resolved::Tokens(v.chars().map(Token::Char).collect())
        }
    };
    let literal = |t: &[Token]| -> String {
        t.iter()
            .map(|t| match t {
                Token::Char(c) => *c,
                Token::Star => '*',
                Token::One => '?',
            })
            .collect()
    };
    let over_values = |f: &dyn Fn(&[Token]) -> bool| -> Tri {
        c.values.iter().fold(Tri::False, |acc, v| {
            acc.or(match resolve(v) {
                Resolved::Tokens(t) => Tri::from_bool(f(&t)),
                Resolved::Missing => Tri::False,
                Resolved::Unknown => Tri::Unknown,
            })
        })
    };
    let ordered = |o: std::cmp::Ordering| cmp.accepts(o);
    Some(match c.operator.base.family {
        Family::String => match cmp {
            Comparison::Like => over_values(&|t| tokens_match(t, r, false)),
            Comparison::EqualsIgnoreCase => over_values(&|t| literal(t).to_lowercase() == r.to_lowercase()),
            _ => over_values(&|t| literal(t) == r),
        },
        Family::Numeric => {
            let rv = parse_decimal(r)?;
            Tri::from_bool(c.values.iter().any(|v| parse_decimal(v).is_some_and(|pv| ordered(rv.cmp(&pv)))))
        }
        Family::Date => {
            let rv = parse_date(r)?;
            Tri::from_bool(c.values.iter().any(|v| parse_date(v).is_some_and(|pv| ordered(rv.cmp(&pv)))))
        }
        Family::Bool => {
            let rv = parse_bool(r)?;
            over_values(&|t| parse_bool(&literal(t)) == Some(rv))
        }
        Family::Binary => {
            let rv = parse_base64(r)?;
            Tri::from_bool(c.values.iter().any(|v| parse_base64(v).as_deref() == Some(rv.as_slice())))
        }
        Family::Ip => {
            let ip = parse_ip(r)?;
            Tri::from_bool(c.values.iter().any(|v| parse_cidr(v).is_some_and(|n| cidr_contains(&n, &ip))))
        }
        Family::Arn => {
            let arn = Arn::parse(r)?;
            let parts = [arn.partition, arn.service, arn.region, arn.account, arn.resource];
            c.values.iter().fold(Tri::False, |acc, v| acc.or(arn_value_matches(v, vars, req, &parts)))
        }
        Family::Null => Tri::False,
    })
}

/// ARN operators: segment-wise, case-sensitive globs (§5.2); a short pattern is
/// padded with `*` only when its last segment ends with `*`.
fn arn_value_matches(pattern: &str, vars: bool, req: &Request, parts: &[&str; 5]) -> Tri {
    let mut segs: Vec<&str> = pattern.splitn(6, ':').collect();
    if segs.first() != Some(&"arn") {
        return Tri::False;
    }
    if segs.len() < 6 {
        if !segs.last().is_some_and(|s| s.ends_with('*')) {
            return Tri::False;
        }
        segs.resize(6, "*");
    }
    let mut result = Tri::True;
    for (seg, part) in segs.iter().skip(1).zip(parts) {
        result = result.and(match Template::parse(seg, vars).resolve(lookup(req)) {
            Resolved::Tokens(t) => Tri::from_bool(tokens_match(&t, part, false)),
            Resolved::Missing => Tri::False,
            Resolved::Unknown => Tri::Unknown,
        });
    }
    result
}
