//! The policy receivers say they saw (`policy_published`) against the
//! DMARC record mailwarden scanned at that time: "receivers saw a policy
//! you never published" (a stale cache, a reporter's bug, or a record that
//! changed between scans). Pure: the caller finds the scan in force.
//!
//! RFC 7489 §7.2.1.1 (aggregate report format) defines `policy_published`
//! as "The DMARC policy that applied to the messages in this report";
//! absent tags take their §6.3 defaults ("adkim ... default is 'r'",
//! "pct ... default is 100", `sp` "if absent, the policy specified by the
//! 'p' tag ... MUST be applied") before the comparison.

use std::collections::{BTreeMap, BTreeSet};

use mailwarden_ingest::aggregate::PolicyPublished;
use mailwarden_records::dmarc;
use serde::Serialize;

/// A policy with the defaults applied: p, sp, adkim, aspf, pct.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Effective {
    p: String,
    sp: String,
    adkim: String,
    aspf: String,
    pct: u8,
}

impl Effective {
    pub fn from_reported(p: &PolicyPublished) -> Effective {
        let policy = p.p.clone().unwrap_or_else(|| "none".into());
        Effective {
            sp: p.sp.clone().unwrap_or_else(|| policy.clone()),
            p: policy,
            adkim: p.adkim.clone().unwrap_or_else(|| "r".into()),
            aspf: p.aspf.clone().unwrap_or_else(|| "r".into()),
            pct: p.pct.unwrap_or(100),
        }
    }

    /// The published record's policy; `None` when it has no valid `p=`.
    pub fn from_record(text: &str) -> Option<Effective> {
        let r = dmarc::parse(text.as_bytes());
        let policy = r.p?.as_str().to_string();
        Some(Effective {
            sp: r.sp.map_or_else(|| policy.clone(), |s| s.as_str().to_string()),
            p: policy,
            adkim: r.adkim.map_or("r", |a| a.as_str()).to_string(),
            aspf: r.aspf.map_or("r", |a| a.as_str()).to_string(),
            pct: r.pct.unwrap_or(100),
        })
    }

    pub fn render(&self) -> String {
        format!(
            "p={} sp={} adkim={} aspf={} pct={}",
            self.p, self.sp, self.adkim, self.aspf, self.pct
        )
    }
}

/// One policy as receivers reported it, against the scan in force then.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicySeen {
    /// As the receivers saw it, defaults applied.
    pub seen: String,
    pub reports: usize,
    pub reporters: BTreeSet<String>,
    /// The first and last reported period, seconds since the epoch.
    pub first: i64,
    pub last: i64,
    /// The DMARC policy of the scan in force then (defaults applied), when
    /// there was one.
    pub published: Option<String>,
    /// `Some(false)`: "receivers saw a policy you never published";
    /// `None`: no scan before the reports (nothing to compare with).
    pub matches: Option<bool>,
}

/// One report's view: who, when, what policy, and the DMARC record of
/// the scan in force at the end of its period (`None`: no scan then).
pub struct Sighting<'a> {
    pub reporter: &'a str,
    pub begin: i64,
    pub end: i64,
    pub policy: &'a PolicyPublished,
    pub scanned_record: Option<Option<&'a str>>,
}

/// Group the sightings by (policy seen, policy published then).
pub fn compare(sightings: &[Sighting<'_>]) -> Vec<PolicySeen> {
    let mut groups: BTreeMap<(Effective, Option<Option<Effective>>), PolicySeen> = BTreeMap::new();
    for s in sightings {
        let seen = Effective::from_reported(s.policy);
        let published = s.scanned_record.map(|r| r.and_then(Effective::from_record));
        let matches = published.as_ref().map(|p| p.as_ref() == Some(&seen));
        let entry = groups
            .entry((seen.clone(), published.clone()))
            .or_insert_with(|| PolicySeen {
                seen: seen.render(),
                reports: 0,
                reporters: BTreeSet::new(),
                first: s.begin,
                last: s.end,
                published: published
                    .as_ref()
                    .map(|p| p.as_ref().map_or_else(|| "(no DMARC policy)".into(), Effective::render)),
                matches,
            });
        entry.reports += 1;
        entry.reporters.insert(s.reporter.to_string());
        entry.first = entry.first.min(s.begin);
        entry.last = entry.last.max(s.end);
    }
    groups.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reported(p: &str, pct: Option<u8>) -> PolicyPublished {
        PolicyPublished {
            domain: "example.com".into(),
            adkim: None,
            aspf: Some("r".into()),
            p: Some(p.into()),
            sp: None,
            np: None,
            pct,
            fo: None,
            testing: None,
            discovery_method: None,
        }
    }

    #[test]
    fn defaults_are_applied_before_comparing() {
        let seen = Effective::from_reported(&reported("none", Some(100)));
        assert_eq!(
            Some(seen),
            Effective::from_record("v=DMARC1; p=none; rua=mailto:d@example.com")
        );
        assert_eq!(Effective::from_record("v=DMARC1; rua=mailto:d@example.com"), None);
    }

    #[test]
    fn a_policy_never_published_is_told_apart_from_one_not_scanned() {
        let none = reported("none", None);
        let reject = reported("reject", None);
        let record = "v=DMARC1; p=none";
        let sightings = [
            Sighting {
                reporter: "google.com",
                begin: 10,
                end: 20,
                policy: &none,
                scanned_record: Some(Some(record)),
            },
            Sighting {
                reporter: "yahoo",
                begin: 20,
                end: 30,
                policy: &none,
                scanned_record: Some(Some(record)),
            },
            Sighting {
                reporter: "stale.example",
                begin: 20,
                end: 30,
                policy: &reject,
                scanned_record: Some(Some(record)),
            },
            Sighting {
                reporter: "early",
                begin: 1,
                end: 2,
                policy: &none,
                scanned_record: None,
            },
        ];
        let out = compare(&sightings);
        let view: Vec<_> = out.iter().map(|p| (p.seen.as_str(), p.reports, p.matches)).collect();
        assert_eq!(
            view,
            vec![
                ("p=none sp=none adkim=r aspf=r pct=100", 1, None),
                ("p=none sp=none adkim=r aspf=r pct=100", 2, Some(true)),
                ("p=reject sp=reject adkim=r aspf=r pct=100", 1, Some(false)),
            ]
        );
        assert_eq!((out[1].first, out[1].last), (10, 30));
    }
}
