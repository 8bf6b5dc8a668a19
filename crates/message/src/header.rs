//! The header section of one message, split into fields (RFC 5322 §2.2),
//! bounded and lossless enough to report on.
//!
//! Messages are untrusted: the section is cut at [`MAX_HEADER_BYTES`], at
//! most [`MAX_FIELDS`] fields are kept, NUL bytes and bare CR are noted
//! as problems (RFC 5322 §2.2: "A field body MAY be composed of printable
//! US-ASCII characters as well as the space (SP, ASCII value 32) and
//! horizontal tab (HT, ASCII value 9) characters"), and bytes outside
//! UTF-8 are kept as U+FFFD. Nothing here panics on any input.

use serde::Serialize;

/// Most bytes of a header section read; the rest is not parsed.
pub const MAX_HEADER_BYTES: usize = 1024 * 1024;
/// Most header fields kept.
pub const MAX_FIELDS: usize = 20_000;

/// One header field: its name as written, and its value unfolded (CRLF
/// before whitespace removed, RFC 5322 §2.2.3) and trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    pub name: String,
    pub value: String,
    /// 0-based position among the fields, top first.
    pub index: usize,
}

impl Field {
    /// Whether the field is named `name` (case-insensitive, RFC 5322 §1.2.2).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }
}

/// A parsed header section and what was wrong with it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Headers {
    pub fields: Vec<Field>,
    /// Problems in the input (NUL bytes, lines that are not fields,
    /// truncation), each saying where.
    pub problems: Vec<String>,
    /// Byte offset where the body starts (after the empty line), or the
    /// message length when there is no body.
    pub body_offset: usize,
    /// More than [`MAX_FIELDS`] fields: the rest were dropped.
    #[serde(skip)]
    fields_cut: bool,
}

impl Headers {
    /// Every field named `name`, top first.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields.iter().filter(move |f| f.is(name))
    }

    /// The first (topmost) field named `name`.
    pub fn first(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.is(name))
    }
}

/// Split the header section of `raw` into fields.
pub fn parse(raw: &[u8]) -> Headers {
    let (end, body_offset) = header_end(raw);
    let mut h = Headers {
        body_offset,
        ..Headers::default()
    };
    let mut section = &raw[..end];
    if section.len() > MAX_HEADER_BYTES {
        h.problems.push(format!(
            "the header section is {} bytes; only the first {MAX_HEADER_BYTES} were read",
            section.len()
        ));
        section = &section[..MAX_HEADER_BYTES];
    }
    if let Some(pos) = section.iter().position(|&b| b == 0) {
        h.problems.push(format!(
            "a NUL byte at offset {pos} of the header section (RFC 5322 §2.2 allows none)"
        ));
    }
    let mut current: Option<(String, Vec<u8>)> = None;
    for (n, line) in lines(section).enumerate() {
        let line_no = n + 1;
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
            match current.as_mut() {
                Some((_, value)) => {
                    value.push(b' ');
                    value.extend_from_slice(trim(line));
                }
                None => h
                    .problems
                    .push(format!("line {line_no}: a continuation line before any field")),
            }
            continue;
        }
        if let Some(field) = current.take() {
            push(&mut h, field);
        }
        match split_field(line) {
            Some((name, value)) => current = Some((name, value.to_vec())),
            None => h.problems.push(format!(
                "line {line_no}: not a header field (no ':' after a field name): {:?}",
                preview(line)
            )),
        }
    }
    if let Some(field) = current.take() {
        push(&mut h, field);
    }
    h
}

fn push(h: &mut Headers, (name, value): (String, Vec<u8>)) {
    if h.fields.len() >= MAX_FIELDS {
        if !h.fields_cut {
            h.fields_cut = true;
            h.problems
                .push(format!("more than {MAX_FIELDS} header fields; the rest were not read"));
        }
        return;
    }
    let index = h.fields.len();
    h.fields.push(Field {
        name,
        value: String::from_utf8_lossy(trim(&value)).into_owned(),
        index,
    });
}

/// The end of the header section and the start of the body: the first
/// empty line (CRLF CRLF, or LF LF in files saved with Unix line ends).
fn header_end(raw: &[u8]) -> (usize, usize) {
    let mut i = 0;
    while i < raw.len() {
        let rest = &raw[i..];
        if rest.starts_with(b"\r\n") {
            return (i, i + 2);
        }
        if rest.starts_with(b"\n") {
            return (i, i + 1);
        }
        match rest.iter().position(|&b| b == b'\n') {
            Some(p) => i += p + 1,
            None => return (raw.len(), raw.len()),
        }
    }
    (raw.len(), raw.len())
}

/// Lines without their line ends (CRLF or LF).
fn lines(section: &[u8]) -> impl Iterator<Item = &[u8]> {
    section
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.is_empty())
}

/// `name: value`, where the name is printable US-ASCII except ':' (RFC
/// 5322 §2.2: "A field name MUST be composed of printable US-ASCII
/// characters (i.e., characters that have values between 33 and 126,
/// inclusive), except colon").
fn split_field(line: &[u8]) -> Option<(String, &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = trim(&line[..colon]);
    if name.is_empty() || !name.iter().all(|b| (33..=126).contains(b)) {
        return None;
    }
    Some((String::from_utf8_lossy(name).into_owned(), &line[colon + 1..]))
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b.iter().position(|c| !c.is_ascii_whitespace()).unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// At most 60 bytes of a line, for error messages.
fn preview(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(60)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_unfolded_and_the_body_found() {
        let raw = b"Received: from a\r\n by b; Mon, 1 Jan 2024 00:00:00 +0000\r\nSubject: hi\r\n\r\nbody\r\n";
        let h = parse(raw);
        assert_eq!(h.fields.len(), 2);
        assert_eq!(h.fields[0].value, "from a by b; Mon, 1 Jan 2024 00:00:00 +0000");
        assert_eq!(h.first("subject").unwrap().value, "hi");
        assert_eq!(&raw[h.body_offset..], b"body\r\n");
        assert!(h.problems.is_empty(), "{:?}", h.problems);
    }

    #[test]
    fn unix_line_ends_work_too() {
        let h = parse(b"A: 1\nB: 2\n  more\n\nbody");
        assert_eq!(h.fields[1].value, "2 more");
        assert_eq!(h.body_offset, 18);
    }

    #[test]
    fn nul_bytes_and_garbage_lines_are_problems_not_panics() {
        let h = parse(b"A: 1\0\r\n\xff\xfe garbage\r\n continuation\r\nB: \xff\r\n\r\n");
        assert!(
            h.problems.iter().any(|p| p.contains("NUL byte at offset 4")),
            "{:?}",
            h.problems
        );
        assert!(
            h.problems.iter().any(|p| p.starts_with("line 2: not a header field")),
            "{:?}",
            h.problems
        );
        assert_eq!(h.first("b").unwrap().value, "\u{fffd}");
    }

    #[test]
    fn too_many_fields_are_cut_with_one_problem() {
        let raw: Vec<u8> = (0..MAX_FIELDS + 50)
            .flat_map(|i| format!("X-{i}: v\n").into_bytes())
            .collect();
        let h = parse(&raw);
        assert_eq!(h.fields.len(), MAX_FIELDS);
        assert_eq!(h.problems.iter().filter(|p| p.contains("more than")).count(), 1);
    }

    #[test]
    fn a_gigantic_header_section_is_cut_at_the_cap() {
        let mut raw = b"X-Big: ".to_vec();
        raw.extend(std::iter::repeat_n(b'a', MAX_HEADER_BYTES + 10));
        let h = parse(&raw);
        assert!(h.problems[0].contains("only the first"), "{:?}", h.problems);
        assert_eq!(h.fields.len(), 1);
    }
}
