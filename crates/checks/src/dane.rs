//! DANE for SMTP (RFC 6698, RFC 7671, RFC 7672): the TLSA records at
//! `_25._tcp.<mx>` for every MX host of the domain.
//!
//! Pure over a [`DnsView`]: asks MX at the domain and TLSA at
//! `_25._tcp.<host>` for each MX host. Subjects are the MX hosts. Two kinds
//! of rule:
//!
//! - **proof-based** (`dane.insecure`, `dane.bogus`): RFC 7672 §2.2 has
//!   senders use TLSA records only when the RRset is DNSSEC-secure; they
//!   need validated answers and are not-applicable otherwise (zone files,
//!   `--no-dnssec`);
//! - **data-based** (`dane.tlsa-present`, `dane.syntax`, `dane.usage`,
//!   `dane.full-certificate`, `dane.rollover`): they read the records, so
//!   they also run on zone files.
//!
//! Not done yet: matching the records against the certificate chain the MX
//! presents needs the STARTTLS probe. Until it exists `dane.match` is
//! indeterminate whenever usable TLSA records exist, never pass or fail.

use mailwarden_model::{Answer, DnsView, Finding, Outcome, Proof, RData, RType, Severity, Status};
use mailwarden_records::tlsa::{self, Tlsa};

use crate::Context;

/// The MX hosts of `domain` (null MX and IP literals left out), or why
/// they could not be looked up.
pub(crate) fn mx_hosts(domain: &str, view: &DnsView<'_>) -> Result<Vec<String>, String> {
    let mx = view.get(domain, RType::Mx);
    if !mx.status.is_definite() {
        return Err(format!("{domain}/MX {}", mx.status.describe()));
    }
    let mut hosts: Vec<String> = Vec::new();
    for rd in &mx.records {
        if let RData::Mx { exchange, .. } = rd {
            let host = mailwarden_model::name::normalise(exchange);
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            if !host.is_empty() && bare.parse::<std::net::IpAddr>().is_err() && !hosts.contains(&host) {
                hosts.push(host);
            }
        }
    }
    Ok(hosts)
}

/// The TLSA owner name for SMTP on port 25 (RFC 7672 §2.2.3).
pub fn tlsa_name(host: &str) -> String {
    format!("_25._tcp.{host}")
}

/// Whether any MX host publishes TLSA records: `Ok(true)` when one does,
/// `Err` when a lookup failed and none was found.
pub(crate) fn in_use(domain: &str, view: &DnsView<'_>) -> Result<bool, String> {
    let hosts = mx_hosts(domain, view)?;
    let mut failed = None;
    for host in hosts {
        let answer = view.get(&tlsa_name(&host), RType::Tlsa);
        if answer.status == Status::Records {
            return Ok(true);
        }
        if !answer.status.is_definite() && failed.is_none() {
            failed = Some(format!("{}/TLSA {}", tlsa_name(&host), answer.status.describe()));
        }
    }
    failed.map_or(Ok(false), Err)
}

const RULES: [&str; 8] = [
    "dane.tlsa-present",
    "dane.insecure",
    "dane.bogus",
    "dane.syntax",
    "dane.usage",
    "dane.full-certificate",
    "dane.rollover",
    "dane.match",
];

/// Judge the DANE TLSA records of every MX host of `ctx.domain`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<Finding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let hosts = match mx_hosts(&domain, view) {
        Ok(h) => h,
        Err(why) => {
            return vec![
                Finding::new(
                    "dane.tlsa-present",
                    Outcome::Indeterminate,
                    &domain,
                    format!("Could not look up the MX hosts: {why}."),
                )
                .evidence("failed_lookups", [&why]),
            ];
        }
    };
    if hosts.is_empty() {
        return vec![Finding::new(
            "dane.tlsa-present",
            Outcome::NotApplicable,
            &domain,
            "The domain has no MX hosts, so there is no SMTP server for DANE to protect.",
        )];
    }
    let mut out = Vec::new();
    for host in hosts {
        let answer = view.get(&tlsa_name(&host), RType::Tlsa);
        out.extend(Host::new(ctx, &domain, &host, answer).judge());
    }
    out
}

/// One TLSA record as received and as parsed.
struct Parsed {
    text: String,
    record: Result<Tlsa, String>,
}

struct Host<'a> {
    domain: String,
    name: String,
    owner: String,
    answer: &'a Answer,
    validated: bool,
    records: Vec<Parsed>,
}

impl<'a> Host<'a> {
    fn new(ctx: &Context<'_>, domain: &str, host: &str, answer: &'a Answer) -> Self {
        let records = answer
            .records
            .iter()
            .filter_map(|rd| match rd {
                RData::Other { rtype: 52, text } => Some(Parsed {
                    text: text.clone(),
                    record: tlsa::parse(text),
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

    fn finding(&self, id: &str, outcome: Outcome, message: impl Into<String>) -> Finding {
        Finding::new(id, outcome, &self.name, message)
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

    fn judge(&self) -> Vec<Finding> {
        if self.bogus() {
            let why = self.answer.status.describe();
            let mut out = vec![
                self.finding(
                    "dane.bogus",
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
                    "dane.insecure",
                    Outcome::NotApplicable,
                    "The TLSA answer is bogus (see dane.bogus).",
                ),
            ];
            for id in RULES
                .iter()
                .filter(|id| !matches!(**id, "dane.bogus" | "dane.insecure"))
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
            self.matching(),
        ]
    }

    /// RFC 7672 §2.2: DANE applies to an MX host that publishes TLSA
    /// records at `_25._tcp.<host>` in a signed zone.
    fn present(&self) -> Finding {
        const ID: &str = "dane.tlsa-present";
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
    fn insecure(&self) -> Finding {
        const ID: &str = "dane.insecure";
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

    fn not_bogus(&self) -> Finding {
        const ID: &str = "dane.bogus";
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
    fn syntax(&self) -> Finding {
        const ID: &str = "dane.syntax";
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
    fn usage(&self) -> Finding {
        const ID: &str = "dane.usage";
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
    fn full_certificate(&self) -> Finding {
        const ID: &str = "dane.full-certificate";
        let parsed = self.parsed();
        if parsed.is_empty() {
            return self.finding(ID, Outcome::NotApplicable, "No TLSA records to check.");
        }
        let full: Vec<String> = parsed
            .iter()
            .filter(|(_, t)| t.matching_type == 0)
            .map(|(_, t)| format!("{} ({} octets)", t.params(), t.data.len() / 2))
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
    fn rollover(&self) -> Finding {
        const ID: &str = "dane.rollover";
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

    /// Matching the records against the chain the server presents needs
    /// the STARTTLS probe, which does not exist yet.
    fn matching(&self) -> Finding {
        const ID: &str = "dane.match";
        if self.usable().is_empty() {
            return self.finding(
                ID,
                Outcome::NotApplicable,
                format!("No usable DANE-TA or DANE-EE record at {} to match.", self.owner),
            );
        }
        if self.validated && self.answer.proof == Proof::Insecure {
            return self.finding(
                ID,
                Outcome::NotApplicable,
                format!(
                    "The TLSA records at {} are not DNSSEC-secure, so senders do not use them (see dane.insecure).",
                    self.owner
                ),
            );
        }
        self.finding(
            ID,
            Outcome::Indeterminate,
            format!(
                "Usable TLSA records exist at {}, but they were not matched against the certificate chain {} presents: that needs the STARTTLS probe, which is not implemented yet.",
                self.owner, self.name
            ),
        )
        .evidence("records", self.texts())
    }
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{
        Answer, Finding, Outcome::*, Proof, QueryKey, RData, RType, ScanOptions, SourceInfo, Status,
    };

    use super::*;
    use crate::testutil::{Dns, find, outcome};

    const D: &str = "example.com";
    const MX: &str = "mx.example.com";
    const T: &str = "_25._tcp.mx.example.com";
    const H: &str = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1";
    const H2: &str = "0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6";

    fn run_with(dns: &Dns, validated: bool) -> Vec<Finding> {
        let options = ScanOptions::default();
        let source = SourceInfo {
            dnssec_validation: validated,
            ..SourceInfo::default()
        };
        let ctx = Context {
            roots: &crate::tls::cert::Roots::WebPki,
            domain: D,
            options: &options,
            source: &source,
            now: 0,
        };
        dns.judge(|v| judge(&ctx, v))
    }

    fn run(dns: &Dns) -> Vec<Finding> {
        run_with(dns, true)
    }

    fn tlsa(records: &[String], proof: Proof) -> Dns {
        let rdata = records
            .iter()
            .map(|t| RData::Other {
                rtype: 52,
                text: t.clone(),
            })
            .collect();
        Dns::new().mx(D, &[(10, MX)]).rec(T, RType::Tlsa, rdata, proof)
    }

    fn negative(status: Status, proof: Proof) -> Dns {
        let mut dns = Dns::new().mx(D, &[(10, MX)]);
        dns.0
            .insert(QueryKey::new(T, RType::Tlsa), Answer::empty(status, proof));
        dns
    }

    #[test]
    fn secure_rollover_ready_records_pass_and_matching_is_indeterminate() {
        let f = run(&tlsa(&[format!("3 1 1 {H}"), format!("3 1 1 {H2}")], Proof::Secure));
        for id in [
            "dane.tlsa-present",
            "dane.insecure",
            "dane.bogus",
            "dane.syntax",
            "dane.usage",
            "dane.full-certificate",
            "dane.rollover",
        ] {
            assert_eq!(outcome(&f, id, MX), Pass, "{id}: {f:#?}");
        }
        let m = find(&f, "dane.match", MX);
        assert_eq!(m.outcome, Indeterminate);
        assert!(m.message.contains("STARTTLS probe"), "{}", m.message);
        // 3 x x plus 2 x x is rollover-ready too.
        let f = run(&tlsa(&[format!("3 1 1 {H}"), format!("2 1 1 {H2}")], Proof::Secure));
        assert_eq!(outcome(&f, "dane.rollover", MX), Pass);
    }

    #[test]
    fn a_single_record_is_not_rollover_ready() {
        let f = run(&tlsa(&[format!("3 1 1 {H}")], Proof::Secure));
        let r = find(&f, "dane.rollover", MX);
        assert_eq!(r.outcome, Fail);
        assert!(r.remediation.as_deref().unwrap().contains("second record"));
    }

    #[test]
    fn insecure_records_are_not_in_effect() {
        let f = run(&tlsa(&[format!("3 1 1 {H}")], Proof::Insecure));
        let i = find(&f, "dane.insecure", MX);
        assert_eq!(i.outcome, Fail);
        assert!(i.message.contains("not in effect"));
        assert!(i.remediation.as_deref().unwrap().contains("Sign the zone"));
        assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
        assert_eq!(outcome(&f, "dane.tlsa-present", MX), Pass);
    }

    #[test]
    fn an_unsigned_mx_zone_cannot_use_dane() {
        let f = run(&negative(Status::NxDomain, Proof::Insecure));
        let p = find(&f, "dane.tlsa-present", MX);
        assert_eq!((p.outcome, p.severity), (Fail, mailwarden_model::Severity::Info));
        assert!(p.remediation.as_deref().unwrap().contains("Sign the zone"));
        let i = find(&f, "dane.insecure", MX);
        assert_eq!(i.outcome, Fail);
        assert!(i.message.contains("cannot use DANE"));
        for id in ["dane.syntax", "dane.usage", "dane.rollover", "dane.match"] {
            assert_eq!(outcome(&f, id, MX), NotApplicable, "{id}");
        }
        // Signed, but no records: a plain miss.
        let f = run(&negative(Status::NoData, Proof::Secure));
        let p = find(&f, "dane.tlsa-present", MX);
        assert_eq!(p.outcome, Fail);
        assert!(p.remediation.as_deref().unwrap().contains("generate tlsa"));
        assert_eq!(outcome(&f, "dane.insecure", MX), Pass);
    }

    #[test]
    fn bogus_tlsa_is_critical() {
        for dns in [
            negative(Status::Bogus("RRSIG expired".into()), Proof::Bogus),
            tlsa(&[format!("3 1 1 {H}")], Proof::Bogus),
        ] {
            let f = run(&dns);
            let b = find(&f, "dane.bogus", MX);
            assert_eq!((b.outcome, b.severity), (Fail, mailwarden_model::Severity::Critical));
            assert!(b.message.contains("defer"));
            assert_eq!(outcome(&f, "dane.match", MX), Indeterminate);
            assert_eq!(outcome(&f, "dane.tlsa-present", MX), Indeterminate);
        }
    }

    #[test]
    fn pkix_usages_are_flagged() {
        for usage in [0, 1] {
            let f = run(&tlsa(&[format!("{usage} 0 1 {H}")], Proof::Secure));
            let u = find(&f, "dane.usage", MX);
            assert_eq!(u.outcome, Fail, "{usage}");
            assert!(u.message.contains("RFC 7672"));
            assert!(u.remediation.as_deref().unwrap().contains("3 1 1"));
            // Nothing usable: rollover and matching do not apply.
            assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
        }
    }

    #[test]
    fn malformed_and_full_certificate_records() {
        let f = run(&tlsa(&["3 1 1 abcd".into(), "3 1 x 00".into()], Proof::Secure));
        let s = find(&f, "dane.syntax", MX);
        assert_eq!(s.outcome, Fail);
        assert_eq!(s.evidence["problems"].as_array().unwrap().len(), 2);
        let f = run(&tlsa(&[format!("3 1 0 3059{H}"), format!("3 1 1 {H}")], Proof::Secure));
        assert_eq!(outcome(&f, "dane.full-certificate", MX), Fail);
        assert_eq!(outcome(&f, "dane.syntax", MX), Pass);
    }

    #[test]
    fn failed_lookups_are_indeterminate() {
        let f = run(&negative(Status::Timeout, Proof::Indeterminate));
        for id in RULES {
            assert_eq!(outcome(&f, id, MX), Indeterminate, "{id}");
        }
        let f = run(&Dns::new().status(D, RType::Mx, Status::ServFail));
        assert_eq!(outcome(&f, "dane.tlsa-present", D), Indeterminate);
        assert_eq!(f.len(), 1);
    }

    #[test]
    fn no_mx_or_null_mx_is_not_applicable() {
        let f = run(&Dns::new().mx(D, &[(0, ".")]));
        assert_eq!(outcome(&f, "dane.tlsa-present", D), NotApplicable);
        let f = run(&Dns::new().status(D, RType::Mx, Status::NoData));
        assert_eq!(outcome(&f, "dane.tlsa-present", D), NotApplicable);
    }

    #[test]
    fn without_validation_proof_rules_are_not_applicable_but_data_rules_run() {
        let f = run_with(&tlsa(&[format!("1 1 1 {H}")], Proof::NotValidated), false);
        assert_eq!(outcome(&f, "dane.insecure", MX), NotApplicable);
        assert_eq!(outcome(&f, "dane.bogus", MX), NotApplicable);
        assert_eq!(outcome(&f, "dane.usage", MX), Fail);
        let f = run_with(&tlsa(&[format!("3 1 1 {H}")], Proof::NotValidated), false);
        assert_eq!(outcome(&f, "dane.match", MX), Indeterminate);
        assert_eq!(outcome(&f, "dane.rollover", MX), Fail);
    }
}
