//! What a message's headers disclose beyond what delivery needs (GDPR
//! Art. 5(1)(c) data minimisation, Art. 25 data protection by default):
//! internal addresses and host names in `Received`, the sender's client
//! address in `X-Originating-IP` and similar, client software with its
//! version, internal host names in `Message-ID`.
//!
//! Only what the sending side wrote counts: `Received` fields below the
//! trusted hop (the receiving boundary) plus the trusted hop's own `from`
//! clause (the name the sender gave in EHLO), and other fields below the
//! trusted hop's `Received` field, since receivers prepend what they add.

use std::net::IpAddr;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::header::Headers;
use crate::hops::Hop;

/// One disclosure.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Leak {
    /// The catalogue rule: `message.received-private-address` ...
    pub rule: &'static str,
    /// The header field name as written.
    pub header: String,
    /// The hop number, for `Received` fields.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hop: Option<usize>,
    /// What leaked (an address, a name, a program and version).
    pub value: String,
    /// Why it counts, for the message.
    pub why: String,
}

/// The kinds of leaky header in the data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    ClientIp,
    Software,
    Internal,
}

/// One entry of `data/leaky-headers.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeakyHeader {
    pub name: String,
    pub kind: Kind,
    pub note: String,
}

#[derive(Deserialize)]
struct LeakyFile {
    header: Vec<LeakyHeader>,
}

/// The built-in list of leaky headers.
pub fn leaky_headers() -> &'static [LeakyHeader] {
    static LIST: OnceLock<Vec<LeakyHeader>> = OnceLock::new();
    LIST.get_or_init(|| {
        toml::from_str::<LeakyFile>(include_str!("../data/leaky-headers.toml"))
            .unwrap_or_else(|e| panic!("built-in data/leaky-headers.toml is invalid: {e}"))
            .header
    })
}

/// Every leak in a message whose trusted hop is `trusted` (its index in
/// `hops`, travel order).
pub fn find(headers: &Headers, hops: &[Hop], trusted: Option<usize>) -> Vec<Leak> {
    let mut out = Vec::new();
    let boundary = trusted.and_then(|t| hops.get(t));
    for hop in hops {
        let before_boundary = boundary.is_none_or(|b| hop.number < b.number);
        let is_boundary = boundary.is_some_and(|b| b.number == hop.number);
        if before_boundary {
            received_leaks(hop, true, &mut out);
        } else if is_boundary {
            received_leaks(hop, false, &mut out);
        }
    }
    let sender_fields = headers
        .fields
        .iter()
        .filter(|f| boundary.is_none_or(|b| f.index > b.field_index));
    for field in sender_fields {
        if field.is("message-id") {
            message_id_leak(field, &mut out);
            continue;
        }
        let Some(entry) = leaky_headers().iter().find(|h| field.is(&h.name)) else {
            continue;
        };
        header_leak(field, entry, &mut out);
    }
    out
}

/// Internal addresses and names in one `Received` field. `whole`: the
/// field was written inside the sending side (else only the client's EHLO
/// name counts: the receiver wrote the rest).
fn received_leaks(hop: &Hop, whole: bool, out: &mut Vec<Leak>) {
    let mut seen = Vec::new();
    if whole {
        for ip in addresses_in(&hop.raw) {
            if let Some(class) = internal_address(ip)
                && !seen.contains(&ip)
            {
                seen.push(ip);
                out.push(Leak {
                    rule: "message.received-private-address",
                    header: "Received".into(),
                    hop: Some(hop.number),
                    value: ip.to_string(),
                    why: format!("{ip} is {class}"),
                });
            }
        }
    }
    let mut names: Vec<&str> = hop.from.iter().map(String::as_str).collect();
    if whole {
        names.extend(hop.from_rdns.as_deref());
        names.extend(hop.by.as_deref());
    }
    let mut named = Vec::new();
    for name in names {
        if let Some(why) = internal_name(name)
            && !named.contains(&name.to_ascii_lowercase())
        {
            named.push(name.to_ascii_lowercase());
            out.push(Leak {
                rule: "message.received-internal-name",
                header: "Received".into(),
                hop: Some(hop.number),
                value: name.to_string(),
                why,
            });
        }
    }
}

fn message_id_leak(field: &crate::header::Field, out: &mut Vec<Leak>) {
    let id = field.value.trim().trim_start_matches('<').trim_end_matches('>');
    let Some((_, right)) = id.rsplit_once('@') else { return };
    let literal = right.trim_start_matches('[').trim_end_matches(']');
    let why = match literal.parse::<IpAddr>() {
        Ok(ip) => internal_address(ip).map(|c| format!("{ip} is {c}")),
        Err(_) => internal_name(right),
    };
    if let Some(why) = why {
        out.push(Leak {
            rule: "message.message-id-host",
            header: field.name.clone(),
            hop: None,
            value: right.to_string(),
            why,
        });
    }
}

fn header_leak(field: &crate::header::Field, entry: &LeakyHeader, out: &mut Vec<Leak>) {
    let value = field.value.trim().to_string();
    let (rule, why) = match entry.kind {
        Kind::ClientIp => {
            let Some(ip) = addresses_in(&value).into_iter().next() else {
                return;
            };
            let what = internal_address(ip).map_or_else(
                || "the sender's client address (personal data)".into(),
                |c| format!("an internal address ({c})"),
            );
            (
                "message.originating-ip",
                format!("{ip} is {what}; written by {}", entry.note),
            )
        }
        Kind::Software => {
            if !has_version(&value) {
                return;
            }
            (
                "message.client-software",
                format!("names the program and its version; written by {}", entry.note),
            )
        }
        Kind::Internal => ("message.internal-header", format!("written by {}", entry.note)),
    };
    out.push(Leak {
        rule,
        header: field.name.clone(),
        hop: None,
        value,
        why,
    });
}

/// Addresses written in a text: `[192.0.2.1]`, `[IPv6:2001:db8::1]`, or
/// bare words that parse as addresses.
pub fn addresses_in(text: &str) -> Vec<IpAddr> {
    text.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | '(' | ')' | ',' | ';' | '=' | '<' | '>'))
        .filter_map(|w| {
            let w = w.strip_prefix("IPv6:").unwrap_or(w).trim_end_matches('.');
            if w.len() < 3 || w.len() > 45 {
                return None;
            }
            w.parse().ok()
        })
        .collect()
}

/// Why an address is internal: private, shared (CGNAT), link-local or
/// unique-local. Loopback and documentation addresses are not counted:
/// loopback says nothing about a network, and documentation ranges are
/// test data.
pub fn internal_address(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            match o {
                [10, ..] => Some("private (RFC 1918)"),
                [172, b, ..] if (16..32).contains(&b) => Some("private (RFC 1918)"),
                [192, 168, ..] => Some("private (RFC 1918)"),
                [100, b, ..] if (64..128).contains(&b) => Some("shared CGNAT space (RFC 6598)"),
                [169, 254, ..] => Some("link-local (RFC 3927)"),
                _ => None,
            }
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return internal_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            match first {
                f if f & 0xfe00 == 0xfc00 => Some("unique-local (RFC 4193)"),
                f if f & 0xffc0 == 0xfe80 => Some("link-local (RFC 4291)"),
                f if f & 0xffc0 == 0xfec0 => Some("site-local (deprecated, RFC 3879)"),
                _ => None,
            }
        }
    }
}

/// Why a host name looks internal: a single label, or a name under no
/// public suffix (`.local`, `.lan`, `.corp`, `.internal` ...). `localhost`
/// and address literals are not counted.
pub fn internal_name(name: &str) -> Option<String> {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty()
        || name == "localhost"
        || name.starts_with('[')
        || name.parse::<IpAddr>().is_ok()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    {
        return None;
    }
    if !name.contains('.') {
        return Some(format!("{name} is a single-label (internal) host name"));
    }
    let known = psl::suffix(name.as_bytes()).is_some_and(|s| s.is_known());
    (!known).then(|| {
        let tld = name.rsplit('.').next().unwrap_or("");
        format!("{name} is under .{tld}, which is no public suffix: an internal name")
    })
}

/// Whether a program name carries a version (`Thunderbird/115.6.0`,
/// `Microsoft Outlook 16.0`, `PHPMailer 6.8.0`).
fn has_version(value: &str) -> bool {
    value
        .split(|c: char| c.is_whitespace() || matches!(c, '/' | '(' | ')' | ';' | ',' | 'v' | 'V'))
        .any(|w| {
            let mut parts = w.split('.');
            let first = parts.next().unwrap_or("");
            let second = parts.next();
            !first.is_empty()
                && first.bytes().all(|b| b.is_ascii_digit())
                && second.is_some_and(|s| s.starts_with(|c: char| c.is_ascii_digit()))
        })
}

#[cfg(test)]
mod tests;
