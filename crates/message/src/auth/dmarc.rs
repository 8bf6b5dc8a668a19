//! DMARC for one message: the author domain, identifier alignment, the
//! result and the policy that applies.
//!
//! RFC 7489 §3.1: "DMARC ... requires that identifiers be aligned" and
//! §4.2: "A message satisfies the DMARC checks if at least one of the
//! supported authentication mechanisms: 1. produces a "pass" result, and 2.
//! produces that result based on an identifier that is in alignment".
//! Relaxed alignment compares organisational domains, here by the public
//! suffix list (RFC 7489 §3.2); the record itself is found by the project's
//! DMARC discovery (RFC 9989 tree walk, RFC 7489 fallback).

use mailwarden_checks::dmarc::{Discovery, organisational_domain_psl};
use mailwarden_records::dmarc::{Alignment, Policy};
use serde::Serialize;

use super::{DkimVerdict, SpfVerdict};
use crate::header::Headers;

/// The DMARC verdict of one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DmarcVerdict {
    pub from_domain: String,
    /// pass, fail, none (no record), temperror (lookups failed), permerror.
    pub result: String,
    /// The domain whose `_dmarc` record applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_domain: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    /// The policy a receiver applies to this message when it fails.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
    /// The d= of a passing, aligned DKIM signature.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim_aligned: Option<String>,
    /// The SPF domain, when SPF passed and aligned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf_aligned: Option<String>,
    pub explanation: String,
    /// mail-auth's DMARC result over the same DNS answers, DKIM outputs and
    /// SPF verdict: a cross-check of ours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_auth: Option<String>,
}

/// RFC 7489 §6.6.1: the RFC5322.From domain; messages with several From
/// domains (or none) are outside DMARC ("Multi-valued RFC5322.From header
/// fields with multiple domains MUST be exempt from DMARC checking").
pub fn author_domain(headers: &Headers) -> (Option<String>, Option<String>) {
    let froms: Vec<_> = headers.all("from").collect();
    match froms.as_slice() {
        [] => (None, Some("no From header field (RFC 5322 §3.6 requires one)".into())),
        [one] => {
            let domains = domains_in(&one.value);
            let mut unique = domains.clone();
            unique.sort();
            unique.dedup();
            match unique.as_slice() {
                [d] => (Some(d.clone()), None),
                [] => (None, Some(format!("no address in From: {:?}", one.value))),
                _ => (
                    None,
                    Some(format!("From names several domains ({})", unique.join(", "))),
                ),
            }
        }
        _ => (
            None,
            Some(format!("{} From header fields (RFC 5322 §3.6 allows one)", froms.len())),
        ),
    }
}

/// The domains of the addresses in an address list (angle-addr or bare).
fn domains_in(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut quoted = false;
    let mut clean = String::new();
    for c in value.chars() {
        match c {
            '"' if depth == 0 => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth = depth.saturating_sub(1),
            _ if depth == 0 && !quoted => clean.push(c),
            _ => {}
        }
    }
    for part in clean.split(',') {
        let addr = match (part.find('<'), part.rfind('>')) {
            (Some(o), Some(c)) if o < c => &part[o + 1..c],
            _ => part,
        };
        if let Some((_, d)) = addr.trim().rsplit_once('@') {
            let d = d.trim().trim_end_matches('.').to_ascii_lowercase();
            if !d.is_empty() {
                out.push(d);
            }
        }
    }
    out
}

fn aligned(a: &str, b: &str, mode: Alignment) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    match mode {
        Alignment::Strict => a == b,
        Alignment::Relaxed => organisational_domain_psl(&a) == organisational_domain_psl(&b),
    }
}

/// The DMARC result of a message from its DKIM and SPF verdicts.
pub fn evaluate(d: &Discovery, dkim: &[DkimVerdict], spf: Option<&SpfVerdict>) -> DmarcVerdict {
    let from = d.domain.clone();
    let mut v = DmarcVerdict {
        from_domain: from.clone(),
        result: "none".into(),
        record_domain: None,
        record: None,
        policy: None,
        dkim_aligned: None,
        spf_aligned: None,
        explanation: String::new(),
        mail_auth: None,
    };
    let Some(applied) = d.applied() else {
        if !d.complete() {
            v.result = "temperror".into();
            v.explanation = format!("the DMARC lookups failed: {}", d.failures().join(", "));
        } else {
            v.explanation = format!("{from} publishes no DMARC record (nor does its organisational domain)");
        }
        return v;
    };
    let r = &applied.record;
    v.record_domain = Some(applied.source.clone());
    v.record = Some(r.text.clone());
    let policy = if applied.own { r.p } else { r.subdomain_policy() };
    let Some(policy) = policy.or_else(|| r.has_valid_rua().then_some(Policy::None)) else {
        v.result = "permerror".into();
        v.explanation = format!(
            "the record at _dmarc.{} has no valid p= and no valid rua=",
            applied.source
        );
        return v;
    };
    v.policy = Some(policy.as_str().to_string());
    let adkim = r.adkim.unwrap_or(Alignment::Relaxed);
    let aspf = r.aspf.unwrap_or(Alignment::Relaxed);
    v.dkim_aligned = dkim
        .iter()
        .find(|s| s.result == "pass" && aligned(&s.domain, &from, adkim))
        .map(|s| s.domain.clone());
    // With a null MAIL FROM the SPF identity is postmaster@ the HELO
    // domain (RFC 7208 §2.4), so `spf.domain` is already the right one.
    v.spf_aligned = spf
        .filter(|s| s.result == "pass" && aligned(&s.domain, &from, aspf))
        .map(|s| s.domain.clone());
    let pass = v.dkim_aligned.is_some() || v.spf_aligned.is_some();
    v.result = if pass { "pass" } else { "fail" }.into();
    v.explanation = explain(&v, dkim, spf, adkim, aspf);
    v
}

fn explain(
    v: &DmarcVerdict,
    dkim: &[DkimVerdict],
    spf: Option<&SpfVerdict>,
    adkim: Alignment,
    aspf: Alignment,
) -> String {
    let mut parts = Vec::new();
    match &v.dkim_aligned {
        Some(d) => parts.push(format!("DKIM passed for d={d}, aligned ({})", adkim.as_str())),
        None if dkim.is_empty() => parts.push("no DKIM signature".into()),
        None => parts.push(format!(
            "no passing DKIM signature aligned ({}) with {}: {}",
            adkim.as_str(),
            v.from_domain,
            dkim.iter()
                .map(|s| format!("d={} {}", s.domain, s.result))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    match (&v.spf_aligned, spf) {
        (Some(d), _) => parts.push(format!("SPF passed for {d}, aligned ({})", aspf.as_str())),
        (None, Some(s)) => parts.push(format!(
            "SPF {} for {} ({} alignment with {})",
            s.result,
            s.domain,
            aspf.as_str(),
            v.from_domain
        )),
        (None, None) => parts.push("SPF not evaluated (no client address recorded by the trusted hop)".into()),
    }
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::header;

    #[test]
    fn the_author_domain_is_read_from_display_names_and_comments() {
        let h = header::parse(b"From: \"Doe, Jane (a@evil.example)\" <jane@Example.ORG> (work)\n\n");
        assert_eq!(author_domain(&h).0.as_deref(), Some("example.org"));
    }

    #[test]
    fn several_from_domains_are_exempt() {
        let h = header::parse(b"From: a@example.org, b@example.net\n\n");
        let (d, why) = author_domain(&h);
        assert!(d.is_none());
        assert!(why.unwrap().contains("several domains"));
        let twice = header::parse(b"From: a@example.org\nFrom: a@example.org\n\n");
        assert!(author_domain(&twice).1.unwrap().contains("2 From header fields"));
    }

    #[test]
    fn relaxed_alignment_compares_organisational_domains() {
        assert!(aligned("mail.example.co.uk", "example.co.uk", Alignment::Relaxed));
        assert!(!aligned("mail.example.co.uk", "example.co.uk", Alignment::Strict));
        assert!(!aligned("example.net", "example.org", Alignment::Relaxed));
    }
}
