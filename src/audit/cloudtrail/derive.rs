//! Event → resources from the service reference. Where the hand mappings of
//! [`super::event`] name no resource for an action, the catalog's ARN formats
//! of the action's resource types are filled from the event: `${Partition}`
//! from the caller's ARN, `${Region}` and `${Account}` from the record, and
//! every other `${Variable}` from the request parameter (or, for what a call
//! creates, the response element, an identifier also in the items of what
//! it made: a launch's `instancesSet.items[].groupSet`) of that name: `${VpcId}` from `vpcId`,
//! `${TrailName}` from `trailName` or, the type being `trail`, `name`. A
//! parameter holding a whole ARN of the type is taken as it is. The few
//! names the reference cannot tell are the rows of [`ALIASES`], each with
//! the API reference page that names the parameter.
//!
//! Each resource type the action lists gives a check on every ARN filled;
//! a *required* type that cannot be filled gives an unknown resource (the
//! replay decides it only where the resource cannot matter), never nothing:
//! a Deny scoped to that type must still be able to apply. With a catalog
//! that does not mark required types (AWS's published JSON), every unfilled
//! type counts as required.
//!
//! Sits under `event` (which calls [`derive`]) and reads the catalog.

use super::record::Json;
use crate::audit::catalog::validate::{format_parts, FormatPart as Part};
use crate::audit::catalog::Catalog;

/// Parameters the Service Authorization Reference's variable names do not
/// tell: (service prefix, variable, request parameter, strip a leading `/`,
/// the page naming the parameter).
pub const ALIASES: &[(&str, &str, &str, bool, &str)] = &[
    (
        "ec2",
        "SecurityGroupId",
        "groupId",
        false,
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_AuthorizeSecurityGroupIngress.html",
    ),
    (
        "ec2",
        "NaclId",
        "networkAclId",
        false,
        "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateNetworkAclEntry.html",
    ),
    (
        "ssm",
        "ParameterNameWithoutLeadingSlash",
        "name",
        true,
        "https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html",
    ),
    (
        "rds",
        "DbInstanceName",
        "dBInstanceIdentifier",
        false,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBInstances.html",
    ),
    (
        "rds",
        "SnapshotName",
        "dBSnapshotIdentifier",
        false,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBSnapshot.html",
    ),
    (
        "rds",
        "DbClusterInstanceName",
        "dBClusterIdentifier",
        false,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBClusters.html",
    ),
    (
        "rds",
        "SecurityGroupName",
        "dBSecurityGroupName",
        false,
        "https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_AuthorizeDBSecurityGroupIngress.html",
    ),
    (
        "cloudwatch",
        "AlarmName",
        "alarmNames",
        false,
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_DescribeAlarms.html",
    ),
    (
        "cloudwatch",
        "DashboardName",
        "dashboardName",
        false,
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_GetDashboard.html",
    ),
];

/// ARNs filled for more combinations than this (several list-valued
/// variables in one format) are not listed: the resource stays unknown.
const MAX_FILLED: usize = 1_000;

/// What the event lets the formats be filled with.
pub(super) struct Event<'a> {
    /// `requestParameters`.
    pub parameters: Option<&'a Json<'a>>,
    /// `responseElements`.
    pub response: Option<&'a Json<'a>>,
    /// `awsRegion`.
    pub region: Option<&'a str>,
    /// The account whose resources the call names by name.
    pub account: Option<&'a str>,
    /// The caller's ARN, for its partition.
    pub caller_arn: Option<&'a str>,
}

/// The resources of `action` (`service:Name`) the catalog's formats give,
/// each filled ARN once; `None` in the list for a required resource type
/// the event does not fill. `None` when the catalog does not know the action
/// or the action takes no resource.
pub(super) fn derive(catalog: &Catalog, action: &str, e: &Event<'_>) -> Option<Vec<Option<String>>> {
    let id = catalog.action(action)?;
    let service = catalog.service_of(id)?;
    let def = catalog.action_def(id)?;
    if def.resources.is_empty() {
        return None;
    }
    let mut out: Vec<Option<String>> = Vec::new();
    let mut unfilled_required = false;
    for r in &def.resources {
        let Some(rt) = service.resource_types.get(r.resource_type as usize) else { continue };
        let mut filled: Vec<String> = Vec::new();
        for format in &rt.arn_formats {
            fill(format, &service.prefix, &rt.name, e, &mut filled);
        }
        if filled.is_empty() {
            // Where the catalog does not mark required types, any may be.
            unfilled_required |= r.required || !catalog.marks_required();
        }
        for arn in filled {
            if !out.iter().any(|o| o.as_deref() == Some(arn.as_str())) {
                out.push(Some(arn));
            }
        }
    }
    if unfilled_required {
        out.push(None);
    }
    (!out.is_empty()).then_some(out)
}

/// Appends the ARNs `format` gives with the event's values (none when a
/// variable has no value).
fn fill(format: &str, service: &str, resource_type: &str, e: &Event<'_>, out: &mut Vec<String>) {
    // Tokenised once, and only if some value is an ARN to compare with it.
    let mut tokens = None;
    let mut fits = |arn: &str| {
        arn.starts_with("arn:")
            && tokens
                .get_or_insert_with(|| crate::audit::catalog::validate::ResourceFormats::of_format(format))
                .fits(arn)
    };
    // A whole ARN of this format among the parameters or the response
    // (`responseElements.arn` of CreateSecret, a trail named by its ARN).
    // (A list of them too: CloudTrail ListTags' `resourceIdList`.)
    let whole: Vec<&str> = [e.parameters, e.response]
        .into_iter()
        .flatten()
        .filter_map(Json::as_object)
        .flat_map(|o| o.values())
        .flat_map(|v| v.as_array().unwrap_or(std::slice::from_ref(v)))
        .filter_map(Json::as_str)
        .filter(|v| fits(v))
        .collect();
    if !whole.is_empty() {
        for arn in whole {
            if !out.iter().any(|o| o == arn) {
                out.push(arn.to_string());
            }
        }
        return;
    }
    // The format as literal text and variables.
    let parts: Vec<Part<'_>> = format_parts(format).collect();
    // Each variable's values; a whole ARN of this format is taken as it is.
    let mut values: Vec<Vec<String>> = Vec::new();
    for part in &parts {
        let Part::Var(var) = part else { continue };
        let found = values_of(var, service, resource_type, e);
        if found.is_empty() {
            return;
        }
        if let Some(arn) = found.iter().find(|v| fits(v)) {
            if !out.contains(arn) {
                out.push(arn.clone());
            }
            return;
        }
        if found.iter().any(|v| v.starts_with("arn:")) {
            // An ARN of another type where an id belongs: not this format.
            return;
        }
        values.push(found);
    }
    let combinations = values.iter().try_fold(1usize, |n, v| n.checked_mul(v.len()));
    if combinations.is_none_or(|n| n > MAX_FILLED) {
        return;
    }
    // Every combination of the variables' values (usually one).
    let mut index = vec![0usize; values.len()];
    loop {
        let mut arn = String::with_capacity(format.len() + 32);
        let mut var = 0;
        for part in &parts {
            match part {
                Part::Text(t) => arn.push_str(t),
                Part::Var(_) => {
                    arn.push_str(values.get(var).and_then(|v| v.get(index[var])).map_or("", String::as_str));
                    var += 1;
                }
            }
        }
        if !out.contains(&arn) {
            out.push(arn);
        }
        // Next combination, last variable fastest.
        let mut i = values.len();
        loop {
            if i == 0 {
                return;
            }
            i -= 1;
            index[i] += 1;
            if index[i] < values[i].len() {
                break;
            }
            index[i] = 0;
        }
    }
}

/// The values of `${var}` in this event (empty: none).
fn values_of(var: &str, service: &str, resource_type: &str, e: &Event<'_>) -> Vec<String> {
    match var {
        "Partition" => {
            let partition =
                e.caller_arn.and_then(crate::engine::policy::Arn::parse).map(|a| a.partition).filter(|p| !p.is_empty());
            return vec![partition.unwrap_or("aws").to_string()];
        }
        "Region" => return e.region.map(|r| vec![r.to_string()]).unwrap_or_default(),
        "Account" => return e.account.map(|a| vec![a.to_string()]).unwrap_or_default(),
        _ => {}
    }
    for (svc, alias_var, parameter, strip_slash, _) in ALIASES {
        if *svc == service && *alias_var == var {
            // The parameter, or a list of them (`names` for `name`).
            let mut found = member(e.parameters, parameter, true);
            if found.is_empty() {
                found = member(e.parameters, &format!("{parameter}s"), true);
            }
            // What the call made, when it is named by an identifier the
            // response gives (`CreateSecurityGroup`'s `groupId`). Not a name:
            // a copy's response names the copy, and its source (a request
            // member of another name) would be lost.
            if found.is_empty() && is_identifier(parameter) {
                found = response_member(e.response, parameter);
            }
            if !found.is_empty() {
                return found
                    .into_iter()
                    .map(|v| if *strip_slash { v.trim_start_matches('/') } else { v }.to_string())
                    .collect();
            }
        }
    }
    // `${TrailName}` of type `trail` is also the call's `name`.
    let type_camel: String = resource_type
        .split(['-', '_'])
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
        })
        .collect();
    // The full name anywhere in the parameters or (what a call creates) the
    // response, one object deep; a list of them (`instanceIds` for
    // `${InstanceId}`); the short name (`name`) at the parameters' top only.
    let plural = format!("{var}s");
    let short = var.strip_prefix(type_camel.as_str()).filter(|s| !s.is_empty());
    // (name, in the response, nested)
    let lookups =
        [(var, false, true), (plural.as_str(), false, true), (var, true, true), (short.unwrap_or(""), false, false)];
    for (name, in_response, nested) in lookups {
        if name.is_empty() {
            continue;
        }
        let found = if in_response { response_member(e.response, name) } else { member(e.parameters, name, nested) };
        if !found.is_empty() {
            return found.into_iter().map(str::to_string).collect();
        }
    }
    Vec::new()
}

/// [`member`] of a response or, for an identifier (`…Id`), of the items of
/// a list one object inside it: what a call made is described there, one
/// item per thing made, with what it was made with (`RunInstances`'
/// `instancesSet.items[]`, each with its `groupSet.items[].groupId` and
/// `networkInterfaceSet.items[].networkInterfaceId`). Names are not looked
/// for that deep: a `groupName` there is a security group's, not the name
/// of the resource group another of the action's types would take it for.
/// Values found in several items are given once.
fn response_member<'a>(v: Option<&'a Json<'a>>, name: &str) -> Vec<&'a str> {
    let found = member(v, name, true);
    if !found.is_empty() || !is_identifier(name) {
        return found;
    }
    let Some(object) = v.and_then(Json::as_object) else { return found };
    let mut found: Vec<&'a str> = Vec::new();
    for inner in object.values().filter_map(Json::as_object) {
        let items = inner.get("items").or_else(|| inner.get("item")).and_then(Json::as_array);
        for item in items.into_iter().flatten() {
            for value in member(Some(item), name, true) {
                if !found.contains(&value) {
                    found.push(value);
                }
            }
        }
        if !found.is_empty() {
            return found;
        }
    }
    found
}

/// Whether a member's name says it holds an identifier (`groupId`,
/// `networkInterfaceId`): a value of one resource type, unlike a name.
fn is_identifier(name: &str) -> bool {
    name.len() > 2 && name.get(name.len() - 2..).is_some_and(|end| end.eq_ignore_ascii_case("id"))
}

/// The string values of the member named `name` (ASCII case-insensitively)
/// of `v` or, when `nested`, of an object directly inside it
/// (`responseElements.vpc.vpcId`) or of the items of such an object's list
/// (EC2 logs lists as `groupSet.items[].groupId`): one for a string, each
/// string of an array.
fn member<'a>(v: Option<&'a Json<'a>>, name: &str, nested: bool) -> Vec<&'a str> {
    let Some(object) = v.and_then(Json::as_object) else { return Vec::new() };
    let strings = |v: &'a Json<'a>| -> Vec<&'a str> {
        match v {
            Json::String(s) if !s.is_empty() => vec![&**s],
            Json::Array(items) => items.iter().filter_map(Json::as_str).filter(|s| !s.is_empty()).collect(),
            _ => Vec::new(),
        }
    };
    if let Some((_, found)) = object.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
        return strings(found);
    }
    let mut found: Vec<&'a str> = Vec::new();
    for inner in object.values().filter_map(Json::as_object).filter(|_| nested) {
        if let Some((_, v)) = inner.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
            return strings(v);
        }
        let items = inner.get("items").or_else(|| inner.get("item")).and_then(Json::as_array);
        for item in items.into_iter().flatten().filter_map(Json::as_object) {
            if let Some((_, v)) = item.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)) {
                found.extend(strings(v));
            }
        }
        if !found.is_empty() {
            return found;
        }
    }
    found
}
