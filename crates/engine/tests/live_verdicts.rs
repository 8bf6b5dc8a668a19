//! Verdicts an audit is staked on, end to end through the validating live
//! backend against in-process signed zones on loopback: a bogus RRset is a
//! critical failure naming it, and an MX target that is a CNAME into
//! another signed zone is no DNSSEC failure at all.

use std::net::SocketAddr;
use std::time::Duration;

mod common;

use common::{audit_without_probes, find};
use mailwarden_dns::live::{LiveConfig, LiveSource, TrustAnchor};
use mailwarden_model::{Outcome, RawFinding, ScanOptions};
use mailwarden_test_support::{BrokenServer, TestDns};

/// `bogusmx.test`: only the MX RRSIG is corrupt. `bogustlsa.test`: only
/// its MX host's TLSA RRSIG is. `example.test`'s MX host is a CNAME into
/// `provider.test`. `loop.test` has a CNAME loop at `_dmarc`.
async fn world() -> TestDns {
    TestDns::builder()
        .signed_zone("test.")
        .signed_zone("bogusmx.test.")
        .record("bogusmx.test.", "MX 10 mx.bogusmx.test.")
        .record("mx.bogusmx.test.", "A 127.0.0.1")
        .record("bogusmx.test.", "TXT \"v=spf1 -all\"")
        .corrupt_rrsig("bogusmx.test.", "MX")
        .signed_zone("bogustlsa.test.")
        .record("bogustlsa.test.", "MX 10 mx.bogustlsa.test.")
        .record("mx.bogustlsa.test.", "A 127.0.0.1")
        .record(
            "_25._tcp.mx.bogustlsa.test.",
            "TLSA 3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .corrupt_rrsig("_25._tcp.mx.bogustlsa.test.", "TLSA")
        .bogus_zone("bogus.test.")
        .record("bogus.test.", "MX 10 mx.bogus.test.")
        .signed_zone("example.test.")
        .record("example.test.", "MX 10 mail.example.test.")
        .record("example.test.", "TXT \"v=spf1 mx -all\"")
        .record("_dmarc.example.test.", "TXT \"v=DMARC1; p=reject\"")
        .record("mail.example.test.", "CNAME mx1.provider.test.")
        .signed_zone("provider.test.")
        .record("mx1.provider.test.", "A 127.0.0.1")
        .signed_zone("loop.test.")
        .record("loop.test.", "MX 10 mx.example.test.")
        .record("_dmarc.loop.test.", "CNAME _dmarc1.loop.test.")
        .record("_dmarc1.loop.test.", "CNAME _dmarc.loop.test.")
        .start()
        .await
}

async fn scan(resolver: SocketAddr, anchor: String, domain: &str) -> Vec<RawFinding> {
    let source = LiveSource::new(LiveConfig {
        resolvers: vec![resolver],
        timeout: Duration::from_millis(500),
        retries: 1,
        trust_anchor: TrustAnchor::Text(anchor),
        ..LiveConfig::default()
    })
    .unwrap();
    audit_without_probes(&source, domain, ScanOptions::default()).await
}

/// The MX RRSIG alone was corrupt: every MX-dependent check was
/// indeterminate and the domain scored 98, though validating senders
/// cannot deliver to it at all.
#[tokio::test]
async fn a_bogus_mx_rrset_is_a_critical_failure_naming_it() {
    let net = world().await;
    let findings = scan(net.addr(), net.trust_anchor(), "bogusmx.test").await;
    let rrset = find(&findings, "dnssec.bogus-rrset", "bogusmx.test");
    assert_eq!(rrset.outcome, Outcome::Fail, "{rrset:#?}");
    assert!(rrset.message.contains("bogusmx.test MX"), "{}", rrset.message);
    assert_eq!(find(&findings, "dnssec.bogus", "bogusmx.test").outcome, Outcome::Pass);
    let present = find(&findings, "mx.present", "bogusmx.test");
    assert_eq!(present.outcome, Outcome::Indeterminate, "{present:#?}");
    assert!(
        present
            .message
            .contains("the MX answer for bogusmx.test does not validate"),
        "the reason points at the bogus RRset: {}",
        present.message
    );
}

#[tokio::test]
async fn a_bogus_tlsa_rrset_of_an_mx_host_is_named_too() {
    let net = world().await;
    let findings = scan(net.addr(), net.trust_anchor(), "bogustlsa.test").await;
    let rrset = find(&findings, "dnssec.bogus-rrset", "bogustlsa.test");
    assert_eq!(rrset.outcome, Outcome::Fail, "{rrset:#?}");
    assert!(
        rrset.message.contains("_25._tcp.mx.bogustlsa.test TLSA"),
        "{}",
        rrset.message
    );
    assert!(!rrset.message.contains("bogustlsa.test MX"), "{}", rrset.message);
}

#[tokio::test]
async fn record_sets_that_validate_pass_and_a_bogus_zone_is_left_to_dnssec_bogus() {
    let net = world().await;
    let findings = scan(net.addr(), net.trust_anchor(), "example.test").await;
    assert_eq!(
        find(&findings, "dnssec.bogus-rrset", "example.test").outcome,
        Outcome::Pass
    );
    let findings = scan(net.addr(), net.trust_anchor(), "bogus.test").await;
    assert_eq!(find(&findings, "dnssec.bogus", "bogus.test").outcome, Outcome::Fail);
    assert_eq!(
        find(&findings, "dnssec.bogus-rrset", "bogus.test").outcome,
        Outcome::NotApplicable
    );
}

/// `mail.example.` CNAME `mx1.provider.`: the CNAME owner was taken for a
/// zone apex, the target's denial checked against the alias, and three
/// critical findings (`dnssec.bogus`, `dnssec.chain`, `mx.dnssec`) came
/// out, where a validating resolver answers secure.
#[tokio::test]
async fn an_mx_target_that_is_a_cname_into_another_signed_zone_is_no_dnssec_failure() {
    let net = world().await;
    let recursive = BrokenServer::recursive(net.addr()).await;
    let findings = scan(recursive.addr(), net.trust_anchor(), "example.test").await;
    for f in &findings {
        let dnssec_verdict = f.id.starts_with("dnssec.") || f.id == "mx.dnssec";
        assert!(
            !(dnssec_verdict && f.outcome == Outcome::Fail),
            "no DNSSEC failure expected: {f:#?}"
        );
    }
    assert_eq!(find(&findings, "dnssec.chain", "example.test").outcome, Outcome::Pass);
    assert_eq!(find(&findings, "dnssec.chain", "provider.test").outcome, Outcome::Pass);
    assert_eq!(find(&findings, "mx.dnssec", "mail.example.test").outcome, Outcome::Pass);
    assert!(
        !findings
            .iter()
            .any(|f| f.subject == "mail.example.test" && f.id == "dnssec.chain"),
        "the CNAME owner is no zone apex: {findings:#?}"
    );
}

/// A CNAME loop at `_dmarc` read as NODATA: `dmarc.missing` failed high.
#[tokio::test]
async fn a_cname_loop_at_dmarc_is_indeterminate_not_missing() {
    let net = world().await;
    let findings = scan(net.addr(), net.trust_anchor(), "loop.test").await;
    let missing = find(&findings, "dmarc.missing", "loop.test");
    assert_eq!(missing.outcome, Outcome::Indeterminate, "{missing:#?}");
    assert!(missing.message.contains("CNAME loop"), "{}", missing.message);
}

/// A resolver that strips DNSSEC records got the zone marked
/// `dnssec.bogus` critical, "every DNSKEY and DS record set above them
/// arrive intact". It is no verdict on the zone: indeterminate, saying
/// the resolver is not DNSSEC-aware.
#[tokio::test]
async fn a_resolver_that_strips_dnssec_makes_no_zone_bogus() {
    let net = world().await;
    let stripping = BrokenServer::stripping_dnssec(net.addr()).await;
    let findings = scan(stripping.addr(), net.trust_anchor(), "example.test").await;
    for f in &findings {
        assert!(
            !(f.id.starts_with("dnssec.") && f.outcome == Outcome::Fail),
            "no DNSSEC verdict through a resolver that strips DNSSEC: {f:#?}"
        );
    }
    let chain = find(&findings, "dnssec.chain", "example.test");
    assert_eq!(chain.outcome, Outcome::Indeterminate, "{chain:#?}");
    assert!(chain.message.contains("not DNSSEC-aware"), "{}", chain.message);
}

/// Records owned by another name than the question read as NODATA, so
/// `spf.missing`, `dmarc.missing` and `mx.present` failed.
#[tokio::test]
async fn an_answer_owned_by_another_name_makes_no_record_missing() {
    let server = BrokenServer::foreign_owner().await;
    let source = LiveSource::new(LiveConfig {
        resolvers: vec![server.addr()],
        timeout: Duration::from_millis(500),
        retries: 0,
        trust_anchor: TrustAnchor::Disabled,
        ..LiveConfig::default()
    })
    .unwrap();
    let findings = audit_without_probes(&source, "example.test", ScanOptions::default()).await;
    for id in ["spf.missing", "dmarc.missing", "mx.present"] {
        let f = find(&findings, id, "example.test");
        assert_eq!(f.outcome, Outcome::Indeterminate, "{f:#?}");
        assert!(f.message.contains("elsewhere.invalid"), "{id}: {}", f.message);
    }
}
