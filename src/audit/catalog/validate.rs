//! Policy checks against the catalog, in the manner of IAM Access Analyzer's
//! policy validation: what AWS would reject or silently never match
//! (errors and warnings), and what is broader or longer than it needs to be
//! (warnings and suggestions). Each finding names the JSON path and, when the
//! source document is given, its line and column.
//!
//! Severity: **error** = the statement names something that does not exist
//! (unknown service or action, a pattern matching no action); **warning** =
//! it is legal but part of it can never apply, or it is over-permissive;
//! **suggestion** = redundant text that can go.
//!
//! ```
//! use iamsim::audit::catalog::{validate::validate, Catalog};
//! use iamsim::{parse_policy, PolicyKind};
//! let catalog = Catalog::load(std::path::Path::new("corpus/catalog/service-reference"))?;
//! let text = br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:CreateNetworkInterfaces","Resource":"*"}}"#;
//! let policy = parse_policy(text, "p.json", PolicyKind::Identity)?;
//! let findings = validate(&catalog, &policy, None)?;
//! assert_eq!(findings[0].path, "Statement[0].Action");
//! assert!(findings[0].message.contains("ec2:CreateNetworkInterface"), "{}", findings[0].message);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{ActionId, Catalog, KeyMatch, ValueType};
use crate::engine::compile::CompileError;
use crate::engine::policy::json::{Json, JsonKind, Span};
use crate::engine::policy::pattern::{glob_match, pattern_covers, patterns_intersect, tokens, tokens_match, Token};
use crate::engine::policy::{Condition, Effect, Family, Policy, SetQualifier, Statement};
use serde::Serialize;
use std::collections::{BTreeSet, HashSet};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Names something that does not exist.
    Error,
    /// Legal, but never applies or grants more than it seems.
    Warning,
    /// Redundant.
    Suggestion,
}

impl Severity {
    /// Lower-case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Suggestion => "suggestion",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Severity.
    pub severity: Severity,
    /// A stable identifier of the check (`unknown-action`, `key-type-mismatch`, …).
    pub code: &'static str,
    /// JSON path of the element, e.g. `Statement[1].Action[0]`.
    pub path: String,
    /// 1-based line of the element, when the source document was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// 1-based column of the element, when the source document was given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    /// What is wrong and, where we can tell, what was meant.
    pub message: String,
}

/// Finds JSON paths and positions of statement elements in the source document.
struct Locator<'a> {
    /// The document (inside any CLI wrapper) and its path prefix with a trailing dot.
    document: Option<(&'a Json, String)>,
}

impl<'a> Locator<'a> {
    fn new(root: Option<&'a Json>) -> Locator<'a> {
        let document = root.and_then(crate::engine::policy::document_node).map(|(node, prefix)| {
            let prefix = if prefix.is_empty() { prefix } else { format!("{prefix}.") };
            (node, prefix)
        });
        Locator { document }
    }

    fn statement(&self, index: usize) -> (String, Option<&'a Json>) {
        let prefix = self.document.as_ref().map_or("", |(_, p)| p.as_str());
        match self.document.as_ref().and_then(|(d, _)| d.get("Statement")) {
            Some(Json { kind: JsonKind::Array(items), .. }) => {
                (format!("{prefix}Statement[{index}]"), items.get(index))
            }
            Some(node) => (format!("{prefix}Statement"), Some(node)),
            None => (format!("Statement[{index}]"), None),
        }
    }

    /// Path and position of `key` (and its `item`-th value) in statement `index`.
    fn element(&self, index: usize, key: &str, item: Option<usize>) -> (String, Option<Span>) {
        let (base, node) = self.statement(index);
        let member = node.and_then(|n| n.get(key));
        match (member, item) {
            (Some(Json { kind: JsonKind::Array(items), span }), Some(i)) => {
                (format!("{base}.{key}[{i}]"), items.get(i).map(|n| n.span).or(Some(*span)))
            }
            (Some(m), _) => (format!("{base}.{key}"), Some(m.span)),
            (None, Some(i)) => (format!("{base}.{key}[{i}]"), None),
            (None, None) => (format!("{base}.{key}"), None),
        }
    }

    /// Path and position of a condition key under its operator.
    fn condition(&self, index: usize, operator: &str, key: &str) -> (String, Option<Span>) {
        let (base, node) = self.statement(index);
        let op = node.and_then(|n| n.get("Condition")).and_then(|c| c.get(operator));
        let span = op.and_then(|o| o.as_object()).and_then(|ms| ms.iter().find(|m| m.key == key)).map(|m| m.key_span);
        (format!("{base}.Condition.{operator}.{key}"), span.or(op.map(|o| o.span)))
    }
}

struct Findings<'a> {
    locator: Locator<'a>,
    out: Vec<Finding>,
}

impl Findings<'_> {
    fn push(&mut self, severity: Severity, code: &'static str, (path, span): (String, Option<Span>), message: String) {
        self.out.push(Finding {
            severity,
            code,
            path,
            line: span.map(|s| s.line),
            column: span.map(|s| s.column),
            message,
        });
    }
}

/// What one statement's action list expands to.
struct Expanded {
    /// Per pattern, the actions it matches (for `NotAction`: that it excludes).
    per_pattern: Vec<Vec<ActionId>>,
    /// What the statement's whole `Action`/`NotAction` element applies to.
    statement: Vec<ActionId>,
}

/// Validates a parsed policy. `source` (the document as read) lets findings
/// carry line and column.
///
/// # Errors
/// When the policy's action patterns exceed the automaton's size limits.
pub fn validate(catalog: &Catalog, policy: &Policy, source: Option<&Json>) -> Result<Vec<Finding>, CompileError> {
    let mut lists: Vec<(&[String], bool)> = Vec::new();
    for st in &policy.statements {
        for p in &st.actions.patterns {
            lists.push((std::slice::from_ref(p), false));
        }
        lists.push((&st.actions.patterns, st.actions.negated));
    }
    let mut expanded_lists = catalog.expand_lists(&lists)?.into_iter();
    let expanded: Vec<Expanded> = policy
        .statements
        .iter()
        .map(|st| Expanded {
            per_pattern: expanded_lists.by_ref().take(st.actions.patterns.len()).collect(),
            statement: expanded_lists.next().unwrap_or_default(),
        })
        .collect();
    let mut findings = Findings { locator: Locator::new(source), out: Vec::new() };
    for (i, (st, ex)) in policy.statements.iter().zip(&expanded).enumerate() {
        check_actions(catalog, i, st, ex, &mut findings);
        check_resources(catalog, i, st, ex, &mut findings);
        check_conditions(catalog, i, st, ex, &mut findings);
        check_breadth(i, st, &mut findings);
    }
    check_redundant_statements(policy, &expanded, &mut findings);
    let mut out = findings.out;
    out.sort_by_key(|f| (f.line, f.column, f.severity));
    Ok(out)
}

fn action_key(st: &Statement) -> &'static str {
    if st.actions.negated {
        "NotAction"
    } else {
        "Action"
    }
}

fn check_actions(catalog: &Catalog, i: usize, st: &Statement, ex: &Expanded, f: &mut Findings<'_>) {
    let key = action_key(st);
    let many = st.actions.patterns.len() > 1;
    for (j, (pattern, hits)) in st.actions.patterns.iter().zip(&ex.per_pattern).enumerate() {
        let at = f.locator.element(i, key, many.then_some(j));
        if !hits.is_empty() {
            continue;
        }
        if pattern == "*" {
            continue;
        }
        let Some((prefix, name)) = pattern.split_once(':') else {
            f.push(Severity::Error, "malformed-action", at, format!("{pattern:?} is not of the form service:action"));
            continue;
        };
        if !prefix.contains(['*', '?']) && catalog.service(prefix).is_none() {
            let hint = did_you_mean(
                &catalog.suggest_service(prefix).iter().map(|s| format!("{s}:{name}")).collect::<Vec<_>>(),
            );
            f.push(
                Severity::Error,
                "unknown-service",
                at,
                format!("unknown service prefix {prefix:?} in {pattern:?}{hint}"),
            );
        } else if pattern.contains(['*', '?']) {
            f.push(
                Severity::Error,
                "pattern-matches-nothing",
                at,
                format!("{pattern:?} matches no action in the catalog"),
            );
        } else {
            let hint = did_you_mean(&catalog.suggest_action(pattern));
            f.push(Severity::Error, "unknown-action", at, format!("unknown action {pattern:?}{hint}"));
        }
    }
    // A pattern whose actions another pattern of the same list already covers.
    for (j, hits) in ex.per_pattern.iter().enumerate() {
        if hits.is_empty() {
            continue;
        }
        let cover = ex.per_pattern.iter().enumerate().find(|(k, other)| {
            *k != j
                && other.len() >= hits.len()
                && (other.len() > hits.len() || *k < j)
                && hits.iter().all(|a| other.binary_search(a).is_ok())
        });
        if let Some((k, _)) = cover {
            let (pattern, other) = (&st.actions.patterns[j], &st.actions.patterns[k]);
            f.push(
                Severity::Suggestion,
                "redundant-action",
                f.locator.element(i, key, many.then_some(j)),
                format!("{pattern:?} adds nothing: {other:?} in the same list already covers every action it matches"),
            );
        }
    }
}

fn did_you_mean(options: &[String]) -> String {
    match options {
        [] => String::new(),
        [one] => format!(" (did you mean {one}?)"),
        many => format!(" (did you mean one of {}?)", many.join(", ")),
    }
}

/// The ARN formats of an action's resource types, tokenised once, to tell
/// whether a concrete ARN fits one of them ([`ResourceFormats::fits`]) or a
/// resource pattern can name one ([`ResourceFormats::fits_pattern`]).
#[derive(Clone, Debug, Default)]
pub struct ResourceFormats {
    /// Each format as its ARN parts.
    formats: Vec<Vec<Vec<Token>>>,
    /// Per format, when none of its placeholders can hold a `/`: how many
    /// `/` its resources have (see [`Catalog::resource_formats`]).
    max_slashes: Vec<Option<usize>>,
}

impl ResourceFormats {
    /// Whether `arn` is an ARN of one of the resource types: part by part
    /// (a `${Var}` never spans the first five colons), case-sensitively,
    /// and with no more `/` than the format has where its placeholders
    /// cannot hold one (`arn:aws:s3:::data/report.csv` is an object, never
    /// a bucket).
    ///
    /// ```
    /// use iamsim::audit::catalog::Catalog;
    /// let catalog = Catalog::load(std::path::Path::new("corpus/catalog/service-reference"))?;
    /// let list_bucket = catalog.resource_formats(catalog.action("s3:ListBucket").unwrap());
    /// assert!(list_bucket.fits("arn:aws:s3:::data") && !list_bucket.fits("arn:aws:s3:::data/report.csv"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fits(&self, arn: &str) -> bool {
        // Formats have all six parts; a text that is no ARN fits none.
        let Some(a) = crate::engine::policy::Arn::parse(arn) else { return false };
        let parts = ["arn", a.partition, a.service, a.region, a.account, a.resource];
        // Every `/` of a concrete ARN is literal.
        let slashes = arn.bytes().filter(|&b| b == b'/').count();
        self.formats.iter().zip(&self.max_slashes).any(|(format, max)| {
            max.is_none_or(|max| slashes <= max)
                && format.len() == parts.len()
                && format.iter().zip(&parts).all(|(f, p)| tokens_match(f, p, false))
        })
    }

    /// Whether the action has resource types (else it takes only `*`).
    pub fn is_empty(&self) -> bool {
        self.formats.is_empty()
    }

    /// Whether some resource of these types matches `pattern` (a resource
    /// ARN or a policy's `Resource` pattern, its variables read as `*`):
    /// part by part, and no more `/` than the format has where its
    /// placeholders cannot hold one (`arn:aws:s3:::data/*` names objects,
    /// never a bucket).
    ///
    /// ```
    /// use iamsim::audit::catalog::Catalog;
    /// let catalog = Catalog::load(std::path::Path::new("corpus/catalog/service-reference"))?;
    /// let list_bucket = catalog.resource_formats(catalog.action("s3:ListBucket").unwrap());
    /// let get_object = catalog.resource_formats(catalog.action("s3:GetObject").unwrap());
    /// assert!(list_bucket.fits_pattern("arn:aws:s3:::data") && !list_bucket.fits_pattern("arn:aws:s3:::data/*"));
    /// assert!(get_object.fits_pattern("arn:aws:s3:::home/${aws:username}/*") && !get_object.fits_pattern("arn:aws:s3:::data"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fits_pattern(&self, pattern: &str) -> bool {
        let segments = arn_segments(resource_tokens(pattern));
        let slashes = literal_slashes(pattern);
        self.formats
            .iter()
            .zip(&self.max_slashes)
            .any(|(format, max)| max.is_none_or(|max| slashes <= max) && segments_intersect(&segments, format))
    }
}

/// One piece of a catalog ARN format (or a resource pattern read as one):
/// literal text, or the name inside a `${…}` placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FormatPart<'a> {
    /// Text between placeholders (possibly empty).
    Text(&'a str),
    /// A placeholder's name (`BucketName` of `${BucketName}`).
    Var(&'a str),
}

/// `format` split into text and placeholders, text first and last, the two
/// alternating; an unclosed `${` is text.
pub(crate) fn format_parts(format: &str) -> impl Iterator<Item = FormatPart<'_>> {
    let mut rest = Some(format);
    let mut var = None;
    std::iter::from_fn(move || {
        if let Some(name) = var.take() {
            return Some(FormatPart::Var(name));
        }
        let text = rest?;
        match text.find("${").and_then(|open| Some((open, text.get(open..)?.find('}')?))) {
            Some((open, close)) => {
                var = text.get(open + 2..open + close);
                rest = text.get(open + close + 1..);
                text.get(..open).map(FormatPart::Text)
            }
            None => {
                rest = None;
                Some(FormatPart::Text(text))
            }
        }
    })
}

/// The names of a format's `${Name}` placeholders.
fn placeholders(format: &str) -> impl Iterator<Item = &str> {
    format_parts(format).filter_map(|part| match part {
        FormatPart::Var(name) => Some(name),
        FormatPart::Text(_) => None,
    })
}

/// The `/` a pattern has outside its `${…}` placeholders and variables.
fn literal_slashes(text: &str) -> usize {
    let (mut count, mut inside, mut prev) = (0, false, '\0');
    for c in text.chars() {
        match c {
            '{' if prev == '$' => inside = true,
            '}' if inside => inside = false,
            '/' if !inside => count += 1,
            _ => {}
        }
        prev = c;
    }
    count
}

impl Catalog {
    /// The ARN formats of every resource type `id` can be scoped to.
    ///
    /// A format whose placeholders all never hold a `/` ([`NO_SLASH`]:
    /// `arn:${Partition}:s3:::${BucketName}`) has a fixed number of `/`
    /// ([`ResourceFormats::fits_pattern`]).
    pub fn resource_formats(&self, id: ActionId) -> ResourceFormats {
        let types = self.action_def(id).into_iter().flat_map(|a| &a.resources).map(|r| (id.service, r.resource_type));
        self.resource_formats_of(types)
    }

    /// The ARN formats of resource types given as (service, resource type)
    /// indexes, as [`Catalog::resource_formats`] reads them.
    pub(crate) fn resource_formats_of(&self, types: impl IntoIterator<Item = (u32, u32)>) -> ResourceFormats {
        let mut out = ResourceFormats::default();
        for (s, t) in types {
            let Some(service) = self.services().get(s as usize) else { continue };
            let Some(rt) = service.resource_types.get(t as usize) else { continue };
            let never_slash =
                |name: &str| NO_SLASH.iter().any(|(p, n, _)| (p.is_empty() || *p == service.prefix) && *n == name);
            for f in &rt.arn_formats {
                out.max_slashes.push(placeholders(f).all(never_slash).then(|| literal_slashes(f)));
                out.formats.push(arn_segments(format_tokens(f)));
            }
        }
        out
    }
}

/// The ARN placeholders whose values never hold a `/`: (service prefix, or
/// empty for every service; placeholder; the AWS page that says so).
///
/// Only what AWS documents: reading it off the formats (a placeholder some
/// format follows with `/`) is wrong for partner event buses
/// (`event-bus/aws.partner/…`), Glue's federated databases and the
/// load-balancer type the reference gives some ELB v2 actions, and made
/// access queries drop grants that AWS managed policies make.
pub const NO_SLASH: &[(&str, &str, &str)] = &[
    ("", "Partition", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"),
    ("", "Region", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"),
    ("", "Account", "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"),
    // "Bucket names can consist only of lowercase letters, numbers, periods (.), and hyphens (-)."
    ("s3", "BucketName", "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"),
    ("s3express", "BucketName", "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"),
];

impl ResourceFormats {
    /// One catalog ARN format (with `${Var}` placeholders), tokenised.
    pub fn of_format(format: &str) -> ResourceFormats {
        ResourceFormats { formats: vec![arn_segments(format_tokens(format))], max_slashes: vec![None] }
    }
}

/// A resource pattern that matches the literal `*` a wildcard-only action is requested on.
fn matches_star(pattern: &str) -> bool {
    glob_match(pattern, "*")
}

/// Tokens of an ARN format: each `${Var}` becomes `*`.
fn format_tokens(format: &str) -> Vec<Token> {
    let mut out = Vec::with_capacity(format.len());
    for part in format_parts(format) {
        match part {
            FormatPart::Text(t) => out.extend(t.chars().map(Token::Char)),
            FormatPart::Var(_) => out.push(Token::Star),
        }
    }
    out
}

/// Tokens of a policy resource pattern: wildcards as wildcards, policy variables as `*`.
pub(crate) fn resource_tokens(pattern: &str) -> Vec<Token> {
    format_tokens(pattern)
        .into_iter()
        .map(|t| match t {
            Token::Char('*') => Token::Star,
            Token::Char('?') => Token::One,
            t => t,
        })
        .collect()
}

/// An ARN pattern split into its six parts (the resource part keeps its
/// colons): IAM matches `*` and `?` within a part, never across the first
/// five colons. A pattern with fewer parts stays whole.
fn arn_segments(tokens: Vec<Token>) -> Vec<Vec<Token>> {
    let mut parts = vec![Vec::new()];
    for t in tokens {
        if t == Token::Char(':') && parts.len() < 6 {
            parts.push(Vec::new());
        } else if let Some(last) = parts.last_mut() {
            last.push(t);
        }
    }
    parts
}

/// Whether two ARN patterns (as parts) can name the same ARN. A bare `*` matches all.
fn segments_intersect(a: &[Vec<Token>], b: &[Vec<Token>]) -> bool {
    let all = |p: &[Vec<Token>]| p.len() == 1 && p.first().is_some_and(|t| t.iter().all(|t| *t == Token::Star));
    if all(a) || all(b) {
        return true;
    }
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| patterns_intersect(x, y))
}

fn check_resources(catalog: &Catalog, i: usize, st: &Statement, ex: &Expanded, f: &mut Findings<'_>) {
    let Some(resources) = st.resources.as_ref().filter(|r| !r.negated) else {
        return;
    };
    if st.actions.negated || resources.patterns.iter().any(|p| p == "*") {
        return;
    }
    let any_star = resources.patterns.iter().any(|p| matches_star(p));
    // Patterns naming only actions that support nothing but `"Resource": "*"`.
    if !any_star {
        let many = st.actions.patterns.len() > 1;
        for (j, hits) in ex.per_pattern.iter().enumerate() {
            if !hits.is_empty() && hits.iter().all(|a| catalog.is_wildcard_only(*a)) {
                let pattern = &st.actions.patterns[j];
                let what = if hits.len() == 1 {
                    format!("{pattern} supports")
                } else {
                    format!("every action {pattern:?} matches supports")
                };
                f.push(
                    Severity::Warning,
                    "wildcard-only-action",
                    f.locator.element(i, action_key(st), many.then_some(j)),
                    format!("{what} only \"Resource\": \"*\"; with these resources this statement never applies to it"),
                );
            }
        }
    }
    // Resource patterns that fit none of the resource types of the statement's actions.
    let mut formats: BTreeSet<(u32, u32)> = BTreeSet::new();
    for a in &ex.statement {
        if let Some(def) = catalog.action_def(*a) {
            formats.extend(def.resources.iter().map(|r| (a.service, r.resource_type)));
        }
    }
    if formats.is_empty() {
        return;
    }
    let fitting = catalog.resource_formats_of(formats.iter().copied());
    let many = resources.patterns.len() > 1;
    for (j, pattern) in resources.patterns.iter().enumerate() {
        if matches_star(pattern) || fitting.fits_pattern(pattern) {
            continue;
        }
        let kinds: BTreeSet<String> = formats
            .iter()
            .filter_map(|(s, t)| {
                let service = catalog.services().get(*s as usize)?;
                let rt = service.resource_types.get(*t as usize).filter(|rt| !rt.arn_formats.is_empty())?;
                Some(format!("{}/{}", service.prefix, rt.name))
            })
            .take(6)
            .collect();
        f.push(
            Severity::Warning,
            "resource-fits-no-type",
            f.locator.element(i, "Resource", many.then_some(j)),
            format!(
                "{pattern:?} fits none of the resource types of this statement's actions (e.g. {}); it never matches",
                kinds.into_iter().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

fn family_fits(family: Family, value: ValueType) -> bool {
    match (family, value) {
        (Family::Null, _) | (_, ValueType::Unknown) => true,
        (Family::String, v) => matches!(v, ValueType::String | ValueType::Arn),
        (Family::Arn, v) => v == ValueType::Arn,
        (Family::Numeric, v) => v == ValueType::Numeric,
        (Family::Date, v) => v == ValueType::Date,
        (Family::Bool, v) => v == ValueType::Bool,
        (Family::Ip, v) => v == ValueType::IpAddress,
        (Family::Binary, v) => v == ValueType::Binary,
    }
}

fn check_conditions(catalog: &Catalog, i: usize, st: &Statement, ex: &Expanded, f: &mut Findings<'_>) {
    for (n, condition) in st.conditions.iter().enumerate() {
        check_condition(catalog, i, st, ex, condition, f);
        // The same key spelt twice in one operator's block: keys are
        // case-insensitive, so both are conditions on that one key, and
        // every engine here (and AWS) requires both.
        let earlier = st.conditions.get(..n).unwrap_or_default();
        if let Some(first) =
            earlier.iter().find(|c| c.operator == condition.operator && c.key.eq_ignore_ascii_case(&condition.key))
        {
            let operator = condition.operator.to_string();
            f.push(
                Severity::Warning,
                "condition-key-repeated",
                f.locator.condition(i, &operator, &condition.key),
                format!(
                    "{operator} names {:?} and {:?}: condition keys are case-insensitive, so these are two conditions on one key and both must hold",
                    first.key, condition.key
                ),
            );
        }
    }
}

fn check_condition(catalog: &Catalog, i: usize, st: &Statement, ex: &Expanded, c: &Condition, f: &mut Findings<'_>) {
    let operator = c.operator.to_string();
    let at = f.locator.condition(i, &operator, &c.key);
    let Some(found) = catalog.condition_key(&c.key) else {
        let prefix = c.key.split_once(':').map_or("", |(p, _)| p);
        let mut names: Vec<&str> = catalog.global_keys().iter().map(|k| k.name.as_str()).collect();
        if let Some((_, service)) = catalog.service(prefix) {
            names.extend(service.condition_keys.iter().map(|k| k.name.as_str()));
        }
        let hint = did_you_mean(&super::suggest(&c.key, names.into_iter()));
        f.push(
            Severity::Warning,
            "unknown-condition-key",
            at,
            format!("condition key {:?} is not in the catalog{hint}", c.key),
        );
        return;
    };
    if let KeyMatch::Service(_) = found {
        if !st.actions.negated
            && !ex.statement.is_empty()
            && !ex.statement.iter().any(|a| catalog.key_applies(*a, &c.key))
        {
            f.push(
                Severity::Warning,
                "condition-key-not-applicable",
                at.clone(),
                format!(
                    "condition key {:?} applies to none of this statement's actions; the condition never matches",
                    c.key
                ),
            );
        }
    }
    let Some(key_type) = found.key_type() else { return };
    if !family_fits(c.operator.base.family, key_type.base) {
        f.push(
            Severity::Warning,
            "key-type-mismatch",
            at.clone(),
            format!(
                "{operator} compares {:?} values but {:?} is a {} key",
                c.operator.base.family,
                c.key,
                key_type.name()
            ),
        );
    }
    if c.operator.base.family == Family::Null {
        return;
    }
    match (c.operator.qualifier, key_type.multi) {
        (Some(SetQualifier::ForAllValues), false) if key_type.base != ValueType::Unknown => f.push(
            Severity::Warning,
            "for-all-values-single-valued",
            at,
            format!(
                "ForAllValues on the single-valued key {:?}: it is also true when the key is absent; use {} instead",
                c.key,
                operator.trim_start_matches("ForAllValues:")
            ),
        ),
        (Some(SetQualifier::ForAnyValue), false) if key_type.base != ValueType::Unknown => f.push(
            Severity::Suggestion,
            "for-any-value-single-valued",
            at,
            format!(
                "ForAnyValue on the single-valued key {:?} behaves like {}",
                c.key,
                operator.trim_start_matches("ForAnyValue:")
            ),
        ),
        (None, true) => f.push(
            Severity::Warning,
            "multivalued-key-without-set-operator",
            at,
            format!(
                "{:?} is multivalued ({}); use ForAnyValue: or ForAllValues: with {operator}",
                c.key,
                key_type.name()
            ),
        ),
        _ => {}
    }
}

fn check_breadth(i: usize, st: &Statement, f: &mut Findings<'_>) {
    if st.effect != Effect::Allow {
        return;
    }
    if st.actions.negated {
        f.push(
            Severity::Warning,
            "allow-not-action",
            f.locator.element(i, "NotAction", None),
            "Allow with NotAction grants every action not listed, including ones AWS adds later".to_string(),
        );
    }
    if st.resources.as_ref().is_some_and(|r| r.negated) {
        f.push(
            Severity::Warning,
            "allow-not-resource",
            f.locator.element(i, "NotResource", None),
            "Allow with NotResource grants every resource not listed, including ones created later".to_string(),
        );
    }
    let all_actions = !st.actions.negated && st.actions.patterns.iter().any(|p| p == "*");
    let all_resources = st.resources.as_ref().is_some_and(|r| !r.negated && r.patterns.iter().any(|p| p == "*"));
    if all_actions && all_resources && st.conditions.is_empty() {
        f.push(
            Severity::Warning,
            "full-access",
            f.locator.element(i, "Action", None),
            "Allow of every action on every resource without a condition".to_string(),
        );
    }
}

/// Whether statement `b` adds nothing to statement `a` (same effect,
/// principal and conditions; `a`'s actions and resources cover `b`'s).
fn covers(a: &Statement, a_actions: &[ActionId], b: &Statement, b_actions: &[ActionId]) -> bool {
    if a.effect != b.effect || a.principal != b.principal || a.conditions != b.conditions || b_actions.is_empty() {
        return false;
    }
    let have: HashSet<&ActionId> = a_actions.iter().collect();
    if !b_actions.iter().all(|x| have.contains(x)) {
        return false;
    }
    match (&a.resources, &b.resources) {
        (None, None) => true,
        (Some(ra), Some(rb)) if !ra.negated && !rb.negated => {
            let general: Vec<Vec<Token>> = ra.patterns.iter().map(|p| tokens(p)).collect();
            rb.patterns.iter().all(|p| {
                let specific = tokens(p);
                general.iter().any(|g| pattern_covers(g, &specific))
            })
        }
        (Some(ra), Some(rb)) => ra == rb,
        _ => false,
    }
}

fn check_redundant_statements(policy: &Policy, expanded: &[Expanded], f: &mut Findings<'_>) {
    let sid = |s: &Statement, k: usize| s.sid.as_ref().map_or(format!("Statement[{k}]"), |sid| format!("{sid:?}"));
    for (j, b) in policy.statements.iter().enumerate() {
        let eb = &expanded[j].statement;
        // Identical statements: only the later one is reported.
        let cover = policy.statements.iter().enumerate().find(|(i, a)| {
            let ea = &expanded[*i].statement;
            *i != j && covers(a, ea, b, eb) && (!covers(b, eb, a, ea) || *i < j)
        });
        if let Some((i, a)) = cover {
            let (path, node) = f.locator.statement(j);
            f.push(
                Severity::Suggestion,
                "redundant-statement",
                (path, node.map(|n| n.span)),
                format!("{} adds nothing: {} already grants or denies all of it", sid(b, j), sid(a, i)),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_split_into_text_and_placeholders() {
        use FormatPart::{Text, Var};
        fn parts(f: &str) -> Vec<FormatPart<'_>> {
            format_parts(f).collect()
        }
        assert_eq!(
            parts("arn:${Partition}:s3:::${BucketName}/${ObjectName}"),
            [Text("arn:"), Var("Partition"), Text(":s3:::"), Var("BucketName"), Text("/"), Var("ObjectName"), Text("")]
        );
        assert_eq!(parts("a${B}c${D"), [Text("a"), Var("B"), Text("c${D")]);
        assert_eq!(parts(""), [Text("")]);
        assert_eq!(placeholders("${A}/${B}${C}").collect::<Vec<_>>(), ["A", "B", "C"]);
    }

    #[test]
    fn slashes_are_counted_outside_placeholders() {
        assert_eq!(literal_slashes("a/${x/y}/b"), 2);
        assert_eq!(literal_slashes("arn:aws:s3:::data"), 0);
        // A format on its own, without its service: no bound is known.
        assert!(ResourceFormats::of_format("arn:${Partition}:s3:::${BucketName}").fits_pattern("arn:aws:s3:::a/b"));
    }

    /// Only placeholders AWS documents as free of `/` bound a format's
    /// slashes: an S3 bucket, never a name that another of the service's
    /// formats happens to follow with `/` (partner event buses are
    /// `event-bus/aws.partner/…`, as AWS managed policies grant them).
    #[test]
    fn slash_bounds_come_from_documented_names_only() {
        let dir = std::env::temp_dir().join(format!("iamsim-no-slash-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy("corpus/catalog/service-reference/s3.json", dir.join("s3.json")).unwrap();
        let events = r#"{"Name": "events",
            "Actions": [{"Name": "PutEvents", "Resources": [{"Name": "event-bus"}]}],
            "Resources": [
                {"Name": "event-bus", "ARNFormats": ["arn:${Partition}:events:${Region}:${Account}:event-bus/${EventBusName}"]},
                {"Name": "rule-on-custom-event-bus", "ARNFormats": ["arn:${Partition}:events:${Region}:${Account}:rule/${EventBusName}/${RuleName}"]}
            ]}"#;
        std::fs::write(dir.join("events.json"), events).unwrap();
        let catalog = Catalog::load(&dir).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let formats = |action: &str| catalog.resource_formats(catalog.action(action).unwrap());
        let put_events = formats("events:PutEvents");
        assert!(put_events.fits_pattern("arn:aws:events:*:*:event-bus/aws.partner/odb*"));
        assert!(put_events.fits("arn:aws:events:us-east-1:111122223333:event-bus/aws.partner/example.com/1/app"));
        let list_bucket = formats("s3:ListBucket");
        assert!(!list_bucket.fits_pattern("arn:aws:s3:::data/*") && !list_bucket.fits("arn:aws:s3:::data/a.csv"));
        assert!(list_bucket.fits_pattern("arn:aws:s3:::data*") && list_bucket.fits("arn:aws:s3:::data"));
        // And so validate: the partner bus fits, the bucket-only action on objects never matches.
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":"events:PutEvents","Resource":"arn:aws:events:*:*:event-bus/aws.partner/odb*"},
            {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::data/*"}]}"#;
        let policy = crate::parse_policy(policy.as_bytes(), "p.json", crate::PolicyKind::Identity).unwrap();
        let found: Vec<String> = validate(&catalog, &policy, None)
            .unwrap()
            .iter()
            .filter(|f| f.code == "resource-fits-no-type")
            .map(|f| f.path.clone())
            .collect();
        assert_eq!(found, ["Statement[1].Resource"]);
    }

    #[test]
    fn format_and_resource_tokens() {
        assert_eq!(format_tokens("arn:${Partition}:s3:::${BucketName}"), tokens("arn:*:s3:::*"));
        assert_eq!(resource_tokens("arn:aws:s3:::${aws:username}/*"), tokens("arn:aws:s3:::*/*"));
        assert_eq!(resource_tokens("arn:aws:s3:::b?"), tokens("arn:aws:s3:::b?"));
    }

    #[test]
    fn arn_parts_never_cross_colons() {
        let parts = |p: &str| arn_segments(resource_tokens(p));
        let fmt = |p: &str| arn_segments(format_tokens(p));
        assert!(!segments_intersect(
            &parts("arn:aws:ec2:*:*:instance/*"),
            &fmt("arn:${Partition}:ec2:${Region}:${Account}:volume/${VolumeId}")
        ));
        assert!(segments_intersect(
            &parts("arn:aws:ec2:*:*:*"),
            &fmt("arn:${Partition}:ec2:${Region}:${Account}:volume/${VolumeId}")
        ));
        assert!(!segments_intersect(
            &parts("arn:aws:s3:::bucket"),
            &fmt("arn:${Partition}:s3:::${BucketName}/${ObjectName}")
        ));
        assert!(segments_intersect(
            &parts("arn:aws:s3:::*"),
            &fmt("arn:${Partition}:s3:::${BucketName}/${ObjectName}")
        ));
        assert!(segments_intersect(&parts("*"), &fmt("arn:${Partition}:s3:::${BucketName}")));
        // The resource part keeps its colons.
        assert!(segments_intersect(
            &parts("arn:aws:logs:*:*:log-group:/aws/eks/*:*"),
            &fmt("arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}")
        ));
    }

    #[test]
    fn operator_families_fit_key_types() {
        assert!(family_fits(Family::String, ValueType::Arn));
        assert!(!family_fits(Family::String, ValueType::Date));
        assert!(!family_fits(Family::Arn, ValueType::String));
        assert!(family_fits(Family::Null, ValueType::Bool));
        assert!(family_fits(Family::Numeric, ValueType::Unknown));
    }
}
