//! `iamsim who-can`, `principal-can` and `can-access`: the access queries of
//! [`iamsim::audit::access`] over authorization details.

use super::catalog_cmd::CatalogArg;
use super::{load, output, CliError, Format};
use iamsim::audit::access::sweep::{PrincipalCan, SweepFilter};
use iamsim::audit::access::{AccessInputs, AccountModel, Answer, ContextMode, Ruling, WhoCan};
use iamsim::audit::catalog::AccessLevel;
use iamsim::audit::inventory::Inventory;
use iamsim::engine::policy::PolicyKind;
use iamsim::engine::request::Context;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// The account and the question's assumptions, shared by the three commands.
#[derive(Debug, clap::Args)]
pub struct AccountArgs {
    /// Output of `aws iam get-account-authorization-details`; repeat per account.
    #[arg(long = "authorization-details", required = true)]
    details: Vec<PathBuf>,
    /// Folder of `<PolicyName>.json` managed policy documents, for managed policies the details file does not include.
    #[arg(long = "managed-policies")]
    managed: Option<PathBuf>,
    /// SCPs of one organization level of the principals' accounts (root first); repeatable.
    #[arg(long = "scp")]
    scps: Vec<PathBuf>,
    /// RCPs of one organization level of the resources' accounts (root first); repeatable.
    #[arg(long = "rcp")]
    rcps: Vec<PathBuf>,
    /// A resource's resource-based policy: `ARN=FILE`; repeatable.
    #[arg(long = "resource-policy")]
    resource_policies: Vec<String>,
    /// Resource policies with the ARNs they guard: AWS Config items or a `{"ARN": policy}` map; repeatable.
    #[arg(long = "resource-policies")]
    resource_policy_files: Vec<PathBuf>,
    /// Context keys the question fixes, as a JSON object (key → value or array).
    /// Keys not given are unknown: an answer that depends on them is `conditional`.
    #[arg(long)]
    context: Option<String>,
    /// Keys `--context` does not give are absent (as `simulate` reads a
    /// request), not unknown; the request time is now.
    #[arg(long = "closed-context")]
    closed: bool,
    /// The catalog, to expand wildcard actions and list a principal's actions.
    #[command(flatten)]
    catalog: CatalogArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

impl AccountArgs {
    /// Reads the inputs and compiles every principal's policies.
    fn model(&self) -> Result<AccountModel, CliError> {
        let mut inventory = Inventory::new();
        for d in &self.details {
            inventory.load(&load::read_file(d)?, &d.display().to_string(), self.managed.as_deref())?;
        }
        for identity in inventory.identities().filter(|i| !i.unresolved.is_empty()) {
            eprintln!(
                "iamsim: warning: {}: policies not in the authorization details (give --managed-policies): {}",
                identity.arn,
                identity.unresolved.join(", ")
            );
        }
        load::warn_dead_actions(inventory.policies());
        let (resource_policies, resource_owners) =
            load::resource_policies(&self.resource_policies, &self.resource_policy_files)?;
        let context = match &self.context {
            None => Context::new(),
            Some(text) => Context::from_json_text(text).map_err(|e| CliError::new(format!("--context: {e}")))?,
        };
        let inputs = AccessInputs {
            scps: self.scps.iter().map(|p| load::policies(p, PolicyKind::Scp)).collect::<Result<_, _>>()?,
            rcps: self.rcps.iter().map(|p| load::policies(p, PolicyKind::Rcp)).collect::<Result<_, _>>()?,
            resource_policies,
            resource_owners,
            context,
            mode: if self.closed { ContextMode::Closed } else { ContextMode::Open },
        };
        Ok(AccountModel::build(&inventory, inputs)?)
    }
}

/// Arguments of `iamsim who-can`.
#[derive(Debug, clap::Args)]
pub struct WhoCanArgs {
    /// The action (`service:Name`; a wildcard is expanded with the catalog).
    action: String,
    /// The resource ARN, or an ARN pattern (`arn:aws:s3:::data/*`).
    resource: String,
    /// Account owning the resource where its ARN does not say (S3); default: each principal's own.
    #[arg(long = "resource-account")]
    resource_account: Option<String>,
    #[command(flatten)]
    account: AccountArgs,
}

/// Arguments of `iamsim principal-can`.
#[derive(Debug, clap::Args)]
pub struct PrincipalCanArgs {
    /// The user or role ARN (with its path).
    principal: String,
    /// Only actions of this access level (List, Read, Write, Tagging, "Permissions management"); repeatable.
    #[arg(long = "access-level")]
    access_levels: Vec<String>,
    /// Only actions of this service prefix; repeatable.
    #[arg(long = "service")]
    services: Vec<String>,
    #[command(flatten)]
    account: AccountArgs,
}

/// Arguments of `iamsim can-access`.
#[derive(Debug, clap::Args)]
pub struct CanAccessArgs {
    /// The user or role ARN (with its path).
    #[arg(long)]
    from: String,
    /// The resource ARN.
    #[arg(long)]
    to: String,
    /// Account owning the resource where its ARN does not say (S3); default: the principal's.
    #[arg(long = "resource-account")]
    resource_account: Option<String>,
    /// List every action of the service that acts on the resource, not only the allowed ones.
    #[arg(long)]
    all: bool,
    #[command(flatten)]
    account: AccountArgs,
}

/// Runs `who-can`.
pub fn run_who_can(args: &WhoCanArgs) -> Result<ExitCode, CliError> {
    check_account(args.resource_account.as_deref())?;
    let catalog = args.account.catalog.load_optional()?;
    let model = args.account.model()?;
    let who = model.who_can(catalog.as_ref(), &args.action, &args.resource, args.resource_account.as_deref())?;
    emit(args.account.format, &who, who_can_text)
}

/// Runs `principal-can`.
pub fn run_principal_can(args: &PrincipalCanArgs) -> Result<ExitCode, CliError> {
    let catalog = args.account.catalog.load_optional()?.ok_or_else(|| {
        CliError::new("principal-can lists the catalog's actions: give --catalog DIR (or set $IAMSIM_CATALOG)")
    })?;
    let mut filter = SweepFilter { services: args.services.clone(), ..SweepFilter::default() };
    for level in &args.access_levels {
        let parsed = AccessLevel::parse(level).ok_or_else(|| {
            CliError::new(format!(
                "--access-level `{level}`: expected List, Read, Write, Tagging or \"Permissions management\""
            ))
        })?;
        filter.access_levels.push(parsed);
    }
    for s in &args.services {
        if catalog.service(s).is_none() {
            let hint = catalog.suggest_service(s);
            let hint = if hint.is_empty() { String::new() } else { format!(" (did you mean {}?)", hint.join(", ")) };
            return Err(CliError::new(format!("--service `{s}`: not a service prefix of the catalog{hint}")));
        }
    }
    let model = args.account.model()?;
    let plan = model
        .sweep_plan(&catalog)
        .map_err(|e| CliError::new(format!("the policies' actions against the catalog: {e}")))?;
    let can = model.principal_can(&plan, &args.principal, &filter)?;
    emit(args.account.format, &can, principal_can_text)
}

/// Runs `can-access`.
pub fn run_can_access(args: &CanAccessArgs) -> Result<ExitCode, CliError> {
    check_account(args.resource_account.as_deref())?;
    let catalog = args.account.catalog.load_optional()?.ok_or_else(|| {
        CliError::new(
            "can-access asks every action of the resource's service: give --catalog DIR (or set $IAMSIM_CATALOG)",
        )
    })?;
    let model = args.account.model()?;
    let mut answers = model.can_access(&catalog, &args.from, &args.to, args.resource_account.as_deref())?;
    let asked = answers.len();
    if !args.all {
        answers.retain(|a| a.ruling.access.may_allow());
    }
    let shown = CanAccess { principal: &args.from, resource: &args.to, actions_asked: asked, answers };
    emit(args.account.format, &shown, |c| {
        let mut out = format!(
            "{} on {}: {} of {} actions of the resource's service may be allowed\n",
            c.principal,
            c.resource,
            c.answers.iter().filter(|a| a.ruling.access.may_allow()).count(),
            c.actions_asked
        );
        answer_table(&mut out, &c.answers, false);
        out
    })
}

/// `can-access`'s output.
#[derive(serde::Serialize)]
struct CanAccess<'a> {
    principal: &'a str,
    resource: &'a str,
    actions_asked: usize,
    answers: Vec<Answer>,
}

/// Prints `value` as JSON or as `text` renders it.
fn emit<T: serde::Serialize>(format: Format, value: &T, text: impl FnOnce(&T) -> String) -> Result<ExitCode, CliError> {
    let shown = match format {
        Format::Json => {
            let mut s = serde_json::to_string_pretty(value)?;
            s.push('\n');
            s
        }
        Format::Text => text(value),
    };
    output::print_stdout(&shown)?;
    Ok(ExitCode::SUCCESS)
}

fn check_account(account: Option<&str>) -> Result<(), CliError> {
    match account {
        Some(a) if !iamsim::engine::request::is_account_id(a) => {
            Err(CliError::new(format!("--resource-account: `{a}` is not a 12-digit account id")))
        }
        _ => Ok(()),
    }
}

fn who_can_text(who: &WhoCan) -> String {
    let action = match who.actions.as_slice() {
        [one] => one.clone(),
        many => format!("{} actions", many.len()),
    };
    let policy = who.resource_policy.as_deref().map(|p| format!(" (resource policy: {p})")).unwrap_or_default();
    let mut out = format!(
        "who can {action} on {}{policy}: {} answers from {} principals; (principal, action) pairs denied {}, not allowed {}\n",
        who.resource,
        who.answers.len(),
        who.principals,
        who.denied,
        who.not_allowed
    );
    answer_table(&mut out, &who.answers, true);
    out
}

/// One line per answer, then what it rests on, indented.
fn answer_table(out: &mut String, answers: &[Answer], with_principal: bool) {
    for a in answers {
        let access = a.ruling.access.as_str();
        let _ = match with_principal {
            true => writeln!(out, "{access}  {} ({})  {}  {}", a.principal, kind_name(a), a.action, a.resource),
            false => writeln!(out, "{access}  {}", a.action),
        };
        ruling_lines(out, &a.ruling, "    ", Some("by"));
    }
}

/// What a ruling rests on, one `label: value` line each under `indent`:
/// the deciding statements (under `statements`, when given), the keys and
/// conditions of a conditional answer, the exceptions, the limiting layer
/// and the note.
fn ruling_lines(out: &mut String, r: &Ruling, indent: &str, statements: Option<&str>) {
    let mut line = |label: &str, value: &str| {
        let _ = writeln!(out, "{indent}{label}: {value}");
    };
    if let Some(label) = statements {
        for s in &r.statements {
            line(label, &s.to_string());
        }
    }
    let lists: [(&str, &[String]); 3] =
        [("depends on", &r.depends_on), ("condition", &r.conditions), ("except", &r.except)];
    for (label, values) in lists {
        for v in values {
            line(label, v);
        }
    }
    for (label, value) in [("limited by", &r.limited_by), ("note", &r.note)] {
        if let Some(v) = value {
            line(label, v);
        }
    }
}

fn kind_name(a: &Answer) -> &'static str {
    use iamsim::audit::access::PrincipalKind as K;
    match a.principal_type {
        K::User => "user",
        K::Role => "role",
        K::External => "external",
        K::Account => "account",
        K::Service => "service",
        K::Anyone => "anyone",
    }
}

fn principal_can_text(can: &PrincipalCan) -> String {
    let conditional = can
        .services
        .iter()
        .flat_map(|s| &s.actions)
        .filter(|a| a.grants.iter().all(|g| g.ruling.access != iamsim::audit::access::Access::Allowed))
        .count();
    let mut out = format!(
        "{}: {} actions allowed in {} services ({conditional} only conditionally); {} catalog actions asked, {} with an identity allow, {} decisions\n",
        can.principal,
        can.allowed_actions(),
        can.services.len(),
        can.actions_asked,
        can.actions_with_identity_allow,
        can.decisions
    );
    for service in &can.services {
        let _ = writeln!(out, "{}", service.service);
        for action in &service.actions {
            for g in &action.grants {
                let _ = writeln!(
                    out,
                    "  {:<22}  {}  {}  {}",
                    action.access_level,
                    action.action,
                    g.resource,
                    g.ruling.access.as_str()
                );
                ruling_lines(&mut out, &g.ruling, "      ", None);
            }
        }
    }
    if !can.taken_away.is_empty() {
        let _ = writeln!(out, "taken away ({}):", can.taken_away.len());
        for a in &can.taken_away {
            let by = a.ruling.limited_by.as_deref().unwrap_or("?");
            let _ = writeln!(out, "  {}  {}  {} by {by}", a.action, a.resource, a.ruling.access.as_str());
            for s in &a.ruling.statements {
                let _ = writeln!(out, "      statement: {s}");
            }
        }
    }
    out
}
