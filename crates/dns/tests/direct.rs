//! Server-directed questions (`QueryKey::at`): each asked straight to one
//! authoritative server on loopback, recursion off, the AA bit kept.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use futures::future::BoxFuture;
use mailwarden_dns::live::{DirectGuard, LiveConfig, LiveSource, TrustAnchor};
use mailwarden_dns::zonefile::ZoneFileSource;
use mailwarden_dns::{DnsSource, SharedCache};
use mailwarden_model::{Answer, Proof, QueryKey, RData, RType, SourceInfo, Status};
use mailwarden_test_support::{MultiServer, NsServer};

/// The test servers are on loopback: allow it (the guard is tested on its own).
const LOOPBACK_ALLOWED: DirectGuard = DirectGuard {
    allow_private: true,
    max_targets: DirectGuard::DEFAULT_MAX_TARGETS,
};

/// ns1: authoritative; ns2: authoritative with another MX and serial;
/// ns3: silent; ns4: answers without AA; ns5: sends referrals.
async fn servers() -> MultiServer {
    MultiServer::builder("example.test.")
        .record("example.test.", "MX 10 mx.example.test.")
        .record("example.test.", "TXT \"v=spf1 -all\"")
        .record("mx.example.test.", "A 192.0.2.25")
        .server(NsServer::authoritative().serial(7))
        .server(
            NsServer::authoritative()
                .serial(8)
                .replace("example.test.", "MX 20 other.example.test."),
        )
        .server(NsServer::silent())
        .server(NsServer::not_authoritative())
        .server(NsServer::referral())
        .start()
        .await
}

fn source(net: &MultiServer) -> LiveSource {
    LiveSource::new(LiveConfig {
        resolvers: vec![net.resolver()],
        timeout: Duration::from_millis(300),
        retries: 1,
        trust_anchor: TrustAnchor::Disabled,
        authoritative_port: net.port(),
        direct_guard: LOOPBACK_ALLOWED,
    })
    .unwrap()
}

async fn ask_at(source: &impl DnsSource, server: IpAddr, name: &str, rtype: RType) -> Answer {
    source.query(&QueryKey::at(server, name, rtype)).await
}

#[tokio::test]
async fn each_server_answers_for_itself_with_the_aa_bit() {
    let net = servers().await;
    let live = source(&net);
    let one = ask_at(&live, net.ip(0), "example.test", RType::Mx).await;
    assert_eq!(one.status, Status::Records);
    assert!(one.authoritative);
    assert_eq!(one.proof, Proof::NotValidated);
    assert_eq!(
        one.records,
        vec![RData::Mx {
            preference: 10,
            exchange: "mx.example.test".into()
        }]
    );
    let two = ask_at(&live, net.ip(1), "example.test", RType::Mx).await;
    assert_eq!(
        two.records,
        vec![RData::Mx {
            preference: 20,
            exchange: "other.example.test".into()
        }]
    );
    let soa = ask_at(&live, net.ip(1), "example.test", RType::Soa).await;
    assert!(matches!(soa.records[..], [RData::Soa { serial: 8, .. }]), "{soa:?}");
    // The resolver path is unchanged: it asks ns1.
    let resolved = live.query(&QueryKey::new("example.test", RType::Mx)).await;
    assert_eq!(resolved.records, one.records);
    assert!(!resolved.authoritative);
}

#[tokio::test]
async fn negative_answers_are_data() {
    let net = servers().await;
    let live = source(&net);
    let nx = ask_at(&live, net.ip(0), "_dmarc.example.test", RType::Txt).await;
    assert_eq!(nx.status, Status::NxDomain);
    assert!(nx.authoritative);
    assert_eq!(nx.ttl, Some(300));
    let nodata = ask_at(&live, net.ip(0), "mx.example.test", RType::Txt).await;
    assert_eq!(nodata.status, Status::NoData);
    assert!(nodata.authoritative);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let net = servers().await;
    let live = source(&net);
    let answer = ask_at(&live, net.ip(2), "example.test", RType::Soa).await;
    assert_eq!(answer, Answer::empty(Status::Timeout, Proof::Indeterminate));
}

#[tokio::test]
async fn an_answer_without_aa_and_a_referral_are_not_authoritative() {
    let net = servers().await;
    let live = source(&net);
    let relayed = ask_at(&live, net.ip(3), "example.test", RType::Mx).await;
    assert_eq!(relayed.status, Status::Records);
    assert!(!relayed.authoritative);

    let referral = ask_at(&live, net.ip(4), "example.test", RType::Mx).await;
    let Status::Referral { servers, .. } = &referral.status else {
        panic!("{referral:?}")
    };
    assert!(servers.iter().any(|s| s == "ns1.example.test"), "{servers:?}");
    assert!(!referral.authoritative);
    assert_eq!(referral.proof, Proof::Indeterminate);
}

fn guarded(net: &MultiServer, direct_guard: DirectGuard) -> LiveSource {
    LiveSource::new(LiveConfig {
        resolvers: vec![net.resolver()],
        timeout: Duration::from_millis(300),
        retries: 0,
        trust_anchor: TrustAnchor::Disabled,
        authoritative_port: net.port(),
        direct_guard,
    })
    .unwrap()
}

#[tokio::test]
async fn direct_queries_to_loopback_are_refused_by_the_egress_guard_without_allow_private() {
    let net = servers().await;
    let live = guarded(&net, DirectGuard::default());
    let answer = ask_at(&live, net.ip(0), "example.test", RType::Soa).await;
    let Status::EgressRefused(why) = &answer.status else {
        panic!("{answer:?}")
    };
    assert!(why.starts_with("127.0.0.2 is loopback"), "{why}");
    assert!(why.contains("--allow-private-targets"), "{why}");
    assert_eq!(answer.proof, Proof::Indeterminate);
    // The configured resolver is the operator's choice: never guarded.
    let resolved = live.query(&QueryKey::new("example.test", RType::Mx)).await;
    assert_eq!(resolved.status, Status::Records);
}

#[tokio::test]
async fn the_run_wide_cap_on_direct_query_targets_refuses_new_servers_but_not_known_ones() {
    let net = servers().await;
    let live = guarded(
        &net,
        DirectGuard {
            allow_private: true,
            max_targets: 1,
        },
    );
    assert_eq!(
        ask_at(&live, net.ip(0), "example.test", RType::Soa).await.status,
        Status::Records
    );
    let second = ask_at(&live, net.ip(1), "example.test", RType::Soa).await;
    let Status::EgressRefused(why) = &second.status else {
        panic!("{second:?}")
    };
    assert!(why.contains("--max-direct-targets-per-run"), "{why}");
    assert_eq!(
        ask_at(&live, net.ip(0), "example.test", RType::Mx).await.status,
        Status::Records
    );
}

#[tokio::test]
async fn a_referral_asked_for_the_delegated_names_ns_is_the_delegation() {
    let net = servers().await;
    let live = source(&net);
    let answer = ask_at(&live, net.ip(4), "example.test", RType::Ns).await;
    assert_eq!(answer.status, Status::Records, "{answer:?}");
    assert!(!answer.authoritative);
    assert_eq!(answer.records.len(), 5, "{answer:?}");
    assert!(answer.records.contains(&RData::Ns {
        target: "ns1.example.test".into()
    }));
}

#[tokio::test]
async fn nothing_listens_on_the_port_is_a_timeout() {
    let net = servers().await;
    let live = LiveSource::new(LiveConfig {
        resolvers: vec![net.resolver()],
        timeout: Duration::from_millis(200),
        retries: 0,
        trust_anchor: TrustAnchor::Disabled,
        authoritative_port: net.port(),
        direct_guard: LOOPBACK_ALLOWED,
    })
    .unwrap();
    // 127.0.0.200 has no server on this port.
    let answer = ask_at(&live, "127.0.0.200".parse().unwrap(), "example.test", RType::Soa).await;
    assert!(
        matches!(answer.status, Status::Timeout | Status::Error(_)),
        "{answer:?}"
    );
    assert!(!answer.status.is_definite());
}

#[test]
fn zone_files_have_no_servers_to_ask() {
    let zone = ZoneFileSource::from_str(
        "$ORIGIN example.test.\n@ 300 IN SOA ns1 h 1 3600 600 86400 300\n@ 300 IN NS ns1\n@ 300 IN MX 10 mx\n",
        None,
        "test",
    )
    .unwrap();
    let key = QueryKey::at("127.0.0.2".parse().unwrap(), "example.test", RType::Mx);
    assert_eq!(
        zone.answer(&key),
        Answer::empty(
            Status::Error("zone files have no servers to ask".into()),
            Proof::Indeterminate
        )
    );
    // The same question without a server is answered.
    assert_eq!(
        zone.answer(&QueryKey::new("example.test", RType::Mx)).status,
        Status::Records
    );
}

/// Answers with the server's last octet as the MX preference; counts asks.
#[derive(Default)]
struct PerServer {
    asked: Mutex<BTreeMap<QueryKey, usize>>,
}

impl DnsSource for PerServer {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        *self.asked.lock().unwrap().entry(key.clone()).or_default() += 1;
        let preference = match key.server {
            Some(IpAddr::V4(ip)) => u16::from(ip.octets()[3]),
            _ => 0,
        };
        let answer = Answer::with_records(
            vec![RData::Mx {
                preference,
                exchange: "mx.example.test".into(),
            }],
            Proof::NotValidated,
        );
        Box::pin(std::future::ready(answer))
    }

    fn describe(&self) -> SourceInfo {
        SourceInfo::default()
    }
}

#[tokio::test]
async fn the_shared_cache_keeps_each_servers_answer_apart() {
    let cache = SharedCache::new(PerServer::default(), 100);
    let keys = [
        QueryKey::new("example.test", RType::Mx),
        QueryKey::at("127.0.0.2".parse().unwrap(), "example.test", RType::Mx),
        QueryKey::at("127.0.0.3".parse().unwrap(), "example.test", RType::Mx),
    ];
    for _ in 0..2 {
        for (key, preference) in keys.iter().zip([0u16, 2, 3]) {
            let answer = cache.query(key).await;
            assert!(
                matches!(answer.records[..], [RData::Mx { preference: p, .. }] if p == preference),
                "{key}: {answer:?}"
            );
        }
    }
    let asked = cache.inner().asked.lock().unwrap();
    assert_eq!(asked.len(), 3);
    assert!(asked.values().all(|n| *n == 1), "{asked:?}");
}
