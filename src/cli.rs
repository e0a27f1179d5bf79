//! The `iamsim` command line: argument definitions (clap) and dispatch to one
//! module per command. Sits on top of the library; nothing below imports it.
//!
//! Exit codes: 0 = the command ran (whatever the decisions), 1 = bad input or
//! I/O error (message on stderr; for `replay` also logs holding no event or
//! more malformed records than `--max-malformed`), 2 = usage error (clap), 3 = a check failed
//! (`validate` found errors, `diff` found new access, `replay --fail-on`
//! found breakage of a named class).

mod access;
mod bench;
mod catalog_cmd;
mod eval_cmd;
mod gen;
mod gen_cloudtrail;
mod generate;
mod html;
mod load;
mod output;
mod replay;
mod simulate;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

/// Would AWS IAM allow this request? Compiled IAM policy evaluation.
#[derive(Debug, Parser)]
#[command(name = "iamsim", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table.
    Text,
    /// JSON.
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Simulate actions on resources against policies (like `aws iam simulate-custom-policy`).
    #[command(after_help = examples::SIMULATE)]
    Simulate(simulate::SimulateArgs),
    /// Evaluate a JSON Lines stream of requests against a policy bundle, in parallel.
    #[command(after_help = examples::EVAL)]
    Eval(EvalArgs),
    /// Replay CloudTrail logs against current or proposed policies: what would break, what is never used.
    #[command(after_help = examples::REPLAY)]
    Replay(replay::ReplayArgs),
    /// Measure decisions per second, compiled engine vs reference evaluator, checking they agree.
    #[command(after_help = examples::BENCH)]
    Bench(bench::BenchArgs),
    /// Write a seeded stream of realistic requests for a policy set, in the `eval` format.
    #[command(after_help = examples::GEN_REQUESTS)]
    GenRequests(gen::GenArgs),
    /// Write synthetic CloudTrail events for the users and roles of an authorization-details file.
    #[command(after_help = examples::GEN_CLOUDTRAIL)]
    GenCloudtrail(gen_cloudtrail::GenCloudTrailArgs),
    /// Import or inspect the AWS service reference (actions, resource types, condition keys).
    #[command(after_help = examples::CATALOG)]
    Catalog(catalog_cmd::CatalogArgs),
    /// List the concrete actions patterns (or a policy's Action/NotAction) match, with access levels.
    #[command(after_help = examples::EXPAND)]
    Expand(catalog_cmd::ExpandArgs),
    /// Check policies against the catalog: unknown actions, resources and keys that never match, risky patterns.
    #[command(after_help = examples::VALIDATE)]
    Validate(catalog_cmd::ValidateArgs),
    /// The access NEW grants that OLD does not, and the reverse; exit 3 when NEW grants new access.
    #[command(after_help = examples::DIFF)]
    Diff(catalog_cmd::DiffArgs),
    /// Least-privilege policy for a principal from a replay report, validated and proved by replay.
    #[command(after_help = examples::GENERATE)]
    Generate(generate::GenerateArgs),
    /// Every principal of the accounts (and those a resource policy names) that may do an action on a resource.
    #[command(after_help = examples::WHO_CAN)]
    WhoCan(access::WhoCanArgs),
    /// Every catalog action a principal may do, by service and access level, with resources and conditions.
    #[command(after_help = examples::PRINCIPAL_CAN)]
    PrincipalCan(access::PrincipalCanArgs),
    /// Every action of a resource's service a principal may do to that resource.
    #[command(after_help = examples::CAN_ACCESS)]
    CanAccess(access::CanAccessArgs),
    /// Print a shell completion script (`iamsim completions bash > /etc/bash_completion.d/iamsim`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff: `iamsim man > iamsim.1; man ./iamsim.1`).
    Man,
}

/// Worked examples for `--help`, run from the repository's root (tests/cli.rs runs the one-line ones).
pub mod examples {
    /// `simulate`.
    pub const SIMULATE: &str = "Example (from the repository's root):\n  iamsim simulate --identity-policy corpus/policies/eks-node-cni.json --principal arn:aws:iam::111122223333:role/eks-node-role --action ec2:CreateNetworkInterface --action ec2:RunInstances --resource arn:aws:ec2:us-west-2:111122223333:network-interface/eni-1";
    /// `eval`.
    pub const EVAL: &str = "Example (from the repository's root):\n  iamsim eval --bundle corpus/eks/bundle.json --requests corpus/eks/requests.jsonl";
    /// `replay`.
    pub const REPLAY: &str = "Example (from the repository's root):\n  iamsim replay --cloudtrail corpus/replay/cloudtrail --authorization-details corpus/replay/authorization-details.json --max-malformed 20 --fail-on would-break";
    /// `bench`.
    pub const BENCH: &str = "Example (from the repository's root):\n  iamsim bench --bundle corpus/eks/bundle.json --requests 2000 --threads 1 --min-seconds 0.1";
    /// `gen-requests`.
    pub const GEN_REQUESTS: &str = "Example (from the repository's root):\n  iamsim gen-requests --bundle corpus/eks/bundle.json --count 5 --seed 1";
    /// `gen-cloudtrail`.
    pub const GEN_CLOUDTRAIL: &str = "Example (from the repository's root):\n  iamsim gen-cloudtrail --authorization-details corpus/replay/authorization-details.json --count 5";
    /// `catalog`.
    pub const CATALOG: &str =
        "Example (from the repository's root):\n  iamsim catalog info --catalog corpus/catalog/service-reference";
    /// `expand`.
    pub const EXPAND: &str = "Example (from the repository's root):\n  iamsim expand --catalog corpus/catalog/service-reference ec2:*NetworkInterface";
    /// `validate`.
    pub const VALIDATE: &str = "Example (from the repository's root):\n  iamsim validate --catalog corpus/catalog/service-reference corpus/policies/eks-node-cni.json";
    /// `diff`.
    pub const DIFF: &str = "Example (from the repository's root):\n  iamsim diff --catalog corpus/catalog/service-reference corpus/policies/eks-node-cni.json corpus/policies/eks-worker-node.json";
    /// `who-can`.
    pub const WHO_CAN: &str = "Example (from the repository's root):\n  iamsim who-can s3:GetObject 'arn:aws:s3:::example-data/*' --authorization-details corpus/access/authorization-details.json --scp corpus/access/scp.json --resource-policies corpus/access/resource-policies.json";
    /// `principal-can`.
    pub const PRINCIPAL_CAN: &str = "Example (from the repository's root):\n  iamsim principal-can arn:aws:iam::111122223333:user/dev/alice --authorization-details corpus/access/authorization-details.json --scp corpus/access/scp.json --catalog corpus/catalog/service-reference";
    /// `can-access`.
    pub const CAN_ACCESS: &str = "Example (from the repository's root):\n  iamsim can-access --from arn:aws:iam::111122223333:role/app --to arn:aws:s3:::example-data/app/q1.csv --authorization-details corpus/access/authorization-details.json --resource-policies corpus/access/resource-policies.json --catalog corpus/catalog/service-reference";
    /// `generate`.
    pub const GENERATE: &str = "Example (from the repository's root):\n  iamsim replay --cloudtrail corpus/replay/cloudtrail --authorization-details corpus/replay/authorization-details.json --max-malformed 20 --report report.json\n  iamsim generate --from-replay report.json --principal arn:aws:iam::111122223333:role/eks-node-role --catalog corpus/catalog/service-reference";
}

/// Arguments of `iamsim eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Policy bundle: {"identity":[…],"resource_policy":…,"permissions_boundary":…,"session":[…],"scps":[[…]],"rcps":[[…]]}.
    #[arg(long)]
    bundle: PathBuf,
    /// Requests, one JSON object per line ({"principal","action","resource","resource_account"?,"context"?}); `-` for stdin.
    #[arg(long)]
    requests: String,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Write results here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Reads the process's live heap bytes (the binary's counting allocator), when available.
pub type MemoryProbe = fn() -> usize;

/// Runs the CLI with the process arguments. `memory` lets `bench` report sizes.
pub fn run(memory: Option<MemoryProbe>) -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Simulate(args) => simulate::run(&args),
        Command::Eval(args) => eval_cmd::run(&args),
        Command::Bench(args) => bench::run(&args, memory),
        Command::Replay(args) => replay::run(&args),
        Command::GenRequests(args) => gen::run(&args),
        Command::GenCloudtrail(args) => gen_cloudtrail::run(&args),
        Command::Catalog(args) => catalog_cmd::run_catalog(&args),
        Command::Expand(args) => catalog_cmd::run_expand(&args),
        Command::Validate(args) => catalog_cmd::run_validate(&args),
        Command::Diff(args) => catalog_cmd::run_diff(&args),
        Command::Generate(args) => generate::run(&args),
        Command::WhoCan(args) => access::run_who_can(&args),
        Command::PrincipalCan(args) => access::run_principal_can(&args),
        Command::CanAccess(args) => access::run_can_access(&args),
        Command::Completions { shell } => {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "iamsim", &mut script);
            output::print_stdout(&String::from_utf8_lossy(&script)).map(|()| ExitCode::SUCCESS)
        }
        Command::Man => {
            let mut page = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command())
                .render(&mut page)
                .map_err(|e| CliError::new(format!("cannot render the man page: {e}")))
                .and_then(|()| output::print_stdout(&String::from_utf8_lossy(&page)))
                .map(|()| ExitCode::SUCCESS)
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("iamsim: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Threads per core `--threads` may ask for: beyond a few, more threads only
/// contend; far beyond (a typo, `--threads 100000`) they exhaust the process.
const MAX_THREADS_PER_CORE: usize = 8;

/// The worker count `--threads` asks for: an error for 0, capped (with a
/// warning) at [`MAX_THREADS_PER_CORE`] per core; `None` stays the default.
fn thread_count(asked: Option<usize>) -> Result<Option<usize>, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    match asked {
        Some(0) => Err(CliError::new("--threads: expected at least 1")),
        Some(n) if n > cores * MAX_THREADS_PER_CORE => {
            let cap = cores * MAX_THREADS_PER_CORE;
            eprintln!("iamsim: warning: --threads {n}: using {cap} ({MAX_THREADS_PER_CORE} per core on {cores} cores)");
            Ok(Some(cap))
        }
        other => Ok(other),
    }
}

/// A CLI failure: a message for stderr.
#[derive(Debug)]
pub struct CliError(String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(e: E) -> CliError {
        CliError(e.to_string())
    }
}

impl CliError {
    fn new(message: impl Into<String>) -> CliError {
        CliError(message.into())
    }
}
