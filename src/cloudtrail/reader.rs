//! Streaming CloudTrail readers: log files as CloudTrail writes them to S3
//! (`{"Records":[…]}`, `.json` or `.json.gz`), whole S3-layout folder trees,
//! JSON arrays of events, JSON Lines (CloudTrail Lake / Athena exports) and
//! stdin. Records are handed over one at a time (memory bounded by one record,
//! not by the file); nothing is dropped: a malformed record, line or file tail
//! becomes a [`Item::Malformed`] with its file and position.

use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Where an item came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The file (or `<stdin>`).
    pub file: String,
    /// 0-based index of the record within the file.
    pub index: usize,
    /// 1-based line, for JSON Lines input.
    pub line: Option<usize>,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(l) => write!(f, "{}:{l}", self.file),
            None => write!(f, "{} record {}", self.file, self.index),
        }
    }
}

/// One thing read from the input.
#[derive(Debug)]
pub enum Item {
    /// A record that is a JSON object.
    Event(Location, serde_json::Value),
    /// Something that could not be read as an event; counted, never dropped.
    Malformed(Location, String),
}

/// The log files under `paths` (files as given; folders walked recursively for
/// `*.json`, `*.json.gz`, `*.jsonl`, `*.jsonl.gz`, `*.ndjson`), sorted. `-` is stdin.
///
/// # Errors
/// A path that does not exist or a folder that cannot be read.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" || p.is_file() {
            out.push(p.clone());
        } else if p.is_dir() {
            walk(p, &mut out)?;
        } else {
            return Err(format!("{}: no such file or folder", p.display()));
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: cannot read folder: {e}", dir.display()))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            walk(&p, out)?;
        } else {
            let name = p.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
            if [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson"].iter().any(|s| name.ends_with(s)) {
                out.push(p);
            }
        }
    }
    Ok(())
}

/// Reads one file (or stdin for `-`), gunzipping `.gz`, and hands every record
/// to `sink`.
///
/// # Errors
/// Only when the file cannot be opened; problems inside it become [`Item::Malformed`].
pub fn read_file(path: &Path, sink: &mut dyn FnMut(Item)) -> Result<(), String> {
    let name = if path.as_os_str() == "-" { "<stdin>".to_string() } else { path.display().to_string() };
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(path).map_err(|e| format!("{name}: cannot read: {e}"))?)
    };
    let gz = path.to_string_lossy().to_ascii_lowercase().ends_with(".gz");
    let reader: Box<dyn Read> = if gz { Box::new(flate2::read::MultiGzDecoder::new(raw)) } else { raw };
    read_stream(BufReader::with_capacity(1 << 20, reader), &name, sink);
    Ok(())
}

/// Reads records from any buffered stream, detecting the format from its first bytes.
pub fn read_stream(mut input: impl BufRead, name: &str, sink: &mut dyn FnMut(Item)) {
    let head: Vec<u8> = match input.fill_buf() {
        Ok(b) => b.iter().copied().skip_while(|c| c.is_ascii_whitespace()).take(32).collect(),
        Err(e) => {
            sink(Item::Malformed(
                Location { file: name.to_string(), index: 0, line: None },
                format!("read error: {e}"),
            ));
            return;
        }
    };
    let after_brace: Vec<u8> = head.iter().copied().skip(1).skip_while(|c| c.is_ascii_whitespace()).collect();
    if head.first() == Some(&b'[') || (head.first() == Some(&b'{') && after_brace.starts_with(b"\"Records\"")) {
        read_document(input, name, sink);
    } else {
        read_lines(input, name, sink);
    }
}

/// `{"Records":[…]}` or `[…]`, streamed element by element.
fn read_document(input: impl Read, name: &str, sink: &mut dyn FnMut(Item)) {
    let mut state = Records { name, index: 0, sink };
    let mut de = serde_json::Deserializer::from_reader(input);
    let result = serde::Deserializer::deserialize_any(&mut de, TopVisitor(&mut state)).and_then(|()| de.end());
    if let Err(e) = result {
        let at = Location { file: name.to_string(), index: state.index, line: None };
        (state.sink)(Item::Malformed(at, format!("malformed or truncated after {} records: {e}", state.index)));
    }
}

struct Records<'a, 'b> {
    name: &'a str,
    index: usize,
    sink: &'b mut dyn FnMut(Item),
}

impl Records<'_, '_> {
    fn push(&mut self, v: serde_json::Value) {
        let at = Location { file: self.name.to_string(), index: self.index, line: None };
        self.index += 1;
        if v.is_object() {
            (self.sink)(Item::Event(at, v));
        } else {
            (self.sink)(Item::Malformed(
                at,
                format!("record is not a JSON object but {}", crate::policy::json::value_type_name(&v)),
            ));
        }
    }
}

struct TopVisitor<'s, 'a, 'b>(&'s mut Records<'a, 'b>);

impl<'de> Visitor<'de> for TopVisitor<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail log file: {\"Records\": [...]} or an array of events")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                map.next_value_seed(SeqSeed(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        SeqVisitor(self.0).visit_seq(seq)
    }
}

struct SeqSeed<'s, 'a, 'b>(&'s mut Records<'a, 'b>);

impl<'de> DeserializeSeed<'de> for SeqSeed<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(SeqVisitor(self.0))
    }
}

struct SeqVisitor<'s, 'a, 'b>(&'s mut Records<'a, 'b>);

impl<'de> Visitor<'de> for SeqVisitor<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element::<serde_json::Value>()? {
            self.0.push(v);
        }
        Ok(())
    }
}

/// JSON Lines: one event per line; a bad line is reported and reading goes on.
fn read_lines(mut input: impl BufRead, name: &str, sink: &mut dyn FnMut(Item)) {
    let mut buf = Vec::new();
    let (mut line_no, mut index) = (0usize, 0usize);
    loop {
        let line = match crate::lines::read_line(&mut input, &mut buf, crate::lines::MAX_LINE_BYTES) {
            Ok(crate::lines::Line::End) => return,
            Ok(line) => line,
            Err(e) => {
                sink(Item::Malformed(
                    Location { file: name.to_string(), index, line: Some(line_no + 1) },
                    format!("read error: {e}"),
                ));
                return;
            }
        };
        line_no += 1;
        if let crate::lines::Line::TooLong(n) = line {
            sink(Item::Malformed(
                Location { file: name.to_string(), index, line: Some(line_no) },
                format!("line of {n} bytes is over the {} MiB limit", crate::lines::MAX_LINE_BYTES >> 20),
            ));
            index += 1;
            continue;
        }
        if buf.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let at = Location { file: name.to_string(), index, line: Some(line_no) };
        index += 1;
        match serde_json::from_slice::<serde_json::Value>(&buf) {
            Ok(v) if v.is_object() => sink(Item::Event(at, v)),
            Ok(v) => sink(Item::Malformed(
                at,
                format!("line is not a JSON object but {}", crate::policy::json::value_type_name(&v)),
            )),
            Err(e) => sink(Item::Malformed(at, format!("invalid JSON: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (usize, Vec<String>) {
        let (mut events, mut bad) = (0, Vec::new());
        read_stream(text.as_bytes(), "t", &mut |item| match item {
            Item::Event(..) => events += 1,
            Item::Malformed(at, why) => bad.push(format!("{at}: {why}")),
        });
        (events, bad)
    }

    #[test]
    fn formats() {
        assert_eq!(read(r#"{"Records":[{"a":1},{"b":2}]}"#), (2, vec![]));
        assert_eq!(read(r#" { "Records" : [ {"a":1} ], "x": 2}"#), (1, vec![]));
        assert_eq!(read(r#"[{"a":1},{"b":2},{"c":3}]"#), (3, vec![]));
        assert_eq!(read("{\"a\":1}\n\n{\"b\":2}\n").0, 2);
    }

    #[test]
    fn nothing_is_lost() {
        let (n, bad) = read(r#"{"Records":[{"a":1},7,{"b":2},{"c":"#);
        assert_eq!(n, 2);
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert!(bad[0].contains("record 1: record is not a JSON object but a number"), "{bad:?}");
        assert!(bad[1].contains("malformed or truncated after 3 records"), "{bad:?}");
        let (n, bad) = read("{\"a\":1}\nnot json\n[1]\n{\"b\":2}\n");
        assert_eq!(n, 2);
        assert_eq!(bad.len(), 2);
        assert!(bad[0].starts_with("t:2: invalid JSON"), "{bad:?}");
    }
}
