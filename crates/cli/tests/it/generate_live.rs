//! `mailwarden generate tlsa DOMAIN` without `--cert`: the MX hosts of a
//! test zone point at loopback addresses, where fake SMTP servers
//! (`mailwarden_probe::test_server`) offer STARTTLS with rcgen
//! certificates. Loopback only, OS-assigned ports.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use mailwarden_probe::test_server::{Behaviour, FakeSmtp};
use sha2::{Digest, Sha256};

use crate::support::{mailwarden, run_blocking};

/// A zone for example.test whose MX hosts have these IPv4 addresses (all
/// on loopback).
fn zone(dir: &Path, mx: &[(&str, &[&str])]) -> String {
    let mut text = String::from(
        "$ORIGIN example.test.\n$TTL 3600\n@ IN SOA ns.example.test. hostmaster.example.test. 1 7200 3600 1209600 300\n@ IN NS ns.example.test.\nns IN A 127.0.0.1\n",
    );
    for (i, (host, addrs)) in mx.iter().enumerate() {
        text.push_str(&format!("@ IN MX {} {host}.example.test.\n", 10 * (i + 1)));
        for a in *addrs {
            assert!(a.starts_with("127."), "tests use loopback only");
            text.push_str(&format!("{host} IN A {a}\n"));
        }
    }
    let path = dir.join("example.test.zone");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// The TLSA 3 1 1 data for a server, hashed here from the SPKI DER that
/// rcgen gives for the leaf's key pair (not from the certificate).
fn expected_hash(server: &FakeSmtp) -> String {
    Sha256::digest(&server.leaf_spki)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn generate_tlsa(zone: &str, port: u16, extra: &[&str]) -> (i32, String, String) {
    let mut cmd = mailwarden();
    cmd.args(["generate", "tlsa", "example.test", "--zone-file", zone, "--smtp-port"])
        .arg(port.to_string())
        .args(["--probe-timeout", "5"])
        .args(extra);
    run_blocking(cmd).await
}

#[tokio::test(flavor = "multi_thread")]
async fn tlsa_from_the_live_mx() {
    let server = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
    let dir = tempfile::tempdir().unwrap();
    let zone = zone(dir.path(), &[("mx", &["127.0.0.1"])]);
    let (code, out, err) = generate_tlsa(&zone, server.addr.port(), &["--allow-private-targets"]).await;
    assert_eq!(code, 0, "{err}\n{out}");
    assert_eq!(err, "", "no warnings");
    let want = format!(
        "_25._tcp.mx.example.test. 3600 IN TLSA 3 1 1 {}",
        expected_hash(&server)
    );
    assert!(out.lines().any(|l| l == want), "want {want}\n{out}");
    assert_eq!(out.matches("IN TLSA").count(), 1, "{out}");
    assert!(out.contains(&format!("probed on port {}", server.addr.port())), "{out}");
    assert!(
        out.contains("; mx.example.test (127.0.0.1): CN=mx.example.test"),
        "{out}"
    );
    let commands = server.commands();
    assert!(
        commands
            .iter()
            .all(|c| !c.starts_with("MAIL") && !c.starts_with("RCPT")),
        "{commands:?}"
    );
    assert_eq!(commands.first().map(String::as_str), Some("EHLO mailwarden.invalid"));

    // --ehlo-name is what the server sees.
    let (code, _, err) = generate_tlsa(
        &zone,
        server.addr.port(),
        &["--allow-private-targets", "--ehlo-name", "probe.example.org"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(server.commands().iter().any(|c| c == "EHLO probe.example.org"));
}

#[tokio::test(flavor = "multi_thread")]
async fn loopback_target_is_refused_without_the_flag() {
    let server = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
    let dir = tempfile::tempdir().unwrap();
    let zone = zone(dir.path(), &[("mx", &["127.0.0.1"])]);
    let (code, out, err) = generate_tlsa(&zone, server.addr.port(), &[]).await;
    assert_eq!(code, 2, "{out}");
    assert_eq!(out, "");
    assert!(
        err.contains("no TLSA record could be produced for example.test")
            && err.contains("mx.example.test: 127.0.0.1: refused: 127.0.0.1 is loopback")
            && err.contains("--allow-private-targets"),
        "{err}"
    );
    assert!(server.commands().is_empty(), "no connection was made");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_host_gets_a_comment_and_the_others_their_records() {
    let good = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
    let port = good.addr.port();
    // 127.0.0.2 answers without STARTTLS on the same port, if the system
    // lets us bind it; 127.0.0.3 has no server (connection refused).
    let plain = FakeSmtp::start_at(
        Behaviour::NoStartTls,
        "mx2.example.test",
        SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), port)),
    )
    .await
    .ok();
    let dir = tempfile::tempdir().unwrap();
    let zone = zone(
        dir.path(),
        &[("mx", &["127.0.0.1"]), ("mx2", &["127.0.0.2"]), ("mx3", &["127.0.0.3"])],
    );
    let (code, out, err) = generate_tlsa(&zone, port, &["--allow-private-targets"]).await;
    assert_eq!(code, 0, "{err}\n{out}");
    assert_eq!(out.matches("IN TLSA").count(), 1, "{out}");
    assert!(
        out.contains(&format!("IN TLSA 3 1 1 {}", expected_hash(&good))),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "; mx3.example.test: no record, the probe failed:\n;   127.0.0.3: 127.0.0.3:{port}: connection refused"
        )),
        "{out}"
    );
    assert!(err.contains("warning: mx3.example.test: 127.0.0.3"), "{err}");
    if plain.is_some() {
        assert!(
            out.contains("127.0.0.2: the server does not offer STARTTLS (EHLO keywords: PIPELINING 8BITMIME)"),
            "{out}"
        );
    }
    // The output is a loadable zone fragment.
    let check = dir.path().join("check.zone");
    std::fs::write(
        &check,
        format!("$ORIGIN example.test.\n@ 3600 IN SOA ns. h. 1 2 3 4 5\n{out}"),
    )
    .unwrap();
    let (code, _, err) = run_blocking({
        let mut c = mailwarden();
        c.args([
            "scan",
            "example.test",
            "--format",
            "json",
            "--fail-on",
            "none",
            "--zone-file",
        ])
        .arg(&check);
        c
    })
    .await;
    assert_eq!(code, 0, "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn addresses_presenting_different_keys_are_all_listed_with_a_warning() {
    let first = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
    let port = first.addr.port();
    let Ok(second) = FakeSmtp::start_at(
        Behaviour::Good,
        "mx.example.test",
        SocketAddr::from((Ipv4Addr::new(127, 0, 0, 4), port)),
    )
    .await
    else {
        eprintln!("skipped: cannot bind 127.0.0.4:{port}");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let zone = zone(dir.path(), &[("mx", &["127.0.0.1", "127.0.0.4"])]);
    let (code, out, err) = generate_tlsa(&zone, port, &["--allow-private-targets"]).await;
    assert_eq!(code, 0, "{err}\n{out}");
    assert_eq!(out.matches("IN TLSA").count(), 2, "{out}");
    for server in [&first, &second] {
        assert!(
            out.contains(&format!("IN TLSA 3 1 1 {}", expected_hash(server))),
            "{out}"
        );
    }
    assert!(
        out.contains("WARNING: the addresses of mx.example.test present 2 different keys"),
        "{out}"
    );
    assert!(err.contains("present 2 different keys"), "{err}");
}

#[test]
fn probe_flags_are_checked_before_any_lookup() {
    let (code, _, err) = crate::support::run_args(&[
        "generate",
        "tlsa",
        "example.test",
        "--ehlo-name",
        "bad name",
        "--zone-file",
        "examples/example.com.zone",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--ehlo-name"), "{err}");
    let (code, _, err) = crate::support::run_args(&[
        "generate",
        "tlsa",
        "example.test",
        "--probe-timeout",
        "0",
        "--zone-file",
        "examples/example.com.zone",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--probe-timeout"), "{err}");
}
