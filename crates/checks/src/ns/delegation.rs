//! The delegation at the parent, for a zone the resolver cannot read.
//!
//! When every server a zone is delegated to refuses it, a recursive
//! resolver answers SERVFAIL for every name in it, so the SOA and NS
//! lookups of the judge fail and nothing says why. The classic cause is a
//! lame delegation (RFC 1912 §2.8: "A lame delegation exists when a
//! nameserver is delegated responsibility for providing nameservice for a
//! zone (via NS records) but is not performing nameservice for that
//! zone"; RFC 8499 §7 keeps the term). So the judge asks the parent:
//!
//! 1. the closest enclosing zone that resolves (its SOA), and its servers
//!    (NS, then A/AAAA through the resolver);
//! 2. one of those servers directly for the NS records of the child name
//!    on the way down: the referral is the delegation, with its glue
//!    (`mailwarden_dns::live` maps it to records and `Answer::glue`);
//! 3. each delegated server directly for the SOA of the delegated zone.
//!
//! Every direct question passes the egress guard and the fan-out caps.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use mailwarden_model::{Answer, DnsView, RData, RType, RawFinding, Status};

use super::{State, Unread, classify, judge_lame_at};
use crate::host_addresses::addresses_of;

/// Parent servers tried, one after the other, for the delegation.
const PARENT_SERVERS_TRIED: usize = 3;

/// The delegation of `zone` as a server of `parent` gave it.
struct Delegation {
    zone: String,
    parent: String,
    /// The parent server that answered.
    asked: IpAddr,
    /// Each delegated nameserver: its addresses (glue, else the
    /// resolver's) and, when it has none, why.
    hosts: BTreeMap<String, (Vec<IpAddr>, Option<String>)>,
}

/// What the judge reads when the resolver could not read the zone
/// (`why`): the delegation at the parent and what each delegated server
/// answered for the zone's SOA, or why the delegation could not be read.
pub(super) struct AtParent {
    why: Unread,
    delegation: Result<(Delegation, BTreeMap<IpAddr, State>), Unread>,
}

/// Read the delegation of `domain`'s zone at the parent, and ask each
/// delegated server directly.
pub(super) fn read(domain: &str, view: &DnsView<'_>, why: Unread) -> AtParent {
    let delegation = find(domain, view).map(|delegation| {
        let states: BTreeMap<IpAddr, State> = delegation
            .hosts
            .values()
            .flat_map(|(ips, _)| ips.iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(|ip| {
                (
                    ip,
                    classify(&delegation.zone, view.get_at(ip, &delegation.zone, RType::Soa)),
                )
            })
            .collect();
        (delegation, states)
    });
    AtParent { why, delegation }
}

impl AtParent {
    /// The findings for `domain`: `ns.lookup-failed`, and `ns.lame` for
    /// every server the parent delegates to.
    pub(super) fn findings(&self, domain: &str) -> Vec<RawFinding> {
        let why = &self.why;
        let (delegation, states) = match &self.delegation {
            Ok(read) => read,
            Err(more) => {
                let why = format!("{why}; the delegation at the parent could not be read either: {more}");
                return vec![super::lookup_failed(domain, why)];
            }
        };
        let note = format!(
            "{why}. The parent zone {} (asked directly at {}) delegates {} to {}.",
            delegation.parent,
            delegation.asked,
            delegation.zone,
            delegation.hosts.keys().cloned().collect::<Vec<_>>().join(", ")
        );
        let mut out = vec![super::lookup_failed(domain, note)];
        for (name, (ips, failure)) in &delegation.hosts {
            out.push(judge_lame_at(&delegation.zone, name, ips, failure.clone(), states));
        }
        out
    }
}

fn find(domain: &str, view: &DnsView<'_>) -> Result<Delegation, Unread> {
    let (parent, child) = enclosing_zone(domain, view)?;
    let servers = parent_servers(&parent, view)?;
    let mut failures = Vec::new();
    for server in servers.into_iter().take(PARENT_SERVERS_TRIED) {
        let answer = view.get_at(server, &child, RType::Ns);
        let status = answer.status.clone();
        match &answer.status {
            Status::Records => return Ok(delegation(&parent, &child, server, answer, view)),
            Status::NoData | Status::NxDomain => {
                return Err(Unread::NothingDelegated {
                    server,
                    parent,
                    child,
                    status,
                });
            }
            Status::NotCollected => return Err(Unread::NotAsked { child, server, status }),
            _ => failures.push((server, status)),
        }
    }
    Err(Unread::NoServerAnswered {
        parent,
        child,
        failures,
    })
}

/// The closest zone above `domain` whose SOA resolves, and its child on
/// the way down to `domain` (the name that should be delegated).
fn enclosing_zone(domain: &str, view: &DnsView<'_>) -> Result<(String, String), Unread> {
    let mut child = domain.to_string();
    while let Some((_, parent)) = child.split_once('.') {
        let soa = view.get(parent, RType::Soa);
        let at_apex = soa.cname_chain.is_empty() && soa.records.iter().any(|rd| matches!(rd, RData::Soa { .. }));
        match &soa.status {
            Status::Records if at_apex => return Ok((parent.to_string(), child)),
            Status::NotCollected => return Err(Unread::soa(parent, &soa.status)),
            // Not an apex, or inside the broken zone too: go up.
            _ => child = parent.to_string(),
        }
    }
    Err(Unread::NoEnclosingZone {
        domain: domain.to_string(),
    })
}

/// The addresses of the parent zone's servers, in a stable order.
fn parent_servers(parent: &str, view: &DnsView<'_>) -> Result<Vec<IpAddr>, Unread> {
    let ns = view.get(parent, RType::Ns);
    if ns.status != Status::Records {
        return Err(Unread::ns(parent, &ns.status));
    }
    let names: BTreeSet<String> = ns.records.iter().filter_map(ns_target).collect();
    let ips: Vec<IpAddr> = names
        .iter()
        .take(PARENT_SERVERS_TRIED)
        .flat_map(|name| addresses_of(view.get(name, RType::A), view.get(name, RType::Aaaa)))
        .collect();
    if ips.is_empty() {
        return Err(Unread::NoParentAddress {
            parent: parent.to_string(),
        });
    }
    Ok(ips)
}

fn delegation(parent: &str, zone: &str, asked: IpAddr, answer: &Answer, view: &DnsView<'_>) -> Delegation {
    let names: BTreeSet<String> = answer.records.iter().filter_map(ns_target).collect();
    let hosts = names
        .into_iter()
        .map(|name| {
            if let Some(glue) = answer.glue.get(&name).filter(|g| !g.is_empty()) {
                return (name, (glue.clone(), None));
            }
            let (a, aaaa) = (view.get(&name, RType::A), view.get(&name, RType::Aaaa));
            let ips = addresses_of(a, aaaa);
            let failure = [a, aaaa]
                .iter()
                .find(|x| !x.status.is_definite())
                .map(|x| x.status.describe());
            (name, (ips, failure))
        })
        .collect();
    Delegation {
        zone: zone.to_string(),
        parent: parent.to_string(),
        asked,
        hosts,
    }
}

fn ns_target(rd: &RData) -> Option<String> {
    match rd {
        RData::Ns { target } => Some(mailwarden_model::name::normalise(target)),
        _ => None,
    }
}
