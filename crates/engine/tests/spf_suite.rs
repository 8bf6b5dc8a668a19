//! The RFC 7208 SPF test suite (openspf.org, via pyspf; see
//! `testdata/spf/README.md`), run against `spf::check_host` through
//! `collect::fixpoint` and an in-memory DNS built from each scenario's
//! `zonedata`.
//!
//! Skipped cases: none. Every one of the 203 cases runs and must pass; the
//! test fails if the count changes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use futures::future::BoxFuture;
use mailwarden_checks::spf::{SpfResult, check_mail_from};
use mailwarden_dns::DnsSource;
use mailwarden_dns::zonefile::ZoneFileSource;
use mailwarden_engine::collect::{Budget, dns_fixpoint};
use mailwarden_model::dns::escape_presentation;
use mailwarden_model::{Answer, Proof, QueryKey, RData, RType, SourceInfo, Status, Transcript};
use serde::Deserialize;
use serde_yaml::Value;

/// Cases deliberately not run, with the reason. Empty: all cases pass.
const SKIPPED: &[(&str, &str)] = &[];

/// 16 scenarios, 203 cases (reliability-security.md §5).
const EXPECTED_CASES: usize = 203;

#[derive(Debug, Deserialize)]
struct Scenario {
    description: String,
    tests: BTreeMap<String, Case>,
    #[serde(default)]
    zonedata: BTreeMap<String, Vec<Value>>,
}

#[derive(Debug, Deserialize)]
struct Case {
    helo: String,
    host: String,
    mailfrom: String,
    result: Expected,
    #[serde(default)]
    explanation: Option<String>,
    #[serde(default)]
    spec: Value,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Expected {
    One(SpfResult),
    Any(Vec<SpfResult>),
}

impl Expected {
    fn accepts(&self, got: SpfResult) -> bool {
        match self {
            Expected::One(r) => *r == got,
            Expected::Any(rs) => rs.contains(&got),
        }
    }
}

/// One entry of a name's zonedata.
#[derive(Debug, Clone)]
enum Entry {
    /// The bare `TIMEOUT` pseudo-record: queries for types the name has no
    /// records of time out.
    Timeout,
    /// `TYPE: TIMEOUT`: queries for that type time out.
    TypeTimeout(RType),
    /// `TXT: NONE`: the name has no TXT records, and its SPF records are
    /// not to be copied to TXT.
    NoTxt,
    Record(RData),
}

/// The in-memory DNS of one scenario.
struct Zone {
    names: BTreeMap<String, Vec<Entry>>,
}

impl Zone {
    fn new(zonedata: &BTreeMap<String, Vec<Value>>) -> Self {
        let names = zonedata
            .iter()
            .map(|(name, entries)| (norm(name), with_spf_as_txt(entries.iter().map(entry).collect())))
            .collect();
        Self { names }
    }

    fn answer(&self, name: &str, rtype: RType, depth: usize) -> Answer {
        let Some(entries) = self.names.get(name) else {
            return Answer::empty(Status::NxDomain, Proof::NotValidated);
        };
        if entries
            .iter()
            .any(|e| matches!(e, Entry::TypeTimeout(t) if *t == rtype))
        {
            return timeout();
        }
        let records: Vec<RData> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Record(r) if rtype_of(r) == rtype => Some(r.clone()),
                _ => None,
            })
            .collect();
        if !records.is_empty() {
            return Answer::with_records(records, Proof::NotValidated);
        }
        let cname = entries.iter().find_map(|e| match e {
            Entry::Record(RData::Cname { target }) if rtype != RType::Cname => Some(target.clone()),
            _ => None,
        });
        if let Some(target) = cname {
            // A CNAME loop: what a resolver reports is SERVFAIL.
            if depth > 8 {
                return Answer::empty(Status::ServFail, Proof::Indeterminate);
            }
            let mut answer = self.answer(&target, rtype, depth + 1);
            answer.cname_chain.insert(0, name.to_string());
            return answer;
        }
        if entries.iter().any(|e| matches!(e, Entry::Timeout)) {
            return timeout();
        }
        Answer::empty(Status::NoData, Proof::NotValidated)
    }
}

impl DnsSource for Zone {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        Box::pin(async move { self.answer(&key.name, key.rtype, 0) })
    }

    fn describe(&self) -> SourceInfo {
        SourceInfo {
            backend: "rfc7208-suite".into(),
            ..SourceInfo::default()
        }
    }
}

fn timeout() -> Answer {
    Answer::empty(Status::Timeout, Proof::Indeterminate)
}

fn norm(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn rtype_of(record: &RData) -> RType {
    match record {
        RData::A { .. } => RType::A,
        RData::Aaaa { .. } => RType::Aaaa,
        RData::Cname { .. } => RType::Cname,
        RData::Mx { .. } => RType::Mx,
        RData::Ptr { .. } => RType::Ptr,
        RData::Txt { .. } => RType::Txt,
        RData::Spf { .. } => RType::Spf,
        other => panic!("unexpected record in the suite: {other:?}"),
    }
}

/// The suite's convention (its header, and pyspf `testspf.py`): a name's
/// type-SPF records are also served as TXT unless the name lists any TXT
/// entry, `TXT: NONE` included.
fn with_spf_as_txt(mut entries: Vec<Entry>) -> Vec<Entry> {
    let has_txt = entries
        .iter()
        .any(|e| matches!(e, Entry::NoTxt | Entry::Record(RData::Txt { .. })));
    if !has_txt {
        let copies: Vec<Entry> = entries
            .iter()
            .filter_map(|e| match e {
                Entry::Record(RData::Spf { strings }) => Some(Entry::Record(RData::Txt {
                    strings: strings.clone(),
                })),
                _ => None,
            })
            .collect();
        entries.extend(copies);
    }
    entries
}

fn entry(value: &Value) -> Entry {
    if value.as_str() == Some("TIMEOUT") {
        return Entry::Timeout;
    }
    let map = value
        .as_mapping()
        .unwrap_or_else(|| panic!("bad zonedata entry {value:?}"));
    let (kind, data) = map.iter().next().expect("one type per entry");
    let kind = kind.as_str().expect("type name");
    let rtype = RType::from_mnemonic(kind).unwrap_or_else(|| panic!("unknown type {kind}"));
    if data.as_str() == Some("TIMEOUT") {
        return Entry::TypeTimeout(rtype);
    }
    let text = || {
        data.as_str()
            .unwrap_or_else(|| panic!("{kind} needs a string: {data:?}"))
    };
    let record = match rtype {
        RType::A => RData::A {
            address: text().parse().expect("A address"),
        },
        RType::Aaaa => RData::Aaaa {
            address: text().parse().expect("AAAA address"),
        },
        RType::Ptr => RData::Ptr { target: norm(text()) },
        RType::Cname => RData::Cname { target: norm(text()) },
        RType::Mx => {
            let pair = data.as_sequence().expect("MX is [preference, exchange]");
            let preference = pair[0].as_u64().expect("MX preference") as u16;
            RData::Mx {
                preference,
                exchange: norm(pair[1].as_str().expect("MX exchange")),
            }
        }
        RType::Txt | RType::Spf => {
            if data.as_str() == Some("NONE") {
                return if rtype == RType::Txt {
                    Entry::NoTxt
                } else {
                    panic!("SPF: NONE")
                };
            }
            let strings = character_strings(data);
            if rtype == RType::Txt {
                RData::Txt { strings }
            } else {
                RData::Spf { strings }
            }
        }
        other => panic!("type {other} not expected in the suite"),
    };
    Entry::Record(record)
}

/// TXT data is one string or a list of character-strings; the suite writes
/// bytes as Unicode code points, encoded as UTF-8 on the wire (as pyspf's
/// driver does), then kept in presentation form.
fn character_strings(data: &Value) -> Vec<String> {
    let raw: Vec<&str> = match data {
        Value::String(s) => vec![s.as_str()],
        Value::Sequence(items) => items.iter().map(|v| v.as_str().expect("TXT string")).collect(),
        other => panic!("bad TXT data {other:?}"),
    };
    raw.into_iter().map(|s| escape_presentation(s.as_bytes())).collect()
}

fn suite_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/spf/rfc7208-tests.yml")
}

fn load() -> Vec<Scenario> {
    let text = std::fs::read_to_string(suite_path()).expect("read the vendored suite");
    serde_yaml::Deserializer::from_str(&text)
        .map(|doc| Scenario::deserialize(doc).expect("scenario"))
        .collect()
}

async fn run_case(zone: &impl DnsSource, case: &Case) -> (SpfResult, Option<String>, Vec<String>) {
    let ip: IpAddr = case.host.parse().expect("host address");
    let budget = Budget {
        max_queries: 2000,
        max_time: Duration::from_secs(30),
        max_rounds: 500,
        parallel: 4,
        ..Budget::default()
    };
    let (_, outcome, stats) = dns_fixpoint(zone, budget, Transcript::default(), |view| {
        check_mail_from(view, ip, &case.mailfrom, &case.helo)
    })
    .await;
    assert!(!stats.budget_exhausted, "budget exhausted for {case:?}");
    (outcome.result, outcome.explanation, outcome.trace)
}

#[test]
fn rfc7208_suite() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let scenarios = load();
    assert_eq!(scenarios.len(), 16, "scenario count changed");
    let mut ran = 0;
    let mut failures = Vec::new();
    for scenario in &scenarios {
        let zone = Zone::new(&scenario.zonedata);
        for (name, case) in &scenario.tests {
            if let Some((_, why)) = SKIPPED.iter().find(|(id, _)| id == name) {
                eprintln!("skipped {name}: {why}");
                continue;
            }
            ran += 1;
            let (result, explanation, trace) = runtime.block_on(run_case(&zone, case));
            let result_ok = case.result.accepts(result);
            if std::env::var_os("SPF_SUITE_VERBOSE").is_some() {
                eprintln!("{name}: {result} {explanation:?}");
            }
            let explanation_ok = match case.explanation.as_deref() {
                None => true,
                // The suite's drivers set the default explanation to
                // "DEFAULT": the case expects no exp= text to be used.
                Some("DEFAULT") => explanation.is_none(),
                Some(want) => explanation.as_deref() == Some(want),
            };
            if !(result_ok && explanation_ok) {
                failures.push(format!(
                    "{} / {name} (spec {:?}): want {:?} exp {:?}, got {result} exp {explanation:?}\n    {}",
                    scenario.description,
                    case.spec,
                    case.result,
                    case.explanation,
                    trace.join("\n    ")
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(ran + SKIPPED.len(), EXPECTED_CASES, "case count changed");
    assert_eq!(ran, EXPECTED_CASES - SKIPPED.len());
}

/// A name in zone-file form: every octet other than a letter, digit, `-`
/// or `_` written `\DDD` (RFC 1035 §5.1), absolute.
fn escaped_name(name: &str) -> String {
    let mut out = String::new();
    for label in norm(name).split('.') {
        for b in label.bytes() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'_' {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("\\{b:03}"));
            }
        }
        out.push('.');
    }
    out
}

/// The zone file for `names` of a scenario's zonedata (A and SPF-as-TXT
/// records, the ones the case below needs), under an `example.com.` apex.
fn zone_file(zonedata: &BTreeMap<String, Vec<Value>>, names: &[&str]) -> String {
    let mut text = String::from(
        "$TTL 300\nexample.com. SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300\nexample.com. NS ns.example.com.\n",
    );
    for name in names {
        for value in &zonedata[*name] {
            let line = match entry(value) {
                Entry::Record(RData::A { address }) => format!("A {address}"),
                Entry::Record(RData::Txt { strings } | RData::Spf { strings }) => {
                    let quoted: Vec<String> = strings.iter().map(|s| format!("\"{s}\"")).collect();
                    format!("TXT {}", quoted.join(" "))
                }
                other => panic!("not written by this test: {other:?}"),
            };
            text.push_str(&format!("{} {line}\n", escaped_name(name)));
        }
    }
    text
}

/// RFC 7208 §7.1 macros expand to names with `%` and spaces; a zone file
/// writes those owners with `\DDD` escapes (`macro\037percent\032\032space`),
/// which the zone-file backend once kept escaped, so the name was never found.
#[test]
fn macro_mania_in_domain_passes_through_a_zone_file() {
    let scenarios = load();
    let (scenario, case) = scenarios
        .iter()
        .find_map(|s| s.tests.get("macro-mania-in-domain").map(|c| (s, c)))
        .expect("the case is in the suite");
    let text = zone_file(
        &scenario.zonedata,
        &["e1a.example.com", "macro%percent  space%20url-space.example.com"],
    );
    assert!(text.contains("macro\\037percent\\032\\032space"), "{text}");
    let source = ZoneFileSource::from_str(&text, None, "macro-mania.zone").expect("the zone loads");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let (result, _, trace) = runtime.block_on(run_case(&source, case));
    assert!(case.result.accepts(result), "got {result}:\n{}", trace.join("\n"));
}
