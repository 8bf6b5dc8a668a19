//! DNSSEC: the chain of trust of the domain's zone and of the zone of each
//! MX host, and the algorithms and parameters those zones are signed with.
//!
//! Pure over a [`DnsView`]. For the domain and each MX host it walks `SOA`
//! queries up the labels to find the zone apex, then reads the apex's
//! `DNSKEY`, `DS` (answered from the parent side of the cut) and
//! `NSEC3PARAM`. An MX host that is a CNAME belongs to its parent's zone
//! (a CNAME is not a zone cut, so its owner is never taken for an apex);
//! the zone of its target is judged too. Two kinds of rule come out:
//!
//! - **proof-based** (`dnssec.chain`, `dnssec.island`, `dnssec.bogus`,
//!   and `dnssec.bogus-rrset` for one RRset senders need, in `rrsets`):
//!   they need answers validated from a trust anchor, and are
//!   not-applicable otherwise (zone files, `--no-dnssec`);
//! - **data-based** (`dnssec.ds-mismatch`, `dnssec.signature-expiry`,
//!   `dnssec.algorithm`, `dnssec.ds-digest`, `dnssec.rsa-key-size`,
//!   `dnssec.nsec3-parameters`, `dnssec.lookup-failed`): they read the
//!   records themselves, so they also run on zone files.
//!
//! Layout: `zone` reads one zone's evidence and judges its chain of trust;
//! `zone::material` judges its keys, DS records, signatures and NSEC3
//! parameters; `rrsets` the RRsets senders need; `keys` derives key tags,
//! DS digests and RSA sizes from the typed records.
//!
//! Could not look is never absent: a timeout, SERVFAIL or budget running
//! out makes a rule indeterminate, never "unsigned" and never "bogus".

mod keys;
mod rrsets;
mod zone;

use std::collections::BTreeMap;

use mailwarden_model::{Answer, DnsView, Outcome, RData, RType, RawFinding, Status};

use crate::Context;
use crate::rule;
pub use keys::{Dnskey, Ds, Match, Nsec3Param, base64_decode, hex_decode, key_tag, owner_wire, rsa_modulus_bits};
use zone::{Chain, Zone};

/// Signatures expiring sooner than this fail `dnssec.signature-expiry`.
pub const EXPIRY_WARNING_SECONDS: i64 = 3 * 86_400;

/// What [`judge`] reads, building no findings: the zone of the domain,
/// of each MX host and of each CNAME target among them (each zone read
/// once), and the record sets senders need.
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>) {
    let (subjects, mx_hosts) = subjects(ctx.domain, view);
    let (zones, _) = zones(view, subjects);
    for (apex, names) in zones.values() {
        Zone::read(ctx, view, apex, names);
    }
    rrsets::reads(ctx.domain, view, &mx_hosts);
}

/// Judge the DNSSEC deployment of `ctx.domain` and of its MX hosts' zones.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let (subjects, mx_hosts) = subjects(ctx.domain, view);
    let (zones, failures) = zones(view, subjects);
    let mut out: Vec<RawFinding> = (failures.iter())
        .flat_map(|(subject, failure)| apex_failure(subject, failure))
        .collect();
    let mut bogus_zones = Vec::new();
    for (apex, names) in zones.values() {
        let zone = Zone::read(ctx, view, apex, names);
        if matches!(zone.chain(), Chain::Bogus(_)) {
            bogus_zones.push(zone.apex.clone());
        }
        out.extend(zone.judge());
    }
    out.push(rrsets::judge(ctx, view, &mx_hosts, &bogus_zones));
    out
}

/// The names whose zones are judged: the domain, its MX hosts and the
/// CNAME targets of those; and the MX hosts alone.
fn subjects(domain: &str, view: &DnsView<'_>) -> (Vec<String>, Vec<String>) {
    let mut subjects = vec![domain.to_string()];
    let mx = view.get(domain, RType::Mx);
    if mx.status == Status::Records {
        for rd in &mx.records {
            if let RData::Mx { exchange, .. } = rd {
                let host = mailwarden_model::name::normalise(exchange);
                if !host.is_empty() && host.parse::<std::net::IpAddr>().is_err() && !subjects.contains(&host) {
                    subjects.push(host);
                }
            }
        }
    }

    let mx_hosts = subjects[1..].to_vec();
    // A name that is a CNAME lives in its parent's zone (a CNAME is not a
    // zone cut); the zone of its target is judged as well, as the one
    // senders' answers for the MX host come from.
    for host in &mx_hosts {
        let target = view.get(host, RType::Soa).cname_chain.last();
        if let Some(target) = target.filter(|t| !subjects.contains(t)) {
            subjects.push(target.clone());
        }
    }
    (subjects, mx_hosts)
}

/// Zones by apex, each with the subjects in it; and the subjects whose
/// zone could not be found, in order.
type Zones<'a> = (
    BTreeMap<String, (Apex<'a>, Vec<String>)>,
    Vec<(String, ApexFailure<'a>)>,
);

/// Each subject's zone ([`find_apex`]), grouped by apex.
fn zones<'a>(view: &DnsView<'a>, subjects: Vec<String>) -> Zones<'a> {
    let mut zones: BTreeMap<String, (Apex<'_>, Vec<String>)> = BTreeMap::new();
    let mut failures = Vec::new();
    for subject in subjects {
        match find_apex(view, &subject) {
            Ok(apex) => {
                zones
                    .entry(apex.name.clone())
                    .or_insert_with(|| (apex, Vec::new()))
                    .1
                    .push(subject);
            }
            Err(failure) => failures.push((subject, failure)),
        }
    }
    (zones, failures)
}

/// Where a name's zone starts, and how we know.
#[derive(Debug, Clone)]
struct Apex<'a> {
    name: String,
    soa: &'a Answer,
    /// The walk met bogus answers: `name` is the highest name that gave
    /// one below the first name with a valid SOA.
    bogus: bool,
}

/// Why a name's zone could not be found.
struct ApexFailure<'a> {
    /// The name whose SOA lookup failed.
    name: String,
    answer: &'a Answer,
}

/// RFC 1034 §4.2: "each zone has exactly one SOA record at its top".
/// Walk up from `name` asking for SOA: the first name that answers with an
/// SOA of its own (not through a CNAME) is the apex. Bogus answers on the
/// way are remembered: the highest name that gave one is the apex of a
/// zone that does not validate (its parent answered fine).
fn find_apex<'a>(view: &DnsView<'a>, name: &str) -> Result<Apex<'a>, ApexFailure<'a>> {
    let mut candidate = name.to_string();
    let mut last_bogus: Option<(String, &'a Answer)> = None;
    loop {
        let answer = view.get(&candidate, RType::Soa);
        match &answer.status {
            Status::Records if answer.cname_chain.is_empty() => {
                return Ok(match last_bogus {
                    Some((bogus, soa)) => Apex {
                        name: bogus,
                        soa,
                        bogus: true,
                    },
                    None => Apex {
                        name: candidate,
                        soa: answer,
                        bogus: false,
                    },
                });
            }
            Status::Records | Status::NoData | Status::NxDomain => {}
            Status::Bogus(_) => last_bogus = Some((candidate.clone(), answer)),
            _ => {
                return Err(ApexFailure {
                    name: candidate,
                    answer,
                });
            }
        }
        match candidate.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => candidate = parent.to_string(),
            _ => {
                return match last_bogus {
                    Some((bogus, soa)) => Ok(Apex {
                        name: bogus,
                        soa,
                        bogus: true,
                    }),
                    None => Err(ApexFailure {
                        name: name.to_string(),
                        answer,
                    }),
                };
            }
        }
    }
}

/// The zone of `subject` could not be found: every rule about it is
/// indeterminate, and a server failure is reported as such.
fn apex_failure(subject: &str, failure: &ApexFailure<'_>) -> Vec<RawFinding> {
    let why = if failure.answer.status.is_definite() {
        format!("no SOA record was found at {} or above it", failure.name)
    } else {
        format!(
            "the SOA lookup for {} failed: {}",
            failure.name,
            failure.answer.status.describe()
        )
    };
    let lookup = lookup_failed_finding(subject, &[(format!("{}/SOA", failure.name), failure.answer)]);
    vec![
        lookup,
        RawFinding::new(
            rule::DNSSEC_CHAIN,
            Outcome::Indeterminate,
            subject,
            format!("Could not find the zone of {subject}: {why}."),
        )
        .evidence("status", failure.answer.status.describe()),
    ]
}

/// `dnssec.lookup-failed` over some answers: indeterminate when a lookup
/// could not be completed (formerly: fail when a server answered
/// SERVFAIL, REFUSED or an error (it is unreachable or broken, and not
/// because of DNSSEC), indeterminate when we could not ask (timeout,
/// budget, not collected), pass when every lookup was answered.
fn lookup_failed_finding(subject: &str, answers: &[(String, &Answer)]) -> RawFinding {
    const ID: &str = rule::DNSSEC_LOOKUP_FAILED;
    // Every failure to look is indeterminate: a SERVFAIL or REFUSED from the
    // resolver cannot be pinned on the domain (the resolver itself may be
    // refusing us); `ns.lame` asks the domain's own servers directly.
    let unanswered: Vec<String> = answers
        .iter()
        .filter(|(_, a)| !a.status.is_definite() && !matches!(a.status, Status::Bogus(_)))
        .map(|(q, a)| format!("{q}: {}", a.status.describe()))
        .collect();
    let finding = crate::unlooked::lookup_failed(
        (ID, subject),
        &format!("Every DNSSEC lookup for {subject} was answered."),
        &unanswered,
        |listed| {
            format!(
                "Could not complete the DNSSEC lookups for {subject}: {}.",
                listed.join("; ")
            )
        },
        ("unanswered", &unanswered),
    );
    if finding.outcome == Outcome::Pass {
        return finding;
    }
    finding.remediation(format!(
        "If this persists, check that every name server of the zone of {subject} answers these queries (`dig +cd +dnssec @<server> {subject} SOA`); the nameserver checks (ns.lame) ask each server directly."
    ))
}

/// The records of an answer that did not parse, as "`text`: why".
fn unparsed(answer: &Answer) -> Vec<String> {
    answer
        .records
        .iter()
        .filter_map(|rd| match rd {
            RData::Unparsed { text, error, .. } => Some(format!("`{text}`: {error}")),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigningStatus {
    MustNot,
    NotRecommended,
    Fine,
}

/// RFC 8624 §3.1, "DNSSEC Signing" column.
fn signing_status(algorithm: u8) -> SigningStatus {
    match algorithm {
        1 | 3 | 6 | 12 => SigningStatus::MustNot,
        5 | 7 | 10 => SigningStatus::NotRecommended,
        _ => SigningStatus::Fine,
    }
}

fn type_name(code: u16) -> String {
    match code {
        46 => "RRSIG".into(),
        47 => "NSEC".into(),
        50 => "NSEC3".into(),
        _ => RType::from_code(code).map_or_else(|| format!("TYPE{code}"), |t| t.as_str().to_string()),
    }
}

/// RFC 4034 §3.2 presentation form of a signature time: YYYYMMDDHHmmSS.
fn timestamp(t: u32) -> String {
    let secs = i64::from(t);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn join_or(items: &[String], fallback: &str) -> String {
    if items.is_empty() {
        fallback.to_string()
    } else {
        items.join("; ")
    }
}

#[cfg(test)]
mod tests;
