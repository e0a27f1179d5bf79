//! Session tags from the logs. A role session's principal tags are its
//! session tags over its role's tags (semantics doc §8.6; "Passing session
//! tags in AWS STS", <https://docs.aws.amazon.com/IAM/latest/UserGuide/id_session-tags.html>:
//! a session tag overrides a role tag of the same key, and transitive tags
//! pass on through role chaining). The log does not say them on the
//! session's own events; the `AssumeRole` call that created the session
//! does (`requestParameters.tags`, `transitiveTagKeys`), and names the
//! session's access key (`responseElements.credentials.accessKeyId`). A
//! replay joins the two; a session whose creating call is not in the logs
//! keeps unknown principal tags.
//!
//! Beside `inventory` in the audit application: a replay fills an index
//! from the logs first when some policy tests `aws:PrincipalTag`
//! ([`Replayer::reads_principal_tags`](super::replay::Replayer::reads_principal_tags)),
//! and the replayer reads it.

use crate::audit::cloudtrail::record::{Json, Record};
use std::collections::HashMap;

/// Tags as (key, value) pairs.
type Tags = Vec<(String, String)>;

/// What one `AssumeRole` call said of the session it created.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Created {
    tags: Tags,
    transitive: Vec<String>,
    /// The caller's access key (a session's, for role chaining).
    caller_key: Option<String>,
}

/// Role sessions created in the logs, by access key. Serialisable (serde),
/// so indexes built from parts of the logs on other machines merge into one
/// ([`SessionTags::merge`]).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct SessionTags {
    sessions: HashMap<String, Created>,
}

/// How deep role chaining is followed (AWS limits a chain's session to an
/// hour; no real chain is this long): past it, tags are unknown.
const MAX_CHAIN: usize = 16;

impl SessionTags {
    /// An empty index.
    pub fn new() -> SessionTags {
        SessionTags::default()
    }

    /// Notes what `record` tells: a successful `sts:AssumeRole` names the
    /// session it created and its tags. Returns whether it did. (The tags of
    /// SAML and web-identity sessions come from the identity provider, which
    /// the log does not show: those sessions stay unknown.)
    pub fn note(&mut self, record: &Record<'_>) -> bool {
        let is_assume = record.source.as_deref() == Some("sts.amazonaws.com")
            && record.name.as_deref() == Some("AssumeRole")
            && record.error_code.is_none()
            && !record.error_code_malformed;
        if !is_assume {
            return false;
        }
        let key = record.response.as_ref().and_then(|r| r.get("credentials")).and_then(|c| c.get("accessKeyId"));
        let Some(key) = key.and_then(Json::as_str).filter(|k| !k.is_empty()) else { return false };
        let params = record.parameters.as_ref();
        // A list not read whole (an entry without a string key or value)
        // leaves the session unknown, as `aws:RequestTag` is then.
        let tags = match params.and_then(|p| p.get("tags")) {
            None => Some(Vec::new()),
            Some(list) => list.as_array().and_then(|items| {
                items
                    .iter()
                    .map(|t| Some((t.get("key")?.as_str()?.to_string(), t.get("value")?.as_str()?.to_string())))
                    .collect()
            }),
        };
        let Some(tags) = tags else { return false };
        let transitive = params
            .and_then(|p| p.get("transitiveTagKeys"))
            .and_then(Json::as_array)
            .map(|keys| keys.iter().filter_map(Json::as_str).map(str::to_string).collect())
            .unwrap_or_default();
        let caller_key = record.identity.as_ref().and_then(|i| i.access_key_id.as_deref()).map(str::to_string);
        self.sessions.insert(key.to_string(), Created { tags, transitive, caller_key });
        true
    }

    /// Notes every `AssumeRole` call of one log file's bytes (gzipped or
    /// not), named `name`; problems in the file are the replay's to report.
    pub fn note_bytes(&mut self, name: &str, bytes: &[u8]) {
        use crate::audit::cloudtrail::reader::{read_bytes_with, Item, Members};
        let _ = read_bytes_with(bytes, name, Members::Mapped, &mut |item| {
            if let Item::Event(_, record) = item {
                self.note(&record);
            }
        });
    }

    /// Adds the sessions another index noted (from other log files).
    pub fn merge(&mut self, other: SessionTags) {
        self.sessions.extend(other.sessions);
    }

    /// Sessions noted.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether none was noted.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session tags of the session whose access key is `key`, with
    /// those it inherited as transitive tags through role chaining; `None`
    /// when they cannot be known (its creating call, or a caller session's,
    /// is not in the logs).
    pub fn of(&self, key: &str) -> Option<Tags> {
        self.resolve(key, 0).map(|(tags, _)| tags)
    }

    /// Tags and transitive keys of the session `key`.
    fn resolve(&self, key: &str, depth: usize) -> Option<(Tags, Vec<String>)> {
        let created = self.sessions.get(key)?;
        let (mut tags, mut transitive) = (created.tags.clone(), created.transitive.clone());
        // Called by another session (temporary credentials): its transitive
        // tags pass on, and must be known.
        if let Some(caller) = created.caller_key.as_deref().filter(|k| k.starts_with("ASIA")) {
            if depth >= MAX_CHAIN {
                return None;
            }
            let (caller_tags, caller_transitive) = self.resolve(caller, depth + 1)?;
            for (k, v) in caller_tags {
                let passes = caller_transitive.iter().any(|t| t.eq_ignore_ascii_case(&k));
                if passes && !tags.iter().any(|(own, _)| own.eq_ignore_ascii_case(&k)) {
                    tags.push((k.clone(), v));
                }
                if passes && !transitive.iter().any(|t| t.eq_ignore_ascii_case(&k)) {
                    transitive.push(k);
                }
            }
        }
        Some((tags, transitive))
    }
}

/// The principal tags of a session with `session` tags of a role tagged
/// `role`: session tags override role tags of the same key (any case).
pub fn principal_tags(role: &[(String, String)], session: &[(String, String)]) -> Vec<(String, String)> {
    let mut out: Tags = session.to_vec();
    for (k, v) in role {
        if !session.iter().any(|(s, _)| s.eq_ignore_ascii_case(k)) {
            out.push((k.clone(), v.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn assume(caller_key: &str, new_key: &str, tags: serde_json::Value, transitive: &[&str]) -> serde_json::Value {
        json!({"eventSource": "sts.amazonaws.com", "eventName": "AssumeRole",
            "userIdentity": {"type": "IAMUser", "accessKeyId": caller_key},
            "requestParameters": {"roleArn": "arn:aws:iam::1:role/r", "tags": tags, "transitiveTagKeys": transitive},
            "responseElements": {"credentials": {"accessKeyId": new_key}}})
    }

    /// Tags join on the access key; transitive tags pass down a chain;
    /// a chain whose first session is not in the logs stays unknown.
    #[test]
    fn tags_join_and_chain() {
        let mut index = SessionTags::new();
        let events = [
            assume(
                "AKIAUSER",
                "ASIAONE",
                json!([{"key": "team", "value": "blue"}, {"key": "cost", "value": "7"}]),
                &["team"],
            ),
            assume("ASIAONE", "ASIATWO", json!([]), &[]),
            assume("ASIAGONE", "ASIALOST", json!([]), &[]),
        ];
        for e in &events {
            assert!(index.note(&Record::from_value(e)));
        }
        let pairs = |v: &[(&str, &str)]| v.iter().map(|(k, x)| (k.to_string(), x.to_string())).collect::<Vec<_>>();
        assert_eq!(index.of("ASIAONE"), Some(pairs(&[("team", "blue"), ("cost", "7")])));
        assert_eq!(index.of("ASIATWO"), Some(pairs(&[("team", "blue")])));
        assert_eq!(index.of("ASIALOST"), None);
        assert_eq!(index.of("ASIANEVER"), None);
        let role = pairs(&[("Team", "red"), ("owner", "ops")]);
        assert_eq!(principal_tags(&role, &pairs(&[("team", "blue")])), pairs(&[("team", "blue"), ("owner", "ops")]));
        // A failed call, or an unreadable tag list, notes nothing.
        let mut failed = assume("AKIAUSER", "ASIAX", json!([]), &[]);
        failed["errorCode"] = "AccessDenied".into();
        assert!(!index.note(&Record::from_value(&failed)));
        assert!(!index.note(&Record::from_value(&assume("AKIAUSER", "ASIAY", json!([{"key": 1}]), &[]))));
    }

    /// Indexes of parts of the logs (files read elsewhere, sent as JSON)
    /// merge into the index of the whole: a chain across two files resolves.
    #[test]
    fn parts_merge_into_the_whole() {
        let first = assume("AKIAUSER", "ASIAONE", json!([{"key": "team", "value": "blue"}]), &["team"]);
        let second = assume("ASIAONE", "ASIATWO", json!([]), &[]);
        let file = |events: &[&serde_json::Value]| json!({"Records": events}).to_string().into_bytes();
        let mut whole = SessionTags::new();
        whole.note_bytes("all.json", &file(&[&first, &second]));
        let mut merged = SessionTags::new();
        for (name, events) in [("a.json", [&first]), ("b.json", [&second])] {
            let mut part = SessionTags::new();
            part.note_bytes(name, &file(&events));
            let sent: SessionTags = serde_json::from_str(&serde_json::to_string(&part).unwrap()).unwrap();
            merged.merge(sent);
        }
        assert_eq!(merged.len(), 2);
        assert_eq!(merged.of("ASIATWO"), whole.of("ASIATWO"));
        assert_eq!(merged.of("ASIATWO"), Some(vec![("team".to_string(), "blue".to_string())]));
    }
}
