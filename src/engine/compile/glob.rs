//! Compiled `*`/`?` patterns: each pattern is sorted once into the cheapest
//! strategy that decides it (globset-style): any, exact, prefix, suffix, or a
//! general token pattern matched without allocating.

use crate::engine::policy::pattern::{tokens, Token};

/// A compiled wildcard pattern.
#[derive(Clone, Debug)]
pub enum Glob {
    /// `*`: matches everything.
    Any,
    /// No wildcard.
    Exact(Box<str>),
    /// `literal*`.
    Prefix(Box<str>),
    /// `*literal`.
    Suffix(Box<str>),
    /// Anything else.
    Tokens(Box<[Token]>),
}

impl Glob {
    /// Compiles a pattern in which `*` and `?` are wildcards.
    pub fn new(pattern: &str) -> Glob {
        let wild = |c: char| c == '*' || c == '?';
        let stars = pattern.matches('*').count();
        if pattern.chars().all(|c| c == '*') && !pattern.is_empty() {
            return Glob::Any;
        }
        if !pattern.contains(wild) {
            return Glob::Exact(pattern.into());
        }
        if !pattern.contains('?') && stars == 1 {
            if let Some(p) = pattern.strip_suffix('*') {
                return Glob::Prefix(p.into());
            }
            if let Some(s) = pattern.strip_prefix('*') {
                return Glob::Suffix(s.into());
            }
        }
        Glob::Tokens(tokens(pattern).into())
    }

    /// Compiles a pattern whose every character is literal.
    pub fn literal(text: &str) -> Glob {
        Glob::Exact(text.into())
    }

    /// Whether `text` matches; `fold` compares ASCII case-insensitively.
    pub fn is_match(&self, text: &str, fold: bool) -> bool {
        let eq = |a: &[u8], b: &[u8]| if fold { a.eq_ignore_ascii_case(b) } else { a == b };
        let t = text.as_bytes();
        match self {
            Glob::Any => true,
            Glob::Exact(e) => eq(e.as_bytes(), t),
            Glob::Prefix(p) => t.get(..p.len()).is_some_and(|h| eq(h, p.as_bytes())),
            Glob::Suffix(s) => t.len() >= s.len() && t.get(t.len() - s.len()..).is_some_and(|h| eq(h, s.as_bytes())),
            Glob::Tokens(tok) => match_tokens(tok, text, fold),
        }
    }
}

/// Anchored wildcard match of `text` against tokens, without allocating.
pub fn match_tokens(pattern: &[Token], text: &str, fold: bool) -> bool {
    let same = |a: char, b: char| if fold { a.eq_ignore_ascii_case(&b) } else { a == b };
    let next_char = |at: usize| text.get(at..).and_then(|s| s.chars().next());
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while let Some(c) = next_char(t) {
        match pattern.get(p) {
            Some(Token::Star) => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(Token::One) => {
                p += 1;
                t += c.len_utf8();
                continue;
            }
            Some(Token::Char(x)) if same(*x, c) => {
                p += 1;
                t += c.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((sp, st)) = star else { return false };
        let skipped = next_char(st).map_or(1, char::len_utf8);
        star = Some((sp, st + skipped));
        p = sp + 1;
        t = st + skipped;
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|x| *x == Token::Star))
}

/// Whether `text` equals the tokens read literally (`*` and `?` as characters).
pub fn tokens_equal(pattern: &[Token], text: &str, fold_unicode: bool) -> bool {
    let lit = pattern.iter().map(|t| match t {
        Token::Char(c) => *c,
        Token::Star => '*',
        Token::One => '?',
    });
    if fold_unicode {
        lit.flat_map(char::to_lowercase).eq(text.chars().flat_map(char::to_lowercase))
    } else {
        lit.eq(text.chars())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::policy::pattern::glob_match;

    #[test]
    fn strategies_agree_with_naive() {
        let pats = ["*", "**", "abc", "abc*", "*abc", "a*c", "a?c", "*a*b*", "", "é*", "?", "a**"];
        let texts = ["", "abc", "abcd", "xabc", "ac", "aXc", "é", "éa", "ab", "a"];
        for p in pats {
            let g = Glob::new(p);
            for t in texts {
                assert_eq!(g.is_match(t, false), glob_match(p, t), "{p:?} vs {t:?} ({g:?})");
            }
        }
        assert!(Glob::new("S3:Get*").is_match("s3:getobject", true));
        assert!(!Glob::new("S3:Get*").is_match("s3:getobject", false));
    }
}
