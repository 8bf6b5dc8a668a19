//! The reverse DNS of report sources through the store's cache, on SQLite
//! and on the PostgreSQL at MAILWARDEN_TEST_PG_URL when set: looked up
//! once, then read back within the TTL without asking again; `Cached`
//! never asks; `Off` reads nothing. The DNS is an in-process fake here (the
//! answers are the point); tests/real-peers covers Unbound/NSD.

#[path = "../../store/tests/common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use mailwarden_model::{Answer, BoxFuture, DnsSource, Proof, QueryKey, RData, RType, SourceInfo, Status};
use mailwarden_senders::rdns::{Names, Rdns, resolve};
use mailwarden_store::rdns_cache;

/// 192.0.2.1 confirms as mail.example.net; 192.0.2.2 has no PTR;
/// 192.0.2.3's PTR lookup fails (SERVFAIL); 192.0.2.4 points at a name
/// that resolves elsewhere.
#[derive(Default)]
struct Fake {
    asked: AtomicUsize,
}

impl DnsSource for Fake {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        self.asked.fetch_add(1, Ordering::SeqCst);
        let ptr = |t: &str| Answer::with_records(vec![RData::Ptr { target: t.into() }], Proof::NotValidated);
        let a = |ip: &str| {
            Answer::with_records(
                vec![RData::A {
                    address: ip.parse().unwrap(),
                }],
                Proof::NotValidated,
            )
        };
        let answer = match (key.name.as_str(), key.rtype) {
            ("1.2.0.192.in-addr.arpa", RType::Ptr) => ptr("mail.example.net."),
            ("mail.example.net", RType::A) => a("192.0.2.1"),
            ("3.2.0.192.in-addr.arpa", RType::Ptr) => Answer::empty(Status::ServFail, Proof::NotValidated),
            ("4.2.0.192.in-addr.arpa", RType::Ptr) => ptr("mail-x.google.com."),
            ("mail-x.google.com", RType::A) => a("203.0.113.1"),
            _ => Answer::empty(Status::NxDomain, Proof::NotValidated),
        };
        Box::pin(async move { answer })
    }

    fn describe(&self) -> SourceInfo {
        SourceInfo::default()
    }
}

fn ips() -> Vec<IpAddr> {
    ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect()
}

fn states(m: &BTreeMap<IpAddr, Rdns>) -> Vec<(String, String)> {
    m.iter().map(|(ip, r)| (ip.to_string(), r.label())).collect()
}

#[tokio::test]
async fn reverse_dns_is_looked_up_once_and_read_back_from_the_cache_within_the_ttl() {
    for db in common::stores().await {
        let store = &db.store;
        let dns = Fake::default();
        let lookup = Names::Lookup {
            dns: &dns,
            concurrency: 2,
        };
        assert!(resolve(store, &ips(), Names::Cached).await.unwrap().is_empty());
        let first = resolve(store, &ips(), lookup).await.unwrap();
        assert_eq!(
            states(&first),
            [
                ("192.0.2.1".into(), "mail.example.net".into()),
                ("192.0.2.2".into(), "no PTR".into()),
                ("192.0.2.3".into(), "PTR not known (SERVFAIL)".into()),
                ("192.0.2.4".into(), "unconfirmed PTR mail-x.google.com".into()),
            ],
            "{}",
            db.label
        );
        let asked = dns.asked.load(Ordering::SeqCst);
        assert_eq!(asked, 6, "{}: 4 PTR and 2 forward lookups", db.label);
        let again = resolve(store, &ips(), lookup).await.unwrap();
        assert_eq!(again, first, "{}", db.label);
        assert_eq!(
            dns.asked.load(Ordering::SeqCst),
            asked,
            "{}: nothing asked again",
            db.label
        );
        assert_eq!(resolve(store, &ips(), Names::Cached).await.unwrap(), first);
        assert!(resolve(store, &ips(), Names::Off).await.unwrap().is_empty());
    }
}

/// An answer older than its TTL is asked again, and the new one replaces it.
#[tokio::test]
async fn a_stale_cached_answer_is_asked_again() {
    for db in common::stores().await {
        let store = &db.store;
        rdns_cache::put(
            store,
            &[rdns_cache::Row {
                ip: "192.0.2.1".into(),
                state: "none".into(),
                names: String::new(),
                reason: None,
                looked_up_at: "2020-01-01T00:00:00.000Z".into(),
            }],
        )
        .await
        .unwrap();
        let one = vec!["192.0.2.1".parse().unwrap()];
        assert!(
            resolve(store, &one, Names::Cached).await.unwrap().is_empty(),
            "{}",
            db.label
        );
        let dns = Fake::default();
        let got = resolve(
            store,
            &one,
            Names::Lookup {
                dns: &dns,
                concurrency: 1,
            },
        )
        .await
        .unwrap();
        assert_eq!(got[&one[0]].confirmed(), Some("mail.example.net"), "{}", db.label);
        let rows = rdns_cache::get(store, &["192.0.2.1".into()]).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            (rows[0].state.as_str(), rows[0].names.as_str()),
            ("confirmed", "mail.example.net")
        );
    }
}
