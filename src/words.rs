//! Bytes read eight at a time as little-endian words, the last one padded
//! with zeros. Shared by the hot-path scans that test a whole word at once
//! (the ARN parser's colon search, the action memo's case-blind hash).

/// The words of `bytes`; always ends with one padded word (all zeros when
/// the length is a multiple of eight), built only if the caller gets that far.
pub(crate) fn le_words(bytes: &[u8]) -> LeWords<'_> {
    LeWords { rest: bytes, tail_done: false }
}

/// Iterator of [`le_words`].
pub(crate) struct LeWords<'a> {
    rest: &'a [u8],
    tail_done: bool,
}

impl Iterator for LeWords<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        if let Some((word, rest)) = self.rest.split_first_chunk::<8>() {
            self.rest = rest;
            return Some(u64::from_le_bytes(*word));
        }
        if std::mem::replace(&mut self.tail_done, true) {
            return None;
        }
        let mut tail = [0u8; 8];
        for (t, b) in tail.iter_mut().zip(self.rest) {
            *t = *b;
        }
        Some(u64::from_le_bytes(tail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_cover_the_bytes_and_pad_the_tail() {
        let words: Vec<u64> = le_words(b"abcdefghij").collect();
        assert_eq!(words, [u64::from_le_bytes(*b"abcdefgh"), u64::from_le_bytes(*b"ij\0\0\0\0\0\0")]);
        assert_eq!(le_words(b"abcdefgh").collect::<Vec<_>>(), [u64::from_le_bytes(*b"abcdefgh"), 0]);
        assert_eq!(le_words(b"").collect::<Vec<_>>(), [0]);
    }
}
