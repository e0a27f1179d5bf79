//! A CloudTrail record as the event mapping reads it: the members it maps
//! (and nothing else) in a typed struct whose strings borrow from the input
//! where they can. [`super::reader`] deserializes records straight into it,
//! parsing past every other member without building it; a
//! `serde_json::Value` converts with [`Record::from_value`].
//!
//! Why not a `Value` per record: with serde_json's `preserve_order` (which
//! policy round-trips need) every object is a SipHash map and every string
//! an allocation; building them was most of a replay's reading time.
//!
//! Lenient as the mapping is: a member of the wrong type reads as absent
//! (the mapping then says what is missing), never as an error, so a record
//! maps the same however it was read. A member given twice keeps the last
//! value, as a `Value` does.
//!
//! Sits between [`super::reader`] (which builds records) and
//! [`super::event`] (which maps them).

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::fmt;

/// Text borrowed from the input, or owned where the input escaped it.
pub type Text<'a> = Cow<'a, str>;

/// The members of a CloudTrail record that the event mapping reads ("CloudTrail
/// record contents", <https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-record-contents.html>).
/// String members hold non-empty strings only: an empty string, `null` or
/// another type reads as absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record<'a> {
    /// `eventType`.
    pub event_type: Option<Text<'a>>,
    /// `eventSource`.
    pub source: Option<Text<'a>>,
    /// `eventName`.
    pub name: Option<Text<'a>>,
    /// `eventTime`.
    pub time: Option<Text<'a>>,
    /// `awsRegion`.
    pub region: Option<Text<'a>>,
    /// `vpcEndpointId`.
    pub vpc_endpoint: Option<Text<'a>>,
    /// `sourceIPAddress`.
    pub source_ip: Option<Text<'a>>,
    /// `userAgent`.
    pub user_agent: Option<Text<'a>>,
    /// `recipientAccountId`.
    pub recipient_account: Option<Text<'a>>,
    /// `eventID`.
    pub event_id: Option<Text<'a>>,
    /// `errorCode`.
    pub error_code: Option<Text<'a>>,
    /// `errorCode` is present but neither a non-empty string nor `null`:
    /// whether the call succeeded cannot be told.
    pub error_code_malformed: bool,
    /// `tlsDetails` is an object (the call came over TLS).
    pub tls: bool,
    /// `sessionCredentialFromConsole` is `"true"`: a console session's
    /// credentials signed the call.
    pub from_console: bool,
    /// `userIdentity`, when it is an object.
    pub identity: Option<Identity<'a>>,
    /// `requestParameters`.
    pub parameters: Option<Json<'a>>,
    /// `responseElements`: the ids of what a call created.
    pub response: Option<Json<'a>>,
    /// `resources[]`.
    pub resources: SmallVec<[ResourceEntry<'a>; 2]>,
}

/// One `resources[]` entry (an entry that is not an object reads as empty).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ResourceEntry<'a> {
    /// `type` (empty when absent).
    pub kind: Text<'a>,
    /// `ARN`.
    pub arn: Option<Text<'a>>,
    /// `accountId`.
    pub account: Option<Text<'a>>,
}

/// `userIdentity`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Identity<'a> {
    /// `type`.
    pub kind: Option<Text<'a>>,
    /// `arn`.
    pub arn: Option<Text<'a>>,
    /// `principalId`.
    pub principal_id: Option<Text<'a>>,
    /// `accountId`.
    pub account_id: Option<Text<'a>>,
    /// `accessKeyId`.
    pub access_key_id: Option<Text<'a>>,
    /// `invokedBy`.
    pub invoked_by: Option<Text<'a>>,
    /// `sessionContext`, when it is an object.
    pub session: Option<Session<'a>>,
}

impl<'a> Identity<'a> {
    /// `sessionContext.sessionIssuer.arn`.
    pub fn issuer_arn(&self) -> Option<&str> {
        self.session.as_ref()?.issuer_arn.as_deref()
    }

    /// `sessionContext.sourceIdentity`.
    pub fn source_identity(&self) -> Option<&str> {
        self.session.as_ref()?.source_identity.as_deref()
    }

    /// Whether `sessionContext.attributes` is present (an object).
    pub fn has_attributes(&self) -> bool {
        self.attributes().is_some()
    }

    /// `sessionContext.attributes.mfaAuthenticated`.
    pub fn mfa_authenticated(&self) -> Option<&str> {
        self.attributes()?.mfa_authenticated.as_deref()
    }

    /// `sessionContext.attributes.creationDate`.
    pub fn creation_date(&self) -> Option<&str> {
        self.attributes()?.creation_date.as_deref()
    }

    fn attributes(&self) -> Option<&Attributes<'a>> {
        self.session.as_ref()?.attributes.as_ref()
    }
}

/// `userIdentity.sessionContext`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Session<'a> {
    /// `sessionIssuer.arn`.
    pub issuer_arn: Option<Text<'a>>,
    /// `sourceIdentity`.
    pub source_identity: Option<Text<'a>>,
    /// `attributes`, when it is an object.
    pub attributes: Option<Attributes<'a>>,
}

/// `userIdentity.sessionContext.attributes`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attributes<'a> {
    /// `mfaAuthenticated`.
    pub mfa_authenticated: Option<Text<'a>>,
    /// `creationDate`.
    pub creation_date: Option<Text<'a>>,
}

impl<'a> Record<'a> {
    /// The record a JSON value holds, its strings borrowed from it; a value
    /// that is not an object holds an empty record.
    pub fn from_value(v: &'a serde_json::Value) -> Record<'a> {
        Read::<Record<'a>>::new().deserialize(v).ok().and_then(Result::ok).unwrap_or_default()
    }

    /// Whether the record has any of a CloudTrail event's members
    /// (`eventSource`, `eventName`, `eventTime`, `eventID`, `userIdentity`):
    /// a JSON object without them is some other file's.
    pub fn is_event(&self) -> bool {
        self.source.is_some()
            || self.name.is_some()
            || self.time.is_some()
            || self.event_id.is_some()
            || self.identity.is_some()
    }

    /// `eventID`, empty when absent.
    pub fn event_id(&self) -> &str {
        self.event_id.as_deref().unwrap_or("")
    }

    /// The caller's `userIdentity.arn`.
    pub fn caller_arn(&self) -> Option<&str> {
        self.identity.as_ref()?.arn.as_deref()
    }
}

/// A JSON value (`requestParameters`, `responseElements`), its strings
/// borrowed from the input where they can be.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    #[default]
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Number(serde_json::Number),
    /// A string.
    String(Text<'a>),
    /// An array.
    Array(Vec<Json<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// A JSON object's members in their order, each name once (a name given
/// twice keeps its first place and its last value, as a `Value` does).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Object<'a>(Vec<(Text<'a>, Json<'a>)>);

impl<'a> Json<'a> {
    /// The value `v` holds, its strings borrowed from it.
    pub fn from_value(v: &'a serde_json::Value) -> Json<'a> {
        Read::<Json<'a>>::new().deserialize(v).unwrap_or_default()
    }

    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object()?.get(key)
    }

    /// The string this is.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The elements of the array this is.
    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The object this is.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }
}

impl<'a> Object<'a> {
    /// The member `key`.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The members' values, in order.
    pub fn values(&self) -> impl Iterator<Item = &Json<'a>> {
        self.0.iter().map(|(_, v)| v)
    }

    /// The members, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// Whether the object has no member.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Builds an object from members read in order: a name given again
    /// replaces the earlier value in its place. Linear for the small
    /// objects events hold; a sort past [`Object::SCAN`] members keeps a
    /// hostile object of many names from costing their square.
    fn from_members(mut members: Vec<(Text<'a>, Json<'a>)>) -> Object<'a> {
        let n = members.len();
        let repeated = if n <= Self::SCAN {
            (1..n).any(|i| members[..i].iter().any(|(k, _)| *k == members[i].0))
        } else {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| members[a].0.cmp(&members[b].0));
            order.windows(2).any(|w| members[w[0]].0 == members[w[1]].0)
        };
        if !repeated {
            return Object(members);
        }
        // Rare: the last value of each name, at the name's first place.
        let mut last: std::collections::HashMap<Text<'a>, usize> = std::collections::HashMap::new();
        for (i, (k, _)) in members.iter().enumerate() {
            last.insert(k.clone(), i);
        }
        let mut values: Vec<Json<'a>> = members.iter_mut().map(|(_, v)| std::mem::take(v)).collect();
        let mut out = Vec::with_capacity(last.len());
        for (k, _) in members {
            // The name's first place takes its last value; later places are skipped.
            if let Some(j) = last.remove(&k) {
                out.push((k, std::mem::take(&mut values[j])));
            }
        }
        Object(out)
    }

    /// Objects up to this many members are checked for a repeated name by
    /// comparing pairs.
    const SCAN: usize = 16;
}

impl<'de> serde::Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json<'de>, D::Error> {
        Read::<Json<'de>>::new().deserialize(d)
    }
}

/// What a value reads into, by the JSON type found: one visitor
/// ([`Read`]) serves every member's shape. By default a type the shape does
/// not read is parsed past and gives [`Shape::otherwise`].
trait Shape<'de>: Sized {
    /// What reading gives.
    type Out;
    /// Whether strings are read (else an escaped one is not copied).
    const STRINGS: bool = false;
    /// A value of a type the shape does not read, found as `found` (`"a number"`…).
    fn otherwise(found: &'static str) -> Self::Out;
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self::Out, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::otherwise("an object"))
    }
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self::Out, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::otherwise("an array"))
    }
    fn string(_: Text<'de>) -> Self::Out {
        Self::otherwise("a string")
    }
    fn null() -> Self::Out {
        Self::otherwise("null")
    }
    fn bool(_: bool) -> Self::Out {
        Self::otherwise("a boolean")
    }
    fn number(_: serde_json::Number) -> Self::Out {
        Self::otherwise("a number")
    }
}

/// Reads a value of any type as the shape `S` says.
struct Read<S>(std::marker::PhantomData<S>);

impl<S> Read<S> {
    fn new() -> Read<S> {
        Read(std::marker::PhantomData)
    }
}

impl<'de, S: Shape<'de>> DeserializeSeed<'de> for Read<S> {
    type Value = S::Out;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<S::Out, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, S: Shape<'de>> Visitor<'de> for Read<S> {
    type Value = S::Out;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Out, A::Error> {
        S::object(map)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<S::Out, A::Error> {
        S::array(seq)
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<S::Out, E> {
        Ok(S::string(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<S::Out, E> {
        Ok(if S::STRINGS { S::string(Cow::Owned(v.to_owned())) } else { S::otherwise("a string") })
    }
    fn visit_string<E>(self, v: String) -> Result<S::Out, E> {
        Ok(S::string(Cow::Owned(v)))
    }
    fn visit_unit<E>(self) -> Result<S::Out, E> {
        Ok(S::null())
    }
    fn visit_none<E>(self) -> Result<S::Out, E> {
        Ok(S::null())
    }
    fn visit_bool<E>(self, v: bool) -> Result<S::Out, E> {
        Ok(S::bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<S::Out, E> {
        Ok(S::number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<S::Out, E> {
        Ok(S::number(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<S::Out, E> {
        // Not finite: not from JSON text; read as null, as serde_json does.
        Ok(serde_json::Number::from_f64(v).map_or_else(S::null, S::number))
    }
}

impl<'de> Shape<'de> for Json<'de> {
    type Out = Json<'de>;
    const STRINGS: bool = true;
    fn otherwise(_: &'static str) -> Json<'de> {
        Json::Null
    }
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(key) = map.next_key_seed(Read::<Key>::new())? {
            members.push((key, map.next_value_seed(Read::<Json<'de>>::new())?));
        }
        Ok(Json::Object(Object::from_members(members)))
    }
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(item) = seq.next_element_seed(Read::<Json<'de>>::new())? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }
    fn string(s: Text<'de>) -> Json<'de> {
        Json::String(s)
    }
    fn bool(b: bool) -> Json<'de> {
        Json::Bool(b)
    }
    fn number(n: serde_json::Number) -> Json<'de> {
        Json::Number(n)
    }
}

/// A member name.
struct Key;

impl<'de> Shape<'de> for Key {
    type Out = Text<'de>;
    const STRINGS: bool = true;
    fn otherwise(_: &'static str) -> Text<'de> {
        Cow::Borrowed("")
    }
    fn string(s: Text<'de>) -> Text<'de> {
        s
    }
}

/// A string member: non-empty, else absent.
struct NonEmpty;

impl<'de> Shape<'de> for NonEmpty {
    type Out = Option<Text<'de>>;
    const STRINGS: bool = true;
    fn otherwise(_: &'static str) -> Option<Text<'de>> {
        None
    }
    fn string(s: Text<'de>) -> Option<Text<'de>> {
        (!s.is_empty()).then_some(s)
    }
}

/// `errorCode`: the non-empty string, and whether the value was `null`.
struct ErrorCode;

impl<'de> Shape<'de> for ErrorCode {
    type Out = (Option<Text<'de>>, bool);
    const STRINGS: bool = true;
    fn otherwise(_: &'static str) -> Self::Out {
        (None, false)
    }
    fn string(s: Text<'de>) -> Self::Out {
        ((!s.is_empty()).then_some(s), false)
    }
    fn null() -> Self::Out {
        (None, true)
    }
}

/// Reads the members of an object one at a time: `"name" => what to do`
/// for each member read; every other member is parsed past.
macro_rules! members {
    ($map:ident, { $($name:literal => $read:expr),* $(,)? }) => {
        while let Some(key) = $map.next_key_seed(Read::<Key>::new())? {
            match &*key {
                $($name => $read,)*
                _ => drop($map.next_value::<IgnoredAny>()?),
            }
        }
    };
}

/// The next member's value, read as the shape `$shape`.
macro_rules! value {
    ($map:ident, $shape:ty) => {
        $map.next_value_seed(Read::<$shape>::new())?
    };
}

/// A record: `Err(found)` when the value is not an object.
impl<'de> Shape<'de> for Record<'de> {
    type Out = Result<Record<'de>, &'static str>;
    fn otherwise(found: &'static str) -> Self::Out {
        Err(found)
    }
    /// A record that is an array is read as values, not skipped: so it is
    /// refused exactly as a whole-record read ([`Members::All`](super::reader::Members::All))
    /// refuses it (nested past serde_json's depth limit, where skipping has
    /// none), and otherwise found not to be an object either way.
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self::Out, A::Error> {
        while seq.next_element::<serde_json::Value>()?.is_some() {}
        Ok(Self::otherwise("an array"))
    }
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<Self::Out, A::Error> {
        let mut r = Record::default();
        members!(map, {
            "eventType" => r.event_type = value!(map, NonEmpty),
            "eventSource" => r.source = value!(map, NonEmpty),
            "eventName" => r.name = value!(map, NonEmpty),
            "eventTime" => r.time = value!(map, NonEmpty),
            "awsRegion" => r.region = value!(map, NonEmpty),
            "vpcEndpointId" => r.vpc_endpoint = value!(map, NonEmpty),
            "sourceIPAddress" => r.source_ip = value!(map, NonEmpty),
            "userAgent" => r.user_agent = value!(map, NonEmpty),
            "recipientAccountId" => r.recipient_account = value!(map, NonEmpty),
            "eventID" => r.event_id = value!(map, NonEmpty),
            "errorCode" => {
                let (text, null) = value!(map, ErrorCode);
                r.error_code_malformed = text.is_none() && !null;
                r.error_code = text;
            },
            "tlsDetails" => r.tls = value!(map, Present),
            "sessionCredentialFromConsole" => r.from_console = value!(map, NonEmpty).as_deref() == Some("true"),
            "userIdentity" => r.identity = value!(map, Option<Identity<'de>>),
            "requestParameters" => r.parameters = Some(value!(map, Json<'de>)),
            "responseElements" => r.response = Some(value!(map, Json<'de>)),
            "resources" => r.resources = value!(map, Resources),
        });
        Ok(Ok(r))
    }
}

/// An object (`tlsDetails`): whether the value is one.
struct Present;

impl<'de> Shape<'de> for Present {
    type Out = bool;
    fn otherwise(_: &'static str) -> bool {
        false
    }
    fn object<A: MapAccess<'de>>(mut map: A) -> Result<bool, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(true)
    }
}

/// `resources[]`: the entries of an array (none for another type).
struct Resources;

impl<'de> Shape<'de> for Resources {
    type Out = SmallVec<[ResourceEntry<'de>; 2]>;
    fn otherwise(_: &'static str) -> Self::Out {
        SmallVec::new()
    }
    fn array<A: SeqAccess<'de>>(mut seq: A) -> Result<Self::Out, A::Error> {
        let mut entries = SmallVec::new();
        while let Some(entry) = seq.next_element_seed(Read::<Option<ResourceEntry<'de>>>::new())? {
            entries.push(entry.unwrap_or_default());
        }
        Ok(entries)
    }
}

/// An object read member by member into `T`; `None` for another type.
impl<'de, T: Members<'de>> Shape<'de> for Option<T> {
    type Out = Option<T>;
    fn otherwise(_: &'static str) -> Option<T> {
        None
    }
    fn object<A: MapAccess<'de>>(map: A) -> Result<Option<T>, A::Error> {
        T::read(map).map(Some)
    }
}

/// What an object reads into ([`Shape`] for `Option<Self>`).
trait Members<'de>: Sized {
    fn read<A: MapAccess<'de>>(map: A) -> Result<Self, A::Error>;
}

impl<'de> Members<'de> for Identity<'de> {
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut id = Identity::default();
        members!(map, {
            "type" => id.kind = value!(map, NonEmpty),
            "arn" => id.arn = value!(map, NonEmpty),
            "principalId" => id.principal_id = value!(map, NonEmpty),
            "accountId" => id.account_id = value!(map, NonEmpty),
            "accessKeyId" => id.access_key_id = value!(map, NonEmpty),
            "invokedBy" => id.invoked_by = value!(map, NonEmpty),
            "sessionContext" => id.session = value!(map, Option<Session<'de>>),
        });
        Ok(id)
    }
}

impl<'de> Members<'de> for Session<'de> {
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut s = Session::default();
        members!(map, {
            "sessionIssuer" => s.issuer_arn = value!(map, Option<IssuerArn<'de>>).and_then(|a| a.0),
            "sourceIdentity" => s.source_identity = value!(map, NonEmpty),
            "attributes" => s.attributes = value!(map, Option<Attributes<'de>>),
        });
        Ok(s)
    }
}

impl<'de> Members<'de> for Attributes<'de> {
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut a = Attributes::default();
        members!(map, {
            "mfaAuthenticated" => a.mfa_authenticated = value!(map, NonEmpty),
            "creationDate" => a.creation_date = value!(map, NonEmpty),
        });
        Ok(a)
    }
}

impl<'de> Members<'de> for ResourceEntry<'de> {
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut r = ResourceEntry::default();
        members!(map, {
            "type" => r.kind = value!(map, NonEmpty).unwrap_or_default(),
            "ARN" => r.arn = value!(map, NonEmpty),
            "accountId" => r.account = value!(map, NonEmpty),
        });
        Ok(r)
    }
}

/// `sessionIssuer`, of which the mapping reads the ARN.
struct IssuerArn<'a>(Option<Text<'a>>);

impl<'de> Members<'de> for IssuerArn<'de> {
    fn read<A: MapAccess<'de>>(mut map: A) -> Result<Self, A::Error> {
        let mut arn = IssuerArn(None);
        members!(map, { "arn" => arn.0 = value!(map, NonEmpty) });
        Ok(arn)
    }
}

/// Deserializes records: `Ok(Err(found))` with what was found (`"a
/// number"`…) when the input is not an object.
pub(crate) fn record_seed<'de>() -> impl DeserializeSeed<'de, Value = Result<Record<'de>, &'static str>> {
    Read::<Record<'de>>::new()
}
