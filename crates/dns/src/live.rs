//! Live DNS over hickory-resolver with local DNSSEC validation.
//!
//! ```no_run
//! # async fn demo() -> Result<(), mailwarden_dns::live::LiveError> {
//! use std::time::Duration;
//! use mailwarden_dns::DnsSource;
//! use mailwarden_dns::live::{LiveConfig, LiveSource, TrustAnchor};
//! use mailwarden_model::{QueryKey, RType};
//!
//! let source = LiveSource::new(LiveConfig {
//!     resolvers: vec!["127.0.0.1:5353".parse().unwrap()],
//!     timeout: Duration::from_secs(2),
//!     retries: 1,
//!     trust_anchor: TrustAnchor::File("root.key".into()),
//!     authoritative_port: 53,
//!     direct_guard: Default::default(),
//! })?;
//! source.prepare().await?; // optional: resolve DS anchors now, fail fast
//! let answer = source.query(&QueryKey::new("example.com", RType::Mx)).await;
//! # Ok(()) }
//! ```
//!
//! Every lookup ends in an [`Answer`]: records with their combined DNSSEC
//! proof, a negative answer with the proof of the denial, or a failure
//! status. A DNSSEC failure is reported as bogus only once transport
//! trouble has been ruled out (see `LiveSource::confirm_bogus`).

mod aggressive;
mod anchor;
mod chase;
mod direct;
mod map;
mod polite;
mod signatures;
mod stack;
mod tap;
mod udp;
mod wildcard;

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures::future::{BoxFuture, join_all};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::proto::dnssec::TrustAnchors;
use hickory_resolver::proto::dnssec::rdata::{DNSKEY, DNSSECRData};
use hickory_resolver::proto::rr::{LowerName, Name, RData as HRData, RecordType};
use mailwarden_model::{Answer, Proof, QueryKey, SourceInfo, Status};
use tokio::sync::{OnceCell, Semaphore};

use crate::DnsSource;
use anchor::{AnchorKey, Entry};
pub use direct::DirectGuard;
use map::Mode;
use polite::Politeness;
pub use signatures::SignatureStats;
use stack::{PlainResolver, ValidatingResolver};

/// Why answers through a resolver that drops DNSSEC records cannot be
/// judged: they are neither bogus nor insecure, just unvalidatable.
const NOT_DNSSEC_AWARE: &str = "the resolver is not DNSSEC-aware: asked with the DO bit, it returned no RRSIG records \
     and no DNSKEY records for the root zone, so no answer can be validated (it strips DNSSEC records, or a \
     middlebox does); use a DNSSEC-aware resolver (--resolver), or --no-dnssec";

/// Answers each hickory response cache keeps (least recently used go
/// first). The outer `SharedCache` already holds final answers, so this
/// matters little; the validator's DNSKEY/DS/NS fetches have their own
/// cache (see `stack`).
const HICKORY_CACHE_SIZE: u64 = 8192;

/// Where DNSSEC validation starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustAnchor {
    /// The IANA root KSKs built into hickory (key tags 20326 and 38696).
    IanaRoot,
    /// A file of DNSKEY or DS records in zone-file format.
    File(PathBuf),
    /// DNSKEY or DS records in zone-file format.
    Text(String),
    /// No validation: every answer is `Proof::NotValidated`.
    Disabled,
}

/// Parse trust-anchor text as [`TrustAnchor::Text`] would, without
/// building a resolver: how many DNSKEY and DS records it holds, or the
/// error [`LiveSource::new`] would give. For checking a file before a run,
/// and for the fuzz target (fuzz/fuzz_targets/trust_anchor.rs).
pub fn check_trust_anchor_text(text: &str) -> Result<usize, LiveError> {
    anchor::parse(text, "trust anchor text").map(|entries| entries.len())
}

/// How to reach the DNS.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Resolvers to ask, with their ports. Empty: the system's
    /// (/etc/resolv.conf).
    pub resolvers: Vec<SocketAddr>,
    /// How long to wait for each try.
    pub timeout: Duration,
    /// Further tries after a failed one.
    pub retries: u32,
    /// The DNSSEC trust anchor answers are validated from.
    pub trust_anchor: TrustAnchor,
    /// The port server-directed questions ([`QueryKey::at`]) are sent to
    /// on each authoritative server: 53, except in tests.
    pub authoritative_port: u16,
    /// Which servers server-directed questions may go to (the resolvers
    /// above are the operator's choice and are not guarded).
    pub direct_guard: DirectGuard,
}

impl Default for LiveConfig {
    /// The system resolvers, resolv.conf's timing (5 s, 2 retries), the
    /// IANA root anchor, direct questions to global addresses only.
    fn default() -> Self {
        Self {
            resolvers: Vec::new(),
            timeout: Duration::from_secs(5),
            retries: 2,
            trust_anchor: TrustAnchor::IanaRoot,
            authoritative_port: 53,
            direct_guard: DirectGuard::default(),
        }
    }
}

/// How hard a run may press on the servers it asks (issue 15: a large
/// scan must never look like an attack on one provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Queries per second to each resolver (`--resolver-qps`); 0: no
    /// limit. The resolver is the operator's own, so none by default.
    pub resolver_rate: u32,
    /// Queries per second to each authoritative server asked directly
    /// (`--ns-qps`); 0: no limit.
    pub server_rate: u32,
    /// Lookups in flight at once over all servers (`--max-in-flight`): a
    /// validated lookup may add DNSKEY/DS sub-queries, so this bounds
    /// memory and bursts that overflow a server's receive buffer.
    pub max_in_flight: usize,
}

impl Limits {
    /// The default `server_rate`: many domains of a scan share a
    /// provider's nameservers, and each server is asked a few questions
    /// per domain.
    pub const DEFAULT_SERVER_RATE: u32 = 100;
    /// The default `max_in_flight`; at loopback round-trip times it still
    /// allows well over 10^4 queries/s.
    pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            resolver_rate: 0,
            server_rate: Self::DEFAULT_SERVER_RATE,
            max_in_flight: Self::DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// Why a [`LiveSource`] could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The `--trust-anchor` file could not be read.
    #[error("trust anchor file {}: {source}", path.display())]
    ReadAnchor {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A trust-anchor line is not a DNSKEY or DS record.
    #[error("{input}: line {line}: {message}")]
    AnchorSyntax {
        /// Where the anchors came from ("trust anchor file /x").
        input: String,
        /// The line, from 1.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The anchors have no DNSKEY or DS record at all.
    #[error("{input}: no DNSKEY or DS records")]
    EmptyAnchor {
        /// Where the anchors came from.
        input: String,
    },
    /// A DS anchor matches none of the keys its owner serves.
    #[error(
        "{input}: line {line}: the DS for {owner} (key tag {key_tag}) matches none of the {served} DNSKEY records served for {owner}"
    )]
    DsMatchesNothing {
        /// Where the anchors came from.
        input: String,
        /// The DS line, from 1.
        line: usize,
        /// The DS owner.
        owner: String,
        /// The key tag the DS names.
        key_tag: u16,
        /// How many DNSKEY records the owner serves.
        served: usize,
    },
    /// The DNSKEY records a DS anchor must be checked against could not be
    /// fetched.
    #[error("{input}: line {line}: cannot check the DS for {owner}: fetching its DNSKEY records failed: {reason}")]
    DnskeyFetch {
        /// Where the anchors came from.
        input: String,
        /// The DS line, from 1.
        line: usize,
        /// The DS owner.
        owner: String,
        /// Why the fetch failed.
        reason: String,
    },
    /// /etc/resolv.conf could not be read.
    #[error("reading the system resolver configuration (/etc/resolv.conf): {0}")]
    SystemConfig(String),
    /// /etc/resolv.conf names no server.
    #[error("the system resolver configuration (/etc/resolv.conf) lists no name servers")]
    NoResolvers,
    /// hickory refused the configuration.
    #[error("building the resolver: {0}")]
    Build(String),
}

/// A [`DnsSource`] asking resolvers over UDP (TCP when truncated), with
/// EDNS and local DNSSEC validation.
pub struct LiveSource {
    /// Never validates: used when validation is off, to resolve DS trust
    /// anchors, and to tell bogus answers from transport failures.
    plain: PlainResolver,
    /// `None` when validation is disabled.
    validator: Option<Validator>,
    resolvers: Vec<String>,
    in_flight: Semaphore,
    /// Server-directed questions (see `direct`).
    direct: direct::Direct,
}

/// The validating resolver, built once its trust anchors are known.
struct Validator {
    resolver: OnceCell<ValidatingResolver>,
    /// DS anchors whose keys must be fetched before `resolver` can be built.
    pending: Option<PendingAnchors>,
}

struct PendingAnchors {
    /// Where the anchors came from, for error messages.
    input: String,
    /// The DNSKEY anchors already known.
    anchors: TrustAnchors,
    ds: Vec<Entry>,
    config: ResolverConfig,
    options: ResolverOpts,
    polite: Arc<Politeness>,
}

impl LiveSource {
    /// Set up the resolvers. DS trust anchors are turned into keys on the
    /// first query, or by [`LiveSource::prepare`].
    pub fn new(cfg: LiveConfig) -> Result<Self, LiveError> {
        Self::with_limits(cfg, Limits::default())
    }

    /// [`LiveSource::new`] with the given politeness [`Limits`].
    pub fn with_limits(cfg: LiveConfig, limits: Limits) -> Result<Self, LiveError> {
        let (config, resolvers) = resolver_config(&cfg.resolvers)?;
        let options = resolver_options(&cfg, limits.max_in_flight);
        // One schedule per resolver, shared by every client that asks it.
        let polite = Arc::new(Politeness::new(limits.resolver_rate, false));
        let plain = PlainResolver::new(&config, &options, &polite)?;
        let validator = match &cfg.trust_anchor {
            TrustAnchor::Disabled => None,
            TrustAnchor::IanaRoot => Some(Validator::ready(ValidatingResolver::new(
                &config,
                &options,
                TrustAnchors::default(),
                &polite,
            )?)),
            TrustAnchor::File(path) => {
                let text = anchor::read_file(path)?;
                let input = format!("trust anchor file {}", path.display());
                Some(Validator::from_text(&text, input, config, options, polite)?)
            }
            TrustAnchor::Text(text) => Some(Validator::from_text(
                text,
                "trust anchor text".into(),
                config,
                options,
                polite,
            )?),
        };
        Ok(Self {
            plain,
            validator,
            resolvers,
            in_flight: Semaphore::new(limits.max_in_flight.max(1)),
            direct: direct::Direct {
                port: cfg.authoritative_port,
                timeout: cfg.timeout,
                attempts: cfg.retries.saturating_add(1),
                guard: cfg.direct_guard,
                asked: Default::default(),
                polite: Politeness::new(limits.server_rate, true),
                sockets: Default::default(),
            },
        })
    }

    /// Resolve DS trust anchors into keys now, so a DS that matches no key
    /// is reported at start-up rather than as an error on every answer.
    pub async fn prepare(&self) -> Result<(), LiveError> {
        match &self.validator {
            Some(validator) => self.validating_resolver(validator).await.map(|_| ()),
            None => Ok(()),
        }
    }

    /// How many signatures the run verified, and how many checks an
    /// earlier verification of the same signature answered (zero before the
    /// first validated lookup, and when validation is off).
    pub fn signature_stats(&self) -> SignatureStats {
        self.validator
            .as_ref()
            .and_then(|validator| validator.resolver.get())
            .map(ValidatingResolver::signature_stats)
            .unwrap_or_default()
    }

    /// How many questions validated NSEC records already held answered
    /// (RFC 8198) instead of the resolver.
    pub fn answered_from_nsec(&self) -> u64 {
        self.validator
            .as_ref()
            .and_then(|validator| validator.resolver.get())
            .map_or(0, |resolver| resolver.denials.answered())
    }

    async fn answer(&self, key: &QueryKey) -> Answer {
        let Ok(_permit) = self.in_flight.acquire().await else {
            return Answer::empty(Status::Error("the resolver is shut down".into()), Proof::Indeterminate);
        };
        if let Some(server) = key.server {
            return self.direct.answer(server, key).await;
        }
        let name = match Name::from_ascii(format!("{}.", key.name)) {
            Ok(name) => name,
            Err(e) => {
                let why = format!("{:?} is not a domain name: {e}", key.name);
                return Answer::empty(Status::Error(why), Proof::Indeterminate);
            }
        };
        let rtype = RecordType::from(key.rtype.code());
        match &self.validator {
            None => map::answer(
                &self.plain.lookup(name.clone(), rtype).await,
                &name,
                rtype,
                Mode::NotValidated,
            ),
            Some(validator) => self.validated(validator, &name, rtype).await,
        }
    }

    async fn validated(&self, validator: &Validator, name: &Name, rtype: RecordType) -> Answer {
        let resolver = match self.validating_resolver(validator).await {
            Ok(resolver) => resolver,
            Err(e) => return Answer::empty(Status::Error(e.to_string()), Proof::Indeterminate),
        };
        if let Some(denied) = resolver.denials.answer(name, rtype) {
            return denied;
        }
        let first = resolver.lookup(name.clone(), rtype).await;
        if map::is_servfail(&first) {
            return self.checking_disabled(resolver, name, rtype).await;
        }
        if !map::is_bogus(&first) {
            let answer = map::answer(&first, name, rtype, Mode::Validated);
            resolver.denials.learn(&answer, map::denial_authorities(&first));
            return answer;
        }
        // A DS or DNSKEY fetch that failed in transit comes back as bogus
        // (hickory #3932/#3964); such failures are not cached, so a second
        // try often completes.
        let second = resolver.lookup(name.clone(), rtype).await;
        if !map::is_bogus(&second) {
            return map::answer(&second, name, rtype, Mode::Validated);
        }
        self.confirm_bogus(resolver, name, rtype, false).await
    }

    /// SERVFAIL from the resolver. A validating recursive resolver gives
    /// SERVFAIL for data it finds bogus as well as for a broken server, so
    /// ask again with the CD bit on every query and validate here: bogus
    /// data then comes back (and is judged bogus), while a broken server
    /// still fails and stays `serv-fail`.
    async fn checking_disabled(&self, resolver: &ValidatingResolver, name: &Name, rtype: RecordType) -> Answer {
        for _ in 0..2 {
            let result = resolver.lookup_checking_disabled(name.clone(), rtype).await;
            if !map::is_bogus(&result) {
                return map::answer(&result, name, rtype, Mode::Validated);
            }
        }
        self.confirm_bogus(resolver, name, rtype, true).await
    }

    /// Decide whether a twice-bogus answer is really bogus.
    ///
    /// hickory gives the same verdict, bogus, to a forged or broken
    /// signature and to a DNSKEY or DS RRset it could not fetch (#3932,
    /// #3964). An auditor must not print "DNSSEC bogus" off a timeout
    /// (RFC 4035 §4.3 keeps "indeterminate" apart from "bogus" for exactly
    /// this). So we ask again with checking disabled, through the
    /// non-validating resolver and the same servers: the question itself,
    /// and the DNSKEY and DS RRsets of every name above it, which are all
    /// the validator could have needed. If any of those fails in transit
    /// (timeout, SERVFAIL, REFUSED, I/O), validation could not be
    /// completed: the answer carries that failure and
    /// `Proof::Indeterminate`. If they arrive without any RRSIG, or
    /// without the root's DNSKEYs, the resolver is not DNSSEC-aware: that
    /// is no verdict on the zone either. Otherwise nothing was missing and
    /// the data really does not validate.
    ///
    /// The bogus answer keeps, as evidence, the RRSIGs received over the
    /// records (expired ones show why), and for DNSKEY and DS questions the
    /// records themselves (and NSEC3PARAM's), unvalidated, so a DS that
    /// matches no key can be diagnosed. `checking_disabled` asks with the CD bit, for a
    /// validating upstream that would otherwise withhold the data.
    async fn confirm_bogus(
        &self,
        resolver: &ValidatingResolver,
        name: &Name,
        rtype: RecordType,
        checking_disabled: bool,
    ) -> Answer {
        let questions = chain_questions(name, rtype);
        let lookups = questions
            .iter()
            .map(|(qname, qtype)| resolver.lookup_raw(qname.clone(), *qtype, checking_disabled));
        let results = join_all(lookups).await;
        if let Some(status) = results.iter().find_map(map::transport_failure) {
            return Answer::empty(status, Proof::Indeterminate);
        }
        if map::strips_dnssec(&results) {
            return Answer::empty(Status::Error(NOT_DNSSEC_AWARE.into()), Proof::Indeterminate);
        }
        let why = format!(
            "the {rtype} answer for {} does not validate from the trust anchor (asked twice; the records and \
             every DNSKEY and DS record set above them arrive intact, so this is not a transport failure)",
            display_name(name)
        );
        let mut answer = Answer::empty(Status::Bogus(why), Proof::Bogus);
        let (records, signatures) = map::received(&results[0], name, rtype);
        if matches!(rtype, RecordType::DNSKEY | RecordType::DS | RecordType::NSEC3PARAM) {
            answer.records = records;
        }
        answer.signatures = signatures;
        answer
    }

    async fn validating_resolver<'a>(&self, validator: &'a Validator) -> Result<&'a ValidatingResolver, LiveError> {
        validator
            .resolver
            .get_or_try_init(|| async {
                let pending = validator
                    .pending
                    .as_ref()
                    .expect("an unbuilt validator has pending anchors");
                self.resolve_ds_anchors(pending).await
            })
            .await
    }

    /// hickory's anchors are DNSKEYs only: fetch each DS owner's DNSKEY
    /// RRset without validation and trust the keys a DS digest matches
    /// (RFC 4034 §5: "The DS RR refers to a DNSKEY RR by storing the key
    /// tag, algorithm number, and a digest of the DNSKEY RR").
    async fn resolve_ds_anchors(&self, pending: &PendingAnchors) -> Result<ValidatingResolver, LiveError> {
        let mut anchors = pending.anchors.clone();
        for entry in &pending.ds {
            let AnchorKey::Ds(ds) = &entry.key else { continue };
            let owner = display_name(&entry.owner);
            let served = self
                .fetch_dnskeys(&entry.owner)
                .await
                .map_err(|reason| LiveError::DnskeyFetch {
                    input: pending.input.clone(),
                    line: entry.line,
                    owner: owner.clone(),
                    reason,
                })?;
            let matching: Vec<&DNSKEY> = served
                .iter()
                .filter(|key| ds.covers(&entry.owner, key).unwrap_or(false))
                .collect();
            if matching.is_empty() {
                return Err(LiveError::DsMatchesNothing {
                    input: pending.input.clone(),
                    line: entry.line,
                    owner,
                    key_tag: ds.key_tag(),
                    served: served.len(),
                });
            }
            for key in matching {
                anchors.insert_with_name(key.public_key(), LowerName::new(&entry.owner));
            }
        }
        ValidatingResolver::new(&pending.config, &pending.options, anchors, &pending.polite)
    }

    async fn fetch_dnskeys(&self, owner: &Name) -> Result<Vec<DNSKEY>, String> {
        let chased = self.plain.lookup(owner.clone(), RecordType::DNSKEY).await;
        chased.result.map_err(|e| e.to_string())?;
        Ok(chased
            .answers
            .iter()
            .filter(|record| &record.name == owner)
            .filter_map(|record| match &record.data {
                HRData::DNSSEC(DNSSECRData::DNSKEY(key)) => Some(key.clone()),
                _ => None,
            })
            .collect())
    }
}

impl DnsSource for LiveSource {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        Box::pin(self.answer(key))
    }

    fn describe(&self) -> SourceInfo {
        SourceInfo {
            backend: "live".into(),
            resolvers: self.resolvers.clone(),
            dnssec_validation: self.validator.is_some(),
            ..SourceInfo::default()
        }
    }
}

impl fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LiveSource")
            .field("resolvers", &self.resolvers)
            .field("dnssec_validation", &self.validator.is_some())
            .finish_non_exhaustive()
    }
}

impl Validator {
    fn ready(resolver: ValidatingResolver) -> Self {
        Self {
            resolver: OnceCell::new_with(Some(resolver)),
            pending: None,
        }
    }

    fn from_text(
        text: &str,
        input: String,
        config: ResolverConfig,
        options: ResolverOpts,
        polite: Arc<Politeness>,
    ) -> Result<Self, LiveError> {
        let entries = anchor::parse(text, &input)?;
        let mut anchors = TrustAnchors::empty();
        let mut ds = Vec::new();
        for entry in entries {
            match &entry.key {
                // RFC 5011 §2.1: a revoked key "MUST NOT" be used as a trust anchor.
                AnchorKey::Dnskey(key) if key.revoke() => {}
                AnchorKey::Dnskey(key) => {
                    anchors.insert_with_name(key.public_key(), LowerName::new(&entry.owner));
                }
                AnchorKey::Ds(_) => ds.push(entry),
            }
        }
        if ds.is_empty() {
            return Ok(Self::ready(ValidatingResolver::new(
                &config, &options, anchors, &polite,
            )?));
        }
        let pending = PendingAnchors {
            input,
            anchors,
            ds,
            config,
            options,
            polite,
        };
        Ok(Self {
            resolver: OnceCell::new(),
            pending: Some(pending),
        })
    }
}

/// The nameservers to ask, and how to describe them.
fn resolver_config(resolvers: &[SocketAddr]) -> Result<(ResolverConfig, Vec<String>), LiveError> {
    if resolvers.is_empty() {
        return system_config();
    }
    let servers = resolvers
        .iter()
        .map(|addr| {
            let mut server = NameServerConfig::udp_and_tcp(addr.ip());
            for connection in &mut server.connections {
                connection.port = addr.port();
            }
            server
        })
        .collect();
    let labels = resolvers.iter().map(SocketAddr::to_string).collect();
    Ok((ResolverConfig::from_parts(None, Vec::new(), servers), labels))
}

fn system_config() -> Result<(ResolverConfig, Vec<String>), LiveError> {
    let (config, _) =
        hickory_resolver::system_conf::read_system_conf().map_err(|e| LiveError::SystemConfig(e.to_string()))?;
    if config.name_servers().is_empty() {
        return Err(LiveError::NoResolvers);
    }
    let labels = config
        .name_servers()
        .iter()
        .map(|server| {
            let port = server.connections.first().map_or(53, |c| c.port);
            SocketAddr::new(server.ip, port).to_string()
        })
        .collect();
    Ok((config, labels))
}

fn resolver_options(cfg: &LiveConfig, max_in_flight: usize) -> ResolverOpts {
    let mut options = ResolverOpts::default();
    options.timeout = cfg.timeout;
    options.attempts = usize::try_from(cfg.retries).unwrap_or(usize::MAX);
    options.edns0 = true;
    options.cache_size = HICKORY_CACHE_SIZE;
    // The hosts file is this machine's business, not the audited domain's.
    options.use_hosts_file = ResolveHosts::Never;
    // Names are always absolute: never try search domains.
    options.ndots = 0;
    options.max_active_requests = max_in_flight.max(1);
    options
}

/// The question, then DNSKEY and DS for every name from it up to the root.
fn chain_questions(name: &Name, rtype: RecordType) -> Vec<(Name, RecordType)> {
    let mut questions = vec![(name.clone(), rtype)];
    let mut zone = name.clone();
    loop {
        questions.push((zone.clone(), RecordType::DNSKEY));
        if zone.is_root() {
            return questions;
        }
        questions.push((zone.clone(), RecordType::DS));
        zone = zone.base_name();
    }
}

fn display_name(name: &Name) -> String {
    if name.is_root() {
        ".".into()
    } else {
        mailwarden_model::name::normalise(&name.to_ascii())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_questions_cover_every_zone_cut_above_the_name() {
        let name = Name::from_ascii("www.example.test.").unwrap();
        let asked: Vec<String> = chain_questions(&name, RecordType::TXT)
            .iter()
            .map(|(n, t)| format!("{n} {t}"))
            .collect();
        assert_eq!(
            asked,
            [
                "www.example.test. TXT",
                "www.example.test. DNSKEY",
                "www.example.test. DS",
                "example.test. DNSKEY",
                "example.test. DS",
                "test. DNSKEY",
                "test. DS",
                ". DNSKEY",
            ]
        );
    }

    #[test]
    fn a_missing_trust_anchor_file_is_named() {
        let cfg = LiveConfig {
            resolvers: vec!["127.0.0.1:53".parse().unwrap()],
            trust_anchor: TrustAnchor::File("/nonexistent/root.key".into()),
            ..LiveConfig::default()
        };
        let err = LiveSource::new(cfg).unwrap_err().to_string();
        assert!(err.starts_with("trust anchor file /nonexistent/root.key: "), "{err}");
    }
}
