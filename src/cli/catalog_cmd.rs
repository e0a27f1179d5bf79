//! The catalog commands: `catalog import`, `expand`, `validate` and `diff`.
//! Each loads the catalog named by `--catalog` or `IAMSIM_CATALOG`.

use super::{load, CliError, Format};
use iamsim::audit::catalog::diff::{diff, AccessDiff};
use iamsim::audit::catalog::validate::{validate, Finding, Severity};
use iamsim::audit::catalog::{ActionId, Catalog};
use iamsim::engine::policy::{json, policy_from_json, Policy, PolicyKind};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Exit code of a check that ran and failed: `validate` found errors, `diff` found new access.
pub const CHECK_FAILED: u8 = 3;

/// The catalog to use.
#[derive(Debug, clap::Args)]
pub struct CatalogArg {
    /// Catalog snapshot (`iamsim catalog import`) or directory (iam-catalog layout or AWS
    /// service-reference files); default: $IAMSIM_CATALOG.
    #[arg(long)]
    catalog: Option<PathBuf>,
}

impl CatalogArg {
    /// Loads the selected catalog.
    pub fn load(&self) -> Result<Catalog, CliError> {
        Ok(Catalog::load_selected(self.catalog.as_deref())?)
    }

    /// Loads the catalog when `--catalog` or `IAMSIM_CATALOG` names one, or
    /// one is at the default location (`iamsim catalog fetch`); `None` otherwise.
    pub fn load_optional(&self) -> Result<Option<Catalog>, CliError> {
        match Catalog::selected_path(self.catalog.as_deref()) {
            Some(p) => Ok(Some(Catalog::load(&p)?)),
            None => Ok(None),
        }
    }

    /// A catalog argument naming `path` (or nothing).
    pub fn from_path(path: Option<PathBuf>) -> CatalogArg {
        CatalogArg { catalog: path }
    }

    /// The path of the catalog used, for reports.
    pub fn named(&self) -> Option<String> {
        Catalog::selected_path(self.catalog.as_deref()).map(|p| p.display().to_string())
    }
}

/// Arguments of `iamsim catalog`.
#[derive(Debug, clap::Args)]
pub struct CatalogArgs {
    #[command(subcommand)]
    command: CatalogCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CatalogCommand {
    /// Read a catalog directory (iam-catalog layout or AWS service-reference files) and write a snapshot.
    Import {
        /// The directory to read.
        dir: PathBuf,
        /// The snapshot file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Print what a catalog holds: source and counts.
    Info(CatalogArg),
    /// Download AWS's service reference (every service's actions, resource types and condition keys) and keep it
    /// at the default location every command looks in (or --out).
    Fetch {
        /// Where to write the snapshot (default: $XDG_DATA_HOME/iamsim/catalog.json).
        #[arg(long)]
        out: Option<PathBuf>,
        /// The service reference's index: a JSON list of {"service","url"}.
        #[arg(long, default_value = SERVICE_REFERENCE)]
        endpoint: String,
    },
}

/// AWS's published service reference index ("Simplified AWS service
/// authorization reference information",
/// <https://docs.aws.amazon.com/service-authorization/latest/reference/service-reference.html>).
const SERVICE_REFERENCE: &str = "https://servicereference.us-east-1.amazonaws.com/";

/// Downloads every service the index at `endpoint` lists into `dir`
/// (`<service>.json`); returns how many.
fn fetch_service_reference(endpoint: &str, dir: &std::path::Path) -> Result<usize, CliError> {
    let get = |url: &str| -> Result<String, CliError> {
        let fail = |e: ureq::Error| CliError::new(format!("{url}: {e}"));
        ureq::get(url).call().map_err(fail)?.body_mut().with_config().limit(256 << 20).read_to_string().map_err(fail)
    };
    let index: Vec<serde_json::Value> = serde_json::from_str(&get(endpoint)?).map_err(|e| {
        CliError::new(format!(
            "{endpoint}: expected the service reference's index (a JSON list of {{\"service\",\"url\"}}): {e}"
        ))
    })?;
    let mut count = 0;
    for (i, entry) in index.iter().enumerate() {
        let (Some(service), Some(url)) =
            (entry.get("service").and_then(|v| v.as_str()), entry.get("url").and_then(|v| v.as_str()))
        else {
            return Err(CliError::new(format!("{endpoint}: entry {i} has no service and url: {entry}")));
        };
        // A service name becomes a file name: nothing but a plain name.
        if service.is_empty() || !service.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(CliError::new(format!("{endpoint}: entry {i}: `{service}` is not a service name")));
        }
        let body = get(url)?;
        std::fs::write(dir.join(format!("{service}.json")), body)
            .map_err(|e| CliError::new(format!("{}: cannot write: {e}", dir.display())))?;
        count += 1;
    }
    Ok(count)
}

/// Runs `catalog`.
pub fn run_catalog(args: &CatalogArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        CatalogCommand::Import { dir, out } => {
            if !dir.is_dir() {
                return Err(CliError::new(format!("{}: expected a catalog directory", dir.display())));
            }
            let catalog = Catalog::load(dir)?;
            catalog.write_snapshot(out)?;
            eprintln!("{}", summary(&catalog));
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Fetch { out, endpoint } => {
            let out = match out.clone().or_else(Catalog::default_path) {
                Some(p) => p,
                None => {
                    return Err(CliError::new(
                        "no default location (neither XDG_DATA_HOME nor HOME is set): pass --out FILE",
                    ))
                }
            };
            let staging =
                tempfile::tempdir().map_err(|e| CliError::new(format!("cannot make a temporary folder: {e}")))?;
            let services = fetch_service_reference(endpoint, staging.path())?;
            let catalog = Catalog::load(staging.path())?;
            if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .map_err(|e| CliError::new(format!("{}: cannot create: {e}", parent.display())))?;
            }
            catalog.write_snapshot(&out)?;
            eprintln!("{services} services from {endpoint} -> {}", out.display());
            eprintln!("{}", summary(&catalog));
            Ok(ExitCode::SUCCESS)
        }
        CatalogCommand::Info(c) => {
            let catalog = c.load()?;
            super::output::print_stdout(&format!("{}\n", summary(&catalog)))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn summary(catalog: &Catalog) -> String {
    let resource_types: usize = catalog.services().iter().map(|s| s.resource_types.len()).sum();
    let keys: usize = catalog.services().iter().map(|s| s.condition_keys.len()).sum();
    format!(
        "{}: {} services, {} actions, {resource_types} resource types, {keys} service condition keys, {} global condition keys",
        catalog.source,
        catalog.services().len(),
        catalog.action_count(),
        catalog.global_keys().len()
    )
}

/// Arguments of `iamsim expand`.
#[derive(Debug, clap::Args)]
pub struct ExpandArgs {
    /// Action patterns (`ec2:*NetworkInterface`, `s3:Get*`, …).
    patterns: Vec<String>,
    /// Expand the Action/NotAction of every statement of this policy instead.
    #[arg(long, conflicts_with = "patterns", required_unless_present = "patterns")]
    policy: Option<PathBuf>,
    #[command(flatten)]
    catalog: CatalogArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

fn action_json(catalog: &Catalog, id: ActionId) -> serde_json::Value {
    let def = catalog.action_def(id);
    serde_json::json!({
        "action": catalog.action_name(id),
        "access_level": def.map(|d| d.access.as_str()),
        "resource_types": catalog.resource_types_of(id).map(|t| t.name.as_str()).collect::<Vec<_>>(),
        "wildcard_only": catalog.is_wildcard_only(id),
    })
}

fn sorted(catalog: &Catalog, ids: impl IntoIterator<Item = ActionId>) -> Vec<(String, ActionId)> {
    let mut named: Vec<(String, ActionId)> = ids.into_iter().map(|id| (catalog.action_name(id), id)).collect();
    named.sort_by_cached_key(|(n, _)| n.to_ascii_lowercase());
    named.dedup_by(|a, b| a.1 == b.1);
    named
}

/// Runs `expand`.
pub fn run_expand(args: &ExpandArgs) -> Result<ExitCode, CliError> {
    let catalog = args.catalog.load()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut unmatched = Vec::new();
    match &args.policy {
        None => {
            let lists: Vec<(&[String], bool)> =
                args.patterns.iter().map(|p| (std::slice::from_ref(p), false)).collect();
            let per_pattern = catalog.expand_lists(&lists)?;
            for (pattern, hits) in args.patterns.iter().zip(&per_pattern) {
                if hits.is_empty() {
                    unmatched.push(pattern.clone());
                }
            }
            let all = sorted(&catalog, per_pattern.into_iter().flatten());
            match args.format {
                Format::Text => {
                    for (name, _) in &all {
                        writeln!(out, "{name}")?;
                    }
                }
                Format::Json => {
                    let list: Vec<_> = all.iter().map(|(_, id)| action_json(&catalog, *id)).collect();
                    writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
                }
            }
        }
        Some(path) => {
            let bytes = load::read_file(path)?;
            let (policy, _) = parse_document(&bytes, &path.display().to_string(), None)?;
            let lists: Vec<(&[String], bool)> =
                policy.statements.iter().map(|s| (s.actions.patterns.as_slice(), s.actions.negated)).collect();
            let per_statement = catalog.expand_lists(&lists)?;
            match args.format {
                // The text form lists what the Allow statements name; denies and
                // conditions are left to `simulate`.
                Format::Text => {
                    let allowed = policy
                        .statements
                        .iter()
                        .zip(&per_statement)
                        .filter(|(s, _)| s.effect == iamsim::engine::policy::Effect::Allow)
                        .flat_map(|(_, ids)| ids.iter().copied());
                    for (name, _) in sorted(&catalog, allowed) {
                        writeln!(out, "{name}")?;
                    }
                }
                Format::Json => {
                    let statements: Vec<_> = policy
                        .statements
                        .iter()
                        .zip(&per_statement)
                        .enumerate()
                        .map(|(i, (s, ids))| {
                            serde_json::json!({
                                "statement": i,
                                "sid": s.sid,
                                "effect": s.effect.as_str(),
                                "element": if s.actions.negated { "NotAction" } else { "Action" },
                                "actions": sorted(&catalog, ids.iter().copied()).iter().map(|(_, id)| action_json(&catalog, *id)).collect::<Vec<_>>(),
                            })
                        })
                        .collect();
                    writeln!(out, "{}", serde_json::to_string_pretty(&statements)?)?;
                }
            }
        }
    }
    out.flush()?;
    if unmatched.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for pattern in &unmatched {
        let hint = catalog.suggest_action(pattern);
        let hint = if hint.is_empty() { String::new() } else { format!(" (did you mean {}?)", hint.join(", ")) };
        eprintln!("iamsim: error: {pattern:?} matches no action in the catalog{hint}");
    }
    Ok(ExitCode::from(1))
}

/// The policy kinds `validate` and `diff` read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// Identity-based policy.
    Identity,
    /// Resource-based policy (including trust policies).
    Resource,
    /// Permissions boundary.
    Boundary,
    /// Session policy.
    Session,
    /// Service control policy.
    Scp,
    /// Resource control policy.
    Rcp,
}

impl KindArg {
    fn kind(self) -> PolicyKind {
        match self {
            KindArg::Identity => PolicyKind::Identity,
            KindArg::Resource => PolicyKind::Resource,
            KindArg::Boundary => PolicyKind::PermissionsBoundary,
            KindArg::Session => PolicyKind::Session,
            KindArg::Scp => PolicyKind::Scp,
            KindArg::Rcp => PolicyKind::Rcp,
        }
    }
}

/// Arguments of `iamsim validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Policy files, or directories whose `*.json` files are policies.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// The kind of policy (default: resource-based when a statement has Principal, else identity).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    #[command(flatten)]
    catalog: CatalogArg,
    /// Output format: text lines `file:line:col: severity[code] path: message`,
    /// JSON, or SARIF 2.1.0 (for code-scanning CI: one result per finding).
    #[arg(long, value_enum, default_value = "text")]
    format: ValidateFormat,
}

/// `validate --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ValidateFormat {
    /// `file:line:col: severity[code] path: message` lines.
    Text,
    /// One JSON document.
    Json,
    /// SARIF 2.1.0 (OASIS Static Analysis Results Interchange Format).
    Sarif,
}

/// The findings as a SARIF 2.1.0 log
/// (<https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html>): one
/// run of the `iamsim` tool, one rule per finding code, one result per
/// finding located by file, region (line and column; line 1 for findings
/// about the whole document) and JSON path (a logical location).
fn sarif(results: &[(String, Vec<Finding>)]) -> serde_json::Value {
    let level = |s: Severity| match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Suggestion => "note",
    };
    let mut rules: BTreeMap<&str, Severity> = BTreeMap::new();
    for f in results.iter().flat_map(|(_, fs)| fs) {
        rules.entry(f.code).or_insert(f.severity);
    }
    let rules: Vec<_> = rules
        .iter()
        .map(|(code, severity)| {
            serde_json::json!({
                "id": code,
                "shortDescription": {"text": format!("iamsim validate: {code}")},
                "defaultConfiguration": {"level": level(*severity)},
            })
        })
        .collect();
    let findings: Vec<_> = results
        .iter()
        .flat_map(|(file, fs)| fs.iter().map(move |f| (file, f)))
        .map(|(file, f)| {
            let mut location = serde_json::json!({
                "physicalLocation": {
                    "artifactLocation": {"uri": file.replace('\\', "/")},
                    "region": {"startLine": f.line.unwrap_or(1), "startColumn": f.column.unwrap_or(1)},
                },
            });
            if !f.path.is_empty() {
                location["logicalLocations"] = serde_json::json!([{"fullyQualifiedName": f.path, "kind": "member"}]);
            }
            serde_json::json!({
                "ruleId": f.code,
                "level": level(f.severity),
                "message": {"text": f.message},
                "locations": [location],
            })
        })
        .collect();
    serde_json::json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "iamsim",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules,
            }},
            "results": findings,
        }],
    })
}

fn policy_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            files.extend(load::json_files(path)?);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Whether any statement of the document (or of a CLI wrapper around it) has `Principal` or `NotPrincipal`.
fn names_a_principal(root: &json::Json) -> bool {
    let has = |s: &json::Json| s.get("Principal").is_some() || s.get("NotPrincipal").is_some();
    match iamsim::engine::policy::document_node(root).and_then(|(doc, _)| doc.get("Statement")) {
        Some(json::Json { kind: json::JsonKind::Array(items), .. }) => items.iter().any(has),
        Some(statement) => has(statement),
        None => false,
    }
}

/// Parses a document whose kind is given or guessed: resource-based when any statement names a principal.
fn parse_document(
    bytes: &[u8],
    source: &str,
    kind: Option<KindArg>,
) -> Result<(Policy, json::Json), iamsim::engine::policy::ParseError> {
    let root = iamsim::engine::policy::parse_json(bytes, source)?;
    let kind = kind.map_or_else(
        || if names_a_principal(&root) { PolicyKind::Resource } else { PolicyKind::Identity },
        KindArg::kind,
    );
    let policy = policy_from_json(&root, source, kind)?;
    Ok((policy, root))
}

/// Runs `validate`.
pub fn run_validate(args: &ValidateArgs) -> Result<ExitCode, CliError> {
    let catalog = args.catalog.load()?;
    let files = policy_files(&args.files)?;
    let mut results: Vec<(String, Vec<Finding>)> = Vec::with_capacity(files.len());
    for file in &files {
        let source = file.display().to_string();
        let bytes = load::read_file(file)?;
        let findings = match parse_document(&bytes, &source, args.kind) {
            Ok((policy, root)) => {
                let mut findings = validate(&catalog, &policy, Some(&root))?;
                if let Some(w) =
                    iamsim::engine::policy::limits::size_warning(&String::from_utf8_lossy(&bytes), policy.kind)
                {
                    findings.insert(
                        0,
                        Finding {
                            severity: Severity::Warning,
                            code: "policy-size",
                            path: String::new(),
                            line: None,
                            column: None,
                            message: w,
                        },
                    );
                }
                findings
            }
            // A document AWS would reject is an error finding, and the run goes on.
            Err(e) => vec![Finding {
                severity: Severity::Error,
                code: "invalid-policy",
                path: e.path().to_string(),
                line: e.span().map(|s| s.line),
                column: e.span().map(|s| s.column),
                message: e.message().to_string(),
            }],
        };
        results.push((source, findings));
    }
    let mut counts: BTreeMap<Severity, usize> = BTreeMap::new();
    for f in results.iter().flat_map(|(_, fs)| fs) {
        *counts.entry(f.severity).or_default() += 1;
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    match args.format {
        ValidateFormat::Sarif => writeln!(out, "{}", serde_json::to_string_pretty(&sarif(&results))?)?,
        ValidateFormat::Text => {
            for (file, findings) in &results {
                for f in findings {
                    let at = match (f.line, f.column) {
                        (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
                        _ => file.clone(),
                    };
                    let path = if f.path.is_empty() { String::new() } else { format!(" {}", f.path) };
                    writeln!(out, "{at}: {}[{}]{path}: {}", f.severity.as_str(), f.code, f.message)?;
                }
            }
        }
        ValidateFormat::Json => {
            let files: Vec<_> = results
                .iter()
                .map(|(file, findings)| serde_json::json!({"file": file, "findings": findings}))
                .collect();
            let doc = serde_json::json!({
                "files": files,
                "errors": counts.get(&Severity::Error).copied().unwrap_or(0),
                "warnings": counts.get(&Severity::Warning).copied().unwrap_or(0),
                "suggestions": counts.get(&Severity::Suggestion).copied().unwrap_or(0),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
    }
    out.flush()?;
    let errors = counts.get(&Severity::Error).copied().unwrap_or(0);
    eprintln!(
        "{} files: {errors} errors, {} warnings, {} suggestions",
        results.len(),
        counts.get(&Severity::Warning).copied().unwrap_or(0),
        counts.get(&Severity::Suggestion).copied().unwrap_or(0)
    );
    Ok(if errors > 0 { ExitCode::from(CHECK_FAILED) } else { ExitCode::SUCCESS })
}

/// Arguments of `iamsim diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// The old policy file; with --history, `Name@vN` (or just `Name`: every consecutive pair of its versions).
    old: String,
    /// The new policy file; with --history, `Name@vN` (default: the version after OLD's).
    new: Option<String>,
    /// The managed-policy history file (`managed-policies-all-versions.json.gz`, or the uncompressed JSON).
    #[arg(long)]
    history: Option<PathBuf>,
    /// The kind of both policies (default: guessed as in `validate`).
    #[arg(long, value_enum)]
    kind: Option<KindArg>,
    #[command(flatten)]
    catalog: CatalogArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
}

/// A managed policy's stored versions, oldest first.
struct History {
    versions: Vec<(String, serde_json::Value)>,
}

fn read_history(path: &Path, name: &str) -> Result<History, CliError> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| CliError::new(format!("{shown}: cannot read: {e}")))?;
    let mut bytes = Vec::new();
    let read = if path.extension().is_some_and(|x| x == "gz") {
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(file), &mut bytes)
    } else {
        std::io::Read::read_to_end(&mut { file }, &mut bytes)
    };
    read.map_err(|e| CliError::new(format!("{shown}: cannot read: {e}")))?;
    // Only the named policy is parsed into values; the others stay raw text.
    let all: std::collections::HashMap<String, &serde_json::value::RawValue> =
        serde_json::from_slice(&bytes).map_err(|e| {
            CliError::new(format!(
                "{shown}: line {}, column {}: expected {{name: {{versions: …}}}}: {e}",
                e.line(),
                e.column()
            ))
        })?;
    let Some(raw) = all.get(name) else {
        return Err(CliError::new(format!("{shown}: no managed policy named {name:?}")));
    };
    let entry: serde_json::Value = serde_json::from_str(raw.get())?;
    let Some(serde_json::Value::Object(versions)) = entry.get("versions").cloned() else {
        return Err(CliError::new(format!("{shown}: {name}.versions: expected an object of versions")));
    };
    let mut versions: Vec<(String, serde_json::Value)> =
        versions.into_iter().filter_map(|(v, body)| Some((v, body.get("document")?.clone()))).collect();
    versions.sort_by_key(|(v, _)| v.trim_start_matches('v').parse::<u32>().unwrap_or(u32::MAX));
    Ok(History { versions })
}

fn parse_value(doc: &serde_json::Value, source: &str, kind: Option<KindArg>) -> Result<Policy, CliError> {
    let bytes = serde_json::to_vec(doc)?;
    Ok(parse_document(&bytes, source, kind)?.0)
}

/// Runs `diff`.
pub fn run_diff(args: &DiffArgs) -> Result<ExitCode, CliError> {
    let catalog = args.catalog.load()?;
    let mut pairs: Vec<(String, Policy, String, Policy)> = Vec::new();
    match &args.history {
        None => {
            let Some(new) = &args.new else {
                return Err(CliError::new("diff needs OLD and NEW policy files (or --history with Name@vN)"));
            };
            let read = |p: &str| -> Result<Policy, CliError> {
                let bytes = load::read_file(Path::new(p))?;
                Ok(parse_document(&bytes, p, args.kind)?.0)
            };
            pairs.push((args.old.clone(), read(&args.old)?, new.clone(), read(new)?));
        }
        Some(path) => {
            let (name, old_version) = match args.old.split_once('@') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (args.old.clone(), None),
            };
            let history = read_history(path, &name)?;
            let position = |v: &str| {
                history.versions.iter().position(|(have, _)| have == v).ok_or_else(|| {
                    let have: Vec<&str> = history.versions.iter().map(|(v, _)| v.as_str()).collect();
                    CliError::new(format!("{name}: no stored version {v:?} (stored: {})", have.join(", ")))
                })
            };
            let mut steps: Vec<(usize, usize)> = Vec::new();
            match (&old_version, &args.new) {
                (None, None) => steps.extend((1..history.versions.len()).map(|i| (i - 1, i))),
                (Some(v), None) => {
                    let i = position(v)?;
                    if i + 1 >= history.versions.len() {
                        return Err(CliError::new(format!("{name}@{v} is the newest stored version; name NEW")));
                    }
                    steps.push((i, i + 1));
                }
                (_, Some(new)) => {
                    let old_v = old_version
                        .clone()
                        .ok_or_else(|| CliError::new("with --history, OLD must be Name@vN when NEW is given"))?;
                    let new_v = new.rsplit('@').next().unwrap_or(new);
                    steps.push((position(&old_v)?, position(new_v)?));
                }
            }
            for (a, b) in steps {
                let (va, da) = &history.versions[a];
                let (vb, db) = &history.versions[b];
                let (la, lb) = (format!("{name}@{va}"), format!("{name}@{vb}"));
                pairs.push((
                    la.clone(),
                    parse_value(da, &la, args.kind)?,
                    lb.clone(),
                    parse_value(db, &lb, args.kind)?,
                ));
            }
        }
    }
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut any_new = false;
    let mut json_out = Vec::new();
    for (old_name, old, new_name, new) in &pairs {
        let d = diff(&catalog, std::slice::from_ref(old), std::slice::from_ref(new))?;
        any_new |= d.grants_new_access();
        match args.format {
            Format::Text => write_diff_text(&mut out, old_name, new_name, &d)?,
            Format::Json => json_out.push(serde_json::json!({"old": old_name, "new": new_name, "grants_new_access": d.grants_new_access(), "new_access": d.new_access, "removed_access": d.removed_access})),
        }
    }
    if args.format == Format::Json {
        let doc =
            if json_out.len() == 1 { json_out.pop().unwrap_or_default() } else { serde_json::Value::Array(json_out) };
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
    }
    out.flush()?;
    Ok(if any_new { ExitCode::from(CHECK_FAILED) } else { ExitCode::SUCCESS })
}

fn write_diff_text(out: &mut impl Write, old: &str, new: &str, d: &AccessDiff) -> Result<(), CliError> {
    writeln!(out, "--- {old}\n+++ {new}")?;
    if d.new_access.is_empty() && d.removed_access.is_empty() {
        writeln!(out, "  (no change in access)")?;
    }
    for (sign, list) in [('+', &d.new_access), ('-', &d.removed_access)] {
        for g in list {
            let condition = if g.condition.is_empty() { String::new() } else { format!("  if {}", g.condition) };
            let how = match (sign, g.effect) {
                ('+', "Deny") => "  (a Deny removed)",
                ('-', "Deny") => "  (a Deny added)",
                _ => "",
            };
            writeln!(out, "{sign} {} on {}{condition}{how}", g.action, g.resource)?;
        }
    }
    Ok(())
}
