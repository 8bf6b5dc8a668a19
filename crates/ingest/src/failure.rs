//! DMARC failure reports: ARF (RFC 5965) with the authentication-failure
//! extension (RFC 6591) and RFC 9991's `Identity-Alignment`.
//!
//! Failure reports carry personal data. Only what the analysis needs is
//! kept: the feedback fields about authentication, and of each address
//! only its domain. Subjects, bodies, local parts and message ids are
//! dropped before anything is stored; the raw message is never kept.

use std::net::IpAddr;

use mail_parser::{Message, MimeHeaders, PartType};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::rejection::{Reason, Rejection};
use crate::warning::Warnings;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureReport {
    /// RFC 5965 §3.1 `Feedback-Type` (`auth-failure` for DMARC).
    pub feedback_type: String,
    pub user_agent: Option<String>,
    pub version: Option<String>,
    pub arrival_date: Option<String>,
    pub source_ip: Option<IpAddr>,
    pub reporting_mta: Option<String>,
    pub reported_domains: Vec<String>,
    /// RFC 6591 `Auth-Failure`: adsp, bodyhash, revoked, signature, spf, dmarc.
    pub auth_failure: Option<String>,
    pub delivery_result: Option<String>,
    pub dkim_domain: Option<String>,
    pub dkim_selector: Option<String>,
    /// RFC 9991: `none` or a list of `dkim`, `spf`.
    pub identity_alignment: Option<String>,
    pub incidents: Option<u64>,
    /// Domains only: the local parts are personal data.
    pub original_mail_from_domain: Option<String>,
    pub original_rcpt_to_domain: Option<String>,
    /// The `From:` domain of the reported message, from its headers.
    pub header_from_domain: Option<String>,
    /// SHA-256 of the feedback part and the reported headers: the identity
    /// of a failure report, which has no report id of its own.
    pub digest: String,
}

/// Whether a parsed message is an ARF report (has a feedback-report part).
pub fn is_arf(message: &Message<'_>) -> bool {
    message
        .parts
        .iter()
        .any(|p| p.is_content_type("message", "feedback-report"))
}

/// Read the failure report of an ARF message.
pub fn parse(message: &Message<'_>, warnings: &mut Warnings) -> Result<FailureReport, Rejection> {
    let mut fields_raw: &[u8] = &[];
    let mut original_headers: &[u8] = &[];
    for part in &message.parts {
        if part.is_content_type("message", "feedback-report") {
            fields_raw = part.contents();
        } else if part.is_content_type("text", "rfc822-headers") {
            original_headers = part.contents();
        } else if let PartType::Message(inner) = &part.body {
            let raw = inner.raw_message.as_ref();
            let end = inner.root_part().offset_body as usize;
            original_headers = raw.get(..end).unwrap_or(raw);
        }
    }
    let fields = header_fields(fields_raw);
    let get = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let feedback_type = get("Feedback-Type")
        .map(|v| v.to_ascii_lowercase())
        .ok_or_else(|| Rejection::new(Reason::MissingField, "the feedback-report part has no Feedback-Type"))?;
    let source_ip = match get("Source-IP") {
        None => None,
        Some(raw) => match raw.trim().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                warnings.push(format!("Source-IP {raw:?} is not an IP address, dropped"), None);
                None
            }
        },
    };
    let incidents = match get("Incidents") {
        None => None,
        Some(raw) => Some(
            raw.trim()
                .parse::<u64>()
                .map_err(|_| Rejection::new(Reason::InvalidNumber, format!("Incidents {raw:?} is not a count")))?,
        ),
    };
    let headers = header_fields(original_headers);
    let header_from = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("From"))
        .map(|(_, v)| v.as_str());
    let mut hasher = Sha256::new();
    hasher.update(fields_raw);
    hasher.update([0]);
    hasher.update(original_headers);
    Ok(FailureReport {
        feedback_type,
        user_agent: get("User-Agent"),
        version: get("Version"),
        arrival_date: get("Arrival-Date").or_else(|| get("Received-Date")),
        source_ip,
        reporting_mta: get("Reporting-MTA"),
        reported_domains: fields
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("Reported-Domain"))
            .map(|(_, v)| v.to_ascii_lowercase())
            .collect(),
        auth_failure: get("Auth-Failure").map(|v| v.to_ascii_lowercase()),
        delivery_result: get("Delivery-Result").map(|v| v.to_ascii_lowercase()),
        dkim_domain: get("DKIM-Domain").map(|v| v.to_ascii_lowercase()),
        dkim_selector: get("DKIM-Selector"),
        identity_alignment: get("Identity-Alignment").map(|v| v.to_ascii_lowercase()),
        incidents,
        original_mail_from_domain: get("Original-Mail-From").as_deref().and_then(address_domain),
        original_rcpt_to_domain: get("Original-Rcpt-To").as_deref().and_then(address_domain),
        header_from_domain: header_from.and_then(address_domain),
        digest: hex(&hasher.finalize()),
    })
}

/// `Name: value` fields with folded continuation lines (RFC 5322 §2.2.3),
/// read leniently: a line that is no field is skipped.
fn header_fields(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = fields.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            fields.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    fields
}

/// The domain of the last address in a header value (`<a@b.example>`, `a@b`).
fn address_domain(value: &str) -> Option<String> {
    let at = value.rfind('@')?;
    let domain: String = value[at + 1..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .collect();
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_domain_drops_the_local_part() {
        assert_eq!(
            address_domain("Alice <alice@Example.COM>").as_deref(),
            Some("example.com")
        );
        assert_eq!(address_domain("no address"), None);
    }

    #[test]
    fn folded_fields_are_joined() {
        let f = header_fields(b"Auth-Failure: dkim\nAuthentication-Results: mx.example;\n dkim=fail\n\nbody: x");
        assert_eq!(f.len(), 2);
        assert_eq!(f[1].1, "mx.example; dkim=fail");
    }
}
