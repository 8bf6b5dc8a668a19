//! `dane.match`: the usable records of a secure TLSA RRset against the
//! chain each probed address of the host presented.

use std::collections::BTreeMap;
use std::net::IpAddr;

use mailwarden_model::dns::Tlsa;
use mailwarden_model::{Outcome, RawFinding, Severity, SmtpTarget};

use super::Host;
use crate::Facts;
use crate::dane::{Addressed, Rrset};
use crate::rule;
use crate::tls::dane::DaneVerdict;
use crate::transport::AddressTls;

/// How a DANE sender fares at one address of a host with usable records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(in crate::dane) enum AddressDane {
    /// A usable record authenticates the chain presented (which one).
    Matched(String),
    /// The chain presented matches no usable record (why, and the SHA-256
    /// of the leaf's SubjectPublicKeyInfo when there is a parsable leaf).
    NoMatch { why: String, leaf_spki: Option<String> },
    /// The address does not offer or complete STARTTLS, which DANE makes
    /// mandatory (the probe result).
    NoTls(String),
    /// The chain could not be seen: not probed, unreachable, or a
    /// handshake mailwarden cannot complete (why).
    Unknown(String),
}

impl AddressDane {
    /// `Some(true)` authenticated, `Some(false)` a DANE sender defers,
    /// `None` unknown.
    pub(in crate::dane) fn verdict(&self) -> Option<bool> {
        match self {
            AddressDane::Matched(_) => Some(true),
            AddressDane::NoMatch { .. } | AddressDane::NoTls(_) => Some(false),
            AddressDane::Unknown(_) => None,
        }
    }

    pub(in crate::dane) fn describe(&self) -> String {
        match self {
            AddressDane::Matched(how) => how.clone(),
            AddressDane::NoMatch { why, .. } => why.clone(),
            AddressDane::NoTls(probe) => format!("no TLS ({probe})"),
            AddressDane::Unknown(why) => format!("not matched: {why}"),
        }
    }
}

/// Match `records` against the chain one address presented (the match
/// made once per view, in the facts).
fn match_address(records: &[Tlsa], address: &AddressTls<'_>, facts: &Facts<'_, '_>) -> AddressDane {
    let probe = address.probe;
    match address.starttls() {
        Some(true) => {
            let chain = address.chain_der().unwrap_or_default();
            let target = SmtpTarget::new(&address.host, address.address);
            let result = facts.dane_match(records, target, &chain);
            if result.verdict() == DaneVerdict::Matched {
                return AddressDane::Matched(result.summary());
            }
            let leaf_spki = address
                .chain
                .as_ref()
                .and_then(|r| r.certificates.first()?.as_ref())
                .map(|c| c.spki_sha256.clone());
            AddressDane::NoMatch {
                why: result.summary(),
                leaf_spki,
            }
        }
        // A `protocol_version` alert: the server most likely speaks only
        // TLS below 1.2, which the probe cannot; a DANE sender that can
        // might still authenticate it, so this says nothing of the records.
        Some(false) if probe.alert.as_deref() == Some("ProtocolVersion") => AddressDane::Unknown(format!(
            "the handshake failed with a protocol_version alert: the server likely offers only TLS below 1.2, which mailwarden cannot speak, so its chain was not seen ({})",
            probe.describe()
        )),
        Some(false) => AddressDane::NoTls(probe.describe()),
        None => AddressDane::Unknown(probe.describe()),
    }
}

/// Match `records` against every probed address of a host.
pub(in crate::dane) fn match_addresses(
    records: &[Tlsa],
    addresses: &[AddressTls<'_>],
    facts: &Facts<'_, '_>,
) -> Vec<(IpAddr, AddressDane)> {
    addresses
        .iter()
        .map(|a| (a.address, match_address(records, a, facts)))
        .collect()
}

impl Host<'_> {
    /// The usable records of a secure RRset against the chain each
    /// address of the host presents.
    ///
    /// RFC 7672 §2.2 makes TLS mandatory once the TLSA RRset is secure:
    /// "The SMTP client MUST NOT deliver mail via the corresponding host
    /// unless a TLS session is negotiated via STARTTLS." With usable
    /// records the sender must also authenticate the server by them
    /// (RFC 7672 §3.1, paraphrased: DANE-EE(3) matches the leaf, DANE-TA(2)
    /// a CA certificate of the chain, which must then verify to it for the
    /// MX name; see [`crate::tls::dane`]), and defers mail to a server that
    /// fails. So every address must present a chain a usable record
    /// matches: a sender tries the addresses in turn (RFC 5321 §5.1), and
    /// any of them can be the one it reaches.
    /// What [`Self::matching`] reads, building no finding: the probes of
    /// the host, when it has usable secure records and addresses.
    pub(super) fn matching_reads(&self, addressed: &Addressed<'_, '_, '_, '_>) {
        if self.usable().is_empty() || !matches!(self.rrset(), Rrset::Usable(_)) {
            return;
        }
        if let Ok(host) = addressed.host(&self.name)
            && host.addresses.as_ref().is_ok_and(|a| !a.is_empty())
        {
            addressed.facts.probe_host(addressed.view, host);
        }
    }

    pub(super) fn matching(&self, addressed: &Addressed<'_, '_, '_, '_>) -> RawFinding {
        const ID: &str = rule::DANE_MATCH;
        if self.usable().is_empty() {
            return self.finding(
                ID,
                Outcome::NotApplicable,
                format!("No usable DANE-TA or DANE-EE record at {} to match.", self.owner),
            );
        }
        let records = match self.rrset() {
            Rrset::Usable(records) => records,
            Rrset::NotInEffect(_) => {
                return self.finding(
                    ID,
                    Outcome::NotApplicable,
                    format!(
                        "The TLSA records at {} are not DNSSEC-secure, so senders do not use them (see dane.insecure).",
                        self.owner
                    ),
                );
            }
            Rrset::NoUsable(why) | Rrset::Bogus(why) | Rrset::Unknown(why) => {
                return self
                    .finding(
                        ID,
                        Outcome::Indeterminate,
                        format!("The records were not matched: {why}."),
                    )
                    .evidence("records", self.texts());
            }
        };
        let host = match addressed.host(&self.name) {
            Ok(host) => host,
            Err(why) => {
                return self.unmatched(format!("could not look up the MX hosts: {why}"), &why.to_string());
            }
        };
        let addresses = match &host.addresses {
            Ok(addresses) if addresses.is_empty() => {
                return self.finding(
                    ID,
                    Outcome::NotApplicable,
                    format!(
                        "{} has no address, so no server presents a certificate (see mx.target-unresolvable).",
                        self.name
                    ),
                );
            }
            Ok(_) => addressed.facts.probe_host(addressed.view, host),
            Err(why) => {
                return self.unmatched(
                    format!("could not look up the addresses of {}: {why}", self.name),
                    &why.to_string(),
                );
            }
        };
        let results = match_addresses(&records, &addresses, addressed.facts);
        self.match_finding(&results)
    }

    /// dane.match indeterminate because a lookup failed.
    fn unmatched(&self, message: String, failed: &str) -> RawFinding {
        self.finding(
            rule::DANE_MATCH,
            Outcome::Indeterminate,
            format!("The TLSA records at {} were not matched: {message}.", self.owner),
        )
        .evidence("failed_lookups", [failed])
        .evidence("records", self.texts())
    }

    /// dane.match from the per-address results.
    fn match_finding(&self, results: &[(IpAddr, AddressDane)]) -> RawFinding {
        const ID: &str = rule::DANE_MATCH;
        let by_address: BTreeMap<String, String> =
            results.iter().map(|(ip, r)| (ip.to_string(), r.describe())).collect();
        let failed: Vec<&(IpAddr, AddressDane)> = results.iter().filter(|(_, r)| r.verdict() == Some(false)).collect();
        let unknown = results.iter().filter(|(_, r)| r.verdict().is_none()).count();
        let finding = |outcome, message: String| {
            self.finding(ID, outcome, message)
                .evidence("addresses", &by_address)
                .evidence("records", self.texts())
        };
        if !failed.is_empty() {
            let list: Vec<String> = failed.iter().map(|(ip, r)| format!("{ip}: {}", r.describe())).collect();
            return finding(
                Outcome::Fail,
                format!(
                    "{} of {} address(es) of {} fail DANE, and validating senders defer all mail to them: {}.",
                    failed.len(),
                    results.len(),
                    self.name,
                    list.join("; ")
                ),
            )
            .severity(Severity::Critical)
            .remediation(self.match_remediation(&failed));
        }
        if unknown > 0 {
            return finding(
                Outcome::Indeterminate,
                format!(
                    "{unknown} of {} address(es) of {} could not be matched against the TLSA records at {} (not probed or not reached), and none of the others fails.",
                    results.len(),
                    self.name,
                    self.owner
                ),
            );
        }
        finding(
            Outcome::Pass,
            format!(
                "Every address of {} ({}) presents a chain that a usable TLSA record at {} authenticates.",
                self.name,
                results.len(),
                self.owner
            ),
        )
    }

    /// What to publish or change, from what the failing addresses showed.
    fn match_remediation(&self, failed: &[&(IpAddr, AddressDane)]) -> String {
        let mut steps = Vec::new();
        let presented: std::collections::BTreeSet<&str> = failed
            .iter()
            .filter_map(|(_, r)| match r {
                AddressDane::NoMatch {
                    leaf_spki: Some(spki), ..
                } => Some(spki.as_str()),
                _ => None,
            })
            .collect();
        for spki in &presented {
            steps.push(format!(
                "if the certificate presented is the one you deploy, publish `{}. IN TLSA 3 1 1 {spki}` next to the current records, and remove stale ones after the TTL; otherwise put back the certificate whose key the records name",
                self.owner
            ));
        }
        if failed
            .iter()
            .any(|(_, r)| matches!(r, AddressDane::NoMatch { leaf_spki: None, .. }))
        {
            steps.push(format!(
                "present on every address of {} a certificate (and, for DANE-TA, the CA certificate) that the records at {} name",
                self.name, self.owner
            ));
        }
        if failed.iter().any(|(_, r)| matches!(r, AddressDane::NoTls(_))) {
            steps.push(format!(
                "offer STARTTLS on every address of {} (DANE senders do not deliver without TLS); if it cannot be offered, withdraw the TLSA records at {} and wait for their TTL first",
                self.name, self.owner
            ));
        }
        let mut text = steps.join("; ");
        if let Some(first) = text.get(..1) {
            text = first.to_uppercase() + &text[1..];
        }
        text + "."
    }
}
