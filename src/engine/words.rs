//! Bytes read as little-endian 8-byte words, for the hot-path scans that test
//! a whole word at once (the ARN parser's colon search, the action memo's
//! case-blind hash).

/// The whole 8-byte words of `bytes`, in order; a shorter remainder is left out.
pub(in crate::engine) fn whole_words(bytes: &[u8]) -> impl Iterator<Item = u64> + '_ {
    bytes.chunks_exact(8).map(|chunk| chunk.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w)))
}

/// Up to eight bytes as one word, zero-padded (later bytes are ignored).
pub(in crate::engine) fn padded_word(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    for (w, b) in word.iter_mut().zip(bytes) {
        *w = *b;
    }
    u64::from_le_bytes(word)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_cover_whole_chunks_and_pad_short_input() {
        let words: Vec<u64> = whole_words(b"abcdefghij").collect();
        assert_eq!(words, [u64::from_le_bytes(*b"abcdefgh")]);
        assert_eq!(padded_word(b"ij"), u64::from_le_bytes(*b"ij\0\0\0\0\0\0"));
        assert_eq!(padded_word(b""), 0);
        assert_eq!(padded_word(b"abcdefghij"), u64::from_le_bytes(*b"abcdefgh"));
    }
}
