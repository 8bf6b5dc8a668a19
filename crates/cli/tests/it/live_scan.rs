//! `scan` and `spf check` against live DNS: signed, unsigned and bogus
//! zones under a private root, and resolvers that fail, all served
//! in-process on loopback with OS-assigned ports.

use std::io::Write;
use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use mailwarden_test_support::{BrokenServer, TestDns};
use tempfile::NamedTempFile;

use crate::support::{assert_report_shape, finding, findings, json, mailwarden, only_domain, run, run_blocking};

/// `.` → `test.` → a signed, an unsigned and a bogus zone.
/// `secure.test` is signed throughout and routes mail to a host in its own
/// zone; `mixed.secure.test` routes to hosts in the unsigned and the bogus
/// zone.
async fn world() -> TestDns {
    TestDns::builder()
        .signed_zone("test.")
        .signed_zone("secure.test.")
        .unsigned_zone("insecure.test.")
        .bogus_zone("bogus.test.")
        .record("secure.test.", "MX 10 mx.secure.test.")
        .record("secure.test.", r#"TXT "v=spf1 ip4:198.51.100.0/24 " "mx -all""#)
        .record("mx.secure.test.", "A 192.0.2.25")
        .record("mx.secure.test.", "AAAA 2001:db8::25")
        .record("mixed.secure.test.", "MX 10 mx.insecure.test.")
        .record("mixed.secure.test.", "MX 20 mx.bogus.test.")
        .record("mixed.secure.test.", r#"TXT "v=spf1 -all""#)
        .record("mx.insecure.test.", "A 192.0.2.26")
        .record("mx.bogus.test.", "A 192.0.2.27")
        .start()
        .await
}

/// The trust anchor of `net`, in a file.
fn anchor_file(net: &TestDns) -> NamedTempFile {
    let mut file = NamedTempFile::new().unwrap();
    writeln!(file, "{}", net.trust_anchor()).unwrap();
    file
}

/// `mailwarden ARGS --resolver ADDR EXTRA...`
fn against(args: &[&str], resolver: SocketAddr, extra: &[&str]) -> Command {
    let mut cmd = mailwarden();
    cmd.args(args).arg("--resolver").arg(resolver.to_string()).args(extra);
    cmd
}

/// Scan `domain` through `net`, validating from its trust anchor; returns
/// the exit code and the one domain report.
async fn scan_validating(net: &TestDns, domain: &str) -> (i32, serde_json::Value) {
    let anchor = anchor_file(net);
    let cmd = against(
        &["scan", domain, "--format", "json"],
        net.addr(),
        &["--timeout", "1", "--trust-anchor", anchor.path().to_str().unwrap()],
    );
    let (code, out, err) = run_blocking(cmd).await;
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    let doc = json(&out);
    let report = only_domain(&doc).clone();
    assert_report_shape(&report);
    (code, report)
}

/// Messages that would claim something is absent.
const CLAIMS_OF_ABSENCE: [&str; 5] = ["missing", "no mx", "does not exist", "nxdomain", "neither a nor aaaa"];

fn assert_claims_no_absence(report: &serde_json::Value) {
    assert_claims_no_absence_about(report, None);
}

/// As above, for the findings about one subject (or all when `None`).
fn assert_claims_no_absence_about(report: &serde_json::Value, subject: Option<&str>) {
    for f in findings(report)
        .iter()
        .filter(|f| subject.is_none_or(|s| f["subject"] == s))
    {
        let message = f["message"].as_str().unwrap().to_lowercase();
        for claim in CLAIMS_OF_ABSENCE {
            assert!(!message.contains(claim), "{claim:?} in {f:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_domain_with_signed_mx_host_passes_dnssec() {
    let net = world().await;
    let (_, report) = scan_validating(&net, "secure.test").await;
    let dnssec = finding(&report, "mx.dnssec", "mx.secure.test");
    assert_eq!(dnssec["outcome"], "pass", "{dnssec:#}");
    assert_eq!(dnssec["evidence"]["proof"], "secure");
    assert_eq!(finding(&report, "mx.present", "secure.test")["outcome"], "pass");
    let resolvable = finding(&report, "mx.target-unresolvable", "mx.secure.test");
    assert_eq!(resolvable["outcome"], "pass");
    assert_eq!(
        resolvable["evidence"]["addresses"],
        serde_json::json!(["192.0.2.25", "2001:db8::25"])
    );
    assert_eq!(finding(&report, "spf.missing", "secure.test")["outcome"], "pass");
    assert_eq!(finding(&report, "spf.lookup-failed", "secure.test")["outcome"], "pass");
    let observation = &report["observation"];
    assert_eq!(observation["source"]["dnssec_validation"], true, "{observation:#}");
    for answer in observation["dns"].as_array().unwrap() {
        assert_eq!(answer["proof"], "secure", "{answer:#}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn mx_host_in_unsigned_zone_fails_dnssec() {
    let net = world().await;
    let (_, report) = scan_validating(&net, "mixed.secure.test").await;
    let dnssec = finding(&report, "mx.dnssec", "mx.insecure.test");
    assert_eq!(dnssec["outcome"], "fail", "{dnssec:#}");
    assert_eq!(dnssec["evidence"]["proof"], "insecure");
    // Unsigned is not unresolvable.
    let resolvable = finding(&report, "mx.target-unresolvable", "mx.insecure.test");
    assert_eq!(resolvable["outcome"], "pass", "{resolvable:#}");
}

/// The rule's rationale: "Bogus (failing) signatures are worse: validating
/// senders cannot resolve the MX at all", hence critical.
#[tokio::test(flavor = "multi_thread")]
async fn mx_host_in_bogus_zone_fails_dnssec_as_critical() {
    let net = world().await;
    let (code, report) = scan_validating(&net, "mixed.secure.test").await;
    let dnssec = finding(&report, "mx.dnssec", "mx.bogus.test");
    assert_eq!(dnssec["outcome"], "fail", "{dnssec:#}");
    assert_eq!(dnssec["severity"], "critical", "{dnssec:#}");
    assert_eq!(report["summary"]["worst_failure"], "critical");
    assert_eq!(code, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn mx_host_in_bogus_zone_is_indeterminate_never_nonexistent() {
    let net = world().await;
    let (_, report) = scan_validating(&net, "mixed.secure.test").await;
    for id in ["mx.target-unresolvable", "mx.target-cname", "mx.target-non-global"] {
        let f = finding(&report, id, "mx.bogus.test");
        assert_eq!(f["outcome"], "indeterminate", "{f:#}");
    }
    let unresolvable = finding(&report, "mx.target-unresolvable", "mx.bogus.test");
    assert!(
        unresolvable["message"].as_str().unwrap().contains("bogus"),
        "{unresolvable:#}"
    );
    // The domain itself may legitimately lack, say, a DKIM key; what is
    // said about the bogus host must not claim it is absent.
    assert_claims_no_absence_about(&report, Some("mx.bogus.test"));
}

/// Scan through a resolver that fails every query, without DNSSEC.
async fn scan_through_broken(server: &BrokenServer) -> (i32, String, String) {
    let cmd = against(
        &["scan", "secure.test", "--format", "json", "--fail-on", "info"],
        server.addr(),
        &["--timeout", "0.3", "--retries", "0", "--no-dnssec"],
    );
    run_blocking(cmd).await
}

fn assert_all_indeterminate(kind: &str, (code, out, err): (i32, String, String)) {
    // Nothing seen is no audit result: exit 2 with the reason on stderr
    // (never 0, which reads as clean), the report still written.
    assert_eq!(code, 2, "{kind}: nothing could be seen: {err}");
    assert!(err.contains("secure.test: nothing could be seen"), "{kind}: {err}");
    let doc = json(&out);
    let report = only_domain(&doc);
    assert_report_shape(report);
    assert!(report["scores"]["overall"].is_null(), "{kind}: {:#}", report["scores"]);
    for f in findings(report) {
        assert_eq!(f["outcome"], "indeterminate", "{kind}: {f:#}");
    }
    assert_eq!(report["summary"]["worst_failure"], serde_json::Value::Null);
    assert_eq!(finding(report, "mx.present", "secure.test")["outcome"], "indeterminate");
    assert_eq!(
        finding(report, "spf.missing", "secure.test")["outcome"],
        "indeterminate"
    );
    assert_claims_no_absence(report);
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_resolver_makes_every_finding_indeterminate() {
    let server = BrokenServer::silent().await;
    let started = Instant::now();
    let result = scan_through_broken(&server).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "--timeout 0.3 --retries 0 took {:?}",
        started.elapsed()
    );
    assert_all_indeterminate("silent", result);
}

#[tokio::test(flavor = "multi_thread")]
async fn servfail_resolver_makes_every_finding_indeterminate() {
    let server = BrokenServer::servfail().await;
    let result = scan_through_broken(&server).await;
    assert!(result.1.contains("SERVFAIL"), "{}", result.1);
    assert_all_indeterminate("servfail", result);
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_resolver_makes_every_finding_indeterminate() {
    let server = BrokenServer::refused().await;
    let result = scan_through_broken(&server).await;
    assert!(result.1.contains("REFUSED"), "{}", result.1);
    assert_all_indeterminate("refused", result);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_dnssec_makes_mx_dnssec_not_applicable() {
    let net = world().await;
    for (domain, hosts) in [
        ("secure.test", &["mx.secure.test"][..]),
        ("mixed.secure.test", &["mx.insecure.test", "mx.bogus.test"][..]),
    ] {
        let cmd = against(
            &["scan", domain, "--format", "json"],
            net.addr(),
            &["--timeout", "1", "--no-dnssec"],
        );
        let (_, out, err) = run_blocking(cmd).await;
        let doc = json(&out);
        let report = only_domain(&doc);
        assert_report_shape(report);
        assert_eq!(report["observation"]["source"]["dnssec_validation"], false, "{err}");
        for host in hosts {
            let dnssec = finding(report, "mx.dnssec", host);
            assert_eq!(dnssec["outcome"], "not-applicable", "{dnssec:#}");
            // Without validation the bogus zone's records are just records.
            let resolvable = finding(report, "mx.target-unresolvable", host);
            assert_eq!(resolvable["outcome"], "pass", "{resolvable:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_trust_anchor_is_exit_2_naming_file_and_line() {
    let net = world().await;
    let mut anchor = NamedTempFile::new().unwrap();
    write!(anchor, "; my anchors\nthis is not a record\n").unwrap();
    let path = anchor.path().to_str().unwrap();
    let cmd = against(&["scan", "secure.test"], net.addr(), &["--trust-anchor", path]);
    let (code, out, err) = run_blocking(cmd).await;
    assert_eq!(code, 2, "{err}");
    assert_eq!(out, "");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(path) && err.contains("line 2"), "{err}");
}

/// `spf check secure.test --ip IP --format json`, validating.
async fn spf_check(net: &TestDns, ip: &str) -> serde_json::Value {
    let anchor = anchor_file(net);
    let cmd = against(
        &["spf", "check", "secure.test", "--ip", ip, "--format", "json"],
        net.addr(),
        &["--timeout", "1", "--trust-anchor", anchor.path().to_str().unwrap()],
    );
    let (code, out, err) = run_blocking(cmd).await;
    assert_eq!(code, 0, "{err}");
    json(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn spf_check_live_passes_authorised_ips_and_fails_others() {
    let net = world().await;
    // ip4:198.51.100.0/24, then mx (mx.secure.test), then -all.
    for (ip, want) in [
        ("198.51.100.7", "pass"),
        ("192.0.2.25", "pass"),
        ("2001:db8::25", "pass"),
        ("203.0.113.1", "fail"),
    ] {
        let doc = spf_check(&net, ip).await;
        assert_eq!(doc["result"], want, "{ip}: {doc:#}");
        assert_eq!(doc["budget_exhausted"], false);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn judge_of_live_evidence_reproduces_the_dnssec_findings() {
    let net = world().await;
    let anchor = anchor_file(&net);
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence.jsonl");
    let evidence_arg = evidence.to_str().unwrap();
    let cmd = against(
        &[
            "scan",
            "secure.test",
            "mixed.secure.test",
            "--format",
            "json",
            "--save-evidence",
            evidence_arg,
        ],
        net.addr(),
        &["--timeout", "1", "--trust-anchor", anchor.path().to_str().unwrap()],
    );
    let (scan_code, out, err) = run_blocking(cmd).await;
    let scanned = json(&out);
    assert_eq!(scanned["domains"].as_array().unwrap().len(), 2, "{err}");
    drop(net); // judging is offline
    let (code, out, err) = run(mailwarden().arg("judge").arg(&evidence).args(["--format", "json"]));
    assert_eq!(code, scan_code, "{err}");
    let judged = json(&out);
    let by_domain = |doc: &serde_json::Value| {
        let mut v: Vec<(String, serde_json::Value)> = doc["domains"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["domain"].as_str().unwrap().to_string(), r["findings"].clone()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    assert_eq!(by_domain(&judged), by_domain(&scanned));
    let secure = judged["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["domain"] == "secure.test")
        .unwrap();
    assert_eq!(finding(secure, "mx.dnssec", "mx.secure.test")["outcome"], "pass");
}

/// Caught: an Ed25519 DNSKEY whose key is 3 bytes (RFC 8080 §3: 32) was
/// accepted as the trust anchor; every answer then came back bogus, with
/// no hint that the anchor itself was broken.
#[tokio::test(flavor = "multi_thread")]
async fn truncated_dnskey_trust_anchor_is_exit_2_naming_file_and_line() {
    let net = world().await;
    let mut anchor = NamedTempFile::new().unwrap();
    writeln!(anchor, ". 3600 IN DNSKEY 257 3 15 AAAA").unwrap();
    let path = anchor.path().to_str().unwrap();
    let cmd = against(
        &["scan", "secure.test", "--format", "jsonl"],
        net.addr(),
        &["--timeout", "1", "--trust-anchor", path],
    );
    let (code, out, err) = run_blocking(cmd).await;
    assert_eq!(code, 2, "{out}\n{err}");
    assert!(err.contains(path) && err.contains("line 1"), "{err}");
}
