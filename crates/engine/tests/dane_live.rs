//! DANE, MTA-STS and TLS-RPT end to end: collect through the validating live
//! backend from in-process signed zones on loopback, then judge.

use std::time::Duration;

mod common;

use common::{audit_without_probes, find, outcome};
use mailwarden_dns::live::{LiveConfig, LiveSource, TrustAnchor};
use mailwarden_model::{Outcome, RawFinding, ScanOptions, Severity};
use mailwarden_test_support::{TestDns, TestDnsBuilder};

const H1: &str = "8cb0fc6c527506a053f4f14c8464bebbd6dede2738d11468dd953d7d6a3021f1";
const H2: &str = "0c72ac70b745ac19998811b131d662c9ac69dbdbe7cb23e5b514b56664c5d3d6";

/// secure.test: MX in a signed zone with two TLSA records, MTA-STS and
/// TLS-RPT; insecure.test: MX in an unsigned zone with a TLSA record;
/// bogusmx.test (signed): MX in the bogus zone bogus.test.
fn world() -> TestDnsBuilder {
    TestDns::builder()
        .signed_zone("test.")
        .signed_zone("secure.test.")
        .record("secure.test.", "MX 10 mx.secure.test.")
        .record("mx.secure.test.", "A 127.0.0.1")
        .record("_25._tcp.mx.secure.test.", &format!("TLSA 3 1 1 {H1}"))
        .record("_25._tcp.mx.secure.test.", &format!("TLSA 2 1 1 {H2}"))
        .record("mta-sts.secure.test.", "A 127.0.0.1")
        .record("_mta-sts.secure.test.", "TXT \"v=STSv1; id=20250101T000000\"")
        .record(
            "_smtp._tls.secure.test.",
            "TXT \"v=TLSRPTv1; rua=mailto:tls@secure.test\"",
        )
        .unsigned_zone("insecure.test.")
        .record("insecure.test.", "MX 10 mx.insecure.test.")
        .record("mx.insecure.test.", "A 127.0.0.1")
        .record("_25._tcp.mx.insecure.test.", &format!("TLSA 3 1 1 {H1}"))
        .signed_zone("bogusmx.test.")
        .record("bogusmx.test.", "MX 10 mx.bogus.test.")
        .bogus_zone("bogus.test.")
        .record("mx.bogus.test.", "A 127.0.0.1")
        .record("_25._tcp.mx.bogus.test.", &format!("TLSA 3 1 1 {H1}"))
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
    let options = ScanOptions {
        checks: ["mx", "mta-sts", "tlsrpt", "dane"]
            .iter()
            .map(|c| c.to_string())
            .collect(),
        ..ScanOptions::default()
    };
    audit_without_probes(&source, domain, options).await
}

#[tokio::test]
async fn secure_tlsa_records_are_judged_and_matching_waits_for_the_probe() {
    let net = world().start().await;
    let f = scan(&net, "secure.test").await;
    let mx = "mx.secure.test";
    for id in [
        "dane.tlsa-present",
        "dane.insecure",
        "dane.bogus",
        "dane.syntax",
        "dane.usage",
        "dane.full-certificate",
        "dane.rollover",
    ] {
        assert_eq!(outcome(&f, id, mx), Outcome::Pass, "{id}: {f:#?}");
    }
    assert_eq!(outcome(&f, "dane.match", mx), Outcome::Indeterminate);
    for id in ["mta-sts.record", "mta-sts.syntax", "mta-sts.id"] {
        assert_eq!(outcome(&f, id, "secure.test"), Outcome::Pass, "{id}");
    }
    assert_eq!(outcome(&f, "mta-sts.policy", "secure.test"), Outcome::Indeterminate);
    for id in ["tlsrpt.record", "tlsrpt.syntax", "tlsrpt.missing", "tlsrpt.legacy-name"] {
        assert_eq!(outcome(&f, id, "secure.test"), Outcome::Pass, "{id}");
    }
}

#[tokio::test]
async fn tlsa_in_an_unsigned_zone_is_not_in_effect() {
    let net = world().start().await;
    let f = scan(&net, "insecure.test").await;
    let mx = "mx.insecure.test";
    assert_eq!(outcome(&f, "dane.tlsa-present", mx), Outcome::Pass);
    assert_eq!(outcome(&f, "dane.insecure", mx), Outcome::Fail);
    assert_eq!(outcome(&f, "dane.match", mx), Outcome::NotApplicable);
    assert_eq!(outcome(&f, "dane.rollover", mx), Outcome::Fail);
    // DANE records are published without TLS-RPT.
    assert_eq!(outcome(&f, "tlsrpt.missing", "insecure.test"), Outcome::Fail);
}

#[tokio::test]
async fn tlsa_in_a_bogus_zone_is_critical() {
    let net = world().start().await;
    let f = scan(&net, "bogusmx.test").await;
    let b = find(&f, "dane.bogus", "mx.bogus.test");
    assert_eq!(b.outcome, Outcome::Fail, "{f:#?}");
    assert_eq!(b.severity, Some(Severity::Critical));
}
