//! DANE matching for SMTP: TLSA records against the chain an MX presented
//! (RFC 6698 §2.1, RFC 7671, RFC 7672 §3).
//!
//! The caller passes only records whose RRset validated as DNSSEC-secure
//! (RFC 7672 §2.2); this module does not see proofs.
//!
//! - selector 0 hashes the full certificate DER, selector 1 its
//!   SubjectPublicKeyInfo DER; matching type 0 compares the bytes, 1 the
//!   SHA-256 digest, 2 the SHA-512 digest (RFC 6698 §2.1.2, §2.1.3).
//! - **DANE-EE(3)** looks at the leaf only, and ignores its names and
//!   expiry. RFC 7672 §3.1.1: "Authentication via certificate usage
//!   DANE-EE(3) TLSA records involves simply checking that the server's
//!   leaf certificate matches the TLSA record. In particular, the binding
//!   of the server public key to its name is based entirely on the TLSA
//!   record association. The server MUST be considered authenticated even
//!   if none of the names in the certificate match the client's reference
//!   identity for the server." and "Similarly, the expiration date of the
//!   server certificate MUST be ignored: the validity period of the TLSA
//!   record key binding is determined by the validity interval of the TLSA
//!   record DNSSEC signatures."
//! - **DANE-TA(2)** matches a CA certificate of the presented chain; the
//!   chain from the leaf must then verify up to it (signatures, validity
//!   at `now`; webpki with the matched certificate as the only trust
//!   anchor, whose own validity period is not checked, as for any trust
//!   anchor), and the leaf must be valid for the MX host name. RFC 7672
//!   §3.1.2: "SMTP servers that rely on certificate usage DANE-TA(2) TLSA
//!   records for TLS authentication MUST include the TA certificate as
//!   part of the certificate chain presented in the TLS handshake server
//!   certificate message even when it is a self-signed root certificate."
//!   So a TA that is not in the chain does not match (a bare `2 1 x` key
//!   is not supported). Names, RFC 7672 §3.2.3: "When name checks are
//!   applicable (certificate usage DANE-TA(2)), if the server certificate
//!   contains a Subject Alternative Name extension (\[RFC5280\]), with at
//!   least one DNS-ID (\[RFC6125\]) then only the DNS-IDs are matched against
//!   the client's reference identifiers." The reference identifier here is
//!   the MX host name only (the next-hop domain, also allowed by §3.2.2, is
//!   not tried).
//! - **PKIX-TA(0), PKIX-EE(1)** are not for SMTP. RFC 7672 §3.1.3: "SMTP
//!   client treatment of TLSA RRs with certificate usages PKIX-TA(0) or
//!   PKIX-EE(1) is undefined. As with any other unsupported certificate
//!   usage, SMTP clients MAY treat such records as \"unusable\"." They are
//!   reported as [`RecordOutcome::NotForSmtp`] and never match.

use mailwarden_model::dns::Tlsa;
use rustls_pki_types::CertificateDer;
use serde::Serialize;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{describe_webpki, server_name, sha256, sha512, unix_time};

/// The outcome of matching a TLSA RRset against a presented chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DaneMatch {
    /// One entry per record, in the order given.
    pub records: Vec<RecordResult>,
    /// Index into `records` of the first record that authenticates the
    /// server.
    pub matched: Option<usize>,
    /// Whether any record was usable for SMTP (usage 2 or 3, known
    /// selector and matching type, well-formed data). With none, RFC 7672
    /// §2.2 has senders fall back to unauthenticated TLS.
    pub usable: bool,
}

/// One TLSA record and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordResult {
    /// `3 1 1 abcd…` (data shortened to 16 hex digits).
    pub record: String,
    pub outcome: RecordOutcome,
}

/// What one record did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum RecordOutcome {
    /// It authenticates the server; `certificate` is the index in the
    /// chain of the certificate it matched (0 = leaf).
    Matched { certificate: usize },
    /// DANE-TA: it matched `certificate`, but the chain does not verify to
    /// it, or the leaf is not valid for the host.
    ChainFailed { certificate: usize, reason: String },
    /// It matched no eligible certificate.
    NoMatch { reason: String },
    /// Usage 0 or 1: not used by SMTP (RFC 7672 §3.1.3).
    NotForSmtp,
    /// Unknown usage, selector or matching type, or malformed data.
    Unusable { reason: String },
}

/// The overall verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DaneVerdict {
    /// A usable record authenticates the server.
    Matched,
    /// Usable records exist and none does: a DANE sender defers the mail.
    NoMatch,
    /// No usable record: DANE does not authenticate this server.
    NoUsableRecords,
}

impl DaneMatch {
    pub fn verdict(&self) -> DaneVerdict {
        match (self.matched, self.usable) {
            (Some(_), _) => DaneVerdict::Matched,
            (None, true) => DaneVerdict::NoMatch,
            (None, false) => DaneVerdict::NoUsableRecords,
        }
    }

    /// The record that matched.
    pub fn matched_record(&self) -> Option<&RecordResult> {
        self.matched.map(|i| &self.records[i])
    }

    /// One line for evidence: which record matched, or why none did.
    pub fn summary(&self) -> String {
        if let Some(r) = self.matched_record() {
            let RecordOutcome::Matched { certificate } = r.outcome else {
                unreachable!("matched points at a Matched record")
            };
            return format!("`{}` matches certificate {certificate} of the chain", r.record);
        }
        if self.records.is_empty() {
            return "no TLSA records".into();
        }
        let why: Vec<String> = self
            .records
            .iter()
            .map(|r| {
                let reason = match &r.outcome {
                    RecordOutcome::Matched { .. } => "matches".to_string(),
                    RecordOutcome::ChainFailed { certificate, reason } => {
                        format!("matches certificate {certificate}, but {reason}")
                    }
                    RecordOutcome::NoMatch { reason } | RecordOutcome::Unusable { reason } => reason.clone(),
                    RecordOutcome::NotForSmtp => "usage not used by SMTP (RFC 7672 §3.1.3)".to_string(),
                };
                format!("`{}`: {reason}", r.record)
            })
            .collect();
        let head = if self.usable {
            "no usable TLSA record matches"
        } else {
            "no usable TLSA record"
        };
        format!("{head}: {}", why.join("; "))
    }
}

/// Match `records` against `chain` (DER, leaf first) for `host` at `now`
/// (seconds since the Unix epoch; used by DANE-TA only).
pub fn match_tlsa(records: &[Tlsa], chain: &[Vec<u8>], host: &str, now: i64) -> DaneMatch {
    let parsed: Vec<Option<X509Certificate<'_>>> = chain
        .iter()
        .map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c))
        .collect();
    let mut results = Vec::with_capacity(records.len());
    let mut usable = false;
    let mut matched = None;
    for (i, tlsa) in records.iter().enumerate() {
        let outcome = match_one(tlsa, chain, &parsed, host, now);
        if !matches!(outcome, RecordOutcome::NotForSmtp | RecordOutcome::Unusable { .. }) {
            usable = true;
        }
        if matched.is_none() && matches!(outcome, RecordOutcome::Matched { .. }) {
            matched = Some(i);
        }
        results.push(RecordResult {
            record: short(tlsa),
            outcome,
        });
    }
    DaneMatch {
        records: results,
        matched,
        usable,
    }
}

fn short(t: &Tlsa) -> String {
    let data = match t.data.get(..8) {
        Some(first) if t.data.len() > 8 => format!("{}…", mailwarden_model::codec::hex(first)),
        _ => mailwarden_model::codec::hex(&t.data),
    };
    format!("{} {data}", t.params())
}

/// Whether certificate `der` (parsed as `cert`) matches the record's
/// selector, matching type and data.
fn associates(tlsa: &Tlsa, data: &[u8], der: &[u8], cert: Option<&X509Certificate<'_>>) -> bool {
    let selected: &[u8] = match tlsa.selector {
        0 => der,
        _ => match cert {
            Some(c) => c.public_key().raw,
            None => return false,
        },
    };
    match tlsa.matching_type {
        0 => selected == data,
        1 => sha256(selected) == data,
        _ => sha512(selected) == data,
    }
}

fn match_one(
    tlsa: &Tlsa,
    chain: &[Vec<u8>],
    parsed: &[Option<X509Certificate<'_>>],
    host: &str,
    now: i64,
) -> RecordOutcome {
    if matches!(tlsa.usage, 0 | 1) {
        return RecordOutcome::NotForSmtp;
    }
    if let Some(reason) = tlsa.unusable() {
        return RecordOutcome::Unusable { reason };
    }
    let data = tlsa.data.as_slice();
    if chain.is_empty() {
        return RecordOutcome::NoMatch {
            reason: "no certificate presented".into(),
        };
    }
    let unparsed_leaf = || {
        if tlsa.selector == 1 && parsed[0].is_none() {
            " (the leaf did not parse, so its public key is unknown)"
        } else {
            ""
        }
    };
    if tlsa.usage == 3 {
        return if associates(tlsa, data, &chain[0], parsed[0].as_ref()) {
            RecordOutcome::Matched { certificate: 0 }
        } else {
            RecordOutcome::NoMatch {
                reason: format!("does not match the leaf certificate{}", unparsed_leaf()),
            }
        };
    }
    // DANE-TA(2): the first CA certificate of the chain that matches.
    let mut non_ca = None;
    let mut failed = None;
    for (i, der) in chain.iter().enumerate() {
        if !associates(tlsa, data, der, parsed[i].as_ref()) {
            continue;
        }
        let is_ca = matches!(
            parsed[i].as_ref().map(|c| c.basic_constraints()),
            Some(Ok(Some(bc))) if bc.value.ca
        );
        if !is_ca {
            non_ca.get_or_insert(i);
            continue;
        }
        match verify_to_anchor(chain, i, host, now) {
            Ok(()) => return RecordOutcome::Matched { certificate: i },
            Err(reason) => {
                failed.get_or_insert((i, reason));
            }
        }
    }
    if let Some((certificate, reason)) = failed {
        let reason = reason.to_string();
        return RecordOutcome::ChainFailed { certificate, reason };
    }
    RecordOutcome::NoMatch {
        reason: match non_ca {
            Some(i) => format!("matches certificate {i}, which is not a CA certificate"),
            None => "matches no certificate of the presented chain (a DANE-TA certificate must be presented, RFC 7672 §3.1.2)".into(),
        },
    }
}

/// Why a chain does not verify to a DANE-TA(2) record's certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AnchorFailure {
    /// The matched certificate cannot be a trust anchor (webpki's words).
    NotAnAnchor(String),
    /// The leaf cannot be used (webpki's words).
    UnusableLeaf(String),
    /// The chain does not verify to the anchor (webpki's words).
    DoesNotVerify(String),
    /// The host is not a DNS name webpki can check.
    InvalidName(super::InvalidName),
    /// The leaf is not valid for the host (without its trailing dot).
    NotForHost(String),
}

impl std::fmt::Display for AnchorFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AnchorFailure::NotAnAnchor(why) => write!(f, "it cannot be a trust anchor: {why}"),
            AnchorFailure::UnusableLeaf(why) => write!(f, "the leaf cannot be used: {why}"),
            AnchorFailure::DoesNotVerify(why) => write!(f, "the chain does not verify to it: {why}"),
            AnchorFailure::InvalidName(name) => write!(f, "{name}"),
            AnchorFailure::NotForHost(host) => write!(f, "the leaf certificate is not valid for {host}"),
        }
    }
}

/// The chain from the leaf verifies up to `chain[ta]` as the sole trust
/// anchor at `now`, for server auth, and the leaf is valid for `host`.
fn verify_to_anchor(chain: &[Vec<u8>], ta: usize, host: &str, now: i64) -> Result<(), AnchorFailure> {
    let ta_der = CertificateDer::from(chain[ta].as_slice());
    let anchor =
        webpki::anchor_from_trusted_cert(&ta_der).map_err(|e| AnchorFailure::NotAnAnchor(describe_webpki(&e)))?;
    let leaf = CertificateDer::from(chain[0].as_slice());
    let ee = webpki::EndEntityCert::try_from(&leaf).map_err(|e| AnchorFailure::UnusableLeaf(describe_webpki(&e)))?;
    let intermediates: Vec<CertificateDer<'_>> =
        chain[1..].iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    ee.verify_for_usage(
        webpki::ALL_VERIFICATION_ALGS,
        &[anchor],
        &intermediates,
        unix_time(now),
        webpki::KeyUsage::server_auth(),
        None,
        None,
    )
    .map_err(|e| AnchorFailure::DoesNotVerify(describe_webpki(&e)))?;
    let name = server_name(host).map_err(AnchorFailure::InvalidName)?;
    ee.verify_is_valid_for_subject_name(&name)
        .map_err(|_| AnchorFailure::NotForHost(host.trim_end_matches('.').to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::sha512;
    use crate::tls::testcerts::{Ca, HOST, NOW, sha256_hex};

    fn tlsa(usage: u8, selector: u8, matching_type: u8, data: &[u8]) -> Tlsa {
        Tlsa {
            usage,
            selector,
            matching_type,
            data: data.to_vec(),
        }
    }

    fn digest(matching_type: u8, bytes: &[u8]) -> Vec<u8> {
        match matching_type {
            0 => bytes.to_vec(),
            1 => sha256(bytes),
            _ => sha512(bytes),
        }
    }

    struct Setup {
        ca: Ca,
        chain: Vec<Vec<u8>>,
        spki: Vec<u8>,
    }

    fn setup(names: &[&str]) -> Setup {
        let ca = Ca::new("DANE CA");
        let leaf = ca.valid_leaf(names);
        let chain = vec![leaf.der, ca.der.clone()];
        Setup {
            ca,
            chain,
            spki: leaf.spki,
        }
    }

    #[test]
    fn dane_ee_spki_sha256_matches_and_mismatches() {
        let s = setup(&[HOST]);
        let good = tlsa(3, 1, 1, &sha256(&s.spki));
        let m = match_tlsa(std::slice::from_ref(&good), &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::Matched);
        assert_eq!(m.matched, Some(0));
        assert_eq!(m.records[0].outcome, RecordOutcome::Matched { certificate: 0 });
        assert!(m.summary().contains("matches certificate 0"), "{}", m.summary());
        assert_eq!(m.records[0].record, format!("3 1 1 {}…", &sha256_hex(&s.spki)[..16]));

        let bad = tlsa(3, 1, 1, &[0xab; 32]);
        let m = match_tlsa(std::slice::from_ref(&bad), &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoMatch);
        assert!(m.usable);
        assert!(
            m.summary().starts_with("no usable TLSA record matches"),
            "{}",
            m.summary()
        );

        // A mismatching record before a matching one: the matching one wins.
        let m = match_tlsa(&[bad, good], &s.chain, HOST, NOW);
        assert_eq!(m.matched, Some(1));
    }

    #[test]
    fn dane_ee_selector_and_matching_type_combinations() {
        let s = setup(&[HOST]);
        let leaf = &s.chain[0];
        for (selector, matching_type) in [(0, 1), (1, 2), (1, 0), (0, 0), (0, 2)] {
            let selected = if selector == 0 { leaf.clone() } else { s.spki.clone() };
            let good = tlsa(3, selector, matching_type, &digest(matching_type, &selected));
            let m = match_tlsa(&[good], &s.chain, HOST, NOW);
            assert_eq!(m.verdict(), DaneVerdict::Matched, "3 {selector} {matching_type}");
            // The same data under the other selector does not match.
            let other = tlsa(3, 1 - selector, matching_type, &digest(matching_type, &selected));
            let m = match_tlsa(&[other], &s.chain, HOST, NOW);
            assert_eq!(m.verdict(), DaneVerdict::NoMatch, "3 {} {matching_type}", 1 - selector);
        }
    }

    #[test]
    fn dane_ee_ignores_expiry_and_names() {
        let ca = Ca::new("DANE CA");
        let leaf = ca.leaf(&["other.example.net"], (2020, 1, 1), (2021, 1, 1));
        let chain = vec![leaf.der, ca.der.clone()];
        let m = match_tlsa(&[tlsa(3, 1, 1, &sha256(&leaf.spki))], &chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::Matched);
        // DANE-TA on the same chain fails: it checks expiry and names.
        let m = match_tlsa(&[tlsa(2, 0, 1, &sha256(&ca.der))], &chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoMatch);
        assert!(
            matches!(&m.records[0].outcome, RecordOutcome::ChainFailed { certificate: 1, reason } if reason.contains("expired")),
            "{:?}",
            m.records[0]
        );
    }

    #[test]
    fn dane_ta_on_the_presented_ca_verifies_the_chain() {
        let s = setup(&[HOST]);
        let ca_spki = x509_parser::parse_x509_certificate(&s.ca.der)
            .unwrap()
            .1
            .public_key()
            .raw
            .to_vec();
        let m = match_tlsa(&[tlsa(2, 1, 1, &sha256(&ca_spki))], &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::Matched, "{}", m.summary());
        assert_eq!(m.records[0].outcome, RecordOutcome::Matched { certificate: 1 });
        let m = match_tlsa(&[tlsa(2, 0, 2, &sha512(&s.ca.der))], &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::Matched);
        // A trailing dot and upper case in the host are fine.
        let m = match_tlsa(&[tlsa(2, 0, 1, &sha256(&s.ca.der))], &s.chain, "MAIL.example.com.", NOW);
        assert_eq!(m.verdict(), DaneVerdict::Matched, "{}", m.summary());
    }

    #[test]
    fn dane_ta_on_a_ca_not_presented_does_not_match() {
        let s = setup(&[HOST]);
        // Only the leaf is presented: RFC 7672 §3.1.2 needs the TA in the chain.
        let leaf_only = vec![s.chain[0].clone()];
        let m = match_tlsa(&[tlsa(2, 0, 1, &sha256(&s.ca.der))], &leaf_only, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoMatch);
        assert!(matches!(&m.records[0].outcome, RecordOutcome::NoMatch { reason } if reason.contains("§3.1.2")));
        // Another CA altogether.
        let other = Ca::new("Other CA");
        let m = match_tlsa(&[tlsa(2, 0, 1, &sha256(&other.der))], &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoMatch);
    }

    #[test]
    fn dane_ta_with_a_leaf_for_another_name_fails() {
        let s = setup(&["other.example.net"]);
        let m = match_tlsa(&[tlsa(2, 0, 1, &sha256(&s.ca.der))], &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoMatch);
        assert!(
            matches!(&m.records[0].outcome, RecordOutcome::ChainFailed { certificate: 1, reason } if reason.contains("not valid for mail.example.com")),
            "{:?}",
            m.records[0]
        );
        assert!(m.summary().contains("matches certificate 1, but"), "{}", m.summary());
    }

    #[test]
    fn dane_ta_matching_a_non_ca_certificate_does_not_count() {
        let s = setup(&[HOST]);
        let m = match_tlsa(&[tlsa(2, 1, 1, &sha256(&s.spki))], &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoMatch);
        assert!(matches!(&m.records[0].outcome, RecordOutcome::NoMatch { reason } if reason.contains("not a CA")));
    }

    #[test]
    fn pkix_usages_only_leave_no_usable_record() {
        let s = setup(&[HOST]);
        let records = [tlsa(0, 0, 1, &sha256(&s.ca.der)), tlsa(1, 1, 1, &sha256(&s.spki))];
        let m = match_tlsa(&records, &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoUsableRecords);
        assert!(!m.usable);
        assert!(m.records.iter().all(|r| r.outcome == RecordOutcome::NotForSmtp));
        assert!(m.summary().starts_with("no usable TLSA record: "), "{}", m.summary());
        // With one DANE-EE record alongside, it is usable and matches.
        let mut with_ee = records.to_vec();
        with_ee.push(tlsa(3, 1, 1, &sha256(&s.spki)));
        let m = match_tlsa(&with_ee, &s.chain, HOST, NOW);
        assert_eq!((m.verdict(), m.matched), (DaneVerdict::Matched, Some(2)));
    }

    #[test]
    fn unusable_records_and_empty_inputs() {
        let s = setup(&[HOST]);
        let records = [
            tlsa(3, 1, 1, &[0xab; 20]),      // wrong digest length
            tlsa(3, 2, 1, &sha256(&s.spki)), // unknown selector
            tlsa(4, 1, 1, &sha256(&s.spki)), // unknown usage
        ];
        let m = match_tlsa(&records, &s.chain, HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoUsableRecords);
        assert!(
            m.records
                .iter()
                .all(|r| matches!(r.outcome, RecordOutcome::Unusable { .. }))
        );

        let m = match_tlsa(&[], &s.chain, HOST, NOW);
        assert_eq!(
            (m.verdict(), m.summary().as_str()),
            (DaneVerdict::NoUsableRecords, "no TLSA records")
        );

        let m = match_tlsa(&[tlsa(3, 1, 1, &sha256(&s.spki))], &[], HOST, NOW);
        assert_eq!(m.verdict(), DaneVerdict::NoMatch);
        assert!(m.summary().contains("no certificate presented"));
    }
}
