//! `iamsim gen-cloudtrail`: synthetic CloudTrail for an authorization-details file.

use super::{load, CliError};
use iamsim::audit::inventory::Inventory;
use iamsim::audit::workload::cloudtrail::EventGenerator;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `iamsim gen-cloudtrail`.
#[derive(Debug, clap::Args)]
pub struct GenCloudTrailArgs {
    /// Output of `aws iam get-account-authorization-details`; repeatable.
    #[arg(long = "authorization-details", required = true)]
    details: Vec<PathBuf>,
    /// Folder of `<PolicyName>.json` managed policy documents.
    #[arg(long = "managed-policies")]
    managed: Option<PathBuf>,
    /// Number of events.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Seed; the same seed gives the same events.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output file: `.json` or `.json.gz` (a CloudTrail log file), `.jsonl` (JSON Lines); stdout (JSON Lines) if absent.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `gen-cloudtrail`.
pub fn run(args: &GenCloudTrailArgs) -> Result<ExitCode, CliError> {
    let mut inventory = Inventory::new();
    for d in &args.details {
        inventory.load(&load::read_file(d)?, &d.display().to_string(), args.managed.as_deref())?;
    }
    let generator = EventGenerator::new(&inventory)?;
    if generator.is_empty() {
        return Err(CliError::new(
            "the authorization details have no user or role with an Allow statement to generate events for",
        ));
    }
    let name = args.out.as_ref().map(|p| p.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let raw: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(
            std::fs::File::create(p).map_err(|e| CliError::new(format!("{}: cannot write: {e}", p.display())))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut out: Box<dyn Write> = if name.ends_with(".gz") {
        Box::new(BufWriter::new(flate2::write::GzEncoder::new(raw, flate2::Compression::fast())))
    } else {
        Box::new(BufWriter::new(raw))
    };
    let records = name.ends_with(".json") || name.ends_with(".json.gz");
    let mut result: std::io::Result<()> = if records { out.write_all(b"{\"Records\":[\n") } else { Ok(()) };
    let mut first = true;
    generator.generate(args.count, args.seed, |e| {
        if result.is_ok() {
            let sep: &[u8] = if records && !first { b",\n" } else { b"" };
            first = false;
            let tail: &[u8] = if records { b"" } else { b"\n" };
            result = out
                .write_all(sep)
                .and_then(|_| out.write_all(e.to_string().as_bytes()))
                .and_then(|_| out.write_all(tail));
        }
    });
    if records {
        result = result.and_then(|_| out.write_all(b"\n]}\n"));
    }
    result.and_then(|_| out.flush()).map_err(|e| CliError::new(format!("cannot write events: {e}")))?;
    drop(out);
    Ok(ExitCode::SUCCESS)
}
