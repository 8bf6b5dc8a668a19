//! The path a message took, from its `Received` trace fields (RFC 5321
//! §4.4): who handed it to whom, when, and whether that hop was encrypted.
//!
//! RFC 5321 §4.4: "When an SMTP server receives a message for delivery or
//! further processing, it MUST insert trace ("time stamp" or "Received")
//! information at the beginning of the message content". So the fields
//! read top to bottom go from the last hop to the first; [`path`] returns
//! them in the order the message travelled (first hop first).
//!
//! Encryption is read from the `with` protocol (RFC 3848: "The new keyword
//! "ESMTPS" indicates the use of ESMTP when STARTTLS is also successfully
//! negotiated to provide a strong transport encryption layer") and from
//! the comments MTAs add (Postfix `(using TLSv1.3 with cipher ...)`,
//! Sendmail `(version=TLSv1.3 cipher=...)`, Exim `(TLS1.3) tls CIPHER`,
//! Microsoft `(version=TLS1_2, cipher=...)`).

use std::net::IpAddr;

use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

use crate::header::Headers;

/// Most `Received` fields read; RFC 5321 §6.3 suggests treating a message
/// with more than about 100 as looping, so real paths are far shorter.
pub const MAX_HOPS: usize = 500;
/// Most bytes of one `Received` field parsed.
pub const MAX_RECEIVED_BYTES: usize = 8 * 1024;

/// Whether a hop was encrypted, and how we know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transport {
    /// TLS was recorded (ESMTPS/ESMTPSA/LMTPS, or a TLS comment).
    Tls,
    /// A plain protocol (SMTP, ESMTP, ESMTPA, LMTP) and no TLS comment.
    Plain,
    /// Inside one machine (from a loopback address, or `with local`).
    Local,
    /// Nothing recorded tells (no `with`, or a protocol such as HTTP).
    Unknown,
}

impl Transport {
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tls => "tls",
            Transport::Plain => "plain",
            Transport::Local => "local",
            Transport::Unknown => "unknown",
        }
    }
}

/// One hop: one `Received` field, parsed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hop {
    /// 1 for the first hop (the bottom `Received` field).
    pub number: usize,
    /// The field's position among all header fields (0 = top).
    pub field_index: usize,
    /// The `from` clause: the name the client gave in HELO/EHLO.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The reverse-DNS name the receiving server recorded, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_rdns: Option<String>,
    /// The client's IP address as the receiving server saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_ip: Option<IpAddr>,
    /// The `by` clause: the receiving server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The `with` protocol, upper case (ESMTPS, LMTP ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub with: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope_from: Option<String>,
    pub transport: Transport,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cipher: Option<String>,
    /// The date after the last `;`, as RFC 3339 UTC, when it parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Seconds since the previous hop (or since the Date header for the
    /// first); negative when the clocks disagree.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_secs: Option<i64>,
    /// The field as written (cut at [`MAX_RECEIVED_BYTES`]).
    pub raw: String,
    #[serde(skip)]
    pub timestamp: Option<OffsetDateTime>,
}

/// The hops, first hop first, and what could not be read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Path {
    pub hops: Vec<Hop>,
    /// `Received` fields beyond [`MAX_HOPS`], not parsed.
    pub dropped: usize,
    /// The total number of `Received` fields.
    pub received_fields: usize,
}

/// The hops of a message, in travel order, with delays.
pub fn path(headers: &Headers) -> Path {
    let received: Vec<_> = headers.all("received").collect();
    let total = received.len();
    // Keep the topmost MAX_HOPS: those were added by the servers closest to
    // the reader, which are the ones an audit trusts first.
    let kept = &received[..total.min(MAX_HOPS)];
    let mut hops: Vec<Hop> = kept
        .iter()
        .rev()
        .enumerate()
        .map(|(i, f)| parse_received(i + 1, f.index, &f.value))
        .collect();
    let date = headers.first("date").and_then(|d| parse_date(&d.value));
    let mut previous = date;
    for hop in &mut hops {
        if let (Some(t), Some(p)) = (hop.timestamp, previous) {
            hop.delay_secs = Some((t - p).whole_seconds());
        }
        if hop.timestamp.is_some() {
            previous = hop.timestamp;
        }
    }
    Path {
        hops,
        dropped: total - kept.len(),
        received_fields: total,
    }
}

/// Parse one `Received` value.
pub fn parse_received(number: usize, field_index: usize, value: &str) -> Hop {
    let value = cut(value, MAX_RECEIVED_BYTES);
    let (clauses, date) = match value.rfind(';') {
        Some(p) => (&value[..p], Some(&value[p + 1..])),
        None => (value, None),
    };
    let timestamp = date.and_then(parse_date);
    let tokens = tokenize(clauses);
    let mut hop = Hop {
        number,
        field_index,
        from: None,
        from_rdns: None,
        from_ip: None,
        by: None,
        with: None,
        envelope_from: None,
        transport: Transport::Unknown,
        tls_version: None,
        tls_cipher: None,
        time: timestamp.and_then(|t| t.to_offset(time::UtcOffset::UTC).format(&Rfc3339).ok()),
        delay_secs: None,
        raw: value.to_string(),
        timestamp,
    };
    // The clause whose value is being read, and the last one read (a
    // comment belongs to it: `from NAME (rdns [IP])`).
    let (mut clause, mut last) = ("", "");
    for token in &tokens {
        match token {
            Token::Word(w) => {
                let lower = w.to_ascii_lowercase();
                if clause.is_empty() && matches!(lower.as_str(), "from" | "by" | "via" | "with" | "id" | "for" | "tls")
                {
                    clause = keyword(&lower);
                    continue;
                }
                match clause {
                    "from" => {
                        hop.from = Some(w.trim_end_matches('.').to_string());
                        hop.from_ip = ip_literal(w);
                    }
                    "by" => hop.by = Some(w.trim_end_matches('.').to_ascii_lowercase()),
                    "with" => hop.with = Some(w.to_ascii_uppercase()),
                    "tls" => hop.tls_cipher = Some(w.to_string()),
                    _ => {}
                }
                last = clause;
                clause = "";
            }
            Token::Comment(c) => read_comment(&mut hop, c, last == "from"),
        }
    }
    read_tls(&mut hop, clauses);
    hop.transport = transport(&hop);
    hop
}

fn keyword(lower: &str) -> &'static str {
    match lower {
        "from" => "from",
        "by" => "by",
        "via" => "via",
        "with" => "with",
        "id" => "id",
        "for" => "for",
        _ => "tls",
    }
}

/// What a comment tells: after `from`, the client's address and reverse
/// name (`(rdns [192.0.2.1])`, Exim's `([192.0.2.1] helo=name)`); anywhere,
/// the envelope sender (Exim's `(envelope-from <a@b>)`).
fn read_comment(hop: &mut Hop, comment: &str, after_from: bool) {
    if after_from {
        if hop.from_ip.is_none()
            && let Some(ip) = bracketed_ip(comment)
        {
            hop.from_ip = Some(ip);
            let first = comment.split_whitespace().next().unwrap_or("");
            if !first.starts_with('[')
                && !first.contains('=')
                && first.contains('.')
                && first.parse::<IpAddr>().is_err()
            {
                hop.from_rdns = Some(first.trim_end_matches('.').to_ascii_lowercase());
            }
        }
        if let Some(at) = comment.find("helo=")
            && hop.from.as_deref().is_none_or(|f| f.starts_with('['))
        {
            let name = comment[at + 5..].split_whitespace().next().unwrap_or("");
            hop.from = Some(name.to_string());
        }
    }
    if let Some(rest) = comment.strip_prefix("envelope-from") {
        let addr = rest.trim().trim_start_matches('<').trim_end_matches('>');
        hop.envelope_from = Some(addr.to_string());
    }
}

/// TLS version and cipher from the comments MTAs write.
fn read_tls(hop: &mut Hop, text: &str) {
    let words: Vec<&str> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ',' || c == ';')
        .filter(|w| !w.is_empty())
        .collect();
    for (i, w) in words.iter().enumerate() {
        let lower = w.to_ascii_lowercase();
        if hop.tls_version.is_none()
            && let Some(v) = tls_version(lower.strip_prefix("version=").unwrap_or(&lower))
        {
            hop.tls_version = Some(v);
        }
        if hop.tls_cipher.is_none() {
            if let Some(c) = lower.strip_prefix("cipher=") {
                hop.tls_cipher = Some(w[w.len() - c.len()..].to_string());
            } else if lower == "cipher"
                && let Some(next) = words.get(i + 1)
            {
                hop.tls_cipher = Some((*next).to_string());
            }
        }
    }
}

/// `TLSv1.3`, `TLS1.3`, `TLS1_2`, `TLSv1` → `TLSv1.3` ... ; `SSLv3` too.
fn tls_version(lower: &str) -> Option<String> {
    let rest = lower
        .strip_prefix("tlsv")
        .or_else(|| lower.strip_prefix("tls"))
        .map(|r| ("TLSv", r))
        .or_else(|| lower.strip_prefix("sslv").map(|r| ("SSLv", r)))?;
    let digits = rest.1.replace('_', ".");
    let ok = !digits.is_empty()
        && digits.len() <= 4
        && digits.starts_with(|c: char| c.is_ascii_digit())
        && digits.chars().all(|c| c.is_ascii_digit() || c == '.');
    ok.then(|| format!("{}{digits}", rest.0))
}

fn transport(hop: &Hop) -> Transport {
    // A hand-over to a content filter on the same machine (from 127.0.0.1
    // or ::1; amavis records the original client but is `by localhost`)
    // crosses no network. Other 127/8 addresses are judged like network
    // hops: only test set-ups use them between servers (the real-peer tier).
    let same_machine =
        |ip: IpAddr| ip == IpAddr::from([127, 0, 0, 1]) || ip == IpAddr::from(std::net::Ipv6Addr::LOCALHOST);
    if hop.from_ip.is_some_and(same_machine) || hop.by.as_deref() == Some("localhost") {
        return Transport::Local;
    }
    let with = hop.with.as_deref().unwrap_or("");
    let tls_protocol = matches!(
        with,
        "ESMTPS" | "ESMTPSA" | "LMTPS" | "LMTPSA" | "SMTPS" | "UTF8SMTPS" | "UTF8SMTPSA" | "UTF8LMTPS" | "UTF8LMTPSA"
    );
    if tls_protocol || hop.tls_version.is_some() || hop.tls_cipher.is_some() {
        return Transport::Tls;
    }
    // No client recorded at all: the server handed the message on inside
    // its own system (local pickup, a provider's internal stages).
    if hop.from.is_none() && hop.from_ip.is_none() {
        return Transport::Local;
    }
    match with {
        "SMTP" | "ESMTP" | "ESMTPA" | "LMTP" | "LMTPA" | "UTF8SMTP" | "UTF8SMTPA" | "UTF8LMTP" | "UTF8LMTPA" => {
            // LMTP is delivery inside the site; without an address it is local.
            if with.contains("LMTP") && hop.from_ip.is_none() {
                Transport::Local
            } else {
                Transport::Plain
            }
        }
        "LOCAL" => Transport::Local,
        _ => Transport::Unknown,
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Comment(&'a str),
}

/// Words and parenthesised comments (nested, RFC 5322 §3.2.2), bounded
/// by the input's length.
fn tokenize(s: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'(' => {
                let start = i + 1;
                let mut depth = 0usize;
                while i < bytes.len() {
                    match bytes[i] {
                        b'(' => depth += 1,
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        b'\\' => i += 1,
                        _ => {}
                    }
                    i += 1;
                }
                let end = i.min(bytes.len());
                out.push(Token::Comment(s.get(start..end).unwrap_or("").trim()));
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len() && !matches!(bytes[i], b' ' | b'\t' | b'\r' | b'\n' | b'(') {
                    i += 1;
                }
                out.push(Token::Word(s.get(start..i).unwrap_or("")));
            }
        }
    }
    out
}

/// `[192.0.2.1]`, `[IPv6:2001:db8::1]`, or a bare address.
fn ip_literal(s: &str) -> Option<IpAddr> {
    let inner = s.trim_end_matches('.').trim_start_matches('[').trim_end_matches(']');
    let inner = inner
        .strip_prefix("IPv6:")
        .or_else(|| inner.strip_prefix("ipv6:"))
        .unwrap_or(inner);
    inner.parse().ok()
}

/// The first `[address]` in a comment, or a comment that is an address.
fn bracketed_ip(comment: &str) -> Option<IpAddr> {
    if let Some(open) = comment.find('[') {
        let close = comment[open..].find(']')? + open;
        return ip_literal(&comment[open..=close]);
    }
    comment.split_whitespace().find_map(|w| {
        let w = w.trim_start_matches("helo=");
        w.contains([':', '.']).then(|| w.parse().ok()).flatten()
    })
}

/// An RFC 5322 date-time (with the obsolete zones and comments of real
/// MTAs tolerated).
pub fn parse_date(s: &str) -> Option<OffsetDateTime> {
    let mut text = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars().take(200) {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth == 0 => text.push(c),
            _ => {}
        }
    }
    let mut words: Vec<&str> = text.split_whitespace().collect();
    if let Some(last) = words.last_mut()
        && matches!(last.to_ascii_uppercase().as_str(), "GMT" | "UT" | "UTC" | "Z")
    {
        *last = "+0000";
    }
    let joined = words.join(" ");
    OffsetDateTime::parse(&joined, &Rfc2822).ok().or_else(|| {
        // A single-digit day is written with two digits by some parsers only.
        let padded = pad_day(&joined)?;
        OffsetDateTime::parse(&padded, &Rfc2822).ok()
    })
}

fn pad_day(s: &str) -> Option<String> {
    let mut words: Vec<String> = s.split(' ').map(str::to_string).collect();
    let day_at = usize::from(words.first()?.ends_with(','));
    let day = words.get_mut(day_at)?;
    (day.len() == 1).then(|| day.insert(0, '0'))?;
    Some(words.join(" "))
}

fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests;
