//! The AWS service reference: every service prefix, action (with access level,
//! resource types and condition keys), resource type (with ARN formats) and
//! condition key (with its type), plus the global `aws:` keys.
//!
//! Sits beside the pipeline: it reads only [`crate::engine::policy`] and
//! [`crate::engine::compile`] (expansion goes through the same action automaton as
//! evaluation), and [`crate::audit::replay`] and the CLI read it. Loading lives in
//! [`load`] (the per-service layout of `iam-catalog/`, AWS's own
//! service-reference JSON, or our snapshot); the questions asked of it live in
//! [`expand`], [`validate`] and [`diff`].
//!
//! ```
//! use iamsim::audit::catalog::Catalog;
//! // Any catalog directory or snapshot; this one is the small AWS-format corpus catalog.
//! let catalog = Catalog::load(std::path::Path::new("corpus/catalog/service-reference"))?;
//! let actions = catalog.expand_patterns(&["ec2:*NetworkInterface".to_string()])?;
//! let names: Vec<String> = actions.iter().map(|a| catalog.action_name(*a)).collect();
//! assert_eq!(names, ["ec2:AttachNetworkInterface", "ec2:CreateNetworkInterface",
//!                    "ec2:DeleteNetworkInterface", "ec2:DetachNetworkInterface"]);
//! let describe = catalog.action("ec2:describeinstances").unwrap();
//! assert!(catalog.is_wildcard_only(describe));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod diff;
pub mod expand;
pub mod load;
pub mod validate;

use crate::engine::policy::pattern::{tokens, tokens_match, Token};
use crate::engine::policy::split_action;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

pub use load::CatalogError;

/// The environment variable naming a catalog snapshot or directory when `--catalog` is absent.
pub const CATALOG_ENV: &str = "IAMSIM_CATALOG";

/// The service reference, indexed for lookups. Immutable once loaded.
#[derive(Debug, Serialize, Deserialize)]
pub struct Catalog {
    /// Where the data came from (package and version, or the directory imported).
    pub source: String,
    services: Vec<Service>,
    global_keys: Vec<ConditionKeyDef>,
    /// Condition-key prefixes valid without a service (`saml`, OIDC providers…), lower-cased.
    other_key_prefixes: Vec<String>,
    /// Whether [`ActionResource::required`] comes from the data (the
    /// Service Authorization Reference marks required types); AWS's published
    /// service-reference JSON does not say, and a snapshot without the field
    /// is read as not saying.
    #[serde(default)]
    marks_required: bool,
    #[serde(skip)]
    index: Index,
}

/// Lookup tables derived from the data at load time (never serialized).
#[derive(Debug, Default)]
struct Index {
    by_prefix: HashMap<String, u32>,
    /// Per service: lower-cased action name → action index.
    actions: Vec<HashMap<String, u32>>,
    global_keys: KeyTable,
    service_keys: Vec<KeyTable>,
    /// [`Catalog::other_key_prefixes`] as globs (`agent.*.buildkite.dev`).
    other_prefixes: Vec<Vec<Token>>,
}

/// One service prefix.
#[derive(Debug, Serialize, Deserialize)]
pub struct Service {
    /// The prefix used in actions (`s3` in `s3:GetObject`).
    pub prefix: String,
    /// Display name.
    pub name: String,
    /// Actions in AWS casing.
    pub actions: Vec<ActionDef>,
    /// Resource types the actions refer to by index.
    pub resource_types: Vec<ResourceType>,
    /// Service-specific condition keys.
    pub condition_keys: Vec<ConditionKeyDef>,
}

/// One IAM action.
#[derive(Debug, Serialize, Deserialize)]
pub struct ActionDef {
    /// Name in AWS casing, without the prefix.
    pub name: String,
    /// Access level.
    pub access: AccessLevel,
    /// Resource types the action can be scoped to; empty = only `"Resource": "*"`.
    pub resources: Vec<ActionResource>,
    /// Action-level condition keys (documented names).
    pub condition_keys: Vec<String>,
}

/// A resource type an action can be scoped to.
#[derive(Debug, Serialize, Deserialize)]
pub struct ActionResource {
    /// Index into [`Service::resource_types`].
    pub resource_type: u32,
    /// Marked required (`*`) in the reference.
    pub required: bool,
    /// Condition keys that apply with this resource type for this action.
    pub condition_keys: Vec<String>,
}

/// A resource type and its ARN formats.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResourceType {
    /// Name (`object`, `bucket`, …).
    pub name: String,
    /// ARN formats with `${Var}` placeholders.
    pub arn_formats: Vec<String>,
    /// Condition keys of the resource type.
    pub condition_keys: Vec<String>,
}

/// A condition key and its type.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConditionKeyDef {
    /// Documented name; `${TagKey}`, `<key>` or a trailing `/tag-key` mark a variable part.
    pub name: String,
    /// Value type.
    pub key_type: KeyType,
}

/// The value type of a condition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyType {
    /// Scalar type.
    pub base: ValueType,
    /// Multivalued (`ArrayOf…`): the request can carry a set.
    pub multi: bool,
}

/// Scalar type of condition-key values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueType {
    /// `String`.
    String,
    /// `ARN`.
    Arn,
    /// `Bool`.
    Bool,
    /// `Numeric` (and `Long`, `Integer`).
    Numeric,
    /// `Date`.
    Date,
    /// `IPAddress`.
    IpAddress,
    /// `Binary`.
    Binary,
    /// A type name the reference uses that we do not know: never type-checked.
    Unknown,
}

impl KeyType {
    /// Parses a reference type name (`String`, `ArrayOfARN`, `Numeric`, …).
    pub fn parse(name: &str) -> KeyType {
        let (multi, base) = match name.strip_prefix("ArrayOf") {
            Some(rest) => (true, rest),
            None => (false, name),
        };
        let base = match base.to_ascii_lowercase().as_str() {
            "string" => ValueType::String,
            "arn" => ValueType::Arn,
            "bool" | "boolean" => ValueType::Bool,
            "numeric" | "long" | "integer" | "number" => ValueType::Numeric,
            "date" => ValueType::Date,
            "ipaddress" => ValueType::IpAddress,
            "binary" => ValueType::Binary,
            _ => ValueType::Unknown,
        };
        KeyType { base, multi }
    }

    /// The reference's name for this type.
    pub fn name(&self) -> String {
        let base = match self.base {
            ValueType::String => "String",
            ValueType::Arn => "ARN",
            ValueType::Bool => "Bool",
            ValueType::Numeric => "Numeric",
            ValueType::Date => "Date",
            ValueType::IpAddress => "IPAddress",
            ValueType::Binary => "Binary",
            ValueType::Unknown => "Unknown",
        };
        if self.multi {
            format!("ArrayOf{base}")
        } else {
            base.to_string()
        }
    }
}

/// Access level of an action (the classic Service Authorization Reference classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum AccessLevel {
    /// List.
    List,
    /// Read.
    Read,
    /// Write.
    Write,
    /// Tagging (a write).
    Tagging,
    /// Permissions management (a write).
    PermissionsManagement,
}

impl AccessLevel {
    /// Parses `List`, `Read`, `Write`, `Tagging`, `Permissions management`, or a
    /// comma-joined set such as `Tagging, Write` (its first element is the classic level).
    pub fn parse(text: &str) -> Option<AccessLevel> {
        match text.split(',').next().map(str::trim)? {
            "List" => Some(AccessLevel::List),
            "Read" => Some(AccessLevel::Read),
            "Write" => Some(AccessLevel::Write),
            "Tagging" => Some(AccessLevel::Tagging),
            "Permissions management" => Some(AccessLevel::PermissionsManagement),
            _ => None,
        }
    }

    /// The reference's name.
    pub fn as_str(&self) -> &'static str {
        match self {
            AccessLevel::List => "List",
            AccessLevel::Read => "Read",
            AccessLevel::Write => "Write",
            AccessLevel::Tagging => "Tagging",
            AccessLevel::PermissionsManagement => "Permissions management",
        }
    }
}

/// A reference to one action of a catalog: (service index, action index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId {
    /// Index of the service.
    pub service: u32,
    /// Index of the action within the service.
    pub action: u32,
}

/// Condition keys by name: exact (lower-cased) and with variable parts (as globs).
#[derive(Debug, Default)]
struct KeyTable {
    exact: HashMap<String, u32>,
    variable: Vec<(Vec<Token>, u32)>,
}

impl KeyTable {
    fn build(keys: &[ConditionKeyDef]) -> KeyTable {
        let mut table = KeyTable::default();
        for (i, key) in keys.iter().enumerate() {
            let id = u32::try_from(i).unwrap_or(u32::MAX);
            let lower = key.name.to_ascii_lowercase();
            match key_glob(&lower) {
                Some(glob) => table.variable.push((tokens(&glob), id)),
                None => {
                    table.exact.entry(lower).or_insert(id);
                }
            }
        }
        table
    }

    fn find(&self, lower: &str) -> Option<u32> {
        if let Some(id) = self.exact.get(lower) {
            return Some(*id);
        }
        self.variable.iter().find(|(glob, _)| tokens_match(glob, lower, true)).map(|(_, id)| *id)
    }
}

/// A documented key name with variable parts as a glob (`aws:requesttag/*`), or
/// `None` when the name has no variable part.
fn key_glob(lower: &str) -> Option<String> {
    let mut out = String::with_capacity(lower.len());
    let mut rest = lower;
    let mut variable = false;
    while !rest.is_empty() {
        let open = rest.find(['$', '<']);
        match open {
            Some(i) if rest[i..].starts_with("${") || rest[i..].starts_with('<') => {
                let close = if rest[i..].starts_with('<') { '>' } else { '}' };
                match rest[i..].find(close) {
                    Some(j) => {
                        out.push_str(&rest[..i]);
                        out.push('*');
                        rest = &rest[i + j + 1..];
                        variable = true;
                    }
                    None => {
                        out.push_str(rest);
                        rest = "";
                    }
                }
            }
            Some(i) => {
                out.push_str(&rest[..=i]);
                rest = &rest[i + 1..];
            }
            None => {
                out.push_str(rest);
                rest = "";
            }
        }
    }
    // The global table writes the variable part as a literal `tag-key`.
    if let Some(stem) = out.strip_suffix("/tag-key") {
        return Some(format!("{stem}/*"));
    }
    variable.then_some(out)
}

/// What a condition key name resolves to in the catalog.
#[derive(Debug, Clone, Copy)]
pub enum KeyMatch<'a> {
    /// A global key (`aws:…` and the documented session keys).
    Global(&'a ConditionKeyDef),
    /// A key of the service whose prefix the key carries.
    Service(&'a ConditionKeyDef),
    /// A key under a prefix valid without a service (`saml:…`, OIDC providers): untyped.
    Other,
}

impl KeyMatch<'_> {
    /// The key's type, when the catalog gives one.
    pub fn key_type(&self) -> Option<KeyType> {
        match self {
            KeyMatch::Global(d) | KeyMatch::Service(d) => Some(d.key_type),
            KeyMatch::Other => None,
        }
    }
}

impl Catalog {
    /// Builds a catalog from its parts and indexes it.
    pub fn new(
        source: String,
        mut services: Vec<Service>,
        global_keys: Vec<ConditionKeyDef>,
        other_key_prefixes: Vec<String>,
    ) -> Catalog {
        services.sort_by(|a, b| a.prefix.cmp(&b.prefix));
        let mut catalog = Catalog {
            source,
            services,
            global_keys,
            other_key_prefixes,
            marks_required: false,
            index: Index::default(),
        };
        catalog.reindex();
        catalog
    }

    /// Whether an action's resource types say which are required
    /// ([`ActionResource::required`]); when not, any of them may be.
    pub fn marks_required(&self) -> bool {
        self.marks_required
    }

    fn reindex(&mut self) {
        let mut index = Index {
            global_keys: KeyTable::build(&self.global_keys),
            other_prefixes: self
                .other_key_prefixes
                .iter()
                .map(|p| tokens(&key_glob(p).unwrap_or_else(|| p.clone())))
                .collect(),
            ..Index::default()
        };
        for (i, service) in self.services.iter().enumerate() {
            index.by_prefix.insert(service.prefix.to_ascii_lowercase(), u32::try_from(i).unwrap_or(u32::MAX));
            let actions = service
                .actions
                .iter()
                .enumerate()
                .map(|(j, a)| (a.name.to_ascii_lowercase(), u32::try_from(j).unwrap_or(u32::MAX)))
                .collect();
            index.actions.push(actions);
            index.service_keys.push(KeyTable::build(&service.condition_keys));
        }
        self.index = index;
    }

    /// All services, sorted by prefix.
    pub fn services(&self) -> &[Service] {
        &self.services
    }

    /// The global condition keys.
    pub fn global_keys(&self) -> &[ConditionKeyDef] {
        &self.global_keys
    }

    /// Number of actions over all services.
    pub fn action_count(&self) -> usize {
        self.services.iter().map(|s| s.actions.len()).sum()
    }

    /// The service with this prefix (case-insensitive).
    pub fn service(&self, prefix: &str) -> Option<(u32, &Service)> {
        let i = *self.index.by_prefix.get(&prefix.to_ascii_lowercase())?;
        Some((i, self.services.get(i as usize)?))
    }

    /// Looks up `service:Action` (case-insensitive).
    pub fn action(&self, full_name: &str) -> Option<ActionId> {
        let (prefix, name) = split_action(full_name)?;
        let (service, _) = self.service(prefix)?;
        let action = *self.index.actions.get(service as usize)?.get(&name.to_ascii_lowercase())?;
        Some(ActionId { service, action })
    }

    /// The definition of an action.
    pub fn action_def(&self, id: ActionId) -> Option<&ActionDef> {
        self.services.get(id.service as usize)?.actions.get(id.action as usize)
    }

    /// The service of an action.
    pub fn service_of(&self, id: ActionId) -> Option<&Service> {
        self.services.get(id.service as usize)
    }

    /// `service:Action` in AWS casing.
    pub fn action_name(&self, id: ActionId) -> String {
        match (self.service_of(id), self.action_def(id)) {
            (Some(s), Some(a)) => format!("{}:{}", s.prefix, a.name),
            _ => String::new(),
        }
    }

    /// Every action, in catalog order (by prefix, then as listed).
    pub fn action_ids(&self) -> impl Iterator<Item = ActionId> + '_ {
        self.services.iter().enumerate().flat_map(|(s, service)| {
            (0..service.actions.len()).map(move |a| ActionId {
                service: u32::try_from(s).unwrap_or(u32::MAX),
                action: u32::try_from(a).unwrap_or(u32::MAX),
            })
        })
    }

    /// Whether the action can only be granted with `"Resource": "*"`.
    pub fn is_wildcard_only(&self, id: ActionId) -> bool {
        self.action_def(id).is_some_and(|a| a.resources.is_empty())
    }

    /// The resource types an action can be scoped to.
    pub fn resource_types_of(&self, id: ActionId) -> impl Iterator<Item = &ResourceType> + '_ {
        let service = self.service_of(id);
        self.action_def(id)
            .into_iter()
            .flat_map(|a| a.resources.iter())
            .filter_map(move |r| service?.resource_types.get(r.resource_type as usize))
    }

    /// Resolves a condition key name: global, the service's own, or a prefix valid without a service.
    pub fn condition_key(&self, key: &str) -> Option<KeyMatch<'_>> {
        let lower = key.to_ascii_lowercase();
        if let Some(id) = self.index.global_keys.find(&lower) {
            return self.global_keys.get(id as usize).map(KeyMatch::Global);
        }
        let prefix = lower.split_once(':').map(|(p, _)| p)?;
        if let Some((s, service)) = self.service(prefix) {
            if let Some(id) = self.index.service_keys.get(s as usize).and_then(|t| t.find(&lower)) {
                return service.condition_keys.get(id as usize).map(KeyMatch::Service);
            }
        }
        let other = self.index.other_prefixes.iter().any(|glob| tokens_match(glob, prefix, true));
        other.then_some(KeyMatch::Other)
    }

    /// Whether `key` applies to the action: a global key, or listed for the
    /// action, one of its resource types, or that resource type in the action's row.
    pub fn key_applies(&self, id: ActionId, key: &str) -> bool {
        let lower = key.to_ascii_lowercase();
        if matches!(self.condition_key(key), Some(KeyMatch::Global(_) | KeyMatch::Other)) {
            return true;
        }
        let (Some(service), Some(action)) = (self.service_of(id), self.action_def(id)) else {
            return false;
        };
        // Listed names are documented forms (`…/${TagKey}`, `…/tag-key`, `<key>`),
        // and one service may spell the same key both ways: match their globs.
        let listed = |names: &[String]| {
            names.iter().any(|n| {
                let n = n.to_ascii_lowercase();
                match key_glob(&n) {
                    Some(glob) => tokens_match(&tokens(&glob), &lower, true),
                    None => n == lower,
                }
            })
        };
        listed(&action.condition_keys)
            || action.resources.iter().any(|r| {
                listed(&r.condition_keys)
                    || service.resource_types.get(r.resource_type as usize).is_some_and(|t| listed(&t.condition_keys))
            })
    }

    /// The closest service prefixes to a misspelt one (edit distance ≤ 2), best first.
    pub fn suggest_service(&self, prefix: &str) -> Vec<String> {
        suggest(prefix, self.services.iter().map(|s| s.prefix.as_str()))
    }

    /// The closest action names within the service of `full_name`, best first.
    pub fn suggest_action(&self, full_name: &str) -> Vec<String> {
        let Some((prefix, name)) = split_action(full_name) else {
            return Vec::new();
        };
        let Some((_, service)) = self.service(prefix) else {
            return Vec::new();
        };
        suggest(name, service.actions.iter().map(|a| a.name.as_str()))
            .into_iter()
            .map(|n| format!("{}:{n}", service.prefix))
            .collect()
    }
}

/// Candidates within edit distance 2 (case-insensitive), closest first, at most 3.
fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Vec<String> {
    let word = word.to_ascii_lowercase();
    let limit = if word.len() <= 4 { 1 } else { 2 };
    let mut scored: Vec<(usize, &str)> = candidates
        .filter_map(|c| {
            let d = edit_distance(&word, &c.to_ascii_lowercase());
            (d <= limit).then_some((d, c))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(3).map(|(_, c)| c.to_string()).collect()
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    if let Some(first) = rows.first_mut() {
        for (j, cell) in first.iter_mut().enumerate() {
            *cell = j;
        }
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = best;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_globs_mark_variable_parts() {
        assert_eq!(key_glob("aws:requesttag/${tagkey}").as_deref(), Some("aws:requesttag/*"));
        assert_eq!(key_glob("s3:existingobjecttag/<key>").as_deref(), Some("s3:existingobjecttag/*"));
        assert_eq!(key_glob("aws:principaltag/tag-key").as_deref(), Some("aws:principaltag/*"));
        assert_eq!(
            key_glob("codebuild:environment.environmentvariables/${name}.value").as_deref(),
            Some("codebuild:environment.environmentvariables/*.value")
        );
        assert_eq!(key_glob("s3:tlsversion"), None);
    }

    #[test]
    fn edit_distance_counts_transpositions_once() {
        assert_eq!(edit_distance("getobjcet", "getobject"), 1);
        assert_eq!(edit_distance("s3", "s4"), 1);
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("", "ab"), 2);
    }

    #[test]
    fn key_types_parse_reference_names() {
        assert_eq!(KeyType::parse("ArrayOfARN"), KeyType { base: ValueType::Arn, multi: true });
        assert_eq!(KeyType::parse("Long").base, ValueType::Numeric);
        assert_eq!(KeyType::parse("Mystery").base, ValueType::Unknown);
        assert_eq!(KeyType::parse("ArrayOfString").name(), "ArrayOfString");
    }

    #[test]
    fn access_levels_take_the_classic_first_element() {
        assert_eq!(AccessLevel::parse("Tagging, Write"), Some(AccessLevel::Tagging));
        assert_eq!(AccessLevel::parse("Permissions management, Write"), Some(AccessLevel::PermissionsManagement));
        assert_eq!(AccessLevel::parse("Bogus"), None);
    }
}
