//! Condition operators: the base operator, its `IfExists` suffix and its
//! `ForAllValues:`/`ForAnyValue:` set qualifier, parsed from the operator name.
//!
//! Part of the policy model (semantics doc §5.2). Names are matched
//! case-insensitively (Appendix A-9: AWS accepts any case; the documented
//! spelling is CamelCase). Unknown names are parse errors, never "no match".

use std::fmt;

/// The comparison family of a base operator; decides how values are parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    /// String comparison (exact, case-folded or glob).
    String,
    /// Exact decimal comparison.
    Numeric,
    /// Instants (ISO 8601 or epoch seconds).
    Date,
    /// `true`/`false`.
    Bool,
    /// Base64-encoded bytes.
    Binary,
    /// CIDR membership.
    Ip,
    /// Segment-wise ARN glob.
    Arn,
    /// Key presence.
    Null,
}

/// How two values compare under a base operator (before negation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Comparison {
    /// Equal (for `*Like` and ARN operators: glob match).
    Equals,
    /// Case-insensitive string equality.
    EqualsIgnoreCase,
    /// String glob with `*` and `?`.
    Like,
    /// Request value < policy value.
    LessThan,
    /// Request value <= policy value.
    LessThanEquals,
    /// Request value > policy value.
    GreaterThan,
    /// Request value >= policy value.
    GreaterThanEquals,
}

impl Comparison {
    /// Whether `request.cmp(policy)` satisfies this comparison (numeric and
    /// date operators; the equality kinds accept `Equal`).
    pub fn accepts(&self, ordering: std::cmp::Ordering) -> bool {
        match self {
            Comparison::LessThan => ordering.is_lt(),
            Comparison::LessThanEquals => ordering.is_le(),
            Comparison::GreaterThan => ordering.is_gt(),
            Comparison::GreaterThanEquals => ordering.is_ge(),
            Comparison::Equals | Comparison::EqualsIgnoreCase | Comparison::Like => ordering.is_eq(),
        }
    }
}

/// A base condition operator, e.g. `StringNotLike`, without qualifiers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BaseOperator {
    /// Its family.
    pub family: Family,
    /// Its comparison.
    pub comparison: Comparison,
    /// Whether it is a `…Not…` operator ("matches none of the values").
    pub negated: bool,
    name: &'static str,
}

/// Set qualifier for multi-valued keys (§5.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SetQualifier {
    /// `ForAllValues:` every request value must match; true when absent or empty.
    ForAllValues,
    /// `ForAnyValue:` at least one request value must match; false when absent or empty.
    ForAnyValue,
}

/// A full condition operator as written in a policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Operator {
    /// The base operator.
    pub base: BaseOperator,
    /// `ForAllValues:` / `ForAnyValue:`, if any.
    pub qualifier: Option<SetQualifier>,
    /// Whether `IfExists` was appended (missing key ⇒ true).
    pub if_exists: bool,
}

const fn op(name: &'static str, family: Family, comparison: Comparison, negated: bool) -> BaseOperator {
    BaseOperator { family, comparison, negated, name }
}

use Comparison as C;
use Family as F;

/// Every base operator AWS documents.
pub const BASE_OPERATORS: &[BaseOperator] = &[
    op("StringEquals", F::String, C::Equals, false),
    op("StringNotEquals", F::String, C::Equals, true),
    op("StringEqualsIgnoreCase", F::String, C::EqualsIgnoreCase, false),
    op("StringNotEqualsIgnoreCase", F::String, C::EqualsIgnoreCase, true),
    op("StringLike", F::String, C::Like, false),
    op("StringNotLike", F::String, C::Like, true),
    op("NumericEquals", F::Numeric, C::Equals, false),
    op("NumericNotEquals", F::Numeric, C::Equals, true),
    op("NumericLessThan", F::Numeric, C::LessThan, false),
    op("NumericLessThanEquals", F::Numeric, C::LessThanEquals, false),
    op("NumericGreaterThan", F::Numeric, C::GreaterThan, false),
    op("NumericGreaterThanEquals", F::Numeric, C::GreaterThanEquals, false),
    op("DateEquals", F::Date, C::Equals, false),
    op("DateNotEquals", F::Date, C::Equals, true),
    op("DateLessThan", F::Date, C::LessThan, false),
    op("DateLessThanEquals", F::Date, C::LessThanEquals, false),
    op("DateGreaterThan", F::Date, C::GreaterThan, false),
    op("DateGreaterThanEquals", F::Date, C::GreaterThanEquals, false),
    op("Bool", F::Bool, C::Equals, false),
    op("BinaryEquals", F::Binary, C::Equals, false),
    op("IpAddress", F::Ip, C::Equals, false),
    op("NotIpAddress", F::Ip, C::Equals, true),
    op("ArnEquals", F::Arn, C::Like, false),
    op("ArnLike", F::Arn, C::Like, false),
    op("ArnNotEquals", F::Arn, C::Like, true),
    op("ArnNotLike", F::Arn, C::Like, true),
    op("Null", F::Null, C::Equals, false),
];

impl BaseOperator {
    /// The documented name, e.g. `StringNotLike`.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The operator that decides alike on values holding no wildcard or
    /// variable: `StringLike` → `StringEquals`, `StringNotLike` →
    /// `StringNotEquals` (both case-sensitive, whole-string); any other
    /// operator is itself. Lets `diff` see two spellings of one condition.
    pub fn literal_equivalent(&self) -> BaseOperator {
        let exact = |b: &&BaseOperator| {
            b.family == Family::String && b.comparison == Comparison::Equals && b.negated == self.negated
        };
        match (self.family, self.comparison) {
            (Family::String, Comparison::Like) => BASE_OPERATORS.iter().find(exact).copied().unwrap_or(*self),
            _ => *self,
        }
    }

    /// Whether policy variables are substituted in this operator's values
    /// (§6: String and ARN operators; `Bool` per Appendix A-7 default "allow").
    pub fn accepts_variables(&self) -> bool {
        matches!(self.family, Family::String | Family::Arn | Family::Bool)
    }
}

impl Operator {
    /// Parses an operator name such as `ForAnyValue:StringLikeIfExists`.
    ///
    /// # Errors
    /// Returns a message describing the problem when the name is not an operator AWS knows.
    pub fn parse(name: &str) -> Result<Operator, String> {
        let (qualifier, rest) = match name.split_once(':') {
            Some((q, rest)) => {
                let qualifier = if q.eq_ignore_ascii_case("ForAllValues") {
                    SetQualifier::ForAllValues
                } else if q.eq_ignore_ascii_case("ForAnyValue") {
                    SetQualifier::ForAnyValue
                } else {
                    return Err(format!("unknown set qualifier `{q}` (expected `ForAllValues` or `ForAnyValue`)"));
                };
                (Some(qualifier), rest)
            }
            None => (None, name),
        };
        let find = |n: &str| BASE_OPERATORS.iter().find(|b| b.name.eq_ignore_ascii_case(n));
        let (base, if_exists) = match find(rest) {
            Some(b) => (*b, false),
            None => {
                let stem = rest
                    .len()
                    .checked_sub("IfExists".len())
                    .and_then(|cut| rest.get(cut..).filter(|s| s.eq_ignore_ascii_case("IfExists")).map(|_| cut))
                    .and_then(|cut| rest.get(..cut));
                match stem.and_then(find) {
                    Some(b) if b.family == Family::Null => return Err("`Null` cannot take `IfExists`".to_string()),
                    Some(b) => (*b, true),
                    None => return Err(format!("unknown condition operator `{rest}`{}", suggest(rest))),
                }
            }
        };
        if qualifier.is_some() && base.family == Family::Null {
            return Err("`Null` cannot take a set qualifier".to_string());
        }
        let op = Operator { base, qualifier, if_exists };
        // AWS reads operator names case-sensitively: it refuses `stringEquals`
        // ("MalformedPolicyDocument: Invalid Condition type : stringEquals";
        // the grammar lists each name once, "IAM JSON policy element
        // reference: grammar",
        // <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>).
        // Read case-blind here, it could apply where AWS never would.
        let canonical = op.to_string();
        if canonical != name {
            return Err(format!(
                "condition operator `{name}` is not spelled as AWS spells it: `{canonical}` (operator names are case-sensitive; AWS refuses the policy)"
            ));
        }
        Ok(op)
    }
}

/// " (did you mean `X`?)" for a near miss, else empty.
fn suggest(name: &str) -> String {
    let lower = name.to_ascii_lowercase();
    BASE_OPERATORS
        .iter()
        .map(|b| (edit_distance(&lower, &b.name.to_ascii_lowercase()), b.name))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, n)| format!(" (did you mean `{n}`?)"))
        .unwrap_or_default()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            if let Some(c) = cur.get_mut(j + 1) {
                *c = sub.min(del).min(ins);
            }
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.qualifier {
            Some(SetQualifier::ForAllValues) => f.write_str("ForAllValues:")?,
            Some(SetQualifier::ForAnyValue) => f.write_str("ForAnyValue:")?,
            None => {}
        }
        f.write_str(self.base.name)?;
        if self.if_exists {
            f.write_str("IfExists")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_without_wildcards_is_equals() {
        let base = |n: &str| Operator::parse(n).unwrap().base;
        for (like, equals) in [
            ("StringLike", "StringEquals"),
            ("StringNotLike", "StringNotEquals"),
            ("ArnLike", "ArnLike"),
            ("StringEqualsIgnoreCase", "StringEqualsIgnoreCase"),
        ] {
            assert_eq!(base(like).literal_equivalent(), base(equals), "{like}");
        }
    }

    #[test]
    fn parses_qualified_and_if_exists() {
        let o = Operator::parse("ForAllValues:StringNotLikeIfExists").unwrap();
        assert_eq!(o.qualifier, Some(SetQualifier::ForAllValues));
        assert!(o.if_exists && o.base.negated);
        assert_eq!(o.base.comparison, Comparison::Like);
        assert_eq!(o.to_string(), "ForAllValues:StringNotLikeIfExists");
        for wrong in ["stringequals", "forAnyValue:StringLike", "ForAnyValue:StringLikeifexists"] {
            let e = Operator::parse(wrong).unwrap_err();
            assert!(e.contains("case-sensitive"), "{wrong}: {e}");
        }
        assert!(Operator::parse("NotIpAddressIfExists").unwrap().if_exists);
    }

    #[test]
    fn rejects_unknown_with_suggestion() {
        let e = Operator::parse("StringLikee").unwrap_err();
        assert!(e.contains("did you mean `StringLike`"), "{e}");
        assert!(Operator::parse("ForSomeValues:StringLike").is_err());
        assert!(Operator::parse("NullIfExists").is_err());
        assert!(Operator::parse("ForAnyValue:Null").is_err());
        assert!(Operator::parse("IfExists").is_err());
        assert!(Operator::parse("").is_err());
    }
}
