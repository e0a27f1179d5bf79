//! What is being authorised: the principal, action, resource, resource owner
//! and request context (semantics doc §7.1), plus [`Tri`], the three-valued
//! logic that unknown context values need (§5.5).
//!
//! Sits beside `policy` at the bottom of the pipeline: `compile` and `eval`
//! read requests, nothing here knows about policies.

use std::fmt;

mod json_text;

/// A request, context or principal that could not be read: what kind of
/// problem, where in the text (when read from text), and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RequestError {
    kind: RequestErrorKind,
    at: Option<(usize, usize)>,
    message: String,
}

/// The kinds of [`RequestError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RequestErrorKind {
    /// Not JSON.
    Syntax,
    /// JSON cut short.
    Truncated,
    /// JSON, but not a request or context: a field missing, unknown,
    /// repeated or of the wrong type; a context key given twice.
    Shape,
    /// A principal that is none of the forms a request can have.
    Principal,
}

impl RequestError {
    pub(in crate::engine) fn new(kind: RequestErrorKind, message: String) -> RequestError {
        RequestError { kind, at: None, message }
    }
    fn located(mut self, at: Option<(usize, usize)>) -> RequestError {
        self.at = at;
        self
    }
    /// What kind of problem.
    pub fn kind(&self) -> RequestErrorKind {
        self.kind
    }
    /// The 1-based line and column in the text, when read from text.
    pub fn line_column(&self) -> Option<(usize, usize)> {
        self.at
    }
    /// What was expected or found (with the line and column, when known).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// Kleene three-valued logic: a condition on a value the request does not know
/// (replay) is neither true nor false.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tri {
    /// Definitely not.
    False,
    /// Depends on a value that is not known.
    Unknown,
    /// Definitely.
    True,
}

impl Tri {
    /// Kleene AND.
    pub fn and(self, other: Tri) -> Tri {
        self.min(other)
    }
    /// Kleene OR.
    pub fn or(self, other: Tri) -> Tri {
        self.max(other)
    }
    /// Kleene NOT.
    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Tri {
        match self {
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
            Tri::True => Tri::False,
        }
    }
    /// From a plain boolean.
    pub fn from_bool(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }
}

/// Who makes the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Principal {
    /// The root user of an account.
    Root {
        /// Account id.
        account: String,
        /// `arn:aws:iam::<account>:root`.
        arn: String,
    },
    /// An IAM user (long-term credentials).
    User {
        /// Account id.
        account: String,
        /// The user ARN, with path.
        arn: String,
        /// The user name (last path component).
        name: String,
    },
    /// A session of an IAM role.
    RoleSession {
        /// Account id (the role's).
        account: String,
        /// The role name (last path component).
        role_name: String,
        /// The role ARN; with its path when the request gave one.
        role_arn: String,
        /// `arn:aws:sts::<account>:assumed-role/<role>/<session>`.
        session_arn: String,
        /// Whether `role_arn` carries the role's real path. A session ARN
        /// does not say it: a role rebuilt from one is at `/` as far as
        /// anyone knows, and `aws:PrincipalArn` is then unknown, not
        /// guessed (a Deny on a path pattern must not silently miss it).
        role_path_known: bool,
    },
    /// An STS federated-user session (GetFederationToken).
    FederatedUser {
        /// Account id.
        account: String,
        /// `arn:aws:sts::<account>:federated-user/<name>`.
        arn: String,
        /// The IAM user whose credentials created the session, when known.
        issuer: Option<String>,
    },
    /// An AWS service principal such as `ec2.amazonaws.com`.
    Service {
        /// The service principal name.
        name: String,
    },
    /// An unauthenticated caller.
    Anonymous,
}

/// Keys AWS puts in the context of every request, lower-cased, beside the
/// principal's ([`Principal`]'s `aws:PrincipalArn`, `aws:userid`…): "This
/// key is always included in the request context" in each key's
/// Availability ("AWS global condition context keys",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html>;
/// API Gateway's table of the keys it receives lists the time keys with no
/// criteria, <https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-resource-policies-aws-condition-keys.html>).
/// A request that does not give one holds it unknown, even in a closed
/// world: read as absent, a Deny conditioned on it would silently not apply.
/// `simulate` and `eval` give the time keys ([`Context::set_request_time`]).
pub const ALWAYS_SET: &[&str] =
    &["aws:currenttime", "aws:epochtime", "aws:securetransport", "aws:requestedregion", "aws:viaawsservice"];

/// A request time as `aws:CurrentTime` and `aws:EpochTime` hold it, written
/// once for the many requests of a run ([`Context::set_request_time`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestTime {
    iso: String,
    epoch: String,
}

impl RequestTime {
    /// `epoch_seconds` after 1970-01-01T00:00:00Z.
    pub fn at(epoch_seconds: i64) -> RequestTime {
        RequestTime {
            iso: crate::engine::policy::format_date(epoch_seconds),
            epoch: itoa::Buffer::new().format(epoch_seconds).to_string(),
        }
    }

    /// The system clock's time (the epoch if the clock is before it).
    pub fn now() -> RequestTime {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        RequestTime::at(i64::try_from(secs).unwrap_or(i64::MAX))
    }
}

/// Session name given to a principal named by its role ARN.
pub const DEFAULT_SESSION_NAME: &str = "iamsim";

impl Principal {
    /// Reads a principal from an ARN or name:
    /// `arn:aws:iam::A:user/path/name`, `arn:aws:iam::A:root` or a bare 12-digit
    /// account (root user), `arn:aws:iam::A:role/path/name` (a session of that
    /// role, named [`DEFAULT_SESSION_NAME`]), `arn:aws:sts::A:assumed-role/R/S`,
    /// `arn:aws:sts::A:federated-user/N`, `*.amazonaws.com` (service principal),
    /// `anonymous` or `*`.
    ///
    /// # Errors
    /// A message naming what was expected when the text is none of these.
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::request::Principal;
    /// let p = Principal::parse("arn:aws:iam::111122223333:role/team/app")?;
    /// assert_eq!(p.account(), Some("111122223333"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(text: &str) -> Result<Principal, RequestError> {
        Principal::parse_with_role(text, None)
    }

    /// [`Principal::parse`], giving an assumed-role session the role ARN
    /// (with its path) known from elsewhere, such as a CloudTrail event's
    /// session issuer, instead of one rebuilt from the session ARN.
    ///
    /// # Errors
    /// As [`Principal::parse`].
    pub fn parse_with_role(text: &str, role_arn: Option<&str>) -> Result<Principal, RequestError> {
        let t = text.trim();
        if t == "*" || t.eq_ignore_ascii_case("anonymous") {
            return Ok(Principal::Anonymous);
        }
        if is_account_id(t) {
            return Ok(Principal::Root { account: t.to_string(), arn: format!("arn:aws:iam::{t}:root") });
        }
        if !t.starts_with("arn:") && t.ends_with(".amazonaws.com") || t.ends_with(".amazonaws.com.cn") {
            return Ok(Principal::Service { name: t.to_string() });
        }
        let expected = || {
            format!(
                "`{t}` is not a principal: expected an IAM user, role, root, assumed-role or federated-user ARN, \
                 a 12-digit account id, a service principal (*.amazonaws.com) or `anonymous`"
            )
        };
        let bad = || RequestError::new(RequestErrorKind::Principal, expected());
        let arn = crate::engine::policy::Arn::parse(t).ok_or_else(bad)?;
        if !is_account_id(arn.account) {
            let message = format!("{}: the account `{}` is not a 12-digit account id", expected(), arn.account);
            return Err(RequestError::new(RequestErrorKind::Principal, message));
        }
        let account = arn.account.to_string();
        let partition = arn.partition;
        match (arn.service, arn.resource.split_once('/')) {
            ("iam", None) if arn.resource == "root" => Ok(Principal::Root { account, arn: t.to_string() }),
            ("iam", Some(("user", rest))) if !rest.is_empty() => {
                Ok(Principal::User { name: last_component(rest).to_string(), account, arn: t.to_string() })
            }
            ("iam", Some(("role", rest))) if !rest.is_empty() => {
                let role_name = last_component(rest).to_string();
                Ok(Principal::RoleSession {
                    session_arn: format!(
                        "arn:{partition}:sts::{account}:assumed-role/{role_name}/{DEFAULT_SESSION_NAME}"
                    ),
                    role_arn: t.to_string(),
                    role_name,
                    account,
                    role_path_known: true,
                })
            }
            ("sts", Some(("assumed-role", rest))) => {
                let (role_name, session) = rest.split_once('/').ok_or_else(bad)?;
                if role_name.is_empty() || session.is_empty() {
                    return Err(bad());
                }
                Ok(Principal::RoleSession {
                    role_arn: match role_arn {
                        Some(given) => given.to_string(),
                        None => format!("arn:{partition}:iam::{account}:role/{role_name}"),
                    },
                    role_path_known: role_arn.is_some(),
                    role_name: role_name.to_string(),
                    session_arn: t.to_string(),
                    account,
                })
            }
            ("sts", Some(("federated-user", name))) if !name.is_empty() => {
                Ok(Principal::FederatedUser { account, arn: t.to_string(), issuer: None })
            }
            _ => Err(bad()),
        }
    }

    /// The principal's account; `None` for services and anonymous callers.
    pub fn account(&self) -> Option<&str> {
        match self {
            Principal::Root { account, .. }
            | Principal::User { account, .. }
            | Principal::RoleSession { account, .. }
            | Principal::FederatedUser { account, .. } => Some(account),
            Principal::Service { .. } | Principal::Anonymous => None,
        }
    }

    /// `aws:PrincipalArn`: the user, role (with path), federated-user or root ARN.
    pub fn principal_arn(&self) -> Option<&str> {
        match self {
            Principal::Root { arn, .. } | Principal::User { arn, .. } | Principal::FederatedUser { arn, .. } => {
                Some(arn)
            }
            Principal::RoleSession { role_arn, .. } => Some(role_arn),
            Principal::Service { .. } | Principal::Anonymous => None,
        }
    }

    /// Whether this is a session of a service-linked role (path `/aws-service-role/`).
    pub fn is_service_linked_role(&self) -> bool {
        matches!(self, Principal::RoleSession { role_arn, .. } if role_arn.contains(":role/aws-service-role/"))
    }

    /// Whether identity-based policies, boundaries and session policies can apply
    /// (IAM users, role sessions and federated-user sessions; §7.2).
    pub fn has_identity_policies(&self) -> bool {
        matches!(self, Principal::User { .. } | Principal::RoleSession { .. } | Principal::FederatedUser { .. })
    }

    /// A value of `aws:PrincipalType`.
    pub fn principal_type(&self) -> &'static str {
        match self {
            Principal::Root { .. } => "Account",
            Principal::User { .. } => "User",
            Principal::RoleSession { .. } => "AssumedRole",
            Principal::FederatedUser { .. } => "FederatedUser",
            Principal::Service { .. } => "Service",
            Principal::Anonymous => "Anonymous",
        }
    }

    /// The ARN or name identifying the caller in reports.
    pub fn display_name(&self) -> &str {
        match self {
            Principal::Root { arn, .. } | Principal::User { arn, .. } | Principal::FederatedUser { arn, .. } => arn,
            Principal::RoleSession { session_arn, .. } => session_arn,
            Principal::Service { name } => name,
            Principal::Anonymous => "anonymous",
        }
    }

    /// Keys AWS sets from the principal (§8.4; values per principal type:
    /// "IAM policy elements: Variables and tags",
    /// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html>),
    /// lower-cased; used when the request context does not give them. `None`
    /// = not a principal key; `Some(None)` = a principal key this principal
    /// does not have (definitely absent); `Some(Some(Value::Unknown))` = one
    /// it has whose value cannot be told from the principal alone.
    fn derived(&self, key: &str) -> Option<Option<Value<'_>>> {
        fn known(v: Option<&str>) -> Option<Option<Value<'_>>> {
            Some(v.map(Value::Single))
        }
        match key {
            "aws:principalarn" => match self {
                Principal::RoleSession { role_path_known: false, .. } => Some(Some(Value::Unknown)),
                _ => known(self.principal_arn()),
            },
            "aws:principalaccount" => known(match self {
                Principal::Anonymous => Some("anonymous"),
                _ => self.account(),
            }),
            "aws:principaltype" => known(Some(self.principal_type())),
            "aws:username" => known(match self {
                Principal::User { name, .. } => Some(name),
                _ => None,
            }),
            "aws:principalisawsservice" => {
                known(Some(if matches!(self, Principal::Service { .. }) { "true" } else { "false" }))
            }
            "aws:principalservicename" => known(match self {
                Principal::Service { name } => Some(name),
                _ => None,
            }),
            // The root user's is its account; a user's or role's holds its
            // unique id (`AIDA…`, `AROA…:session`), which an ARN does not
            // tell; a federated user's (`account:name`) is left unknown too.
            "aws:userid" => match self {
                Principal::Root { account, .. } => known(Some(account)),
                Principal::Anonymous => known(Some("anonymous")),
                Principal::Service { .. } => known(None),
                _ => Some(Some(Value::Unknown)),
            },
            _ => None,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.display_name())
    }
}

fn last_component(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

pub use crate::engine::policy::principal::is_account_id;

/// A context value as the request carries it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContextValue {
    /// A single-valued key.
    Single(String),
    /// A multi-valued key (possibly empty).
    Multi(Vec<String>),
    /// Present in principle but not known (replay); conditions on it are [`Tri::Unknown`].
    Unknown,
    /// Known to be absent. Only meaningful in an open-world context, where keys
    /// that are not listed are unknown rather than absent.
    Absent,
}

/// What a key lookup finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A single value.
    Single(&'a str),
    /// A set of values.
    Multi(&'a [String]),
    /// Not known.
    Unknown,
}

/// A context entry as [`Context::get`] and [`Context::iter`] see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContextEntry<'a> {
    /// A single value.
    Single(&'a str),
    /// A set of values.
    Multi(&'a [String]),
    /// Present in principle but not known.
    Unknown,
    /// Known to be absent.
    Absent,
}

impl ContextEntry<'_> {
    /// An owned copy.
    pub fn to_value(&self) -> ContextValue {
        match *self {
            ContextEntry::Single(s) => ContextValue::Single(s.to_string()),
            ContextEntry::Multi(m) => ContextValue::Multi(m.to_vec()),
            ContextEntry::Unknown => ContextValue::Unknown,
            ContextEntry::Absent => ContextValue::Absent,
        }
    }
}

/// Where a key name or a single value is stored: a range of the context's one
/// text buffer, or (only past the buffer's 4 GiB range, never in practice) a
/// string of its own.
#[derive(Clone, Copy, Debug)]
enum Span {
    /// Start and length.
    Text(u32, u32),
    Spilled(usize),
    /// A key name known when the program is built ([`StaticKey`]), not copied.
    Static(&'static StaticKey),
    /// A key name at this position of the context's [`KeyNames`], not copied.
    Named(u32),
}

/// A context key name known when the program is built (`aws:SourceIp`…),
/// with its lower-cased form and print worked out then: a context stores it
/// by reference ([`Context::push_static`]), copying and folding nothing.
/// Readers that fill the same keys into every request (CloudTrail replay: a
/// dozen per event) spent most of the context's cost copying their names.
#[derive(Debug)]
pub struct StaticKey {
    name: &'static str,
    lowered: &'static str,
    print: u32,
}

impl StaticKey {
    /// `name` and its ASCII lower-cased form; a `lowered` that is not that
    /// form fails the build (in a `const`) or panics.
    ///
    /// ```
    /// use iamsim::engine::request::StaticKey;
    /// const SOURCE_IP: StaticKey = StaticKey::new("aws:SourceIp", "aws:sourceip");
    /// assert_eq!(SOURCE_IP.name(), "aws:SourceIp");
    /// ```
    pub const fn new(name: &'static str, lowered: &'static str) -> StaticKey {
        let (n, l) = (name.as_bytes(), lowered.as_bytes());
        assert!(n.len() == l.len(), "`lowered` is not `name` in lower case");
        let mut i = 0;
        while i < n.len() {
            assert!(n[i].to_ascii_lowercase() == l[i], "`lowered` is not `name` in lower case");
            i += 1;
        }
        StaticKey { name, lowered, print: key_print(name) }
    }

    /// The key as given.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

/// Context key names prepared once for many contexts, each with its
/// lower-cased form and print, shared by the contexts that store their keys
/// by position here ([`Context::use_names`], [`Context::insert_named`]).
/// A table whose context column is a struct names its keys once for every
/// row; copying and folding each name per row cost `decide_arrow` 500
/// instructions a row (benches/README.md, session 17). Cloning shares the
/// names (an `Arc`).
///
/// ```
/// use iamsim::engine::request::{Context, ContextEntry, KeyNames};
/// let names = KeyNames::new(["aws:SourceIp", "aws:SecureTransport"])?;
/// let mut ctx = Context::new();
/// ctx.use_names(&names);
/// for row in ["10.0.0.1", "10.0.0.2"] {
///     ctx.clear();
///     ctx.insert_named(0, ContextEntry::Single(row))?;
///     assert_eq!(ctx.get("aws:sourceip"), Some(ContextEntry::Single(row)));
/// }
/// // Names are case-insensitive: two that differ only in case are one key.
/// assert!(KeyNames::new(["aws:SourceIp", "AWS:sourceip"]).is_err());
/// # Ok::<(), iamsim::engine::request::RequestError>(())
/// ```
#[derive(Clone, Debug)]
pub struct KeyNames {
    names: std::sync::Arc<[KeyName]>,
}

/// One of [`KeyNames`].
#[derive(Debug)]
struct KeyName {
    name: Box<str>,
    lowered: Box<str>,
    print: u32,
}

impl KeyNames {
    /// The names, in order (a name's position is its id); an error names
    /// two that are one key in different case, as a context given both
    /// would be ambiguous.
    pub fn new<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Result<KeyNames, RequestError> {
        let mut prepared: Vec<KeyName> = Vec::new();
        let mut seen = rustc_hash::FxHashMap::default();
        for name in names {
            let name = name.as_ref();
            let lowered: Box<str> = name.to_ascii_lowercase().into();
            if let Some(&first) = seen.get(&lowered) {
                let first = prepared.get(first).map_or("", |k: &KeyName| &k.name);
                let message = format!("context keys `{first}` and `{name}` are one key (keys are case-insensitive)");
                return Err(RequestError::new(RequestErrorKind::Shape, message));
            }
            seen.insert(lowered.clone(), prepared.len());
            prepared.push(KeyName { name: name.into(), lowered, print: key_print(name) });
        }
        Ok(KeyNames { names: prepared.into() })
    }

    /// How many names.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The name at position `i`, as given.
    pub fn name(&self, i: usize) -> Option<&str> {
        self.names.get(i).map(|k| &*k.name)
    }
}

impl Span {
    /// Where the copy stored right after this one is ([`Context::copies`]).
    fn next_copy(self) -> Span {
        match self {
            Span::Text(start, len) => Span::Text(start.saturating_add(len), len),
            Span::Spilled(i) => Span::Spilled(i + 1),
            // Both forms are in the key itself.
            Span::Static(key) => Span::Static(key),
            Span::Named(i) => Span::Named(i),
        }
    }
}

/// How an entry's value is stored.
#[derive(Clone, Copy, Debug)]
enum Slot {
    Single(Span),
    /// Index into the context's sets.
    Multi(usize),
    Unknown,
    Absent,
}

/// A cheap case-blind summary of a key name: its length (low 16 bits) and
/// its last and middle bytes with bit 5 set. Keys that differ in it differ;
/// a lookup compares text only where it agrees (context keys often share a
/// length, rarely all three).
const fn key_print(key: &str) -> u32 {
    /// Byte `i` with bit 5 set (`0x20` past the end).
    const fn at(b: &[u8], i: usize) -> u32 {
        if i < b.len() {
            (b[i] | 0x20) as u32
        } else {
            0x20
        }
    }
    let b = key.as_bytes();
    (key.len() as u32 & 0xffff) | at(b, b.len().wrapping_sub(1)) << 16 | at(b, b.len() / 2) << 24
}

/// One key and its value.
#[derive(Clone, Copy, Debug)]
struct Entry {
    key: Span,
    slot: Slot,
}

/// Request context: key → value, keys compared ASCII case-insensitively (§5.1).
///
/// Closed world (the default, as in `simulate`): a key that is not listed is
/// absent. Open world (CloudTrail replay, §5.5): a key that is not listed is
/// *unknown*, so a condition on it can decide nothing; keys known to be absent
/// are listed as [`ContextValue::Absent`].
///
/// Stored compactly: key names (each followed by its lower-cased copy, which
/// the compiled engine's lower-cased keys compare exactly) and single values
/// are ranges of one text buffer, and a lookup scans a dense array of 4-byte
/// key prints (one or two cache lines for twenty keys; requests built from
/// JSON or CloudTrail carry a dozen or more keys each), reading an entry and
/// its text only where the print agrees. Single-valued keys cost no
/// allocation of their own: a context of twenty of them is three allocations.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// [`key_print`] of each entry's key, parallel to `entries`.
    prints: Vec<u32>,
    entries: Vec<Entry>,
    /// Key names and single values, back to back.
    text: String,
    /// Multi-valued values.
    sets: Vec<Vec<String>>,
    /// Strings past the text buffer's 4 GiB range.
    spilled: Vec<Box<str>>,
    open_world: bool,
    /// In an open world, lower-cased key prefixes whose unlisted keys are absent
    /// (e.g. `aws:principaltag/` once the principal's tags are known).
    closed_prefixes: Vec<std::borrow::Cow<'static, str>>,
    /// Past [`INDEXED_FROM`] entries, each lower-cased key's entry: the
    /// print scan is linear per lookup, so building a context of `n` keys
    /// one insert at a time would cost `n²` (a hostile request of 200,000
    /// keys took minutes).
    index: Option<Box<rustc_hash::FxHashMap<Box<str>, u32>>>,
    /// Names that [`Span::Named`] keys point into ([`Context::use_names`]).
    names: Option<KeyNames>,
}

/// Entries past which a [`Context`] keeps a hash index of its keys. Requests
/// carry a dozen or two; the scan of their prints is faster than hashing.
const INDEXED_FROM: usize = 64;

/// A context's length, to go back to ([`Context::mark`]).
#[derive(Clone, Copy, Debug)]
pub struct ContextMark {
    entries: usize,
}

/// Equal when they say the same thing (the buffers may hold replaced values).
impl PartialEq for Context {
    fn eq(&self, other: &Context) -> bool {
        self.open_world == other.open_world
            && self.closed_prefixes == other.closed_prefixes
            && self.entries.len() == other.entries.len()
            && self.iter().zip(other.iter()).all(|(a, b)| a == b)
    }
}

impl Eq for Context {}

impl Context {
    /// An empty closed-world context.
    pub fn new() -> Context {
        Context::default()
    }

    /// An empty open-world context: unlisted keys are unknown.
    pub fn open_world() -> Context {
        Context {
            prints: Vec::with_capacity(16),
            entries: Vec::with_capacity(16),
            text: String::with_capacity(512),
            open_world: true,
            ..Context::default()
        }
    }

    /// In an open world, makes unlisted keys starting with `prefix` (any case)
    /// absent rather than unknown: the listed ones are all there are.
    pub fn close_prefix(&mut self, prefix: &str) {
        // Compared case-insensitively, so literal prefixes need no copy.
        self.closed_prefixes.push(std::borrow::Cow::Owned(prefix.to_ascii_lowercase()));
    }

    /// [`Context::close_prefix`] for a prefix known at compile time: not copied.
    pub fn close_prefix_static(&mut self, prefix: &'static str) {
        self.closed_prefixes.push(std::borrow::Cow::Borrowed(prefix));
    }

    fn closed(&self, key_lower: &str) -> bool {
        self.closed_prefixes.iter().any(|p| key_lower.get(..p.len()).is_some_and(|k| k.eq_ignore_ascii_case(p)))
    }

    /// Whether unlisted keys are unknown rather than absent.
    pub fn is_open_world(&self) -> bool {
        self.open_world
    }

    /// Copies `s` into the text buffer.
    #[inline]
    fn span(&mut self, s: &str) -> Span {
        self.copies(s, 1)
    }

    /// Stores `copies` copies of `s` back to back; the span covers the first
    /// ([`Span::next_copy`] reaches the others).
    #[inline]
    fn copies(&mut self, s: &str, copies: usize) -> Span {
        let start = self.text.len();
        match (u32::try_from(start), u32::try_from(start + copies * s.len()), u32::try_from(s.len())) {
            (Ok(start), Ok(_), Ok(len)) => {
                for _ in 0..copies {
                    self.text.push_str(s);
                }
                Span::Text(start, len)
            }
            _ => {
                self.spilled.extend(std::iter::repeat_n(s, copies).map(Box::from));
                Span::Spilled(self.spilled.len() - copies)
            }
        }
    }

    /// Stores a key name followed by its lower-cased copy, which lookups by
    /// a lower-cased name compare exactly; the span covers the name as given.
    fn key_span(&mut self, key: &str) -> Span {
        let span = self.copies(key, 2);
        let copy = match span.next_copy() {
            Span::Text(start, len) => self.text.get_mut(start as usize..start as usize + len as usize),
            Span::Spilled(i) => self.spilled.get_mut(i).map(|s| &mut **s),
            Span::Static(_) | Span::Named(_) => None,
        };
        if let Some(copy) = copy {
            copy.make_ascii_lowercase();
        }
        span
    }

    /// The lower-cased copy of the key at `span` ([`Context::key_span`]).
    fn lowered_key(&self, span: Span) -> &str {
        match span {
            Span::Static(key) => key.lowered,
            Span::Named(i) => self.named(i).map_or("", |k| &k.lowered),
            _ => self.text_of(span.next_copy()),
        }
    }

    fn text_of(&self, span: Span) -> &str {
        match span {
            Span::Text(start, len) => self.text.get(start as usize..start as usize + len as usize).unwrap_or_default(),
            Span::Spilled(i) => self.spilled.get(i).map_or("", |s| s),
            Span::Static(key) => key.name,
            Span::Named(i) => self.named(i).map_or("", |k| &k.name),
        }
    }

    fn named(&self, i: u32) -> Option<&KeyName> {
        self.names.as_ref()?.names.get(i as usize)
    }

    /// Stores an owned value: a set is moved in, the rest as [`Context::slot_of`].
    fn slot(&mut self, value: ContextValue) -> Slot {
        match value {
            ContextValue::Multi(m) => self.set_slot(m),
            ContextValue::Single(s) => self.slot_of(ContextEntry::Single(&s)),
            ContextValue::Unknown => Slot::Unknown,
            ContextValue::Absent => Slot::Absent,
        }
    }

    /// Stores a borrowed value; a single value is copied into the text buffer.
    #[inline]
    fn slot_of(&mut self, value: ContextEntry<'_>) -> Slot {
        match value {
            ContextEntry::Single(s) => Slot::Single(self.span(s)),
            ContextEntry::Multi(m) => self.set_slot(m.to_vec()),
            ContextEntry::Unknown => Slot::Unknown,
            ContextEntry::Absent => Slot::Absent,
        }
    }

    fn set_slot(&mut self, values: Vec<String>) -> Slot {
        self.sets.push(values);
        Slot::Multi(self.sets.len() - 1)
    }

    /// Appends an entry under `key` (not searched for).
    fn push(&mut self, key: &str, slot: Slot) {
        let span = self.key_span(key);
        self.push_prepared(span, key_print(key), slot);
    }

    /// Appends `key` with `value`, storing the key by reference. For a
    /// reader filling a fresh context with keys it names once each: `key`
    /// is not searched for (a debug build checks it is not there yet).
    pub fn push_static(&mut self, key: &'static StaticKey, value: ContextEntry<'_>) {
        debug_assert!(self.position(key.name, false).is_none(), "{} pushed twice", key.name);
        let slot = self.slot_of(value);
        self.push_prepared(Span::Static(key), key.print, slot);
    }

    /// Appends an entry whose key is stored at `key` (`print` is its print).
    #[inline]
    fn push_prepared(&mut self, key: Span, print: u32, slot: Slot) {
        self.prints.push(print);
        self.entries.push(Entry { key, slot });
        let at = self.entries.len() - 1;
        if self.index.is_some() {
            let lowered: Box<str> = self.lowered_key(key).into();
            if let Some(index) = self.index.as_mut() {
                index.insert(lowered, u32::try_from(at).unwrap_or(u32::MAX));
            }
        } else if self.entries.len() > INDEXED_FROM {
            self.build_index();
        }
    }

    /// Empties the context (keeping whether it is open-world) and takes its
    /// key names from `names` from now on: [`Context::insert_named`] stores
    /// a key as its position there, copying no name. Emptied so that no
    /// entry points into other names.
    pub fn use_names(&mut self, names: &KeyNames) {
        let open_world = self.open_world;
        self.clear();
        self.open_world = open_world;
        self.names = Some(names.clone());
    }

    /// Sets the key at position `key` of the context's names
    /// ([`Context::use_names`]) to `value` (replacing a value under the
    /// same key in any case), copying the value but not the name. An error
    /// when there is no such name: a key silently dropped could skip a Deny.
    pub fn insert_named(&mut self, key: usize, value: ContextEntry<'_>) -> Result<(), RequestError> {
        let named = self.names.as_ref().and_then(|n| n.names.get(key));
        let (Some(k), Ok(at)) = (named, u32::try_from(key)) else {
            let message = format!(
                "context key {key} is not one of the context's {} names",
                self.names.as_ref().map_or(0, KeyNames::len)
            );
            return Err(RequestError::new(RequestErrorKind::Shape, message));
        };
        let (print, found) = (k.print, self.position_printed(&k.lowered, true, k.print));
        let slot = self.slot_of(value);
        match found.and_then(|i| self.entries.get_mut(i)) {
            Some(e) => e.slot = slot,
            None => self.push_prepared(Span::Named(at), print, slot),
        }
        Ok(())
    }

    /// Indexes every entry by its lower-cased key.
    fn build_index(&mut self) {
        let index = (0..self.entries.len())
            .filter_map(|i| {
                let e = self.entries.get(i)?;
                Some((Box::from(self.lowered_key(e.key)), u32::try_from(i).ok()?))
            })
            .collect();
        self.index = Some(Box::new(index));
    }

    /// The entry whose key is `key` (any case; `lowered` says `key` has no
    /// capitals, so the stored lower-cased copy is compared exactly).
    fn position(&self, key: &str, lowered: bool) -> Option<usize> {
        self.position_printed(key, lowered, key_print(key))
    }

    /// [`Context::position`] given `key`'s print.
    fn position_printed(&self, key: &str, lowered: bool, print: u32) -> Option<usize> {
        if let Some(index) = &self.index {
            let hit = if lowered { index.get(key) } else { index.get(&*key.to_ascii_lowercase()) };
            return hit.map(|&i| i as usize);
        }
        // Prints first: an entry and its text are read only where one agrees.
        let mut from = 0;
        while let Some(skip) = self.prints.get(from..)?.iter().position(|&p| p == print) {
            let i = from + skip;
            if self.key_at_is(i, key, lowered) {
                return Some(i);
            }
            from = i + 1;
        }
        None
    }

    /// Whether entry `i`'s key is `key` ([`Context::position`]). Kept out of
    /// line: the print scan before it stays a tight loop.
    #[inline(never)]
    fn key_at_is(&self, i: usize, key: &str, lowered: bool) -> bool {
        self.entries.get(i).is_some_and(|e| {
            let stored = self.lowered_key(e.key);
            if lowered {
                stored == key
            } else {
                stored.eq_ignore_ascii_case(key)
            }
        })
    }

    fn set(&mut self, key: &str, slot: Slot) {
        match self.position(key, false) {
            Some(i) => {
                if let Some(e) = self.entries.get_mut(i) {
                    e.slot = slot;
                }
            }
            None => {
                self.push(key, slot);
            }
        }
    }

    /// Sets `key` (replacing a value under the same key in any case).
    pub fn insert(&mut self, key: &str, value: ContextValue) {
        let slot = self.slot(value);
        self.set(key, slot);
    }

    /// Adds `key`, or an error when the context already holds it in any
    /// case: a request naming a key twice (`aws:SourceIp` and
    /// `aws:sourceip`) is ambiguous, and silently keeping either value could
    /// skip a Deny.
    pub fn insert_once(&mut self, key: &str, value: ContextEntry<'_>) -> Result<(), RequestError> {
        if let Some(i) = self.position(key, false) {
            let first = self.entries.get(i).map_or("", |e| self.text_of(e.key));
            let message = format!("context key `{key}` given twice (as `{first}`; keys are case-insensitive)");
            return Err(RequestError::new(RequestErrorKind::Shape, message));
        }
        let slot = self.slot_of(value);
        self.push(key, slot);
        Ok(())
    }

    /// [`Context::insert`] of a borrowed value (a single value is copied into
    /// the text buffer once, with no intermediate `String`).
    pub fn insert_entry(&mut self, key: &str, value: ContextEntry<'_>) {
        let slot = self.slot_of(value);
        self.set(key, slot);
    }

    /// A principal's tags as `aws:PrincipalTag/<key>` values, each unless
    /// the context gives that key already (in any case); other
    /// `aws:PrincipalTag/` keys become absent, as the tags listed are all the
    /// principal has (§8.4). What a replay knows of an IAM user or a session,
    /// and `simulate` of a principal from authorization details.
    ///
    /// ```
    /// use iamsim::engine::request::{Context, ContextEntry};
    /// let mut c = Context::open_world();
    /// c.insert_principal_tags(&[("team".to_string(), "red".to_string())]);
    /// assert_eq!(c.get("aws:principaltag/team"), Some(ContextEntry::Single("red")));
    /// ```
    pub fn insert_principal_tags(&mut self, tags: &[(String, String)]) {
        const PREFIX: &str = "aws:PrincipalTag/";
        // One key buffer for all of the tags (not one `format!` each).
        let mut key = String::with_capacity(PREFIX.len() + 32);
        for (k, v) in tags {
            key.clear();
            key.push_str(PREFIX);
            key.push_str(k);
            if self.position(&key, false).is_none() {
                let slot = self.slot_of(ContextEntry::Single(v));
                self.push(&key, slot);
            }
        }
        self.close_prefix_static("aws:principaltag/");
    }

    /// [`Context::insert`] for a literal key (kept for callers written when
    /// literal keys were stored by reference; every key is now copied into
    /// the context's one text buffer).
    pub fn insert_static(&mut self, key: &'static str, value: ContextValue) {
        self.insert(key, value);
    }

    /// Gives `aws:CurrentTime` and `aws:EpochTime` the time `at` unless the
    /// context gives either already (in any case; then the other is that
    /// time too, where it reads as one): AWS sets both in every request
    /// ([`ALWAYS_SET`]); a simulation decides "now" unless told otherwise.
    ///
    /// ```
    /// use iamsim::engine::request::{Context, ContextEntry, RequestTime};
    /// let mut c = Context::new();
    /// c.set_request_time(&RequestTime::at(0));
    /// assert_eq!(c.get("aws:CurrentTime"), Some(ContextEntry::Single("1970-01-01T00:00:00Z")));
    /// assert_eq!(c.get("aws:epochtime"), Some(ContextEntry::Single("0")));
    /// // One given: the other follows it.
    /// let mut c = Context::new();
    /// c.insert_entry("aws:CurrentTime", ContextEntry::Single("2019-06-01T00:00:00Z"));
    /// c.set_request_time(&RequestTime::at(0));
    /// assert_eq!(c.get("aws:EpochTime"), Some(ContextEntry::Single("1559347200")));
    /// ```
    pub fn set_request_time(&mut self, at: &RequestTime) {
        let given = |key: &str| match self.get(key) {
            Some(ContextEntry::Single(t)) => Some(crate::engine::policy::parse_date(t)),
            Some(_) => Some(None),
            None => None,
        };
        let given_at = match (given("aws:currenttime"), given("aws:epochtime")) {
            (None, None) => None,
            (Some(Some(ms)), None) | (None, Some(Some(ms))) => Some(RequestTime::at(ms.div_euclid(1000))),
            // Both given, or one that is no time: left as given.
            _ => return,
        };
        let at = given_at.as_ref().unwrap_or(at);
        for (key, value) in [("aws:CurrentTime", &at.iso), ("aws:EpochTime", &at.epoch)] {
            if self.position(key, false).is_none() {
                self.insert_entry(key, ContextEntry::Single(value));
            }
        }
    }

    /// The same keys and values, with unlisted keys unknown rather than
    /// absent (an open world; see [`Context::open_world`]).
    ///
    /// ```
    /// use iamsim::engine::request::Context;
    /// let ctx = Context::from_json_text(r#"{"aws:SourceIp": "203.0.113.9"}"#)?.into_open_world();
    /// assert!(ctx.is_open_world() && ctx.get("aws:sourceip").is_some());
    /// # Ok::<(), iamsim::engine::request::RequestError>(())
    /// ```
    pub fn into_open_world(mut self) -> Context {
        self.open_world = true;
        self
    }

    /// Empties the context into an open-world one, keeping its buffers.
    pub fn reset_open_world(&mut self) {
        self.clear();
        self.open_world = true;
    }

    /// Empties the context into a closed-world one (as [`Context::new`]),
    /// keeping its buffers and names ([`Context::use_names`]): a caller
    /// filling one context per row of a table allocates once, not per row.
    ///
    /// ```
    /// use iamsim::engine::request::{Context, ContextEntry, ContextValue};
    /// let mut ctx = Context::open_world();
    /// ctx.insert("aws:SourceIp", ContextValue::Single("10.0.0.1".into()));
    /// ctx.clear();
    /// assert_eq!(ctx.get("aws:SourceIp"), None);
    /// assert!(!ctx.is_open_world());
    /// ```
    pub fn clear(&mut self) {
        self.prints.clear();
        self.entries.clear();
        self.text.clear();
        self.sets.clear();
        self.spilled.clear();
        self.closed_prefixes.clear();
        self.index = None;
        self.open_world = false;
    }

    /// How long the context is now, for [`Context::truncate`].
    pub fn mark(&self) -> ContextMark {
        ContextMark { entries: self.entries.len() }
    }

    /// Drops the keys added since `mark` (a key that was there before and was
    /// replaced keeps its new value). Lets a replay reuse one event's context
    /// for each of its checks. The buffers are left as they are: a replaced
    /// value may live past the mark, and they are emptied with the context
    /// anyway.
    pub fn truncate(&mut self, mark: ContextMark) {
        self.prints.truncate(mark.entries);
        self.entries.truncate(mark.entries);
        if let Some(index) = self.index.as_mut() {
            index.retain(|_, i| (*i as usize) < mark.entries);
        }
    }

    fn entry(&self, slot: Slot) -> ContextEntry<'_> {
        match slot {
            Slot::Single(span) => ContextEntry::Single(self.text_of(span)),
            Slot::Multi(i) => ContextEntry::Multi(self.sets.get(i).map_or(&[], |m| m)),
            Slot::Unknown => ContextEntry::Unknown,
            Slot::Absent => ContextEntry::Absent,
        }
    }

    /// The entry under `key` (any case).
    pub fn get(&self, key: &str) -> Option<ContextEntry<'_>> {
        let e = self.entries.get(self.position(key, false)?)?;
        Some(self.entry(e.slot))
    }

    /// [`Context::get`] of a key given in lower case (as compiled policies
    /// hold them): compared exactly, without case folding.
    pub(in crate::engine) fn get_lowered(&self, key_lower: &str) -> Option<ContextEntry<'_>> {
        debug_assert!(!key_lower.bytes().any(|b| b.is_ascii_uppercase()), "{key_lower} is not lower-cased");
        let e = self.entries.get(self.position(key_lower, true)?)?;
        Some(self.entry(e.slot))
    }

    /// Entries in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, ContextEntry<'_>)> {
        self.entries.iter().map(|e| (self.text_of(e.key), self.entry(e.slot)))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Reads a JSON object: key → string, number, boolean or array of those
    /// (multi-valued); `null` marks a value as unknown.
    ///
    /// # Errors
    /// A message naming the offending key when a value has another type, or
    /// when two keys differ only in case (keys are case-insensitive, and
    /// keeping either value silently could skip a Deny). Keys repeated
    /// exactly were merged by the JSON parse already; to refuse those too,
    /// read the text with [`Context::from_json_text`].
    pub fn from_json(value: &serde_json::Value) -> Result<Context, RequestError> {
        json_text::context_from_value(value)
    }

    /// Reads a context object from JSON text, as [`Context::from_json`] does
    /// from a parsed value but without building one; a key given twice (in
    /// any case) is an error.
    ///
    /// # Errors
    /// A message naming the offending key, with the line and column.
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::request::{Context, ContextEntry};
    /// let ctx = Context::from_json_text(r#"{"aws:SourceIp": "203.0.113.9", "aws:TagKeys": ["a", "b"]}"#)?;
    /// assert_eq!(ctx.get("aws:sourceip"), Some(ContextEntry::Single("203.0.113.9")));
    /// assert!(Context::from_json_text(r#"{"aws:SourceIp": "a", "AWS:SOURCEIP": "b"}"#).is_err());
    /// # Ok::<(), iamsim::engine::request::RequestError>(())
    /// ```
    pub fn from_json_text(text: &str) -> Result<Context, RequestError> {
        json_text::context_from_text(text)
    }
}

/// One authorisation check: (principal, action, resource) with context.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// Who asks.
    pub principal: Principal,
    /// `service:ActionName` (any case).
    pub action: String,
    /// The resource ARN, or `*` for actions without a resource type.
    pub resource: String,
    /// The account owning the resource; see [`Request::resource_account`].
    pub resource_account: Option<String>,
    /// Request context keys.
    pub context: Context,
    /// For an IAM user: which credentials signed the request, which limits
    /// what it may call ([`crate::engine::eval::CREDENTIAL_RULES`]).
    pub user_credentials: UserCredentials,
}

/// Which credentials an IAM user's request was signed with. GetSessionToken
/// credentials may not call IAM without MFA, nor STS but AssumeRole and
/// GetCallerIdentity (STS API reference, GetSessionToken,
/// <https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html>);
/// long-term access keys and console sessions are not so limited. The
/// request context cannot tell these apart (console sessions carry
/// `aws:TokenIssueTime` too), so the request says it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum UserCredentials {
    /// Long-term access keys or a console session (the default, as the
    /// AWS CLI's policy simulator assumes).
    #[default]
    Unlimited,
    /// Temporary credentials from `sts:GetSessionToken`.
    SessionToken,
    /// Not known (a CloudTrail record without its access key id).
    Unknown,
}

impl Request {
    /// A request with an empty context.
    pub fn new(principal: Principal, action: &str, resource: &str) -> Request {
        Request {
            principal,
            action: action.to_string(),
            resource: resource.to_string(),
            resource_account: None,
            context: Context::new(),
            user_credentials: UserCredentials::Unlimited,
        }
    }

    /// Reads a request in the `eval` line form:
    /// `{"principal","action","resource","resource_account"?,"context"?}`.
    ///
    /// # Errors
    /// A message naming the field that is missing, unknown or malformed.
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::request::Request;
    /// let v = serde_json::json!({"principal": "arn:aws:iam::111122223333:user/a", "action": "s3:GetObject",
    ///                            "resource": "*", "context": {"aws:SourceIp": "203.0.113.9"}});
    /// let r = Request::from_json(&v)?;
    /// assert_eq!(r.action, "s3:GetObject");
    /// assert!(Request::from_json(&serde_json::json!({"action": "s3:GetObject"})).is_err());
    /// # Ok::<(), iamsim::engine::request::RequestError>(())
    /// ```
    pub fn from_json(v: &serde_json::Value) -> Result<Request, RequestError> {
        json_text::request_from_value(v)
    }

    /// Reads a request from one line of JSON text in the `eval` form, as
    /// [`Request::from_json`] does from a parsed value but without building
    /// one (the faster path: `iamsim eval` reads its lines with it). A field
    /// or context key given twice (keys in any case) is an error.
    ///
    /// # Errors
    /// A message naming the field or key that is missing, unknown, repeated
    /// or malformed, with the line and column.
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::request::Request;
    /// let r = Request::from_json_text(
    ///     r#"{"principal": "arn:aws:iam::111122223333:user/a", "action": "s3:GetObject", "resource": "*"}"#,
    /// )?;
    /// assert_eq!(r.action, "s3:GetObject");
    /// let twice = r#"{"principal": "anonymous", "action": "s3:GetObject", "action": "s3:PutObject", "resource": "*"}"#;
    /// assert!(Request::from_json_text(twice).unwrap_err().message().contains("`action` given twice"));
    /// # Ok::<(), iamsim::engine::request::RequestError>(())
    /// ```
    pub fn from_json_text(text: &str) -> Result<Request, RequestError> {
        json_text::request_from_text(text)
    }

    /// The resource owner: the explicit value, else the account in the resource
    /// ARN, else the principal's account.
    pub fn resource_account(&self) -> Option<&str> {
        self.resource_account_given(crate::engine::policy::Arn::parse(&self.resource).as_ref())
    }

    /// [`Request::resource_account`] for a caller that already parsed the
    /// resource ARN (the compiled engine parses it once per decision).
    pub fn resource_account_given<'a>(&'a self, arn: Option<&crate::engine::policy::Arn<'a>>) -> Option<&'a str> {
        match (&self.resource_account, arn) {
            (Some(a), _) => Some(a),
            (None, Some(a)) if !a.account.is_empty() => Some(a.account),
            _ => self.principal.account(),
        }
    }

    /// Looks up a context key given in lower case: the explicit context first,
    /// then the keys AWS derives from the principal, then (open world only)
    /// unknown. `None` = absent.
    pub fn lookup(&self, key_lower: &str) -> Option<Value<'_>> {
        self.lookup_in(self.context.get(key_lower), key_lower)
    }

    /// [`Request::lookup`] for a key known to be lower-cased (compiled
    /// policies lower-case every key and variable name): the context compares
    /// it exactly.
    pub(in crate::engine) fn lookup_lowered(&self, key_lower: &str) -> Option<Value<'_>> {
        self.lookup_in(self.context.get_lowered(key_lower), key_lower)
    }

    fn lookup_in<'a>(&'a self, listed: Option<ContextEntry<'a>>, key_lower: &str) -> Option<Value<'a>> {
        if let Some(v) = listed {
            return match v {
                ContextEntry::Single(s) => Some(Value::Single(s)),
                ContextEntry::Multi(m) => Some(Value::Multi(m)),
                ContextEntry::Unknown => Some(Value::Unknown),
                ContextEntry::Absent => None,
            };
        }
        match self.principal.derived(key_lower) {
            Some(v) => v,
            None if self.context.open_world && !self.context.closed(key_lower) => Some(Value::Unknown),
            // Never absent: AWS sends it with every request.
            None if ALWAYS_SET.contains(&key_lower) => Some(Value::Unknown),
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key stored by reference reads, compares, is replaced and is
    /// dropped like a copied one.
    #[test]
    fn static_keys_read_like_copied_ones() {
        static IP: StaticKey = StaticKey::new("aws:SourceIp", "aws:sourceip");
        let mut by_ref = Context::open_world();
        by_ref.push_static(&IP, ContextEntry::Single("10.0.0.1"));
        let mut copied = Context::open_world();
        copied.insert_entry("aws:SourceIp", ContextEntry::Single("10.0.0.1"));
        assert_eq!(by_ref, copied);
        assert_eq!(by_ref.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["aws:SourceIp"]);
        for key in ["aws:SourceIp", "AWS:SOURCEIP"] {
            assert_eq!(by_ref.get(key), Some(ContextEntry::Single("10.0.0.1")), "{key}");
        }
        assert_eq!(by_ref.get_lowered("aws:sourceip"), Some(ContextEntry::Single("10.0.0.1")));
        let mark = by_ref.mark();
        by_ref.insert_entry("aws:RequestedRegion", ContextEntry::Single("eu-west-1"));
        by_ref.insert_entry("AWS:sourceip", ContextEntry::Absent);
        assert_eq!((by_ref.len(), by_ref.get("aws:sourceip")), (2, Some(ContextEntry::Absent)));
        by_ref.truncate(mark);
        assert_eq!((by_ref.len(), by_ref.get("aws:requestedregion")), (1, None));
        // Past the index threshold, static keys are indexed too.
        let mut big = Context::open_world();
        for i in 0..INDEXED_FROM + 1 {
            big.insert_entry(&format!("k{i}"), ContextEntry::Single("v"));
        }
        big.push_static(&IP, ContextEntry::Single("10.0.0.2"));
        assert_eq!(big.get("AWS:SourceIP"), Some(ContextEntry::Single("10.0.0.2")));
    }

    #[test]
    fn named_keys_read_like_copied_ones() {
        let names = KeyNames::new(["aws:SourceIp", "aws:RequestedRegion"]).unwrap();
        let mut named = Context::open_world();
        named.use_names(&names);
        assert!(named.is_open_world(), "use_names keeps the world");
        named.insert_named(0, ContextEntry::Single("10.0.0.1")).unwrap();
        let mut copied = Context::open_world();
        copied.insert_entry("aws:SourceIp", ContextEntry::Single("10.0.0.1"));
        assert_eq!(named, copied);
        for key in ["aws:SourceIp", "AWS:SOURCEIP"] {
            assert_eq!(named.get(key), Some(ContextEntry::Single("10.0.0.1")), "{key}");
        }
        assert_eq!(named.get_lowered("aws:sourceip"), Some(ContextEntry::Single("10.0.0.1")));
        // A key set again in any case is replaced, not listed twice.
        named.insert_entry("AWS:sourceip", ContextEntry::Absent);
        named.insert_named(1, ContextEntry::Single("eu-west-1")).unwrap();
        named.insert_named(0, ContextEntry::Single("10.0.0.9")).unwrap();
        assert_eq!(named.len(), 2);
        assert_eq!(named.get("aws:sourceip"), Some(ContextEntry::Single("10.0.0.9")));
        assert_eq!(named.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["aws:SourceIp", "aws:RequestedRegion"]);
        // Cleared, the names stay; a name that is not there is an error.
        named.clear();
        named.insert_named(1, ContextEntry::Single("us-east-1")).unwrap();
        assert_eq!(named.get("aws:requestedregion"), Some(ContextEntry::Single("us-east-1")));
        assert!(named.insert_named(2, ContextEntry::Single("x")).is_err());
        assert!(Context::new().insert_named(0, ContextEntry::Single("x")).is_err());
        // Past the index threshold, named keys are indexed too.
        let mut big = Context::open_world();
        big.use_names(&names);
        for i in 0..INDEXED_FROM + 1 {
            big.insert_entry(&format!("k{i}"), ContextEntry::Single("v"));
        }
        big.insert_named(0, ContextEntry::Single("10.0.0.2")).unwrap();
        big.insert_named(0, ContextEntry::Single("10.0.0.3")).unwrap();
        assert_eq!(big.get("AWS:SourceIP"), Some(ContextEntry::Single("10.0.0.3")));
        assert_eq!(big.len(), INDEXED_FROM + 2);
    }

    #[test]
    #[should_panic(expected = "not `name` in lower case")]
    fn a_static_key_lowered_wrong_is_refused() {
        let _ = StaticKey::new("aws:SourceIp", "aws:sourceIp");
    }

    #[test]
    fn parses_principals() {
        let p = Principal::parse("arn:aws:sts::111111111111:assumed-role/R/s1").unwrap();
        assert!(matches!(&p, Principal::RoleSession { role_name, .. } if role_name == "R"));
        assert_eq!(p.principal_arn(), Some("arn:aws:iam::111111111111:role/R"));
        let with_path = Principal::parse_with_role(
            "arn:aws:sts::111111111111:assumed-role/R/s1",
            Some("arn:aws:iam::111111111111:role/p/R"),
        )
        .unwrap();
        assert_eq!(with_path.principal_arn(), Some("arn:aws:iam::111111111111:role/p/R"));
        assert_eq!(with_path.display_name(), "arn:aws:sts::111111111111:assumed-role/R/s1");
        let u = Principal::parse("arn:aws:iam::111111111111:user/path/alice").unwrap();
        assert_eq!(u.principal_type(), "User");
        let r = Request::new(u, "s3:GetObject", "*");
        assert_eq!(r.lookup("aws:username"), Some(Value::Single("alice")));
        assert_eq!(r.lookup("aws:principalaccount"), Some(Value::Single("111111111111")));
        assert!(Principal::parse("arn:aws:iam::111111111111:role/aws-service-role/x/Y")
            .unwrap()
            .is_service_linked_role());
        assert!(matches!(Principal::parse("ec2.amazonaws.com").unwrap(), Principal::Service { .. }));
        assert!(matches!(Principal::parse("222222222222").unwrap(), Principal::Root { .. }));
        for bad in [
            "bob",
            "arn:aws:iam::1:user/x",
            "arn:aws:iam::111111111111:group/g",
            "arn:aws:sts::111111111111:assumed-role/R",
        ] {
            assert!(Principal::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn context_keys_are_case_insensitive() {
        let mut c = Context::new();
        c.insert("aws:SourceIp", ContextValue::Single("1.2.3.4".into()));
        c.insert("AWS:SOURCEIP", ContextValue::Single("5.6.7.8".into()));
        assert_eq!(c.len(), 1);
        assert_eq!(c.get("aws:sourceip"), Some(ContextEntry::Single("5.6.7.8")));
        let j = serde_json::json!({"aws:TagKeys":["a","b"],"n":10,"b":true,"u":null});
        let c = Context::from_json(&j).unwrap();
        assert_eq!(c.get("aws:tagkeys"), Some(ContextEntry::Multi(&["a".to_string(), "b".to_string()])));
        assert_eq!(c.get("n"), Some(ContextEntry::Single("10")));
        assert!(Context::from_json(&serde_json::json!({"k":{"x":1}})).is_err());
    }

    #[test]
    fn key_prints_are_case_blind_and_lookups_check_the_text() {
        for key in ["", "a", "aws:SourceIp", "ec2:ResourceTag/CSIVolumeName", "X@Y`Z"] {
            assert_eq!(key_print(key), key_print(&key.to_ascii_uppercase()), "{key}");
            assert_eq!(key_print(key), key_print(&key.to_ascii_lowercase()), "{key}");
        }
        // Same length, last and middle bytes: one print, two keys.
        let (a, b) = ("aws:RequestTag/ab1", "xws:RequestTag/zb1");
        assert_eq!(key_print(a), key_print(b));
        let mut c = Context::new();
        c.insert(a, ContextValue::Single("x".into()));
        assert_eq!(c.get(b), None);
        c.insert(b, ContextValue::Single("y".into()));
        assert_eq!(c.get(&a.to_ascii_uppercase()), Some(ContextEntry::Single("x")));
        assert_eq!(c.get(b), Some(ContextEntry::Single("y")));
        assert_eq!(c.len(), 2);
    }

    #[test]
    fn lowered_lookups_find_keys_given_in_any_case() {
        let mut r = Request::new(Principal::parse("arn:aws:iam::111111111111:user/u").unwrap(), "s3:GetObject", "*");
        r.context.insert("AWS:SourceIP", ContextValue::Single("1.2.3.4".into()));
        r.context.insert("aws:RequestTag/ab1", ContextValue::Single("x".into()));
        // Same print as the key above, another key.
        r.context.insert("xws:RequestTag/zb1", ContextValue::Single("y".into()));
        assert_eq!(r.lookup_lowered("aws:sourceip"), Some(Value::Single("1.2.3.4")));
        assert_eq!(r.lookup_lowered("aws:requesttag/ab1"), Some(Value::Single("x")));
        assert_eq!(r.lookup_lowered("xws:requesttag/zb1"), Some(Value::Single("y")));
        assert_eq!(r.lookup_lowered("aws:requesttag/ab2"), None);
        assert_eq!(r.lookup_lowered("aws:username"), Some(Value::Single("u")));
        // Replaced under another spelling: one entry, the new value, the key as first given.
        r.context.insert("aws:sourceip", ContextValue::Single("5.6.7.8".into()));
        assert_eq!(r.lookup_lowered("aws:sourceip"), Some(Value::Single("5.6.7.8")));
        assert_eq!(r.context.iter().next().map(|(k, _)| k), Some("AWS:SourceIP"));
        assert_eq!(r.context.len(), 3);
    }

    /// Past INDEXED_FROM keys lookups go through the index: the same
    /// answers (any case, duplicates refused, truncation forgets), in time
    /// linear in the keys (200,000 of them read from one JSON object here;
    /// the print scan alone made that quadratic).
    #[test]
    fn many_keys_are_indexed_and_read_alike() {
        let n = 200_000;
        let text = format!("{{{}}}", (0..n).map(|i| format!(r#""svc:Key{i}": "v{i}""#)).collect::<Vec<_>>().join(","));
        let mut c = Context::from_json_text(&text).unwrap();
        assert_eq!(c.len(), n);
        assert!(c.index.is_some());
        for i in [0, 1, INDEXED_FROM, n / 2, n - 1] {
            let want = format!("v{i}");
            assert_eq!(c.get(&format!("SVC:KEY{i}")), Some(ContextEntry::Single(&want)));
            assert_eq!(c.get_lowered(&format!("svc:key{i}")), Some(ContextEntry::Single(&want)));
        }
        assert_eq!(c.get("svc:key200000"), None);
        assert!(c.insert_once("Svc:key7", ContextEntry::Single("again")).is_err());
        let mark = c.mark();
        c.insert_entry("extra:Key", ContextEntry::Single("x"));
        c.insert_entry("svc:key3", ContextEntry::Single("replaced"));
        assert_eq!(c.get("EXTRA:key"), Some(ContextEntry::Single("x")));
        c.truncate(mark);
        assert_eq!(c.get("extra:key"), None);
        assert_eq!(c.get("svc:key3"), Some(ContextEntry::Single("replaced")));
        let twice = format!("{{{}, \"SVC:KEY5\": \"b\"}}", &text[1..text.len() - 1]);
        assert!(Context::from_json_text(&twice).unwrap_err().message().contains("given twice"));
        c.reset_open_world();
        assert!(c.index.is_none() && c.get("svc:key1").is_none());
    }

    #[test]
    fn truncating_to_a_mark_drops_added_keys_only() {
        let mut c = Context::open_world();
        c.insert_entry("aws:SourceIp", ContextEntry::Single("203.0.113.9"));
        let before = c.clone();
        let mark = c.mark();
        c.insert("ec2:InstanceType", ContextValue::Absent);
        c.insert("s3:prefix", ContextValue::Single("logs/".into()));
        assert_eq!(c.get("s3:prefix"), Some(ContextEntry::Single("logs/")));
        c.insert("aws:SourceIp", ContextValue::Single("198.51.100.1".into()));
        c.truncate(mark);
        assert_eq!(c.get("ec2:instancetype"), None);
        assert_eq!(c.get("s3:prefix"), None);
        // Replaced, not added: the new value stays, read whole.
        assert_eq!(c.get("aws:sourceip"), Some(ContextEntry::Single("198.51.100.1")));
        c.insert("aws:SourceIp", ContextValue::Single("203.0.113.9".into()));
        assert_eq!(c, before);
        c.insert("k", ContextValue::Single("v".into()));
        assert_eq!(c.get("aws:sourceip"), Some(ContextEntry::Single("203.0.113.9")));
        assert_eq!(c.get("k"), Some(ContextEntry::Single("v")));
    }

    #[test]
    fn contexts_compare_by_what_they_say() {
        // A replaced value stays in the shared buffer; equality ignores it.
        let mut replaced = Context::new();
        replaced.insert("k", ContextValue::Single("old".into()));
        replaced.insert("k", ContextValue::Single("new".into()));
        replaced.insert("e", ContextValue::Single(String::new()));
        let mut direct = Context::new();
        direct.insert("k", ContextValue::Single("new".into()));
        direct.insert("e", ContextValue::Single(String::new()));
        assert_eq!(replaced, direct);
        assert_eq!(replaced.get("e"), Some(ContextEntry::Single("")));
        direct.insert("k", ContextValue::Unknown);
        assert_ne!(replaced, direct);
        let listed: Vec<_> = replaced.iter().map(|(k, v)| (k.to_string(), v.to_value())).collect();
        assert_eq!(
            listed,
            vec![
                ("k".to_string(), ContextValue::Single("new".into())),
                ("e".to_string(), ContextValue::Single(String::new()))
            ]
        );
    }

    #[test]
    fn open_world_context_makes_unlisted_keys_unknown() {
        let mut c = Context::open_world();
        c.insert("aws:SourceIp", ContextValue::Single("1.2.3.4".into()));
        c.insert("aws:MultiFactorAuthPresent", ContextValue::Absent);
        let mut r =
            Request::new(Principal::parse("arn:aws:sts::111111111111:assumed-role/R/s").unwrap(), "s3:GetObject", "*");
        r.context = c;
        assert_eq!(r.lookup("aws:sourceip"), Some(Value::Single("1.2.3.4")));
        assert_eq!(r.lookup("aws:multifactorauthpresent"), None, "listed as absent");
        assert_eq!(r.lookup("aws:principaltag/team"), Some(Value::Unknown), "unlisted: unknown");
        assert_eq!(r.lookup("aws:username"), None, "a role session has no aws:username, even in an open world");
        assert_eq!(r.lookup("aws:principalaccount"), Some(Value::Single("111111111111")));
        r.context.close_prefix("aws:PrincipalTag/");
        assert_eq!(r.lookup("aws:principaltag/team"), None, "tags known: an unlisted tag is absent");
    }

    #[test]
    fn kleene() {
        assert_eq!(Tri::True.and(Tri::Unknown), Tri::Unknown);
        assert_eq!(Tri::False.and(Tri::Unknown), Tri::False);
        assert_eq!(Tri::True.or(Tri::Unknown), Tri::True);
        assert_eq!(Tri::Unknown.not(), Tri::Unknown);
    }
}
