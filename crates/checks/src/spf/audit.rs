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
use mailwarden_model::{Answer, DnsView, Finding, Outcome, RData, RType, Status};
use mailwarden_records::spf::{self, Diagnostic, DualCidr, Level, MacroString, Mechanism, Parsed, Qualifier};
use serde::Serialize;

use super::check_host::{
    MAX_DNS_TERMS, MAX_NAMES, MAX_VOID_LOOKUPS, address_of, is_checkable_domain, mx_exchange, spf_records, target_name,
};

/// RFC 7208 §3.4 advises keeping SPF records under 450 octets so the whole
/// DNS answer fits in 512 octets of UDP.
const MAX_RECORD_OCTETS: usize = 450;
/// RFC 1035 §3.3: a character-string is at most 255 octets.
const MAX_STRING_OCTETS: usize = 255;
/// Records walked per domain, so a hostile tree cannot make us loop.
const MAX_RECORDS: usize = 50;

/// Audit the SPF policy of `domain`. Findings carry ids `spf.*`.
pub fn judge(domain: &str, view: &DnsView<'_>) -> Vec<Finding> {
    let domain = mailwarden_model::name::normalise(domain);
    let mut findings = vec![type99(&domain, view)];
    let answer = view.get(&domain, RType::Txt);
    if !answer.status.is_definite() {
        let why = answer.status.describe();
        findings.push(Finding::new(
            "spf.missing",
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
            findings.push(Finding::new(
                "spf.missing",
                Outcome::Pass,
                &domain,
                format!("{domain} publishes an SPF record."),
            ));
            findings.push(Finding::new(
                "spf.multiple-records",
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

/// One TXT record as received.
#[derive(Debug, Clone, Serialize)]
struct RawRecord {
    /// The character-strings, in presentation form.
    strings: Vec<String>,
    /// The joined text.
    text: String,
    #[serde(skip)]
    bytes: Vec<u8>,
}

impl RawRecord {
    fn from_rdata(record: &RData) -> Option<Self> {
        let RData::Txt { strings } = record else { return None };
        let bytes = record.txt_bytes()?;
        Some(Self {
            strings: strings.clone(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }
}

/// The TXT records at the domain, sorted into SPF and SPF look-alikes.
struct Published {
    spf: Vec<RawRecord>,
    lookalikes: Vec<RawRecord>,
}

impl Published {
    fn from_answer(answer: &Answer) -> Self {
        let all: Vec<RawRecord> = answer.records.iter().filter_map(RawRecord::from_rdata).collect();
        let spf = all.iter().filter(|r| spf::is_spf_record(&r.bytes)).cloned().collect();
        let lookalikes = all.into_iter().filter(|r| spf::looks_like_spf(&r.bytes)).collect();
        Self { spf, lookalikes }
    }
}

/// RFC 7208 §3.1: "SPF records MUST be published as a DNS TXT (type 16)
/// Resource Record (RR) [RFC1035] only."
fn type99(domain: &str, view: &DnsView<'_>) -> Finding {
    let answer = view.get(domain, RType::Spf);
    if !answer.status.is_definite() {
        return Finding::new(
            "spf.type99",
            Outcome::Indeterminate,
            domain,
            format!(
                "Could not tell whether {domain} publishes the obsolete SPF RR type: the lookup did not succeed ({}).",
                answer.status.describe()
            ),
        );
    }
    let records: Vec<&Vec<String>> = answer
        .records
        .iter()
        .filter_map(|r| match r {
            RData::Spf { strings } => Some(strings),
            _ => None,
        })
        .collect();
    if records.is_empty() {
        return Finding::new(
            "spf.type99",
            Outcome::Pass,
            domain,
            "No record of the obsolete SPF RR type (99) is published.",
        );
    }
    Finding::new(
        "spf.type99",
        Outcome::Fail,
        domain,
        format!(
            "{domain} publishes {} record(s) of the obsolete SPF RR type (99); receivers only read TXT.",
            records.len()
        ),
    )
    .evidence("type99_records", &records)
    .remediation(format!(
        "Delete the type-99 SPF records at {domain} and keep the policy in a single TXT record."
    ))
}

/// RFC 7208 §4.5: "Records that do not begin with a version section of
/// exactly 'v=spf1' are discarded."
fn version(domain: &str, published: &Published) -> Option<Finding> {
    if !published.lookalikes.is_empty() {
        let texts: Vec<&str> = published.lookalikes.iter().map(|r| r.text.as_str()).collect();
        let fixed = published
            .lookalikes
            .first()
            .map(|r| fix_version(&r.text))
            .unwrap_or_default();
        let finding = Finding::new(
            "spf.version",
            Outcome::Fail,
            domain,
            format!(
                "{} TXT record(s) look like SPF but do not start with exactly \"v=spf1\" and a space, so receivers ignore them: {}",
                texts.len(),
                texts.iter().map(|t| format!("\"{t}\"")).collect::<Vec<_>>().join(", ")
            ),
        )
        .evidence("records", &published.lookalikes)
        .remediation(format!("{domain}. IN TXT \"{fixed}\""));
        return Some(finding);
    }
    (!published.spf.is_empty()).then(|| {
        Finding::new(
            "spf.version",
            Outcome::Pass,
            domain,
            "The SPF record starts with the exact version \"v=spf1\".",
        )
    })
}

/// Replace a malformed version token with `v=spf1`.
fn fix_version(text: &str) -> String {
    let trimmed = text.trim_start();
    let rest = trimmed.split_once(' ').map_or("", |(_, r)| r);
    if rest.is_empty() {
        "v=spf1 -all".to_string()
    } else {
        format!("v=spf1 {rest}")
    }
}

/// RFC 7208 §4.5: "If the resultant record set includes no records,
/// check_host() produces the 'none' result."
fn missing(domain: &str, published: &Published) -> Finding {
    Finding::new(
        "spf.missing",
        Outcome::Fail,
        domain,
        format!("{domain} publishes no SPF record: receivers get \"none\" and anyone can use the domain in MAIL FROM."),
    )
    .evidence("spf_lookalikes", &published.lookalikes)
    .remediation(format!(
        "If {domain} sends no mail: {domain}. IN TXT \"v=spf1 -all\". Otherwise list the senders, e.g. {domain}. IN TXT \"v=spf1 mx -all\"."
    ))
}

/// RFC 7208 §4.5: "If the resultant record set includes more than one
/// record, check_host() produces the 'permerror' result."
fn multiple(domain: &str, records: &[RawRecord]) -> Finding {
    Finding::new(
        "spf.multiple-records",
        Outcome::Fail,
        domain,
        format!(
            "{domain} publishes {} SPF records; every receiver returns permerror.",
            records.len()
        ),
    )
    .evidence("records", records)
    .remediation(format!(
        "Merge them into one record: {domain}. IN TXT \"{}\"",
        merge_records(records)
    ))
}

/// A starting point for merging several records: every mechanism except
/// `all` once, then the strictest `all` found.
fn merge_records(records: &[RawRecord]) -> String {
    let mut terms: Vec<String> = Vec::new();
    let mut strictest: Option<Qualifier> = None;
    for record in records {
        let parsed = spf::parse(&record.bytes);
        for d in parsed.record.directives() {
            if d.mechanism == Mechanism::All {
                let rank = |q: Qualifier| {
                    [
                        Qualifier::Fail,
                        Qualifier::SoftFail,
                        Qualifier::Neutral,
                        Qualifier::Pass,
                    ]
                    .iter()
                    .position(|x| *x == q)
                };
                if strictest.is_none_or(|s| rank(d.qualifier) < rank(s)) {
                    strictest = Some(d.qualifier);
                }
            } else if !terms.contains(&d.text) {
                terms.push(d.text.clone());
            }
        }
    }
    let all = match strictest.unwrap_or(Qualifier::Fail) {
        Qualifier::Pass => "+all",
        Qualifier::Fail => "-all",
        Qualifier::SoftFail => "~all",
        Qualifier::Neutral => "?all",
    };
    std::iter::once("v=spf1".to_string())
        .chain(terms)
        .chain([all.to_string()])
        .collect::<Vec<_>>()
        .join(" ")
}

/// RFC 7208 §3.3: "a single 'TXT' record can be composed of more than one
/// string"; RFC 1035 caps each at 255 octets. §3.4: keep the record under
/// 450 octets.
fn raw_string_checks(domain: &str, record: &RawRecord) -> Vec<Finding> {
    let lengths: Vec<usize> = record
        .strings
        .iter()
        .map(|s| mailwarden_model::dns::unescape_presentation(s).len())
        .collect();
    let mut out = Vec::new();
    let too_long = lengths.iter().any(|&n| n > MAX_STRING_OCTETS);
    let strings_finding = if too_long {
        Finding::new(
            "spf.string-too-long",
            Outcome::Fail,
            domain,
            format!("A character-string of the SPF record is longer than {MAX_STRING_OCTETS} octets ({lengths:?}); it cannot be served in DNS as written."),
        )
        .remediation(format!("{domain}. IN TXT {}", quoted_chunks(&record.text)))
    } else {
        Finding::new(
            "spf.string-too-long",
            Outcome::Pass,
            domain,
            format!("Every character-string is at most {MAX_STRING_OCTETS} octets."),
        )
    };
    out.push(
        strings_finding
            .evidence("string_lengths", &lengths)
            .evidence("strings", &record.strings),
    );

    let splits = splits_inside_terms(&record.strings);
    let split_finding = if splits.is_empty() {
        Finding::new(
            "spf.string-split",
            Outcome::Pass,
            domain,
            "No character-string boundary falls inside a term.",
        )
    } else {
        Finding::new(
            "spf.string-split",
            Outcome::Fail,
            domain,
            format!(
                "The SPF record's strings are split inside a term at octet(s) {splits:?}. Receivers join strings without adding spaces (RFC 7208 §3.3), so this is valid, but check that no space was meant there: \"{}\"",
                record.text
            ),
        )
        .evidence("strings", &record.strings)
        .evidence("split_offsets", &splits)
    };
    out.push(split_finding);

    let size = record.bytes.len();
    let size_finding = if size > MAX_RECORD_OCTETS {
        Finding::new(
            "spf.record-too-long",
            Outcome::Fail,
            domain,
            format!(
                "The SPF record is {size} octets, over the {MAX_RECORD_OCTETS} RFC 7208 §3.4 advises; answers may not fit in a UDP packet."
            ),
        )
    } else {
        Finding::new(
            "spf.record-too-long",
            Outcome::Pass,
            domain,
            format!("The SPF record is {size} octets (at most {MAX_RECORD_OCTETS})."),
        )
    };
    out.push(size_finding.evidence("octets", size));
    out
}

/// Offsets in the joined record where one string ends and the next starts
/// with no space on either side.
fn splits_inside_terms(strings: &[String]) -> Vec<usize> {
    let parts: Vec<Vec<u8>> = strings
        .iter()
        .map(|s| mailwarden_model::dns::unescape_presentation(s))
        .collect();
    let mut offset = 0;
    let mut out = Vec::new();
    for pair in parts.windows(2) {
        offset += pair[0].len();
        let (Some(&end), Some(&start)) = (pair[0].last(), pair[1].first()) else {
            continue;
        };
        if end != b' ' && start != b' ' {
            out.push(offset);
        }
    }
    out
}

/// The record as quoted character-strings of at most 255 octets, split
/// after spaces where possible.
fn quoted_chunks(text: &str) -> String {
    let mut chunks: Vec<String> = Vec::new();
    let mut current = String::new();
    for word in text.split_inclusive(' ') {
        if current.len() + word.len() > MAX_STRING_OCTETS && !current.is_empty() {
            chunks.push(std::mem::take(&mut current));
        }
        current.push_str(word);
        while current.len() > MAX_STRING_OCTETS {
            let rest = current.split_off(MAX_STRING_OCTETS);
            chunks.push(std::mem::replace(&mut current, rest));
        }
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(" ")
}

/// A term, located in the tree.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct TermRef {
    /// `example.com → include:_spf.example.net → a:mail.example.net`
    path: String,
    term: String,
}

#[derive(Debug, Clone, Serialize)]
struct FailedLookup {
    name: String,
    #[serde(rename = "type")]
    rtype: RType,
    status: String,
}

#[derive(Debug, Clone, Serialize)]
struct VoidLookup {
    path: String,
    name: String,
    #[serde(rename = "type")]
    rtype: RType,
    status: &'static str,
}

#[derive(Debug, Clone, Serialize)]
struct MissingTarget {
    path: String,
    target: String,
    reason: String,
}

#[derive(Debug, Clone, Serialize)]
struct MxOverLimit {
    path: String,
    target: String,
    mx_records: usize,
}

/// One authorised network and the path that grants it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
struct Sender {
    network: IpNet,
    path: String,
}

/// A record reached in the walk.
#[derive(Debug, Clone)]
struct Node {
    domain: String,
    path: String,
    parsed: Parsed,
}

/// How a chain of records (a record and its redirects) ends for a client
/// that matched nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ending {
    All(Qualifier),
    /// No `all` and no `redirect`: neutral (RFC 7208 §4.7).
    Default,
    /// A syntax error, a missing or unreadable redirect target, a loop.
    Unknown,
}

/// The walked tree and everything counted on the way.
struct Tree<'v, 'a> {
    view: &'v DnsView<'a>,
    nodes: Vec<Node>,
    dns_terms: Vec<TermRef>,
    voids: Vec<VoidLookup>,
    failures: BTreeMap<(String, RType), String>,
    missing: Vec<MissingTarget>,
    loops: Vec<TermRef>,
    ptr_terms: Vec<TermRef>,
    unevaluable: Vec<TermRef>,
    mx_terms: usize,
    mx_over: Vec<MxOverLimit>,
    senders: Vec<Sender>,
    dynamic: Vec<TermRef>,
    open: Vec<TermRef>,
    include_like: usize,
    lower_bound: bool,
    truncated: bool,
    ending: Ending,
}

impl<'v, 'a> Tree<'v, 'a> {
    fn walk(view: &'v DnsView<'a>, domain: &str, record: &RawRecord) -> Self {
        let mut tree = Tree {
            view,
            nodes: Vec::new(),
            dns_terms: Vec::new(),
            voids: Vec::new(),
            failures: BTreeMap::new(),
            missing: Vec::new(),
            loops: Vec::new(),
            ptr_terms: Vec::new(),
            unevaluable: Vec::new(),
            mx_terms: 0,
            mx_over: Vec::new(),
            senders: Vec::new(),
            dynamic: Vec::new(),
            open: Vec::new(),
            include_like: 0,
            lower_bound: false,
            truncated: false,
            ending: Ending::Unknown,
        };
        let mut chain = vec![domain.to_string()];
        tree.ending = tree.record(domain, &record.bytes, domain.to_string(), &mut chain, true);
        tree.senders.sort();
        tree.senders.dedup();
        tree
    }

    fn incomplete(&self) -> bool {
        !self.failures.is_empty() || self.truncated
    }

    /// Walk one record; `grants` is true when a match here gives the
    /// top-level `pass` (every include on the way is `+include`).
    fn record(&mut self, domain: &str, bytes: &[u8], path: String, chain: &mut Vec<String>, grants: bool) -> Ending {
        let parsed = spf::parse(bytes);
        self.nodes.push(Node {
            domain: domain.to_string(),
            path: path.clone(),
            parsed: parsed.clone(),
        });
        if parsed.has_errors() {
            return Ending::Unknown;
        }
        for d in parsed.record.directives() {
            let here = TermRef {
                path: path.clone(),
                term: d.text.clone(),
            };
            let pass = grants && d.qualifier == Qualifier::Pass;
            if d.mechanism == Mechanism::All {
                if pass && chain.len() > 1 {
                    self.open.push(here);
                }
                return Ending::All(d.qualifier);
            }
            self.directive(&d.mechanism, domain, here, chain, pass);
        }
        let Some(spec) = parsed.record.redirect() else {
            return Ending::Default;
        };
        let here = TermRef {
            path: path.clone(),
            term: format!("redirect={spec}"),
        };
        self.dns_terms.push(here.clone());
        self.include_like += 1;
        match self.follow(spec, domain, &here, chain, grants) {
            Some(ending) => ending,
            None => Ending::Unknown,
        }
    }

    fn directive(&mut self, mechanism: &Mechanism, domain: &str, here: TermRef, chain: &mut Vec<String>, pass: bool) {
        if mechanism.queries_dns() {
            self.dns_terms.push(here.clone());
        }
        if let Some(spec) = mechanism.domain_spec()
            && spec.needs_message()
        {
            if matches!(mechanism, Mechanism::Include { .. }) {
                self.lower_bound = true;
            }
            if pass {
                self.dynamic.push(here.clone());
            }
            self.unevaluable.push(here);
            return;
        }
        match mechanism {
            Mechanism::All => {}
            Mechanism::Ip4 { network } if pass => self.grant(IpNet::V4(network.trunc()), &here.path, &here.term),
            Mechanism::Ip6 { network } if pass => self.grant(IpNet::V6(network.trunc()), &here.path, &here.term),
            Mechanism::Ip4 { .. } | Mechanism::Ip6 { .. } => {}
            Mechanism::Include { domain: spec } => {
                self.include_like += 1;
                self.follow(spec, domain, &here, chain, pass);
            }
            Mechanism::A { domain: spec, cidr } => {
                if let Some(target) = self.static_target(spec.as_ref(), domain) {
                    self.addresses(&target, *cidr, &here, pass, true);
                }
            }
            Mechanism::Mx { domain: spec, cidr } => {
                self.mx_terms += 1;
                if let Some(target) = self.static_target(spec.as_ref(), domain) {
                    self.mx(&target, *cidr, &here, pass);
                }
            }
            Mechanism::Ptr { .. } => {
                self.ptr_terms.push(here.clone());
                if pass {
                    self.dynamic.push(here);
                }
            }
            Mechanism::Exists { domain: spec } => {
                if let Some(target) = self.static_target(Some(spec), domain) {
                    self.exists(&target, here, pass);
                }
            }
        }
    }

    /// Follow `include:` or `redirect=` to the target's record. `None` when
    /// there is no record to walk.
    fn follow(
        &mut self,
        spec: &MacroString,
        domain: &str,
        here: &TermRef,
        chain: &mut Vec<String>,
        grants: bool,
    ) -> Option<Ending> {
        if spec.needs_message() {
            self.lower_bound = true;
            self.unevaluable.push(here.clone());
            return None;
        }
        let target = target_name(&expand_static(spec, domain)).map(|t| t.to_ascii_lowercase());
        let Some(target) = target.filter(|t| is_checkable_domain(t)) else {
            self.missing_target(here, spec.text.clone(), "the target is not a valid domain name".into());
            return None;
        };
        if chain.contains(&target) {
            self.loops.push(here.clone());
            return None;
        }
        if self.nodes.len() >= MAX_RECORDS {
            self.truncated = true;
            return None;
        }
        let answer = self.view.get(&target, RType::Txt);
        if !self.definite(&target, RType::Txt, answer) {
            return None;
        }
        let mut records = spf_records(answer);
        if records.len() != 1 {
            let reason = if records.is_empty() {
                format!("no SPF record: {}", answer.status.describe())
            } else {
                format!("{} SPF records", records.len())
            };
            self.missing_target(here, target, reason);
            return None;
        }
        let bytes = records.pop().unwrap_or_default();
        chain.push(target.clone());
        let path = format!("{} → {}", here.path, here.term.replace(&spec.text, &target));
        let ending = self.record(&target, &bytes, path, chain, grants);
        chain.pop();
        Some(ending)
    }

    fn missing_target(&mut self, here: &TermRef, target: String, reason: String) {
        let path = format!("{} → {}", here.path, here.term);
        self.missing.push(MissingTarget { path, target, reason });
    }

    fn static_target(&mut self, spec: Option<&MacroString>, domain: &str) -> Option<String> {
        match spec {
            None => Some(domain.to_string()),
            Some(spec) => target_name(&expand_static(spec, domain)).map(|t| t.to_ascii_lowercase()),
        }
    }

    /// Record a failed lookup; true when the answer is definite.
    fn definite(&mut self, name: &str, rtype: RType, answer: &Answer) -> bool {
        if answer.status.is_definite() {
            return true;
        }
        self.failures
            .insert((name.to_string(), rtype), answer.status.describe());
        false
    }

    /// RFC 7208 §4.6.4 void lookups, as an IPv4 client sees them (A).
    fn note_void(&mut self, here: &TermRef, name: &str, rtype: RType, status: &Status) {
        let status = if *status == Status::NxDomain {
            "NXDOMAIN"
        } else {
            "NODATA"
        };
        let path = format!("{} → {}", here.path, here.term);
        self.voids.push(VoidLookup {
            path,
            name: name.to_string(),
            rtype,
            status,
        });
    }

    /// `a`: A and AAAA of `target`, authorised with the CIDR lengths.
    fn addresses(&mut self, target: &str, cidr: DualCidr, here: &TermRef, pass: bool, count_void: bool) {
        let v4 = self.view.get(target, RType::A);
        let v6 = self.view.get(target, RType::Aaaa);
        if self.definite(target, RType::A, v4) && count_void && v4.status.is_negative() {
            self.note_void(here, target, RType::A, &v4.status);
        }
        self.definite(target, RType::Aaaa, v6);
        if !pass {
            return;
        }
        let path = format!("{} → {}", here.path, here.term);
        let path = if here.term.contains(':') || path.ends_with(target) {
            path
        } else {
            format!("{path} ({target})")
        };
        for record in v4.records.iter().chain(&v6.records) {
            if let Some(network) = network_of(record, cidr) {
                self.grant(network, &path, "");
            }
        }
    }

    /// `mx`: the MX set (at most 10), then each exchange's addresses.
    fn mx(&mut self, target: &str, cidr: DualCidr, here: &TermRef, pass: bool) {
        let answer = self.view.get(target, RType::Mx);
        if !self.definite(target, RType::Mx, answer) {
            return;
        }
        if answer.status.is_negative() {
            self.note_void(here, target, RType::Mx, &answer.status);
            return;
        }
        if answer.records.len() > MAX_NAMES {
            let path = format!("{} → {}", here.path, here.term);
            self.mx_over.push(MxOverLimit {
                path,
                target: target.to_string(),
                mx_records: answer.records.len(),
            });
            return;
        }
        for host in answer.records.iter().filter_map(mx_exchange) {
            let via = TermRef {
                path: format!("{} → {}", here.path, here.term),
                term: host.to_string(),
            };
            self.addresses(host, cidr, &via, pass, false);
        }
    }

    /// `exists` with a fixed name: if it resolves, it matches every client.
    fn exists(&mut self, target: &str, here: TermRef, pass: bool) {
        let answer = self.view.get(target, RType::A);
        if !self.definite(target, RType::A, answer) {
            return;
        }
        if answer.status.is_negative() {
            self.note_void(&here, target, RType::A, &answer.status);
        } else if pass {
            self.open.push(here);
        }
    }

    fn grant(&mut self, network: IpNet, path: &str, term: &str) {
        let path = if term.is_empty() {
            path.to_string()
        } else {
            format!("{path} → {term}")
        };
        if network.prefix_len() == 0 {
            self.open.push(TermRef {
                path: path.clone(),
                term: network.to_string(),
            });
        }
        self.senders.push(Sender { network, path });
    }
}

/// Expand a domain-spec that uses at most `%{d}`.
fn expand_static(spec: &MacroString, domain: &str) -> String {
    spec.expand(|letter| {
        if letter == 'd' {
            domain.to_string()
        } else {
            String::new()
        }
    })
}

fn network_of(record: &RData, cidr: DualCidr) -> Option<IpNet> {
    match address_of(record)? {
        IpAddr::V4(a) => Ipv4Net::new(a, cidr.v4).ok().map(|n| IpNet::V4(n.trunc())),
        IpAddr::V6(a) => Ipv6Net::new(a, cidr.v6).ok().map(|n| IpNet::V6(n.trunc())),
    }
}

fn lookup_failed(domain: &str, failed: &[FailedLookup]) -> Finding {
    if failed.is_empty() {
        return Finding::new(
            "spf.lookup-failed",
            Outcome::Pass,
            domain,
            "Every DNS lookup of the SPF tree was answered.",
        );
    }
    let list: Vec<String> = failed
        .iter()
        .map(|f| format!("{}/{} {}", f.name, f.rtype, f.status))
        .collect();
    Finding::new(
        "spf.lookup-failed",
        Outcome::Indeterminate,
        domain,
        format!(
            "{} DNS lookup(s) needed to evaluate SPF failed, so some SPF checks are indeterminate: {}.",
            failed.len(),
            list.join("; ")
        ),
    )
    .evidence("failed_lookups", failed)
}

/// A record with diagnostics, once per finding; the diagnostics point into it.
#[derive(Debug, Serialize)]
struct RecordText<'d> {
    domain: &'d str,
    path: &'d str,
    record: &'d str,
}

impl Tree<'_, '_> {
    fn findings(&self, domain: &str) -> Vec<Finding> {
        let failed: Vec<FailedLookup> = self
            .failures
            .iter()
            .map(|((name, rtype), status)| FailedLookup {
                name: name.clone(),
                rtype: *rtype,
                status: status.clone(),
            })
            .collect();
        let top_text = self
            .nodes
            .first()
            .map(|n| n.parsed.record.text.clone())
            .unwrap_or_default();
        vec![
            self.syntax(domain, Level::Error),
            self.syntax(domain, Level::Warning),
            self.redirect_with_all(domain),
            self.lookup_limit(domain),
            self.void_limit(domain),
            self.mx_limit(domain),
            self.include_missing(domain),
            self.loop_finding(domain),
            self.ptr_used(domain),
            self.permissive_all(domain, &top_text),
            self.softfail_all(domain, &top_text),
            self.no_all(domain, &top_text),
            self.unevaluable_macro(domain),
            self.authorised_senders(domain),
            lookup_failed(domain, &failed),
        ]
    }

    /// The diagnostics of every record at `level` (bounded per record),
    /// and the records they point into.
    fn located(&self, level: Level) -> (Bounded<'_, Diagnostic>, Vec<RecordText<'_>>) {
        let mut found = Bounded::new();
        let mut records = Vec::new();
        for n in &self.nodes {
            let mut diags = (n.parsed.diagnostics.iter())
                .filter(|d| d.level == level && d.code != "redirect-with-all")
                .peekable();
            if diags.peek().is_none() {
                continue;
            }
            let text = &n.parsed.record.text;
            found.add(diags, text, Some((&n.domain, &n.path)));
            records.push(RecordText {
                domain: &n.domain,
                path: &n.path,
                record: text,
            });
        }
        (found, records)
    }

    /// RFC 7208 §4.6: "If there are any syntax errors anywhere in the
    /// record, check_host() returns immediately with the result
    /// 'permerror'". Warnings: legal but not what the publisher meant.
    fn syntax(&self, domain: &str, level: Level) -> Finding {
        let (id, what) = match level {
            Level::Error => ("spf.syntax", "syntax error"),
            Level::Warning => ("spf.syntax-warning", "warning"),
        };
        let (found, records) = self.located(level);
        if found.is_empty() {
            return Finding::new(
                id,
                Outcome::Pass,
                domain,
                format!("No SPF {what}s in the {} record(s) evaluated.", self.nodes.len()),
            );
        }
        let consequence = if level == Level::Error {
            " Receivers return permerror when they reach these records."
        } else {
            ""
        };
        let f = Finding::new(
            id,
            Outcome::Fail,
            domain,
            format!("{} SPF {what}(s).{consequence}\n{}", found.total(), found.message()),
        );
        f.diagnostics("diagnostics", &found).evidence("records", &records)
    }

    fn redirect_with_all(&self, domain: &str) -> Finding {
        let hits: Vec<TermRef> = self
            .nodes
            .iter()
            .flat_map(|n| {
                n.parsed
                    .diagnostics
                    .iter()
                    .filter(|d| d.code == "redirect-with-all")
                    .map(|d| TermRef {
                        path: n.path.clone(),
                        term: n
                            .parsed
                            .record
                            .text
                            .get(d.span.start..d.span.end)
                            .unwrap_or_default()
                            .to_string(),
                    })
            })
            .collect();
        if hits.is_empty() {
            return Finding::new(
                "spf.redirect-with-all",
                Outcome::Pass,
                domain,
                "No record combines \"redirect=\" with \"all\".",
            );
        }
        Finding::new(
            "spf.redirect-with-all",
            Outcome::Fail,
            domain,
            format!(
                "{} record(s) have both \"all\" and \"redirect=\"; the redirect is ignored (RFC 7208 §6.1).",
                hits.len()
            ),
        )
        .evidence("terms", &hits)
        .remediation(
            "Remove the \"redirect=\" modifier, or remove \"all\" if the redirect target's policy is the one you want.",
        )
    }

    /// RFC 7208 §4.6.4: "SPF implementations MUST limit the total number of
    /// those terms to 10 during SPF evaluation, to avoid unreasonable load
    /// on the DNS. If this limit is exceeded, the implementation MUST
    /// return 'permerror'."
    fn lookup_limit(&self, domain: &str) -> Finding {
        let count = self.dns_terms.len();
        let evidence = |f: Finding| {
            f.evidence("dns_lookups", count)
                .evidence("limit", MAX_DNS_TERMS)
                .evidence("terms", &self.dns_terms)
                .evidence("lower_bound", self.lower_bound)
        };
        if count > MAX_DNS_TERMS as usize {
            return evidence(Finding::new(
                "spf.lookup-limit",
                Outcome::Fail,
                domain,
                format!("Evaluating the SPF policy takes {count} DNS-querying terms, over the limit of {MAX_DNS_TERMS}: receivers return permerror for mail that matches nothing before the limit."),
            ))
            .remediation(format!(
                "Remove includes of services you no longer use, replace a/mx/ptr with ip4:/ip6: networks, or move senders to subdomains. Terms counted: {}.",
                self.dns_terms.iter().map(|t| format!("{} → {}", t.path, t.term)).collect::<Vec<_>>().join("; ")
            ));
        }
        if self.incomplete() || self.lower_bound {
            return evidence(Finding::new(
                "spf.lookup-limit",
                Outcome::Indeterminate,
                domain,
                format!(
                    "At least {count} DNS-querying terms; part of the tree could not be read or depends on the message."
                ),
            ));
        }
        evidence(Finding::new(
            "spf.lookup-limit",
            Outcome::Pass,
            domain,
            format!("Evaluating the SPF policy takes {count} DNS-querying terms (limit {MAX_DNS_TERMS})."),
        ))
    }

    /// RFC 7208 §4.6.4: "SPF implementations SHOULD limit 'void lookups' to
    /// two ... Exceeding the limit produces a 'permerror' result."
    fn void_limit(&self, domain: &str) -> Finding {
        let count = self.voids.len();
        let f = if count > MAX_VOID_LOOKUPS as usize {
            Finding::new(
                "spf.void-lookup-limit",
                Outcome::Fail,
                domain,
                format!("{count} terms look up names that do not exist (void lookups, counted for an IPv4 client), over the limit of {MAX_VOID_LOOKUPS}: receivers return permerror."),
            )
            .remediation("Remove the terms whose names no longer exist (see the evidence).")
        } else if self.incomplete() {
            Finding::new(
                "spf.void-lookup-limit",
                Outcome::Indeterminate,
                domain,
                format!("At least {count} void lookup(s); some lookups failed."),
            )
        } else {
            Finding::new(
                "spf.void-lookup-limit",
                Outcome::Pass,
                domain,
                format!("{count} void lookup(s) (limit {MAX_VOID_LOOKUPS})."),
            )
        };
        f.evidence("void_lookups", &self.voids)
            .evidence("limit", MAX_VOID_LOOKUPS)
    }

    /// RFC 7208 §4.6.4: "the evaluation of each 'MX' record MUST NOT result
    /// in querying more than 10 address records ... If this limit is
    /// exceeded, the 'mx' mechanism MUST produce a 'permerror' result."
    fn mx_limit(&self, domain: &str) -> Finding {
        if !self.mx_over.is_empty() {
            return Finding::new(
                "spf.mx-limit",
                Outcome::Fail,
                domain,
                format!(
                    "An \"mx\" term names a domain with more than {MAX_NAMES} MX records: receivers return permerror."
                ),
            )
            .evidence("mx_over_limit", &self.mx_over)
            .remediation("Replace the \"mx\" term with ip4:/ip6: networks of the hosts that send mail.");
        }
        if self.mx_terms == 0 {
            return Finding::new(
                "spf.mx-limit",
                Outcome::NotApplicable,
                domain,
                "The SPF tree has no \"mx\" term.",
            );
        }
        if self.failures.keys().any(|(_, t)| *t == RType::Mx) {
            return Finding::new(
                "spf.mx-limit",
                Outcome::Indeterminate,
                domain,
                "An MX lookup of an \"mx\" term failed.",
            );
        }
        Finding::new(
            "spf.mx-limit",
            Outcome::Pass,
            domain,
            format!("Every \"mx\" term looks up at most {MAX_NAMES} MX names."),
        )
    }

    /// RFC 7208 §5.2: an include whose recursive check_host() gives none
    /// returns permerror; §6.1: for redirect, "if no SPF record is found, or
    /// if the <target-name> is malformed, the result is a 'permerror' rather
    /// than 'none'."
    fn include_missing(&self, domain: &str) -> Finding {
        if !self.missing.is_empty() {
            let list: Vec<String> = self
                .missing
                .iter()
                .map(|m| format!("{} ({})", m.target, m.reason))
                .collect();
            return Finding::new(
                "spf.include-missing",
                Outcome::Fail,
                domain,
                format!(
                    "Include or redirect targets without exactly one SPF record (receivers return permerror): {}.",
                    list.join(", ")
                ),
            )
            .evidence("targets", &self.missing)
            .remediation("Remove the include/redirect, or correct the target name to the one the provider documents.");
        }
        if self.include_like == 0 {
            return Finding::new(
                "spf.include-missing",
                Outcome::NotApplicable,
                domain,
                "The SPF tree has no include or redirect.",
            );
        }
        if self.failures.keys().any(|(_, t)| *t == RType::Txt) {
            return Finding::new(
                "spf.include-missing",
                Outcome::Indeterminate,
                domain,
                "The TXT lookup of an include or redirect target failed.",
            );
        }
        Finding::new(
            "spf.include-missing",
            Outcome::Pass,
            domain,
            "Every include and redirect target publishes one SPF record.",
        )
    }

    fn loop_finding(&self, domain: &str) -> Finding {
        if self.loops.is_empty() {
            return Finding::new(
                "spf.loop",
                Outcome::Pass,
                domain,
                "No include or redirect loops back to a record on its own path.",
            );
        }
        let list: Vec<String> = self.loops.iter().map(|l| format!("{} → {}", l.path, l.term)).collect();
        Finding::new(
            "spf.loop",
            Outcome::Fail,
            domain,
            format!(
                "The SPF tree loops (receivers run out of lookups and return permerror): {}.",
                list.join("; ")
            ),
        )
        .evidence("loops", &self.loops)
        .remediation("Remove the include or redirect that points back to a record already on the path.")
    }

    /// RFC 7208 §5.5: "This mechanism SHOULD NOT be published."
    fn ptr_used(&self, domain: &str) -> Finding {
        if self.ptr_terms.is_empty() {
            return Finding::new("spf.ptr-used", Outcome::Pass, domain, "No \"ptr\" mechanism is used.");
        }
        Finding::new(
            "spf.ptr-used",
            Outcome::Fail,
            domain,
            format!(
                "{} \"ptr\" mechanism(s) are used; it is slow, unreliable, and receivers consider at most {MAX_NAMES} reverse names per client (RFC 7208 §4.6.4, §5.5).",
                self.ptr_terms.len()
            ),
        )
        .evidence("terms", &self.ptr_terms)
        .remediation("Replace \"ptr\" with ip4:/ip6: networks (or a:/mx) of the sending hosts.")
    }

    /// The fix for an open policy: the top record's ending, and each open
    /// term where it actually is (often inside an include).
    fn permissive_remediation(&self, domain: &str, top: &str, weak_ending: bool) -> String {
        let mut fixes = Vec::new();
        if weak_ending {
            fixes.push(format!("{domain}. IN TXT \"{}\"", with_all(top, "-all")));
        }
        for open in &self.open {
            fixes.push(format!(
                "remove \"{}\" from the record reached by {} (or drop the include that leads there)",
                open.term, open.path
            ));
        }
        fixes.join("; ")
    }

    /// Best practice (M3AAWG, RFC 7208 §8.1): a policy should end in
    /// `-all` or `~all`; `+all` authorises the whole Internet and `?all`
    /// asserts nothing.
    fn permissive_all(&self, domain: &str, top: &str) -> Finding {
        let weak = matches!(self.ending, Ending::All(Qualifier::Pass | Qualifier::Neutral));
        if weak || !self.open.is_empty() {
            let mut why = Vec::new();
            if let Ending::All(q) = self.ending
                && weak
            {
                why.push(format!("the policy ends in \"{}all\"", q.symbol()));
            }
            why.extend(
                self.open
                    .iter()
                    .map(|o| format!("{} → {} matches every client", o.path, o.term)),
            );
            return Finding::new(
                "spf.permissive-all",
                Outcome::Fail,
                domain,
                format!("The SPF policy lets any host send as {domain}: {}.", why.join("; ")),
            )
            .evidence("open_terms", &self.open)
            .remediation(self.permissive_remediation(domain, top, weak));
        }
        match self.ending {
            Ending::All(_) => Finding::new(
                "spf.permissive-all",
                Outcome::Pass,
                domain,
                "The policy does not authorise every host.",
            ),
            Ending::Default => Finding::new(
                "spf.permissive-all",
                Outcome::NotApplicable,
                domain,
                "The policy has no \"all\" (see spf.no-all).",
            ),
            Ending::Unknown => self.unknown_ending("spf.permissive-all", domain),
        }
    }

    fn softfail_all(&self, domain: &str, top: &str) -> Finding {
        match self.ending {
            Ending::All(Qualifier::SoftFail) => Finding::new(
                "spf.softfail-all",
                Outcome::Fail,
                domain,
                "The policy ends in \"~all\": mail from unlisted hosts is marked suspicious, not rejected.",
            )
            .remediation(format!(
                "Once DMARC reports show all legitimate mail passes SPF: {domain}. IN TXT \"{}\"",
                with_all(top, "-all")
            )),
            Ending::All(Qualifier::Fail) => Finding::new(
                "spf.softfail-all",
                Outcome::Pass,
                domain,
                "The policy ends in \"-all\": unlisted hosts fail.",
            ),
            Ending::All(_) | Ending::Default => Finding::new(
                "spf.softfail-all",
                Outcome::NotApplicable,
                domain,
                "The policy does not end in \"~all\" or \"-all\" (see spf.permissive-all, spf.no-all).",
            ),
            Ending::Unknown => self.unknown_ending("spf.softfail-all", domain),
        }
    }

    /// RFC 7208 §4.7: "If none of the mechanisms match and there is no
    /// 'redirect' modifier, then the check_host() returns a result of
    /// 'neutral', just as if '?all' were specified as the last directive."
    fn no_all(&self, domain: &str, top: &str) -> Finding {
        match self.ending {
            Ending::Default => Finding::new(
                "spf.no-all",
                Outcome::Fail,
                domain,
                "The policy has no \"all\" and no \"redirect=\": unlisted hosts get \"neutral\", so anyone may send.",
            )
            .remediation(format!("{domain}. IN TXT \"{}\"", with_all(top, "-all"))),
            Ending::All(_) => Finding::new(
                "spf.no-all",
                Outcome::Pass,
                domain,
                "The policy ends with an \"all\" mechanism.",
            ),
            Ending::Unknown => self.unknown_ending("spf.no-all", domain),
        }
    }

    fn unknown_ending(&self, id: &str, domain: &str) -> Finding {
        if self.incomplete() || self.lower_bound {
            Finding::new(
                id,
                Outcome::Indeterminate,
                domain,
                "Could not follow the policy to its end (a lookup failed or a target depends on the message).",
            )
        } else {
            Finding::new(
                id,
                Outcome::NotApplicable,
                domain,
                "The policy is broken before its end (see the other SPF findings).",
            )
        }
    }

    /// RFC 7208 §7.3: macros such as `%{i}` and `%{l}` take their values
    /// from the connection and the message, which an audit does not have.
    fn unevaluable_macro(&self, domain: &str) -> Finding {
        if self.unevaluable.is_empty() {
            return Finding::new(
                "spf.unevaluable-macro",
                Outcome::Pass,
                domain,
                "Every term can be evaluated without a message.",
            );
        }
        Finding::new(
            "spf.unevaluable-macro",
            Outcome::Fail,
            domain,
            format!(
                "{} term(s) depend on the message or the client (macros other than %{{d}}); they were not expanded, so what they authorise cannot be listed{}.",
                self.unevaluable.len(),
                if self.lower_bound { " and the lookup counts are lower bounds" } else { "" }
            ),
        )
        .evidence("terms", &self.unevaluable)
    }

    fn authorised_senders(&self, domain: &str) -> Finding {
        let v4 = self
            .senders
            .iter()
            .filter(|s| matches!(s.network, IpNet::V4(_)))
            .count();
        let outcome = if self.incomplete() {
            Outcome::Indeterminate
        } else {
            Outcome::Pass
        };
        let mut message = format!(
            "The SPF policy authorises {} network(s) ({v4} IPv4, {} IPv6)",
            self.senders.len(),
            self.senders.len() - v4
        );
        if !self.dynamic.is_empty() {
            message.push_str(&format!(
                ", plus {} term(s) that depend on the client or message",
                self.dynamic.len()
            ));
        }
        if self.incomplete() {
            message.push_str("; some lookups failed, so the list may be incomplete");
        }
        message.push('.');
        Finding::new("spf.authorised-senders", outcome, domain, message)
            .evidence("senders", &self.senders)
            .evidence("dynamic_terms", &self.dynamic)
            .evidence(
                "records",
                self.nodes
                    .iter()
                    .map(|n| (n.path.as_str(), &n.parsed.record))
                    .collect::<Vec<_>>(),
            )
    }
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
