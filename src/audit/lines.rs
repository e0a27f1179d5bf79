//! Bounded line reading for the JSON Lines inputs (`eval` requests,
//! CloudTrail Lake exports): a line longer than the bound is skipped to its
//! end without being held in memory, so a hostile input cannot exhaust it.
//!
//! ```
//! use iamsim::audit::lines::{read_line, Line};
//! let mut input = &b"{\"a\":1}\nxxxxxxxxxxxxxxxx\n{}"[..];
//! let mut buf = Vec::new();
//! assert_eq!(read_line(&mut input, &mut buf, 10)?, Line::Kept);
//! assert_eq!(buf, b"{\"a\":1}");
//! assert_eq!(read_line(&mut input, &mut buf, 10)?, Line::TooLong(16)); // not held
//! assert_eq!(read_line(&mut input, &mut buf, 10)?, Line::Kept);
//! assert_eq!(read_line(&mut input, &mut buf, 10)?, Line::End);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::BufRead;

/// The longest line kept, in bytes (16 MiB: far above any request or
/// CloudTrail event, which AWS caps at 256 KB).
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// What [`read_line`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// End of input.
    End,
    /// A line (at the end of the buffer, without its `\n`).
    Kept,
    /// A line longer than the bound, of this many bytes; none of it is kept.
    TooLong(usize),
}

/// Reads the next line into `buf` (cleared first), keeping at most `max` bytes.
///
/// # Errors
/// I/O errors of the input.
pub fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    buf.clear();
    append_line(input, buf, max)
}

/// Reads the next line onto the end of `buf`, keeping at most `max` bytes
/// of it: several lines can be read into one buffer and parsed together.
/// On [`Line::TooLong`] (and on an error) `buf` holds what it held before.
///
/// ```
/// use iamsim::audit::lines::{append_line, Line};
/// let mut input = &b"ab\nxxxxxxxx\ncd"[..];
/// let mut buf = Vec::new();
/// assert_eq!(append_line(&mut input, &mut buf, 4)?, Line::Kept);
/// assert_eq!(append_line(&mut input, &mut buf, 4)?, Line::TooLong(8));
/// assert_eq!(append_line(&mut input, &mut buf, 4)?, Line::Kept);
/// assert_eq!(buf, b"abcd");
/// # Ok::<(), std::io::Error>(())
/// ```
///
/// # Errors
/// I/O errors of the input.
pub fn append_line(input: &mut impl BufRead, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    let start = buf.len();
    let result = append_within(input, buf, start, max);
    if !matches!(result, Ok(Line::Kept)) {
        buf.truncate(start);
    }
    result
}

fn append_within(input: &mut impl BufRead, buf: &mut Vec<u8>, start: usize, max: usize) -> std::io::Result<Line> {
    let mut total = 0usize;
    let mut any = false;
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(match (any, total > max) {
                (false, _) => Line::End,
                (true, true) => Line::TooLong(total),
                (true, false) => Line::Kept,
            });
        }
        any = true;
        let (take, done) = match memchr::memchr(b'\n', chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        total += take;
        if total <= max {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            buf.truncate(start);
        }
        input.consume(if done { take + 1 } else { take });
        if done {
            return Ok(if total > max { Line::TooLong(total) } else { Line::Kept });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_and_reading_goes_on() {
        let text = b"ab\ncdefgh\n\nxy";
        let mut input = std::io::BufReader::with_capacity(2, &text[..]);
        let mut buf = Vec::new();
        let mut seen = Vec::new();
        loop {
            match read_line(&mut input, &mut buf, 4).unwrap() {
                Line::End => break,
                Line::Kept => seen.push(String::from_utf8(buf.clone()).unwrap()),
                Line::TooLong(n) => seen.push(format!("too long: {n}")),
            }
        }
        assert_eq!(seen, ["ab", "too long: 6", "", "xy"]);
    }
}
