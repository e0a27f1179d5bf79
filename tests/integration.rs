//! The one integration test binary: corpus cases, CLI, AWS managed policies,
//! property tests. Shared helpers live here.

// Tests fail loudly by design: unwrapping is how a test says "this must work".
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod access;
mod catalog;
mod cli;
mod cloudtrail;
mod conformance;
mod corpus;
mod engine;
mod failsafe;
mod hostile;
mod managed;
mod props;
mod regression;
mod replay;

use std::path::PathBuf;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `iamsim` binary, run from the repository root and blind to any
/// catalog in the environment (tests say which catalog they use).
pub fn iamsim_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_iamsim"));
    // No catalog but the one a test names: not $IAMSIM_CATALOG, not one
    // `catalog fetch` keeps at the default location of whoever runs the tests.
    cmd.current_dir(root()).env_remove("IAMSIM_CATALOG").env("XDG_DATA_HOME", root().join("target/no-default-catalog"));
    cmd
}

/// A directory of the caller's own, removed when dropped. Tests run as
/// threads of one process, so a name made from the process id is shared
/// between them: two `replay` runs once read each other's half-written report.
pub fn scratch_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("iamsim-test-").tempdir().unwrap()
}

/// The `.json` files directly in `dir`, sorted.
pub fn json_files(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
}

/// `../shared/data` beside the checkout, if present (CI has it; a bare clone may not).
pub fn shared_data() -> Option<PathBuf> {
    let p = root().join("../shared/data");
    p.is_dir().then_some(p)
}
