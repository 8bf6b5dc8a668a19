//! TLS reports (RFC 8460) joined with the stored scans of the domain:
//! each reported failure beside the findings of the scan of that MX at
//! that time, and the reporters that kept using an MTA-STS policy after
//! its `id` changed. Pure folds over the rows given ([`join_failures`],
//! [`stale_policies`]) and one reader of the store ([`read`]).
//!
//! RFC 8460 §4.3 names the result types; RFC 8461 §3.1 the `id`: "A short
//! string used to track policy updates. This string MUST uniquely
//! identify a given instance of a policy, such that senders can determine
//! when the policy has been updated by comparing to the "id" of a
//! previously seen policy." RFC 8460 §4.4 "policy-string": "Any linefeeds
//! from the original policy MUST be replaced with \[SP\]" — reporters send
//! one string per line, as the corpus shows; both forms are read.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use mailwarden_model::{Observation, QueryKey, RData, RType};
use mailwarden_store::reports_query::{self, ReportRow, StoredTlsPolicy};
use mailwarden_store::snapshot::{self, SnapshotMeta, StoredFinding};
use mailwarden_store::{Store, tenant_reports};
use serde::Serialize;

use crate::Reports;

/// The rules whose findings speak to a TLS-RPT result type (RFC 8460
/// §4.3), from rules/smtp.toml, dane.toml and mta-sts.toml.
pub fn related_rules(result_type: &str) -> &'static [&'static str] {
    match result_type.to_ascii_lowercase().as_str() {
        "starttls-not-supported" => &["smtp.starttls", "smtp.starttls-refused", "smtp.reachable"],
        "certificate-host-mismatch" => &["smtp.cert-name", "mta-sts.enforce-tls"],
        "certificate-expired" => &["smtp.cert-expired", "smtp.cert-expiring"],
        "certificate-not-trusted" => &["smtp.cert-untrusted", "mta-sts.enforce-tls"],
        "validation-failure" => &["smtp.handshake", "smtp.cert-not-yet-valid", "smtp.cert-weak-key"],
        "tlsa-invalid" => &["dane.match", "dane.syntax", "dane.usage"],
        "dnssec-invalid" => &["dane.bogus", "dane.insecure"],
        "dane-required" => &["dane.tlsa-present", "dane.insecure"],
        "sts-policy-fetch-error" => &["mta-sts.policy"],
        "sts-policy-invalid" => &[
            "mta-sts.policy-syntax",
            "mta-sts.mode",
            "mta-sts.max-age",
            "mta-sts.mx-match",
        ],
        "sts-webpki-invalid" => &["mta-sts.policy"],
        _ => &[],
    }
}

/// A stored scan, as the joins show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScanRef {
    pub snapshot: i64,
    pub first_seen_at: String,
    pub last_seen_at: String,
}

impl From<&SnapshotMeta> for ScanRef {
    fn from(m: &SnapshotMeta) -> ScanRef {
        ScanRef {
            snapshot: m.id,
            first_seen_at: m.first_seen_at.clone(),
            last_seen_at: m.last_seen_at.clone(),
        }
    }
}

/// One reported failure beside the scan of its MX at that time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureJoin {
    pub reporter: String,
    pub report_id: String,
    pub begin: i64,
    pub end: i64,
    pub mx: Option<String>,
    pub result_type: String,
    pub failed_sessions: u64,
    /// The rules that speak to this result type.
    pub related_rules: Vec<String>,
    /// The scan seen during the report's period (the latest one); `None`:
    /// no scan then, and `findings` is empty: nothing is made up.
    pub scan: Option<ScanRef>,
    /// That scan's findings of the related rules for this MX, any outcome.
    pub findings: Vec<StoredFinding>,
    /// Without a scan then: the nearest before and after, to say how far off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_before: Option<ScanRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan_after: Option<ScanRef>,
}

/// A report whose MTA-STS policy is one replaced under an older `id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StalePolicy {
    pub reporter: String,
    pub report_id: String,
    pub begin: i64,
    pub end: i64,
    /// The `id` whose policy the reporter still applied.
    pub old_id: String,
    /// The `id` published when the report's period began, and since when.
    pub current_id: String,
    pub changed_at: String,
}

/// Both joins, as `reports tls --format json` prints them under `joins`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TlsJoins {
    pub failures: Vec<FailureJoin>,
    pub stale_policies: Vec<StalePolicy>,
}

/// One MTA-STS `id` as the stored scans saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StsVersion {
    pub id: String,
    /// The policy lines fetched with it (normalised), when fetched.
    pub policy: Option<Vec<String>>,
    /// When a scan first saw this id (stored time text).
    pub first_seen_at: String,
}

/// A policy's lines, trimmed, without empty ones, sorted: how reporters
/// send them differs (one string per line, or one string with spaces).
pub fn policy_lines(strings: &[String]) -> Vec<String> {
    let text = strings.join("\n");
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect();
    if lines.len() == 1 {
        // One string with the linefeeds replaced by spaces (§4.4): split
        // before each known key.
        let one = lines.remove(0);
        let mut cur = String::new();
        for word in one.split(' ') {
            let key = ["version:", "mode:", "mx:", "max_age:"].contains(&word.to_ascii_lowercase().as_str());
            if key && !cur.is_empty() {
                lines.push(std::mem::take(&mut cur));
            }
            if !cur.is_empty() {
                cur.push(' ');
            }
            cur.push_str(word);
        }
        lines.push(cur);
    }
    lines.sort();
    lines
}

/// The scan seen during [begin, end] (epoch seconds): the latest stored
/// snapshot whose first-to-last-seen span overlaps it; else the nearest
/// before and after.
fn scan_at(snapshots: &[SnapshotMeta], begin: i64, end: i64) -> (Option<usize>, Option<usize>, Option<usize>) {
    let at =
        |e: i64| time::OffsetDateTime::from_unix_timestamp(e).map_or_else(|_| String::new(), mailwarden_store::stamp);
    let (b, e) = (at(begin), at(end));
    let during = snapshots
        .iter()
        .rposition(|m| m.first_seen_at <= e && m.last_seen_at >= b);
    if during.is_some() {
        return (during, None, None);
    }
    let before = snapshots.iter().rposition(|m| m.last_seen_at < b);
    let after = snapshots.iter().position(|m| m.first_seen_at > e);
    (None, before, after)
}

/// The host of a finding's subject: `mx1.example.com (192.0.2.25)` → `mx1.example.com`.
fn subject_host(subject: &str) -> &str {
    subject.split(" (").next().unwrap_or(subject).trim_end_matches('.')
}

/// Join each failure with the findings of the scan of its MX then.
/// `findings(i)` gives the findings of `snapshots[i]`.
pub fn join_failures(
    domain: &str,
    items: &[(ReportRow, StoredTlsPolicy)],
    snapshots: &[SnapshotMeta],
    findings: impl Fn(usize) -> Vec<StoredFinding>,
) -> Vec<FailureJoin> {
    let mut out = Vec::new();
    for (report, policy) in items {
        for f in &policy.failures {
            let rules = related_rules(&f.result_type);
            let (during, before, after) = scan_at(snapshots, report.begin, report.end);
            let mx = f.receiving_mx_hostname.as_deref().map(|m| m.trim_end_matches('.'));
            let matched = during.map(|i| {
                findings(i)
                    .into_iter()
                    .filter(|x| rules.contains(&x.rule_id.as_str()))
                    .filter(|x| {
                        let host = subject_host(&x.subject);
                        // Policy-level rules are about the domain, not one MX.
                        mx.is_some_and(|m| host.eq_ignore_ascii_case(m))
                            || (x.rule_id.starts_with("mta-sts.") && host.eq_ignore_ascii_case(domain))
                    })
                    .collect()
            });
            out.push(FailureJoin {
                reporter: report.reporter.clone(),
                report_id: report.report_id.clone(),
                begin: report.begin,
                end: report.end,
                mx: mx.map(str::to_string),
                result_type: f.result_type.clone(),
                failed_sessions: f.failed_sessions,
                related_rules: rules.iter().map(|r| r.to_string()).collect(),
                scan: during.map(|i| ScanRef::from(&snapshots[i])),
                findings: matched.unwrap_or_default(),
                scan_before: before.map(|i| ScanRef::from(&snapshots[i])),
                scan_after: after.map(|i| ScanRef::from(&snapshots[i])),
            });
        }
    }
    out
}

/// Reports of `sts` policies whose period began after the `id` changed
/// and whose policy is that of an older `id`, not the current one's.
/// When the two ids' policies are the same text, a report cannot tell
/// them apart and is not listed.
pub fn stale_policies(items: &[(ReportRow, StoredTlsPolicy)], history: &[StsVersion]) -> Vec<StalePolicy> {
    let mut out = Vec::new();
    for (report, policy) in items {
        if !policy.policy_type.eq_ignore_ascii_case("sts") {
            continue;
        }
        let begin = time::OffsetDateTime::from_unix_timestamp(report.begin)
            .map_or_else(|_| String::new(), mailwarden_store::stamp);
        let Some(current) = history.iter().rposition(|v| v.first_seen_at <= begin) else {
            continue;
        };
        let seen = policy_lines(&policy.policy_strings);
        let now = &history[current];
        if now.policy.as_ref() == Some(&seen) {
            continue;
        }
        let old = history[..current]
            .iter()
            .rev()
            .find(|v| v.id != now.id && v.policy.as_ref() == Some(&seen));
        if let Some(old) = old {
            out.push(StalePolicy {
                reporter: report.reporter.clone(),
                report_id: report.report_id.clone(),
                begin: report.begin,
                end: report.end,
                old_id: old.id.clone(),
                current_id: now.id.clone(),
                changed_at: now.first_seen_at.clone(),
            });
        }
    }
    out
}

/// The `id=` of the domain's MTA-STS TXT record in a scan (RFC 8461 §3.1).
pub fn sts_id(obs: &Observation, domain: &str) -> Option<String> {
    let answer = obs.dns.get(&QueryKey::new(&format!("_mta-sts.{domain}"), RType::Txt))?;
    answer
        .records
        .iter()
        .filter_map(RData::txt_bytes)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .filter(|t| t.trim_start().starts_with("v=STSv1"))
        .find_map(|t| {
            t.split(';')
                .filter_map(|kv| kv.trim().split_once('='))
                .find(|(k, _)| k.trim() == "id")
                .map(|(_, v)| v.trim().to_string())
        })
}

/// The MTA-STS policy a scan fetched (RFC 8461 §3.2's well-known URL).
fn sts_policy(obs: &Observation, domain: &str) -> Option<Vec<String>> {
    let url = format!("https://mta-sts.{domain}/.well-known/mta-sts.txt");
    let body = obs.probes.https.get(&url)?.body.as_ref()?;
    Some(policy_lines(std::slice::from_ref(body)))
}

/// A stored scan with its MTA-STS `id` and policy lines, when it saw them.
pub type StsScan = (SnapshotMeta, Option<String>, Option<Vec<String>>);

/// The ids of the scans in order, one entry per change of id.
pub fn sts_history(scans: &[StsScan]) -> Vec<StsVersion> {
    let mut out: Vec<StsVersion> = Vec::new();
    for (meta, id, policy) in scans {
        let Some(id) = id else { continue };
        match out.last_mut() {
            Some(last) if &last.id == id => {
                if last.policy.is_none() {
                    last.policy.clone_from(policy);
                }
            }
            _ => out.push(StsVersion {
                id: id.clone(),
                policy: policy.clone(),
                first_seen_at: meta.first_seen_at.clone(),
            }),
        }
    }
    out
}

/// Read the domain's TLS reports and stored scans and join them.
pub async fn read(store: &Store, reports: Reports<'_>, since: Option<i64>) -> Result<TlsJoins> {
    let items = match reports {
        Reports::AllOf(d) => reports_query::tls_policies(store, d, since).await?,
        Reports::Tenant(d) => tenant_reports::tls_policies(store, d, since).await?,
    };
    let domain = match reports {
        Reports::AllOf(d) => d,
        Reports::Tenant(d) => d.name(),
    };
    let mut conn = store.pool().acquire().await?;
    let snapshots = snapshot::list(&mut conn, domain).await?;
    if items.is_empty() || snapshots.is_empty() {
        let failures = join_failures(domain, &items, &snapshots, |_| Vec::new());
        return Ok(TlsJoins {
            failures,
            stale_policies: Vec::new(),
        });
    }
    let mut scans = Vec::with_capacity(snapshots.len());
    let mut findings: BTreeMap<usize, Vec<StoredFinding>> = BTreeMap::new();
    let wanted: BTreeSet<usize> = items
        .iter()
        .filter(|(_, p)| !p.failures.is_empty())
        .filter_map(|(r, _)| scan_at(&snapshots, r.begin, r.end).0)
        .collect();
    for (i, meta) in snapshots.iter().enumerate() {
        let snap = snapshot::load(&mut conn, meta.id).await?;
        scans.push((
            meta.clone(),
            sts_id(&snap.observation, domain),
            sts_policy(&snap.observation, domain),
        ));
        if wanted.contains(&i) {
            findings.insert(i, snap.findings);
        }
    }
    Ok(TlsJoins {
        failures: join_failures(domain, &items, &snapshots, |i| {
            findings.get(&i).cloned().unwrap_or_default()
        }),
        stale_policies: stale_policies(&items, &sts_history(&scans)),
    })
}

#[cfg(test)]
mod tests {
    use mailwarden_ingest::tlsrpt::FailureDetail;

    use super::*;

    fn meta(id: i64, first: &str, last: &str) -> SnapshotMeta {
        SnapshotMeta {
            id,
            domain: "example.com".into(),
            fingerprint: String::new(),
            first_seen_at: first.into(),
            last_seen_at: last.into(),
            seen_count: 1,
            scanner_version: String::new(),
            catalogue_version: String::new(),
            score: None,
            profiles: String::new(),
            state: None,
            state_packed: None,
        }
    }

    fn item(begin: &str, policy_strings: &[&str], failures: Vec<FailureDetail>) -> (ReportRow, StoredTlsPolicy) {
        let begin = mailwarden_store::parse_time(begin).unwrap().unix_timestamp();
        (
            ReportRow {
                id: "0".into(),
                kind: "tlsrpt".into(),
                reporter: "google.com".into(),
                report_id: "r1".into(),
                domain: "example.com".into(),
                begin,
                end: begin + 86_399,
                records: 1,
                imported_at: String::new(),
                flags: Vec::new(),
                row_id: 0,
            },
            StoredTlsPolicy {
                policy_type: "sts".into(),
                policy_domain: Some("example.com".into()),
                mx_hosts: vec!["mx1.example.com".into()],
                successful: 10,
                failed: 2,
                policy_strings: policy_strings.iter().map(|s| s.to_string()).collect(),
                failures,
            },
        )
    }

    fn failure(kind: &str) -> FailureDetail {
        FailureDetail {
            result_type: kind.into(),
            sending_mta_ip: Some("192.0.2.1".into()),
            receiving_mx_hostname: Some("mx1.example.com".into()),
            receiving_mx_helo: None,
            receiving_ip: None,
            failed_sessions: 2,
            additional_information: None,
            failure_reason_code: None,
        }
    }

    fn finding(rule: &str, subject: &str, outcome: &str) -> StoredFinding {
        StoredFinding {
            rule_id: rule.into(),
            subject: subject.into(),
            outcome: outcome.into(),
            severity: "high".into(),
            message: String::new(),
        }
    }

    #[test]
    fn every_result_type_of_rfc_8460_maps_to_rules_that_exist() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/");
        let ids: String = ["smtp", "dane", "mta-sts"]
            .iter()
            .map(|f| std::fs::read_to_string(format!("{root}{f}.toml")).unwrap())
            .collect();
        for kind in [
            "starttls-not-supported",
            "certificate-host-mismatch",
            "certificate-expired",
            "certificate-not-trusted",
            "validation-failure",
            "tlsa-invalid",
            "dnssec-invalid",
            "dane-required",
            "sts-policy-fetch-error",
            "sts-policy-invalid",
            "sts-webpki-invalid",
        ] {
            let rules = related_rules(kind);
            assert!(!rules.is_empty(), "{kind}");
            for r in rules {
                assert!(ids.contains(&format!("id = \"{r}\"")), "{kind} -> {r}: no such rule");
            }
        }
        assert!(related_rules("something-new").is_empty());
    }

    #[test]
    fn a_certificate_expired_failure_sits_next_to_the_cert_expired_finding_of_that_mx_then() {
        let snaps = [
            meta(1, "2026-10-01T00:00:00.000Z", "2026-10-31T00:00:00.000Z"),
            meta(2, "2026-11-01T00:00:00.000Z", "2026-11-30T00:00:00.000Z"),
        ];
        let items = [item("2026-11-10T00:00:00Z", &[], vec![failure("certificate-expired")])];
        let joined = join_failures("example.com", &items, &snaps, |i| {
            assert_eq!(i, 1, "the scan of November");
            vec![
                finding("smtp.cert-expired", "mx1.example.com (192.0.2.25)", "fail"),
                finding("smtp.cert-expired", "mx2.example.com (192.0.2.26)", "pass"),
                finding("smtp.starttls", "mx1.example.com (192.0.2.25)", "pass"),
            ]
        });
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].scan.as_ref().map(|s| s.snapshot), Some(2));
        let got: Vec<_> = joined[0]
            .findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.subject.as_str(), f.outcome.as_str()))
            .collect();
        assert_eq!(got, [("smtp.cert-expired", "mx1.example.com (192.0.2.25)", "fail")]);
    }

    #[test]
    fn without_a_scan_in_the_period_nothing_is_joined_and_the_nearest_scans_are_named() {
        let snaps = [
            meta(1, "2026-10-01T00:00:00.000Z", "2026-10-02T00:00:00.000Z"),
            meta(2, "2026-12-01T00:00:00.000Z", "2026-12-01T00:00:00.000Z"),
        ];
        let items = [item("2026-11-10T00:00:00Z", &[], vec![failure("certificate-expired")])];
        let joined = join_failures("example.com", &items, &snaps, |_| panic!("no scan then"));
        assert_eq!(joined[0].scan, None);
        assert!(joined[0].findings.is_empty());
        assert_eq!(joined[0].scan_before.as_ref().map(|s| s.snapshot), Some(1));
        assert_eq!(joined[0].scan_after.as_ref().map(|s| s.snapshot), Some(2));
    }

    #[test]
    fn policy_lines_read_one_string_per_line_and_one_string_with_spaces_alike() {
        let per_line = policy_lines(&["version: STSv1".into(), "mode: enforce".into(), "mx: a.example".into()]);
        let one = policy_lines(&["version: STSv1 mode: enforce mx: a.example".into()]);
        let body = policy_lines(&["version: STSv1\r\nmode: enforce\r\nmx: a.example\r\n".into()]);
        assert_eq!(per_line, one);
        assert_eq!(per_line, body);
    }

    fn version(id: &str, mode: &str, first: &str) -> StsVersion {
        StsVersion {
            id: id.into(),
            policy: Some(policy_lines(&[format!(
                "version: STSv1\nmode: {mode}\nmx: mx1.example.com"
            )])),
            first_seen_at: first.into(),
        }
    }

    #[test]
    fn a_reporter_on_the_old_policy_after_the_id_changed_is_listed() {
        let history = [
            version("20261001", "testing", "2026-10-01T00:00:00.000Z"),
            version("20261101", "enforce", "2026-11-01T00:00:00.000Z"),
        ];
        let old = ["version: STSv1", "mode: testing", "mx: mx1.example.com"];
        let new = ["version: STSv1", "mode: enforce", "mx: mx1.example.com"];
        let stale = stale_policies(
            &[
                item("2026-11-05T00:00:00Z", &old, vec![]),
                item("2026-11-06T00:00:00Z", &new, vec![]),
                // Before the change the old policy is the current one.
                item("2026-10-20T00:00:00Z", &old, vec![]),
            ],
            &history,
        );
        assert_eq!(stale.len(), 1, "{stale:?}");
        assert_eq!(
            (stale[0].old_id.as_str(), stale[0].current_id.as_str()),
            ("20261001", "20261101")
        );
        assert_eq!(
            stale[0].begin,
            mailwarden_store::parse_time("2026-11-05T00:00:00Z")
                .unwrap()
                .unix_timestamp()
        );
    }

    #[test]
    fn sts_history_keeps_one_entry_per_id_change() {
        let s = |id: i64, first: &str| meta(id, first, first);
        let p = Some(vec!["mode: enforce".to_string()]);
        let h = sts_history(&[
            (s(1, "2026-10-01T00:00:00.000Z"), Some("a".into()), None),
            (s(2, "2026-10-05T00:00:00.000Z"), Some("a".into()), p.clone()),
            (s(3, "2026-11-01T00:00:00.000Z"), Some("b".into()), p.clone()),
            (s(4, "2026-11-02T00:00:00.000Z"), None, None),
        ]);
        let got: Vec<_> = h
            .iter()
            .map(|v| (v.id.as_str(), v.first_seen_at.as_str(), v.policy.is_some()))
            .collect();
        assert_eq!(
            got,
            [
                ("a", "2026-10-01T00:00:00.000Z", true),
                ("b", "2026-11-01T00:00:00.000Z", true)
            ]
        );
    }
}
