//! Messages out of files: one message (`.eml`), or an mbox of many, read
//! as a stream so that memory stays bounded by one message.
//!
//! Caps (messages are untrusted): a message keeps at most
//! [`Limits::max_message_bytes`]; the bytes beyond are read and dropped and
//! the message is marked [`RawMessage::truncated`] (its signatures cannot
//! be verified then). A file yields at most [`Limits::max_messages`].
//!
//! An mbox is recognised by its first line starting with `From ` (RFC
//! 4155). Each following line starting with `From ` begins a new message;
//! body lines escaped as `>From ` (mboxrd: any number of `>`) lose one `>`,
//! so that signatures over the body verify as sent.

use std::io::{self, BufRead};

/// Size caps for one input.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_message_bytes: usize,
    pub max_messages: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_message_bytes: 32 * 1024 * 1024,
            max_messages: 1_000_000,
        }
    }
}

/// One message as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawMessage {
    /// 1-based position in the file.
    pub number: usize,
    pub bytes: Vec<u8>,
    /// The message was longer than the cap; `bytes` holds its beginning.
    pub truncated: bool,
    /// Its full length in bytes, as read.
    pub length: usize,
    /// It came out of an mbox.
    pub mbox: bool,
}

/// A stream of messages from one reader.
pub struct Messages<R> {
    reader: R,
    limits: Limits,
    /// Whether the input is an mbox (decided at the first line).
    mbox: Option<bool>,
    /// The `From ` line that starts the next message, already consumed.
    pending_separator: bool,
    count: usize,
    done: bool,
    /// Set when the message cap stopped the stream early.
    pub messages_dropped: bool,
}

impl<R: BufRead> Messages<R> {
    pub fn new(reader: R, limits: Limits) -> Self {
        Self {
            reader,
            limits,
            mbox: None,
            pending_separator: false,
            count: 0,
            done: false,
            messages_dropped: false,
        }
    }

    /// Whether the input turned out to be an mbox (after the first message).
    pub fn is_mbox(&self) -> bool {
        self.mbox == Some(true)
    }

    fn next_message(&mut self) -> io::Result<Option<RawMessage>> {
        if self.done {
            return Ok(None);
        }
        let mut msg = RawMessage {
            number: self.count + 1,
            bytes: Vec::new(),
            truncated: false,
            length: 0,
            mbox: false,
        };
        let mut line = Vec::new();
        let mut saw_any = self.pending_separator;
        loop {
            line.clear();
            let read = read_line_capped(&mut self.reader, &mut line, self.limits.max_message_bytes)?;
            if read == 0 {
                self.done = true;
                break;
            }
            let is_separator = line.starts_with(b"From ");
            if self.mbox.is_none() {
                self.mbox = Some(is_separator);
                if is_separator {
                    saw_any = true;
                    continue;
                }
            }
            if self.mbox == Some(true) && is_separator {
                if saw_any && msg.length > 0 {
                    self.pending_separator = true;
                    break;
                }
                saw_any = true;
                continue;
            }
            saw_any = true;
            let content = if self.mbox == Some(true) {
                unescape(&line)
            } else {
                &line[..]
            };
            // Bytes of this line beyond the cap, read but never stored.
            let dropped = read - line.len();
            msg.length += content.len() + dropped;
            let room = self.limits.max_message_bytes.saturating_sub(msg.bytes.len());
            msg.truncated |= content.len() > room || dropped > 0;
            msg.bytes.extend_from_slice(&content[..content.len().min(room)]);
        }
        if msg.length == 0 && !saw_any {
            return Ok(None);
        }
        if self.mbox == Some(true) {
            // The empty line before the next `From ` belongs to the mbox.
            if msg.bytes.ends_with(b"\r\n\r\n") {
                msg.bytes.truncate(msg.bytes.len() - 2);
            } else if msg.bytes.ends_with(b"\n\n") {
                msg.bytes.pop();
            }
        }
        self.count += 1;
        msg.mbox = self.mbox == Some(true);
        Ok(Some(msg))
    }
}

impl<R: BufRead> Iterator for Messages<R> {
    type Item = io::Result<RawMessage>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.count >= self.limits.max_messages {
            if !self.done {
                self.messages_dropped = true;
                self.done = true;
            }
            return None;
        }
        self.next_message().transpose()
    }
}

/// mboxrd: `>From `, `>>From ` ... lose one `>`.
fn unescape(line: &[u8]) -> &[u8] {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    if quotes > 0 && line[quotes..].starts_with(b"From ") {
        &line[1..]
    } else {
        line
    }
}

/// Read one line (through `\n`) into `buf`, keeping at most `cap` bytes of
/// it; returns the bytes read (0 at the end of the input).
fn read_line_capped<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>, cap: usize) -> io::Result<usize> {
    let mut read = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            return Ok(read);
        }
        let (chunk, found) = match available.iter().position(|&b| b == b'\n') {
            Some(p) => (&available[..=p], true),
            None => (available, false),
        };
        let keep = chunk.len().min(cap.saturating_sub(buf.len()));
        buf.extend_from_slice(&chunk[..keep]);
        let used = chunk.len();
        read += used;
        reader.consume(used);
        if found {
            return Ok(read);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &[u8], limits: Limits) -> Vec<RawMessage> {
        Messages::new(input, limits).map(Result::unwrap).collect()
    }

    #[test]
    fn a_single_message_is_one_message() {
        let m = all(b"Subject: a\r\n\r\nbody\r\n", Limits::default());
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].bytes, b"Subject: a\r\n\r\nbody\r\n");
        assert!(!m[0].truncated);
    }

    #[test]
    fn an_mbox_is_split_and_unescaped() {
        let mbox = b"From a@b Mon Jan  1 00:00:00 2024\nSubject: 1\n\n>From here\n>>From there\n\nFrom c@d Mon Jan  1 00:00:01 2024\nSubject: 2\n\nb2\n";
        let mut it = Messages::new(&mbox[..], Limits::default());
        let m: Vec<_> = it.by_ref().map(Result::unwrap).collect();
        assert!(it.is_mbox());
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].bytes, b"Subject: 1\n\nFrom here\n>From there\n");
        assert_eq!(m[1].bytes, b"Subject: 2\n\nb2\n");
        assert_eq!(m[1].number, 2);
        assert!(m[0].mbox && m[1].mbox);
    }

    #[test]
    fn a_message_over_the_cap_is_truncated_not_buffered() {
        let mut big = b"Subject: big\n\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', 100_000));
        let limits = Limits {
            max_message_bytes: 1000,
            ..Limits::default()
        };
        let m = all(&big, limits);
        assert_eq!(m.len(), 1);
        assert!(m[0].truncated);
        assert_eq!(m[0].bytes.len(), 1000);
        assert_eq!(m[0].length, big.len());
    }

    #[test]
    fn the_message_cap_stops_the_stream() {
        let mbox = b"From a\nA: 1\n\nFrom b\nA: 2\n\nFrom c\nA: 3\n";
        let limits = Limits {
            max_messages: 2,
            ..Limits::default()
        };
        let mut it = Messages::new(&mbox[..], limits);
        assert_eq!(it.by_ref().count(), 2);
        assert!(it.messages_dropped);
    }

    #[test]
    fn empty_input_has_no_messages() {
        assert!(all(b"", Limits::default()).is_empty());
    }
}
