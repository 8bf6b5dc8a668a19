//! [`LiveProber`]: the [`Prober`] a scan uses. It turns the probes'
//! results into evidence (`mailwarden_model::probe`), and is polite:
//!
//! - each SMTP target (MX host, address) is probed once per run and the
//!   result shared by every domain that names it (large providers host
//!   thousands of domains), in a bounded cache;
//! - at most one connection at a time to any one address;
//! - at most [`ProbeConfig::max_connections`] connections at once overall;
//! - every target passes the egress guard first, and the address checked
//!   is the address connected to.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mailwarden_model::probe::{Der, HelloOutcome, LegacyHello, LegacyTls, ProbeFuture};
use mailwarden_model::{HttpsFetch, HttpsStatus, Prober, SmtpProbe, SmtpStatus, SmtpTarget, TlsSession};
use quick_cache::sync::Cache;
use tokio::sync::Semaphore;

use crate::https::{FetchFailure, FetchOptions, Stage as HttpsStage};
use crate::legacy::{self, Hello};
use crate::smtp::{ProbeError, Stage as SmtpStage};

/// SMTP results kept for sharing between domains.
const SMTP_CACHE: usize = 20_000;

/// How the live prober connects.
#[derive(Debug, Clone)]
pub struct ProbeConfig {
    /// Probe SMTP at all (`--no-smtp` turns it off).
    pub smtp: bool,
    /// Fetch over HTTPS at all (MTA-STS policies).
    pub https: bool,
    /// The SMTP port (25; tests give their server's).
    pub smtp_port: u16,
    /// The name sent in `EHLO`.
    pub ehlo_name: String,
    /// Longest SMTP conversation, connect to end of handshake.
    pub smtp_timeout: Duration,
    /// Probe loopback, private and other non-global addresses too.
    pub allow_private: bool,
    /// Connections open at once, all targets together.
    pub max_connections: usize,
    /// How HTTPS fetches are made (its `allow_private` is overridden by ours).
    pub fetch: FetchOptions,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        Self {
            smtp: true,
            https: true,
            smtp_port: 25,
            ehlo_name: "mailwarden.invalid".into(),
            smtp_timeout: Duration::from_secs(10),
            allow_private: false,
            max_connections: 64,
            fetch: FetchOptions::default(),
        }
    }
}

/// The prober of a live scan; share one across all domains of a run.
pub struct LiveProber {
    config: ProbeConfig,
    smtp_results: Cache<SmtpTarget, SmtpProbe>,
    per_address: Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    connections: Semaphore,
}

impl LiveProber {
    pub fn new(mut config: ProbeConfig) -> Self {
        config.fetch.allow_private = config.allow_private;
        let connections = Semaphore::new(config.max_connections.max(1));
        Self {
            config,
            smtp_results: Cache::new(SMTP_CACHE),
            per_address: Mutex::new(HashMap::new()),
            connections,
        }
    }

    /// The one-at-a-time lock of `ip`, held until the returned claim is
    /// dropped.
    fn address_lock(&self, ip: IpAddr) -> AddressLock<'_> {
        let mut map = self.per_address.lock().unwrap_or_else(|e| e.into_inner());
        let lock = map.entry(ip).or_insert_with(|| Arc::new(Semaphore::new(1))).clone();
        AddressLock {
            map: &self.per_address,
            ip,
            lock: Some(lock),
        }
    }

    async fn probe_smtp(&self, target: &SmtpTarget) -> SmtpProbe {
        if !self.config.smtp {
            return SmtpProbe::status(SmtpStatus::NotProbed, Some("SMTP probes are off (--no-smtp)".into()));
        }
        if let Err(reason) = crate::check_target(target.address, self.config.allow_private) {
            return SmtpProbe::status(
                SmtpStatus::EgressRefused,
                Some(format!(
                    "not probed: {reason}; pass --allow-private-targets to probe such addresses"
                )),
            );
        }
        let address = self.address_lock(target.address);
        let mut probe = {
            let _one = address.acquire().await;
            let _slot = self.connections.acquire().await;
            let addr = SocketAddr::new(target.address, self.config.smtp_port);
            let result =
                crate::fetch_certificates(addr, &target.host, &self.config.ehlo_name, self.config.smtp_timeout).await;
            let mut probe = smtp_evidence(result);
            // STARTTLS was accepted: the legacy hellos can be offered too.
            if matches!(probe.status, SmtpStatus::Tls | SmtpStatus::HandshakeFailed) {
                probe.legacy = Some(self.probe_legacy(addr, &target.host).await);
            }
            probe
        };
        drop(address);
        probe.port = Some(self.config.smtp_port);
        probe
    }

    /// The legacy hellos, one connection each, one after the other: the
    /// protocols and the ciphers, and SSL 3.0 alone only when the
    /// protocols were accepted with TLS 1.0 or 1.1 (a refusal already
    /// rules SSL 3.0 out, an SSL 3.0 answer shows it).
    async fn probe_legacy(&self, addr: SocketAddr, host: &str) -> LegacyTls {
        let offer = |hello| legacy::offer(addr, host, &self.config.ehlo_name, self.config.smtp_timeout, hello);
        let protocols = offer(Hello::Protocols).await;
        let ciphers = offer(Hello::Ciphers).await;
        let ssl3_open = matches!(&protocols, Ok(legacy::Answer::Accepted { version, .. }) if *version > 0x0300);
        let ssl3 = if ssl3_open {
            Some(legacy_evidence(offer(Hello::Ssl3).await))
        } else {
            None
        };
        LegacyTls {
            protocols: legacy_evidence(protocols),
            ciphers: legacy_evidence(ciphers),
            ssl3,
        }
    }
}

/// A legacy hello's answer as evidence.
pub fn legacy_evidence(result: Result<legacy::Answer, ProbeError>) -> LegacyHello {
    use legacy::Answer;
    match result {
        Ok(Answer::Accepted { version, suite }) => {
            let version = legacy::version_name(version);
            let mut hello = LegacyHello::new(
                HelloOutcome::Accepted,
                format!(
                    "the server answered with a ServerHello choosing {version} and {}",
                    suite.name
                ),
            );
            hello.version = Some(version);
            hello.cipher_suite = Some(suite.name.into());
            hello
        }
        Ok(Answer::Refused { alert }) => {
            let level = if alert.level == 2 { "fatal" } else { "warning" };
            let mut hello = LegacyHello::new(
                HelloOutcome::Refused,
                format!("the server answered with a {level} alert, {alert}"),
            );
            hello.alert = Some(alert.to_string());
            hello
        }
        Ok(Answer::Closed) => LegacyHello::new(
            HelloOutcome::Refused,
            "the server closed the connection instead of answering the ClientHello",
        ),
        Ok(Answer::Unparseable(why)) => LegacyHello::new(HelloOutcome::Unknown, why),
        Err(e) => LegacyHello::new(HelloOutcome::Unknown, e.to_string()),
    }
}

/// A probe's claim on an address's one-at-a-time lock. Dropped, answered
/// or cancelled (a domain's time budget running out drops its probes), it
/// forgets the lock when no other claim holds it, so the map does not grow
/// with the run: forgetting it only after a probe finished kept the
/// addresses of cancelled probes for the rest of the run.
struct AddressLock<'a> {
    map: &'a Mutex<HashMap<IpAddr, Arc<Semaphore>>>,
    ip: IpAddr,
    /// `None` only inside `drop`.
    lock: Option<Arc<Semaphore>>,
}

impl AddressLock<'_> {
    async fn acquire(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.lock.as_ref()?.acquire().await.ok()
    }
}

impl Drop for AddressLock<'_> {
    fn drop(&mut self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        // Let go of this claim under the map's lock, so two claims dropped
        // at once cannot each see the other and both keep the entry.
        if let Some(lock) = self.lock.take()
            && Arc::strong_count(&lock) == 2
        {
            map.remove(&self.ip);
        }
    }
}

impl Prober for LiveProber {
    fn smtp<'a>(&'a self, target: &'a SmtpTarget) -> ProbeFuture<'a, SmtpProbe> {
        Box::pin(async move {
            match self.smtp_results.get_value_or_guard_async(target).await {
                Ok(probe) => probe,
                Err(guard) => {
                    let probe = self.probe_smtp(target).await;
                    let _ = guard.insert(probe.clone());
                    probe
                }
            }
        })
    }

    fn https<'a>(&'a self, url: &'a str, addresses: &'a [IpAddr]) -> ProbeFuture<'a, HttpsFetch> {
        Box::pin(async move {
            if !self.config.https {
                return HttpsFetch::status(HttpsStatus::NotProbed, Some("HTTPS fetches are off".into()));
            }
            let result = {
                let _slot = self.connections.acquire().await;
                crate::fetch(url, addresses, &self.config.fetch).await
            };
            let mut fetch = https_evidence(result);
            fetch.addresses = addresses.to_vec();
            fetch
        })
    }
}

/// A probe's outcome as evidence.
pub fn smtp_evidence(result: Result<crate::TlsCapture, ProbeError>) -> SmtpProbe {
    let capture = match result {
        Ok(c) => c,
        Err(e) => return smtp_failure(e),
    };
    let mut probe = SmtpProbe::status(SmtpStatus::Tls, None);
    if !capture.signature_verified {
        probe.detail = Some(
            "the server's handshake signature could not be verified (key or algorithm below what rustls accepts, e.g. RSA under 2048 bits); the chain is recorded as presented".into(),
        );
    }
    probe.greeting = Some(capture.greeting.to_string());
    probe.ehlo_keywords = capture.ehlo.ehlo_keywords();
    probe.pre_handshake_bytes = capture
        .pre_handshake_bytes
        .as_ref()
        .map(|b| b.escape_ascii().to_string());
    probe.tls = Some(TlsSession {
        version: capture.tls_version,
        cipher_suite: capture.cipher_suite,
        key_exchange_group: capture.key_exchange_group,
        chain: capture.chain.into_iter().map(Der).collect(),
    });
    probe
}

fn smtp_failure(e: ProbeError) -> SmtpProbe {
    let detail = Some(e.to_string());
    let mut probe = SmtpProbe::status(SmtpStatus::SmtpError, detail);
    probe.status = match e {
        ProbeError::InvalidEhloName(_) | ProbeError::InvalidServerName(_) => SmtpStatus::NotProbed,
        ProbeError::ConnectionRefused { .. } => SmtpStatus::Unreachable,
        ProbeError::Connect { source, .. } if no_route(&source) => SmtpStatus::NoRoute,
        ProbeError::Connect { .. } => SmtpStatus::Unreachable,
        ProbeError::Timeout {
            stage: SmtpStage::Connect,
            ..
        } => SmtpStatus::Unreachable,
        ProbeError::Timeout { .. } => SmtpStatus::Timeout,
        ProbeError::Closed {
            stage: SmtpStage::Handshake,
        }
        | ProbeError::Io {
            stage: SmtpStage::Handshake,
            ..
        } => SmtpStatus::HandshakeFailed,
        ProbeError::Closed { .. } | ProbeError::Io { .. } | ProbeError::Protocol { .. } => SmtpStatus::SmtpError,
        ProbeError::Rejected { reply, .. } => {
            probe.reply = Some(reply.to_string());
            SmtpStatus::SmtpError
        }
        ProbeError::NoStartTls { ehlo } => {
            probe.ehlo_keywords = ehlo.ehlo_keywords();
            SmtpStatus::NoStarttls
        }
        ProbeError::StartTlsRefused { reply } => {
            probe.reply = Some(reply.to_string());
            SmtpStatus::StarttlsRefused
        }
        ProbeError::Handshake { alert, .. } => {
            probe.alert = alert;
            SmtpStatus::HandshakeFailed
        }
    };
    probe
}

/// Errors that say the scanner has no path there (no IPv6 here, say),
/// not that the server is down.
fn no_route(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NetworkUnreachable | io::ErrorKind::HostUnreachable | io::ErrorKind::AddrNotAvailable
    )
}

/// A fetch's outcome as evidence.
pub fn https_evidence(result: Result<crate::https::Response, FetchFailure>) -> HttpsFetch {
    let response = match result {
        Ok(r) => r,
        Err(f) => return https_failure(f),
    };
    let mut fetch = HttpsFetch::status(HttpsStatus::Fetched, None);
    fetch.address = Some(response.address);
    fetch.http_status = Some(response.status);
    fetch.content_type = response.content_type;
    fetch.tls_version = Some(response.tls_version);
    fetch.chain = response.chain.into_iter().map(Der).collect();
    match String::from_utf8(response.body) {
        Ok(body) => fetch.body = Some(body),
        Err(e) => {
            fetch.status = HttpsStatus::NotUtf8;
            fetch.detail = Some(format!(
                "the body is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ));
        }
    }
    fetch
}

fn https_failure(f: FetchFailure) -> HttpsFetch {
    let mut fetch = HttpsFetch::status(HttpsStatus::HttpError, Some(f.to_string()));
    fetch.status = match f {
        FetchFailure::InvalidUrl { .. } => HttpsStatus::InvalidUrl,
        FetchFailure::NoAddresses => HttpsStatus::NoAddresses,
        FetchFailure::EgressRefused { .. } => HttpsStatus::EgressRefused,
        FetchFailure::Connect { address, .. } => {
            fetch.address = Some(address);
            HttpsStatus::Unreachable
        }
        FetchFailure::Timeout { address, stage, .. } => {
            fetch.address = Some(address);
            if stage == HttpsStage::Connect {
                HttpsStatus::Unreachable
            } else {
                HttpsStatus::Timeout
            }
        }
        FetchFailure::Tls {
            address,
            problem,
            chain,
            ..
        } => {
            fetch.address = Some(address);
            fetch.tls_problem = Some(tls_problem_name(problem).into());
            fetch.chain = chain.into_iter().map(Der).collect();
            HttpsStatus::TlsFailed
        }
        FetchFailure::Redirect {
            address,
            status,
            location,
        } => {
            fetch.address = Some(address);
            fetch.http_status = Some(status);
            fetch.location = location;
            HttpsStatus::Redirect
        }
        FetchFailure::Status { address, code } => {
            fetch.address = Some(address);
            fetch.http_status = Some(code);
            HttpsStatus::HttpStatus
        }
        FetchFailure::ContentType { address, got } => {
            fetch.address = Some(address);
            fetch.content_type = got;
            HttpsStatus::HttpError
        }
        FetchFailure::TooLarge { address, .. } => {
            fetch.address = Some(address);
            HttpsStatus::TooLarge
        }
        FetchFailure::NotUtf8 { address, .. } => {
            fetch.address = Some(address);
            HttpsStatus::NotUtf8
        }
        FetchFailure::Http { address, .. } => {
            fetch.address = Some(address);
            HttpsStatus::HttpError
        }
    };
    fetch
}

fn tls_problem_name(p: crate::https::TlsProblem) -> &'static str {
    use crate::https::TlsProblem as P;
    match p {
        P::Name => "name",
        P::Untrusted => "untrusted",
        P::Expired => "expired",
        P::NotYetValid => "not-yet-valid",
        P::Certificate => "certificate",
        P::Handshake => "handshake",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_server::{Behaviour, FakeSmtp};

    fn config(port: u16) -> ProbeConfig {
        ProbeConfig {
            smtp_port: port,
            allow_private: true,
            smtp_timeout: Duration::from_secs(5),
            ..ProbeConfig::default()
        }
    }

    #[tokio::test]
    async fn the_per_address_map_forgets_an_address_whose_probe_was_cancelled() {
        let server = FakeSmtp::start(Behaviour::Silent, "mx.example.test").await;
        let prober = LiveProber::new(config(server.addr.port()));
        let target = SmtpTarget::new("mx.example.test", server.addr.ip());
        let addresses = || prober.per_address.lock().unwrap().len();
        let mut probe = Box::pin(prober.probe_smtp(&target));
        let pending = std::future::poll_fn(|cx| std::task::Poll::Ready(probe.as_mut().poll(cx).is_pending())).await;
        assert!(pending, "the silent server answers nothing");
        assert_eq!(addresses(), 1, "the probe holds its address's lock");
        // Dropped unanswered, as when a domain's time budget runs out.
        drop(probe);
        assert_eq!(addresses(), 0, "a cancelled probe's address stayed in the map");
    }

    #[tokio::test]
    async fn one_probe_per_target_shared_by_every_asker() {
        let server = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
        let prober = LiveProber::new(config(server.addr.port()));
        let target = SmtpTarget::new("mx.example.test", server.addr.ip());
        let results = ask_repeatedly(&prober, &target, 5).await;
        assert!(results.iter().all(|p| p.status == SmtpStatus::Tls), "{results:#?}");
        let ehlos = server.commands().iter().filter(|c| c.starts_with("EHLO")).count();
        assert_eq!(
            ehlos, 3,
            "five domains asked, one probe made: STARTTLS and the two legacy hellos"
        );
        let session = results[0].tls.as_ref().unwrap();
        assert_eq!(session.chain_der(), server.chain);
        assert_eq!(results[0].port, Some(server.addr.port()));
    }

    async fn ask_repeatedly(prober: &LiveProber, target: &SmtpTarget, n: usize) -> Vec<SmtpProbe> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(prober.smtp(target).await);
        }
        out
    }

    #[tokio::test]
    async fn egress_guard_refuses_loopback_without_the_flag_and_connects_nowhere() {
        let server = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
        let prober = LiveProber::new(ProbeConfig {
            allow_private: false,
            ..config(server.addr.port())
        });
        let probe = prober.smtp(&SmtpTarget::new("mx.example.test", server.addr.ip())).await;
        assert_eq!(probe.status, SmtpStatus::EgressRefused);
        assert!(
            probe.describe().contains("--allow-private-targets"),
            "{}",
            probe.describe()
        );
        assert!(server.commands().is_empty());
    }

    #[tokio::test]
    async fn failures_become_statuses() {
        for (behaviour, status) in [
            (Behaviour::NoStartTls, SmtpStatus::NoStarttls),
            (Behaviour::StartTlsRefused, SmtpStatus::StarttlsRefused),
            (Behaviour::TlsAlert, SmtpStatus::HandshakeFailed),
            (Behaviour::NotSmtp, SmtpStatus::SmtpError),
        ] {
            let server = FakeSmtp::start(behaviour, "mx.example.test").await;
            let prober = LiveProber::new(config(server.addr.port()));
            let probe = prober.smtp(&SmtpTarget::new("mx.example.test", server.addr.ip())).await;
            assert_eq!(probe.status, status, "{behaviour:?}: {probe:#?}");
        }
    }

    #[tokio::test]
    async fn a_modern_server_refuses_both_legacy_hellos_and_ssl3_is_not_asked() {
        let server = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
        let prober = LiveProber::new(config(server.addr.port()));
        let probe = prober.smtp(&SmtpTarget::new("mx.example.test", server.addr.ip())).await;
        let legacy = probe.legacy.expect("legacy probes made");
        assert_eq!(legacy.protocols.outcome, HelloOutcome::Refused, "{legacy:#?}");
        assert_eq!(legacy.ciphers.outcome, HelloOutcome::Refused, "{legacy:#?}");
        assert_eq!(
            legacy.ssl3, None,
            "a refusal of SSL 3.0..TLS 1.1 already rules SSL 3.0 out"
        );
    }

    #[tokio::test]
    async fn a_tls10_only_server_fails_the_main_handshake_and_accepts_the_legacy_hellos() {
        use crate::legacy::tests::{Script, scripted, server_hello};
        let (addr, received) = scripted(Script::Send(server_hello(0x0301, 0x000a))).await;
        let prober = LiveProber::new(config(addr.port()));
        let probe = prober.smtp(&SmtpTarget::new("mx.example.test", addr.ip())).await;
        assert_eq!(probe.status, SmtpStatus::HandshakeFailed, "{probe:#?}");
        let legacy = probe.legacy.expect("legacy probes made");
        assert_eq!(legacy.protocols.outcome, HelloOutcome::Accepted);
        assert_eq!(legacy.protocols.version.as_deref(), Some("TLSv1.0"));
        assert_eq!(
            legacy.ciphers.cipher_suite.as_deref(),
            Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA")
        );
        // TLS 1.0 accepted leaves SSL 3.0 open: asked, and a TLS 1.0
        // answer to an SSL 3.0 hello is a violation, not a verdict.
        let ssl3 = legacy.ssl3.expect("SSL 3.0 asked");
        assert_eq!(ssl3.outcome, HelloOutcome::Unknown, "{ssl3:#?}");
        assert_eq!(received.lock().unwrap().connections, 4);
    }

    #[tokio::test]
    async fn no_legacy_probe_without_starttls() {
        let server = FakeSmtp::start(Behaviour::NoStartTls, "mx.example.test").await;
        let prober = LiveProber::new(config(server.addr.port()));
        let probe = prober.smtp(&SmtpTarget::new("mx.example.test", server.addr.ip())).await;
        assert_eq!(probe.legacy, None);
        let ehlos = server.commands().iter().filter(|c| c.starts_with("EHLO")).count();
        assert_eq!(ehlos, 1);
    }

    #[tokio::test]
    async fn a_closed_port_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let prober = LiveProber::new(config(port));
        let probe = prober
            .smtp(&SmtpTarget::new("mx.example.test", "127.0.0.1".parse().unwrap()))
            .await;
        assert_eq!(probe.status, SmtpStatus::Unreachable, "{probe:#?}");
    }

    #[tokio::test]
    async fn no_smtp_makes_no_connection() {
        let server = FakeSmtp::start(Behaviour::Good, "mx.example.test").await;
        let prober = LiveProber::new(ProbeConfig {
            smtp: false,
            ..config(server.addr.port())
        });
        let probe = prober.smtp(&SmtpTarget::new("mx.example.test", server.addr.ip())).await;
        assert_eq!(probe.status, SmtpStatus::NotProbed);
        assert!(server.commands().is_empty());
    }
}
