//! What a domain looked like at a snapshot, as compared for changes: per
//! DNS name and type the records, per MX address the STARTTLS result and
//! certificate, per URL the MTA-STS policy, and each finding's outcome.
//!
//! Could-not-look is never a change: a timeout, SERVFAIL, refused or
//! unasked query, an unreachable MX or an indeterminate finding carries the
//! previous state forward. A record that disappears (NXDOMAIN / NODATA)
//! counts only once two consecutive scans saw it gone: the snapshot that
//! saw it was seen twice, or the snapshot before it saw it gone too.

use std::collections::{BTreeMap, BTreeSet};

use mailwarden_model::probe::{HttpsStatus, SmtpProbe, SmtpStatus};
use mailwarden_model::{Finding, Observation, RData, Status};
use serde_json::{Value, json};

use crate::snapshot::StoredFinding;

/// (type, name): `("MX", "example.com.")`, `("A", "ns1.example. @192.0.2.53")`,
/// `("SMTP", "mx.example. [192.0.2.25]")`, `("MTA-STS", URL)`.
pub type Key = (String, String);

/// What one scan saw of one item.
#[derive(Debug, Clone, PartialEq)]
pub enum Seen {
    /// A definite value (records, a TLS session, a policy).
    Value(Value),
    /// Definitely absent: `"NXDOMAIN"` or `"NODATA"`.
    Absent(Value),
    /// Could not look.
    Unknown,
}

/// A finding as a state reads it, borrowed from a scan's findings or from
/// stored ones: cloning the scan's 157 findings (messages included) into
/// stored form only to read four fields was 0.5% of a monitoring round
/// where every scan stored a new snapshot (perf, bench/monitor-lab.sh).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingView<'a> {
    pub rule_id: &'a str,
    pub subject: &'a str,
    pub outcome: &'a str,
    pub severity: &'a str,
}

impl<'a> From<&'a StoredFinding> for FindingView<'a> {
    fn from(f: &'a StoredFinding) -> Self {
        FindingView {
            rule_id: &f.rule_id,
            subject: &f.subject,
            outcome: &f.outcome,
            severity: &f.severity,
        }
    }
}

impl<'a> From<&'a Finding> for FindingView<'a> {
    fn from(f: &'a Finding) -> Self {
        FindingView {
            rule_id: &f.id,
            subject: &f.subject,
            outcome: f.outcome.as_str(),
            severity: f.severity.as_str(),
        }
    }
}

/// The state of a domain after a snapshot, with could-not-look carried over.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct State {
    pub items: BTreeMap<Key, Value>,
    /// (rule id, subject) → outcome.
    pub findings: BTreeMap<(String, String), String>,
    /// Items seen absent by this snapshot itself (for the two-scan rule).
    absent_here: BTreeSet<Key>,
    /// Removals seen once, not yet confirmed.
    pub pending_removals: BTreeSet<Key>,
}

impl State {
    /// The state after a snapshot that saw `seen` and `findings`, was seen
    /// `seen_count` times in a row, following `self`.
    ///
    /// Built from sorted lists rather than by inserting into a copy of the
    /// state: the 250 tree inserts (each allocating its key again) were a
    /// tenth of the instructions storing a new snapshot took; built so, it
    /// takes 5% fewer (callgrind of `ingest_batch` over 2,000 lab scans,
    /// issue 13).
    pub fn advance(&self, seen: BTreeMap<Key, Seen>, findings: &[FindingView<'_>], seen_count: i64) -> State {
        let mut items: Vec<(Key, Value)> = Vec::with_capacity(self.items.len().max(seen.len()));
        let mut absent_here = Vec::new();
        let mut pending_removals = Vec::new();
        let mut before = self.items.iter().peekable();
        for (key, s) in seen {
            // Items this scan did not look at stay as they were.
            while let Some((k, v)) = before.next_if(|(k, _)| **k < key) {
                items.push((k.clone(), v.clone()));
            }
            let old = before.next_if(|(k, _)| **k == key).map(|(_, v)| v);
            // Could-not-look and an unconfirmed removal keep the old value.
            let next = match s {
                Seen::Unknown => old.cloned(),
                Seen::Value(v) => Some(v),
                Seen::Absent(v) => {
                    absent_here.push(key.clone());
                    let had_value = matches!(old, Some(old) if !is_absent(old));
                    let confirmed = !had_value || seen_count >= 2 || self.absent_here.contains(&key);
                    if confirmed {
                        Some(v)
                    } else {
                        pending_removals.push(key.clone());
                        old.cloned()
                    }
                }
            };
            if let Some(v) = next {
                items.push((key, v));
            }
        }
        items.extend(before.map(|(k, v)| (k.clone(), v.clone())));
        // The outcomes before, then this scan's (a later one wins: the
        // stable sort keeps their order and the map keeps the last).
        let mut outcomes: Vec<((String, String), String)> =
            self.findings.iter().map(|(k, o)| (k.clone(), o.clone())).collect();
        outcomes.extend(
            findings
                .iter()
                .filter(|f| f.outcome != "indeterminate")
                .map(|f| ((f.rule_id.to_string(), f.subject.to_string()), f.outcome.to_string())),
        );
        State {
            items: items.into_iter().collect(),
            findings: outcomes.into_iter().collect(),
            absent_here: absent_here.into_iter().collect(),
            pending_removals: pending_removals.into_iter().collect(),
        }
    }

    /// The state as stored (snapshots.state).
    pub fn to_json(&self) -> Value {
        json!({
            "items": self.items.iter().map(|((t, n), v)| json!([t, n, v])).collect::<Vec<_>>(),
            "findings": self.findings.iter().map(|((i, s), o)| json!([i, s, o])).collect::<Vec<_>>(),
            "absent_here": self.absent_here.iter().collect::<Vec<_>>(),
            "pending_removals": self.pending_removals.iter().collect::<Vec<_>>(),
        })
    }

    /// [`State::to_json`] as text, written straight from the state: the
    /// `Value` tree built and freed on the way was 4% of a monitoring
    /// round's CPU when every scan was a new snapshot (perf,
    /// bench/monitor-lab.sh). The same text (keys in `json!`'s sorted order).
    pub fn to_text(&self) -> String {
        #[derive(serde::Serialize)]
        struct Text<'a> {
            absent_here: &'a BTreeSet<Key>,
            findings: Vec<(&'a str, &'a str, &'a str)>,
            items: Vec<(&'a str, &'a str, &'a Value)>,
            pending_removals: &'a BTreeSet<Key>,
        }
        let text = Text {
            absent_here: &self.absent_here,
            findings: self
                .findings
                .iter()
                .map(|((i, s), o)| (i.as_str(), s.as_str(), o.as_str()))
                .collect(),
            items: self
                .items
                .iter()
                .map(|((t, n), v)| (t.as_str(), n.as_str(), v))
                .collect(),
            pending_removals: &self.pending_removals,
        };
        serde_json::to_string(&text).unwrap_or_else(|_| self.to_json().to_string())
    }

    /// A stored state back; `None` when it is not one.
    pub fn from_json(v: &Value) -> Option<State> {
        let pair = |x: &Value| Some((x[0].as_str()?.to_string(), x[1].as_str()?.to_string()));
        let keys = |k: &str| -> Option<BTreeSet<Key>> { v[k].as_array()?.iter().map(pair).collect() };
        Some(State {
            items: v["items"]
                .as_array()?
                .iter()
                .map(|x| Some((pair(x)?, x[2].clone())))
                .collect::<Option<_>>()?,
            findings: v["findings"]
                .as_array()?
                .iter()
                .map(|x| Some((pair(x)?, x[2].as_str()?.to_string())))
                .collect::<Option<_>>()?,
            absent_here: keys("absent_here")?,
            pending_removals: keys("pending_removals")?,
        })
    }

    /// A hash of the items and outcomes: equal states, equal digests.
    pub fn digest(&self) -> String {
        let text = serde_json::to_vec(&json!({
            "items": self.items.iter().map(|((t, n), v)| json!([t, n, v])).collect::<Vec<_>>(),
            "findings": self.findings.iter().map(|((i, s), o)| json!([i, s, o])).collect::<Vec<_>>(),
        }))
        .unwrap_or_default();
        use sha2::Digest;
        crate::fingerprint::hex(&sha2::Sha256::digest(&text))
    }
}

pub(crate) fn is_absent(v: &Value) -> bool {
    matches!(v.as_str(), Some("NXDOMAIN" | "NODATA"))
}

/// Everything one observation saw, item by item.
pub fn seen_in(obs: &Observation) -> BTreeMap<Key, Seen> {
    // Collected, then built at once (as in State::advance).
    let mut out = Vec::with_capacity(obs.dns.len());
    for (key, answer) in obs.dns.iter() {
        let name = match key.server {
            Some(server) => format!("{} @{server}", key.name),
            None => key.name.clone(),
        };
        let seen = match &answer.status {
            Status::Records => {
                let mut records: Vec<String> = answer.records.iter().map(presentation).collect();
                records.sort();
                // Moved into the value: `json!` would serialise a copy.
                Seen::Value(Value::Array(records.into_iter().map(Value::String).collect()))
            }
            Status::NxDomain => Seen::Absent(json!("NXDOMAIN")),
            Status::NoData => Seen::Absent(json!("NODATA")),
            Status::Bogus(why) => Seen::Value(json!({ "dnssec": "bogus", "reason": why })),
            _ => Seen::Unknown,
        };
        out.push(((key.rtype.as_str().to_string(), name), seen));
    }
    for (target, probe) in &obs.probes.smtp {
        let name = format!("{} [{}]", target.host, target.address);
        out.push((("SMTP".into(), name), smtp_seen(probe)));
    }
    for (url, fetch) in &obs.probes.https {
        let kind = if url.contains("/.well-known/mta-sts.txt") {
            "MTA-STS"
        } else {
            "HTTPS"
        };
        let seen = match fetch.status {
            HttpsStatus::Fetched => Seen::Value(json!({
                "policy": fetch.body.as_deref().map(policy_lines),
                "tls_version": fetch.tls_version,
            })),
            HttpsStatus::HttpStatus => Seen::Value(json!({ "http_status": fetch.http_status })),
            _ => Seen::Unknown,
        };
        out.push(((kind.into(), url.clone()), seen));
    }
    out.into_iter().collect()
}

/// STARTTLS results that say something about the server; a timeout or an
/// unreachable address says nothing (could not look).
fn smtp_seen(probe: &SmtpProbe) -> Seen {
    match probe.status {
        SmtpStatus::Tls => {
            let tls = probe.tls.as_ref();
            Seen::Value(json!({
                "starttls": "tls",
                "tls_version": tls.map(|t| t.version.clone()),
                "cipher_suite": tls.map(|t| t.cipher_suite.clone()),
                "certificate": tls.and_then(|t| t.chain.first()).map(|leaf| certificate(&leaf.0)),
            }))
        }
        SmtpStatus::NoStarttls | SmtpStatus::StarttlsRefused | SmtpStatus::HandshakeFailed => {
            Seen::Value(json!({ "starttls": probe.status.as_str() }))
        }
        _ => Seen::Unknown,
    }
}

/// Fingerprint, issuer, subject and expiry of a DER certificate.
pub fn certificate(der: &[u8]) -> Value {
    use sha2::Digest;
    let sha256 = crate::fingerprint::hex(&sha2::Sha256::digest(der));
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => json!({
            "sha256": sha256,
            "issuer": cert.issuer().to_string(),
            "subject": cert.subject().to_string(),
            "not_after": cert.validity().not_after.to_datetime().format(&time::format_description::well_known::Rfc3339).ok(),
        }),
        Err(_) => json!({ "sha256": sha256 }),
    }
}

/// An MTA-STS policy body as its lines (RFC 8461 §3.2: "key: value" lines
/// ending in CRLF or LF), trimmed, so a line-ending change is no change.
fn policy_lines(body: &str) -> Value {
    json!(
        body.lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
    )
}

/// A record in zone-file presentation form (without owner, class, TTL).
pub fn presentation(r: &RData) -> String {
    match r {
        RData::A { address } => address.to_string(),
        RData::Aaaa { address } => address.to_string(),
        RData::Cname { target } | RData::Ns { target } | RData::Ptr { target } => target.clone(),
        RData::Mx { preference, exchange } => format!("{preference} {exchange}"),
        RData::Soa {
            mname,
            rname,
            serial,
            minimum,
        } => format!("{mname} {rname} {serial} {minimum}"),
        RData::Txt { strings } | RData::Spf { strings } => {
            strings.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>().join(" ")
        }
        RData::Other { rtype, text } => format!("TYPE{rtype} {text}"),
        // DS, DNSKEY, TLSA, NSEC3PARAM (typed) and records kept unparsed.
        typed => typed.data_text().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(t: &str, n: &str) -> Key {
        (t.to_string(), n.to_string())
    }

    fn sample() -> State {
        let mut s = State::default();
        s.items.insert(
            key("MX", "example.com."),
            json!({"records": ["10 mx.example.com."], "note": "quote \" and \\u{0001} \u{0001}"}),
        );
        s.items.insert(key("SMTP", "mx.example.com. [192.0.2.25]"), json!(null));
        s.findings
            .insert(("spf.syntax".into(), "example.com".into()), "pass".into());
        s.absent_here.insert(key("TXT", "_mta-sts.example.com."));
        s.pending_removals.insert(key("A", "mx.example.com."));
        s
    }

    #[test]
    fn the_text_is_the_json_states_were_always_stored_as() {
        for state in [State::default(), sample()] {
            assert_eq!(state.to_text(), state.to_json().to_string());
            let back: Value = serde_json::from_str(&state.to_text()).unwrap();
            assert_eq!(State::from_json(&back), Some(state));
        }
    }

    /// What `advance` computed before it built from sorted lists: a copy
    /// of the state with this scan's items and outcomes inserted.
    fn advance_by_inserting(
        before: &State,
        seen: BTreeMap<Key, Seen>,
        findings: &[FindingView<'_>],
        count: i64,
    ) -> State {
        let mut next = State {
            items: before.items.clone(),
            findings: before.findings.clone(),
            ..State::default()
        };
        for (key, s) in seen {
            match s {
                Seen::Unknown => {}
                Seen::Value(v) => {
                    next.items.insert(key, v);
                }
                Seen::Absent(v) => {
                    next.absent_here.insert(key.clone());
                    let had_value = matches!(before.items.get(&key), Some(old) if !is_absent(old));
                    if !had_value || count >= 2 || before.absent_here.contains(&key) {
                        next.items.insert(key, v);
                    } else {
                        next.pending_removals.insert(key);
                    }
                }
            }
        }
        for f in findings.iter().filter(|f| f.outcome != "indeterminate") {
            next.findings
                .insert((f.rule_id.to_string(), f.subject.to_string()), f.outcome.to_string());
        }
        next
    }

    /// Items before, between and after the seen ones; unknown, absent
    /// (confirmed or not), new and changed values; outcomes overridden,
    /// kept, indeterminate, added, and one finding twice (the last wins).
    #[test]
    fn advancing_from_sorted_lists_equals_inserting_into_a_copy() {
        let mut before = sample();
        before.items.insert(key("A", "a.example.com."), json!(["192.0.2.1"]));
        before
            .items
            .insert(key("TXT", "gone.example.com."), json!(["\"v=spf1 -all\""]));
        before.items.insert(key("TXT", "z.example.com."), json!(["\"z\""]));
        before
            .findings
            .insert(("dmarc.policy".into(), "example.com".into()), "fail".into());
        let seen = || {
            BTreeMap::from([
                (key("A", "a.example.com."), Seen::Unknown),
                (key("A", "mx.example.com."), Seen::Absent(json!("NXDOMAIN"))),
                (key("MX", "example.com."), Seen::Value(json!(["20 mx2.example.com."]))),
                (key("NS", "example.com."), Seen::Value(json!(["ns.example.com."]))),
                (key("TXT", "_mta-sts.example.com."), Seen::Absent(json!("NODATA"))),
                (key("TXT", "gone.example.com."), Seen::Absent(json!("NXDOMAIN"))),
                (key("TXT", "new.example.com."), Seen::Unknown),
            ])
        };
        let f = |rule_id, outcome| FindingView {
            rule_id,
            subject: "example.com",
            outcome,
            severity: "high",
        };
        let findings = [
            f("dmarc.policy", "pass"),
            f("spf.syntax", "indeterminate"),
            f("tls.rpt", "fail"),
            f("tls.rpt", "pass"),
        ];
        for count in [1, 2] {
            for start in [State::default(), before.clone()] {
                let next = start.advance(seen(), &findings, count);
                assert_eq!(
                    next,
                    advance_by_inserting(&start, seen(), &findings, count),
                    "seen {count}x"
                );
            }
        }
        let next = before.advance(seen(), &findings, 1);
        assert!(next.pending_removals.contains(&key("TXT", "gone.example.com.")));
        assert_eq!(next.findings[&("dmarc.policy".into(), "example.com".into())], "pass");
        assert_eq!(next.findings[&("tls.rpt".into(), "example.com".into())], "pass");
    }

    /// snapshot::latest tells a settled state by this exact text (snapshot.rs).
    #[test]
    fn a_state_awaiting_no_removal_says_so_in_the_text_record_scan_matches() {
        assert!(State::default().to_text().contains(r#""pending_removals":[]"#));
        assert!(!sample().to_text().contains(r#""pending_removals":[]"#));
    }
}
