//! The streaming form of [`crate::xml`]: the same rules (no DOCTYPE, only
//! predefined entities and character references, nesting capped, one root,
//! UTF-8 only) over a reader, handing out the root's children one subtree
//! at a time, so a report of a million rows is read in the memory of one.
//!
//! [`Tracked`] sits under the XML reader: it counts lines of what the
//! reader consumed (exact positions for every element, like the in-memory
//! parser's), hashes it (the report's digest), checks UTF-8 ahead of the
//! reader; [`Capped`] readers below it enforce the size caps.

use std::io::{self, BufRead, Read};

use quick_xml::NsReader;
use quick_xml::events::Event;
use sha2::{Digest, Sha256};

use crate::rejection::{Position, Reason, Rejection};
use crate::xml::{Element, append, element, namespace, resolve_reference};

/// Where a stream of bytes is: offset, line (0-based count of newlines
/// before it) and the offset its line starts at.
#[derive(Debug, Clone, Copy, Default)]
struct LineState {
    offset: u64,
    line: u64,
    line_start: u64,
}

impl LineState {
    fn advance(&mut self, bytes: &[u8]) {
        // Count, then find the last newline: both vectorise, where a loop
        // keeping the last index did not (a tenth of an import's time).
        let newlines = bytes.iter().filter(|b| **b == b'\n').count();
        if newlines > 0 {
            self.line += newlines as u64;
            let last = bytes.iter().rposition(|b| *b == b'\n').unwrap_or_default();
            self.line_start = self.offset + last as u64 + 1;
        }
        self.offset += bytes.len() as u64;
    }

    /// The position of `offset` at or after this state's line start.
    fn position(&self, offset: u64) -> Position {
        Position {
            line: self.line + 1,
            column: offset.saturating_sub(self.line_start) + 1,
            offset,
        }
    }
}

/// Why a [`Tracked`] read failed, when it was the tracker's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Encoding(u64),
}

/// A reader under the XML parser: lines, digest and UTF-8. Caps are the
/// business of the readers below ([`Capped`]).
pub struct Tracked<R> {
    inner: R,
    hasher: Sha256,
    consumed: LineState,
    validated: LineState,
    /// An incomplete UTF-8 sequence at the end of what was validated.
    carry: Vec<u8>,
    stop: Option<Stop>,
}

impl<R: BufRead> Tracked<R> {
    pub fn new(inner: R) -> Tracked<R> {
        Tracked {
            inner,
            hasher: Sha256::new(),
            consumed: LineState::default(),
            validated: LineState::default(),
            carry: Vec::new(),
            stop: None,
        }
    }

    /// The position of the next byte the parser reads.
    pub fn position(&self) -> Position {
        self.consumed.position(self.consumed.offset)
    }

    /// SHA-256 of every byte read (at the end of the document: every byte
    /// consumed), hex.
    pub fn digest(&self) -> String {
        crate::failure::hex(&self.hasher.clone().finalize())
    }

    pub fn consumed(&self) -> u64 {
        self.consumed.offset
    }

    /// Validate the bytes of `buf` from `from` on (all of `buf` is
    /// unconsumed input). Sets `stop` on invalid UTF-8.
    fn validate(&mut self, buf: &[u8], from: usize) {
        let mut rest = &buf[from..];
        if !self.carry.is_empty() {
            let take = rest.len().min(4);
            let mut joined = self.carry.clone();
            joined.extend_from_slice(&rest[..take]);
            match std::str::from_utf8(&joined) {
                Ok(_) => {
                    self.validated.advance(&rest[..take]);
                    rest = &rest[take..];
                    self.carry.clear();
                }
                Err(e) if e.valid_up_to() >= self.carry.len() => {
                    let used = e.valid_up_to() - self.carry.len();
                    self.validated.advance(&rest[..used]);
                    rest = &rest[used..];
                    self.carry.clear();
                }
                Err(e) if e.error_len().is_none() => {
                    // Still incomplete: keep waiting for bytes.
                    self.validated.advance(&rest[..take]);
                    self.carry = joined;
                    return;
                }
                Err(_) => {
                    let at = self.validated.offset - self.carry.len() as u64;
                    self.stop = Some(Stop::Encoding(at));
                    return;
                }
            }
        }
        match std::str::from_utf8(rest) {
            Ok(_) => self.validated.advance(rest),
            Err(e) => {
                let good = e.valid_up_to();
                self.validated.advance(&rest[..good]);
                if e.error_len().is_none() {
                    self.carry = rest[good..].to_vec();
                    self.validated.advance(&rest[good..]);
                } else {
                    self.stop = Some(Stop::Encoding(self.validated.offset));
                }
            }
        }
    }

    /// The position of an invalid byte found ahead of the parser.
    fn encoding_position(&self, offset: u64) -> Position {
        self.validated.position(offset)
    }
}

impl<R: BufRead> Read for Tracked<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let buf = self.fill_buf()?;
        let n = buf.len().min(out.len());
        out[..n].copy_from_slice(&buf[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Tracked<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if let Some(stop) = self.stop {
            return Err(io::Error::other(format!("{stop:?}")));
        }
        let consumed = self.consumed.offset;
        let buf = self.inner.fill_buf()?;
        let len = buf.len();
        // Validate what this buffer adds beyond what was checked before.
        let checked = usize::try_from(self.validated.offset - consumed).unwrap_or(usize::MAX);
        if checked < len {
            // Borrow juggling: copy the new part's bounds, re-borrow after.
            let owned = buf.to_vec();
            self.validate(&owned, checked);
            if let Some(stop) = self.stop {
                return Err(io::Error::other(format!("{stop:?}")));
            }
            // Hashed as it is validated, a buffer at a time rather than an
            // event at a time: the parser consumes every byte before the
            // digest is read (it is read at the end of the document).
            self.hasher.update(&owned[checked..]);
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            self.consumed.advance(&buf[..amt.min(buf.len())]);
        }
        self.inner.consume(amt);
    }
}

/// The root element's children, one completed subtree at a time.
pub struct Subtrees<R: BufRead> {
    reader: NsReader<Tracked<R>>,
    buf: Vec<u8>,
    max_depth: usize,
    /// Open elements; `stack[0]` is the root (its children are handed out,
    /// never kept).
    stack: Vec<Element>,
    root: Option<Element>,
    closed: bool,
    /// What the reader's I/O errors mean (the decompressor's own errors).
    io_what: &'static str,
    /// The document failed below the XML (a cap, a broken gzip stream).
    io_failed: std::cell::Cell<bool>,
}

/// What went wrong reading: a rejection of the document.
pub type Result<T> = std::result::Result<T, Rejection>;

impl<R: BufRead> Subtrees<R> {
    /// `io_what` names the container in I/O errors ("gzip"), or "" for a plain file.
    pub fn new(tracked: Tracked<R>, max_depth: usize, io_what: &'static str) -> Subtrees<R> {
        let mut reader = NsReader::from_reader(tracked);
        reader.config_mut().check_end_names = true;
        Subtrees {
            reader,
            buf: Vec::new(),
            max_depth,
            stack: Vec::new(),
            root: None,
            closed: false,
            io_what,
            io_failed: std::cell::Cell::new(false),
        }
    }

    pub fn tracked(&self) -> &Tracked<R> {
        self.reader.get_ref()
    }

    /// Whether reading failed below the XML (a cap, a broken gzip stream):
    /// then, as in memory, the input has no kind.
    pub fn io_failed(&self) -> bool {
        self.io_failed.get()
    }

    /// The root element (without children), reading up to its start tag.
    pub fn root(&mut self) -> Result<Element> {
        while self.root.is_none() && !self.closed {
            if self.step()?.is_none() && self.root.is_none() {
                return Err(Rejection::new(Reason::InvalidXml, "no element at all"));
            }
        }
        self.root
            .clone()
            .ok_or_else(|| Rejection::new(Reason::InvalidXml, "no element at all"))
    }

    /// The next completed child of the root, or `None` at the end of the
    /// document (once the rest of the input was checked).
    pub fn next_child(&mut self) -> Result<Option<Element>> {
        loop {
            match self.step()? {
                Some(Step::Child(el)) => return Ok(Some(el)),
                Some(Step::Progress) => {}
                None => return Ok(None),
            }
        }
    }

    /// One event; `None` at the end of input.
    fn step(&mut self) -> Result<Option<Step>> {
        // The event borrows the buffer, not `self`: taken out and put back,
        // so no event is copied to be handled.
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let step = self.step_in(&mut buf);
        self.buf = buf;
        step
    }

    fn step_in(&mut self, buf: &mut Vec<u8>) -> Result<Option<Step>> {
        let at = self.reader.get_ref().position();
        let (ns, event) = match self.reader.read_resolved_event_into(buf) {
            Ok((ns, event)) => (namespace(&ns), event),
            Err(e) => return Err(self.read_error(&e)),
        };
        match event {
            Event::DocType(_) => Err(Rejection::new(
                Reason::Doctype,
                "a DOCTYPE is refused (it could declare entities: XXE, entity expansion)",
            )
            .at(at)),
            Event::Start(tag) | Event::Empty(tag) if self.closed || (self.root.is_some() && self.stack.is_empty()) => {
                let name = tag.local_name().as_ref().to_string();
                Err(Rejection::new(
                    Reason::InvalidXml,
                    format!("a second top-level element <{name}> after the document's end"),
                )
                .at(at))
            }
            Event::Start(tag) => {
                if self.stack.len() >= self.max_depth {
                    return Err(Rejection::new(
                        Reason::SizeLimit,
                        format!("elements nested deeper than {}", self.max_depth),
                    )
                    .at(at));
                }
                let el = element(&tag, ns, at);
                if self.stack.is_empty() {
                    self.root = Some(el.clone());
                }
                self.stack.push(el);
                Ok(Some(Step::Progress))
            }
            Event::Empty(tag) => {
                let el = element(&tag, ns, at);
                Ok(Some(self.close(el)))
            }
            Event::End(_) => match self.stack.pop() {
                Some(el) => Ok(Some(self.close(el))),
                None => Ok(Some(Step::Progress)),
            },
            Event::Text(t) => self.text(&t.xml10_content(), at),
            Event::CData(c) => {
                let raw = c.into_inner();
                self.text(&raw, at)
            }
            Event::GeneralRef(r) => {
                let resolved = resolve_reference(&r).map_err(|e| e.at(at))?;
                self.text(&resolved, at)
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => Ok(Some(Step::Progress)),
            Event::Eof => {
                if let Some(open) = self.stack.last() {
                    let end = self.reader.get_ref().position();
                    return Err(Rejection::new(
                        Reason::Truncated,
                        format!("the input ends inside <{}> (opened at {})", open.name, open.position),
                    )
                    .at(end));
                }
                self.closed = true;
                Ok(None)
            }
        }
    }

    /// Text goes to the open subtree; the root's own text is dropped (a
    /// report has none); outside the root only whitespace is allowed.
    fn text(&mut self, text: &str, at: Position) -> Result<Option<Step>> {
        if self.stack.len() == 1 {
            return Ok(Some(Step::Progress));
        }
        append(&mut self.stack, text, at)?;
        Ok(Some(Step::Progress))
    }

    fn close(&mut self, el: Element) -> Step {
        match self.stack.len() {
            // The root itself closed (or an empty root).
            0 => {
                if self.root.is_none() {
                    self.root = Some(el);
                }
                self.closed = true;
                Step::Progress
            }
            1 => Step::Child(el),
            _ => {
                if let Some(parent) = self.stack.last_mut() {
                    parent.children.push(el);
                }
                Step::Progress
            }
        }
    }

    fn read_error(&self, e: &quick_xml::Error) -> Rejection {
        let tracked = self.reader.get_ref();
        match tracked.stop {
            Some(Stop::Encoding(offset)) => {
                return Rejection::new(Reason::Encoding, "not UTF-8 (reports must be UTF-8)")
                    .at(tracked.encoding_position(offset));
            }
            None => {}
        }
        if let quick_xml::Error::Io(io) = e {
            self.io_failed.set(true);
            return io_rejection(io, self.io_what);
        }
        let offset = self.reader.error_position();
        let reason = match e {
            quick_xml::Error::Syntax(s) if *s != quick_xml::errors::SyntaxError::InvalidBangMarkup => Reason::Truncated,
            _ => Reason::InvalidXml,
        };
        Rejection::new(reason, e.to_string()).at(tracked.consumed.position(offset))
    }
}

enum Step {
    Child(Element),
    Progress,
}

/// A reader that fails with [`io::ErrorKind::FileTooLarge`] (its message
/// the rejection's detail) once more than `cap` bytes came through.
pub struct Capped<R> {
    inner: R,
    left: u64,
    detail: String,
}

impl<R: Read> Capped<R> {
    pub fn new(inner: R, cap: u64, detail: String) -> Capped<R> {
        Capped {
            inner,
            left: cap,
            detail,
        }
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        match self.left.checked_sub(n as u64) {
            Some(left) => {
                self.left = left;
                Ok(n)
            }
            None => Err(io::Error::new(io::ErrorKind::FileTooLarge, self.detail.clone())),
        }
    }
}

/// What an I/O error under the parser means: a cap (size-limit), a stream
/// that ends early (truncated), else a broken container or file.
pub fn io_rejection(io: &io::Error, what: &str) -> Rejection {
    let what = if what.is_empty() { "read" } else { what };
    match io.kind() {
        io::ErrorKind::FileTooLarge => Rejection::new(Reason::SizeLimit, io.to_string()),
        io::ErrorKind::UnexpectedEof => {
            Rejection::new(Reason::Truncated, format!("{what}: the stream ends early ({io})"))
        }
        _ if what == "read" => Rejection::new(Reason::Unreadable, io.to_string()),
        _ => Rejection::new(Reason::BadArchive, format!("{what}: {io}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The line state after feeding `text` in pieces of `step` bytes
    /// equals the one counted byte by byte.
    #[test]
    fn line_state_counts_lines_and_line_starts_across_pieces() {
        let text = b"<a>\n  <b>x</b>\n\n<c/>\r\n</a>\nno newline at the end";
        for step in 1..=text.len() {
            let mut state = LineState::default();
            for piece in text.chunks(step) {
                state.advance(piece);
            }
            let lines = text.iter().filter(|b| **b == b'\n').count() as u64;
            let start = text.iter().rposition(|b| *b == b'\n').unwrap() as u64 + 1;
            assert_eq!(
                (state.offset, state.line, state.line_start),
                (text.len() as u64, lines, start),
                "pieces of {step}"
            );
        }
    }
}
