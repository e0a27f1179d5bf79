//! Streaming CloudTrail readers: log files as CloudTrail writes them to S3
//! (`{"Records":[…]}`, `.json` or `.json.gz`), whole S3-layout folder trees,
//! JSON arrays of events, JSON Lines (CloudTrail Lake / Athena exports) and
//! stdin; gzip (every member) told by its magic bytes, the format by the
//! content (a log file is an object with `Records` anywhere in it). Records
//! are handed over one at a time, or to a [`Sink`] in batches of up to
//! [`BATCH`]; memory is bounded by a document of up to 16 MiB (parsed from
//! memory, the fast way) or one record of a larger one, or by about 1 MiB of
//! JSON Lines or one line of up to 16 MiB, never by the file.
//! Nothing is dropped: a malformed record, line or file tail becomes a
//! [`Item::Malformed`] with its file and position, a digest file an
//! [`Item::Skipped`], a path not read an entry of [`Files::skipped`].
//! A replay keeps only the members the event mapping reads ([`Members`]).

mod split;

use super::record::{record_seed, Record};
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
// A record is handed over by value, once, on the stack: boxing it to make
// the variants even would allocate per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item<'r> {
    /// A record that is a JSON object, as the mapping reads it.
    Event(Location, Record<'r>),
    /// Something that could not be read as an event; counted, never dropped.
    Malformed(Location, Malformed),
    /// A document that holds no events by design, with what it is (a
    /// CloudTrail digest file, which lists log files and their hashes).
    Skipped(Location, &'static str),
}

/// What a CloudTrail digest file is, as [`Item::Skipped`] says it.
pub const DIGEST_FILE: &str = "a CloudTrail digest file (it lists log files and their hashes; it holds no events)";

/// Why a record (or the rest of a file) could not be read as an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Malformed {
    /// What kind of problem, for counting.
    pub kind: MalformedKind,
    /// What was found, for a reader of the report.
    pub message: String,
}

impl Malformed {
    fn new(kind: MalformedKind, message: impl Into<String>) -> Malformed {
        Malformed { kind, message: message.into() }
    }
}

/// The kinds of [`Malformed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MalformedKind {
    /// The input failed while being read (an I/O or decompression error).
    ReadError,
    /// Not valid JSON (a JSON Lines line, or a log file from this record on).
    InvalidJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A JSON Lines line over [`crate::audit::lines::MAX_LINE_BYTES`].
    LineTooLong,
    /// A JSON object read as a log file that has no `Records` member.
    NoRecords,
}

impl MalformedKind {
    /// The kind's name in reports (`read_error`, `invalid_json`…).
    pub fn as_str(self) -> &'static str {
        match self {
            MalformedKind::ReadError => "read_error",
            MalformedKind::InvalidJson => "invalid_json",
            MalformedKind::NotAnObject => "not_an_object",
            MalformedKind::LineTooLong => "line_too_long",
            MalformedKind::NoRecords => "no_records",
        }
    }
}

/// A path that could not be read at all (problems inside a file are
/// [`Item::Malformed`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The path names neither a file nor a folder.
    #[error("{0}: no such file or folder")]
    NotFound(PathBuf),
    /// A file or folder the process cannot open.
    #[error("{path}: cannot read: {source}")]
    Unreadable {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A gzip file, and the library was built without its `gzip` feature.
    #[error("{0}: a gzip file, and this build reads none (enable the `gzip` feature)")]
    GzipUnsupported(PathBuf),
    /// `-` (stdin) given more than once: it can be read only once.
    #[error("`-` (stdin) given more than once")]
    StdinTwice,
}

/// The files a set of paths names ([`collect_files`]), and what was left
/// out and why.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Files {
    /// The log files to read, each once, in order.
    pub files: Vec<PathBuf>,
    /// Paths left out, with the reason: a file given twice (or reached twice
    /// through folders and links), a FIFO, socket or device met in a folder.
    pub skipped: Vec<(PathBuf, &'static str)>,
}

/// How each record is read into the [`Record`] of an [`Item::Event`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Members {
    /// Straight into the [`Record`]: only the members the mapping reads are
    /// built, borrowing their strings from the input; the rest is parsed
    /// past. Applies to documents read into memory and to JSON Lines that
    /// are valid UTF-8; others are read as with [`Members::All`].
    #[default]
    Mapped,
    /// The whole record as a `serde_json::Value` first (checking all of it,
    /// as a strict reader would: a number out of range anywhere refuses
    /// the record), then the [`Record`] from it. Every input yields the
    /// same records and the same malformed ones either way, but for that
    /// check (and serde_json's wording of a syntax error inside a member
    /// parsed past); tests compare the two.
    All,
}

/// The log files under `paths`: files as given (a FIFO too: `<(zcat …)`),
/// folders walked recursively for `*.json`, `*.json.gz`, `*.jsonl`,
/// `*.jsonl.gz`, `*.ndjson`, sorted. `-` is stdin. Nothing is read twice: a
/// folder reached again (a symbolic link back up the tree, or to a folder
/// already walked) is walked once, so a link loop ends, and a file reached
/// again is listed in [`Files::skipped`]; so are FIFOs, sockets and devices
/// met in a folder (reading one could block or never end).
///
/// # Errors
/// A path that does not exist, a folder that cannot be read, `-` twice.
pub fn collect_files(paths: &[PathBuf]) -> Result<Files, ReadError> {
    let mut walk = Walk::default();
    let mut stdin = false;
    for p in paths {
        if p.as_os_str() == "-" {
            if std::mem::replace(&mut stdin, true) {
                return Err(ReadError::StdinTwice);
            }
            walk.out.files.push(p.clone());
        } else if p.is_dir() {
            walk.folder(p)?;
        } else if p.exists() {
            walk.file(p);
        } else {
            return Err(ReadError::NotFound(p.clone()));
        }
    }
    Ok(walk.out)
}

/// Whether a file found in a folder is read as a log: `*.json`,
/// `*.json.gz`, `*.jsonl`, `*.jsonl.gz`, `*.ndjson` (any case).
pub fn is_log_file_name(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson"].iter().any(|s| name.ends_with(s))
}

#[derive(Default)]
struct Walk {
    out: Files,
    folders: std::collections::HashSet<PathBuf>,
    files: std::collections::HashSet<PathBuf>,
}

impl Walk {
    /// Lists `p` unless it was listed already (under any name).
    fn file(&mut self, p: &Path) {
        let real = std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
        if self.files.insert(real) {
            self.out.files.push(p.to_path_buf());
        } else {
            self.out.skipped.push((p.to_path_buf(), "already read (given twice, or reached through another path)"));
        }
    }

    fn folder(&mut self, dir: &Path) -> Result<(), ReadError> {
        let unreadable = |source| ReadError::Unreadable { path: dir.to_path_buf(), source };
        if !self.folders.insert(std::fs::canonicalize(dir).map_err(unreadable)?) {
            return Ok(());
        }
        let entries = std::fs::read_dir(dir).map_err(unreadable)?;
        let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                self.folder(&p)?;
                continue;
            }
            let name = p.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
            if !is_log_file_name(&name) {
                continue;
            }
            if p.is_file() {
                self.file(&p);
            } else {
                self.out.skipped.push((p, "not a regular file (a FIFO, socket or device)"));
            }
        }
        Ok(())
    }
}

/// Reads one file (or stdin for `-`), gunzipping gzip (told by its magic
/// bytes, not its name: every member of a multi-member file), and hands every
/// record to `sink`.
///
/// # Errors
/// Only when the file cannot be opened; problems inside it become [`Item::Malformed`].
pub fn read_file(path: &Path, sink: &mut dyn FnMut(Item<'_>)) -> Result<(), ReadError> {
    read_file_with(path, Members::Mapped, sink)
}

/// [`read_file`], keeping `members` of each record.
///
/// # Errors
/// Only when the file cannot be opened; problems inside it become [`Item::Malformed`].
pub fn read_file_with(path: &Path, members: Members, sink: &mut dyn FnMut(Item<'_>)) -> Result<(), ReadError> {
    read_file_batched(path, members, &mut EachItem(sink))
}

/// [`read_file_with`], handing the records of a document to `sink` in
/// batches ([`Sink::batch`]).
///
/// # Errors
/// Only when the file cannot be opened; problems inside it become [`Item::Malformed`].
pub fn read_file_batched(path: &Path, members: Members, sink: &mut dyn Sink) -> Result<(), ReadError> {
    let name = if path.as_os_str() == "-" { "<stdin>".to_string() } else { path.display().to_string() };
    let raw: Box<dyn Read> = if path.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        let file = std::fs::File::open(path);
        Box::new(file.map_err(|source| ReadError::Unreadable { path: path.to_path_buf(), source })?)
    };
    read_raw(BufReader::with_capacity(1 << 16, raw), &name, members, sink)
}

/// [`read_file_with`] for a file's bytes already in memory (a Spark
/// executor's `binaryFile` row): gzip told by its magic bytes, records
/// located under `name`.
///
/// # Errors
/// Only gzip without the `gzip` feature; problems inside become [`Item::Malformed`].
pub fn read_bytes_with(
    bytes: &[u8],
    name: &str,
    members: Members,
    sink: &mut dyn FnMut(Item<'_>),
) -> Result<(), ReadError> {
    read_raw(bytes, name, members, &mut EachItem(sink))
}

/// [`read_bytes_with`], handing the records of a document to `sink` in
/// batches ([`Sink::batch`]).
///
/// # Errors
/// Only gzip without the `gzip` feature; problems inside become [`Item::Malformed`].
pub fn read_bytes_batched(bytes: &[u8], name: &str, members: Members, sink: &mut dyn Sink) -> Result<(), ReadError> {
    read_raw(bytes, name, members, sink)
}

/// Where a reader hands what it reads: items one at a time, and the records
/// of a `{"Records":[…]}` or `[…]` document parsed from memory, or of JSON
/// Lines, in batches of up to [`BATCH`], in order. A replay maps a whole
/// batch before it decides any of it, so that the code of each stage stays
/// in the instruction cache (`benches/README.md`, sessions 19 and 20).
///
/// ```
/// use iamsim::audit::cloudtrail::reader::{read_bytes_batched, Item, Members, Sink, BATCH};
///
/// /// Counts events, and the batches they came in.
/// #[derive(Default)]
/// struct Count { events: usize, batches: usize }
///
/// impl Sink for Count {
///     fn item(&mut self, item: Item<'_>) {
///         self.events += usize::from(matches!(item, Item::Event(..)));
///     }
///     fn batch(&mut self, batch: &mut Vec<Item<'_>>) {
///         self.batches += 1;
///         for item in batch.drain(..) {
///             self.item(item);
///         }
///     }
/// }
///
/// let events = vec![r#"{"eventName":"GetObject"}"#; 40].join(",");
/// let doc = format!(r#"{{"Records":[{events}]}}"#);
/// let mut count = Count::default();
/// read_bytes_batched(doc.as_bytes(), "log.json", Members::Mapped, &mut count).unwrap();
/// assert_eq!((count.events, count.batches), (40, 40usize.div_ceil(BATCH)));
/// ```
pub trait Sink {
    /// Takes one item.
    fn item(&mut self, item: Item<'_>);
    /// Takes the items of `batch`, in order, leaving it empty (by default
    /// one at a time through [`Sink::item`]).
    fn batch(&mut self, batch: &mut Vec<Item<'_>>) {
        for item in batch.drain(..) {
            self.item(item);
        }
    }
}

/// A closure taking items one at a time, as a [`Sink`].
struct EachItem<'s>(&'s mut dyn FnMut(Item<'_>));

impl Sink for EachItem<'_> {
    fn item(&mut self, item: Item<'_>) {
        (self.0)(item);
    }
}

/// Reads records from raw file bytes, gunzipping when they start with gzip's magic.
fn read_raw(mut raw: impl BufRead, name: &str, members: Members, sink: &mut dyn Sink) -> Result<(), ReadError> {
    // An error here is met again, and reported, by the record reader.
    let gzip = raw.fill_buf().is_ok_and(|head| head.starts_with(&[0x1f, 0x8b]));
    if !gzip {
        stream_into(BufReader::with_capacity(1 << 20, raw), name, members, sink);
        return Ok(());
    }
    #[cfg(feature = "gzip")]
    {
        let inflated = flate2::bufread::MultiGzDecoder::new(raw);
        stream_into(BufReader::with_capacity(1 << 20, inflated), name, members, sink);
        Ok(())
    }
    #[cfg(not(feature = "gzip"))]
    Err(ReadError::GzipUnsupported(PathBuf::from(name)))
}

/// Reads records from any buffered stream, detecting the format from its first bytes.
pub fn read_stream(input: impl BufRead, name: &str, sink: &mut dyn FnMut(Item<'_>)) {
    read_stream_with(input, name, Members::Mapped, sink);
}

/// [`read_stream`], keeping `members` of each record.
pub fn read_stream_with(input: impl BufRead, name: &str, members: Members, sink: &mut dyn FnMut(Item<'_>)) {
    stream_into(input, name, members, &mut EachItem(sink));
}

/// [`read_stream_with`] into a [`Sink`].
fn stream_into(mut input: impl BufRead, name: &str, members: Members, sink: &mut dyn Sink) {
    let head: Vec<u8> = match input.fill_buf() {
        Ok(b) => b.iter().copied().skip_while(|c| c.is_ascii_whitespace()).take(32).collect(),
        Err(e) => {
            sink.item(Item::Malformed(
                Location { file: name.to_string(), index: 0, line: None },
                Malformed::new(MalformedKind::ReadError, format!("read error: {e}")),
            ));
            return;
        }
    };
    let after_brace: Vec<u8> = head.iter().copied().skip(1).skip_while(|c| c.is_ascii_whitespace()).collect();
    if head.first() == Some(&b'[') || (head.first() == Some(&b'{') && after_brace.starts_with(b"\"Records\"")) {
        return read_document_within(input, name, members, sink, IN_MEMORY_DOCUMENT_BYTES);
    }
    if head.first() != Some(&b'{') {
        return read_lines(input, name, members, sink);
    }
    // An object that does not open with `Records`: a JSON Lines event, a log
    // file whose `Records` comes later, or a digest file. Its first line
    // tells (read whole, up to the in-memory bound, and then read again).
    let mut first = Vec::new();
    if let Err(e) = (&mut input).take(IN_MEMORY_DOCUMENT_BYTES as u64 + 1).read_until(b'\n', &mut first) {
        let at = Location { file: name.to_string(), index: 0, line: Some(1) };
        return sink.item(Item::Malformed(at, Malformed::new(MalformedKind::ReadError, format!("read error: {e}"))));
    }
    // A first line past the bound is a JSON Lines line too long to keep
    // (reported as such), whatever it would have held.
    let shape = if first.len() > IN_MEMORY_DOCUMENT_BYTES { Shape::Event } else { first_object_shape(&first) };
    let input = std::io::Cursor::new(first).chain(input);
    match shape {
        Shape::Log => read_document_within(input, name, members, sink, IN_MEMORY_DOCUMENT_BYTES),
        Shape::Digest => {
            sink.item(Item::Skipped(Location { file: name.to_string(), index: 0, line: None }, DIGEST_FILE))
        }
        Shape::Event => read_lines(input, name, members, sink),
    }
}

/// What a stream whose first line is an object holds.
enum Shape {
    /// A log file: the object has `Records`, or spans more than one line.
    Log,
    /// A CloudTrail digest file (`digestStartTime` and `logFiles`).
    Digest,
    /// JSON Lines (an event per line; a bad line is reported as such).
    Event,
}

/// The [`Shape`] of a stream from its first line.
fn first_object_shape(line: &[u8]) -> Shape {
    /// Which of the telling members the object has.
    #[derive(Default)]
    struct Keys {
        records: bool,
        digest_start: bool,
        log_files: bool,
    }
    impl<'de> Visitor<'de> for &mut Keys {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            while let Some(key) = map.next_key::<MemberName<'de>>()? {
                match &*key.0 {
                    "Records" => self.records = true,
                    "digestStartTime" => self.digest_start = true,
                    "logFiles" => self.log_files = true,
                    _ => {}
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(())
        }
    }
    let mut keys = Keys::default();
    let mut de = serde_json::Deserializer::from_slice(line);
    match serde::Deserializer::deserialize_map(&mut de, &mut keys) {
        Ok(()) if keys.records => Shape::Log,
        Ok(()) if keys.digest_start && keys.log_files => Shape::Digest,
        // Cut short: the object goes on past the line (a pretty-printed log file).
        Err(e) if e.is_eof() => Shape::Log,
        _ => Shape::Event,
    }
}

/// Documents up to this size are read into memory and parsed from there:
/// serde_json parses a slice several times faster than a reader, which it
/// consumes a byte at a time (`read_file` spent a third of its instructions
/// on that). CloudTrail writes files of a few MiB; larger inputs stream,
/// holding one record at a time beside the part already read.
const IN_MEMORY_DOCUMENT_BYTES: usize = 16 << 20;

/// `{"Records":[…]}` or `[…]`, element by element; in memory up to
/// `in_memory_limit` bytes.
fn read_document_within(
    mut input: impl Read,
    name: &str,
    members: Members,
    sink: &mut dyn Sink,
    in_memory_limit: usize,
) {
    let (mut head, read_error) = read_head(&mut input, in_memory_limit);
    // Checked for UTF-8 once, a document is parsed as text: serde_json then
    // checks no string again (a fifth of reading's instructions otherwise).
    // Skipped members are not checked by serde_json at all: a document that
    // is not valid UTF-8 is read whole, so that it fails as it would have
    // (and a large one, streamed and not checked ahead, always is).
    let text = if head.len() <= in_memory_limit { std::str::from_utf8(&head).ok() } else { None };
    let members = match (members, text) {
        (Members::Mapped, Some(_)) => Members::Mapped,
        _ => Members::All,
    };
    let mut state = Records { name, index: 0, members, sink, object: false, has_records: false, failed: 0 };
    let in_memory = |state: &mut Records<'_, '_>| match text {
        Some(text) => records(serde_json::Deserializer::from_str(text), state),
        None => records(serde_json::Deserializer::from_slice(&head), state),
    };
    let result = match read_error {
        // The records before the failure still count; the read error is
        // what is reported, unless the text was malformed before it (not
        // merely cut short by it).
        Some(e) => match in_memory(&mut state) {
            Err(malformed) if !malformed.is_eof() => Err(Ended::Json(malformed)),
            _ => Err(Ended::Json(serde_json::Error::io(e))),
        },
        // The whole document parsed at once, the fast way; where that fails,
        // record by record from there on (see `recover`).
        None if head.len() <= in_memory_limit => match in_memory(&mut state) {
            Ok(()) => Ok(()),
            Err(e) => recover(&head, &mut state, e),
        },
        None => stream(std::mem::take(&mut head), input, &mut state),
    };
    keep_buffer(head);
    if let Err(ended) = result {
        let at = Location { file: name.to_string(), index: state.index, line: None };
        let (kind, why) = match ended {
            Ended::Json(e) if e.is_io() => (MalformedKind::ReadError, e.to_string()),
            Ended::Json(e) => (MalformedKind::InvalidJson, e.to_string()),
            Ended::Read(e) => (MalformedKind::ReadError, e.to_string()),
            Ended::Structure(split::Scan::Bad(why, at)) => (MalformedKind::InvalidJson, format!("{why} at byte {at}")),
            Ended::Structure(_) => (MalformedKind::InvalidJson, "the document is cut short".to_string()),
        };
        let message = format!("malformed or truncated after {} records: {why}", state.index);
        state.sink.item(Item::Malformed(at, Malformed::new(kind, message)));
    } else if state.object && !state.has_records {
        // Read as a log file (it spans lines) but holding none: say so,
        // rather than read nothing without a trace.
        let at = Location { file: name.to_string(), index: 0, line: None };
        let why = Malformed::new(
            MalformedKind::NoRecords,
            "a JSON object without a `Records` member: not a CloudTrail log file",
        );
        state.sink.item(Item::Malformed(at, why));
    }
}

/// Why a document's records ended before its end.
enum Ended {
    /// The parser's error (whole-document parse, or a read error under it).
    Json(serde_json::Error),
    /// A read error while streaming.
    Read(std::io::Error),
    /// Where the structure broke ([`split::Scan::Bad`], its offset from the
    /// document's start), or the document was cut short.
    Structure(split::Scan),
}

/// After the whole-document parse of `doc` failed with `error`: the records
/// from the failing one on, each parsed on its own where [`split`] finds
/// it, so that one bad record is reported at its index and the next is
/// read. Where the walk finds nothing wrong but the parser did (text the
/// walk skips loosely, such as a bad literal in another member), the
/// parser's error stands: nothing is dropped without a trace.
fn recover(doc: &[u8], state: &mut Records<'_, '_>, error: serde_json::Error) -> Result<(), Ended> {
    let (already, failed_before) = (state.index, state.failed);
    let mut walker = split::Walker::new();
    let mut seen = 0usize;
    let walked = walker.advance(doc, true, &mut |bytes| {
        if seen >= already {
            state.element(bytes);
        }
        seen += 1;
    });
    state.object |= walker.object;
    state.has_records |= walker.records;
    match walked {
        Ok(()) if state.failed == failed_before => Err(Ended::Json(error)),
        Ok(()) => Ok(()),
        Err(e) => Err(Ended::Structure(e)),
    }
}

/// A document past the in-memory bound, walked record by record as it is
/// read ([`split::Walker`]), holding what it has read of the record it is in.
fn stream(head: Vec<u8>, mut input: impl Read, state: &mut Records<'_, '_>) -> Result<(), Ended> {
    let (mut buf, mut walker, mut dropped) = (head, split::Walker::new(), 0usize);
    let (mut eof, mut read_error) = (false, None);
    loop {
        let walked = walker.advance(&buf, eof, &mut |bytes| state.element(bytes));
        state.object |= walker.object;
        state.has_records |= walker.records;
        match walked {
            Ok(()) => return Ok(()),
            Err(split::Scan::Incomplete) if !eof => {
                let by = walker.needed_from();
                buf.drain(..by);
                walker.rebase(by);
                dropped += by;
                // Read at least as much as is held: a long record is walked
                // again a bounded number of times (linear in its size).
                let more = buf.len().max(1 << 20) as u64;
                match (&mut input).take(more).read_to_end(&mut buf) {
                    Ok(0) => eof = true,
                    Ok(_) => {}
                    // What was read before it still counts; the read error
                    // is reported where the records stop.
                    Err(e) => (eof, read_error) = (true, Some(e)),
                }
            }
            // Cut short: by the read error, if there was one.
            Err(split::Scan::Incomplete) => {
                return Err(read_error.map_or(Ended::Structure(split::Scan::Incomplete), Ended::Read))
            }
            Err(split::Scan::Bad(why, at)) => return Err(Ended::Structure(split::Scan::Bad(why, dropped + at))),
            Err(e) => return Err(Ended::Structure(e)),
        }
    }
}

/// Reads `input` to its end or past `limit` bytes (then `limit + 1` bytes are
/// returned), with the error that stopped it early, if any (the bytes read
/// before it are kept).
fn read_head(input: &mut impl Read, limit: usize) -> (Vec<u8>, Option<std::io::Error>) {
    let mut buf = DOCUMENT_BUFFER.with(std::cell::Cell::take);
    buf.clear();
    let result = input.take(limit as u64 + 1).read_to_end(&mut buf);
    (buf, result.err())
}

thread_local! {
    /// The last document's buffer, for the thread's next one ([`read_head`],
    /// [`keep_buffer`]). A replay reads many log files one after another on
    /// each thread; a fresh buffer per file grew by doubling (copying what
    /// it held) and had the kernel zero every new page. Kept, a one-thread
    /// `iamsim replay` of the real samples took 0.44 s instead of 0.50 s
    /// (benches/README.md, session 17).
    static DOCUMENT_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Keeps `buf` for the thread's next document, unless it is larger than a
/// document read whole can be (so a thread holds at most one such buffer).
fn keep_buffer(buf: Vec<u8>) {
    if buf.capacity() <= 2 * (IN_MEMORY_DOCUMENT_BYTES + 1) {
        DOCUMENT_BUFFER.with(|kept| kept.set(buf));
    }
}

/// Hands every record of the document in `de` to `state`.
fn records<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    state: &mut Records<'_, '_>,
) -> Result<(), serde_json::Error> {
    serde::Deserializer::deserialize_any(&mut de, TopVisitor(state)).and_then(|()| de.end())
}

struct Records<'a, 'b> {
    name: &'a str,
    index: usize,
    members: Members,
    sink: &'b mut dyn Sink,
    /// The document was an object, and one with a `Records` member.
    object: bool,
    has_records: bool,
    /// Records reported malformed one by one ([`Records::element`]).
    failed: usize,
}

impl Records<'_, '_> {
    /// Parses the next record from its own bytes and hands it on: a record
    /// that is not valid UTF-8 or JSON is reported alone.
    fn element(&mut self, bytes: &[u8]) {
        let at = Location { file: self.name.to_string(), index: self.index, line: None };
        self.index += 1;
        let failed = &mut self.failed;
        let sink = &mut *self.sink;
        let mut counted = |item: Item<'_>| {
            *failed += usize::from(matches!(item, Item::Malformed(..)));
            sink.item(item);
        };
        let counted = &mut EachItem(&mut counted);
        match std::str::from_utf8(bytes) {
            Ok(text) => read_one(serde_json::Deserializer::from_str(text), self.members, at, "record", counted),
            Err(e) => {
                let message = format!("record is not valid UTF-8 (at byte {} of the record)", e.valid_up_to());
                counted.item(Item::Malformed(at, Malformed::new(MalformedKind::InvalidJson, message)));
            }
        }
    }

    /// Hands on the next record, or what was found instead of one.
    fn push(&mut self, record: Result<Record<'_>, &'static str>) {
        let item = self.located(record);
        self.sink.item(item);
    }

    /// The next record, or what was found instead of one, at its location.
    fn located<'r>(&mut self, record: Result<Record<'r>, &'static str>) -> Item<'r> {
        let at = Location { file: self.name.to_string(), index: self.index, line: None };
        self.index += 1;
        event_or_malformed(at, record, "record")
    }
}

/// An [`Item::Event`], or an [`Item::Malformed`] saying what the `what`
/// (record, line) was instead of an object.
fn event_or_malformed<'r>(at: Location, record: Result<Record<'r>, &'static str>, what: &str) -> Item<'r> {
    match record {
        Ok(record) => Item::Event(at, record),
        Err(found) => {
            let why = Malformed::new(MalformedKind::NotAnObject, format!("{what} is not a JSON object but {found}"));
            Item::Malformed(at, why)
        }
    }
}

/// The record a whole `Value` holds, or what it is instead.
fn record_of(v: &serde_json::Value) -> Result<Record<'_>, &'static str> {
    match v.is_object() {
        true => Ok(Record::from_value(v)),
        false => Err(crate::engine::policy::json::value_type_name(v)),
    }
}

struct TopVisitor<'s, 'a, 'b>(&'s mut Records<'a, 'b>);

impl<'de> Visitor<'de> for TopVisitor<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a CloudTrail log file: {\"Records\": [...]} or an array of events")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.0.object = true;
        while let Some(key) = map.next_key::<String>()? {
            if key == "Records" {
                self.0.has_records = true;
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

/// Records parsed before any is handed on ([`Sink::batch`]). Parsing,
/// mapping and deciding one record each in turn, the three evicted each
/// other's code from the instruction cache: a replay's misses fall by 94 %
/// when each stage runs over a batch (benches/README.md, session 19).
pub const BATCH: usize = 32;

struct SeqVisitor<'s, 'a, 'b>(&'s mut Records<'a, 'b>);

impl<'de> Visitor<'de> for SeqVisitor<'_, '_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of CloudTrail events")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        match self.0.members {
            Members::Mapped => {
                let mut batch = Vec::with_capacity(BATCH);
                let records = &mut *self.0;
                let end = loop {
                    match seq.next_element_seed(record_seed()) {
                        Ok(Some(record)) => {
                            batch.push(records.located(record));
                            if batch.len() == BATCH {
                                records.sink.batch(&mut batch);
                            }
                        }
                        Ok(None) => break Ok(()),
                        Err(e) => break Err(e),
                    }
                };
                // Handed on before an error too, so that recovery ([`recover`])
                // starts after them rather than parsing them again.
                if !batch.is_empty() {
                    records.sink.batch(&mut batch);
                }
                end?;
            }
            Members::All => {
                while let Some(v) = seq.next_element::<serde_json::Value>()? {
                    self.0.push(record_of(&v));
                }
            }
        }
        Ok(())
    }
}

/// JSON Lines: one event per line; a bad line is reported and reading goes on.
fn read_lines(input: impl BufRead, name: &str, members: Members, sink: &mut dyn Sink) {
    read_lines_within(input, name, members, sink, crate::audit::lines::MAX_LINE_BYTES);
}

/// Lines read into one buffer before any is parsed: up to [`BATCH`] of them,
/// or the first past this many bytes. A batch of lines then costs one
/// buffer of about this size, or one line of up to its bound.
const LINES_BUFFER_BYTES: usize = 1 << 20;

/// [`read_lines`] keeping lines of up to `max_line` bytes. Lines are read
/// into one buffer and parsed as a batch, as a document's records are (the
/// same instruction-cache reason, [`BATCH`]). A line that cannot join a
/// batch (too long, a read error) hands on the lines before it first, so
/// the order is the input's.
fn read_lines_within(mut input: impl BufRead, name: &str, members: Members, sink: &mut dyn Sink, max_line: usize) {
    use crate::audit::lines::{append_line, Line};
    let mut buf = Vec::new();
    let mut lines: Vec<(std::ops::Range<usize>, Location)> = Vec::with_capacity(BATCH);
    let (mut line_no, mut index) = (0usize, 0usize);
    loop {
        let start = buf.len();
        let line = append_line(&mut input, &mut buf, max_line);
        if !matches!(line, Ok(Line::Kept)) {
            hand_on_lines(&mut buf, &mut lines, members, sink);
        }
        let at = |line| Location { file: name.to_string(), index, line: Some(line) };
        match line {
            Ok(Line::End) => return,
            Err(e) => {
                let why = Malformed::new(MalformedKind::ReadError, format!("read error: {e}"));
                return sink.item(Item::Malformed(at(line_no + 1), why));
            }
            Ok(Line::TooLong(n)) => {
                line_no += 1;
                let why = format!("line of {n} bytes is over the {} MiB limit", max_line >> 20);
                sink.item(Item::Malformed(at(line_no), Malformed::new(MalformedKind::LineTooLong, why)));
                index += 1;
            }
            Ok(Line::Kept) => {
                line_no += 1;
                if buf[start..].iter().all(u8::is_ascii_whitespace) {
                    buf.truncate(start);
                    continue;
                }
                lines.push((start..buf.len(), at(line_no)));
                index += 1;
                if lines.len() == BATCH || buf.len() >= LINES_BUFFER_BYTES {
                    hand_on_lines(&mut buf, &mut lines, members, sink);
                }
            }
        }
    }
}

/// Parses the `lines` of `buf` and hands them on, as batches where it can;
/// leaves both empty for the next lines.
fn hand_on_lines(
    buf: &mut Vec<u8>,
    lines: &mut Vec<(std::ops::Range<usize>, Location)>,
    members: Members,
    sink: &mut dyn Sink,
) {
    let mut batch = Vec::with_capacity(lines.len());
    for (range, at) in lines.drain(..) {
        let bytes = &buf[range];
        match (members, std::str::from_utf8(bytes)) {
            (Members::Mapped, Ok(text)) => {
                batch.push(mapped_item(serde_json::Deserializer::from_str(text), at, "line"))
            }
            // Read whole (and a line that is not UTF-8 is, to fail as it
            // would): its record borrows a value that lives only here, so
            // it goes on alone, after the batch so far.
            (_, text) => {
                if !batch.is_empty() {
                    sink.batch(&mut batch);
                }
                match text {
                    Ok(text) => read_one(serde_json::Deserializer::from_str(text), members, at, "line", sink),
                    Err(_) => read_one(serde_json::Deserializer::from_slice(bytes), Members::All, at, "line", sink),
                }
            }
        }
    }
    if !batch.is_empty() {
        sink.batch(&mut batch);
    }
    drop(batch);
    buf.clear();
}

/// Hands on the item one JSON Lines line or one record (`what`) holds.
fn read_one<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    members: Members,
    at: Location,
    what: &str,
    sink: &mut dyn Sink,
) {
    match members {
        Members::Mapped => sink.item(mapped_item(de, at, what)),
        Members::All => match serde::Deserialize::deserialize(&mut de).and_then(|v| de.end().map(|()| v)) {
            Ok(v) => sink.item(event_or_malformed(at, record_of(&v), what)),
            Err(e) => sink.item(invalid_json(at, &e)),
        },
    }
}

/// The item one JSON Lines line or one record (`what`) holds, keeping the
/// mapped members.
fn mapped_item<'de, R: serde_json::de::Read<'de>>(
    mut de: serde_json::Deserializer<R>,
    at: Location,
    what: &str,
) -> Item<'de> {
    match record_seed().deserialize(&mut de).and_then(|r| de.end().map(|()| r)) {
        Ok(record) => event_or_malformed(at, record, what),
        Err(e) => invalid_json(at, &e),
    }
}

/// What a parse error makes of the item at `at`.
fn invalid_json<'r>(at: Location, e: &serde_json::Error) -> Item<'r> {
    let kind = if e.is_io() { MalformedKind::ReadError } else { MalformedKind::InvalidJson };
    Item::Malformed(at, Malformed::new(kind, format!("invalid JSON: {e}")))
}

/// A member name, borrowed from the input when it has no escapes (names
/// that are dropped are never copied): serde's borrowing `Cow<str>`.
#[derive(serde::Deserialize)]
#[serde(transparent)]
struct MemberName<'a>(#[serde(borrow)] std::borrow::Cow<'a, str>);

#[cfg(test)]
mod tests {
    use super::*;

    /// [`read_document_within`] handing items one at a time to `sink`.
    fn read_document_each(
        input: impl Read,
        name: &str,
        members: Members,
        sink: &mut dyn FnMut(Item<'_>),
        limit: usize,
    ) {
        read_document_within(input, name, members, &mut EachItem(sink), limit);
    }

    fn read(text: &str) -> (usize, Vec<String>) {
        let (mut events, mut bad) = (0, Vec::new());
        read_stream(text.as_bytes(), "t", &mut |item| match item {
            Item::Event(..) => events += 1,
            Item::Malformed(at, why) => bad.push(format!("{at}: {why}")),
            Item::Skipped(at, why) => bad.push(format!("{at}: skipped: {why}")),
        });
        (events, bad)
    }

    /// `Records` is found wherever it stands in the object; a digest file is
    /// said to be one; an object that spans lines without `Records` is
    /// reported, not read as nothing; JSON Lines stay JSON Lines.
    #[test]
    fn log_files_are_told_by_their_members() {
        let ev = r#"{"eventVersion":"1.08","eventName":"ListBuckets"}"#;
        assert_eq!(read(&format!(r#"{{"version":1,"Records":[{ev},{ev}]}}"#)), (2, vec![]));
        assert_eq!(read(&format!("{{\n  \"version\": 1,\n  \"Records\": [\n    {ev}\n  ]\n}}\n")), (1, vec![]));
        let digest = r#"{"awsAccountId":"111122223333","digestStartTime":"2026-11-01T00:00:00Z","digestEndTime":"2026-11-01T01:00:00Z","logFiles":[]}"#;
        assert_eq!(read(digest), (0, vec![format!("t record 0: skipped: {DIGEST_FILE}")]));
        let (events, bad) = read("{\n  \"version\": 1\n}\n");
        assert_eq!(events, 0);
        assert_eq!(bad.len(), 1);
        assert!(bad[0].contains("without a `Records` member"), "{bad:?}");
        assert_eq!(read(&format!("{ev}\n{ev}\n")), (2, vec![]));
        assert_eq!(read(&format!("{ev}\n[1]\n")).0, 1);
    }

    /// Every item of a document read with the given in-memory limit.
    fn items_within(input: impl Read, limit: usize) -> Vec<String> {
        let mut items = Vec::new();
        read_document_each(input, "t", Members::All, &mut |item| items.push(format!("{item:?}")), limit);
        items
    }

    #[test]
    fn large_documents_stream_with_the_same_items() {
        let docs = [
            r#"{"Records":[{"a":1},7,{"b":"x\"y"},{"c":[1,2]}]}"#,
            r#"[{"a":1},{"b":2},{"c":"#,
            r#"{"Records":[{"a":1}], "Records2": 5}"#,
            r#"{"Records":[{"a":1}]} trailing"#,
        ];
        for doc in docs {
            let in_memory = items_within(doc.as_bytes(), 1 << 20);
            assert!(!in_memory.is_empty());
            // Limits below, at and above the document's length, and the
            // buffer's growth steps in between.
            for limit in [0, 1, 5, doc.len() - 1, doc.len(), doc.len() + 1] {
                assert_eq!(items_within(doc.as_bytes(), limit), in_memory, "{doc} within {limit}");
            }
        }
    }

    /// A thread's documents share one buffer: what a longer document left in
    /// it is never read as part of the next, nor by a document read from
    /// within a sink.
    #[test]
    fn a_kept_buffer_holds_only_its_document() {
        let long = format!(r#"{{"Records":[{}{{"z":0}}]}}"#, r#"{"a":1},"#.repeat(500));
        let short = r#"{"Records":[{"b":2},{"c""#;
        let fresh = std::thread::spawn(move || items_within(short.as_bytes(), 1 << 20)).join().unwrap();
        assert_eq!(items_within(long.as_bytes(), 1 << 20).len(), 501);
        assert_eq!(items_within(short.as_bytes(), 1 << 20), fresh);
        let mut nested = Vec::new();
        read_document_each(
            long.as_bytes(),
            "t",
            Members::All,
            &mut |_| {
                if nested.is_empty() {
                    nested = items_within(short.as_bytes(), 1 << 20);
                }
            },
            1 << 20,
        );
        assert_eq!(nested, fresh);
    }

    /// Every item read from `text` keeping `members`.
    fn items_of(text: &str, members: Members) -> Vec<String> {
        let mut items = Vec::new();
        read_stream_with(text.as_bytes(), "t", members, &mut |item| items.push(format!("{item:?}")));
        items
    }

    #[test]
    fn records_read_straight_equal_records_read_whole() {
        // An escaped name is the name it spells; a repeated member keeps the
        // last value in the first place, as a whole record does, at the top
        // and within parameters.
        let doc = r#"{"Records":[{"eventName":"A","additionalEventData":{"big":[1,2,3]},"event\u0053ource":"s3.amazonaws.com","eventName":"B","x":1},
                      7, "s", [1], null, true, 1.5,
                      {"requestParameters":{"k":"v","j":[1,"x\"y",null,true],"k":"w"},"userIdentity":{"type":"IAMUser"},"userIdentity":5}]}"#;
        let mut records = Vec::new();
        read_stream_with(doc.as_bytes(), "t", Members::Mapped, &mut |item| {
            if let Item::Event(_, r) = item {
                let params = r.parameters.as_ref().and_then(|p| p.as_object());
                let members: Vec<String> =
                    params.into_iter().flat_map(|o| o.iter()).map(|(k, v)| format!("{k}={v:?}")).collect();
                records.push((
                    r.name.as_deref().map(str::to_string),
                    r.source.as_deref().map(str::to_string),
                    members,
                    r.identity.is_some(),
                ));
            }
        });
        assert_eq!(records.len(), 2, "{records:?}");
        assert_eq!(records[0], (Some("B".into()), Some("s3.amazonaws.com".into()), vec![], false));
        assert_eq!(
            records[1].2,
            [r#"k=String("w")"#, r#"j=Array([Number(Number(1)), String("x\"y"), Null, Bool(true)])"#],
            "{records:?}"
        );
        assert!(!records[1].3, "a later userIdentity that is not an object replaces the earlier one");
        // Everything, malformed records included, is the same read whole.
        let (items, whole) = (items_of(doc, Members::Mapped), items_of(doc, Members::All));
        assert_eq!(items.len(), 8, "{items:?}");
        assert_eq!(items, whole);
        assert!(items[1].contains("record is not a JSON object but a number"), "{items:?}");
        // JSON Lines too, with the same line numbers and errors.
        let lines = "{\"eventName\":\"A\",\"requestID\":\"r\"}\nnot json\n[2]\n";
        let (mapped, whole) = (items_of(lines, Members::Mapped), items_of(lines, Members::All));
        assert_eq!(mapped, whole);
        assert!(
            mapped[2].contains(
                "line: Some(3) }, Malformed { kind: NotAnObject, message: \"line is not a JSON object but an array"
            ),
            "{mapped:?}"
        );
    }

    /// Each item of `doc` read within `limit` as "index: event name" or
    /// "index: what was wrong".
    fn indexed_items(doc: &[u8], members: Members, limit: usize) -> Vec<String> {
        let mut items = Vec::new();
        let mut push = |item: Item<'_>| {
            items.push(match item {
                Item::Event(at, r) => format!("{}: {}", at.index, r.name.as_deref().unwrap_or("")),
                Item::Malformed(at, why) => format!("{}: {:?}", at.index, why.kind),
                Item::Skipped(at, _) => format!("{}: skipped", at.index),
            })
        };
        read_document_each(doc, "t", members, &mut push, limit);
        items
    }

    /// One bad record inside `{"Records":[…]}` (invalid UTF-8, nesting past
    /// serde_json's limit, a bad literal) is reported at its index and the
    /// next record is read, whether the document is read into memory or
    /// streamed, keeping the mapped members or reading records whole.
    #[test]
    fn one_bad_record_does_not_lose_the_rest() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let mut doc = br#"{"Records":[{"eventName":"A"},{"eventName":"B"#.to_vec();
        doc.extend_from_slice(&[0xff, 0xfe]);
        doc.extend_from_slice(format!(r#""}},{{"eventName":"C","deep":{deep}}},{{"eventName":"D","x":tru}},{{"eventName":"E"}}], "version": 1}}"#).as_bytes());
        for members in [Members::Mapped, Members::All] {
            for limit in [1 << 20, 16] {
                assert_eq!(
                    indexed_items(&doc, members, limit),
                    ["0: A", "1: InvalidJson", "2: InvalidJson", "3: InvalidJson", "4: E"],
                    "{members:?} within {limit}"
                );
            }
        }
    }

    /// Records are parsed in batches ([`BATCH`]) before they are handed on:
    /// a bad record after more than a batch, and the end of the document
    /// part-way through one, still come in order with every index.
    #[test]
    fn batches_keep_order_and_every_record() {
        let n = 2 * BATCH + 7;
        for bad in [None, Some(BATCH + 13)] {
            let records: Vec<String> = (0..n)
                .map(|i| match Some(i) == bad {
                    true => r#"{"eventName":"x","y":tru}"#.to_string(),
                    false => format!(r#"{{"eventName":"E{i}"}}"#),
                })
                .collect();
            let doc = format!(r#"{{"Records":[{}]}}"#, records.join(","));
            let expected: Vec<String> = (0..n)
                .map(|i| match Some(i) == bad {
                    true => format!("{i}: InvalidJson"),
                    false => format!("{i}: E{i}"),
                })
                .collect();
            for members in [Members::Mapped, Members::All] {
                for limit in [1 << 20, 64] {
                    let items = indexed_items(doc.as_bytes(), members, limit);
                    assert_eq!(items, expected, "{members:?} within {limit}, bad record {bad:?}");
                }
            }
        }
    }

    /// JSON Lines are parsed in batches too: a bad line, a line that is not
    /// UTF-8, a blank line and a line over the bound, at and past a batch's
    /// end, still come in order with every index and line number, read
    /// straight or whole.
    #[test]
    fn json_lines_batches_keep_order_and_every_line() {
        /// Items as "index/line: event name or what was wrong", and the size of each batch.
        #[derive(Default)]
        struct Seen {
            items: Vec<String>,
            batches: Vec<usize>,
        }
        impl Sink for Seen {
            fn item(&mut self, item: Item<'_>) {
                self.items.push(match item {
                    Item::Event(at, r) => format!("{}/{:?}: {}", at.index, at.line, r.name.as_deref().unwrap_or("")),
                    Item::Malformed(at, why) => format!("{}/{:?}: {:?}", at.index, at.line, why.kind),
                    Item::Skipped(at, _) => format!("{}/{:?}: skipped", at.index, at.line),
                });
            }
            fn batch(&mut self, batch: &mut Vec<Item<'_>>) {
                self.batches.push(batch.len());
                for item in batch.drain(..) {
                    self.item(item);
                }
            }
        }
        let n = 3 * BATCH + 5;
        let (bad, not_utf8, blank, long) = (BATCH - 1, BATCH + 3, BATCH + 9, 2 * BATCH + 2);
        let mut input = Vec::new();
        let mut expected = Vec::new();
        let mut index = 0;
        for i in 0..n {
            let line_no = Some(i + 1);
            match i {
                _ if i == bad => input.extend_from_slice(br#"{"eventName":"x","y":tru}"#),
                _ if i == not_utf8 => input.extend_from_slice(b"{\"eventName\":\"\xff\"}"),
                _ if i == blank => input.extend_from_slice(b"  \t"),
                _ if i == long => {
                    input.extend_from_slice(format!(r#"{{"eventName":"{}"}}"#, "L".repeat(80)).as_bytes())
                }
                _ => input.extend_from_slice(format!(r#"{{"eventName":"E{i}"}}"#).as_bytes()),
            }
            input.push(b'\n');
            expected.push(match i {
                _ if i == blank => continue,
                _ if i == bad || i == not_utf8 => format!("{index}/{line_no:?}: InvalidJson"),
                _ if i == long => format!("{index}/{line_no:?}: LineTooLong"),
                _ => format!("{index}/{line_no:?}: E{i}"),
            });
            index += 1;
        }
        let mut mapped = Seen::default();
        read_lines_within(&input[..], "t", Members::Mapped, &mut mapped, 64);
        assert_eq!(mapped.items, expected);
        // Batches of BATCH lines (a bad line among them); the line that is
        // not UTF-8 on its own, between the two parts of its batch (the
        // blank line not counted); a batch cut short by the long line; what
        // is left.
        assert_eq!(mapped.batches, [BATCH, 3, BATCH - 4, 1, BATCH, 2]);
        let mut whole = Seen::default();
        read_lines_within(&input[..], "t", Members::All, &mut whole, 64);
        assert_eq!(whole.items, expected);
        assert!(whole.batches.is_empty(), "whole records are handed on one at a time");
        // Big lines make short batches: the buffer holds about
        // LINES_BUFFER_BYTES, not BATCH lines of any size.
        let big = format!("{{\"eventName\":\"{}\"}}\n", "B".repeat(LINES_BUFFER_BYTES * 3 / 5));
        let mut seen = Seen::default();
        read_lines_within(big.repeat(3).as_bytes(), "t", Members::Mapped, &mut seen, 2 * LINES_BUFFER_BYTES);
        assert_eq!((seen.items.len(), seen.batches), (3, vec![2, 1]));
    }

    /// Any JSON value, with strings full of the characters a structural walk
    /// must not mistake for structure (quotes, escapes, brackets, commas).
    fn json_value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let chars = vec!['a', 'z', '"', '\\', '{', '}', '[', ']', ',', ':', ' ', '\n', 'é', '\u{1F600}'];
        let text = proptest::collection::vec(proptest::sample::select(chars), 0..12)
            .prop_map(|cs| cs.into_iter().collect::<String>())
            .boxed();
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i32>().prop_map(serde_json::Value::from),
            text.clone().prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(serde_json::Value::Array),
                proptest::collection::vec((text.clone(), inner), 0..5)
                    .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]
        /// The structural walk (streamed documents, and recovery after a bad
        /// record) finds the same records as the parser reading the document
        /// whole, compact or pretty, with one record broken (invalid UTF-8)
        /// or not, reading the mapped members or whole records.
        #[test]
        fn the_walk_finds_what_the_parser_finds(
            records in proptest::collection::vec(json_value(), 0..6),
            pretty in proptest::prelude::any::<bool>(),
            broken in proptest::option::of(0usize..6),
            limit in 1usize..64,
        ) {
            let doc = serde_json::json!({"version": {"a": ["]", "}"]}, "Records": records, "z": "\"]}"});
            let mut text = if pretty { serde_json::to_string_pretty(&doc) } else { serde_json::to_string(&doc) }
                .unwrap_or_default()
                .into_bytes();
            if let Some(k) = broken.filter(|k| *k < records.len()) {
                // An invalid byte inside the k-th record's text.
                let marker = format!("\"broken-{k}\"");
                let mut broken_records = records.clone();
                broken_records[k] = serde_json::Value::from(format!("broken-{k}"));
                let doc = serde_json::json!({"version": 1, "Records": broken_records});
                text = serde_json::to_string(&doc).unwrap_or_default().into_bytes();
                if let Some(at) = text.windows(marker.len()).position(|w| w == marker.as_bytes()) {
                    text[at + 1] = 0xff;
                }
            }
            for members in [Members::Mapped, Members::All] {
                let read = |limit: usize| {
                    let mut items = Vec::new();
                    read_document_each(&text[..], "t", members, &mut |item| items.push(format!("{item:?}")), limit);
                    items
                };
                let (whole, streamed) = (read(1 << 20), read(limit));
                proptest::prop_assert_eq!(&whole, &streamed);
                let events = whole.iter().filter(|i| i.starts_with("Event") || i.contains("NotAnObject")).count();
                proptest::prop_assert_eq!(whole.len(), records.len(), "{:?}", whole);
                proptest::prop_assert!(events + usize::from(broken.is_some_and(|k| k < records.len())) >= records.len());
            }
        }
    }

    /// Yields `data`, then fails.
    struct FailingAfter<'a>(&'a [u8]);

    impl Read for FailingAfter<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.0.len());
            let (now, later) = self.0.split_at(n);
            buf[..n].copy_from_slice(now);
            self.0 = later;
            Ok(n)
        }
    }

    #[test]
    fn a_read_error_keeps_the_records_before_it_and_is_reported() {
        for limit in [1 << 20, 3] {
            let items = items_within(FailingAfter(br#"{"Records":[{"a":1},{"b":2},{"c""#), limit);
            assert_eq!(items.len(), 3, "{items:?}");
            assert!(items[0].starts_with("Event") && items[1].starts_with("Event"), "{items:?}");
            assert!(items[2].contains("malformed or truncated after 2 records: disk on fire"), "{items:?}");
            // Malformed before the failure: that is what is reported.
            let items = items_within(FailingAfter(br#"{"Records":[{"a":1},{"b":2} x"#), limit);
            assert!(items[2].contains("after 2 records: expected `,` or `]`"), "{items:?}");
        }
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
