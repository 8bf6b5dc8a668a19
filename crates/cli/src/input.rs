//! The domains to scan: positional arguments, then `--input FILE` (or `-`
//! for standard input), one per line with `#` comments.
//!
//! A list is data someone else may have produced, so each line is read on
//! its own terms: a line that is not UTF-8 or is absurdly long is reported
//! as `FILE:LINE` and skipped (the rest is still scanned), a UTF-8
//! byte-order mark is dropped, and no line is held or echoed whole.

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::Path;

use anyhow::{Context, Result};
use mailwarden_model::{DomainName, NameError};
use tokio::sync::mpsc;

/// Longest line kept (a domain name is at most 253 octets; the rest is room
/// for a comment). Longer lines are skipped without being stored.
pub const MAX_LINE: usize = 1024;
/// How much of a bad line an error message shows.
const SHOWN: usize = 80;

/// One line of input: where it came from, and what it said (or why it
/// could not be used).
pub struct InputLine {
    pub origin: String,
    pub text: Result<String, LineError>,
}

/// Why a line could not be read as text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// The input failed; the list ends here.
    #[error("cannot read: {0}")]
    Read(String),
    /// Longer than [`MAX_LINE`]: skipped without being kept.
    #[error("line of {length} bytes, longer than {}: not a domain name (skipped)", MAX_LINE)]
    TooLong { length: usize },
    #[error("not UTF-8 text (skipped)")]
    NotUtf8,
}

/// Why a line names no domain to scan, after where it is (`FILE:LINE`).
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{origin}: {error}")]
    Line { origin: String, error: LineError },
    /// `shown`: the text, quoted and cut (see [`shown`]).
    #[error("{origin}: invalid domain name {shown}: {error}")]
    Name {
        origin: String,
        shown: String,
        error: NameError,
    },
}

impl InputLine {
    pub fn parse(self) -> Result<DomainName, InputError> {
        let origin = self.origin;
        let text = self.text.map_err(|error| InputError::Line {
            origin: origin.clone(),
            error,
        })?;
        DomainName::parse(&text).map_err(|error| InputError::Name {
            origin,
            shown: shown(&text),
            error,
        })
    }
}

/// `text` quoted, cut to [`SHOWN`] characters.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}… ({} bytes)", &text[..cut], text.len()),
        None => format!("{text:?}"),
    }
}

/// Read arguments, then the input file or standard input, on a blocking
/// thread, into a bounded channel (so a huge list is never held whole).
pub fn spawn_reader(domains: &[String], input: Option<&Path>) -> Result<mpsc::Receiver<InputLine>> {
    let (tx, rx) = mpsc::channel::<InputLine>(1024);
    let positional = domains.to_vec();
    let input: Option<(Box<dyn BufRead + Send>, String)> = match input {
        None => None,
        Some(p) if p == Path::new("-") => Some((Box::new(BufReader::new(io::stdin())), "<stdin>".into())),
        Some(p) => Some((
            Box::new(BufReader::new(
                File::open(p).with_context(|| format!("--input {}: cannot open", p.display()))?,
            )),
            p.display().to_string(),
        )),
    };
    std::thread::spawn(move || {
        for (i, d) in positional.into_iter().enumerate() {
            let line = InputLine {
                origin: format!("argument {}", i + 1),
                text: Ok(d),
            };
            if tx.blocking_send(line).is_err() {
                return;
            }
        }
        if let Some((mut input, label)) = input {
            read_lines(&mut *input, &label, |line| tx.blocking_send(line).is_ok());
        }
    });
    Ok(rx)
}

/// Send every non-empty line of `input` (comments and blanks dropped) to
/// `send` until it returns false. A read error ends the list, reported.
pub fn read_lines(input: &mut dyn BufRead, label: &str, mut send: impl FnMut(InputLine) -> bool) {
    let mut buf = Vec::with_capacity(256);
    for n in 1.. {
        let origin = format!("{label}:{n}");
        let length = match read_bounded_line(input, &mut buf, MAX_LINE) {
            Ok(Some(line)) => line.length,
            Ok(None) => return,
            Err(e) => {
                send(InputLine {
                    origin,
                    text: Err(LineError::Read(e.to_string())),
                });
                return;
            }
        };
        let bytes = if n == 1 {
            buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf)
        } else {
            &buf
        };
        let text = match std::str::from_utf8(bytes) {
            _ if length > MAX_LINE => Err(LineError::TooLong { length }),
            Ok(text) => Ok(text.split('#').next().unwrap_or("").trim().to_string()),
            Err(_) => Err(LineError::NotUtf8),
        };
        if text.as_ref().is_ok_and(String::is_empty) {
            continue;
        }
        if !send(InputLine { origin, text }) {
            return;
        }
    }
}

/// One line as [`read_bounded_line`] read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line {
    /// The full length in bytes, without the line end (more than was kept
    /// when over the limit).
    pub length: usize,
    /// Whether a `\n` ended it (the last line of a file may lack one).
    pub terminated: bool,
}

/// How far past its limit a line is skipped before the input is given up
/// on as not line-oriented text at all (`/dev/zero` has no line end).
pub const GIVE_UP: usize = 256 << 20;

/// Read one line into `buf` (without its `\n` or `\r\n`), keeping at most
/// `max + 1` bytes of it, or `None` at the end of the input. A line longer
/// than [`GIVE_UP`] is an error.
pub fn read_bounded_line(input: &mut dyn BufRead, buf: &mut Vec<u8>, max: usize) -> io::Result<Option<Line>> {
    buf.clear();
    let mut length = 0usize;
    loop {
        if length > GIVE_UP.max(max) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "a line longer than {} MiB: not line-oriented text",
                    GIVE_UP.max(max) >> 20
                ),
            ));
        }
        let chunk = match input.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok((length > 0).then(|| trim_cr(buf, length, false)));
        }
        let (line, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (&chunk[..i], Some(i + 1)),
            None => (chunk, None),
        };
        let room = (max + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&line[..line.len().min(room)]);
        length += line.len();
        let used = done.unwrap_or(line.len());
        input.consume(used);
        if done.is_some() {
            return Ok(Some(trim_cr(buf, length, true)));
        }
    }
}

fn trim_cr(buf: &mut Vec<u8>, length: usize, terminated: bool) -> Line {
    let crlf = length <= buf.len() && buf.last() == Some(&b'\r');
    if crlf {
        buf.pop();
    }
    Line {
        length: length - usize::from(crlf),
        terminated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(String, Result<String, LineError>)> {
        let mut out = Vec::new();
        read_lines(&mut &input[..], "list", |l| {
            out.push((l.origin, l.text));
            true
        });
        out
    }

    #[test]
    fn non_utf8_line_is_reported_and_the_rest_still_read() {
        let got = lines(b"a.example\n\xff\xfe.example\nb.example\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[1], ("list:2".into(), Err(LineError::NotUtf8)));
        assert_eq!(LineError::NotUtf8.to_string(), "not UTF-8 text (skipped)");
        assert_eq!(got[2], ("list:3".into(), Ok("b.example".into())));
    }

    #[test]
    fn utf8_bom_before_the_first_domain_is_dropped() {
        let got = lines(b"\xEF\xBB\xBFa.example\r\nb.example");
        assert_eq!(got[0].1, Ok("a.example".into()));
        assert_eq!(got[1].1, Ok("b.example".into()));
    }

    #[test]
    fn ten_megabyte_line_is_skipped_not_held_or_echoed() {
        let mut input = vec![b'a'; 10 << 20];
        input.extend_from_slice(b"\nok.example\n");
        let got = lines(&input);
        let error = got[0].1.as_ref().unwrap_err();
        assert_eq!(
            error.to_string(),
            "line of 10485760 bytes, longer than 1024: not a domain name (skipped)"
        );
        assert_eq!(got[1], ("list:2".into(), Ok("ok.example".into())));
    }

    #[test]
    fn invalid_domain_error_shows_a_bounded_excerpt() {
        let line = InputLine {
            origin: "list:1".into(),
            text: Ok("x".repeat(1000)),
        };
        let error = line.parse().unwrap_err().to_string();
        assert!(error.starts_with("list:1: invalid domain name \"xxx"), "{error}");
        assert!(error.len() < 300, "{error}");
        assert!(error.contains("… (1000 bytes)"), "{error}");
    }

    #[test]
    fn comments_and_blank_lines_are_not_sent() {
        let got = lines(b"# list\n\n  a.example  # first\n");
        assert_eq!(got, [("list:3".into(), Ok("a.example".into()))]);
    }
}
