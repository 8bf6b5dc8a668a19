//! The DNSSEC audit end to end: collect through the validating live
//! backend from in-process signed zones on loopback, then judge.

use std::time::Duration;

mod common;

use common::{audit_without_probes, find, outcome};
use mailwarden_dns::live::{LiveConfig, LiveSource, TrustAnchor};
use mailwarden_model::{Outcome, RawFinding, ScanOptions};
use mailwarden_test_support::{TestDns, TestDnsBuilder};

/// One domain per case, each with an MX host in its own zone, under a
/// signed `test.`.
fn world() -> TestDnsBuilder {
    let mut b = TestDns::builder()
        .signed_zone("test.")
        .signed_zone("mail.test.")
        .record("mx.mail.test.", "A 127.0.0.1")
        .signed_zone("secure.test.")
        .unsigned_zone("insecure.test.")
        .island_zone("island.test.")
        .bogus_zone("bogus.test.")
        .expired_zone("expired.test.")
        .expiring_zone("expiring.test.")
        .signed_zone("weak.test.")
        .extra_dnskey("weak.test.", 256, 5, &rsa_1024())
        .signed_zone("nsec3.test.")
        .nsec3("nsec3.test.", 10, &[0xAB, 0xCD]);
    for zone in [
        "secure", "insecure", "island", "bogus", "expired", "expiring", "weak", "nsec3",
    ] {
        b = b
            .record(&format!("{zone}.test."), "MX 10 mx.mail.test.")
            .record(&format!("{zone}.test."), "TXT \"v=spf1 -all\"");
    }
    b
}

fn rsa_1024() -> Vec<u8> {
    let mut key = vec![3, 1, 0, 1];
    key.extend((0..128u8).map(|i| i.wrapping_mul(41) | 0x81));
    key
}

async fn scan(net: &TestDns, domain: &str) -> Vec<RawFinding> {
    let source = LiveSource::new(LiveConfig {
        resolvers: vec![net.addr()],
        timeout: Duration::from_millis(500),
        retries: 1,
        trust_anchor: TrustAnchor::Text(net.trust_anchor()),
        ..LiveConfig::default()
    })
    .unwrap();
    audit_without_probes(&source, domain, ScanOptions::default())
        .await
        .into_iter()
        .filter(|f| f.id.starts_with("dnssec."))
        .collect()
}

#[tokio::test]
async fn secure_domain_and_mx_zone_pass() {
    let net = world().start().await;
    let f = scan(&net, "secure.test").await;
    for zone in ["secure.test", "mail.test"] {
        for id in [
            "dnssec.chain",
            "dnssec.island",
            "dnssec.bogus",
            "dnssec.ds-mismatch",
            "dnssec.signature-expiry",
            "dnssec.algorithm",
            "dnssec.ds-digest",
            "dnssec.lookup-failed",
        ] {
            assert_eq!(outcome(&f, id, zone), Outcome::Pass, "{id} {zone}: {f:#?}");
        }
        assert_eq!(outcome(&f, "dnssec.rsa-key-size", zone), Outcome::NotApplicable);
        assert_eq!(outcome(&f, "dnssec.nsec3-parameters", zone), Outcome::NotApplicable);
    }
}

#[tokio::test]
async fn unsigned_delegation_fails_the_chain() {
    let net = world().start().await;
    let f = scan(&net, "insecure.test").await;
    let chain = find(&f, "dnssec.chain", "insecure.test");
    assert_eq!(chain.outcome, Outcome::Fail);
    assert_eq!(chain.evidence["status"], "insecure");
    assert_eq!(outcome(&f, "dnssec.island", "insecure.test"), Outcome::NotApplicable);
    assert_eq!(outcome(&f, "dnssec.bogus", "insecure.test"), Outcome::Pass);
    assert_eq!(outcome(&f, "dnssec.chain", "mail.test"), Outcome::Pass);
}

#[tokio::test]
async fn island_of_security_names_the_ds_to_publish() {
    let net = world().start().await;
    let f = scan(&net, "island.test").await;
    let island = find(&f, "dnssec.island", "island.test");
    assert_eq!(island.outcome, Outcome::Fail);
    let remediation = island.remediation.as_deref().unwrap();
    assert!(remediation.contains("island.test. IN DS "), "{remediation}");
    assert!(
        remediation.contains(" 15 2 "),
        "Ed25519 key, SHA-256 digest: {remediation}"
    );
}

#[tokio::test]
async fn ds_matching_no_key_is_bogus_and_diagnosed() {
    let net = world().start().await;
    let f = scan(&net, "bogus.test").await;
    let bogus = find(&f, "dnssec.bogus", "bogus.test");
    assert_eq!(bogus.outcome, Outcome::Fail);
    let mismatch = find(&f, "dnssec.ds-mismatch", "bogus.test");
    assert_eq!(mismatch.outcome, Outcome::Fail, "{mismatch:#?}");
    assert!(mismatch.severity.is_some(), "no DS matches: overridden to critical");
    assert!(bogus.remediation.as_deref().unwrap().contains("matches no DNSKEY"));
}

#[tokio::test]
async fn expired_signatures_are_bogus_and_expired() {
    let net = world().start().await;
    let f = scan(&net, "expired.test").await;
    assert_eq!(outcome(&f, "dnssec.bogus", "expired.test"), Outcome::Fail);
    let expiry = find(&f, "dnssec.signature-expiry", "expired.test");
    assert_eq!(expiry.outcome, Outcome::Fail, "{expiry:#?}");
    assert!(expiry.message.contains("expired"), "{}", expiry.message);
}

#[tokio::test]
async fn signatures_expiring_in_two_days_fail_while_the_zone_is_secure() {
    let net = world().start().await;
    let f = scan(&net, "expiring.test").await;
    assert_eq!(outcome(&f, "dnssec.chain", "expiring.test"), Outcome::Pass);
    let expiry = find(&f, "dnssec.signature-expiry", "expiring.test");
    assert_eq!(expiry.outcome, Outcome::Fail);
    assert!(expiry.message.contains("expire within 3 days"), "{}", expiry.message);
}

#[tokio::test]
async fn a_published_rsasha1_1024_key_fails_algorithm_and_key_size() {
    let net = world().start().await;
    let f = scan(&net, "weak.test").await;
    assert_eq!(outcome(&f, "dnssec.chain", "weak.test"), Outcome::Pass);
    let alg = find(&f, "dnssec.algorithm", "weak.test");
    assert_eq!(alg.outcome, Outcome::Fail);
    assert!(alg.message.contains("5 (RSASHA1)"), "{}", alg.message);
    let size = find(&f, "dnssec.rsa-key-size", "weak.test");
    assert_eq!(size.outcome, Outcome::Fail);
    assert!(size.message.contains("1024 bits"), "{}", size.message);
}

#[tokio::test]
async fn nsec3_with_iterations_and_salt_fails() {
    let net = world().start().await;
    let f = scan(&net, "nsec3.test").await;
    let n = find(&f, "dnssec.nsec3-parameters", "nsec3.test");
    assert_eq!(n.outcome, Outcome::Fail, "{n:#?}");
    assert!(n.message.contains("10 additional iterations"), "{}", n.message);
    assert!(n.message.contains("ABCD"), "{}", n.message);
}

#[tokio::test]
async fn behind_a_validating_upstream_bogus_stays_bogus_not_lookup_failed() {
    let net = world().validating_upstream().start().await;
    let f = scan(&net, "bogus.test").await;
    assert_eq!(outcome(&f, "dnssec.bogus", "bogus.test"), Outcome::Fail);
    assert_eq!(outcome(&f, "dnssec.lookup-failed", "bogus.test"), Outcome::Pass);
}
