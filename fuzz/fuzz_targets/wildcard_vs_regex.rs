//! The IAM wildcard matchers (naive reference and compiled strategies) against
//! an independently built regex: `*` = `.*`, `?` = `.`, everything else literal.
#![no_main]
use iamsim::engine::compile::glob::Glob;
use iamsim::engine::policy::pattern::glob_match;
use libfuzzer_sys::{fuzz_target, Corpus};

fuzz_target!(|input: (&str, &str)| -> Corpus {
    let (pattern, text) = input;
    if pattern.len() > 64 || text.len() > 256 {
        return Corpus::Reject;
    }
    let mut re = String::from("(?s)^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push('$');
    let want = regex::Regex::new(&re).unwrap().is_match(text);
    assert_eq!(glob_match(pattern, text), want, "naive: {pattern:?} vs {text:?}");
    assert_eq!(Glob::new(pattern).is_match(text, false), want, "compiled: {pattern:?} vs {text:?}");
    Corpus::Keep
});
