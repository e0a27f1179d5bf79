//! Reading a request from JSON (the `eval` line form): serde visitors fill
//! the [`Request`] and its [`Context`] while the parser walks the text, with
//! no intermediate `serde_json::Value`, or while they walk a `Value` an
//! embedder already holds (the same visitors, so the same rules and
//! messages). Building that value
//! (an ordered map per object, a `String` per key and value) was half of
//! `iamsim eval`'s instructions per line; strings without escapes are now
//! copied once, into the request.
//!
//! Part of `request`. A field or context key given twice is an error (which
//! value was meant cannot be known; see [`Context::insert_once`]); a parsed
//! `Value` has already merged keys repeated exactly.

use super::{Context, ContextEntry, Principal, Request, RequestError, RequestErrorKind};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::fmt;

/// Reads one request from JSON text; see [`Request::from_json_text`].
pub(super) fn request_from_text(text: &str) -> Result<Request, RequestError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let req = de.deserialize_map(RequestVisitor { input_bytes: text.len() }).map_err(message)?;
    de.end().map_err(message)?;
    Ok(req)
}

/// Reads a context object from JSON text; see [`Context::from_json_text`].
pub(super) fn context_from_text(text: &str) -> Result<Context, RequestError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let ctx = ContextSeed { input_bytes: text.len() }.deserialize(&mut de).map_err(message)?;
    de.end().map_err(message)?;
    Ok(ctx)
}

/// Reads one request from a parsed value; see [`Request::from_json`]. The
/// same visitors as for text: a `Value` is a deserializer too.
pub(super) fn request_from_value(value: &serde_json::Value) -> Result<Request, RequestError> {
    value.deserialize_map(RequestVisitor { input_bytes: 0 }).map_err(message)
}

/// Reads a context object from a parsed value; see [`Context::from_json`].
pub(super) fn context_from_value(value: &serde_json::Value) -> Result<Context, RequestError> {
    ContextSeed { input_bytes: 0 }.deserialize(value).map_err(message)
}

/// The error typed by what serde_json found, its text with the line and
/// column (syntax errors said to be so).
fn message(e: serde_json::Error) -> RequestError {
    let (kind, text) = match e.classify() {
        serde_json::error::Category::Syntax => (RequestErrorKind::Syntax, format!("invalid JSON: {e}")),
        serde_json::error::Category::Eof => (RequestErrorKind::Truncated, format!("invalid JSON: {e}")),
        serde_json::error::Category::Data | serde_json::error::Category::Io => (RequestErrorKind::Shape, e.to_string()),
    };
    // A `Value` has no position (serde_json reports line 0).
    let at = (e.line() > 0).then(|| (e.line(), e.column()));
    RequestError::new(kind, text).located(at)
}

/// A JSON value as a request needs it: a string borrowed from the input
/// where it has no escapes; a number or boolean as its JSON text (the text
/// `serde_json::Value` would give, so both readers agree); an array's
/// elements as text or the type found instead; an object only as its type
/// (its contents are parsed past, never built).
enum Json<'de> {
    Text(Cow<'de, str>),
    /// A number or a boolean: its text and the name of its type.
    Scalar(String, &'static str),
    Null,
    Array(Vec<Result<String, &'static str>>),
    Object,
}

impl<'de> Json<'de> {
    /// How an error names the type found.
    fn type_name(&self) -> &'static str {
        match self {
            Json::Text(_) => "a string",
            Json::Scalar(_, kind) => kind,
            Json::Null => "null",
            Json::Array(_) => "an array",
            Json::Object => "an object",
        }
    }

    /// A string, number or boolean as text; else the type found.
    fn into_scalar_text(self) -> Result<Cow<'de, str>, &'static str> {
        match self {
            Json::Text(t) => Ok(t),
            Json::Scalar(t, _) => Ok(Cow::Owned(t)),
            other => Err(other.type_name()),
        }
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::Text(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Json<'de>, E> {
        Ok(Json::Text(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Json<'de>, E> {
        Ok(Json::Text(Cow::Owned(v)))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Json<'de>, E> {
        Ok(Json::Scalar(v.to_string(), "a boolean"))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Json<'de>, E> {
        Ok(Json::Scalar(serde_json::Number::from(v).to_string(), "a number"))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Json<'de>, E> {
        Ok(Json::Scalar(serde_json::Number::from(v).to_string(), "a number"))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Json<'de>, E> {
        // JSON numbers are finite, so `from_f64` (which refuses NaN and
        // infinities) always gives one.
        let text = serde_json::Number::from_f64(v).map_or_else(|| v.to_string(), |n| n.to_string());
        Ok(Json::Scalar(text, "a number"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element::<Json>()? {
            items.push(item.into_scalar_text().map(Cow::into_owned));
        }
        Ok(Json::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Json::Object)
    }
}

impl<'de> de::Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// A context key or field name, borrowed from the input when it has no
/// escapes: serde's borrowing `Cow<str>`.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct Key<'a>(#[serde(borrow)] Cow<'a, str>);

/// Reads a context object into a fresh [`Context`], sized for the input's
/// length (at most one reservation per buffer instead of doubling per key).
struct ContextSeed {
    input_bytes: usize,
}

impl<'de> DeserializeSeed<'de> for ContextSeed {
    type Value = Context;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Context, D::Error> {
        d.deserialize_any(ContextVisitor { input_bytes: self.input_bytes })
    }
}

struct ContextVisitor {
    input_bytes: usize,
}

impl<'de> Visitor<'de> for ContextVisitor {
    type Value = Context;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object of context keys")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Context, A::Error> {
        let mut ctx = Context::new();
        ctx.reserve_for_json(self.input_bytes);
        while let Some(Key(key)) = map.next_key::<Key>()? {
            let wrong = |kind: &str| {
                de::Error::custom(format!("context key `{key}`: expected a string, number or boolean, found {kind}"))
            };
            let inserted = match map.next_value::<Json>()? {
                Json::Null => ctx.insert_once(&key, ContextEntry::Unknown),
                Json::Array(items) => {
                    let values = items.into_iter().collect::<Result<Vec<_>, _>>().map_err(wrong)?;
                    ctx.insert_once(&key, ContextEntry::Multi(&values))
                }
                single => {
                    let text = single.into_scalar_text().map_err(wrong)?;
                    ctx.insert_once(&key, ContextEntry::Single(&text))
                }
            };
            inserted.map_err(de::Error::custom)?;
        }
        Ok(ctx)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<Context, A::Error> {
        Err(de::Error::custom("context must be a JSON object, found an array"))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Context, E> {
        Err(E::custom("context must be a JSON object, found null"))
    }
}

struct RequestVisitor {
    /// The length of the line, to size the context.
    input_bytes: usize,
}

/// Stores a field's string, refusing a second one and other types.
fn take_text<'de, E: de::Error>(slot: &mut Option<Cow<'de, str>>, name: &str, value: Json<'de>) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::custom(format!("`{name}` given twice")));
    }
    match value {
        Json::Text(t) => {
            *slot = Some(t);
            Ok(())
        }
        other => Err(E::custom(format!("`{name}` must be a string, found {}", other.type_name()))),
    }
}

impl<'de> Visitor<'de> for RequestVisitor {
    type Value = Request;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a request object {\"principal\",\"action\",\"resource\",\"resource_account\"?,\"context\"?}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Request, A::Error> {
        let (mut principal, mut action, mut resource, mut account) = (None, None, None, None);
        let mut context: Option<Context> = None;
        while let Some(Key(name)) = map.next_key::<Key>()? {
            match &*name {
                "principal" => take_text(&mut principal, &name, map.next_value()?)?,
                "action" => take_text(&mut action, &name, map.next_value()?)?,
                "resource" => take_text(&mut resource, &name, map.next_value()?)?,
                "resource_account" => take_text(&mut account, &name, map.next_value()?)?,
                "context" if context.is_some() => return Err(de::Error::custom("`context` given twice")),
                "context" => context = Some(map.next_value_seed(ContextSeed { input_bytes: self.input_bytes })?),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown field `{other}` (expected principal, action, resource, resource_account, context)"
                    )))
                }
            }
        }
        let missing = |name: &str| de::Error::custom(format!("missing field `{name}`"));
        let principal = principal.ok_or_else(|| missing("principal"))?;
        let principal = Principal::parse(&principal).map_err(|e| de::Error::custom(format!("principal: {e}")))?;
        let action = action.ok_or_else(|| missing("action"))?;
        if !action.contains(':') {
            return Err(de::Error::custom(format!("action: `{action}` is not of the form service:ActionName")));
        }
        let resource = resource.ok_or_else(|| missing("resource"))?;
        let mut req = Request::new(principal, &action, &resource);
        req.resource_account = account.map(Cow::into_owned);
        if let Some(ctx) = context {
            req.context = ctx;
        }
        Ok(req)
    }
}

impl Context {
    /// Sizes the buffers for a context read from `bytes` of JSON text: each
    /// key is stored twice (as given and lower-cased), so the text needs at
    /// most twice the input; a key and its value take some 40 bytes or more.
    fn reserve_for_json(&mut self, bytes: usize) {
        self.text.reserve(2 * bytes);
        self.prints.reserve(bytes / 40 + 1);
        self.entries.reserve(bytes / 40 + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::request::ContextValue;

    /// The reader over a parsed value, which the text reader must agree with.
    fn via_value(text: &str) -> Result<Request, String> {
        let v: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
        Request::from_json(&v).map_err(|e| e.to_string())
    }

    const HEAD: &str =
        r#""principal": "arn:aws:sts::111122223333:assumed-role/R/s", "action": "ec2:RunInstances", "resource": "*""#;

    #[test]
    fn reads_what_the_value_reader_reads() {
        let contexts = [
            r#"{}"#,
            r#"{"aws:SourceIp": "203.0.113.9", "aws:TagKeys": ["a", "b\"c", "\u00e9"], "aws:MultiFactorAuthPresent": true}"#,
            r#"{"s3:max-keys": 7, "n": -3, "f": 1.5, "e": 1e3, "z": -0, "big": 18446744073709551615, "g": 0.1}"#,
            r#"{"aws:userid": null, "k\u0041": "escaped key", "many": [1, true, "x", 2.50], "none": []}"#,
        ];
        for ctx in contexts {
            let line = format!(r#"{{{HEAD}, "resource_account": "444455556666", "context": {ctx}}}"#);
            let got = Request::from_json_text(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(Ok(&got), via_value(&line).as_ref(), "{line}");
            assert_eq!(got.resource_account.as_deref(), Some("444455556666"));
        }
        let got = Request::from_json_text(&format!("{{{HEAD}, \"context\": {}}}", contexts[2])).unwrap();
        assert_eq!(got.context.get("F").map(|v| v.to_value()), Some(ContextValue::Single("1.5".into())));
        assert_eq!(got.context.get("e").map(|v| v.to_value()), Some(ContextValue::Single("1000.0".into())));
        // Numbers are read exactly (serde_json's `float_roundtrip`): the
        // nearest double, written back in its shortest form.
        let line = format!(r#"{{{HEAD}, "context": {{"p": 0.30000000000000004, "q": -234122.61015521266}}}}"#);
        let got = Request::from_json_text(&line).unwrap();
        assert_eq!(
            got.context.get("p").map(|v| v.to_value()),
            Some(ContextValue::Single("0.30000000000000004".into()))
        );
        assert_eq!(
            got.context.get("q").map(|v| v.to_value()),
            Some(ContextValue::Single("-234122.61015521266".into()))
        );
    }

    #[test]
    fn generated_requests_round_trip() {
        let doc = br#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ec2:*","Resource":"*",
            "Condition":{"StringLike":{"ec2:ResourceTag/x":"y*"},"Bool":{"aws:SecureTransport":"true"},"NumericLessThan":{"s3:max-keys":"5"}}}]}"#;
        let p = crate::engine::policy::parse_policy(doc, "p", crate::engine::policy::PolicyKind::Identity).unwrap();
        let set = crate::engine::policy::PolicySet { identity: vec![p], ..Default::default() };
        for req in crate::audit::workload::Generator::new(&set).generate(300, 5) {
            let line = crate::audit::workload::request_json(&req).to_string();
            let got = Request::from_json_text(&line).unwrap_or_else(|e| panic!("{line}: {e}"));
            assert_eq!(Ok(&got), via_value(&line).as_ref(), "{line}");
            // The line names a role session by its ARN, which has no role path.
            assert_eq!((&got.action, &got.resource, &got.context), (&req.action, &req.resource, &req.context));
        }
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            (r#"{"principal": "anonymous", "action": "s3:GetObject"}"#.to_string(), "missing field `resource`"),
            (r#"{"action": "s3:GetObject", "resource": "*"}"#.to_string(), "missing field `principal`"),
            (format!(r#"{{{HEAD}, "extra": 1}}"#), "unknown field `extra`"),
            (format!(r#"{{{HEAD}, "action": "s3:GetObject"}}"#), "`action` given twice"),
            (format!(r#"{{{HEAD}, "context": {{}}, "context": {{}}}}"#), "`context` given twice"),
            (
                r#"{"principal": "anonymous", "action": 5, "resource": "*"}"#.to_string(),
                "`action` must be a string, found a number",
            ),
            (
                r#"{"principal": ["x"], "action": "s3:X", "resource": "*"}"#.to_string(),
                "`principal` must be a string, found an array",
            ),
            (
                r#"{"principal": "anonymous", "action": "s3:X", "resource": {"a": 1}}"#.to_string(),
                "`resource` must be a string, found an object",
            ),
            (
                r#"{"principal": "anonymous", "action": "s3:X", "resource": null}"#.to_string(),
                "`resource` must be a string, found null",
            ),
            (
                r#"{"principal": "anonymous", "action": "GetObject", "resource": "*"}"#.to_string(),
                "not of the form service:ActionName",
            ),
            (r#"{"principal": "nobody", "action": "s3:X", "resource": "*"}"#.to_string(), "principal: "),
            (
                format!(r#"{{{HEAD}, "context": {{"aws:SourceIp": "a", "AWS:SOURCEIP": "b"}}}}"#),
                "context key `AWS:SOURCEIP` given twice (as `aws:SourceIp`",
            ),
            (format!(r#"{{{HEAD}, "context": {{"k": ["a"], "k": ["b"]}}}}"#), "context key `k` given twice"),
            (
                format!(r#"{{{HEAD}, "context": {{"k": {{"x": 1}}}}}}"#),
                "context key `k`: expected a string, number or boolean, found an object",
            ),
            (
                format!(r#"{{{HEAD}, "context": {{"k": ["a", ["b"]]}}}}"#),
                "context key `k`: expected a string, number or boolean, found an array",
            ),
            (
                format!(r#"{{{HEAD}, "context": {{"k": [null]}}}}"#),
                "context key `k`: expected a string, number or boolean, found null",
            ),
            (format!(r#"{{{HEAD}, "context": []}}"#), "context must be a JSON object, found an array"),
            (format!(r#"{{{HEAD}, "context": null}}"#), "context must be a JSON object, found null"),
            (format!(r#"{{{HEAD}, "context": "x"}}"#), "expected a JSON object of context keys"),
            (format!(r#"{{{HEAD}}} trailing"#), "trailing characters"),
            (r#"["not", "an", "object"]"#.to_string(), "expected a request object"),
            (format!(r#"{{{HEAD}"#), "EOF"),
        ];
        for (line, expected) in cases {
            match Request::from_json_text(&line) {
                Ok(r) => panic!("{line}: accepted as {r:?}"),
                Err(e) => assert!(e.message().contains(expected), "{line}: {e} (expected {expected:?})"),
            }
            // The value reader refuses the same lines, except for a repeat
            // that its parse already merged (last value wins there).
            if !expected.contains("given twice") || expected.contains("AWS:SOURCEIP") {
                assert!(via_value(&line).is_err(), "{line}: the value reader accepts it");
            }
        }
        // Errors carry the position.
        let e = Request::from_json_text(r#"{"principal": "anonymous", "action": 5, "resource": "*"}"#).unwrap_err();
        assert!(e.message().contains("line 1 column"), "{e}");
        assert_eq!((e.kind(), e.line_column().map(|(line, _)| line)), (RequestErrorKind::Shape, Some(1)), "{e}");
        // Each kind as its own.
        let kind = |text: &str| Request::from_json_text(text).map(|_| ()).map_err(|e| e.kind());
        assert_eq!(kind(&format!("{{{HEAD}}} trailing")), Err(RequestErrorKind::Syntax));
        assert_eq!(kind(&format!("{{{HEAD}")), Err(RequestErrorKind::Truncated));
        let bad_principal = Principal::parse("arn:aws:iam::12:user/a").unwrap_err();
        assert_eq!(bad_principal.kind(), RequestErrorKind::Principal, "{bad_principal}");
        let mut ctx = Context::new();
        ctx.insert_once("aws:SourceIp", ContextEntry::Single("a")).unwrap();
        let twice = ctx.insert_once("AWS:SOURCEIP", ContextEntry::Single("b")).unwrap_err();
        assert_eq!(twice.kind(), RequestErrorKind::Shape, "{twice}");
    }

    #[test]
    fn reads_a_context_alone() {
        let ctx = Context::from_json_text(r#"{"aws:TagKeys": ["a"], "aws:SourceIp": null}"#).unwrap();
        assert_eq!(ctx.get("aws:tagkeys").map(|v| v.to_value()), Some(ContextValue::Multi(vec!["a".into()])));
        assert_eq!(ctx.get("AWS:SOURCEIP").map(|v| v.to_value()), Some(ContextValue::Unknown));
        let v: serde_json::Value = serde_json::from_str(r#"{"aws:TagKeys": ["a"], "aws:SourceIp": null}"#).unwrap();
        assert_eq!(Context::from_json(&v), Ok(ctx));
        assert!(Context::from_json_text("[]").is_err());
    }
}
