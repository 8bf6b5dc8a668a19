//! `mailwarden scan` with STARTTLS probes: a zone file points the MX hosts
//! at loopback addresses where fake SMTP servers
//! (`mailwarden_probe::test_server`) listen, all on one OS-assigned port
//! (`--smtp-port`). Their certificates come from each server's own test
//! CA, given with `--ca-file`. Loopback only.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use base64::Engine;
use mailwarden_probe::test_server::{Behaviour, FakeSmtp};
use serde_json::Value;

use crate::support::{finding, json, mailwarden, only_domain, run_blocking};

/// A zone for `origin` whose MX hosts (preference 10, 20, ...) have these
/// loopback addresses.
fn zone(dir: &Path, origin: &str, mx: &[(&str, &str)]) -> String {
    let mut text = format!(
        "$ORIGIN {origin}.\n$TTL 3600\n@ IN SOA ns.{origin}. hostmaster.{origin}. 1 7200 3600 1209600 300\n@ IN NS ns.{origin}.\nns IN A 127.0.0.1\n"
    );
    for (i, (host, addr)) in mx.iter().enumerate() {
        assert!(addr.starts_with("127."), "tests use loopback only");
        text.push_str(&format!("@ IN MX {} {host}\n", 10 * (i + 1)));
        if host.ends_with(&format!(".{origin}.")) {
            text.push_str(&format!("{host} IN A {addr}\n"));
        }
    }
    let path = dir.join(format!("{origin}.zone"));
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The CA of a fake server's chain, as a PEM file.
fn ca_file(dir: &Path, server: &FakeSmtp) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(server.chain.last().unwrap());
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let path = dir.join("ca.pem");
    std::fs::write(&path, pem).unwrap();
    path.to_str().unwrap().to_string()
}

/// Start a second fake server on `ip` at the first one's port.
async fn beside(first: &FakeSmtp, behaviour: Behaviour, host: &str, ip: &str) -> FakeSmtp {
    let addr = SocketAddr::new(ip.parse::<IpAddr>().unwrap(), first.addr.port());
    FakeSmtp::start_at(behaviour, host, addr).await.expect("bind beside")
}

fn ehlo_count(server: &FakeSmtp) -> usize {
    server.commands().iter().filter(|c| c.starts_with("EHLO")).count()
}

async fn scan(domains: &[&str], zones: &[String], port: u16, extra: &[&str]) -> (i32, Value, String) {
    let mut cmd = mailwarden();
    cmd.arg("scan").args(domains);
    for z in zones {
        cmd.args(["--zone-file", z]);
    }
    cmd.args([
        "--format",
        "json",
        "--fail-on",
        "none",
        "--probe-timeout",
        "5",
        "--smtp-port",
    ])
    .arg(port.to_string())
    .args(extra);
    let (code, out, err) = run_blocking(cmd).await;
    (code, json(&out), err)
}

fn outcome<'a>(report: &'a Value, id: &str, subject: &str) -> &'a str {
    finding(report, id, subject)["outcome"].as_str().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn probes_every_mx_judges_starttls_and_rejudges_offline_the_same() {
    let good = FakeSmtp::start(Behaviour::Good, "mx1.example.test").await;
    let plain = beside(&good, Behaviour::NoStartTls, "mx2.example.test", "127.0.0.2").await;
    let dir = tempfile::tempdir().unwrap();
    let z = zone(
        dir.path(),
        "example.test",
        &[("mx1.example.test.", "127.0.0.1"), ("mx2.example.test.", "127.0.0.2")],
    );
    let ca = ca_file(dir.path(), &good);
    let evidence = dir.path().join("evidence.jsonl");
    let (code, doc, err) = scan(
        &["example.test"],
        &[z],
        good.addr.port(),
        &[
            "--allow-private-targets",
            "--ca-file",
            &ca,
            "--save-evidence",
            evidence.to_str().unwrap(),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let report = only_domain(&doc);
    let probes = report["observation"]["probes"]["smtp"]
        .as_array()
        .expect("probes recorded");
    let statuses: Vec<(&str, &str)> = probes
        .iter()
        .map(|p| (p["host"].as_str().unwrap(), p["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        statuses,
        [("mx1.example.test", "tls"), ("mx2.example.test", "no-starttls")]
    );
    assert_eq!(outcome(report, "smtp.starttls", "mx1.example.test (127.0.0.1)"), "pass");
    assert_eq!(outcome(report, "smtp.starttls", "mx2.example.test (127.0.0.2)"), "fail");
    assert_eq!(
        outcome(report, "smtp.cert-untrusted", "mx1.example.test (127.0.0.1)"),
        "pass"
    );
    assert_eq!(
        outcome(report, "smtp.cert-name", "mx1.example.test (127.0.0.1)"),
        "pass"
    );
    assert_eq!(outcome(report, "failover.tls-parity", "mx2.example.test"), "fail");
    assert_eq!(
        outcome(report, "smtp.legacy-protocol", "mx1.example.test (127.0.0.1)"),
        "pass",
        "the rustls server refuses TLS 1.1 and below"
    );
    assert_eq!(
        outcome(report, "smtp.legacy-cipher", "mx2.example.test (127.0.0.2)"),
        "not-applicable",
        "no STARTTLS, no legacy hello"
    );
    // Each address probed once: STARTTLS, plus the two legacy hellos
    // where STARTTLS was accepted.
    assert_eq!(ehlo_count(&good), 3, "{:?}", good.commands());
    assert_eq!(ehlo_count(&plain), 1, "{:?}", plain.commands());
    for server in [&good, &plain] {
        assert!(
            server
                .commands()
                .iter()
                .all(|c| !c.starts_with("MAIL") && !c.starts_with("RCPT")),
            "never MAIL or RCPT: {:?}",
            server.commands()
        );
    }

    // Judging the saved evidence again makes no connection and agrees.
    let mut cmd = mailwarden();
    cmd.args([
        "judge",
        evidence.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    let (code, out, err) = run_blocking(cmd).await;
    assert_eq!(code, 0, "{err}");
    let again = json(&out);
    assert_eq!(only_domain(&again)["findings"], report["findings"]);
    assert_eq!(ehlo_count(&good), 3, "judge connected to nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_flag_private_targets_are_refused_as_a_finding() {
    let good = FakeSmtp::start(Behaviour::Good, "mx1.example.test").await;
    let dir = tempfile::tempdir().unwrap();
    let z = zone(dir.path(), "example.test", &[("mx1.example.test.", "127.0.0.1")]);
    let (code, doc, err) = scan(&["example.test"], std::slice::from_ref(&z), good.addr.port(), &[]).await;
    assert_eq!(code, 0, "{err}");
    let report = only_domain(&doc);
    let probed = finding(report, "smtp.probed", "mx1.example.test (127.0.0.1)");
    assert_eq!(probed["outcome"], "indeterminate");
    assert!(
        probed["message"].as_str().unwrap().contains("--allow-private-targets"),
        "{probed:#}"
    );
    let (code, doc, err) = scan(&["example.test"], &[z], good.addr.port(), &["--no-smtp"]).await;
    assert_eq!(code, 0, "{err}");
    let probed = finding(only_domain(&doc), "smtp.probed", "mx1.example.test (127.0.0.1)");
    assert_eq!(probed["outcome"], "indeterminate");
    assert!(good.commands().is_empty(), "refused and --no-smtp connect nowhere");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mx_shared_by_two_domains_is_probed_once() {
    let shared = FakeSmtp::start(Behaviour::Good, "mx.provider.test").await;
    let dir = tempfile::tempdir().unwrap();
    let provider = zone(dir.path(), "provider.test", &[("mx.provider.test.", "127.0.0.1")]);
    let one = zone(dir.path(), "one.test", &[("mx.provider.test.", "127.0.0.1")]);
    let two = zone(dir.path(), "two.test", &[("mx.provider.test.", "127.0.0.1")]);
    let (code, doc, err) = scan(
        &["one.test", "two.test"],
        &[provider, one, two],
        shared.addr.port(),
        &["--allow-private-targets"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let domains = doc["domains"].as_array().unwrap();
    assert_eq!(domains.len(), 2);
    for d in domains {
        assert_eq!(d["observation"]["probes"]["smtp"][0]["status"], "tls", "{d:#}");
    }
    assert_eq!(
        ehlo_count(&shared),
        3,
        "one probe (STARTTLS and two legacy hellos) shared by both domains"
    );
}

/// Remove every `legacy` member, as in evidence saved before the
/// legacy-TLS probe existed.
fn strip_legacy(value: &mut Value) -> usize {
    match value {
        Value::Object(map) => {
            let here = usize::from(map.remove("legacy").is_some());
            here + map.values_mut().map(strip_legacy).sum::<usize>()
        }
        Value::Array(items) => items.iter_mut().map(strip_legacy).sum(),
        _ => 0,
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn evidence_saved_before_the_legacy_probe_is_judged_not_collected_not_refused() {
    let good = FakeSmtp::start(Behaviour::Good, "mx1.example.test").await;
    let dir = tempfile::tempdir().unwrap();
    let z = zone(dir.path(), "example.test", &[("mx1.example.test.", "127.0.0.1")]);
    let evidence = dir.path().join("evidence.jsonl");
    let (code, doc, err) = scan(
        &["example.test"],
        &[z],
        good.addr.port(),
        &["--allow-private-targets", "--save-evidence", evidence.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let subject = "mx1.example.test (127.0.0.1)";
    assert_eq!(outcome(only_domain(&doc), "smtp.legacy-protocol", subject), "pass");

    let text = std::fs::read_to_string(&evidence).unwrap();
    let mut stripped = String::new();
    let mut removed = 0;
    for line in text.lines() {
        let mut value: Value = serde_json::from_str(line).unwrap();
        removed += strip_legacy(&mut value);
        stripped.push_str(&serde_json::to_string(&value).unwrap());
        stripped.push('\n');
    }
    assert_eq!(removed, 1, "one probe had legacy results");
    let old = dir.path().join("old-evidence.jsonl");
    std::fs::write(&old, stripped).unwrap();

    let mut cmd = mailwarden();
    cmd.args(["judge", old.to_str().unwrap(), "--format", "json", "--fail-on", "none"]);
    let (code, out, err) = run_blocking(cmd).await;
    assert_eq!(code, 0, "{err}");
    let again = json(&out);
    let report = only_domain(&again);
    for id in ["smtp.legacy-protocol", "smtp.ssl3", "smtp.legacy-cipher"] {
        let f = finding(report, id, subject);
        assert_eq!(f["outcome"], "indeterminate", "{id}: {f:#}");
        assert!(f["message"].as_str().unwrap().contains("Not collected"), "{id}: {f:#}");
    }
    assert_eq!(
        outcome(report, "smtp.starttls", subject),
        "pass",
        "the rest is judged as before"
    );
}
