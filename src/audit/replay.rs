//! CloudTrail replay: every check an event implies is decided against the
//! principal's current (or proposed) policies and compared with what AWS
//! recorded. The report says what would break (recorded success, simulated
//! deny), where simulation and AWS disagree (recorded AccessDenied, simulated
//! allow), which principals have no known policies, and which permissions
//! were never used.
//!
//! Top of the pipeline beside `cli`: uses `cloudtrail`, `inventory`, `compile`
//! and `eval`. Whatever the logs and the inventory cannot settle is
//! `indeterminate` with the reason, never guessed.
//!
//! ```
//! use iamsim::audit::inventory::Inventory;
//! use iamsim::audit::replay::Replayer;
//! use iamsim::audit::cloudtrail::record::Record;
//! // Who has which policies: get-account-authorization-details output.
//! let details = br#"{"UserDetailList": [{"UserName": "alice", "Arn": "arn:aws:iam::111122223333:user/alice",
//!   "UserPolicyList": [{"PolicyName": "read", "PolicyDocument": {"Version": "2012-10-17",
//!     "Statement": {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}}}]}]}"#;
//! let mut inventory = Inventory::new();
//! inventory.load(details, "details.json", None)?;
//! let mut replayer = Replayer::new(inventory, Vec::new(), Default::default());
//! let event = |source: &str, name: &str| serde_json::json!({
//!     "eventVersion": "1.08", "eventType": "AwsApiCall", "eventID": name,
//!     "eventSource": source, "eventName": name, "awsRegion": "us-east-1",
//!     "requestParameters": {"volumeId": "vol-1"},
//!     "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice",
//!                      "accountId": "111122223333"}});
//! // Records as the CloudTrail reader hands them over, here from JSON values.
//! let (list, delete) = (event("s3.amazonaws.com", "ListBuckets"), event("ec2.amazonaws.com", "DeleteVolume"));
//! replayer.event(&Record::from_value(&list));   // allowed, as recorded
//! replayer.event(&Record::from_value(&delete)); // succeeded; these policies deny it
//! let report = replayer.finish(1.0);
//! assert_eq!((report.events_read, report.checks), (2, 2));
//! assert_eq!(report.would_break.len(), 1);
//! assert_eq!(report.would_break[0].action, "ec2:DeleteVolume");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod job;

use crate::audit::catalog::Catalog;
use crate::audit::cloudtrail::event::{
    to_checks_reusing, Check, ContextKeys, EventChecks, Outcome, Recycled, SkipKind, SkipReason,
};
use crate::audit::cloudtrail::reader::{Item, Location, Malformed, Members, ReadError, Sink, BATCH};
use crate::audit::cloudtrail::record::Record;
use crate::audit::inventory::Inventory;
use crate::audit::resource_policies::governing;
use crate::engine::compile::{CompileError, CompiledPolicySet};
use crate::engine::eval::{Decision, DecisionKind, Scratch};
use crate::engine::policy::{Effect, Layer, Policy, PolicySet};
use crate::engine::request::{ContextEntry, ContextValue, Principal, Request};
use rustc_hash::{FxHashMap, FxHashSet};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Services whose resources can carry a resource-based policy: without it, an
/// implicit deny there may be an allow we cannot see.
const RESOURCE_POLICY_SERVICES: &[&str] = &[
    "s3",
    "kms",
    "sqs",
    "sns",
    "lambda",
    "secretsmanager",
    "ecr",
    "glacier",
    "backup",
    "events",
    "logs",
    "sts",
    "es",
    "elasticfilesystem",
];

/// Counts of simulated decisions.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct DecisionCounts {
    /// Allowed.
    pub allowed: usize,
    /// Explicitly denied.
    #[serde(rename = "explicitDeny")]
    pub explicit_deny: usize,
    /// Implicitly denied.
    #[serde(rename = "implicitDeny")]
    pub implicit_deny: usize,
    /// Not decidable from what is known.
    pub indeterminate: usize,
}

impl DecisionCounts {
    fn count(&mut self, kind: DecisionKind) {
        match kind {
            DecisionKind::Allowed => self.allowed += 1,
            DecisionKind::ExplicitDeny => self.explicit_deny += 1,
            DecisionKind::ImplicitDeny => self.implicit_deny += 1,
            DecisionKind::Indeterminate => self.indeterminate += 1,
        }
    }

    fn add(&mut self, other: &DecisionCounts) {
        self.allowed += other.allowed;
        self.explicit_deny += other.explicit_deny;
        self.implicit_deny += other.implicit_deny;
        self.indeterminate += other.indeterminate;
    }
}

/// Hours kept in [`Report::decisions_by_hour`] (over eleven years of
/// logs); later ones count under `other`.
pub const MAX_HOURS: usize = 100_000;

/// The hour `2026-11-01T10` of an `eventTime`, or `unknown`.
fn hour_of(time: &str) -> &str {
    let hour = time.get(..13).filter(|h| {
        h.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b'T',
            _ => b.is_ascii_digit(),
        })
    });
    hour.unwrap_or("unknown")
}

/// Adds `counts` to `hour`'s in `by_hour`, or to `other`'s once
/// [`MAX_HOURS`] are kept.
fn add_hour(by_hour: &mut BTreeMap<String, DecisionCounts>, hour: &str, counts: &DecisionCounts) {
    let key = if by_hour.contains_key(hour) || by_hour.len() < MAX_HOURS { hour } else { "other" };
    match by_hour.get_mut(key) {
        Some(slot) => slot.add(counts),
        None => {
            by_hour.insert(key.to_string(), counts.clone());
        }
    }
}

/// The decisions of the hour the latest events are in, tallied apart and
/// added to [`Report::decisions_by_hour`] when the hour changes (events
/// come in time order within a file): one comparison per check instead of
/// map lookups.
#[derive(Debug, Default)]
struct HourTally {
    hour: String,
    counts: DecisionCounts,
}

impl HourTally {
    /// Counts a check of the event at `time` (`eventTime`).
    fn count(&mut self, time: &str, kind: DecisionKind, by_hour: &mut BTreeMap<String, DecisionCounts>) {
        // The tally's hour passed `hour_of` already: the same first 13 bytes
        // are that hour, without checking them again ("unknown" is shorter).
        if time.get(..13) != Some(self.hour.as_str()) {
            let hour = hour_of(time);
            if self.hour != hour {
                self.flush(by_hour);
                self.hour.push_str(hour);
            }
        }
        self.counts.count(kind);
    }

    /// Adds what is tallied to `by_hour` and starts over.
    fn flush(&mut self, by_hour: &mut BTreeMap<String, DecisionCounts>) {
        if self.counts != DecisionCounts::default() {
            add_hour(by_hour, &self.hour, &self.counts);
        }
        self.hour.clear();
        self.counts = DecisionCounts::default();
    }
}

/// One (principal, action, resource) group of checks.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Group {
    /// The caller.
    pub principal: String,
    /// The IAM action.
    pub action: String,
    /// The resource (empty when the events do not name it).
    pub resource: String,
    /// How many checks.
    pub count: usize,
    /// Some of the events behind the group (the [`MAX_SAMPLE_EVENTS`]
    /// smallest `eventID`s, so the list does not depend on reading order).
    pub event_ids: Vec<String>,
    /// For `would_break_unless`: what the replay was not given that could
    /// still allow the call (a resource policy, the context, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unless: Option<UndecidedKind>,
    /// The same, in words (with the context keys it depends on).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unless_detail: Option<String>,
    /// With a baseline (`--override`): whether the current policies already
    /// break it too (`existing`) or not (`new`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BreakStatus>,
}

/// Event ids kept per [`Group`].
pub const MAX_SAMPLE_EVENTS: usize = 3;

/// Whether a break comes with the proposed policies or was there before.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakStatus {
    /// The current policies do not break the call (they allow it, or cannot
    /// tell): the proposed ones introduce the break.
    New,
    /// The current policies break it too (certainly, or unless the same kind
    /// of unknown allows it).
    Existing,
}

impl BreakStatus {
    /// `new` or `existing`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakStatus::New => "new",
            BreakStatus::Existing => "existing",
        }
    }
}

/// How a check of a recorded call compares with the simulation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Breakage {
    /// Recorded success, certainly denied by the simulation.
    WouldBreak,
    /// Recorded success, denied by the simulation unless something the
    /// replay was not given (a resource or key policy, a context value, the
    /// resource itself, an unresolved managed policy) allows it.
    WouldBreakUnless,
    /// Recorded `AccessDenied`, certainly allowed by the simulation.
    Disagreement,
}

impl Breakage {
    /// Its name in `report.json` and `decisions.jsonl`: `would_break`,
    /// `would_break_unless` or `disagreement`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Breakage::WouldBreak => "would_break",
            Breakage::WouldBreakUnless => "would_break_unless",
            Breakage::Disagreement => "disagreement",
        }
    }
}

/// Checks by [`Breakage`] class, and breaks by [`BreakStatus`].
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct BreakageCounts {
    /// Checks that would certainly break.
    pub would_break: usize,
    /// Checks that would break unless something not provided allows them.
    pub would_break_unless: usize,
    /// Checks AWS denied and the simulation allows.
    pub disagreements: usize,
    /// With a baseline: breaks (of either class) the current policies do not have.
    pub new: usize,
    /// With a baseline: breaks the current policies have too.
    pub existing: usize,
}

/// How the events' checks fit the service reference: the share of checks
/// whose action the catalog knows and whose resource is `*` for an action
/// that takes none, or an ARN of one of the action's resource types. A miss
/// is a mapping to fix (a wrong action or resource), or a resource the event
/// does not name.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq)]
pub struct Conformance {
    /// Checks of the converted events (calls by service principals included:
    /// their mapping is the same).
    pub checks: usize,
    /// Of those, the ones that fit.
    pub conforming: usize,
    /// `conforming / checks` (1 when there are no checks).
    pub share: f64,
    /// Checks of records that carry no parameters and no resources (misses
    /// of kind `not_in_log`).
    pub not_in_log: usize,
    /// `conforming / (checks - not_in_log)`: how well the mapping does
    /// where the log gives it something to map.
    pub share_where_logged: f64,
    /// Every miss by (eventSource, eventName, action, kind), most first; at
    /// most [`MAX_CONFORMANCE_MISSES`] rows, the rest counted in `unlisted`.
    pub misses: Vec<ConformanceMiss>,
    /// Missing checks beyond the listed rows.
    pub unlisted: usize,
}

/// One kind of conformance miss of one event type.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ConformanceMiss {
    /// `eventSource`.
    pub event_source: String,
    /// `eventName`.
    pub event_name: String,
    /// The IAM action the check was given.
    pub action: String,
    /// What does not fit.
    pub kind: MissKind,
    /// Checks.
    pub count: usize,
    /// One resource the checks were given (the smallest), if any.
    pub sample_resource: Option<String>,
}

/// Why a check does not fit the service reference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MissKind {
    /// The catalog has no such action.
    UnknownAction,
    /// The event names the call's parameters or resources, but not the
    /// resource of an action that takes one.
    ResourceNotDerivable,
    /// The record carries no request parameters and no `resources[]` (as
    /// CloudTrail logs many failed calls): no mapping can tell the resource.
    NotInLog,
    /// `*` for an action that takes a resource.
    StarForScopedAction,
    /// An ARN for an action that takes only `*`.
    ResourceForWildcardOnlyAction,
    /// An ARN that fits none of the action's resource types.
    ResourceFitsNoType,
}

/// Conformance misses by (eventSource, eventName, action, kind): their count
/// and smallest sample resource.
type Misses = BTreeMap<MissKey, (usize, Option<String>)>;

/// Conformance rows a report lists (all misses are counted).
pub const MAX_CONFORMANCE_MISSES: usize = 4_096;

/// An Allow statement that allowed none of a principal's recorded calls.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct UnusedStatement {
    /// Policy name.
    pub policy: String,
    /// Statement index.
    pub statement_index: u32,
    /// Sid, if any.
    pub sid: Option<String>,
    /// What it grants: its `Action` patterns (its `NotAction` ones when
    /// `not_action`).
    pub grants: Vec<String>,
    /// The patterns are a `NotAction`: it grants every action but these.
    pub not_action: bool,
    /// With a catalog: how many catalog actions it grants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_actions: Option<usize>,
}

/// Unused permissions of one principal seen in the logs.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Unused {
    /// The user or role ARN.
    pub principal: String,
    /// Its recorded successful calls (checks) in the logs.
    pub calls: usize,
    /// Allow statements of its identity policies that allowed none of its calls.
    pub unused_statements: Vec<UnusedStatement>,
    /// What its Allow statements grant that it never called successfully:
    /// with a catalog, catalog actions (`expanded`); without one, the
    /// `Action` patterns none of its calls matches. Sorted; the first
    /// [`MAX_UNUSED_ACTIONS`].
    pub unused_actions: Vec<String>,
    /// How many there are in all.
    pub unused_action_count: usize,
    /// `unused_actions` are catalog actions (else patterns).
    pub expanded: bool,
}

/// Unused actions listed per principal (all are counted).
pub const MAX_UNUSED_ACTIONS: usize = 1_000;

/// Why a check was not decided (it is `indeterminate`): what the replay
/// lacked to be certain.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Undecided {
    /// The event does not tell the resource.
    #[error("{RESOURCE_NOT_DERIVABLE}")]
    ResourceNotDerivable,
    /// The caller is not in the authorization details.
    #[error("{PRINCIPAL_NOT_IN_INVENTORY}")]
    PrincipalNotInInventory,
    /// A federated user's session policy, which CloudTrail does not log.
    #[error("{FEDERATED_SESSION_POLICY}")]
    FederatedSessionPolicy,
    /// An IAM entity named without its path, and a statement tells paths apart.
    #[error("{ENTITY_PATH_UNKNOWN}")]
    EntityPathUnknown,
    /// A managed policy of the caller that the details do not hold.
    #[error("{UNRESOLVED_MANAGED_POLICY}")]
    UnresolvedManagedPolicy,
    /// Identity policies do not allow it; the resource's policy could.
    #[error("{RESOURCE_POLICY_MISSING}")]
    ResourcePolicyMissing,
    /// A KMS key whose key policy is not given (§7.4).
    #[error("{KEY_POLICY_MISSING}")]
    KeyPolicyMissing,
    /// The decision depends on these context keys, unknown in the event.
    #[error("unknown context: {}", .0.join(", "))]
    UnknownContext(Box<[Box<str>]>),
    /// An IAM user's call whose record gives no access key id: whether
    /// `sts:GetSessionToken` credentials made it, which some actions refuse
    /// (IAM and STS without MFA), cannot be told.
    #[error("{CREDENTIALS_UNKNOWN}")]
    CredentialsUnknown,
    /// The principal's policy set could not be compiled.
    #[error("{0}")]
    Compile(CompileError),
}

// The words of the reasons that say the same for every check: written once
// here, for `Display` and for counting without formatting
// ([`Undecided::fixed_text`]).
const RESOURCE_NOT_DERIVABLE: &str = "resource not derivable from the event";
const PRINCIPAL_NOT_IN_INVENTORY: &str = "principal not in the authorization details";
const FEDERATED_SESSION_POLICY: &str = "federated-user session policy is not in the logs";
const ENTITY_PATH_UNKNOWN: &str = "IAM user, role or group not in the authorization details: its path is unknown";
const UNRESOLVED_MANAGED_POLICY: &str = "some of the principal's managed policies could not be resolved";
const RESOURCE_POLICY_MISSING: &str = "a resource policy could allow it, and none was provided";
const CREDENTIALS_UNKNOWN: &str = "the record gives no access key id: whether session-token credentials, \
     which this action refuses (without MFA), made the call is unknown";
const KEY_POLICY_MISSING: &str =
    "the key policy was not provided; identity policies count only if it delegates to the account";

impl Undecided {
    /// The reason's words when they are the same for every check (its
    /// `Display`): a replay counts them without formatting one per check.
    /// `None` for the reasons that name something (keys, a compile error).
    fn fixed_text(&self) -> Option<&'static str> {
        match self {
            Undecided::ResourceNotDerivable => Some(RESOURCE_NOT_DERIVABLE),
            Undecided::PrincipalNotInInventory => Some(PRINCIPAL_NOT_IN_INVENTORY),
            Undecided::FederatedSessionPolicy => Some(FEDERATED_SESSION_POLICY),
            Undecided::EntityPathUnknown => Some(ENTITY_PATH_UNKNOWN),
            Undecided::UnresolvedManagedPolicy => Some(UNRESOLVED_MANAGED_POLICY),
            Undecided::ResourcePolicyMissing => Some(RESOURCE_POLICY_MISSING),
            Undecided::KeyPolicyMissing => Some(KEY_POLICY_MISSING),
            Undecided::CredentialsUnknown => Some(CREDENTIALS_UNKNOWN),
            Undecided::UnknownContext(_) | Undecided::Compile(_) => None,
        }
    }

    /// The reason's kind, for counting.
    pub fn kind(&self) -> UndecidedKind {
        match self {
            Undecided::ResourceNotDerivable => UndecidedKind::ResourceNotDerivable,
            Undecided::PrincipalNotInInventory => UndecidedKind::PrincipalNotInInventory,
            Undecided::FederatedSessionPolicy => UndecidedKind::FederatedSessionPolicy,
            Undecided::EntityPathUnknown => UndecidedKind::EntityPathUnknown,
            Undecided::UnresolvedManagedPolicy => UndecidedKind::UnresolvedManagedPolicy,
            Undecided::ResourcePolicyMissing => UndecidedKind::ResourcePolicyMissing,
            Undecided::KeyPolicyMissing => UndecidedKind::KeyPolicyMissing,
            Undecided::UnknownContext(_) => UndecidedKind::UnknownContext,
            Undecided::CredentialsUnknown => UndecidedKind::CredentialsUnknown,
            Undecided::Compile(_) => UndecidedKind::CompileError,
        }
    }

    /// Whether a deny (or an indeterminate decision) for this reason is
    /// breakage with a caveat: the unknown is something the user did not
    /// provide, and the policies under test are known. A caller with no known
    /// policies (not in the details, a federated session, a set that did not
    /// compile) is not: it is listed as such, not as broken by the policies.
    fn is_a_caveat(&self) -> bool {
        match self {
            Undecided::ResourceNotDerivable
            | Undecided::EntityPathUnknown
            | Undecided::UnresolvedManagedPolicy
            | Undecided::ResourcePolicyMissing
            | Undecided::KeyPolicyMissing
            | Undecided::UnknownContext(_)
            | Undecided::CredentialsUnknown => true,
            Undecided::PrincipalNotInInventory | Undecided::FederatedSessionPolicy | Undecided::Compile(_) => false,
        }
    }
}

/// The kinds of [`Undecided`]; their names (`serde`) are the report's keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[expect(missing_docs, reason = "each names the `Undecided` variant of the same name")]
pub enum UndecidedKind {
    ResourceNotDerivable,
    PrincipalNotInInventory,
    FederatedSessionPolicy,
    EntityPathUnknown,
    UnresolvedManagedPolicy,
    ResourcePolicyMissing,
    KeyPolicyMissing,
    UnknownContext,
    CredentialsUnknown,
    CompileError,
}

/// The replay report; `report.json` has these fields.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
pub struct Report {
    /// Log files read.
    pub files: usize,
    /// Items read (events plus malformed records).
    pub events_read: usize,
    /// Events turned into checks.
    pub events_evaluated: usize,
    /// Events skipped (malformed, not API calls, not policy controlled…).
    pub events_skipped: usize,
    /// Calls made by AWS service principals (`userIdentity.type`
    /// `AWSService`): no identity policy governs them, so they are counted
    /// here, not checked. `events_read = events_evaluated + events_skipped +
    /// service_principal_events`.
    pub service_principal_events: usize,
    /// Those calls by service principal (`invokedBy`); bounded as
    /// `skipped_details` is.
    pub service_principal_calls: BTreeMap<String, usize>,
    /// Skipped events by kind of reason.
    pub skipped_reasons: BTreeMap<SkipKind, usize>,
    /// Skipped events by reason, in words (`no IAM action known for
    /// s3.amazonaws.com Frobnicate`…): what to look at first. At most
    /// [`MAX_DETAILS`] reasons, then [`OTHER_DETAILS`].
    pub skipped_details: BTreeMap<String, usize>,
    /// The first malformed records, with file and position.
    pub malformed: Vec<String>,
    /// Checks decided.
    pub checks: usize,
    /// Decisions by kind.
    pub decisions: DecisionCounts,
    /// Decisions by the hour of their events' `eventTime` (`2026-11-01T10`,
    /// UTC; `unknown` for events without a readable time): the report's
    /// timeline. At most [`MAX_HOURS`] hours, then `other`.
    pub decisions_by_hour: BTreeMap<String, DecisionCounts>,
    /// Indeterminate checks by kind of reason.
    pub indeterminate_reasons: BTreeMap<UndecidedKind, usize>,
    /// Indeterminate checks by reason, in words (`unknown context:
    /// aws:sourceip`…); bounded as `skipped_details` is.
    pub indeterminate_details: BTreeMap<String, usize>,
    /// Recorded success, simulated deny: certain whatever was not provided.
    pub would_break: Vec<Group>,
    /// Recorded success, simulated deny (or undecided) unless something the
    /// replay was not given allows it; each group says what (`unless`).
    pub would_break_unless: Vec<Group>,
    /// Recorded AccessDenied, simulated allow.
    pub disagreements: Vec<Group>,
    /// Checks by breakage class, and (with a baseline) breaks by status.
    pub breakage: BreakageCounts,
    /// Principals seen in the logs with no known policies, and their event counts.
    pub unknown_principals: BTreeMap<String, usize>,
    /// Never-used permissions per principal seen in the logs.
    pub unused_permissions: Vec<Unused>,
    /// Users and roles with policies in the inventory and no event in the
    /// logs: every permission they hold went unused here.
    pub principals_without_events: Vec<String>,
    /// Per principal of the inventory, what its recorded successes used (the
    /// input of least-privilege generation).
    pub used_permissions: Vec<Used>,
    /// With a catalog: how the checks fit the service reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conformance: Option<Conformance>,
    /// With a catalog: actions the events imply that the catalog does not know, with counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown_actions: Option<BTreeMap<String, usize>>,
    /// The inputs of the run, so that the same replay can be repeated (set by the CLI).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inputs: Option<ReplayInputs>,
    /// Paths given or met in folders that were not read, each with the
    /// reason: from [`crate::audit::cloudtrail::reader::Files`] (the CLI
    /// adds them) and files that hold no events ([`Item::Skipped`]).
    ///
    /// [`Item::Skipped`]: crate::audit::cloudtrail::reader::Item::Skipped
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_paths: Vec<String>,
    /// Files read that held no CloudTrail event (none at all, or only
    /// malformed records and JSON that is no event), sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files_without_events: Vec<String>,
    /// Events per second over the whole run.
    pub events_per_sec: f64,
}

/// What one principal's recorded successes used.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Used {
    /// The user or role ARN.
    pub principal: String,
    /// The actions, sorted.
    pub actions: Vec<UsedAction>,
}

/// One action a principal used successfully.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct UsedAction {
    /// The IAM action.
    pub action: String,
    /// Checks of recorded successes.
    pub count: usize,
    /// Of those, how many the simulation denies (explicitly or implicitly).
    pub denied: usize,
    /// Of those, how many the simulation cannot settle (indeterminate).
    #[serde(default)]
    pub indeterminate: usize,
    /// Distinct resources (at most [`MAX_USED_RESOURCES`]); `*` for actions on no resource.
    pub resources: Vec<String>,
    /// More distinct resources were seen than are listed.
    pub more_resources: bool,
    /// Some checks' resources could not be derived from their events.
    pub unknown_resources: bool,
}

/// Distinct resources kept per (principal, action) in [`UsedAction::resources`].
pub const MAX_USED_RESOURCES: usize = 50;

impl UsedAction {
    /// Not used yet.
    fn new(action: &str) -> UsedAction {
        UsedAction {
            action: action.to_string(),
            count: 0,
            denied: 0,
            indeterminate: 0,
            resources: Vec::new(),
            more_resources: false,
            unknown_resources: false,
        }
    }

    /// Adds a resource, keeping the list sorted and the [`MAX_USED_RESOURCES`]
    /// smallest, so the result does not depend on the order events arrive in.
    fn add_resource(&mut self, resource: &str) {
        // Full and past the largest kept: the common case once a busy action
        // has been seen on many resources, settled by one comparison.
        if self.resources.len() >= MAX_USED_RESOURCES
            && self.resources.last().is_some_and(|last| last.as_str() < resource)
        {
            self.more_resources = true;
            return;
        }
        match self.resources.binary_search_by(|x| x.as_str().cmp(resource)) {
            Ok(_) => {}
            Err(at) if at < MAX_USED_RESOURCES => {
                self.resources.insert(at, resource.to_string());
                if self.resources.len() > MAX_USED_RESOURCES {
                    self.resources.pop();
                    self.more_resources = true;
                }
            }
            Err(_) => self.more_resources = true,
        }
    }

    fn merge(&mut self, other: UsedAction) {
        self.count += other.count;
        self.denied += other.denied;
        self.indeterminate += other.indeterminate;
        self.more_resources |= other.more_resources;
        self.unknown_resources |= other.unknown_resources;
        for r in &other.resources {
            self.add_resource(r);
        }
    }
}

/// Distinct worded reasons a report lists (`skipped_details`,
/// `indeterminate_details`); they carry text from the logs (event names,
/// identity types), so a hostile file could otherwise make them as large as
/// itself. Reasons first met after the list is full are counted under
/// [`OTHER_DETAILS`]; the counts by kind are exact whatever the input.
pub const MAX_DETAILS: usize = 256;

/// The reason under which details beyond [`MAX_DETAILS`] are counted.
pub const OTHER_DETAILS: &str = "(other reasons, beyond the first 256 listed)";

/// Malformed records a report lists with their location (all are counted).
pub const MAX_MALFORMED_LISTED: usize = 100;

/// A line of [`Report::skipped_paths`]: the path and why it was not read.
pub fn skipped_path(path: &str, why: &str) -> String {
    format!("{path}: skipped: {why}")
}

/// Adds `n` to `detail`'s count, or to [`OTHER_DETAILS`] when the map is
/// full. A detail counted before is found without a copy (a replay counts
/// one per call a service makes).
fn count_detail(into: &mut BTreeMap<String, usize>, detail: impl AsRef<str> + Into<String>, n: usize) {
    if let Some(count) = into.get_mut(detail.as_ref()) {
        *count += n;
        return;
    }
    let key = if into.len() >= MAX_DETAILS { OTHER_DETAILS.to_string() } else { detail.into() };
    *into.entry(key).or_default() += n;
}

fn add_details(into: &mut BTreeMap<String, usize>, from: BTreeMap<String, usize>) {
    for (detail, n) in from {
        count_detail(into, detail, n);
    }
}

fn add_counts<K: Ord>(into: &mut BTreeMap<K, usize>, from: BTreeMap<K, usize>) {
    for (k, n) in from {
        *into.entry(k).or_default() += n;
    }
}

/// The inputs of a replay run, as given on the command line.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct ReplayInputs {
    /// CloudTrail files or folders.
    pub cloudtrail: Vec<String>,
    /// Authorization-details files.
    pub authorization_details: Vec<String>,
    /// `ARN=FILE` principals replayed without authorization details.
    #[serde(default)]
    pub policies: Vec<String>,
    /// The managed-policies folder, if any.
    pub managed_policies: Option<String>,
    /// SCP files, root level first.
    pub scps: Vec<String>,
    /// `ARN=FILE` resource policies.
    pub resource_policies: Vec<String>,
    /// Files of resource policies with their ARNs (`--resource-policies`).
    #[serde(default)]
    pub resource_policy_files: Vec<String>,
    /// `ARN=FILE` overrides.
    pub overrides: Vec<String>,
    /// The catalog, if any.
    pub catalog: Option<String>,
}

/// One decided check, as written to `decisions.jsonl`.
#[derive(Clone, Debug, Serialize)]
pub struct CheckLine {
    /// `eventID`.
    pub event_id: String,
    /// `eventTime`.
    pub time: String,
    /// The caller.
    pub principal: String,
    /// The IAM action.
    pub action: String,
    /// The resource, or null when it cannot be derived.
    pub resource: Option<String>,
    /// `success`, `AccessDenied` or the error code.
    pub recorded: String,
    /// The simulated decision.
    pub decision: &'static str,
    /// Deciding statements as `policy#index`.
    pub statements: Vec<String>,
    /// Context keys the request lacked.
    pub missing_context_keys: Vec<String>,
    /// Context keys the event could not tell.
    pub unknown_context_keys: Vec<String>,
    /// Why the decision is indeterminate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How the check compares with what AWS recorded, when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub breakage: Option<Breakage>,
    /// With a baseline: whether a break is new.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<BreakStatus>,
}

/// Reads one file's records into a sink (a file on disk, or bytes in memory).
type ReadFn<'a> = dyn FnMut(Members, &mut dyn Sink) -> Result<(), ReadError> + 'a;

/// One file's items into a [`Replayer`]. A batch of records is mapped
/// whole before any of it is decided: mapping and deciding one event each
/// in turn, their code (together past the instruction cache) evicted each
/// other (`benches/README.md`, session 19).
struct FileSink<'r, 'l> {
    replayer: &'r mut Replayer,
    lines: &'l mut dyn FnMut(Vec<CheckLine>),
    /// Records that are events (the file is not reported as holding none).
    events: usize,
}

impl FileSink<'_, '_> {
    /// Decides an event already mapped, or counts what came instead.
    fn decide(&mut self, item: &Item<'_>, mapped: Option<Result<EventChecks<'_>, SkipReason>>) {
        match (item, mapped) {
            (Item::Event(_, v), Some(mapped)) => {
                self.events += usize::from(v.is_event());
                let out = self.replayer.converted(mapped);
                if !out.is_empty() {
                    (self.lines)(out);
                }
            }
            (Item::Event(..), None) => {}
            (Item::Malformed(at, why), _) => self.replayer.malformed(at, why),
            (Item::Skipped(at, why), _) => self.replayer.report.skipped_paths.push(skipped_path(&at.file, why)),
        }
    }

    /// The mapping of `item`, if it is an event.
    fn map<'a>(&mut self, item: &'a Item<'_>) -> Option<Result<EventChecks<'a>, SkipReason>> {
        match item {
            Item::Event(_, v) => Some(self.replayer.map(v)),
            _ => None,
        }
    }
}

impl Sink for FileSink<'_, '_> {
    fn item(&mut self, item: Item<'_>) {
        let mapped = self.map(&item);
        self.decide(&item, mapped);
    }

    fn batch(&mut self, batch: &mut Vec<Item<'_>>) {
        let mut mapped: smallvec::SmallVec<[_; BATCH]> = smallvec::SmallVec::new();
        for item in batch.iter() {
            mapped.push(self.map(item));
        }
        for (item, m) in batch.iter().zip(mapped) {
            self.decide(item, m);
        }
        batch.clear();
    }
}

/// What a [`Replayer`] found, without its inputs ([`Replayer::into_partial`]):
/// counts, breakage groups, the statements and actions each principal used.
/// Serialisable (serde), so replays made on other machines merge into one
/// report ([`Replayer::absorb`], then [`Replayer::finish`]).
#[derive(Debug, Default, Serialize, serde::Deserialize)]
pub struct Partial {
    report: Report,
    groups: Vec<(GroupKey, GroupTally)>,
    unknown_actions: BTreeMap<String, usize>,
    conformance: (usize, usize),
    misses: Vec<(MissKey, (usize, Option<String>))>,
    owners: Vec<OwnerUse>,
}

/// A conformance miss's key: (event source, event name, action, kind).
type MissKey = (String, String, String, MissKind);

/// What one policy owner used, in a [`Partial`].
#[derive(Debug, Serialize, serde::Deserialize)]
struct OwnerUse {
    arn: String,
    /// (policy, statement) positions in its identity policies.
    statements: Vec<(u32, u32)>,
    actions: Vec<UsedAction>,
}

/// Replays events against an inventory of policies.
pub struct Replayer {
    inventory: Arc<Inventory>,
    scps: Arc<Vec<Vec<Policy>>>,
    resource_policies: Arc<BTreeMap<String, Policy>>,
    /// The owner account of resources whose policies name it (Config items):
    /// a check's resource account when its event does not say.
    resource_owners: Arc<BTreeMap<String, String>>,
    /// Role sessions' tags, from the `AssumeRole` calls in the logs.
    session_tags: Option<Arc<crate::audit::sessions::SessionTags>>,
    /// Decisions of the current hour, not yet in the report.
    hour_tally: HourTally,
    /// Per policy owner (user or role ARN): its compiled sets and what it
    /// used, found once per event through `owner_slots`.
    owners: Vec<OwnerState>,
    owner_slots: FxHashMap<Box<str>, usize>,
    /// Compiled sets of principals without identity policies (root, services…).
    ownerless: OwnerSets,
    /// Whether `event` should build output lines.
    want_lines: bool,
    /// Worker threads for [`Replayer::replay_files`] (default: rayon's count).
    threads: Option<usize>,
    /// The current policies, when `inventory` holds proposed ones: each
    /// break is also decided against these to tell new from existing.
    baseline: Option<Arc<Inventory>>,
    scratches: FxHashMap<u64, Scratch>,
    report: Report,
    groups: BTreeMap<GroupKey, GroupTally>,
    /// Per compiled set and action: whether some statement for the action
    /// tells resources apart (else a check whose resource the event does not
    /// name can still be decided).
    resource_matters: FxHashMap<u64, FxHashMap<String, bool>>,
    catalog: Option<Arc<Catalog>>,
    unknown_actions: BTreeMap<String, usize>,
    /// With a catalog: checks seen and fitting, misses by (source, name,
    /// action, kind) with a sample resource.
    conformance: (usize, usize),
    misses: Misses,
    /// Per action, its catalog resource formats (`None`: not in the catalog).
    formats: FxHashMap<String, Option<crate::audit::catalog::validate::ResourceFormats>>,
    /// Per compiled set and action: the set's condition keys the catalog says
    /// the action never carries (known absent rather than unknown).
    closed_keys: FxHashMap<u64, FxHashMap<String, KeyList>>,
    /// The last event's buffers and the principals parsed so far, for the next events.
    recycled: Recycled,
}

/// What a [`Group`] is keyed by: checks of one group agree on all of it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
struct GroupKey {
    breakage: Breakage,
    principal: String,
    action: String,
    resource: String,
    unless: Option<(UndecidedKind, String)>,
    status: Option<BreakStatus>,
}

/// A group's count and sample events.
#[derive(Clone, Debug, Default, Serialize, serde::Deserialize)]
struct GroupTally {
    count: usize,
    /// Sorted, at most [`MAX_SAMPLE_EVENTS`].
    event_ids: Vec<String>,
}

impl GroupTally {
    /// Keeps the smallest ids, so the sample does not depend on the order
    /// events (or merged workers) arrive in.
    fn add_id(&mut self, id: &str) {
        if self.event_ids.len() >= MAX_SAMPLE_EVENTS && self.event_ids.last().is_some_and(|l| l.as_str() <= id) {
            return;
        }
        if let Err(at) = self.event_ids.binary_search_by(|x| x.as_str().cmp(id)) {
            self.event_ids.insert(at, id.to_string());
            self.event_ids.truncate(MAX_SAMPLE_EVENTS);
        }
    }

    fn merge(&mut self, other: GroupTally) {
        self.count += other.count;
        for id in &other.event_ids {
            self.add_id(id);
        }
    }
}

/// Which policies a check is decided against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policies {
    /// The inventory's (proposed, with overrides): what the report is about.
    Replayed,
    /// The baseline's, to tell new breaks from existing ones.
    Baseline,
}

/// A check's result against one set of policies.
struct Judged {
    /// The decision, or why it cannot be trusted.
    verdict: Result<DecisionKind, Undecided>,
    /// What the engine decided from what is known (`None`: not decided).
    simulated: Option<(Decision, Arc<CompiledPolicySet>)>,
}

impl Judged {
    fn undecided(reason: Undecided) -> Judged {
        Judged { verdict: Err(reason), simulated: None }
    }

    /// The breakage class of a call AWS recorded as `outcome`.
    fn breakage(&self, outcome: &Outcome) -> Option<Breakage> {
        let simulated_allow = self.simulated.as_ref().is_some_and(|(d, _)| d.kind == DecisionKind::Allowed);
        match (outcome, &self.verdict) {
            (Outcome::Success, Ok(DecisionKind::ExplicitDeny | DecisionKind::ImplicitDeny)) => {
                Some(Breakage::WouldBreak)
            }
            (Outcome::Success, Err(reason)) if reason.is_a_caveat() && !simulated_allow => {
                Some(Breakage::WouldBreakUnless)
            }
            (Outcome::AccessDenied, Ok(DecisionKind::Allowed)) => Some(Breakage::Disagreement),
            _ => None,
        }
    }
}

/// One policy owner: its compiled sets and what its recorded successes used.
struct OwnerState {
    arn: Box<str>,
    /// The replayed inventory lists it (else its checks are undecided).
    in_inventory: bool,
    /// Some of its managed policies were not in the inventory (an allow or
    /// implicit deny is then not certain).
    unresolved: bool,
    /// Seen in an event since the last [`Replayer::take_partial`] (a state
    /// kept across partials for its compiled sets is not a principal seen).
    seen: bool,
    sets: OwnerSets,
    /// Compiled from the baseline's policies (with `--override`).
    baseline_sets: OwnerSets,
    /// (policy, statement) positions in its identity policies, which its
    /// compiled sets list in the inventory's order.
    used_statements: FxHashSet<(u32, u32)>,
    /// By action (hashed, sorted in `finish`).
    used_actions: FxHashMap<String, UsedAction>,
}

/// One policy owner's compiled sets.
#[derive(Default)]
struct OwnerSets {
    /// Without a resource policy (the common case: one lookup).
    plain: Option<Arc<CompiledPolicySet>>,
    /// With the resource policy of the resource named by the key.
    with_resource_policy: FxHashMap<String, Arc<CompiledPolicySet>>,
}

/// Condition key names, shared between cache and caller.
type KeyList = Arc<[Box<str>]>;

/// The context keys that some policy a replay decides with reads (identity
/// policies and boundaries, SCPs, resource policies): the only ones worth
/// filling from each event.
fn context_keys(
    inventory: &Inventory,
    scps: &[Vec<Policy>],
    resource_policies: &BTreeMap<String, Policy>,
) -> ContextKeys {
    let policies = inventory.policies().chain(scps.iter().flatten()).chain(resource_policies.values());
    ContextKeys::read_by(policies.flat_map(Policy::keys_read))
}

/// The key under which a principal's identity policies are stored.
fn policy_owner(p: &Principal) -> Option<&str> {
    match p {
        Principal::User { arn, .. } => Some(arn),
        Principal::RoleSession { role_arn, .. } => Some(role_arn),
        _ => None,
    }
}

impl Replayer {
    /// A replayer over `inventory`, with the SCP levels of the principals'
    /// organization and resource policies keyed by resource ARN.
    pub fn new(inventory: Inventory, scps: Vec<Vec<Policy>>, resource_policies: BTreeMap<String, Policy>) -> Replayer {
        Replayer::sharing(Arc::new(inventory), Arc::new(scps), Arc::new(resource_policies))
    }

    /// A replayer over shared inputs, with default settings and nothing seen yet.
    fn sharing(
        inventory: Arc<Inventory>,
        scps: Arc<Vec<Vec<Policy>>>,
        resource_policies: Arc<BTreeMap<String, Policy>>,
    ) -> Replayer {
        let keys = context_keys(&inventory, &scps, &resource_policies);
        Replayer::sharing_keys(inventory, scps, resource_policies, keys)
    }

    /// [`Replayer::sharing`] with the context keys its policies read worked out.
    fn sharing_keys(
        inventory: Arc<Inventory>,
        scps: Arc<Vec<Vec<Policy>>>,
        resource_policies: Arc<BTreeMap<String, Policy>>,
        keys: ContextKeys,
    ) -> Replayer {
        Replayer {
            inventory,
            scps,
            resource_policies,
            resource_owners: Arc::default(),
            session_tags: None,
            hour_tally: HourTally::default(),
            owners: Vec::new(),
            owner_slots: FxHashMap::default(),
            ownerless: OwnerSets::default(),
            want_lines: true,
            threads: None,
            baseline: None,
            scratches: FxHashMap::default(),
            report: Report::default(),
            groups: BTreeMap::new(),
            resource_matters: FxHashMap::default(),
            catalog: None,
            unknown_actions: BTreeMap::new(),
            conformance: (0, 0),
            misses: BTreeMap::new(),
            formats: FxHashMap::default(),
            closed_keys: FxHashMap::default(),
            recycled: Recycled { keys, ..Recycled::default() },
        }
    }

    /// Uses the service reference: actions it does not know are reported;
    /// whether an action takes a resource comes from its resource types; and a
    /// service condition key the catalog says an action never carries is absent
    /// from that action's requests instead of unknown. (That last rule trusts
    /// the catalog: AWS documents which keys each action supports.)
    pub fn set_catalog(&mut self, catalog: Arc<Catalog>) {
        self.catalog = Some(catalog);
        // What was worked out from another catalog (or none) goes.
        self.recycled.actions.clear();
        self.formats.clear();
        self.closed_keys.clear();
    }

    /// The accounts owning resources, by the ARN their policies guard (what
    /// [`crate::audit::resource_policies::read`] found): the resource account
    /// of a check whose event does not name it, so that a call across
    /// accounts is decided as one.
    pub fn set_resource_owners(&mut self, owners: BTreeMap<String, String>) {
        self.resource_owners = Arc::new(owners);
    }

    /// Role sessions' tags as the logs' `AssumeRole` calls give them: a
    /// session found there has its session tags over its role's as
    /// principal tags; others keep them unknown.
    pub fn set_session_tags(&mut self, tags: crate::audit::sessions::SessionTags) {
        self.session_tags = Some(Arc::new(tags));
    }

    /// The current policies, when the replayer's inventory holds proposed
    /// ones (`--override`): every break is decided against these too and
    /// marked [`BreakStatus::New`] or [`BreakStatus::Existing`].
    pub fn set_baseline(&mut self, current: Inventory) {
        let keys = context_keys(&current, &self.scps, &self.resource_policies);
        self.recycled.keys = self.recycled.keys.union(keys);
        self.baseline = Some(Arc::new(current));
    }

    /// Whether some policy it decides with (the baseline's too) tests
    /// `aws:PrincipalTag`: only then can role sessions' tags change a
    /// decision, and only then are they worth reading from the logs first
    /// ([`Replayer::set_session_tags`]).
    pub fn reads_principal_tags(&self) -> bool {
        self.recycled.keys.principal_tags()
    }

    /// Worker threads for [`Replayer::replay_files`]; 1 = in order on the calling thread.
    pub fn set_threads(&mut self, threads: usize) {
        self.threads = Some(threads);
    }

    /// Whether [`Replayer::event`] returns the decided checks (off: only the
    /// report is built, which is faster).
    pub fn set_want_lines(&mut self, want: bool) {
        self.want_lines = want;
    }

    /// Counts a record that could not be read.
    pub fn malformed(&mut self, location: &Location, why: &Malformed) {
        let detail = format!("malformed record: {}", why.kind.as_str());
        self.skip_unread(SkipKind::MalformedRecord, detail, || format!("{location}: {why}"));
    }

    /// Counts a file that could not be opened (as one item read and skipped).
    pub fn unreadable(&mut self, why: &ReadError) {
        self.skip_unread(SkipKind::UnreadableFile, why.to_string(), || why.to_string());
    }

    /// An item read that is no event: skipped, and listed (the first
    /// [`MAX_MALFORMED_LISTED`]) with where it is.
    fn skip_unread(&mut self, kind: SkipKind, detail: String, listed: impl FnOnce() -> String) {
        self.report.events_read += 1;
        self.skip(kind, detail);
        if self.report.malformed.len() < MAX_MALFORMED_LISTED {
            self.report.malformed.push(listed());
        }
    }

    fn skip(&mut self, kind: SkipKind, detail: String) {
        self.report.events_skipped += 1;
        *self.report.skipped_reasons.entry(kind).or_default() += 1;
        count_detail(&mut self.report.skipped_details, detail, 1);
    }

    /// The position of `owner`'s state, added on first sight.
    fn owner_slot(&mut self, owner: &str) -> usize {
        if let Some(&i) = self.owner_slots.get(owner) {
            if let Some(o) = self.owners.get_mut(i) {
                o.seen = true;
            }
            return i;
        }
        let i = self.owners.len();
        let identity = self.inventory.get(owner);
        self.owners.push(OwnerState {
            arn: owner.into(),
            in_inventory: identity.is_some(),
            unresolved: identity.is_some_and(|id| !id.unresolved.is_empty()),
            seen: true,
            sets: OwnerSets::default(),
            baseline_sets: OwnerSets::default(),
            used_statements: FxHashSet::default(),
            used_actions: FxHashMap::default(),
        });
        self.owner_slots.insert(owner.into(), i);
        i
    }

    /// The compiled set of `policies` for the owner in `slot` (`None`: no
    /// identity policies) and, when one is given for `resource`, its
    /// resource policy.
    fn set_for(
        &mut self,
        policies: Policies,
        slot: Option<usize>,
        resource: &str,
    ) -> Result<Arc<CompiledPolicySet>, Undecided> {
        let governed = governing(&self.resource_policies, resource);
        let inventory = match (policies, &self.baseline) {
            (Policies::Baseline, Some(b)) => b,
            _ => &self.inventory,
        };
        let (owner, sets) = match slot.and_then(|i| self.owners.get_mut(i)) {
            Some(o) if policies == Policies::Baseline => (Some(&*o.arn), &mut o.baseline_sets),
            Some(o) => (Some(&*o.arn), &mut o.sets),
            // No identity policies: the baseline's set is the same.
            None => (None, &mut self.ownerless),
        };
        let cached = match governed {
            None => sets.plain.as_ref(),
            Some((arn, _)) => sets.with_resource_policy.get(arn),
        };
        if let Some(s) = cached {
            return Ok(Arc::clone(s));
        }
        let mut set = match owner {
            Some(arn) => inventory.policy_set(arn, self.scps.as_slice()).unwrap_or_default(),
            None => PolicySet { scps: self.scps.to_vec(), ..PolicySet::default() },
        };
        set.resource = governed.map(|(_, policy)| policy.clone());
        let compiled = Arc::new(CompiledPolicySet::compile(set).map_err(Undecided::Compile)?);
        match governed {
            None => sets.plain = Some(Arc::clone(&compiled)),
            Some((arn, _)) => {
                sets.with_resource_policy.insert(arn.to_string(), Arc::clone(&compiled));
            }
        }
        Ok(compiled)
    }

    /// Replays one event; returns its decided checks.
    pub fn event(&mut self, record: &Record<'_>) -> Vec<CheckLine> {
        let converted = self.map(record);
        self.converted(converted)
    }

    /// One event turned into checks, with this replay's catalog and
    /// recycled buffers (to be decided by [`Replayer::converted`]).
    fn map<'a>(&mut self, record: &'a Record<'_>) -> Result<EventChecks<'a>, SkipReason> {
        to_checks_reusing(record, self.catalog.as_deref(), &mut self.recycled)
    }

    /// Replays one event already turned into checks (see [`crate::audit::cloudtrail::event::to_checks_with`]).
    pub fn converted(
        &mut self,
        converted: Result<
            crate::audit::cloudtrail::event::EventChecks<'_>,
            crate::audit::cloudtrail::event::SkipReason,
        >,
    ) -> Vec<CheckLine> {
        self.report.events_read += 1;
        let ev = match converted {
            Ok(ev) => ev,
            Err(reason) => {
                self.skip(reason.kind(), reason.to_string());
                return Vec::new();
            }
        };
        let EventChecks {
            event_id,
            time,
            source,
            name: event_name,
            names_resources,
            principal,
            context,
            outcome,
            user_credentials,
            access_key,
            mut checks,
            principal_key,
        } = ev;
        if self.catalog.is_some() {
            for check in &checks {
                self.conform(source, event_name, names_resources, check);
            }
        }
        if let Principal::Service { name } = &principal {
            // A service acting as itself: only a resource policy could govern
            // it (semantics doc §8.3), never the identity policies replayed here.
            self.report.service_principal_events += 1;
            count_detail(&mut self.report.service_principal_calls, name.as_str(), 1);
            self.recycled.put_back(context, checks);
            if let Some(key) = principal_key {
                self.recycled.principals.put_back(key, principal);
            }
            return Vec::new();
        }
        self.report.events_evaluated += 1;
        let recorded = match &outcome {
            Outcome::Success => "success",
            Outcome::AccessDenied => "AccessDenied",
            Outcome::OtherError(e) => e.as_str(),
        };
        // A local handle, so `self` stays free.
        let baseline = self.baseline.clone();
        // A session whose event did not name its role with the path: the
        // authorization details do (kept for the principal's next events).
        let mut principal = principal;
        if let Principal::RoleSession { role_arn, role_path_known: known @ false, .. } = &mut principal {
            if let Some(with_path) = self.inventory.entity_arn(role_arn) {
                *role_arn = with_path.to_string();
                *known = true;
            }
        }
        // The owner's state: found by the tag its cached principal came back
        // with, else looked up (once per principal) and tagged.
        let mut principal_key = principal_key;
        let slot = policy_owner(&principal).map(|owner| {
            let i = match principal_key.and_then(|k| k.tag) {
                Some(tag) => tag as usize,
                None => self.owner_slot(owner),
            };
            debug_assert_eq!(self.owners.get(i).map(|o| &*o.arn), Some(owner), "a principal's tag names its owner");
            if let Some(k) = principal_key.as_mut() {
                k.tag = u32::try_from(i).ok();
            }
            i
        });
        let owner = slot.and_then(|i| self.owners.get_mut(i)).map(|o| {
            o.seen = true;
            &*o
        });
        let known = owner.map(|o| o.in_inventory);
        let unresolved = owner.is_some_and(|o| o.unresolved);
        if let Some(o) = owner.filter(|o| !o.in_inventory) {
            *self.report.unknown_principals.entry(o.arn.to_string()).or_default() += 1;
        }
        let owner_arn = owner.map(|o| &*o.arn);
        // The baseline's view of the owner (with `--override`), for checks
        // that would break.
        let baseline_identity = owner_arn.and_then(|a| baseline.as_deref()?.get(a));
        // Read only where some policy tests the principal's tags.
        let identity = owner_arn.filter(|_| self.recycled.keys.principal_tags()).and_then(|a| self.inventory.get(a));
        let federated = matches!(principal, Principal::FederatedUser { .. });
        // The event's principal and context go into one request, which each
        // check completes with its action and resource (no per-check copies).
        let mut request = Request {
            principal,
            action: String::new(),
            resource: String::new(),
            resource_account: None,
            context,
            user_credentials,
        };
        // An IAM user's tags are its principal tags. A session's are its
        // session tags over its role's (semantics doc §8.6): the log does
        // not say them, so they stay unknown, never the role's alone.
        match (identity, &request.principal) {
            (Some(id), Principal::User { .. }) => request.context.insert_principal_tags(&id.tags),
            (Some(id), Principal::RoleSession { .. }) => {
                let session = access_key.and_then(|k| self.session_tags.as_ref()?.of(k));
                if let Some(session) = session {
                    let tags = crate::audit::sessions::principal_tags(&id.tags, &session);
                    request.context.insert_principal_tags(&tags);
                }
            }
            _ => {}
        }
        let mut lines = Vec::new();
        for Check { action, resource, resource_account, path_unknown, key } in checks.drain(..) {
            self.report.checks += 1;
            if let Some(catalog) = &self.catalog {
                if catalog.action(&action).is_none() {
                    *self.unknown_actions.entry(action.clone()).or_default() += 1;
                }
            }
            request.action = action;
            let derived = resource.is_some();
            let mut path_unresolved = false;
            match resource {
                Some(r) => {
                    request.resource = match path_unknown.then(|| self.inventory.entity_arn(&r)) {
                        Some(Some(with_path)) => with_path.to_string(),
                        Some(None) => {
                            path_unresolved = true;
                            r
                        }
                        None => r,
                    };
                    request.resource_account = resource_account
                        .or_else(|| governing(&self.resource_owners, &request.resource).map(|(_, o)| o.clone()));
                }
                // Decided as `*` where no statement for the action tells
                // resources apart (see `judge`); reported as unknown.
                None => {
                    request.resource.clear();
                    request.resource.push('*');
                    request.resource_account = None;
                }
            }
            // The check's own key lasts for this check only.
            let event_keys = request.context.mark();
            if let Some((key, value)) = &key {
                request.context.insert_entry(key, ContextEntry::Single(value));
            }
            let facts = CheckFacts { slot, unknown_resource: !derived, path_unresolved };
            let judged = match known {
                Some(false) => Judged::undecided(Undecided::PrincipalNotInInventory),
                _ if federated => Judged::undecided(Undecided::FederatedSessionPolicy),
                _ => self.judge(Policies::Replayed, facts, unresolved, &mut request),
            };
            let breakage = judged.breakage(&outcome);
            let status = match breakage {
                Some(Breakage::WouldBreak | Breakage::WouldBreakUnless) if self.baseline.is_some() => {
                    let before = match (slot, baseline_identity) {
                        // Unknown to the current policies: counted new, so that
                        // `--fail-on new` cannot miss it.
                        (Some(_), None) => Judged::undecided(Undecided::PrincipalNotInInventory),
                        _ => {
                            let unresolved = baseline_identity.is_some_and(|i| !i.unresolved.is_empty());
                            self.judge(Policies::Baseline, facts, unresolved, &mut request)
                        }
                    };
                    Some(match before.breakage(&outcome) {
                        Some(Breakage::WouldBreak | Breakage::WouldBreakUnless) => BreakStatus::Existing,
                        _ => BreakStatus::New,
                    })
                }
                _ => None,
            };
            let kind = match &judged.verdict {
                Ok(kind) => *kind,
                Err(reason) => {
                    *self.report.indeterminate_reasons.entry(reason.kind()).or_default() += 1;
                    let details = &mut self.report.indeterminate_details;
                    match reason.fixed_text() {
                        Some(text) => count_detail(details, text, 1),
                        None => count_detail(details, reason.to_string(), 1),
                    }
                    DecisionKind::Indeterminate
                }
            };
            self.report.decisions.count(kind);
            self.hour_tally.count(time, kind, &mut self.report.decisions_by_hour);
            let resource = derived.then_some(request.resource.as_str());
            let principal_name = request.principal.display_name();
            let denied = matches!(kind, DecisionKind::ExplicitDeny | DecisionKind::ImplicitDeny);
            if let Some(breakage) = breakage {
                let tally = &mut self.report.breakage;
                match breakage {
                    Breakage::WouldBreak => tally.would_break += 1,
                    Breakage::WouldBreakUnless => tally.would_break_unless += 1,
                    Breakage::Disagreement => tally.disagreements += 1,
                }
                match status {
                    Some(BreakStatus::New) => tally.new += 1,
                    Some(BreakStatus::Existing) => tally.existing += 1,
                    None => {}
                }
                let unless = match (breakage, &judged.verdict) {
                    (Breakage::WouldBreakUnless, Err(reason)) => Some((reason.kind(), reason.to_string())),
                    _ => None,
                };
                let key = GroupKey {
                    breakage,
                    principal: principal_name.to_string(),
                    action: request.action.clone(),
                    resource: resource.unwrap_or_default().to_string(),
                    unless,
                    status,
                };
                let group = self.groups.entry(key).or_default();
                group.count += 1;
                group.add_id(event_id);
            }
            if let (Some(owner), Outcome::Success) = (slot.and_then(|i| self.owners.get_mut(i)), &outcome) {
                let action = &request.action;
                let entry = match owner.used_actions.get_mut(action) {
                    Some(e) => e,
                    None => owner.used_actions.entry(action.clone()).or_insert_with(|| UsedAction::new(action)),
                };
                entry.count += 1;
                entry.denied += usize::from(denied);
                entry.indeterminate += usize::from(kind == DecisionKind::Indeterminate);
                match resource {
                    Some(r) => entry.add_resource(r),
                    None => entry.unknown_resources = true,
                }
            }
            if self.want_lines {
                let names = |keys: &[crate::engine::eval::KeyId], set: &CompiledPolicySet| -> Vec<String> {
                    keys.iter().filter_map(|k| set.key_as_written(*k)).map(str::to_string).collect()
                };
                let (statements, missing, unknown) = match &judged.simulated {
                    Some((d, set)) => (
                        d.statements
                            .iter()
                            .filter_map(|r| {
                                set.policy_set().get(*r).map(|(p, _)| format!("{}#{}", p.name, r.statement))
                            })
                            .collect(),
                        names(&d.missing_keys, set),
                        names(&d.unknown_keys, set),
                    ),
                    None => (Vec::new(), Vec::new(), Vec::new()),
                };
                lines.push(CheckLine {
                    event_id: event_id.to_string(),
                    time: time.to_string(),
                    principal: principal_name.to_string(),
                    action: request.action.clone(),
                    resource: resource.map(str::to_string),
                    recorded: recorded.to_string(),
                    decision: kind.as_str(),
                    statements,
                    missing_context_keys: missing,
                    unknown_context_keys: unknown,
                    reason: judged.verdict.err().map(|e| e.to_string()),
                    breakage,
                    status,
                });
            }
            request.context.truncate(event_keys);
        }
        // What the next event reuses.
        self.recycled.put_back(request.context, checks);
        if let Some(key) = principal_key {
            self.recycled.principals.put_back(key, request.principal);
        }
        lines
    }

    /// Counts whether `check` fits the catalog (see [`Conformance`]).
    fn conform(&mut self, source: &str, name: &str, names_resources: bool, check: &Check) {
        let Some(catalog) = &self.catalog else { return };
        if !self.formats.contains_key(&check.action) {
            let formats = catalog.action(&check.action).map(|id| catalog.resource_formats(id));
            self.formats.insert(check.action.clone(), formats);
        }
        self.conformance.0 += 1;
        let formats = self.formats.get(&check.action).and_then(Option::as_ref);
        let miss = match (formats, check.resource.as_deref()) {
            (None, _) => Some(MissKind::UnknownAction),
            (Some(f), Some("*")) if f.is_empty() => None,
            (Some(f), Some("*")) if !f.is_empty() => Some(MissKind::StarForScopedAction),
            (Some(f), Some(_)) if f.is_empty() => Some(MissKind::ResourceForWildcardOnlyAction),
            (Some(f), Some(arn)) if f.fits(arn) => None,
            (Some(_), Some(_)) => Some(MissKind::ResourceFitsNoType),
            (Some(_), None) if names_resources => Some(MissKind::ResourceNotDerivable),
            (Some(_), None) => Some(MissKind::NotInLog),
        };
        let Some(kind) = miss else {
            self.conformance.1 += 1;
            return;
        };
        add_miss(
            &mut self.misses,
            (source.to_string(), name.to_string(), check.action.clone(), kind),
            1,
            check.resource.as_deref(),
        );
    }

    /// Decides one check against `policies`: first with what is known, then
    /// says whether an unknown could change that answer (the verdict's
    /// `Err`) — only then is the check indeterminate.
    fn judge(&mut self, policies: Policies, facts: CheckFacts, unresolved: bool, req: &mut Request) -> Judged {
        // A check whose resource is unknown has no resource policy to pick.
        let policy_key = if facts.unknown_resource { "" } else { req.resource.as_str() };
        let set = match self.set_for(policies, facts.slot, policy_key) {
            Ok(set) => set,
            Err(reason) => return Judged::undecided(reason),
        };
        if facts.unknown_resource && self.resource_matters(&set, &req.action) {
            return Judged::undecided(Undecided::ResourceNotDerivable);
        }
        let d = self.decide(policies, facts.slot, &set, req);
        let verdict = verdict(&d, unresolved, req, &set, facts);
        Judged { verdict, simulated: Some((d, set)) }
    }

    /// Whether some statement of `set` that covers `action` tells resources
    /// apart (a pattern other than `*`, a `NotResource`, or a resource
    /// policy's implicit resource). Where none does, the resource cannot
    /// change the decision, and a check whose event does not name it is
    /// decided all the same.
    fn resource_matters(&mut self, set: &CompiledPolicySet, action: &str) -> bool {
        if let Some(&known) = self.resource_matters.get(&set.id()).and_then(|m| m.get(action)) {
            return known;
        }
        let matters = set.policy_set().statements().any(|(_, _, s)| {
            s.covers_action(action)
                && s.resources.as_ref().is_none_or(|r| r.negated || r.patterns.iter().any(|p| p != "*"))
        });
        self.resource_matters.entry(set.id()).or_default().insert(action.to_string(), matters);
        matters
    }

    /// Decides one check against `set`; for the replayed policies, records
    /// the identity statements that allowed it. The catalog's closed keys are
    /// added to the request's context for this check only.
    fn decide(
        &mut self,
        policies: Policies,
        slot: Option<usize>,
        set: &Arc<CompiledPolicySet>,
        req: &mut Request,
    ) -> Decision {
        let mark = req.context.mark();
        self.close_inapplicable_keys(set, req);
        let scratch = self.scratches.entry(set.id()).or_insert_with(|| Scratch::new(set));
        let d: Decision = set.decide(req, scratch);
        req.context.truncate(mark);
        if let (Policies::Replayed, Some(owner), DecisionKind::Allowed) =
            (policies, slot.and_then(|i| self.owners.get_mut(i)), d.kind)
        {
            owner
                .used_statements
                .extend(d.statements.iter().filter(|r| r.layer == Layer::Identity).map(|r| (r.policy, r.statement)));
        }
        d
    }

    /// Marks absent the set's service condition keys that the catalog says
    /// this action never carries (an open-world context would call them unknown).
    fn close_inapplicable_keys(&mut self, set: &CompiledPolicySet, req: &mut Request) {
        let Some(catalog) = &self.catalog else { return };
        let keys = match self.closed_keys.get(&set.id()).and_then(|m| m.get(req.action.as_str())) {
            Some(k) => Arc::clone(k),
            None => {
                let keys: KeyList = match catalog.action(&req.action) {
                    Some(id) => set
                        .key_names()
                        .filter(|k| !k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("aws:")))
                        .filter(|k| {
                            matches!(catalog.condition_key(k), Some(crate::audit::catalog::KeyMatch::Service(_)) | None)
                        })
                        .filter(|k| !catalog.key_applies(id, k))
                        .map(Box::from)
                        .collect(),
                    None => Arc::from(Vec::new()),
                };
                self.closed_keys.entry(set.id()).or_default().insert(req.action.clone(), Arc::clone(&keys));
                keys
            }
        };
        for key in keys.iter() {
            if req.context.get(key).is_none() {
                req.context.insert(key, ContextValue::Absent);
            }
        }
    }

    /// A replayer with the same inputs and settings and an empty report, for
    /// another worker; [`Replayer::merge`] folds its results back.
    pub fn fork(&self) -> Replayer {
        let mut fork = Replayer::sharing_keys(
            Arc::clone(&self.inventory),
            Arc::clone(&self.scps),
            Arc::clone(&self.resource_policies),
            self.recycled.keys,
        );
        fork.want_lines = self.want_lines;
        fork.threads = self.threads;
        fork.catalog = self.catalog.clone();
        fork.baseline = self.baseline.clone();
        fork.resource_owners = Arc::clone(&self.resource_owners);
        fork.session_tags = self.session_tags.clone();
        fork
    }

    /// Adds what a forked replayer saw to this one's results.
    pub fn merge(&mut self, other: Replayer) {
        self.absorb(other.into_partial());
    }

    /// What this replayer found, without its inputs: what [`Replayer::absorb`]
    /// adds to another's. Serialisable, so replays made elsewhere (Spark
    /// executors) merge into one report.
    pub fn into_partial(mut self) -> Partial {
        self.take_partial()
    }

    /// What this replayer found since it was made or last asked, as a
    /// [`Partial`], and a fresh start for its results. Unlike
    /// [`Replayer::into_partial`] it keeps what it compiled and worked out
    /// (policy sets, scratches, parsed principals): a worker that replays
    /// many parts (Spark partitions) compiles each principal's policies once.
    pub fn take_partial(&mut self) -> Partial {
        self.hour_tally.flush(&mut self.report.decisions_by_hour);
        Partial {
            report: std::mem::take(&mut self.report),
            groups: std::mem::take(&mut self.groups).into_iter().collect(),
            unknown_actions: std::mem::take(&mut self.unknown_actions),
            conformance: std::mem::take(&mut self.conformance),
            misses: std::mem::take(&mut self.misses).into_iter().collect(),
            owners: self
                .owners
                .iter_mut()
                .filter_map(|o| std::mem::take(&mut o.seen).then_some(o))
                .map(|o| {
                    let mut statements: Vec<(u32, u32)> = o.used_statements.drain().collect();
                    statements.sort_unstable();
                    let mut actions: Vec<UsedAction> = o.used_actions.drain().map(|(_, a)| a).collect();
                    actions.sort_by(|a, b| a.action.cmp(&b.action));
                    OwnerUse { arn: o.arn.to_string(), statements, actions }
                })
                .collect(),
        }
    }

    /// Adds what another replayer found ([`Replayer::into_partial`]) to this
    /// one's results.
    pub fn absorb(&mut self, other: Partial) {
        // Destructured whole: a field added to the report and not merged
        // here does not compile.
        let Report {
            files,
            events_read,
            events_evaluated,
            events_skipped,
            service_principal_events,
            service_principal_calls,
            skipped_reasons,
            skipped_details,
            malformed,
            checks,
            decisions,
            decisions_by_hour,
            indeterminate_reasons,
            indeterminate_details,
            unknown_principals,
            breakage,
            // Built by `finish` from the replayer's state, not per worker.
            would_break: _,
            would_break_unless: _,
            disagreements: _,
            unused_permissions: _,
            principals_without_events: _,
            used_permissions: _,
            unknown_actions: _,
            conformance: _,
            inputs: _,
            skipped_paths,
            files_without_events,
            events_per_sec: _,
        } = other.report;
        let mine = &mut self.report;
        mine.files += files;
        mine.events_read += events_read;
        mine.events_evaluated += events_evaluated;
        mine.events_skipped += events_skipped;
        mine.service_principal_events += service_principal_events;
        add_details(&mut mine.service_principal_calls, service_principal_calls);
        mine.checks += checks;
        let BreakageCounts { would_break, would_break_unless, disagreements, new, existing } = breakage;
        mine.breakage.would_break += would_break;
        mine.breakage.would_break_unless += would_break_unless;
        mine.breakage.disagreements += disagreements;
        mine.breakage.new += new;
        mine.breakage.existing += existing;
        mine.decisions.allowed += decisions.allowed;
        mine.decisions.explicit_deny += decisions.explicit_deny;
        mine.decisions.implicit_deny += decisions.implicit_deny;
        mine.decisions.indeterminate += decisions.indeterminate;
        for (hour, counts) in decisions_by_hour {
            add_hour(&mut mine.decisions_by_hour, &hour, &counts);
        }
        add_counts(&mut mine.skipped_reasons, skipped_reasons);
        add_details(&mut mine.skipped_details, skipped_details);
        add_counts(&mut mine.indeterminate_reasons, indeterminate_reasons);
        add_details(&mut mine.indeterminate_details, indeterminate_details);
        add_counts(&mut mine.unknown_principals, unknown_principals);
        mine.skipped_paths.extend(skipped_paths);
        mine.files_without_events.extend(files_without_events);
        let room = MAX_MALFORMED_LISTED.saturating_sub(mine.malformed.len());
        mine.malformed.extend(malformed.into_iter().take(room));
        for (key, tally) in other.groups {
            self.groups.entry(key).or_default().merge(tally);
        }
        add_counts(&mut self.unknown_actions, other.unknown_actions);
        self.conformance.0 += other.conformance.0;
        self.conformance.1 += other.conformance.1;
        for (key, (n, sample)) in other.misses {
            add_miss(&mut self.misses, key, n, sample.as_deref());
        }
        for OwnerUse { arn, statements, actions } in other.owners {
            let i = self.owner_slot(&arn);
            let Some(mine) = self.owners.get_mut(i) else { continue };
            mine.used_statements.extend(statements);
            let mine = &mut mine.used_actions;
            for used in actions {
                match mine.get_mut(&used.action) {
                    Some(m) => m.merge(used),
                    None => {
                        mine.insert(used.action.clone(), used);
                    }
                }
            }
        }
    }

    fn replay_file(&mut self, file: &std::path::Path, lines: &mut dyn FnMut(Vec<CheckLine>)) {
        use crate::audit::cloudtrail::reader::read_file_batched;
        let name = file.display().to_string();
        self.replay_read(&name, lines, &mut |members, sink| read_file_batched(file, members, sink));
    }

    /// Replays one log file's bytes (gzipped or not), its records located
    /// under `name`: what [`Replayer::replay_files`] does for each file, for
    /// bytes read elsewhere (a Spark executor's `binaryFile` rows).
    pub fn replay_bytes(&mut self, name: &str, bytes: &[u8], lines: &mut dyn FnMut(Vec<CheckLine>)) {
        use crate::audit::cloudtrail::reader::read_bytes_batched;
        self.replay_read(name, lines, &mut |members, sink| read_bytes_batched(bytes, name, members, sink));
    }

    /// Replays what `read` reads as one file named `name`.
    fn replay_read(&mut self, name: &str, lines: &mut dyn FnMut(Vec<CheckLine>), read: &mut ReadFn<'_>) {
        let mut sink = FileSink { replayer: self, lines, events: 0 };
        // The mapping reads a few members; the rest of each record is skipped.
        let result = read(Members::Mapped, &mut sink);
        let events = sink.events;
        if let Err(e) = result {
            self.unreadable(&e);
        }
        if events == 0 {
            self.report.files_without_events.push(name.to_string());
        }
        self.report.files += 1;
    }

    /// Replays every file, record by record (memory bounded by a batch of
    /// [`BATCH`] records per worker). Files are shared among the current
    /// rayon pool's threads, each with a [`Replayer::fork`], merged at the
    /// end; a file's decided checks reach `lines` in the file's order (when
    /// [`Replayer::set_want_lines`] is on), files in the order they finish.
    /// `progress` gets the number of files done.
    ///
    /// Within a file, reading and deciding stay on one thread: a reader thread
    /// feeding a deciding one measured slower (benches/README.md).
    pub fn replay_files(
        &mut self,
        files: &[std::path::PathBuf],
        mut lines: impl FnMut(Vec<CheckLine>),
        progress: impl Fn(usize) + Sync,
    ) {
        use rayon::prelude::*;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let threads = self.threads.unwrap_or_else(rayon::current_num_threads).max(1);
        let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
            Ok(pool) if threads > 1 && files.len() > 1 => pool,
            // One thread (or no pool to be had): in order, on this thread.
            _ => {
                for (i, f) in files.iter().enumerate() {
                    self.replay_file(f, &mut lines);
                    progress(i + 1);
                }
                return;
            }
        };
        let done = AtomicUsize::new(0);
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<CheckLine>>(64);
        let want_lines = self.want_lines;
        let seed = self.fork();
        let (seed, progress, done) = (&seed, &progress, &done);
        let merged = std::thread::scope(|scope| {
            let worker = scope.spawn(move || {
                pool.install(|| {
                    files
                        .par_iter()
                        .fold(
                            || (seed.fork(), send.clone()),
                            |(mut r, send), f| {
                                // A file's lines are sent together so they stay in order.
                                let mut buffer = Vec::new();
                                r.replay_file(f, &mut |l| buffer.extend(l));
                                if want_lines && !buffer.is_empty() {
                                    let _ = send.send(buffer);
                                }
                                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                                (r, send)
                            },
                        )
                        .map(|(r, _)| r)
                        .reduce_with(|mut a, b| {
                            a.merge(b);
                            a
                        })
                })
            });
            for batch in receive {
                lines(batch);
            }
            worker.join()
        });
        if let Ok(Some(other)) = merged {
            self.merge(other);
        }
    }

    /// Finishes the report.
    pub fn finish(mut self, seconds: f64) -> Report {
        self.hour_tally.flush(&mut self.report.decisions_by_hour);
        self.report.files_without_events.sort();
        let (mut would_break, mut would_break_unless, mut disagreements) = (Vec::new(), Vec::new(), Vec::new());
        for (key, tally) in std::mem::take(&mut self.groups) {
            let GroupKey { breakage, principal, action, resource, unless, status } = key;
            let (unless, unless_detail) = unless.unzip();
            let group = Group {
                principal,
                action,
                resource,
                count: tally.count,
                event_ids: tally.event_ids,
                unless,
                unless_detail,
                status,
            };
            match breakage {
                Breakage::WouldBreak => would_break.push(group),
                Breakage::WouldBreakUnless => would_break_unless.push(group),
                Breakage::Disagreement => disagreements.push(group),
            }
        }
        // Largest first; ties in key order (the map's order, stable).
        for groups in [&mut would_break, &mut would_break_unless, &mut disagreements] {
            groups.sort_by_key(|g| std::cmp::Reverse(g.count));
        }
        self.report.skipped_paths.sort();
        self.report.would_break = would_break;
        self.report.would_break_unless = would_break_unless;
        self.report.disagreements = disagreements;
        let mut unused = Vec::new();
        for id in self.inventory.identities() {
            let seen = self.owner_slots.get(id.arn.as_str()).and_then(|&i| self.owners.get(i)).filter(|o| o.seen);
            let Some(owner) = seen else {
                if !id.policies.is_empty() {
                    self.report.principals_without_events.push(id.arn.clone());
                }
                continue;
            };
            unused.push(unused_by(id, owner, self.catalog.as_deref()));
        }
        self.report.unused_permissions = unused;
        let mut used: Vec<Used> = std::mem::take(&mut self.owners)
            .into_iter()
            .filter(|o| !o.used_actions.is_empty())
            .map(|o| {
                let mut actions: Vec<UsedAction> = o.used_actions.into_values().collect();
                actions.sort_unstable_by(|a, b| a.action.cmp(&b.action));
                Used { principal: o.arn.into(), actions }
            })
            .collect();
        used.sort_unstable_by(|a, b| a.principal.cmp(&b.principal));
        self.report.used_permissions = used;
        if self.catalog.is_some() {
            self.report.unknown_actions = Some(std::mem::take(&mut self.unknown_actions));
            let (checks, conforming) = self.conformance;
            let not_in_log: usize =
                self.misses.iter().filter(|(k, _)| k.3 == MissKind::NotInLog).map(|(_, v)| v.0).sum();
            let mut misses: Vec<ConformanceMiss> = std::mem::take(&mut self.misses)
                .into_iter()
                .map(|((event_source, event_name, action, kind), (count, sample_resource))| ConformanceMiss {
                    event_source,
                    event_name,
                    action,
                    kind,
                    count,
                    sample_resource,
                })
                .collect();
            misses.sort_by_key(|m| std::cmp::Reverse(m.count));
            let listed: usize = misses.iter().map(|m| m.count).sum();
            self.report.conformance = Some(Conformance {
                checks,
                conforming,
                share: ratio(conforming, checks),
                not_in_log,
                share_where_logged: ratio(conforming, checks.saturating_sub(not_in_log)),
                misses,
                unlisted: (checks - conforming).saturating_sub(listed),
            });
        }
        self.report.events_per_sec = self.report.events_read as f64 / seconds.max(f64::MIN_POSITIVE);
        self.report
    }
}

/// `part / whole`, 1 for an empty whole.
fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        1.0
    } else {
        part as f64 / whole as f64
    }
}

/// Counts `n` misses under `key`, keeping the smallest sample resource; a
/// key first met when [`MAX_CONFORMANCE_MISSES`] rows are kept is counted
/// only in the total (the event names are the log's text).
fn add_miss(into: &mut Misses, key: (String, String, String, MissKind), n: usize, sample: Option<&str>) {
    let full = into.len() >= MAX_CONFORMANCE_MISSES;
    let row = match into.get_mut(&key) {
        Some(row) => row,
        None if full => return,
        None => into.entry(key).or_default(),
    };
    row.0 += n;
    if let Some(s) = sample {
        if row.1.as_deref().is_none_or(|kept| s < kept) {
            row.1 = Some(s.to_string());
        }
    }
}

/// What `id`'s Allow statements grant that its recorded calls (`owner`'s)
/// did not use.
fn unused_by(id: &crate::audit::inventory::Identity, owner: &OwnerState, catalog: Option<&Catalog>) -> Unused {
    use crate::engine::policy::pattern::{tokens, tokens_match};
    let allows: Vec<(u32, u32, &crate::engine::policy::Statement)> =
        id.policies
            .iter()
            .enumerate()
            .flat_map(|(pi, p)| {
                p.statements.iter().enumerate().map(move |(si, s)| {
                    (u32::try_from(pi).unwrap_or(u32::MAX), u32::try_from(si).unwrap_or(u32::MAX), s)
                })
            })
            .filter(|(_, _, s)| s.effect == Effect::Allow)
            .collect();
    let called: FxHashSet<String> = owner.used_actions.keys().map(|a| a.to_ascii_lowercase()).collect();
    // With a catalog, what each statement grants in catalog actions (one
    // automaton for all of them); a pattern set past the automaton's limits
    // is listed by pattern instead.
    let expanded = catalog.and_then(|c| {
        let lists: Vec<(&[String], bool)> =
            allows.iter().map(|(_, _, s)| (s.actions.patterns.as_slice(), s.actions.negated)).collect();
        let ids = c.expand_lists(&lists).ok()?;
        Some(ids.into_iter().map(|l| l.into_iter().map(|a| c.action_name(a)).collect::<Vec<_>>()).collect::<Vec<_>>())
    });
    let mut statements = Vec::new();
    for (i, (policy, index, s)) in allows.iter().enumerate() {
        if owner.used_statements.contains(&(*policy, *index)) {
            continue;
        }
        statements.push(UnusedStatement {
            policy: id.policies.get(*policy as usize).map(|p| p.name.clone()).unwrap_or_default(),
            statement_index: *index,
            sid: s.sid.clone(),
            grants: s.actions.patterns.clone(),
            not_action: s.actions.negated,
            granted_actions: expanded.as_ref().and_then(|e| e.get(i)).map(Vec::len),
        });
    }
    let mut actions: Vec<String> = match &expanded {
        Some(lists) => lists.iter().flatten().filter(|a| !called.contains(&a.to_ascii_lowercase())).cloned().collect(),
        None => allows
            .iter()
            .filter(|(_, _, s)| !s.actions.negated)
            .flat_map(|(_, _, s)| &s.actions.patterns)
            .filter(|p| {
                let t = tokens(p);
                !called.iter().any(|a| tokens_match(&t, a, true))
            })
            .cloned()
            .collect(),
    };
    actions.sort_unstable();
    actions.dedup();
    let count = actions.len();
    actions.truncate(MAX_UNUSED_ACTIONS);
    Unused {
        principal: id.arn.clone(),
        calls: owner.used_actions.values().map(|u| u.count).sum(),
        unused_statements: statements,
        unused_actions: actions,
        unused_action_count: count,
        expanded: expanded.is_some(),
    }
}

/// Whether some statement of `set` for `action` could match the IAM user, role
/// or group `resource` (an ARN without its path) differently at another path.
/// Conservative: any pattern that could match the entity's type counts,
/// except `*` and `<type>/*…` with no further `/` (the `*` takes in any path,
/// so the match depends on the name alone).
fn iam_path_matters(set: &PolicySet, action: &str, resource: &str) -> bool {
    use crate::engine::policy::pattern::{tokens, tokens_match};
    use crate::engine::policy::ArnPattern;
    let Some(kind) = resource.rsplit_once(':').and_then(|(_, r)| r.split_once('/')).map(|(k, _)| k) else {
        return true;
    };
    let sensitive = |pattern: &str, policy_kind| {
        if pattern == "*" {
            return false;
        }
        let Some(p) = ArnPattern::parse(pattern, policy_kind) else { return false };
        if !tokens_match(&tokens(&p.header[1]), "iam", true) || p.resource == "*" {
            return false;
        }
        if let Some(rest) = p.resource.strip_prefix(kind).and_then(|r| r.strip_prefix("/*")) {
            if !rest.contains(['/', '$']) {
                return false;
            }
        }
        // Could the pattern match `<kind>/…` at all? Compare the literal
        // prefix (up to the first wildcard or variable) with `<kind>/`.
        let literal = p.resource.split(['*', '?', '$']).next().unwrap_or("");
        let want = format!("{kind}/");
        let n = literal.len().min(want.len());
        literal.as_bytes().get(..n) == want.as_bytes().get(..n)
    };
    set.statements().any(|(_, policy, stmt)| {
        stmt.covers_action(action) && stmt.resources.iter().flat_map(|r| &r.patterns).any(|p| sensitive(p, policy.kind))
    })
}

/// What a check's judgement depends on beside the request.
#[derive(Clone, Copy, Debug)]
struct CheckFacts {
    /// The policy owner's slot (`None`: a caller without identity policies).
    slot: Option<usize>,
    /// The event does not name the resource; the request says `*`.
    unknown_resource: bool,
    /// An IAM entity named without its path, not in the authorization
    /// details: decided as if at path `/`.
    path_unresolved: bool,
}

/// The check's result: the decision, or the unknown that could change it.
/// Each arm says why that unknown can change this answer; where it cannot,
/// the decision stands.
fn verdict(
    d: &Decision,
    unresolved: bool,
    req: &Request,
    set: &CompiledPolicySet,
    facts: CheckFacts,
) -> Result<DecisionKind, Undecided> {
    let no_resource_policy = set.policy_set().resource.is_none();
    match d.kind {
        // Evaluated as if at path `/`: certain only if no statement for the
        // action tells the entity's paths apart.
        _ if facts.path_unresolved && iam_path_matters(set.policy_set(), &req.action, &req.resource) => {
            Err(Undecided::EntityPathUnknown)
        }
        // An unresolved managed policy could hold a Deny or an Allow: only an
        // explicit deny is certain.
        DecisionKind::Allowed | DecisionKind::ImplicitDeny if unresolved => Err(Undecided::UnresolvedManagedPolicy),
        DecisionKind::ImplicitDeny if no_resource_policy && resource_policy_could_grant(req, d, facts) => {
            Err(Undecided::ResourcePolicyMissing)
        }
        // Identity policies count for a KMS key only if its key policy
        // delegates to the account (§7.4); without the key policy, an allow
        // from them is not certain. A KMS check whose key the event does not
        // name is on a key too (the key-less KMS actions take `*`).
        DecisionKind::Allowed
            if no_resource_policy
                && (crate::engine::eval::key_policy_governs(req)
                    || facts.unknown_resource && service_of(&req.action).eq_ignore_ascii_case("kms")) =>
        {
            Err(Undecided::KeyPolicyMissing)
        }
        // No key unknown: only the caller's credentials are in doubt.
        DecisionKind::Indeterminate if d.unknown_keys.is_empty() && d.unknown_credentials => {
            Err(Undecided::CredentialsUnknown)
        }
        DecisionKind::Indeterminate => Err(Undecided::UnknownContext(
            d.unknown_keys.iter().filter_map(|k| set.key_as_written(*k)).map(Box::from).collect(),
        )),
        kind => Ok(kind),
    }
}

/// The service prefix of an action (`s3` of `s3:GetObject`).
fn service_of(action: &str) -> &str {
    crate::engine::policy::split_action(action).map_or("", |(s, _)| s)
}

/// Whether a resource-based policy we were not given could turn this
/// implicit deny into an allow.
fn resource_policy_could_grant(req: &Request, d: &Decision, facts: CheckFacts) -> bool {
    let service = service_of(&req.action);
    let on_a_resource = facts.unknown_resource || req.resource != "*";
    if !on_a_resource || !RESOURCE_POLICY_SERVICES.iter().any(|s| s.eq_ignore_ascii_case(service)) {
        return false;
    }
    // An organization guardrail without an allow is not lifted by any
    // resource policy (§7.3 steps 2 and 3).
    if matches!(d.missing_allow, Some(Layer::Scp(_) | Layer::Rcp(_))) {
        return false;
    }
    // Across accounts both sides must allow (§7.5): where the caller's side
    // does not, no resource policy helps.
    let cross_account = match (req.resource_account.as_deref(), req.principal.account()) {
        (Some(owner), Some(caller)) => owner != caller,
        _ => false,
    };
    !cross_account
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Event types are the log's text: distinct unknown ones beyond
    /// MAX_DETAILS are counted under one "other" reason, in one replayer
    /// and across merged forks; the count by kind stays exact.
    #[test]
    fn worded_reasons_are_bounded() {
        assert!(OTHER_DETAILS.contains(&MAX_DETAILS.to_string()));
        let event = |i: usize| {
            serde_json::json!({"eventVersion": "1.08", "eventType": format!("Weird{i}"), "eventID": i.to_string(),
                "eventSource": "s3.amazonaws.com", "eventName": "ListBuckets",
                "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/a", "accountId": "111122223333"}})
        };
        let mut one = Replayer::new(Inventory::new(), Vec::new(), BTreeMap::new());
        let mut fork = one.fork();
        for i in 0..1_000 {
            one.event(&Record::from_value(&event(i)));
            fork.event(&Record::from_value(&event(i + 1_000)));
        }
        one.merge(fork);
        let r = one.finish(1.0);
        assert_eq!(r.skipped_reasons.get(&SkipKind::NotApiCall), Some(&2_000), "{:?}", r.skipped_reasons);
        assert_eq!(r.skipped_details.len(), MAX_DETAILS + 1);
        assert_eq!(r.skipped_details.values().sum::<usize>(), 2_000);
        assert_eq!(r.skipped_details.get(OTHER_DETAILS), Some(&(2_000 - MAX_DETAILS)));
    }

    /// The running tally counts each check under its event's hour, as
    /// counting each one by `hour_of` would: across hour changes, times
    /// that are no hour, and a return to an earlier hour.
    #[test]
    fn decisions_are_tallied_under_their_events_hour() {
        let times = [
            "2026-11-01T00:10:00Z",
            "2026-11-01T00:59:59Z",
            "2026-11-01T01:00:00Z",
            "garbage-time-x",
            "2026-11-01T00:30:00Z",
            "2026-11-01T01",
            "2026-11-01T0",
            "\u{e9}026-11-01T01:05",
            "2026-11-01T01:05:00Z",
        ];
        let (mut tally, mut by_hour) = (HourTally::default(), BTreeMap::new());
        let mut naive: BTreeMap<String, DecisionCounts> = BTreeMap::new();
        for (i, time) in times.iter().enumerate() {
            let kind = if i % 2 == 0 { DecisionKind::Allowed } else { DecisionKind::ImplicitDeny };
            tally.count(time, kind, &mut by_hour);
            naive.entry(hour_of(time).to_string()).or_default().count(kind);
        }
        tally.flush(&mut by_hour);
        assert_eq!(by_hour, naive);
        assert_eq!(by_hour.len(), 3, "{by_hour:?}");
    }

    /// Counted without formatting, a reason is counted under its `Display`.
    #[test]
    fn fixed_reason_texts_are_their_display() {
        let all = [
            Undecided::ResourceNotDerivable,
            Undecided::PrincipalNotInInventory,
            Undecided::FederatedSessionPolicy,
            Undecided::EntityPathUnknown,
            Undecided::UnresolvedManagedPolicy,
            Undecided::ResourcePolicyMissing,
            Undecided::KeyPolicyMissing,
            Undecided::CredentialsUnknown,
            Undecided::UnknownContext(vec![Box::from("aws:SourceIp")].into()),
        ];
        for reason in all {
            match (reason.fixed_text(), &reason) {
                (None, Undecided::UnknownContext(_)) => assert_eq!(reason.to_string(), "unknown context: aws:SourceIp"),
                (None, other) => panic!("{other:?} has fixed words"),
                (Some(text), _) => assert_eq!(text, reason.to_string()),
            }
        }
    }

    /// A bucket policy governs the bucket's objects; other resources are
    /// governed by their own policy.
    #[test]
    fn resource_policies_guard_the_bucket_objects() {
        use crate::audit::resource_policies::governing_arn;
        assert_eq!(governing_arn("arn:aws:s3:::data/a/b.csv"), "arn:aws:s3:::data");
        assert_eq!(governing_arn("arn:aws-cn:s3:::data/k"), "arn:aws-cn:s3:::data");
        assert_eq!(governing_arn("arn:aws:s3:::data"), "arn:aws:s3:::data");
        assert_eq!(governing_arn("arn:aws:kms:us-east-1:1:key/k"), "arn:aws:kms:us-east-1:1:key/k");
        assert_eq!(
            governing_arn("arn:aws:s3:us-east-1:1:accesspoint/ap/object/k"),
            "arn:aws:s3:us-east-1:1:accesspoint/ap/object/k"
        );
    }

    /// Which resource patterns tell an IAM entity's paths apart.
    #[test]
    fn iam_path_matters_only_for_patterns_that_can_see_the_path() {
        let matters = |resource: &str, action_pattern: &str| {
            let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action_pattern, "Resource": resource}]});
            let policy = crate::engine::policy::parse_policy(
                doc.to_string().as_bytes(),
                "p",
                crate::engine::policy::PolicyKind::Identity,
            )
            .map_err(|e| e.to_string())?;
            let set = PolicySet { identity: vec![policy], ..Default::default() };
            Ok::<_, String>(iam_path_matters(&set, "iam:GetRole", "arn:aws:iam::1:role/app"))
        };
        for (resource, want) in [
            ("*", false),
            ("arn:aws:iam::*:*", false),
            ("arn:aws:iam::1:role/*", false),
            ("arn:aws:iam::1:role/*-app", false),
            ("arn:aws:iam::1:user/*", false),
            ("arn:aws:iam::1:policy/app", false),
            ("arn:aws:s3:::role/app", false),
            ("arn:aws:iam::1:role/app", true),
            ("arn:aws:iam::1:role/team/*", true),
            ("arn:aws:iam::1:role/*/app", true),
            ("arn:aws:iam::1:ro*", true),
            ("arn:aws:iam::1:role/${aws:username}", true),
            ("arn:aws:iam::1:*", false),
            ("arn:aws:iam::1:*app", true),
        ] {
            assert_eq!(matters(resource, "iam:*"), Ok(want), "{resource}");
            // Statements for other actions never count.
            assert_eq!(matters(resource, "iam:DeleteRole"), Ok(false), "{resource}");
        }
    }

    /// The corpus's authorization details.
    fn corpus_inventory() -> Inventory {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut inv = Inventory::new();
        let details = std::fs::read(root.join("corpus/replay/authorization-details.json")).unwrap();
        inv.load(&details, "authorization-details.json", None).unwrap();
        inv
    }

    /// A worker kept across parts (Spark partitions) reports each part's own
    /// findings: merged, they are the report of one replay of everything,
    /// and a part lists only the principals seen in it.
    #[test]
    fn a_replayer_kept_across_parts_reports_each_part() {
        let inv = corpus_inventory();
        let gen = crate::audit::workload::cloudtrail::EventGenerator::new(&inv).unwrap();
        let mut events = Vec::new();
        gen.generate(600, 7, |e| events.push(e));
        let replayer = || Replayer::new(inv.clone(), Vec::new(), BTreeMap::new());
        let feed = |r: &mut Replayer, part: &[serde_json::Value]| {
            for e in part {
                r.event(&Record::from_value(e));
            }
        };
        let owners = |p: &Partial| p.owners.iter().map(|o| o.arn.clone()).collect::<std::collections::BTreeSet<_>>();
        let mut whole = replayer();
        feed(&mut whole, &events);
        let (first, second) = events.split_at(550);
        // One event: one principal, where the first part has several.
        let second = &second[..1];
        let mut worker = replayer();
        feed(&mut worker, first);
        let one = worker.take_partial();
        feed(&mut worker, second);
        let two = worker.take_partial();
        let empty = worker.take_partial();
        let mut alone = replayer();
        feed(&mut alone, second);
        let alone = alone.into_partial();
        assert_eq!(owners(&two), owners(&alone));
        assert!(owners(&two).len() < owners(&one).len());
        assert_eq!(serde_json::to_value(&two).unwrap(), serde_json::to_value(&alone).unwrap());
        assert!(empty.owners.is_empty() && empty.report.events_read == 0);
        let mut merged = replayer();
        for part in [one, two, empty] {
            merged.absorb(part);
        }
        let mut rest = replayer();
        feed(&mut rest, &events[551..]);
        merged.absorb(rest.into_partial());
        assert_eq!(serde_json::to_value(merged.finish(1.0)).unwrap(), serde_json::to_value(whole.finish(1.0)).unwrap());
    }

    /// A file's records are mapped a batch at a time before they are decided
    /// ([`FileSink`]); the report and every decided check are those of the
    /// same records mapped and decided one at a time, with principals
    /// recurring within a batch, records that are not objects, events that
    /// are not API calls and calls by services mixed in.
    #[test]
    fn batches_decide_as_one_event_at_a_time() {
        use crate::audit::cloudtrail::reader::{read_bytes_batched, read_bytes_with};
        let inv = corpus_inventory();
        let gen = crate::audit::workload::cloudtrail::EventGenerator::new(&inv).unwrap();
        let mut records = Vec::new();
        gen.generate(5 * BATCH, 11, |e| records.push(e));
        let service = serde_json::json!({"eventVersion": "1.08", "eventType": "AwsApiCall",
            "eventSource": "s3.amazonaws.com", "eventName": "GetObject",
            "userIdentity": {"type": "AWSService", "invokedBy": "cloudtrail.amazonaws.com"}});
        let not_a_call = serde_json::json!({"eventVersion": "1.08", "eventType": "AwsConsoleSignIn",
            "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin"});
        for (at, record) in [(3, serde_json::json!(5)), (BATCH + 1, service), (2 * BATCH, not_a_call)] {
            records.insert(at, record);
        }
        let doc = serde_json::json!({"Records": records}).to_string();
        let replay = |batched: bool| {
            let mut r = Replayer::new(inv.clone(), Vec::new(), BTreeMap::new());
            let mut lines = Vec::new();
            let bytes = doc.as_bytes();
            r.replay_read("doc.json", &mut |l| lines.extend(l), &mut |members, sink| match batched {
                true => read_bytes_batched(bytes, "doc.json", members, sink),
                false => read_bytes_with(bytes, "doc.json", members, &mut |item| sink.item(item)),
            });
            let lines: Vec<String> = lines.iter().map(|l| serde_json::to_string(l).unwrap()).collect();
            (lines, serde_json::to_value(r.finish(1.0)).unwrap())
        };
        let (one_by_one, batched) = (replay(false), replay(true));
        assert_eq!(one_by_one.0, batched.0);
        assert_eq!(one_by_one.1, batched.1);
        let report = &batched.1;
        assert_eq!(report["events_read"], serde_json::json!(records.len()), "{report:#}");
        assert_eq!(report["events_skipped"], serde_json::json!(2), "{report:#}");
        assert_eq!(report["service_principal_events"], serde_json::json!(1), "{report:#}");
        assert!(batched.0.len() > 4 * BATCH, "{}", batched.0.len());
    }

    /// A replay fills only the context keys its policies read; every check
    /// is decided (statements, missing and unknown keys included) as when
    /// every key is filled, on events whose keys flip the decisions.
    #[test]
    fn filling_only_the_keys_policies_read_changes_no_decision() {
        let doc = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
             "Condition": {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}}},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*",
             "Condition": {"StringEquals": {"aws:PrincipalTag/team": "red"}}},
            {"Effect": "Allow", "Action": "iam:GetUser", "Resource": "arn:aws:iam::111122223333:user/${aws:username}"},
            {"Effect": "Deny", "Action": "*", "Resource": "*",
             "Condition": {"StringNotEquals": {"aws:RequestedRegion": ["us-east-1", "eu-west-1"]}}},
            {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
             "Condition": {"DateLessThan": {"aws:EpochTime": "1700000000"}}}]});
        let arn = "arn:aws:iam::111122223333:user/alice";
        let details = serde_json::json!({"UserDetailList": [{"UserName": "alice", "Arn": arn,
            "Tags": [{"Key": "team", "Value": "red"}],
            "UserPolicyList": [{"PolicyName": "conditions", "PolicyDocument": doc}]}]});
        let mut inv = Inventory::new();
        inv.load(details.to_string().as_bytes(), "details.json", None).unwrap();
        let wanted = context_keys(&inv, &[], &BTreeMap::new());
        assert_ne!(wanted, ContextKeys::default(), "the filter leaves keys out");
        assert!(wanted.principal_tags());
        let mut events = Vec::new();
        for (i, ip) in ["10.1.2.3", "192.0.2.1", "s3.amazonaws.com"].iter().enumerate() {
            for region in ["us-east-1", "ap-south-1"] {
                for (name, source, time) in [
                    ("GetObject", "s3", "2023-01-01T00:00:00Z"),
                    ("ListObjects", "s3", "2023-01-01T00:00:00Z"),
                    ("GetUser", "iam", "2023-01-01T00:00:00Z"),
                    ("SendMessage", "sqs", "2023-01-01T00:00:00Z"),
                    ("SendMessage", "sqs", "2024-01-01T00:00:00Z"),
                ] {
                    events.push(serde_json::json!({"eventVersion": "1.08", "eventType": "AwsApiCall",
                        "eventID": format!("{i}-{region}-{name}-{time}"), "eventTime": time,
                        "eventSource": format!("{source}.amazonaws.com"), "eventName": name, "awsRegion": region,
                        "sourceIPAddress": ip, "userAgent": "aws-cli/2",
                        "requestParameters": {"bucketName": "b", "key": "k", "queueUrl": "https://sqs.us-east-1.amazonaws.com/111122223333/q"},
                        "userIdentity": {"type": "IAMUser", "arn": arn, "accountId": "111122223333",
                            "principalId": "AIDAEXAMPLE", "userName": "alice", "accessKeyId": "AKIAEXAMPLE"}}));
                }
            }
        }
        let replay = |keys: ContextKeys| {
            let mut r = Replayer::new(inv.clone(), Vec::new(), BTreeMap::new());
            r.recycled.keys = keys;
            let lines: Vec<String> = events
                .iter()
                .flat_map(|e| r.event(&Record::from_value(e)))
                .map(|l| serde_json::to_string(&l).unwrap())
                .collect();
            (lines, serde_json::to_value(r.finish(1.0)).unwrap())
        };
        let (all, all_report) = replay(ContextKeys::default());
        let (filtered, filtered_report) = replay(wanted);
        assert_eq!(all, filtered);
        assert_eq!(all_report, filtered_report);
        // The keys decided: each check was both allowed and denied somewhere.
        for action in ["s3:GetObject", "iam:GetUser", "sqs:SendMessage"] {
            let of = |d: &str| all.iter().any(|l| l.contains(action) && l.contains(&format!("\"decision\":\"{d}\"")));
            assert!(of("allowed") && (of("explicitDeny") || of("implicitDeny")), "{action}: {all:#?}");
        }
        assert!(all.iter().any(|l| l.contains("s3:ListBucket") && l.contains("\"decision\":\"allowed\"")), "{all:#?}");
    }

    /// The inventory's tags become the principal's tag keys; any other tag
    /// key is absent, while other unlisted keys stay unknown (open world).
    #[test]
    fn principal_tags_are_listed_and_the_rest_absent() {
        let identity = crate::audit::inventory::Identity {
            arn: "arn:aws:iam::111122223333:user/alice".into(),
            tags: vec![("team".into(), "red".into())],
            ..Default::default()
        };
        let mut context = crate::engine::request::Context::open_world();
        context.insert_principal_tags(&identity.tags);
        let req = Request { context, ..Request::new(Principal::parse(&identity.arn).unwrap(), "s3:GetObject", "*") };
        assert_eq!(req.lookup("aws:principaltag/team"), Some(crate::engine::request::Value::Single("red")));
        assert_eq!(req.lookup("aws:principaltag/other"), None);
        assert_eq!(req.lookup("aws:sourceip"), Some(crate::engine::request::Value::Unknown));
    }
}
