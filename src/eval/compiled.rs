//! Evaluation over a [`CompiledPolicySet`]: the action automaton narrows the
//! statements to the few whose action element applies, then resource matchers,
//! principal and typed condition predicates run on those only. All buffers live
//! in a per-thread [`Scratch`], so the common case allocates nothing.

use super::decision::{Decision, Hit, KeyReport, PrincipalClass};
use super::logic::{combine, condition_result, null_result, ActionFacts};
use super::principal::principal_class;
use crate::compile::action::ActionScratch;
use crate::compile::condition::{CompiledCondition, StrValue, Values};
use crate::compile::glob::{match_tokens, tokens_equal};
use crate::compile::resource::{ResourceMatcher, Segment};
use crate::compile::CompiledPolicySet;
use crate::policy::pattern::Token;
use crate::policy::values::*;
use crate::policy::variables::{Lookup, Status};
use crate::policy::{Arn, Comparison};
use crate::request::{Request, Tri, Value};

/// Distinct actions remembered per thread before the memo is cleared; bounds
/// memory on adversarial streams of ever-new action names.
const MEMO_LIMIT: usize = 1 << 16;

/// Per-thread memo: lower-cased action → its candidate statements and facts.
/// Real request streams repeat a few hundred actions, so the automaton runs
/// once per distinct action instead of once per request.
#[derive(Debug, Clone, Default)]
struct ActionMemo {
    index: rustc_hash::FxHashMap<Box<str>, u32>,
    entries: Vec<(Box<[u32]>, ActionFacts)>,
}

/// Per-thread mutable buffers for [`CompiledPolicySet::decide`]. Create one per
/// thread (e.g. with rayon's `map_init`) and reuse it for every request.
#[derive(Debug, Clone)]
pub struct Scratch {
    action: ActionScratch,
    candidates: Vec<u32>,
    hits: Vec<Hit>,
    tokens: Vec<Token>,
    lower: String,
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
            lower: String::new(),
            memo: ActionMemo::default(),
        }
    }
}

fn lookup<'a>(req: &'a Request) -> impl Fn(&str) -> Lookup<'a> {
    move |key| match req.lookup(key) {
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
        let Scratch { action, candidates, hits, tokens, lower, memo } = scratch;
        lower.clear();
        lower.push_str(&req.action);
        lower.make_ascii_lowercase();
        let slot = match memo.index.get(lower.as_str()) {
            Some(i) => *i as usize,
            None => {
                if memo.entries.len() >= MEMO_LIMIT {
                    memo.index.clear();
                    memo.entries.clear();
                }
                self.actions.candidates(&req.action, action, candidates);
                memo.entries.push((candidates.as_slice().into(), ActionFacts::of(lower)));
                let i = memo.entries.len() - 1;
                memo.index.insert(lower.as_str().into(), u32::try_from(i).unwrap_or(u32::MAX));
                i
            }
        };
        let Some((candidates, facts)) = memo.entries.get(slot) else {
            return combine(
                &self.shape,
                req,
                req.resource_account(),
                &ActionFacts::of(&req.action),
                &[],
                KeyReport::default(),
            );
        };
        hits.clear();
        let mut keys = KeyReport::default();
        let arn = Arn::parse(&req.resource);
        let resource_is_star = req.resource == "*";
        for id in candidates.iter() {
            let Some(stmt) = self.statements.get(*id as usize) else { continue };
            let resource = match &stmt.resources {
                None => Tri::True,
                Some((negated, matchers)) => {
                    let mut any = Tri::False;
                    for m in matchers.iter() {
                        any = any.or(resource_match(m, arn.as_ref(), resource_is_star, req, tokens));
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
            let class = match &stmt.principal {
                None => PrincipalClass::Direct,
                Some(spec) => match principal_class(spec, req, stmt.effect, self.shape.has_boundary) {
                    Some(c) => c,
                    None => continue,
                },
            };
            let mut result = resource;
            for c in stmt.conditions.iter() {
                let value = req.lookup(&c.key_name);
                keys.note(c.key, value);
                result = result.and(condition(c, value, req, tokens));
            }
            for (key, name) in stmt.variables.iter() {
                keys.note(*key, req.lookup(name));
            }
            if result != Tri::False {
                hits.push(Hit { statement: stmt.sref, effect: stmt.effect, class, result });
            }
        }
        keys.finish();
        combine(&self.shape, req, req.resource_account_given(arn.as_ref()), facts, hits, keys)
    }
}

fn resource_match(
    m: &ResourceMatcher,
    arn: Option<&Arn<'_>>,
    is_star: bool,
    req: &Request,
    tokens: &mut Vec<Token>,
) -> Tri {
    match m {
        ResourceMatcher::Any => Tri::True,
        ResourceMatcher::Never => Tri::False,
        ResourceMatcher::Arn { header, resource } => {
            let Some(arn) = arn.filter(|_| !is_star) else { return Tri::False };
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
