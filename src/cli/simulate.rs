//! `iamsim simulate`: every (action, resource) pair against the given policies.

use super::{load, output, CliError};
use iamsim::audit::catalog::{Catalog, ValueType};
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
    /// For an IAM user principal: the request is signed with temporary
    /// credentials from `sts:GetSessionToken` (they may call IAM only with
    /// MFA, and STS only for AssumeRole and GetCallerIdentity); default:
    /// long-term access keys.
    #[arg(long = "session-token")]
    session_token: bool,
    /// Account owning the resources (default: the ARN's account, else the principal's).
    #[arg(long = "resource-account")]
    resource_account: Option<String>,
    /// Request context as a JSON object: key → string, number, boolean or array (multi-valued).
    #[arg(long)]
    context: Option<String>,
    /// Context entries as the AWS CLI takes them:
    /// `ContextKeyName=aws:SourceIp,ContextKeyValues=203.0.113.9,ContextKeyType=ip` (repeatable),
    /// or their JSON (`[{"ContextKeyName":…,"ContextKeyValues":[…],"ContextKeyType":…}]`).
    /// Each value is checked against its type.
    #[arg(long = "context-entries", num_args = 1..)]
    context_entries: Vec<String>,
    /// Output of `aws iam get-account-authorization-details` (repeatable): with
    /// `--principal` naming one of its users or roles, that principal's
    /// inline, attached, group and boundary policies and tags are simulated
    /// (as `aws iam simulate-principal-policy` does).
    #[arg(long = "authorization-details")]
    details: Vec<PathBuf>,
    /// Folder of AWS managed policy documents (`<PolicyName>.json`) for
    /// attachments the authorization details do not include.
    #[arg(long = "managed-policies")]
    managed: Option<PathBuf>,
    /// Output format: a table, JSON, or AWS's `EvaluationResults` shape (`aws`;
    /// also `--output aws`, as the AWS CLI spells the option).
    #[arg(long, visible_alias = "output", value_enum, default_value = "text")]
    format: SimulateFormat,
    /// With a catalog (or $IAMSIM_CATALOG), actions it does not know are warned about.
    #[command(flatten)]
    catalog: super::catalog_cmd::CatalogArg,
}

/// Runs `simulate`.
pub fn run(args: &SimulateArgs) -> Result<ExitCode, CliError> {
    let catalog = args.catalog.load_optional()?;
    if let Some(catalog) = &catalog {
        for action in args.actions.iter().filter(|a| catalog.action(a).is_none()) {
            let hint = catalog.suggest_action(action);
            let hint = if hint.is_empty() { String::new() } else { format!(" (did you mean {}?)", hint.join(", ")) };
            eprintln!("iamsim: warning: --action {action}: not in the catalog{hint}; no real request carries it");
        }
    }
    let principal = Principal::parse(&args.principal).map_err(|e| CliError::new(format!("--principal: {e}")))?;
    let listed = principal_from_details(args, &principal)?;
    let mut identity = listed.as_ref().map(|i| i.policies.clone()).unwrap_or_default();
    for p in &args.identity {
        identity.extend(load::policies(p, PolicyKind::Identity)?);
    }
    let boundary = match &args.boundary {
        Some(p) => Some(load::policy(p, PolicyKind::PermissionsBoundary)?),
        None => listed.as_ref().and_then(|i| i.boundary.clone()),
    };
    let set = PolicySet {
        identity,
        permissions_boundary: boundary,
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
    let mut context = match &args.context {
        None => Context::new(),
        // Read from the text: a key given twice is refused, not merged.
        Some(text) => Context::from_json_text(text).map_err(|e| CliError::new(format!("--context: {e}")))?,
    };
    for (key, value) in context_entries(&args.context_entries)? {
        context.insert_once(&key, value.as_entry()).map_err(|e| CliError::new(format!("--context-entries: {e}")))?;
    }
    if let Some(catalog) = &catalog {
        check_context_types(&context, catalog)?;
    }
    // The principal's tags, as the authorization details list them.
    if let Some(identity) = &listed {
        context.insert_principal_tags(&identity.tags);
    }
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
            if args.session_token {
                req.user_credentials = iamsim::engine::request::UserCredentials::SessionToken;
            }
            req.context = context.clone();
            let d = compiled.decide(&req, &mut scratch);
            rows.push((req, d));
        }
    }
    let text = match args.format {
        SimulateFormat::Aws => {
            let mut s = serde_json::to_string_pretty(&output::evaluation_results(&compiled, &rows))?;
            s.push('\n');
            s
        }
        SimulateFormat::Json => {
            let results: Vec<_> = rows.iter().map(|(r, d)| output::result_json(&compiled, r, d)).collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({ "results": results }))?;
            s.push('\n');
            s
        }
        SimulateFormat::Text => output::text_table(&compiled, &rows),
    };
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        other => other?,
    }
    Ok(ExitCode::SUCCESS)
}

/// `simulate --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SimulateFormat {
    /// A readable table.
    Text,
    /// `{"results":[…]}`.
    Json,
    /// `{"EvaluationResults":[…]}`, shaped like `aws iam simulate-principal-policy`'s output.
    Aws,
}

/// With `--authorization-details`, the principal's entry there: a user's,
/// or a role's (the principal given as the role or one of its sessions).
fn principal_from_details(
    args: &SimulateArgs,
    principal: &Principal,
) -> Result<Option<iamsim::audit::inventory::Identity>, CliError> {
    if args.details.is_empty() {
        return Ok(None);
    }
    let mut inventory = iamsim::audit::inventory::Inventory::new();
    for d in &args.details {
        inventory.load(&load::read_file(d)?, &d.display().to_string(), args.managed.as_deref())?;
    }
    let arn = match principal {
        Principal::User { arn, .. } => arn.as_str(),
        Principal::RoleSession { role_arn, .. } => role_arn.as_str(),
        _ => "",
    };
    let found = inventory.get(arn).or_else(|| inventory.entity_arn(arn).and_then(|a| inventory.get(a)));
    match found {
        Some(identity) => {
            if !identity.unresolved.is_empty() {
                eprintln!(
                    "iamsim: warning: {}: policies not in the authorization details (give --managed-policies): {}",
                    identity.arn,
                    identity.unresolved.join(", ")
                );
            }
            Ok(Some(identity.clone()))
        }
        None => Err(CliError::new(format!(
            "--principal {}: not a user or role of the authorization details",
            args.principal
        ))),
    }
}

/// One `--context-entries` value, typed as the AWS CLI's `ContextKeyType` says.
struct Entry {
    values: Vec<String>,
    list: bool,
}

impl Entry {
    fn as_entry(&self) -> iamsim::engine::request::ContextEntry<'_> {
        match (self.list, self.values.as_slice()) {
            (false, [one]) => iamsim::engine::request::ContextEntry::Single(one),
            _ => iamsim::engine::request::ContextEntry::Multi(&self.values),
        }
    }
}

/// `--context-entries` arguments: the AWS CLI's shorthand
/// (`ContextKeyName=k,ContextKeyValues=v1,v2,ContextKeyType=stringList`) or
/// JSON (one entry or an array), each value checked against its type
/// (`ContextEntry` in the IAM API reference,
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_ContextEntry.html>).
fn context_entries(args: &[String]) -> Result<Vec<(String, Entry)>, CliError> {
    let bad = |m: String| CliError::new(format!("--context-entries: {m}"));
    let mut out = Vec::new();
    for arg in args {
        let raw: Vec<(String, Vec<String>, String)> = if arg.trim_start().starts_with(['[', '{']) {
            let v: serde_json::Value = serde_json::from_str(arg).map_err(|e| bad(format!("invalid JSON: {e}")))?;
            let items = match v {
                serde_json::Value::Array(items) => items,
                other => vec![other],
            };
            items
                .iter()
                .map(|i| {
                    let text = |k: &str| i.get(k).and_then(serde_json::Value::as_str).map(str::to_string);
                    let name = text("ContextKeyName").ok_or_else(|| bad(format!("{i}: no ContextKeyName")))?;
                    let kind = text("ContextKeyType").ok_or_else(|| bad(format!("{name}: no ContextKeyType")))?;
                    let values = match i.get("ContextKeyValues") {
                        Some(serde_json::Value::Array(vs)) => vs
                            .iter()
                            .map(|v| {
                                v.as_str()
                                    .map(str::to_string)
                                    .ok_or_else(|| bad(format!("{name}: values must be strings")))
                            })
                            .collect::<Result<_, _>>()?,
                        Some(serde_json::Value::String(one)) => vec![one.clone()],
                        _ => return Err(bad(format!("{name}: no ContextKeyValues (an array of strings)"))),
                    };
                    Ok((name, values, kind))
                })
                .collect::<Result<_, CliError>>()?
        } else {
            vec![shorthand(arg).map_err(bad)?]
        };
        for (name, values, kind) in raw {
            let checked = typed(&name, &values, &kind).map_err(bad)?;
            out.push((name, checked));
        }
    }
    Ok(out)
}

/// `ContextKeyName=…,ContextKeyValues=…,ContextKeyType=…` (any order; the
/// values run to the next field, `[v1,v2]` or `v1,v2`).
fn shorthand(arg: &str) -> Result<(String, Vec<String>, String), String> {
    const FIELDS: [&str; 3] = ["ContextKeyName=", "ContextKeyValues=", "ContextKeyType="];
    let mut starts: Vec<(usize, &str)> = FIELDS.iter().filter_map(|f| arg.find(f).map(|at| (at, *f))).collect();
    starts.sort_unstable();
    if starts.len() != 3 || starts.first().map(|s| s.0) != Some(0) {
        return Err(format!(
            "`{arg}`: expected ContextKeyName=KEY,ContextKeyValues=V1[,V2…],ContextKeyType=TYPE (or the JSON form)"
        ));
    }
    let field = |name: &str| -> String {
        let i = starts.iter().position(|s| s.1 == name).unwrap_or(0);
        let start = starts[i].0 + name.len();
        let end = starts.get(i + 1).map_or(arg.len(), |s| s.0);
        arg[start..end].trim_end_matches(',').to_string()
    };
    let values = field("ContextKeyValues=");
    let values = values.trim_start_matches('[').trim_end_matches(']');
    Ok((field("ContextKeyName="), values.split(',').map(|v| v.trim().to_string()).collect(), field("ContextKeyType=")))
}

/// `values` checked against `kind` (`string`, `stringList`, `numeric`,
/// `boolean`, `ip`, `date`, `binary` and their lists).
fn typed(name: &str, values: &[String], kind: &str) -> Result<Entry, String> {
    let (base, list) = match kind.strip_suffix("List") {
        Some(base) => (base, true),
        None => (kind, false),
    };
    let value_type = match base {
        "string" => ValueType::String,
        "numeric" => ValueType::Numeric,
        "boolean" => ValueType::Bool,
        "ip" => ValueType::IpAddress,
        "date" => ValueType::Date,
        "binary" => ValueType::Binary,
        _ => {
            return Err(format!(
                "{name}: unknown ContextKeyType `{kind}` (string, numeric, boolean, ip, date, binary, or one of them with List)"
            ))
        }
    };
    if !list && values.len() != 1 {
        return Err(format!("{name}: a {kind} takes one value, found {}", values.len()));
    }
    check_values(name, values.iter().map(String::as_str), value_type)?;
    Ok(Entry { values: values.to_vec(), list })
}

/// Each value read as `kind` requires, or an error naming the first that is not.
fn check_values<'v>(name: &str, mut values: impl Iterator<Item = &'v str>, kind: ValueType) -> Result<(), String> {
    let fits = |v: &str| match kind {
        ValueType::Numeric => v.trim().parse::<f64>().is_ok_and(f64::is_finite),
        ValueType::Bool => v.eq_ignore_ascii_case("true") || v.eq_ignore_ascii_case("false"),
        ValueType::IpAddress => iamsim::engine::policy::parse_ip(v).is_some(),
        ValueType::Date => iamsim::engine::policy::parse_date(v).is_some(),
        ValueType::Binary => {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(v).is_ok()
        }
        ValueType::String | ValueType::Arn | ValueType::Unknown => true,
    };
    match values.find(|v| !fits(v)) {
        None => Ok(()),
        Some(v) => {
            let what = match kind {
                ValueType::Numeric => "a number",
                ValueType::Bool => "true or false",
                ValueType::IpAddress => "an IP address",
                ValueType::Date => "a date",
                _ => "base64-encoded binary",
            };
            Err(format!("{name}: `{v}` is not {what}"))
        }
    }
}

/// `--context` values checked against their keys' types in the catalog
/// (an `aws:SourceIp` of `10.1.2` is refused, not silently kept as a value
/// no condition can match).
fn check_context_types(context: &Context, catalog: &Catalog) -> Result<(), CliError> {
    for (key, entry) in context.iter() {
        let Some(key_type) = catalog.condition_key(key).and_then(|k| k.key_type()) else { continue };
        let values: Vec<&str> = match entry {
            iamsim::engine::request::ContextEntry::Single(v) => vec![v],
            iamsim::engine::request::ContextEntry::Multi(vs) => vs.iter().map(String::as_str).collect(),
            _ => Vec::new(),
        };
        check_values(key, values.into_iter(), key_type.base)
            .map_err(|e| CliError::new(format!("--context: {e} (the catalog types {key} {})", key_type.name())))?;
    }
    Ok(())
}
