//! Policy model and parser: the first stage of the pipeline.
//!
//! Bytes → [`json`] tree (positions, duplicate keys) → [`parse_policy`] →
//! [`Policy`] (validated, normalised). Also the building blocks both
//! evaluators share: [`pattern`] (naive `*`/`?` matcher), [`Arn`] and
//! [`ArnPattern`], the typed condition values ([`parse_date`], [`parse_ip`]);
//! policy variables and the operator table are engine-internal. No
//! evaluation here.

pub(in crate::engine) mod arn;
pub mod json;
pub mod limits;
pub(in crate::engine) mod model;
pub(in crate::engine) mod operator;
pub(in crate::engine) mod parse;
pub mod pattern;
pub(in crate::engine) mod principal;
pub(in crate::engine) mod set;
pub(in crate::engine) mod values;
pub(in crate::engine) mod variables;

pub use arn::{Arn, ArnPattern};
pub use model::{
    dead_action_warnings, Condition, Effect, PatternList, Policy, PolicyKind, PrincipalSpec, PrincipalType, Statement,
    Version,
};
pub use operator::{BaseOperator, Comparison, Family, Operator, SetQualifier};
pub use parse::{
    action_problem, document_node, parse_json, parse_policy, parse_policy_list, policy_from_json, split_action,
    ParseError, ParseErrorKind,
};
pub use principal::PrincipalValue;
pub use set::{KeyId, Layer, Organization, PolicySet, Shape, StatementRef};
pub use values::{format_date, parse_date, parse_ip, Instant};
