//! Authentication verified, not just read: every DKIM signature (RFC 6376,
//! RFC 8463 Ed25519), the ARC chain (RFC 8617), SPF for the client and
//! envelope recorded by the trusted hop (RFC 7208), DMARC with alignment
//! and the policy that applies (RFC 7489, RFC 9989), each compared with the
//! `Authentication-Results` the receiving side wrote (RFC 8601).
//!
//! DNS goes through the project's DNS layer: [`authenticate`] runs the
//! pure [`needs`] to a fixpoint with `collect::dns_fixpoint` (as `scan`
//! does), so the transcript holds every answer and is the evidence. The
//! DKIM keys it fetched are then handed to mail-auth through its TXT cache
//! ([`mail_auth::Parameters::with_txt_cache`]): mail-auth verifies the
//! signatures cryptographically and never asks DNS itself (its resolver has
//! no servers, so a miss would be a temperror, never a network query).

pub mod dmarc;
mod findings;
mod results;
mod spf_cross;
mod verifier;

use std::net::IpAddr;

use mail_auth::AuthenticatedMessage;
use mailwarden_checks::dmarc::Discovery;
use mailwarden_checks::spf::{CheckHost, check_host};
use mailwarden_dns::DnsSource;
use mailwarden_engine::collect::{self, Budget, CollectStats};
use mailwarden_model::{DnsView, RType, Transcript};
use serde::Serialize;

pub use findings::findings;
pub use results::{Claim, parse_authentication_results};

use crate::Analysis;

/// What the trusted hop recorded about the SMTP session, and the author.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Envelope {
    /// The client's address as the trusted hop saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The HELO/EHLO name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo: Option<String>,
    /// MAIL FROM; empty for the null reverse-path `<>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_from: Option<String>,
    /// The RFC 5322.From domain (DMARC's author domain).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_domain: Option<String>,
    /// Why DMARC cannot apply to the From field, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_problem: Option<String>,
}

/// One DKIM (or ARC) key to fetch: `selector._domainkey.domain`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct KeyName {
    pub domain: String,
    pub selector: String,
}

impl KeyName {
    pub fn name(&self) -> String {
        format!("{}._domainkey.{}", self.selector, self.domain).to_ascii_lowercase()
    }
}

/// The DNS-dependent part of the verdicts, computed purely over a view.
#[derive(Debug, Clone)]
pub struct DnsPart {
    pub spf: Option<CheckHost>,
    pub helo_spf: Option<CheckHost>,
    pub dmarc: Option<Discovery>,
}

/// Ask the view for everything the verdicts need; run to a fixpoint.
pub fn needs(view: &DnsView<'_>, env: &Envelope, keys: &[KeyName]) -> DnsPart {
    for k in keys {
        let _ = view.get(&k.name(), RType::Txt);
    }
    let spf = env.ip.map(|ip| {
        let helo = env.helo.as_deref().unwrap_or("");
        let sender = spf_sender(env);
        let domain = sender.rsplit_once('@').map_or("", |(_, d)| d).to_string();
        check_host(view, ip, &domain, &sender, helo)
    });
    // RFC 7208 §2.3: "It is RECOMMENDED that SPF verifiers not only check
    // the "MAIL FROM" identity but also separately check the "HELO"
    // identity by applying the check_host() function (Section 4) to the
    // "HELO" identity as the <sender>."
    let helo_spf = match (env.ip, env.helo.as_deref()) {
        (Some(ip), Some(helo)) if helo.contains('.') && !helo.starts_with('[') => {
            Some(check_host(view, ip, helo, &format!("postmaster@{helo}"), helo))
        }
        _ => None,
    };
    let dmarc = env.from_domain.as_deref().map(|d| Discovery::run(view, d));
    DnsPart { spf, helo_spf, dmarc }
}

/// RFC 7208 §2.4: "When the reverse-path is null, this document defines
/// the "MAIL FROM" identity to be the mailbox composed of the local-part
/// "postmaster" and the "HELO" identity".
pub fn spf_sender(env: &Envelope) -> String {
    match env.mail_from.as_deref() {
        Some(m) if m.contains('@') => m.to_string(),
        _ => format!("postmaster@{}", env.helo.as_deref().unwrap_or("")),
    }
}

/// The verdict of one DKIM signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimVerdict {
    pub domain: String,
    pub selector: String,
    pub algorithm: String,
    /// pass, fail, neutral, temperror, permerror.
    pub result: String,
    /// Why it did not pass (mail-auth's error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The body hash did not match: the body changed after signing.
    pub body_modified: bool,
}

/// The ARC chain's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArcVerdict {
    /// pass, fail, none ...
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub sets: usize,
}

/// Everything verified about one message.
#[derive(Debug, Clone, Serialize)]
pub struct AuthReport {
    pub envelope: Envelope,
    pub dkim: Vec<DkimVerdict>,
    pub arc: ArcVerdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spf: Option<SpfVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub helo_spf: Option<SpfVerdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dmarc: Option<dmarc::DmarcVerdict>,
    /// The Authentication-Results written at or after the trusted hop.
    pub claims: Vec<Claim>,
    /// The message was cut at the size cap: signatures were not verified.
    pub truncated: bool,
    pub budget_exhausted: bool,
}

/// An SPF result with its inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpfVerdict {
    pub ip: IpAddr,
    pub domain: String,
    pub sender: String,
    pub result: String,
    pub trace: Vec<String>,
    /// mail-auth's check_host() over the same DNS answers: a cross-check
    /// of ours (`None` when it could not be run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mail_auth: Option<String>,
}

/// The envelope and author of an analysed message.
pub fn envelope(a: &Analysis) -> Envelope {
    let hop = a.trusted_hop();
    let mail_from = hop
        .and_then(|h| h.envelope_from.clone())
        .or_else(|| a.headers.first("return-path").map(|f| angle(&f.value)));
    let (from_domain, from_problem) = dmarc::author_domain(&a.headers);
    Envelope {
        ip: hop.and_then(|h| h.from_ip),
        helo: hop.and_then(|h| h.from.clone()),
        mail_from,
        from_domain,
        from_problem,
    }
}

fn angle(s: &str) -> String {
    s.trim()
        .trim_start_matches('<')
        .trim_end_matches('>')
        .trim()
        .to_string()
}

/// Verify one message's authentication. `raw` is the message as received;
/// `truncated`: it was cut at the size cap.
pub async fn authenticate<S: DnsSource + ?Sized>(
    source: &S,
    budget: Budget,
    a: &Analysis,
    raw: &[u8],
    truncated: bool,
) -> (Transcript, AuthReport, CollectStats) {
    let env = envelope(a);
    let parsed = AuthenticatedMessage::parse(raw);
    let keys = parsed.as_ref().map(key_names).unwrap_or_default();
    let (transcript, part, stats) =
        collect::dns_fixpoint(source, budget, Transcript::default(), |view| needs(view, &env, &keys)).await;
    let host = a.trusted_hop().and_then(|h| h.by.clone()).unwrap_or_default();
    let helo = env.helo.clone().unwrap_or_default();
    let mut spf = part.spf.as_ref().zip(env.ip).map(|(r, ip)| {
        let sender = spf_sender(&env);
        SpfVerdict {
            ip,
            domain: sender.rsplit_once('@').map_or("", |(_, d)| d).to_string(),
            sender,
            result: r.result.as_str().to_string(),
            trace: r.trace.clone(),
            mail_auth: None,
        }
    });
    if let Some(s) = spf.as_mut() {
        s.mail_auth = spf_cross::check(&transcript, s.ip, &helo, &host, &s.sender, false).await;
    }
    let mut helo_spf = part.helo_spf.as_ref().zip(env.ip).map(|(r, ip)| SpfVerdict {
        ip,
        domain: helo.clone(),
        sender: format!("postmaster@{helo}"),
        result: r.result.as_str().to_string(),
        trace: r.trace.clone(),
        mail_auth: None,
    });
    if let Some(s) = helo_spf.as_mut() {
        s.mail_auth = spf_cross::check(&transcript, s.ip, &helo, &host, &s.sender, true).await;
    }
    let (dkim, arc, mail_auth_dmarc) = match (&parsed, truncated) {
        (Some(m), false) => verifier::verify(m, &transcript, &keys, spf.as_ref()).await,
        _ => (
            Vec::new(),
            ArcVerdict {
                result: "none".into(),
                reason: Some(if truncated {
                    "the message was cut at the size cap; signatures were not verified".into()
                } else {
                    "mail-auth could not parse the message".into()
                }),
                sets: 0,
            },
            None,
        ),
    };
    let dmarc = part.dmarc.as_ref().map(|d| dmarc::DmarcVerdict {
        mail_auth: mail_auth_dmarc,
        ..dmarc::evaluate(d, &dkim, spf.as_ref())
    });
    let claims = results::claims_at_boundary(a);
    let report = AuthReport {
        envelope: env,
        dkim,
        arc,
        spf,
        helo_spf,
        dmarc,
        claims,
        truncated,
        budget_exhausted: stats.budget_exhausted,
    };
    (transcript, report, stats)
}

/// The DKIM and ARC keys the signatures of a raw message name (none when
/// mail-auth cannot parse it).
pub fn signed_keys(raw: &[u8]) -> Vec<KeyName> {
    AuthenticatedMessage::parse(raw)
        .as_ref()
        .map(key_names)
        .unwrap_or_default()
}

/// The DKIM and ARC keys a message's signatures name.
pub fn key_names(m: &AuthenticatedMessage<'_>) -> Vec<KeyName> {
    let mut keys: Vec<KeyName> = m
        .dkim_headers
        .iter()
        .map(|h| (&h.header.d, &h.header.s))
        .chain(m.ams_headers.iter().map(|h| (&h.header.d, &h.header.s)))
        .chain(m.as_headers.iter().map(|h| (&h.header.d, &h.header.s)))
        .map(|(d, s)| KeyName {
            domain: d.to_ascii_lowercase(),
            selector: s.to_ascii_lowercase(),
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}
