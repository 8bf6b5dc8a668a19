//! The records a builder's output holds, read back: so the builders can
//! be tested by parsing what they print through the strict parsers (and
//! judged, by whoever wants to). This reads the subset of zone-file syntax
//! the builders write, not zone files in general: `OWNER. TTL IN TYPE
//! DATA` lines, commented out (`; `) or not, TXT data as quoted
//! character-strings (`\"`, `\\` and `\DDD` escapes) possibly split over
//! lines inside `( ... )`, and the MTA-STS policy file shown as `;     `
//! lines.

use thiserror::Error;

use crate::diag::{Diagnostic, Span};
use crate::{dkim, dmarc, mta_sts, spf, tlsa, tlsrpt};

/// One record line of a builder's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggested {
    /// The owner name, without the trailing dot.
    pub owner: String,
    /// The record type as written (`TXT`, `MX`, `TLSA`).
    pub rtype: String,
    /// The data: for TXT the character-strings decoded and joined, else
    /// the text as written.
    pub data: Vec<u8>,
    /// Uncommented: to publish now (a commented record is a later stage).
    pub published: bool,
}

/// A line that looks like a record but is not one the builders write.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("line {line}: {why}")]
pub struct ReadError {
    /// The 1-based line.
    pub line: usize,
    /// What is wrong.
    pub why: String,
}

/// Every record line of `zone`, in order.
pub fn records(zone: &str) -> Result<Vec<Suggested>, ReadError> {
    let lines: Vec<&str> = zone.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let (published, line) = match lines[i].strip_prefix("; ") {
            Some(rest) => (false, rest),
            None => (true, lines[i]),
        };
        let Some((owner, rtype, mut data)) = record_line(line) else {
            i += 1;
            continue;
        };
        let mut text = data.to_string();
        if data.starts_with('(') {
            // Continuation lines, commented the same way, up to the `)`.
            while !data.ends_with(')') {
                i += 1;
                let next = lines.get(i).ok_or_else(|| ReadError {
                    line: i,
                    why: "`(` is never closed".into(),
                })?;
                data = next.trim_start_matches(';').trim();
                text.push(' ');
                text.push_str(data);
            }
            text = text.trim_start_matches('(').trim_end_matches(')').trim().to_string();
        }
        let data = if rtype == "TXT" {
            character_strings(&text).map_err(|why| ReadError { line: i + 1, why })?
        } else {
            text.into_bytes()
        };
        out.push(Suggested {
            owner: owner.to_string(),
            rtype: rtype.to_string(),
            data,
            published,
        });
        i += 1;
    }
    Ok(out)
}

/// `OWNER. 3600 IN TYPE DATA` split into owner, type and data.
fn record_line(line: &str) -> Option<(&str, &str, &str)> {
    let mut words = line.splitn(5, ' ');
    let owner = words.next()?.strip_suffix('.')?;
    let ttl = words.next()?;
    let class = words.next()?;
    let rtype = words.next()?;
    let data = words.next()?;
    (ttl == super::TTL.to_string() && class == "IN" && !owner.is_empty()).then_some((owner, rtype, data))
}

/// Quoted character-strings, decoded and joined. The escapes inside the
/// quotes are RFC 1035 §5.1's, decoded by the one presentation-text
/// codec ([`mailwarden_model::presentation::unescape`]).
fn character_strings(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    let mut rest = text.as_bytes().trim_ascii_start();
    while let Some((&first, after)) = rest.split_first() {
        if first != b'"' {
            return Err(format!("expected `\"`, found `{}`", first as char));
        }
        let end = closing_quote(after).ok_or("a character-string is never closed")?;
        out.extend(mailwarden_model::presentation::unescape(&after[..end]).map_err(|e| e.0)?);
        rest = after[end + 1..].trim_ascii_start();
    }
    Ok(out)
}

/// The index of the `"` that closes a character-string (the first one no
/// `\` escapes).
fn closing_quote(text: &[u8]) -> Option<usize> {
    let mut escaped = false;
    for (i, &b) in text.iter().enumerate() {
        match b {
            b'"' if !escaped => return Some(i),
            b'\\' => escaped = !escaped,
            _ => escaped = false,
        }
    }
    None
}

/// The MTA-STS policy files shown in `zone` (each run of `;     ` lines),
/// with CRLF line ends as they are to be served (RFC 8461 §3.2).
pub fn policies(zone: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current: Option<String> = None;
    for line in zone.lines() {
        // A policy line starts with its key; a commented TXT record's
        // continuation line (`;        "..."`) is not one.
        match line
            .strip_prefix(";     ")
            .filter(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        {
            Some(policy_line) => {
                let body = current.get_or_insert_with(String::new);
                body.push_str(policy_line);
                body.push_str("\r\n");
            }
            None => out.extend(current.take()),
        }
    }
    out.extend(current);
    out
}

/// What the record's own strict parser says about it: DMARC at
/// `_dmarc.`, MTA-STS at `_mta-sts.`, TLS-RPT at `_smtp._tls.`, a DKIM key
/// under `_domainkey.`, SPF for any other TXT, TLSA (a record no client can
/// use is an error here). Other types have no parser here: none.
pub fn diagnostics(record: &Suggested) -> Vec<Diagnostic> {
    let owner = record.owner.as_str();
    let data = record.data.as_slice();
    let text = String::from_utf8_lossy(data);
    match record.rtype.as_str() {
        "TXT" if owner.starts_with("_dmarc.") => dmarc::parse(data).diagnostics,
        "TXT" if owner.starts_with("_mta-sts.") => mta_sts::parse(data).diagnostics,
        "TXT" if owner.starts_with("_smtp._tls.") => tlsrpt::parse(data).diagnostics,
        "TXT" if owner.contains("._domainkey.") => dkim::parse_key_record(&text).diagnostics,
        "TXT" => spf::parse(data).diagnostics,
        "TLSA" => match tlsa::parse(&text) {
            Err(d) => vec![d],
            Ok(t) => t
                .unusable()
                .map(|why| Diagnostic::error(Span::new(0, text.len()), "tlsa-unusable", why))
                .into_iter()
                .collect(),
        },
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_commented_or_not_and_split_txt_are_read_back() {
        let zone = "; a comment\nexample.com. 3600 IN TXT \"v=spf1 \\\"x\\\\\" \"-all\\027\"\n\
                    ; _dmarc.example.com. 3600 IN TXT ( \"v=DMARC1;\"\n;        \" p=none\" )\n\
                    example.com. 3600 IN MX 0 .\n";
        let r = records(zone).unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!((r[0].owner.as_str(), r[0].published), ("example.com", true));
        assert_eq!(r[0].data, b"v=spf1 \"x\\-all\x1b");
        assert_eq!((r[1].owner.as_str(), r[1].published), ("_dmarc.example.com", false));
        assert_eq!(r[1].data, b"v=DMARC1; p=none");
        assert_eq!((r[2].rtype.as_str(), r[2].data.as_slice()), ("MX", b"0 .".as_slice()));
    }

    #[test]
    fn malformed_records_are_errors_with_their_line() {
        assert_eq!(records("x. 3600 IN TXT \"open\n").unwrap_err().line, 1);
        assert!(records("x. 3600 IN TXT bare\n").is_err());
        assert!(records("x. 3600 IN TXT ( \"a\"\n").is_err());
        assert!(records("x. 3600 IN TXT \"\\999\"\n").is_err());
    }

    #[test]
    fn policy_lines_become_crlf_bodies() {
        let zone = "; step\n;     version: STSv1\n;     mode: testing\n;\n;     version: STSv1\n;        \"x\" )\n";
        assert_eq!(
            policies(zone),
            ["version: STSv1\r\nmode: testing\r\n", "version: STSv1\r\n"]
        );
    }
}
