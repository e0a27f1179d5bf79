//! CloudTrail `eventSource` + `eventName` → the IAM action(s) AWS authorised
//! (semantics doc §8.2). The general rule is `prefix:eventName` with the
//! prefix taken from the event source; the known exceptions are data tables
//! below, never guesses.

/// What an event's API call maps to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mapped {
    /// The IAM actions to check (usually one, stored inline).
    Actions(smallvec::SmallVec<[String; 1]>),
    /// Not authorised by IAM policies (e.g. `sts:GetCallerIdentity`, console sign-in).
    NotPolicyControlled,
    /// No mapping is known for this event source.
    Unmapped,
}

/// Event sources whose IAM prefix differs from the host name.
const PREFIX_EXCEPTIONS: &[(&str, &str)] = &[
    ("monitoring.amazonaws.com", "cloudwatch"),
    ("email.amazonaws.com", "ses"),
    ("tagging.amazonaws.com", "tag"),
    ("streams.dynamodb.amazonaws.com", "dynamodb"),
    ("appstream2.amazonaws.com", "appstream"),
    ("models.lex.amazonaws.com", "lex"),
    ("runtime.lex.amazonaws.com", "lex"),
    ("mturk-requester.amazonaws.com", "mechanicalturk"),
    ("runtime.sagemaker.amazonaws.com", "sagemaker"),
    ("api.sagemaker.amazonaws.com", "sagemaker"),
    ("elasticloadbalancing.amazonaws.com", "elasticloadbalancing"),
    ("s3-control.amazonaws.com", "s3"),
    // "Actions, resources, and condition keys for Amazon CloudWatch Application
    // Insights": service prefix `applicationinsights`
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoncloudwatchapplicationinsights.html).
    ("application-insights.amazonaws.com", "applicationinsights"),
    // AppRegistry's actions are under the Service Catalog prefix ("Actions,
    // resources, and condition keys for AWS Service Catalog": servicecatalog:ListApplications…,
    // https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsservicecatalog.html).
    ("servicecatalog-appregistry.amazonaws.com", "servicecatalog"),
];

/// API Gateway management calls: IAM authorises them as the HTTP method of
/// the REST call (`apigateway:GET`, `POST`, `PUT`, `PATCH`, `DELETE`) on the
/// path it addresses, `arn:aws:apigateway:REGION::PATH` ("Control access for
/// managing API Gateway": https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-control-access-using-iam-policies-to-create-and-manage-api.html;
/// methods and paths from the API Gateway REST API reference,
/// https://docs.aws.amazon.com/apigateway/latest/api/API_Operations.html, and
/// the V2 reference for `/apis`). `{param}` is filled from the event's
/// `requestParameters`. A call not listed is reported unmapped, never
/// checked under a guessed method or path.
const APIGATEWAY_OPERATIONS: &[(&str, &str, &str)] = &[
    ("GetAccount", "GET", "/account"),
    ("UpdateAccount", "PATCH", "/account"),
    ("GetRestApis", "GET", "/restapis"),
    ("CreateRestApi", "POST", "/restapis"),
    ("ImportRestApi", "POST", "/restapis"),
    ("GetRestApi", "GET", "/restapis/{restApiId}"),
    ("UpdateRestApi", "PATCH", "/restapis/{restApiId}"),
    ("PutRestApi", "PUT", "/restapis/{restApiId}"),
    ("DeleteRestApi", "DELETE", "/restapis/{restApiId}"),
    ("GetResources", "GET", "/restapis/{restApiId}/resources"),
    ("GetResource", "GET", "/restapis/{restApiId}/resources/{resourceId}"),
    ("CreateResource", "POST", "/restapis/{restApiId}/resources/{parentId}"),
    ("UpdateResource", "PATCH", "/restapis/{restApiId}/resources/{resourceId}"),
    ("DeleteResource", "DELETE", "/restapis/{restApiId}/resources/{resourceId}"),
    ("GetMethod", "GET", "/restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}"),
    ("PutMethod", "PUT", "/restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}"),
    ("UpdateMethod", "PATCH", "/restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}"),
    ("DeleteMethod", "DELETE", "/restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}"),
    ("GetIntegration", "GET", "/restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}/integration"),
    ("PutIntegration", "PUT", "/restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}/integration"),
    ("DeleteIntegration", "DELETE", "/restapis/{restApiId}/resources/{resourceId}/methods/{httpMethod}/integration"),
    ("GetDeployments", "GET", "/restapis/{restApiId}/deployments"),
    ("CreateDeployment", "POST", "/restapis/{restApiId}/deployments"),
    ("GetDeployment", "GET", "/restapis/{restApiId}/deployments/{deploymentId}"),
    ("DeleteDeployment", "DELETE", "/restapis/{restApiId}/deployments/{deploymentId}"),
    ("GetStages", "GET", "/restapis/{restApiId}/stages"),
    ("CreateStage", "POST", "/restapis/{restApiId}/stages"),
    ("GetStage", "GET", "/restapis/{restApiId}/stages/{stageName}"),
    ("UpdateStage", "PATCH", "/restapis/{restApiId}/stages/{stageName}"),
    ("DeleteStage", "DELETE", "/restapis/{restApiId}/stages/{stageName}"),
    ("GetAuthorizers", "GET", "/restapis/{restApiId}/authorizers"),
    ("GetApiKeys", "GET", "/apikeys"),
    ("CreateApiKey", "POST", "/apikeys"),
    ("GetApiKey", "GET", "/apikeys/{apiKey}"),
    ("DeleteApiKey", "DELETE", "/apikeys/{apiKey}"),
    ("GetUsagePlans", "GET", "/usageplans"),
    ("GetDomainNames", "GET", "/domainnames"),
    ("GetDomainName", "GET", "/domainnames/{domainName}"),
    ("GetApis", "GET", "/apis"),
    ("CreateApi", "POST", "/apis"),
    ("GetApi", "GET", "/apis/{apiId}"),
    ("DeleteApi", "DELETE", "/apis/{apiId}"),
];

/// The HTTP method and path template of an API Gateway call
/// ([`APIGATEWAY_OPERATIONS`]); `None` when it is not listed.
pub(super) fn apigateway_operation(event_name: &str) -> Option<(&'static str, &'static str)> {
    APIGATEWAY_OPERATIONS.iter().find(|(api, _, _)| *api == event_name).map(|(_, method, path)| (*method, *path))
}

/// Calls IAM policies do not govern.
const NOT_POLICY_CONTROLLED: &[(&str, &str)] =
    &[("sts", "GetCallerIdentity"), ("sts", "GetSessionToken"), ("signin", "*")];

/// S3 API names whose permission has another name (S3 permission map page).
const S3_RENAMES: &[(&str, &str)] = &[
    ("ListObjects", "ListBucket"),
    ("ListObjectsV2", "ListBucket"),
    ("HeadBucket", "ListBucket"),
    ("HeadObject", "GetObject"),
    ("ListBuckets", "ListAllMyBuckets"),
    ("ListObjectVersions", "ListBucketVersions"),
    ("ListMultipartUploads", "ListBucketMultipartUploads"),
    ("ListParts", "ListMultipartUploadParts"),
    ("CreateMultipartUpload", "PutObject"),
    ("UploadPart", "PutObject"),
    // Copies write with PutObject; the source read is an implied check (implied.rs).
    ("CopyObject", "PutObject"),
    ("UploadPartCopy", "PutObject"),
    ("CompleteMultipartUpload", "PutObject"),
    ("AbortMultipartUpload", "AbortMultipartUpload"),
    ("DeleteObjects", "DeleteObject"),
    ("GetBucketCors", "GetBucketCORS"),
    ("PutBucketCors", "PutBucketCORS"),
    ("DeleteBucketCors", "PutBucketCORS"),
    ("PutBucketLifecycle", "PutLifecycleConfiguration"),
    ("PutBucketLifecycleConfiguration", "PutLifecycleConfiguration"),
    ("DeleteBucketLifecycle", "PutLifecycleConfiguration"),
    ("GetBucketLifecycle", "GetLifecycleConfiguration"),
    ("GetBucketLifecycleConfiguration", "GetLifecycleConfiguration"),
    ("PutBucketEncryption", "PutEncryptionConfiguration"),
    ("DeleteBucketEncryption", "PutEncryptionConfiguration"),
    ("GetBucketEncryption", "GetEncryptionConfiguration"),
    ("DeleteBucketTagging", "PutBucketTagging"),
    ("PutBucketReplication", "PutReplicationConfiguration"),
    ("GetBucketReplication", "GetReplicationConfiguration"),
    ("DeleteBucketReplication", "PutReplicationConfiguration"),
    ("GetBucketPublicAccessBlock", "GetBucketPublicAccessBlock"),
    ("DeleteBucketPublicAccessBlock", "PutBucketPublicAccessBlock"),
    ("DeleteBucketWebsite", "DeleteBucketWebsite"),
    ("GetBucketNotification", "GetBucketNotification"),
    ("PutBucketNotificationConfiguration", "PutBucketNotification"),
    ("GetBucketNotificationConfiguration", "GetBucketNotification"),
    ("DeleteBucketOwnershipControls", "PutBucketOwnershipControls"),
];

/// The IAM prefix for an event source, `None` when the source is not an AWS service host.
pub fn prefix_of(event_source: &str) -> Option<&str> {
    if let Some((_, p)) = PREFIX_EXCEPTIONS.iter().find(|(s, _)| s.eq_ignore_ascii_case(event_source)) {
        return Some(p);
    }
    let host = event_source.strip_suffix(".amazonaws.com")?;
    // Only the first label names the service (`xyz.amazonaws.com`); deeper hosts need a table entry.
    (!host.is_empty() && !host.contains('.')).then_some(host)
}

/// Maps an event to the IAM actions it was authorised by.
///
/// `has_version_id` says whether an S3 object call carried a `versionId`
/// (then the `…Version` permission applies).
pub fn map_action(event_source: &str, event_name: &str, has_version_id: bool) -> Mapped {
    let Some(prefix) = prefix_of(event_source) else { return Mapped::Unmapped };
    if NOT_POLICY_CONTROLLED.iter().any(|(p, n)| *p == prefix && (*n == "*" || *n == event_name)) {
        return Mapped::NotPolicyControlled;
    }
    let name = match prefix {
        "apigateway" => {
            return match apigateway_operation(event_name) {
                Some((method, _)) => Mapped::Actions(smallvec::smallvec![format!("apigateway:{method}")]),
                None => Mapped::Unmapped,
            }
        }
        "lambda" => std::borrow::Cow::Owned(lambda_name(event_name)),
        "cloudfront" => std::borrow::Cow::Owned(strip_date_suffix(event_name)),
        "s3" => {
            let renamed = S3_RENAMES.iter().find(|(api, _)| *api == event_name).map_or(event_name, |(_, perm)| *perm);
            if has_version_id
                && matches!(
                    renamed,
                    "GetObject"
                        | "DeleteObject"
                        | "GetObjectAcl"
                        | "PutObjectAcl"
                        | "GetObjectTagging"
                        | "PutObjectTagging"
                        | "DeleteObjectTagging"
                )
            {
                return Mapped::Actions(
                    smallvec::smallvec![format!("s3:{renamed}").replace("Object", "ObjectVersion")],
                );
            }
            std::borrow::Cow::Borrowed(renamed)
        }
        _ => std::borrow::Cow::Borrowed(event_name),
    };
    if name.is_empty() {
        return Mapped::Unmapped;
    }
    // Authorised on the source key and on the destination key (§8.2).
    if prefix == "kms" && name == "ReEncrypt" {
        return Mapped::Actions(smallvec::smallvec!["kms:ReEncryptFrom".to_string(), "kms:ReEncryptTo".to_string()]);
    }
    let mut action = String::with_capacity(prefix.len() + 1 + name.len());
    action.push_str(prefix);
    action.push(':');
    action.push_str(&name);
    Mapped::Actions(smallvec::smallvec![action])
}

/// Lambda API names carry API-version suffixes in old logs (`CreateFunction20150331`,
/// `UpdateFunctionConfiguration20150331v2`); the data event `Invoke` is `InvokeFunction`.
fn lambda_name(name: &str) -> String {
    if name == "Invoke" {
        return "InvokeFunction".to_string();
    }
    let base = match name.rfind(|c: char| !(c.is_ascii_digit() || c == 'v')) {
        Some(i) => name.get(..=i).unwrap_or(name),
        None => name,
    };
    let suffix = name.get(base.len()..).unwrap_or("");
    // Strip only a real date suffix: 8 digits, optionally `v` and digits.
    let (digits, rest) = suffix.split_at(suffix.len().min(8));
    if digits.len() == 8
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (rest.is_empty()
            || (rest.starts_with('v') && rest.len() > 1 && rest.bytes().skip(1).all(|b| b.is_ascii_digit())))
    {
        base.to_string()
    } else {
        name.to_string()
    }
}

/// CloudFront names end in `YYYY_MM_DD` (`CreateDistribution2020_05_31`).
fn strip_date_suffix(name: &str) -> String {
    let cut = name.len().saturating_sub(10);
    match (name.get(..cut), name.get(cut..)) {
        (Some(base), Some(tail)) if !base.is_empty() => {
            let shape =
                tail.bytes().enumerate().all(|(i, c)| if i == 4 || i == 7 { c == b'_' } else { c.is_ascii_digit() });
            if shape {
                base.to_string()
            } else {
                name.to_string()
            }
        }
        _ => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(source: &str, name: &str) -> String {
        match map_action(source, name, false) {
            Mapped::Actions(a) => a.join(","),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn known_events() {
        let table = [
            ("s3.amazonaws.com", "GetObject", "s3:GetObject"),
            ("s3.amazonaws.com", "ListObjects", "s3:ListBucket"),
            ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
            ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets"),
            ("s3.amazonaws.com", "CreateMultipartUpload", "s3:PutObject"),
            ("s3.amazonaws.com", "DeleteBucketCors", "s3:PutBucketCORS"),
            ("s3.amazonaws.com", "PutBucketReplication", "s3:PutReplicationConfiguration"),
            ("monitoring.amazonaws.com", "PutMetricData", "cloudwatch:PutMetricData"),
            ("email.amazonaws.com", "SendEmail", "ses:SendEmail"),
            ("lambda.amazonaws.com", "CreateFunction20150331", "lambda:CreateFunction"),
            ("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2", "lambda:UpdateFunctionConfiguration"),
            ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
            ("lambda.amazonaws.com", "ListFunctions20150331", "lambda:ListFunctions"),
            ("cloudfront.amazonaws.com", "CreateDistribution2020_05_31", "cloudfront:CreateDistribution"),
            ("iam.amazonaws.com", "CreateUser", "iam:CreateUser"),
            ("kms.amazonaws.com", "Decrypt", "kms:Decrypt"),
            ("ec2.amazonaws.com", "RunInstances", "ec2:RunInstances"),
            ("application-insights.amazonaws.com", "ListApplications", "applicationinsights:ListApplications"),
            ("servicecatalog-appregistry.amazonaws.com", "ListApplications", "servicecatalog:ListApplications"),
            ("apigateway.amazonaws.com", "GetResource", "apigateway:GET"),
            ("apigateway.amazonaws.com", "CreateDeployment", "apigateway:POST"),
            ("apigateway.amazonaws.com", "UpdateStage", "apigateway:PATCH"),
        ];
        for (source, name, want) in table {
            assert_eq!(one(source, name), want, "{source} {name}");
        }
        assert_eq!(
            map_action("s3.amazonaws.com", "GetObject", true),
            Mapped::Actions(smallvec::smallvec!["s3:GetObjectVersion".into()])
        );
        assert_eq!(map_action("sts.amazonaws.com", "GetCallerIdentity", false), Mapped::NotPolicyControlled);
        assert_eq!(map_action("signin.amazonaws.com", "ConsoleLogin", false), Mapped::NotPolicyControlled);
        assert_eq!(map_action("example.com", "X", false), Mapped::Unmapped);
        // An API Gateway call whose method and path are not listed: not guessed.
        assert_eq!(map_action("apigateway.amazonaws.com", "GetSdk", false), Mapped::Unmapped);
        assert_eq!(map_action("a.b.amazonaws.com", "X", false), Mapped::Unmapped);
    }
}
