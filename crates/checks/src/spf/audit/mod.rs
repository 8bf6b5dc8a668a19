//! The SPF audit: what a domain publishes, walked through its whole
//! include/redirect tree without a message.
//!
//! The walk follows what a receiver does for a client that matches nothing
//! (the worst case, RFC 7208 §4.6.4): every term up to the first `all` of
//! each record, then `redirect=`. It counts DNS-querying terms and void
//! lookups over the whole tree, and inventories the networks that get
//! `pass`. Terms whose target needs the message (`%{i}`, `%{l}` ...) are
//! reported, never expanded with invented values.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::located::{Bounded, WithDiagnostics};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use mailwarden_model::{Answer, DnsView, Outcome, RData, RType, RawFinding, Status};
use mailwarden_records::spf::{self, Diagnostic, DualCidr, Level, MacroString, Mechanism, Parsed, Qualifier};
use serde::Serialize;

mod findings;
mod record;
mod tree;
use record::*;
use tree::*;

use super::check_host::{
    MAX_DNS_TERMS, MAX_NAMES, MAX_VOID_LOOKUPS, address_of, is_checkable_domain, mx_exchange, spf_records, target_name,
};
use crate::rule;
use crate::unlooked::counted;

/// RFC 7208 §3.4 advises keeping SPF records under 450 octets so the whole
/// DNS answer fits in 512 octets of UDP.
const MAX_RECORD_OCTETS: usize = 450;
/// RFC 1035 §3.3: a character-string is at most 255 octets.
const MAX_STRING_OCTETS: usize = 255;
/// Records walked per domain, so a hostile tree cannot make us loop.
const MAX_RECORDS: usize = 50;

/// What [`judge`] reads, building no findings: the obsolete SPF RR type,
/// the domain's TXT records and, when exactly one is SPF, its tree.
pub fn ask(domain: &str, view: &DnsView<'_>) {
    let domain = mailwarden_model::name::normalise(domain);
    view.get(&domain, RType::Spf);
    let answer = view.get(&domain, RType::Txt);
    if answer.status.is_definite()
        && let [record] = Published::from_answer(answer).spf.as_slice()
    {
        Tree::walk(view, &domain, record);
    }
}

/// Audit the SPF policy of `domain`. Findings carry ids `spf.*`.
pub fn judge(domain: &str, view: &DnsView<'_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(domain);
    let mut findings = vec![type99(&domain, view)];
    let answer = view.get(&domain, RType::Txt);
    if !answer.status.is_definite() {
        let why = answer.status.describe();
        findings.push(RawFinding::new(
            rule::SPF_MISSING,
            Outcome::Indeterminate,
            &domain,
            format!("Could not tell whether {domain} publishes SPF: the TXT lookup did not succeed ({why})."),
        ));
        let failed = [FailedLookup {
            name: domain.clone(),
            rtype: RType::Txt,
            status: why,
        }];
        findings.push(lookup_failed(&domain, &failed));
        return findings;
    }
    let published = Published::from_answer(answer);
    findings.extend(version(&domain, &published));
    match published.spf.as_slice() {
        [] => findings.push(missing(&domain, &published)),
        [record] => {
            findings.push(RawFinding::new(
                rule::SPF_MISSING,
                Outcome::Pass,
                &domain,
                format!("{domain} publishes an SPF record."),
            ));
            findings.push(RawFinding::new(
                rule::SPF_MULTIPLE_RECORDS,
                Outcome::Pass,
                &domain,
                "Exactly one SPF record is published.",
            ));
            findings.extend(raw_string_checks(&domain, record));
            let tree = Tree::walk(view, &domain, record);
            findings.extend(tree.findings(&domain));
        }
        many => findings.push(multiple(&domain, many)),
    }
    findings
}

fn lookup_failed(domain: &str, failed: &[FailedLookup]) -> RawFinding {
    let list: Vec<String> = failed
        .iter()
        .map(|f| format!("{}/{} {}", f.name, f.rtype, f.status))
        .collect();
    crate::unlooked::lookup_failed(
        (rule::SPF_LOOKUP_FAILED, domain),
        "Every DNS lookup of the SPF tree was answered.",
        &list,
        counted(
            "DNS lookup(s) needed to evaluate SPF",
            "some SPF checks are indeterminate",
        ),
        ("failed_lookups", failed),
    )
}

/// The record with its `all` replaced (or added after the last mechanism).
fn with_all(record: &str, all: &str) -> String {
    if !record.is_ascii() {
        return record.to_string();
    }
    let parsed = spf::parse(record.as_bytes());
    if let Some(d) = parsed.record.all() {
        return format!("{}{all}{}", &record[..d.span.start], &record[d.span.end..]);
    }
    match parsed.record.directives().last() {
        Some(d) => format!("{} {all}{}", &record[..d.span.end], &record[d.span.end..]),
        None => format!("v=spf1 {all}{}", record.get(6..).unwrap_or_default()),
    }
}
