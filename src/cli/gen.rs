//! `iamsim gen-requests`: a seeded request stream for a policy set.

use super::{load, CliError};
use iamsim::audit::workload::{request_json, Generator};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `iamsim gen-requests`.
#[derive(Debug, clap::Args)]
pub struct GenArgs {
    #[command(flatten)]
    source: load::SetSource,
    /// Number of requests.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Seed; the same seed gives the same stream.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Runs `gen-requests`.
pub fn run(args: &GenArgs) -> Result<ExitCode, CliError> {
    let set = args.source.load()?;
    let generator = Generator::new(&set);
    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(BufWriter::new(
            std::fs::File::create(p).map_err(|e| CliError::new(format!("{}: cannot write: {e}", p.display())))?,
        )),
        None => Box::new(BufWriter::new(std::io::stdout().lock())),
    };
    for req in generator.stream(args.count, args.seed) {
        let line = request_json(&req).to_string();
        if let Err(e) = out.write_all(line.as_bytes()).and_then(|_| out.write_all(b"\n")) {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(ExitCode::SUCCESS);
            }
            return Err(e.into());
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
