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

/// Pairs of positions past which [`patterns_intersect`] and
/// [`pattern_covers`] give their cautious answer instead of deciding: both
/// take time in the product of the two lengths (memory in one of them), and
/// policies are hostile input. 10^8 steps is well under a second; real
/// patterns are a few hundred characters.
pub const MAX_PATTERN_PAIRS: usize = 100_000_000;

/// Whether some string matches both patterns (`*`/`?` wildcards, exact
/// characters): a search over the product of the two patterns' positions,
/// row by row (memory linear in `b`). Used to ask whether a policy's
/// resource pattern can name a resource of a type whose ARN format is given
/// as a pattern; past [`MAX_PATTERN_PAIRS`] the answer is the cautious
/// `true` (the pattern may name one), so no finding is ever made up.
pub fn patterns_intersect(a: &[Token], b: &[Token]) -> bool {
    if a.len().saturating_mul(b.len()) > MAX_PATTERN_PAIRS {
        return true;
    }
    let compatible = |x: &Token, y: &Token| match (x, y) {
        (Token::Char(c), Token::Char(d)) => c == d,
        _ => true,
    };
    // cur[j]: position (i, j) is reachable. Every move keeps or advances
    // both positions, so each row is done left to right, then the next.
    let mut cur = vec![false; b.len() + 1];
    let mut next = vec![false; b.len() + 1];
    if let Some(first) = cur.first_mut() {
        *first = true;
    }
    for i in 0..=a.len() {
        let x = a.get(i);
        // Moves within the row: `b`'s star matches nothing, or `a`'s star
        // absorbs one of `b`'s characters.
        for j in 0..b.len() {
            let Some(y) = b.get(j) else { break };
            let stays = *y == Token::Star || x.is_some_and(|x| *x == Token::Star && compatible(x, y));
            if stays && cur.get(j).copied().unwrap_or(false) {
                if let Some(next) = cur.get_mut(j + 1) {
                    *next = true;
                }
            }
        }
        if x.is_none() {
            return cur.last().copied().unwrap_or(false);
        }
        // Moves to the next row: `a`'s star matches nothing, or a character
        // of `a` meets a compatible token of `b`.
        next.fill(false);
        for j in 0..=b.len() {
            if !cur.get(j).copied().unwrap_or(false) {
                continue;
            }
            let Some(x) = x else { break };
            if *x == Token::Star {
                if let Some(n) = next.get_mut(j) {
                    *n = true;
                }
            } else if let Some(y) = b.get(j).filter(|y| compatible(x, y)) {
                let to = if *y == Token::Star { j } else { j + 1 };
                if let Some(n) = next.get_mut(to) {
                    *n = true;
                }
            }
        }
        std::mem::swap(&mut cur, &mut next);
    }
    false
}

/// Whether every string `specific` matches is matched by `general`, decided
/// syntactically: `general`'s `*` absorbs any run of `specific`'s tokens, its
/// `?` one non-star token, its characters only the same character. Sound (a
/// `true` is always right); a `false` can be too cautious for contrived pairs
/// such as `a*` vs `a*a*`, which only ever reports more new access, never
/// less. Row by row (memory linear in `specific`); past
/// [`MAX_PATTERN_PAIRS`] the cautious `false`.
pub fn pattern_covers(general: &[Token], specific: &[Token]) -> bool {
    if general.len().saturating_mul(specific.len()) > MAX_PATTERN_PAIRS {
        return false;
    }
    // prev[j]: general[..i-1] can produce specific[..j]; row[j] the same for i.
    let mut prev = vec![false; specific.len() + 1];
    let mut row = vec![false; specific.len() + 1];
    if let Some(first) = prev.first_mut() {
        *first = true;
    }
    for g in general {
        for j in 0..=specific.len() {
            let s = j.checked_sub(1).and_then(|k| specific.get(k));
            let up = prev.get(j).copied().unwrap_or(false);
            let diag = j.checked_sub(1).and_then(|k| prev.get(k)).copied().unwrap_or(false);
            let left = j.checked_sub(1).and_then(|k| row.get(k)).copied().unwrap_or(false);
            let cell = match (g, s) {
                (Token::Star, s) => up || (s.is_some() && left),
                (g, Some(s)) => {
                    let same = match (g, s) {
                        (Token::One, Token::Star) => false,
                        (Token::One, _) => true,
                        (Token::Char(c), Token::Char(d)) => c == d,
                        _ => false,
                    };
                    same && diag
                }
                _ => false,
            };
            if let Some(slot) = row.get_mut(j) {
                *slot = cell;
            }
        }
        std::mem::swap(&mut prev, &mut row);
    }
    prev.last().copied().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The full-table versions these replaced, kept as the oracle.
    fn intersect_table(a: &[Token], b: &[Token]) -> bool {
        let width = b.len() + 1;
        let mut seen = vec![false; (a.len() + 1) * width];
        let mut stack = vec![(0usize, 0usize)];
        while let Some((i, j)) = stack.pop() {
            let Some(slot) = seen.get_mut(i * width + j) else { continue };
            if *slot {
                continue;
            }
            *slot = true;
            let (x, y) = (a.get(i), b.get(j));
            if x.is_none() && y.is_none() {
                return true;
            }
            // A star may match nothing.
            if x == Some(&Token::Star) {
                stack.push((i + 1, j));
            }
            if y == Some(&Token::Star) {
                stack.push((i, j + 1));
            }
            // Or both consume one common character.
            if let (Some(x), Some(y)) = (x, y) {
                let compatible = match (x, y) {
                    (Token::Char(c), Token::Char(d)) => c == d,
                    _ => true,
                };
                if compatible {
                    let next_i = if *x == Token::Star { i } else { i + 1 };
                    let next_j = if *y == Token::Star { j } else { j + 1 };
                    if (next_i, next_j) != (i, j) {
                        stack.push((next_i, next_j));
                    }
                }
            }
        }
        false
    }

    fn covers_table(general: &[Token], specific: &[Token]) -> bool {
        let width = specific.len() + 1;
        // reach[i][j]: general[..i] can produce specific[..j].
        let mut reach = vec![false; (general.len() + 1) * width];
        if let Some(first) = reach.first_mut() {
            *first = true;
        }
        for i in 0..=general.len() {
            for j in 0..=specific.len() {
                if i == 0 && j == 0 {
                    continue;
                }
                let cell = match (
                    i.checked_sub(1).and_then(|k| general.get(k)),
                    j.checked_sub(1).and_then(|k| specific.get(k)),
                ) {
                    (Some(Token::Star), s) => {
                        let skip = reach.get((i - 1) * width + j).copied().unwrap_or(false);
                        let absorb = s.is_some() && reach.get(i * width + j - 1).copied().unwrap_or(false);
                        skip || absorb
                    }
                    (Some(g), Some(s)) => {
                        let same = match (g, s) {
                            (Token::One, Token::Star) => false,
                            (Token::One, _) => true,
                            (Token::Char(c), Token::Char(d)) => c == d,
                            _ => false,
                        };
                        same && reach.get((i - 1) * width + j - 1).copied().unwrap_or(false)
                    }
                    _ => false,
                };
                if let Some(slot) = reach.get_mut(i * width + j) {
                    *slot = cell;
                }
            }
        }
        reach.last().copied().unwrap_or(false)
    }

    /// Every pair of patterns of up to three tokens over `a`, `b`, `*`, `?`:
    /// the row-by-row answers are the full-table ones, and an intersection
    /// has a witness string (and only then).
    #[test]
    fn row_by_row_equals_the_full_tables() {
        let alphabet = ["a", "b", "*", "?"];
        let mut patterns = vec![String::new()];
        for _ in 0..3 {
            let last: Vec<String> =
                patterns.iter().filter(|p| p.len() == patterns.last().map_or(0, |l| l.len())).cloned().collect();
            patterns.extend(last.iter().flat_map(|p| alphabet.iter().map(move |c| format!("{p}{c}"))));
        }
        let mut strings = vec![String::new()];
        for len in 0..8 {
            let last: Vec<String> = strings.iter().filter(|s| s.len() == len).cloned().collect();
            strings.extend(last.iter().flat_map(|s| ["a", "b"].iter().map(move |c| format!("{s}{c}"))));
        }
        for a in &patterns {
            for b in &patterns {
                let (ta, tb) = (tokens(a), tokens(b));
                assert_eq!(patterns_intersect(&ta, &tb), intersect_table(&ta, &tb), "{a:?} {b:?}");
                assert_eq!(pattern_covers(&ta, &tb), covers_table(&ta, &tb), "{a:?} {b:?}");
                let witness = strings.iter().any(|s| glob_match(a, s) && glob_match(b, s));
                assert_eq!(patterns_intersect(&ta, &tb), witness, "{a:?} {b:?}");
            }
        }
        // Long patterns: memory linear in one of them.
        let long = tokens(&format!("arn:aws:s3:::{}*", "x".repeat(20_000)));
        assert!(pattern_covers(&tokens("arn:aws:s3:::*"), &long));
        assert!(patterns_intersect(&long, &tokens("arn:aws:s3:::x*")));
    }

    #[test]
    fn intersection_table() {
        let t = [
            ("arn:aws:s3:::*", "arn:*:s3:::*/*", true),
            ("arn:aws:s3:::bucket", "arn:*:s3:::*/*", false),
            ("arn:aws:s3:::bucket/*", "arn:*:s3:::*", true),
            ("instance/*", "volume/*", false),
            ("abc*", "abd*", false),
            ("arn:aws:ec2:*:*:*", "arn:*:ec2:*:*:volume/*", true),
            ("a?c", "*b*", true),
            ("abc", "abd", false),
            ("", "*", true),
            ("", "?", false),
        ];
        for (a, b, want) in t {
            assert_eq!(patterns_intersect(&tokens(a), &tokens(b)), want, "{a} ∩ {b}");
            assert_eq!(patterns_intersect(&tokens(b), &tokens(a)), want, "{b} ∩ {a}");
        }
    }

    #[test]
    fn coverage_table() {
        let t = [
            ("*", "anything*", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b/x/*", true),
            ("arn:aws:s3:::b/*", "arn:aws:s3:::b", false),
            ("arn:aws:s3:::b/?", "arn:aws:s3:::b/*", false),
            ("a?c", "abc", true),
            ("abc", "a?c", false),
            ("ec2:*", "ec2:Describe*", true),
            ("ec2:Describe*", "ec2:*", false),
        ];
        for (g, s, want) in t {
            assert_eq!(pattern_covers(&tokens(g), &tokens(s)), want, "{g} ⊇ {s}");
        }
    }

    /// Both decisions agree with brute force over short strings.
    #[test]
    fn algebra_agrees_with_enumeration() {
        let alphabet = ['a', 'b'];
        let mut strings = vec![String::new()];
        for len in 1..=4 {
            let mut next = Vec::new();
            for s in strings.iter().filter(|s| s.len() == len - 1) {
                for c in alphabet {
                    next.push(format!("{s}{c}"));
                }
            }
            strings.extend(next);
        }
        let patterns = ["*", "a*", "*a", "a?", "?", "ab", "*b*", "a*b", "??", "b*a*"];
        for p in patterns {
            for q in patterns {
                let (tp, tq) = (tokens(p), tokens(q));
                let both = strings.iter().any(|s| glob_match(p, s) && glob_match(q, s));
                // Strings up to length 4 witness every intersection of these short patterns.
                assert_eq!(patterns_intersect(&tp, &tq), both, "{p} ∩ {q}");
                if pattern_covers(&tp, &tq) {
                    assert!(strings.iter().all(|s| !glob_match(q, s) || glob_match(p, s)), "{p} ⊇ {q} claimed");
                }
            }
        }
    }

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
