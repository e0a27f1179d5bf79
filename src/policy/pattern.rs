//! IAM wildcard patterns: `*` matches any run of characters (including none),
//! `?` exactly one character, everything else itself; matching is anchored.
//!
//! This is the deliberately naive matcher (a textbook backtracking loop over
//! characters) that the reference evaluator uses and the compiled matchers are
//! checked against. Also home of [`Token`], the shared representation of a
//! pattern after policy variables are resolved.

/// One element of a resolved pattern.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Token {
    /// A literal character (a `*` produced by `${*}` or a variable value is literal).
    Char(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
}

/// Tokenises a pattern with no variables: `*` and `?` are wildcards.
pub fn tokens(pattern: &str) -> Vec<Token> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Token::Star,
            '?' => Token::One,
            c => Token::Char(c),
        })
        .collect()
}

/// Whether `text` matches the whole of `pattern` (`*`/`?` wildcards).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    tokens_match(&tokens(pattern), text, false)
}

/// Whether `text` matches the token pattern; `fold` compares ASCII case-insensitively.
pub fn tokens_match(pattern: &[Token], text: &str, fold: bool) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0usize, 0usize);
    // Last `*` seen and the text position it is currently absorbing up to.
    let mut backtrack: Option<(usize, usize)> = None;
    let same = |a: char, b: char| if fold { a.eq_ignore_ascii_case(&b) } else { a == b };
    while t < text.len() {
        match (pattern.get(p), text.get(t)) {
            (Some(Token::Star), _) => {
                backtrack = Some((p, t));
                p += 1;
            }
            (Some(Token::One), Some(_)) => {
                p += 1;
                t += 1;
            }
            (Some(Token::Char(c)), Some(x)) if same(*c, *x) => {
                p += 1;
                t += 1;
            }
            _ => match backtrack {
                Some((bp, bt)) => {
                    backtrack = Some((bp, bt + 1));
                    p = bp + 1;
                    t = bt + 1;
                }
                None => return false,
            },
        }
    }
    pattern.get(p..).is_some_and(|rest| rest.iter().all(|tok| *tok == Token::Star))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_table() {
        let t = [
            ("*", "", true),
            ("*", "abc", true),
            ("a*c", "abc", true),
            ("a*c", "ac", true),
            ("a*c", "ab", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("iam:*AccessKey*", "iam:ListAccessKeys", true),
            ("s3:Get", "s3:GetObject", false),
            ("b/*/test/*", "b/1/2/test/x.jpg", true),
            ("b/*/test/*", "b//test/x", true),
            ("b/*/test/*", "b/test/x.jpg", false),
            ("log-20??", "log-2024", true),
            ("log-20??", "log-202", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b", "xxaxxbxxb", true),
            ("?", "é", true),
        ];
        for (p, s, want) in t {
            assert_eq!(glob_match(p, s), want, "{p} vs {s}");
        }
        assert!(tokens_match(&tokens("S3:get*"), "s3:GetObject", true));
        assert!(!tokens_match(&[Token::Char('*')], "x", false));
    }
}
