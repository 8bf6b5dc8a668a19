//! Nameservers and DNS integrity: the servers that hold the zone the email
//! security records live in.
//!
//! Pure over a [`DnsView`]. Through the resolver it asks `SOA` at the
//! domain (and, when the domain is not a zone apex, at each parent until
//! one is), `NS` at the apex, and `A`/`AAAA` of each nameserver. Then it
//! asks every address of every nameserver directly
//! ([`DnsView::get_at`], recursion off): `SOA` at the apex, and, from the
//! servers that answer it with authority, the MX, TXT (SPF), `_dmarc`,
//! `_mta-sts` and `_smtp._tls` record sets of the domain.
//!
//! How server-directed answers read (see `mailwarden_dns::live` `direct`):
//! an answer without the AA bit, a referral (`Status::Referral`),
//! a timeout, SERVFAIL or REFUSED to the apex `SOA` is a lame delegation
//! for that server; any other failure to ask (an I/O error, a budget) is
//! indeterminate for that server. A server that cannot be asked is never
//! read as "record missing": it is left out of the comparison.
//!
//! When the resolver cannot read the zone at all (its SOA lookup fails,
//! as for a lame delegation), the delegation is read at the parent and
//! each delegated server asked directly (see `delegation`).
//!
//! Zone files have no servers to ask: for `zone-file` input every rule is
//! not applicable and nothing is asked.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use mailwarden_model::{Answer, DnsView, Outcome, RData, RType, RawFinding, Status};

use crate::Context;
use crate::host_addresses::HostAddresses;
use crate::rule;

/// The record sets every authoritative server must agree on: a label
/// prefix to the domain, the type, and what the set is for.
const COMPARED: [(&str, RType, &str); 5] = [
    ("", RType::Mx, "MX"),
    ("", RType::Txt, "TXT (SPF)"),
    ("_dmarc.", RType::Txt, "DMARC"),
    ("_mta-sts.", RType::Txt, "MTA-STS"),
    ("_smtp._tls.", RType::Txt, "TLS-RPT"),
];

/// What the judge reads on a view, before any finding is built: what
/// [`ask`] stops at and [`judge`] builds its findings from, so the two
/// read the same questions.
enum Reading<'v> {
    /// Zone-file input: nothing to ask.
    Offline,
    /// The domain does not exist.
    NoSuchDomain,
    /// The resolver could not read the zone: its delegation at the parent.
    AtParent(delegation::AtParent),
    /// The NS lookup at the apex failed.
    NsFailed(Unread),
    /// The zone's nameservers, each asked directly.
    Servers(Servers<'v>),
}

/// The nameservers of a zone, their addresses, and what each address
/// answered when asked directly.
struct Servers<'v> {
    apex: String,
    names: Vec<String>,
    hosts: Vec<Host<'v>>,
    /// Each address and the nameserver names that have it.
    servers: BTreeMap<IpAddr, Vec<String>>,
    states: BTreeMap<IpAddr, State>,
    /// For each of [`COMPARED`], the answers of the authoritative servers.
    compared: Vec<BTreeMap<IpAddr, &'v Answer>>,
}

/// Read what the judge needs for `ctx.domain`; [`judge`] builds the
/// findings from it.
fn read<'v>(ctx: &Context<'_>, view: &DnsView<'v>) -> Reading<'v> {
    let domain = ctx.domain;
    if ctx.source.backend == "zone-file" {
        return Reading::Offline;
    }
    let apex = match find_apex(domain, view) {
        Ok(apex) => apex,
        Err(Stop::NoSuchDomain) => return Reading::NoSuchDomain,
        Err(Stop::Failed(why)) => return Reading::AtParent(delegation::read(domain, view, why)),
    };
    let ns = view.get(&apex, RType::Ns);
    let names: Vec<String> = match &ns.status {
        Status::Records => ns
            .records
            .iter()
            .filter_map(|rd| match rd {
                RData::Ns { target } => Some(mailwarden_model::name::normalise(target)),
                _ => None,
            })
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect(),
        Status::NoData | Status::NxDomain => Vec::new(),
        other => {
            return Reading::NsFailed(Unread::ns(&apex, other));
        }
    };
    let hosts: Vec<Host<'v>> = names
        .iter()
        .map(|name| Host {
            name: name.clone(),
            a: view.get(name, RType::A),
            aaaa: view.get(name, RType::Aaaa),
        })
        .collect();
    let mut servers: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
    for host in &hosts {
        for ip in host.addresses() {
            servers.entry(ip).or_default().push(host.name.clone());
        }
    }
    let states: BTreeMap<IpAddr, State> = servers
        .keys()
        .map(|ip| (*ip, classify(&apex, view.get_at(*ip, &apex, RType::Soa))))
        .collect();
    // Only the servers that answered for the zone with authority are
    // asked for the record sets compared.
    let compared = COMPARED
        .iter()
        .map(|(prefix, rtype, _)| {
            let name = format!("{prefix}{domain}");
            (states.iter())
                .filter(|(_, state)| matches!(state, State::Authoritative(_)))
                .map(|(ip, _)| (*ip, view.get_at(*ip, &name, *rtype)))
                .collect()
        })
        .collect();
    Reading::Servers(Servers {
        apex,
        names,
        hosts,
        servers,
        states,
        compared,
    })
}

/// Read what the judge reads for `ctx.domain`, building no finding: what
/// [`crate::Judging`] runs while the judge waits for evidence.
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>) {
    read(ctx, view);
}

/// Judge the nameservers of the zone `ctx.domain` is in.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let domain = ctx.domain;
    match read(ctx, view) {
        Reading::Offline => offline(domain),
        Reading::NoSuchDomain => vec![RawFinding::new(
            rule::NS_COUNT,
            Outcome::NotApplicable,
            domain,
            "The domain does not exist (NXDOMAIN): it has no zone to check.",
        )],
        Reading::AtParent(at_parent) => at_parent.findings(domain),
        Reading::NsFailed(why) => vec![lookup_failed(domain, why.to_string())],
        Reading::Servers(servers) => servers.findings(domain),
    }
}

impl Servers<'_> {
    fn findings(&self, domain: &str) -> Vec<RawFinding> {
        let (apex, hosts, states) = (&self.apex, &self.hosts, &self.states);
        let mut out = vec![judge_count(apex, &self.names)];
        if self.names.is_empty() {
            return out;
        }
        out.push(judge_diversity(apex, hosts));
        for host in hosts {
            out.push(judge_lame(apex, host, states));
        }
        let label = |ip: &IpAddr| format!("{ip} ({})", self.servers[ip].join(", "));
        // With one server known for sure, there is nothing to compare; with
        // one known because other lookups failed, we could not compare.
        let single = states.len() < 2 && hosts.iter().all(Host::complete);
        out.push(judge_serials(apex, states, single, &label));
        for ((prefix, rtype, what), answers) in COMPARED.iter().zip(&self.compared) {
            let name = format!("{prefix}{domain}");
            let compare = Compare {
                name: &name,
                rtype: *rtype,
                what,
                single,
            };
            out.push(judge_consistency(&compare, answers, states, &label));
        }
        out
    }
}

/// Why the zone could not be found.
enum Stop {
    /// The domain itself does not exist.
    NoSuchDomain,
    /// A lookup failed: we could not look.
    Failed(Unread),
}

/// The apex of the zone `domain` is in: the closest name at or above it
/// with an SOA record (an SOA record marks the top of a zone, RFC 1035
/// §5.2). Single-label names (top-level domains) are not asked.
fn find_apex(domain: &str, view: &DnsView<'_>) -> Result<String, Stop> {
    let mut name = domain.to_string();
    loop {
        let soa = view.get(&name, RType::Soa);
        let at_apex = soa.cname_chain.is_empty() && soa.records.iter().any(|rd| matches!(rd, RData::Soa { .. }));
        match &soa.status {
            Status::Records if at_apex => return Ok(name),
            Status::NxDomain if name == domain => return Err(Stop::NoSuchDomain),
            Status::Records | Status::NoData | Status::NxDomain => {}
            other => return Err(Stop::Failed(Unread::soa(&name, other))),
        }
        match name.split_once('.') {
            Some((_, parent)) if parent.contains('.') => name = parent.to_string(),
            _ => {
                return Err(Stop::Failed(Unread::NoApex {
                    domain: domain.to_string(),
                }));
            }
        }
    }
}

/// `ns.lookup-failed`: only ever said when a lookup failed (`why`).
fn lookup_failed(domain: &str, why: String) -> RawFinding {
    crate::unlooked::lookup_failed(
        (rule::NS_LOOKUP_FAILED, domain),
        "",
        std::slice::from_ref(&why),
        |_| format!("Could not look up the nameservers: {why}"),
        ("failure", &why),
    )
}

/// RFC 1034 §4.1: "By administrative fiat, we require every zone to be
/// available on at least two servers, and many zones have more redundancy
/// than that." RFC 2182 §5: "The DNS specification and domain name
/// registration rules require at least two servers for every zone."
fn judge_count(apex: &str, names: &[String]) -> RawFinding {
    let finding = |outcome, msg: String| RawFinding::new(rule::NS_COUNT, outcome, apex, msg).evidence("ns", names);
    match names.len() {
        0 => finding(
            Outcome::Fail,
            format!("The zone {apex} publishes no NS records."),
        )
        .remediation(format!(
            "Publish at least two NS records at the apex, e.g. `{apex}. IN NS ns1.<provider>.` and `{apex}. IN NS ns2.<other provider>.`, matching the delegation at the registrar."
        )),
        1 => finding(
            Outcome::Fail,
            format!("The zone {apex} has a single nameserver ({}): when it is down, the domain and its mail records disappear.", names[0]),
        )
        .remediation(format!(
            "Add a second nameserver on another network (for example a secondary DNS service that transfers the zone): `{apex}. IN NS <second server>.`, in the zone and in the delegation at the registrar."
        )),
        n => finding(Outcome::Pass, format!("{n} nameservers: {}.", names.join(", "))),
    }
}

/// Zone-file input: every rule is not applicable, and nothing is asked.
fn offline(domain: &str) -> Vec<RawFinding> {
    let why = "Zone-file input: the nameserver checks ask the zone's servers, and zone files have none.";
    [
        rule::NS_COUNT,
        rule::NS_NETWORK_DIVERSITY,
        rule::NS_CONSISTENCY,
        rule::NS_SOA_SERIAL,
        rule::NS_LAME,
    ]
    .into_iter()
    .map(|id| RawFinding::new(id, Outcome::NotApplicable, domain, why))
    .collect()
}

/// One nameserver name and its address lookups.
type Host<'a> = HostAddresses<'a>;

/// RFC 2182 §3.1: "Secondary servers must be placed at both topologically
/// and geographically dispersed locations on the Internet". The proxy for
/// "topologically dispersed" is more than one IPv4 /24 or IPv6 /48.
fn judge_diversity(apex: &str, hosts: &[Host<'_>]) -> RawFinding {
    let addresses: BTreeSet<IpAddr> = hosts.iter().flat_map(Host::addresses).collect();
    let complete = hosts.iter().all(Host::complete);
    let (v4, v6) = networks(&addresses);
    let finding = |outcome, msg: String| {
        RawFinding::new(rule::NS_NETWORK_DIVERSITY, outcome, apex, msg)
            .evidence("addresses", &addresses)
            .evidence("ipv4_networks", &v4)
            .evidence("ipv6_networks", &v6)
    };
    if v4.len() >= 2 || v6.len() >= 2 {
        return finding(
            Outcome::Pass,
            format!(
                "The nameservers' addresses span {} IPv4 /24 and {} IPv6 /48 networks.",
                v4.len(),
                v6.len()
            ),
        );
    }
    if !complete {
        let why = hosts.iter().find_map(Host::failure).unwrap_or_default();
        return finding(
            Outcome::Indeterminate,
            format!("Some nameserver address lookups failed: {why}"),
        );
    }
    let msg = if addresses.is_empty() {
        "No nameserver has an address.".to_string()
    } else {
        format!(
            "Every nameserver address is in one network ({}): one routing or provider failure takes them all down.",
            v4.iter().chain(&v6).cloned().collect::<Vec<_>>().join(", ")
        )
    };
    finding(Outcome::Fail, msg).remediation(format!(
        "Add a nameserver for {apex} in another network and, ideally, with another provider (a different IPv4 /24 and IPv6 /48), and list it in the zone's NS records and at the registrar."
    ))
}

/// The IPv4 /24 and IPv6 /48 networks of some addresses, as text.
fn networks(addresses: &BTreeSet<IpAddr>) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut v4 = BTreeSet::new();
    let mut v6 = BTreeSet::new();
    for ip in addresses {
        match ip {
            IpAddr::V4(a) => {
                let o = a.octets();
                v4.insert(format!("{}.{}.{}.0/24", o[0], o[1], o[2]));
            }
            IpAddr::V6(a) => {
                let s = a.segments();
                v6.insert(format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]));
            }
        }
    }
    (v4, v6)
}

/// What one server's answer to `SOA <apex>`, asked directly, says about it.
#[derive(Debug, Clone)]
enum State {
    /// It answered with authority; the serial of its SOA.
    Authoritative(u32),
    /// It does not serve the zone (a lame delegation), and why.
    Lame(String),
    /// We could not ask it (an I/O error, a budget): indeterminate.
    Unknown(String),
}

/// RFC 1035 §4.1.1, AA: "Authoritative Answer - this bit is valid in
/// responses, and specifies that the responding name server is an
/// authority for the domain name in question section." A server listed
/// in the NS RRset that does not answer for the zone with authority is a
/// lame delegation.
fn classify(apex: &str, soa: &Answer) -> State {
    match &soa.status {
        Status::Records if !soa.authoritative => {
            State::Lame("answered without the AA bit: it is not authoritative for the zone".into())
        }
        Status::Records => match soa.records.iter().find_map(|rd| match rd {
            RData::Soa { serial, .. } => Some(*serial),
            _ => None,
        }) {
            Some(serial) if soa.cname_chain.is_empty() => State::Authoritative(serial),
            _ => State::Lame(format!("answered for {apex} SOA with no SOA record of the zone")),
        },
        Status::NoData | Status::NxDomain => State::Lame(format!(
            "answered that {apex} has no SOA record ({}): it does not serve the zone",
            soa.status.describe()
        )),
        Status::ServFail | Status::Refused => State::Lame(soa.status.describe()),
        Status::Referral { .. } => State::Lame(soa.status.referral_reason().unwrap_or_default()),
        // RFC 1912 §2.8: a lame server is one "not performing nameservice
        // for that zone"; one that does not answer at all may be fine and
        // unreachable from here (port 53 filtered on the scanner's side).
        Status::Timeout => State::Unknown(
            "timed out: it could not be reached from here (a lame server answers, but without authority; \
             a timeout may also be port 53 blocked on the scanner's side)"
                .into(),
        ),
        other => State::Unknown(other.describe()),
    }
}

/// A lame delegation (RFC 1912 §2.8: "A lame delegation exists when a
/// nameserver is delegated responsibility for providing nameservice for a
/// zone (via NS records) but is not performing nameservice for that
/// zone"): a listed server that refuses, fails, refers elsewhere or answers
/// without the AA bit. One that cannot be reached is indeterminate. One
/// finding per nameserver name, with each of its addresses' state as
/// evidence.
fn judge_lame(apex: &str, host: &Host<'_>, states: &BTreeMap<IpAddr, State>) -> RawFinding {
    judge_lame_at(apex, &host.name, &host.addresses(), host.failure(), states)
}

/// [`judge_lame`] for a nameserver `name` with these addresses (and, when
/// it has none, why they could not be looked up).
fn judge_lame_at(
    apex: &str,
    name: &str,
    addresses: &[IpAddr],
    lookup_failure: Option<String>,
    states: &BTreeMap<IpAddr, State>,
) -> RawFinding {
    if addresses.is_empty() {
        if let Some(why) = lookup_failure {
            return RawFinding::new(
                rule::NS_LAME,
                Outcome::Indeterminate,
                name,
                format!("Could not look up the addresses of {name}: {why}"),
            );
        }
        return RawFinding::new(
            rule::NS_LAME,
            Outcome::Fail,
            name,
            format!("The nameserver {name} has no A or AAAA records: nobody can ask it for {apex}."),
        )
        .remediation(format!(
            "Publish address records for {name}, or remove `{apex}. IN NS {name}.` from the zone and from the delegation at the registrar."
        ));
    }
    let mut evidence: BTreeMap<String, String> = BTreeMap::new();
    let mut lame = Vec::new();
    let mut unknown = Vec::new();
    for ip in addresses {
        let state = states
            .get(ip)
            .cloned()
            .unwrap_or_else(|| State::Unknown("not asked".into()));
        let text = match &state {
            State::Authoritative(serial) => format!("authoritative (SOA serial {serial})"),
            State::Lame(why) => {
                lame.push(format!("{ip}: {why}"));
                format!("lame: {why}")
            }
            State::Unknown(why) => {
                unknown.push(format!("{ip}: {why}"));
                format!("could not ask: {why}")
            }
        };
        evidence.insert(ip.to_string(), text);
    }
    if !lame.is_empty() {
        return RawFinding::new(
            rule::NS_LAME,
            Outcome::Fail,
            name,
            format!(
                "The nameserver {name} is listed for {apex} but does not serve it: {}.",
                lame.join("; ")
            ),
        )
        .evidence("servers", &evidence)
        .remediation(format!(
            "Load the zone {apex} on {name} (as primary or secondary) so it answers with authority, or remove `{apex}. IN NS {name}.` from the zone and from the delegation at the registrar."
        ));
    }
    if !unknown.is_empty() {
        return RawFinding::new(
            rule::NS_LAME,
            Outcome::Indeterminate,
            name,
            format!("Could not ask {name} directly: {}.", unknown.join("; ")),
        )
        .evidence("servers", &evidence);
    }
    RawFinding::new(
        rule::NS_LAME,
        Outcome::Pass,
        name,
        format!("{name} answers for {apex} with authority."),
    )
    .evidence("servers", &evidence)
}

/// RFC 1035 §3.3.13, SERIAL: "The unsigned 32 bit version number of the
/// original copy of the zone. Zone transfers preserve this value." RFC
/// 1034 §4.3.5: "Part of the job of a zone administrator is to maintain
/// the zones at all of the name servers which are authoritative for the
/// zone." Servers with different serials serve different versions.
fn judge_serials(
    apex: &str,
    states: &BTreeMap<IpAddr, State>,
    single: bool,
    label: &dyn Fn(&IpAddr) -> String,
) -> RawFinding {
    let serials: BTreeMap<IpAddr, u32> = states
        .iter()
        .filter_map(|(ip, s)| match s {
            State::Authoritative(serial) => Some((*ip, *serial)),
            _ => None,
        })
        .collect();
    let evidence: BTreeMap<String, u32> = serials.iter().map(|(ip, s)| (label(ip), *s)).collect();
    let finding =
        |outcome, msg: String| RawFinding::new(rule::NS_SOA_SERIAL, outcome, apex, msg).evidence("serials", &evidence);
    if serials.len() < 2 {
        let outcome = if single {
            Outcome::NotApplicable
        } else {
            Outcome::Indeterminate
        };
        return finding(
            outcome,
            format!(
                "{} of {} server(s) answered with authority: nothing to compare.",
                serials.len(),
                states.len()
            ),
        );
    }
    let distinct: BTreeSet<u32> = serials.values().copied().collect();
    if distinct.len() == 1 {
        return finding(
            Outcome::Pass,
            format!(
                "All {} authoritative servers serve serial {}.",
                serials.len(),
                serials.values().next().copied().unwrap_or_default()
            ),
        );
    }
    let newest = newest_serial(&distinct);
    let lagging: Vec<String> = serials
        .iter()
        .filter(|(_, s)| **s != newest)
        .map(|(ip, s)| format!("{} at {s}", label(ip)))
        .collect();
    finding(
        Outcome::Fail,
        format!(
            "The servers serve different versions of {apex}: the newest serial is {newest}; behind: {}.",
            lagging.join(", ")
        ),
    )
    .remediation(format!(
        "Make the lagging servers transfer the current zone from the primary: check that the primary sends NOTIFY to them and allows them AXFR/IXFR, and that they can reach it; then confirm every server returns serial {newest} for `{apex}. SOA`."
    ))
}

/// The serial that is ahead of the most others in RFC 1982 sequence space
/// (ties: the numerically largest).
fn newest_serial(serials: &BTreeSet<u32>) -> u32 {
    let ahead = |a: u32, b: u32| a != b && a.wrapping_sub(b) < (1 << 31);
    serials
        .iter()
        .copied()
        .max_by_key(|a| (serials.iter().filter(|b| ahead(*a, **b)).count(), *a))
        .unwrap_or_default()
}

/// One record set compared across the authoritative servers.
struct Compare<'a> {
    name: &'a str,
    rtype: RType,
    /// What the set is for (`MX`, `TXT (SPF)` ...).
    what: &'a str,
    /// Whether only one server is known for sure (nothing to compare).
    single: bool,
}

/// RFC 1034 §4.3.5: "Part of the job of a zone administrator is to
/// maintain the zones at all of the name servers which are authoritative
/// for the zone. When the inevitable changes are made, they must be
/// distributed to all of the name servers." A server whose answer differs
/// from the others is out of sync, or has been tampered with.
fn judge_consistency(
    compare: &Compare<'_>,
    authoritative: &BTreeMap<IpAddr, &Answer>,
    states: &BTreeMap<IpAddr, State>,
    label: &dyn Fn(&IpAddr) -> String,
) -> RawFinding {
    let Compare {
        name,
        rtype,
        what,
        single,
    } = *compare;
    let subject = format!("{name}/{rtype}");
    let mut answers: BTreeMap<IpAddr, Vec<String>> = BTreeMap::new();
    let mut not_compared: BTreeMap<String, String> = BTreeMap::new();
    let mut unknown = Vec::new();
    for (ip, state) in states {
        match state {
            State::Authoritative(_) => {}
            State::Lame(why) | State::Unknown(why) => {
                not_compared.insert(label(ip), format!("not asked: {why}"));
                continue;
            }
        }
        let Some(answer) = authoritative.get(ip) else {
            continue;
        };
        if answer.status.is_definite() && answer.authoritative {
            answers.insert(*ip, record_set(answer));
        } else if answer.status.is_definite() {
            not_compared.insert(label(ip), "answered without the AA bit".into());
        } else {
            let why = answer.status.describe();
            not_compared.insert(label(ip), format!("could not ask: {why}"));
            unknown.push(format!("{}: {why}", label(ip)));
        }
    }
    let evidence: BTreeMap<String, &Vec<String>> = answers.iter().map(|(ip, set)| (label(ip), set)).collect();
    let mut groups: BTreeMap<&Vec<String>, Vec<IpAddr>> = BTreeMap::new();
    for (ip, set) in &answers {
        groups.entry(set).or_default().push(*ip);
    }
    let finding = |outcome, msg: String| {
        let f = RawFinding::new(rule::NS_CONSISTENCY, outcome, &subject, msg).evidence("answers", &evidence);
        if not_compared.is_empty() {
            f
        } else {
            f.evidence("not_compared", &not_compared)
        }
    };
    if groups.len() > 1 {
        let largest = groups.values().map(Vec::len).max().unwrap_or(0);
        let majority: Vec<&Vec<String>> = groups
            .iter()
            .filter(|(_, ips)| ips.len() == largest)
            .map(|(set, _)| *set)
            .collect();
        let odd: Vec<String> = if majority.len() == 1 {
            groups
                .iter()
                .filter(|(set, _)| **set != majority[0])
                .flat_map(|(set, ips)| ips.iter().map(move |ip| format!("{} answers {}", label(ip), show(set))))
                .collect()
        } else {
            groups
                .iter()
                .flat_map(|(set, ips)| ips.iter().map(move |ip| format!("{} answers {}", label(ip), show(set))))
                .collect()
        };
        let consensus = if majority.len() == 1 {
            format!(" (the others: {})", show(majority[0]))
        } else {
            String::new()
        };
        return finding(
            Outcome::Fail,
            format!(
                "The authoritative servers disagree on the {what} records at {name}: {}{consensus}. A server with a different answer is out of sync or has been tampered with.",
                odd.join("; ")
            ),
        )
        .remediation(format!(
            "Find out which answer is right and make every server serve it: re-transfer the zone to the servers that differ (or fix it on the primary). If nobody made the different record, treat it as a possible compromise of that server or of your DNS provider account, and check `{name}. IN {rtype}` on each server again."
        ));
    }
    if !unknown.is_empty() {
        return finding(
            Outcome::Indeterminate,
            format!(
                "Could not ask every authoritative server for {subject}: {}.",
                unknown.join("; ")
            ),
        );
    }
    if answers.len() < 2 {
        let outcome = if single {
            Outcome::NotApplicable
        } else {
            Outcome::Indeterminate
        };
        return finding(
            outcome,
            format!(
                "{} server(s) answered with authority: nothing to compare.",
                answers.len()
            ),
        );
    }
    let set = answers.values().next().cloned().unwrap_or_default();
    finding(
        Outcome::Pass,
        format!("All {} authoritative servers answer {}.", answers.len(), show(&set)),
    )
}

/// A definite answer as a comparable, sorted set of presentation strings
/// (CNAMEs first, in order). NODATA and NXDOMAIN are both the empty set.
fn record_set(answer: &Answer) -> Vec<String> {
    let mut records: Vec<String> = answer.records.iter().map(present).collect();
    records.sort();
    let mut out: Vec<String> = answer.cname_chain.iter().map(|t| format!("CNAME {t}")).collect();
    out.extend(records);
    out
}

fn present(rd: &RData) -> String {
    match rd {
        RData::Mx { preference, exchange } => {
            format!("{preference} {}", if exchange.is_empty() { "." } else { exchange })
        }
        RData::Txt { strings } | RData::Spf { strings } => {
            strings.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(" ")
        }
        RData::A { address } => address.to_string(),
        RData::Aaaa { address } => address.to_string(),
        RData::Ns { target } | RData::Cname { target } | RData::Ptr { target } => target.clone(),
        RData::Soa { serial, mname, .. } => format!("{mname} serial {serial}"),
        other => other.data_text().unwrap_or_default(),
    }
}

fn show(set: &[String]) -> String {
    if set.is_empty() {
        "no records".into()
    } else {
        set.join(", ")
    }
}

mod delegation;
mod unread;

use unread::Unread;
#[cfg(test)]
mod tests;
