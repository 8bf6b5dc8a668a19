//! The egress guard, tested the way its holes were found (issue 10):
//! inside a network namespace of its own (only `lo`, with an address of
//! every non-global class added to it), a canary listens on UDP and TCP 53,
//! TCP 25 and TCP 443 of each address, and a hostile zone names every one
//! of them as nameserver, MX host and MTA-STS policy host. Without
//! `--allow-private-targets` nothing may arrive, from `scan` or from
//! `generate tlsa`; with it, everything.
//!
//! The test re-executes itself under `unshare --net` (root) or `unshare
//! --user --map-root-user --net`. Where neither is permitted (or `ip` is
//! missing) it says so on stderr and passes without testing, unless
//! `MAILWARDEN_EGRESS_NETNS_REQUIRED` is set: `.ci/run` sets it and runs
//! the test as root, so there it cannot skip.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailwarden_test_support::{MultiServer, NsServer};
use serde_json::Value;
use tokio::net::{TcpListener, UdpSocket};

const INSIDE: &str = "MAILWARDEN_EGRESS_NETNS_INSIDE";
const REQUIRED: &str = "MAILWARDEN_EGRESS_NETNS_REQUIRED";
const TEST: &str = "egress_guard_lets_nothing_reach_non_global_addresses_without_the_flag_and_everything_with_it";

/// (the address the hostile zone names, the address its packets reach):
/// one per class the red-team pass got through, plus the ranges the guard
/// refuses besides. An IPv4-mapped address reaches the IPv4 address it
/// carries; every other address is put on `lo` and listened on itself.
/// (`0.0.0.0` and `fe80::1` cannot carry a listener of their own; the unit
/// tests of `mailwarden_model::net` cover them.)
const TARGETS: &[(&str, &str)] = &[
    ("127.0.0.53", "127.0.0.53"),
    ("10.0.0.53", "10.0.0.53"),
    ("172.16.0.53", "172.16.0.53"),
    ("192.168.0.53", "192.168.0.53"),
    ("100.64.0.53", "100.64.0.53"),
    ("169.254.169.254", "169.254.169.254"),
    ("192.0.2.53", "192.0.2.53"),
    ("198.18.0.53", "198.18.0.53"),
    ("240.0.0.53", "240.0.0.53"),
    ("::ffff:10.0.0.99", "10.0.0.99"),
    ("::1", "::1"),
    ("fd00::53", "fd00::53"),
    ("fec0::53", "fec0::53"),
    ("64:ff9b::a00:35", "64:ff9b::a00:35"),
    ("64:ff9b:1::53", "64:ff9b:1::53"),
    ("2002:a00:35::53", "2002:a00:35::53"),
    ("::ffff:0:a00:35", "::ffff:0:a00:35"),
    ("::a00:36", "::a00:36"),
    (
        "2001:0:4136:e378:8000:63bf:f5ff:ffca",
        "2001:0:4136:e378:8000:63bf:f5ff:ffca",
    ),
    ("2001:db8::53", "2001:db8::53"),
    ("2001:2::53", "2001:2::53"),
    ("2001:10::53", "2001:10::53"),
    ("3fff::53", "3fff::53"),
    ("100::53", "100::53"),
];

/// What each canary address must (or must not) receive.
const SERVICES: [&str; 4] = ["udp/53", "tcp/53", "tcp/25", "tcp/443"];

type Hits = Arc<Mutex<BTreeSet<(IpAddr, &'static str)>>>;

#[test]
fn egress_guard_lets_nothing_reach_non_global_addresses_without_the_flag_and_everything_with_it() {
    if std::env::var_os(INSIDE).is_some() {
        inside();
        return;
    }
    if let Err(why) = have("ip", &["-V"]) {
        return skip(&format!(
            "`ip` (iproute2) is needed to set up the network namespace: {why}"
        ));
    }
    let Some(unshare) = [&["--net"][..], &["--user", "--map-root-user", "--net"][..]]
        .into_iter()
        .find(|args| have("unshare", &[*args, &["true"]].concat()).is_ok())
    else {
        return skip(
            "network namespaces are not permitted here (`unshare --net` and \
             `unshare --user --map-root-user --net` both fail; run as root, as .ci/run does)",
        );
    };
    let exe = std::env::current_exe().expect("the test binary");
    let status = Command::new("unshare")
        .args(unshare)
        .arg("--")
        .arg(exe)
        .args([TEST, "--exact", "--nocapture", "--test-threads=1"])
        .env(INSIDE, "1")
        .status()
        .expect("run the test inside a network namespace");
    assert!(status.success(), "inside the network namespace: {status}");
}

/// Say why the test cannot run here; fail instead when it is required.
fn skip(why: &str) {
    assert!(std::env::var_os(REQUIRED).is_none(), "{REQUIRED} is set, but {why}");
    eprintln!("SKIPPED {TEST}: {why}");
}

fn have(program: &str, args: &[&str]) -> Result<(), String> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{program}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_string())
    }
}

fn ip(args: &[&str]) {
    if let Err(why) = have("ip", args) {
        panic!("ip {}: {why}", args.join(" "));
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn inside() {
    ip(&["link", "set", "lo", "up"]);
    let listen: BTreeSet<IpAddr> = TARGETS.iter().map(|(_, at)| at.parse().unwrap()).collect();
    for address in &listen {
        if !address.is_loopback() {
            let (family, len) = if address.is_ipv4() { ("-4", 32) } else { ("-6", 128) };
            let cidr = format!("{address}/{len}");
            let mut args = vec![family, "addr", "add", &cidr, "dev", "lo"];
            if address.is_ipv6() {
                args.push("nodad");
            }
            ip(&args);
        }
    }
    let hits: Hits = Arc::default();
    for address in &listen {
        canary(*address, hits.clone()).await;
    }
    let net = hostile_zone().await;

    let refused = mailwarden(&net, &scan_args(), false).await;
    assert_eq!(taken(&hits), BTreeSet::new(), "reached without --allow-private-targets");
    the_refusal_is_a_finding_not_a_failure(&refused);
    mailwarden(&net, &["generate", "tlsa", "all.hostile.test"], false).await;
    assert_eq!(
        taken(&hits),
        BTreeSet::new(),
        "generate tlsa reached without --allow-private-targets"
    );

    mailwarden(&net, &scan_args(), true).await;
    let reached = taken(&hits);
    let missing: Vec<String> = listen
        .iter()
        .flat_map(|a| SERVICES.iter().map(move |s| (*a, *s)))
        .filter(|hit| !reached.contains(hit))
        .map(|(a, s)| format!("{a} {s}"))
        .collect();
    assert!(
        missing.is_empty(),
        "never reached with --allow-private-targets: {missing:?}"
    );

    mailwarden(&net, &["generate", "tlsa", "all.hostile.test"], true).await;
    let reached = taken(&hits);
    let missing: Vec<&IpAddr> = listen.iter().filter(|a| !reached.contains(&(**a, "tcp/25"))).collect();
    assert!(missing.is_empty(), "generate tlsa never probed {missing:?}");
}

/// `c<i>.hostile.test` has its MX host and MTA-STS policy host at target
/// `i`; `all.hostile.test`'s MX host has every target; the zone's NS set
/// names every target (and the test server itself, ns1).
async fn hostile_zone() -> MultiServer {
    let mut zone = MultiServer::builder("hostile.test.");
    let rr = |address: &str| {
        let kind = if address.contains(':') { "AAAA" } else { "A" };
        format!("{kind} {address}")
    };
    for (i, (address, _)) in TARGETS.iter().enumerate() {
        let host = format!("t{i}.hostile.test.");
        zone = zone
            .record("hostile.test.", &format!("NS {host}"))
            .record(&host, &rr(address))
            .record("all-mx.hostile.test.", &rr(address))
            .record(&format!("c{i}.hostile.test."), &format!("MX 10 {host}"))
            .record(&format!("_mta-sts.c{i}.hostile.test."), "TXT \"v=STSv1; id=1\"")
            .record(&format!("mta-sts.c{i}.hostile.test."), &rr(address));
    }
    zone.record("all.hostile.test.", "MX 10 all-mx.hostile.test.")
        .server(NsServer::authoritative())
        .start()
        .await
}

fn scan_args() -> Vec<String> {
    let mut args = vec!["scan".to_string()];
    args.extend((0..TARGETS.len()).map(|i| format!("c{i}.hostile.test")));
    args.extend(["--format", "json", "--fail-on", "none", "--concurrency", "8"].map(String::from));
    args.extend(["--probe-timeout", "3", "--max-mx-addresses", "64"].map(String::from));
    args
}

/// Run mailwarden against the hostile zone; the JSON report (`scan`) or
/// `Value::Null`.
async fn mailwarden<S: AsRef<str>>(net: &MultiServer, args: &[S], allow: bool) -> Value {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mailwarden"));
    command
        .args(args.iter().map(AsRef::as_ref))
        .args(["--resolver", &net.resolver().to_string()])
        .args(["--no-dnssec", "--timeout", "1", "--retries", "0"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    if allow {
        command.arg("--allow-private-targets");
    }
    let output = tokio::task::spawn_blocking(move || command.output().expect("run mailwarden"))
        .await
        .unwrap();
    // Let the canaries record what reached them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if args[0].as_ref() == "scan" {
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    } else {
        Value::Null
    }
}

/// Refused targets are findings (indeterminate, naming the flag), never failures.
fn the_refusal_is_a_finding_not_a_failure(report: &Value) {
    let findings: Vec<&Value> = report["domains"]
        .as_array()
        .expect("domains")
        .iter()
        .flat_map(|d| d["findings"].as_array().expect("findings"))
        .collect();
    let lame: Vec<&&Value> = findings.iter().filter(|f| f["id"] == "ns.lame").collect();
    assert!(!lame.is_empty(), "no ns.lame finding");
    for f in lame {
        assert_eq!(f["outcome"], "indeterminate", "{f:#}");
        assert!(
            f["message"].as_str().unwrap().contains("--allow-private-targets"),
            "{f:#}"
        );
    }
    let probed: Vec<&&Value> = findings.iter().filter(|f| f["id"] == "smtp.probed").collect();
    assert!(!probed.is_empty(), "no smtp.probed finding");
    assert!(probed.iter().all(|f| f["outcome"] == "indeterminate"), "{probed:#?}");
}

fn taken(hits: &Hits) -> BTreeSet<(IpAddr, &'static str)> {
    std::mem::take(&mut *hits.lock().unwrap())
}

/// Listen on UDP and TCP 53, TCP 25 and TCP 443 at `address`, recording
/// every packet or connection. UDP queries are answered truncated, so the
/// client retries over TCP; connections are closed at once.
async fn canary(address: IpAddr, hits: Hits) {
    let udp = UdpSocket::bind((address, 53))
        .await
        .unwrap_or_else(|e| panic!("canary UDP {address}:53: {e}"));
    let seen = hits.clone();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok((n, from)) = udp.recv_from(&mut buf).await {
            seen.lock().unwrap().insert((address, "udp/53"));
            if n >= 12 {
                buf[2] |= 0x82; // QR and TC: "too long, ask over TCP"
                let _ = udp.send_to(&buf[..n], from).await;
            }
        }
    });
    for (port, service) in [(53, "tcp/53"), (25, "tcp/25"), (443, "tcp/443")] {
        let listener = TcpListener::bind(SocketAddr::new(address, port))
            .await
            .unwrap_or_else(|e| panic!("canary TCP {address}:{port}: {e}"));
        let seen = hits.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                seen.lock().unwrap().insert((address, service));
                drop(stream);
            }
        });
    }
}
