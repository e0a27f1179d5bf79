//! The decision rules both evaluators share, written once:
//!
//! * [`condition_result`]: missing keys, `IfExists`, set qualifiers and negation
//!   over a per-value match function (semantics doc §5.1, §5.3, §5.4);
//! * [`combine`]: statement hits → decision (§7.2–7.5): explicit deny anywhere,
//!   RCP and SCP guardrails level by level, then the same-account or
//!   cross-account grant with boundary and session limits.
//!
//! The two evaluators differ in how they find hits (naive interpretation vs
//! compiled automata); that is what differential testing compares.

use super::decision::{DecisionKind, Hit, KeyNotes, Outcome, PrincipalClass};
use crate::engine::policy::{Effect, Layer, Operator, SetQualifier, Shape, StatementRef};
use crate::engine::request::{Principal, Request, Tri, UserCredentials, Value};
use smallvec::SmallVec;

/// Evaluates one condition given the request value and `matches`, which says
/// whether one request value matches any of the policy values under the
/// *positive* form of the operator (`None` = the request value does not parse
/// as the operator's type). `Null` is handled by the caller.
///
/// * Absent key: `IfExists` ⇒ true; `ForAllValues` ⇒ true; `ForAnyValue` ⇒ false;
///   otherwise negated operators ⇒ true, positive ⇒ false (§5.3).
/// * Unknown value ⇒ unknown (§5.5).
/// * Unqualified operator on a multi-valued value ⇒ false (Appendix A-4).
/// * A request value of the wrong type ⇒ false, negated or not (Appendix A-5).
pub fn condition_result(op: &Operator, value: Option<Value<'_>>, mut matches: impl FnMut(&str) -> Option<Tri>) -> Tri {
    let negated = op.base.negated;
    let mut one = |v: &str| match matches(v) {
        None => Tri::False,
        Some(t) if negated => t.not(),
        Some(t) => t,
    };
    match value {
        None => Tri::from_bool(match op.qualifier {
            _ if op.if_exists => true,
            Some(SetQualifier::ForAllValues) => true,
            Some(SetQualifier::ForAnyValue) => false,
            None => negated,
        }),
        Some(Value::Unknown) => Tri::Unknown,
        // A set operator on an empty string reads "a null data set": ForAllValues
        // is true, ForAnyValue false, negated operators included
        // (<https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html>,
        // §5.4). A list holding an empty string stays a one-element set: the
        // page names the string, and reading `[""]` as null would lift a
        // `ForAnyValue:…Not…` Deny.
        Some(Value::Single("")) if op.qualifier.is_some() => {
            Tri::from_bool(op.qualifier == Some(SetQualifier::ForAllValues))
        }
        Some(Value::Single(v)) => one(v),
        Some(Value::Multi(vs)) => match op.qualifier {
            None => Tri::False,
            Some(SetQualifier::ForAnyValue) => vs.iter().fold(Tri::False, |acc, v| acc.or(one(v))),
            Some(SetQualifier::ForAllValues) => vs.iter().fold(Tri::True, |acc, v| acc.and(one(v))),
        },
    }
}

/// `Null`: policy value `true` ⇒ key absent or empty; `false` ⇒ present and
/// non-empty (§5.3, Appendix A-11). Values are OR-ed.
pub fn null_result(want_null: impl Iterator<Item = bool>, value: Option<Value<'_>>) -> Tri {
    let is_null = match value {
        None => true,
        Some(Value::Unknown) => return Tri::Unknown,
        Some(Value::Single(s)) => s.is_empty(),
        Some(Value::Multi(m)) => m.is_empty(),
    };
    let mut any = false;
    for w in want_null {
        any |= w == is_null;
    }
    Tri::from_bool(any)
}

/// The decision before any policy is read: refused credentials deny
/// ([`CREDENTIAL_RULES`]); an action no policy authorises is allowed, or
/// indeterminate when its caller's credentials may be refused.
fn refused_or_free(refused: Tri, facts: &ActionFacts) -> Option<DecisionKind> {
    match refused {
        Tri::True => Some(DecisionKind::ImplicitDeny),
        Tri::Unknown if facts.authorization_free => Some(DecisionKind::Indeterminate),
        _ => facts.authorization_free.then_some(DecisionKind::Allowed),
    }
}

/// The calls the bucket owner's root user makes whatever the bucket policy says.
const BUCKET_POLICY_ACTIONS: &[&str] = &["s3:getbucketpolicy", "s3:putbucketpolicy", "s3:deletebucketpolicy"];

/// Actions that are not authorised by policies at all (§7.3 step 0).
const AUTHORIZATION_FREE: &[&str] = &["sts:getcalleridentity", "sts:getsessiontoken"];

/// Services whose resources RCPs govern (§7.2; data, extend as AWS adds services).
const RCP_SERVICES: &[&str] = &["s3", "sts", "kms", "sqs", "secretsmanager", "ecr", "aoss", "cognito-idp", "logs"];

/// Actions a role trust policy governs (§7.4).
const TRUST_ACTIONS: &[&str] = &[
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
    "sts:setcontext",
];

/// Callers whose credentials may not call an action, whatever the policies
/// say: one row per rule AWS documents, each with its page. Actions are
/// lower-cased, `service:*` for a whole service; `except` lists the
/// service's actions the row leaves callable.
pub const CREDENTIAL_RULES: &[CredentialRule] = &[
    CredentialRule {
        callers: Callers::FEDERATED,
        actions: &["iam:*"],
        except: &[],
        why: "a federated-user session (GetFederationToken) cannot call IAM",
        page: "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html",
    },
    CredentialRule {
        callers: Callers::FEDERATED,
        actions: &["sts:*"],
        except: &["sts:getcalleridentity"],
        why: "a federated-user session cannot call STS, except GetCallerIdentity",
        page: "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetFederationToken.html",
    },
    CredentialRule {
        callers: Callers::SESSION_TOKEN_USER,
        actions: &["sts:*"],
        except: &["sts:assumerole", "sts:getcalleridentity"],
        why: "GetSessionToken credentials cannot call STS, except AssumeRole and GetCallerIdentity",
        page: "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html",
    },
    CredentialRule {
        callers: Callers::SESSION_TOKEN_USER_WITHOUT_MFA,
        actions: &["iam:*"],
        except: &[],
        why: "GetSessionToken credentials cannot call IAM unless MFA information was included",
        page: "https://docs.aws.amazon.com/STS/latest/APIReference/API_GetSessionToken.html",
    },
    CredentialRule {
        callers: Callers::ROLE_SESSION,
        actions: &["sts:getfederationtoken", "sts:getsessiontoken"],
        except: &[],
        why: "a role session cannot call GetFederationToken or GetSessionToken (only IAM users and the root user can)",
        page: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_request.html#stsapi_comparison",
    },
    CredentialRule {
        callers: Callers::ROOT,
        actions: &["sts:assumerole"],
        except: &[],
        why: "the root user cannot assume a role",
        page: "https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use.html",
    },
];

/// One row of [`CREDENTIAL_RULES`].
#[derive(Debug)]
pub struct CredentialRule {
    /// Whose credentials.
    pub callers: Callers,
    /// The actions they cannot call (lower-cased; `service:*` for a service).
    pub actions: &'static [&'static str],
    /// Actions of those services they still can.
    pub except: &'static [&'static str],
    /// The rule, in words.
    pub why: &'static str,
    /// Where AWS states it.
    pub page: &'static str,
}

/// The service prefix of an action (`s3` of `s3:GetObject`; the whole text
/// when it has no colon).
fn service_of(action: &str) -> &str {
    crate::engine::policy::split_action(action).map_or(action, |(s, _)| s)
}

impl CredentialRule {
    /// Whether the rule names `action` (lower-case or not).
    fn covers(&self, action: &str) -> bool {
        let service = service_of(action);
        let listed = |list: &[&str]| {
            list.iter().any(|a| match a.strip_suffix(":*") {
                Some(svc) => svc.eq_ignore_ascii_case(service),
                None => a.eq_ignore_ascii_case(action),
            })
        };
        listed(self.actions) && !listed(self.except)
    }
}

/// Kinds of caller credentials, as a set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Callers(u8);

impl Callers {
    /// The root user.
    pub const ROOT: Callers = Callers(1);
    /// A federated-user session (GetFederationToken).
    pub const FEDERATED: Callers = Callers(2);
    /// A role session.
    pub const ROLE_SESSION: Callers = Callers(4);
    /// An IAM user's temporary credentials from GetSessionToken
    /// ([`UserCredentials::SessionToken`]).
    pub const SESSION_TOKEN_USER: Callers = Callers(8);
    /// [`Callers::SESSION_TOKEN_USER`] without `aws:MultiFactorAuthPresent` true.
    pub const SESSION_TOKEN_USER_WITHOUT_MFA: Callers = Callers(16);

    fn with(self, other: Callers) -> Callers {
        Callers(self.0 | other.0)
    }

    fn has(self, other: Callers) -> bool {
        self.0 & other.0 != 0
    }
}

/// The rule of [`CREDENTIAL_RULES`] that refuses `req` outright (its
/// credentials may not call its action), for explaining an implicit deny
/// that no policy caused; `None` when none surely does.
pub fn credential_refusal(req: &Request) -> Option<&'static CredentialRule> {
    CREDENTIAL_RULES.iter().find(|r| r.covers(&req.action) && refused_by(r.callers, req) == Tri::True)
}

/// Whether `req`'s credentials are among `callers`: unknown for an IAM
/// user whose credential type (or MFA) the request leaves unknown.
pub(in crate::engine) fn refused_by(callers: Callers, req: &Request) -> Tri {
    if callers == Callers::default() {
        return Tri::False;
    }
    match &req.principal {
        Principal::Root { .. } => Tri::from_bool(callers.has(Callers::ROOT)),
        Principal::FederatedUser { .. } => Tri::from_bool(callers.has(Callers::FEDERATED)),
        Principal::RoleSession { .. } => Tri::from_bool(callers.has(Callers::ROLE_SESSION)),
        Principal::User { .. } => {
            let session_token = match req.user_credentials {
                UserCredentials::Unlimited => Tri::False,
                UserCredentials::SessionToken => Tri::True,
                UserCredentials::Unknown => Tri::Unknown,
            };
            let without_mfa = match req.lookup("aws:multifactorauthpresent") {
                Some(Value::Single(v)) => Tri::from_bool(!v.eq_ignore_ascii_case("true")),
                Some(Value::Unknown) => Tri::Unknown,
                _ => Tri::True,
            };
            let plain = Tri::from_bool(callers.has(Callers::SESSION_TOKEN_USER));
            let no_mfa = Tri::from_bool(callers.has(Callers::SESSION_TOKEN_USER_WITHOUT_MFA)).and(without_mfa);
            session_token.and(plain.or(no_mfa))
        }
        Principal::Service { .. } | Principal::Anonymous => Tri::False,
    }
}

/// What the decision rules need to know about an action; depends on the
/// action name only, so the compiled engine computes it once per distinct action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActionFacts {
    /// Callers whose credentials may not call it ([`CREDENTIAL_RULES`]).
    pub refused: Callers,
    /// Not authorised by policies (`sts:GetCallerIdentity`, `sts:GetSessionToken`).
    pub authorization_free: bool,
    /// A KMS action: the key policy must delegate to the account.
    pub kms: bool,
    /// A role trust action (`sts:AssumeRole`…).
    pub trust: bool,
    /// Its service is governed by RCPs.
    pub rcp_service: bool,
    /// `s3:GetBucketPolicy`, `s3:PutBucketPolicy` or `s3:DeleteBucketPolicy`.
    pub bucket_policy: bool,
    /// `kms:RetireGrant`, which RCPs do not restrict.
    pub retire_grant: bool,
}

/// Whether a request is on a KMS key, where identity policies count only if
/// the key policy delegates to the account (§7.4). Key policies govern keys
/// only: aliases (and `*`) are controlled by IAM policies alone.
pub fn on_kms_key(facts: &ActionFacts, resource: &str) -> bool {
    facts.kms && names_kms_key(resource)
}

/// Whether `action` is a KMS action ([`ActionFacts::kms`]), without working
/// out its other facts (a replay asks this of every allowed check).
pub(in crate::engine) fn is_kms_action(action: &str) -> bool {
    service_of(action).eq_ignore_ascii_case("kms")
}

/// Whether `resource` names a KMS key (not an alias, not `*`).
pub(in crate::engine) fn names_kms_key(resource: &str) -> bool {
    resource.contains(":key/")
}

impl ActionFacts {
    /// The facts of `action` (any case).
    pub fn of(action: &str) -> ActionFacts {
        let service = service_of(action);
        let one_of = |list: &[&str], s: &str| list.iter().any(|a| a.eq_ignore_ascii_case(s));
        let refused =
            CREDENTIAL_RULES.iter().filter(|r| r.covers(action)).fold(Callers::default(), |c, r| c.with(r.callers));
        ActionFacts {
            refused,
            authorization_free: one_of(AUTHORIZATION_FREE, action),
            kms: is_kms_action(action),
            trust: one_of(TRUST_ACTIONS, action),
            rcp_service: one_of(RCP_SERVICES, service),
            bucket_policy: one_of(BUCKET_POLICY_ACTIONS, action),
            retire_grant: action.eq_ignore_ascii_case("kms:RetireGrant"),
        }
    }
}

/// Where SCPs and RCPs do not apply (§7.2), one row per exemption AWS
/// documents, each with its page: the decision rules read
/// this table and nothing else.
pub const GUARDRAIL_EXEMPTIONS: &[Exemption] = &[
    Exemption {
        guardrail: Guardrail::Scp,
        case: Exempt::ManagementAccount,
        what: "principals of the management account",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html",
    },
    Exemption {
        guardrail: Guardrail::Scp,
        case: Exempt::OutsideOrganization,
        what: "principals of accounts outside the organization (a cross-account caller's own SCPs apply, not the resource owner's)",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html",
    },
    Exemption {
        guardrail: Guardrail::Scp,
        case: Exempt::ServiceLinkedRole,
        what: "service-linked roles (path /aws-service-role/)",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html",
    },
    Exemption {
        guardrail: Guardrail::Scp,
        case: Exempt::NotAnIamPrincipal,
        what: "AWS service principals and anonymous callers (SCPs govern the IAM users, roles and root users of member accounts)",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_scps.html",
    },
    Exemption {
        guardrail: Guardrail::Rcp,
        case: Exempt::ManagementAccount,
        what: "resources of the management account",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html",
    },
    Exemption {
        guardrail: Guardrail::Rcp,
        case: Exempt::OutsideOrganization,
        what: "resources of accounts outside the organization",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html",
    },
    Exemption {
        guardrail: Guardrail::Rcp,
        case: Exempt::UnsupportedService,
        what: "services RCPs do not support (RCP_SERVICES lists those they do)",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html",
    },
    Exemption {
        guardrail: Guardrail::Rcp,
        case: Exempt::ServiceLinkedRoleAssumption,
        what: "AWS services assuming service-linked roles",
        page: "https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html",
    },
    Exemption {
        guardrail: Guardrail::Rcp,
        case: Exempt::RetireGrant,
        what: "kms:RetireGrant, whatever an RCP's Action says",
        page: "https://docs.aws.amazon.com/kms/latest/developerguide/resource-control-policies.html",
    },
];

/// One row of [`GUARDRAIL_EXEMPTIONS`]. (RCPs do not apply to AWS managed
/// KMS keys either, per the KMS page above; a key ARN does not say whether
/// the key is AWS managed, so RCPs are applied to every key: more denies
/// than AWS at worst, never fewer.)
#[derive(Debug)]
pub struct Exemption {
    /// SCPs or RCPs.
    pub guardrail: Guardrail,
    /// When it holds.
    pub case: Exempt,
    /// What it exempts, in words.
    pub what: &'static str,
    /// Where AWS states it.
    pub page: &'static str,
}

/// The organization policies an [`Exemption`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guardrail {
    /// Service control policies (on the caller).
    Scp,
    /// Resource control policies (on the resource).
    Rcp,
}

/// The cases of [`GUARDRAIL_EXEMPTIONS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exempt {
    /// The account (the caller's for SCPs, the resource owner's for RCPs) is the management account.
    ManagementAccount,
    /// That account is not a member of the organization (or is not known).
    OutsideOrganization,
    /// The caller is a service-linked role's session.
    ServiceLinkedRole,
    /// The caller is not an IAM principal of an account.
    NotAnIamPrincipal,
    /// The action's service is not governed by RCPs.
    UnsupportedService,
    /// A service principal assuming a service-linked role.
    ServiceLinkedRoleAssumption,
    /// The action is `kms:RetireGrant`.
    RetireGrant,
}

impl Exemption {
    /// Whether the row exempts the request: `account` is the caller's (SCPs)
    /// or the resource owner's (RCPs).
    fn holds(&self, shape: &Shape, req: &Request, account: Option<&str>, facts: &ActionFacts) -> bool {
        let org = &shape.organization;
        match self.case {
            Exempt::ManagementAccount => account.is_some() && org.management_account.as_deref() == account,
            Exempt::OutsideOrganization => !org.is_member(account),
            Exempt::ServiceLinkedRole => req.principal.is_service_linked_role(),
            Exempt::NotAnIamPrincipal => !matches!(
                req.principal,
                Principal::User { .. }
                    | Principal::RoleSession { .. }
                    | Principal::FederatedUser { .. }
                    | Principal::Root { .. }
            ),
            Exempt::UnsupportedService => !facts.rcp_service,
            Exempt::ServiceLinkedRoleAssumption => {
                facts.trust
                    && matches!(req.principal, Principal::Service { .. })
                    && req.resource.contains(":role/aws-service-role/")
            }
            Exempt::RetireGrant => facts.retire_grant,
        }
    }
}

/// Whether `guardrail`'s policies govern the request: none of its rows of
/// [`GUARDRAIL_EXEMPTIONS`] holds.
fn guardrail_applies(
    guardrail: Guardrail,
    shape: &Shape,
    req: &Request,
    account: Option<&str>,
    facts: &ActionFacts,
) -> bool {
    !GUARDRAIL_EXEMPTIONS.iter().any(|e| e.guardrail == guardrail && e.holds(shape, req, account, facts))
}

/// Whether SCPs govern this request's principal (§7.2; [`GUARDRAIL_EXEMPTIONS`]).
pub fn scps_apply(shape: &Shape, req: &Request, facts: &ActionFacts) -> bool {
    shape.scp_levels > 0 && guardrail_applies(Guardrail::Scp, shape, req, req.principal.account(), facts)
}

/// Whether RCPs govern a request on a resource owned by `owner` (§7.2; [`GUARDRAIL_EXEMPTIONS`]).
pub fn rcps_apply(shape: &Shape, req: &Request, owner: Option<&str>, facts: &ActionFacts) -> bool {
    shape.rcp_levels > 0 && guardrail_applies(Guardrail::Rcp, shape, req, owner, facts)
}

/// Per-layer results accumulated in one pass over the hits.
#[derive(Default)]
struct Tally {
    denies: SmallVec<[StatementRef; 4]>,
    deny_unknown: bool,
    allows: Allows,
}

/// Allow results by layer: the OR of each layer's allow hits (`None` = no
/// allow hit at all).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Allows {
    identity: Option<Tri>,
    boundary: Option<Tri>,
    session: Option<Tri>,
    /// Resource-policy allows by principal class: Account, ViaUser/ViaRole, Direct.
    account: Option<Tri>,
    via: Option<Tri>,
    direct: Option<Tri>,
    scp: Levels,
    rcp: Levels,
}

impl Allows {
    /// ORs one allow hit into its layer.
    fn note(&mut self, h: &Hit) {
        let slot = match h.statement.layer {
            Layer::Identity => &mut self.identity,
            Layer::PermissionsBoundary => &mut self.boundary,
            Layer::Session => &mut self.session,
            Layer::Resource => match h.class {
                PrincipalClass::Direct => &mut self.direct,
                PrincipalClass::ViaRole | PrincipalClass::ViaUser => &mut self.via,
                PrincipalClass::Account => &mut self.account,
            },
            Layer::Scp(level) => return self.scp.note(level, h.result),
            Layer::Rcp(level) => return self.rcp.note(level, h.result),
        };
        or_into(slot, h.result);
    }
}

/// An action's always-hitting statements (no condition, variable or
/// `Principal`, every resource) folded once per action for [`combine`]: their
/// allows already tallied by layer, and the statements for the decision's
/// explanation. The default holds none (the reference evaluator passes it
/// with every hit in `hits`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FixedLayers {
    /// The statements, as sorted Deny and Allow lists.
    pub hits: FixedHits,
    allows: Allows,
}

impl FixedLayers {
    /// Folds hits that hold for every request (each with result `True`).
    pub fn fold<'a>(hits: impl Iterator<Item = &'a Hit> + Clone) -> FixedLayers {
        let mut allows = Allows::default();
        for h in hits.clone().filter(|h| h.effect == Effect::Allow) {
            allows.note(h);
        }
        FixedLayers { hits: FixedHits::fold(hits), allows }
    }
}

fn or_into(slot: &mut Option<Tri>, t: Tri) {
    *slot = Some(slot.map_or(t, |s| s.or(t)));
}

// A level's bit must fit in a `Levels` word.
const _: () = assert!(crate::engine::compile::MAX_GUARDRAIL_LEVELS <= u64::BITS as usize);

/// The allow results of SCP or RCP levels (at most
/// [`MAX_GUARDRAIL_LEVELS`](crate::engine::compile::MAX_GUARDRAIL_LEVELS)), one bit per level: the OR of a
/// level's allow hits is true where `allowed` has its bit, else unknown
/// where `unknown` has it, else false (no allow, or only false ones).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Levels {
    allowed: u64,
    unknown: u64,
}

impl Levels {
    fn note(&mut self, level: u16, result: Tri) {
        // Levels past the limit are refused at compile time; a stray one adds nothing.
        let bit = 1u64.checked_shl(u32::from(level)).unwrap_or(0);
        match result {
            Tri::True => self.allowed |= bit,
            Tri::Unknown => self.unknown |= bit,
            Tri::False => {}
        }
    }

    /// Over the first `levels` levels: `Err(level)` for the first one that
    /// does not allow, else whether some level allows only unknown.
    fn check(&self, levels: u16) -> Result<bool, u16> {
        let all = 1u64.checked_shl(u32::from(levels)).map_or(u64::MAX, |b| b - 1);
        let refusing = all & !(self.allowed | self.unknown);
        if refusing != 0 {
            // Below 64: a u64 has 64 bits.
            return Err(refusing.trailing_zeros() as u16);
        }
        if u32::from(levels) > u64::BITS {
            // Levels past the word are not tracked: compile refuses such sets,
            // and the reference evaluator (which also runs these rules) denies
            // at the first of them rather than let it pass unread.
            return Err(u64::BITS as u16);
        }
        Ok(all & self.unknown & !self.allowed != 0)
    }
}

/// Applies §7.3: hits (statements whose action, resource and principal match,
/// with their condition results) → decision. `facts` must be
/// `ActionFacts::of(&req.action)` and `owner` must be `req.resource_account()`
/// (passed in so the caller's parse of the resource ARN is reused).
///
/// `fixed` holds hits folded once per action ([`FixedLayers`]); `hits` are
/// the others (the reference evaluator passes every hit there and an empty
/// `fixed`). `O` says whether the outcome is explained or the verdict alone.
pub(in crate::engine) fn combine<O: Outcome>(
    shape: &Shape,
    at: Situation,
    facts: &ActionFacts,
    fixed: &FixedLayers,
    hits: &[Hit],
    mut keys: O::Keys,
) -> O::Out {
    if at.refused == Tri::Unknown {
        keys.note_unknown_credentials();
    }
    // `keys` moves into the decision on the path that decides: no copies.
    if let Some(kind) = refused_or_free(at.refused, facts) {
        return O::conclude(kind, keys, None, SmallVec::new);
    }
    let caller = at.caller;
    let identity_applies = caller.identity_policies;
    let (scp, rcp) = (at.scp, at.rcp);
    // The bucket owner's root user is not bound by the bucket policy in
    // managing it: "Bucket owner root principals can only be blocked from
    // performing these API actions by VPC endpoint policies and AWS
    // Organizations policies" (S3 API reference, PutBucketPolicy,
    // <https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html>;
    // GetBucketPolicy and DeleteBucketPolicy say the same).
    let resource_applies = !(facts.bucket_policy && caller.root && at.same_account);
    let applies = |layer: Layer| match layer {
        Layer::Identity | Layer::PermissionsBoundary | Layer::Session => identity_applies,
        Layer::Resource => resource_applies,
        Layer::Scp(_) => scp,
        Layer::Rcp(_) => rcp,
    };

    // The fixed allows of every layer: each layer's result is read below only
    // where that layer governs the request.
    // Credentials that may be refused: an allow is then only possible.
    let mut t = Tally { allows: fixed.allows, deny_unknown: at.refused == Tri::Unknown, ..Tally::default() };
    for h in hits.iter().filter(|h| applies(h.statement.layer)) {
        if h.effect == Effect::Allow {
            t.allows.note(h);
            continue;
        }
        match h.result {
            Tri::True => t.denies.push(h.statement),
            Tri::Unknown => t.deny_unknown = true,
            Tri::False => {}
        }
    }
    let fixed_denies = fixed.hits.denies.iter().copied().filter(|s| applies(s.layer));

    // Step 1: an explicit deny anywhere wins.
    if !t.denies.is_empty() || fixed_denies.clone().next().is_some() {
        let mut denies = t.denies;
        return O::conclude(DecisionKind::ExplicitDeny, keys, None, || {
            denies.extend(fixed_denies);
            denies.sort_unstable();
            denies
        });
    }
    let mut unknown = t.deny_unknown;
    let allowed = |slot: Option<Tri>| slot.unwrap_or(Tri::False);

    // Steps 2 and 3: every RCP level, then every SCP level, must allow.
    let guardrails = [
        (rcp, shape.rcp_levels, &t.allows.rcp, Layer::Rcp as fn(u16) -> Layer),
        (scp, shape.scp_levels, &t.allows.scp, Layer::Scp),
    ];
    for (active, levels, tally, layer_of) in guardrails {
        if active {
            match tally.check(levels) {
                Err(level) => {
                    return O::conclude(DecisionKind::ImplicitDeny, keys, Some(layer_of(level)), SmallVec::new)
                }
                Ok(only_unknown) => unknown |= only_unknown,
            }
        }
    }

    // Step 4: grants (§7.4 same account, §7.5 cross-account and non-IAM callers).
    let id = if identity_applies && shape.has_identity { allowed(t.allows.identity) } else { Tri::False };
    let pb = if identity_applies && shape.has_boundary { allowed(t.allows.boundary) } else { Tri::True };
    let sp = match shape.has_session {
        true if identity_applies => allowed(t.allows.session),
        // A federated-user session created without a session policy has no
        // identity-derived permissions (STS GetFederationToken).
        false if caller.federated => Tri::False,
        _ => Tri::True,
    };
    let (direct, via, account) = (allowed(t.allows.direct), allowed(t.allows.via), allowed(t.allows.account));
    let is_root = caller.root;
    // The root user has every permission in its own account (§7.4).
    let identity_side = if is_root { Tri::True } else { id.and(pb).and(sp) };
    let limits = pb.and(sp);
    let is_kms = at.on_kms_key;
    let is_trust = at.on_role;
    let same_account = at.same_account;

    let grant = match () {
        () if caller.service => direct,
        () if same_account => {
            // KMS: identity policies count only if the key policy delegates to the
            // account; trust policies: the trust policy must name the caller or its
            // account (then the identity side must allow too).
            let trusts_iam = if is_kms {
                account.or(if is_root { direct } else { Tri::False })
            } else if is_trust {
                account
            } else {
                Tri::True
            };
            // Appendix A-3: a trust policy naming the caller is still limited by its boundary.
            let direct = if is_trust { direct.and(pb) } else { direct };
            direct.or(via.and(limits)).or(identity_side.and(trusts_iam))
        }
        () => identity_side.and(direct.or(via).or(account)),
    };

    let grant = Grant { grant, unknown, identity_side, id, pb, same_account, is_kms, is_trust };
    conclude::<O>(grant, caller, keys, || {
        let mut granted: SmallVec<[StatementRef; 4]> = hits
            .iter()
            .filter(|h| applies(h.statement.layer) && h.effect == Effect::Allow && h.result == Tri::True)
            .map(|h| h.statement)
            .chain(fixed.hits.allows.iter().copied().filter(|s| applies(s.layer)))
            .collect();
        granted.sort_unstable();
        granted
    })
}

/// Step 4's outcome and what explains it (§7.3–7.5).
struct Grant {
    grant: Tri,
    /// An unknown deny or guardrail: an allow is only indeterminate.
    unknown: bool,
    identity_side: Tri,
    id: Tri,
    pb: Tri,
    same_account: bool,
    is_kms: bool,
    is_trust: bool,
}

/// The decision for `g`: on an implicit deny, the layer that had no allowing
/// statement; on an allow, `granted()`: the applicable Allow statements that
/// matched, sorted (built only when the request is allowed).
fn conclude<O: Outcome>(
    g: Grant,
    caller: Caller,
    keys: O::Keys,
    granted: impl FnOnce() -> SmallVec<[StatementRef; 4]>,
) -> O::Out {
    match g.grant {
        Tri::False => {
            let reason = if caller.service {
                Layer::Resource
            } else if g.identity_side == Tri::False && !caller.root {
                if g.id == Tri::False {
                    Layer::Identity
                } else if g.pb == Tri::False {
                    Layer::PermissionsBoundary
                } else {
                    Layer::Session
                }
            } else if g.same_account && !g.is_kms && !g.is_trust {
                Layer::Identity
            } else {
                Layer::Resource
            };
            O::conclude(DecisionKind::ImplicitDeny, keys, Some(reason), SmallVec::new)
        }
        Tri::True if !g.unknown => O::conclude(DecisionKind::Allowed, keys, None, granted),
        _ => O::conclude(DecisionKind::Indeterminate, keys, None, SmallVec::new),
    }
}

/// Whether `shape` has no layer besides identity policies (which may be
/// none): no boundary, session policy, resource policy, SCP or RCP (the
/// common embedding).
pub fn identity_only(shape: &Shape) -> bool {
    !shape.has_boundary
        && !shape.has_session
        && !shape.has_resource_policy
        && shape.scp_levels == 0
        && shape.rcp_levels == 0
}

/// The hits an action gets whatever the request (statements that always
/// hit: no condition, variable or `Principal`, every resource), folded once
/// per action: ready lists for [`combine_identity_only`], and within
/// [`FixedLayers`] (with their per-layer tally) for [`combine`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FixedHits {
    /// Their `Deny` statements, sorted.
    pub denies: SmallVec<[StatementRef; 4]>,
    /// Their `Allow` statements, sorted.
    pub allows: SmallVec<[StatementRef; 4]>,
}

impl FixedHits {
    /// Folds hits that hold for every request (each with result `True`).
    pub fn fold<'a>(hits: impl Iterator<Item = &'a Hit>) -> FixedHits {
        let mut fixed = FixedHits::default();
        for h in hits {
            debug_assert_eq!(h.result, Tri::True);
            match h.effect {
                Effect::Deny => fixed.denies.push(h.statement),
                Effect::Allow => fixed.allows.push(h.statement),
            }
        }
        fixed.denies.sort_unstable();
        fixed.allows.sort_unstable();
        fixed
    }
}

/// Adds the `True` hits of `effect` in `hits` to a sorted list of statements.
fn with_true_hits(sorted: &[StatementRef], hits: &[Hit], effect: Effect) -> SmallVec<[StatementRef; 4]> {
    // Copied as a slice: `SmallVec::clone` goes through an iterator.
    let mut all = SmallVec::from_slice(sorted);
    let mut added = false;
    for h in hits {
        if h.effect == effect && h.result == Tri::True {
            all.push(h.statement);
            added = true;
        }
    }
    if added && all.len() > 1 {
        all.sort_unstable();
    }
    all
}

/// What [`combine_identity_only`] reads of the caller, resolved once (a
/// prepared request holds it; the owned path reads it off the principal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::engine) struct Caller {
    /// A user, role session or federated-user session: identity policies count.
    pub identity_policies: bool,
    /// A federated-user session.
    pub federated: bool,
    /// The root user of an account.
    pub root: bool,
    /// A service principal or an anonymous caller.
    pub service: bool,
}

impl Caller {
    /// The facts of `p`.
    pub fn of(p: &Principal) -> Caller {
        Caller {
            identity_policies: p.has_identity_policies(),
            federated: matches!(p, Principal::FederatedUser { .. }),
            root: matches!(p, Principal::Root { .. }),
            service: matches!(p, Principal::Service { .. } | Principal::Anonymous),
        }
    }
}

/// What [`combine`] reads of a request besides its hits, resolved once (a
/// prepared request holds it; the owned path and the reference evaluator
/// work it out from the request with [`Situation::of`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(in crate::engine) struct Situation {
    /// The caller's facts.
    pub caller: Caller,
    /// SCPs govern the caller ([`scps_apply`]).
    pub scp: bool,
    /// RCPs govern the request ([`rcps_apply`]).
    pub rcp: bool,
    /// The caller's account owns the resource.
    pub same_account: bool,
    /// On a KMS key ([`on_kms_key`]), and the set has a resource policy (a
    /// key policy) to delegate.
    pub on_kms_key: bool,
    /// A trust action on a role ([`trust_on_role`]).
    pub on_role: bool,
    /// The caller's credentials may not call the action ([`CREDENTIAL_RULES`]).
    pub refused: Tri,
}

impl Situation {
    /// The situation of `req` (whose resource is owned by `owner`) for an
    /// action with `facts`, under a set of `shape`.
    pub fn of(shape: &Shape, req: &Request, owner: Option<&str>, facts: &ActionFacts) -> Situation {
        Situation {
            caller: Caller::of(&req.principal),
            scp: scps_apply(shape, req, facts),
            rcp: rcps_apply(shape, req, owner, facts),
            same_account: req.principal.account() == owner,
            on_kms_key: shape.has_resource_policy && on_kms_key(facts, &req.resource),
            on_role: trust_on_role(facts, &req.resource),
            refused: refused_by(facts.refused, req),
        }
    }
}

/// Whether a role trust action is asked on a role (§7.4): its trust policy decides.
pub(in crate::engine) fn trust_on_role(facts: &ActionFacts, resource: &str) -> bool {
    facts.trust && resource.contains(":role/")
}

/// [`combine`] for an [`identity_only`] shape, with the absent layers folded
/// away (no tallies per layer, no guardrail loops) and the action's fixed
/// hits folded once per action: the same rules, checked against the reference
/// evaluator, which always runs [`combine`]. `hits` are the other hits; every
/// hit is an identity statement. `on_role` is [`trust_on_role`] of the
/// request; `same_account()` says whether the caller's account owns the
/// resource, and is called only when the identity side could allow.
#[expect(
    clippy::too_many_arguments,
    reason = "the rules' inputs, each resolved by the caller once; a struct of them would be built per decision"
)]
pub(in crate::engine) fn combine_identity_only<O: Outcome>(
    shape: &Shape,
    caller: Caller,
    on_role: bool,
    refused: Tri,
    same_account: impl FnOnce() -> bool,
    facts: &ActionFacts,
    fixed: &FixedHits,
    hits: &[Hit],
    mut keys: O::Keys,
) -> O::Out {
    debug_assert!(identity_only(shape));
    if refused == Tri::Unknown {
        keys.note_unknown_credentials();
    }
    if let Some(kind) = refused_or_free(refused, facts) {
        return O::conclude(kind, keys, None, SmallVec::new);
    }
    // Identity statements count only for principals that have identity policies.
    let (fixed_denies, fixed_allows, hits) = if caller.identity_policies {
        (&fixed.denies[..], &fixed.allows[..], hits)
    } else {
        (&[][..], &[][..], &[][..])
    };
    let mut allow: Option<Tri> = if fixed_allows.is_empty() { None } else { Some(Tri::True) };
    let mut denied = !fixed_denies.is_empty();
    // Credentials that may be refused: an allow is then only possible.
    let mut deny_unknown = refused == Tri::Unknown;
    for h in hits {
        match (h.effect, h.result) {
            (Effect::Deny, Tri::True) => denied = true,
            (Effect::Deny, Tri::Unknown) => deny_unknown = true,
            (Effect::Deny, Tri::False) => {}
            (Effect::Allow, r) => or_into(&mut allow, r),
        }
    }
    if denied {
        return O::conclude(DecisionKind::ExplicitDeny, keys, None, || {
            with_true_hits(fixed_denies, hits, Effect::Deny)
        });
    }
    let id = if shape.has_identity { allow.unwrap_or(Tri::False) } else { Tri::False };
    // No session policy: a federated-user session has no identity-derived permissions.
    let session = if caller.federated { Tri::False } else { Tri::True };
    let identity_side = if caller.root { Tri::True } else { id.and(session) };
    // Without a trust policy in the set, a role trust action on a role is not granted.
    let is_trust = on_role;
    // Read only where it decides: the grant, or the reason for a deny once
    // the identity side allows (see `conclude`).
    let same_account = !caller.service && identity_side != Tri::False && same_account();
    let grant = if same_account && !is_trust { identity_side } else { Tri::False };
    let grant =
        Grant { grant, unknown: deny_unknown, identity_side, id, pb: Tri::True, same_account, is_kms: false, is_trust };
    conclude::<O>(grant, caller, keys, || with_true_hits(fixed_allows, hits, Effect::Allow))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> Operator {
        Operator::parse(name).unwrap()
    }

    fn eq_any<'a>(policy: &'a [&'a str]) -> impl FnMut(&str) -> Option<Tri> + 'a {
        move |v| Some(Tri::from_bool(policy.contains(&v)))
    }

    /// `Levels` against the per-level fold it replaces: each level's allow
    /// hits ORed into `Option<Tri>`, the first level that is not true-or-unknown
    /// refusing.
    #[test]
    fn level_bits_agree_with_folding_each_level() {
        fn naive(levels: u16, hits: &[(u16, Tri)]) -> Result<bool, u16> {
            let mut slots = vec![None; usize::from(levels)];
            for &(l, r) in hits {
                if let Some(slot) = slots.get_mut(usize::from(l)) {
                    or_into(slot, r);
                }
            }
            let mut unknown = false;
            for (l, slot) in slots.iter().enumerate() {
                match slot.unwrap_or(Tri::False) {
                    Tri::False => return Err(l as u16),
                    Tri::Unknown => unknown = true,
                    Tri::True => {}
                }
            }
            Ok(unknown)
        }
        // Every combination of up to two hits on each of three levels.
        let results = [None, Some(Tri::False), Some(Tri::Unknown), Some(Tri::True)];
        let mut cases = 0;
        for code in 0..16usize.pow(3) {
            let mut hits = Vec::new();
            for level in 0..3u16 {
                let pair = code / 16usize.pow(u32::from(level)) % 16;
                hits.extend([results[pair % 4], results[pair / 4]].into_iter().flatten().map(|r| (level, r)));
            }
            for levels in 0..=3 {
                let mut bits = Levels::default();
                for &(l, r) in hits.iter().filter(|(l, _)| *l < levels) {
                    bits.note(l, r);
                }
                assert_eq!(bits.check(levels), naive(levels, &hits), "{levels} levels, hits {hits:?}");
                cases += 1;
            }
        }
        assert_eq!(cases, 4 * 4096);
        // The edges of the word: 64 levels, the last one refusing or unknown.
        let mut bits = Levels::default();
        for l in 0..63 {
            bits.note(l, Tri::True);
        }
        assert_eq!(bits.check(64), Err(63));
        bits.note(63, Tri::Unknown);
        assert_eq!(bits.check(64), Ok(true));
        bits.note(63, Tri::True);
        assert_eq!(bits.check(64), Ok(false));
        assert_eq!(bits.check(0), Ok(false));
        // Past the word: refused at the first untracked level, never allowed.
        assert_eq!(bits.check(65), Err(64));
        assert_eq!(bits.check(u16::MAX), Err(64));
    }

    #[test]
    fn missing_keys_and_qualifiers() {
        let p = ["env", "team"];
        assert_eq!(condition_result(&op("StringEquals"), None, eq_any(&p)), Tri::False);
        assert_eq!(condition_result(&op("StringNotEquals"), None, eq_any(&p)), Tri::True);
        assert_eq!(condition_result(&op("StringEqualsIfExists"), None, eq_any(&p)), Tri::True);
        assert_eq!(condition_result(&op("ForAllValues:StringEquals"), None, eq_any(&p)), Tri::True);
        assert_eq!(condition_result(&op("ForAnyValue:StringNotEquals"), None, eq_any(&p)), Tri::False);
        let set = vec!["env".to_string(), "owner".to_string()];
        assert_eq!(
            condition_result(&op("ForAllValues:StringEquals"), Some(Value::Multi(&set)), eq_any(&p)),
            Tri::False
        );
        assert_eq!(condition_result(&op("ForAnyValue:StringEquals"), Some(Value::Multi(&set)), eq_any(&p)), Tri::True);
        assert_eq!(
            condition_result(&op("ForAnyValue:StringNotEquals"), Some(Value::Multi(&set)), eq_any(&p)),
            Tri::True
        );
        assert_eq!(condition_result(&op("StringEquals"), Some(Value::Multi(&set)), eq_any(&p)), Tri::False);
        assert_eq!(condition_result(&op("StringNotEquals"), Some(Value::Multi(&set)), eq_any(&p)), Tri::False);
        let empty: Vec<String> = vec![];
        assert_eq!(
            condition_result(&op("ForAllValues:StringEquals"), Some(Value::Multi(&empty)), eq_any(&p)),
            Tri::True
        );
        assert_eq!(
            condition_result(&op("ForAnyValue:StringEquals"), Some(Value::Multi(&empty)), eq_any(&p)),
            Tri::False
        );
        assert_eq!(condition_result(&op("StringEquals"), Some(Value::Unknown), eq_any(&p)), Tri::Unknown);
        // Type mismatch: false under negation too.
        assert_eq!(condition_result(&op("NotIpAddress"), Some(Value::Single("x")), |_| None), Tri::False);
    }

    #[test]
    fn null_operator() {
        assert_eq!(null_result([true].into_iter(), None), Tri::True);
        assert_eq!(null_result([false].into_iter(), None), Tri::False);
        assert_eq!(null_result([true].into_iter(), Some(Value::Single(""))), Tri::True);
        assert_eq!(null_result([false].into_iter(), Some(Value::Single("x"))), Tri::True);
    }
}
