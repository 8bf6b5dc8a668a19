//! The validating resolver, assembled from hickory's public layers so the
//! validator's own DNSKEY, DS and NS fetches are cached.
//!
//! `Resolver::builder` caches only final answers: the validator sits below
//! that cache and re-fetches the signer's DNSKEY RRset for every answer it
//! checks, which doubles or triples the queries per lookup. Here a small
//! cache sits between the validator and the network instead:
//!
//! [`Chaser`] → `DnssecDnsHandle` → [`KeyCache`] → `RetryDnsHandle` → `NameServerPool` (tapped)
//!
//! The cache holds raw, unvalidated responses; the validator above it
//! checks them on every use, so caching cannot turn bogus into secure.
//! What makes checking them again cheap is the run's [`SignatureCache`]:
//! each signature is verified once, whatever question its RRset came with.
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
use hickory_resolver::config::{ResolverConfig, ResolverOpts};
use hickory_resolver::net::dnssec::DnssecDnsHandle;
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::net::{DnsError, NetError, RetryDnsHandle};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::op::{DnsRequest, DnsRequestOptions, DnsResponse};
use hickory_resolver::proto::rr::{LowerName, Name, RecordType};
use hickory_resolver::{NameServerPool, PoolContext, TlsConfig};
use quick_cache::sync::Cache;

use super::LiveError;
use super::aggressive::DenialCache;
use super::chase::{Chased, Chaser};
use super::polite::Politeness;
use super::signatures::{SIGNATURES_KEPT, SignatureCache, SignatureStats};
use super::tap::{NegativeFlags, TapProvider};

/// Validator infrastructure responses kept (DNSKEY, DS and NS RRsets).
const KEY_CACHE_SIZE: usize = 4096;
/// Upper bound on how long one is kept, whatever its TTL says.
const KEY_CACHE_MAX_TTL: Duration = Duration::from_secs(600);
/// RRset verdicts the validator keeps (hickory's default is 2^20, about
/// 200 MB once full: more than a run of 10^6 domains may use in all).
/// The hot entries (the DNSKEY and DS sets of the root, the TLDs and big
/// providers) stay; an evicted one is verified again.
const VALIDATION_CACHE_SIZE: usize = 1 << 16;

type Pool = NameServerPool<TapProvider>;
type Network = KeyCache<RetryDnsHandle<Pool>>;
type Validating = Chaser<DnssecDnsHandle<Network>>;
type Raw = Chaser<Network>;

/// The server pool (retries, UDP then TCP on truncation), every
/// connection tapped for the flags of negative answers.
fn network(
    config: &ResolverConfig,
    options: &ResolverOpts,
    flags: &NegativeFlags,
    polite: &Arc<Politeness>,
) -> Result<RetryDnsHandle<Pool>, LiveError> {
    let tls = TlsConfig::new().map_err(|e| LiveError::Build(e.to_string()))?;
    let context = Arc::new(PoolContext::new(options.clone(), tls));
    let provider = TapProvider::new(flags.clone(), polite.clone());
    let pool = Pool::from_config(config.name_servers().to_vec(), context, provider);
    Ok(RetryDnsHandle::new(pool, options.attempts))
}

/// A resolver that does not validate and does not ask for DNSSEC records
/// (validation off), CNAMEs followed as in [`Chaser`].
pub(crate) struct PlainResolver {
    client: Raw,
}

impl PlainResolver {
    pub(crate) fn new(
        config: &ResolverConfig,
        options: &ResolverOpts,
        polite: &Arc<Politeness>,
    ) -> Result<Self, LiveError> {
        let flags = NegativeFlags::new();
        let retry = network(config, options, &flags, polite)?;
        let mut request = request_options(options);
        request.edns_set_dnssec_ok = false;
        Ok(Self {
            client: Chaser::new(KeyCache::new(retry, false), request, false, flags),
        })
    }

    pub(crate) async fn lookup(&self, name: Name, rtype: RecordType) -> Chased {
        self.client.lookup(name, rtype).await
    }
}

/// A DNSSEC-validating stub resolver.
pub(crate) struct ValidatingResolver {
    client: Validating,
    /// The same, with the CD bit on every query it sends.
    checking_disabled: Validating,
    /// No validation, DO bit set; without and with CD.
    raw: Raw,
    raw_checking_disabled: Raw,
    /// Shared by both validating clients.
    signatures: Arc<SignatureCache>,
    /// Validated NSEC records that answer other names (RFC 8198).
    pub(crate) denials: DenialCache,
}

impl ValidatingResolver {
    pub(crate) fn new(
        config: &ResolverConfig,
        options: &ResolverOpts,
        anchors: TrustAnchors,
        polite: &Arc<Politeness>,
    ) -> Result<Self, LiveError> {
        let flags = NegativeFlags::new();
        let retry = network(config, options, &flags, polite)?;
        let request = request_options(options);
        let anchors = Arc::new(anchors);
        let signatures = Arc::new(SignatureCache::new(SIGNATURES_KEPT));
        let validating = |checking_disabled| {
            let keys = KeyCache::new(retry.clone(), checking_disabled);
            let validator = DnssecDnsHandle::with_trust_anchor(keys, anchors.clone())
                .validation_cache_size(VALIDATION_CACHE_SIZE)
                .signature_check(signatures.clone());
            Chaser::new(validator, request, checking_disabled, flags.clone())
        };
        let raw = |checking_disabled| {
            Chaser::new(
                KeyCache::new(retry.clone(), checking_disabled),
                request,
                checking_disabled,
                flags.clone(),
            )
        };
        Ok(Self {
            client: validating(false),
            checking_disabled: validating(true),
            raw: raw(false),
            raw_checking_disabled: raw(true),
            signatures,
            denials: DenialCache::new(),
        })
    }

    /// Signatures verified and verdicts reused so far.
    pub(crate) fn signature_stats(&self) -> SignatureStats {
        self.signatures.stats()
    }

    pub(crate) async fn lookup(&self, name: Name, rtype: RecordType) -> Chased {
        self.client.lookup(name, rtype).await
    }

    /// A validated lookup whose queries, the validator's DNSKEY and DS
    /// fetches included, all carry the CD bit. RFC 4035 §3.2.2: "When the
    /// CD bit is set, the recursive name server SHOULD, if possible, return
    /// the requested data to the originating resolver, even if the
    /// recursive name server's local authentication policy would reject
    /// the records in question." So the verdict is ours alone.
    pub(crate) async fn lookup_checking_disabled(&self, name: Name, rtype: RecordType) -> Chased {
        self.checking_disabled.lookup(name, rtype).await
    }

    /// An unvalidated lookup with the DO bit (so RRSIGs come along), and
    /// the CD bit when `checking_disabled`.
    pub(crate) async fn lookup_raw(&self, name: Name, rtype: RecordType, checking_disabled: bool) -> Chased {
        let client = if checking_disabled {
            &self.raw_checking_disabled
        } else {
            &self.raw
        };
        client.lookup(name, rtype).await
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
