//! Policy documents → [`Policy`]: grammar checks of semantics doc §1 with
//! errors that name the source, the JSON path and the line.
//!
//! Accepts a bare document and the common AWS CLI wrappers around one:
//! `{"PolicyVersion":{"Document":…}}` (get-policy-version), `{"Policy":"<json>"}`
//! (get-bucket-policy and friends), `{"Policy":{"Content":"<json>"}}`
//! (organizations describe-policy), `{"PolicyDocument":…}` (get-role-policy),
//! with the document either as an object, a JSON string, or a URL-encoded
//! string as get-account-authorization-details returns it.

use super::json::{self, Json, JsonKind, Span};
use super::model::*;
use super::operator::Operator;
use std::fmt;

/// A policy that could not be read: what kind of problem, where (the
/// source, the JSON path, the line and column) and what was expected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    kind: ParseErrorKind,
    source: String,
    path: String,
    span: Option<Span>,
    message: String,
}

/// The kinds of [`ParseError`]: what a tool reading many policies counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ParseErrorKind {
    /// Not JSON: a syntax error, a duplicate key, nesting too deep.
    Syntax,
    /// A document in a string that does not decode (URL-encoding to UTF-8).
    Encoding,
    /// An element of the wrong JSON type (`"Statement": 5`).
    WrongType,
    /// A required element absent (`Effect`, `Action`, `Resource`…).
    Missing,
    /// An element, field or condition operator that does not exist.
    Unknown,
    /// An empty array or object where at least one value is needed.
    Empty,
    /// Two elements that exclude each other (`Action` and `NotAction`).
    Conflict,
    /// A value that is not one the element takes (`"Effect": "allow"`, a
    /// resource that is not an ARN, a condition value its operator cannot read).
    Invalid,
    /// Valid grammar that this kind of policy does not allow (`Principal`
    /// in an identity policy, `NotAction` in an RCP).
    NotForKind,
}

impl ParseError {
    /// An error of `kind` at `path` (and `span`, when known) in `source`.
    pub fn at(
        kind: ParseErrorKind,
        source: &str,
        path: &str,
        span: Option<Span>,
        message: impl Into<String>,
    ) -> ParseError {
        ParseError { kind, source: source.to_string(), path: path.to_string(), span, message: message.into() }
    }
    /// What kind of problem.
    pub fn kind(&self) -> ParseErrorKind {
        self.kind
    }
    /// The file or label the document came from.
    pub fn source_name(&self) -> &str {
        &self.source
    }
    /// The JSON path of the offending element, e.g. `Statement[2].Condition.StringLikee`.
    pub fn path(&self) -> &str {
        &self.path
    }
    /// The line and column, when known.
    pub fn span(&self) -> Option<Span> {
        self.span
    }
    /// What was expected or found.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)?;
        if let Some(span) = self.span {
            write!(f, ":{span}")?;
        }
        if !self.path.is_empty() {
            write!(f, ": at {}", self.path)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses the bytes of a policy document (or a CLI wrapper around one).
///
/// `source` names the document in errors and becomes the policy's name.
///
/// # Errors
/// Invalid JSON, duplicate keys, or any grammar rule of §1 broken for `kind`.
///
/// # Example
/// ```
/// use iamsim::engine::policy::{parse_policy, PolicyKind};
/// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
///                      "inline", PolicyKind::Identity)?;
/// assert_eq!(p.statements.len(), 1);
/// let err = parse_policy(br#"{"Statement":{"Effect":"allow","Action":"*","Resource":"*"}}"#,
///                        "bad.json", PolicyKind::Identity).unwrap_err();
/// assert_eq!(err.path(), "Statement.Effect");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_policy(bytes: &[u8], source: &str, kind: PolicyKind) -> Result<Policy, ParseError> {
    policy_from_json(&parse_json(bytes, source)?, source, kind)
}

/// Reads the JSON of a policy file, with `invalid JSON` errors located as
/// [`parse_policy`] locates them (for callers that also need the positions).
///
/// # Errors
/// Invalid JSON, duplicate keys, nesting past [`json::MAX_DEPTH`].
pub fn parse_json(bytes: &[u8], source: &str) -> Result<Json, ParseError> {
    json::parse(bytes).map_err(|e| syntax_error(source, "", e))
}

/// The policy document inside `root`, found through the CLI wrappers
/// [`parse_policy`] accepts, with its JSON path prefix (`PolicyVersion.Document`
/// or empty); `None` when the document is held in a string.
pub fn document_node(root: &Json) -> Option<(&Json, String)> {
    match unwrap_document(root, "") {
        Ok((Unwrapped::Node(node), path)) => Some((node, path)),
        _ => None,
    }
}

/// Parses an already-read JSON value holding a policy (or a wrapper around one).
///
/// # Errors
/// As [`parse_policy`].
pub fn policy_from_json(root: &Json, source: &str, kind: PolicyKind) -> Result<Policy, ParseError> {
    // A document held in a string (get-account-authorization-details URL-encodes them).
    if let JsonKind::String(text) = &root.kind {
        let decoded = decode_document_text(text, source, "").map_err(|e| ParseError { span: Some(root.span), ..e })?;
        let inner = json::parse(decoded.as_bytes()).map_err(|e| ParseError {
            kind: ParseErrorKind::Syntax,
            source: source.to_string(),
            path: String::new(),
            // Located at the string in the file; the message places it inside.
            span: Some(root.span),
            message: format!("invalid JSON inside the string document: {} (at {} of that string)", e.message, e.span),
        })?;
        return Parser { source, prefix: String::new() }.policy(&inner, source, kind);
    }
    let (doc, path) = unwrap_document(root, source)?;
    match doc {
        Unwrapped::Node(node) => Parser { source, prefix: path }.policy(node, source, kind),
        Unwrapped::Text(text) => {
            let inner = json::parse(text.as_bytes()).map_err(|e| syntax_error(source, &path, e))?;
            Parser { source, prefix: path }.policy(&inner, source, kind)
        }
    }
}

/// Reads a file holding either one policy document or a JSON array of them.
///
/// # Errors
/// As [`parse_policy`]; array elements are located as `[i]`.
pub fn parse_policy_list(bytes: &[u8], source: &str, kind: PolicyKind) -> Result<Vec<Policy>, ParseError> {
    let root = parse_json(bytes, source)?;
    match &root.kind {
        JsonKind::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                policy_from_json(item, &format!("{source}[{i}]"), kind).map(|mut p| {
                    p.name = format!("{source}[{i}]");
                    p
                })
            })
            .collect(),
        _ => Ok(vec![policy_from_json(&root, source, kind)?]),
    }
}

fn syntax_error(source: &str, path: &str, e: json::SyntaxError) -> ParseError {
    let message = if path.is_empty() {
        format!("invalid JSON: {}", e.message)
    } else {
        format!("invalid JSON inside the string document: {} (line {} of that string)", e.message, e.span)
    };
    ParseError {
        kind: ParseErrorKind::Syntax,
        source: source.to_string(),
        path: path.to_string(),
        span: if path.is_empty() { Some(e.span) } else { None },
        message,
    }
}

enum Unwrapped<'a> {
    Node(&'a Json),
    Text(String),
}

/// Peels CLI wrappers; returns the document and its JSON path prefix.
fn unwrap_document<'a>(root: &'a Json, source: &str) -> Result<(Unwrapped<'a>, String), ParseError> {
    let mut node = root;
    let mut path = String::new();
    loop {
        if node.get("Statement").is_some() {
            return Ok((Unwrapped::Node(node), path));
        }
        // `Attributes.Policy`: `aws sqs get-queue-attributes --attribute-names Policy`.
        let next = [
            "PolicyVersion",
            "Document",
            "Policy",
            "PolicyDocument",
            "Content",
            "AssumeRolePolicyDocument",
            "Attributes",
        ]
        .iter()
        .find_map(|k| node.get(k).map(|v| (*k, v)));
        let Some((key, value)) = next else {
            return Ok((Unwrapped::Node(node), path));
        };
        path = join(&path, key);
        if let JsonKind::String(text) = &value.kind {
            return Ok((Unwrapped::Text(decode_document_text(text, source, &path)?), path));
        }
        node = value;
    }
}

/// A document held in a string, URL-encoded or not.
fn decode_document_text(text: &str, source: &str, path: &str) -> Result<String, ParseError> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return Ok(text.to_string());
    }
    percent_encoding::percent_decode_str(text).decode_utf8().map(|s| s.into_owned()).map_err(|_| ParseError {
        kind: ParseErrorKind::Encoding,
        source: source.to_string(),
        path: path.to_string(),
        span: None,
        message: "URL-encoded policy document is not valid UTF-8 once decoded".to_string(),
    })
}

/// An action's service prefix and name, split at its first colon
/// (`("s3", "GetObject")` of `s3:GetObject`); `None` without a colon.
///
/// The same split as `str::split_once(':')`, by a plain byte scan: action
/// texts are short, and the general character search costs ~120
/// instructions a call where this costs a few (a replay splits every
/// check's action several times; `benches/README.md`).
///
/// # Example
/// ```
/// use iamsim::engine::policy::split_action;
/// assert_eq!(split_action("kms:Decrypt"), Some(("kms", "Decrypt")));
/// assert_eq!(split_action("a:b:c"), Some(("a", "b:c")));
/// assert_eq!(split_action("*"), None);
/// ```
pub fn split_action(action: &str) -> Option<(&str, &str)> {
    let colon = action.bytes().position(|b| b == b':')?;
    // A colon is one byte, so both sides are on character boundaries.
    Some((action.get(..colon)?, action.get(colon + 1..)?))
}

/// What is wrong with the shape of an `Action`/`NotAction` entry, if
/// anything: the grammar wants `*` or a service prefix and an action name
/// around one colon
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html>).
/// Such entries are accepted, as policy stores accept them, and match no
/// request (semantics doc §2: a comma or a space is an ordinary
/// character); [`Policy::action_warnings`] says so, since in a Deny, or in
/// a `NotAction`, the entry is silently dead.
pub fn action_problem(action: &str) -> Option<String> {
    action_shape(action).err()
}

fn action_shape(action: &str) -> Result<(), String> {
    if action == "*" {
        return Ok(());
    }
    let found = || format!("found `{action}`");
    if action.is_empty() {
        return Err("expected `service:Action` or `*`, found an empty string".to_string());
    }
    if action.chars().any(char::is_whitespace) {
        return Err(format!("expected `service:Action` without spaces, {}", found()));
    }
    match split_action(action) {
        Some((service, name)) if !service.is_empty() && !name.is_empty() && !name.contains(':') => {
            // Service prefixes are letters, digits and `-` (`s3-object-lambda`);
            // action names letters and digits, one catalog name a `-`
            // (vpc-lattice:AssociateViaAWSService-EventsAndStates); `_` and
            // `.` are let through. A comma (`s3:GetObject,PutObject`) is not.
            let bad_service = service.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '*' | '?')));
            let bad_name =
                name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*' | '?')));
            match (bad_service, bad_name) {
                (Some(c), _) => Err(format!("a service prefix has only letters, digits and `-`; `{c}` in `{action}`")),
                (None, Some(c)) => Err(format!("an action name has only letters and digits; `{c}` in `{action}`")),
                (None, None) => Ok(()),
            }
        }
        Some(_) => Err(format!("expected `service:Action` with one colon and both parts, {}", found())),
        None => {
            let hint = if action.contains(['：', '﹕', '︓']) { " (that colon is not `:`)" } else { "" };
            Err(format!("expected `service:Action` or `*`, {}{hint}", found()))
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

struct Parser<'s> {
    source: &'s str,
    prefix: String,
}

impl Parser<'_> {
    fn err(&self, kind: ParseErrorKind, path: &str, span: Span, message: impl Into<String>) -> ParseError {
        let full = match (self.prefix.is_empty(), path.is_empty()) {
            (true, _) => path.to_string(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}.{path}", self.prefix),
        };
        ParseError {
            kind,
            source: self.source.to_string(),
            path: full,
            // Spans inside a string-encoded document are relative to that string.
            span: if self.prefix.is_empty() { Some(span) } else { None },
            message: message.into(),
        }
    }

    fn policy(&self, root: &Json, name: &str, kind: PolicyKind) -> Result<Policy, ParseError> {
        let members = root.as_object().ok_or_else(|| {
            self.err(
                ParseErrorKind::WrongType,
                "",
                root.span,
                format!("expected a policy document (a JSON object), found {}", root.type_name()),
            )
        })?;
        let mut version = Version::Absent;
        let mut id = None;
        let mut statements_node = None;
        for m in members {
            match m.key.as_str() {
                "Version" => {
                    version = match m.value.as_str() {
                        Some("2012-10-17") => Version::V2012_10_17,
                        Some("2008-10-17") => Version::V2008_10_17,
                        _ => {
                            return Err(self.err(
                                ParseErrorKind::Invalid,
                                "Version",
                                m.value.span,
                                format!("expected \"2012-10-17\" or \"2008-10-17\", found {}", show(&m.value)),
                            ))
                        }
                    }
                }
                "Id" => id = Some(self.string(&m.value, "Id")?),
                "Statement" => statements_node = Some(&m.value),
                other => {
                    return Err(self.err(
                        ParseErrorKind::Unknown,
                        other,
                        m.key_span,
                        format!("unknown top-level element `{other}` (expected `Version`, `Id` or `Statement`)"),
                    ))
                }
            }
        }
        let Some(statements_node) = statements_node else {
            return Err(self.err(ParseErrorKind::Missing, "", root.span, "missing `Statement`"));
        };
        if kind == PolicyKind::Rcp && version != Version::V2012_10_17 {
            return Err(self.err(
                ParseErrorKind::NotForKind,
                "Version",
                root.span,
                "resource control policies must use Version \"2012-10-17\"",
            ));
        }
        let statements = match &statements_node.kind {
            JsonKind::Object(_) => vec![self.statement(statements_node, "Statement", kind)?],
            JsonKind::Array(items) => {
                if items.is_empty() {
                    return Err(self.err(
                        ParseErrorKind::Empty,
                        "Statement",
                        statements_node.span,
                        "expected at least one statement, found an empty array",
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, s)| self.statement(s, &format!("Statement[{i}]"), kind))
                    .collect::<Result<_, _>>()?
            }
            _ => {
                return Err(self.err(
                    ParseErrorKind::WrongType,
                    "Statement",
                    statements_node.span,
                    format!("expected a statement object or an array of them, found {}", statements_node.type_name()),
                ))
            }
        };
        Ok(Policy { name: name.to_string(), kind, version, id, statements })
    }

    fn string(&self, node: &Json, path: &str) -> Result<String, ParseError> {
        node.as_str().map(str::to_string).ok_or_else(|| {
            self.err(
                ParseErrorKind::WrongType,
                path,
                node.span,
                format!("expected a string, found {}", node.type_name()),
            )
        })
    }

    /// A string or a non-empty array of strings.
    fn string_list(&self, node: &Json, path: &str) -> Result<Vec<String>, ParseError> {
        match &node.kind {
            JsonKind::String(s) => Ok(vec![s.clone()]),
            JsonKind::Array(items) => {
                if items.is_empty() {
                    // Appendix A-12: undocumented; we take the strict reading.
                    return Err(self.err(
                        ParseErrorKind::Empty,
                        path,
                        node.span,
                        "expected at least one value, found an empty array",
                    ));
                }
                items.iter().enumerate().map(|(i, v)| self.string(v, &format!("{path}[{i}]"))).collect()
            }
            _ => Err(self.err(
                ParseErrorKind::WrongType,
                path,
                node.span,
                format!("expected a string or an array of strings, found {}", node.type_name()),
            )),
        }
    }

    fn statement(&self, node: &Json, path: &str, kind: PolicyKind) -> Result<Statement, ParseError> {
        let members = node.as_object().ok_or_else(|| {
            self.err(
                ParseErrorKind::WrongType,
                path,
                node.span,
                format!("expected a statement object, found {}", node.type_name()),
            )
        })?;
        let mut sid = None;
        let mut effect = None;
        let mut actions: Option<PatternList> = None;
        let mut resources: Option<PatternList> = None;
        let mut principal: Option<PrincipalSpec> = None;
        let mut conditions = Vec::new();
        for m in members {
            let p = format!("{path}.{}", m.key);
            let exclusive = |have: bool, other: &str| -> Result<(), ParseError> {
                if have {
                    Err(self.err(
                        ParseErrorKind::Conflict,
                        &p,
                        m.key_span,
                        format!("a statement cannot have both `{}` and `{other}`", m.key),
                    ))
                } else {
                    Ok(())
                }
            };
            match m.key.as_str() {
                "Sid" => sid = Some(self.string(&m.value, &p)?),
                "Effect" => {
                    effect = Some(match m.value.as_str() {
                        Some("Allow") => Effect::Allow,
                        Some("Deny") => Effect::Deny,
                        _ => {
                            return Err(self.err(ParseErrorKind::Invalid, &p, m.value.span, format!(
                                "expected \"Allow\" or \"Deny\" (case-sensitive), found {}", show(&m.value))))
                        }
                    })
                }
                "Action" | "NotAction" => {
                    exclusive(actions.is_some(), if m.key == "Action" { "NotAction" } else { "Action" })?;
                    actions = Some(PatternList { negated: m.key == "NotAction", patterns: self.string_list(&m.value, &p)? });
                }
                "Resource" | "NotResource" => {
                    exclusive(resources.is_some(), if m.key == "Resource" { "NotResource" } else { "Resource" })?;
                    let patterns = self.string_list(&m.value, &p)?;
                    for (i, r) in patterns.iter().enumerate() {
                        if r != "*" && !r.starts_with("arn:") {
                            let at = if matches!(m.value.kind, JsonKind::Array(_)) { format!("{p}[{i}]") } else { p.clone() };
                            return Err(self.err(ParseErrorKind::Invalid, &at, m.value.span, format!(
                                "expected `*` or an ARN starting with `arn:`, found `{r}`")));
                        }
                    }
                    resources = Some(PatternList { negated: m.key == "NotResource", patterns });
                }
                "Principal" | "NotPrincipal" => {
                    exclusive(principal.is_some(), if m.key == "Principal" { "NotPrincipal" } else { "Principal" })?;
                    principal = Some(PrincipalSpec::new(m.key == "NotPrincipal", self.principal(&m.value, &p)?));
                }
                "Condition" => conditions = self.conditions(&m.value, &p)?,
                other => {
                    return Err(self.err(ParseErrorKind::Unknown, &p, m.key_span, format!(
                        "unknown statement element `{other}` (expected Sid, Effect, Action, NotAction, Resource, NotResource, Principal, NotPrincipal or Condition)")))
                }
            }
        }
        let effect = effect.ok_or_else(|| self.err(ParseErrorKind::Missing, path, node.span, "missing `Effect`"))?;
        let actions = actions
            .ok_or_else(|| self.err(ParseErrorKind::Missing, path, node.span, "missing `Action` or `NotAction`"))?;
        match kind {
            PolicyKind::Resource => {
                if principal.is_none() {
                    return Err(self.err(
                        ParseErrorKind::NotForKind,
                        path,
                        node.span,
                        "a resource-based policy statement needs `Principal` or `NotPrincipal`",
                    ));
                }
            }
            PolicyKind::Rcp => {
                match &principal {
                    Some(p) if !p.negated && p.entries == [(PrincipalType::Aws, "*".to_string())] => {}
                    _ => {
                        return Err(self.err(
                            ParseErrorKind::NotForKind,
                            path,
                            node.span,
                            "a resource control policy statement needs `\"Principal\": \"*\"`",
                        ))
                    }
                }
                if actions.negated {
                    return Err(self.err(
                        ParseErrorKind::NotForKind,
                        &format!("{path}.NotAction"),
                        node.span,
                        "resource control policies do not support `NotAction`",
                    ));
                }
            }
            _ => {
                if principal.is_some() {
                    return Err(self.err(ParseErrorKind::NotForKind, path, node.span, {
                        let kind = kind.as_str().replace('_', " ");
                        let article = if kind.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
                        format!("{article} {kind} policy cannot have `Principal` or `NotPrincipal`")
                    }));
                }
            }
        }
        if resources.is_none() && !matches!(kind, PolicyKind::Resource) {
            return Err(self.err(ParseErrorKind::Missing, path, node.span, "missing `Resource` or `NotResource`"));
        }
        Ok(Statement { sid, effect, actions, resources, principal, conditions })
    }

    fn principal(&self, node: &Json, path: &str) -> Result<Vec<(PrincipalType, String)>, ParseError> {
        match &node.kind {
            JsonKind::String(s) if s == "*" => Ok(vec![(PrincipalType::Aws, "*".to_string())]),
            JsonKind::Object(members) => {
                if members.is_empty() {
                    return Err(self.err(
                        ParseErrorKind::Empty,
                        path,
                        node.span,
                        "expected at least one principal, found an empty object",
                    ));
                }
                let mut out = Vec::new();
                for m in members {
                    let ty = match m.key.as_str() {
                        "AWS" => PrincipalType::Aws,
                        "Service" => PrincipalType::Service,
                        "Federated" => PrincipalType::Federated,
                        "CanonicalUser" => PrincipalType::CanonicalUser,
                        other => {
                            return Err(self.err(
                                ParseErrorKind::Unknown,
                                &format!("{path}.{other}"),
                                m.key_span,
                                format!(
                                "unknown principal type `{other}` (expected AWS, Service, Federated or CanonicalUser)"),
                            ))
                        }
                    };
                    for v in self.string_list(&m.value, &format!("{path}.{}", m.key))? {
                        out.push((ty, v));
                    }
                }
                Ok(out)
            }
            _ => Err(self.err(
                ParseErrorKind::Invalid,
                path,
                node.span,
                format!("expected \"*\" or an object such as {{\"AWS\": …}}, found {}", show(node)),
            )),
        }
    }

    fn conditions(&self, node: &Json, path: &str) -> Result<Vec<Condition>, ParseError> {
        let ops = node.as_object().ok_or_else(|| {
            self.err(
                ParseErrorKind::WrongType,
                path,
                node.span,
                format!("expected an object of condition operators, found {}", node.type_name()),
            )
        })?;
        let mut out = Vec::new();
        for op in ops {
            let op_path = format!("{path}.{}", op.key);
            let operator = Operator::parse(&op.key)
                .map_err(|msg| self.err(ParseErrorKind::Unknown, &op_path, op.key_span, msg))?;
            let keys = op.value.as_object().ok_or_else(|| {
                self.err(
                    ParseErrorKind::WrongType,
                    &op_path,
                    op.value.span,
                    format!("expected an object of condition keys, found {}", op.value.type_name()),
                )
            })?;
            for k in keys {
                let key_path = format!("{op_path}.{}", k.key);
                if k.key.is_empty() {
                    return Err(self.err(ParseErrorKind::Empty, &key_path, k.key_span, "condition key is empty"));
                }
                let values = match &k.value.kind {
                    JsonKind::Array(items) => {
                        if items.is_empty() {
                            return Err(self.err(
                                ParseErrorKind::Empty,
                                &key_path,
                                k.value.span,
                                "expected at least one condition value, found an empty array",
                            ));
                        }
                        items
                            .iter()
                            .enumerate()
                            .map(|(i, v)| self.condition_value(v, &format!("{key_path}[{i}]")))
                            .collect::<Result<Vec<_>, _>>()?
                    }
                    _ => vec![self.condition_value(&k.value, &key_path)?],
                };
                for (i, v) in values.iter().enumerate() {
                    if let Err(expected) = check_value(&operator, v) {
                        let at = if matches!(k.value.kind, JsonKind::Array(_)) {
                            format!("{key_path}[{i}]")
                        } else {
                            key_path.clone()
                        };
                        return Err(self.err(
                            ParseErrorKind::Invalid,
                            &at,
                            k.value.span,
                            format!("`{v}` is not {expected} (operator `{operator}`)"),
                        ));
                    }
                }
                out.push(Condition { operator, key: k.key.clone(), values });
            }
        }
        Ok(out)
    }

    /// Strings, numbers and booleans, canonicalised to text (§1.2).
    fn condition_value(&self, node: &Json, path: &str) -> Result<String, ParseError> {
        match &node.kind {
            JsonKind::String(s) => Ok(s.clone()),
            JsonKind::Number(n) => Ok(n.clone()),
            JsonKind::Bool(b) => Ok(b.to_string()),
            _ => Err(self.err(
                ParseErrorKind::WrongType,
                path,
                node.span,
                format!("expected a string, number or boolean condition value, found {}", node.type_name()),
            )),
        }
    }
}

/// Policy values of typed operators must parse (fail safe: a value that could
/// never match is a policy error, not a silently dead condition).
fn check_value(operator: &Operator, v: &str) -> Result<(), &'static str> {
    use super::operator::Family;
    use super::values::*;
    let ok = match operator.base.family {
        Family::String | Family::Arn => true,
        Family::Numeric => parse_decimal(v).is_some(),
        Family::Date => parse_date(v).is_some(),
        Family::Ip => parse_cidr(v).is_some(),
        // Appendix A-7: variables are allowed in Bool values.
        Family::Bool => parse_bool(v).is_some() || v.contains("${"),
        Family::Null => parse_bool(v).is_some(),
        Family::Binary => parse_base64(v).is_some(),
    };
    if ok {
        return Ok(());
    }
    Err(match operator.base.family {
        Family::Numeric => "a number",
        Family::Date => "a date (ISO 8601 or epoch seconds)",
        Family::Ip => "an IP address or CIDR",
        Family::Bool | Family::Null => "`true` or `false`",
        Family::Binary => "base64",
        Family::String | Family::Arn => "a string",
    })
}

/// A short rendering of a value for messages.
fn show(node: &Json) -> String {
    match &node.kind {
        JsonKind::String(s) => format!("\"{}\"", s.chars().take(60).collect::<String>()),
        _ => node.type_name().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The byte scan splits as `split_once(':')` does, multi-byte
        /// characters and several colons included.
        #[test]
        fn split_action_is_split_once(text in "[a-z:\u{e9}\u{1f600}*]{0,12}") {
            proptest::prop_assert_eq!(split_action(&text), text.split_once(':'));
        }
    }

    fn parse(text: &str, kind: PolicyKind) -> Result<Policy, ParseError> {
        parse_policy(text.as_bytes(), "t.json", kind)
    }

    #[test]
    fn normalises_shapes() {
        let p = parse(
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Deny","NotAction":["s3:*","iam:*"],
                "NotResource":"arn:aws:s3:::b","Condition":{"NumericLessThan":{"s3:max-keys":10.0},"Bool":{"aws:SecureTransport":false}}}]}"#,
            PolicyKind::Identity,
        )
        .unwrap();
        let s = &p.statements[0];
        assert_eq!(s.effect, Effect::Deny);
        assert!(s.actions.negated && s.actions.patterns.len() == 2);
        assert!(s.resources.as_ref().unwrap().negated);
        assert_eq!(s.conditions[0].values, ["10.0"]);
        assert_eq!(s.conditions[1].values, ["false"]);
    }

    #[test]
    fn locates_errors() {
        let e = parse(
            "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},\n{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\"},\n{\"Effect\":\"Allow\",\"Action\":\"*\",\"Resource\":\"*\",\"Condition\":{\"StringLikee\":{\"a\":\"b\"}}}]}",
            PolicyKind::Identity,
        )
        .unwrap_err();
        assert_eq!(e.path(), "Statement[2].Condition.StringLikee");
        assert_eq!(e.span().unwrap().line, 3);
        assert!(e.to_string().starts_with("t.json:3:"), "{e}");
        use ParseErrorKind as K;
        for (bad, path, kind) in [
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","NotAction":"*","Resource":"*"}}"#,
                "Statement.NotAction",
                K::Conflict,
            ),
            (r#"{"Version":"2012-10-18","Statement":[]}"#, "Version", K::Invalid),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Principal":"*"}}"#,
                "Statement",
                K::NotForKind,
            ),
            (r#"{"Statement":{"Effect":"Allow","Action":[],"Resource":"*"}}"#, "Statement.Action", K::Empty),
            (r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"bucket"}}"#, "Statement.Resource", K::Invalid),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"Bool":{"k":null}}}}"#,
                "Statement.Condition.Bool.k",
                K::WrongType,
            ),
            (r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Foo":1}}"#, "Statement.Foo", K::Unknown),
            (r#"{"Statement":{"Effect":"Allow","Action":[1],"Resource":"*"}}"#, "Statement.Action[0]", K::WrongType),
            (r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#, "Statement", K::Missing),
            (
                r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringLikee":{"a":"b"}}}}"#,
                "Statement.Condition.StringLikee",
                K::Unknown,
            ),
            (r#"{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"},}"#, "", K::Syntax),
            (r#"{"Statement":{"Effect":"Allow","Effect":"Deny","Action":"*","Resource":"*"}}"#, "", K::Syntax),
            (r#"{"Policy":"%FF%FE"}"#, "Policy", K::Encoding),
        ] {
            let e = parse(bad, PolicyKind::Identity).unwrap_err();
            assert_eq!((e.path(), e.kind()), (path, kind), "{bad}: {e}");
        }
    }

    #[test]
    fn kinds_enforce_principal_rules() {
        let no_principal = r#"{"Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        assert!(parse(no_principal, PolicyKind::Resource).is_err());
        let trust = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"Service":["ec2.amazonaws.com"]},"Action":"sts:AssumeRole"}}"#;
        let p = parse(trust, PolicyKind::Resource).unwrap();
        assert!(p.statements[0].resources.is_none());
        let rcp_bad = r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Principal":{"AWS":"1"},"Action":"s3:*","Resource":"*"}}"#;
        assert!(parse(rcp_bad, PolicyKind::Rcp).is_err());
    }

    #[test]
    fn unwraps_cli_shapes() {
        let doc = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:*","Resource":"*"}}"#;
        let encoded: String =
            percent_encoding::utf8_percent_encode(doc, percent_encoding::NON_ALPHANUMERIC).to_string();
        for wrapped in [
            format!(r#"{{"PolicyVersion":{{"Document":{doc},"VersionId":"v1"}}}}"#),
            format!(r#"{{"Policy":{}}}"#, serde_json::to_string(doc).unwrap()),
            format!(r#"{{"PolicyVersion":{{"Document":"{encoded}"}}}}"#),
            format!(r#"{{"Policy":{{"PolicySummary":{{}},"Content":{}}}}}"#, serde_json::to_string(doc).unwrap()),
        ] {
            let p = parse(&wrapped, PolicyKind::Identity).unwrap_or_else(|e| panic!("{wrapped}: {e}"));
            assert_eq!(p.statements[0].actions.patterns, ["s3:*"]);
        }
        let e = parse(r#"{"Policy":"{\"Statement\":{\"Effect\":\"allow\"}}"}"#, PolicyKind::Identity).unwrap_err();
        assert_eq!(e.path(), "Policy.Statement.Effect");
    }
}
