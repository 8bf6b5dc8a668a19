//! The certificate chain an MX presented after STARTTLS, as a sender
//! that authenticates the server would judge it.
//!
//! RFC 8461 §4.2: "The certificate presented by the receiving MTA MUST not
//! be expired and MUST chain to a root CA that is trusted by the Sending
//! MTA. The certificate MUST have a subject alternative name (SAN)
//! [RFC5280] with a DNS-ID [RFC6125] matching the hostname". Names are
//! matched per RFC 6125 §6.4 (see [`crate::tls::cert::name_matches`]);
//! validity per RFC 5280 §4.1.2.5 (notBefore to notAfter, inclusive).
//! Expired, not yet valid, wrong name and untrusted are what MTA-STS
//! senders refuse: critical when the domain's policy enforces for the MX.
//! DANE senders check the DNSSEC-secure TLSA records instead (RFC 7672
//! §3.1): when one matches and its usage waives the check (see
//! [`dane_waives`]), the problem is low unless MTA-STS enforces.

use mailwarden_model::{Outcome, RawFinding, Severity};

use super::{Address, Reached, Senders};
use crate::dane::DaneAuthenticated;
use crate::rule;
use crate::tls::cert::{ChainReport, Pkix, Validity};

const CERT_RULES: [&str; 7] = [
    rule::SMTP_CERT_EXPIRED,
    rule::SMTP_CERT_NOT_YET_VALID,
    rule::SMTP_CERT_NAME,
    rule::SMTP_CERT_UNTRUSTED,
    rule::SMTP_CERT_EXPIRING,
    rule::SMTP_CERT_WEAK_KEY,
    rule::SMTP_CERT_SHA1,
];

impl Address<'_> {
    /// The certificate rules: not-applicable or indeterminate without a
    /// TLS session, judged on the chain otherwise.
    pub(super) fn certificates(&self, senders: &Senders<'_, '_, '_, '_>) -> Vec<RawFinding> {
        let Some(report) = self.chain.as_ref().filter(|_| self.reached() == Reached::Session) else {
            return CERT_RULES
                .iter()
                .map(|id| {
                    self.short_of(id, Reached::Session).unwrap_or_else(|| {
                        self.finding(
                            id,
                            Outcome::Indeterminate,
                            "No TLS session was recorded for this probe.",
                        )
                    })
                })
                .collect();
        };
        vec![
            self.expired(report, senders),
            self.not_yet_valid(report, senders),
            self.name(report, senders),
            self.untrusted(report, senders),
            self.expiring(report),
            self.weak_key(report),
            self.sha1(report),
        ]
    }

    /// What [`Self::certificates`] reads, building no findings: for a
    /// chain some sender would refuse, the DANE match and the MTA-STS
    /// policy ([`Self::refused`]).
    pub(super) fn certificate_reads(&self, senders: &Senders<'_, '_, '_, '_>) {
        let Some(report) = self.chain.as_ref().filter(|_| self.reached() == Reached::Session) else {
            return;
        };
        if self.refusable(report) {
            if let Some(tls) = &self.probe.tls {
                senders.dane(&self.host, self.address, &tls.chain_der());
            }
            senders.enforces(&self.host);
        }
    }

    /// Whether any certificate rule calls [`Self::refused`] on `report`:
    /// the leaf expired, not yet valid or not for the host, or a chain
    /// that does not verify even inside the leaf's dates.
    fn refusable(&self, report: &ChainReport) -> bool {
        let leaf = report.leaf.as_ref().is_some_and(|leaf| {
            matches!(leaf.validity, Validity::Expired | Validity::NotYetValid) || leaf.matched_name.is_none()
        });
        let untrusted = matches!(report.pkix, Pkix::Untrusted { .. }) && self.undated_pkix != Some(Pkix::Trusted);
        leaf || untrusted
    }

    /// The finding of rule `id` when the leaf could not be read.
    fn no_leaf(&self, id: &str, report: &ChainReport) -> RawFinding {
        self.finding(
            id,
            Outcome::Indeterminate,
            format!(
                "The leaf certificate could not be read: {}.",
                report.parse_errors.join("; ")
            ),
        )
        .evidence("parse_errors", &report.parse_errors)
    }

    /// `smtp.cert-expired`: RFC 8461 §4.2 "MUST not be expired".
    fn expired(&self, report: &ChainReport, senders: &Senders<'_, '_, '_, '_>) -> RawFinding {
        const ID: &str = rule::SMTP_CERT_EXPIRED;
        let Some(leaf) = &report.leaf else {
            return self.no_leaf(ID, report);
        };
        if leaf.validity != Validity::Expired {
            return with_leaf(
                self.finding(ID, Outcome::Pass, "The certificate has not expired."),
                report,
            );
        }
        let message = format!(
            "The certificate of {} expired {} day(s) ago.",
            self.subject, -leaf.days_left
        );
        self.refused(ID, message, report, senders).remediation(format!(
            "Renew the certificate of {} and install it in the MTA; automate renewal (ACME) so that it cannot lapse again.",
            self.host
        ))
    }

    /// `smtp.cert-not-yet-valid`: RFC 5280 §4.1.2.5, the certificate is
    /// valid from notBefore on.
    fn not_yet_valid(&self, report: &ChainReport, senders: &Senders<'_, '_, '_, '_>) -> RawFinding {
        const ID: &str = rule::SMTP_CERT_NOT_YET_VALID;
        let Some(leaf) = &report.leaf else {
            return self.no_leaf(ID, report);
        };
        if leaf.validity != Validity::NotYetValid {
            return with_leaf(
                self.finding(ID, Outcome::Pass, "The certificate's validity period has begun."),
                report,
            );
        }
        let message = format!(
            "The certificate of {} is not valid yet (its notBefore is in the future): a wrong server clock, or a certificate installed too early.",
            self.subject
        );
        self.refused(ID, message, report, senders)
    }

    /// `smtp.cert-name`: RFC 8461 §4.2, a SAN DNS-ID matching the MX host
    /// name (RFC 6125 §6.4.4: the subject CN is not consulted).
    fn name(&self, report: &ChainReport, senders: &Senders<'_, '_, '_, '_>) -> RawFinding {
        const ID: &str = rule::SMTP_CERT_NAME;
        let Some(leaf) = &report.leaf else {
            return self.no_leaf(ID, report);
        };
        if let Some(matched) = &leaf.matched_name {
            let message = format!("The certificate is valid for {} (SAN {matched}).", self.host);
            return with_leaf(self.finding(ID, Outcome::Pass, message), report);
        }
        let names = if leaf.names.is_empty() {
            "no DNS names".to_string()
        } else {
            leaf.names.join(", ")
        };
        let message = format!(
            "The certificate of {} is not valid for the MX name {}: its subjectAltName holds {names}.",
            self.subject, self.host
        );
        self.refused(ID, message, report, senders).remediation(format!(
            "Install a certificate whose subjectAltName includes {} (or a wildcard for its parent domain), or point the MX record at a name the certificate covers.",
            self.host
        ))
    }

    /// `smtp.cert-untrusted`: RFC 8461 §4.2 "MUST chain to a root CA that
    /// is trusted by the Sending MTA". When the leaf is merely out of its
    /// dates, the chain is judged as of a day inside them, so that one
    /// problem is not reported twice.
    fn untrusted(&self, report: &ChainReport, senders: &Senders<'_, '_, '_, '_>) -> RawFinding {
        const ID: &str = rule::SMTP_CERT_UNTRUSTED;
        let Pkix::Untrusted { reason } = &report.pkix else {
            return with_leaf(
                self.finding(ID, Outcome::Pass, "The chain verifies to a trusted root."),
                report,
            );
        };
        if self.undated_pkix == Some(Pkix::Trusted) {
            let message = "Apart from the leaf's validity dates (see smtp.cert-expired, smtp.cert-not-yet-valid), the chain verifies to a trusted root.";
            return with_leaf(self.finding(ID, Outcome::Pass, message), report);
        }
        let message = format!("The certificate chain of {} does not verify: {reason}.", self.subject);
        self.refused(ID, message, report, senders)
            .evidence("reason", reason)
            .evidence("chain_length", report.certificates.len())
    }

    /// A certificate problem that senders which authenticate the MX by
    /// PKIX refuse: critical when the domain's MTA-STS policy enforces for
    /// this MX; low when DANE senders authenticate the chain anyway and
    /// the matching record's usage waives this check ([`dane_waives`]);
    /// the catalogue's medium otherwise (SMTP TLS is opportunistic).
    fn refused(
        &self,
        id: &str,
        message: String,
        report: &ChainReport,
        senders: &Senders<'_, '_, '_, '_>,
    ) -> RawFinding {
        let dane = self.dane_waiving(id, senders);
        if senders.enforces(&self.host) {
            let dane_note = dane.as_ref().map_or(String::new(), |d| {
                format!(
                    " DANE senders authenticate it ({}), but senders that apply only MTA-STS do not.",
                    d.summary
                )
            });
            let message = format!(
                "{message} The domain's MTA-STS policy is in enforce mode and covers {}: senders that apply it refuse to deliver to this server (RFC 8461 §5).{dane_note}",
                self.host
            );
            let f = with_leaf(self.finding(id, Outcome::Fail, message), report)
                .evidence("mta_sts_mode", "enforce")
                .severity(Severity::Critical);
            return with_dane(f, dane.as_ref());
        }
        if let Some(d) = &dane {
            let message = format!(
                "{message} DANE senders authenticate the server nonetheless: its DNSSEC-secure TLSA record matches ({}), and {}. Senders that authenticate by PKIX alone (strict TLS policies) still refuse; most others deliver opportunistically.",
                d.summary,
                waiver(d.usage)
            );
            let f = with_leaf(self.finding(id, Outcome::Fail, message), report).severity(Severity::Low);
            return with_dane(f, dane.as_ref());
        }
        let message = format!(
            "{message} SMTP TLS is opportunistic, so most senders still deliver, encrypted but without authenticating the server; senders that require authentication (MTA-STS in enforce mode, strict TLS policies) refuse."
        );
        with_leaf(self.finding(id, Outcome::Fail, message), report)
    }

    /// The DANE match of this address's chain, when its usage waives the
    /// check `id`.
    fn dane_waiving(&self, id: &str, senders: &Senders<'_, '_, '_, '_>) -> Option<DaneAuthenticated> {
        let chain = self.probe.tls.as_ref()?.chain_der();
        senders
            .dane(&self.host, self.address, &chain)
            .filter(|d| dane_waives(d.usage, id))
    }

    /// `smtp.cert-expiring`: within [`crate::tls::cert::EXPIRY_WARNING_DAYS`].
    fn expiring(&self, report: &ChainReport) -> RawFinding {
        const ID: &str = rule::SMTP_CERT_EXPIRING;
        let Some(leaf) = &report.leaf else {
            return self.no_leaf(ID, report);
        };
        let finding = match leaf.validity {
            Validity::Valid => self.finding(
                ID,
                Outcome::Pass,
                format!("The certificate expires in {} days.", leaf.days_left),
            ),
            Validity::ExpiringSoon => self.finding(
                ID,
                Outcome::Fail,
                format!(
                    "The certificate of {} expires in {} day(s).",
                    self.subject, leaf.days_left
                ),
            ),
            Validity::Expired => self.finding(
                ID,
                Outcome::NotApplicable,
                "The certificate has already expired (see smtp.cert-expired).",
            ),
            Validity::NotYetValid => self.finding(
                ID,
                Outcome::NotApplicable,
                "The certificate is not valid yet (see smtp.cert-not-yet-valid).",
            ),
        };
        with_leaf(finding, report).evidence("days_left", leaf.days_left)
    }

    /// `smtp.cert-weak-key`: an RSA key below 2048 bits in the chain.
    fn weak_key(&self, report: &ChainReport) -> RawFinding {
        const ID: &str = rule::SMTP_CERT_WEAK_KEY;
        let parsed: Vec<_> = report
            .certificates
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, c.as_ref()?)))
            .collect();
        if parsed.is_empty() {
            return self.unreadable(ID, report);
        }
        let weak: Vec<String> = parsed
            .iter()
            .filter_map(|(i, c)| Some(format!("certificate {i} ({}): {}", c.subject, c.key.weak.as_ref()?)))
            .collect();
        if weak.is_empty() {
            return with_leaf(
                self.finding(ID, Outcome::Pass, "No certificate in the chain has a weak key."),
                report,
            );
        }
        let message = format!("{} presents weak keys: {}.", self.subject, weak.join("; "));
        with_leaf(self.finding(ID, Outcome::Fail, message), report).evidence("weak", weak)
    }

    /// `smtp.cert-sha1`: a SHA-1 signature on a certificate below the root
    /// (a self-signed root's own signature is never checked).
    fn sha1(&self, report: &ChainReport) -> RawFinding {
        const ID: &str = rule::SMTP_CERT_SHA1;
        if report.certificates.iter().all(Option::is_none) {
            return self.unreadable(ID, report);
        }
        let signed: Vec<String> = report
            .sha1_signed()
            .into_iter()
            .filter_map(|i| {
                let c = report.certificates[i].as_ref()?;
                Some(format!("certificate {i} ({}): {}", c.subject, c.signature.algorithm))
            })
            .collect();
        if signed.is_empty() {
            return with_leaf(
                self.finding(ID, Outcome::Pass, "No certificate in the chain is signed with SHA-1."),
                report,
            );
        }
        let message = format!("{} presents SHA-1 signatures: {}.", self.subject, signed.join("; "));
        with_leaf(self.finding(ID, Outcome::Fail, message), report).evidence("sha1_signed", signed)
    }

    fn unreadable(&self, id: &str, report: &ChainReport) -> RawFinding {
        self.finding(
            id,
            Outcome::Indeterminate,
            format!(
                "No certificate of the chain could be read: {}.",
                report.parse_errors.join("; ")
            ),
        )
        .evidence("parse_errors", &report.parse_errors)
    }
}

/// Whether DANE senders skip the check `id` for a chain that a record of
/// `usage` matched.
///
/// DANE-EE(3), RFC 7672 §3.1.1: "Authentication via certificate usage
/// DANE-EE(3) TLSA records involves simply checking that the server's leaf
/// certificate matches the TLSA record. In particular, the binding of the
/// server public key to its name is based entirely on the TLSA record
/// association. The server MUST be considered authenticated even if none
/// of the names in the certificate match the client's reference identity
/// for the server." and "Similarly, the expiration date of the server
/// certificate MUST be ignored: the validity period of the TLSA record key
/// binding is determined by the validity interval of the TLSA record DNSSEC
/// signatures." So names, dates (the binding's validity is the RRSIG's)
/// and the CA chain are all waived.
///
/// DANE-TA(2), RFC 6698 §2.1.1: the matched certificate "MUST be used as
/// the trust anchor when validating the end entity certificate given by
/// the server in TLS", and "The target certificate MUST pass PKIX
/// certification path validation, with any certificate matching the TLSA
/// record considered to be a trust anchor"; RFC 7672 §3.2.3 keeps name
/// checks "applicable (certificate usage DANE-TA(2))". Only the public-CA
/// trust is waived: dates and names are checked, and a chain that fails
/// them does not match (see [`crate::tls::dane`]).
fn dane_waives(usage: u8, id: &str) -> bool {
    match usage {
        3 => matches!(
            id,
            rule::SMTP_CERT_EXPIRED | rule::SMTP_CERT_NOT_YET_VALID | rule::SMTP_CERT_NAME | rule::SMTP_CERT_UNTRUSTED
        ),
        2 => id == rule::SMTP_CERT_UNTRUSTED,
        _ => false,
    }
}

/// Why the check does not matter to DANE senders, in words.
fn waiver(usage: u8) -> &'static str {
    if usage == 3 {
        "with DANE-EE(3) the TLSA record alone binds the key to the server, so its names, dates and issuer are not checked (RFC 7672 §3.1.1)"
    } else {
        "with DANE-TA(2) the matched CA certificate is the trust anchor in place of the public CAs (RFC 6698 §2.1.1, RFC 7672 §3.1.2)"
    }
}

/// The DANE match as evidence, when there is one.
fn with_dane(finding: RawFinding, dane: Option<&DaneAuthenticated>) -> RawFinding {
    match dane {
        Some(d) => finding
            .evidence("dane", &d.summary)
            .evidence("dane_usage", if d.usage == 3 { "DANE-EE(3)" } else { "DANE-TA(2)" }),
        None => finding,
    }
}

/// The leaf's identity as evidence: subject, issuer, validity, SAN names
/// and SHA-256 fingerprint.
fn with_leaf(finding: RawFinding, report: &ChainReport) -> RawFinding {
    let Some(Some(cert)) = report.certificates.first() else {
        return finding;
    };
    let names = report.leaf.as_ref().map(|l| l.names.clone()).unwrap_or_default();
    finding
        .evidence("subject", &cert.subject)
        .evidence("issuer", &cert.issuer)
        .evidence("not_before", utc(cert.not_before))
        .evidence("not_after", utc(cert.not_after))
        .evidence("san", names)
        .evidence("sha256", &cert.sha256)
}

/// Seconds since the Unix epoch as an RFC 3339 UTC time.
fn utc(secs: i64) -> String {
    match x509_parser::time::ASN1Time::from_timestamp(secs) {
        Ok(t) => {
            let d = t.to_datetime();
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        }
        Err(_) => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::utc;

    #[test]
    fn utc_is_rfc3339() {
        assert_eq!(utc(crate::tls::testcerts::NOW), "2026-01-01T00:00:00Z");
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
    }
}
