//! Principal values (`Principal`/`NotPrincipal` entries) parsed once into a
//! typed form, so matching a request never re-parses ARNs (semantics doc §4.1).

use super::arn::Arn;
use super::model::PrincipalType;

/// One `Principal` entry, typed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PrincipalValue {
    /// `"*"` or `{"AWS":"*"}`: everyone, including anonymous callers.
    Any,
    /// A 12-digit account id or `arn:aws:iam::<account>:root`.
    Account(String),
    /// An IAM user ARN.
    User(String),
    /// An IAM role: its account and name (sessions are matched on these; paths are ignored).
    Role {
        /// The role's account.
        account: String,
        /// The role name (last path component).
        name: String,
    },
    /// An assumed-role session ARN, or a federated-user ARN: matched exactly.
    Session(String),
    /// A unique id (`AIDA…`, `AROA…`): what IAM stores for a deleted user or
    /// role. Matched on the caller's `aws:userid` (`aws:userid`).
    UniqueId(String),
    /// A service principal.
    Service(String),
    /// Anything that can never name a request principal: wildcards inside a
    /// value (invalid, §4.1), web-identity/SAML providers, canonical user ids.
    Never(String),
}

/// The context key a unique-id entry is matched on (lower-cased).
pub const USERID_KEY: &str = "aws:userid";

/// Whether `s` is a 12-digit account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

impl PrincipalValue {
    /// Types one entry of a principal map.
    pub fn new(ty: PrincipalType, v: &str) -> PrincipalValue {
        match ty {
            PrincipalType::Service => return PrincipalValue::Service(v.to_ascii_lowercase()),
            PrincipalType::Federated | PrincipalType::CanonicalUser => return PrincipalValue::Never(v.to_string()),
            PrincipalType::Aws => {}
        }
        if v == "*" {
            return PrincipalValue::Any;
        }
        if v.contains(['*', '?']) {
            return PrincipalValue::Never(v.to_string());
        }
        if is_account_id(v) {
            return PrincipalValue::Account(v.to_string());
        }
        if v.starts_with("AIDA") || v.starts_with("AROA") {
            return PrincipalValue::UniqueId(v.to_string());
        }
        let Some(arn) = Arn::parse(v) else { return PrincipalValue::Never(v.to_string()) };
        match (arn.service, arn.resource.split_once('/')) {
            ("iam", None) if arn.resource == "root" && is_account_id(arn.account) => {
                PrincipalValue::Account(arn.account.to_string())
            }
            ("iam", Some(("user", _))) => PrincipalValue::User(v.to_string()),
            ("iam", Some(("role", path))) => PrincipalValue::Role {
                account: arn.account.to_string(),
                name: path.rsplit('/').next().unwrap_or(path).to_string(),
            },
            ("sts", Some(("assumed-role" | "federated-user", _))) => PrincipalValue::Session(v.to_string()),
            _ => PrincipalValue::Never(v.to_string()),
        }
    }
}
