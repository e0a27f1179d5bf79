//! Reading policy files for the CLI, with errors that name the file.

use super::CliError;
use iamsim::engine::policy::{parse_policy_list, Policy, PolicyKind};
use std::collections::BTreeMap;
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

/// Reads a file holding one policy document or a JSON array of them; warns
/// on stderr about documents past AWS's size limits (they are still used).
pub fn policies(path: &Path, kind: PolicyKind) -> Result<Vec<Policy>, CliError> {
    let (list, warnings) = policies_and_size_warnings(path, kind)?;
    for w in warnings {
        eprintln!("iamsim: warning: {w}");
    }
    Ok(list)
}

/// [`policies`], handing back the size warnings instead of printing them
/// (entries that match no action are warned about at once).
fn policies_and_size_warnings(path: &Path, kind: PolicyKind) -> Result<(Vec<Policy>, Vec<String>), CliError> {
    let bytes = read_file(path)?;
    let source = path.display().to_string();
    let list = parse_policy_list(&bytes, &source, kind)?;
    warn_dead_actions(&list);
    let warnings = size_warnings(&source, &bytes, &list);
    Ok((list, warnings))
}

/// Warns on stderr about every `Action`/`NotAction` entry that matches no
/// action ([`Policy::action_warnings`]), once per policy name: in a Deny or
/// a `NotAction` such an entry is silently dead, so every command says so.
pub fn warn_dead_actions<'a>(policies: impl IntoIterator<Item = &'a Policy>) {
    for w in iamsim::engine::policy::dead_action_warnings(policies) {
        eprintln!("iamsim: warning: {w}");
    }
}

/// A warning for each policy past AWS's size limit for its kind: measured on
/// the file's own text for a single document, on the normalised document in arrays.
fn size_warnings(source: &str, bytes: &[u8], list: &[Policy]) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let single = list.len() == 1 && !text.trim_start().starts_with('[');
    let mut out = Vec::new();
    for (i, p) in list.iter().enumerate() {
        let own = if single { None } else { Some(p.to_json().to_string()) };
        if let Some(w) = iamsim::engine::policy::limits::size_warning(own.as_deref().unwrap_or(&text), p.kind) {
            let at = if single { source.to_string() } else { format!("{source}[{i}]") };
            out.push(format!("{at}: {w}"));
        }
    }
    out
}

/// Reads a file holding exactly one policy document.
pub fn policy(path: &Path, kind: PolicyKind) -> Result<Policy, CliError> {
    let mut list = policies(path, kind)?;
    match (list.pop(), list.is_empty()) {
        (Some(p), true) => Ok(p),
        _ => Err(CliError::new(format!("{}: expected one policy document, found an array", path.display()))),
    }
}

/// The `*.json` files of a directory, sorted.
pub fn json_files(dir: &Path) -> Result<Vec<std::path::PathBuf>, CliError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| CliError::new(format!("{}: cannot read directory: {e}", dir.display())))?;
    let mut paths: Vec<_> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    Ok(paths)
}

/// Where a command takes its policy set from: an `eval` bundle or a directory
/// whose `*.json` files are all identity policies.
#[derive(Debug, clap::Args)]
pub struct SetSource {
    /// An `eval` bundle file.
    #[arg(long, conflicts_with = "policies", required_unless_present = "policies")]
    bundle: Option<std::path::PathBuf>,
    /// A directory of identity policy documents (`*.json`), e.g. the AWS managed policies.
    #[arg(long)]
    policies: Option<std::path::PathBuf>,
    /// With --policies: only files whose name (without `.json`) matches this `*`/`?` pattern; repeatable.
    #[arg(long = "name", requires = "policies")]
    names: Vec<String>,
    /// With --policies: a permissions boundary to add.
    #[arg(long = "permissions-boundary", requires = "policies")]
    boundary: Option<std::path::PathBuf>,
    /// With --policies: SCPs of one organization level to add (root first); repeatable.
    #[arg(long = "scp", requires = "policies")]
    scps: Vec<std::path::PathBuf>,
}

impl SetSource {
    /// Loads the set.
    pub fn load(&self) -> Result<iamsim::engine::policy::PolicySet, CliError> {
        if let Some(b) = &self.bundle {
            let bytes = read_file(b)?;
            let set = iamsim::engine::policy::PolicySet::from_bundle(&bytes, &b.display().to_string())?;
            warn_dead_actions(set.policies().map(|(_, _, p)| p));
            for (layer, index, p) in set.policies() {
                if let Some(w) = iamsim::engine::policy::limits::size_warning(&p.to_json().to_string(), p.kind) {
                    eprintln!("iamsim: warning: {}: {layer:?} policy {index}: {w}", b.display());
                }
            }
            return Ok(set);
        }
        let Some(dir) = &self.policies else { return Err(CliError::new("give --bundle or --policies")) };
        let wanted = |p: &std::path::Path| {
            let stem = p.file_stem().map(|s| s.to_string_lossy()).unwrap_or_default();
            self.names.is_empty() || self.names.iter().any(|n| iamsim::engine::policy::pattern::glob_match(n, &stem))
        };
        let paths: Vec<_> = json_files(dir)?.into_iter().filter(|p| wanted(p)).collect();
        if paths.is_empty() {
            return Err(CliError::new(format!("{}: no *.json policy files (matching --name)", dir.display())));
        }
        let mut identity = Vec::with_capacity(paths.len());
        let mut oversized = Vec::new();
        for p in &paths {
            let (list, warnings) = policies_and_size_warnings(p, PolicyKind::Identity)?;
            oversized.extend(warnings);
            identity.extend(list);
        }
        // One line for a directory: AWS's own managed policies exceed the customer limit.
        if let Some(first) = oversized.first() {
            eprintln!(
                "iamsim: warning: {} of {} policies in {} are over AWS's size limits (accepted); first: {first}",
                oversized.len(),
                paths.len(),
                dir.display()
            );
        }
        Ok(iamsim::engine::policy::PolicySet {
            identity,
            permissions_boundary: self
                .boundary
                .as_deref()
                .map(|p| policy(p, PolicyKind::PermissionsBoundary))
                .transpose()?,
            scps: self.scps.iter().map(|p| policies(p, PolicyKind::Scp)).collect::<Result<_, _>>()?,
            ..Default::default()
        })
    }
}

/// Whether `a` and `b` name one existing file (through links and relative
/// paths alike); a path that does not exist is no other file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Splits `ARN=FILE` (`flag` names the option in the error).
pub fn split_pair<'a>(flag: &str, s: &'a str) -> Result<(&'a str, &'a str), CliError> {
    // ARNs contain ':' but never '='.
    s.split_once('=')
        .filter(|(a, f)| !a.is_empty() && !f.is_empty())
        .ok_or_else(|| CliError::new(format!("{flag}: expected ARN=FILE, found `{s}`")))
}

/// The accounts owning resources, by the ARN their policy guards.
pub type Owners = BTreeMap<String, String>;

/// Resource policies by ARN from `--resource-policy ARN=FILE` pairs and
/// `--resource-policies FILE`s (Config items or `{ARN: policy}` maps), with
/// the owner accounts the files name. Items a file holds but cannot give a
/// policy for are warned about; an ARN given twice is an error.
pub fn resource_policies(
    pairs: &[String],
    files: &[std::path::PathBuf],
) -> Result<(BTreeMap<String, Policy>, Owners), CliError> {
    let mut policies = BTreeMap::new();
    for r in pairs {
        let (arn, file) = split_pair("--resource-policy", r)?;
        policies.insert(arn.to_string(), policy(Path::new(file), PolicyKind::Resource)?);
    }
    let mut owners = BTreeMap::new();
    for f in files {
        let read = iamsim::audit::resource_policies::read(&read_file(f)?, &f.display().to_string())?;
        for line in &read.not_read {
            eprintln!("iamsim: warning: not read: {line}");
        }
        for g in read.policies {
            if policies.contains_key(&g.arn) {
                return Err(CliError::new(format!("{}: a policy for {} was already given", f.display(), g.arn)));
            }
            if let Some(owner) = g.owner {
                owners.insert(g.arn.clone(), owner);
            }
            policies.insert(g.arn, g.policy);
        }
    }
    Ok((policies, owners))
}
