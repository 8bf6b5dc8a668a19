//! Webhook delivery: the alert as a JSON POST, signed with HMAC-SHA256 over
//! the timestamp and body, with an idempotency key so a receiver can drop the
//! duplicates at-least-once delivery produces.
//!
//! Headers sent:
//! - `Idempotency-Key`: the alert's key as a structured-field string
//!   (draft-ietf-httpapi-idempotency-key-header: `Idempotency-Key: "..."`),
//!   the same on every retry of one alert.
//! - `X-Mailwarden-Timestamp`: Unix seconds at sending.
//! - `X-Mailwarden-Signature`: `sha256=` and the hex HMAC-SHA256 (RFC 2104,
//!   RFC 4231) of `TIMESTAMP "." BODY` under the destination's secret; the
//!   timestamp is signed so a captured request cannot be replayed later.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use sha2::Sha256;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::destination::DestinationError;
use crate::{Alert, DeliveryError};

/// Header carrying the idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// Header carrying the signing time.
pub const TIMESTAMP_HEADER: &str = "x-mailwarden-timestamp";
/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "x-mailwarden-signature";

/// The JSON body of an alert.
pub fn body(alert: &Alert) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": alert.id,
        "idempotency_key": alert.idempotency_key,
        "created_at": alert.created_at,
        "domain": alert.domain,
        "trigger": alert.trigger,
        "severity": alert.severity,
        "summary": alert.summary,
        "payload": alert.payload,
    }))
    .expect("an alert serialises")
}

/// `sha256=<hex HMAC-SHA256(secret, timestamp "." body)>`.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = mac(secret, timestamp, body).finalize().into_bytes();
    format!("sha256={}", mac.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// What a receiver does: checks a signature header in constant time.
pub fn verify_signature(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(bytes) = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect::<Option<Vec<u8>>>()
    else {
        return false;
    };
    mac(secret, timestamp, body).verify_slice(&bytes).is_ok()
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// A parsed webhook URL.
#[derive(Debug)]
pub(crate) struct Target {
    uri: Uri,
    host: String,
    port: u16,
    tls: bool,
}

impl Target {
    pub(crate) fn parse(url: &str) -> Result<Self, DestinationError> {
        let uri: Uri = url
            .parse()
            .map_err(|e: hyper::http::uri::InvalidUri| DestinationError::NotAUrl {
                url: url.to_owned(),
                reason: e.to_string(),
            })?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(DestinationError::Scheme { url: url.to_owned() }),
        };
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| DestinationError::NoHost { url: url.to_owned() })?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        Ok(Self { uri, host, port, tls })
    }
}

/// POSTs the alert; `Ok` with the status on a 2xx answer, an error with the
/// status or the failure otherwise.
pub async fn post(
    url: &str,
    secret: Option<&str>,
    alert: &Alert,
    now_unix: i64,
    limit: Duration,
) -> Result<u16, DeliveryError> {
    let target = Target::parse(url).map_err(|e| DeliveryError::permanent(e.to_string()))?;
    let body = body(alert);
    let mut request = Request::post(target.uri.path_and_query().map_or("/", |p| p.as_str()))
        .header(hyper::header::HOST, authority(&target))
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .header(
            hyper::header::USER_AGENT,
            concat!("mailwarden/", env!("CARGO_PKG_VERSION")),
        )
        .header(IDEMPOTENCY_HEADER, format!("\"{}\"", alert.idempotency_key))
        .header(TIMESTAMP_HEADER, now_unix.to_string());
    if let Some(secret) = secret {
        request = request.header(SIGNATURE_HEADER, signature(secret, now_unix, &body));
    }
    let request = request
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| DeliveryError::permanent(e.to_string()))?;
    let status = timeout(limit, send(&target, request))
        .await
        .map_err(|_| DeliveryError::retry(format!("no answer from {url} within {} s", limit.as_secs())))??;
    if (200..300).contains(&status) {
        Ok(status)
    } else {
        Err(DeliveryError::retry(format!("{url} answered HTTP {status}")))
    }
}

fn authority(target: &Target) -> String {
    let host = if target.host.contains(':') {
        format!("[{}]", target.host)
    } else {
        target.host.clone()
    };
    match (target.tls, target.port) {
        (true, 443) | (false, 80) => host,
        (_, port) => format!("{host}:{port}"),
    }
}

async fn send(target: &Target, request: Request<Full<Bytes>>) -> Result<u16, DeliveryError> {
    let tcp = TcpStream::connect((target.host.as_str(), target.port))
        .await
        .map_err(|e| DeliveryError::retry(format!("cannot connect to {}:{}: {e}", target.host, target.port)))?;
    if !target.tls {
        return exchange(tcp, request).await;
    }
    let name = ServerName::try_from(target.host.clone())
        .map_err(|e| DeliveryError::permanent(format!("{} is not a TLS server name: {e}", target.host)))?;
    let stream = tokio_rustls::TlsConnector::from(tls_config())
        .connect(name, tcp)
        .await
        .map_err(|e| DeliveryError::retry(format!("TLS with {} failed: {e}", target.host)))?;
    exchange(stream, request).await
}

/// Public roots (webpki-roots), the ring provider: never the OS store, so
/// behaviour does not depend on the machine.
fn tls_config() -> Arc<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

async fn exchange<S>(stream: S, request: Request<Full<Bytes>>) -> Result<u16, DeliveryError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let failed = |e: hyper::Error| DeliveryError::retry(format!("HTTP exchange failed: {e}"));
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(failed)?;
    let driver = tokio::spawn(connection);
    let response = sender.send_request(request).await.map_err(failed)?;
    let status = response.status().as_u16();
    // Only the status matters: the body is never read (an endpoint cannot
    // make us buffer an unbounded answer), and the connection is closed.
    drop(response);
    driver.abort();
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_test_case_2() {
        // RFC 4231 §4.3: key "Jefe", data "what do ya want for nothing?".
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn a_signature_verifies_only_for_its_secret_time_and_body() {
        let sig = signature("k", 100, b"{}");
        assert!(verify_signature("k", 100, b"{}", &sig));
        assert!(!verify_signature("other", 100, b"{}", &sig));
        assert!(!verify_signature("k", 101, b"{}", &sig));
        assert!(!verify_signature("k", 100, b"{ }", &sig));
        assert!(!verify_signature("k", 100, b"{}", "sha256=zz"));
    }

    #[test]
    fn urls_are_checked_and_default_ports_applied() {
        let t = Target::parse("https://hooks.example/a?b=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.tls), ("hooks.example", 443, true));
        assert_eq!(authority(&t), "hooks.example");
        let t = Target::parse("http://[::1]:8080/").unwrap();
        assert_eq!(authority(&t), "[::1]:8080");
        assert!(Target::parse("hooks.example/a").is_err());
    }
}
