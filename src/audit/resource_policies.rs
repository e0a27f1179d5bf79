//! Resource-based policies from what users have: AWS Config configuration
//! items (a snapshot's `{"configurationItems": […]}`,
//! `aws configservice get-resource-config-history` output, or one item),
//! `aws secretsmanager get-resource-policy` output, and a plain `{ARN:
//! policy}` map, each policy with the ARN it guards and, where the input
//! says, its owner account. Beside `inventory` in the audit application;
//! replay takes what it reads (`replay --resource-policies`).
//!
//! The outputs of `aws s3api get-bucket-policy`, `aws kms get-key-policy`,
//! `aws lambda get-policy` (`{"Policy": "<document>"}`) and `aws sqs
//! get-queue-attributes --attribute-names Policy` (`{"Attributes": {"Policy":
//! …}}`) name no ARN: they are read by the policy parser itself, given with
//! their ARN (`replay --resource-policy ARN=FILE`).
//!
//! Where a Config item keeps its resource's policy is one table,
//! [`CONFIG_POLICIES`], each row with where that is documented. A value
//! that says there is no policy (`null`, or for queues and topics no
//! `Policy` attribute) is a fact too: it is read as a policy with no
//! statement, so a replay knows that no resource policy can allow a call.
//! An item that does not record its policy (secrets never do) is listed as
//! not read, with the reason, and its resource's policy stays unknown.

use crate::engine::policy::json::{Json, JsonKind};
use crate::engine::policy::{parse_json, policy_from_json, ParseError, ParseErrorKind, Policy, PolicyKind, Version};

/// One resource's policy.
#[derive(Clone, Debug)]
pub struct GuardedPolicy {
    /// The ARN of the resource it is attached to.
    pub arn: String,
    /// The account that owns the resource, when the input says.
    pub owner: Option<String>,
    /// The policy (no statements: the resource has none).
    pub policy: Policy,
}

/// What one file gave.
#[derive(Clone, Debug, Default)]
pub struct ResourcePolicies {
    /// The policies read.
    pub policies: Vec<GuardedPolicy>,
    /// Items not read, each `path: why`.
    pub not_read: Vec<String>,
}

/// The ARN whose resource-based policy governs `resource`: an S3 object's
/// bucket (a bucket policy covers the objects in the bucket: "Bucket
/// policies for Amazon S3",
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html>),
/// else the resource itself.
///
/// ```
/// use iamsim::audit::resource_policies::governing_arn;
/// assert_eq!(governing_arn("arn:aws:s3:::data/reports/q1.csv"), "arn:aws:s3:::data");
/// assert_eq!(governing_arn("arn:aws:sqs:us-east-1:111122223333:jobs"), "arn:aws:sqs:us-east-1:111122223333:jobs");
/// ```
pub fn governing_arn(resource: &str) -> &str {
    let object_key = crate::engine::policy::Arn::parse(resource)
        .filter(|a| a.service == "s3" && a.region.is_empty() && a.account.is_empty())
        .and_then(|a| a.resource.split_once('/'))
        .map(|(_, key)| key);
    match object_key {
        // The bucket ARN: all but `/<key>`.
        Some(key) => resource.get(..resource.len() - key.len() - 1).unwrap_or(resource),
        None => resource,
    }
}

/// The entry of `by_arn` (resource policies or owners, by the ARN they
/// guard) that governs `resource` ([`governing_arn`]), with its ARN. An
/// empty map is answered without working the ARN out: most replays have
/// no resource policies, and every check asks.
///
/// ```
/// use iamsim::audit::resource_policies::governing;
/// let owners = std::collections::BTreeMap::from([("arn:aws:s3:::data".to_string(), "111122223333")]);
/// assert_eq!(governing(&owners, "arn:aws:s3:::data/q1.csv"), Some(("arn:aws:s3:::data", &"111122223333")));
/// assert_eq!(governing(&owners, "arn:aws:s3:::other"), None);
/// ```
pub fn governing<'m, V>(by_arn: &'m std::collections::BTreeMap<String, V>, resource: &str) -> Option<(&'m str, &'m V)> {
    if by_arn.is_empty() {
        return None;
    }
    by_arn.get_key_value(governing_arn(resource)).map(|(arn, v)| (arn.as_str(), v))
}

/// Reads one file of Config items or an `{ARN: policy}` map.
///
/// # Errors
/// Invalid JSON, a shape that is neither, an item without its ARN, or an
/// invalid policy document: located by JSON path (and line where the policy
/// parser can tell).
///
/// # Example
/// ```
/// use iamsim::audit::resource_policies::read;
/// let config = br#"{"configurationItems": [{"resourceType": "AWS::S3::Bucket",
///   "ARN": "arn:aws:s3:::data", "awsAccountId": "111122223333",
///   "supplementaryConfiguration": {"BucketPolicy": {"policyText":
///     "{\"Version\":\"2012-10-17\",\"Statement\":[{\"Effect\":\"Deny\",\"Principal\":\"*\",\"Action\":\"s3:*\",\"Resource\":\"arn:aws:s3:::data/*\",\"Condition\":{\"Bool\":{\"aws:SecureTransport\":\"false\"}}}]}"}}}]}"#;
/// let read = read(config, "snapshot.json")?;
/// assert_eq!(read.policies[0].arn, "arn:aws:s3:::data");
/// assert_eq!(read.policies[0].owner.as_deref(), Some("111122223333"));
/// assert_eq!(read.policies[0].policy.statements.len(), 1);
/// # Ok::<(), iamsim::engine::policy::ParseError>(())
/// ```
pub fn read(bytes: &[u8], source: &str) -> Result<ResourcePolicies, ParseError> {
    let root = parse_json(bytes, source)?;
    let mut out = ResourcePolicies::default();
    let shape = |message: &str, path: &str, at: &Json| {
        ParseError::at(ParseErrorKind::WrongType, source, path, Some(at.span), message)
    };
    let Some(members) = root.as_object() else {
        return Err(shape(EXPECTED, "", &root));
    };
    if let Some(items) = root.get("configurationItems") {
        let JsonKind::Array(items) = &items.kind else {
            return Err(shape("expected an array of configuration items", "configurationItems", items));
        };
        for (i, item) in items.iter().enumerate() {
            config_item(item, source, &format!("configurationItems[{i}]"), &mut out)?;
        }
    } else if let Some(item) = root.get("configurationItem") {
        config_item(item, source, "configurationItem", &mut out)?;
    } else if root.get("resourceType").is_some() {
        config_item(&root, source, "", &mut out)?;
    } else if let (Some(arn), Some(_)) = (root.get("ARN").and_then(Json::as_str), root.get("Name")) {
        // `aws secretsmanager get-resource-policy`: `ARN`, `Name`, and
        // `ResourcePolicy` when the secret has one (Secrets Manager API
        // reference, GetResourcePolicy,
        // <https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_GetResourcePolicy.html>).
        let name = format!("{source}[{arn}]");
        let policy = match root.get("ResourcePolicy") {
            None | Some(Json { kind: JsonKind::Null, .. }) => no_policy(name),
            Some(p) => policy_from_json(p, &name, PolicyKind::Resource).map_err(|e| located_in(e, "ResourcePolicy"))?,
        };
        out.policies.push(GuardedPolicy { arn: arn.to_string(), owner: account_of(arn), policy });
    } else if !members.is_empty() && members.iter().all(|m| m.key.starts_with("arn:")) {
        for m in members {
            let name = format!("{source}[{}]", m.key);
            let policy = policy_from_json(&m.value, &name, PolicyKind::Resource)?;
            out.policies.push(GuardedPolicy { arn: m.key.clone(), owner: account_of(&m.key), policy });
        }
    } else {
        return Err(shape(EXPECTED, "", &root));
    }
    Ok(out)
}

const EXPECTED: &str = "expected AWS Config configuration items ({\"configurationItems\": […]} or one item), `aws secretsmanager get-resource-policy` output, or an object mapping resource ARNs to policies";

/// Where a configuration item of each resource type keeps its resource's
/// policy: (resource type, the members leading to it, whether an item
/// without the last member records a resource with no policy, where this
/// is documented). A member holding a string is JSON in a string (Config
/// delivers supplementary values, and an oversized item's `configuration`,
/// so) and is read through.
pub const CONFIG_POLICIES: &[(&str, &[&str], bool, &str)] = &[
    (
        "AWS::S3::Bucket",
        &["supplementaryConfiguration", "BucketPolicy", "policyText"],
        false,
        "\"Resource types supported by AWS Config\" and its S3 configuration item example, https://docs.aws.amazon.com/config/latest/developerguide/resource-config-reference.html",
    ),
    (
        "AWS::SQS::Queue",
        &["configuration", "Policy"],
        true,
        "the queue's attributes (GetQueueAttributes, whose Policy is absent without one); AWS's own Config rule reads it there: awslabs/aws-iam-access-analyzer-policy-validation-config-rule, function/sqs_queue.py",
    ),
    (
        "AWS::SNS::Topic",
        &["configuration", "Policy"],
        true,
        "the topic's attributes (GetTopicAttributes); awslabs/aws-iam-access-analyzer-policy-validation-config-rule, function/sns_topic.py",
    ),
    (
        "AWS::KMS::Key",
        &["supplementaryConfiguration", "Policy"],
        false,
        "every key has a key policy; awslabs/aws-iam-access-analyzer-policy-validation-config-rule, function/kms_key.py",
    ),
    (
        "AWS::Lambda::Function",
        &["supplementaryConfiguration", "Policy"],
        false,
        "the function policy that the managed rule lambda-function-public-access-prohibited checks, https://docs.aws.amazon.com/config/latest/developerguide/lambda-function-public-access-prohibited.html",
    ),
];

/// Why items of a type are not read, where the type holds a resource policy
/// that Config does not record.
const NOT_RECORDED: &[(&str, &str)] = &[(
    "AWS::SecretsManager::Secret",
    "Config items of secrets do not hold the secret's resource policy (awslabs/aws-iam-access-analyzer-policy-validation-config-rule, function/secretsmanager_secret.py, queries it); give `aws secretsmanager get-resource-policy` output instead",
)];

/// A policy with no statement: the resource has none.
fn no_policy(name: String) -> Policy {
    Policy { name, kind: PolicyKind::Resource, version: Version::V2012_10_17, id: None, statements: Vec::new() }
}

/// Reads one configuration item at `path`.
fn config_item(item: &Json, source: &str, path: &str, out: &mut ResourcePolicies) -> Result<(), ParseError> {
    let located = |suffix: &str| if path.is_empty() { suffix.to_string() } else { format!("{path}.{suffix}") };
    let text = |key: &str| item.get(key).and_then(Json::as_str).filter(|s| !s.is_empty());
    let kind = text("resourceType").unwrap_or("");
    let Some(&(_, members, absent_is_none, _)) = CONFIG_POLICIES.iter().find(|(t, ..)| *t == kind) else {
        let why = NOT_RECORDED.iter().find(|(t, _)| *t == kind).map_or(
            "Config items of this type hold no resource policy read here; give its policy as --resource-policy ARN=FILE",
            |(_, why)| why,
        );
        let kind = if kind.is_empty() { "an item without resourceType" } else { kind };
        out.not_read.push(format!("{source}: {path}: {kind}: {why}"));
        return Ok(());
    };
    let arn = text("ARN").or_else(|| text("arn")).map(str::to_string).or_else(|| {
        // Older bucket items name the bucket only.
        text("resourceName").filter(|_| kind == "AWS::S3::Bucket").map(|b| format!("arn:aws:s3:::{b}"))
    });
    let Some(arn) = arn else {
        return Err(ParseError::at(
            ParseErrorKind::Missing,
            source,
            &located("ARN"),
            Some(item.span),
            "a configuration item without its ARN (or resourceName)",
        ));
    };
    let owner = text("awsAccountId").or_else(|| text("accountId")).map(str::to_string);
    let name = format!("{source}[{arn}]");
    let policy = match policy_at(item, members, &name, &located, 0)? {
        Found::Policy(policy) => policy,
        Found::Null => no_policy(name),
        Found::Missing(depth) if depth + 1 == members.len() && absent_is_none => no_policy(name),
        Found::Missing(depth) => {
            let walked = members.get(..=depth).unwrap_or(members).join(".");
            out.not_read.push(format!("{source}: {path}: {arn}: the item records no {walked}"));
            return Ok(());
        }
    };
    out.policies.push(GuardedPolicy { arn, owner, policy });
    Ok(())
}

/// What is at the end of a configuration item's members.
enum Found {
    Policy(Policy),
    /// `null`: no policy.
    Null,
    /// The member at this depth is absent.
    Missing(usize),
}

/// Follows `members` from `at` (the `depth`th onwards), reading through JSON
/// held in strings, to the policy at their end.
fn policy_at(
    at: &Json,
    members: &[&str],
    name: &str,
    located: &dyn Fn(&str) -> String,
    depth: usize,
) -> Result<Found, ParseError> {
    let Some(member) = members.get(depth) else { return Ok(Found::Null) };
    let Some(value) = at.get(member) else { return Ok(Found::Missing(depth)) };
    let walked = members.get(..=depth).unwrap_or(members).join(".");
    if depth + 1 == members.len() {
        return match value.kind {
            JsonKind::Null => Ok(Found::Null),
            _ => policy_from_json(value, name, PolicyKind::Resource)
                .map(Found::Policy)
                .map_err(|e| located_in(e, &located(&walked))),
        };
    }
    match &value.kind {
        JsonKind::String(s) => {
            let decoded = parse_json(s.as_bytes(), &format!("{name}: {}", located(&walked)))?;
            policy_at(&decoded, members, name, located, depth + 1)
        }
        _ => policy_at(value, members, name, located, depth + 1),
    }
}

/// `e` with the item's path before its own.
fn located_in(e: ParseError, path: &str) -> ParseError {
    let inner = e.path().to_string();
    let full = if inner.is_empty() { path.to_string() } else { format!("{path} → {inner}") };
    ParseError::at(e.kind(), e.source_name(), &full, e.span(), e.message())
}

/// The account field of an ARN, if it has one (`arn:aws:sqs:us-east-1:1…:q`).
fn account_of(arn: &str) -> Option<String> {
    crate::engine::policy::Arn::parse(arn).map(|a| a.account).filter(|a| !a.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::data/*"}]}"#;

    /// The shapes AWS Config writes (as in AWS's own Config rule's sample
    /// events, awslabs/aws-iam-access-analyzer-policy-validation-config-rule):
    /// a snapshot's items of every type in [`CONFIG_POLICIES`], supplementary
    /// values as objects or as JSON strings, an oversized item's
    /// `configuration` as a string, a bucket without a policy, a queue
    /// without a `Policy` attribute, and items that do not record theirs
    /// listed as not read with the reason.
    #[test]
    fn config_items() {
        let text = serde_json::to_string(POLICY).unwrap();
        let oversized = serde_json::to_string(&format!(
            r#"{{"Policy":{text},"QueueArn":"arn:aws:sqs:us-east-1:111122223333:big"}}"#
        ))
        .unwrap();
        let item = |kind: &str, arn: &str, rest: &str| {
            format!(
                r#"{{"resourceType":"{kind}","ARN":"{arn}","awsAccountId":"111122223333","configurationItemStatus":"OK"{rest}}}"#
            )
        };
        let items = [
            item(
                "AWS::S3::Bucket",
                "arn:aws:s3:::data",
                &format!(r#","supplementaryConfiguration":{{"BucketPolicy":{{"policyText":{text}}}}}"#),
            ),
            item(
                "AWS::S3::Bucket",
                "arn:aws:s3:::open",
                r#","supplementaryConfiguration":{"BucketPolicy":"{\"policyText\":null}"}"#,
            ),
            item(
                "AWS::SQS::Queue",
                "arn:aws:sqs:us-east-1:111122223333:q",
                &format!(r#","configuration":{{"Policy":{text},"DelaySeconds":"0"}}"#),
            ),
            item(
                "AWS::SQS::Queue",
                "arn:aws:sqs:us-east-1:111122223333:big",
                &format!(r#","configuration":{oversized}"#),
            ),
            item(
                "AWS::SNS::Topic",
                "arn:aws:sns:us-east-1:111122223333:t",
                r#","configuration":{"Owner":"111122223333"}"#,
            ),
            item(
                "AWS::KMS::Key",
                "arn:aws:kms:us-east-1:111122223333:key/k1",
                &format!(r#","supplementaryConfiguration":{{"KeyRotationStatus":false,"Policy":{text}}}"#),
            ),
            item(
                "AWS::Lambda::Function",
                "arn:aws:lambda:us-east-1:111122223333:function:f",
                &format!(r#","supplementaryConfiguration":{{"Policy":{text}}}"#),
            ),
            item(
                "AWS::Lambda::Function",
                "arn:aws:lambda:us-east-1:111122223333:function:g",
                r#","supplementaryConfiguration":{}"#,
            ),
            item("AWS::KMS::Key", "arn:aws:kms:us-east-1:111122223333:key/k2", ""),
            item(
                "AWS::SecretsManager::Secret",
                "arn:aws:secretsmanager:us-east-1:111122223333:secret:s",
                r#","configuration":{"Name":"s"}"#,
            ),
            item("AWS::EC2::Instance", "arn:aws:ec2:us-east-1:111122223333:instance/i-1", ""),
        ];
        let snapshot = format!(r#"{{"fileVersion":"1.0","configurationItems":[{}]}}"#, items.join(","));
        let r = read(snapshot.as_bytes(), "snap.json").unwrap();
        let got: Vec<(&str, Option<&str>, usize)> =
            r.policies.iter().map(|p| (p.arn.as_str(), p.owner.as_deref(), p.policy.statements.len())).collect();
        let owner = Some("111122223333");
        assert_eq!(
            got,
            [
                ("arn:aws:s3:::data", owner, 1),
                ("arn:aws:s3:::open", owner, 0),
                ("arn:aws:sqs:us-east-1:111122223333:q", owner, 1),
                ("arn:aws:sqs:us-east-1:111122223333:big", owner, 1),
                ("arn:aws:sns:us-east-1:111122223333:t", owner, 0),
                ("arn:aws:kms:us-east-1:111122223333:key/k1", owner, 1),
                ("arn:aws:lambda:us-east-1:111122223333:function:f", owner, 1),
            ]
        );
        let expected_not_read = [
            "configurationItems[7]: arn:aws:lambda:us-east-1:111122223333:function:g: the item records no supplementaryConfiguration.Policy",
            "configurationItems[8]: arn:aws:kms:us-east-1:111122223333:key/k2: the item records no supplementaryConfiguration",
            "configurationItems[9]: AWS::SecretsManager::Secret: Config items of secrets do not hold",
            "configurationItems[10]: AWS::EC2::Instance: Config items of this type hold no resource policy",
        ];
        assert_eq!(r.not_read.len(), expected_not_read.len(), "{:?}", r.not_read);
        for (got, want) in r.not_read.iter().zip(expected_not_read) {
            assert!(got.contains(want), "{got} lacks {want}");
        }
        // One item, as get-resource-config-history's elements are (lower-case `arn`, `accountId`).
        let item = format!(
            r#"{{"resourceType":"AWS::S3::Bucket","arn":"arn:aws:s3:::data","accountId":"111122223333",
                "supplementaryConfiguration":{{"BucketPolicy":{{"policyText":{text}}}}}}}"#
        );
        assert_eq!(read(item.as_bytes(), "item.json").unwrap().policies[0].arn, "arn:aws:s3:::data");
    }

    /// `aws secretsmanager get-resource-policy` output, with and without a policy.
    #[test]
    fn secrets_manager_output() {
        let arn = "arn:aws:secretsmanager:us-east-1:111122223333:secret:db-AbCdEf";
        let with =
            format!(r#"{{"ARN":"{arn}","Name":"db","ResourcePolicy":{}}}"#, serde_json::to_string(POLICY).unwrap());
        let r = read(with.as_bytes(), "secret.json").unwrap();
        assert_eq!((r.policies[0].arn.as_str(), r.policies[0].owner.as_deref()), (arn, Some("111122223333")));
        assert_eq!(r.policies[0].policy.statements.len(), 1);
        let without = format!(r#"{{"ARN":"{arn}","Name":"db"}}"#);
        assert!(read(without.as_bytes(), "secret.json").unwrap().policies[0].policy.statements.is_empty());
    }

    /// A map of ARN to policy (object or string); the owner is the ARN's account.
    #[test]
    fn arn_maps() {
        let map = format!(
            r#"{{"arn:aws:sqs:us-east-1:111122223333:q": {POLICY}, "arn:aws:s3:::data": {}}}"#,
            serde_json::to_string(POLICY).unwrap()
        );
        let r = read(map.as_bytes(), "map.json").unwrap();
        let got: Vec<(&str, Option<&str>)> = r.policies.iter().map(|p| (p.arn.as_str(), p.owner.as_deref())).collect();
        assert_eq!(got, [("arn:aws:sqs:us-east-1:111122223333:q", Some("111122223333")), ("arn:aws:s3:::data", None)]);
    }

    /// Bad input: located errors, never a panic.
    #[test]
    fn errors_are_located() {
        let cases: [(&str, &str, &str); 4] = [
            ("[1]", "", "expected AWS Config"),
            (r#"{"configurationItems": 3}"#, "configurationItems", "array"),
            (
                r#"{"configurationItems": [{"resourceType": "AWS::S3::Bucket"}]}"#,
                "configurationItems[0].ARN",
                "without its ARN",
            ),
            (
                r#"{"configurationItems": [{"resourceType": "AWS::S3::Bucket", "ARN": "arn:aws:s3:::b",
                   "supplementaryConfiguration": {"BucketPolicy": {"policyText": "{\"Statement\": 1}"}}}]}"#,
                "configurationItems[0].supplementaryConfiguration.BucketPolicy.policyText",
                "",
            ),
        ];
        for (text, path, message) in cases {
            let e = read(text.as_bytes(), "f.json").unwrap_err();
            assert!(e.path().starts_with(path), "{text}: {} at {}", e, e.path());
            assert!(e.to_string().contains(message), "{text}: {e}");
            assert!(e.to_string().contains("f.json"), "{e}");
        }
    }
}
