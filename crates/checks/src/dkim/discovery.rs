//! RawFinding the published keys: the selectors tried, the `_domainkey`
//! probe, CNAME delegations to providers, and what could not be looked up.

use super::*;
use crate::rule;
use crate::unlooked::counted;

/// The domain-level view of discovery.
pub(super) struct Discovery<'v, 'a> {
    pub(super) domain: &'v str,
    pub(super) tried: &'v [String],
    pub(super) ignored: &'v [String],
    pub(super) probe_name: &'v str,
    pub(super) probe: &'a Answer,
    pub(super) looked: &'v [Selector<'a>],
    pub(super) summaries: &'v [KeySummary<'v>],
    pub(super) failed: &'v [(String, String)],
    pub(super) parked: bool,
}

impl Discovery<'_, '_> {
    pub(super) fn with_evidence(&self, f: RawFinding) -> RawFinding {
        let f = f
            .evidence("selectors_tried", self.tried)
            .evidence("domainkey_probe", probe_state(self.probe))
            .evidence("keys", self.summaries);
        // TXT records at selector names that are not DKIM keys: usually a
        // wildcard TXT record answering for every name.
        let other: Vec<String> = self
            .looked
            .iter()
            .flat_map(|s| s.other_txt.iter().map(move |t| format!("{}: {t}", s.name)))
            .collect();
        let f = if other.is_empty() {
            f
        } else {
            f.evidence("non_dkim_txt", other)
        };
        if self.ignored.is_empty() {
            f
        } else {
            f.evidence("selectors_ignored", self.ignored)
        }
    }

    pub(super) fn tried_text(&self) -> String {
        self.tried.join(", ")
    }

    /// `; selectors tried: a, b` after an NXDOMAIN at the probe name,
    /// which rules out every selector; nothing when none needed asking
    /// (never an empty list).
    pub(super) fn also_tried(&self) -> String {
        if self.tried.is_empty() {
            String::new()
        } else {
            format!("; selectors tried: {}", self.tried_text())
        }
    }

    /// RFC 6376 §3.6.2.1: "All DKIM keys are stored in a subdomain named
    /// "_domainkey"" — each at
    /// `<selector>._domainkey.<domain>`; without a key, receivers cannot
    /// verify any signature of the domain and DMARC can only align on SPF.
    pub(super) fn keys_found(&self) -> RawFinding {
        let usable: Vec<&KeySummary<'_>> = self.summaries.iter().filter(|k| k.usable).collect();
        let selectors_of = |keys: &[&KeySummary<'_>]| {
            keys.iter()
                .map(|k| k.selector)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(", ")
        };
        if !usable.is_empty() {
            return self.with_evidence(RawFinding::new(
                rule::DKIM_KEYS_FOUND,
                Outcome::Pass,
                self.domain,
                format!(
                    "Usable DKIM key(s) at selector(s) {} (of {} selectors tried).",
                    selectors_of(&usable),
                    self.tried.len()
                ),
            ));
        }
        if self.parked {
            return self.with_evidence(RawFinding::new(
                rule::DKIM_KEYS_FOUND,
                Outcome::NotApplicable,
                self.domain,
                "The domain is parked (declared with --parked, or it publishes a null MX): it sends no mail, so it needs no DKIM key.",
            ));
        }
        if !self.summaries.is_empty() {
            let all: Vec<&KeySummary<'_>> = self.summaries.iter().collect();
            return self
                .with_evidence(RawFinding::new(
                    rule::DKIM_KEYS_FOUND,
                    Outcome::Fail,
                    self.domain,
                    format!(
                        "DKIM key records exist at selector(s) {}, but none is usable (revoked, invalid or unusable; see the other dkim findings).",
                        selectors_of(&all)
                    ),
                ))
                .remediation(self.publish_remediation());
        }
        let missing_lookups: Vec<&str> = self
            .looked
            .iter()
            .filter(|s| !s.answer.status.is_definite())
            .map(|s| s.selector.as_str())
            .collect();
        if !missing_lookups.is_empty() {
            return self.with_evidence(RawFinding::new(
                rule::DKIM_KEYS_FOUND,
                Outcome::Indeterminate,
                self.domain,
                format!(
                    "No DKIM key found, but the lookups for selector(s) {} failed, so keys may exist there.",
                    missing_lookups.join(", ")
                ),
            ));
        }
        match &self.probe.status {
            Status::NxDomain => self
                .with_evidence(RawFinding::new(
                    rule::DKIM_KEYS_FOUND,
                    Outcome::Fail,
                    self.domain,
                    format!(
                        "No DKIM key: {} does not exist (NXDOMAIN), so no key exists under any selector (RFC 8020){}.",
                        self.probe_name,
                        self.also_tried()
                    ),
                ))
                .remediation(self.publish_remediation()),
            status if status.is_definite() => self.with_evidence(RawFinding::new(
                rule::DKIM_KEYS_FOUND,
                Outcome::Indeterminate,
                self.domain,
                format!(
                    "No DKIM key under the {} selectors tried ({}), but {} exists, so keys may be published under selectors not tried. Give the selector from the s= tag of a DKIM-Signature header of the domain's mail with --dkim-selector.",
                    self.tried.len(),
                    self.tried_text(),
                    self.probe_name
                ),
            )),
            status => self.with_evidence(RawFinding::new(
                rule::DKIM_KEYS_FOUND,
                Outcome::Indeterminate,
                self.domain,
                format!(
                    "No DKIM key under the selectors tried, and the {} probe failed ({}), so it is unknown whether keys exist under other selectors.",
                    self.probe_name,
                    status.describe()
                ),
            )),
        }
    }

    pub(super) fn publish_remediation(&self) -> String {
        format!(
            "Generate a 2048-bit RSA key pair (`openssl genrsa -out dkim.key 2048`; public part: `openssl rsa -in dkim.key -pubout -outform DER | base64 -w0`), configure your mail server or provider to sign with it, and publish `<selector>._domainkey.{d}. IN TXT \"v=DKIM1; k=rsa; p=<base64>\"` (split the value into strings of at most 255 characters).",
            d = self.domain
        )
    }

    /// RFC 8020 §2: "when a DNS resolver receives a response with a
    /// response code of NXDOMAIN, it means that the domain name which is
    /// thus denied AND ALL THE NAMES UNDER IT do not exist."
    pub(super) fn probe_finding(&self) -> RawFinding {
        let below: Vec<&str> = self
            .looked
            .iter()
            .filter(|s| s.exists())
            .map(|s| s.name.as_str())
            .collect();
        let f = match &self.probe.status {
            Status::NxDomain if !below.is_empty() => RawFinding::new(
                rule::DKIM_DOMAINKEY_PROBE,
                Outcome::Fail,
                self.domain,
                format!(
                    "{} answers NXDOMAIN although names exist below it ({}). Resolvers that apply RFC 8020 cache the NXDOMAIN and then fail to find these DKIM keys.",
                    self.probe_name,
                    below.join(", ")
                ),
            )
            .evidence("names_below", &below)
            .remediation(
                "Fix or replace the authoritative DNS software: an empty non-terminal such as _domainkey must be answered NOERROR with no data (NODATA), not NXDOMAIN.",
            ),
            Status::NxDomain => RawFinding::new(
                rule::DKIM_DOMAINKEY_PROBE,
                Outcome::Pass,
                self.domain,
                format!(
                    "{} does not exist (NXDOMAIN): by RFC 8020 no DKIM key exists under any selector{}.",
                    self.probe_name,
                    self.also_tried()
                ),
            ),
            Status::NoData | Status::Records => RawFinding::new(
                rule::DKIM_DOMAINKEY_PROBE,
                Outcome::Pass,
                self.domain,
                format!(
                    "{} exists: names exist below it, so DKIM keys may be published under selectors other than the {} tried.",
                    self.probe_name,
                    self.tried.len()
                ),
            ),
            other => RawFinding::new(
                rule::DKIM_DOMAINKEY_PROBE,
                Outcome::Indeterminate,
                self.domain,
                format!("Could not look up {}: {}", self.probe_name, other.describe()),
            ),
        };
        f.evidence("selectors_tried", self.tried)
            .evidence("domainkey_probe", probe_state(self.probe))
    }

    pub(super) fn lookup_failed(&self) -> RawFinding {
        let asked = match self.tried.len() {
            0 => self.probe_name.to_string(),
            n => format!("{n} selectors and {}", self.probe_name),
        };
        let list: Vec<String> = self.failed.iter().map(|(n, why)| format!("{n}/TXT {why}")).collect();
        crate::unlooked::lookup_failed(
            (rule::DKIM_LOOKUP_FAILED, self.domain),
            &format!("Every DKIM lookup was answered ({asked})."),
            &list,
            counted("DKIM lookup(s)", "the DKIM checks that need them are indeterminate"),
            ("failed_lookups", &list),
        )
    }
}
