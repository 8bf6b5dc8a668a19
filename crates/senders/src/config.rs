//! The domain's actual configuration, from the latest stored scan (its
//! DNS transcript), joined with the sender inventory: which networks the
//! SPF record authorises (includes, `a` and `mx` followed through the
//! answers the scan recorded, no new lookups), which DKIM selectors the
//! scan found, and the joins of issue 14: "in SPF but never seen", "seen
//! passing but not in SPF", "seen only with DKIM", selectors seen vs
//! published.
//!
//! RFC 7208 §4.6.2: "If no mechanism or modifier matches, the default
//! result is 'neutral'"; only a `+` (pass) mechanism authorises a host, so
//! `~`, `-` and `?` terms add no networks. §4.6.4 caps the lookups at 10;
//! the walk stops at that depth too.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use mailwarden_model::{Observation, QueryKey, RData, RType};
use mailwarden_records::spf::{self, Mechanism, Qualifier};
use serde::Serialize;

use crate::inventory::{Inventory, Sender, Services, Source};

const MAX_DEPTH: usize = 10;

/// One top-level term of the domain's SPF record and what it authorises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpfTerm {
    /// As written, e.g. `include:_spf.google.com`.
    pub term: String,
    #[serde(skip)]
    pub networks: Vec<IpNet>,
    /// False when some of it could not be followed in the stored answers
    /// (a lookup the scan did not record, a macro, `exists`, `ptr`).
    pub complete: bool,
    /// The known service an `include:` names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

/// What the latest scan says the domain publishes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Config {
    pub scanned_at: Option<String>,
    pub spf_record: Option<String>,
    pub spf_terms: Vec<SpfTerm>,
    /// DKIM selectors with a key at `selector._domainkey.DOMAIN` in the scan.
    pub dkim_selectors: Vec<String>,
    pub dmarc_record: Option<String>,
}

impl Config {
    /// Read the configuration of `domain` from a stored scan.
    pub fn from_observation(obs: &Observation, domain: &str, services: &Services) -> Config {
        let spf_record = spf_text(obs, domain);
        let spf_terms = spf_record
            .as_deref()
            .map(|text| top_terms(obs, domain, text, services))
            .unwrap_or_default();
        let suffix = format!("._domainkey.{domain}");
        let mut dkim_selectors: Vec<String> = obs
            .dns
            .iter()
            .filter(|(k, a)| k.rtype == RType::Txt && k.name.ends_with(&suffix) && has_dkim_key(&a.records))
            .map(|(k, _)| k.name[..k.name.len() - suffix.len()].to_string())
            .collect();
        dkim_selectors.sort();
        dkim_selectors.dedup();
        Config {
            scanned_at: obs.started_at.clone(),
            spf_record,
            spf_terms,
            dkim_selectors,
            dmarc_record: dmarc_record(obs, domain),
        }
    }

    /// Whether the SPF record authorises `ip`: `Some(true)` when a term's
    /// networks hold it, `Some(false)` when every term was followed
    /// completely and none does, `None` when that cannot be told offline.
    pub fn authorises(&self, ip: IpAddr) -> Option<bool> {
        self.spf_record.as_ref()?;
        if self
            .spf_terms
            .iter()
            .any(|t| t.networks.iter().any(|n| n.contains(&ip)))
        {
            return Some(true);
        }
        self.spf_terms.iter().all(|t| t.complete).then_some(false)
    }
}

/// The DMARC record at `_dmarc.DOMAIN` in a stored scan.
pub fn dmarc_record(obs: &Observation, domain: &str) -> Option<String> {
    txt_records(obs, &format!("_dmarc.{domain}"))
        .into_iter()
        .find(|t| mailwarden_records::dmarc::is_dmarc_record(t.as_bytes()))
}

fn txt_records(obs: &Observation, name: &str) -> Vec<String> {
    obs.dns
        .get(&QueryKey::new(name, RType::Txt))
        .map(|a| {
            a.records
                .iter()
                .filter_map(RData::txt_bytes)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn spf_text(obs: &Observation, domain: &str) -> Option<String> {
    txt_records(obs, domain)
        .into_iter()
        .find(|t| spf::is_spf_record(t.as_bytes()))
}

fn has_dkim_key(records: &[RData]) -> bool {
    records.iter().filter_map(RData::txt_bytes).any(|b| {
        let t = String::from_utf8_lossy(&b).to_ascii_lowercase();
        t.contains("p=") && !t.replace(' ', "").contains("p=;") && !t.trim_end().ends_with("p=")
    })
}

fn top_terms(obs: &Observation, domain: &str, text: &str, services: &Services) -> Vec<SpfTerm> {
    let parsed = spf::parse(text.as_bytes());
    let mut out = Vec::new();
    for d in parsed.record.directives() {
        if d.qualifier != Qualifier::Pass || d.mechanism == Mechanism::All {
            continue;
        }
        let mut networks = Vec::new();
        let complete = mechanism_networks(obs, domain, &d.mechanism, 1, &mut networks);
        let service = match &d.mechanism {
            Mechanism::Include { domain } => services.by_spf_include(&domain.text).map(str::to_string),
            _ => None,
        };
        out.push(SpfTerm {
            term: d.text.clone(),
            networks,
            complete,
            service,
        });
    }
    if let Some(target) = parsed.record.redirect() {
        let mut networks = Vec::new();
        let complete = !target.needs_message() && record_networks(obs, &target.text, 1, &mut networks);
        out.push(SpfTerm {
            term: format!("redirect={}", target.text),
            networks,
            complete,
            service: services.by_spf_include(&target.text).map(str::to_string),
        });
    }
    out
}

/// The networks of the SPF record at `domain`; false when incomplete.
fn record_networks(obs: &Observation, domain: &str, depth: usize, out: &mut Vec<IpNet>) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    let Some(text) = spf_text(obs, domain) else {
        return false;
    };
    let parsed = spf::parse(text.as_bytes());
    let mut complete = true;
    for d in parsed.record.directives() {
        if d.qualifier == Qualifier::Pass && d.mechanism != Mechanism::All {
            complete &= mechanism_networks(obs, domain, &d.mechanism, depth, out);
        }
    }
    if let Some(target) = parsed.record.redirect() {
        complete &= !target.needs_message() && record_networks(obs, &target.text, depth + 1, out);
    }
    complete
}

fn mechanism_networks(obs: &Observation, current: &str, m: &Mechanism, depth: usize, out: &mut Vec<IpNet>) -> bool {
    let target = |spec: &Option<mailwarden_records::spf::MacroString>| match spec {
        Some(s) if s.needs_message() => None,
        Some(s) => Some(s.text.trim_end_matches('.').to_ascii_lowercase()),
        None => Some(current.to_string()),
    };
    match m {
        Mechanism::Ip4 { network } => {
            out.push(IpNet::V4(*network));
            true
        }
        Mechanism::Ip6 { network } => {
            out.push(IpNet::V6(*network));
            true
        }
        Mechanism::Include { domain } if !domain.needs_message() => {
            record_networks(obs, &domain.text.to_ascii_lowercase(), depth + 1, out)
        }
        Mechanism::A { domain, cidr } => match target(domain) {
            Some(name) => addresses(obs, &name, cidr.v4, cidr.v6, out),
            None => false,
        },
        Mechanism::Mx { domain, cidr } => {
            let Some(name) = target(domain) else { return false };
            let Some(answer) = obs.dns.get(&QueryKey::new(&name, RType::Mx)) else {
                return false;
            };
            answer.records.iter().fold(true, |ok, r| match r {
                RData::Mx { exchange, .. } if !exchange.is_empty() => {
                    addresses(obs, exchange, cidr.v4, cidr.v6, out) && ok
                }
                _ => ok,
            })
        }
        // exists, ptr, macros: depend on the message; cannot be followed offline.
        _ => false,
    }
}

fn addresses(obs: &Observation, name: &str, v4: u8, v6: u8, out: &mut Vec<IpNet>) -> bool {
    let mut complete = true;
    for rtype in [RType::A, RType::Aaaa] {
        match obs.dns.get(&QueryKey::new(name, rtype)) {
            Some(answer) => out.extend(answer.records.iter().filter_map(|r| match r {
                RData::A { address } => ipnet::Ipv4Net::new(*address, v4).ok().map(IpNet::V4),
                RData::Aaaa { address } => ipnet::Ipv6Net::new(*address, v6).ok().map(IpNet::V6),
                _ => None,
            })),
            None => complete = false,
        }
    }
    complete
}

/// The joins of the inventory with the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Joins {
    /// SPF terms no reported source fell under (candidates to remove).
    pub in_spf_never_seen: Vec<String>,
    /// Sources whose mail passed DMARC or SPF although the SPF record does
    /// not cover them: they work by accident (another domain's SPF, DKIM).
    pub seen_passing_not_in_spf: Vec<String>,
    /// Senders that only ever pass with DKIM (SPF never aligned).
    pub seen_only_with_dkim: Vec<String>,
    /// Selectors seen signing for the domain, with a key in the scan.
    pub selectors_seen_and_published: Vec<String>,
    /// Selectors seen in reports with no key found by the scan (scan with
    /// `--dkim-selector` to audit them).
    pub selectors_seen_not_published: Vec<String>,
    /// Selectors with a key in the scan that no report showed in use.
    pub selectors_published_never_seen: Vec<String>,
}

pub fn joins(config: &Config, inventory: &Inventory, senders: &[Sender]) -> Joins {
    let sources: Vec<&Source> = inventory.sources.values().collect();
    let ips: Vec<IpAddr> = inventory.sources.keys().copied().collect();
    let in_spf_never_seen = config
        .spf_terms
        .iter()
        .filter(|t| {
            let by_network = ips.iter().any(|ip| t.networks.iter().any(|n| n.contains(ip)));
            let by_service = t
                .service
                .as_ref()
                .is_some_and(|name| senders.iter().any(|s| &s.name == name));
            // Only a term that was followed completely can be called unused.
            !by_network && !by_service && (t.complete || t.service.is_some())
        })
        .map(|t| t.term.clone())
        .collect();
    let seen_passing_not_in_spf = sources
        .iter()
        .filter(|s| s.spf_pass > 0 && config.authorises(s.ip.parse().expect("stored as an IP")) == Some(false))
        .map(|s| s.ip.clone())
        .collect();
    let seen_only_with_dkim = senders
        .iter()
        .filter(|s| s.dmarc_pass > 0 && s.sources.iter().all(|x| x.spf_aligned == 0))
        .map(|s| s.name.clone())
        .collect();
    let seen: BTreeMap<String, (u64, u64)> = inventory.own_selectors();
    let published = &config.dkim_selectors;
    Joins {
        in_spf_never_seen,
        seen_passing_not_in_spf,
        seen_only_with_dkim,
        selectors_seen_and_published: seen.keys().filter(|s| published.contains(s)).cloned().collect(),
        selectors_seen_not_published: seen.keys().filter(|s| !published.contains(s)).cloned().collect(),
        selectors_published_never_seen: published.iter().filter(|s| !seen.contains_key(*s)).cloned().collect(),
    }
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Answer, Proof, Transcript};

    use super::*;

    fn txt(dns: &mut Transcript, name: &str, text: &str) {
        let a = Answer::with_records(
            vec![RData::Txt {
                strings: vec![text.to_string()],
            }],
            Proof::Insecure,
        );
        dns.insert(QueryKey::new(name, RType::Txt), a);
    }

    fn observation(dns: Transcript) -> Observation {
        Observation {
            dns,
            ..Observation::new("example.com")
        }
    }

    fn config() -> Config {
        let mut dns = Transcript::default();
        txt(
            &mut dns,
            "example.com",
            "v=spf1 ip4:192.0.2.0/24 include:_spf.google.com include:spf.unused.example ~all",
        );
        txt(&mut dns, "spf.unused.example", "v=spf1 ip4:198.51.100.0/24 -all");
        txt(&mut dns, "s1._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIBIjAN");
        txt(&mut dns, "old._domainkey.example.com", "v=DKIM1; k=rsa; p=MIIBIjAO");
        txt(&mut dns, "gone._domainkey.example.com", "v=DKIM1; p=");
        Config::from_observation(&observation(dns), "example.com", &Services::builtin())
    }

    #[test]
    fn spf_terms_follow_includes_through_the_stored_answers() {
        let c = config();
        let terms: Vec<_> = c.spf_terms.iter().map(|t| (t.term.as_str(), t.complete)).collect();
        assert_eq!(
            terms,
            vec![
                ("ip4:192.0.2.0/24", true),
                ("include:_spf.google.com", false),
                ("include:spf.unused.example", true)
            ]
        );
        assert_eq!(c.spf_terms[1].service.as_deref(), Some("Google Workspace"));
        assert_eq!(c.authorises("198.51.100.7".parse().unwrap()), Some(true));
        // Google's include was not recorded: an outside address is unknown, not refused.
        assert_eq!(c.authorises("203.0.113.1".parse().unwrap()), None);
        assert_eq!(
            c.dkim_selectors,
            vec!["old", "s1"],
            "a revoked key (p=) is not published"
        );
    }

    #[test]
    fn joins_name_unused_terms_unlisted_passing_sources_and_selectors() {
        use mailwarden_ingest::aggregate::{DkimResult, SpfResult};
        let c = config();
        let mut inv = Inventory::new("example.com");
        let d = [DkimResult {
            domain: "example.com".into(),
            selector: Some("s1".into()),
            result: "pass".into(),
            human_result: None,
        }];
        let new_d = [DkimResult {
            selector: Some("s2024".into()),
            ..d[0].clone()
        }];
        let s = [SpfResult {
            domain: "example.com".into(),
            scope: Some("mfrom".into()),
            result: "pass".into(),
        }];
        let row = |ip: &str, dk: &'static [DkimResult], sp: &'static [SpfResult]| crate::inventory::Row {
            ip: ip.parse().unwrap(),
            count: 3,
            header_from: "example.com",
            envelope_from: None,
            dkim: dk,
            spf: sp,
            adkim: None,
            aspf: None,
            reporter: "r",
            begin: 0,
            end: 1,
        };
        let d: &'static [DkimResult] = Box::leak(Box::new(d));
        let new_d: &'static [DkimResult] = Box::leak(Box::new(new_d));
        let s: &'static [SpfResult] = Box::leak(Box::new(s));
        inv.add(&row("192.0.2.10", d, s));
        inv.add(&row("203.0.113.5", new_d, &[]));
        let senders = inv.senders(&Services::builtin(), |src| c.authorises(src.ip.parse().unwrap()));
        let j = joins(&c, &inv, &senders);
        assert_eq!(
            j.in_spf_never_seen,
            vec!["include:_spf.google.com", "include:spf.unused.example"]
        );
        assert!(j.seen_passing_not_in_spf.is_empty());
        assert_eq!(j.selectors_seen_and_published, vec!["s1"]);
        assert_eq!(j.selectors_seen_not_published, vec!["s2024"]);
        assert_eq!(j.selectors_published_never_seen, vec!["old"]);
    }
}
