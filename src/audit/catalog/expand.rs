//! Expansion: the concrete catalog actions an `Action`/`NotAction` list
//! grants. Every catalog action is run through the same
//! [`ActionIndex`](crate::engine::compile::action::ActionIndex) automaton evaluation
//! uses, so expansion and evaluation cannot disagree about what a pattern
//! matches.

use super::{ActionId, Catalog};
use crate::engine::compile::action::ActionIndexBuilder;
use crate::engine::compile::CompileError;

impl Catalog {
    /// For each action list (patterns, negated = `NotAction`), the catalog
    /// actions it matches, in catalog order. One automaton for all lists.
    ///
    /// # Errors
    /// When the patterns exceed the automaton's size limits.
    pub fn expand_lists(&self, lists: &[(&[String], bool)]) -> Result<Vec<Vec<ActionId>>, CompileError> {
        let mut builder = ActionIndexBuilder::default();
        for (i, (patterns, negated)) in lists.iter().enumerate() {
            builder.add(u32::try_from(i).unwrap_or(u32::MAX), patterns, *negated);
        }
        let index = builder.build()?;
        let mut scratch = index.scratch();
        let mut hits = Vec::new();
        let mut name = String::new();
        let mut out = vec![Vec::new(); lists.len()];
        // Only services a pattern can reach: a `NotAction` list or a wildcard
        // in a service prefix reaches all of them.
        let reach_all = lists.iter().any(|(patterns, negated)| {
            *negated || patterns.iter().any(|p| p.split_once(':').is_none_or(|(prefix, _)| prefix.contains(['*', '?'])))
        });
        let mut services: Vec<u32> = if reach_all {
            (0..self.services.len()).filter_map(|s| u32::try_from(s).ok()).collect()
        } else {
            lists
                .iter()
                .flat_map(|(patterns, _)| patterns.iter())
                .filter_map(|p| self.service(p.split_once(':')?.0).map(|(s, _)| s))
                .collect()
        };
        services.sort_unstable();
        services.dedup();
        let ids = services.into_iter().flat_map(|s| {
            let count = self.services.get(s as usize).map_or(0, |svc| svc.actions.len());
            (0..count).map(move |a| ActionId { service: s, action: u32::try_from(a).unwrap_or(u32::MAX) })
        });
        for id in ids {
            let (Some(service), Some(action)) = (self.service_of(id), self.action_def(id)) else {
                continue;
            };
            name.clear();
            name.push_str(&service.prefix);
            name.push(':');
            name.push_str(&action.name);
            index.candidates(&name, &mut scratch, &mut hits);
            for list in &hits {
                if let Some(actions) = out.get_mut(*list as usize) {
                    actions.push(id);
                }
            }
        }
        Ok(out)
    }

    /// The catalog actions any of `patterns` matches, in catalog order.
    ///
    /// # Errors
    /// When the patterns exceed the automaton's size limits.
    pub fn expand_patterns(&self, patterns: &[String]) -> Result<Vec<ActionId>, CompileError> {
        Ok(self.expand_lists(&[(patterns, false)])?.pop().unwrap_or_default())
    }
}
