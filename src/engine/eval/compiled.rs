//! Evaluation over a [`CompiledPolicySet`]: the action automaton narrows the
//! statements to the few whose action element applies (once per distinct
//! action and thread: an [`ActionPlan`]), then resource matchers, principal
//! and typed condition predicates run on those only. All buffers live in a
//! per-thread [`Scratch`], so the common case allocates nothing.
//!
//! One hit loop serves every path: generic over where the request's facts
//! come from (a [`Request`] read lazily, or a [`Prepared`] request resolved
//! once) and over what comes out (an explained [`Decision`] or the
//! [`Verdict`] alone), so the paths cannot drift apart.

use super::decision::{Decision, Explained, Hit, KeyNotes, Outcome, PrincipalClass, Verdict, VerdictOnly};
use super::logic::{
    combine, combine_identity_only, condition_result, identity_only, null_result, refused_by, trust_on_role,
    ActionFacts, Caller, FixedLayers, Situation,
};
use super::principal::principal_class;
use crate::engine::compile::action::ActionScratch;
use crate::engine::compile::condition::{CompiledCondition, StrValue, Values};
use crate::engine::compile::glob::{match_tokens, tokens_equal};
use crate::engine::compile::resource::{ResourceMatcher, Segment};
use crate::engine::compile::CompiledPolicySet;
use crate::engine::policy::pattern::Token;
use crate::engine::policy::principal::USERID_KEY;
use crate::engine::policy::set::{KeyId, Shape};
use crate::engine::policy::values::*;
use crate::engine::policy::variables::{Lookup, Status};
use crate::engine::policy::{Arn, Comparison};
use crate::engine::request::{Request, Tri, Value};
use smallvec::SmallVec;
use std::cell::OnceCell;
use std::sync::Arc;

/// Distinct actions remembered per thread before the memo is cleared; bounds
/// memory on adversarial streams of ever-new action names.
const MEMO_LIMIT: usize = 1 << 16;

/// What deciding any request for one action needs, worked out once per
/// distinct action (per thread) and shared with the [`Prepared`] requests
/// that name it.
#[derive(Debug)]
pub(in crate::engine) struct ActionPlan {
    action: Box<str>,
    /// The hits of candidates that hold whatever the request (no condition,
    /// no principal, `Resource: *`), folded once for the action.
    fixed: FixedLayers,
    /// The other candidates, examined per request.
    dynamic: Box<[u32]>,
    facts: ActionFacts,
    /// The condition keys the dynamic candidates read (conditions, policy
    /// variables, unique-id principals), deduplicated; a prepared request
    /// holds their values in this order.
    key_ids: Box<[KeyId]>,
    /// Their lower-cased names, parallel to `key_ids`.
    key_names: Box<[Box<str>]>,
}

impl ActionPlan {
    /// Splits the action's candidate statements into static hits and the rest.
    fn new(set: &CompiledPolicySet, action: &str, candidates: &[u32]) -> ActionPlan {
        let mut static_hits = Vec::new();
        let mut dynamic = Vec::new();
        let mut keys: Vec<(KeyId, &str)> = Vec::new();
        for &id in candidates {
            match set.statements.get(id as usize) {
                Some(stmt) if stmt.always_hits() => static_hits.push(Hit {
                    statement: stmt.sref,
                    effect: stmt.effect,
                    class: PrincipalClass::Direct,
                    result: Tri::True,
                }),
                Some(stmt) => {
                    dynamic.push(id);
                    keys.extend(stmt.principal_key.map(|k| (k, USERID_KEY)));
                    keys.extend(stmt.conditions.iter().map(|c| (c.key, &*c.key_name)));
                    keys.extend(stmt.variables.iter().map(|(k, name)| (*k, &**name)));
                }
                None => {}
            }
        }
        keys.sort_unstable();
        keys.dedup_by_key(|(k, _)| *k);
        ActionPlan {
            action: action.into(),
            fixed: FixedLayers::fold(static_hits.iter()),
            dynamic: dynamic.into(),
            facts: ActionFacts::of(action),
            key_ids: keys.iter().map(|(k, _)| *k).collect(),
            key_names: keys.iter().map(|(_, n)| Box::from(*n)).collect(),
        }
    }
}

/// Per-thread memo: action (any case) → its [`ActionPlan`]. Real request
/// streams repeat a few hundred actions, so the automaton runs once per
/// distinct action instead of once per request. Looked up by a case-blind
/// hash, so the request's action is neither copied nor lower-cased.
#[derive(Debug, Clone, Default)]
struct ActionMemo {
    /// Indexes into `entries`, hashed by [`caseless_hash`] of the name.
    index: hashbrown::HashTable<u32>,
    entries: Vec<Arc<ActionPlan>>,
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
            for word in crate::engine::words::whole_words(bytes) {
                h.write_u64(word | CASE);
            }
            h.write_u64(u64::from_le_bytes(*last) | CASE);
        }
        None => h.write_u64(crate::engine::words::padded_word(bytes) | CASE),
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

    /// Adds an entry; returns its position. Clearing the memo at its limit
    /// leaves plans that prepared requests hold alive (they are shared).
    fn insert(&mut self, entry: ActionPlan) -> usize {
        if self.entries.len() >= MEMO_LIMIT {
            self.index.clear();
            self.entries.clear();
        }
        let i = self.entries.len();
        let hash = caseless_hash(&entry.action);
        self.entries.push(Arc::new(entry));
        let entries = &self.entries;
        // MEMO_LIMIT keeps positions far below u32::MAX.
        let slot = u32::try_from(i).unwrap_or(u32::MAX);
        self.index.insert_unique(hash, slot, |&j| entries.get(j as usize).map_or(0, |e| caseless_hash(&e.action)));
        i
    }
}

/// Per-thread mutable buffers for deciding against one [`CompiledPolicySet`].
/// Create one per thread (e.g. with rayon's `map_init`) and reuse it for
/// every request.
///
/// A scratch belongs to the set it was made for, or last used with: its
/// memo holds that set's statements. Given to another set, it is emptied
/// and re-made for that set first (one comparison per call), so a scratch
/// can never answer from another set's statements.
#[derive(Debug, Clone)]
pub struct Scratch {
    /// The set this scratch's memo was built from ([`CompiledPolicySet`]'s unique id).
    set_id: u64,
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
            set_id: set.id,
            action: set.actions.scratch(),
            candidates: Vec::new(),
            hits: Vec::new(),
            tokens: Vec::new(),
            memo: ActionMemo::default(),
        }
    }

    /// Whether this scratch is (now) bound to `set`.
    pub(in crate::engine) fn is_for(&self, set: &CompiledPolicySet) -> bool {
        self.set_id == set.id
    }

    /// Makes this scratch `set`'s, emptying it if it was another set's.
    fn bind(&mut self, set: &CompiledPolicySet) {
        if !self.is_for(set) {
            *self = Scratch::new(set);
        }
    }

    /// The position of `action`'s plan in the memo, made on first sight.
    fn plan(&mut self, set: &CompiledPolicySet, action: &str) -> usize {
        match self.memo.find(action) {
            Some(i) => i,
            None => {
                set.actions.candidates(action, &mut self.action, &mut self.candidates);
                self.memo.insert(ActionPlan::new(set, action, &self.candidates))
            }
        }
    }
}

/// A request resolved against one compiled set, to be decided many times
/// without touching its strings again: its action's plan (candidate
/// statements and the facts of the action), its resource ARN split into
/// segments, its resource owner, and the value of every condition key its
/// candidate statements read, and what the rules read of the caller (its
/// kind, whether its account owns the resource). Made by
/// [`CompiledPolicySet::prepare`]; borrows the request.
///
/// The resource ARN is copied into the prepared request: a batch of them
/// prepared together sits together in memory, where the requests' own
/// strings are spread over the heap (on 100,000 requests, reading those was
/// most of a decision's time; `benches/README.md`).
///
/// Deciding a prepared request with a set other than the one that prepared
/// it gives that other set's answer for the request (it is prepared again
/// on the way), never the first set's.
#[derive(Debug, Clone)]
pub struct Prepared<'r> {
    set_id: u64,
    request: &'r Request,
    plan: Arc<ActionPlan>,
    /// A copy of the request's resource.
    resource: Box<str>,
    /// Where the ARN's partition, service, region and account end in
    /// `resource` (`None`: not an ARN).
    header_ends: Option<[u32; 4]>,
    resource_is_star: bool,
    /// The caller's facts and the request's, as the rules read them.
    at: Situation,
    owner: Option<&'r str>,
    /// Values of `plan.key_ids`, in that order.
    values: SmallVec<[Option<Value<'r>>; 4]>,
}

impl<'r> Prepared<'r> {
    /// The request this was prepared from.
    pub fn request(&self) -> &'r Request {
        self.request
    }

    /// Identifies the action's plan: prepared requests for the same action
    /// (in any case) prepared on one thread share it. Sorting a batch by it
    /// decides each action's requests together.
    pub fn action_group(&self) -> usize {
        Arc::as_ptr(&self.plan) as usize
    }
}

impl<'r> Prepared<'r> {
    /// The value resolved at position `i` of the plan's keys; a key the plan
    /// does not list (not reached: it lists every key and variable its
    /// statements read) is looked up in the request.
    fn resolved(&self, i: Option<usize>, name: &str) -> Option<Value<'r>> {
        match i {
            Some(i) => self.values.get(i).copied().flatten(),
            None => self.request.lookup_lowered(name),
        }
    }
}

/// Where the hit loop reads the request's facts from.
trait View<'r> {
    fn request(&self) -> &'r Request;
    /// The value of condition key `key` (lower-cased `name`).
    fn value(&self, key: KeyId, name: &str) -> Option<Value<'r>>;
    /// The value of the key named `name` (lower-cased): policy variables.
    fn named(&self, name: &str) -> Option<Value<'r>>;
    fn arn(&self) -> Option<Arn<'_>>;
    fn resource_is_star(&self) -> bool;
    fn owner(&self) -> Option<&'r str>;
    fn caller(&self) -> Caller;
    fn on_role(&self, facts: &ActionFacts) -> bool;
    /// Whether the caller's credentials may not call the action.
    fn refused(&self, facts: &ActionFacts) -> Tri;
    /// The caller's account owns the resource.
    fn same_account(&self) -> bool;
    /// All [`combine`] reads of the request.
    fn situation(&self, shape: &Shape, facts: &ActionFacts) -> Situation;
}

/// A [`Request`] read as the loop needs it: the ARN split on first use, keys
/// looked up by name.
struct Owned<'r> {
    req: &'r Request,
    arn: OnceCell<Option<Arn<'r>>>,
}

impl<'r> Owned<'r> {
    fn new(req: &'r Request) -> Owned<'r> {
        Owned { req, arn: OnceCell::new() }
    }

    fn parsed(&self) -> Option<&Arn<'r>> {
        let text = &self.req.resource;
        self.arn.get_or_init(|| Arn::parse(text)).as_ref()
    }
}

impl<'r> View<'r> for Owned<'r> {
    fn request(&self) -> &'r Request {
        self.req
    }
    fn value(&self, _: KeyId, name: &str) -> Option<Value<'r>> {
        self.req.lookup_lowered(name)
    }
    fn named(&self, name: &str) -> Option<Value<'r>> {
        self.req.lookup_lowered(name)
    }
    fn arn(&self) -> Option<Arn<'_>> {
        self.parsed().copied()
    }
    fn resource_is_star(&self) -> bool {
        self.req.resource == "*"
    }
    fn owner(&self) -> Option<&'r str> {
        self.req.resource_account_given(self.parsed())
    }
    fn caller(&self) -> Caller {
        Caller::of(&self.req.principal)
    }
    fn on_role(&self, facts: &ActionFacts) -> bool {
        trust_on_role(facts, &self.req.resource)
    }
    fn refused(&self, facts: &ActionFacts) -> Tri {
        refused_by(facts.refused, self.req)
    }
    fn same_account(&self) -> bool {
        self.req.principal.account() == self.owner()
    }
    fn situation(&self, shape: &Shape, facts: &ActionFacts) -> Situation {
        Situation::of(shape, self.req, self.owner(), facts)
    }
}

/// A [`Prepared`] request: everything already resolved.
struct PreparedView<'p, 'r>(&'p Prepared<'r>);

impl<'r> View<'r> for PreparedView<'_, 'r> {
    fn request(&self) -> &'r Request {
        self.0.request
    }
    fn value(&self, key: KeyId, name: &str) -> Option<Value<'r>> {
        self.0.resolved(self.0.plan.key_ids.iter().position(|&k| k == key), name)
    }
    fn named(&self, name: &str) -> Option<Value<'r>> {
        self.0.resolved(self.0.plan.key_names.iter().position(|n| **n == *name), name)
    }
    fn arn(&self) -> Option<Arn<'_>> {
        let p = self.0;
        let [a, b, c, d] = p.header_ends?.map(|e| e as usize);
        let r = &p.resource;
        Some(Arn {
            partition: r.get(4..a)?,
            service: r.get(a + 1..b)?,
            region: r.get(b + 1..c)?,
            account: r.get(c + 1..d)?,
            resource: r.get(d + 1..)?,
        })
    }
    fn resource_is_star(&self) -> bool {
        self.0.resource_is_star
    }
    fn owner(&self) -> Option<&'r str> {
        self.0.owner
    }
    fn caller(&self) -> Caller {
        self.0.at.caller
    }
    fn on_role(&self, _: &ActionFacts) -> bool {
        self.0.at.on_role
    }
    fn refused(&self, _: &ActionFacts) -> Tri {
        self.0.at.refused
    }
    fn same_account(&self) -> bool {
        self.0.at.same_account
    }
    fn situation(&self, _: &Shape, _: &ActionFacts) -> Situation {
        self.0.at
    }
}

/// Where `arn`'s four header segments end in `text`, which it was parsed from.
fn header_ends(text: &str, arn: &Arn<'_>) -> Option<[u32; 4]> {
    let mut end = 4; // `arn:`
    let mut ends = [0u32; 4];
    for (slot, seg) in ends.iter_mut().zip(arn.header()) {
        end += seg.len();
        *slot = u32::try_from(end).ok()?;
        end += 1;
    }
    // The offsets name the same segments (the parse split on these colons).
    (text.get(end..) == Some(arn.resource)).then_some(ends)
}

fn lookup<'a, 'v>(view: &'v impl View<'a>) -> impl Fn(&str) -> Lookup<'a> + 'v {
    move |key| match view.named(key) {
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
    /// Decides one request and explains the decision: the deciding
    /// statements, and the condition keys it lacked or did not know.
    ///
    /// `scratch` is this set's (see [`Scratch`]); the request is prepared on
    /// the way, lazily (its ARN is split only if a statement needs it).
    pub fn decide(&self, req: &Request, scratch: &mut Scratch) -> Decision {
        self.decide_owned::<Explained>(req, scratch)
    }

    /// The verdict alone for one request: what [`CompiledPolicySet::decide`]
    /// returns as `kind`, without gathering statements or keys.
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
    /// use iamsim::engine::request::{Principal, Request};
    /// use iamsim::{CompiledPolicySet, engine::eval::{Scratch, Verdict}};
    /// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"s3:*","Resource":"*"}}"#,
    ///                      "p", PolicyKind::Identity)?;
    /// let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() })?;
    /// let req = Request::new(Principal::parse("arn:aws:iam::111122223333:user/a")?, "s3:GetObject", "*");
    /// assert_eq!(set.decide_verdict(&req, &mut Scratch::new(&set)), Verdict::ExplicitDeny);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn decide_verdict(&self, req: &Request, scratch: &mut Scratch) -> Verdict {
        self.decide_owned::<VerdictOnly>(req, scratch)
    }

    fn decide_owned<O: Outcome>(&self, req: &Request, scratch: &mut Scratch) -> O::Out {
        scratch.bind(self);
        let slot = scratch.plan(self, &req.action);
        let Scratch { hits, tokens, memo, .. } = scratch;
        let mut view = Owned::new(req);
        match memo.entries.get(slot) {
            Some(plan) => self.run::<O, _>(plan, &mut view, hits, tokens),
            // Not reached (the slot was just found or added): decide without statements.
            None => self.run::<O, _>(&ActionPlan::new(self, &req.action, &[]), &mut view, hits, tokens),
        }
    }

    /// Resolves `req` against this set once, for deciding many times with
    /// [`CompiledPolicySet::verdict`] and [`CompiledPolicySet::explain`]
    /// (repeated calls in a replay, sweeps over principals, benchmarks).
    ///
    /// # Example
    /// ```
    /// use iamsim::engine::policy::{parse_policy, PolicyKind, PolicySet};
    /// use iamsim::engine::request::{Principal, Request};
    /// use iamsim::{CompiledPolicySet, engine::eval::{Scratch, Verdict}};
    /// let p = parse_policy(br#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"ec2:*NetworkInterface",
    ///                           "Resource":"arn:aws:ec2:*:*:network-interface/*"}}"#, "cni", PolicyKind::Identity)?;
    /// let set = CompiledPolicySet::compile(PolicySet { identity: vec![p], ..Default::default() })?;
    /// let mut scratch = Scratch::new(&set);
    /// let req = Request::new(Principal::parse("arn:aws:iam::111122223333:role/node")?, "ec2:DeleteNetworkInterface",
    ///                        "arn:aws:ec2:us-east-1:111122223333:network-interface/eni-1");
    /// let prepared = set.prepare(&req, &mut scratch);
    /// assert_eq!(set.verdict(&prepared, &mut scratch), Verdict::Allowed);
    /// assert_eq!(set.explain(&prepared, &mut scratch).statements.len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn prepare<'r>(&self, req: &'r Request, scratch: &mut Scratch) -> Prepared<'r> {
        scratch.bind(self);
        let slot = scratch.plan(self, &req.action);
        let plan = match scratch.memo.entries.get(slot) {
            Some(plan) => Arc::clone(plan),
            None => Arc::new(ActionPlan::new(self, &req.action, &[])),
        };
        let arn = Arn::parse(&req.resource);
        let owner = req.resource_account_given(arn.as_ref());
        let values = plan.key_names.iter().map(|name| req.lookup_lowered(name)).collect();
        Prepared {
            set_id: self.id,
            request: req,
            resource: req.resource.as_str().into(),
            header_ends: arn.and_then(|a| header_ends(&req.resource, &a)),
            resource_is_star: req.resource == "*",
            at: Situation::of(&self.shape, req, owner, &plan.facts),
            owner,
            values,
            plan,
        }
    }

    /// The verdict for a prepared request: the fast path (no allocation, no
    /// string lookups but the statements' own patterns).
    pub fn verdict(&self, p: &Prepared<'_>, scratch: &mut Scratch) -> Verdict {
        self.decide_prepared::<VerdictOnly>(p, scratch)
    }

    /// The explained decision for a prepared request; its `kind` is always
    /// [`CompiledPolicySet::verdict`]'s answer.
    pub fn explain(&self, p: &Prepared<'_>, scratch: &mut Scratch) -> Decision {
        self.decide_prepared::<Explained>(p, scratch)
    }

    fn decide_prepared<O: Outcome>(&self, p: &Prepared<'_>, scratch: &mut Scratch) -> O::Out {
        if p.set_id != self.id {
            // Prepared by another set: its plan names that set's statements.
            return self.decide_owned::<O>(p.request, scratch);
        }
        scratch.bind(self);
        let Scratch { hits, tokens, .. } = scratch;
        self.run::<O, _>(&p.plan, &mut PreparedView(p), hits, tokens)
    }

    /// The hit loop and the decision rules, for every path.
    fn run<'r, O: Outcome, V: View<'r>>(
        &self,
        plan: &ActionPlan,
        view: &mut V,
        hits: &mut Vec<Hit>,
        tokens: &mut Vec<Token>,
    ) -> O::Out {
        let req = view.request();
        hits.clear();
        let mut keys = O::Keys::default();
        let resource_is_star = view.resource_is_star();
        for id in plan.dynamic.iter() {
            let Some(stmt) = self.statements.get(*id as usize) else { continue };
            let resource = match &stmt.resources {
                None => Tri::True,
                Some((negated, matchers)) => {
                    let mut any = Tri::False;
                    for m in matchers.iter() {
                        any = any.or(resource_match(m, view, resource_is_star, tokens));
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
                    if let Some(key) = stmt.principal_key.filter(|_| O::Keys::RECORDS) {
                        keys.note(key, view.value(key, USERID_KEY));
                    }
                    match principal_class(spec, req, stmt.effect, self.shape.has_boundary) {
                        Some(c) => c,
                        None => continue,
                    }
                }
            };
            let mut result = resource.and(named);
            for c in stmt.conditions.iter() {
                let value = view.value(c.key, &c.key_name);
                keys.note(c.key, value);
                result = result.and(condition(c, value, view, tokens));
            }
            if O::Keys::RECORDS {
                for (key, name) in stmt.variables.iter() {
                    keys.note(*key, view.value(*key, name));
                }
            }
            if result != Tri::False {
                hits.push(Hit { statement: stmt.sref, effect: stmt.effect, class, result });
            }
        }
        keys.finish();
        let ActionPlan { fixed, facts, .. } = plan;
        if identity_only(&self.shape) {
            // The owner matters only when the identity side could allow:
            // many decisions never split the resource ARN.
            let (caller, on_role, refused) = (view.caller(), view.on_role(facts), view.refused(facts));
            combine_identity_only::<O>(
                &self.shape,
                caller,
                on_role,
                refused,
                || view.same_account(),
                facts,
                &fixed.hits,
                hits,
                keys,
            )
        } else {
            combine::<O>(&self.shape, view.situation(&self.shape, facts), facts, fixed, hits, keys)
        }
    }
}

fn resource_match<'r>(m: &ResourceMatcher, view: &impl View<'r>, is_star: bool, tokens: &mut Vec<Token>) -> Tri {
    match m {
        ResourceMatcher::Any => Tri::True,
        ResourceMatcher::Never => Tri::False,
        ResourceMatcher::Arn { header, resource } => {
            if is_star {
                return Tri::False;
            }
            let Some(arn) = view.arn() else { return Tri::False };
            if !header.iter().zip(arn.header()).all(|(g, s)| g.is_match(s, true)) {
                return Tri::False;
            }
            match resource {
                Segment::Static(g) => Tri::from_bool(g.is_match(arn.resource, false)),
                Segment::Template(t) => {
                    let s = t.resolve_into(lookup(view), tokens);
                    status_tri(s, || match_tokens(tokens, arn.resource, false))
                }
            }
        }
    }
}

fn condition<'r>(
    c: &CompiledCondition,
    value: Option<Value<'_>>,
    view: &impl View<'r>,
    tokens: &mut Vec<Token>,
) -> Tri {
    if let Values::Null(want) = &c.values {
        return null_result(want.iter().copied(), value);
    }
    let cmp = c.operator.base.comparison;
    let ordered = |o: std::cmp::Ordering| cmp.accepts(o);
    condition_result(&c.operator, value, |r| {
        Some(match &c.values {
            Values::Str(vs) => any_str(vs, r, cmp, view, tokens),
            Values::Bool(vs) => {
                let rv = parse_bool(r)?;
                any_str(vs, if rv { "true" } else { "false" }, Comparison::EqualsIgnoreCase, view, tokens)
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
                        all = all.and(str_match(seg, part, Comparison::Like, view, tokens));
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

fn any_str<'r>(vs: &[StrValue], r: &str, cmp: Comparison, view: &impl View<'r>, tokens: &mut Vec<Token>) -> Tri {
    let mut any = Tri::False;
    for v in vs {
        any = any.or(str_match(v, r, cmp, view, tokens));
        if any == Tri::True {
            break;
        }
    }
    any
}

fn str_match<'r>(v: &StrValue, r: &str, cmp: Comparison, view: &impl View<'r>, tokens: &mut Vec<Token>) -> Tri {
    match v {
        StrValue::Static(g) => Tri::from_bool(match (cmp, g) {
            (Comparison::EqualsIgnoreCase, crate::engine::compile::glob::Glob::Exact(e)) => {
                e.chars().flat_map(char::to_lowercase).eq(r.chars().flat_map(char::to_lowercase))
            }
            _ => g.is_match(r, false),
        }),
        StrValue::Template(t) => {
            let s = t.resolve_into(lookup(view), tokens);
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
    use crate::engine::policy::{parse_policy, PolicyKind, PolicySet};
    use crate::engine::request::Principal;

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
