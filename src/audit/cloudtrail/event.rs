//! One CloudTrail event → the authorisation checks it implies (semantics doc
//! §8): the principal from `userIdentity`, the IAM action(s), the resources
//! (from `resources[]`, else from `requestParameters` for common services),
//! the further permissions the call needs (`implied.rs`), and the
//! context keys an event can tell. The context is open-world: a key
//! the event cannot tell is unknown, never assumed absent.

use super::action::{apigateway_operation, map_action, Mapped};
use super::implied::{implied_checks, may_imply, Implied};
use super::record::{Identity, Json, Record};
use crate::engine::policy::split_action;
use crate::engine::request::{Context, ContextEntry, Principal, Request, StaticKey, UserCredentials};
use smallvec::SmallVec;

/// What AWS recorded for the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No `errorCode`.
    Success,
    /// `AccessDenied*`, `UnauthorizedOperation`, `Client.UnauthorizedOperation`.
    AccessDenied,
    /// Another error (does not prove authorisation passed or failed).
    OtherError(String),
}

/// Why an event produced no check.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, thiserror::Error)]
pub enum SkipReason {
    /// `eventType` is not `AwsApiCall` (console sign-in, service events…).
    #[error("not an API call (eventType {0})")]
    NotApiCall(String),
    /// The call is not authorised by IAM policies.
    #[error("not authorised by IAM policies")]
    NotPolicyControlled,
    /// `eventSource`/`eventName` missing or not mappable.
    #[error("no IAM action known for {0}")]
    UnmappedAction(String),
    /// `userIdentity` missing.
    #[error("no userIdentity")]
    NoIdentity,
    /// An identity type the engine does not model (`AWSAccount`, `SAMLUser`…).
    #[error("identity type {0} is not modelled")]
    UnmodelledPrincipal(String),
    /// A modelled identity type whose `arn` is missing or malformed.
    #[error("malformed {0} identity")]
    MalformedIdentity(String),
    /// A member the mapping needs has the wrong type or an empty value.
    #[error("malformed event: {0}")]
    MalformedEvent(&'static str),
    /// A JSON object with none of a CloudTrail event's members (`eventSource`,
    /// `eventName`, `eventTime`, `eventID`, `userIdentity`): some other file.
    #[error("not a CloudTrail event (none of eventSource, eventName, eventTime, eventID, userIdentity)")]
    NotAnEvent,
}

impl SkipReason {
    /// The reason's kind, for counting.
    pub fn kind(&self) -> SkipKind {
        match self {
            SkipReason::NotApiCall(_) => SkipKind::NotApiCall,
            SkipReason::NotPolicyControlled => SkipKind::NotPolicyControlled,
            SkipReason::UnmappedAction(_) => SkipKind::UnmappedAction,
            SkipReason::NoIdentity => SkipKind::NoIdentity,
            SkipReason::UnmodelledPrincipal(_) => SkipKind::UnmodelledPrincipal,
            SkipReason::MalformedIdentity(_) => SkipKind::MalformedIdentity,
            SkipReason::MalformedEvent(_) => SkipKind::MalformedRecord,
            SkipReason::NotAnEvent => SkipKind::NotAnEvent,
        }
    }
}

/// Why a record read was not replayed: the kinds of [`SkipReason`], and a
/// record that could not be read ([`super::reader::Malformed`]). Replay
/// reports count by these; their names (`serde`) are the report's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipKind {
    /// [`SkipReason::NotApiCall`].
    NotApiCall,
    /// [`SkipReason::NotPolicyControlled`].
    NotPolicyControlled,
    /// [`SkipReason::UnmappedAction`].
    UnmappedAction,
    /// [`SkipReason::NoIdentity`].
    NoIdentity,
    /// [`SkipReason::UnmodelledPrincipal`].
    UnmodelledPrincipal,
    /// [`SkipReason::MalformedIdentity`].
    MalformedIdentity,
    /// A record (or a file's tail) that could not be read as an event.
    MalformedRecord,
    /// A file that could not be opened at all.
    UnreadableFile,
    /// [`SkipReason::NotAnEvent`].
    NotAnEvent,
}

/// One (action, resource) authorisation an event implies; with the event's
/// principal and context it makes a request ([`EventChecks::request`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The IAM action.
    pub action: String,
    /// The resource ARN (`*` for actions without resource types); `None` when
    /// the event does not tell it (the check is then indeterminate, never guessed).
    pub resource: Option<String>,
    /// The resource's owner account, when the event names it (`resources[].accountId`).
    pub resource_account: Option<String>,
    /// The resource is an IAM user, role, group or instance-profile ARN built from the name in
    /// `requestParameters`, without the entity's path (events do not log it):
    /// a replay resolves it from the authorization details.
    pub path_unknown: bool,
    /// A context key only this check carries, beside the event's: the
    /// `iam:PassedToService` of an `iam:PassRole` the call implies, the
    /// `ec2:InstanceType` of the instance a `RunInstances` launches.
    pub key: Option<(&'static str, std::borrow::Cow<'static, str>)>,
}

/// An event turned into checks; borrows the event's id and time. The
/// principal and context are the event's, shared by its checks (a replay
/// moves them into one request per event instead of copying them per check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventChecks<'a> {
    /// `eventID` (empty when missing).
    pub event_id: &'a str,
    /// `eventTime` (empty when missing).
    pub time: &'a str,
    /// `eventSource`.
    pub source: &'a str,
    /// `eventName`.
    pub name: &'a str,
    /// Whether the record names anything the call acted on: request
    /// parameters (a non-empty object) or `resources[]`. CloudTrail leaves
    /// both out of many failed calls (throttled, denied): their resources
    /// cannot be known by any mapping.
    pub names_resources: bool,
    /// The caller as reported.
    pub principal: Principal,
    /// What the event tells of the request context (open-world).
    pub context: Context,
    /// What AWS recorded.
    pub outcome: Outcome,
    /// For an IAM user: which credentials signed the call.
    pub user_credentials: UserCredentials,
    /// `userIdentity.accessKeyId`: a session's, to find the call that created it.
    pub access_key: Option<&'a str>,
    /// The checks (all must pass for the call to succeed).
    pub checks: Vec<Check>,
    /// Under what the principal goes back to the [`PrincipalCache`] it came from.
    pub(crate) principal_key: Option<PrincipalKey>,
}

impl EventChecks<'_> {
    /// The request `check` (one of [`EventChecks::checks`]) stands for: the
    /// event's principal and context with the check's action and resource;
    /// `None` when the resource is unknown.
    pub fn request(&self, check: &Check) -> Option<Request> {
        let mut context = self.context.clone();
        if let Some((key, value)) = &check.key {
            context.insert_entry(key, ContextEntry::Single(value));
        }
        Some(Request {
            principal: self.principal.clone(),
            action: check.action.clone(),
            resource: check.resource.clone()?,
            resource_account: check.resource_account.clone(),
            context,
            user_credentials: self.user_credentials,
        })
    }
}

fn text<'a>(v: &'a Json<'_>, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    nonempty(cur)
}

fn nonempty<'a>(v: &'a Json<'_>) -> Option<&'a str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// What a record's mapping reads beside its members.
impl<'a> Record<'a> {
    /// The account whose resources the call names by name: the recipient's,
    /// else the caller's.
    fn account(&self) -> Option<&str> {
        self.recipient_account.as_deref().or_else(|| self.identity.as_ref()?.account_id.as_deref())
    }

    /// What the catalog's resource formats are filled from.
    fn derive_view(&self) -> super::derive::Event<'_> {
        super::derive::Event {
            parameters: self.parameters.as_ref(),
            response: self.response.as_ref(),
            region: self.region.as_deref(),
            account: self.account(),
            caller_arn: self.caller_arn(),
        }
    }

    /// `resources[].accountId` of the first entry that has one.
    fn resources_account(&self) -> Option<&str> {
        self.resources.iter().find_map(|r| r.account.as_deref())
    }
}

/// The outcome recorded in an event.
pub fn outcome(v: &Record<'_>) -> Outcome {
    outcome_of(v)
}

fn outcome_of(e: &Record<'_>) -> Outcome {
    match e.error_code.as_deref() {
        None => Outcome::Success,
        Some(c)
            if c.starts_with("AccessDenied") || c.ends_with("UnauthorizedOperation") || c == "AuthorizationError" =>
        {
            Outcome::AccessDenied
        }
        Some(c) => Outcome::OtherError(c.to_string()),
    }
}

/// The principal of an event (§8.3).
///
/// # Errors
/// The reason the identity cannot be modelled.
pub fn principal_of(v: &Record<'_>) -> Result<Principal, SkipReason> {
    identity_principal(v)
}

fn identity_principal(e: &Record<'_>) -> Result<Principal, SkipReason> {
    let id = e.identity.as_ref().ok_or(SkipReason::NoIdentity)?;
    let kind = id.kind.as_deref().unwrap_or("");
    let unmodelled =
        || SkipReason::UnmodelledPrincipal(if kind.is_empty() { "(none)".to_string() } else { kind.to_string() });
    let malformed = || SkipReason::MalformedIdentity(kind.to_string());
    let parsed = || id.arn.as_deref().and_then(|a| Principal::parse(a).ok()).ok_or_else(malformed);
    match kind {
        "IAMUser" | "Root" => parsed(),
        // The session ARN has no role path; the issuer ARN has it (§8.3).
        "AssumedRole" => {
            id.arn.as_deref().and_then(|a| Principal::parse_with_role(a, id.issuer_arn()).ok()).ok_or_else(malformed)
        }
        "FederatedUser" => {
            let mut p = parsed()?;
            if let Principal::FederatedUser { issuer, .. } = &mut p {
                *issuer = id.issuer_arn().map(str::to_string);
            }
            Ok(p)
        }
        "AWSService" => {
            id.invoked_by.as_deref().map(|s| Principal::Service { name: s.to_string() }).ok_or_else(malformed)
        }
        _ => Err(unmodelled()),
    }
}

/// Which credentials an IAM user's call was signed with: its access key
/// (`AKIA…` long-term, `ASIA…` temporary: "Unique identifier prefixes",
/// <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-unique-ids>)
/// and whether a console session's (`sessionCredentialFromConsole`) — an
/// IAM user's other temporary credentials come from GetSessionToken. A
/// record without the key that says the call succeeded shows its
/// credentials were not refused: read as unlimited, they cannot refuse it
/// in a replay either (the refusal is AWS's, whatever the policies).
fn user_credentials(e: &Record<'_>) -> UserCredentials {
    let Some(id) = e.identity.as_ref().filter(|id| id.kind.as_deref() == Some("IAMUser")) else {
        return UserCredentials::Unlimited;
    };
    match id.access_key_id.as_deref() {
        Some(k) if k.starts_with("AKIA") => UserCredentials::Unlimited,
        Some(k) if k.starts_with("ASIA") && e.from_console => UserCredentials::Unlimited,
        Some(k) if k.starts_with("ASIA") => UserCredentials::SessionToken,
        _ if outcome_of(e) == Outcome::Success => UserCredentials::Unlimited,
        _ => UserCredentials::Unknown,
    }
}

/// The context an event can tell (§8.4), open-world.
pub fn context_of(v: &Record<'_>, principal: &Principal) -> Context {
    let mut c = Context::open_world();
    let none = Identity::default();
    event_context(v, v.identity.as_ref().unwrap_or(&none), principal, ContextKeys::default(), &mut c);
    c
}

/// The keys [`event_context`] fills, as stored keys ([`StaticKey`]): every
/// event sets a dozen of them.
mod keys {
    use super::StaticKey;
    pub static CURRENT_TIME: StaticKey = StaticKey::new("aws:CurrentTime", "aws:currenttime");
    pub static EPOCH_TIME: StaticKey = StaticKey::new("aws:EpochTime", "aws:epochtime");
    pub static REQUESTED_REGION: StaticKey = StaticKey::new("aws:RequestedRegion", "aws:requestedregion");
    pub static SOURCE_IP: StaticKey = StaticKey::new("aws:SourceIp", "aws:sourceip");
    pub static SOURCE_VPCE: StaticKey = StaticKey::new("aws:SourceVpce", "aws:sourcevpce");
    pub static VPC_SOURCE_IP: StaticKey = StaticKey::new("aws:VpcSourceIp", "aws:vpcsourceip");
    pub static USER_ID: StaticKey = StaticKey::new("aws:userid", "aws:userid");
    pub static USER_AGENT: StaticKey = StaticKey::new("aws:UserAgent", "aws:useragent");
    pub static SECURE_TRANSPORT: StaticKey = StaticKey::new("aws:SecureTransport", "aws:securetransport");
    pub static MFA_PRESENT: StaticKey = StaticKey::new("aws:MultiFactorAuthPresent", "aws:multifactorauthpresent");
    pub static TOKEN_ISSUE_TIME: StaticKey = StaticKey::new("aws:TokenIssueTime", "aws:tokenissuetime");
    pub static SOURCE_IDENTITY: StaticKey = StaticKey::new("aws:SourceIdentity", "aws:sourceidentity");
    pub static VIA_AWS_SERVICE: StaticKey = StaticKey::new("aws:ViaAWSService", "aws:viaawsservice");
    /// Every key above, in [`super::ContextKeys`]' bit order.
    pub static ALL: [&StaticKey; 13] = [
        &CURRENT_TIME,
        &EPOCH_TIME,
        &REQUESTED_REGION,
        &SOURCE_IP,
        &SOURCE_VPCE,
        &VPC_SOURCE_IP,
        &USER_ID,
        &USER_AGENT,
        &SECURE_TRANSPORT,
        &MFA_PRESENT,
        &TOKEN_ISSUE_TIME,
        &SOURCE_IDENTITY,
        &VIA_AWS_SERVICE,
    ];
}

/// Which of the keys [`event_context`] fills a replay's policies read, and
/// whether they read `aws:PrincipalTag/…`. A key no policy reads cannot change
/// a decision, and filling the dozen keys of every event was half of the
/// mapping's work, a quarter of a replay's own (benches/README.md, session
/// 16); so a replay fills only these. The default fills every key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ContextKeys(u16);

impl Default for ContextKeys {
    fn default() -> ContextKeys {
        ContextKeys(u16::MAX)
    }
}

impl ContextKeys {
    /// The bit for `aws:PrincipalTag/…`, past the [`keys::ALL`] bits.
    const PRINCIPAL_TAGS: u16 = 1 << keys::ALL.len();

    /// The keys among `names` (as policies write them, any case).
    /// `aws:MultiFactorAuthPresent` is always kept: the engine's credential
    /// rules read it whatever the policies say.
    pub(crate) fn read_by<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> ContextKeys {
        let mut bits = ContextKeys::bit(&keys::MFA_PRESENT);
        const PRINCIPAL_TAG: &str = "aws:PrincipalTag/";
        for name in names {
            let name = name.as_ref();
            if name.get(..PRINCIPAL_TAG.len()).is_some_and(|p| p.eq_ignore_ascii_case(PRINCIPAL_TAG)) {
                bits |= ContextKeys::PRINCIPAL_TAGS;
            }
            if let Some(key) = keys::ALL.iter().find(|k| k.name().eq_ignore_ascii_case(name)) {
                bits |= ContextKeys::bit(key);
            }
        }
        ContextKeys(bits)
    }

    fn bit(key: &StaticKey) -> u16 {
        keys::ALL.iter().position(|k| std::ptr::eq(*k, key)).map_or(0, |i| 1 << i)
    }

    /// Whether `key` is filled.
    fn has(self, key: &StaticKey) -> bool {
        self.0 & ContextKeys::bit(key) != 0
    }

    /// The keys of either.
    pub(crate) fn union(self, other: ContextKeys) -> ContextKeys {
        ContextKeys(self.0 | other.0)
    }

    /// Whether a principal's tags are worth adding to its requests.
    pub(crate) fn principal_tags(self) -> bool {
        self.0 & ContextKeys::PRINCIPAL_TAGS != 0
    }
}

/// Fills `c` (emptied first) with the event's context: the keys of `wanted`
/// (the rest stay unknown, as they would in an open world).
fn event_context(e: &Record<'_>, id: &Identity<'_>, principal: &Principal, wanted: ContextKeys, c: &mut Context) {
    c.reset_open_world();
    // Each key below is inserted once.
    use ContextEntry::Single as single;
    let mut push = |key: &'static StaticKey, value: ContextEntry<'_>| {
        if wanted.has(key) {
            c.push_static(key, value);
        }
    };
    if let Some(t) = e.time.as_deref() {
        push(&keys::CURRENT_TIME, single(t));
        if wanted.has(&keys::EPOCH_TIME) {
            if let Some(ms) = crate::engine::policy::parse_date(t) {
                push(&keys::EPOCH_TIME, single(itoa::Buffer::new().format(ms / 1000)));
            }
        }
    }
    if let Some(r) = e.region.as_deref() {
        push(&keys::REQUESTED_REGION, single(r));
    }
    let ip_keys = wanted.has(&keys::SOURCE_IP) || wanted.has(&keys::SOURCE_VPCE) || wanted.has(&keys::VPC_SOURCE_IP);
    match (e.source_ip.as_deref(), e.vpc_endpoint.as_deref()) {
        _ if !ip_keys => {}
        (Some(ip), None) if crate::engine::policy::parse_ip(ip).is_some() => push(&keys::SOURCE_IP, single(ip)),
        // Through a VPC endpoint aws:SourceIp is absent; the VPC address is aws:VpcSourceIp.
        (ip, Some(vpce)) => {
            push(&keys::SOURCE_IP, ContextEntry::Absent);
            push(&keys::SOURCE_VPCE, single(vpce));
            if let Some(ip) = ip.filter(|ip| crate::engine::policy::parse_ip(ip).is_some()) {
                push(&keys::VPC_SOURCE_IP, single(ip));
            }
        }
        _ => {} // a service name or "AWS Internal": unknown
    }
    if let Some(pid) = id.principal_id.as_deref() {
        push(&keys::USER_ID, single(pid));
    }
    if let Some(ua) = e.user_agent.as_deref() {
        push(&keys::USER_AGENT, single(ua));
    }
    if e.tls {
        push(&keys::SECURE_TRANSPORT, single("true"));
    }
    let temporary = id.access_key_id.as_deref().is_some_and(|k| k.starts_with("ASIA")) || id.has_attributes();
    // Long-term access keys never carry these keys (§5.3, §8.4).
    let long_term = id.access_key_id.as_deref().is_some_and(|k| k.starts_with("AKIA"));
    match id.mfa_authenticated() {
        Some(m) if temporary => push(&keys::MFA_PRESENT, single(m)),
        _ if long_term => push(&keys::MFA_PRESENT, ContextEntry::Absent),
        _ => {}
    }
    if wanted.has(&keys::TOKEN_ISSUE_TIME) {
        match id.creation_date() {
            Some(t) => push(&keys::TOKEN_ISSUE_TIME, single(t)),
            None if long_term => push(&keys::TOKEN_ISSUE_TIME, ContextEntry::Absent),
            None => {}
        }
    }
    if wanted.has(&keys::SOURCE_IDENTITY) {
        if let Some(s) = id.source_identity() {
            push(&keys::SOURCE_IDENTITY, single(s));
        }
    }
    match id.invoked_by.as_deref() {
        Some("AWS Internal") => {}
        Some(_) if !matches!(principal, Principal::Service { .. }) => push(&keys::VIA_AWS_SERVICE, single("true")),
        None => push(&keys::VIA_AWS_SERVICE, single("false")),
        _ => {}
    }
    match e.source.as_deref() {
        Some("sts.amazonaws.com" | "iam.amazonaws.com") => request_tags(e.parameters.as_ref(), c),
        Some("kms.amazonaws.com") if e.name.as_deref().is_some_and(uses_one_encryption_context) => {
            encryption_context(e.parameters.as_ref(), c)
        }
        _ => {}
    }
}

/// KMS calls whose request carries one encryption context, logged as
/// `encryptionContext` (`ReEncrypt` carries two, a source's and a
/// destination's, and is left out).
fn uses_one_encryption_context(name: &str) -> bool {
    matches!(name, "Encrypt" | "Decrypt") || name.starts_with("GenerateDataKey")
}

/// `kms:EncryptionContext:<key>` and `kms:EncryptionContextKeys` from the
/// `encryptionContext` object a KMS call logs
/// (<https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-encryption-context>):
/// the guardrails of key policies (which bucket, secret or parameter a key
/// may decrypt for) are decided from it. An object read whole is the whole
/// context: other `kms:EncryptionContext:` keys are absent. One this cannot
/// read whole (a value that is not a string, a key given twice in any
/// case), or none logged, leaves them unknown.
fn encryption_context(params: Option<&Json<'_>>, c: &mut Context) {
    let Some(context) = params.and_then(|p| p.get("encryptionContext")).and_then(Json::as_object) else { return };
    let pairs: Option<Vec<(&str, &str)>> = context.iter().map(|(k, v)| Some((k, v.as_str()?))).collect();
    if let Some(pairs) = pairs {
        insert_whole_map(c, &pairs, "kms:EncryptionContext:", "kms:EncryptionContextKeys", "kms:encryptioncontext:");
    }
}

/// Inserts a map the log gives whole: each pair as `prefix` + its key, the
/// keys as `keys_key`, and every other key under `closed` (`prefix` in lower
/// case) absent. A key given twice in any case is refused by the context
/// itself; then none of the map is kept, and its keys stay unknown.
fn insert_whole_map(c: &mut Context, pairs: &[(&str, &str)], prefix: &str, keys_key: &str, closed: &'static str) {
    debug_assert_eq!(closed, prefix.to_ascii_lowercase(), "a literal, so that closing it copies nothing");
    let before = c.mark();
    let mut name = String::new();
    for (k, v) in pairs {
        name.clear();
        name.push_str(prefix);
        name.push_str(k);
        if c.insert_once(&name, ContextEntry::Single(v)).is_err() {
            c.truncate(before);
            return;
        }
    }
    let keys: Vec<String> = pairs.iter().map(|(k, _)| k.to_string()).collect();
    c.insert_entry(keys_key, ContextEntry::Multi(&keys));
    c.close_prefix_static(closed);
}

/// `aws:RequestTag/<key>` and `aws:TagKeys` from the `tags` list that STS and
/// IAM calls log as `[{"key", "value"}]` (session tags of `AssumeRole`,
/// `CreateRole`, `TagUser`…), and `sts:TransitiveTagKeys`. A list read whole
/// is all the request's tags: other `aws:RequestTag/` keys are absent. A
/// list this cannot read whole (an entry without a string key or value, a
/// key given twice in any case), or no list, leaves them unknown.
fn request_tags(params: Option<&Json<'_>>, c: &mut Context) {
    let strings = |v: &Json<'_>| -> Option<Vec<String>> {
        v.as_array()?.iter().map(|k| k.as_str().map(str::to_string)).collect()
    };
    if let Some(keys) = params.and_then(|p| p.get("transitiveTagKeys")).and_then(strings) {
        c.insert_entry("sts:TransitiveTagKeys", ContextEntry::Multi(&keys));
    }
    let Some(tags) = params.and_then(|p| p.get("tags")).and_then(Json::as_array) else { return };
    let pairs: Option<Vec<(&str, &str)>> =
        tags.iter().map(|t| Some((t.get("key")?.as_str()?, t.get("value")?.as_str()?))).collect();
    if let Some(pairs) = pairs {
        insert_whole_map(c, &pairs, "aws:RequestTag/", "aws:TagKeys", "aws:requesttag/");
    }
}

/// A condition key whose value a call logs among its own parameters.
struct ParameterKey {
    /// The IAM action the key is given for.
    action: &'static str,
    /// The condition key.
    key: &'static str,
    /// The `requestParameters` member that holds its value.
    member: &'static str,
    /// Where the key applies to one of the action's resource types only
    /// (the reference lists it on that type, not on the action): the start
    /// of that type's ARN resource part. The key then goes on that check
    /// alone; AWS does not give it when authorising the action's other
    /// resources. `None`: the key is the request's, on every check.
    on_type: Option<&'static str>,
    /// A member every logged call of `action` carries. When the logged
    /// parameters hold it but not `member`, the call was made without
    /// `member` and the key is absent from its context. `None` where the log
    /// cannot tell (the member is required, or AWS does not say the key is
    /// absent without it): a missing member leaves the key unknown.
    logged_with: Option<&'static str>,
}

/// Condition keys a call logs among its own parameters. The service
/// authorization reference lists each key for its action (IAM:
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html>,
/// Lambda: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awslambda.html>
/// and <https://docs.aws.amazon.com/lambda/latest/dg/permissions-user-layer.html>
/// for `lambda:Layer`, S3:
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazons3.html>).
/// Decided with them, the guardrails security teams write on these calls
/// (which policies may be attached, which boundary a new role must carry,
/// whose layers a function may load, which folders a user may list) are
/// answered rather than left indeterminate.
///
/// Absent members: a key the request does not carry is absent from its
/// context, and a condition on it does not match
/// (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>);
/// the guides' policies that require a boundary or a listing prefix rely on
/// that (<https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html>,
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/walkthrough1.html>).
/// CloudTrail logs the parameters a call was made with: an optional one the
/// call did not send is not there, while one sent empty is logged as `""`
/// (both are in the real samples' S3 `ListObjects` events). A record whose
/// parameters lack even `logged_with` proves nothing, and the key stays
/// unknown.
const PARAMETER_KEYS: &[ParameterKey] = &[
    ParameterKey::request("iam:AttachGroupPolicy", "iam:PolicyARN", "policyArn", None),
    ParameterKey::request("iam:AttachRolePolicy", "iam:PolicyARN", "policyArn", None),
    ParameterKey::request("iam:AttachUserPolicy", "iam:PolicyARN", "policyArn", None),
    ParameterKey::request("iam:DetachGroupPolicy", "iam:PolicyARN", "policyArn", None),
    ParameterKey::request("iam:DetachRolePolicy", "iam:PolicyARN", "policyArn", None),
    ParameterKey::request("iam:DetachUserPolicy", "iam:PolicyARN", "policyArn", None),
    ParameterKey::request("iam:CreateRole", "iam:PermissionsBoundary", "permissionsBoundary", Some("roleName")),
    ParameterKey::request("iam:CreateUser", "iam:PermissionsBoundary", "permissionsBoundary", Some("userName")),
    ParameterKey::request("iam:PutRolePermissionsBoundary", "iam:PermissionsBoundary", "permissionsBoundary", None),
    ParameterKey::request("iam:PutUserPermissionsBoundary", "iam:PermissionsBoundary", "permissionsBoundary", None),
    ParameterKey::request("lambda:CreateFunction", "lambda:Layer", "layers", Some("functionName")),
    // An update without `layers` leaves the function's layers as they are;
    // AWS does not say whether the key then holds them or is absent.
    ParameterKey::request("lambda:UpdateFunctionConfiguration", "lambda:Layer", "layers", None),
    ParameterKey::request("s3:ListBucket", "s3:prefix", "prefix", Some("bucketName")),
    ParameterKey::request("s3:ListBucket", "s3:delimiter", "delimiter", Some("bucketName")),
    ParameterKey::request("s3:ListBucket", "s3:max-keys", "max-keys", Some("bucketName")),
    ParameterKey::request("s3:ListBucketVersions", "s3:prefix", "prefix", Some("bucketName")),
    ParameterKey::request("s3:ListBucketVersions", "s3:delimiter", "delimiter", Some("bucketName")),
    ParameterKey::request("s3:ListBucketVersions", "s3:max-keys", "max-keys", Some("bucketName")),
    // An upload's encryption and ACL headers, which bucket policies'
    // guardrails test (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html>).
    // A header the log lacks stays unknown: nothing documents that CloudTrail
    // logs every one the call sent.
    ParameterKey::request("s3:PutObject", "s3:x-amz-server-side-encryption", "x-amz-server-side-encryption", None),
    ParameterKey::request(
        "s3:PutObject",
        "s3:x-amz-server-side-encryption-aws-kms-key-id",
        "x-amz-server-side-encryption-aws-kms-key-id",
        None,
    ),
    ParameterKey::request("s3:PutObject", "s3:x-amz-acl", "x-amz-acl", None),
    // The instance type is a condition key of RunInstances' `instance`
    // resource type (EC2: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html>).
    // A call without it launches the API's default type, which the log
    // does not say: the key then stays unknown.
    ParameterKey::resource("ec2:RunInstances", "ec2:InstanceType", "instanceType", "instance/"),
];

impl ParameterKey {
    /// A key of the whole request.
    const fn request(
        action: &'static str,
        key: &'static str,
        member: &'static str,
        logged_with: Option<&'static str>,
    ) -> ParameterKey {
        ParameterKey { action, key, member, on_type: None, logged_with }
    }

    /// A key of the action's resources of one type (their ARNs' resource
    /// parts start with `on_type`).
    const fn resource(
        action: &'static str,
        key: &'static str,
        member: &'static str,
        on_type: &'static str,
    ) -> ParameterKey {
        ParameterKey { action, key, member, on_type: Some(on_type), logged_with: None }
    }
}

/// Whether some event of `action` logs a condition key among its
/// parameters ([`PARAMETER_KEYS`]): asked once per action by the mapping's
/// cache.
fn has_parameter_keys(action: &str) -> bool {
    PARAMETER_KEYS.iter().any(|p| p.action == action)
}

/// The [`PARAMETER_KEYS`] of `action` that `params` gives: a string as a
/// single value, an array of strings as a set (an array with anything else
/// in it leaves the key unknown), a member the call did not send as absent.
fn parameter_keys(action: &str, params: Option<&Json<'_>>, c: &mut Context) {
    let Some(params) = params else { return };
    for p in PARAMETER_KEYS.iter().filter(|p| p.action == action && p.on_type.is_none()) {
        match params.get(p.member) {
            Some(Json::String(v)) => c.insert_entry(p.key, ContextEntry::Single(v)),
            Some(Json::Array(items)) => {
                let values: Option<Vec<String>> = items.iter().map(|v| v.as_str().map(str::to_string)).collect();
                if let Some(values) = values {
                    c.insert_entry(p.key, ContextEntry::Multi(&values));
                }
            }
            None if p.logged_with.is_some_and(|anchor| params.get(anchor).is_some()) => {
                c.insert_entry(p.key, ContextEntry::Absent)
            }
            _ => {}
        }
    }
}

/// Puts the [`PARAMETER_KEYS`] of one resource type on the checks of that
/// type: a logged string value on a check without a key of its own.
fn resource_parameter_keys(params: Option<&Json<'_>>, checks: &mut [Check]) {
    let Some(params) = params else { return };
    for p in PARAMETER_KEYS.iter() {
        let (Some(on_type), Some(Json::String(value))) = (p.on_type, params.get(p.member)) else { continue };
        for check in checks.iter_mut().filter(|c| c.key.is_none() && c.action == p.action) {
            let of_type = check
                .resource
                .as_deref()
                .and_then(crate::engine::policy::Arn::parse)
                .is_some_and(|arn| arn.resource.starts_with(on_type));
            if of_type {
                check.key = Some((p.key, std::borrow::Cow::Owned(value.to_string())));
            }
        }
    }
}

/// Resource ARNs of one check (usually one).
type Resources = SmallVec<[String; 1]>;

/// Builds resource ARNs for the check from `resources[]` or `requestParameters`,
/// and says whether they are IAM entity ARNs whose path is unknown.
fn resources_of(e: &Record<'_>, action: &str) -> Option<(Resources, bool)> {
    let (service, name) = split_action(action)?;
    if let ("kms", "ReEncryptFrom" | "ReEncryptTo") = (service, name) {
        return re_encrypt_key(e, name == "ReEncryptFrom").map(|k| (smallvec::smallvec![k], false));
    }
    if !e.resources.is_empty() {
        if service == "s3" {
            // Object permissions are checked on the object, the rest on the bucket.
            let want = if name.contains("Object") || name.contains("MultipartUpload") {
                "AWS::S3::Object"
            } else {
                "AWS::S3::Bucket"
            };
            let picked: Resources = e
                .resources
                .iter()
                .filter(|r| r.kind == want)
                .filter_map(|r| r.arn.as_deref())
                .map(str::to_string)
                .collect();
            if !picked.is_empty() {
                return Some((picked, false));
            }
        }
        let all: Resources = e.resources.iter().filter_map(|r| r.arn.as_deref()).map(str::to_string).collect();
        if !all.is_empty() {
            return Some((all, false));
        }
    }
    if service == "iam" && IAM_ON_CALLER.contains(&name) {
        let named = e.parameters.as_ref().and_then(|p| text(p, &["userName"]));
        if named.is_none() {
            // Acts on the calling user, whose ARN (with its path) the log gives;
            // another caller (a role session) names no user and the call fails.
            let caller =
                e.identity.as_ref().filter(|i| i.kind.as_deref() == Some("IAMUser")).and_then(|i| i.arn.as_deref())?;
            return Some((smallvec::smallvec![caller.to_string()], false));
        }
    }
    let p = e.parameters.as_ref()?;
    let region = e.region.as_deref().unwrap_or("");
    let account = e.account().unwrap_or("");
    let param = |k: &str| text(p, &[k]);
    let arn = match service {
        "s3" => {
            let bucket = param("bucketName")?;
            match param("key") {
                Some(key) if name.contains("Object") || name.contains("Multipart") => {
                    format!("arn:aws:s3:::{bucket}/{key}")
                }
                _ => format!("arn:aws:s3:::{bucket}"),
            }
        }
        // The entity the call acts on is the resource; `policyArn` of
        // Attach*/Detach*Policy is the iam:PolicyARN condition key, and the
        // resource only for policy-level calls (GetPolicy, CreatePolicyVersion…).
        "iam" => {
            let named = match IAM_RESOURCE_KINDS.iter().find(|(action, _, _)| *action == name) {
                // The call names several entities; the reference says which one it acts on.
                Some((_, kind, parameter)) => param(parameter).map(|e| (*kind, e)),
                None => match (param("userName"), param("roleName"), param("groupName")) {
                    (Some(u), _, _) => Some(("user", u)),
                    (_, Some(r), _) => Some(("role", r)),
                    (_, _, Some(g)) => Some(("group", g)),
                    _ => None,
                },
            };
            let (kind, entity) = match (named, param("policyArn")) {
                (Some(named), _) => named,
                (None, Some(a)) => return Some((smallvec::smallvec![a.to_string()], false)),
                (None, None) => return None,
            };
            // IAM ARNs carry the entity's path, which only Create{User,Role,Group}
            // logs (`path`, default `/`); elsewhere the replay resolves it.
            let created =
                matches!(name, "CreateUser" | "CreateRole" | "CreateGroup" | "CreateInstanceProfile" | "CreatePolicy");
            let path = if created { Some(param("path").unwrap_or("/")) } else { None };
            return Some(match path.filter(|p| p.starts_with('/') && p.ends_with('/')) {
                Some(path) => (smallvec::smallvec![format!("arn:aws:iam::{account}:{kind}{path}{entity}")], false),
                None => (smallvec::smallvec![format!("arn:aws:iam::{account}:{kind}/{entity}")], true),
            });
        }
        "sts" => param("roleArn")?.to_string(),
        "apigateway" => {
            let (_, template) = apigateway_operation(e.name.as_deref()?)?;
            // Every `{param}` filled, or no resource (indeterminate, not guessed).
            let mut path = String::with_capacity(template.len() + 16);
            for (i, part) in template.split(['{', '}']).enumerate() {
                if i % 2 == 0 {
                    path.push_str(part);
                } else {
                    path.push_str(param(part)?);
                }
            }
            format!("arn:aws:apigateway:{region}::{path}")
        }
        "lambda" => {
            let f = param("functionName")?;
            if f.starts_with("arn:") {
                f.to_string()
            } else {
                format!("arn:aws:lambda:{region}:{account}:function:{f}")
            }
        }
        "kms" => kms_key_arn(param("keyId")?, region, account)?,
        "sqs" => {
            let url = param("queueUrl")?;
            let mut parts = url.rsplit('/');
            let (queue, acct) = (parts.next()?, parts.next()?);
            format!("arn:aws:sqs:{region}:{acct}:{queue}")
        }
        "sns" => param("topicArn")?.to_string(),
        "dynamodb" => format!("arn:aws:dynamodb:{region}:{account}:table/{}", param("tableName")?),
        // PutLogEvents, CreateLogStream, GetLogEvents… act on the stream they
        // name (resource type `log-stream`, "Actions, resources, and condition
        // keys for Amazon CloudWatch Logs",
        // https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchlogs.html).
        "logs" => {
            let group = format!("arn:aws:logs:{region}:{account}:log-group:{}", param("logGroupName")?);
            match param("logStreamName") {
                Some(stream) => format!("{group}:log-stream:{stream}"),
                None => group,
            }
        }
        "secretsmanager" => param("secretId").filter(|s| s.starts_with("arn:"))?.to_string(),
        "ec2" => {
            // A call naming several resources (AttachVolume: the instance and
            // the volume) is authorised on each of them: one check per resource.
            let mut named: Resources =
                [("instanceId", "instance"), ("volumeId", "volume"), ("networkInterfaceId", "network-interface")]
                    .iter()
                    .filter_map(|(name, kind)| {
                        param(name).map(|id| format!("arn:aws:ec2:{region}:{account}:{kind}/{id}"))
                    })
                    .collect();
            // Calls on a list of instances (StartInstances, TerminateInstances,
            // DescribeInstanceStatus…) log them as `instancesSet.items[].instanceId`
            // (`item` in some older events): one check per instance.
            let set = p.get("instancesSet");
            let items = set.and_then(|s| s.get("items").or_else(|| s.get("item"))).and_then(Json::as_array);
            named.extend(
                items
                    .into_iter()
                    .flatten()
                    .filter_map(|i| text(i, &["instanceId"]))
                    .map(|id| format!("arn:aws:ec2:{region}:{account}:instance/{id}")),
            );
            // Tagging calls list ids of any type (`resourcesSet.items[].resourceId`):
            // the prefix tells the type.
            let tagged = p.get("resourcesSet");
            let items = tagged.and_then(|s| s.get("items").or_else(|| s.get("item"))).and_then(Json::as_array);
            for id in items.into_iter().flatten().filter_map(|i| text(i, &["resourceId"])) {
                // An id of an unknown type: the call's resources are not all known.
                named.push(ec2_id_arn(id, region, account)?);
            }
            return (!named.is_empty()).then_some((named, false));
        }
        _ => return None,
    };
    Some((smallvec::smallvec![arn], false))
}

/// IAM calls that name more than one entity, with the resource type the
/// Service Authorization Reference gives the action and the parameter naming
/// it ("Actions, resources, and condition keys for AWS Identity and Access
/// Management": AddUserToGroup is on `group`, the instance-profile calls on
/// `instance-profile`;
/// https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).
/// Other IAM calls act on the user, role or group they name.
const IAM_RESOURCE_KINDS: &[(&str, &str, &str)] = &[
    ("AddUserToGroup", "group", "groupName"),
    ("RemoveUserFromGroup", "group", "groupName"),
    ("AddRoleToInstanceProfile", "instance-profile", "instanceProfileName"),
    ("RemoveRoleFromInstanceProfile", "instance-profile", "instanceProfileName"),
    ("CreateInstanceProfile", "instance-profile", "instanceProfileName"),
    ("DeleteInstanceProfile", "instance-profile", "instanceProfileName"),
    ("GetInstanceProfile", "instance-profile", "instanceProfileName"),
    ("TagInstanceProfile", "instance-profile", "instanceProfileName"),
    ("UntagInstanceProfile", "instance-profile", "instanceProfileName"),
    ("ListInstanceProfileTags", "instance-profile", "instanceProfileName"),
    // iam:CreatePolicy is on `policy/${PolicyNameWithPath}`.
    ("CreatePolicy", "policy", "policyName"),
];

/// EC2 resource ids by prefix ("Resource IDs", Amazon EC2 User Guide,
/// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/resource-ids.html) and
/// the resource type whose ARN they name, with whether that ARN carries the
/// account (images and snapshots do not: "Actions, resources, and condition
/// keys for Amazon EC2",
/// https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazonec2.html).
/// Read for calls that list ids of any type (`CreateTags`' `resourcesSet`);
/// an id of another prefix leaves its resource unknown.
const EC2_ID_PREFIXES: &[(&str, &str, bool)] = &[
    ("ami-", "image", false),
    ("snap-", "snapshot", false),
    ("i-", "instance", true),
    ("vol-", "volume", true),
    ("eni-", "network-interface", true),
    ("sg-", "security-group", true),
    ("subnet-", "subnet", true),
    ("vpc-", "vpc", true),
    ("rtb-", "route-table", true),
    ("igw-", "internet-gateway", true),
    ("acl-", "network-acl", true),
    ("dopt-", "dhcp-options", true),
    ("eipalloc-", "elastic-ip", true),
    ("nat-", "natgateway", true),
    ("lt-", "launch-template", true),
    ("vpce-", "vpc-endpoint", true),
    ("tgw-", "transit-gateway", true),
    ("pcx-", "vpc-peering-connection", true),
];

/// The ARN of the EC2 resource `id` names, by its prefix.
fn ec2_id_arn(id: &str, region: &str, account: &str) -> Option<String> {
    // `vpce-` before `vpc-`: the longest prefix that fits.
    let (_, kind, owned) = EC2_ID_PREFIXES
        .iter()
        .filter(|(prefix, _, _)| id.starts_with(prefix))
        .max_by_key(|(prefix, _, _)| prefix.len())?;
    let account = if *owned { account } else { "" };
    Some(format!("arn:aws:ec2:{region}:{account}:{kind}/{id}"))
}

/// IAM calls that act on the calling user when `UserName` is not given: "If
/// you do not specify a user name, IAM determines the user name implicitly
/// based on the AWS access key ID used to sign the request" (IAM API
/// reference, e.g. https://docs.aws.amazon.com/IAM/latest/APIReference/API_GetUser.html,
/// API_ListAccessKeys.html, API_CreateAccessKey.html, API_ListMFADevices.html,
/// API_ListSigningCertificates.html); ChangePassword always does
/// (API_ChangePassword.html: "changes the password of the IAM user who is
/// calling this operation").
const IAM_ON_CALLER: &[&str] = &[
    "GetUser",
    "ChangePassword",
    "ListAccessKeys",
    "CreateAccessKey",
    "DeleteAccessKey",
    "UpdateAccessKey",
    "ListMFADevices",
    "ListSigningCertificates",
    "UploadSigningCertificate",
    "DeleteSigningCertificate",
    "UpdateSigningCertificate",
    "ListSSHPublicKeys",
    "ListServiceSpecificCredentials",
];

/// The key ARN a `keyId`-style parameter names: a key ARN or id; `None` for
/// an alias, which does not say which key.
fn kms_key_arn(k: &str, region: &str, account: &str) -> Option<String> {
    if k.starts_with("arn:") && !k.contains(":alias/") {
        Some(k.to_string())
    } else if !k.starts_with("alias/") && !k.contains(":alias/") {
        Some(format!("arn:aws:kms:{region}:{account}:key/{k}"))
    } else {
        None
    }
}

/// The source (`from`) or destination key of a `ReEncrypt`: `resources[]`
/// lists the source and the destination key in that order (AWS's CloudTrail
/// example for ReEncrypt; one entry when both are the same key), else
/// `sourceKeyId` / `destinationKeyId`.
fn re_encrypt_key(e: &Record<'_>, from: bool) -> Option<String> {
    let mut keys = e.resources.iter().filter(|r| r.kind == "AWS::KMS::Key").filter_map(|r| r.arn.as_deref());
    let listed = if from { keys.next() } else { keys.next_back() };
    if let Some(k) = listed {
        return Some(k.to_string());
    }
    let p = e.parameters.as_ref()?;
    let k = text(p, &[if from { "sourceKeyId" } else { "destinationKeyId" }])?;
    kms_key_arn(k, e.region.as_deref().unwrap_or(""), e.account().unwrap_or(""))
}

/// Actions authorised on `*` (no resource type) that events commonly carry:
/// the fallback when no catalog is given (with one, its resource types decide).
fn wildcard_only(action: &str) -> bool {
    let (service, name) = split_action(action).unwrap_or(("", action));
    matches!(
        (service, name),
        ("s3", "ListAllMyBuckets")
            | (
                "iam",
                "ListUsers"
                    | "ListRoles"
                    | "ListPolicies"
                    | "ListGroups"
                    | "GetAccountSummary"
                    | "GetAccountPasswordPolicy"
                    | "ListAccountAliases"
                    | "GetAccountAuthorizationDetails"
                    | "CreateServiceLinkedRole"
            )
            | ("kms", "ListKeys" | "ListAliases" | "CreateKey")
            | ("sts", "GetAccessKeyInfo")
            | ("lambda", "ListFunctions")
            | ("dynamodb", "ListTables")
            | ("sqs", "ListQueues")
            | ("sns", "ListTopics")
            | ("cloudtrail", "DescribeTrails" | "LookupEvents")
            | ("organizations", "DescribeOrganization")
    ) || (service == "ec2" && name.starts_with("Describe"))
}

/// Converts one event.
///
/// # Errors
/// The reason the event yields no check.
pub fn to_checks<'a>(v: &'a Record<'_>) -> Result<EventChecks<'a>, SkipReason> {
    to_checks_with(v, None)
}

/// Converts one event; with a catalog, whether an action is authorised on
/// `*` alone comes from its resource types (actions the catalog does not know
/// fall back to the built-in list).
///
/// # Errors
/// The reason the event yields no check.
pub fn to_checks_with<'a>(
    v: &'a Record<'_>,
    catalog: Option<&crate::audit::catalog::Catalog>,
) -> Result<EventChecks<'a>, SkipReason> {
    let mut checks = to_checks_reusing(v, catalog, &mut Recycled::default())?;
    checks.principal_key = None;
    Ok(checks)
}

/// What one event's mapping leaves for the next: its emptied context and
/// check list, and the principals parsed so far. A replay maps millions of
/// events, and allocation was most of the mapping's cost.
///
/// A replay maps a batch of events before it decides them (see
/// `Replayer::replay_read`), so contexts and check lists are kept as pools
/// holding as many as were ever in flight at once.
#[derive(Default)]
pub(crate) struct Recycled {
    /// The context keys to fill (all unless the replay says).
    pub keys: ContextKeys,
    pub contexts: Vec<Context>,
    pub check_lists: Vec<Vec<Check>>,
    pub principals: PrincipalCache,
    pub actions: ActionCache,
}

impl Recycled {
    /// Takes back an event's context and check list once it is decided.
    pub(crate) fn put_back(&mut self, context: Context, mut checks: Vec<Check>) {
        checks.clear();
        self.contexts.push(context);
        self.check_lists.push(checks);
    }
}

/// Distinct (event source, event name) pairs kept by an [`ActionCache`]
/// before it starts over.
const ACTION_CACHE_LIMIT: usize = 4096;

/// The IAM actions earlier events mapped to, each with whether it is
/// authorised on `*` alone, by the event's source and name: a log repeats a
/// few hundred calls millions of times, and mapping one walks the source
/// and name tables and asks the catalog (≈ 250 instructions an event,
/// `benches/README.md`).
///
/// Found by a hash of the source, name and `versionId` flag, computed in
/// place; all three are kept and compared, so a collision is a miss, never
/// another call. The answers depend on the catalog: the replay
/// that owns the cache empties it when it is given another
/// ([`ActionCache::clear`]).
#[derive(Default)]
pub(crate) struct ActionCache {
    slots: rustc_hash::FxHashMap<u64, CachedActions>,
}

/// One call's mapping: its source, name and `versionId` flag (the key,
/// compared on every hit), and its actions, or why there are none.
struct CachedActions {
    source: Box<str>,
    name: Box<str>,
    has_version: bool,
    mapped: Result<SmallVec<[CachedAction; 1]>, Mapped>,
}

/// An IAM action and what the mapping asks of it for every event.
struct CachedAction {
    name: String,
    /// Authorised on `*` alone.
    star_only: bool,
    /// Some event of it may imply further checks ([`may_imply`]).
    may_imply: bool,
    /// Some event of it logs a condition key among its parameters
    /// ([`has_parameter_keys`]).
    parameter_keys: bool,
}

impl CachedActions {
    /// Whether this is the mapping of `source`/`name` with that `versionId` flag.
    fn is(&self, source: &str, name: &str, has_version: bool) -> bool {
        self.has_version == has_version && &*self.source == source && &*self.name == name
    }

    /// What `source`/`name` map to, as [`map_action`] and the catalog (or
    /// the built-in list) say.
    fn map(
        source: &str,
        name: &str,
        has_version: bool,
        catalog: Option<&crate::audit::catalog::Catalog>,
    ) -> CachedActions {
        let mapped = match map_action(source, name, has_version) {
            Mapped::Actions(a) => Ok(a
                .into_iter()
                .map(|name| CachedAction {
                    star_only: star_only(&name, catalog),
                    may_imply: may_imply(&name),
                    parameter_keys: has_parameter_keys(&name),
                    name,
                })
                .collect()),
            other => Err(other),
        };
        CachedActions { source: source.into(), name: name.into(), has_version, mapped }
    }
}

impl ActionCache {
    /// The actions `source`/`name` map to, with their `*`-only flag, as
    /// [`map_action`] and the catalog (or the built-in list) say.
    fn get(
        &mut self,
        source: &str,
        name: &str,
        has_version: bool,
        catalog: Option<&crate::audit::catalog::Catalog>,
    ) -> Result<&[CachedAction], SkipReason> {
        use std::collections::hash_map::Entry;
        use std::hash::{Hash, Hasher};
        let mut hasher = rustc_hash::FxHasher::default();
        (source, name, has_version).hash(&mut hasher);
        let hash = hasher.finish();
        if self.slots.len() >= ACTION_CACHE_LIMIT && !self.slots.contains_key(&hash) {
            self.slots.clear();
        }
        let mapped = || CachedActions::map(source, name, has_version, catalog);
        // One probe for a call seen before; a colliding pair takes the slot
        // over, so the next event of either maps afresh, never with the
        // other's actions.
        let cached = match self.slots.entry(hash) {
            Entry::Occupied(o) if o.get().is(source, name, has_version) => o.into_mut(),
            Entry::Occupied(mut o) => {
                o.insert(mapped());
                o.into_mut()
            }
            Entry::Vacant(v) => v.insert(mapped()),
        };
        match &cached.mapped {
            Ok(actions) => Ok(actions),
            Err(Mapped::NotPolicyControlled) => Err(SkipReason::NotPolicyControlled),
            Err(_) => Err(SkipReason::UnmappedAction(format!("{source} {name}"))),
        }
    }

    /// Forgets every mapping (the catalog changed).
    pub(crate) fn clear(&mut self) {
        self.slots.clear();
    }
}

/// Whether `action` is authorised on `*` alone: by its resource types in the
/// catalog, else by the built-in list.
fn star_only(action: &str, catalog: Option<&crate::audit::catalog::Catalog>) -> bool {
    catalog.and_then(|c| c.action(action).map(|id| c.is_wildcard_only(id))).unwrap_or_else(|| wildcard_only(action))
}

/// Distinct principals kept by a [`PrincipalCache`] before it starts over.
const PRINCIPAL_CACHE_LIMIT: usize = 4096;

/// The `userIdentity` fields [`identity_principal`] reads: two events with
/// the same ones have the same principal.
type IdentityFields<'a> = [Option<&'a str>; 4];

fn identity_fields<'a>(id: &'a Identity<'_>) -> IdentityFields<'a> {
    [id.kind.as_deref(), id.arn.as_deref(), id.issuer_arn(), id.invoked_by.as_deref()]
}

/// Principals parsed from earlier events, by the `userIdentity` fields they
/// were parsed from. An event takes its principal out and the replay puts it
/// back when done, so a principal is neither parsed nor copied again.
///
/// Found by a hash of the fields, computed in place (building a key text per
/// event and moving the entry out and back cost a replay ~700 instructions
/// an event); the fields are kept beside the principal and compared, so a
/// hash collision is a miss, never another principal.
#[derive(Default)]
pub(crate) struct PrincipalCache {
    slots: rustc_hash::FxHashMap<u64, CachedPrincipal>,
}

/// One cached principal: its identity fields, copies of the principal no
/// event holds, and the tag its user put back with it. A copy is parsed
/// only when none is idle, so there are never more than were once in
/// flight together (a replay maps up to a batch of events ahead).
struct CachedPrincipal {
    fields: [Option<Box<str>>; 4],
    idle: Vec<Principal>,
    tag: Option<u32>,
}

/// Where a principal taken from a [`PrincipalCache`] goes back, and a tag
/// its user keeps with it (a replay: the position of the principal's state,
/// so that the next event of the same caller finds it without a lookup).
/// The tag is `None` when the principal is new to the cache or was put back
/// without one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PrincipalKey {
    hash: u64,
    pub tag: Option<u32>,
}

impl PrincipalCache {
    /// The principal of event `e`, whose `userIdentity` is `id`, with the
    /// key to [`PrincipalCache::put_back`] it under (`None`: not to be kept).
    fn take(&mut self, e: &Record<'_>, id: &Identity<'_>) -> Result<(Principal, Option<PrincipalKey>), SkipReason> {
        use std::hash::{Hash, Hasher};
        let fields = identity_fields(id);
        // `Option` and `str` hash their tag and length: no two field lists
        // run together into the same input.
        let mut hasher = rustc_hash::FxHasher::default();
        fields.hash(&mut hasher);
        let hash = hasher.finish();
        match self.slots.get_mut(&hash) {
            Some(slot) if slot.fields.iter().map(Option::as_deref).eq(fields) => {
                let key = PrincipalKey { hash, tag: slot.tag };
                if let Some(principal) = slot.idle.pop() {
                    return Ok((principal, Some(key)));
                }
                Ok((identity_principal(e)?, Some(key)))
            }
            // Another identity with the same hash: parsed, not kept.
            Some(_) => Ok((identity_principal(e)?, None)),
            None => {
                let principal = identity_principal(e)?;
                if self.slots.len() >= PRINCIPAL_CACHE_LIMIT {
                    self.slots.clear();
                }
                let fields = fields.map(|f| f.map(Box::from));
                self.slots.insert(hash, CachedPrincipal { fields, idle: Vec::new(), tag: None });
                Ok((principal, Some(PrincipalKey { hash, tag: None })))
            }
        }
    }

    /// Returns a principal taken with [`PrincipalCache::take`], with the
    /// key's tag for the next event that takes it.
    pub(crate) fn put_back(&mut self, key: PrincipalKey, principal: Principal) {
        if let Some(slot) = self.slots.get_mut(&key.hash) {
            slot.idle.push(principal);
            slot.tag = key.tag;
        }
    }

    /// Principals kept.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.slots.len()
    }
}

/// [`to_checks_with`] into `recycled`'s buffers, with its principals.
pub(crate) fn to_checks_reusing<'a>(
    e: &'a Record<'_>,
    catalog: Option<&crate::audit::catalog::Catalog>,
    recycled: &mut Recycled,
) -> Result<EventChecks<'a>, SkipReason> {
    if !e.is_event() {
        return Err(SkipReason::NotAnEvent);
    }
    let event_type = e.event_type.as_deref().unwrap_or("AwsApiCall");
    if event_type != "AwsApiCall" {
        return Err(SkipReason::NotApiCall(event_type.to_string()));
    }
    // Read as absent it would be a success, and a denied call would count
    // as breakage (or a used permission) it is not.
    if e.error_code_malformed {
        return Err(SkipReason::MalformedEvent("`errorCode` is not a non-empty string"));
    }
    let (Some(source), Some(name)) = (e.source.as_deref(), e.name.as_deref()) else {
        return Err(SkipReason::UnmappedAction("an event without eventSource or eventName".to_string()));
    };
    let has_version = e.parameters.as_ref().and_then(|p| p.get("versionId")).is_some();
    let actions = recycled.actions.get(source, name, has_version, catalog)?;
    let id = e.identity.as_ref().ok_or(SkipReason::NoIdentity)?;
    let (principal, principal_key) = recycled.principals.take(e, id)?;
    let mut context = recycled.contexts.pop().unwrap_or_default();
    event_context(e, id, &principal, recycled.keys, &mut context);
    for a in actions.iter().filter(|a| a.parameter_keys) {
        parameter_keys(&a.name, e.parameters.as_ref(), &mut context);
    }
    // S3 data events put accountId on the bucket entry only; it owns the objects too.
    let resource_account = e.resources_account();
    let mut checks = recycled.check_lists.pop().unwrap_or_default();
    checks.clear();
    for CachedAction { name: action, star_only, may_imply, .. } in actions {
        let action = action.clone();
        let resources = match (*star_only, catalog) {
            (true, _) => Some((smallvec::smallvec!["*".to_string()], false)),
            (false, None) => resources_of(e, &action),
            (false, Some(c)) => resources_of(e, &action).or_else(|| {
                // The service reference's formats, filled from the event; a
                // required type it cannot fill stays an unknown resource.
                let derived = super::derive::derive(c, &action, &e.derive_view())?;
                let unknown = derived.contains(&None);
                let arns: Resources = derived.into_iter().flatten().collect();
                if unknown && !arns.is_empty() {
                    checks.push(Check {
                        action: action.clone(),
                        resource: None,
                        resource_account: None,
                        path_unknown: false,
                        key: None,
                    });
                }
                (!arns.is_empty()).then_some((arns, false))
            }),
        };
        let Some((list, path_unknown)) = resources else {
            checks.push(Check { action, resource: None, resource_account: None, path_unknown: false, key: None });
            continue;
        };
        let mut implied = SmallVec::new();
        if let Some(params) = e.parameters.as_ref().filter(|_| *may_imply) {
            implied_checks(&action, params, e.account().unwrap_or(""), &list, &mut implied);
        }
        let (mut action, last) = (action, list.len().saturating_sub(1));
        for (i, resource) in list.into_iter().enumerate() {
            // The last check on this action takes the name; the others copy it.
            let name = if i == last { std::mem::take(&mut action) } else { action.clone() };
            // resources[].accountId names the owner when the ARN does not (S3).
            let owner = e
                .resources
                .iter()
                .find(|r| r.arn.as_deref() == Some(resource.as_str()))
                .and_then(|r| r.account.as_deref());
            let resource_account = owner.or_else(|| resource_account.filter(|_| resource != "*")).map(str::to_string);
            checks.push(Check { action: name, resource: Some(resource), resource_account, path_unknown, key: None });
        }
        // An implied check's owner is its ARN's own account, if it names one.
        for Implied { action, resource, path_unknown, key } in implied {
            checks.push(Check {
                action: action.to_string(),
                resource: Some(resource),
                resource_account: None,
                path_unknown,
                key: key.map(|(k, v)| (k, std::borrow::Cow::Borrowed(v))),
            });
        }
    }
    if actions.iter().any(|a| a.parameter_keys) {
        resource_parameter_keys(e.parameters.as_ref(), &mut checks);
    }
    Ok(EventChecks {
        event_id: e.event_id.as_deref().unwrap_or(""),
        time: e.time.as_deref().unwrap_or(""),
        source,
        name,
        names_resources: e.parameters.as_ref().and_then(Json::as_object).is_some_and(|p| !p.is_empty())
            || !e.resources.is_empty(),
        principal,
        context,
        outcome: outcome_of(e),
        user_credentials: user_credentials(e),
        access_key: e.identity.as_ref().and_then(|i| i.access_key_id.as_deref()),
        checks,
        principal_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn rec(v: &Value) -> Record<'_> {
        Record::from_value(v)
    }

    /// An `errorCode` that is not a string cannot say the call succeeded:
    /// the event is malformed; `null` (exports write absent members so) is
    /// absent.
    #[test]
    fn error_codes_of_other_types_are_malformed_not_success() {
        let event = |code: Value| {
            let mut e = json!({"eventVersion":"1.08","eventType":"AwsApiCall","eventSource":"s3.amazonaws.com",
                "eventName":"ListBuckets","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"}});
            e["errorCode"] = code;
            e
        };
        for code in [json!(5), json!(true), json!(""), json!({"code": "AccessDenied"}), json!(["AccessDenied"])] {
            let got = to_checks(&rec(&event(code.clone()))).map(|c| c.outcome);
            assert_eq!(got, Err(SkipReason::MalformedEvent("`errorCode` is not a non-empty string")), "{code}");
            assert_eq!(SkipReason::MalformedEvent("").kind(), SkipKind::MalformedRecord);
        }
        assert_eq!(to_checks(&rec(&event(json!(null)))).map(|c| c.outcome), Ok(Outcome::Success));
        assert_eq!(to_checks(&rec(&event(json!("AccessDenied")))).map(|c| c.outcome), Ok(Outcome::AccessDenied));
    }

    #[test]
    fn s3_data_event() {
        let e = json!({"eventVersion":"1.08","eventType":"AwsApiCall","eventSource":"s3.amazonaws.com","eventName":"GetObject",
            "eventTime":"2021-07-28T10:00:00Z","awsRegion":"us-west-1","sourceIPAddress":"203.0.113.9","eventID":"e1",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/s1","accountId":"111122223333","accessKeyId":"ASIAX",
                "principalId":"AROAX:s1","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/team/app"},"attributes":{"mfaAuthenticated":"false","creationDate":"2021-07-28T09:00:00Z"}}},
            "requestParameters":{"bucketName":"b","key":"k"},
            "resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b","accountId":"444455556666"}],
            "errorCode":"AccessDenied"});
        let record = rec(&e);
        let c = to_checks(&record).unwrap();
        assert_eq!(c.outcome, Outcome::AccessDenied);
        assert_eq!(c.checks.len(), 1);
        let r = c.request(&c.checks[0]).unwrap();
        assert_eq!(r.resource, "arn:aws:s3:::b/k");
        assert_eq!(r.resource_account(), Some("444455556666"), "owner from resources[].accountId");
        assert_eq!(
            r.principal.principal_arn(),
            Some("arn:aws:iam::111122223333:role/team/app"),
            "role path from the issuer"
        );
        assert_eq!(r.lookup("aws:multifactorauthpresent"), Some(crate::engine::request::Value::Single("false")));
        assert_eq!(r.lookup("aws:sourceip"), Some(crate::engine::request::Value::Single("203.0.113.9")));
        assert_eq!(r.lookup("aws:principaltag/team"), Some(crate::engine::request::Value::Unknown));
    }

    /// A principal comes from the cache only for the same identity fields:
    /// the same session ARN with another issuer is another principal.
    #[test]
    fn cached_principals_match_their_identity_fields() {
        let event = |arn: &str, issuer: &str| {
            json!({"eventSource":"s3.amazonaws.com","eventName":"ListBuckets","userIdentity":{"type":"AssumedRole","arn":arn,
                "sessionContext":{"sessionIssuer":{"arn":issuer}}}})
        };
        let session = "arn:aws:sts::111122223333:assumed-role/app/s1";
        let (a, b) = (
            event(session, "arn:aws:iam::111122223333:role/team/app"),
            event(session, "arn:aws:iam::111122223333:role/app"),
        );
        let mut recycled = Recycled::default();
        let mut role_of = |v: &Value| {
            let record = rec(v);
            let c = to_checks_reusing(&record, None, &mut recycled).unwrap();
            let role = c.principal.principal_arn().map(str::to_string);
            assert_eq!(Some(c.principal.clone()), to_checks(&rec(v)).ok().map(|d| d.principal), "as parsed afresh");
            if let Some(key) = c.principal_key {
                recycled.principals.put_back(key, c.principal);
            }
            role
        };
        for _ in 0..2 {
            assert_eq!(role_of(&a).as_deref(), Some("arn:aws:iam::111122223333:role/team/app"));
            assert_eq!(role_of(&b).as_deref(), Some("arn:aws:iam::111122223333:role/app"));
        }
        assert_eq!(recycled.principals.len(), 2);
        // Joined with a separator these two would be one key (the NUL moves
        // from one field to the next); they are two identities.
        let x = event(&format!("{session}\0P"), "arn:aws:iam::111122223333:role/app");
        let y = event(session, "P\0arn:aws:iam::111122223333:role/app");
        for v in [&x, &y, &x] {
            let fresh = to_checks(&rec(v)).map(|c| c.principal);
            let record = rec(v);
            let cached = to_checks_reusing(&record, None, &mut recycled).map(|c| {
                let p = c.principal.clone();
                if let Some(key) = c.principal_key {
                    recycled.principals.put_back(key, c.principal);
                }
                p
            });
            assert_eq!(cached, fresh);
        }
    }

    #[test]
    fn iam_calls_are_checked_on_the_entity_not_the_policy() {
        let user = json!({"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"});
        let attach = json!({"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","recipientAccountId":"111122223333","userIdentity":user,
            "requestParameters":{"userName":"bob","policyArn":"arn:aws:iam::aws:policy/IAMFullAccess"}});
        let record = rec(&attach);
        let c = to_checks(&record).unwrap();
        let r = c.request(&c.checks[0]).unwrap();
        assert_eq!(r.resource, "arn:aws:iam::111122223333:user/bob");
        let get = json!({"eventSource":"iam.amazonaws.com","eventName":"GetPolicy","recipientAccountId":"111122223333","userIdentity":user,
            "requestParameters":{"policyArn":"arn:aws:iam::111122223333:policy/P"}});
        assert_eq!(
            to_checks(&rec(&get)).unwrap().checks[0].resource.as_deref().unwrap(),
            "arn:aws:iam::111122223333:policy/P"
        );
    }

    /// Calls naming a user and a group act on the group, instance-profile
    /// calls on the profile (the role added also needs iam:PassRole), as the
    /// Service Authorization Reference and the IAM API reference say.
    #[test]
    fn iam_calls_naming_two_entities_are_checked_on_the_one_the_reference_names() {
        let user =
            json!({"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/ops/admin","accountId":"111122223333"});
        let checks = |name: &str, params: Value| -> Vec<(String, String, bool)> {
            let e = json!({"eventSource":"iam.amazonaws.com","eventName":name,"recipientAccountId":"111122223333",
                "userIdentity":user,"requestParameters":params});
            let checks = to_checks(&rec(&e)).unwrap().checks;
            checks.into_iter().map(|c| (c.action, c.resource.unwrap(), c.path_unknown)).collect()
        };
        let one = |a: &str, r: &str, unknown: bool| (a.to_string(), format!("arn:aws:iam::111122223333:{r}"), unknown);
        assert_eq!(
            checks("AddUserToGroup", json!({"userName":"bob","groupName":"admins"})),
            [one("iam:AddUserToGroup", "group/admins", true)]
        );
        assert_eq!(
            checks("RemoveUserFromGroup", json!({"groupName":"admins","userName":"bob"})),
            [one("iam:RemoveUserFromGroup", "group/admins", true)]
        );
        assert_eq!(
            checks("AddRoleToInstanceProfile", json!({"instanceProfileName":"node","roleName":"node-role"})),
            [
                one("iam:AddRoleToInstanceProfile", "instance-profile/node", true),
                one("iam:PassRole", "role/node-role", true)
            ]
        );
        assert_eq!(
            checks("RemoveRoleFromInstanceProfile", json!({"instanceProfileName":"node","roleName":"node-role"})),
            [one("iam:RemoveRoleFromInstanceProfile", "instance-profile/node", true)]
        );
        assert_eq!(
            checks("CreateInstanceProfile", json!({"instanceProfileName":"node","path":"/eks/"})),
            [one("iam:CreateInstanceProfile", "instance-profile/eks/node", false)]
        );
        // Without a user name these act on the calling user (path included).
        for name in ["GetUser", "ListAccessKeys", "ChangePassword"] {
            assert_eq!(checks(name, Value::Null), [one(&format!("iam:{name}"), "user/ops/admin", false)], "{name}");
        }
        assert_eq!(checks("GetUser", json!({"userName":"bob"})), [one("iam:GetUser", "user/bob", true)]);
        // Calls on one entity keep it; ListGroupsForUser acts on the user.
        assert_eq!(
            checks("ListGroupsForUser", json!({"userName":"bob"})),
            [one("iam:ListGroupsForUser", "user/bob", true)]
        );
        assert_eq!(checks("GetGroup", json!({"groupName":"admins"})), [one("iam:GetGroup", "group/admins", true)]);
    }

    /// API Gateway calls are the HTTP method on the path they address.
    #[test]
    fn api_gateway_calls_are_methods_on_paths() {
        let check = |name: &str, params: Value| -> Vec<(String, Option<String>)> {
            let e = json!({"eventSource":"apigateway.amazonaws.com","eventName":name,"awsRegion":"us-east-1","recipientAccountId":"111122223333",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
                "requestParameters":params});
            let checks = to_checks(&rec(&e)).unwrap().checks;
            checks.into_iter().map(|c| (c.action, c.resource)).collect()
        };
        let on = |a: &str, path: &str| (a.to_string(), Some(format!("arn:aws:apigateway:us-east-1::{path}")));
        assert_eq!(
            check("GetResource", json!({"restApiId":"3rb","resourceId":"5tf","template":false})),
            [on("apigateway:GET", "/restapis/3rb/resources/5tf")]
        );
        assert_eq!(check("GetRestApis", json!({"limit":25})), [on("apigateway:GET", "/restapis")]);
        assert_eq!(
            check("PutMethod", json!({"restApiId":"a","resourceId":"r","httpMethod":"POST"})),
            [on("apigateway:PUT", "/restapis/a/resources/r/methods/POST")]
        );
        // A path parameter missing from the log: the resource is not guessed.
        assert_eq!(check("GetStage", json!({"restApiId":"a"})), [("apigateway:GET".to_string(), None)]);
    }

    /// Calls on several instances log them as `instancesSet.items[]` (or
    /// `item[]`): one check per instance.
    #[test]
    fn ec2_instance_sets_give_one_check_per_instance() {
        let checks = |name: &str, set: Value| -> Vec<String> {
            let e = json!({"eventSource":"ec2.amazonaws.com","eventName":name,"awsRegion":"us-east-1","recipientAccountId":"111122223333",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
                "requestParameters":{"instancesSet":set}});
            let checks = to_checks(&rec(&e)).unwrap().checks;
            checks.into_iter().filter_map(|c| c.resource).collect()
        };
        let arn = |id: &str| format!("arn:aws:ec2:us-east-1:111122223333:instance/{id}");
        assert_eq!(
            checks("TerminateInstances", json!({"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]})),
            [arn("i-1"), arn("i-2")]
        );
        assert_eq!(checks("StopInstances", json!({"item":[{"instanceId":"i-3"}]})), [arn("i-3")]);
        // Describe calls take no resource: the set does not change that.
        assert_eq!(checks("DescribeClassicLinkInstances", json!({"item":[{"instanceId":"i-3"}]})), ["*"]);
    }

    /// Session tags become request tags; the list is complete, so other tag
    /// keys are absent; a list that cannot be read whole stays unknown.
    #[test]
    fn sts_and_iam_tags_are_request_tags() {
        let assume = |tags: Value| {
            json!({"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","recipientAccountId":"111122223333",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
                "requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/r","roleSessionName":"s","tags":tags,
                    "transitiveTagKeys":["Project"]}})
        };
        let e = assume(json!([{"key":"Project","value":"blue"},{"key":"Team","value":"red"}]));
        let record = rec(&e);
        let c = to_checks(&record).unwrap();
        let actions: Vec<&str> = c.checks.iter().map(|k| k.action.as_str()).collect();
        assert_eq!(actions, ["sts:AssumeRole", "sts:TagSession"]);
        let r = c.request(&c.checks[1]).unwrap();
        assert_eq!(r.lookup("aws:requesttag/project"), Some(crate::engine::request::Value::Single("blue")));
        let keys = ["Project".to_string(), "Team".to_string()];
        assert_eq!(r.lookup("aws:tagkeys"), Some(crate::engine::request::Value::Multi(&keys)));
        assert_eq!(r.lookup("sts:transitivetagkeys"), Some(crate::engine::request::Value::Multi(&keys[..1])));
        assert_eq!(r.lookup("aws:requesttag/cost-center"), None, "the list is complete");
        for unreadable in [json!([{"key":"A","value":"1"},{"key":"a","value":"2"}]), json!([{"key":"A"}]), json!("x")] {
            let e = assume(unreadable.clone());
            let record = rec(&e);
            let c = to_checks(&record).unwrap();
            let r = c.request(&c.checks[0]).unwrap();
            assert_eq!(r.lookup("aws:requesttag/a"), Some(crate::engine::request::Value::Unknown), "{unreadable}");
            assert_eq!(r.lookup("aws:tagkeys"), Some(crate::engine::request::Value::Unknown), "{unreadable}");
        }
    }

    /// A KMS call's logged encryption context is the request's, whole: each
    /// pair a `kms:EncryptionContext:` key, the names `kms:EncryptionContextKeys`,
    /// any other pair absent. A context this cannot read whole, none logged,
    /// or a call with two contexts (ReEncrypt) leaves them unknown.
    #[test]
    fn kms_encryption_context_is_the_requests() {
        use crate::engine::request::Value as V;
        let event = |name: &str, params: Value| {
            json!({"eventSource":"kms.amazonaws.com","eventName":name,"awsRegion":"us-east-1","recipientAccountId":"111122223333",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
                "requestParameters":params,
                "resources":[{"ARN":"arn:aws:kms:us-east-1:111122223333:key/k","type":"AWS::KMS::Key"}]})
        };
        let bucket = "arn:aws:s3:::b";
        let decrypt = event("Decrypt", json!({"encryptionContext":{"aws:s3:arn":bucket,"Team":"red"}}));
        let record = rec(&decrypt);
        let c = to_checks(&record).unwrap();
        let r = c.request(&c.checks[0]).unwrap();
        assert_eq!(r.lookup("kms:encryptioncontext:aws:s3:arn"), Some(V::Single(bucket)));
        let keys = ["aws:s3:arn".to_string(), "Team".to_string()];
        assert_eq!(r.lookup("kms:encryptioncontextkeys"), Some(V::Multi(&keys)));
        assert_eq!(r.lookup("kms:encryptioncontext:department"), None, "the context is whole");
        for unreadable in [
            event("Decrypt", json!({"encryptionContext":{"A":"1","a":"2"}})),
            event("Decrypt", json!({"encryptionContext":{"A":1}})),
            event("Decrypt", json!({"encryptionAlgorithm":"SYMMETRIC_DEFAULT"})),
            event("ReEncrypt", json!({"sourceEncryptionContext":{"A":"1"},"destinationKeyId":"k"})),
        ] {
            let record = rec(&unreadable);
            let c = to_checks(&record).unwrap();
            let r = c.request(&c.checks[0]).unwrap();
            assert_eq!(r.lookup("kms:encryptioncontext:a"), Some(V::Unknown), "{unreadable}");
            assert_eq!(r.lookup("kms:encryptioncontextkeys"), Some(V::Unknown), "{unreadable}");
        }
    }

    /// The keys a call logs among its own parameters are the request's:
    /// the policy an `Attach*Policy` attaches, a new role's boundary, the
    /// layers a function loads. A member the log lacks, or cannot give
    /// whole, leaves its key unknown; another action's member is not read.
    #[test]
    fn keys_logged_as_parameters_are_the_requests() {
        use crate::engine::request::ContextEntry as E;
        let event = |source: &str, name: &str, params: Value| {
            json!({"eventSource":source,"eventName":name,"awsRegion":"us-east-1","recipientAccountId":"111122223333",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
                "requestParameters":params})
        };
        // The event's context, open-world: a key it does not give is unknown.
        let lookup = |e: &Value, key: &str| -> String {
            let record = rec(e);
            let c = to_checks(&record).unwrap();
            assert!(c.context.is_open_world());
            format!("{:?}", c.context.get(key))
        };
        let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
        let attach = event("iam.amazonaws.com", "AttachRolePolicy", json!({"roleName":"r","policyArn":admin}));
        assert_eq!(lookup(&attach, "iam:PolicyARN"), format!("{:?}", Some(E::Single(admin))));
        let boundary = "arn:aws:iam::111122223333:policy/boundary";
        let create = event("iam.amazonaws.com", "CreateRole", json!({"roleName":"r","permissionsBoundary":boundary}));
        assert_eq!(lookup(&create, "iam:PermissionsBoundary"), format!("{:?}", Some(E::Single(boundary))));
        let layers = ["arn:aws:lambda:us-east-1:999999999999:layer:x:1".to_string()];
        let update = event(
            "lambda.amazonaws.com",
            "UpdateFunctionConfiguration20150331v2",
            json!({"functionName":"f","layers":layers}),
        );
        assert_eq!(lookup(&update, "lambda:Layer"), format!("{:?}", Some(E::Multi(&layers))));
        let absent = format!("{:?}", Some(E::Absent));
        let single = |v: &str| format!("{:?}", Some(E::Single(v)));
        let list = event(
            "s3.amazonaws.com",
            "ListObjects",
            json!({"bucketName":"b","prefix":"","delimiter":"/","max-keys":"100"}),
        );
        let put = event(
            "s3.amazonaws.com",
            "PutObject",
            json!({"bucketName":"b","key":"k","x-amz-server-side-encryption":"aws:kms","x-amz-acl":"private"}),
        );
        for (e, key, expected) in [
            // A listing's prefix, delimiter and page size, an empty prefix included.
            (list.clone(), "s3:prefix", &*single("")),
            (list.clone(), "s3:delimiter", &single("/")),
            (list, "s3:max-keys", &single("100")),
            // An upload's encryption and ACL headers; one the log lacks stays unknown.
            (put.clone(), "s3:x-amz-server-side-encryption", &single("aws:kms")),
            (put.clone(), "s3:x-amz-acl", &single("private")),
            (put, "s3:x-amz-server-side-encryption-aws-kms-key-id", "None"),
            // An optional member the logged call did not send: the key is absent.
            (event("iam.amazonaws.com", "CreateRole", json!({"roleName":"r"})), "iam:PermissionsBoundary", &absent),
            (event("iam.amazonaws.com", "CreateUser", json!({"userName":"u"})), "iam:PermissionsBoundary", &absent),
            (
                event("lambda.amazonaws.com", "CreateFunction20150331", json!({"functionName":"f"})),
                "lambda:Layer",
                &absent,
            ),
            (event("s3.amazonaws.com", "ListObjects", json!({"bucketName":"b"})), "s3:prefix", &absent),
            (
                event("s3.amazonaws.com", "ListObjectVersions", json!({"bucketName":"b","versions":""})),
                "s3:delimiter",
                &absent,
            ),
            // Unknown: a value that is not a string or strings, a required or
            // ambiguous member missing, parameters that are not the logged
            // call's (no bucket name), no parameters, another action's key.
            (
                event("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", json!({"layers":["a", 1]})),
                "lambda:Layer",
                "None",
            ),
            (
                event("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", json!({"functionName":"f"})),
                "lambda:Layer",
                "None",
            ),
            (event("iam.amazonaws.com", "AttachRolePolicy", json!({"roleName":"r"})), "iam:PolicyARN", "None"),
            (event("iam.amazonaws.com", "CreateRole", json!({"description":"d"})), "iam:PermissionsBoundary", "None"),
            (event("s3.amazonaws.com", "ListObjects", json!({"Host":"b.s3.amazonaws.com"})), "s3:prefix", "None"),
            (event("s3.amazonaws.com", "ListObjects", Value::Null), "s3:prefix", "None"),
            (event("s3.amazonaws.com", "GetObject", json!({"bucketName":"b","key":"k"})), "s3:prefix", "None"),
            (
                event("iam.amazonaws.com", "PutRolePolicy", json!({"roleName":"r","policyArn":admin})),
                "iam:PolicyARN",
                "None",
            ),
        ] {
            assert_eq!(lookup(&e, key), expected, "{e}");
        }
    }

    /// ReEncrypt is kms:ReEncryptFrom on the source key and kms:ReEncryptTo
    /// on the destination key (AWS's example lists them in that order).
    #[test]
    fn re_encrypt_checks_both_keys() {
        let key = |id: &str| format!("arn:aws:kms:us-west-2:111122223333:key/{id}");
        let event = |resources: Value| {
            json!({"eventSource":"kms.amazonaws.com","eventName":"ReEncrypt","awsRegion":"us-west-2","recipientAccountId":"111122223333",
                "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
                "requestParameters":{"destinationKeyId":"dst-id","sourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT"},
                "resources":resources})
        };
        let checks = |e: &Value| -> Vec<(String, Option<String>)> {
            let checks = to_checks(&rec(e)).unwrap().checks;
            checks.into_iter().map(|c| (c.action, c.resource)).collect()
        };
        let both = event(json!([{"type":"AWS::KMS::Key","ARN":key("src")},{"type":"AWS::KMS::Key","ARN":key("dst")}]));
        assert_eq!(
            checks(&both),
            [("kms:ReEncryptFrom".to_string(), Some(key("src"))), ("kms:ReEncryptTo".to_string(), Some(key("dst")))]
        );
        // Without resources[]: the destination from its parameter; the source
        // (inside the ciphertext) is not known.
        assert_eq!(
            checks(&event(json!([]))),
            [("kms:ReEncryptFrom".to_string(), None), ("kms:ReEncryptTo".to_string(), Some(key("dst-id")))]
        );
    }

    /// AttachVolume is authorised on the instance and on the volume.
    #[test]
    fn ec2_calls_are_checked_on_every_resource_they_name() {
        let attach = json!({"eventSource":"ec2.amazonaws.com","eventName":"AttachVolume","awsRegion":"us-west-2","recipientAccountId":"111122223333",
            "userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accountId":"111122223333"},
            "requestParameters":{"instanceId":"i-1","volumeId":"vol-1","device":"/dev/sdf"}});
        let record = rec(&attach);
        let c = to_checks(&record).unwrap();
        let checks: Vec<(&str, Option<&str>)> =
            c.checks.iter().map(|k| (k.action.as_str(), k.resource.as_deref())).collect();
        assert_eq!(
            checks,
            [
                ("ec2:AttachVolume", Some("arn:aws:ec2:us-west-2:111122223333:instance/i-1")),
                ("ec2:AttachVolume", Some("arn:aws:ec2:us-west-2:111122223333:volume/vol-1")),
            ]
        );
    }

    /// An IAM user's credentials from its access key and the console flag;
    /// they reach the requests the checks make.
    #[test]
    fn user_credentials_come_from_the_access_key() {
        let event = |key: Option<&str>, console: bool, denied: bool| {
            let mut id =
                json!({"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a", "accountId": "111122223333"});
            if let Some(k) = key {
                id["accessKeyId"] = k.into();
            }
            let mut e = json!({"eventSource": "iam.amazonaws.com", "eventName": "ListUsers", "userIdentity": id});
            if console {
                e["sessionCredentialFromConsole"] = "true".into();
            }
            if denied {
                e["errorCode"] = "AccessDenied".into();
            }
            e
        };
        let cases = [
            (Some("AKIAEXAMPLE"), false, false, UserCredentials::Unlimited),
            (Some("ASIAEXAMPLE"), true, false, UserCredentials::Unlimited),
            (Some("ASIAEXAMPLE"), false, false, UserCredentials::SessionToken),
            (Some("ASIAEXAMPLE"), false, true, UserCredentials::SessionToken),
            // No key: a success shows the credentials were not refused.
            (None, false, false, UserCredentials::Unlimited),
            (None, false, true, UserCredentials::Unknown),
        ];
        for (key, console, denied, want) in cases {
            let e = event(key, console, denied);
            let record = rec(&e);
            let c = to_checks(&record).unwrap();
            assert_eq!(c.user_credentials, want, "{key:?} console {console}");
            assert_eq!(c.request(&c.checks[0]).unwrap().user_credentials, want);
        }
    }

    #[test]
    fn skips_and_unknown_resources() {
        assert_eq!(
            to_checks(&rec(
                &json!({"eventType":"AwsConsoleSignIn","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin"})
            )),
            Err(SkipReason::NotApiCall("AwsConsoleSignIn".into()))
        );
        assert_eq!(
            to_checks(&rec(
                &json!({"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}})
            )),
            Err(SkipReason::NotPolicyControlled)
        );
        assert_eq!(
            to_checks(&rec(
                &json!({"eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{"type":"AWSAccount","accountId":"1"}})
            )),
            Err(SkipReason::UnmodelledPrincipal("AWSAccount".into()))
        );
        let vpc = json!({"eventSource":"ec2.amazonaws.com","eventName":"CreateVpc","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accessKeyId":"AKIAX"}});
        let record = rec(&vpc);
        let c = to_checks(&record).unwrap();
        assert_eq!(
            c.checks,
            vec![Check {
                action: "ec2:CreateVpc".into(),
                resource: None,
                resource_account: None,
                path_unknown: false,
                key: None
            }],
            "resource not derivable: indeterminate, not guessed"
        );
        let describe = json!({"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accessKeyId":"AKIAX"}});
        let record = rec(&describe);
        let c = to_checks(&record).unwrap();
        let r = c.request(&c.checks[0]).unwrap();
        assert_eq!(r.resource, "*");
        assert_eq!(r.lookup("aws:multifactorauthpresent"), None, "long-term keys: MFA key absent");
    }
}
