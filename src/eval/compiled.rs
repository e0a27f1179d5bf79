//! Evaluation over a [`CompiledPolicySet`]: the action automaton narrows the
//! statements to the few whose action element applies, then resource matchers,
//! principal and typed condition predicates run on those only. All buffers live
//! in a per-thread [`Scratch`], so the common case allocates nothing.

use super::decision::{Decision, Hit, KeyReport, PrincipalClass};
use super::logic::{
    combine, combine_identity_only, condition_result, identity_only, null_result, ActionFacts, FixedLayers,
};
use super::principal::principal_class;
use crate::compile::action::ActionScratch;
use crate::compile::condition::{CompiledCondition, StrValue, Values};
use crate::compile::glob::{match_tokens, tokens_equal};
use crate::compile::resource::{ResourceMatcher, Segment};
use crate::compile::CompiledPolicySet;
use crate::policy::pattern::Token;
use crate::policy::principal::USERID_KEY;
use crate::policy::values::*;
use crate::policy::variables::{Lookup, Status};
use crate::policy::{Arn, Comparison};
use crate::request::{Request, Tri, Value};

/// Distinct actions remembered per thread before the memo is cleared; bounds
/// memory on adversarial streams of ever-new action names.
const MEMO_LIMIT: usize = 1 << 16;

/// Per-thread memo: action (any case) → its candidate statements and facts.
/// Real request streams repeat a few hundred actions, so the automaton runs
/// once per distinct action instead of once per request. Looked up by a
/// case-blind hash, so the request's action is neither copied nor lower-cased.
#[derive(Debug, Clone, Default)]
struct ActionMemo {
    /// Indexes into `entries`, hashed by [`caseless_hash`] of the name.
    index: hashbrown::HashTable<u32>,
    entries: Vec<MemoEntry>,
}

#[derive(Debug, Clone)]
struct MemoEntry {
    action: Box<str>,
    /// The hits of candidates that hold whatever the request (no condition,
    /// no principal, `Resource: *`), folded once for the action.
    fixed: FixedLayers,
    /// The other candidates, examined per request.
    dynamic: Box<[u32]>,
    facts: ActionFacts,
}

impl MemoEntry {
    /// Splits the action's candidate statements into static hits and the rest.
    fn new(set: &CompiledPolicySet, action: &str, candidates: &[u32]) -> MemoEntry {
        let mut static_hits = Vec::new();
        let mut dynamic = Vec::new();
        for &id in candidates {
            match set.statements.get(id as usize) {
                Some(stmt) if stmt.always_hits() => static_hits.push(Hit {
                    statement: stmt.sref,
                    effect: stmt.effect,
                    class: PrincipalClass::Direct,
                    result: Tri::True,
                }),
                _ => dynamic.push(id),
            }
        }
        MemoEntry {
            action: action.into(),
            fixed: FixedLayers::fold(static_hits.iter()),
            dynamic: dynamic.into(),
            facts: ActionFacts::of(action),
        }
    }
}

/// FxHash of the bytes with bit 5 set, eight at a time: `A`–`Z` hash like
/// `a`–`z` (other bytes may collide too; equality is checked exactly). The
/// last word is the string's last eight bytes, overlapping the one before: no
/// padded tail to build, and still a function of the string alone.
fn caseless_hash(s: &str) -> u64 {
    use std::hash::Hasher;
    const CASE: u64 = 0x2020_2020_2020_2020;
    let bytes = s.as_bytes();
    let mut h = rustc_hash::FxHasher::default();
    h.write_usize(bytes.len());
    match bytes.last_chunk::<8>() {
        Some(last) => {
            for word in crate::words::whole_words(bytes) {
                h.write_u64(word | CASE);
            }
            h.write_u64(u64::from_le_bytes(*last) | CASE);
        }
        None => h.write_u64(crate::words::padded_word(bytes) | CASE),
    }
    h.finish()
}

impl ActionMemo {
    /// The entry's position.
    fn find(&self, action: &str) -> Option<usize> {
        let entries = &self.entries;
        // Streams repeat an action in one spelling: an exact comparison first.
        let slot = self.index.find(caseless_hash(action), |&i| {
            entries.get(i as usize).is_some_and(|e| *e.action == *action || e.action.eq_ignore_ascii_case(action))
        })?;
        Some(*slot as usize)
    }

    /// Adds an entry; returns its position.
    fn insert(&mut self, entry: MemoEntry) -> usize {
        if self.entries.len() >= MEMO_LIMIT {
            self.index.clear();
            self.entries.clear();
        }
        let i = self.entries.len();
        let hash = caseless_hash(&entry.action);
        self.entries.push(entry);
        let entries = &self.entries;
        // MEMO_LIMIT keeps positions far below u32::MAX.
        let slot = u32::try_from(i).unwrap_or(u32::MAX);
        self.index.insert_unique(hash, slot, |&j| entries.get(j as usize).map_or(0, |e| caseless_hash(&e.action)));
        i
    }
}

/// Per-thread mutable buffers for [`CompiledPolicySet::decide`]. Create one per
/// thread (e.g. with rayon's `map_init`) and reuse it for every request.
#[derive(Debug, Clone)]
pub struct Scratch {
    action: ActionScratch,
    candidates: Vec<u32>,
    hits: Vec<Hit>,
    tokens: Vec<Token>,
    memo: ActionMemo,
}

impl Scratch {
    /// Buffers sized for `set`.
    pub fn new(set: &CompiledPolicySet) -> Scratch {
        Scratch {
            action: set.actions.scratch(),
            candidates: Vec::new(),
            hits: Vec::new(),
            tokens: Vec::new(),
            memo: ActionMemo::default(),
        }
    }
}

fn lookup<'a>(req: &'a Request) -> impl Fn(&str) -> Lookup<'a> {
    move |key| match req.lookup_lowered(key) {
        Some(Value::Single(v)) => Lookup::Value(v),
        Some(Value::Unknown) => Lookup::Unknown,
        Some(Value::Multi(_)) | None => Lookup::Missing,
    }
}

fn status_tri(s: Status, matched: impl FnOnce() -> bool) -> Tri {
    match s {
        Status::Resolved => Tri::from_bool(matched()),
        Status::Missing => Tri::False,
        Status::Unknown => Tri::Unknown,
    }
}

impl CompiledPolicySet {
    /// Decides one request.
    ///
    /// `scratch` must come from [`Scratch::new`] on this set.
    pub fn decide(&self, req: &Request, scratch: &mut Scratch) -> Decision {
        let Scratch { action, candidates, hits, tokens, memo } = scratch;
        let slot = match memo.find(&req.action) {
            Some(i) => i,
            None => {
                self.actions.candidates(&req.action, action, candidates);
                memo.insert(MemoEntry::new(self, &req.action, candidates))
            }
        };
        let Some(MemoEntry { fixed, dynamic, facts, .. }) = memo.entries.get(slot) else {
            // Not reached (the slot was just found or added): decide without statements.
            return combine(
                &self.shape,
                req,
                req.resource_account(),
                &ActionFacts::of(&req.action),
                &FixedLayers::default(),
                &[],
                KeyReport::default(),
            );
        };
        hits.clear();
        let mut keys = KeyReport::default();
        let mut arn = LazyArn::new(&req.resource);
        let resource_is_star = req.resource == "*";
        for id in dynamic.iter() {
            let Some(stmt) = self.statements.get(*id as usize) else { continue };
            let resource = match &stmt.resources {
                None => Tri::True,
                Some((negated, matchers)) => {
                    let mut any = Tri::False;
                    for m in matchers.iter() {
                        any = any.or(resource_match(m, &mut arn, resource_is_star, req, tokens));
                        if any == Tri::True {
                            break;
                        }
                    }
                    if *negated {
                        any.not()
                    } else {
                        any
                    }
                }
            };
            if resource == Tri::False {
                continue;
            }
            let (class, named) = match &stmt.principal {
                None => (PrincipalClass::Direct, Tri::True),
                Some(spec) => {
                    if let Some(key) = stmt.principal_key {
                        keys.note(key, req.lookup_lowered(USERID_KEY));
                    }
                    match principal_class(spec, req, stmt.effect, self.shape.has_boundary) {
                        Some(c) => c,
                        None => continue,
                    }
                }
            };
            let mut result = resource.and(named);
            for c in stmt.conditions.iter() {
                let value = req.lookup_lowered(&c.key_name);
                keys.note(c.key, value);
                result = result.and(condition(c, value, req, tokens));
            }
            for (key, name) in stmt.variables.iter() {
                keys.note(*key, req.lookup_lowered(name));
            }
            if result != Tri::False {
                hits.push(Hit { statement: stmt.sref, effect: stmt.effect, class, result });
            }
        }
        keys.finish();
        if identity_only(&self.shape) {
            // The owner matters only when the identity side could allow:
            // many decisions never split the resource ARN.
            let owner = || req.resource_account_given(arn.get());
            combine_identity_only(&self.shape, req, owner, facts, &fixed.hits, hits, keys)
        } else {
            combine(&self.shape, req, req.resource_account_given(arn.get()), facts, fixed, hits, keys)
        }
    }
}

/// The request's resource ARN, split on first use.
struct LazyArn<'a> {
    text: &'a str,
    arn: Option<Option<Arn<'a>>>,
}

impl<'a> LazyArn<'a> {
    fn new(text: &'a str) -> LazyArn<'a> {
        LazyArn { text, arn: None }
    }

    fn get(&mut self) -> Option<&Arn<'a>> {
        let text = self.text;
        self.arn.get_or_insert_with(|| Arn::parse(text)).as_ref()
    }
}

fn resource_match(
    m: &ResourceMatcher,
    arn: &mut LazyArn<'_>,
    is_star: bool,
    req: &Request,
    tokens: &mut Vec<Token>,
) -> Tri {
    match m {
        ResourceMatcher::Any => Tri::True,
        ResourceMatcher::Never => Tri::False,
        ResourceMatcher::Arn { header, resource } => {
            if is_star {
                return Tri::False;
            }
            let Some(arn) = arn.get() else { return Tri::False };
            if !header.iter().zip(arn.header()).all(|(g, s)| g.is_match(s, true)) {
                return Tri::False;
            }
            match resource {
                Segment::Static(g) => Tri::from_bool(g.is_match(arn.resource, false)),
                Segment::Template(t) => {
                    let s = t.resolve_into(lookup(req), tokens);
                    status_tri(s, || match_tokens(tokens, arn.resource, false))
                }
            }
        }
    }
}

fn condition(c: &CompiledCondition, value: Option<Value<'_>>, req: &Request, tokens: &mut Vec<Token>) -> Tri {
    if let Values::Null(want) = &c.values {
        return null_result(want.iter().copied(), value);
    }
    let cmp = c.operator.base.comparison;
    let ordered = |o: std::cmp::Ordering| cmp.accepts(o);
    condition_result(&c.operator, value, |r| {
        Some(match &c.values {
            Values::Str(vs) => any_str(vs, r, cmp, req, tokens),
            Values::Bool(vs) => {
                let rv = parse_bool(r)?;
                any_str(vs, if rv { "true" } else { "false" }, Comparison::EqualsIgnoreCase, req, tokens)
            }
            Values::Num(vs) => {
                let rv = parse_decimal(r)?;
                Tri::from_bool(vs.iter().any(|pv| ordered(rv.cmp(pv))))
            }
            Values::Date(vs) => {
                let rv = parse_date(r)?;
                Tri::from_bool(vs.iter().any(|pv| ordered(rv.cmp(pv))))
            }
            Values::Bin(vs) => {
                let rv = parse_base64(r)?;
                Tri::from_bool(vs.contains(&rv))
            }
            Values::Ip(vs) => {
                let ip = parse_ip(r)?;
                Tri::from_bool(vs.iter().any(|n| cidr_contains(n, &ip)))
            }
            Values::Arn(vs) => {
                let arn = Arn::parse(r)?;
                let parts = [arn.partition, arn.service, arn.region, arn.account, arn.resource];
                let mut any = Tri::False;
                for segs in vs.iter().flatten() {
                    let mut all = Tri::True;
                    for (seg, part) in segs.iter().zip(parts) {
                        all = all.and(str_match(seg, part, Comparison::Like, req, tokens));
                        if all == Tri::False {
                            break;
                        }
                    }
                    any = any.or(all);
                }
                any
            }
            Values::Null(_) => Tri::False,
        })
    })
}

fn any_str(vs: &[StrValue], r: &str, cmp: Comparison, req: &Request, tokens: &mut Vec<Token>) -> Tri {
    let mut any = Tri::False;
    for v in vs {
        any = any.or(str_match(v, r, cmp, req, tokens));
        if any == Tri::True {
            break;
        }
    }
    any
}

fn str_match(v: &StrValue, r: &str, cmp: Comparison, req: &Request, tokens: &mut Vec<Token>) -> Tri {
    match v {
        StrValue::Static(g) => Tri::from_bool(match (cmp, g) {
            (Comparison::EqualsIgnoreCase, crate::compile::glob::Glob::Exact(e)) => {
                e.chars().flat_map(char::to_lowercase).eq(r.chars().flat_map(char::to_lowercase))
            }
            _ => g.is_match(r, false),
        }),
        StrValue::Template(t) => {
            let s = t.resolve_into(lookup(req), tokens);
            status_tri(s, || match cmp {
                Comparison::Like => match_tokens(tokens, r, false),
                Comparison::EqualsIgnoreCase => tokens_equal(tokens, r, true),
                _ => tokens_equal(tokens, r, false),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{parse_policy, PolicyKind, PolicySet};
    use crate::request::Principal;

    #[test]
    fn memo_is_case_blind_and_exact() {
        assert_eq!(caseless_hash("S3:GetObject"), caseless_hash("s3:getobject"));
        assert_eq!(caseless_hash("ec2:CreateNetworkInterface"), caseless_hash("EC2:createnetworkinterface"));
        // Every length: padded short names, whole words, overlapping last words.
        let name = "ec2:CreateNetworkInterfacePermission";
        for end in 0..=name.len() {
            let (lower, upper) = (name[..end].to_ascii_lowercase(), name[..end].to_ascii_uppercase());
            assert_eq!(caseless_hash(&lower), caseless_hash(&upper), "{lower}");
            if end > 0 {
                assert_ne!(caseless_hash(&lower), caseless_hash(&name[..end - 1].to_ascii_lowercase()), "{lower}");
            }
        }
        let p = parse_policy(
            br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            "p",
            PolicyKind::Identity,
        )
        .unwrap();
        let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() }).unwrap();
        let mut scratch = Scratch::new(&set);
        let who = Principal::parse("arn:aws:iam::111122223333:user/a").unwrap();
        for (action, allowed) in
            [("s3:GetObject", true), ("S3:GETOBJECT", true), ("s3:getobject", true), ("s3:GetObjects", false)]
        {
            let d = set.decide(&Request::new(who.clone(), action, "*"), &mut scratch);
            assert_eq!(d.is_allowed(), allowed, "{action}");
        }
        // One entry per distinct action, whatever its case.
        assert_eq!(scratch.memo.entries.len(), 2);
    }
}
