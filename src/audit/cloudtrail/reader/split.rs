//! Finds the records of a CloudTrail document (`{"Records":[…]}` or `[…]`)
//! by its structure alone, without parsing them: where each element of the
//! `Records` array starts and ends. The reader parses each one on its own,
//! so one bad record (invalid UTF-8, nesting past serde_json's limit, a
//! number out of range) is reported at its index and the next is read,
//! whether the document was read into memory or streamed: both walk the
//! same structure here.
//!
//! Strings are skipped with `memchr` (nearly every byte of a record is in
//! one); brackets are counted, not matched (a record whose brackets do not
//! pair fails its own parse). What this cannot walk (an unterminated
//! string, a missing `,`, trailing text) ends the document there.

/// What scanning a stretch of input found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Scan {
    /// The element (or token) ends just before this offset.
    Done(usize),
    /// The input ends inside it: more may come (a stream), or it is cut short.
    Incomplete,
    /// Not JSON structure: why, and at which offset.
    Bad(&'static str, usize),
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The first offset at or after `i` that is not whitespace.
pub(super) fn skip_space(b: &[u8], mut i: usize) -> usize {
    while b.get(i).copied().is_some_and(is_space) {
        i += 1;
    }
    i
}

/// Skips the string starting at `b[i]` (a `"`).
fn skip_string(b: &[u8], i: usize) -> Scan {
    let mut j = i + 1;
    loop {
        let Some(rest) = b.get(j..) else { return Scan::Incomplete };
        match memchr::memchr2(b'"', b'\\', rest) {
            None => return Scan::Incomplete,
            Some(k) if rest[k] == b'"' => return Scan::Done(j + k + 1),
            // An escape: the next byte is taken whatever it is.
            Some(k) => j += k + 2,
        }
    }
}

/// Skips the JSON value starting at `b[i]` (no whitespace before it).
pub(super) fn skip_value(b: &[u8], i: usize) -> Scan {
    match b.get(i) {
        None => Scan::Incomplete,
        Some(b'"') => skip_string(b, i),
        Some(b'{' | b'[') => skip_nested(b, i),
        Some(b'}' | b']' | b',' | b':') => Scan::Bad("expected a value", i),
        Some(_) => {
            // A number or literal: up to the next delimiter.
            let mut j = i;
            while let Some(&c) = b.get(j) {
                if matches!(c, b',' | b']' | b'}' | b':' | b'"' | b'[' | b'{') || is_space(c) {
                    return Scan::Done(j);
                }
                j += 1;
            }
            Scan::Incomplete
        }
    }
}

/// Skips the object or array starting at `b[i]`, counting brackets.
fn skip_nested(b: &[u8], i: usize) -> Scan {
    let mut depth = 0usize;
    let mut j = i;
    while let Some(&c) = b.get(j) {
        match c {
            b'"' => match skip_string(b, j) {
                Scan::Done(end) => {
                    j = end;
                    continue;
                }
                other => return other,
            },
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Scan::Done(j + 1);
                }
            }
            _ => {}
        }
        j += 1;
    }
    Scan::Incomplete
}

/// After an element that ends at `i`: the offset past its `,` (`Ok(Some)`),
/// or past the array's `]` (`Ok(None)`).
pub(super) fn after_element(b: &[u8], i: usize) -> Result<Option<usize>, Scan> {
    let i = skip_space(b, i);
    match b.get(i) {
        None => Err(Scan::Incomplete),
        Some(b',') => Ok(Some(i + 1)),
        Some(b']') => Ok(None),
        Some(_) => Err(Scan::Bad("expected `,` or `]`", i)),
    }
}

/// Where the document's next `Records` array (or the array that is the
/// document) opens, from offset `i`: the walk over the top level, one step
/// per call. `Ok(Step::Array(at))` is the offset just past a `[` whose
/// elements are records; `Ok(Step::End(at))` the end of the document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Step {
    /// Records start after this offset (just past `[`).
    Array(usize),
    /// The document's value closes just before this offset.
    End(usize),
}

/// Where the top-level walk is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Top {
    /// Before the document.
    Start,
    /// In the top-level object, at offset `.0`, before a member (or `}`);
    /// `.1`: a member has been read already (a `,` must come first).
    Members(usize, bool),
    /// After the array that is the document.
    AfterArray(usize),
}

/// The top level's next step from `at`; `records` is set when a `Records`
/// member is met, `object` when the document is an object.
pub(super) fn next_step(b: &[u8], at: Top, object: &mut bool, records: &mut bool) -> Result<Step, Scan> {
    match at {
        Top::Start => {
            let i = skip_space(b, 0);
            match b.get(i) {
                Some(b'[') => Ok(Step::Array(i + 1)),
                Some(b'{') => {
                    *object = true;
                    next_step(b, Top::Members(i + 1, false), object, records)
                }
                None => Err(Scan::Incomplete),
                Some(_) => {
                    Err(Scan::Bad("expected a CloudTrail log file: {\"Records\": [...]} or an array of events", i))
                }
            }
        }
        Top::AfterArray(i) => end_of_document(b, i),
        Top::Members(mut i, mut after_one) => loop {
            i = skip_space(b, i);
            match (b.get(i), after_one) {
                (None, _) => return Err(Scan::Incomplete),
                (Some(b'}'), _) => return end_of_document(b, i + 1),
                (Some(b','), true) => {
                    i = skip_space(b, i + 1);
                    after_one = false;
                    if b.get(i) == Some(&b'}') {
                        return Err(Scan::Bad("expected a member after `,`", i));
                    }
                    continue;
                }
                (Some(b'"'), false) => {}
                (Some(_), true) => return Err(Scan::Bad("expected `,` or `}`", i)),
                (Some(_), false) => return Err(Scan::Bad("expected a member name", i)),
            }
            let end = match skip_string(b, i) {
                Scan::Done(end) => end,
                other => return Err(other),
            };
            let is_records = member_is_records(&b[i..end]);
            let colon = skip_space(b, end);
            match b.get(colon) {
                None => return Err(Scan::Incomplete),
                Some(b':') => {}
                Some(_) => return Err(Scan::Bad("expected `:`", colon)),
            }
            let value = skip_space(b, colon + 1);
            after_one = true;
            if is_records {
                *records = true;
                return match b.get(value) {
                    None => Err(Scan::Incomplete),
                    Some(b'[') => Ok(Step::Array(value + 1)),
                    Some(_) => Err(Scan::Bad("`Records` is not an array of CloudTrail events", value)),
                };
            }
            i = match skip_value(b, value) {
                Scan::Done(end) => end,
                other => return Err(other),
            };
        },
    }
}

/// Where the top level goes on after a `Records` array that ended at `i`
/// (just past its `]`), given where that array sat.
pub(super) fn after_array(i: usize, object: bool) -> Top {
    if object {
        Top::Members(i, true)
    } else {
        Top::AfterArray(i)
    }
}

/// The document closes at `i`; what follows is checked by the walker.
fn end_of_document(_: &[u8], i: usize) -> Result<Step, Scan> {
    Ok(Step::End(i))
}

/// Whether the quoted member name `quoted` (with its quotes) is `Records`,
/// escapes decoded.
fn member_is_records(quoted: &[u8]) -> bool {
    if quoted == b"\"Records\"" {
        return true;
    }
    quoted.contains(&b'\\') && serde_json::from_slice::<String>(quoted).is_ok_and(|name| name == "Records")
}

/// A resumable walk over a document's records: [`Walker::advance`] hands
/// over each complete element and stops where the input runs out, to go on
/// from there when more has been read (a stream) or report the cut.
#[derive(Clone, Copy, Debug)]
pub(super) struct Walker {
    at: Where,
    /// The document is an object (not an array).
    pub object: bool,
    /// It has a `Records` member.
    pub records: bool,
}

#[derive(Clone, Copy, Debug)]
enum Where {
    Top(Top),
    /// Inside a records array at this offset; `true` before its first element.
    Elements(usize, bool),
    /// After the document's value, at this offset: only whitespace may follow.
    After(usize),
    Finished,
}

impl Walker {
    pub(super) fn new() -> Walker {
        Walker { at: Where::Top(Top::Start), object: false, records: false }
    }

    /// Walks `b` from where the last call stopped, handing each record's
    /// bytes to `emit`. `Ok` at the document's end; `Err(Incomplete)` where
    /// `b` ends first (call again with more, unless `eof`: then the input is
    /// cut short there); `Err(Bad)` where the structure breaks. A record is
    /// handed over once what follows it is there too (so a resumed walk
    /// never hands one over twice), or when the walk ends right after it.
    pub(super) fn advance(&mut self, b: &[u8], eof: bool, emit: &mut dyn FnMut(&[u8])) -> Result<(), Scan> {
        loop {
            match self.at {
                Where::Finished => return Ok(()),
                Where::After(i) => {
                    let j = skip_space(b, i);
                    return match b.get(j) {
                        Some(_) => Err(Scan::Bad("trailing characters after the document", j)),
                        None if eof => {
                            self.at = Where::Finished;
                            Ok(())
                        }
                        None => Err(Scan::Incomplete),
                    };
                }
                Where::Top(top) => match next_step(b, top, &mut self.object, &mut self.records)? {
                    Step::Array(i) => self.at = Where::Elements(i, true),
                    Step::End(i) => self.at = Where::After(i),
                },
                Where::Elements(i, first) => {
                    let start = skip_space(b, i);
                    if first && b.get(start) == Some(&b']') {
                        self.at = Where::Top(after_array(start + 1, self.object));
                        continue;
                    }
                    let end = match skip_value(b, start) {
                        Scan::Done(end) => end,
                        other => return Err(other),
                    };
                    let element = b.get(start..end).unwrap_or_default();
                    match after_element(b, end) {
                        Ok(next) => {
                            emit(element);
                            self.at = match next {
                                Some(next) => Where::Elements(next, false),
                                None => Where::Top(after_array(skip_space(b, end) + 1, self.object)),
                            };
                        }
                        // The walk ends here: the record first, as a parser would.
                        Err(e @ Scan::Bad(..)) => {
                            emit(element);
                            return Err(e);
                        }
                        Err(e) => {
                            if eof {
                                emit(element);
                            }
                            return Err(e);
                        }
                    }
                }
            }
        }
    }

    /// The offset before which the input is no longer needed.
    pub(super) fn needed_from(&self) -> usize {
        match self.at {
            Where::Top(Top::Start) => 0,
            Where::Top(Top::Members(i, _) | Top::AfterArray(i)) | Where::Elements(i, _) | Where::After(i) => i,
            Where::Finished => 0,
        }
    }

    /// Shifts the walk's offsets after the first `by` bytes were dropped.
    pub(super) fn rebase(&mut self, by: usize) {
        self.at = match self.at {
            Where::Top(Top::Members(i, one)) => Where::Top(Top::Members(i - by, one)),
            Where::Top(Top::AfterArray(i)) => Where::Top(Top::AfterArray(i - by)),
            Where::Elements(i, first) => Where::Elements(i - by, first),
            Where::After(i) => Where::After(i - by),
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every element's text, or where the walk stopped and why.
    fn elements(doc: &str) -> (Vec<String>, Option<Scan>) {
        let mut out = Vec::new();
        let result =
            Walker::new().advance(doc.as_bytes(), true, &mut |e| out.push(String::from_utf8_lossy(e).into_owned()));
        (out, result.err())
    }

    /// Fed a byte at a time, dropping what is no longer needed, the walk
    /// finds the same records and stops at the same place.
    #[test]
    fn resumed_walks_find_the_same_records() {
        let docs = [
            r#" {"version": {"a": [1, "]"]}, "Records": [ {"x": "a\"}b"}, 7 , [1,[2]], "s", null ], "z": 1 } "#,
            r#"[{"a":1},{"b":2},{"c":"#,
            r#"{"Records":[1]} x"#,
        ];
        for doc in docs {
            let whole = elements(doc);
            let (mut buf, mut out, mut walker) = (Vec::new(), Vec::new(), Walker::new());
            let mut end = None;
            for (n, byte) in doc.bytes().enumerate() {
                buf.push(byte);
                let eof = n + 1 == doc.len();
                match walker.advance(&buf, eof, &mut |e| out.push(String::from_utf8_lossy(e).into_owned())) {
                    Err(Scan::Incomplete) if !eof => {
                        let by = walker.needed_from();
                        buf.drain(..by);
                        walker.rebase(by);
                    }
                    result => {
                        end = Some(result.err());
                        break;
                    }
                }
            }
            // Bad offsets differ (they are into what was kept): compare the kind.
            let kind = |e: Option<Scan>| {
                e.map(|e| match e {
                    Scan::Bad(why, _) => why,
                    Scan::Incomplete => "incomplete",
                    Scan::Done(_) => "done",
                })
            };
            assert_eq!(out, whole.0, "{doc}");
            assert_eq!(kind(end.flatten()), kind(whole.1), "{doc}");
        }
    }

    #[test]
    fn walks_records_wherever_they_stand() {
        let doc = r#" {"version": {"a": [1, "]"]}, "Records": [ {"x": "a\"}b"}, 7 , [1,[2]], "s", null ], "z": 1 } "#;
        let texts = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(elements(doc), (texts(&[r#"{"x": "a\"}b"}"#, "7", "[1,[2]]", r#""s""#, "null"]), None));
        assert_eq!(elements(r#"[{"a":1},{"b":2}]"#), (texts(&[r#"{"a":1}"#, r#"{"b":2}"#]), None));
        assert_eq!(elements(r#"{"Rec\u006frds":[1]}"#), (texts(&["1"]), None));
        assert_eq!(elements(r#"{"Records":[]}"#), (vec![], None));
        // Two `Records` members: both read, as serde_json reads them.
        assert_eq!(elements(r#"{"Records":[1],"Records":[2]}"#), (texts(&["1", "2"]), None));
    }

    #[test]
    fn stops_where_the_structure_breaks() {
        assert_eq!(elements(r#"[{"a":1},{"b":2},{"c":"#).1, Some(Scan::Incomplete));
        assert_eq!(
            elements(r#"[{"a":1} {"b":2}]"#),
            (vec![r#"{"a":1}"#.to_string()], Some(Scan::Bad("expected `,` or `]`", 9)))
        );
        assert!(matches!(
            elements(r#"{"Records":[1]} x"#).1,
            Some(Scan::Bad("trailing characters after the document", _))
        ));
        assert!(matches!(elements(r#"{"Records":5}"#).1, Some(Scan::Bad(_, 11))));
        assert!(matches!(elements(r#"[1,]"#).1, Some(Scan::Bad("expected a value", 3))));
        assert_eq!(elements(r#"[{"a":"unterminated}]"#).1, Some(Scan::Incomplete));
    }
}
