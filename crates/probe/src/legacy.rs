//! Legacy-TLS probe: does an SMTP server still accept what RFC 7568
//! (SSL 3.0), RFC 8996 (TLS 1.0 and 1.1) and RFC 7465 (RC4) forbid, or
//! 3DES, which RFC 9325 §4.1 advises against ("Implementations SHOULD NOT
//! negotiate cipher suites that use algorithms offering less than 128 bits
//! of security")?
//!
//! rustls cannot offer any of these, so the probe builds the ClientHello
//! itself: connect, `EHLO`, `STARTTLS`, one ClientHello offering only the
//! legacy versions or suites of a [`Hello`], read the server's first
//! handshake message, close. No key exchange, no `MAIL`, no `RCPT`.
//!
//! The answer is read strictly: [`Answer::Accepted`] only for a
//! well-formed ServerHello (record type 22, handshake type 2) whose
//! `server_version` and cipher suite are among those offered; an alert
//! (record type 21) or a close is [`Answer::Refused`] or
//! [`Answer::Closed`]; anything else, including a ServerHello that picks
//! what was not offered, is [`Answer::Unparseable`], never "accepts".

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use crate::smtp::{Opened, ProbeError, Stage, check_ehlo_name, open_starttls};

/// The most server bytes read while looking for the ServerHello.
const MAX_ANSWER: usize = 32 * 1024;
/// Longest wait for the closing alert to be written.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// `SSL 3.0` .. `TLS 1.2` as they appear on the wire.
const SSL3: u16 = 0x0300;
const TLS10: u16 = 0x0301;
const TLS11: u16 = 0x0302;
const TLS12: u16 = 0x0303;

/// One cipher suite: its code point and IANA name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Suite {
    pub code: u16,
    pub name: &'static str,
}

const fn suite(code: u16, name: &'static str) -> Suite {
    Suite { code, name }
}

/// RC4 and 3DES suites (RFC 7465 §2; Sweet32, CVE-2016-2183).
const RC4_3DES: [Suite; 9] = [
    suite(0xc012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0xc008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"),
    suite(0x000a, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"),
    suite(0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"),
    suite(0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"),
    suite(0x0005, "TLS_RSA_WITH_RC4_128_SHA"),
    suite(0x0004, "TLS_RSA_WITH_RC4_128_MD5"),
];

/// The suites SSL 3.0 to TLS 1.1 servers use (AES, Camellia and SEED in
/// CBC mode), strongest first; the protocol hellos add [`RC4_3DES`], so a
/// server that accepts an old version with any usual suite shows it.
const CBC: [Suite; 14] = [
    suite(0xc00a, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"),
    suite(0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"),
    suite(0xc009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"),
    suite(0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"),
    suite(0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"),
    suite(0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"),
    suite(0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"),
    suite(0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"),
    suite(0x0088, "TLS_DHE_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    suite(0x0045, "TLS_DHE_RSA_WITH_CAMELLIA_128_CBC_SHA"),
    suite(0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"),
    suite(0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"),
    suite(0x0084, "TLS_RSA_WITH_CAMELLIA_256_CBC_SHA"),
    suite(0x0096, "TLS_RSA_WITH_SEED_CBC_SHA"),
];

/// Which legacy ClientHello to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hello {
    /// `client_version` TLS 1.1 and every usual suite: a server that
    /// supports SSL 3.0, TLS 1.0 or TLS 1.1 negotiates the highest of
    /// them (RFC 5246 Appendix E.1), one that supports none refuses.
    Protocols,
    /// `client_version` TLS 1.2 with only RC4 and 3DES suites.
    Ciphers,
    /// `client_version` SSL 3.0, no extensions (SSL 3.0 has none).
    Ssl3,
}

impl Hello {
    /// The suites offered, in order of preference.
    pub fn suites(self) -> Vec<Suite> {
        match self {
            Hello::Ciphers => RC4_3DES.to_vec(),
            Hello::Protocols | Hello::Ssl3 => CBC.iter().chain(&RC4_3DES).copied().collect(),
        }
    }

    /// The `client_version` of the ClientHello: the highest version offered.
    pub fn client_version(self) -> u16 {
        match self {
            Hello::Protocols => TLS11,
            Hello::Ciphers => TLS12,
            Hello::Ssl3 => SSL3,
        }
    }

    /// The record-layer version. TLS 1.0 for the TLS hellos, as clients
    /// send it for compatibility (RFC 5246 Appendix E.1).
    fn record_version(self) -> u16 {
        if self == Hello::Ssl3 { SSL3 } else { TLS10 }
    }

    /// The versions a server may choose in answer: SSL 3.0 up to
    /// `client_version`.
    fn offers_version(self, version: u16) -> bool {
        (SSL3..=self.client_version()).contains(&version)
    }

    fn offered_suite(self, code: u16) -> Option<Suite> {
        self.suites().into_iter().find(|s| s.code == code)
    }
}

/// How the server answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A ServerHello choosing `version` (wire value) and `suite`, both offered.
    Accepted { version: u16, suite: Suite },
    /// An alert instead of a ServerHello: fatal, or a `close_notify`.
    Refused { alert: Alert },
    /// The server closed the connection before sending anything.
    Closed,
    /// Bytes that are neither: why, in words.
    Unparseable(String),
}

/// A TLS alert (RFC 5246 §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert {
    pub level: u8,
    pub description: u8,
}

impl std::fmt::Display for Alert {
    /// `protocol_version (70)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.description {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            40 => "handshake_failure",
            47 => "illegal_parameter",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            _ => "alert",
        };
        write!(f, "{name} ({})", self.description)
    }
}

/// The name of a wire version: `SSLv3`, `TLSv1.0` .. `TLSv1.2`.
pub fn version_name(version: u16) -> String {
    match version {
        SSL3 => "SSLv3".into(),
        TLS10 => "TLSv1.0".into(),
        TLS11 => "TLSv1.1".into(),
        TLS12 => "TLSv1.2".into(),
        other => format!("0x{other:04x}"),
    }
}

/// Offer `hello` to the SMTP server at `addr` after `EHLO ehlo_name` and
/// `STARTTLS`, with SNI `server_name`; read the answer and close.
/// `timeout` bounds the whole conversation. `Err` when the conversation
/// never got to the ClientHello, or the answer did not come in time.
/// The caller checks the address with [`crate::egress::check_target`].
pub async fn offer(
    addr: SocketAddr,
    server_name: &str,
    ehlo_name: &str,
    timeout: Duration,
    hello: Hello,
) -> Result<Answer, ProbeError> {
    check_ehlo_name(ehlo_name)?;
    let deadline = Instant::now() + timeout;
    let Opened { mut smtp, .. } = open_starttls(addr, ehlo_name, deadline, timeout).await?;
    // Bytes injected before the handshake are the main probe's finding.
    let _ = smtp.take_pending();
    let stream = &mut smtp.stream;
    let wire = client_hello(hello, server_name, random()?);
    let written = timeout_at(deadline, stream.write_all(&wire)).await;
    let answer = match written {
        Err(_) => Err(timed_out(timeout)),
        Ok(Err(_)) => Ok(Answer::Closed),
        Ok(Ok(())) => read_answer(stream, deadline, hello, timeout).await,
    };
    // user_canceled, then close: polite, and no key exchange is started.
    let [major, minor] = hello.record_version().to_be_bytes();
    let close = [21, major, minor, 0, 2, 1, 90];
    let _ = timeout_at(Instant::now() + CLOSE_WAIT, async {
        let _ = stream.write_all(&close).await;
        stream.shutdown().await
    })
    .await;
    answer
}

fn timed_out(limit: Duration) -> ProbeError {
    ProbeError::Timeout {
        stage: Stage::Handshake,
        limit,
    }
}

fn random() -> Result<[u8; 32], ProbeError> {
    let mut random = [0u8; 32];
    rustls::crypto::ring::default_provider()
        .secure_random
        .fill(&mut random)
        .map_err(|_| ProbeError::Handshake {
            alert: None,
            message: "no random bytes for the ClientHello".into(),
        })?;
    Ok(random)
}

/// Read records until the answer is clear, the server closes, or
/// `deadline`.
async fn read_answer<S: AsyncRead + Unpin>(
    stream: &mut S,
    deadline: Instant,
    hello: Hello,
    limit: Duration,
) -> Result<Answer, ProbeError> {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = match timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return Err(timed_out(limit)),
            Ok(Err(e)) if bytes.is_empty() && closed(&e) => return Ok(Answer::Closed),
            Ok(Err(e)) => {
                return Ok(Answer::Unparseable(format!(
                    "the connection failed after {} bytes of the answer: {e}",
                    bytes.len()
                )));
            }
            Ok(Ok(n)) => n,
        };
        if n == 0 {
            return Ok(if bytes.is_empty() {
                Answer::Closed
            } else {
                Answer::Unparseable(format!(
                    "the server closed the connection within a record ({} bytes received: {})",
                    bytes.len(),
                    preview(&bytes)
                ))
            });
        }
        bytes.extend_from_slice(&chunk[..n]);
        if let Some(answer) = classify(&bytes, hello) {
            return Ok(answer);
        }
        if bytes.len() > MAX_ANSWER {
            return Ok(Answer::Unparseable(format!(
                "no ServerHello in the first {MAX_ANSWER} bytes"
            )));
        }
    }
}

fn closed(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::BrokenPipe
    )
}

/// The first bytes, escaped, for messages.
fn preview(bytes: &[u8]) -> String {
    bytes[..bytes.len().min(24)].escape_ascii().to_string()
}

/// The answer `bytes` (everything received so far) give, or `None`
/// when more are needed.
pub fn classify(bytes: &[u8], hello: Hello) -> Option<Answer> {
    let mut handshake = Vec::new();
    let mut rest = bytes;
    while rest.len() >= 5 {
        let (kind, major, len) = (rest[0], rest[1], usize::from(u16::from_be_bytes([rest[3], rest[4]])));
        if major != 3 || !(1..=16384 + 2048).contains(&len) {
            return Some(Answer::Unparseable(format!("not a TLS record: {}", preview(bytes))));
        }
        let body = rest.get(5..5 + len)?;
        match kind {
            21 => {
                let [level, description, ..] = *body else {
                    return Some(Answer::Unparseable(format!("an alert record of {len} byte")));
                };
                let alert = Alert { level, description };
                // A warning other than close_notify (e.g. unrecognized_name)
                // may precede the ServerHello.
                if level == 2 || description == 0 {
                    return Some(Answer::Refused { alert });
                }
            }
            22 => {
                handshake.extend_from_slice(body);
                if let Some(answer) = server_hello(&handshake, hello) {
                    return Some(answer);
                }
            }
            other => {
                return Some(Answer::Unparseable(format!(
                    "a record of type {other} before the ServerHello"
                )));
            }
        }
        rest = &rest[5 + len..];
    }
    None
}

/// The answer the first handshake message gives, or `None` when it is
/// still incomplete.
fn server_hello(handshake: &[u8], hello: Hello) -> Option<Answer> {
    let (&kind, header) = handshake.split_first()?;
    if kind != 2 {
        return Some(Answer::Unparseable(format!(
            "handshake message type {kind} where a ServerHello (2) belongs"
        )));
    }
    let len = header
        .get(..3)
        .map(|l| usize::from(l[0]) << 16 | usize::from(l[1]) << 8 | usize::from(l[2]))?;
    let body = &handshake[4..];
    // server_version (2), random (32), session_id (1 + up to 32),
    // cipher_suite (2), compression_method (1).
    let bad = |why: &str| Some(Answer::Unparseable(format!("malformed ServerHello: {why}")));
    if len < 38 {
        return bad("too short");
    }
    let session_id = usize::from(*body.get(34)?);
    if session_id > 32 || 38 + session_id > len {
        return bad("session_id overruns the message");
    }
    let fixed = body.get(..38 + session_id)?;
    let version = u16::from_be_bytes([fixed[0], fixed[1]]);
    let code = u16::from_be_bytes([fixed[35 + session_id], fixed[36 + session_id]]);
    if !hello.offers_version(version) {
        return Some(Answer::Unparseable(format!(
            "the ServerHello chose {}, which the ClientHello (up to {}) did not offer",
            version_name(version),
            version_name(hello.client_version())
        )));
    }
    let Some(suite) = hello.offered_suite(code) else {
        return Some(Answer::Unparseable(format!(
            "the ServerHello chose cipher suite 0x{code:04x}, which the ClientHello did not offer"
        )));
    };
    if fixed[37 + session_id] != 0 {
        return bad("compression chosen, none offered");
    }
    Some(Answer::Accepted { version, suite })
}

/// The ClientHello record for `hello` with SNI `server_name` (left out
/// when it is not a host name) and `random`. No TLS_FALLBACK_SCSV: this
/// is not a fallback, and the SCSV would make servers refuse it.
pub fn client_hello(hello: Hello, server_name: &str, random: [u8; 32]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&hello.client_version().to_be_bytes());
    body.extend_from_slice(&random);
    body.push(0); // no session_id
    let suites = hello.suites();
    put_u16(&mut body, suites.len() * 2);
    for s in &suites {
        body.extend_from_slice(&s.code.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null only
    if hello != Hello::Ssl3 {
        let ext = extensions(hello, server_name);
        put_u16(&mut body, ext.len());
        body.extend_from_slice(&ext);
    }
    let mut handshake = vec![1]; // client_hello
    handshake.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    handshake.extend_from_slice(&body);
    let mut record = vec![22];
    record.extend_from_slice(&hello.record_version().to_be_bytes());
    put_u16(&mut record, handshake.len());
    record.extend_from_slice(&handshake);
    record
}

/// server_name, supported_groups and ec_point_formats (for the ECDHE
/// suites), signature_algorithms (TLS 1.2 only: RFC 5246 §7.4.1.4.1
/// forbids it in a hello offering earlier versions), renegotiation_info.
fn extensions(hello: Hello, server_name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let host = server_name.trim_end_matches('.');
    if !host.is_empty() && host.len() <= 255 && host.parse::<std::net::IpAddr>().is_err() && host.is_ascii() {
        let mut list = vec![0]; // host_name
        put_u16(&mut list, host.len());
        list.extend_from_slice(host.as_bytes());
        let mut data = Vec::new();
        put_u16(&mut data, list.len());
        data.extend_from_slice(&list);
        extension(&mut out, 0x0000, &data);
    }
    // x25519, secp256r1, secp384r1, secp521r1.
    extension(&mut out, 0x000a, &[0, 8, 0, 0x1d, 0, 0x17, 0, 0x18, 0, 0x19]);
    extension(&mut out, 0x000b, &[1, 0]);
    if hello == Hello::Ciphers {
        // rsa_pkcs1 and ecdsa with SHA-256/384/512 and SHA-1, rsa_pss_rsae.
        let schemes: [u16; 9] = [0x0401, 0x0501, 0x0601, 0x0403, 0x0503, 0x0804, 0x0805, 0x0201, 0x0203];
        let mut data = Vec::new();
        put_u16(&mut data, schemes.len() * 2);
        for s in schemes {
            data.extend_from_slice(&s.to_be_bytes());
        }
        extension(&mut out, 0x000d, &data);
    }
    extension(&mut out, 0xff01, &[0]);
    out
}

fn extension(out: &mut Vec<u8>, kind: u16, data: &[u8]) {
    out.extend_from_slice(&kind.to_be_bytes());
    put_u16(out, data.len());
    out.extend_from_slice(data);
}

fn put_u16(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u16::try_from(n).unwrap_or(u16::MAX).to_be_bytes());
}

#[cfg(test)]
pub(crate) mod tests;
