//! DANE for SMTP (RFC 6698, RFC 7671, RFC 7672): the TLSA records at
//! `_25._tcp.<mx>` for every MX host of the domain, and whether they match
//! the certificate chain each address of the host presents.
//!
//! Pure over a [`DnsView`]: asks MX at the domain and TLSA at
//! `_25._tcp.<host>` for each MX host; only for a host with usable,
//! DNSSEC-secure records does it also ask the MX hosts' addresses and the
//! STARTTLS probe of each address of that host. Subjects are the MX hosts.
//! Three kinds of rule:
//!
//! - **proof-based** (`dane.insecure`, `dane.bogus`): RFC 7672 §2.2 has
//!   senders use TLSA records only when the RRset is DNSSEC-secure; they
//!   need validated answers and are not-applicable otherwise (zone files,
//!   `--no-dnssec`);
//! - **data-based** (`dane.tlsa-present`, `dane.syntax`, `dane.usage`,
//!   `dane.full-certificate`, `dane.rollover`): they read the records, so
//!   they also run on zone files;
//! - **probe-based** (`dane.match`): the usable records of a secure RRset
//!   against the chain each probed address presented
//!   ([`crate::tls::dane::match_tlsa`]). Without validation it is
//!   indeterminate: whether senders use the records is unknown.
//!
//! `host_dane` gives the same verdict to the failover-parity judge.

use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::net::IpAddr;

use mailwarden_model::{Answer, DnsView, Finding, Outcome, Proof, RData, RType, Severity, Status};
use mailwarden_records::tlsa::{self, Tlsa};

use crate::Context;
use crate::tls::dane::{DaneVerdict, match_tlsa};
use crate::transport::{self, AddressTls, MxHost};

/// The MX host names of `domain`, or why they could not be looked up.
pub(crate) fn mx_hosts(domain: &str, view: &DnsView<'_>) -> Result<Vec<String>, String> {
    Ok(transport::mx_exchanges(domain, view)?
        .into_iter()
        .map(|(_, h)| h)
        .collect())
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
    let addressed = Addressed {
        ctx,
        domain: &domain,
        view,
        hosts: OnceCell::new(),
    };
    let mut out = Vec::new();
    for host in hosts {
        let answer = view.get(&tlsa_name(&host), RType::Tlsa);
        out.extend(Host::new(ctx, &domain, &host, answer).judge(&addressed));
    }
    out
}

/// The MX hosts with their addresses ([`transport::mx_hosts`]), looked up
/// the first time a host has records to match: a domain without usable
/// DANE records asks no address and no probe on DANE's account.
struct Addressed<'c, 'v> {
    ctx: &'c Context<'c>,
    domain: &'c str,
    view: &'c DnsView<'v>,
    hosts: OnceCell<Result<Vec<MxHost>, String>>,
}

impl Addressed<'_, '_> {
    fn host(&self, name: &str) -> Result<&MxHost, String> {
        let hosts = self
            .hosts
            .get_or_init(|| transport::mx_hosts(self.ctx, self.domain, self.view));
        match hosts {
            Ok(hosts) => hosts
                .iter()
                .find(|h| h.name == name)
                .ok_or_else(|| format!("{name} is no longer among the MX hosts of {}", self.domain)),
            Err(why) => Err(why.clone()),
        }
    }
}

/// What a DANE sender makes of the TLSA RRset of one MX host
/// (RFC 7672 §2.2).
#[derive(Debug, Clone)]
enum Rrset {
    /// No records, or records that are not DNSSEC-secure: DANE is not in
    /// effect for the host (why).
    NotInEffect(String),
    /// Secure records, none usable: DANE authenticates nothing (why).
    NoUsable(String),
    /// Secure records, these usable (DANE-TA or DANE-EE, well-formed).
    Usable(Vec<Tlsa>),
    /// The answer is bogus: DANE senders defer all mail (why).
    Bogus(String),
    /// Could not tell: the lookup failed, or DNSSEC was not validated or
    /// its status is unknown (why).
    Unknown(String),
}

/// How a DANE sender fares at one address of a host with usable records.
#[derive(Debug, Clone, PartialEq, Eq)]
enum AddressDane {
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
    fn verdict(&self) -> Option<bool> {
        match self {
            AddressDane::Matched(_) => Some(true),
            AddressDane::NoMatch { .. } | AddressDane::NoTls(_) => Some(false),
            AddressDane::Unknown(_) => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            AddressDane::Matched(how) => how.clone(),
            AddressDane::NoMatch { why, .. } => why.clone(),
            AddressDane::NoTls(probe) => format!("no TLS ({probe})"),
            AddressDane::Unknown(why) => format!("not matched: {why}"),
        }
    }
}

/// Match `records` against the chain one address presented.
fn match_address(records: &[Tlsa], address: &AddressTls<'_>, now: i64) -> AddressDane {
    let probe = address.probe;
    match address.starttls() {
        Some(true) => {
            let chain = address.chain_der().unwrap_or_default();
            let result = match_tlsa(records, &chain, &address.host, now);
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
fn match_addresses(records: &[Tlsa], addresses: &[AddressTls<'_>], now: i64) -> Vec<(IpAddr, AddressDane)> {
    addresses
        .iter()
        .map(|a| (a.address, match_address(records, a, now)))
        .collect()
}

/// DANE at one MX host as the failover-parity judge compares it.
#[derive(Debug, Clone)]
pub(crate) struct HostDane {
    /// `Some(true)` when the host's TLSA records are secure and usable and
    /// every probed address presents a chain one of them matches;
    /// `Some(false)` when DANE does not authenticate the host (no records,
    /// insecure, none usable, or an address fails); `None` when unknown.
    pub authenticated: Option<bool>,
    /// Why, in words.
    pub detail: String,
}

/// DANE at `host`, whose probed `addresses` the caller already has (from
/// [`transport::probe_host`]). Asks TLSA at `_25._tcp.<host>`.
pub(crate) fn host_dane(
    ctx: &Context<'_>,
    view: &DnsView<'_>,
    host: &MxHost,
    addresses: &[AddressTls<'_>],
) -> HostDane {
    let answer = view.get(&tlsa_name(&host.name), RType::Tlsa);
    let records = match Host::new(ctx, "", &host.name, answer).rrset() {
        Rrset::Usable(records) => records,
        Rrset::NotInEffect(why) | Rrset::NoUsable(why) => {
            return HostDane {
                authenticated: Some(false),
                detail: why,
            };
        }
        Rrset::Bogus(why) | Rrset::Unknown(why) => {
            return HostDane {
                authenticated: None,
                detail: why,
            };
        }
    };
    let results = match_addresses(&records, addresses, ctx.now);
    let authenticated = transport::all_of(results.iter().map(|(_, r)| r.verdict()));
    let detail = if results.is_empty() {
        format!("{} has usable TLSA records, but no probed address", host.name)
    } else {
        results
            .iter()
            .map(|(ip, r)| format!("{} ({ip}): {}", host.name, r.describe()))
            .collect::<Vec<_>>()
            .join("; ")
    };
    HostDane { authenticated, detail }
}

/// A chain that DANE senders authenticate, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DaneAuthenticated {
    /// The usage of the matching record: 3 (DANE-EE) or 2 (DANE-TA).
    pub usage: u8,
    /// Which record matched which certificate, in words.
    pub summary: String,
}

/// Whether DANE senders authenticate `chain` (DER, leaf first) presented
/// by `host`: a usable record of its DNSSEC-secure TLSA RRset matches it
/// (for DANE-TA, the chain verifies to the matched CA). `None` when DANE
/// does not authenticate it: no records, not secure, not validated, bogus,
/// or no match. Asks TLSA at `_25._tcp.<host>`.
pub(crate) fn authenticates(
    ctx: &Context<'_>,
    view: &DnsView<'_>,
    host: &str,
    chain: &[Vec<u8>],
) -> Option<DaneAuthenticated> {
    let answer = view.get(&tlsa_name(host), RType::Tlsa);
    let Rrset::Usable(records) = Host::new(ctx, "", host, answer).rrset() else {
        return None;
    };
    let result = match_tlsa(&records, chain, host, ctx.now);
    let matched = result.matched?;
    Some(DaneAuthenticated {
        usage: records[matched].usage,
        summary: result.summary(),
    })
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

    /// The RRset as a DANE sender sees it.
    fn rrset(&self) -> Rrset {
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

    fn judge(&self, addressed: &Addressed<'_, '_>) -> Vec<Finding> {
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
            self.matching(addressed),
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
    fn matching(&self, addressed: &Addressed<'_, '_>) -> Finding {
        const ID: &str = "dane.match";
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
            Err(why) => return self.unmatched(format!("could not look up the MX hosts: {why}"), &why),
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
            Ok(_) => transport::probe_host(addressed.ctx, addressed.view, host),
            Err(why) => {
                return self.unmatched(format!("could not look up the addresses of {}: {why}", self.name), why);
            }
        };
        let results = match_addresses(&records, &addresses, addressed.ctx.now);
        self.match_finding(&results)
    }

    /// dane.match indeterminate because a lookup failed.
    fn unmatched(&self, message: String, failed: &str) -> Finding {
        self.finding(
            "dane.match",
            Outcome::Indeterminate,
            format!("The TLSA records at {} were not matched: {message}.", self.owner),
        )
        .evidence("failed_lookups", [failed])
        .evidence("records", self.texts())
    }

    /// dane.match from the per-address results.
    fn match_finding(&self, results: &[(IpAddr, AddressDane)]) -> Finding {
        const ID: &str = "dane.match";
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

#[cfg(test)]
mod tests {
    use mailwarden_model::{
        Answer, Finding, Outcome::*, Proof, QueryKey, RData, RType, ScanOptions, SmtpProbe, SmtpStatus, SourceInfo,
        Status,
    };

    use super::*;
    use crate::testutil::{Dns, find, outcome, tls_probe};
    use crate::tls::testcerts::{Ca, NOW, sha256_hex};

    const D: &str = "example.com";
    const MX: &str = "mx.example.com";
    const T: &str = "_25._tcp.mx.example.com";
    const H: &str = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1";
    const H2: &str = "0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6";
    const IP: &str = "192.0.2.25";
    const IP6: &str = "2001:db8::25";

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
            now: NOW,
        };
        dns.judge(|v| judge(&ctx, v))
    }

    /// The MX's address (and no IPv6), with this probe result.
    fn probed(dns: Dns, probe: SmtpProbe) -> Dns {
        dns.a(MX, &[IP]).aaaa(MX, &[]).smtp(MX, IP, probe)
    }

    /// The MX's address, which was not probed (`--no-smtp`).
    fn unprobed(dns: Dns) -> Dns {
        probed(dns, SmtpProbe::status(SmtpStatus::NotProbed, None))
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
    fn secure_rollover_ready_records_pass_and_unprobed_matching_is_indeterminate() {
        let f = run(&unprobed(tlsa(
            &[format!("3 1 1 {H}"), format!("3 1 1 {H2}")],
            Proof::Secure,
        )));
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
        assert!(m.message.contains("not probed"), "{}", m.message);
        assert!(m.evidence["addresses"][IP].as_str().unwrap().contains("not-probed"));
        // 3 x x plus 2 x x is rollover-ready too.
        let f = run(&unprobed(tlsa(
            &[format!("3 1 1 {H}"), format!("2 1 1 {H2}")],
            Proof::Secure,
        )));
        assert_eq!(outcome(&f, "dane.rollover", MX), Pass);
    }

    #[test]
    fn a_single_record_is_not_rollover_ready() {
        let f = run(&unprobed(tlsa(&[format!("3 1 1 {H}")], Proof::Secure)));
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
        let f = run(&unprobed(tlsa(
            &[format!("3 1 0 3059{H}"), format!("3 1 1 {H}")],
            Proof::Secure,
        )));
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

    /// A chain for MX from a fresh CA: (chain, SPKI SHA-256 of the leaf, CA).
    fn chain_for(name: &str) -> (Vec<Vec<u8>>, String, Ca) {
        let ca = Ca::new("DANE test CA");
        let leaf = ca.valid_leaf(&[name]);
        (vec![leaf.der, ca.der.clone()], sha256_hex(&leaf.spki), ca)
    }

    #[test]
    fn a_dane_ee_record_matching_every_address_passes() {
        let (chain, spki, _) = chain_for(MX);
        let dns = tlsa(&[format!("3 1 1 {spki}"), format!("3 1 1 {H2}")], Proof::Secure)
            .a(MX, &[IP])
            .aaaa(MX, &[IP6])
            .smtp(MX, IP, tls_probe(&chain, "TLSv1.3"))
            .smtp(MX, IP6, tls_probe(&chain, "TLSv1.2"));
        let f = run(&dns);
        let m = find(&f, "dane.match", MX);
        assert_eq!(m.outcome, Pass, "{m:#?}");
        let by_address = m.evidence["addresses"].as_object().unwrap();
        assert_eq!(by_address.len(), 2);
        assert!(by_address[IP6].as_str().unwrap().contains("matches certificate 0"));
    }

    #[test]
    fn a_chain_no_usable_record_matches_is_critical() {
        let (chain, spki, _) = chain_for(MX);
        let (other_chain, other_spki, _) = chain_for(MX);
        // One address presents the published key, the other a new one.
        let dns = tlsa(&[format!("3 1 1 {spki}")], Proof::Secure)
            .a(MX, &[IP])
            .aaaa(MX, &[IP6])
            .smtp(MX, IP, tls_probe(&chain, "TLSv1.3"))
            .smtp(MX, IP6, tls_probe(&other_chain, "TLSv1.3"));
        let f = run(&dns);
        let m = find(&f, "dane.match", MX);
        assert_eq!((m.outcome, m.severity), (Fail, Severity::Critical), "{m:#?}");
        assert!(m.message.contains("1 of 2 address(es)"), "{}", m.message);
        assert!(m.message.contains("defer all mail"), "{}", m.message);
        assert!(
            m.evidence["addresses"][IP]
                .as_str()
                .unwrap()
                .contains("matches certificate 0")
        );
        assert!(
            m.evidence["addresses"][IP6]
                .as_str()
                .unwrap()
                .contains("no usable TLSA record matches")
        );
        let fix = m.remediation.as_deref().unwrap();
        assert!(fix.contains(&format!("IN TLSA 3 1 1 {other_spki}")), "{fix}");
    }

    #[test]
    fn dane_ta_needs_the_chain_to_verify_for_the_mx_name() {
        let (chain, _, ca) = chain_for(MX);
        let record = format!("2 0 1 {}", sha256_hex(&ca.der));
        let f = run(&probed(
            tlsa(std::slice::from_ref(&record), Proof::Secure),
            tls_probe(&chain, "TLSv1.3"),
        ));
        assert_eq!(outcome(&f, "dane.match", MX), Pass);
        // The same CA, but a leaf for another name.
        let leaf = ca.valid_leaf(&["other.example.net"]);
        let chain = vec![leaf.der, ca.der.clone()];
        let f = run(&probed(tlsa(&[record], Proof::Secure), tls_probe(&chain, "TLSv1.3")));
        let m = find(&f, "dane.match", MX);
        assert_eq!(m.outcome, Fail);
        assert!(m.message.contains("not valid for mx.example.com"), "{}", m.message);
    }

    #[test]
    fn tlsa_without_tls_is_critical() {
        let (_, spki, _) = chain_for(MX);
        for status in [
            SmtpStatus::NoStarttls,
            SmtpStatus::StarttlsRefused,
            SmtpStatus::HandshakeFailed,
        ] {
            let probe = SmtpProbe::status(status, Some("as the test says".into()));
            let f = run(&probed(tlsa(&[format!("3 1 1 {spki}")], Proof::Secure), probe));
            let m = find(&f, "dane.match", MX);
            assert_eq!((m.outcome, m.severity), (Fail, Severity::Critical), "{status:?}");
            assert!(m.message.contains("no TLS"), "{}", m.message);
            assert!(
                m.remediation
                    .as_deref()
                    .unwrap()
                    .starts_with("Offer STARTTLS on every address")
            );
        }
    }

    #[test]
    fn addresses_that_could_not_be_probed_are_indeterminate_unless_another_fails() {
        let (chain, spki, _) = chain_for(MX);
        let record = [format!("3 1 1 {spki}")];
        for status in [
            SmtpStatus::EgressRefused,
            SmtpStatus::NotCollected,
            SmtpStatus::Unreachable,
        ] {
            let f = run(&probed(tlsa(&record, Proof::Secure), SmtpProbe::status(status, None)));
            assert_eq!(outcome(&f, "dane.match", MX), Indeterminate, "{status:?}");
        }
        // Matched at one address, not probed at the other: still unknown.
        let dns = tlsa(&record, Proof::Secure)
            .a(MX, &[IP])
            .aaaa(MX, &[IP6])
            .smtp(MX, IP, tls_probe(&chain, "TLSv1.3"))
            .smtp(MX, IP6, SmtpProbe::status(SmtpStatus::NoRoute, None));
        assert_eq!(outcome(&run(&dns), "dane.match", MX), Indeterminate);
        // Failed at one, not probed at the other: a fact of failure.
        let dns = tlsa(&record, Proof::Secure)
            .a(MX, &[IP])
            .aaaa(MX, &[IP6])
            .smtp(MX, IP, SmtpProbe::status(SmtpStatus::NoStarttls, None))
            .smtp(MX, IP6, SmtpProbe::status(SmtpStatus::NoRoute, None));
        assert_eq!(outcome(&run(&dns), "dane.match", MX), Fail);
        // A failed address lookup.
        let dns = tlsa(&record, Proof::Secure)
            .status(MX, RType::A, Status::Timeout)
            .status(MX, RType::Aaaa, Status::Timeout);
        let m = run(&dns);
        let m = find(&m, "dane.match", MX);
        assert_eq!(m.outcome, Indeterminate);
        assert!(m.message.contains("could not look up the addresses"), "{}", m.message);
    }

    #[test]
    fn a_server_speaking_only_old_tls_is_not_counted_as_a_dane_failure() {
        let (_, spki, _) = chain_for(MX);
        let mut probe = SmtpProbe::status(SmtpStatus::HandshakeFailed, Some("received fatal alert".into()));
        probe.alert = Some("ProtocolVersion".into());
        let f = run(&probed(tlsa(&[format!("3 1 1 {spki}")], Proof::Secure), probe));
        let m = find(&f, "dane.match", MX);
        assert_eq!(m.outcome, Indeterminate);
        assert!(m.evidence["addresses"][IP].as_str().unwrap().contains("below 1.2"));
    }

    #[test]
    fn hosts_without_usable_secure_records_are_not_probed() {
        // No address or probe is given: asking for one would panic.
        let f = run(&tlsa(&[format!("3 1 1 {H}")], Proof::Insecure));
        assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
        let f = run(&tlsa(&[format!("1 1 1 {H}")], Proof::Secure));
        assert_eq!(outcome(&f, "dane.match", MX), NotApplicable);
        let f = run_with(&tlsa(&[format!("3 1 1 {H}")], Proof::NotValidated), false);
        let m = find(&f, "dane.match", MX);
        assert_eq!(m.outcome, Indeterminate);
        assert!(m.message.contains("not validated"), "{}", m.message);
        // A host without records, next to one with a matching record: only
        // the latter's address is probed.
        let (chain, spki, _) = chain_for(MX);
        let dns = Dns::new()
            .mx(D, &[(10, MX), (20, "backup.example.com")])
            .rec(
                T,
                RType::Tlsa,
                vec![RData::Other {
                    rtype: 52,
                    text: format!("3 1 1 {spki}"),
                }],
                Proof::Secure,
            )
            .status("_25._tcp.backup.example.com", RType::Tlsa, Status::NxDomain)
            .a("backup.example.com", &["192.0.2.26"])
            .aaaa("backup.example.com", &[]);
        let f = run(&probed(dns, tls_probe(&chain, "TLSv1.3")));
        assert_eq!(outcome(&f, "dane.match", MX), Pass);
        assert_eq!(outcome(&f, "dane.match", "backup.example.com"), NotApplicable);
    }

    #[test]
    fn host_dane_gives_failover_the_same_verdict() {
        let (chain, spki, _) = chain_for(MX);
        let dns = probed(
            tlsa(&[format!("3 1 1 {spki}")], Proof::Secure),
            tls_probe(&chain, "TLSv1.3"),
        );
        let options = ScanOptions::default();
        let source = SourceInfo {
            dnssec_validation: true,
            ..SourceInfo::default()
        };
        let ctx = Context {
            roots: &crate::tls::cert::Roots::WebPki,
            domain: D,
            options: &options,
            source: &source,
            now: NOW,
        };
        let verdict = |dns: &Dns| {
            let out = std::cell::RefCell::new(None);
            dns.judge(|v| {
                let hosts = transport::mx_hosts(&ctx, D, v).unwrap();
                let addresses = transport::probe_host(&ctx, v, &hosts[0]);
                *out.borrow_mut() = Some(host_dane(&ctx, v, &hosts[0], &addresses));
                Vec::new()
            });
            out.into_inner().unwrap()
        };
        let d = verdict(&dns);
        assert_eq!(d.authenticated, Some(true), "{d:?}");
        let dns = probed(
            tlsa(&[format!("3 1 1 {H}")], Proof::Secure),
            tls_probe(&chain, "TLSv1.3"),
        );
        assert_eq!(verdict(&dns).authenticated, Some(false));
        let dns = probed(
            tlsa(&[format!("3 1 1 {spki}")], Proof::Insecure),
            tls_probe(&chain, "TLSv1.3"),
        );
        let d = verdict(&dns);
        assert_eq!(d.authenticated, Some(false));
        assert!(d.detail.contains("not DNSSEC-secure"), "{}", d.detail);
        let dns = probed(
            tlsa(&[format!("3 1 1 {spki}")], Proof::Secure),
            SmtpProbe::status(SmtpStatus::NotProbed, None),
        );
        assert_eq!(verdict(&dns).authenticated, None);
    }
}
