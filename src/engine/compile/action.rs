//! All `Action`/`NotAction` patterns of a set in one index: exact names in a
//! hash map, wildcard patterns in one multi-pattern regex-automata automaton
//! (lower-cased, anchored), so a request's action is matched against every
//! statement in one pass. Yields the statements whose action element applies.

use super::{CompileError, CompileErrorKind};
use regex_automata::{meta, Anchored, Input, MatchKind, PatternSet};
use std::collections::HashMap;

/// Index from an action name to the statements whose action element applies.
#[derive(Debug)]
pub struct ActionIndex {
    exact: HashMap<Box<str>, u32>,
    wildcard: Option<(meta::Regex, Vec<u32>)>,
    /// Patterns matching every action (`*`).
    universal: Vec<u32>,
    pattern_count: usize,
    /// Pattern id → statements listing it under `Action`.
    positive: Vec<Vec<u32>>,
    /// Statements with `NotAction` and their pattern ids.
    negative: Vec<(u32, Vec<u32>)>,
}

/// Per-thread buffers for [`ActionIndex::candidates`].
#[derive(Debug, Clone)]
pub struct ActionScratch {
    lower: String,
    matched: Vec<bool>,
    matched_ids: Vec<u32>,
    patset: PatternSet,
}

/// Collects patterns before building.
#[derive(Debug, Default)]
pub struct ActionIndexBuilder {
    ids: HashMap<String, u32>,
    positive: Vec<Vec<u32>>,
    negative: Vec<(u32, Vec<u32>)>,
}

impl ActionIndexBuilder {
    fn pattern_id(&mut self, pattern: &str) -> u32 {
        let lower = pattern.to_ascii_lowercase();
        let next = u32::try_from(self.ids.len()).unwrap_or(u32::MAX);
        let id = *self.ids.entry(lower).or_insert(next);
        if id == next {
            self.positive.push(Vec::new());
        }
        id
    }

    /// Registers statement `stmt` with its action patterns.
    pub fn add(&mut self, stmt: u32, patterns: &[String], negated: bool) {
        let ids: Vec<u32> = patterns.iter().map(|p| self.pattern_id(p)).collect();
        if negated {
            self.negative.push((stmt, ids));
        } else {
            for id in ids {
                if let Some(list) = self.positive.get_mut(id as usize) {
                    if list.last() != Some(&stmt) {
                        list.push(stmt);
                    }
                }
            }
        }
    }

    /// Builds the automaton.
    ///
    /// # Errors
    /// When the wildcard automaton exceeds regex-automata's size limits.
    pub fn build(self) -> Result<ActionIndex, CompileError> {
        let mut exact = HashMap::new();
        let mut universal = Vec::new();
        let mut regexes = Vec::new();
        let mut wildcard_ids = Vec::new();
        for (pattern, id) in &self.ids {
            if pattern.chars().all(|c| c == '*') && !pattern.is_empty() {
                universal.push(*id);
            } else if pattern.contains(['*', '?']) {
                // Anchored in the pattern itself, not only by the search's
                // `Anchored::Yes`: on the 1,594 managed policies the meta
                // regex's overlapping search (a strategy that searches back
                // from the `\z` end) let `lambda:*` match inside
                // `s3-object-lambda:GetObject`, so a `NotAction` Deny listing
                // `lambda:*` dropped out (tests/engine.rs).
                let mut re = String::from(r"\A(?s:");
                for c in pattern.chars() {
                    match c {
                        '*' => re.push_str(".*"),
                        '?' => re.push('.'),
                        c => {
                            let mut buf = [0u8; 4];
                            re.push_str(&regex_syntax::escape(c.encode_utf8(&mut buf)));
                        }
                    }
                }
                re.push_str(r")\z");
                regexes.push(re);
                wildcard_ids.push(*id);
            } else {
                exact.insert(pattern.clone().into_boxed_str(), *id);
            }
        }
        let wildcard = if regexes.is_empty() {
            None
        } else {
            let re = meta::Regex::builder()
                // No capture slots: only which patterns match is asked, and
                // slots would make the PikeVM's cache quadratic in the pattern count.
                .configure(
                    meta::Config::new()
                        .match_kind(MatchKind::All)
                        .which_captures(regex_automata::nfa::thompson::WhichCaptures::None)
                        .nfa_size_limit(Some(256 << 20)),
                )
                .syntax(regex_automata::util::syntax::Config::new().unicode(true).utf8(true))
                .build_many(&regexes)
                .map_err(|e| {
                    CompileError::new(CompileErrorKind::AutomatonTooLarge, format!("action automaton: {e}"))
                })?;
            Some((re, wildcard_ids))
        };
        Ok(ActionIndex {
            exact,
            wildcard,
            universal,
            pattern_count: self.ids.len(),
            positive: self.positive,
            negative: self.negative,
        })
    }
}

impl ActionIndex {
    /// Fresh scratch buffers sized for this index.
    pub fn scratch(&self) -> ActionScratch {
        ActionScratch {
            lower: String::new(),
            matched: vec![false; self.pattern_count],
            matched_ids: Vec::new(),
            patset: PatternSet::new(self.wildcard.as_ref().map_or(0, |(re, _)| re.pattern_len())),
        }
    }

    /// Number of distinct patterns.
    pub fn pattern_count(&self) -> usize {
        self.pattern_count
    }

    /// Writes into `out` (sorted, deduplicated) every statement whose
    /// `Action` matches `action` or whose `NotAction` does not.
    pub fn candidates(&self, action: &str, scratch: &mut ActionScratch, out: &mut Vec<u32>) {
        out.clear();
        scratch.lower.clear();
        scratch.lower.push_str(action);
        scratch.lower.make_ascii_lowercase();
        scratch.matched_ids.clear();
        scratch.matched_ids.extend_from_slice(&self.universal);
        if let Some(id) = self.exact.get(scratch.lower.as_str()) {
            scratch.matched_ids.push(*id);
        }
        if let Some((re, ids)) = &self.wildcard {
            scratch.patset.clear();
            re.which_overlapping_matches(
                &Input::new(scratch.lower.as_str()).anchored(Anchored::Yes),
                &mut scratch.patset,
            );
            for pid in scratch.patset.iter() {
                if let Some(id) = ids.get(pid.as_usize()) {
                    scratch.matched_ids.push(*id);
                }
            }
        }
        for id in &scratch.matched_ids {
            if let Some(list) = self.positive.get(*id as usize) {
                out.extend_from_slice(list);
            }
            if let Some(m) = scratch.matched.get_mut(*id as usize) {
                *m = true;
            }
        }
        for (stmt, ids) in &self.negative {
            if !ids.iter().any(|id| scratch.matched.get(*id as usize).copied().unwrap_or(false)) {
                out.push(*stmt);
            }
        }
        for id in &scratch.matched_ids {
            if let Some(m) = scratch.matched.get_mut(*id as usize) {
                *m = false;
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}
