//! The validating resolver, assembled from hickory's public layers so the
//! validator's own DNSKEY, DS and NS fetches are cached.
//!
//! `Resolver::builder` caches only final answers: the validator sits below
//! that cache and re-fetches the signer's DNSKEY RRset for every answer it
//! checks, which doubles or triples the queries per lookup. Here a small
//! cache sits between the validator and the network instead:
//!
//! `CachingClient` → `DnssecDnsHandle` → [`KeyCache`] → `RetryDnsHandle` → `NameServerPool`
//!
//! The cache holds raw, unvalidated responses; the validator above it
//! checks them on every use, so caching cannot turn bogus into secure.
//!
//! The same layers, over the same servers, also give:
//!
//! - a *checking-disabled* validating client: every query it sends, the
//!   validator's own DNSKEY and DS fetches included, carries the CD bit,
//!   so a validating upstream hands over data it judged bogus instead of
//!   SERVFAIL, and the validator here judges it (RFC 4035 §3.2.2);
//! - *raw* clients that do not validate but ask with the DO bit (and
//!   optionally CD), to tell bogus data from transport failures and to
//!   keep the records and RRSIGs of a bogus answer as evidence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::stream::{self, BoxStream, StreamExt};
use hickory_resolver::caching_client::CachingClient;
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::lookup::Lookup;
use hickory_resolver::net::dnssec::DnssecDnsHandle;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::net::{DnsError, NetError, RetryDnsHandle};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::op::{DnsRequest, DnsRequestOptions, DnsResponse, Query};
use hickory_resolver::proto::rr::{LowerName, Name, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig};
use quick_cache::sync::Cache;

use super::LiveError;

/// Validator infrastructure responses kept (DNSKEY, DS and NS RRsets).
const KEY_CACHE_SIZE: usize = 4096;
/// Upper bound on how long one is kept, whatever its TTL says.
const KEY_CACHE_MAX_TTL: Duration = Duration::from_secs(600);

type Pool = NameServerPool<TokioRuntimeProvider>;
type Validating = CachingClient<DnssecDnsHandle<KeyCache<RetryDnsHandle<Pool>>>>;
type Raw = CachingClient<KeyCache<RetryDnsHandle<Pool>>>;

/// Answers each raw (unvalidated) client keeps.
const RAW_CACHE_SIZE: u64 = 1024;

/// A DNSSEC-validating stub resolver.
pub(crate) struct ValidatingResolver {
    client: Validating,
    /// The same, with the CD bit on every query it sends.
    checking_disabled: Validating,
    /// No validation, DO bit set; without and with CD.
    raw: Raw,
    raw_checking_disabled: Raw,
    options: DnsRequestOptions,
}

impl ValidatingResolver {
    pub(crate) fn new(
        config: &ResolverConfig,
        options: &ResolverOpts,
        anchors: TrustAnchors,
    ) -> Result<Self, LiveError> {
        let tls = TlsConfig::new().map_err(|e| LiveError::Build(e.to_string()))?;
        let context = Arc::new(PoolContext::new(options.clone(), tls));
        let pool = Pool::from_config(config.name_servers().to_vec(), context, TokioRuntimeProvider::default());
        let retry = RetryDnsHandle::new(pool, options.attempts);
        let anchors = Arc::new(anchors);
        let validating = |checking_disabled| {
            let keys = KeyCache::new(retry.clone(), checking_disabled);
            let validator = DnssecDnsHandle::with_trust_anchor(keys, anchors.clone());
            CachingClient::new(options.cache_size, validator, true)
        };
        let raw = |checking_disabled| {
            CachingClient::new(RAW_CACHE_SIZE, KeyCache::new(retry.clone(), checking_disabled), true)
        };
        Ok(Self {
            client: validating(false),
            checking_disabled: validating(true),
            raw: raw(false),
            raw_checking_disabled: raw(true),
            options: request_options(options),
        })
    }

    pub(crate) async fn lookup(&self, name: Name, rtype: RecordType) -> Result<Lookup, NetError> {
        self.client.lookup(Query::query(name, rtype), self.options).await
    }

    /// A validated lookup whose queries, the validator's DNSKEY and DS
    /// fetches included, all carry the CD bit. RFC 4035 §3.2.2: "When the
    /// CD bit is set, the recursive name server SHOULD, if possible, return
    /// the requested data to the originating resolver, even if the
    /// recursive name server's local authentication policy would reject
    /// the records in question." So the verdict is ours alone.
    pub(crate) async fn lookup_checking_disabled(&self, name: Name, rtype: RecordType) -> Result<Lookup, NetError> {
        self.checking_disabled
            .lookup(Query::query(name, rtype), self.options)
            .await
    }

    /// An unvalidated lookup with the DO bit (so RRSIGs come along), and
    /// the CD bit when `checking_disabled`.
    pub(crate) async fn lookup_raw(
        &self,
        name: Name,
        rtype: RecordType,
        checking_disabled: bool,
    ) -> Result<Lookup, NetError> {
        let client = if checking_disabled {
            &self.raw_checking_disabled
        } else {
            &self.raw
        };
        client.lookup(Query::query(name, rtype), self.options).await
    }
}

/// What `Resolver::request_options` sets, with the DO bit on.
fn request_options(options: &ResolverOpts) -> DnsRequestOptions {
    let mut request = DnsRequestOptions::default();
    request.recursion_desired = options.recursion_desired;
    request.use_edns = options.edns0;
    request.edns_payload_len = options.edns_payload_len;
    request.case_randomization = options.case_randomization;
    // RFC 4035 §4.9.1: a validating stub "MUST set the DO bit".
    request.edns_set_dnssec_ok = true;
    request
}

type Key = (LowerName, RecordType);
type Cached = (Result<DnsResponse, NetError>, Instant);

/// Caches the validator's DNSKEY, DS and NS fetches, positive or negative;
/// sets the CD bit on every query when asked to (below the validator,
/// which clears it on the queries it makes).
#[derive(Clone)]
pub(crate) struct KeyCache<H> {
    inner: H,
    cache: Arc<Cache<Key, Cached>>,
    checking_disabled: bool,
}

impl<H> KeyCache<H> {
    fn new(inner: H, checking_disabled: bool) -> Self {
        Self {
            inner,
            cache: Arc::new(Cache::new(KEY_CACHE_SIZE)),
            checking_disabled,
        }
    }
}

impl<H: DnsHandle> DnsHandle for KeyCache<H> {
    type Response = BoxStream<'static, Result<DnsResponse, NetError>>;
    type Runtime = H::Runtime;

    fn send(&self, mut request: DnsRequest) -> Self::Response {
        if self.checking_disabled {
            request.metadata.checking_disabled = true;
        }
        let Some(key) = cache_key(&request) else {
            return self.inner.send(request).boxed();
        };
        if let Some((result, until)) = self.cache.get(&key)
            && until > Instant::now()
        {
            return stream::once(async move { result }).boxed();
        }
        let cache = self.cache.clone();
        self.inner
            .send(request)
            .inspect(move |result| {
                if let Some(ttl) = cacheable_ttl(result) {
                    cache.insert(key.clone(), (result.clone(), Instant::now() + ttl));
                }
            })
            .boxed()
    }
}

fn cache_key(request: &DnsRequest) -> Option<Key> {
    let query = request.queries.first()?;
    matches!(query.query_type(), RecordType::DNSKEY | RecordType::DS | RecordType::NS)
        .then(|| (LowerName::new(query.name()), query.query_type()))
}

/// How long a response may be reused: its smallest TTL (the SOA's for a
/// negative answer), capped. Failures are never kept.
fn cacheable_ttl(result: &Result<DnsResponse, NetError>) -> Option<Duration> {
    let seconds = match result {
        Ok(response) => response.all_sections().map(|r| r.ttl).min()?,
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => no.soa.as_ref().map(|soa| soa.ttl.min(soa.data.minimum))?,
        Err(_) => return None,
    };
    Some(Duration::from_secs(u64::from(seconds)).min(KEY_CACHE_MAX_TTL))
}
