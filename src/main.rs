//! The `iamsim` binary: see [`iamsim::cli`].

fn main() -> std::process::ExitCode {
    iamsim::cli::run()
}
