//! The hardened HTTPS client against a tiny HTTPS server on 127.0.0.1
//! (OS-assigned ports, certificates made by rcgen in the test). Nothing
//! here leaves loopback: the client has no resolver, and every address it
//! is given is 127.0.0.x.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mailwarden_probe::https::{
    FetchFailure, FetchOptions, PolicyFetch, Roots, Stage, TlsProblem, fetch, fetch_mta_sts_policy,
};
use mailwarden_records::mta_sts::{Mode, parse_policy};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

const DOMAIN: &str = "example.test";
const HOST: &str = "mta-sts.example.test";
const POLICY: &str =
    "version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.mail.example.test\r\nmax_age: 604800\r\n";
const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

// --- certificates -----------------------------------------------------------

struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
    pem: String,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        let (der, pem) = (cert.der().to_vec(), cert.pem());
        Ca { params, key, der, pem }
    }

    fn roots(&self) -> Roots {
        Roots::from_der([self.der.as_slice()]).unwrap()
    }

    /// A leaf for `host` signed by this CA: (chain leaf first, key).
    fn leaf(&self, host: &str) -> Identity {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, host);
        let issuer = Issuer::from_params(&self.params, &self.key);
        let leaf = params.signed_by(&key, &issuer).unwrap();
        Identity {
            chain: vec![leaf.der().to_vec(), self.der.clone()],
            key: key.serialize_der(),
        }
    }
}

struct Identity {
    chain: Vec<Vec<u8>>,
    key: Vec<u8>,
}

fn self_signed(host: &str) -> Identity {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec![host.to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, host);
    let cert = params.self_signed(&key).unwrap();
    Identity {
        chain: vec![cert.der().to_vec()],
        key: key.serialize_der(),
    }
}

// --- the server -------------------------------------------------------------

#[derive(Clone)]
enum Script {
    /// Read the request head, write these bytes, close.
    Respond(Vec<u8>),
    /// Accept the TCP connection and never say anything (no TLS).
    Silent,
    /// Complete the TLS handshake, read the request, never answer.
    SilentAfterTls,
    /// A 200 with a chunked body that never ends.
    Endless,
}

#[derive(Default)]
struct Seen {
    connections: usize,
    requests: Vec<String>,
    sni: Vec<Option<String>>,
}

struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    async fn start(identity: &Identity, script: Script) -> Server {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                identity.chain.iter().map(|c| CertificateDer::from(c.clone())).collect(),
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(identity.key.clone())),
            )
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                shared.lock().unwrap().connections += 1;
                let (acceptor, seen, script) = (acceptor.clone(), shared.clone(), script.clone());
                tokio::spawn(async move {
                    if let Script::Silent = script {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        drop(tcp);
                        return;
                    }
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let sni = tls.get_ref().1.server_name().map(str::to_string);
                    seen.lock().unwrap().sni.push(sni);
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16384 {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    seen.lock()
                        .unwrap()
                        .requests
                        .push(String::from_utf8_lossy(&head).into_owned());
                    match script {
                        Script::Respond(bytes) => {
                            let _ = tls.write_all(&bytes).await;
                            let _ = tls.shutdown().await;
                        }
                        Script::SilentAfterTls => tokio::time::sleep(Duration::from_secs(3600)).await,
                        Script::Endless => {
                            let head =
                                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
                            if tls.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let chunk = format!("2000\r\n{}\r\n", "x".repeat(0x2000));
                            while tls.write_all(chunk.as_bytes()).await.is_ok() {}
                        }
                        Script::Silent => unreachable!(),
                    }
                });
            }
        });
        Server { addr, seen, task }
    }

    fn connections(&self) -> usize {
        self.seen.lock().unwrap().connections
    }

    fn requests(&self) -> Vec<String> {
        self.seen.lock().unwrap().requests.clone()
    }
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8], content_length: bool) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if content_length {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn text(body: &str) -> Script {
    Script::Respond(response(
        "200 OK",
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
        true,
    ))
}

fn opts(roots: Roots, port: u16) -> FetchOptions {
    FetchOptions {
        allow_private: true,
        port,
        roots,
        connect_timeout: Duration::from_secs(5),
        timeout: Duration::from_secs(10),
        ..FetchOptions::default()
    }
}

/// A server with a valid certificate for `mta-sts.example.test` and the
/// options that trust it.
async fn serve(script: Script) -> (Server, FetchOptions) {
    let ca = Ca::new("mailwarden test CA");
    let server = Server::start(&ca.leaf(HOST), script).await;
    let o = opts(ca.roots(), server.addr.port());
    (server, o)
}

async fn policy(o: &FetchOptions) -> PolicyFetch {
    fetch_mta_sts_policy(DOMAIN, &[LOOPBACK], o).await
}

fn failure(out: PolicyFetch) -> FetchFailure {
    match out {
        PolicyFetch::Failed(f) => f,
        PolicyFetch::Fetched(p) => panic!("expected a failure, fetched {p:?}"),
    }
}

// --- the good case ----------------------------------------------------------

#[tokio::test]
async fn a_good_policy_is_fetched_from_the_pinned_address_and_parses() {
    let (server, o) = serve(text(POLICY)).await;
    let PolicyFetch::Fetched(got) = policy(&o).await else {
        panic!("not fetched")
    };
    assert_eq!(got.address, server.addr);
    assert_eq!(got.status, 200);
    assert_eq!(got.content_type, "text/plain");
    assert_eq!(got.body, POLICY);
    assert_eq!(got.chain.len(), 2, "leaf and CA as presented");
    assert!(got.tls_version.starts_with("TLSv1."), "{}", got.tls_version);
    let parsed = parse_policy(got.body.as_bytes());
    assert!(parsed.is_valid(), "{:?}", parsed.diagnostics);
    assert_eq!(parsed.mode, Some(Mode::Enforce));
    assert_eq!(parsed.max_age, Some(604800));
    assert_eq!(parsed.mx.len(), 2);

    // The name was never resolved (example.test does not exist): the
    // client connected to the address it was given, with SNI and Host =
    // mta-sts.<domain>, for the well-known path, with no cache.
    let seen = server.seen.lock().unwrap();
    assert_eq!(seen.connections, 1);
    assert_eq!(seen.sni, vec![Some(HOST.to_string())]);
    let request = seen.requests[0].to_ascii_lowercase();
    assert!(
        request.starts_with("get /.well-known/mta-sts.txt http/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains(&format!("\r\nhost: {HOST}:{}\r\n", server.addr.port())),
        "{request}"
    );
    assert!(request.contains("\r\ncache-control: no-cache\r\n"), "{request}");
}

#[tokio::test]
async fn the_general_fetch_returns_any_200_body_and_leaves_the_content_type_to_the_caller() {
    let body = b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>";
    let (server, o) = serve(Script::Respond(response(
        "200 OK",
        &[("Content-Type", "image/svg+xml")],
        body,
        true,
    )))
    .await;
    let url = format!("https://{HOST}:{}/logo.svg", server.addr.port());
    let got = fetch(&url, &[LOOPBACK], &o).await.unwrap();
    assert_eq!(got.body, body);
    assert_eq!(got.content_type.as_deref(), Some("image/svg+xml"));
    assert!(server.requests()[0].starts_with("GET /logo.svg HTTP/1.1\r\n"));
    // ...and refuses anything but https, without connecting.
    let http = fetch(
        &format!("http://{HOST}:{}/logo.svg", server.addr.port()),
        &[LOOPBACK],
        &o,
    )
    .await;
    assert!(matches!(http, Err(FetchFailure::InvalidUrl { .. })), "{http:?}");
    assert_eq!(server.connections(), 1);
}

// --- redirects ----------------------------------------------------------------

#[tokio::test]
async fn a_redirect_is_reported_and_its_location_never_contacted() {
    let (target, _) = serve(text(POLICY)).await;
    let location = format!("https://127.0.0.1:{}/.well-known/mta-sts.txt", target.addr.port());
    for status in [
        "301 Moved Permanently",
        "302 Found",
        "307 Temporary Redirect",
        "308 Permanent Redirect",
    ] {
        let (server, o) = serve(Script::Respond(response(status, &[("Location", &location)], b"", true))).await;
        match failure(policy(&o).await) {
            FetchFailure::Redirect {
                address,
                status: code,
                location: got,
            } => {
                assert_eq!(address, server.addr);
                assert_eq!(code.to_string(), status[..3]);
                assert_eq!(got.as_deref(), Some(location.as_str()));
            }
            other => panic!("{status}: {other:?}"),
        }
        assert_eq!(server.requests().len(), 1);
    }
    assert_eq!(target.connections(), 0, "the redirect target was contacted");
    // A 3xx without a Location is still a redirect, not a status.
    let (_server, o) = serve(Script::Respond(response("302 Found", &[], b"", true))).await;
    let f = failure(policy(&o).await);
    assert!(matches!(f, FetchFailure::Redirect { location: None, .. }), "{f:?}");
    assert!(f.to_string().contains("no Location"), "{f}");
}

// --- status -------------------------------------------------------------------

#[tokio::test]
async fn only_status_200_is_accepted() {
    for (status, code) in [
        ("404 Not Found", 404),
        ("500 Internal Server Error", 500),
        ("204 No Content", 204),
    ] {
        let (server, o) = serve(Script::Respond(response(
            status,
            &[("Content-Type", "text/plain")],
            b"",
            status != "204 No Content",
        )))
        .await;
        assert_eq!(
            failure(policy(&o).await),
            FetchFailure::Status {
                address: server.addr,
                code
            },
            "{status}"
        );
    }
}

// --- content type -------------------------------------------------------------

#[tokio::test]
async fn content_type_must_be_text_plain_with_any_parameters() {
    for accepted in [
        "text/plain",
        "text/plain; charset=utf-8",
        "TEXT/Plain ;charset=\"us-ascii\"",
    ] {
        let (_server, o) = serve(Script::Respond(response(
            "200 OK",
            &[("Content-Type", accepted)],
            POLICY.as_bytes(),
            true,
        )))
        .await;
        let PolicyFetch::Fetched(got) = policy(&o).await else {
            panic!("{accepted} refused")
        };
        assert_eq!(got.content_type, accepted);
    }
    for refused in [
        "text/html",
        "text/plain-ish",
        "application/octet-stream",
        "text/html; x=text/plain",
    ] {
        let (_server, o) = serve(Script::Respond(response(
            "200 OK",
            &[("Content-Type", refused)],
            POLICY.as_bytes(),
            true,
        )))
        .await;
        match failure(policy(&o).await) {
            FetchFailure::ContentType { got, .. } => assert_eq!(got.as_deref(), Some(refused)),
            other => panic!("{refused}: {other:?}"),
        }
    }
    let (_server, o) = serve(Script::Respond(response("200 OK", &[], POLICY.as_bytes(), true))).await;
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::ContentType { got: None, .. }
    ));
}

// --- size ---------------------------------------------------------------------

#[tokio::test]
async fn a_body_at_the_cap_is_accepted() {
    let body = "#".repeat(64 * 1024);
    for content_length in [true, false] {
        let (_server, o) = serve(Script::Respond(response(
            "200 OK",
            &[("Content-Type", "text/plain")],
            body.as_bytes(),
            content_length,
        )))
        .await;
        let PolicyFetch::Fetched(got) = policy(&o).await else {
            panic!("refused, content-length {content_length}")
        };
        assert_eq!(got.body.len(), 64 * 1024);
    }
}

#[tokio::test]
async fn a_body_over_the_cap_is_too_large_declared_or_streamed() {
    let body = "#".repeat(70 * 1024);
    // Declared: refused on the Content-Length, before the body is read.
    let (_server, o) = serve(Script::Respond(response(
        "200 OK",
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
        true,
    )))
    .await;
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::TooLarge {
            limit: 65536,
            declared: Some(71680),
            ..
        }
    ));
    // A Content-Length that claims too much is refused even if the body is small.
    let lying =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 100000\r\n\r\nversion: STSv1\r\n".to_vec();
    let (_server, o) = serve(Script::Respond(lying)).await;
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::TooLarge {
            declared: Some(100000),
            ..
        }
    ));
    // Undeclared (read to the close): the streaming cap.
    let (_server, o) = serve(Script::Respond(response(
        "200 OK",
        &[("Content-Type", "text/plain")],
        body.as_bytes(),
        false,
    )))
    .await;
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::TooLarge { declared: None, .. }
    ));
    // Chunked, and never ending: the cap stops reading long before the timeout.
    let (_server, o) = serve(Script::Endless).await;
    let started = Instant::now();
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::TooLarge { declared: None, .. }
    ));
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    // A smaller configured cap applies too.
    let (_server, mut o) = serve(text(POLICY)).await;
    o.max_body = 16;
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::TooLarge { limit: 16, .. }
    ));
}

// --- UTF-8 --------------------------------------------------------------------

#[tokio::test]
async fn the_policy_must_be_utf8() {
    let good = format!("{POLICY}# café\r\n");
    let (_server, o) = serve(text(&good)).await;
    assert_eq!(policy(&o).await.fetched().map(|p| p.body.as_str()), Some(good.as_str()));
    let bad = b"version: STSv1\r\nmode: \xff\r\n".to_vec();
    let (_server, o) = serve(Script::Respond(response(
        "200 OK",
        &[("Content-Type", "text/plain")],
        &bad,
        true,
    )))
    .await;
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::NotUtf8 { offset: 22, .. }
    ));
}

// --- certificates -------------------------------------------------------------

#[tokio::test]
async fn a_certificate_for_another_name_is_a_tls_name_failure() {
    let ca = Ca::new("mailwarden test CA");
    let server = Server::start(&ca.leaf("www.example.test"), text(POLICY)).await;
    let o = opts(ca.roots(), server.addr.port());
    match failure(policy(&o).await) {
        FetchFailure::Tls {
            problem, reason, chain, ..
        } => {
            assert_eq!(problem, TlsProblem::Name, "{reason}");
            assert_eq!(chain.len(), 2, "the chain presented is kept as evidence");
        }
        other => panic!("{other:?}"),
    }
    assert!(server.requests().is_empty(), "no request after a failed handshake");
}

#[tokio::test]
async fn an_untrusted_certificate_is_a_tls_untrusted_failure() {
    // Self-signed, not among the roots.
    let ca = Ca::new("mailwarden test CA");
    let server = Server::start(&self_signed(HOST), text(POLICY)).await;
    let o = opts(ca.roots(), server.addr.port());
    let f = failure(policy(&o).await);
    assert!(
        matches!(
            f,
            FetchFailure::Tls {
                problem: TlsProblem::Untrusted,
                ..
            }
        ),
        "{f:?}"
    );
    assert!(f.to_string().contains("not issued by a trusted CA"), "{f}");

    // Signed by a CA that is not the one configured.
    let other = Ca::new("another CA");
    let server = Server::start(&ca.leaf(HOST), text(POLICY)).await;
    let o = opts(other.roots(), server.addr.port());
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::Tls {
            problem: TlsProblem::Untrusted,
            ..
        }
    ));

    // The default roots are webpki-roots, never the OS store or a test CA.
    let o = opts(Roots::default(), server.addr.port());
    assert!(matches!(
        failure(policy(&o).await),
        FetchFailure::Tls {
            problem: TlsProblem::Untrusted,
            ..
        }
    ));

    // The same CA given as PEM (`--ca-file`) is trusted.
    let o = opts(Roots::from_pem(ca.pem.as_bytes()).unwrap(), server.addr.port());
    assert!(policy(&o).await.fetched().is_some());
}

// --- timeouts -----------------------------------------------------------------

#[tokio::test]
async fn a_server_that_never_answers_times_out_within_the_configured_time() {
    const LIMIT: Duration = Duration::from_secs(1);
    for (script, stage) in [
        (Script::Silent, Stage::Handshake),
        (Script::SilentAfterTls, Stage::Response),
    ] {
        let (server, mut o) = serve(script).await;
        o.timeout = LIMIT;
        let started = Instant::now();
        let f = failure(policy(&o).await);
        let took = started.elapsed();
        assert_eq!(
            f,
            FetchFailure::Timeout {
                address: server.addr,
                stage,
                limit: LIMIT
            }
        );
        assert!(took >= LIMIT && took < LIMIT * 4, "{took:?}");
    }
    // The same limit is plenty for a server that answers.
    let (_server, mut o) = serve(text(POLICY)).await;
    o.timeout = LIMIT;
    assert!(policy(&o).await.fetched().is_some());
}

// --- egress -------------------------------------------------------------------

#[tokio::test]
async fn loopback_is_refused_without_a_connection_unless_private_targets_are_allowed() {
    let (server, mut o) = serve(text(POLICY)).await;
    o.allow_private = false;
    match failure(policy(&o).await) {
        FetchFailure::EgressRefused { address, reason } => {
            assert_eq!(address, LOOPBACK);
            assert!(reason.contains("loopback"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(server.connections(), 0, "a refused address was connected to");
    o.allow_private = true;
    assert!(policy(&o).await.fetched().is_some());
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn addresses_are_tried_in_turn_until_one_connects() {
    // The server listens on 127.0.0.1 only; 127.0.0.2 refuses the connection.
    let (server, o) = serve(text(POLICY)).await;
    let dead: IpAddr = "127.0.0.2".parse().unwrap();
    let got = fetch_mta_sts_policy(DOMAIN, &[dead, LOOPBACK], &o).await;
    assert_eq!(got.fetched().map(|p| p.address), Some(server.addr));
    let f = fetch_mta_sts_policy(DOMAIN, &[dead], &o).await;
    assert!(
        matches!(f.failure(), Some(FetchFailure::Connect { address, .. }) if address.ip() == dead),
        "{f:?}"
    );
    // An answer from the server (here a 404) is the outcome: the next
    // address is not tried.
    let (first, o) = serve(Script::Respond(response("404 Not Found", &[], b"", true))).await;
    let f = fetch_mta_sts_policy(DOMAIN, &[LOOPBACK, dead], &o).await;
    assert_eq!(
        f.failure(),
        Some(&FetchFailure::Status {
            address: first.addr,
            code: 404
        })
    );
}
