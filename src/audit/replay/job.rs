//! A whole replay from its inputs, as `iamsim replay` and the Python
//! package run it: the account (authorization details, principals given
//! with their policies, proposed policies in place of current ones), the
//! organization's SCPs and the resources' policies, then every CloudTrail
//! file under the paths given, into one [`Report`].
//!
//! Part of [`replay`](super): it only puts the pieces together
//! ([`Inventory`], [`collect_files`], [`SessionTags`], [`Replayer`]);
//! reading policy files and showing progress stay with the caller.
//!
//! ```
//! use iamsim::audit::replay::job::{run, ReplayJob};
//! let job = ReplayJob {
//!     cloudtrail: vec!["corpus/replay/cloudtrail".into()],
//!     authorization_details: vec![std::fs::read("corpus/replay/authorization-details.json")?],
//!     ..ReplayJob::default()
//! };
//! let report = run(job, |_| {}, |_| {}, |_| {})?;
//! assert!(report.events_read > 0 && report.events_evaluated > 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use super::{CheckLine, Replayer, Report};
use crate::audit::catalog::Catalog;
use crate::audit::cloudtrail::reader::{collect_files, read_file, Files, Item, ReadError};
use crate::audit::inventory::{Inventory, InventoryError};
use crate::audit::sessions::SessionTags;
use crate::engine::policy::Policy;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// What a replay reads.
#[derive(Default)]
pub struct ReplayJob {
    /// CloudTrail files or folders (S3 layout, `.json`, `.json.gz`, JSON Lines; `-` for stdin).
    pub cloudtrail: Vec<PathBuf>,
    /// The contents of `get-account-authorization-details` outputs, one per account.
    pub authorization_details: Vec<Vec<u8>>,
    /// How to name each of `authorization_details` in errors (defaults to
    /// `authorization_details[i]`).
    pub authorization_details_names: Vec<String>,
    /// A folder of `<PolicyName>.json` managed policies the details omit.
    pub managed_policies: Option<PathBuf>,
    /// Principals the details do not list, with their identity policies.
    pub policies: Vec<(String, Vec<Policy>)>,
    /// Proposed identity policies in place of a principal's current ones.
    /// With authorization details, each break is then new or existing.
    pub overrides: Vec<(String, Vec<Policy>)>,
    /// SCPs of the principals' accounts, one list per level, root first.
    pub scps: Vec<Vec<Policy>>,
    /// Resource-based policies by the ARN they guard.
    pub resource_policies: BTreeMap<String, Policy>,
    /// The accounts owning resources whose ARN does not say (S3), by ARN.
    pub resource_owners: BTreeMap<String, String>,
    /// The service reference, for the catalog-derived checks and the conformance figure.
    pub catalog: Option<Arc<Catalog>>,
    /// Worker threads (default: the rayon pool's).
    pub threads: Option<usize>,
    /// Whether `lines` gets every decided check.
    pub want_lines: bool,
}

/// A replay that cannot start.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Authorization details that cannot be read.
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    /// A principal given with its policies is in the authorization details already.
    #[error("`{0}` is in the authorization details; override its policies instead")]
    Listed(String),
    /// A principal given with its policies is not a user or role ARN, or given twice.
    #[error("`{0}`: expected an IAM user or role ARN (arn:aws:iam::<account>:user/<name> or …:role/<path/name>), given once")]
    NotAPrincipal(String),
    /// Proposed policies for a principal the authorization details do not list.
    #[error("`{0}` is not a user or role in the authorization details")]
    NotInDetails(String),
    /// No account and no principal given.
    #[error("nothing to replay against: give authorization details, or a principal with its policies")]
    NothingToReplay,
    /// A CloudTrail path that cannot be listed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// What a replay says along the way that is not an error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notice {
    /// A path under the CloudTrail folders that is not a log file, with why.
    Skipped(String),
    /// Something the replay could not do, to tell the user.
    Note(String),
    /// What the replay did on the way, for a user watching it.
    Detail(String),
    /// A problem in the inputs that does not stop the replay (an `Action`
    /// entry of a principal's policy that matches no action).
    Warning(String),
}

/// Runs the replay `job` describes. `lines` gets the decided checks (with
/// [`ReplayJob::want_lines`]), `progress` the number of files done,
/// `notice` what is skipped or worth saying.
///
/// # Errors
/// Authorization details that do not load, principals or overrides that do
/// not fit them, or CloudTrail paths that cannot be listed. Problems inside
/// the logs are the report's (skipped records with their reasons).
pub fn run(
    mut job: ReplayJob,
    lines: impl FnMut(Vec<CheckLine>),
    progress: impl Fn(usize) + Sync,
    notice: impl FnMut(Notice),
) -> Result<Report, JobError> {
    let files = collect_files(&std::mem::take(&mut job.cloudtrail))?;
    run_files(job, files, lines, progress, notice)
}

/// [`run`] on log files the caller has listed already
/// ([`collect_files`] of the job's paths, which are then not read again).
///
/// # Errors
/// As [`run`], but for listing the logs.
pub fn run_files(
    job: ReplayJob,
    files: Files,
    lines: impl FnMut(Vec<CheckLine>),
    progress: impl Fn(usize) + Sync,
    mut notice: impl FnMut(Notice),
) -> Result<Report, JobError> {
    let start = std::time::Instant::now();
    let (mut replayer, tested) = build(job, &mut notice)?;
    let skipped: Vec<String> =
        files.skipped.iter().map(|(p, why)| super::skipped_path(&p.display().to_string(), why)).collect();
    for line in &skipped {
        notice(Notice::Skipped(line.clone()));
    }
    if tested {
        if let Some(index) = session_tags(&files.files, &mut notice) {
            replayer.set_session_tags(index);
        }
    }
    replayer.replay_files(&files.files, lines, progress);
    let mut report = replayer.finish(start.elapsed().as_secs_f64());
    report.skipped_paths.extend(skipped);
    report.skipped_paths.sort();
    Ok(report)
}

/// The replayer `job` describes, ready for logs (its `cloudtrail` is not
/// read), and whether a policy tests `aws:PrincipalTag` (role sessions'
/// tags then come from the logs' `AssumeRole` calls, read before the
/// replay: [`Replayer::set_session_tags`]).
///
/// # Errors
/// As [`run`], but for the logs.
pub fn build(job: ReplayJob, notice: &mut impl FnMut(Notice)) -> Result<(Replayer, bool), JobError> {
    let mut inventory = Inventory::new();
    for (i, bytes) in job.authorization_details.iter().enumerate() {
        let name =
            job.authorization_details_names.get(i).cloned().unwrap_or_else(|| format!("authorization_details[{i}]"));
        inventory.load(bytes, &name, job.managed_policies.as_deref())?;
    }
    for w in crate::engine::policy::dead_action_warnings(inventory.policies()) {
        notice(Notice::Warning(w));
    }
    for (arn, policies) in &job.policies {
        if inventory.get(arn).is_some() {
            return Err(JobError::Listed(arn.clone()));
        }
        if !inventory.add_principal(arn, policies.clone()) {
            return Err(JobError::NotAPrincipal(arn.clone()));
        }
    }
    let with_details = !job.authorization_details.is_empty();
    if !with_details && job.policies.is_empty() && job.overrides.is_empty() {
        return Err(JobError::NothingToReplay);
    }
    // With the current policies known, each break is also decided against
    // them: new or existing.
    let baseline = (with_details && !job.overrides.is_empty()).then(|| inventory.clone());
    for (arn, policies) in &job.overrides {
        // Without authorization details there is nothing to override: the
        // principal is replayed against the policies, as a given principal.
        let placed = match inventory.get(arn) {
            Some(_) => inventory.set_policies(arn, policies.clone()),
            None => !with_details && inventory.add_principal(arn, policies.clone()),
        };
        if !placed {
            return Err(JobError::NotInDetails(arn.clone()));
        }
    }
    let mut replayer = Replayer::new(inventory, job.scps, job.resource_policies);
    if let Some(current) = baseline {
        replayer.set_baseline(current);
    }
    let tested = replayer.reads_principal_tags();
    replayer.set_resource_owners(job.resource_owners);
    replayer.set_want_lines(job.want_lines);
    if let Some(n) = job.threads {
        replayer.set_threads(n);
    }
    if let Some(c) = job.catalog {
        replayer.set_catalog(c);
    }
    Ok((replayer, tested))
}

/// Role sessions' tags from the logs' `AssumeRole` calls, read before the
/// replay (stdin cannot be read twice: the tags stay unknown).
fn session_tags(files: &[PathBuf], notice: &mut impl FnMut(Notice)) -> Option<SessionTags> {
    if files.iter().any(|f| f.as_os_str() == "-") {
        notice(Notice::Note(
            "stdin cannot be read twice: role sessions' tags (aws:PrincipalTag) stay unknown".to_string(),
        ));
        return None;
    }
    let mut index = SessionTags::new();
    for f in files {
        // Problems in a file are the replay's to report.
        let _ = read_file(f, &mut |item| {
            if let Item::Event(_, record) = item {
                index.note(&record);
            }
        });
    }
    notice(Notice::Detail(format!(
        "policies test aws:PrincipalTag: the logs were read once more for role sessions' tags ({} sessions created in them)",
        index.len()
    )));
    Some(index)
}
