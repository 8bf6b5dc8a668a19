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
async fn ds_and_dnskey_come_as_presentation_text() {
    let net = world().await;
    let answer = ask(&validating(&net), "secure.test", RType::Ds).await;
    assert_eq!(answer.proof, Proof::Secure);
    let [RData::Other { rtype: 43, text }] = answer.records.as_slice() else {
        panic!("expected one DS record: {answer:?}");
    };
    let fields: Vec<&str> = text.split(' ').collect();
    assert_eq!(fields[1..3], ["15", "2"], "Ed25519, SHA-256: {text}");
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
