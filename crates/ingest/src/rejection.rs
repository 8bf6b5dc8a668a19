//! Why an input was not imported: a typed reason (stable kebab-case name for
//! `--format json`), a human detail, and where in the input, when known.

use std::fmt;

use serde::Serialize;

/// A stable, machine-readable reason an input was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// The file or directory could not be read (permissions, I/O error).
    Unreadable,
    /// Nothing but whitespace (or zero bytes).
    Empty,
    /// Not XML that a parser can read: bad syntax, mismatched tags.
    InvalidXml,
    /// A `<!DOCTYPE` (and so possible entity declarations): refused, never
    /// expanded (XXE, billion laughs).
    Doctype,
    /// A reference to an entity other than the five XML predefines and
    /// character references; only a DOCTYPE could declare it.
    UndeclaredEntity,
    /// Not JSON that a parser can read.
    InvalidJson,
    /// The input ends in the middle of the document or compressed stream.
    Truncated,
    /// Bytes that are not UTF-8 where UTF-8 is required.
    Encoding,
    /// Over a configured cap: input size, decompressed size, nesting, elements.
    SizeLimit,
    /// A corrupt or unsupported gzip or zip container.
    BadArchive,
    /// A zip that does not hold exactly one report member.
    ZipMembers,
    /// XML whose root is `feedback` in a namespace no DMARC version uses.
    WrongNamespace,
    /// Readable, but no DMARC aggregate, failure or TLS report.
    NotAReport,
    /// A field every report of its kind must have is missing or empty.
    MissingField,
    /// A number out of range or not a number (counts, epochs).
    InvalidNumber,
    /// A value that cannot be read unambiguously (IP address, date, range).
    InvalidValue,
}

impl Reason {
    /// The kebab-case name printed in `--format json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Unreadable => "unreadable",
            Reason::Empty => "empty",
            Reason::InvalidXml => "invalid-xml",
            Reason::Doctype => "doctype",
            Reason::UndeclaredEntity => "undeclared-entity",
            Reason::InvalidJson => "invalid-json",
            Reason::Truncated => "truncated",
            Reason::Encoding => "encoding",
            Reason::SizeLimit => "size-limit",
            Reason::BadArchive => "bad-archive",
            Reason::ZipMembers => "zip-members",
            Reason::WrongNamespace => "wrong-namespace",
            Reason::NotAReport => "not-a-report",
            Reason::MissingField => "missing-field",
            Reason::InvalidNumber => "invalid-number",
            Reason::InvalidValue => "invalid-value",
        }
    }
}

/// A line and column (both 1-based) in the decoded payload, plus the byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Position {
    pub line: u64,
    pub column: u64,
    pub offset: u64,
}

impl Position {
    /// The position of byte `offset` in `text` (counted, not stored per line).
    pub fn in_text(text: &[u8], offset: u64) -> Position {
        let end = usize::try_from(offset).unwrap_or(usize::MAX).min(text.len());
        let before = &text[..end];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        Position {
            line,
            column: (end - line_start) as u64 + 1,
            offset,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {} column {}", self.line, self.column)
    }
}

/// A rejected input: reason, what was wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub reason: Reason,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl Rejection {
    pub fn new(reason: Reason, detail: impl Into<String>) -> Rejection {
        Rejection {
            reason,
            detail: detail.into(),
            position: None,
        }
    }

    pub fn at(mut self, position: Position) -> Rejection {
        self.position = Some(position);
        self
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.as_str(), self.detail)?;
        if let Some(p) = self.position {
            write!(f, " (at {p})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Rejection {}
