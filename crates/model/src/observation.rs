//! The Observation: everything one scan saw, serialisable and versioned, so
//! it can be judged again later, diffed, or shown as evidence.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::dns::{Answer, Proof, QueryKey, RType, Status};
use crate::probe::{HttpsFetch, HttpsStatus, Probes, SmtpProbe, SmtpStatus, SmtpTarget};

/// The version of the Observation format. Bump on incompatible change.
///
/// - 1: DS, DNSKEY, TLSA and NSEC3PARAM records as presentation text
///   (`"type": "OTHER"`), a referral as an `error` status.
/// - 2: those records typed ([`RData::Ds`](crate::RData::Ds) ...), a
///   record that did not parse as `UNPARSED` with its reason, and
///   `Status::Referral`. Schema 1 is still read: its answers are upgraded
///   as they are read ([`Answer::upgrade_schema1`]).
pub const OBSERVATION_SCHEMA: u32 = 2;

/// Where the answers came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceInfo {
    /// `live` (a resolver over the network) or `zone-file`.
    pub backend: String,
    /// The resolvers asked (address:port), when live.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resolvers: Vec<String>,
    /// The zone files read, when offline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zone_files: Vec<String>,
    /// Whether DNSSEC was validated locally from a trust anchor.
    pub dnssec_validation: bool,
}

/// Every query and answer of one scan, keyed by question. A `BTreeMap` so
/// the serialised form is sorted and stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Transcript {
    entries: BTreeMap<QueryKey, Answer>,
}

/// One entry as read back.
#[derive(Deserialize)]
struct TranscriptEntry {
    name: String,
    #[serde(rename = "type")]
    rtype: RType,
    #[serde(default)]
    server: Option<std::net::IpAddr>,
    #[serde(flatten)]
    answer: Answer,
}

/// One entry as written: [`TranscriptEntry`]'s fields, borrowed. Writing
/// owned entries cloned every answer with its records for each
/// serialisation (the store's fingerprint and its stored copy of every
/// monitored scan: perf, bench/monitor-lab.sh).
#[derive(Serialize)]
struct TranscriptEntryRef<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    rtype: RType,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<std::net::IpAddr>,
    #[serde(flatten)]
    answer: &'a Answer,
}

impl Serialize for Transcript {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.entries.iter().map(|(k, a)| TranscriptEntryRef {
            name: &k.name,
            rtype: k.rtype,
            server: k.server,
            answer: a,
        }))
    }
}

impl<'de> Deserialize<'de> for Transcript {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<TranscriptEntry>::deserialize(d)?;
        Ok(Self {
            entries: list
                .into_iter()
                .map(|e| {
                    let key = QueryKey {
                        server: e.server,
                        ..QueryKey::new(&e.name, e.rtype)
                    };
                    (key, e.answer.upgrade_schema1())
                })
                .collect(),
        })
    }
}

impl Transcript {
    /// Record the answer to `key`, replacing any earlier one.
    pub fn insert(&mut self, key: QueryKey, answer: Answer) {
        self.entries.insert(key, answer);
    }

    /// The answer to `key`, if asked.
    pub fn get(&self, key: &QueryKey) -> Option<&Answer> {
        self.entries.get(key)
    }

    /// Whether `key` was asked.
    pub fn contains(&self, key: &QueryKey) -> bool {
        self.entries.contains_key(key)
    }

    /// How many questions were asked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was asked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every question and answer, sorted by question.
    pub fn iter(&self) -> impl Iterator<Item = (&QueryKey, &Answer)> {
        self.entries.iter()
    }
}

/// What the user told the scan about the domain.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanOptions {
    /// DKIM selectors to try besides the built-in list (`--dkim-selector`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dkim_selectors: Vec<String>,
    /// The domain is parked: it should neither send nor receive mail (`--parked`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parked: bool,
    /// The protocol checks to run (`--checks`); empty means all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// Most addresses probed per MX host (`--max-mx-addresses`); `None`
    /// means [`ScanOptions::DEFAULT_MX_ADDRESSES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mx_addresses: Option<usize>,
    /// The PEM trust anchors certificates were judged against
    /// (`--ca-file`); `None` means the built-in webpki roots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

impl ScanOptions {
    /// Addresses probed per MX host unless told otherwise.
    pub const DEFAULT_MX_ADDRESSES: usize = 8;

    /// Most addresses probed per MX host.
    pub fn mx_address_limit(&self) -> usize {
        self.max_mx_addresses.unwrap_or(Self::DEFAULT_MX_ADDRESSES)
    }

    /// Whether the check named `name` (`mx`, `spf`, `dmarc`, ...) runs.
    pub fn runs(&self, name: &str) -> bool {
        self.checks.is_empty() || self.checks.iter().any(|c| c == name)
    }
}

/// Everything one scan of one domain observed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// [`OBSERVATION_SCHEMA`] at the time of writing. An older schema is
    /// read as the current one: its answers are upgraded as they are read
    /// (`tool_version` still says which build collected them).
    #[serde(deserialize_with = "read_schema")]
    pub schema: u32,
    /// The mailwarden version that collected it.
    pub tool_version: String,
    /// The domain scanned, normalised.
    pub domain: String,
    /// RFC 3339 start time; absent in deterministic test output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// How long the scan took, in milliseconds; absent in deterministic test output.
    pub duration_ms: Option<u64>,
    /// Where the DNS answers came from.
    pub source: SourceInfo,
    /// What the user told the scan; judging the evidence again uses it.
    #[serde(default)]
    pub options: ScanOptions,
    /// True when the query or time budget ran out: some answers are
    /// `budget-exhausted` and the findings that need them indeterminate.
    #[serde(default)]
    pub budget_exhausted: bool,
    /// Every query and answer.
    pub dns: Transcript,
    /// Every SMTP probe and HTTPS fetch.
    #[serde(default, skip_serializing_if = "Probes::is_empty")]
    pub probes: Probes,
}

impl Observation {
    /// An Observation of `domain` with nothing in it yet: this build's
    /// schema and version, the default source and options, no answers,
    /// no probes. Callers set what they collected with struct update
    /// syntax (`Observation { dns, ..Observation::new(domain) }`).
    pub fn new(domain: impl Into<String>) -> Self {
        Self {
            schema: OBSERVATION_SCHEMA,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            domain: domain.into(),
            started_at: None,
            duration_ms: None,
            source: SourceInfo::default(),
            options: ScanOptions::default(),
            budget_exhausted: false,
            dns: Transcript::default(),
            probes: Probes::default(),
        }
    }
}

/// Evidence of an older schema is upgraded while it is read (the
/// transcript's answers, [`Answer::upgrade_schema1`]), so once read it is of
/// the current schema; a newer schema is kept, for the reader to refuse.
fn read_schema<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    Ok(u32::deserialize(d)?.max(OBSERVATION_SCHEMA))
}

/// A lookup as a judge sees it.
pub type Lookup<'a> = &'a Answer;

static NOT_COLLECTED: Answer = Answer {
    status: Status::NotCollected,
    records: Vec::new(),
    cname_chain: Vec::new(),
    ttl: None,
    proof: Proof::Indeterminate,
    upstream_ad: false,
    authoritative: false,
    signatures: Vec::new(),
    glue: std::collections::BTreeMap::new(),
};

static NO_PROBES: Probes = Probes::new();

static SMTP_NOT_COLLECTED: SmtpProbe = SmtpProbe::status(SmtpStatus::NotCollected, None);

static HTTPS_NOT_COLLECTED: HttpsFetch = HttpsFetch::status(HttpsStatus::NotCollected, None);

/// Everything a judge asked for that the evidence could not answer.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Wants {
    /// DNS questions.
    pub dns: BTreeSet<QueryKey>,
    /// STARTTLS probes (host and address).
    pub smtp: BTreeSet<SmtpTarget>,
    /// URL → the addresses to fetch it from.
    pub https: BTreeMap<String, Vec<std::net::IpAddr>>,
}

impl Wants {
    /// Whether nothing is wanted.
    pub fn is_empty(&self) -> bool {
        self.dns.is_empty() && self.smtp.is_empty() && self.https.is_empty()
    }

    /// Add `other`'s questions; for a URL both want, `other`'s addresses
    /// win (as when one view records both, the later ask last).
    pub fn extend(&mut self, other: Wants) {
        self.dns.extend(other.dns);
        self.smtp.extend(other.smtp);
        self.https.extend(other.https);
    }
}

/// The read-only evidence a judge sees (DNS answers and probe results),
/// plus a note of every question the judge asked that it cannot answer.
///
/// `collect` runs the judges against a view, fetches what they were
/// missing, and repeats until nothing is missing; so the queries a scan
/// makes are exactly those the judges need, and judging is pure.
#[derive(Debug)]
pub struct DnsView<'a> {
    transcript: &'a Transcript,
    probes: &'a Probes,
    missing: RefCell<Wants>,
}

impl<'a> DnsView<'a> {
    /// A view of DNS answers only (every probe is wanted).
    pub fn new(transcript: &'a Transcript) -> Self {
        Self::with_probes(transcript, &NO_PROBES)
    }

    /// A view of DNS answers and probe results.
    pub fn with_probes(transcript: &'a Transcript, probes: &'a Probes) -> Self {
        Self {
            transcript,
            probes,
            missing: RefCell::new(Wants::default()),
        }
    }

    /// The STARTTLS probe of `host` at `address`; `not-collected` (and
    /// remembered as wanted) when the evidence has none.
    pub fn smtp(&self, host: &str, address: std::net::IpAddr) -> &'a SmtpProbe {
        let target = SmtpTarget::new(host, address);
        match self.probes.smtp.get(&target) {
            Some(p) => p,
            None => {
                self.missing.borrow_mut().smtp.insert(target);
                &SMTP_NOT_COLLECTED
            }
        }
    }

    /// The fetch of `url` from `addresses`; `not-collected` (and remembered
    /// as wanted) when the evidence has none.
    pub fn https(&self, url: &str, addresses: &[std::net::IpAddr]) -> &'a HttpsFetch {
        match self.probes.https.get(url) {
            Some(f) => f,
            None => {
                self.missing
                    .borrow_mut()
                    .https
                    .insert(url.to_string(), addresses.to_vec());
                &HTTPS_NOT_COLLECTED
            }
        }
    }

    /// The answer to `name`/`rtype`. If the transcript has none, the
    /// question is remembered and a `not-collected` answer returned, which
    /// judges treat like any other failure to look: indeterminate.
    pub fn get(&self, name: &str, rtype: RType) -> Lookup<'a> {
        self.get_key(QueryKey::new(name, rtype))
    }

    /// The answer of one authoritative server, asked directly.
    pub fn get_at(&self, server: std::net::IpAddr, name: &str, rtype: RType) -> Lookup<'a> {
        self.get_key(QueryKey::at(server, name, rtype))
    }

    fn get_key(&self, key: QueryKey) -> Lookup<'a> {
        match self.transcript.get(&key) {
            Some(answer) => answer,
            None => {
                self.missing.borrow_mut().dns.insert(key);
                &NOT_COLLECTED
            }
        }
    }

    /// The DNS questions asked that the transcript could not answer.
    pub fn into_missing(self) -> BTreeSet<QueryKey> {
        self.missing.into_inner().dns
    }

    /// Everything asked (DNS and probes) that the evidence could not answer.
    pub fn into_wants(self) -> Wants {
        self.missing.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::RData;

    #[test]
    fn view_records_missing_questions_and_answers_known_ones() {
        let mut t = Transcript::default();
        t.insert(
            QueryKey::new("Example.com.", RType::Mx),
            Answer::with_records(
                vec![RData::Mx {
                    preference: 10,
                    exchange: "mx.example.com".into(),
                }],
                Proof::Secure,
            ),
        );
        let view = DnsView::new(&t);
        assert_eq!(view.get("example.com", RType::Mx).status, Status::Records);
        assert_eq!(view.get("mx.example.com", RType::A).status, Status::NotCollected);
        let missing = view.into_missing();
        assert_eq!(
            missing.into_iter().collect::<Vec<_>>(),
            vec![QueryKey::new("mx.example.com", RType::A)]
        );
    }

    #[test]
    fn transcript_round_trips_through_json_sorted() {
        let mut t = Transcript::default();
        t.insert(
            QueryKey::new("b.test", RType::A),
            Answer::empty(Status::NxDomain, Proof::Insecure),
        );
        t.insert(
            QueryKey::new("a.test", RType::Txt),
            Answer::empty(Status::Timeout, Proof::Indeterminate),
        );
        let json = serde_json::to_string(&t).unwrap();
        assert!(json.find("a.test").unwrap() < json.find("b.test").unwrap());
        let back: Transcript = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
    }

    /// An MX answer for a.test from the resolver, and one for `name` from
    /// 192.0.2.53 asked directly.
    fn resolver_and_direct(name: &str) -> Transcript {
        let server: std::net::IpAddr = "192.0.2.53".parse().unwrap();
        let mut t = Transcript::default();
        t.insert(
            QueryKey::new("a.test", RType::Mx),
            Answer::empty(Status::NoData, Proof::NotValidated),
        );
        t.insert(
            QueryKey::at(server, name, RType::Mx),
            Answer::empty(Status::Timeout, Proof::Indeterminate),
        );
        t
    }

    #[test]
    fn server_directed_answers_keep_their_server_through_json() {
        let t = resolver_and_direct("a.test");
        let json = serde_json::to_string(&t).unwrap();
        let back: Transcript = serde_json::from_str(&json).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.len(), 2);
    }

    /// The borrowed entries write what the owned ones did: name, type,
    /// server (only when asked directly), then the answer's own fields.
    #[test]
    fn borrowed_transcript_entries_write_the_fields_in_the_stored_order() {
        let t = resolver_and_direct("b.test");
        let json = serde_json::to_string(&t).unwrap();
        // An answer's own fields, without its braces.
        let fields = |a: Answer| {
            let text = serde_json::to_string(&a).unwrap();
            text[1..text.len() - 1].to_string()
        };
        let expected = format!(
            r#"[{{"name":"a.test","type":"MX",{}}},{{"name":"b.test","type":"MX","server":"192.0.2.53",{}}}]"#,
            fields(Answer::empty(Status::NoData, Proof::NotValidated)),
            fields(Answer::empty(Status::Timeout, Proof::Indeterminate)),
        );
        assert_eq!(json, expected);
    }

    #[test]
    fn an_older_schema_reads_as_the_current_one_and_a_newer_one_is_kept() {
        let text = |schema: u32| {
            format!(
                r#"{{"schema":{schema},"tool_version":"0.1.0","domain":"a.test","source":{{"backend":"live","dnssec_validation":true}},"dns":[]}}"#
            )
        };
        let old: Observation = serde_json::from_str(&text(1)).unwrap();
        assert_eq!(old.schema, OBSERVATION_SCHEMA);
        let newer: Observation = serde_json::from_str(&text(OBSERVATION_SCHEMA + 1)).unwrap();
        assert_eq!(newer.schema, OBSERVATION_SCHEMA + 1);
    }
}
