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

use mailwarden_model::dns::Tlsa;
use mailwarden_model::{DnsView, Outcome, RType, RawFinding, SmtpTarget, Status};

use crate::rule;
use crate::transport::{self, AddressTls, MxHost};
use crate::{Context, Facts, Unlooked};
use host::Host;
use host::matching::match_addresses;

/// The MX host names of `domain`, or the lookup that failed.
pub(crate) fn mx_hosts(domain: &str, view: &DnsView<'_>) -> Result<Vec<String>, Unlooked> {
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
/// `Err` (the first lookup that failed) when one failed and none was found.
pub(crate) fn in_use(domain: &str, view: &DnsView<'_>) -> Result<bool, Unlooked> {
    let hosts = mx_hosts(domain, view)?;
    let mut failed = None;
    for host in hosts {
        let owner = tlsa_name(&host);
        let answer = view.get(&owner, RType::Tlsa);
        if answer.status == Status::Records {
            return Ok(true);
        }
        failed = failed.or_else(|| Unlooked::of(&owner, RType::Tlsa, answer));
    }
    failed.map_or(Ok(false), Err)
}

const RULES: [&str; 8] = [
    rule::DANE_TLSA_PRESENT,
    rule::DANE_INSECURE,
    rule::DANE_BOGUS,
    rule::DANE_SYNTAX,
    rule::DANE_USAGE,
    rule::DANE_FULL_CERTIFICATE,
    rule::DANE_ROLLOVER,
    rule::DANE_MATCH,
];

/// Judge the DANE TLSA records of every MX host of `ctx.domain`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let chains = crate::ChainCache::default();
    judge_with(ctx, view, &crate::Facts::of_view(ctx, view, &chains))
}

/// What [`judge_with`] reads, building no findings: the MX hosts, the
/// TLSA records of each and, where they are secure and usable, the
/// host's probes to match them against.
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>, facts: &crate::Facts<'_, '_>) {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let Ok(hosts) = mx_hosts(&domain, view) else { return };
    let addressed = Addressed {
        domain: &domain,
        view,
        facts,
    };
    for host in hosts {
        let answer = view.get(&tlsa_name(&host), RType::Tlsa);
        Host::new(ctx, &domain, &host, answer).reads(&addressed);
    }
}

/// [`judge`], reading the shared facts of the view.
pub fn judge_with(ctx: &Context<'_>, view: &DnsView<'_>, facts: &crate::Facts<'_, '_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let hosts = match mx_hosts(&domain, view) {
        Ok(h) => h,
        Err(why) => {
            return vec![
                RawFinding::new(
                    rule::DANE_TLSA_PRESENT,
                    Outcome::Indeterminate,
                    &domain,
                    format!("Could not look up the MX hosts: {why}."),
                )
                .evidence("failed_lookups", [&why]),
            ];
        }
    };
    if hosts.is_empty() {
        return vec![RawFinding::new(
            rule::DANE_TLSA_PRESENT,
            Outcome::NotApplicable,
            &domain,
            "The domain has no MX hosts, so there is no SMTP server for DANE to protect.",
        )];
    }
    let addressed = Addressed {
        domain: &domain,
        view,
        facts,
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
struct Addressed<'c, 'v, 'f, 'p> {
    domain: &'c str,
    view: &'c DnsView<'v>,
    facts: &'c crate::Facts<'f, 'p>,
}

/// Why an MX host's addresses are not known.
#[derive(Debug)]
enum HostUnknown {
    /// The MX lookup failed.
    Unlooked(Unlooked),
    /// The host is not among the MX hosts the facts read (`name`, `domain`).
    Gone { name: String, domain: String },
}

impl std::fmt::Display for HostUnknown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HostUnknown::Unlooked(u) => write!(f, "{u}"),
            HostUnknown::Gone { name, domain } => write!(f, "{name} is no longer among the MX hosts of {domain}"),
        }
    }
}

impl Addressed<'_, '_, '_, '_> {
    fn host(&self, name: &str) -> Result<&MxHost, HostUnknown> {
        let hosts = self.facts.mx_hosts(self.view);
        match hosts {
            Ok(hosts) => hosts.iter().find(|h| h.name == name).ok_or_else(|| HostUnknown::Gone {
                name: name.to_string(),
                domain: self.domain.to_string(),
            }),
            Err(why) => Err(HostUnknown::Unlooked(why.clone())),
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
/// [`crate::Facts::probe_host`]). Asks TLSA at `_25._tcp.<host>`.
pub(crate) fn host_dane(
    facts: &Facts<'_, '_>,
    view: &DnsView<'_>,
    host: &MxHost,
    addresses: &[AddressTls<'_>],
) -> HostDane {
    let answer = view.get(&tlsa_name(&host.name), RType::Tlsa);
    let records = match Host::new(&facts.ctx, "", &host.name, answer).rrset() {
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
    let results = match_addresses(&records, addresses, facts);
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
/// at `target`: a usable record of its host's DNSSEC-secure TLSA RRset
/// matches it (for DANE-TA, the chain verifies to the matched CA). `None`
/// when DANE does not authenticate it: no records, not secure, not
/// validated, bogus, or no match. Asks TLSA at `_25._tcp.<host>`.
pub(crate) fn authenticates(
    facts: &Facts<'_, '_>,
    view: &DnsView<'_>,
    target: SmtpTarget,
    chain: &[Vec<u8>],
) -> Option<DaneAuthenticated> {
    let answer = view.get(&tlsa_name(&target.host), RType::Tlsa);
    let Rrset::Usable(records) = Host::new(&facts.ctx, "", &target.host, answer).rrset() else {
        return None;
    };
    let result = facts.dane_match(&records, target, chain);
    let matched = result.matched?;
    Some(DaneAuthenticated {
        usage: records[matched].usage,
        summary: result.summary(),
    })
}

mod host;
#[cfg(test)]
mod tests;
