//! Reading policy files for the CLI, with errors that name the file.

use super::CliError;
use crate::policy::{parse_policy_list, Policy, PolicyKind};
use std::path::Path;

/// Reads a whole file; a directory, a missing file or an empty file is an error naming it.
pub fn read_file(path: &Path) -> Result<Vec<u8>, CliError> {
    let shown = path.display();
    if path.is_dir() {
        return Err(CliError::new(format!("{shown}: is a directory, expected a JSON file")));
    }
    let bytes = std::fs::read(path).map_err(|e| CliError::new(format!("{shown}: cannot read: {e}")))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(CliError::new(format!("{shown}: file is empty, expected a JSON policy document")));
    }
    Ok(bytes)
}

/// Reads a file holding one policy document or a JSON array of them.
pub fn policies(path: &Path, kind: PolicyKind) -> Result<Vec<Policy>, CliError> {
    let bytes = read_file(path)?;
    Ok(parse_policy_list(&bytes, &path.display().to_string(), kind)?)
}

/// Reads a file holding exactly one policy document.
pub fn policy(path: &Path, kind: PolicyKind) -> Result<Policy, CliError> {
    let mut list = policies(path, kind)?;
    match (list.pop(), list.is_empty()) {
        (Some(p), true) => Ok(p),
        _ => Err(CliError::new(format!("{}: expected one policy document, found an array", path.display()))),
    }
}
