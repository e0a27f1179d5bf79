//! AWS's documented size limits for policy documents. A document past its
//! limit is still accepted (AWS-managed policies themselves exceed the
//! customer-managed limit); callers show the warning.
//!
//! Sizes follow AWS's counting: IAM policies exclude whitespace outside
//! strings; Organizations policies (SCP, RCP) count every character.
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html>,
//! <https://docs.aws.amazon.com/organizations/latest/userguide/orgs_reference_limits.html>

use super::PolicyKind;

/// The limit that applies to a kind of policy, in characters, and its name.
pub fn aws_limit(kind: PolicyKind) -> (usize, &'static str) {
    match kind {
        PolicyKind::Identity | PolicyKind::PermissionsBoundary => (6_144, "a customer managed policy"),
        PolicyKind::Session => (2_048, "an inline session policy"),
        PolicyKind::Resource => (20_480, "an S3 bucket policy (the largest common resource policy)"),
        PolicyKind::Scp => (5_120, "a service control policy"),
        PolicyKind::Rcp => (5_120, "a resource control policy"),
    }
}

/// The size AWS would count for `text`: characters, without whitespace
/// outside strings for IAM policies, all of them for SCPs and RCPs.
pub fn aws_size(text: &str, kind: PolicyKind) -> usize {
    if matches!(kind, PolicyKind::Scp | PolicyKind::Rcp) {
        return text.chars().count();
    }
    let (mut size, mut in_string, mut escaped) = (0usize, false, false);
    for c in text.chars() {
        if in_string {
            size += 1;
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !c.is_whitespace() {
            size += 1;
            in_string = c == '"';
        }
    }
    size
}

/// A warning when `text` is over AWS's limit for `kind`.
pub fn size_warning(text: &str, kind: PolicyKind) -> Option<String> {
    let (limit, what) = aws_limit(kind);
    let size = aws_size(text, kind);
    (size > limit).then(|| {
        format!("{size} characters is over AWS's {limit}-character limit for {what}; accepted, but AWS would reject it")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_counts_only_inside_strings_for_iam_policies() {
        let text = "{ \"Sid\" : \"a b\" }";
        assert_eq!(aws_size(text, PolicyKind::Identity), "{\"Sid\":\"a b\"}".len());
        assert_eq!(aws_size(text, PolicyKind::Scp), text.len());
        assert_eq!(aws_size(r#"{"a":"x\" y"}"#, PolicyKind::Identity), 13);
    }

    #[test]
    fn warnings_only_past_the_limit() {
        let small = r#"{"Version":"2012-10-17","Statement":[]}"#;
        assert_eq!(size_warning(small, PolicyKind::Identity), None);
        let big = format!(r#"{{"Sid":"{}"}}"#, "x".repeat(6_200));
        assert!(size_warning(&big, PolicyKind::Identity).is_some_and(|w| w.contains("6144-character limit")));
        assert_eq!(size_warning(&big, PolicyKind::Resource), None);
    }
}
