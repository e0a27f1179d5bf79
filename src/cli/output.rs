//! Rendering decisions: the JSON result object of the CLI contract and a text table.

use iamsim::engine::compile::CompiledPolicySet;
use iamsim::engine::eval::{Decision, DecisionKind, Explanation};
use iamsim::engine::request::Request;
use serde::Serialize;
use serde_json::{json, Value};
use std::io::Write;

/// Writes `text` to stdout: a closed pipe (`| head`) ends the output quietly;
/// any other failure (`> /dev/full`) is an error for the caller to report,
/// never a panic as `print!` would make it.
pub fn print_stdout(text: &str) -> Result<(), super::CliError> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(super::CliError::new(format!("cannot write the output: {e}"))),
        Ok(()) => Ok(()),
    }
}

/// A result of the CLI contract: the request's action and resource, the
/// library's [`Explanation`] of its decision, and why an implicit deny is
/// one (borrowed, serialised without building a `Value`).
#[derive(Serialize)]
struct ResultLine<'a> {
    action: &'a str,
    resource: &'a str,
    #[serde(flatten)]
    explanation: Explanation<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

impl<'a> ResultLine<'a> {
    fn of(set: &'a CompiledPolicySet, req: &'a Request, d: &Decision) -> ResultLine<'a> {
        ResultLine {
            action: &req.action,
            resource: &req.resource,
            explanation: set.explanation(d),
            reason: reason(req, d),
        }
    }
}

/// The contract's result object as one JSON line (same fields as [`result_json`]).
pub fn result_line(set: &CompiledPolicySet, req: &Request, d: &Decision) -> String {
    serde_json::to_string(&ResultLine::of(set, req, d)).unwrap_or_default()
}

/// The contract's result object:
/// `{"action","resource","decision","matched_statements":[…],"missing_context_keys":[…]}`,
/// `unknown_context_keys` when the request left values unknown,
/// `unknown_credentials` when it waits on an IAM user's credentials, and
/// `reason` for implicit denies.
pub fn result_json(set: &CompiledPolicySet, req: &Request, d: &Decision) -> Value {
    serde_json::to_value(ResultLine::of(set, req, d)).unwrap_or_default()
}

/// One line per statement for the text table.
pub fn statement_lines(set: &CompiledPolicySet, d: &Decision) -> Vec<String> {
    d.statements
        .iter()
        .filter_map(|r| iamsim::audit::access::StatementName::of(set.policy_set(), *r))
        .map(|s| s.to_string())
        .collect()
}

/// A readable table of results.
pub fn text_table(set: &CompiledPolicySet, rows: &[(Request, Decision)]) -> String {
    let mut out = String::new();
    let w_action = rows.iter().map(|(r, _)| r.action.len()).max().unwrap_or(6).max(6);
    let w_res = rows.iter().map(|(r, _)| r.resource.len()).max().unwrap_or(8).max(8);
    out.push_str(&format!("{:<w_action$}  {:<w_res$}  DECISION\n", "ACTION", "RESOURCE"));
    for (req, d) in rows {
        out.push_str(&format!("{:<w_action$}  {:<w_res$}  {}\n", req.action, req.resource, d.kind));
        for line in statement_lines(set, d) {
            out.push_str(&format!("    matched: {line}\n"));
        }
        if d.kind == DecisionKind::ImplicitDeny {
            if let Some(reason) = reason(req, d) {
                out.push_str(&format!("    reason: {reason}\n"));
            }
        }
        let missing: Vec<&str> = d.missing_keys.iter().filter_map(|k| set.key_as_written(*k)).collect();
        if !missing.is_empty() {
            out.push_str(&format!("    missing context keys: {}\n", missing.join(", ")));
        }
    }
    out
}

/// Why `req` was implicitly denied: credentials that may not call the
/// action at all, or the layer no statement of which allows it.
fn reason(req: &Request, d: &Decision) -> Option<String> {
    if d.kind != DecisionKind::ImplicitDeny {
        return None;
    }
    if let Some(rule) = iamsim::engine::eval::credential_refusal(req) {
        return Some(format!("{} ({})", rule.why, rule.page));
    }
    d.missing_allow.map(|layer| format!("no statement in the {layer} policies allows the request"))
}

/// The decisions in the shape of the IAM API's `EvaluationResults`
/// (`aws iam simulate-principal-policy` / `simulate-custom-policy` output,
/// <https://docs.aws.amazon.com/IAM/latest/APIReference/API_EvaluationResult.html>):
/// `EvalActionName`, `EvalResourceName`, `EvalDecision` (`allowed`,
/// `explicitDeny`, `implicitDeny`; `indeterminate` where a value the request
/// marked unknown decides, which AWS never answers), `MatchedStatements`
/// (`SourcePolicyId`, `SourcePolicyType`), `MissingContextValues` (as the
/// policies write the keys), and the organizations and boundary details
/// where those layers exist.
pub fn evaluation_results(set: &CompiledPolicySet, rows: &[(Request, Decision)]) -> Value {
    use iamsim::engine::policy::Layer;
    let shape = set.policy_set().shape();
    let results: Vec<Value> = rows
        .iter()
        .map(|(req, d)| {
            let matched: Vec<Value> = d
                .statements
                .iter()
                .filter_map(|r| {
                    let (policy, _) = set.policy_set().get(*r)?;
                    let kind = match r.layer {
                        Layer::Identity if policy.name.starts_with("arn:aws:iam::aws:policy/") => "aws-managed",
                        Layer::Identity | Layer::PermissionsBoundary => "user-managed",
                        Layer::Resource => "resource",
                        _ => "none",
                    };
                    Some(json!({"SourcePolicyId": policy.name, "SourcePolicyType": kind}))
                })
                .collect();
            let missing: Vec<&str> = d.missing_keys.iter().filter_map(|k| set.key_as_written(*k)).collect();
            let mut r = json!({
                "EvalActionName": req.action,
                "EvalResourceName": req.resource,
                "EvalDecision": d.kind.as_str(),
                "MatchedStatements": matched,
                "MissingContextValues": missing,
            });
            let denied_in = |pick: &dyn Fn(&Layer) -> bool| {
                d.missing_allow.as_ref().is_some_and(pick)
                    || (d.kind == DecisionKind::ExplicitDeny && d.statements.iter().any(|s| pick(&s.layer)))
            };
            if shape.scp_levels > 0 || shape.rcp_levels > 0 {
                let by_org = !denied_in(&|l| matches!(l, Layer::Scp(_) | Layer::Rcp(_)));
                r["OrganizationsDecisionDetail"] = json!({"AllowedByOrganizations": by_org});
            }
            if shape.has_boundary {
                let by_boundary = !denied_in(&|l| matches!(l, Layer::PermissionsBoundary));
                r["PermissionsBoundaryDecisionDetail"] = json!({"AllowedByPermissionsBoundary": by_boundary});
            }
            r
        })
        .collect();
    json!({ "EvaluationResults": results })
}

/// `text` escaped for HTML and XML alike, content or attribute values (the
/// HTML report, JUnit XML): the five markup characters as references, and
/// control characters XML 1.0 forbids shown as `\uXXXX` rather than dropped.
pub fn markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}
