//! The nameserver judge end to end: `collect::fixpoint` with a
//! `LiveSource` whose resolver is one of several loopback nameservers and
//! whose server-directed questions go to all of them.

use std::time::Duration;

use mailwarden_checks::{Context, mx, ns};
use mailwarden_dns::DnsSource;
use mailwarden_dns::live::{DirectGuard, LiveConfig, LiveSource, TrustAnchor};
use mailwarden_engine::collect::{Budget, dns_fixpoint};
use mailwarden_model::{Outcome, RawFinding, ScanOptions, Transcript};
use mailwarden_test_support::{MultiServer, NsServer};

/// The test servers are on loopback: allow it (the guard is tested on its own).
const LOOPBACK_ALLOWED: DirectGuard = DirectGuard {
    allow_private: true,
    max_targets: DirectGuard::DEFAULT_MAX_TARGETS,
};

const D: &str = "example.test";

/// The shared records: MX, SPF, DMARC, MTA-STS and TLS-RPT.
fn zone() -> mailwarden_test_support::MultiServerBuilder {
    MultiServer::builder("example.test.")
        .record("example.test.", "MX 10 mx.example.test.")
        .record("mx.example.test.", "A 192.0.2.25")
        .record("example.test.", "TXT \"v=spf1 mx -all\"")
        .record("_dmarc.example.test.", "TXT \"v=DMARC1; p=reject\"")
        .record("_mta-sts.example.test.", "TXT \"v=STSv1; id=1\"")
        .record(
            "_smtp._tls.example.test.",
            "TXT \"v=TLSRPTv1; rua=mailto:tls@example.test\"",
        )
}

/// Collect and judge MX and nameservers.
async fn audit(net: &MultiServer) -> Vec<RawFinding> {
    let source = LiveSource::new(LiveConfig {
        resolvers: vec![net.resolver()],
        timeout: Duration::from_millis(300),
        retries: 0,
        trust_anchor: TrustAnchor::Disabled,
        authoritative_port: net.port(),
        direct_guard: LOOPBACK_ALLOWED,
    })
    .unwrap();
    let described = source.describe();
    let options = ScanOptions::default();
    let ctx = Context {
        roots: &mailwarden_checks::tls::cert::Roots::WebPki,
        domain: D,
        options: &options,
        source: &described,
        now: 0,
    };
    let (_, findings, stats) = dns_fixpoint(&source, Budget::default(), Transcript::default(), |view| {
        let mut f = mx::judge(D, view);
        f.extend(ns::judge(&ctx, view));
        f
    })
    .await;
    assert!(!stats.budget_exhausted, "{stats:?}");
    findings
}

fn find<'a>(findings: &'a [RawFinding], id: &str, subject: &str) -> &'a RawFinding {
    let hits: Vec<&RawFinding> = findings.iter().filter(|f| f.id == id && f.subject == subject).collect();
    assert_eq!(hits.len(), 1, "{id} {subject}: {findings:#?}");
    hits[0]
}

fn outcome(findings: &[RawFinding], id: &str, subject: &str) -> Outcome {
    find(findings, id, subject).outcome
}

const COMPARED: [&str; 5] = [
    "example.test/MX",
    "example.test/TXT",
    "_dmarc.example.test/TXT",
    "_mta-sts.example.test/TXT",
    "_smtp._tls.example.test/TXT",
];

#[tokio::test]
async fn consistent_servers_pass() {
    let net = zone()
        .server(NsServer::authoritative().serial(5))
        .server(NsServer::authoritative().serial(5))
        .server(NsServer::authoritative().serial(5))
        .start()
        .await;
    let f = audit(&net).await;
    assert_eq!(outcome(&f, "ns.count", D), Outcome::Pass);
    assert_eq!(outcome(&f, "ns.soa-serial", D), Outcome::Pass);
    for i in 0..3 {
        assert_eq!(outcome(&f, "ns.lame", &net.ns_name(i)), Outcome::Pass);
    }
    for subject in COMPARED {
        assert_eq!(outcome(&f, "ns.consistency", subject), Outcome::Pass, "{subject}");
    }
    // All on 127.0.0.x: one /24.
    assert_eq!(outcome(&f, "ns.network-diversity", D), Outcome::Fail);
    assert!(f.iter().all(|f| f.id != "ns.lookup-failed"));
}

#[tokio::test]
async fn a_server_with_a_different_mx_is_named() {
    let net = zone()
        .server(NsServer::authoritative())
        .server(NsServer::authoritative())
        .server(NsServer::authoritative().replace("example.test.", "MX 10 mx.attacker.test."))
        .start()
        .await;
    let f = audit(&net).await;
    let c = find(&f, "ns.consistency", "example.test/MX");
    assert_eq!(c.outcome, Outcome::Fail);
    let odd = format!("{} ({}) answers 10 mx.attacker.test", net.ip(2), net.ns_name(2));
    assert!(c.message.contains(&odd), "{}", c.message);
    assert!(c.message.contains("(the others: 10 mx.example.test)"), "{}", c.message);
    let key = format!("{} ({})", net.ip(2), net.ns_name(2));
    assert_eq!(c.evidence["answers"][&key], serde_json::json!(["10 mx.attacker.test"]));
    assert_eq!(outcome(&f, "ns.consistency", "_dmarc.example.test/TXT"), Outcome::Pass);
    assert_eq!(outcome(&f, "ns.soa-serial", D), Outcome::Pass);
}

#[tokio::test]
async fn a_different_dmarc_record_is_found_too() {
    let net = zone()
        .server(NsServer::authoritative())
        .server(NsServer::authoritative().replace("_dmarc.example.test.", "TXT \"v=DMARC1; p=none\""))
        .start()
        .await;
    let f = audit(&net).await;
    assert_eq!(outcome(&f, "ns.consistency", "_dmarc.example.test/TXT"), Outcome::Fail);
    assert_eq!(outcome(&f, "ns.consistency", "example.test/MX"), Outcome::Pass);
}

#[tokio::test]
async fn a_lagging_serial_fails() {
    let net = zone()
        .server(NsServer::authoritative().serial(2026050102))
        .server(NsServer::authoritative().serial(2026050101))
        .start()
        .await;
    let f = audit(&net).await;
    let s = find(&f, "ns.soa-serial", D);
    assert_eq!(s.outcome, Outcome::Fail);
    assert!(
        s.message
            .contains(&format!("{} ({}) at 2026050101", net.ip(1), net.ns_name(1))),
        "{}",
        s.message
    );
}

#[tokio::test]
async fn a_silent_listed_server_is_indeterminate_not_lame_and_the_mx_is_not_missing() {
    let net = zone()
        .server(NsServer::authoritative())
        .server(NsServer::authoritative())
        .server(NsServer::silent())
        .start()
        .await;
    let f = audit(&net).await;
    let lame = find(&f, "ns.lame", &net.ns_name(2));
    // Silence is what port 53 blocked on the scanner's side looks like:
    // we could not reach it, which does not make it lame.
    assert_eq!(lame.outcome, Outcome::Indeterminate);
    let evidence = lame.evidence["servers"][net.ip(2).to_string()].as_str().unwrap();
    assert!(evidence.starts_with("could not ask: timed out"), "{evidence}");
    assert_eq!(outcome(&f, "ns.lame", &net.ns_name(0)), Outcome::Pass);
    assert_eq!(outcome(&f, "mx.present", D), Outcome::Pass);
    // The silent server is not compared; the two that answer agree.
    let c = find(&f, "ns.consistency", "example.test/MX");
    assert_eq!(c.outcome, Outcome::Pass);
    assert!(c.evidence["not_compared"].is_object(), "{c:#?}");
}

#[tokio::test]
async fn answers_without_authority_are_lame() {
    let net = zone()
        .server(NsServer::authoritative())
        .server(NsServer::not_authoritative())
        .server(NsServer::referral())
        .start()
        .await;
    let f = audit(&net).await;
    let no_aa = find(&f, "ns.lame", &net.ns_name(1));
    assert_eq!(no_aa.outcome, Outcome::Fail);
    assert!(no_aa.message.contains("without the AA bit"), "{}", no_aa.message);
    let referral = find(&f, "ns.lame", &net.ns_name(2));
    assert_eq!(referral.outcome, Outcome::Fail);
    assert!(referral.message.contains("referral"), "{}", referral.message);
}

#[tokio::test]
async fn a_single_nameserver_fails_the_count() {
    let net = zone().server(NsServer::authoritative()).start().await;
    let f = audit(&net).await;
    assert_eq!(outcome(&f, "ns.count", D), Outcome::Fail);
    assert_eq!(outcome(&f, "ns.lame", &net.ns_name(0)), Outcome::Pass);
    assert_eq!(outcome(&f, "ns.soa-serial", D), Outcome::NotApplicable);
}
