//! Policy model and parser: the first stage of the pipeline.
//!
//! Bytes → [`json`] tree (positions, duplicate keys) → [`parse_policy`] →
//! [`Policy`] (validated, normalised). Also the building blocks both
//! evaluators share: [`pattern`] (naive `*`/`?` matcher), [`arn`],
//! [`variables`] and [`values`] (typed condition values). No evaluation here.

pub mod arn;
pub mod json;
pub mod limits;
pub mod model;
pub mod operator;
pub mod parse;
pub mod pattern;
pub mod principal;
pub mod set;
pub mod values;
pub mod variables;

pub use arn::{Arn, ArnPattern};
pub use model::{Condition, Effect, PatternList, Policy, PolicyKind, PrincipalSpec, PrincipalType, Statement, Version};
pub use operator::{BaseOperator, Comparison, Family, Operator, SetQualifier};
pub use parse::{document_node, parse_json, parse_policy, parse_policy_list, policy_from_json, ParseError};
pub use principal::PrincipalValue;
pub use set::{KeyId, Layer, Organization, PolicySet, Shape, StatementRef};
