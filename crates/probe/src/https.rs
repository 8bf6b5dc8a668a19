//! The hardened HTTPS client: the one way mailwarden fetches what a scanned
//! domain points at over the web (the MTA-STS policy now; BIMI logos and
//! report URIs later).
//!
//! A scanned domain controls the name, the addresses and the server, so the
//! client trusts none of them:
//!
//! - **No DNS here.** The caller resolves the host through mailwarden's own
//!   resolver and passes the addresses. Each one passes
//!   [`crate::egress::check_target`] and is then the address connected to,
//!   so the address checked is the address used (no DNS rebinding).
//! - **https only**, SNI and certificate name = the URL's host, roots from
//!   [`Roots`]: webpki-roots by default, or PEM CAs (`--ca-file`, tests);
//!   never the operating system's store, so verdicts do not depend on the
//!   machine. TLS is rustls with the `ring` provider.
//! - **No redirects.** RFC 8461 §3.3: "HTTP 3xx redirects MUST NOT be
//!   followed". A 3xx is an outcome of its own, with its `Location`, and
//!   the location is never contacted.
//! - **Caps.** Status 200 only; the body is streamed and cut at
//!   [`FetchOptions::max_body`] (64 KiB by default, RFC 8461 §3.3), after
//!   checking any declared `Content-Length` first; a connect timeout and a
//!   total timeout per address (one minute by default, RFC 8461 §3.3).
//! - **No cache.** Every call is a fresh connection (RFC 8461 §3.3: the
//!   policy is not to be cached by HTTP caching mechanisms).
//!
//! HTTP/1.1 is spoken with hyper over a connection this module opened
//! itself (TCP to the pinned address, then tokio-rustls), so there is no
//! connection pool, no resolver and no redirect machinery to configure
//! away. Problems with the domain's server are data ([`FetchFailure`]),
//! never a panic or an `Err` the caller must bubble up.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header;
use hyper_util::rt::TokioIo;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use crate::egress::check_target;

/// RFC 8461 §3.3 suggests policy bodies of at most 64 kilobytes.
pub const DEFAULT_MAX_BODY: usize = 64 * 1024;
/// RFC 8461 §3.3 suggests a timeout of one minute.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one TCP connect may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The path of the policy file under `https://mta-sts.<domain>` (RFC 8461 §3.2).
pub const MTA_STS_PATH: &str = "/.well-known/mta-sts.txt";
/// Longest `Location` or `Content-Type` value kept as evidence.
const MAX_HEADER_EVIDENCE: usize = 2048;

/// The trust anchors certificates are checked against: the run's one
/// [`Roots`], shared with the judges' PKIX verdicts (`mailwarden-roots`).
pub use mailwarden_roots::Roots;

/// How to fetch.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// Allow loopback, private and other non-global addresses
    /// (`--allow-private-targets`; tests). Off by default.
    pub allow_private: bool,
    /// The port to connect to when the URL names none (443; tests give the
    /// loopback server's).
    pub port: u16,
    /// Trust anchors; webpki-roots by default.
    pub roots: Roots,
    /// Longest wait for one TCP connect.
    pub connect_timeout: Duration,
    /// Longest time for one address, from connect to the last body byte.
    pub timeout: Duration,
    /// Largest body accepted, in bytes (declared or streamed).
    pub max_body: usize,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for FetchOptions {
    fn default() -> Self {
        FetchOptions {
            allow_private: false,
            port: 443,
            roots: Roots::webpki(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            max_body: DEFAULT_MAX_BODY,
            user_agent: concat!("mailwarden/", env!("CARGO_PKG_VERSION")).to_string(),
        }
    }
}

/// A 200 response, read in full.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The address that answered.
    pub address: SocketAddr,
    /// Always 200.
    pub status: u16,
    /// The `Content-Type` header as sent, when there was one.
    pub content_type: Option<String>,
    /// The body, at most [`FetchOptions::max_body`] bytes.
    pub body: Vec<u8>,
    /// The certificates the server presented, DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The negotiated protocol, `TLSv1.2` or `TLSv1.3`.
    pub tls_version: String,
}

/// A policy file fetched and accepted: 200, `text/plain`, at most the cap, UTF-8.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedPolicy {
    /// The address that answered.
    pub address: SocketAddr,
    /// Always 200.
    pub status: u16,
    /// The `Content-Type` header as sent (`text/plain`, maybe with parameters).
    pub content_type: String,
    /// The policy text, for `mailwarden_records::mta_sts::parse_policy`.
    pub body: String,
    /// The certificates the server presented, DER, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The negotiated protocol, `TLSv1.2` or `TLSv1.3`.
    pub tls_version: String,
}

/// What fetching an MTA-STS policy gave: data either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyFetch {
    Fetched(FetchedPolicy),
    Failed(FetchFailure),
}

impl PolicyFetch {
    /// The policy, when fetched.
    pub fn fetched(&self) -> Option<&FetchedPolicy> {
        match self {
            PolicyFetch::Fetched(p) => Some(p),
            PolicyFetch::Failed(_) => None,
        }
    }

    /// The failure, when there was one.
    pub fn failure(&self) -> Option<&FetchFailure> {
        match self {
            PolicyFetch::Fetched(_) => None,
            PolicyFetch::Failed(f) => Some(f),
        }
    }
}

/// Where an attempt was when it timed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Handshake,
    Response,
    Body,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "the TCP connect",
            Stage::Handshake => "the TLS handshake",
            Stage::Response => "the wait for the response",
            Stage::Body => "reading the body",
        })
    }
}

/// Why the certificate was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsProblem {
    /// The certificate is not valid for the host name.
    Name,
    /// The chain does not lead to a trusted root (self-signed, private CA,
    /// missing intermediate).
    Untrusted,
    /// A certificate in the chain has expired.
    Expired,
    /// A certificate in the chain is not valid yet.
    NotYetValid,
    /// Any other certificate problem (bad signature, wrong usage, ...).
    Certificate,
    /// The handshake failed for another reason (alert, protocol, ...).
    Handshake,
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TlsProblem::Name => "certificate not valid for the name",
            TlsProblem::Untrusted => "certificate not issued by a trusted CA",
            TlsProblem::Expired => "certificate expired",
            TlsProblem::NotYetValid => "certificate not yet valid",
            TlsProblem::Certificate => "invalid certificate",
            TlsProblem::Handshake => "TLS handshake failed",
        })
    }
}

/// Why nothing usable was fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("no address to connect to")]
    NoAddresses,
    #[error("refused to connect to {address}: {reason}")]
    EgressRefused { address: IpAddr, reason: String },
    #[error("{address}: cannot connect: {reason}")]
    Connect { address: SocketAddr, reason: String },
    #[error("{address}: timed out during {stage} (limit {limit:?})")]
    Timeout {
        address: SocketAddr,
        stage: Stage,
        limit: Duration,
    },
    #[error("{address}: {problem}: {reason}")]
    Tls {
        address: SocketAddr,
        problem: TlsProblem,
        reason: String,
        /// The certificates presented, DER, leaf first, when the server
        /// got as far as presenting them.
        chain: Vec<Vec<u8>>,
    },
    #[error("{address}: HTTP {status} redirect to {} (redirects are not followed, RFC 8461 §3.3)", .location.as_deref().unwrap_or("nowhere (no Location header)"))]
    Redirect {
        address: SocketAddr,
        status: u16,
        location: Option<String>,
    },
    #[error("{address}: HTTP status {code}, expected 200")]
    Status { address: SocketAddr, code: u16 },
    #[error("{address}: Content-Type {}, expected text/plain (RFC 8461 §3.2)", .got.as_deref().map(|g| format!("{g:?}")).unwrap_or_else(|| "missing".into()))]
    ContentType { address: SocketAddr, got: Option<String> },
    #[error("{address}: body larger than the {limit}-byte limit{}", .declared.map(|d| format!(" (Content-Length: {d})")).unwrap_or_default())]
    TooLarge {
        address: SocketAddr,
        limit: usize,
        /// The `Content-Length` the server declared, when that was the tell.
        declared: Option<u64>,
    },
    #[error("{address}: the body is not UTF-8 text (invalid byte at offset {offset})")]
    NotUtf8 { address: SocketAddr, offset: usize },
    #[error("{address}: HTTP error: {reason}")]
    Http { address: SocketAddr, reason: String },
}

impl FetchFailure {
    /// True when nothing reached the server's HTTP or TLS layer at this
    /// address (refused by the guard, no TCP connection), so the next
    /// address is worth a try.
    fn try_next(&self) -> bool {
        matches!(
            self,
            FetchFailure::EgressRefused { .. }
                | FetchFailure::Connect { .. }
                | FetchFailure::Timeout {
                    stage: Stage::Connect,
                    ..
                }
        )
    }
}

/// Fetch the MTA-STS policy of `domain` from
/// `https://mta-sts.<domain>/.well-known/mta-sts.txt` (RFC 8461 §3.2),
/// connecting to `addresses` (the caller's resolution of
/// `mta-sts.<domain>`) in turn, and accept it only as RFC 8461 says: a
/// certificate valid for `mta-sts.<domain>`, status 200 and no redirect,
/// `Content-Type: text/plain`, at most the body cap, UTF-8.
pub async fn fetch_mta_sts_policy(domain: &str, addresses: &[IpAddr], opts: &FetchOptions) -> PolicyFetch {
    let domain = domain.trim_end_matches('.').to_ascii_lowercase();
    let url = format!("https://mta-sts.{domain}{MTA_STS_PATH}");
    let response = match fetch(&url, addresses, opts).await {
        Ok(r) => r,
        Err(f) => return PolicyFetch::Failed(f),
    };
    let address = response.address;
    let content_type = match response.content_type {
        Some(ct) if media_type(&ct).eq_ignore_ascii_case("text/plain") => ct,
        got => return PolicyFetch::Failed(FetchFailure::ContentType { address, got }),
    };
    let body = match String::from_utf8(response.body) {
        Ok(b) => b,
        Err(e) => {
            return PolicyFetch::Failed(FetchFailure::NotUtf8 {
                address,
                offset: e.utf8_error().valid_up_to(),
            });
        }
    };
    PolicyFetch::Fetched(FetchedPolicy {
        address,
        status: response.status,
        content_type,
        body,
        chain: response.chain,
        tls_version: response.tls_version,
    })
}

/// `GET url` (https only) from each of `addresses` in turn, until one
/// connects: the guard refusing an address, a failed or timed-out TCP
/// connect move on to the next; anything the server said (TLS, HTTP) is
/// the outcome. With no address answering, the last failure.
///
/// The port is the URL's when it names one, else [`FetchOptions::port`].
/// Only a 200 with a body within the cap is a [`Response`]; the content
/// type is the caller's to judge.
pub async fn fetch(url: &str, addresses: &[IpAddr], opts: &FetchOptions) -> Result<Response, FetchFailure> {
    let target = Target::parse(url, opts.port)?;
    let mut last = FetchFailure::NoAddresses;
    for &ip in addresses {
        if let Err(refused) = check_target(ip, opts.allow_private) {
            last = FetchFailure::EgressRefused {
                address: ip,
                reason: refused.to_string(),
            };
            continue;
        }
        match attempt(&target, SocketAddr::new(ip, target.port), opts).await {
            Ok(r) => return Ok(r),
            Err(f) if f.try_next() => last = f,
            Err(f) => return Err(f),
        }
    }
    Err(last)
}

/// An `https://host[:port]/path` URL, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    host: String,
    port: u16,
    /// Path and query, `/` at least.
    path: String,
}

impl Target {
    fn parse(url: &str, default_port: u16) -> Result<Target, FetchFailure> {
        let bad = |reason: &str| FetchFailure::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        let uri: hyper::Uri = url.parse().map_err(|_| bad("not a URL"))?;
        if uri.scheme_str().map(|s| s.eq_ignore_ascii_case("https")) != Some(true) {
            return Err(bad("only https URLs are fetched"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not allowed"));
        }
        let host = authority.host().trim_end_matches('.').to_ascii_lowercase();
        if host.is_empty() || host.starts_with('[') {
            return Err(bad("the host must be a DNS name"));
        }
        ServerName::try_from(host.clone()).map_err(|_| bad("the host is not a valid DNS name"))?;
        let path = uri
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "/".into());
        Ok(Target {
            host,
            port: uri.port_u16().unwrap_or(default_port),
            path,
        })
    }

    /// The `Host` header: the port only when it is not 443.
    fn host_header(&self) -> String {
        if self.port == 443 {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// One address: connect, handshake, GET, read the body under the caps.
async fn attempt(target: &Target, address: SocketAddr, opts: &FetchOptions) -> Result<Response, FetchFailure> {
    let deadline = Instant::now() + opts.timeout;
    let timeout = |stage| FetchFailure::Timeout {
        address,
        stage,
        limit: if stage == Stage::Connect {
            opts.connect_timeout.min(opts.timeout)
        } else {
            opts.timeout
        },
    };
    let http = |reason: String| FetchFailure::Http { address, reason };

    let connect_deadline = deadline.min(Instant::now() + opts.connect_timeout);
    let tcp = match timeout_at(connect_deadline, TcpStream::connect(address)).await {
        Err(_) => return Err(timeout(Stage::Connect)),
        Ok(Err(e)) => {
            return Err(FetchFailure::Connect {
                address,
                reason: connect_reason(&e),
            });
        }
        Ok(Ok(s)) => s,
    };
    let _ = tcp.set_nodelay(true);

    let server_name = ServerName::try_from(target.host.clone()).map_err(|_| FetchFailure::InvalidUrl {
        url: target.host.clone(),
        reason: "the host is not a valid DNS name".into(),
    })?;
    let (config, seen_chain) = client_config(&opts.roots).map_err(|reason| FetchFailure::Tls {
        address,
        problem: TlsProblem::Handshake,
        reason,
        chain: Vec::new(),
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let tls = match timeout_at(deadline, connector.connect(server_name, tcp)).await {
        Err(_) => return Err(timeout(Stage::Handshake)),
        Ok(Err(e)) => {
            let chain = seen_chain.lock().map(|c| c.clone()).unwrap_or_default();
            return Err(tls_failure(address, &e, chain));
        }
        Ok(Ok(tls)) => tls,
    };
    let (tls_version, chain) = {
        let conn = tls.get_ref().1;
        (
            conn.protocol_version().map(version_name).unwrap_or_default(),
            conn.peer_certificates()
                .unwrap_or_default()
                .iter()
                .map(|c| c.as_ref().to_vec())
                .collect::<Vec<_>>(),
        )
    };

    let (mut sender, conn) = match timeout_at(
        deadline,
        hyper::client::conn::http1::Builder::new()
            .max_buf_size(64 * 1024)
            .handshake::<_, Empty<Bytes>>(TokioIo::new(tls)),
    )
    .await
    {
        Err(_) => return Err(timeout(Stage::Response)),
        Ok(Err(e)) => return Err(http(e.to_string())),
        Ok(Ok(pair)) => pair,
    };
    // The connection task ends with the connection; aborting it on every
    // way out of this function closes the socket.
    let driver = AbortOnDrop(tokio::spawn(async move {
        let _ = conn.await;
    }));

    let request = hyper::Request::get(target.path.as_str())
        .header(header::HOST, target.host_header())
        .header(header::USER_AGENT, opts.user_agent.as_str())
        .header(header::ACCEPT, "*/*")
        .header(header::CACHE_CONTROL, "no-cache")
        .header(header::CONNECTION, "close")
        .body(Empty::<Bytes>::new())
        .map_err(|e| http(e.to_string()))?;
    let response = match timeout_at(deadline, sender.send_request(request)).await {
        Err(_) => return Err(timeout(Stage::Response)),
        Ok(Err(e)) => return Err(http(e.to_string())),
        Ok(Ok(r)) => r,
    };

    let status = response.status().as_u16();
    if response.status().is_redirection() {
        let location = response.headers().get(header::LOCATION).map(|v| evidence(v.as_bytes()));
        return Err(FetchFailure::Redirect {
            address,
            status,
            location,
        });
    }
    if status != 200 {
        return Err(FetchFailure::Status { address, code: status });
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| evidence(v.as_bytes()));
    let declared = response
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(d) = declared
        && d > opts.max_body as u64
    {
        return Err(FetchFailure::TooLarge {
            address,
            limit: opts.max_body,
            declared: Some(d),
        });
    }

    let mut body_stream = response.into_body();
    let mut body = Vec::new();
    loop {
        let frame = match timeout_at(deadline, body_stream.frame()).await {
            Err(_) => return Err(timeout(Stage::Body)),
            Ok(None) => break,
            Ok(Some(Err(e))) => return Err(http(format!("reading the body: {e}"))),
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            if body.len() + data.len() > opts.max_body {
                return Err(FetchFailure::TooLarge {
                    address,
                    limit: opts.max_body,
                    declared: None,
                });
            }
            body.extend_from_slice(&data);
        }
    }
    drop(driver);
    Ok(Response {
        address,
        status,
        content_type,
        body,
        chain,
        tls_version,
    })
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The media type of a `Content-Type` value: before any `;`, trimmed.
fn media_type(content_type: &str) -> &str {
    content_type.split(';').next().unwrap_or("").trim()
}

/// A header value as printable evidence: lossy UTF-8, control characters
/// replaced, at most 2 KiB.
fn evidence(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(MAX_HEADER_EVIDENCE)];
    String::from_utf8_lossy(cut)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

fn connect_reason(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => "unreachable".into(),
        _ => e.to_string(),
    }
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        other => format!("{other:?}"),
    }
}

fn tls_failure(address: SocketAddr, e: &io::Error, chain: Vec<Vec<u8>>) -> FetchFailure {
    let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) else {
        let reason = match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                "the server closed the connection during the handshake".to_string()
            }
            _ => e.to_string(),
        };
        return FetchFailure::Tls {
            address,
            problem: TlsProblem::Handshake,
            reason,
            chain,
        };
    };
    let problem = match tls {
        rustls::Error::InvalidCertificate(c) => match c {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => TlsProblem::Name,
            CertificateError::UnknownIssuer => TlsProblem::Untrusted,
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => TlsProblem::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => TlsProblem::NotYetValid,
            _ => TlsProblem::Certificate,
        },
        _ => TlsProblem::Handshake,
    };
    FetchFailure::Tls {
        address,
        problem,
        reason: tls.to_string(),
        chain,
    }
}

type SeenChain = Arc<Mutex<Vec<Vec<u8>>>>;

/// TLS 1.2 and 1.3, ring, HTTP/1.1 by ALPN, certificates verified by
/// webpki against `roots`, and the presented chain recorded even when it
/// fails verification (evidence for the finding).
fn client_config(roots: &Roots) -> Result<(Arc<rustls::ClientConfig>, SeenChain), String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let store = RootCertStore {
        roots: roots.anchors().to_vec(),
    };
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let seen: SeenChain = Arc::default();
    let verifier = Recording {
        inner,
        seen: seen.clone(),
    };
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), seen))
}

/// The webpki verifier, unchanged, plus a copy of the chain it was shown.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    seen: SeenChain,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut seen) = self.seen.lock() {
            *seen = std::iter::once(end_entity)
                .chain(intermediates)
                .map(|c| c.as_ref().to_vec())
                .collect();
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_with_a_dns_host() {
        let t = Target::parse("https://MTA-STS.Example.com./.well-known/mta-sts.txt", 443).unwrap();
        assert_eq!(
            t,
            Target {
                host: "mta-sts.example.com".into(),
                port: 443,
                path: "/.well-known/mta-sts.txt".into()
            }
        );
        assert_eq!(t.host_header(), "mta-sts.example.com");
        let t = Target::parse("https://a.example:8443/x?y=1", 443).unwrap();
        assert_eq!(
            (t.port, t.path.as_str(), t.host_header().as_str()),
            (8443, "/x?y=1", "a.example:8443")
        );
        assert_eq!(Target::parse("https://a.example", 4443).unwrap().port, 4443);
        assert_eq!(Target::parse("https://a.example", 4443).unwrap().path, "/");
        for bad in [
            "http://a.example/",
            "ftp://a.example/",
            "https://user:pw@a.example/",
            "https://[::1]/",
            "a.example/x",
            "https://",
            "https://bad_name!.example/",
        ] {
            assert!(
                matches!(Target::parse(bad, 443), Err(FetchFailure::InvalidUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn media_type_ignores_parameters() {
        assert_eq!(media_type("text/plain"), "text/plain");
        assert_eq!(media_type("Text/Plain ; charset=utf-8"), "Text/Plain");
        assert_eq!(media_type("text/html"), "text/html");
        assert_eq!(media_type(""), "");
    }

    #[test]
    fn evidence_is_printable_and_bounded() {
        assert_eq!(
            evidence(b"https://x.example/\r\nSet-Cookie"),
            "https://x.example/\u{fffd}\u{fffd}Set-Cookie"
        );
        assert_eq!(evidence(&[b'a'; 5000]).len(), MAX_HEADER_EVIDENCE);
    }

    #[test]
    fn roots_from_pem_need_a_certificate() {
        assert!(Roots::from_pem(b"").is_err());
        assert!(Roots::from_pem(b"-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n").is_err());
        assert!(Roots::webpki().len() > 50);
    }

    #[tokio::test]
    async fn no_addresses_and_refused_addresses_never_connect() {
        let opts = FetchOptions::default();
        assert_eq!(
            fetch_mta_sts_policy("example.com", &[], &opts).await,
            PolicyFetch::Failed(FetchFailure::NoAddresses)
        );
        // Non-global addresses are refused by the guard before any socket is opened.
        let out = fetch_mta_sts_policy(
            "example.com",
            &["10.0.0.1".parse().unwrap(), "169.254.169.254".parse().unwrap()],
            &opts,
        )
        .await;
        match out {
            PolicyFetch::Failed(FetchFailure::EgressRefused { address, reason }) => {
                assert_eq!(address, "169.254.169.254".parse::<IpAddr>().unwrap());
                assert!(reason.contains("link-local"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn messages_say_what_happened() {
        let address: SocketAddr = "192.0.2.1:443".parse().unwrap();
        let m = FetchFailure::Redirect {
            address,
            status: 301,
            location: Some("https://elsewhere.example/".into()),
        }
        .to_string();
        assert!(
            m.contains("301") && m.contains("https://elsewhere.example/") && m.contains("not followed"),
            "{m}"
        );
        let m = FetchFailure::ContentType { address, got: None }.to_string();
        assert!(m.contains("missing") && m.contains("text/plain"), "{m}");
        let m = FetchFailure::TooLarge {
            address,
            limit: 65536,
            declared: Some(70000),
        }
        .to_string();
        assert!(m.contains("65536") && m.contains("Content-Length: 70000"), "{m}");
        let m = FetchFailure::Tls {
            address,
            problem: TlsProblem::Name,
            reason: "x".into(),
            chain: vec![],
        }
        .to_string();
        assert!(m.contains("not valid for the name"), "{m}");
    }
}
