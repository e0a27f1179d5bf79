//! ARN structure (semantics doc §3.1): `arn:partition:service:region:account:resource`,
//! split on the first five colons; the resource part keeps its own colons.
//!
//! Also the per-policy-kind rule for short ARN patterns (§3.2 rule 6), which both
//! evaluators share.

use super::model::PolicyKind;

/// The six segments of an ARN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`…
    pub partition: &'a str,
    /// Service namespace (`s3`, `iam`…).
    pub service: &'a str,
    /// Region, possibly empty.
    pub region: &'a str,
    /// Account id, possibly empty.
    pub account: &'a str,
    /// Everything after the fifth colon.
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits an ARN; `None` when it does not start with `arn:` or has fewer than six segments.
    pub fn parse(text: &'a str) -> Option<Arn<'a>> {
        // One pass over the bytes for the first five colons (hot path: every
        // decision parses its resource ARN once).
        let rest = text.strip_prefix("arn:")?;
        let [a, b, c, d] = first_four_colons(rest.as_bytes())?;
        Some(Arn {
            partition: rest.get(..a)?,
            service: rest.get(a + 1..b)?,
            region: rest.get(b + 1..c)?,
            account: rest.get(c + 1..d)?,
            resource: rest.get(d + 1..)?,
        })
    }

    /// The four header segments after `arn`.
    pub fn header(&self) -> [&'a str; 4] {
        [self.partition, self.service, self.region, self.account]
    }
}

/// Positions of the first four `:` in `bytes`, eight bytes at a time (the
/// header colons sit in the first few dozen bytes: one word test each instead
/// of a `memchr` call per colon, whose setup dominated at these lengths).
fn first_four_colons(bytes: &[u8]) -> Option<[usize; 4]> {
    if let Some(found) = first_four_colons_in_32(bytes) {
        return Some(found);
    }
    let mut found = [0usize; 4];
    let mut n = 0;
    let rest = bytes.len() % 8;
    for (k, word) in crate::engine::words::whole_words(bytes).enumerate() {
        if colons_into(word, k * 8, &mut found, &mut n)? {
            return Some(found);
        }
    }
    if rest == 0 {
        return None;
    }
    // The tail: the last eight bytes shifted past the ones already scanned
    // (zeros shift in, and zeros are not colons); shorter inputs are padded.
    let tail = match bytes.last_chunk::<8>() {
        Some(last) => u64::from_le_bytes(*last) >> (8 * (8 - rest)),
        None => crate::engine::words::padded_word(bytes),
    };
    if colons_into(tail, bytes.len() - rest, &mut found, &mut n)? {
        return Some(found);
    }
    None
}

/// [`first_four_colons`] when all four are among the first 32 bytes (a
/// partition, service, region and 12-digit account: most ARNs): the four
/// words' colons gathered into one 32-bit mask, then four fixed steps,
/// without a branch that depends on where the colons fall.
fn first_four_colons_in_32(bytes: &[u8]) -> Option<[usize; 4]> {
    // Gathers the top bit of each byte (bit 8i + 7) into bit i of the top byte.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let head = bytes.first_chunk::<32>()?;
    let mut mask = 0u32;
    for (k, word) in crate::engine::words::whole_words(head).enumerate() {
        mask |= (((colon_bytes(word) >> 7).wrapping_mul(GATHER) >> 56) as u32) << (8 * k);
    }
    if mask.count_ones() < 4 {
        return None;
    }
    let mut found = [0usize; 4];
    for slot in &mut found {
        *slot = mask.trailing_zeros() as usize;
        mask &= mask - 1;
    }
    Some(found)
}

/// The top bit (0x80) set in each byte of `word` that is a colon, and no
/// other bit.
#[inline(always)]
fn colon_bytes(word: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    const COLONS: u64 = 0x3a3a_3a3a_3a3a_3a3a;
    // Zero bytes of `v` are the word's colons; exact per byte (no carry
    // crosses a byte boundary).
    let v = word ^ COLONS;
    !(((v & LOW7) + LOW7) | v | LOW7)
}

/// Records the colons of `word` (bytes `at..at + 8`) into `found`; `Some(true)`
/// once four are found.
#[inline(always)]
fn colons_into(word: u64, at: usize, found: &mut [usize; 4], n: &mut usize) -> Option<bool> {
    let mut zeros = colon_bytes(word);
    while zeros != 0 {
        *found.get_mut(*n)? = at + (zeros.trailing_zeros() / 8) as usize;
        *n += 1;
        if *n == found.len() {
            return Some(true);
        }
        zeros &= zeros - 1;
    }
    Some(false)
}

/// An ARN pattern split into its segments, padded per policy kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArnPattern {
    /// partition, service, region, account patterns.
    pub header: [String; 4],
    /// The resource segment pattern (may contain variables).
    pub resource: String,
}

impl ArnPattern {
    /// Splits a pattern that starts with `arn:`. Short patterns (fewer than six
    /// segments) follow §3.2 rule 6: identity, boundary and session policies pad
    /// the missing segments with `*`; resource policies and SCPs pad only when the
    /// last segment ends with `*`; RCPs never. `None` = the pattern matches nothing.
    pub fn parse(pattern: &str, kind: PolicyKind) -> Option<ArnPattern> {
        let mut parts: Vec<&str> = pattern.splitn(6, ':').collect();
        if parts.first() != Some(&"arn") {
            return None;
        }
        if parts.len() < 6 {
            let pad = match kind {
                PolicyKind::Identity | PolicyKind::PermissionsBoundary | PolicyKind::Session => true,
                PolicyKind::Resource | PolicyKind::Scp => parts.last().is_some_and(|p| p.ends_with('*')),
                PolicyKind::Rcp => false,
            };
            if !pad {
                return None;
            }
            parts.resize(6, "*");
        }
        let seg = |i: usize| parts.get(i).copied().unwrap_or("").to_string();
        Some(ArnPattern { header: [seg(1), seg(2), seg(3), seg(4)], resource: seg(5) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colon_scan_agrees_with_a_naive_one() {
        let naive = |b: &[u8]| -> Option<[usize; 4]> {
            let v: Vec<usize> = b.iter().enumerate().filter(|(_, c)| **c == b':').map(|(i, _)| i).take(4).collect();
            v.try_into().ok()
        };
        // Colons from every start, at spacings that put the first four in one
        // word, across words, past the first 32 bytes or fewer than four in
        // them, among neighbours that could fool a word-at-a-time test (';' is
        // ':' ^ 1, 0xba is ':' | 0x80).
        let fillers = [b'a', b';', 0xba, b'9', 0];
        for len in 0..48usize {
            for f in fillers {
                for start in 0..len {
                    for gap in [1, 3, 7, 9, 12] {
                        let mut b = vec![f; len];
                        for (i, slot) in b.iter_mut().enumerate().skip(start) {
                            if (i - start) % gap == 0 {
                                *slot = b':';
                            }
                        }
                        assert_eq!(first_four_colons(&b), naive(&b), "{b:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn splits_on_first_five_colons() {
        let a = Arn::parse("arn:aws:logs:us-east-1:1:log-group:/aws/lambda/fn:log-stream:x").unwrap();
        assert_eq!(a.resource, "log-group:/aws/lambda/fn:log-stream:x");
        assert_eq!(Arn::parse("arn:aws:s3:::b").unwrap().account, "");
        assert!(Arn::parse("arn:aws:s3").is_none());
        assert!(Arn::parse("*").is_none());
    }

    #[test]
    fn short_patterns_per_kind() {
        let p = ArnPattern::parse("arn:aws:sqs:us-east-1", PolicyKind::Identity).unwrap();
        assert_eq!(p.header[3], "*");
        assert_eq!(p.resource, "*");
        assert!(ArnPattern::parse("arn:aws:sqs:us-east-1", PolicyKind::Resource).is_none());
        assert!(ArnPattern::parse("arn:aws:sqs:us-east-*", PolicyKind::Resource).is_some());
        assert!(ArnPattern::parse("arn:aws:sqs:*", PolicyKind::Rcp).is_none());
    }
}
