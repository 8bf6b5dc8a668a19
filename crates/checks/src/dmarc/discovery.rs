//! Where receivers find the DMARC record of a domain: at `_dmarc.<domain>`,
//! else at the organisational domain, found two ways.
//!
//! - RFC 7489 §3.2 and §6.6.3: the organisational domain from the public
//!   suffix list ("Search the public suffix list for the name that matches
//!   the largest number of labels found in the subject DNS domain. Let that
//!   number be "x"." ... "prefixing to it the "x+1"th label from the
//!   subject domain. This new name is the Organizational Domain.").
//! - RFC 9989 §4.10: the DNS tree walk, querying `_dmarc` at the domain
//!   and its parents, at most eight names, stopping at `psd=n`/`psd=y`.
//!
//! Both are computed, so the audit can say which record applied, from
//! where, why, and whether receivers of the two generations disagree.

use mailwarden_model::{DnsView, RType, Status};
use mailwarden_records::dmarc::{self, Psd};
use serde::Serialize;

use super::{Applied, RawRecord};

/// RFC 9989 §4.10: the tree walk makes at most this many queries ("a
/// shortcut is built into the process so that Author Domains with more
/// than eight labels do not result in more than eight DNS queries").
pub const MAX_WALK_QUERIES: usize = 8;

/// How the applied record was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Published for the domain itself.
    Own,
    /// RFC 9989 DNS tree walk.
    TreeWalk,
    /// RFC 7489 public suffix list.
    PublicSuffixList,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Own => "own",
            Method::TreeWalk => "tree-walk",
            Method::PublicSuffixList => "public-suffix-list",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Method::Own => "its own _dmarc name",
            Method::TreeWalk => "the RFC 9989 DNS tree walk",
            Method::PublicSuffixList => "the RFC 7489 public suffix list",
        }
    }
}

/// One `_dmarc` query and what it returned.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// The domain (the query was `_dmarc.<domain>` TXT).
    pub domain: String,
    /// The DNS outcome, described.
    pub status: String,
    #[serde(skip)]
    pub definite: bool,
    /// Records starting with exactly `v=DMARC1`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dmarc: Vec<RawRecord>,
    /// Records that look like DMARC but have a wrong version.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lookalikes: Vec<RawRecord>,
    /// SPF records found at the `_dmarc` name.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub spf: Vec<RawRecord>,
    /// `psd` of the single DMARC record, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub psd: Option<Psd>,
    /// Why the walk stopped here, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
}

impl Step {
    fn lookup(view: &DnsView<'_>, domain: &str) -> Self {
        let answer = view.get(&format!("_dmarc.{domain}"), RType::Txt);
        let all: Vec<RawRecord> = answer.records.iter().filter_map(RawRecord::from_rdata).collect();
        let dmarc: Vec<RawRecord> = all
            .iter()
            .filter(|r| dmarc::is_dmarc_record(&r.bytes))
            .cloned()
            .collect();
        let psd = match dmarc.as_slice() {
            [one] => dmarc::parse(&one.bytes).psd,
            _ => None,
        };
        Self {
            domain: domain.to_string(),
            status: answer.status.describe(),
            definite: answer.status.is_definite(),
            lookalikes: all
                .iter()
                .filter(|r| dmarc::looks_like_dmarc(&r.bytes))
                .cloned()
                .collect(),
            spf: all
                .iter()
                .filter(|r| {
                    mailwarden_records::spf::is_spf_record(&r.bytes)
                        || mailwarden_records::spf::looks_like_spf(&r.bytes)
                })
                .cloned()
                .collect(),
            dmarc,
            psd,
            stopped: None,
        }
    }

    /// The one DMARC record, when exactly one is published (several are
    /// all discarded).
    pub fn single(&self) -> Option<&RawRecord> {
        match self.dmarc.as_slice() {
            [one] => Some(one),
            _ => None,
        }
    }
}

/// The names the RFC 9989 tree walk queries (without `_dmarc`), starting
/// with the domain itself. RFC 9989 §4.10 step 4: "If x < 8, remove the
/// left-most (highest-numbered) label from the subject domain. If x >= 8,
/// remove the left-most (highest-numbered) labels from the subject domain
/// until 7 labels remain."
pub fn walk_names(domain: &str) -> Vec<String> {
    let labels: Vec<&str> = domain.split('.').filter(|l| !l.is_empty()).collect();
    let mut names = vec![domain.to_string()];
    let mut x = labels.len();
    while x > 1 {
        x = if x >= MAX_WALK_QUERIES {
            MAX_WALK_QUERIES - 1
        } else {
            x - 1
        };
        names.push(labels[labels.len() - x..].join("."));
    }
    names
}

pub use crate::facts::organisational_domain_psl;

/// Both discoveries for one domain.
#[derive(Debug, Clone)]
pub struct Discovery {
    pub domain: String,
    /// `_dmarc.<domain>` itself (also the first step of the walk).
    pub own: Step,
    /// The RFC 9989 tree walk, in query order.
    pub walk: Vec<Step>,
    /// The RFC 7489 organisational domain.
    pub psl_org: String,
    /// `_dmarc.<psl_org>`, when it differs from the domain.
    pub psl_step: Option<Step>,
    /// `_dmarc.<tree-walk organisational domain>`, when the walk skipped it.
    pub org_step: Option<Step>,
}

impl Discovery {
    pub fn run(view: &DnsView<'_>, domain: &str) -> Self {
        let own = Step::lookup(view, domain);
        let psl_org = organisational_domain_psl(domain);
        let mut d = Self {
            domain: domain.to_string(),
            own: own.clone(),
            walk: Vec::new(),
            psl_org: psl_org.clone(),
            psl_step: None,
            org_step: None,
        };
        if !own.definite {
            d.walk.push(own);
            return d;
        }
        for (i, name) in walk_names(domain).into_iter().enumerate() {
            let mut step = if i == 0 { own.clone() } else { Step::lookup(view, &name) };
            let stop = match (i, step.single().map(|_| step.psd)) {
                (0, Some(Some(Psd::No))) => Some("psd=n at the domain itself: it is its own organisational domain"),
                (1.., Some(Some(Psd::No))) => Some("psd=n: this is the organisational domain"),
                (1.., Some(Some(Psd::Yes))) => {
                    Some("psd=y: a public suffix domain; the organisational domain is one label below")
                }
                _ => None,
            };
            step.stopped = stop.map(str::to_string);
            // Not asked yet: the collect fixpoint fetches it and judges
            // again, so names above it are asked only if the walk goes on.
            let pending = step.status == Status::NotCollected.describe();
            d.walk.push(step);
            if stop.is_some() || pending {
                break;
            }
        }
        if psl_org != domain {
            d.psl_step = Some(Step::lookup(view, &psl_org));
        }
        let org = d.walk_org();
        if org != domain && !d.walk.iter().any(|s| s.domain == org) {
            d.org_step = Some(Step::lookup(view, &org));
        }
        d
    }

    /// True when every lookup of both discoveries was answered.
    pub fn complete(&self) -> bool {
        self.walk.iter().all(|s| s.definite)
            && self.psl_step.as_ref().is_none_or(|s| s.definite)
            && self.org_step.as_ref().is_none_or(|s| s.definite)
    }

    /// The failed lookups, as `name/TXT status`.
    pub fn failures(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.walk
            .iter()
            .chain(&self.psl_step)
            .chain(&self.org_step)
            .filter(|s| !s.definite)
            .filter(|s| seen.insert(s.domain.clone()))
            .map(|s| format!("_dmarc.{}/TXT {}", s.domain, s.status))
            .collect()
    }

    /// The RFC 9989 organisational domain (§4.10.2): from the longest name
    /// to the shortest with a valid record, "If a valid DMARC Policy Record
    /// contains the "psd" tag set to "n" ("psd=n"), this is the
    /// Organizational Domain" ... "If a valid DMARC Policy Record, other
    /// than the one for the domain where the tree walk started, contains
    /// the "psd" tag set to "y" ("psd=y"), the Organizational Domain is the
    /// domain one label below this one" ... "Otherwise, select the DMARC
    /// Policy Record found at the name with the fewest number of labels."
    /// ... "If this process does
    /// not determine the Organizational Domain, then the initial target
    /// domain is the Organizational Domain."
    pub fn walk_org(&self) -> String {
        let labels: Vec<&str> = self.domain.split('.').collect();
        let mut fewest = None;
        for (i, step) in self.walk.iter().enumerate() {
            if step.single().is_none() {
                continue;
            }
            match step.psd {
                Some(Psd::No) => return step.domain.clone(),
                Some(Psd::Yes) if i > 0 => {
                    let n = step.domain.split('.').count() + 1;
                    return labels[labels.len().saturating_sub(n)..].join(".");
                }
                _ => fewest = Some(step.domain.clone()),
            }
        }
        fewest.unwrap_or_else(|| self.domain.clone())
    }

    fn step(&self, domain: &str) -> Option<&Step> {
        self.walk.iter().chain(&self.org_step).find(|s| s.domain == domain)
    }

    /// The step whose record applies by RFC 9989 §4.10.1: "The DMARC Policy
    /// Record to be applied to an email message will be the record found at
    /// any of the following locations, listed from highest preference to
    /// lowest: The Author Domain; The Organizational Domain of the Author
    /// Domain; The Public Suffix Domain of the Author Domain".
    pub fn source_9989(&self) -> Option<&Step> {
        if self.own.single().is_some() {
            return Some(&self.own);
        }
        let org = self.walk_org();
        if let Some(step) = self.step(&org).filter(|s| s.single().is_some()) {
            return Some(step);
        }
        self.walk
            .iter()
            .find(|s| s.single().is_some() && s.psd == Some(Psd::Yes))
    }

    /// The step whose record applies by RFC 7489 §6.6.3: the domain's own
    /// (several end discovery: step 5), else the organisational domain's.
    pub fn source_7489(&self) -> Option<&Step> {
        if self.own.single().is_some() {
            return Some(&self.own);
        }
        if !self.own.dmarc.is_empty() {
            return None;
        }
        self.psl_step.as_ref().filter(|s| s.single().is_some())
    }

    /// The record receivers apply: RFC 9989's choice, else RFC 7489's.
    pub fn applied(&self) -> Option<Applied> {
        let (step, method) = match (self.source_9989(), self.source_7489()) {
            (Some(s), _) if s.domain == self.domain => (s, Method::Own),
            (Some(s), _) => (s, Method::TreeWalk),
            (None, Some(s)) => (s, Method::PublicSuffixList),
            (None, None) => return None,
        };
        let raw = step.single()?;
        Some(Applied {
            source: step.domain.clone(),
            record: dmarc::parse(&raw.bytes),
            strings: raw.strings.clone(),
            own: step.domain == self.domain,
            method,
            is_org: self.walk_org() == self.domain,
        })
    }
}
