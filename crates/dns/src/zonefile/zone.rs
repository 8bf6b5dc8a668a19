//! One loaded zone and the authoritative part of the lookup algorithm
//! (RFC 1034 §4.3.2 step 3, with RFC 4592 wildcards).

use std::collections::{BTreeMap, BTreeSet};

use mailwarden_model::{RData, RType};

use super::parser::{Record, is_at_or_below};

/// The records of one type at one name.
#[derive(Debug, Clone)]
struct RRset {
    /// The smallest TTL of the records (they should agree; RFC 2181 §5.2).
    ttl: u32,
    records: Vec<RData>,
}

/// What one zone says about a name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ZoneAnswer<'z> {
    Records {
        records: &'z [RData],
        ttl: u32,
    },
    /// A CNAME to follow (possibly synthesised from a wildcard).
    Alias {
        target: &'z str,
        ttl: u32,
    },
    NoData,
    NxDomain,
    /// The name is at or below a zone cut this zone does not serve.
    Delegated {
        cut: &'z str,
    },
}

/// One zone file's data.
#[derive(Debug)]
pub(super) struct Zone {
    pub(super) apex: String,
    /// min(SOA TTL, SOA MINIMUM), the TTL of negative answers (RFC 2308 §5).
    negative_ttl: Option<u32>,
    nodes: BTreeMap<String, BTreeMap<u16, RRset>>,
    /// Every name that exists: owners, and the empty non-terminals between
    /// them and the apex (RFC 8020: such names are not NXDOMAIN).
    names: BTreeSet<String>,
    /// Owners of NS records other than the apex: zone cuts.
    cuts: BTreeSet<String>,
}

impl Zone {
    pub(super) fn new(apex: String, records: Vec<Record>) -> Self {
        let mut nodes: BTreeMap<String, BTreeMap<u16, RRset>> = BTreeMap::new();
        let mut names = BTreeSet::from([apex.clone()]);
        let mut cuts = BTreeSet::new();
        let mut negative_ttl = None;
        for record in records {
            if let RData::Soa { minimum, .. } = record.rdata {
                negative_ttl = Some(record.ttl.min(minimum));
            }
            if record.code == RType::Ns.code() && record.owner != apex {
                cuts.insert(record.owner.clone());
            }
            names.extend(ancestors(&record.owner, &apex).map(str::to_owned));
            let rrset = nodes
                .entry(record.owner)
                .or_default()
                .entry(record.code)
                .or_insert(RRset {
                    ttl: record.ttl,
                    records: Vec::new(),
                });
            rrset.ttl = rrset.ttl.min(record.ttl);
            // An RRset is a set: a record written twice is one record.
            if !rrset.records.contains(&record.rdata) {
                rrset.records.push(record.rdata);
            }
        }
        Self {
            apex,
            negative_ttl,
            nodes,
            names,
            cuts,
        }
    }

    pub(super) fn contains(&self, name: &str) -> bool {
        is_at_or_below(name, &self.apex)
    }

    pub(super) fn negative_ttl(&self) -> Option<u32> {
        self.negative_ttl
    }

    /// RFC 1034 §4.3.2 step 3 for a name inside this zone.
    ///
    /// "b. If a match would take us out of the authoritative data, we have
    /// a referral." The parent holds the DS of a cut (RFC 4035 §2.4) and
    /// may hold glue addresses for it; anything else is the child's.
    pub(super) fn lookup(&self, name: &str, code: u16) -> ZoneAnswer<'_> {
        if let Some(cut) = self.cut_at_or_above(name) {
            let from_parent = (cut == name && code == RType::Ds.code())
                || (matches!(code, 1 | 28) && self.rrset(name, code).is_some());
            if !from_parent {
                return ZoneAnswer::Delegated { cut };
            }
            return self.rrset(name, code).map_or(ZoneAnswer::NoData, records);
        }
        if self.names.contains(name) {
            return self.at_node(name, code);
        }
        self.wildcard(name, code)
    }

    /// "a. If the whole of QNAME is matched, we have found the node. If the
    /// data at the node is a CNAME, and QTYPE doesn't match CNAME, copy the
    /// CNAME RR into the answer section of the response, change QNAME to
    /// the canonical name in the CNAME RR, and go back to step 1."
    fn at_node(&self, node: &str, code: u16) -> ZoneAnswer<'_> {
        if code != RType::Cname.code()
            && let Some(cname) = self.rrset(node, RType::Cname.code())
            && let Some(RData::Cname { target }) = cname.records.first()
        {
            return ZoneAnswer::Alias { target, ttl: cname.ttl };
        }
        self.rrset(node, code).map_or(ZoneAnswer::NoData, records)
    }

    /// RFC 4592 §3.3.1: the wildcard at the closest encloser answers "when
    /// the query name does not exist and the closest encloser has a
    /// wildcard child"; "the owner name of the synthesized RRset is the
    /// query name". A name at or below an existing name is never matched
    /// by a wildcard higher up, because its closest encloser is lower.
    fn wildcard(&self, name: &str, code: u16) -> ZoneAnswer<'_> {
        let Some(encloser) = ancestors(name, &self.apex).skip(1).find(|a| self.names.contains(*a)) else {
            return ZoneAnswer::NxDomain;
        };
        let source = if encloser.is_empty() {
            "*".to_owned()
        } else {
            format!("*.{encloser}")
        };
        if self.names.contains(&source) {
            self.at_node(&source, code)
        } else {
            ZoneAnswer::NxDomain
        }
    }

    fn rrset(&self, name: &str, code: u16) -> Option<&RRset> {
        self.nodes.get(name)?.get(&code)
    }

    /// The zone cut closest to the apex on the way down to `name`.
    fn cut_at_or_above(&self, name: &str) -> Option<&str> {
        let path: Vec<&str> = ancestors(name, &self.apex).collect();
        path.into_iter()
            .rev()
            .find_map(|a| self.cuts.get(a).map(String::as_str))
    }
}

fn records(rrset: &RRset) -> ZoneAnswer<'_> {
    ZoneAnswer::Records {
        records: &rrset.records,
        ttl: rrset.ttl,
    }
}

/// `name` and its ancestors down to and including `apex`, nearest first.
fn ancestors<'n>(name: &'n str, apex: &'n str) -> impl Iterator<Item = &'n str> {
    let mut next = Some(name);
    std::iter::from_fn(move || {
        let current = next?;
        next = if current == apex || current.is_empty() {
            None
        } else {
            Some(current.split_once('.').map_or("", |(_, parent)| parent))
        };
        Some(current)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_walk_up_to_the_apex() {
        let up: Vec<_> = ancestors("a.b.example.com", "example.com").collect();
        assert_eq!(up, ["a.b.example.com", "b.example.com", "example.com"]);
        let up: Vec<_> = ancestors("a.b", "").collect();
        assert_eq!(up, ["a.b", "b", ""]);
    }
}
