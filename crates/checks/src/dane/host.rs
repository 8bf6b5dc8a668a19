//! One MX host's TLSA RRset as the evidence shows it, and the rules read
//! from the records themselves (`dane.tlsa-present`, `dane.insecure`,
//! `dane.bogus`, `dane.syntax`, `dane.usage`, `dane.full-certificate`,
//! `dane.rollover`); `dane.match` against the probed chains is in
//! `matching`.

pub(super) mod matching;

use mailwarden_model::dns::Tlsa;
use mailwarden_model::{Answer, Outcome, Proof, RData, RawFinding, Severity, Status};

use super::{Addressed, RULES, Rrset, tlsa_name};
use crate::Context;
use crate::rule;

/// One TLSA record as received and as parsed.
struct Parsed {
    text: String,
    record: Result<Tlsa, String>,
}

pub(super) struct Host<'a> {
    domain: String,
    name: String,
    owner: String,
    answer: &'a Answer,
    validated: bool,
    records: Vec<Parsed>,
}

impl<'a> Host<'a> {
    pub(super) fn new(ctx: &Context<'_>, domain: &str, host: &str, answer: &'a Answer) -> Self {
        let records = answer
            .records
            .iter()
            .filter_map(|rd| match rd {
                RData::Tlsa(t) => Some(Parsed {
                    text: t.to_string(),
                    record: Ok(t.clone()),
                }),
                RData::Unparsed { rtype: 52, text, error } => Some(Parsed {
                    text: text.clone(),
                    record: Err(error.clone()),
                }),
                _ => None,
            })
            .collect();
        Self {
            domain: domain.to_string(),
            name: host.to_string(),
            owner: tlsa_name(host),
            answer,
            validated: ctx.source.dnssec_validation,
            records,
        }
    }

    fn bogus(&self) -> bool {
        matches!(self.answer.status, Status::Bogus(_)) || (self.validated && self.answer.proof == Proof::Bogus)
    }

    fn finding(&self, id: &str, outcome: Outcome, message: impl Into<String>) -> RawFinding {
        RawFinding::new(id, outcome, &self.name, message)
    }

    fn texts(&self) -> Vec<&str> {
        self.records.iter().map(|p| p.text.as_str()).collect()
    }

    /// The records that parsed, with their text as published.
    fn parsed(&self) -> Vec<(&str, &Tlsa)> {
        self.records
            .iter()
            .filter_map(|p| p.record.as_ref().ok().map(|t| (p.text.as_str(), t)))
            .collect()
    }

    fn usable(&self) -> Vec<&Tlsa> {
        self.records
            .iter()
            .filter_map(|p| p.record.as_ref().ok())
            .filter(|t| matches!(t.usage, 2 | 3) && t.unusable().is_none())
            .collect()
    }

    /// The RRset as a DANE sender sees it.
    pub(super) fn rrset(&self) -> Rrset {
        if self.bogus() {
            return Rrset::Bogus(format!(
                "the TLSA answer for {} is bogus ({})",
                self.owner,
                self.answer.status.describe()
            ));
        }
        if !self.answer.status.is_definite() {
            return Rrset::Unknown(format!(
                "could not look up {}/TLSA ({})",
                self.owner,
                self.answer.status.describe()
            ));
        }
        if self.records.is_empty() {
            return Rrset::NotInEffect(format!("no TLSA records at {}", self.owner));
        }
        if !self.validated {
            return Rrset::Unknown(format!(
                "DNSSEC was not validated in this scan, so whether senders use the TLSA records at {} is unknown",
                self.owner
            ));
        }
        match self.answer.proof {
            Proof::Secure if self.usable().is_empty() => {
                Rrset::NoUsable(format!("no usable DANE-TA(2) or DANE-EE(3) record at {}", self.owner))
            }
            Proof::Secure => Rrset::Usable(self.usable().into_iter().cloned().collect()),
            Proof::Insecure => Rrset::NotInEffect(format!(
                "the TLSA records at {} are not DNSSEC-secure, so senders ignore them",
                self.owner
            )),
            Proof::Indeterminate | Proof::Bogus | Proof::NotValidated => {
                Rrset::Unknown(format!("the DNSSEC status of {} could not be determined", self.owner))
            }
        }
    }

    /// What [`Self::judge`] reads, building no findings: what matching
    /// reads, for an answer that is neither bogus nor a failed lookup.
    pub(super) fn reads(&self, addressed: &Addressed<'_, '_, '_, '_>) {
        if !self.bogus() && self.answer.status.is_definite() {
            self.matching_reads(addressed);
        }
    }

    pub(super) fn judge(&self, addressed: &Addressed<'_, '_, '_, '_>) -> Vec<RawFinding> {
        if self.bogus() {
            let why = self.answer.status.describe();
            let mut out = vec![
                self.finding(
                    rule::DANE_BOGUS,
                    Outcome::Fail,
                    format!(
                        "The TLSA answer for {} fails DNSSEC validation (bogus): DANE-validating senders defer all mail to {} until it validates ({why}).",
                        self.owner, self.name
                    ),
                )
                .evidence("status", &why)
                .evidence("proof", self.answer.proof)
                .severity(Severity::Critical)
                .remediation(format!(
                    "Repair the DNSSEC signatures of the zone of {} (expired or missing RRSIGs, a DS that matches no DNSKEY), or withdraw the DS record to make the zone insecure while fixing it.",
                    self.owner
                )),
                self.finding(
                    rule::DANE_INSECURE,
                    Outcome::NotApplicable,
                    "The TLSA answer is bogus (see dane.bogus).",
                ),
            ];
            for id in RULES
                .iter()
                .filter(|id| !matches!(**id, rule::DANE_BOGUS | rule::DANE_INSECURE))
            {
                out.push(self.finding(
                    id,
                    Outcome::Indeterminate,
                    format!(
                        "The TLSA answer for {} is bogus, so its records cannot be read.",
                        self.owner
                    ),
                ));
            }
            return out;
        }
        if !self.answer.status.is_definite() {
            let why = format!("{}/TLSA {}", self.owner, self.answer.status.describe());
            return RULES
                .iter()
                .map(|id| {
                    self.finding(id, Outcome::Indeterminate, format!("Could not look up {why}."))
                        .evidence("failed_lookups", [&why])
                })
                .collect();
        }
        vec![
            self.present(),
            self.insecure(),
            self.not_bogus(),
            self.syntax(),
            self.usage(),
            self.full_certificate(),
            self.rollover(),
            self.matching(addressed),
        ]
    }

    /// RFC 7672 §2.2: DANE applies to an MX host that publishes TLSA
    /// records at `_25._tcp.<host>` in a signed zone.
    fn present(&self) -> RawFinding {
        const ID: &str = rule::DANE_TLSA_PRESENT;
        if !self.records.is_empty() {
            return self
                .finding(
                    ID,
                    Outcome::Pass,
                    format!("{} publishes {} TLSA record(s).", self.owner, self.records.len()),
                )
                .evidence("records", self.texts());
        }
        let unsigned = self.validated && self.answer.proof == Proof::Insecure;
        let mut f = self.finding(
            ID,
            Outcome::Fail,
            if unsigned {
                format!(
                    "No TLSA records at {}, and its zone is not DNSSEC-signed (insecure): {} cannot use DANE until the zone is signed.",
                    self.owner, self.name
                )
            } else {
                format!(
                    "No TLSA records at {}: DANE does not protect mail to {}.",
                    self.owner, self.name
                )
            },
        )
        .evidence("status", self.answer.status.describe());
        if unsigned {
            f = f.severity(Severity::Info).remediation(format!(
                "Sign the zone of {} with DNSSEC and publish its DS at the parent; then publish `{}. IN TLSA 3 1 1 <SHA-256 of the server's public key>` (`mailwarden generate tlsa` writes it).",
                self.name, self.owner
            ));
        } else {
            f = f.remediation(format!(
                "Publish `{}. IN TLSA 3 1 1 <SHA-256 of the SubjectPublicKeyInfo of the certificate on port 25>` (`mailwarden generate tlsa {} --host {} --cert FILE` writes it), plus a second record for the next key.",
                self.owner, self.domain, self.name
            ));
        }
        f
    }

    /// RFC 7672 §2.2: "TLSA records ... MUST be DNSSEC validated", and an
    /// insecure TLSA RRset (or an insecure denial) leaves DANE out of effect.
    fn insecure(&self) -> RawFinding {
        const ID: &str = rule::DANE_INSECURE;
        if !self.validated {
            return self.finding(
                ID,
                Outcome::NotApplicable,
                "DNSSEC was not validated in this scan (zone-file input or --no-dnssec).",
            );
        }
        match self.answer.proof {
            Proof::Secure => self.finding(
                ID,
                Outcome::Pass,
                format!("The TLSA answer for {} is DNSSEC-secure.", self.owner),
            ),
            Proof::Insecure => {
                let msg = if self.records.is_empty() {
                    format!(
                        "{} is in an unsigned zone (or one without a DS at the parent): it cannot use DANE.",
                        self.name
                    )
                } else {
                    format!(
                        "{} publishes TLSA records, but they are not DNSSEC-secure, so senders ignore them: DANE is not in effect.",
                        self.owner
                    )
                };
                self.finding(ID, Outcome::Fail, msg)
                    .evidence("proof", self.answer.proof)
                    .remediation(format!(
                        "Sign the zone that holds {} with DNSSEC and publish its DS record at the parent (check with `mailwarden scan` that dnssec.chain passes); the TLSA records take effect once they validate.",
                        self.owner
                    ))
            }
            Proof::Indeterminate => self.finding(
                ID,
                Outcome::Indeterminate,
                format!("The DNSSEC status of {} could not be determined.", self.owner),
            ),
            Proof::Bogus | Proof::NotValidated => self.finding(
                ID,
                Outcome::NotApplicable,
                format!("No DNSSEC proof was recorded for {}.", self.owner),
            ),
        }
    }

    fn not_bogus(&self) -> RawFinding {
        const ID: &str = rule::DANE_BOGUS;
        if !self.validated {
            return self.finding(
                ID,
                Outcome::NotApplicable,
                "DNSSEC was not validated in this scan (zone-file input or --no-dnssec).",
            );
        }
        match self.answer.proof {
            Proof::Indeterminate => self.finding(
                ID,
                Outcome::Indeterminate,
                format!("The DNSSEC status of {} could not be determined.", self.owner),
            ),
            _ => self.finding(
                ID,
                Outcome::Pass,
                format!("The TLSA answer for {} is not bogus.", self.owner),
            ),
        }
    }

    /// Malformed records, and records no client can use (RFC 7671 §4:
    /// unknown parameters make a record unusable; a digest of the wrong
    /// length never matches).
    fn syntax(&self) -> RawFinding {
        const ID: &str = rule::DANE_SYNTAX;
        if self.records.is_empty() {
            return self.finding(ID, Outcome::NotApplicable, "No TLSA records.");
        }
        let bad: Vec<String> = self
            .records
            .iter()
            .filter_map(|p| match &p.record {
                Err(why) => Some(format!("`{}`: {why}", p.text)),
                Ok(t) => t.unusable().map(|why| format!("`{}`: {why}", p.text)),
            })
            .collect();
        if bad.is_empty() {
            return self.finding(
                ID,
                Outcome::Pass,
                format!("Every TLSA record at {} is well-formed.", self.owner),
            );
        }
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "{} TLSA record(s) at {} are malformed or unusable, and senders ignore them: {}",
                bad.len(),
                self.owner,
                bad.join("; ")
            ),
        )
        .evidence("problems", &bad)
        .evidence("records", self.texts())
        .remediation(format!(
            "Replace them with well-formed records, e.g. `{}. IN TLSA 3 1 1 <64 hex digits: SHA-256 of the SubjectPublicKeyInfo>`.",
            self.owner
        ))
    }

    /// RFC 7672 §3.1.3: SMTP client treatment of the PKIX-TA(0) and
    /// PKIX-EE(1) usages is undefined (clients may treat them as unusable),
    /// so SMTP servers should not publish them (paraphrased).
    fn usage(&self) -> RawFinding {
        const ID: &str = rule::DANE_USAGE;
        let parsed = self.parsed();
        if parsed.is_empty() {
            return self.finding(ID, Outcome::NotApplicable, "No TLSA records to check.");
        }
        let pkix: Vec<String> = parsed
            .iter()
            .filter(|(_, t)| t.usage <= 1)
            .map(|(text, t)| format!("`{text}` ({})", t.usage_name()))
            .collect();
        if pkix.is_empty() {
            return self.finding(
                ID,
                Outcome::Pass,
                format!(
                    "The TLSA records at {} use DANE-TA(2) or DANE-EE(3), as RFC 7672 recommends for SMTP.",
                    self.owner
                ),
            );
        }
        let only_pkix = pkix.len() == parsed.len();
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "{} uses certificate usages that are not for SMTP (RFC 7672 §3.1.3): {}.{}",
                self.owner,
                pkix.join(", "),
                if only_pkix {
                    " With no DANE-TA(2) or DANE-EE(3) record, DANE senders have nothing usable to authenticate the server with."
                } else {
                    ""
                }
            ),
        )
        .evidence("records", self.texts())
        .remediation(format!(
            "Replace the PKIX-TA(0)/PKIX-EE(1) records with DANE-EE: `{}. IN TLSA 3 1 1 <SHA-256 of the server's SubjectPublicKeyInfo>` (or DANE-TA `2 1 1` for the issuing CA's key).",
            self.owner
        ))
    }

    /// Matching type Full(0) (RFC 6698 §2.1.3) is discouraged by the DANE
    /// operational guidance (RFC 7671): the records are large (truncation,
    /// TCP fallback), and a renewal without a key change breaks `x 0 0`.
    fn full_certificate(&self) -> RawFinding {
        const ID: &str = rule::DANE_FULL_CERTIFICATE;
        let parsed = self.parsed();
        if parsed.is_empty() {
            return self.finding(ID, Outcome::NotApplicable, "No TLSA records to check.");
        }
        let full: Vec<String> = parsed
            .iter()
            .filter(|(_, t)| t.matching_type == 0)
            .map(|(_, t)| format!("{} ({} octets)", t.params(), t.data.len()))
            .collect();
        if full.is_empty() {
            return self.finding(
                ID,
                Outcome::Pass,
                format!("The TLSA records at {} publish digests.", self.owner),
            );
        }
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "{} publishes the full certificate or key (matching type 0): {}. Digests are recommended: smaller answers, and no change needed while the key stays the same.",
                self.owner,
                full.join(", ")
            ),
        )
        .remediation(format!(
            "Publish the SHA-256 digest instead: `{}. IN TLSA 3 1 1 <SHA-256 of the SubjectPublicKeyInfo>`.",
            self.owner
        ))
    }

    /// RFC 7671 §8.1 and RFC 7672 §3.1: publish the next key's record
    /// before switching keys, e.g. two `3 x x` records, or `3 x x` with
    /// `2 x x` for the issuer.
    fn rollover(&self) -> RawFinding {
        const ID: &str = rule::DANE_ROLLOVER;
        let usable = self.usable();
        if usable.is_empty() {
            return self.finding(ID, Outcome::NotApplicable, "No usable DANE-TA or DANE-EE record.");
        }
        let ee = usable.iter().filter(|t| t.usage == 3).count();
        let ta = usable.iter().filter(|t| t.usage == 2).count();
        if usable.len() >= 2 {
            return self.finding(
                ID,
                Outcome::Pass,
                format!(
                    "{} has {} usable records ({ee} DANE-EE, {ta} DANE-TA): a key can be replaced without an outage.",
                    self.owner,
                    usable.len()
                ),
            );
        }
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "{} has a single usable TLSA record ({}): when the server's key or certificate changes before a record for the new one is published and has propagated, DANE senders defer mail.",
                self.owner,
                usable[0].params()
            ),
        )
        .remediation(format!(
            "Publish a second record before any change: a `3 1 1` record for the next key (generated ahead of time), or a `2 1 1` record for the issuing CA's key, next to the current one at {}.",
            self.owner
        ))
    }
}
