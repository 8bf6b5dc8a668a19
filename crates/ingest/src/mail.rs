//! Report e-mails (RFC 5322 messages, alone or in an mbox): the reports
//! they carry as attachments, or the failure report they are.
//!
//! Attachments are chosen by media type or file name and then recognised
//! by content: reporters send `application/octet-stream`, `text/xml`,
//! `application/tlsrpt+gzip`, the whole message as `application/zip`
//! (Google), RFC 2231 split names (Amazon SES). A forwarded report
//! (`message/rfc822`) is opened like the original.

use std::io::Cursor;

use mail_parser::mailbox::mbox::MessageIterator;
use mail_parser::{MessageParser, MessagePart, MimeHeaders, PartType};

use crate::failure;
use crate::input::{Item, open, printable, rejected};
use crate::limits::Limits;
use crate::rejection::{Reason, Rejection};
use crate::report::{Kind, Parsed, Report};
use crate::warning::Warnings;

/// Media subtypes that carry reports (RFC 7489 §7.2.1.1, RFC 9990, RFC
/// 8460 §5.3) or that reporters use for them anyway.
const REPORT_SUBTYPES: &[&str] = &[
    "xml",
    "gzip",
    "x-gzip",
    "zip",
    "x-zip",
    "x-zip-compressed",
    "zip-compressed",
    "tlsrpt+gzip",
    "tlsrpt+json",
    "tlsrpt",
    "json",
    "octet-stream",
];
const REPORT_EXTENSIONS: &[&str] = &[".xml", ".gz", ".zip", ".json"];

/// Whether `bytes` begin like a message: a first line `Field-Name: value`.
pub fn looks_like_mail(bytes: &[u8]) -> bool {
    let line = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let Some(colon) = line.iter().position(|&b| b == b':') else {
        return false;
    };
    colon > 0 && line[..colon].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
}

/// Every message of an mbox file, each as `LABEL#N` (1-based).
pub(crate) fn read_mbox(label: &str, bytes: &[u8], limits: &Limits, depth: u8, out: &mut Vec<Item>) {
    for (n, message) in MessageIterator::new(Cursor::new(bytes)).enumerate() {
        let locator = format!("{label}#{}", n + 1);
        if n >= limits.max_messages {
            let r = Rejection::new(Reason::SizeLimit, format!("more than {} messages", limits.max_messages));
            out.push(rejected(&locator, None, r));
            return;
        }
        match message {
            Ok(m) => read_message(&locator, m.contents(), limits, depth, out),
            Err(e) => out.push(rejected(
                &locator,
                None,
                Rejection::new(Reason::Truncated, e.to_string()),
            )),
        }
    }
}

/// The reports of one message.
pub(crate) fn read_message(label: &str, raw: &[u8], limits: &Limits, depth: u8, out: &mut Vec<Item>) {
    let Some(message) = MessageParser::new().parse(raw) else {
        out.push(rejected(
            label,
            None,
            Rejection::new(Reason::NotAReport, "not a readable e-mail"),
        ));
        return;
    };
    if failure::is_arf(&message) {
        let mut warnings = Warnings::default();
        let outcome =
            failure::parse(&message, &mut warnings).map(|f| Parsed::new(Report::Failure(f), warnings, Vec::new()));
        out.push(Item {
            locator: label.to_string(),
            kind: Some(Kind::Failure),
            outcome,
        });
        return;
    }
    let before = out.len();
    for (index, part) in message.parts.iter().enumerate() {
        match &part.body {
            PartType::Message(inner) => open(
                &format!("{label}:part{index}"),
                inner.raw_message.as_ref(),
                limits,
                depth,
                out,
            ),
            PartType::Text(_) | PartType::Binary(_) | PartType::InlineBinary(_) if is_candidate(part) => {
                let name = part.attachment_name().map_or_else(|| format!("part{index}"), printable);
                open(&format!("{label}:{name}"), part.contents(), limits, depth, out);
            }
            _ => {}
        }
    }
    if out.len() == before {
        let r = Rejection::new(Reason::NotAReport, "an e-mail without a report attachment");
        out.push(rejected(label, None, r));
    }
}

fn is_candidate(part: &MessagePart<'_>) -> bool {
    let name = part.attachment_name().unwrap_or_default().to_ascii_lowercase();
    if REPORT_EXTENSIONS.iter().any(|ext| name.ends_with(ext)) {
        return true;
    }
    part.content_type()
        .and_then(|ct| ct.subtype())
        .is_some_and(|sub| REPORT_SUBTYPES.contains(&sub.to_ascii_lowercase().as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_detection_needs_a_field_name_and_colon() {
        assert!(looks_like_mail(b"Return-Path: <a@b>\n"));
        assert!(!looks_like_mail(b"hello world: x\n"));
        assert!(!looks_like_mail(b"<feedback xmlns:x=\"u\">"));
    }
}
