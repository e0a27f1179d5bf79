//! `iamsim generate --from-replay`: a least-privilege identity policy from a
//! replay report, validated against the catalog and proved by replaying the
//! report's own inputs with the policy in place of the principal's.

use super::catalog_cmd::{CatalogArg, CHECK_FAILED};
use super::replay::{replay, ReplayArgs};
use super::CliError;
use iamsim::audit::catalog::validate::{validate, Severity};
use iamsim::audit::catalog::Catalog;
use iamsim::audit::generate::least_privilege;
use iamsim::audit::replay::{ReplayInputs, Used};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `iamsim generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// A replay report (`iamsim replay --report FILE`).
    #[arg(long = "from-replay")]
    from_replay: PathBuf,
    /// The user or role ARN to generate a policy for.
    #[arg(long)]
    principal: String,
    /// Write the policy here (default: stdout).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Skip the proof replay (the report's inputs are not at hand).
    #[arg(long)]
    no_prove: bool,
    #[command(flatten)]
    catalog: CatalogArg,
}

#[derive(serde::Deserialize)]
struct ReportIn {
    #[serde(default)]
    used_permissions: Vec<Used>,
    inputs: Option<ReplayInputs>,
}

/// Runs `generate`.
pub fn run(args: &GenerateArgs) -> Result<ExitCode, CliError> {
    let shown = args.from_replay.display();
    let bytes = super::load::read_file(&args.from_replay)?;
    let report: ReportIn = serde_json::from_slice(&bytes).map_err(|e| {
        CliError::new(format!(
            "{shown}: line {}, column {}: expected an `iamsim replay --report` file: {e}",
            e.line(),
            e.column()
        ))
    })?;
    let Some(used) = report.used_permissions.iter().find(|u| u.principal == args.principal) else {
        let known: Vec<&str> = report.used_permissions.iter().map(|u| u.principal.as_str()).collect();
        return Err(CliError::new(format!(
            "{shown}: no recorded successes for {}; principals with some: {}",
            args.principal,
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        )));
    };
    let catalog = match args.catalog.load_optional()? {
        Some(c) => Some(c),
        None => match report.inputs.as_ref().and_then(|i| i.catalog.as_ref()) {
            Some(p) => Some(Catalog::load(std::path::Path::new(p))?),
            None => None,
        },
    };
    let name = format!("least-privilege for {}", args.principal);
    let policy = least_privilege(used, catalog.as_ref(), &name);
    let left_out = iamsim::audit::generate::ungrantable(used, catalog.as_ref());
    if !left_out.is_empty() {
        eprintln!(
            "generate: warning: left out {} action(s) the service reference does not know, which no policy can grant: {} (an internal event name, an unconfirmed mapping, or a catalog older than the logs)",
            left_out.len(),
            left_out.join(", ")
        );
    }
    let text = serde_json::to_string_pretty(&policy.to_json())? + "\n";
    let mut failed = false;
    match &catalog {
        Some(c) => {
            for f in validate(c, &policy, None)? {
                eprintln!("validate: {}[{}] {}: {}", f.severity.as_str(), f.code, f.path, f.message);
                failed |= f.severity == Severity::Error;
            }
        }
        None => eprintln!("validate: skipped (no catalog: `iamsim catalog fetch` gets AWS's service reference)"),
    }
    match &args.out {
        Some(p) => {
            std::fs::write(p, &text).map_err(|e| CliError::new(format!("{}: cannot write: {e}", p.display())))?
        }
        None => std::io::stdout().lock().write_all(text.as_bytes())?,
    }
    if args.no_prove {
        eprintln!("proof: skipped (--no-prove)");
    } else {
        let Some(inputs) = &report.inputs else {
            return Err(CliError::new(format!(
                "{shown}: the report does not record its inputs; re-run replay, or pass --no-prove"
            )));
        };
        // The proof replays the policy as written out (the same text, read
        // back), in memory: no temporary file for an interrupt to leave.
        let written = iamsim::engine::policy::parse_policy_list(
            text.as_bytes(),
            &name,
            iamsim::engine::policy::PolicyKind::Identity,
        )?;
        let proof = replay(&ReplayArgs::with_override(inputs, &args.principal, written)?, false)?;
        let after = proof.used_permissions.iter().find(|u| u.principal == args.principal);
        let (mut checked, mut unsettled) = (0, 0);
        for before in used.actions.iter().filter(|a| !left_out.contains(&a.action.as_str())) {
            let now = after.and_then(|u| u.actions.iter().find(|a| a.action == before.action));
            let denied_now = now.map_or(before.count, |a| a.denied);
            checked += before.count;
            unsettled += now.map_or(0, |a| a.indeterminate);
            if denied_now > before.denied {
                failed = true;
                eprintln!(
                    "proof: FAILED: {} of {} recorded successes of {} are denied with the generated policy ({} were before)",
                    denied_now, before.count, before.action, before.denied
                );
            } else if denied_now > 0 {
                eprintln!(
                    "proof: note: {denied_now} recorded successes of {} are denied with the current policies too (a boundary, SCP or deny elsewhere)",
                    before.action
                );
            }
        }
        if !failed {
            let settled = if unsettled == 0 {
                String::new()
            } else {
                format!(" ({unsettled} of them indeterminate, as before: see the replay's reasons)")
            };
            eprintln!(
                "proof: replayed {} events; none of the {checked} recorded successes of {} in {} actions is denied{settled}",
                proof.events_read,
                args.principal,
                used.actions.len() - left_out.len()
            );
        }
    }
    Ok(if failed { ExitCode::from(CHECK_FAILED) } else { ExitCode::SUCCESS })
}
