//! `iamsim replay`: CloudTrail logs against current or proposed policies.
//! Prints a summary, writes every decided check (`--out`) and the report
//! (`--report`). Every event read is either evaluated or counted as skipped.

use super::{load, CliError};
use iamsim::audit::cloudtrail::reader::collect_files;
use iamsim::audit::replay::{ReplayInputs, Report};
use iamsim::engine::policy::{Policy, PolicyKind};
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `iamsim replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// CloudTrail log files or folders (S3 layout, `.json`/`.json.gz`, JSON Lines); `-` for stdin.
    #[arg(long = "cloudtrail", required = true)]
    cloudtrail: Vec<PathBuf>,
    /// Output of `aws iam get-account-authorization-details`; repeat per account.
    /// Optional when every principal to replay is given with `--policy`.
    #[arg(long = "authorization-details")]
    details: Vec<PathBuf>,
    /// A principal the authorization details do not list, replayed against
    /// this policy file: `ARN=FILE` (IAM user or role ARN, with its path); repeatable.
    #[arg(long = "policy")]
    policies: Vec<String>,
    /// Folder of `<PolicyName>.json` managed policy documents, for managed policies the details file does not include.
    #[arg(long = "managed-policies")]
    managed: Option<PathBuf>,
    /// SCPs of one organization level of the principals' accounts (root first); repeatable.
    #[arg(long = "scp")]
    scps: Vec<PathBuf>,
    /// Replace a principal's identity policies with a proposed one: `ARN=FILE` (user or role ARN).
    #[arg(long = "override")]
    overrides: Vec<String>,
    /// A resource's resource-based policy: `ARN=FILE`; repeatable. FILE is a
    /// policy document or the output of `aws s3api get-bucket-policy`, `aws kms
    /// get-key-policy`, `aws lambda get-policy` or `aws sqs get-queue-attributes
    /// --attribute-names Policy`.
    #[arg(long = "resource-policy")]
    resource_policies: Vec<String>,
    /// Resource policies with the ARNs they guard: AWS Config configuration
    /// items (a snapshot, get-resource-config-history output, or one item;
    /// S3 bucket policies) or a `{"ARN": policy}` map; repeatable.
    #[arg(long = "resource-policies")]
    resource_policy_files: Vec<PathBuf>,
    /// Write every decided check here (JSON Lines).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write the report here (JSON).
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the report as one self-contained HTML page here (summary,
    /// timeline, breakage, unused permissions, skipped records, inputs).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Summary format on stdout: text, the report as JSON, or JUnit XML
    /// (for CI: a test case per breakage group, failed).
    #[arg(long, value_enum, default_value = "text")]
    format: ReplayFormat,
    /// Worker threads, each replaying whole files (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Exit 3 when the replay finds breakage of these classes (repeatable;
    /// `new` needs `--override` and the authorization details, to compare with).
    #[arg(long = "fail-on", value_enum)]
    fail_on: Vec<FailOn>,
    /// Exit 1 (bad input) when more than this share of the records read are
    /// malformed: a percentage (`1`, `0.5%`; `0` allows none, `100` any).
    #[arg(long = "max-malformed", default_value = "1%", value_parser = parse_percent)]
    max_malformed: f64,
    #[command(flatten)]
    catalog: super::catalog_cmd::CatalogArg,
    /// Identity policies replacing a principal's, in memory (`generate`'s
    /// proof: no temporary file that an interrupt could leave behind).
    #[arg(skip)]
    generated: Vec<(String, Vec<Policy>)>,
}

/// What `--fail-on` can make a replay fail on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    /// A recorded success that the policies certainly deny.
    WouldBreak,
    /// A recorded success denied unless something not provided (a resource
    /// policy, a context value…) allows it.
    WouldBreakUnless,
    /// A break of either class that the current policies do not have.
    New,
}

impl FailOn {
    /// Whether the report has breakage of this class.
    fn flags(self, r: &Report) -> bool {
        match self {
            FailOn::WouldBreak => r.breakage.would_break > 0,
            FailOn::WouldBreakUnless => r.breakage.would_break_unless > 0,
            FailOn::New => r.breakage.new > 0,
        }
    }
}

impl ReplayArgs {
    /// Whether the current policies are known beside proposed ones
    /// (`--override` with the authorization details): breaks are then new
    /// or existing.
    fn has_baseline(&self) -> bool {
        (!self.overrides.is_empty() || !self.generated.is_empty()) && !self.details.is_empty()
    }

    /// Refuses an output (`--out`, `--report`) that is one of the inputs or
    /// the other output, before anything is created or truncated.
    fn refuse_overwriting_inputs(&self, logs: &[PathBuf]) -> Result<(), CliError> {
        let pairs = self.overrides.iter().chain(&self.resource_policies).chain(&self.policies);
        let files: Vec<PathBuf> = pairs.filter_map(|p| p.split_once('=').map(|(_, f)| PathBuf::from(f))).collect();
        let inputs =
            logs.iter().chain(&self.details).chain(&self.scps).chain(&files).chain(&self.resource_policy_files);
        let outputs: Vec<(&str, &PathBuf)> = [("--out", &self.out), ("--report", &self.report), ("--html", &self.html)]
            .into_iter()
            .filter_map(|(n, p)| Some((n, p.as_ref()?)))
            .collect();
        for (flag, out) in &outputs {
            if let Some(input) = inputs.clone().find(|i| super::load::same_file(i, out)) {
                return Err(CliError::new(format!(
                    "{flag} {}: is an input ({}); refusing to overwrite it",
                    out.display(),
                    input.display()
                )));
            }
        }
        for (i, (flag_a, a)) in outputs.iter().enumerate() {
            for (flag_b, b) in outputs.iter().skip(i + 1) {
                if a == b || super::load::same_file(a, b) {
                    return Err(CliError::new(format!("{flag_a} and {flag_b} are the same file ({})", a.display())));
                }
            }
        }
        Ok(())
    }

    /// The inputs as recorded in the report, so `generate` can replay them
    /// again: absolute paths, so it can from any working directory.
    fn inputs(&self) -> ReplayInputs {
        let absolute = |p: &std::path::Path| {
            if p.as_os_str() == "-" {
                p.to_path_buf()
            } else {
                std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
            }
        };
        let shown = |p: &PathBuf| absolute(p).display().to_string();
        let pair = |p: &String| match p.split_once('=') {
            Some((arn, file)) => format!("{arn}={}", absolute(std::path::Path::new(file)).display()),
            None => p.clone(),
        };
        ReplayInputs {
            cloudtrail: self.cloudtrail.iter().map(shown).collect(),
            authorization_details: self.details.iter().map(shown).collect(),
            policies: self.policies.iter().map(pair).collect(),
            managed_policies: self.managed.as_ref().map(shown),
            scps: self.scps.iter().map(shown).collect(),
            resource_policies: self.resource_policies.iter().map(pair).collect(),
            resource_policy_files: self.resource_policy_files.iter().map(shown).collect(),
            overrides: self.overrides.iter().map(pair).collect(),
            catalog: self.catalog.named(),
        }
    }

    /// The same replay with `principal`'s identity policies replaced by
    /// `file`'s. The report is input like any other: every path it records
    /// must still be a regular file or folder outside `/proc`, `/sys` and
    /// `/dev` (a doctored report must not make `generate` read a device),
    /// and stdin cannot be read again.
    ///
    /// # Errors
    /// A recorded path that is none of those, named.
    pub fn with_override(
        inputs: &ReplayInputs,
        principal: &str,
        policies: Vec<Policy>,
    ) -> Result<ReplayArgs, CliError> {
        let path = |p: &String| recorded_path(p);
        let checked_pair = |p: &String| -> Result<String, CliError> {
            let (_, f) = load::split_pair("the report's inputs", p)?;
            recorded_path(f).map(|_| p.clone())
        };
        let overrides: Vec<String> = inputs
            .overrides
            .iter()
            .filter(|o| !o.starts_with(&format!("{principal}=")))
            .map(checked_pair)
            .collect::<Result<_, _>>()?;
        Ok(ReplayArgs {
            generated: vec![(principal.to_string(), policies)],
            cloudtrail: inputs.cloudtrail.iter().map(path).collect::<Result<_, _>>()?,
            details: inputs.authorization_details.iter().map(path).collect::<Result<_, _>>()?,
            policies: inputs.policies.iter().map(checked_pair).collect::<Result<_, _>>()?,
            managed: inputs.managed_policies.as_ref().map(path).transpose()?,
            scps: inputs.scps.iter().map(path).collect::<Result<_, _>>()?,
            overrides,
            resource_policies: inputs.resource_policies.iter().map(checked_pair).collect::<Result<_, _>>()?,
            resource_policy_files: inputs.resource_policy_files.iter().map(path).collect::<Result<_, _>>()?,
            out: None,
            report: None,
            html: None,
            format: ReplayFormat::Json,
            threads: None,
            fail_on: Vec::new(),
            max_malformed: 100.0,
            catalog: super::catalog_cmd::CatalogArg::from_path(inputs.catalog.as_ref().map(PathBuf::from)),
        })
    }
}

/// A path a report recorded, checked before it is read again (see
/// [`ReplayArgs::with_override`]).
fn recorded_path(p: &str) -> Result<PathBuf, CliError> {
    let bad = |why: &str| CliError::new(format!("the report's input `{p}` {why}; re-run replay, or pass --no-prove"));
    if p == "-" {
        return Err(bad("was stdin, which cannot be read again"));
    }
    let real = std::fs::canonicalize(p).map_err(|e| bad(&format!("cannot be found ({e})")))?;
    if ["/proc", "/sys", "/dev"].iter().any(|d| real.starts_with(d)) {
        return Err(bad(&format!("is {}, not a log, policy or details file", real.display())));
    }
    let meta = std::fs::metadata(&real).map_err(|e| bad(&format!("cannot be read ({e})")))?;
    if !(meta.is_file() || meta.is_dir()) {
        return Err(bad("is not a regular file or folder"));
    }
    Ok(PathBuf::from(p))
}

/// `replay --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayFormat {
    /// A readable summary.
    Text,
    /// The report (as `--report` writes it).
    Json,
    /// JUnit XML.
    Junit,
}

/// The report as JUnit XML, the format CI systems show test results in: a
/// test suite per breakage class (`would_break`, `would_break_unless`,
/// `disagreements`), a failed test case per group (principal, action,
/// resource) with its count, sample event ids and what it depends on; a
/// class with no group has one passing case, so every class shows.
fn junit(report: &Report) -> String {
    use super::output::markup as xml;
    let classes = [
        ("would_break", "recorded success, certainly denied", &report.would_break),
        (
            "would_break_unless",
            "recorded success, denied unless something not provided allows it",
            &report.would_break_unless,
        ),
        ("disagreements", "recorded AccessDenied, simulated allow", &report.disagreements),
    ];
    let failures: usize = classes.iter().map(|(_, _, g)| g.len()).sum();
    let tests: usize = classes.iter().map(|(_, _, g)| g.len().max(1)).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<testsuites name=\"iamsim replay\" tests=\"{tests}\" failures=\"{failures}\">\n"));
    for (class, meaning, groups) in classes {
        out.push_str(&format!(
            "  <testsuite name=\"{class}\" tests=\"{}\" failures=\"{}\">\n",
            groups.len().max(1),
            groups.len()
        ));
        if groups.is_empty() {
            out.push_str(&format!("    <testcase classname=\"{class}\" name=\"no {class}\"/>\n"));
        }
        for g in groups {
            let resource = if g.resource.is_empty() { "(resource not named)" } else { &g.resource };
            let name = format!("{} {} on {resource}", g.principal, g.action);
            let mut detail = format!("{} checks; events: {}", g.count, g.event_ids.join(", "));
            if let Some(unless) = &g.unless_detail {
                detail.push_str(&format!("; unless {unless}"));
            }
            if let Some(status) = g.status {
                detail.push_str(&format!("; {}", status.as_str()));
            }
            out.push_str(&format!(
                "    <testcase classname=\"{class}\" name=\"{}\">\n      <failure type=\"{class}\" message=\"{}\">{}</failure>\n    </testcase>\n",
                xml(&name),
                xml(meaning),
                xml(&detail)
            ));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// `1`, `0.5%`, `100`: a percentage from 0 to 100.
fn parse_percent(text: &str) -> Result<f64, String> {
    let number = text.trim().trim_end_matches('%').trim();
    match number.parse::<f64>() {
        Ok(p) if (0.0..=100.0).contains(&p) => Ok(p),
        _ => Err(format!("expected a percentage from 0 to 100 (`1`, `0.5%`), found `{text}`")),
    }
}

/// Whether the inputs were what a replay needs: some CloudTrail event among
/// the records read, and no more malformed records than `--max-malformed`.
fn input_problem(report: &Report, args: &ReplayArgs) -> Result<(), CliError> {
    use iamsim::audit::cloudtrail::event::SkipKind;
    let count = |kind| report.skipped_reasons.get(&kind).copied().unwrap_or(0);
    let (malformed, unreadable, not_events) =
        (count(SkipKind::MalformedRecord), count(SkipKind::UnreadableFile), count(SkipKind::NotAnEvent));
    let events = report.events_read.saturating_sub(malformed + unreadable + not_events);
    let paths: Vec<String> = args.cloudtrail.iter().map(|p| p.display().to_string()).collect();
    // Each path given: some file under it held an event.
    for path in &args.cloudtrail {
        let files = collect_files(std::slice::from_ref(path)).map(|f| f.files).unwrap_or_default();
        let silent = |f: &PathBuf| report.files_without_events.binary_search(&f.display().to_string()).is_ok();
        if files.iter().all(silent) {
            return Err(CliError::new(format!(
                "--cloudtrail {}: no CloudTrail event found there ({} files: none held an event)",
                path.display(),
                files.len()
            )));
        }
    }
    if events == 0 {
        return Err(CliError::new(format!(
            "--cloudtrail {}: no CloudTrail event found ({} records read: {malformed} malformed, {not_events} not CloudTrail events, {unreadable} unreadable files)",
            paths.join(" "),
            report.events_read
        )));
    }
    // malformed / read > max%, in integers where they fit.
    if malformed as f64 * 100.0 > args.max_malformed * report.events_read as f64 {
        return Err(CliError::new(format!(
            "--cloudtrail {}: {malformed} of {} records read are malformed ({:.2}%), over --max-malformed {}%; the report lists the first of them",
            paths.join(" "),
            report.events_read,
            malformed as f64 * 100.0 / report.events_read as f64,
            args.max_malformed
        )));
    }
    Ok(())
}

/// Runs `replay`: exit 3 when `--fail-on` flags the report.
pub fn run(args: &ReplayArgs) -> Result<ExitCode, CliError> {
    if args.fail_on.contains(&FailOn::New) && !args.has_baseline() {
        return Err(CliError::new(
            "--fail-on new: a break is new against the current policies: give --authorization-details and --override",
        ));
    }
    let report = replay(args, true)?;
    match args.format {
        ReplayFormat::Json => super::output::print_stdout(&format!("{}\n", serde_json::to_string(&report)?))?,
        ReplayFormat::Text => super::output::print_stdout(&summary(&report))?,
        ReplayFormat::Junit => super::output::print_stdout(&junit(&report))?,
    }
    // Bad input ends the run with 1, after the report is out (it says why).
    input_problem(&report, args)?;
    let flagged: Vec<FailOn> = args.fail_on.iter().copied().filter(|f| f.flags(&report)).collect();
    if flagged.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let names: Vec<String> =
        flagged.iter().filter_map(clap::ValueEnum::to_possible_value).map(|v| v.get_name().to_string()).collect();
    eprintln!("iamsim: replay flagged (--fail-on): {}", names.join(", "));
    Ok(ExitCode::from(super::catalog_cmd::CHECK_FAILED))
}

/// Runs the replay the arguments describe and returns its report (also
/// written to `--report`); `progress` shows a bar on stderr.
pub fn replay(args: &ReplayArgs, progress: bool) -> Result<Report, CliError> {
    use iamsim::audit::replay::job::{self, JobError, Notice, ReplayJob};
    let catalog = args.catalog.load_optional()?;
    if catalog.is_none() && progress {
        // Said once: the answer is less than it could be.
        eprintln!(
            "iamsim: note: no catalog: resources of calls the built-in tables do not map stay unknown, and there is no conformance figure; `iamsim catalog fetch` gets AWS's service reference"
        );
    }
    let mut details = Vec::with_capacity(args.details.len());
    for d in &args.details {
        details.push(load::read_file(d)?);
    }
    let pairs = |flag: &str, list: &[String]| -> Result<Vec<(String, Vec<Policy>)>, CliError> {
        list.iter()
            .map(|p| {
                let (arn, file) = load::split_pair(flag, p)?;
                Ok((arn.to_string(), load::policies(std::path::Path::new(file), PolicyKind::Identity)?))
            })
            .collect()
    };
    let mut overrides = pairs("--override", &args.overrides)?;
    overrides.extend(args.generated.iter().cloned());
    let (resource_policies, resource_owners) =
        load::resource_policies(&args.resource_policies, &args.resource_policy_files)?;
    let scps = args.scps.iter().map(|p| load::policies(p, PolicyKind::Scp)).collect::<Result<Vec<_>, _>>()?;
    // Listed once; before anything is written, no output may be one of the inputs.
    let collected = collect_files(&args.cloudtrail)?;
    args.refuse_overwriting_inputs(&collected.files)?;
    let mut out: Option<Box<dyn Write>> = match &args.out {
        Some(p) => Some(Box::new(BufWriter::new(
            std::fs::File::create(p).map_err(|e| CliError::new(format!("{}: cannot write: {e}", p.display())))?,
        ))),
        None => None,
    };
    let job = ReplayJob {
        authorization_details_names: args.details.iter().map(|d| d.display().to_string()).collect(),
        authorization_details: details,
        managed_policies: args.managed.clone(),
        policies: pairs("--policy", &args.policies)?,
        overrides,
        scps,
        resource_policies,
        resource_owners,
        catalog: catalog.map(std::sync::Arc::new),
        threads: super::thread_count(args.threads)?,
        want_lines: out.is_some(),
        // Listed above: `run_files` takes the list.
        cloudtrail: Vec::new(),
    };
    let files = collected.files.len();
    let bar = if progress {
        indicatif::ProgressBar::new(u64::try_from(files).unwrap_or(0))
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} files")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut write_error: Option<std::io::Error> = None;
    let report = job::run_files(
        job,
        collected,
        |lines| {
            if let (Some(w), None) = (out.as_mut(), &write_error) {
                for line in lines {
                    let text = serde_json::to_string(&line).unwrap_or_default();
                    if let Err(e) = w.write_all(text.as_bytes()).and_then(|_| w.write_all(b"\n")) {
                        write_error = Some(e);
                        break;
                    }
                }
            }
        },
        |done| bar.set_position(u64::try_from(done).unwrap_or(0)),
        |notice| match notice {
            Notice::Skipped(line) | Notice::Warning(line) => eprintln!("iamsim: warning: {line}"),
            Notice::Note(line) => eprintln!("iamsim: note: {line}"),
            Notice::Detail(line) if progress => eprintln!("iamsim: note: {line}"),
            Notice::Detail(_) => {}
        },
    )
    .map_err(|e| match e {
        JobError::Listed(arn) => CliError::new(format!(
            "--policy: `{arn}` is in the authorization details; use --override ARN=FILE to replace its policies"
        )),
        JobError::NotAPrincipal(arn) => CliError::new(format!(
            "--policy: `{arn}`: expected an IAM user or role ARN (arn:aws:iam::<account>:user/<name> or …:role/<path/name>), given once"
        )),
        JobError::NotInDetails(arn) => {
            CliError::new(format!("--override: `{arn}` is not a user or role in the authorization details"))
        }
        JobError::NothingToReplay => CliError::new(
            "nothing to replay against: give --authorization-details FILE, or --policy ARN=FILE for each principal",
        ),
        other => CliError::new(other.to_string()),
    })?;
    bar.finish_and_clear();
    if let Some(e) = write_error {
        return Err(CliError::new(format!("cannot write decisions: {e}")));
    }
    if let Some(w) = out.as_mut() {
        w.flush()?;
    }
    let mut report = report;
    report.inputs = Some(args.inputs());
    if let Some(p) = &args.report {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(p, text + "\n").map_err(|e| CliError::new(format!("{}: cannot write: {e}", p.display())))?;
    }
    if let Some(p) = &args.html {
        std::fs::write(p, super::html::render(&report))
            .map_err(|e| CliError::new(format!("{}: cannot write: {e}", p.display())))?;
    }
    Ok(report)
}

/// A summary line's (principal, action, caveat, status).
type LineKey<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>);

/// The groups of one summary line.
struct RolledUp<'a> {
    checks: usize,
    resources: usize,
    /// The first group's resource.
    sample: &'a str,
}

fn summary(r: &Report) -> String {
    let files = r.files;
    let mut s = String::new();
    let d = &r.decisions;
    s.push_str(&format!(
        "events: {} read from {files} files, {} evaluated, {} skipped, {} made by AWS service principals\n",
        r.events_read, r.events_evaluated, r.events_skipped, r.service_principal_events
    ));
    for (why, n) in &r.skipped_details {
        s.push_str(&format!("  skipped {n:>7}  {why}\n"));
    }
    if r.service_principal_events > 0 {
        s.push_str(
            "  calls by AWS services acting as themselves are governed by resource policies alone, not checked:\n",
        );
        let mut by_count: Vec<(&String, &usize)> = r.service_principal_calls.iter().collect();
        by_count.sort_by(|a, b| b.1.cmp(a.1));
        for (service, n) in by_count.iter().take(10) {
            s.push_str(&format!("  service {n:>7}  {service}\n"));
        }
    }
    s.push_str(&format!(
        "checks: {}: allowed {}, explicitDeny {}, implicitDeny {}, indeterminate {}\n",
        r.checks, d.allowed, d.explicit_deny, d.implicit_deny, d.indeterminate
    ));
    for (why, n) in &r.indeterminate_details {
        s.push_str(&format!("  indeterminate {n:>7}  {why}\n"));
    }
    let list = |s: &mut String, title: &str, checks: usize, groups: &[iamsim::audit::replay::Group]| {
        s.push_str(&format!("{title}: {checks} checks in {} (principal, action, resource) groups\n", groups.len()));
        // One line per (principal, action, caveat, status): a bucket's
        // thousand objects read as one line with their count.
        let mut lines: BTreeMap<LineKey<'_>, RolledUp<'_>> = BTreeMap::new();
        for g in groups {
            let key =
                (g.principal.as_str(), g.action.as_str(), g.unless_detail.as_deref(), g.status.map(|x| x.as_str()));
            let line = lines.entry(key).or_insert(RolledUp { checks: 0, resources: 0, sample: g.resource.as_str() });
            line.checks += g.count;
            line.resources += 1;
        }
        let mut lines: Vec<_> = lines.into_iter().collect();
        lines.sort_by_key(|(_, line)| std::cmp::Reverse(line.checks));
        for ((principal, action, unless, status), line) in lines.iter().take(15) {
            let on = match (line.resources, line.sample) {
                (1, "") => "(resource not in the event)".to_string(),
                (1, r) => r.to_string(),
                (n, r) => format!("{n} resources, e.g. {r}"),
            };
            s.push_str(&format!("  {:>6}  {principal}  {action}  {on}", line.checks));
            if let Some(status) = status {
                s.push_str(&format!("  [{status}]"));
            }
            if let Some(unless) = unless {
                s.push_str(&format!("\n          unless: {unless}"));
            }
            s.push('\n');
        }
        if lines.len() > 15 {
            s.push_str(&format!("  … {} more in the report\n", lines.len() - 15));
        }
    };
    let b = &r.breakage;
    list(&mut s, "would break (recorded success, certainly denied)", b.would_break, &r.would_break);
    list(
        &mut s,
        "would break unless something not provided allows it (recorded success)",
        b.would_break_unless,
        &r.would_break_unless,
    );
    if b.new + b.existing > 0 {
        s.push_str(&format!("  of these breaks: {} new with the proposed policies, {} existing\n", b.new, b.existing));
    }
    list(&mut s, "disagreements (recorded AccessDenied, simulated allow)", b.disagreements, &r.disagreements);
    s.push_str(&format!("principals with no known policies: {}\n", r.unknown_principals.len()));
    for (p, n) in r.unknown_principals.iter().take(10) {
        s.push_str(&format!("  {n:>6}  {p}\n"));
    }
    for u in r.unused_permissions.iter().filter(|u| !u.unused_statements.is_empty() || !u.unused_actions.is_empty()) {
        s.push_str(&format!(
            "unused by {}: {} statements never used; {} granted actions it never called ({}{})\n",
            u.principal,
            u.unused_statements.len(),
            u.unused_action_count,
            u.unused_actions.iter().take(8).cloned().collect::<Vec<_>>().join(", "),
            if u.unused_action_count > 8 { ", …" } else { "" }
        ));
    }
    if let Some(c) = &r.conformance {
        s.push_str(&format!(
            "conformance with the service reference: {:.2} % of {} checks ({} miss; {:.2} % of the {} whose records name parameters or resources)\n",
            c.share * 100.0,
            c.checks,
            c.checks - c.conforming,
            c.share_where_logged * 100.0,
            c.checks - c.not_in_log
        ));
        for m in c.misses.iter().take(15) {
            let kind =
                serde_json::to_value(m.kind).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
            s.push_str(&format!("  {:>6}  {} {} → {}  {kind}", m.count, m.event_source, m.event_name, m.action));
            if let Some(r) = &m.sample_resource {
                s.push_str(&format!(" (e.g. {r})"));
            }
            s.push('\n');
        }
        if c.misses.len() > 15 {
            s.push_str(&format!("  … {} more in the report\n", c.misses.len() - 15));
        }
    }
    if let Some(unknown) = &r.unknown_actions {
        s.push_str(&format!("actions not in the catalog: {}\n", unknown.len()));
        for (a, n) in unknown.iter().take(10) {
            s.push_str(&format!("  {n:>6}  {a}\n"));
        }
    }
    s.push_str(&format!("throughput: {:.0} events/s\n", r.events_per_sec));
    s
}
