//! `iamsim simulate`: every (action, resource) pair against the given policies.

use super::{load, output, CliError, Format};
use iamsim::engine::compile::CompiledPolicySet;
use iamsim::engine::eval::Scratch;
use iamsim::engine::policy::{PolicyKind, PolicySet};
use iamsim::engine::request::{Context, Principal, Request, RequestTime};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The principal used when `--principal` is not given.
pub const DEFAULT_PRINCIPAL: &str = "arn:aws:iam::123456789012:user/iamsim-user";

/// Arguments of `iamsim simulate`.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    /// Action to simulate (`service:Name`); repeat for several.
    #[arg(long = "action", required = true)]
    actions: Vec<String>,
    /// Resource ARN; repeat for several (default `*`).
    #[arg(long = "resource")]
    resources: Vec<String>,
    /// The caller: user/role/root/assumed-role/federated-user ARN, account id, service principal or `anonymous`.
    #[arg(long, default_value = DEFAULT_PRINCIPAL)]
    principal: String,
    /// Identity-based policy file (a document or an array of them); repeatable.
    #[arg(long = "identity-policy")]
    identity: Vec<PathBuf>,
    /// Resource-based policy file (bucket policy, key policy, trust policy…).
    #[arg(long = "resource-policy")]
    resource_policy: Option<PathBuf>,
    /// Permissions boundary file.
    #[arg(long = "permissions-boundary")]
    boundary: Option<PathBuf>,
    /// Session policy file; repeatable.
    #[arg(long = "session-policy")]
    session: Vec<PathBuf>,
    /// SCPs of one organization level (a document or an array); repeat per level, root first.
    #[arg(long = "scp")]
    scps: Vec<PathBuf>,
    /// RCPs of one organization level; repeat per level, root first.
    #[arg(long = "rcp")]
    rcps: Vec<PathBuf>,
    /// Account owning the resources (default: the ARN's account, else the principal's).
    #[arg(long = "resource-account")]
    resource_account: Option<String>,
    /// Request context as a JSON object: key → string, number, boolean or array (multi-valued).
    #[arg(long)]
    context: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// With a catalog (or $IAMSIM_CATALOG), actions it does not know are warned about.
    #[command(flatten)]
    catalog: super::catalog_cmd::CatalogArg,
}

/// Runs `simulate`.
pub fn run(args: &SimulateArgs) -> Result<ExitCode, CliError> {
    if let Some(catalog) = args.catalog.load_optional()? {
        for action in args.actions.iter().filter(|a| catalog.action(a).is_none()) {
            let hint = catalog.suggest_action(action);
            let hint = if hint.is_empty() { String::new() } else { format!(" (did you mean {}?)", hint.join(", ")) };
            eprintln!("iamsim: warning: --action {action}: not in the catalog{hint}; no real request carries it");
        }
    }
    let set = PolicySet {
        identity: args
            .identity
            .iter()
            .map(|p| load::policies(p, PolicyKind::Identity))
            .collect::<Result<Vec<_>, _>>()?
            .concat(),
        permissions_boundary: args
            .boundary
            .as_deref()
            .map(|p| load::policy(p, PolicyKind::PermissionsBoundary))
            .transpose()?,
        session: if args.session.is_empty() {
            None
        } else {
            Some(
                args.session
                    .iter()
                    .map(|p| load::policies(p, PolicyKind::Session))
                    .collect::<Result<Vec<_>, _>>()?
                    .concat(),
            )
        },
        resource: args.resource_policy.as_deref().map(|p| load::policy(p, PolicyKind::Resource)).transpose()?,
        scps: args.scps.iter().map(|p| load::policies(p, PolicyKind::Scp)).collect::<Result<_, _>>()?,
        rcps: args.rcps.iter().map(|p| load::policies(p, PolicyKind::Rcp)).collect::<Result<_, _>>()?,
        organization: Default::default(),
    };
    let principal = Principal::parse(&args.principal).map_err(|e| CliError::new(format!("--principal: {e}")))?;
    let mut context = match &args.context {
        None => Context::new(),
        // Read from the text: a key given twice is refused, not merged.
        Some(text) => Context::from_json_text(text).map_err(|e| CliError::new(format!("--context: {e}")))?,
    };
    // AWS sets the request time in every request: now, unless given.
    context.set_request_time(&RequestTime::now());
    if let Some(acct) = &args.resource_account {
        if !iamsim::engine::request::is_account_id(acct) {
            return Err(CliError::new(format!("--resource-account: `{acct}` is not a 12-digit account id")));
        }
    }
    for a in &args.actions {
        if !a.contains(':') {
            return Err(CliError::new(format!("--action: `{a}` is not of the form service:ActionName")));
        }
    }
    let compiled = CompiledPolicySet::compile(set)?;
    let mut scratch = Scratch::new(&compiled);
    let resources = if args.resources.is_empty() { vec!["*".to_string()] } else { args.resources.clone() };
    let mut rows = Vec::new();
    for action in &args.actions {
        for resource in &resources {
            let mut req = Request::new(principal.clone(), action, resource);
            req.resource_account = args.resource_account.clone();
            req.context = context.clone();
            let d = compiled.decide(&req, &mut scratch);
            rows.push((req, d));
        }
    }
    let text = match args.format {
        Format::Json => {
            let results: Vec<_> = rows.iter().map(|(r, d)| output::result_json(&compiled, r, d)).collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({ "results": results }))?;
            s.push('\n');
            s
        }
        Format::Text => output::text_table(&compiled, &rows),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}
