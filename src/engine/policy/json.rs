//! A small JSON reader that keeps what policy validation needs and serde_json's
//! `Value` throws away: the line and column of every node, the literal text of
//! numbers, and duplicate object keys (which AWS rejects and most JSON parsers
//! silently collapse to the last one).
//!
//! First stage of the pipeline: bytes → [`Json`] tree → `policy::parse` → model.
//! Depth and size are bounded so hostile input cannot exhaust the stack.

use std::fmt;

/// Deepest nesting accepted; IAM documents need fewer than ten levels.
pub const MAX_DEPTH: usize = 64;

/// Where a node starts in its text (1-based line and column, in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Span {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column number (in characters).
    pub column: u32,
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A parsed JSON value with its position.
#[derive(Clone, Debug, PartialEq)]
pub struct Json {
    /// What the value is.
    pub kind: JsonKind,
    /// Where it starts.
    pub span: Span,
}

/// The shape of a JSON value; numbers keep their literal text.
#[derive(Clone, Debug, PartialEq)]
pub enum JsonKind {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// A number, as written (`10`, `10.0`, `1e3`).
    Number(String),
    /// A string, unescaped.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object; members in document order, keys unique.
    Object(Vec<Member>),
}

/// One `"key": value` member of an object.
#[derive(Clone, Debug, PartialEq)]
pub struct Member {
    /// The key, unescaped.
    pub key: String,
    /// Where the key starts.
    pub key_span: Span,
    /// The value.
    pub value: Json,
}

impl Json {
    /// A short name of the value's type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            JsonKind::Null => "null",
            JsonKind::Bool(_) => "a boolean",
            JsonKind::Number(_) => "a number",
            JsonKind::String(_) => "a string",
            JsonKind::Array(_) => "an array",
            JsonKind::Object(_) => "an object",
        }
    }

    /// The members if this is an object.
    pub fn as_object(&self) -> Option<&[Member]> {
        match &self.kind {
            JsonKind::Object(m) => Some(m),
            _ => None,
        }
    }

    /// The text if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            JsonKind::String(s) => Some(s),
            _ => None,
        }
    }

    /// The member named `key` if this is an object.
    pub fn get(&self, key: &str) -> Option<&Json> {
        self.as_object()?.iter().find(|m| m.key == key).map(|m| &m.value)
    }

    /// Converts to a `serde_json::Value` (numbers that do not fit become strings).
    pub fn to_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.kind {
            JsonKind::Null => Value::Null,
            JsonKind::Bool(b) => Value::Bool(*b),
            JsonKind::Number(n) => serde_json::from_str::<serde_json::Number>(n)
                .map(Value::Number)
                .unwrap_or_else(|_| Value::String(n.clone())),
            JsonKind::String(s) => Value::String(s.clone()),
            JsonKind::Array(a) => Value::Array(a.iter().map(Json::to_value).collect()),
            JsonKind::Object(m) => Value::Object(m.iter().map(|m| (m.key.clone(), m.value.to_value())).collect()),
        }
    }
}

/// A short name of a `serde_json::Value`'s type, for error messages.
pub fn value_type_name(v: &serde_json::Value) -> &'static str {
    match v {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// A JSON syntax error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the problem was found.
    pub span: Span,
    /// What was expected or found.
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.span, self.message)
    }
}

impl std::error::Error for SyntaxError {}

/// Parses one JSON document (surrounding whitespace allowed, a UTF-8 BOM skipped).
///
/// # Errors
/// Invalid JSON, invalid UTF-8, a duplicate object key, nesting deeper than
/// [`MAX_DEPTH`], or trailing content.
pub fn parse(bytes: &[u8]) -> Result<Json, SyntaxError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = Reader { bytes, pos: 0, line: 1, line_start: 0, col_pos: 0, col_chars: 0 };
    reader.skip_ws();
    if reader.pos >= bytes.len() {
        return Err(reader.error("empty document: expected a JSON value"));
    }
    let value = reader.value(0)?;
    reader.skip_ws();
    if reader.pos < bytes.len() {
        return Err(reader.error("unexpected content after the JSON value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
    line_start: usize,
    /// Position up to which characters of the current line were counted, and
    /// how many: spans are taken in increasing order, so counting resumes here
    /// (minified documents are one long line; recounting would be quadratic).
    col_pos: usize,
    col_chars: usize,
}

impl Reader<'_> {
    fn span(&mut self) -> Span {
        if self.col_pos < self.line_start || self.col_pos > self.pos {
            self.col_pos = self.line_start;
            self.col_chars = 0;
        }
        let end = self.pos.min(self.bytes.len());
        // Columns count characters, not bytes; invalid UTF-8 counts bytewise.
        let counted =
            self.bytes.get(self.col_pos.min(end)..end).map_or(0, |s| s.iter().filter(|b| (**b & 0xC0) != 0x80).count());
        self.col_chars += counted;
        self.col_pos = end;
        Span { line: self.line, column: u32::try_from(self.col_chars + 1).unwrap_or(u32::MAX) }
    }

    fn error(&mut self, message: impl Into<String>) -> SyntaxError {
        SyntaxError { span: self.span(), message: message.into() }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => {
                    self.pos += 1;
                    self.line += 1;
                    self.line_start = self.pos;
                }
                b' ' | b'\t' | b'\r' => self.pos += 1,
                _ => break,
            }
        }
    }

    fn describe_next(&self) -> String {
        match self.peek() {
            None => "end of input".to_string(),
            Some(b) if b.is_ascii_graphic() => format!("`{}`", char::from(b)),
            Some(b) => format!("byte 0x{b:02x}"),
        }
    }

    fn expect_byte(&mut self, want: u8, what: &str) -> Result<(), SyntaxError> {
        if self.peek() == Some(want) {
            self.pos += 1;
            Ok(())
        } else {
            let found = self.describe_next();
            Err(self.error(format!("expected {what}, found {found}")))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, SyntaxError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nesting deeper than {MAX_DEPTH} levels")));
        }
        let span = self.span();
        let kind = match self.peek() {
            Some(b'{') => self.object(depth)?,
            Some(b'[') => self.array(depth)?,
            Some(b'"') => JsonKind::String(self.string()?),
            Some(b't') => self.literal("true", JsonKind::Bool(true))?,
            Some(b'f') => self.literal("false", JsonKind::Bool(false))?,
            Some(b'n') => self.literal("null", JsonKind::Null)?,
            Some(b'-' | b'0'..=b'9') => JsonKind::Number(self.number()?),
            _ => return Err(self.error(format!("expected a JSON value, found {}", self.describe_next()))),
        };
        Ok(Json { kind, span })
    }

    fn literal(&mut self, word: &str, kind: JsonKind) -> Result<JsonKind, SyntaxError> {
        if self.bytes.get(self.pos..self.pos + word.len()) == Some(word.as_bytes()) {
            self.pos += word.len();
            Ok(kind)
        } else {
            Err(self.error(format!("expected `{word}`")))
        }
    }

    fn number(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let digits = |r: &mut Self| {
            let s = r.pos;
            while matches!(r.peek(), Some(b'0'..=b'9')) {
                r.pos += 1;
            }
            r.pos - s
        };
        if self.peek() == Some(b'0') {
            self.pos += 1;
        } else if digits(self) == 0 {
            return Err(self.error("expected a digit"));
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if digits(self) == 0 {
                return Err(self.error("expected a digit after the decimal point"));
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("expected a digit in the exponent"));
            }
        }
        let text = self.bytes.get(start..self.pos).unwrap_or_default();
        Ok(String::from_utf8_lossy(text).into_owned())
    }

    fn hex4(&mut self) -> Result<u32, SyntaxError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = self
                .peek()
                .and_then(|b| char::from(b).to_digit(16))
                .ok_or_else(|| self.error("expected four hex digits after `\\u`"))?;
            v = v * 16 + d;
            self.pos += 1;
        }
        Ok(v)
    }

    fn string(&mut self) -> Result<String, SyntaxError> {
        self.expect_byte(b'"', "`\"`")?;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error("unterminated string"));
            };
            match b {
                b'"' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => {
                    self.pos += 1;
                    let esc = self.peek().ok_or_else(|| self.error("unterminated escape"))?;
                    self.pos += 1;
                    let c = match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let code = if (0xD800..0xDC00).contains(&hi) {
                                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                                    return Err(self.error("unpaired surrogate in `\\u` escape"));
                                }
                                self.pos += 2;
                                let lo = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&lo) {
                                    return Err(self.error("invalid low surrogate in `\\u` escape"));
                                }
                                0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                            } else {
                                hi
                            };
                            char::from_u32(code).ok_or_else(|| self.error("invalid `\\u` escape"))?
                        }
                        _ => return Err(self.error("invalid escape sequence")),
                    };
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                0x00..=0x1F => return Err(self.error("control character inside a string (escape it)")),
                _ => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(out).map_err(|_| self.error("string is not valid UTF-8"))
    }

    fn array(&mut self, depth: usize) -> Result<JsonKind, SyntaxError> {
        self.expect_byte(b'[', "`[`")?;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(JsonKind::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth + 1)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(JsonKind::Array(items));
                }
                _ => return Err(self.error(format!("expected `,` or `]` in array, found {}", self.describe_next()))),
            }
        }
    }

    fn object(&mut self, depth: usize) -> Result<JsonKind, SyntaxError> {
        self.expect_byte(b'{', "`{`")?;
        let mut members: Vec<Member> = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(JsonKind::Object(members));
        }
        loop {
            self.skip_ws();
            let key_span = self.span();
            if self.peek() != Some(b'"') {
                return Err(self.error(format!("expected a string key, found {}", self.describe_next())));
            }
            let key = self.string()?;
            if let Some(first) = members.iter().find(|m| m.key == key) {
                return Err(SyntaxError {
                    span: key_span,
                    message: format!("duplicate key `{key}` (first at {}); AWS rejects duplicate keys", first.key_span),
                });
            }
            self.skip_ws();
            self.expect_byte(b':', "`:` after the key")?;
            self.skip_ws();
            let value = self.value(depth + 1)?;
            members.push(Member { key, key_span, value });
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(JsonKind::Object(members));
                }
                _ => return Err(self.error(format!("expected `,` or `}}` in object, found {}", self.describe_next()))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_number_text_and_positions() {
        let j = parse(b"{\n  \"a\": 10.0,\n  \"b\": [true, null]\n}").unwrap();
        let a = j.get("a").unwrap();
        assert_eq!(a.kind, JsonKind::Number("10.0".into()));
        assert_eq!(a.span, Span { line: 2, column: 8 });
        assert_eq!(j.get("b").unwrap().type_name(), "an array");
    }

    #[test]
    fn rejects_duplicate_keys_with_position() {
        let e = parse(b"{\"Effect\":\"Allow\",\n \"Effect\":\"Deny\"}").unwrap_err();
        assert_eq!(e.span, Span { line: 2, column: 2 });
        assert!(e.message.contains("duplicate key `Effect`"), "{}", e.message);
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            &b""[..],
            b"   ",
            b"{",
            b"[1,]",
            b"{\"a\" 1}",
            b"\"\xff\"",
            b"01",
            b"1 2",
            b"\"\\ud800\"",
            b"\"a\nb\"",
            b"tru",
        ] {
            assert!(parse(bad).is_err(), "accepted {:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn columns_count_characters_incrementally() {
        // Spans taken in order on one long line, after multibyte characters, and
        // again after a line break must all be exact.
        let long = format!("[{}\"é\", true,\n  \"ü\", nul]", "1,".repeat(5000));
        let e = parse(long.as_bytes()).unwrap_err();
        assert_eq!(e.span, Span { line: 2, column: 8 });
        let j = parse(format!("[{}\"é\", 7]", "1,".repeat(5000)).as_bytes()).unwrap();
        let JsonKind::Array(items) = j.kind else { panic!() };
        assert_eq!(items.last().unwrap().span, Span { line: 1, column: 10_007 });
    }

    #[test]
    fn bounds_depth() {
        let deep = "[".repeat(MAX_DEPTH + 2) + &"]".repeat(MAX_DEPTH + 2);
        assert!(parse(deep.as_bytes()).unwrap_err().message.contains("nesting"));
        let ok = "[".repeat(MAX_DEPTH) + &"]".repeat(MAX_DEPTH);
        assert!(parse(ok.as_bytes()).is_ok());
    }

    #[test]
    fn unescapes_strings() {
        let j = parse(br#""a\"\u00e9\ud83d\ude00\/""#).unwrap();
        assert_eq!(j.as_str(), Some("a\"é😀/"));
    }
}
