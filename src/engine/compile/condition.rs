//! Conditions compiled into typed predicates: every policy value parsed once
//! (decimals, instants, CIDRs, booleans, bytes, globs), key names lower-cased
//! and interned. Values with policy variables stay templates.

use super::glob::Glob;
use crate::engine::policy::set::KeyId;
use crate::engine::policy::values::*;
use crate::engine::policy::variables::Template;
use crate::engine::policy::{Comparison, Condition, Family, Operator};
use ipnet::IpNet;

/// A string-like policy value.
#[derive(Clone, Debug)]
pub enum StrValue {
    /// Fixed text, compared per the operator (literally or as a glob).
    Static(Glob),
    /// Contains policy variables.
    Template(Template),
}

/// The parsed policy values of one condition.
#[derive(Clone, Debug)]
pub enum Values {
    /// String operators (and `Bool` values with variables).
    Str(Vec<StrValue>),
    /// Numeric operators.
    Num(Vec<Decimal>),
    /// Date operators.
    Date(Vec<Instant>),
    /// `Bool`.
    Bool(Vec<StrValue>),
    /// `BinaryEquals`.
    Bin(Vec<Vec<u8>>),
    /// IP operators.
    Ip(Vec<IpNet>),
    /// ARN operators: five segments each (partition, service, region, account, resource);
    /// `None` = a pattern that matches nothing.
    Arn(Vec<Option<[StrValue; 5]>>),
    /// `Null`: `true` = the key must be absent or empty.
    Null(Vec<bool>),
}

/// One compiled condition.
#[derive(Clone, Debug)]
pub struct CompiledCondition {
    /// The operator.
    pub operator: Operator,
    /// Interned key.
    pub key: KeyId,
    /// Lower-cased key name.
    pub key_name: Box<str>,
    /// Parsed values.
    pub values: Values,
}

fn str_value(v: &str, variables: bool, glob: bool) -> StrValue {
    let t = Template::parse(v, variables);
    if t.has_variables() || t.pieces.len() != 1 {
        StrValue::Template(t)
    } else if glob {
        StrValue::Static(Glob::new(v))
    } else {
        StrValue::Static(Glob::literal(v))
    }
}

impl CompiledCondition {
    /// Compiles a model condition (its values were validated by the parser;
    /// a value that still fails to parse here matches nothing).
    pub fn new(c: &Condition, key: KeyId, variables: bool) -> CompiledCondition {
        let vars = variables && c.operator.base.accepts_variables();
        let values = match c.operator.base.family {
            Family::String => {
                let glob = c.operator.base.comparison == Comparison::Like;
                Values::Str(c.values.iter().map(|v| str_value(v, vars, glob)).collect())
            }
            Family::Numeric => Values::Num(c.values.iter().filter_map(|v| parse_decimal(v)).collect()),
            Family::Date => Values::Date(c.values.iter().filter_map(|v| parse_date(v)).collect()),
            Family::Bool => Values::Bool(c.values.iter().map(|v| str_value(v, vars, false)).collect()),
            Family::Binary => Values::Bin(c.values.iter().filter_map(|v| parse_base64(v)).collect()),
            Family::Ip => Values::Ip(c.values.iter().filter_map(|v| parse_cidr(v)).collect()),
            Family::Null => Values::Null(c.values.iter().map(|v| parse_bool(v) == Some(true)).collect()),
            Family::Arn => Values::Arn(c.values.iter().map(|v| arn_value(v, vars)).collect()),
        };
        CompiledCondition { operator: c.operator, key, key_name: c.key.to_ascii_lowercase().into(), values }
    }
}

fn arn_value(v: &str, vars: bool) -> Option<[StrValue; 5]> {
    let mut segs: Vec<&str> = v.splitn(6, ':').collect();
    if segs.first() != Some(&"arn") {
        return None;
    }
    if segs.len() < 6 {
        if !segs.last().is_some_and(|s| s.ends_with('*')) {
            return None;
        }
        segs.resize(6, "*");
    }
    let s = |i: usize| str_value(segs.get(i).copied().unwrap_or(""), vars, true);
    Some([s(1), s(2), s(3), s(4), s(5)])
}
