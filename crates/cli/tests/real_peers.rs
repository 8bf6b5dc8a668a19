//! Tier 4, real peers: `mailwarden scan` through Unbound (a validating
//! recursive resolver) in front of NSD serving a DNSSEC-signed hierarchy
//! under a private test root, all started by `tests/real-peers/dns.sh
//! start` on loopback addresses. `dig` and `delv` (BIND) are the oracle.
//!
//! Every test is ignored: run them with the peers up,
//!
//! ```sh
//! tests/real-peers/dns.sh start
//! cargo test -p mailwarden --test real_peers -- --ignored
//! tests/real-peers/dns.sh stop
//! ```
//!
//! Run without the peers, they fail and say so: an explicitly requested
//! run must never pass silently.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;

/// The zones the script serves under `test.`.
const ZONES: [&str; 7] = [
    "secure.test",
    "insecure.test",
    "bogus.test",
    "island.test",
    "weak.test",
    "nsec3.test",
    "split.test",
];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// What `dns.sh start` wrote to `target/real-peers/peers.env`.
struct Peers {
    resolver: SocketAddr,
    ns_port: String,
    trust_anchor: String,
    delv_anchors: String,
    child_servers: Vec<String>,
    odd_server: String,
}

/// The running peers; panics, saying what to do, when they are not up.
fn peers() -> &'static Peers {
    static PEERS: OnceLock<Peers> = OnceLock::new();
    PEERS.get_or_init(|| {
        let path = repo().join("target/real-peers/peers.env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the real-peer DNS tier is not running ({}: {e}): start it with `tests/real-peers/dns.sh start`",
                path.display()
            )
        });
        let env: BTreeMap<&str, &str> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .collect();
        let get = |key: &str| -> String {
            env.get(key)
                .unwrap_or_else(|| {
                    panic!(
                        "{}: no {key}= line; re-run tests/real-peers/dns.sh start",
                        path.display()
                    )
                })
                .to_string()
        };
        let peers = Peers {
            resolver: get("RESOLVER").parse().expect("RESOLVER is IP:PORT"),
            ns_port: get("NS_PORT"),
            trust_anchor: get("TRUST_ANCHOR"),
            delv_anchors: get("DELV_ANCHORS"),
            child_servers: get("CHILD_SERVERS").split_whitespace().map(String::from).collect(),
            odd_server: get("SPLIT_ODD_SERVER"),
        };
        assert_resolver_answers(peers.resolver);
        peers
    })
}

/// Ask the resolver `. SOA` over UDP: a stale peers.env with the peers
/// stopped must fail here, clearly, not as odd findings later.
fn assert_resolver_answers(resolver: SocketAddr) {
    // Header: id 0x5257, RD, one question; then `.` SOA IN.
    let query = [0x52, 0x57, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 1];
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback UDP socket");
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut reply = [0u8; 1500];
    let answered = (0..3).any(|_| {
        socket.send_to(&query, resolver).is_ok()
            && socket
                .recv_from(&mut reply)
                .is_ok_and(|(n, _)| n >= 12 && reply[..2] == query[..2])
    });
    assert!(
        answered,
        "Unbound at {resolver} does not answer: the real-peer DNS tier is not running; start it with `tests/real-peers/dns.sh start`"
    );
}

/// `mailwarden scan DOMAINS --format json` through Unbound, validating
/// from the test root; the domain reports by name.
fn scan(domains: &[&str]) -> BTreeMap<String, Value> {
    let p = peers();
    let output = Command::new(env!("CARGO_BIN_EXE_mailwarden"))
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .arg("scan")
        .args(domains)
        .args(["--format", "json", "--timeout", "2"])
        .args(["--resolver", &p.resolver.to_string()])
        .args(["--trust-anchor", &p.trust_anchor])
        .args(["--ns-port", &p.ns_port])
        .output()
        .expect("run mailwarden");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    let code = output.status.code();
    assert!(matches!(code, Some(0 | 1)), "exit {code:?}: {stderr}\n{stdout}");
    let doc: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    let reports: BTreeMap<String, Value> = doc["domains"]
        .as_array()
        .expect("domains is a list")
        .iter()
        .map(|d| (d["domain"].as_str().expect("domain").to_string(), d.clone()))
        .collect();
    for domain in domains {
        assert!(reports.contains_key(*domain), "no report for {domain}: {stdout}");
    }
    reports
}

fn scan_one(domain: &str) -> Value {
    scan(&[domain]).remove(domain).unwrap()
}

fn findings(report: &Value) -> &[Value] {
    report["findings"].as_array().expect("findings is a list")
}

/// The one finding with this id and subject.
fn finding<'a>(report: &'a Value, id: &str, subject: &str) -> &'a Value {
    let mut hits = findings(report)
        .iter()
        .filter(|f| f["id"] == id && f["subject"] == subject);
    let hit = hits
        .next()
        .unwrap_or_else(|| panic!("no {id} finding for {subject} in {:#}", report["findings"]));
    assert!(hits.next().is_none(), "more than one {id} finding for {subject}");
    hit
}

/// The answer the resolver gave (not a server-directed one) to NAME TYPE.
fn answer<'a>(report: &'a Value, name: &str, rtype: &str) -> &'a Value {
    report["observation"]["dns"]
        .as_array()
        .expect("observation.dns is a list")
        .iter()
        .find(|a| a["name"] == name && a["type"] == rtype && a.get("server").is_none())
        .unwrap_or_else(|| panic!("no {name} {rtype} answer in {:#}", report["observation"]["dns"]))
}

fn assert_outcome(f: &Value, outcome: &str) {
    assert_eq!(f["outcome"], outcome, "{f:#}");
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn secure_zone_is_secure_and_unbound_sets_ad() {
    let report = scan_one("secure.test");
    let mx = finding(&report, "mx.dnssec", "mx.secure.test");
    assert_outcome(mx, "pass");
    assert_eq!(mx["evidence"]["proof"], "secure", "{mx:#}");
    let chain = finding(&report, "dnssec.chain", "secure.test");
    assert_outcome(chain, "pass");
    assert_eq!(chain["evidence"]["status"], "secure", "{chain:#}");
    assert_outcome(finding(&report, "dnssec.island", "secure.test"), "pass");
    assert_outcome(finding(&report, "dnssec.bogus", "secure.test"), "pass");
    assert_outcome(finding(&report, "dnssec.ds-mismatch", "secure.test"), "pass");
    assert_outcome(finding(&report, "dnssec.algorithm", "secure.test"), "pass");
    for (name, rtype) in [
        ("secure.test", "MX"),
        ("secure.test", "SOA"),
        ("secure.test", "DNSKEY"),
        ("secure.test", "DS"),
        ("mx.secure.test", "A"),
    ] {
        let a = answer(&report, name, rtype);
        assert_eq!(a["proof"], "secure", "{a:#}");
        assert_eq!(
            a["upstream_ad"], true,
            "Unbound validated {name} {rtype} and sets AD: {a:#}"
        );
    }
    // Every answer the resolver gave validated; the server-directed ones
    // are never validated.
    for a in report["observation"]["dns"].as_array().unwrap() {
        let expected = if a.get("server").is_some() {
            "not-validated"
        } else {
            "secure"
        };
        assert_eq!(a["proof"], expected, "{a:#}");
    }
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn unsigned_zone_is_insecure() {
    let report = scan_one("insecure.test");
    let chain = finding(&report, "dnssec.chain", "insecure.test");
    assert_outcome(chain, "fail");
    assert_eq!(chain["evidence"]["status"], "insecure", "{chain:#}");
    let mx = finding(&report, "mx.dnssec", "mx.insecure.test");
    assert_outcome(mx, "fail");
    assert_eq!(mx["evidence"]["proof"], "insecure", "{mx:#}");
    assert_outcome(finding(&report, "dnssec.island", "insecure.test"), "not-applicable");
    assert_outcome(finding(&report, "dnssec.bogus", "insecure.test"), "pass");
    let a = answer(&report, "insecure.test", "MX");
    assert_eq!(a["status"], "records", "{a:#}");
    assert_eq!(a["proof"], "insecure", "{a:#}");
    assert!(a.get("upstream_ad").is_none(), "no AD for unsigned data: {a:#}");
    // Unsigned is not unresolvable.
    assert_outcome(finding(&report, "mx.target-unresolvable", "mx.insecure.test"), "pass");
}

/// Unbound answers SERVFAIL for bogus data; mailwarden asks again with the
/// CD bit, validates the data itself and reports bogus: a critical
/// failure, never "server failure" and never "missing".
#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn bogus_zone_is_bogus_not_servfail_nor_missing() {
    let p = peers();
    let plain = dig(p, &["bogus.test", "MX"]);
    assert!(
        plain.contains("status: SERVFAIL"),
        "Unbound should refuse bogus data:\n{plain}"
    );
    let cd = dig(p, &["+cd", "bogus.test", "MX"]);
    assert!(
        cd.contains("status: NOERROR") && cd.contains("mx.bogus.test."),
        "with CD Unbound should hand the data over:\n{cd}"
    );

    let report = scan_one("bogus.test");
    let bogus = finding(&report, "dnssec.bogus", "bogus.test");
    assert_outcome(bogus, "fail");
    assert_eq!(bogus["severity"], "critical", "{bogus:#}");
    let chain = finding(&report, "dnssec.chain", "bogus.test");
    assert_outcome(chain, "fail");
    assert_eq!(chain["evidence"]["status"], "bogus", "{chain:#}");
    assert_eq!(chain["severity"], "critical", "{chain:#}");
    // The DS at test. is that of a key bogus.test never publishes.
    assert_outcome(finding(&report, "dnssec.ds-mismatch", "bogus.test"), "fail");
    assert_outcome(finding(&report, "dnssec.lookup-failed", "bogus.test"), "pass");
    for rtype in ["MX", "SOA", "TXT"] {
        let a = answer(&report, "bogus.test", rtype);
        assert_eq!(a["status"], "bogus", "{a:#}");
        assert_eq!(a["proof"], "bogus", "{a:#}");
    }
    assert_outcome(finding(&report, "mx.present", "bogus.test"), "indeterminate");
    assert_eq!(
        report["summary"]["worst_failure"], "critical",
        "{:#}",
        report["summary"]
    );
    // Nothing about the zone reads as a server failure or an absence (the
    // bogus finding may explain that validating resolvers answer SERVFAIL).
    for a in report["observation"]["dns"].as_array().unwrap() {
        if a.get("server").is_none() && a["name"].as_str().unwrap().ends_with("bogus.test") {
            assert!(a["status"] == "bogus" || a["status"] == "records", "{a:#}");
        }
    }
    for f in findings(&report) {
        let message = f["message"].as_str().unwrap().to_lowercase();
        for claim in ["server failed", "missing", "does not exist", "nxdomain", "no mx"] {
            assert!(!message.contains(claim), "{claim:?} said of a bogus zone: {f:#}");
        }
    }
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn signed_zone_without_ds_is_an_island() {
    let report = scan_one("island.test");
    let island = finding(&report, "dnssec.island", "island.test");
    assert_outcome(island, "fail");
    let publish = island["evidence"]["ds_to_publish"].as_array().expect("ds_to_publish");
    assert!(
        !publish.is_empty()
            && publish
                .iter()
                .all(|d| d.as_str().unwrap().starts_with("island.test. IN DS ")),
        "{island:#}"
    );
    let chain = finding(&report, "dnssec.chain", "island.test");
    assert_outcome(chain, "fail");
    assert_eq!(chain["evidence"]["status"], "insecure", "{chain:#}");
    assert_outcome(finding(&report, "dnssec.bogus", "island.test"), "pass");
    assert_eq!(answer(&report, "island.test", "MX")["proof"], "insecure");
}

/// RSASHA1 with a 1024-bit key: Unbound and mailwarden both validate it,
/// and mailwarden flags the algorithm and the key size.
#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn rsasha1_1024_zone_validates_but_fails_algorithm_and_key_size() {
    let report = scan_one("weak.test");
    let algorithm = finding(&report, "dnssec.algorithm", "weak.test");
    assert_outcome(algorithm, "fail");
    assert!(
        algorithm["message"].as_str().unwrap().contains("RSASHA1"),
        "{algorithm:#}"
    );
    let size = finding(&report, "dnssec.rsa-key-size", "weak.test");
    assert_outcome(size, "fail");
    assert!(size["message"].as_str().unwrap().contains("1024 bits"), "{size:#}");
    assert_outcome(finding(&report, "dnssec.chain", "weak.test"), "pass");
    let a = answer(&report, "weak.test", "MX");
    assert_eq!(a["proof"], "secure", "{a:#}");
    assert_eq!(a["upstream_ad"], true, "{a:#}");
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn nsec3_with_iterations_and_salt_fails_nsec3_parameters() {
    let report = scan_one("nsec3.test");
    let nsec3 = finding(&report, "dnssec.nsec3-parameters", "nsec3.test");
    assert_outcome(nsec3, "fail");
    let message = nsec3["message"].as_str().unwrap();
    assert!(message.contains("10 additional iterations"), "{nsec3:#}");
    assert!(message.to_lowercase().contains("salt aabbccdd"), "{nsec3:#}");
    assert_outcome(finding(&report, "dnssec.chain", "nsec3.test"), "pass");
    assert_outcome(finding(&report, "mx.dnssec", "mx.nsec3.test"), "pass");
    // A name that does not exist is proven absent with NSEC3, securely.
    let dkim = answer(&report, "dkim._domainkey.nsec3.test", "TXT");
    assert_eq!(dkim["status"], "nx-domain", "{dkim:#}");
    assert_eq!(dkim["proof"], "secure", "{dkim:#}");
}

/// split.test is served by three NSD instances; the third serves other MX
/// and SPF records under another serial.
#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn servers_that_disagree_fail_consistency_naming_the_odd_one() {
    let p = peers();
    let report = scan_one("split.test");
    let odd = format!("{} (c.ns.test) answers", p.odd_server);
    for subject in ["split.test/MX", "split.test/TXT"] {
        let f = finding(&report, "ns.consistency", subject);
        assert_outcome(f, "fail");
        let message = f["message"].as_str().unwrap();
        assert!(message.contains(&odd), "{f:#}");
        for agreeing in &p.child_servers {
            assert!(
                !message.contains(&format!("{agreeing} (")),
                "{agreeing} is not the odd one: {f:#}"
            );
        }
    }
    let serial = finding(&report, "ns.soa-serial", "split.test");
    assert_outcome(serial, "fail");
    for server in &p.child_servers {
        assert!(
            serial["message"].as_str().unwrap().contains(server.as_str()),
            "{serial:#}"
        );
    }
    // The records both versions share agree.
    assert_outcome(finding(&report, "ns.consistency", "_dmarc.split.test/TXT"), "pass");
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn consistent_servers_on_two_networks_pass_every_ns_rule() {
    let report = scan_one("secure.test");
    let ns: Vec<&Value> = findings(&report)
        .iter()
        .filter(|f| f["id"].as_str().unwrap().starts_with("ns."))
        .collect();
    for id in [
        "ns.count",
        "ns.network-diversity",
        "ns.soa-serial",
        "ns.lame",
        "ns.consistency",
    ] {
        assert!(ns.iter().any(|f| f["id"] == id), "no {id} finding: {ns:#?}");
    }
    for f in ns {
        assert_outcome(f, "pass");
    }
}

/// What a validator says about one RRset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Secure,
    Insecure,
    Bogus,
}

fn tool(program: &str, args: &[&str]) -> String {
    let Output { stdout, stderr, .. } = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {program} ({e}): install bind9-dnsutils (tests/real-peers/dns.sh start does)")
        });
    format!(
        "{}{}",
        String::from_utf8_lossy(&stdout),
        String::from_utf8_lossy(&stderr)
    )
}

/// `dig +dnssec` through Unbound.
fn dig(p: &Peers, args: &[&str]) -> String {
    let server = format!("@{}", p.resolver.ip());
    let port = p.resolver.port().to_string();
    let mut all = vec![server.as_str(), "-p", &port, "+dnssec", "+time=2", "+tries=2"];
    all.extend_from_slice(args);
    tool("dig", &all)
}

/// Unbound's verdict: AD set → secure; an answer without AD → insecure;
/// SERVFAIL that a CD query answers → bogus.
fn unbound_verdict(p: &Peers, name: &str, rtype: &str) -> Verdict {
    let out = dig(p, &[name, rtype]);
    let flags = out
        .lines()
        .find(|l| l.starts_with(";; flags:"))
        .unwrap_or_else(|| panic!("no flags line from dig:\n{out}"));
    if out.contains("status: SERVFAIL") {
        let cd = dig(p, &["+cd", name, rtype]);
        assert!(
            cd.contains("status: NOERROR"),
            "{name} {rtype} fails even with CD:\n{cd}"
        );
        return Verdict::Bogus;
    }
    assert!(out.contains("status: NOERROR"), "{name} {rtype}:\n{out}");
    if flags.split([' ', ';']).any(|f| f == "ad") {
        Verdict::Secure
    } else {
        Verdict::Insecure
    }
}

/// delv validates on its own from the test root's DS, fetching through
/// Unbound with CD set.
fn delv_verdict(p: &Peers, name: &str, rtype: &str) -> Verdict {
    let server = format!("@{}", p.resolver.ip());
    let port = p.resolver.port().to_string();
    let out = tool("delv", &["-a", &p.delv_anchors, &server, "-p", &port, name, rtype]);
    if out.contains("; fully validated") {
        Verdict::Secure
    } else if out.contains("; unsigned answer") {
        Verdict::Insecure
    } else if out.contains("resolution failed") {
        Verdict::Bogus
    } else {
        panic!("cannot read delv's verdict on {name} {rtype}:\n{out}")
    }
}

fn mailwarden_verdict(report: &Value, name: &str, rtype: &str) -> Verdict {
    let a = answer(report, name, rtype);
    match a["proof"].as_str() {
        Some("secure") => Verdict::Secure,
        Some("insecure") => Verdict::Insecure,
        Some("bogus") => Verdict::Bogus,
        other => panic!("mailwarden could not decide on {name} {rtype} ({other:?}): {a:#}"),
    }
}

/// For every test zone, Unbound (the AD bit), delv and mailwarden agree
/// on the DNSSEC status of the domain's MX and SOA RRsets.
#[test]
#[ignore = "needs tests/real-peers/dns.sh start"]
fn oracle_unbound_and_delv_agree_with_mailwarden() {
    let p = peers();
    let reports = scan(&ZONES);
    let expected = BTreeMap::from([
        ("secure.test", Verdict::Secure),
        ("insecure.test", Verdict::Insecure),
        ("bogus.test", Verdict::Bogus),
        ("island.test", Verdict::Insecure),
        ("weak.test", Verdict::Secure),
        ("nsec3.test", Verdict::Secure),
        ("split.test", Verdict::Insecure),
    ]);
    let mut disagreements = Vec::new();
    for zone in ZONES {
        for rtype in ["MX", "SOA"] {
            let verdicts = [
                ("unbound", unbound_verdict(p, zone, rtype)),
                ("delv", delv_verdict(p, zone, rtype)),
                ("mailwarden", mailwarden_verdict(&reports[zone], zone, rtype)),
            ];
            if verdicts.iter().any(|(_, v)| *v != expected[zone]) {
                disagreements.push(format!(
                    "{zone} {rtype}: expected {:?}, got {verdicts:?}",
                    expected[zone]
                ));
            }
        }
    }
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

// --- the mail peers (tests/real-peers/mail.sh) ----------------------------------
//
// Postfix instances offering STARTTLS with certificates from a test CA (and
// one without STARTTLS), nginx serving MTA-STS policies; the zones mail.test
// and sts.test (served by dns.sh) name them. Start both scripts:
//
// ```sh
// tests/real-peers/dns.sh start && tests/real-peers/mail.sh start
// ```

/// What `mail.sh start` wrote to `target/real-peers/mail.env`.
struct MailPeers {
    env: BTreeMap<String, String>,
}

impl MailPeers {
    fn get(&self, key: &str) -> &str {
        self.env
            .get(key)
            .unwrap_or_else(|| panic!("mail.env: no {key}= line; re-run tests/real-peers/mail.sh start"))
    }
}

/// The running mail peers (and the DNS peers they need); panics, saying
/// what to do, when they are not up.
fn mail_peers() -> &'static MailPeers {
    static MAIL: OnceLock<MailPeers> = OnceLock::new();
    MAIL.get_or_init(|| {
        peers();
        let path = repo().join("target/real-peers/mail.env");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the real-peer mail tier is not running ({}: {e}): start it with `tests/real-peers/mail.sh start`",
                path.display()
            )
        });
        let env = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let mail = MailPeers { env };
        for key in ["SMTP_VALID", "SMTP_PLAIN", "STS_ENFORCE"] {
            let port = if key.starts_with("SMTP") {
                "SMTP_PORT"
            } else {
                "HTTPS_PORT"
            };
            let addr: SocketAddr = format!("{}:{}", mail.get(key), mail.get(port))
                .parse()
                .expect("address:port");
            assert!(
                std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok(),
                "nothing listens on {addr} ({key}): the real-peer mail tier is not running; start it with \
                 `tests/real-peers/mail.sh start`"
            );
        }
        mail
    })
}

/// `mailwarden generate tlsa DOMAIN` probing the real Postfix instances
/// through Unbound: exit code, stdout, stderr.
fn generate_tlsa(domain: &str) -> (Option<i32>, String, String) {
    let (p, m) = (peers(), mail_peers());
    let output = Command::new(env!("CARGO_BIN_EXE_mailwarden"))
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .args([
            "generate",
            "tlsa",
            domain,
            "--allow-private-targets",
            "--probe-timeout",
            "5",
        ])
        .args(["--smtp-port", m.get("SMTP_PORT")])
        .args(["--resolver", &p.resolver.to_string()])
        .args(["--trust-anchor", &p.trust_anchor])
        .args(["--ns-port", &p.ns_port])
        .args(["--timeout", "2"])
        .output()
        .expect("run mailwarden");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `sh -c SCRIPT`'s stdout, trimmed; panics on failure.
fn sh(script: &str) -> String {
    let out = tool("sh", &["-c", &format!("set -e; {script}")]);
    out.trim().to_string()
}

/// The SHA-256 of the SubjectPublicKeyInfo of the leaf certificate the
/// server at ADDRESS presents over STARTTLS, computed by OpenSSL.
fn served_spki_sha256(address: &str, host: &str) -> String {
    let port = mail_peers().get("SMTP_PORT");
    let hash = sh(&format!(
        "openssl s_client -starttls smtp -connect {address}:{port} -servername {host} </dev/null 2>/dev/null \
         | openssl x509 -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1"
    ));
    assert_eq!(hash.len(), 64, "no certificate from {address}:{port}: {hash:?}");
    hash
}

/// The same hash of a PEM certificate file.
fn file_spki_sha256(pem: &str) -> String {
    sh(&format!(
        "openssl x509 -in {pem} -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1"
    ))
}

/// The TLSA records Unbound returns for NAME, as `u s m hex` (lower case).
fn published_tlsa(name: &str) -> Vec<String> {
    let p = peers();
    let out = dig(p, &["+short", name, "TLSA"]);
    // +short with +dnssec also prints the RRSIG ("TLSA 13 ..."): skip it.
    out.lines()
        .filter(|l| l.split_whitespace().next().is_some_and(|u| u.parse::<u8>().is_ok()))
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            format!("{} {} {} {}", f[0], f[1], f[2], f[3..].concat().to_ascii_lowercase())
        })
        .collect()
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start and tests/real-peers/mail.sh start"]
fn generate_tlsa_from_real_postfix_matches_openssl() {
    let m = mail_peers();
    let served = served_spki_sha256(m.get("SMTP_VALID"), "mx.secure.test");
    assert_eq!(
        served,
        file_spki_sha256(m.get("CERT_VALID")),
        "Postfix serves the valid certificate"
    );

    let (code, out, err) = generate_tlsa("secure.test");
    assert_eq!(code, Some(0), "{err}\n{out}");
    let record = format!("_25._tcp.mx.secure.test. 3600 IN TLSA 3 1 1 {served}");
    assert!(out.lines().any(|l| l == record), "expected {record:?} in:\n{out}");
    assert!(out.contains("(probed on port 2525)"), "{out}");
    assert!(out.contains("CN=mx.secure.test"), "{out}");

    // mail.test publishes (signed) the TLSA record for this key: the live
    // probe agrees with it, and a DANE-EE record ignores expiry.
    for (domain, host, cert) in [
        ("mail.test", "mx.mail.test", "CERT_VALID"),
        ("expired.mail.test", "mx.expired.mail.test", "CERT_EXPIRED"),
    ] {
        let (code, out, err) = generate_tlsa(domain);
        assert_eq!(code, Some(0), "{domain}: {err}\n{out}");
        let hash = file_spki_sha256(m.get(cert));
        let record = format!("_25._tcp.{host}. 3600 IN TLSA 3 1 1 {hash}");
        assert!(
            out.lines().any(|l| l == record),
            "{domain}: expected {record:?} in:\n{out}"
        );
        assert_eq!(
            published_tlsa(&format!("_25._tcp.{host}")),
            [format!("3 1 1 {hash}")],
            "the record in the zone"
        );
    }
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start and tests/real-peers/mail.sh start"]
fn generate_tlsa_reads_wrong_name_and_dane_ta_chains_and_flags_a_mismatch() {
    let m = mail_peers();
    // Names are not checked for 3 1 1: the wrong-name key is still its key.
    for (domain, host, cert) in [
        ("wrongname.mail.test", "mx.wrongname.mail.test", "CERT_WRONGNAME"),
        ("daneta.mail.test", "mx.daneta.mail.test", "CERT_DANETA"),
    ] {
        let (code, out, err) = generate_tlsa(domain);
        assert_eq!(code, Some(0), "{domain}: {err}\n{out}");
        let hash = file_spki_sha256(m.get(cert));
        assert_eq!(
            hash,
            served_spki_sha256(m.get(&format!("SMTP_{}", domain_key(domain))), host)
        );
        let record = format!("_25._tcp.{host}. 3600 IN TLSA 3 1 1 {hash}");
        assert!(
            out.lines().any(|l| l == record),
            "{domain}: expected {record:?} in:\n{out}"
        );
    }
    // The DANE-TA host sends its intermediate, the one its 2 1 1 record names.
    let port = m.get("SMTP_PORT");
    let chain = sh(&format!(
        "openssl s_client -starttls smtp -showcerts -connect {}:{port} -servername mx.daneta.mail.test \
         </dev/null 2>/dev/null | grep -c 'BEGIN CERTIFICATE'",
        m.get("SMTP_DANETA")
    ));
    assert_eq!(chain, "2", "leaf and intermediate");
    assert_eq!(
        published_tlsa("_25._tcp.mx.daneta.mail.test"),
        [format!("2 1 1 {}", file_spki_sha256(m.get("CERT_INT")))]
    );
    // mismatch.mail.test publishes a key nobody serves.
    let (code, out, err) = generate_tlsa("mismatch.mail.test");
    assert_eq!(code, Some(0), "{err}\n{out}");
    let live = file_spki_sha256(m.get("CERT_VALID"));
    assert!(out.contains(&format!("3 1 1 {live}")), "{out}");
    let published = published_tlsa("_25._tcp.mx.mismatch.mail.test");
    assert_eq!(published.len(), 1);
    assert_ne!(
        published[0],
        format!("3 1 1 {live}"),
        "the published record matches no served key"
    );
}

/// `daneta.mail.test` → `DANETA`.
fn domain_key(domain: &str) -> String {
    domain.split('.').next().unwrap().to_ascii_uppercase()
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start and tests/real-peers/mail.sh start"]
fn generate_tlsa_says_no_starttls_for_the_plain_postfix() {
    let m = mail_peers();
    let plain = m.get("SMTP_PLAIN");
    // Alone: no record at all, exit 2, and the reason.
    let (code, out, err) = generate_tlsa("plain.mail.test");
    assert_eq!(code, Some(2), "{err}\n{out}");
    assert!(out.is_empty(), "{out}");
    assert!(
        err.contains(&format!(
            "mx.plain.mail.test: {plain}: the server does not offer STARTTLS"
        )),
        "{err}"
    );
    // Beside a STARTTLS host: its record, and a comment for the plain one.
    let (code, out, err) = generate_tlsa("mixed.mail.test");
    assert_eq!(code, Some(0), "{err}\n{out}");
    assert!(out.contains("\n_25._tcp.mx.mail.test. 3600 IN TLSA 3 1 1 "), "{out}");
    assert!(!out.contains("_25._tcp.mx.plain.mail.test."), "{out}");
    assert!(
        out.contains("; mx.plain.mail.test: no record, the probe failed:"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            ";   {plain}: the server does not offer STARTTLS (EHLO keywords: "
        )),
        "{out}"
    );
}

/// `curl --cacert` against nginx: (curl's exit code, status line, content
/// type, body) for mta-sts.LABEL.sts.test.
fn fetch_policy(label: &str) -> (i32, String, String, String) {
    let m = mail_peers();
    let (addr, port) = (
        m.get(&format!("STS_{}", label.to_ascii_uppercase())),
        m.get("HTTPS_PORT"),
    );
    let host = format!("mta-sts.{label}.sts.test");
    let output = Command::new("curl")
        .args(["-sS", "--max-time", "5", "--cacert", m.get("CA_FILE"), "-D", "-"])
        .args(["--resolve", &format!("{host}:{port}:{addr}")])
        .arg(format!("https://{host}:{port}/.well-known/mta-sts.txt"))
        .output()
        .expect("run curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.lines().next().unwrap_or("").to_string();
    let ctype = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type:")
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_default();
    (output.status.code().unwrap_or(-1), status, ctype, body.to_string())
}

#[test]
#[ignore = "needs tests/real-peers/dns.sh start and tests/real-peers/mail.sh start"]
fn nginx_serves_the_mta_sts_policies_with_their_faults() {
    // The DNS side: each domain's TXT record and policy host, validated.
    let p = peers();
    for label in ["enforce", "testing", "malformed", "redirect", "ctype", "wrongcert"] {
        let txt = dig(p, &["+short", &format!("_mta-sts.{label}.sts.test"), "TXT"]);
        let txt: Vec<&str> = txt.lines().filter(|l| l.starts_with('"')).collect();
        assert_eq!(txt, ["\"v=STSv1; id=20260101000000\""], "{label}");
        let a = dig(p, &["+short", &format!("mta-sts.{label}.sts.test"), "A"]);
        let a: Vec<&str> = a.lines().filter(|l| l.parse::<std::net::Ipv4Addr>().is_ok()).collect();
        assert_eq!(a, [mail_peers().get(&format!("STS_{}", label.to_ascii_uppercase()))]);
    }

    let (rc, status, ctype, body) = fetch_policy("enforce");
    assert_eq!(
        (rc, status.as_str(), ctype.as_str()),
        (0, "HTTP/1.1 200 OK", "text/plain")
    );
    assert_eq!(
        body,
        "version: STSv1\r\nmode: enforce\r\nmx: mx.mail.test\r\nmax_age: 86400\r\n"
    );

    let (rc, status, ctype, body) = fetch_policy("testing");
    assert_eq!(
        (rc, status.as_str(), ctype.as_str()),
        (0, "HTTP/1.1 200 OK", "text/plain")
    );
    assert!(body.contains("mode: testing\n"), "{body:?}");

    let (rc, status, ctype, body) = fetch_policy("malformed");
    assert_eq!(
        (rc, status.as_str(), ctype.as_str()),
        (0, "HTTP/1.1 200 OK", "text/plain")
    );
    assert!(body.starts_with("version: STSv2\n"), "{body:?}");

    let (rc, status, _, _) = fetch_policy("redirect");
    assert_eq!((rc, status.as_str()), (0, "HTTP/1.1 301 Moved Permanently"));

    let (rc, status, ctype, body) = fetch_policy("ctype");
    assert_eq!(
        (rc, status.as_str(), ctype.as_str()),
        (0, "HTTP/1.1 200 OK", "text/html")
    );
    assert!(body.contains("mode: enforce"), "{body:?}");

    // curl exit 60: the certificate does not verify (it is for another name).
    let (rc, _, _, _) = fetch_policy("wrongcert");
    assert_eq!(rc, 60, "curl must refuse mta-sts.wrongcert.sts.test's certificate");
}
