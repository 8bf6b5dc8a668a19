//! TLS reports joined with the stored scans, on SQLite and on the
//! PostgreSQL at MAILWARDEN_TEST_PG_URL when set: a `certificate-expired`
//! failure beside the `smtp.cert-expired` finding of the scan of that MX
//! then; no scan then, no finding; a reporter on the MTA-STS policy of a
//! replaced `id`.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use mailwarden_model::probe::{HttpsFetch, HttpsStatus};
use mailwarden_model::{Answer, Finding, Observation, Outcome, Proof, QueryKey, RData, RType, Transcript};
use mailwarden_senders::Reports;
use mailwarden_senders::tls_joins::read;
use mailwarden_store::Store;
use mailwarden_store::snapshot::{ScanInput, record_scan};

/// A scan of example.com at `at` with MTA-STS `id` and policy `mode`,
/// and the finding smtp.cert-expired on mx1 with `cert`.
async fn scan(store: &Store, at: &str, id: &str, mode: &str, cert: Outcome) {
    let mut dns = Transcript::default();
    dns.insert(
        QueryKey::new("_mta-sts.example.com", RType::Txt),
        Answer::with_records(
            vec![RData::Txt {
                strings: vec![format!("v=STSv1; id={id}")],
            }],
            Proof::Insecure,
        ),
    );
    let mut obs = Observation {
        dns,
        ..Observation::new("example.com")
    };
    obs.probes.https.insert(
        "https://mta-sts.example.com/.well-known/mta-sts.txt".into(),
        HttpsFetch {
            body: Some(format!(
                "version: STSv1\r\nmode: {mode}\r\nmx: mx1.example.com\r\nmax_age: 86400\r\n"
            )),
            ..HttpsFetch::status(HttpsStatus::Fetched, None)
        },
    );
    let findings = vec![
        Finding::new(
            "smtp.cert-expired",
            cert,
            "mx1.example.com (198.51.100.25)",
            "the certificate",
        ),
        Finding::new(
            "smtp.cert-expired",
            Outcome::Pass,
            "mx2.example.com (198.51.100.26)",
            "fine",
        ),
    ];
    let input = ScanInput {
        observation: obs,
        findings,
        scores: None,
        score: None,
        profiles: serde_json::json!([]),
        scanner_version: "test".into(),
        catalogue_version: "test".into(),
        at: mailwarden_store::parse_time(at).unwrap(),
    };
    let mut conn = store.pool().acquire().await.unwrap();
    record_scan(&mut conn, &input).await.unwrap();
}

/// A TLS report of `day` with one certificate-expired failure on mx1,
/// applying the policy of `mode`.
async fn tls_report(store: &Store, day: &str, mode: &str) {
    let json = serde_json::json!({
        "organization-name": "Google Inc.",
        "date-range": {"start-datetime": format!("{day}T00:00:00Z"), "end-datetime": format!("{day}T23:59:59Z")},
        "contact-info": "smtp-tls-reporting@google.example",
        "report-id": format!("{day}_example.com"),
        "policies": [{
            "policy": {"policy-type": "sts",
                       "policy-string": ["version: STSv1", format!("mode: {mode}"), "mx: mx1.example.com", "max_age: 86400"],
                       "policy-domain": "example.com", "mx-host": ["mx1.example.com"]},
            "summary": {"total-successful-session-count": 10, "total-failure-session-count": 2},
            "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.200",
                                 "receiving-mx-hostname": "mx1.example.com", "failed-session-count": 2}]
        }]
    });
    let bytes = serde_json::to_vec(&json).unwrap();
    for item in mailwarden_ingest::input::read("t.json", &bytes, &mailwarden_ingest::Limits::default()) {
        mailwarden_store::reports::put(store, &item.outcome.unwrap())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn tls_failures_sit_beside_the_scan_of_that_time_and_stale_mta_sts_policies_are_listed() {
    for db in common::stores().await {
        let store = &db.store;
        // October: id 1 (testing), certificate fine; November: id 2
        // (enforce), certificate expired.
        scan(store, "2026-10-01T06:00:00Z", "1", "testing", Outcome::Pass).await;
        scan(store, "2026-10-31T06:00:00Z", "1", "testing", Outcome::Pass).await;
        scan(store, "2026-11-01T06:00:00Z", "2", "enforce", Outcome::Fail).await;
        scan(store, "2026-11-20T06:00:00Z", "2", "enforce", Outcome::Fail).await;
        tls_report(store, "2026-11-10", "testing").await; // after the change, the old policy
        tls_report(store, "2026-11-11", "enforce").await;
        tls_report(store, "2026-12-15", "enforce").await; // no scan then
        let j = read(store, Reports::AllOf("example.com"), None).await.unwrap();
        let label = db.label;
        assert_eq!(j.failures.len(), 3, "{label}: {j:?}");
        let by_day = |day: &str| {
            let t = mailwarden_store::parse_time(&format!("{day}T00:00:00Z"))
                .unwrap()
                .unix_timestamp();
            j.failures.iter().find(|f| f.begin == t).unwrap()
        };
        let nov = by_day("2026-11-10");
        assert_eq!(nov.result_type, "certificate-expired");
        let seen: Vec<_> = nov
            .findings
            .iter()
            .map(|f| (f.rule_id.as_str(), f.subject.as_str(), f.outcome.as_str()))
            .collect();
        assert_eq!(
            seen,
            [("smtp.cert-expired", "mx1.example.com (198.51.100.25)", "fail")],
            "{label}"
        );
        let dec = by_day("2026-12-15");
        assert!(dec.scan.is_none() && dec.findings.is_empty(), "{label}: {dec:?}");
        assert_eq!(
            dec.scan_before.as_ref().map(|s| s.last_seen_at.as_str()),
            Some("2026-11-20T06:00:00.000Z")
        );
        let stale: Vec<_> = j
            .stale_policies
            .iter()
            .map(|s| (s.old_id.as_str(), s.current_id.as_str(), s.changed_at.as_str()))
            .collect();
        assert_eq!(stale, [("1", "2", "2026-11-01T06:00:00.000Z")], "{label}");
    }
}
