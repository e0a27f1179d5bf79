//! Policy variables (semantics doc §6): `${aws:username}`, tag keys,
//! defaults `${key, 'fallback'}` and the escapes `${*}` `${?}` `${$}`.
//!
//! A pattern string becomes a [`Template`] of pieces; resolving it against a
//! request gives the [`Token`]s that the wildcard matchers take. Only active
//! under Version 2012-10-17; otherwise the text is taken literally (wildcards
//! still apply).

use super::pattern::Token;

/// One piece of a template.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Piece {
    /// Pattern text: `*` and `?` are wildcards.
    Glob(String),
    /// Literal text (from `${*}`, `${?}`, `${$}`): no wildcards.
    Literal(String),
    /// A variable: the lower-cased key name and an optional default.
    Var {
        /// Lower-cased, trimmed key name.
        key: String,
        /// The default used when the key is absent.
        default: Option<String>,
    },
}

/// A pattern split into glob text, literals and variables.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Template {
    /// The pieces in order.
    pub pieces: Vec<Piece>,
}

/// What a variable lookup found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// A single value.
    Value(&'a str),
    /// Absent, or multi-valued (which cannot be substituted).
    Missing,
    /// The request does not know (replay).
    Unknown,
}

/// The outcome of resolving a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolved {
    /// Every variable resolved.
    Tokens(Vec<Token>),
    /// Some variable had no value and no default.
    Missing,
    /// Some variable was unknown.
    Unknown,
}

impl Template {
    /// Splits `text`; with `variables` false the whole text is one glob piece.
    pub fn parse(text: &str, variables: bool) -> Template {
        if !variables || !text.contains("${") {
            return Template { pieces: vec![Piece::Glob(text.to_string())] };
        }
        let mut pieces = Vec::new();
        let mut glob = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            let (before, after) = rest.split_at(start);
            glob.push_str(before);
            let inner_and_tail = after.get(2..).unwrap_or("");
            let Some(end) = inner_and_tail.find('}') else {
                // Unterminated `${` is literal text.
                glob.push_str(after);
                rest = "";
                break;
            };
            let inner = inner_and_tail.get(..end).unwrap_or("");
            rest = inner_and_tail.get(end + 1..).unwrap_or("");
            let piece = match inner {
                "*" | "?" | "$" => Piece::Literal(inner.to_string()),
                _ => parse_var(inner),
            };
            if !glob.is_empty() {
                pieces.push(Piece::Glob(std::mem::take(&mut glob)));
            }
            pieces.push(piece);
        }
        glob.push_str(rest);
        if !glob.is_empty() {
            pieces.push(Piece::Glob(glob));
        }
        Template { pieces }
    }

    /// Whether any piece is a variable.
    pub fn has_variables(&self) -> bool {
        self.pieces.iter().any(|p| matches!(p, Piece::Var { .. }))
    }

    /// The keys of the variables, lower-cased.
    pub fn variable_keys(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Var { key, .. } => Some(key.as_str()),
            _ => None,
        })
    }

    /// Resolves the variables with `lookup` (given lower-cased key names).
    /// Resolved values are literal: a `*` in a tag value is not a wildcard (Appendix A-13).
    pub fn resolve<'a>(&self, lookup: impl Fn(&str) -> Lookup<'a>) -> Resolved {
        let mut out = Vec::new();
        match self.resolve_into(lookup, &mut out) {
            Status::Resolved => Resolved::Tokens(out),
            Status::Missing => Resolved::Missing,
            Status::Unknown => Resolved::Unknown,
        }
    }
}

impl Template {
    /// Like [`Template::resolve`], writing into a reused buffer (no allocation
    /// once `out` has grown): the hot path of the compiled engine. Both
    /// evaluators share this one definition of substitution (§6); the corpus
    /// cases pin its semantics.
    pub fn resolve_into<'a>(&self, lookup: impl Fn(&str) -> Lookup<'a>, out: &mut Vec<Token>) -> Status {
        out.clear();
        let mut unknown = false;
        for piece in &self.pieces {
            match piece {
                Piece::Glob(g) => out.extend(g.chars().map(|c| match c {
                    '*' => Token::Star,
                    '?' => Token::One,
                    c => Token::Char(c),
                })),
                Piece::Literal(l) => out.extend(l.chars().map(Token::Char)),
                Piece::Var { key, default } => match (lookup(key), default) {
                    (Lookup::Value(v), _) => out.extend(v.chars().map(Token::Char)),
                    (Lookup::Missing, Some(d)) => out.extend(d.chars().map(Token::Char)),
                    (Lookup::Missing, None) => return Status::Missing,
                    (Lookup::Unknown, _) => unknown = true,
                },
            }
        }
        if unknown {
            Status::Unknown
        } else {
            Status::Resolved
        }
    }
}

/// The outcome of [`Template::resolve_into`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Every variable resolved; the tokens are in the buffer.
    Resolved,
    /// Some variable had no value and no default.
    Missing,
    /// Some variable was unknown.
    Unknown,
}

/// `name` or `name, 'default'` (the documented form has one space after the comma).
fn parse_var(inner: &str) -> Piece {
    if let Some((name, rest)) = inner.split_once(',') {
        let rest = rest.trim();
        if let Some(default) = rest.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')) {
            return Piece::Var { key: name.trim().to_ascii_lowercase(), default: Some(default.to_string()) };
        }
    }
    Piece::Var { key: inner.trim().to_ascii_lowercase(), default: None }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::policy::pattern::tokens_match;

    fn resolve(t: &str, user: Option<&str>) -> Resolved {
        Template::parse(t, true).resolve(|k| match (k, user) {
            ("aws:username", Some(u)) => Lookup::Value(u),
            ("aws:sourceip", _) => Lookup::Unknown,
            _ => Lookup::Missing,
        })
    }

    #[test]
    fn substitutes_and_escapes() {
        let Resolved::Tokens(t) = resolve("home/${aws:username}/*", Some("alice")) else { panic!() };
        assert!(tokens_match(&t, "home/alice/x", false));
        assert!(!tokens_match(&t, "home/bob/x", false));
        assert_eq!(resolve("home/${aws:username}/*", None), Resolved::Missing);
        assert_eq!(resolve("${aws:SourceIp}", None), Resolved::Unknown);
        let Resolved::Tokens(t) = resolve("b/${*}", None) else { panic!() };
        assert!(tokens_match(&t, "b/*", false) && !tokens_match(&t, "b/abc", false));
        let Resolved::Tokens(t) = resolve("team-${aws:PrincipalTag/team, 'shared'}", None) else { panic!() };
        assert!(tokens_match(&t, "team-shared", false));
        let Resolved::Tokens(t) = resolve("x-${aws:username}", Some("a*")) else { panic!() };
        assert!(!tokens_match(&t, "x-abc", false), "resolved values are literal");
    }

    #[test]
    fn literal_when_disabled_or_unterminated() {
        assert!(!Template::parse("b/${aws:username}/*", false).has_variables());
        let t = Template::parse("b/${oops", true);
        assert_eq!(t.pieces, vec![Piece::Glob("b/${oops".into())]);
    }
}
