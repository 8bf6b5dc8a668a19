//! A bounded answer cache shared by every domain of a run.
//!
//! Concurrent askers of the same question wait for one query (in-flight
//! de-duplication). The capacity bounds memory, so a run over millions of
//! domains does not grow with the input. Failures are not cached: a
//! timeout for one domain must not become a timeout for the next.
//!
//! NXDOMAIN cut (RFC 8020 §2): "When an iterative caching DNS resolver
//! receives an NXDOMAIN response, it SHOULD store it in its cache and then
//! all names and resource record sets (RRsets) at or below that node SHOULD
//! be considered unreachable. Subsequent queries for such names SHOULD
//! elicit an NXDOMAIN response." A question at or below a name the
//! resolver denied is answered from that denial without asking. Only with
//! the section's two caveats applied:
//! - "a validating resolver MAY decide to implement the "NXDOMAIN cut"
//!   behavior ... only when the NXDOMAIN response has been validated with
//!   DNSSEC": only a `secure` denial cuts (an unsigned NXDOMAIN may come
//!   from old software that answers NXDOMAIN for empty non-terminals, and a
//!   false "does not exist" would be a false finding);
//! - "if there is a chain of CNAME (or DNAME), the name that does not exist
//!   is the last of the chain ... and not the QNAME": an NXDOMAIN reached
//!   through a CNAME cuts nothing.
//!
//! Questions sent directly to one authoritative server are never cut: they
//! exist to compare what each server says. Reusing a signed zone's NSEC
//! records to deny other names (RFC 8198) is done below this cache, by the
//! live source that still holds them (`live::aggressive`): answers here
//! carry only the denial's verdict.

use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use mailwarden_model::{Answer, Proof, QueryKey, SourceInfo, Status};
use quick_cache::sync::Cache;

use crate::DnsSource;

/// Questions answered from an NXDOMAIN cut by every cache of this process
/// (what `monitor run --timings` reports).
static BELOW_CUTS: AtomicU64 = AtomicU64::new(0);

/// How many questions every [`SharedCache`] of this process answered from
/// an NXDOMAIN cut instead of asking.
pub fn answered_below_cuts_in_process() -> u64 {
    BELOW_CUTS.load(Ordering::Relaxed)
}

/// Wraps a source with a shared, bounded cache.
pub struct SharedCache<S> {
    inner: S,
    cache: Cache<QueryKey, Answer>,
    /// Names a validated NXDOMAIN denied, with that answer (RFC 8020).
    cuts: Cache<String, Answer>,
    /// Questions answered from `cuts` without asking.
    below_cuts: AtomicU64,
}

impl<S: DnsSource> SharedCache<S> {
    /// `capacity` is the number of answers kept (least recently used go
    /// first); as many denied names are kept for the NXDOMAIN cut.
    pub fn new(inner: S, capacity: usize) -> Self {
        Self {
            inner,
            cache: Cache::new(capacity.max(1)),
            cuts: Cache::new(capacity.max(1)),
            below_cuts: AtomicU64::new(0),
        }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// How many questions were answered from an NXDOMAIN cut, not asked.
    pub fn answered_below_cuts(&self) -> u64 {
        self.below_cuts.load(Ordering::Relaxed)
    }

    /// The denial of `key`'s name or of one of its ancestors, if one is
    /// held. Names with an escaped character are never cut: a `\.` inside
    /// a label would split it into labels that are not its ancestors.
    fn below_cut(&self, key: &QueryKey) -> Option<Answer> {
        if key.server.is_some() || self.cuts.is_empty() || key.name.contains('\\') {
            return None;
        }
        let mut name = key.name.as_str();
        loop {
            if let Some(denial) = self.cuts.get(name) {
                self.below_cuts.fetch_add(1, Ordering::Relaxed);
                BELOW_CUTS.fetch_add(1, Ordering::Relaxed);
                return Some(denial);
            }
            name = name.split_once('.')?.1;
        }
    }
}

/// Whether `answer` to `key` denies the whole subtree at `key`'s name.
fn is_cut(key: &QueryKey, answer: &Answer) -> bool {
    key.server.is_none()
        && answer.status == Status::NxDomain
        && answer.proof == Proof::Secure
        && answer.cname_chain.is_empty()
        && !key.name.is_empty()
}

impl<S: DnsSource> DnsSource for SharedCache<S> {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            if let Some(denial) = self.below_cut(key) {
                return denial;
            }
            match self.cache.get_value_or_guard_async(key).await {
                Ok(answer) => answer,
                Err(guard) => {
                    let answer = self.inner.query(key).await;
                    if answer.status.is_definite() {
                        let _ = guard.insert(answer.clone());
                    }
                    if is_cut(key, &answer) {
                        self.cuts.insert(key.name.clone(), answer.clone());
                    }
                    // A dropped guard lets the next waiter ask again.
                    answer
                }
            }
        })
    }

    fn describe(&self) -> SourceInfo {
        self.inner.describe()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use mailwarden_model::{Proof, RType, Status};

    use super::*;

    struct Counting {
        calls: AtomicUsize,
        status: Status,
    }

    impl DnsSource for Counting {
        fn query<'a>(&'a self, _key: &'a QueryKey) -> BoxFuture<'a, Answer> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let status = self.status.clone();
            Box::pin(async move { Answer::empty(status, Proof::NotValidated) })
        }
        fn describe(&self) -> SourceInfo {
            SourceInfo::default()
        }
    }

    #[tokio::test]
    async fn definite_answers_are_asked_once() {
        let cache = SharedCache::new(
            Counting {
                calls: AtomicUsize::new(0),
                status: Status::NxDomain,
            },
            16,
        );
        let key = QueryKey::new("x.test", RType::A);
        for _ in 0..3 {
            assert_eq!(cache.query(&key).await.status, Status::NxDomain);
        }
        assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let cache = SharedCache::new(
            Counting {
                calls: AtomicUsize::new(0),
                status: Status::Timeout,
            },
            16,
        );
        let key = QueryKey::new("x.test", RType::A);
        cache.query(&key).await;
        cache.query(&key).await;
        assert_eq!(cache.inner().calls.load(Ordering::SeqCst), 2);
    }

    /// Answers one fixed answer for one name (and names under it, the way
    /// a real server would for NXDOMAIN), records for everything else; logs
    /// every question it is asked.
    struct Zone {
        name: &'static str,
        answer: Answer,
        asked: Mutex<Vec<String>>,
    }

    impl Zone {
        fn denying(name: &'static str, answer: Answer) -> SharedCache<Zone> {
            let zone = Zone {
                name,
                answer,
                asked: Mutex::new(Vec::new()),
            };
            SharedCache::new(zone, 64)
        }

        fn asked(&self) -> Vec<String> {
            self.asked.lock().unwrap().clone()
        }
    }

    impl DnsSource for Zone {
        fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
            self.asked.lock().unwrap().push(key.to_string());
            let below = key.name == self.name || key.name.ends_with(&format!(".{}", self.name));
            let answer = if below && self.answer.status == Status::NxDomain || key.name == self.name {
                self.answer.clone()
            } else {
                Answer::empty(Status::Records, Proof::Secure)
            };
            Box::pin(async move { answer })
        }
        fn describe(&self) -> SourceInfo {
            SourceInfo::default()
        }
    }

    fn denial(proof: Proof) -> Answer {
        Answer {
            ttl: Some(300),
            ..Answer::empty(Status::NxDomain, proof)
        }
    }

    #[tokio::test]
    async fn a_name_under_a_validated_nxdomain_is_answered_from_the_cut_not_asked() {
        let cache = Zone::denying("gone.test", denial(Proof::Secure));
        cache.query(&QueryKey::new("gone.test", RType::Mx)).await;
        for (name, rtype) in [
            ("gone.test", RType::A),
            ("mx.gone.test", RType::A),
            ("_25._tcp.mx.gone.test", RType::Tlsa),
        ] {
            let answer = cache.query(&QueryKey::new(name, rtype)).await;
            assert_eq!(answer, denial(Proof::Secure), "{name} {rtype}");
        }
        assert_eq!(cache.inner().asked(), ["gone.test/MX"]);
        assert_eq!(cache.answered_below_cuts(), 3);
        // A sibling and the parent are no part of the cut.
        cache.query(&QueryKey::new("here.test", RType::A)).await;
        cache.query(&QueryKey::new("test", RType::Soa)).await;
        assert_eq!(cache.inner().asked(), ["gone.test/MX", "here.test/A", "test/SOA"]);
    }

    #[tokio::test]
    async fn a_name_under_a_nodata_is_still_asked() {
        let cache = Zone::denying("_domainkey.x.test", Answer::empty(Status::NoData, Proof::Secure));
        cache.query(&QueryKey::new("_domainkey.x.test", RType::Txt)).await;
        cache.query(&QueryKey::new("sel._domainkey.x.test", RType::Txt)).await;
        assert_eq!(
            cache.inner().asked(),
            ["_domainkey.x.test/TXT", "sel._domainkey.x.test/TXT"]
        );
        assert_eq!(cache.answered_below_cuts(), 0);
    }

    #[tokio::test]
    async fn an_unvalidated_nxdomain_cuts_nothing() {
        // RFC 8020 §2 lets a validating resolver cut only on validated denials;
        // old servers answer NXDOMAIN for empty non-terminals.
        for proof in [Proof::Insecure, Proof::NotValidated, Proof::Indeterminate] {
            let cache = Zone::denying("gone.test", denial(proof));
            cache.query(&QueryKey::new("gone.test", RType::A)).await;
            cache.query(&QueryKey::new("mx.gone.test", RType::A)).await;
            assert_eq!(cache.inner().asked(), ["gone.test/A", "mx.gone.test/A"], "{proof:?}");
        }
    }

    #[tokio::test]
    async fn an_nxdomain_at_the_end_of_a_cname_chain_does_not_cut_the_qname() {
        // RFC 8020 §2: "the name that does not exist is the last of the chain
        // ([RFC6604]) and not the QNAME".
        let aliased = Answer {
            cname_chain: vec!["alias.test".into(), "gone.example".into()],
            ..denial(Proof::Secure)
        };
        let cache = Zone::denying("alias.test", aliased);
        cache.query(&QueryKey::new("alias.test", RType::A)).await;
        cache.query(&QueryKey::new("www.alias.test", RType::A)).await;
        assert_eq!(cache.inner().asked(), ["alias.test/A", "www.alias.test/A"]);
    }

    #[tokio::test]
    async fn questions_to_one_server_are_neither_cut_nor_cutting() {
        let server = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let cache = Zone::denying("gone.test", denial(Proof::Secure));
        cache.query(&QueryKey::at(server, "gone.test", RType::Ns)).await;
        cache.query(&QueryKey::new("mx.gone.test", RType::A)).await;
        cache.query(&QueryKey::new("gone.test", RType::A)).await;
        cache.query(&QueryKey::at(server, "a.gone.test", RType::Ns)).await;
        assert_eq!(
            cache.inner().asked(),
            [
                "gone.test/NS @127.0.0.1",
                "mx.gone.test/A",
                "gone.test/A",
                "a.gone.test/NS @127.0.0.1"
            ]
        );
    }
}
