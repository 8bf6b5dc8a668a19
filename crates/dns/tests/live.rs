//! `LiveSource` against in-process signed zones and misbehaving servers,
//! all on loopback.

use std::io::Write;
use std::time::{Duration, Instant};

use mailwarden_dns::DnsSource;
use mailwarden_dns::live::{LiveConfig, LiveError, LiveSource, TrustAnchor};
use mailwarden_model::{Answer, Proof, QueryKey, RData, RType, Status};
use mailwarden_test_support::{BrokenServer, TestDns};

/// A small signed tree: `.` → `test.` → secure / insecure / bogus / expired.
async fn world() -> TestDns {
    TestDns::builder()
        .signed_zone("test.")
        .signed_zone("secure.test.")
        .unsigned_zone("insecure.test.")
        .bogus_zone("bogus.test.")
        .expired_zone("expired.test.")
        .record("secure.test.", "MX 10 mx.secure.test.")
        .record("mx.secure.test.", "A 127.0.0.1")
        .record("secure.test.", r#"TXT "v=spf1 ip4:192.0.2.0/24" " -all""#)
        .record("www.secure.test.", "CNAME alias.secure.test.")
        .record("alias.secure.test.", "CNAME host.secure.test.")
        .record("host.secure.test.", "A 192.0.2.10")
        .record("insecure.test.", "MX 10 mx.insecure.test.")
        .record("bogus.test.", "MX 10 mx.bogus.test.")
        .record("expired.test.", "MX 10 mx.expired.test.")
        .start()
        .await
}

fn config(server: std::net::SocketAddr, trust_anchor: TrustAnchor) -> LiveConfig {
    LiveConfig {
        resolvers: vec![server],
        timeout: Duration::from_millis(500),
        retries: 1,
        trust_anchor,
        authoritative_port: 53,
        ..LiveConfig::default()
    }
}

fn validating(net: &TestDns) -> LiveSource {
    LiveSource::new(config(net.addr(), TrustAnchor::Text(net.trust_anchor()))).unwrap()
}

/// Short timeouts for servers that misbehave.
fn impatient(server: std::net::SocketAddr) -> LiveSource {
    let cfg = LiveConfig {
        timeout: Duration::from_millis(200),
        retries: 0,
        ..config(server, TrustAnchor::IanaRoot)
    };
    LiveSource::new(cfg).unwrap()
}

async fn ask(source: &LiveSource, name: &str, rtype: RType) -> Answer {
    source.query(&QueryKey::new(name, rtype)).await
}

fn mx(preference: u16, exchange: &str) -> RData {
    RData::Mx {
        preference,
        exchange: exchange.into(),
    }
}

#[tokio::test]
async fn signed_zone_answers_are_secure() {
    let net = world().await;
    let answer = ask(&validating(&net), "Secure.Test.", RType::Mx).await;
    assert_eq!(answer.status, Status::Records);
    assert_eq!(answer.records, vec![mx(10, "mx.secure.test")]);
    assert_eq!(answer.proof, Proof::Secure);
    assert_eq!(answer.ttl, Some(300));
    assert!(answer.cname_chain.is_empty());
    assert!(!answer.upstream_ad, "an authoritative server never sets AD");
}

#[tokio::test]
async fn delegation_without_ds_is_insecure() {
    let net = world().await;
    let answer = ask(&validating(&net), "insecure.test", RType::Mx).await;
    assert_eq!(answer.status, Status::Records);
    assert_eq!(answer.records, vec![mx(10, "mx.insecure.test")]);
    assert_eq!(answer.proof, Proof::Insecure);
}

#[tokio::test]
async fn ds_matching_no_key_is_bogus() {
    let net = world().await;
    let answer = ask(&validating(&net), "bogus.test", RType::Mx).await;
    assert!(matches!(answer.status, Status::Bogus(_)), "{answer:?}");
    assert_eq!(answer.proof, Proof::Bogus);
    assert!(answer.records.is_empty());
}

#[tokio::test]
async fn expired_signatures_are_bogus() {
    let net = world().await;
    let answer = ask(&validating(&net), "expired.test", RType::Mx).await;
    assert!(matches!(answer.status, Status::Bogus(_)), "{answer:?}");
    assert_eq!(answer.proof, Proof::Bogus);
}

#[tokio::test]
async fn nxdomain_carries_a_secure_denial() {
    let net = world().await;
    let answer = ask(&validating(&net), "nope.secure.test", RType::A).await;
    assert_eq!(answer.status, Status::NxDomain);
    assert_eq!(answer.proof, Proof::Secure);
    assert_eq!(answer.ttl, Some(300), "RFC 2308: min(SOA TTL, SOA MINIMUM)");
}

#[tokio::test]
async fn nodata_carries_a_secure_denial() {
    let net = world().await;
    let answer = ask(&validating(&net), "mx.secure.test", RType::Aaaa).await;
    assert_eq!(answer.status, Status::NoData);
    assert_eq!(answer.proof, Proof::Secure);
    assert!(answer.records.is_empty());
}

#[tokio::test]
async fn nodata_in_an_insecure_zone_is_insecure() {
    let net = world().await;
    let answer = ask(&validating(&net), "insecure.test", RType::Txt).await;
    assert_eq!(answer.status, Status::NoData);
    assert_eq!(answer.proof, Proof::Insecure);
}

#[tokio::test]
async fn servfail_is_a_failure_not_a_negative() {
    let server = BrokenServer::servfail().await;
    let answer = ask(&impatient(server.addr()), "example.test", RType::Mx).await;
    assert_eq!(answer, Answer::empty(Status::ServFail, Proof::Indeterminate));
}

#[tokio::test]
async fn refused_is_a_failure_not_a_negative() {
    let server = BrokenServer::refused().await;
    let answer = ask(&impatient(server.addr()), "example.test", RType::Mx).await;
    assert_eq!(answer, Answer::empty(Status::Refused, Proof::Indeterminate));
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = BrokenServer::silent().await;
    let started = Instant::now();
    let answer = ask(&impatient(server.addr()), "example.test", RType::Txt).await;
    assert_eq!(answer, Answer::empty(Status::Timeout, Proof::Indeterminate));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
}

/// hickory #3932/#3964: a DNSKEY fetch that times out is reported as
/// bogus. Through a path that drops DNSKEY queries the answer must be a
/// timeout, never "DNSSEC bogus".
#[tokio::test]
async fn lost_dnskey_queries_are_a_timeout_not_bogus() {
    let net = world().await;
    let lossy = BrokenServer::dropping(net.addr(), "DNSKEY").await;
    let cfg = LiveConfig {
        timeout: Duration::from_millis(300),
        retries: 0,
        ..config(lossy.addr(), TrustAnchor::Text(net.trust_anchor()))
    };
    let source = LiveSource::new(cfg).unwrap();
    let answer = ask(&source, "secure.test", RType::Mx).await;
    assert_eq!(answer, Answer::empty(Status::Timeout, Proof::Indeterminate));
}

#[tokio::test]
async fn txt_character_strings_are_kept_apart() {
    let net = world().await;
    let answer = ask(&validating(&net), "secure.test", RType::Txt).await;
    assert_eq!(
        answer.records,
        vec![RData::Txt {
            strings: vec!["v=spf1 ip4:192.0.2.0/24".into(), " -all".into()]
        }]
    );
    assert_eq!(answer.proof, Proof::Secure);
}

#[tokio::test]
async fn cname_chain_is_recorded() {
    let net = world().await;
    let answer = ask(&validating(&net), "www.secure.test", RType::A).await;
    assert_eq!(answer.status, Status::Records);
    assert_eq!(
        answer.records,
        vec![RData::A {
            address: "192.0.2.10".parse().unwrap()
        }]
    );
    assert_eq!(answer.cname_chain, vec!["alias.secure.test", "host.secure.test"]);
    assert_eq!(answer.proof, Proof::Secure);
}

#[tokio::test]
async fn ds_comes_typed_from_the_wire() {
    let net = world().await;
    let answer = ask(&validating(&net), "secure.test", RType::Ds).await;
    assert_eq!(answer.proof, Proof::Secure);
    let [RData::Ds(ds)] = answer.records.as_slice() else {
        panic!("expected one DS record: {answer:?}");
    };
    assert_eq!((ds.algorithm, ds.digest_type), (15, 2), "Ed25519, SHA-256: {ds:?}");
    assert_eq!(ds.digest.len(), 32);
}

fn anchor_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}

#[tokio::test]
async fn ds_trust_anchor_file_validates() {
    let net = world().await;
    let file = anchor_file(&format!("; test root\n$TTL 3600\n{}\n", net.root_ds()));
    let source = LiveSource::new(config(net.addr(), TrustAnchor::File(file.path().into()))).unwrap();
    source.prepare().await.unwrap();
    let answer = ask(&source, "secure.test", RType::Mx).await;
    assert_eq!(answer.status, Status::Records);
    assert_eq!(answer.proof, Proof::Secure);
}

#[tokio::test]
async fn ds_matching_no_served_key_is_a_clear_error() {
    let net = world().await;
    let ds = net.root_ds();
    let last = if ds.ends_with('0') { '1' } else { '0' };
    let wrong = format!("{}{last}", &ds[..ds.len() - 1]);
    let file = anchor_file(&format!("; wrong digest\n{wrong}\n"));
    let source = LiveSource::new(config(net.addr(), TrustAnchor::File(file.path().into()))).unwrap();

    let err = source.prepare().await.unwrap_err();
    assert!(matches!(err, LiveError::DsMatchesNothing { line: 2, .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.starts_with(&format!("trust anchor file {}: line 2: ", file.path().display())),
        "{message}"
    );
    assert!(
        message.contains("matches none of the 1 DNSKEY records served for ."),
        "{message}"
    );

    // Queries say why they cannot be validated instead of guessing.
    let answer = ask(&source, "secure.test", RType::Mx).await;
    assert!(
        matches!(&answer.status, Status::Error(why) if why.contains("matches none")),
        "{answer:?}"
    );
    assert_eq!(answer.proof, Proof::Indeterminate);
}

#[tokio::test]
async fn bad_trust_anchor_file_names_file_and_line() {
    let file = anchor_file("; anchors\n$TTL 3600\n. IN A 192.0.2.1\n");
    let err = LiveSource::new(config(
        "127.0.0.1:53".parse().unwrap(),
        TrustAnchor::File(file.path().into()),
    ))
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "trust anchor file {}: line 3: expected DNSKEY or DS, found \"A\"",
            file.path().display()
        )
    );
}

#[tokio::test]
async fn disabled_validation_is_not_validated() {
    let net = world().await;
    let source = LiveSource::new(config(net.addr(), TrustAnchor::Disabled)).unwrap();
    let answer = ask(&source, "bogus.test", RType::Mx).await;
    assert_eq!(
        answer.status,
        Status::Records,
        "without validation a bogus zone answers"
    );
    assert_eq!(answer.proof, Proof::NotValidated);
    let negative = ask(&source, "nope.secure.test", RType::A).await;
    assert_eq!(negative.status, Status::NxDomain);
    assert_eq!(negative.proof, Proof::NotValidated);
    assert!(!source.describe().dnssec_validation);
}

#[tokio::test]
async fn describe_names_backend_and_resolvers() {
    let net = world().await;
    let info = validating(&net).describe();
    assert_eq!(info.backend, "live");
    assert_eq!(info.resolvers, vec![net.addr().to_string()]);
    assert!(info.dnssec_validation);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_queries_all_answer() {
    let net = world().await;
    let source = validating(&net);
    let keys: Vec<QueryKey> = (0..1000)
        .map(|i| match i % 3 {
            0 => QueryKey::new("secure.test", RType::Mx),
            1 => QueryKey::new(&format!("n{i}.secure.test"), RType::A),
            _ => QueryKey::new("host.secure.test", RType::A),
        })
        .collect();
    let answers = futures::future::join_all(keys.iter().map(|k| source.query(k))).await;
    for (key, answer) in keys.iter().zip(&answers) {
        assert!(answer.status.is_definite(), "{key}: {answer:?}");
        assert_eq!(answer.proof, Proof::Secure, "{key}: {answer:?}");
    }
}

/// A chain of `links` CNAMEs under secure.test: c0 → c1 → … → c<links>,
/// the last with a TXT record.
fn with_chain(
    mut builder: mailwarden_test_support::TestDnsBuilder,
    links: usize,
) -> mailwarden_test_support::TestDnsBuilder {
    for i in 0..links {
        builder = builder.record(&format!("c{i}.secure.test."), &format!("CNAME c{}.secure.test.", i + 1));
    }
    builder.record(&format!("c{links}.secure.test."), "TXT \"v=DMARC1; p=reject\"")
}

fn signed_tree() -> mailwarden_test_support::TestDnsBuilder {
    TestDns::builder().signed_zone("test.").signed_zone("secure.test.")
}

/// hickory's caching client stopped after 8 links and answered NODATA, so
/// a long chain at `_dmarc` read as "no DMARC record" (`dmarc.missing`).
#[tokio::test]
async fn cname_chain_over_16_links_is_indeterminate_not_nodata() {
    let net = with_chain(signed_tree(), 17).start().await;
    let answer = ask(&validating(&net), "c0.secure.test", RType::Txt).await;
    let Status::Error(why) = &answer.status else {
        panic!("a chain over 16 links is a failure to look: {answer:?}");
    };
    assert!(
        why.contains("a CNAME chain longer than 16 links: c0.secure.test → c1.secure.test"),
        "{why}"
    );
    assert_eq!(answer.proof, Proof::Indeterminate);
}

#[tokio::test]
async fn a_cname_chain_of_16_links_is_followed_and_secure() {
    let net = with_chain(signed_tree(), 16).start().await;
    let answer = ask(&validating(&net), "c0.secure.test", RType::Txt).await;
    assert_eq!(answer.status, Status::Records, "{answer:?}");
    assert_eq!(answer.cname_chain.len(), 16);
    assert_eq!(answer.proof, Proof::Secure);
}

#[tokio::test]
async fn cname_loop_is_indeterminate_not_nodata() {
    let net = signed_tree()
        .record("loop1.secure.test.", "CNAME loop2.secure.test.")
        .record("loop2.secure.test.", "CNAME loop1.secure.test.")
        .start()
        .await;
    for source in [validating(&net), unvalidated(&net)] {
        let answer = ask(&source, "loop1.secure.test", RType::Mx).await;
        let Status::Error(why) = &answer.status else {
            panic!("a CNAME loop is a failure to look: {answer:?}");
        };
        assert_eq!(
            why,
            "a CNAME loop: loop1.secure.test → loop2.secure.test → loop1.secure.test"
        );
    }
}

fn unvalidated(net: &TestDns) -> LiveSource {
    LiveSource::new(config(net.addr(), TrustAnchor::Disabled)).unwrap()
}

/// An answer of records owned by another name read as NODATA, so
/// `spf.missing`, `dmarc.missing` and `mx.present` failed.
#[tokio::test]
async fn records_owned_by_another_name_are_indeterminate_not_nodata() {
    let server = BrokenServer::foreign_owner().await;
    let source = LiveSource::new(config(server.addr(), TrustAnchor::Disabled)).unwrap();
    for rtype in [RType::Txt, RType::Mx] {
        let answer = ask(&source, "example.test", rtype).await;
        let Status::Error(why) = &answer.status else {
            panic!("a foreign-owner answer is a failure to look: {answer:?}");
        };
        assert!(why.contains("none owned by example.test (the name asked)"), "{why}");
        assert!(why.contains("elsewhere.invalid"), "{why}");
    }
}

/// A resolver that strips RRSIGs (and has no DNSKEY for the root) made
/// every answer "bogus", which the DNSSEC judge reported as critical with
/// the claim that every DNSKEY and DS arrived intact.
#[tokio::test]
async fn a_resolver_that_strips_dnssec_is_not_dnssec_aware_not_bogus() {
    let net = world().await;
    let stripping = BrokenServer::stripping_dnssec(net.addr()).await;
    let source = LiveSource::new(config(stripping.addr(), TrustAnchor::Text(net.trust_anchor()))).unwrap();
    for (name, rtype) in [
        ("secure.test", RType::Mx),
        ("secure.test", RType::Soa),
        ("nothing.secure.test", RType::Txt),
    ] {
        let answer = ask(&source, name, rtype).await;
        let Status::Error(why) = &answer.status else {
            panic!("{name}/{rtype}: not bogus, not a verdict: {answer:?}");
        };
        assert!(why.starts_with("the resolver is not DNSSEC-aware"), "{why}");
        assert_eq!(answer.proof, Proof::Indeterminate);
    }
}

/// hickory turns NODATA and NXDOMAIN into errors without the header, so
/// the AD bit of a validating upstream's denial was lost.
#[tokio::test]
async fn negative_answers_from_a_validating_upstream_carry_the_ad_bit() {
    let net = world().await;
    let upstream = BrokenServer::setting_ad(net.addr()).await;
    for source in [
        LiveSource::new(config(upstream.addr(), TrustAnchor::Text(net.trust_anchor()))).unwrap(),
        LiveSource::new(config(upstream.addr(), TrustAnchor::Disabled)).unwrap(),
    ] {
        let nodata = ask(&source, "secure.test", RType::Aaaa).await;
        assert_eq!(nodata.status, Status::NoData, "{nodata:?}");
        assert!(nodata.upstream_ad, "NODATA: {nodata:?}");
        let nxdomain = ask(&source, "nothing.secure.test", RType::Txt).await;
        assert_eq!(nxdomain.status, Status::NxDomain, "{nxdomain:?}");
        assert!(nxdomain.upstream_ad, "NXDOMAIN: {nxdomain:?}");
    }
    let direct = ask(&validating(&net), "secure.test", RType::Aaaa).await;
    assert!(!direct.upstream_ad, "an authoritative server never sets AD: {direct:?}");
}

/// Through a resolver that follows CNAMEs into another zone, the answer is
/// the CNAME (signed by its own zone) and the target's records or denial
/// (signed by the other): hickory checked such a denial against the alias
/// and called it bogus.
#[tokio::test]
async fn a_cname_into_another_signed_zone_validates_through_a_recursive_resolver() {
    let net = TestDns::builder()
        .signed_zone("test.")
        .signed_zone("example.test.")
        .record("mail.example.test.", "CNAME mx1.provider.test.")
        .signed_zone("provider.test.")
        .record("mx1.provider.test.", "A 127.0.0.1")
        .start()
        .await;
    let recursive = BrokenServer::recursive(net.addr()).await;
    let source = LiveSource::new(config(recursive.addr(), TrustAnchor::Text(net.trust_anchor()))).unwrap();
    let a = ask(&source, "mail.example.test", RType::A).await;
    assert_eq!((&a.status, a.proof), (&Status::Records, Proof::Secure), "{a:?}");
    assert_eq!(a.cname_chain, vec!["mx1.provider.test"]);
    assert!(
        a.signatures
            .iter()
            .any(|s| s.signer == "example.test" && s.type_covered == 5),
        "the CNAME's own RRSIG is kept: {a:?}"
    );
    for rtype in [RType::Aaaa, RType::Soa] {
        let denial = ask(&source, "mail.example.test", rtype).await;
        assert_eq!(
            (&denial.status, denial.proof),
            (&Status::NoData, Proof::Secure),
            "{rtype}: {denial:?}"
        );
        assert_eq!(denial.cname_chain, vec!["mx1.provider.test"]);
    }
}

/// hickory 0.26's validator wants an NSEC covering `*.` + the closest
/// encloser for every wildcard answer; one label below the wildcard that
/// is the wildcard itself, which exists, so every answer synthesised
/// there was bogus (Unbound answers it secure). Names deeper down
/// validated all along. RFC 4035 §5.3.4 asks only that no closer match
/// exist: an NSEC covering the next-closer name.
#[tokio::test]
async fn an_answer_synthesised_from_a_wildcard_one_label_down_is_secure_not_bogus() {
    let net = TestDns::builder()
        .signed_zone("test.")
        .signed_zone("example.test.")
        .record("*.example.test.", "MX 10 mx1.example.test.")
        .record("*.example.test.", "TXT \"v=spf1 -all\"")
        .record("mx1.example.test.", "A 127.0.0.1")
        .start()
        .await;
    let source = validating(&net);
    for (name, rtype) in [
        ("anything.example.test", RType::Mx),
        ("anything.example.test", RType::Txt),
        ("_dmarc.anything.example.test", RType::Txt),
    ] {
        let a = ask(&source, name, rtype).await;
        assert_eq!(
            (&a.status, a.proof),
            (&Status::Records, Proof::Secure),
            "{name} {rtype}: {a:?}"
        );
    }
}

/// The wildcard proof stays strict: the same answer with its RRSIG
/// corrupted is bogus, not rescued by the NSEC beside it.
#[tokio::test]
async fn an_answer_synthesised_from_a_wildcard_with_a_corrupt_rrsig_stays_bogus() {
    let net = TestDns::builder()
        .signed_zone("test.")
        .signed_zone("example.test.")
        .record("*.example.test.", "TXT \"v=spf1 -all\"")
        .record("mx1.example.test.", "A 127.0.0.1")
        .corrupt_rrsig("*.example.test.", "TXT")
        .start()
        .await;
    let a = ask(&validating(&net), "anything.example.test", RType::Txt).await;
    assert!(matches!(a.status, Status::Bogus(_)), "{a:?}");
}
