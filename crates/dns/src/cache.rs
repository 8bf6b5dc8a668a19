//! A bounded answer cache shared by every domain of a run.
//!
//! Concurrent askers of the same question wait for one query (in-flight
//! de-duplication). The capacity bounds memory, so a run over millions of
//! domains does not grow with the input. Failures are not cached: a
//! timeout for one domain must not become a timeout for the next.

use futures::future::BoxFuture;
use mailwarden_model::{Answer, QueryKey, SourceInfo};
use quick_cache::sync::Cache;

use crate::DnsSource;

/// Wraps a source with a shared, bounded cache.
pub struct SharedCache<S> {
    inner: S,
    cache: Cache<QueryKey, Answer>,
}

impl<S: DnsSource> SharedCache<S> {
    /// `capacity` is the number of answers kept (least recently used go first).
    pub fn new(inner: S, capacity: usize) -> Self {
        Self {
            inner,
            cache: Cache::new(capacity.max(1)),
        }
    }

    /// The wrapped source.
    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: DnsSource> DnsSource for SharedCache<S> {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        Box::pin(async move {
            match self.cache.get_value_or_guard_async(key).await {
                Ok(answer) => answer,
                Err(guard) => {
                    let answer = self.inner.query(key).await;
                    if answer.status.is_definite() {
                        let _ = guard.insert(answer.clone());
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
}
