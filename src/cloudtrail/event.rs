//! One CloudTrail event → the authorisation checks it implies (semantics doc
//! §8): the principal from `userIdentity`, the IAM action(s), the resources
//! (from `resources[]`, else from `requestParameters` for common services),
//! and the context keys an event can tell. The context is open-world: a key
//! the event cannot tell is unknown, never assumed absent.

use super::action::{map_action, Mapped};
use crate::request::{Context, ContextValue, Principal, Request};
use serde_json::Value;
use std::fmt;

/// What AWS recorded for the call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// No `errorCode`.
    Success,
    /// `AccessDenied*`, `UnauthorizedOperation`, `Client.UnauthorizedOperation`.
    AccessDenied,
    /// Another error (does not prove authorisation passed or failed).
    OtherError(String),
}

/// Why an event produced no check.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    /// `eventType` is not `AwsApiCall` (console sign-in, service events…).
    NotApiCall(String),
    /// The call is not authorised by IAM policies.
    NotPolicyControlled,
    /// `eventSource`/`eventName` missing or not mappable.
    UnmappedAction(String),
    /// `userIdentity` missing.
    NoIdentity,
    /// An identity type the engine does not model (`AWSAccount`, `SAMLUser`…).
    UnmodelledPrincipal(String),
    /// A modelled identity type whose `arn` is missing or malformed.
    MalformedIdentity(String),
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::NotApiCall(t) => write!(f, "not an API call (eventType {t})"),
            SkipReason::NotPolicyControlled => f.write_str("not authorised by IAM policies"),
            SkipReason::UnmappedAction(s) => write!(f, "no IAM action known for {s}"),
            SkipReason::NoIdentity => f.write_str("no userIdentity"),
            SkipReason::UnmodelledPrincipal(t) => write!(f, "identity type {t} is not modelled"),
            SkipReason::MalformedIdentity(t) => write!(f, "malformed {t} identity"),
        }
    }
}

/// One (action, resource) authorisation an event implies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// The request to decide; `None` when its resource cannot be derived from
    /// the event (the check is then indeterminate, never guessed).
    pub request: Option<Request>,
    /// The IAM action.
    pub action: String,
}

/// An event turned into checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventChecks {
    /// `eventID`.
    pub event_id: String,
    /// `eventTime`.
    pub time: String,
    /// The caller as reported.
    pub principal: Principal,
    /// What AWS recorded.
    pub outcome: Outcome,
    /// The checks (all must pass for the call to succeed).
    pub checks: Vec<Check>,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// The outcome recorded in an event.
pub fn outcome(v: &Value) -> Outcome {
    match text(v, &["errorCode"]) {
        None => Outcome::Success,
        Some(c)
            if c.starts_with("AccessDenied") || c.ends_with("UnauthorizedOperation") || c == "AuthorizationError" =>
        {
            Outcome::AccessDenied
        }
        Some(c) => Outcome::OtherError(c.to_string()),
    }
}

/// The principal of an event (§8.3).
///
/// # Errors
/// The reason the identity cannot be modelled.
pub fn principal_of(v: &Value) -> Result<Principal, SkipReason> {
    let id = v.get("userIdentity").filter(|u| u.is_object()).ok_or(SkipReason::NoIdentity)?;
    let kind = text(id, &["type"]).unwrap_or("");
    let unmodelled =
        || SkipReason::UnmodelledPrincipal(if kind.is_empty() { "(none)".to_string() } else { kind.to_string() });
    let malformed = || SkipReason::MalformedIdentity(kind.to_string());
    let parsed = || text(id, &["arn"]).and_then(|a| Principal::parse(a).ok()).ok_or_else(malformed);
    match kind {
        "IAMUser" | "Root" => parsed(),
        "AssumedRole" => {
            let mut p = parsed()?;
            // The session ARN has no role path; the issuer ARN has it (§8.3).
            if let (Principal::RoleSession { role_arn, .. }, Some(issuer)) =
                (&mut p, text(id, &["sessionContext", "sessionIssuer", "arn"]))
            {
                *role_arn = issuer.to_string();
            }
            Ok(p)
        }
        "FederatedUser" => {
            let mut p = parsed()?;
            if let Principal::FederatedUser { issuer, .. } = &mut p {
                *issuer = text(id, &["sessionContext", "sessionIssuer", "arn"]).map(str::to_string);
            }
            Ok(p)
        }
        "AWSService" => {
            text(id, &["invokedBy"]).map(|s| Principal::Service { name: s.to_string() }).ok_or_else(malformed)
        }
        _ => Err(unmodelled()),
    }
}

/// The context an event can tell (§8.4), open-world.
pub fn context_of(v: &Value, principal: &Principal) -> Context {
    let mut c = Context::open_world();
    let single = |s: &str| ContextValue::Single(s.to_string());
    if let Some(t) = text(v, &["eventTime"]) {
        c.insert_static("aws:CurrentTime", single(t));
        if let Some(ms) = crate::policy::values::parse_date(t) {
            c.insert_static("aws:EpochTime", ContextValue::Single((ms / 1000).to_string()));
        }
    }
    if let Some(r) = text(v, &["awsRegion"]) {
        c.insert_static("aws:RequestedRegion", single(r));
    }
    let via_endpoint = text(v, &["vpcEndpointId"]);
    match (text(v, &["sourceIPAddress"]), via_endpoint) {
        (Some(ip), None) if crate::policy::values::parse_ip(ip).is_some() => {
            c.insert_static("aws:SourceIp", single(ip))
        }
        // Through a VPC endpoint aws:SourceIp is absent; the VPC address is aws:VpcSourceIp.
        (ip, Some(vpce)) => {
            c.insert_static("aws:SourceIp", ContextValue::Absent);
            c.insert_static("aws:SourceVpce", single(vpce));
            if let Some(ip) = ip.filter(|ip| crate::policy::values::parse_ip(ip).is_some()) {
                c.insert_static("aws:VpcSourceIp", single(ip));
            }
        }
        _ => {} // a service name or "AWS Internal": unknown
    }
    if let Some(id) = text(v, &["userIdentity", "principalId"]) {
        c.insert_static("aws:userid", single(id));
    }
    if let Some(ua) = text(v, &["userAgent"]) {
        c.insert_static("aws:UserAgent", single(ua));
    }
    if v.get("tlsDetails").is_some_and(Value::is_object) {
        c.insert_static("aws:SecureTransport", single("true"));
    }
    let temporary = text(v, &["userIdentity", "accessKeyId"]).is_some_and(|k| k.starts_with("ASIA"))
        || v.pointer("/userIdentity/sessionContext/attributes").is_some();
    match text(v, &["userIdentity", "sessionContext", "attributes", "mfaAuthenticated"]) {
        Some(m) if temporary => c.insert_static("aws:MultiFactorAuthPresent", single(m)),
        // Long-term access keys never carry the key (§5.3, §8.4).
        _ if text(v, &["userIdentity", "accessKeyId"]).is_some_and(|k| k.starts_with("AKIA")) => {
            c.insert_static("aws:MultiFactorAuthPresent", ContextValue::Absent);
            c.insert_static("aws:TokenIssueTime", ContextValue::Absent);
        }
        _ => {}
    }
    if let Some(t) = text(v, &["userIdentity", "sessionContext", "attributes", "creationDate"]) {
        c.insert_static("aws:TokenIssueTime", single(t));
    }
    if let Some(s) = text(v, &["userIdentity", "sessionContext", "sourceIdentity"]) {
        c.insert_static("aws:SourceIdentity", single(s));
    }
    match text(v, &["userIdentity", "invokedBy"]) {
        Some("AWS Internal") => {}
        Some(_) if !matches!(principal, Principal::Service { .. }) => {
            c.insert_static("aws:ViaAWSService", single("true"))
        }
        None => c.insert_static("aws:ViaAWSService", single("false")),
        _ => {}
    }
    c
}

/// Builds resource ARNs for the check from `resources[]` or `requestParameters`.
fn resources_of(v: &Value, action: &str) -> Option<Vec<String>> {
    let (service, name) = action.split_once(':')?;
    if let Some(list) = v.get("resources").and_then(Value::as_array).filter(|l| !l.is_empty()) {
        let typed: Vec<(&str, &str)> =
            list.iter().filter_map(|r| Some((text(r, &["type"]).unwrap_or(""), text(r, &["ARN"])?))).collect();
        if service == "s3" {
            // Object permissions are checked on the object, the rest on the bucket.
            let want = if name.contains("Object") || name.contains("MultipartUpload") {
                "AWS::S3::Object"
            } else {
                "AWS::S3::Bucket"
            };
            let picked: Vec<String> = typed.iter().filter(|(t, _)| *t == want).map(|(_, a)| (*a).to_string()).collect();
            if !picked.is_empty() {
                return Some(picked);
            }
        }
        let all: Vec<String> = typed.iter().map(|(_, a)| (*a).to_string()).collect();
        if !all.is_empty() {
            return Some(all);
        }
    }
    let p = v.get("requestParameters")?;
    let region = text(v, &["awsRegion"]).unwrap_or("");
    let account = text(v, &["recipientAccountId"]).or_else(|| text(v, &["userIdentity", "accountId"])).unwrap_or("");
    let param = |k: &str| text(p, &[k]);
    let arn = match service {
        "s3" => {
            let bucket = param("bucketName")?;
            match param("key") {
                Some(key) if name.contains("Object") || name.contains("Multipart") => {
                    format!("arn:aws:s3:::{bucket}/{key}")
                }
                _ => format!("arn:aws:s3:::{bucket}"),
            }
        }
        // IAM ARNs carry the entity's path, which events do not; names without a
        // path only match path-less patterns (resolve paths from inventory later).
        // The entity the call acts on is the resource; `policyArn` of
        // Attach*/Detach*Policy is the iam:PolicyARN condition key, and the
        // resource only for policy-level calls (GetPolicy, CreatePolicyVersion…).
        "iam" => match (param("userName"), param("roleName"), param("groupName"), param("policyArn")) {
            (Some(u), _, _, _) => format!("arn:aws:iam::{account}:user/{u}"),
            (_, Some(r), _, _) => format!("arn:aws:iam::{account}:role/{r}"),
            (_, _, Some(g), _) => format!("arn:aws:iam::{account}:group/{g}"),
            (_, _, _, Some(a)) => a.to_string(),
            _ => return None,
        },
        "sts" => param("roleArn")?.to_string(),
        "lambda" => {
            let f = param("functionName")?;
            if f.starts_with("arn:") {
                f.to_string()
            } else {
                format!("arn:aws:lambda:{region}:{account}:function:{f}")
            }
        }
        "kms" => {
            let k = param("keyId")?;
            if k.starts_with("arn:") && !k.contains(":alias/") {
                k.to_string()
            } else if !k.starts_with("alias/") && !k.contains(":alias/") {
                format!("arn:aws:kms:{region}:{account}:key/{k}")
            } else {
                return None; // an alias does not say which key
            }
        }
        "sqs" => {
            let url = param("queueUrl")?;
            let mut parts = url.rsplit('/');
            let (queue, acct) = (parts.next()?, parts.next()?);
            format!("arn:aws:sqs:{region}:{acct}:{queue}")
        }
        "sns" => param("topicArn")?.to_string(),
        "dynamodb" => format!("arn:aws:dynamodb:{region}:{account}:table/{}", param("tableName")?),
        "logs" => format!("arn:aws:logs:{region}:{account}:log-group:{}", param("logGroupName")?),
        "secretsmanager" => param("secretId").filter(|s| s.starts_with("arn:"))?.to_string(),
        "ec2" => {
            if let Some(id) = param("instanceId") {
                format!("arn:aws:ec2:{region}:{account}:instance/{id}")
            } else if let Some(id) = param("volumeId") {
                format!("arn:aws:ec2:{region}:{account}:volume/{id}")
            } else if let Some(id) = param("networkInterfaceId") {
                format!("arn:aws:ec2:{region}:{account}:network-interface/{id}")
            } else {
                return None;
            }
        }
        _ => return None,
    };
    Some(vec![arn])
}

/// Actions authorised on `*` (no resource type) that events commonly carry:
/// the fallback when no catalog is given (with one, its resource types decide).
fn wildcard_only(action: &str) -> bool {
    let (service, name) = action.split_once(':').unwrap_or(("", action));
    matches!(
        (service, name),
        ("s3", "ListAllMyBuckets")
            | (
                "iam",
                "ListUsers"
                    | "ListRoles"
                    | "ListPolicies"
                    | "ListGroups"
                    | "GetAccountSummary"
                    | "GetAccountPasswordPolicy"
                    | "ListAccountAliases"
                    | "GetAccountAuthorizationDetails"
                    | "CreateServiceLinkedRole"
            )
            | ("kms", "ListKeys" | "ListAliases" | "CreateKey")
            | ("sts", "GetAccessKeyInfo")
            | ("lambda", "ListFunctions")
            | ("dynamodb", "ListTables")
            | ("sqs", "ListQueues")
            | ("sns", "ListTopics")
            | ("cloudtrail", "DescribeTrails" | "LookupEvents")
            | ("organizations", "DescribeOrganization")
    ) || (service == "ec2" && name.starts_with("Describe"))
}

/// Converts one event.
///
/// # Errors
/// The reason the event yields no check.
pub fn to_checks(v: &Value) -> Result<EventChecks, SkipReason> {
    to_checks_with(v, None)
}

/// Converts one event; with a catalog, whether an action is authorised on
/// `*` alone comes from its resource types (actions the catalog does not know
/// fall back to the built-in list).
///
/// # Errors
/// The reason the event yields no check.
pub fn to_checks_with(v: &Value, catalog: Option<&crate::catalog::Catalog>) -> Result<EventChecks, SkipReason> {
    let event_type = text(v, &["eventType"]).unwrap_or("AwsApiCall");
    if event_type != "AwsApiCall" {
        return Err(SkipReason::NotApiCall(event_type.to_string()));
    }
    let (Some(source), Some(name)) = (text(v, &["eventSource"]), text(v, &["eventName"])) else {
        return Err(SkipReason::UnmappedAction("an event without eventSource or eventName".to_string()));
    };
    let has_version = v.pointer("/requestParameters/versionId").is_some();
    let actions = match map_action(source, name, has_version) {
        Mapped::Actions(a) => a,
        Mapped::NotPolicyControlled => return Err(SkipReason::NotPolicyControlled),
        Mapped::Unmapped => return Err(SkipReason::UnmappedAction(format!("{source} {name}"))),
    };
    let principal = principal_of(v)?;
    let context = context_of(v, &principal);
    // S3 data events put accountId on the bucket entry only; it owns the objects too.
    let resource_account = v
        .get("resources")
        .and_then(Value::as_array)
        .and_then(|l| l.iter().find_map(|r| text(r, &["accountId"])))
        .map(str::to_string);
    let planned: Vec<(String, Option<Vec<String>>)> = actions
        .into_iter()
        .map(|action| {
            let star_only = catalog
                .and_then(|c| c.action(&action).map(|id| c.is_wildcard_only(id)))
                .unwrap_or_else(|| wildcard_only(&action));
            let resources = if star_only { Some(vec!["*".to_string()]) } else { resources_of(v, &action) };
            (action, resources)
        })
        .collect();
    // The last request takes the context; the others get copies.
    let mut copies_left = planned.iter().map(|(_, r)| r.as_ref().map_or(0, Vec::len)).sum::<usize>();
    let mut context = context;
    let mut checks = Vec::new();
    for (action, resources) in planned {
        match resources {
            Some(list) => {
                for resource in list {
                    let mut req = Request::new(principal.clone(), &action, &resource);
                    copies_left -= 1;
                    req.context = if copies_left == 0 { std::mem::take(&mut context) } else { context.clone() };
                    // resources[].accountId names the owner when the ARN does not (S3).
                    let owner = v.get("resources").and_then(Value::as_array).and_then(|l| {
                        l.iter()
                            .find(|r| text(r, &["ARN"]) == Some(resource.as_str()))
                            .and_then(|r| text(r, &["accountId"]))
                    });
                    req.resource_account =
                        owner.map(str::to_string).or_else(|| resource_account.clone().filter(|_| resource != "*"));
                    checks.push(Check { request: Some(req), action: action.clone() });
                }
            }
            None => checks.push(Check { request: None, action }),
        }
    }
    Ok(EventChecks {
        event_id: text(v, &["eventID"]).unwrap_or("").to_string(),
        time: text(v, &["eventTime"]).unwrap_or("").to_string(),
        principal,
        outcome: outcome(v),
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn s3_data_event() {
        let e = json!({"eventVersion":"1.08","eventType":"AwsApiCall","eventSource":"s3.amazonaws.com","eventName":"GetObject",
            "eventTime":"2021-07-28T10:00:00Z","awsRegion":"us-west-1","sourceIPAddress":"203.0.113.9","eventID":"e1",
            "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/app/s1","accountId":"111122223333","accessKeyId":"ASIAX",
                "principalId":"AROAX:s1","sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/team/app"},"attributes":{"mfaAuthenticated":"false","creationDate":"2021-07-28T09:00:00Z"}}},
            "requestParameters":{"bucketName":"b","key":"k"},
            "resources":[{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::b/k"},{"type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::b","accountId":"444455556666"}],
            "errorCode":"AccessDenied"});
        let c = to_checks(&e).unwrap();
        assert_eq!(c.outcome, Outcome::AccessDenied);
        assert_eq!(c.checks.len(), 1);
        let r = c.checks[0].request.as_ref().unwrap();
        assert_eq!(r.resource, "arn:aws:s3:::b/k");
        assert_eq!(r.resource_account(), Some("444455556666"), "owner from resources[].accountId");
        assert_eq!(
            r.principal.principal_arn(),
            Some("arn:aws:iam::111122223333:role/team/app"),
            "role path from the issuer"
        );
        assert_eq!(r.lookup("aws:multifactorauthpresent"), Some(crate::request::Value::Single("false")));
        assert_eq!(r.lookup("aws:sourceip"), Some(crate::request::Value::Single("203.0.113.9")));
        assert_eq!(r.lookup("aws:principaltag/team"), Some(crate::request::Value::Unknown));
    }

    #[test]
    fn iam_calls_are_checked_on_the_entity_not_the_policy() {
        let user = json!({"type":"Root","arn":"arn:aws:iam::111122223333:root","accountId":"111122223333"});
        let attach = json!({"eventSource":"iam.amazonaws.com","eventName":"AttachUserPolicy","recipientAccountId":"111122223333","userIdentity":user,
            "requestParameters":{"userName":"bob","policyArn":"arn:aws:iam::aws:policy/IAMFullAccess"}});
        let r = to_checks(&attach).unwrap().checks.remove(0).request.unwrap();
        assert_eq!(r.resource, "arn:aws:iam::111122223333:user/bob");
        let get = json!({"eventSource":"iam.amazonaws.com","eventName":"GetPolicy","recipientAccountId":"111122223333","userIdentity":user,
            "requestParameters":{"policyArn":"arn:aws:iam::111122223333:policy/P"}});
        assert_eq!(
            to_checks(&get).unwrap().checks[0].request.as_ref().unwrap().resource,
            "arn:aws:iam::111122223333:policy/P"
        );
    }

    #[test]
    fn skips_and_unknown_resources() {
        assert_eq!(
            to_checks(
                &json!({"eventType":"AwsConsoleSignIn","eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin"})
            ),
            Err(SkipReason::NotApiCall("AwsConsoleSignIn".into()))
        );
        assert_eq!(
            to_checks(
                &json!({"eventSource":"sts.amazonaws.com","eventName":"GetCallerIdentity","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a"}})
            ),
            Err(SkipReason::NotPolicyControlled)
        );
        assert_eq!(
            to_checks(
                &json!({"eventSource":"s3.amazonaws.com","eventName":"GetObject","userIdentity":{"type":"AWSAccount","accountId":"1"}})
            ),
            Err(SkipReason::UnmodelledPrincipal("AWSAccount".into()))
        );
        let c = to_checks(&json!({"eventSource":"ec2.amazonaws.com","eventName":"CreateVpc","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accessKeyId":"AKIAX"}})).unwrap();
        assert_eq!(
            c.checks,
            vec![Check { request: None, action: "ec2:CreateVpc".into() }],
            "resource not derivable: indeterminate, not guessed"
        );
        let c = to_checks(&json!({"eventSource":"ec2.amazonaws.com","eventName":"DescribeInstances","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/a","accessKeyId":"AKIAX"}})).unwrap();
        let r = c.checks[0].request.as_ref().unwrap();
        assert_eq!(r.resource, "*");
        assert_eq!(r.lookup("aws:multifactorauthpresent"), None, "long-term keys: MFA key absent");
    }
}
