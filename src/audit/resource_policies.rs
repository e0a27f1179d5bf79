//! Resource-based policies from what users have: AWS Config configuration
//! items (a snapshot's `{"configurationItems": […]}`,
//! `aws configservice get-resource-config-history` output, or one item) and
//! a plain `{ARN: policy}` map, each policy with the ARN it guards and, where
//! the input says, its owner account. Beside `inventory` in the audit
//! application; replay takes what it reads (`replay --resource-policies`).
//!
//! The outputs of `aws s3api get-bucket-policy`, `aws kms get-key-policy`,
//! `aws lambda get-policy` (`{"Policy": "<document>"}`) and `aws sqs
//! get-queue-attributes --attribute-names Policy` (`{"Attributes": {"Policy":
//! …}}`) name no ARN: they are read by the policy parser itself, given with
//! their ARN (`replay --resource-policy ARN=FILE`).
//!
//! From Config, bucket policies are read: an `AWS::S3::Bucket` item's
//! `supplementaryConfiguration.BucketPolicy.policyText` ("Resource types
//! supported by AWS Config" and the S3 configuration item example,
//! <https://docs.aws.amazon.com/config/latest/developerguide/resource-config-reference.html>).
//! A bucket whose `policyText` is null has no bucket policy, which is a fact
//! too: it is read as a policy with no statement, so a replay knows that no
//! bucket policy can allow a call. Items of other types (queues, topics,
//! keys, functions, secrets) are listed as not read, with the reason: where
//! their items keep a resource policy is not yet confirmed here, and their
//! CLI outputs above carry it.

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

const EXPECTED: &str = "expected AWS Config configuration items ({\"configurationItems\": […]} or one item) or an object mapping resource ARNs to policies";

/// Reads one configuration item at `path`.
fn config_item(item: &Json, source: &str, path: &str, out: &mut ResourcePolicies) -> Result<(), ParseError> {
    let located = |suffix: &str| if path.is_empty() { suffix.to_string() } else { format!("{path}.{suffix}") };
    let text = |key: &str| item.get(key).and_then(Json::as_str).filter(|s| !s.is_empty());
    let kind = text("resourceType").unwrap_or("");
    if kind != "AWS::S3::Bucket" {
        out.not_read.push(format!(
            "{source}: {path}: {}: only AWS::S3::Bucket items' bucket policies are read from Config; give others as --resource-policy ARN=FILE",
            if kind.is_empty() { "an item without resourceType" } else { kind }
        ));
        return Ok(());
    }
    let arn = text("ARN").or_else(|| text("arn")).map(str::to_string).or_else(|| {
        // Older items name the bucket only.
        text("resourceName").map(|b| format!("arn:aws:s3:::{b}"))
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
    let supplementary = item.get("supplementaryConfiguration");
    let Some(bucket_policy) = supplementary.and_then(|s| s.get("BucketPolicy")) else {
        out.not_read.push(format!("{source}: {path}: {arn}: the item records no BucketPolicy"));
        return Ok(());
    };
    let policy_path = located("supplementaryConfiguration.BucketPolicy.policyText");
    // Config delivers some supplementary values as JSON held in a string.
    let decoded;
    let bucket_policy = match &bucket_policy.kind {
        JsonKind::String(s) => {
            decoded = parse_json(s.as_bytes(), &format!("{source}: {policy_path}"))?;
            &decoded
        }
        _ => bucket_policy,
    };
    let name = format!("{source}[{arn}]");
    let policy = match bucket_policy.get("policyText") {
        None => {
            out.not_read.push(format!("{source}: {path}: {arn}: BucketPolicy without policyText"));
            return Ok(());
        }
        // The bucket has no bucket policy: none can allow anything.
        Some(Json { kind: JsonKind::Null, .. }) => {
            Policy { name, kind: PolicyKind::Resource, version: Version::V2012_10_17, id: None, statements: Vec::new() }
        }
        Some(text) => policy_from_json(text, &name, PolicyKind::Resource).map_err(|e| located_in(e, &policy_path))?,
    };
    out.policies.push(GuardedPolicy { arn, owner, policy });
    Ok(())
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

    /// The shapes AWS Config writes: a snapshot's items (supplementary values
    /// as objects or as JSON strings), one item, a bucket without a policy,
    /// and items of other types listed as not read.
    #[test]
    fn config_items() {
        let policy_text = serde_json::to_string(POLICY).unwrap();
        let snapshot = format!(
            r#"{{"fileVersion":"1.0","configurationItems":[
              {{"resourceType":"AWS::S3::Bucket","ARN":"arn:aws:s3:::data","awsAccountId":"111122223333",
                "supplementaryConfiguration":{{"BucketPolicy":{{"policyText":{policy_text}}}}}}},
              {{"resourceType":"AWS::S3::Bucket","ARN":"arn:aws:s3:::open","awsAccountId":"111122223333",
                "supplementaryConfiguration":{{"BucketPolicy":"{{\"policyText\":null}}"}}}},
              {{"resourceType":"AWS::SQS::Queue","ARN":"arn:aws:sqs:us-east-1:111122223333:q"}}]}}"#
        );
        let r = read(snapshot.as_bytes(), "snap.json").unwrap();
        let got: Vec<(&str, Option<&str>, usize)> =
            r.policies.iter().map(|p| (p.arn.as_str(), p.owner.as_deref(), p.policy.statements.len())).collect();
        assert_eq!(
            got,
            [("arn:aws:s3:::data", Some("111122223333"), 1), ("arn:aws:s3:::open", Some("111122223333"), 0)]
        );
        assert_eq!(r.not_read.len(), 1);
        assert!(r.not_read[0].contains("configurationItems[2]: AWS::SQS::Queue"), "{:?}", r.not_read);
        // One item, as get-resource-config-history's elements are (lower-case `arn`, `accountId`).
        let item = format!(
            r#"{{"resourceType":"AWS::S3::Bucket","arn":"arn:aws:s3:::data","accountId":"111122223333",
                "supplementaryConfiguration":{{"BucketPolicy":{{"policyText":{policy_text}}}}}}}"#
        );
        assert_eq!(read(item.as_bytes(), "item.json").unwrap().policies[0].arn, "arn:aws:s3:::data");
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
