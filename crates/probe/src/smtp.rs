//! SMTP STARTTLS probe (RFC 3207): connect, read the greeting, `EHLO`,
//! `STARTTLS`, handshake, record what the server presented, `QUIT`.
//!
//! The probe is a polite client: one connection, no `MAIL`, no `RCPT`, a
//! `QUIT` whenever the conversation got far enough, and one deadline for
//! the whole conversation (a server that dribbles bytes cannot hold it
//! open). The certificate chain is captured whatever it is: the verifier
//! accepts every chain but still checks the handshake signatures, so the
//! server proved it holds the key of the leaf it presented. Judging the
//! chain (PKIX, DANE) is the caller's job.
//!
//! **STARTTLS response injection.** Bytes the server sent after its `220`
//! to `STARTTLS` and before the handshake are plaintext an attacker may
//! have injected (CVE-2011-0411 and its client-side relatives). They are
//! discarded, never read as TLS, and reported in
//! [`TlsCapture::pre_handshake_bytes`]; bytes that arrive later than the
//! check corrupt the handshake and fail it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

/// Longest reply line accepted (RFC 5321 §4.5.3.1.5 allows 512 octets;
/// this is generous for servers that overrun it).
const MAX_LINE: usize = 4096;
/// Most lines in one reply.
const MAX_REPLY_LINES: usize = 128;
/// Most injected bytes kept as evidence.
const MAX_INJECTED: usize = 512;
/// Longest wait for the reply to `QUIT` once the certificates are in hand.
const QUIT_WAIT: Duration = Duration::from_secs(2);

/// Where in the conversation something happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Connect,
    Greeting,
    Ehlo,
    StartTls,
    Handshake,
    Quit,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Connect => "connect",
            Stage::Greeting => "the greeting",
            Stage::Ehlo => "EHLO",
            Stage::StartTls => "STARTTLS",
            Stage::Handshake => "the TLS handshake",
            Stage::Quit => "QUIT",
        })
    }
}

/// One SMTP reply: the code and the text of each line (after the code and
/// its separator). Control characters in the text are replaced by U+FFFD,
/// so a reply can be printed without escaping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub code: u16,
    pub lines: Vec<String>,
}

impl Reply {
    /// True for a 2xx reply.
    pub fn is_positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The EHLO keywords (RFC 5321 §4.1.1.1): the first word of every line
    /// but the first (which names the server), upper-cased.
    pub fn ehlo_keywords(&self) -> Vec<String> {
        self.lines
            .iter()
            .skip(1)
            .filter_map(|l| l.split_ascii_whitespace().next())
            .map(str::to_ascii_uppercase)
            .collect()
    }
}

impl fmt::Display for Reply {
    /// `454 TLS not available`; the lines of a multi-line reply joined by ` / `.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        for (i, l) in self.lines.iter().enumerate() {
            f.write_str(if i == 0 { " " } else { " / " })?;
            f.write_str(l)?;
        }
        Ok(())
    }
}

/// What one successful probe saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsCapture {
    /// The 220 greeting.
    pub greeting: Reply,
    /// The 250 reply to `EHLO` (it advertised `STARTTLS`).
    pub ehlo: Reply,
    /// The negotiated protocol, `TLSv1.2` or `TLSv1.3`.
    pub tls_version: String,
    /// The negotiated cipher suite as IANA names it, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// The key exchange group, e.g. `X25519`, when known.
    pub key_exchange_group: Option<String>,
    /// The certificates presented, DER, in the server's order (leaf first).
    pub chain: Vec<Vec<u8>>,
    /// Server bytes found after the `220` to `STARTTLS` and before the
    /// handshake (at most 512 kept): STARTTLS response injection, or a
    /// server that pipelines its replies. `None` when there were none.
    pub pre_handshake_bytes: Option<Vec<u8>>,
    /// False when the server's handshake signature could not be checked
    /// with the algorithms rustls accepts (an RSA key under 2048 bits, a
    /// legacy algorithm): the chain was still captured, so the weak key is
    /// reported, but the server has not proved it holds the leaf's key.
    pub signature_verified: bool,
}

impl TlsCapture {
    /// The leaf (end-entity) certificate, DER.
    pub fn leaf(&self) -> Option<&[u8]> {
        self.chain.first().map(Vec::as_slice)
    }

    /// True when server bytes were pending before the handshake.
    pub fn starttls_injection(&self) -> bool {
        self.pre_handshake_bytes.is_some()
    }
}

/// Why a probe produced no [`TlsCapture`].
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("invalid EHLO name {0:?}: expected a host name or address literal (printable ASCII, no spaces)")]
    InvalidEhloName(String),
    #[error("invalid TLS server name {0:?}")]
    InvalidServerName(String),
    #[error("{addr}: connection refused")]
    ConnectionRefused { addr: SocketAddr },
    #[error("{addr}: cannot connect: {source}")]
    Connect {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("timed out during {stage} (the probe's limit is {limit:?})")]
    Timeout { stage: Stage, limit: Duration },
    #[error("the server closed the connection during {stage}")]
    Closed { stage: Stage },
    #[error("I/O error during {stage}: {source}")]
    Io {
        stage: Stage,
        #[source]
        source: io::Error,
    },
    #[error("the server rejected {stage}: {reply}")]
    Rejected { stage: Stage, reply: Reply },
    #[error("the server does not offer STARTTLS (EHLO keywords: {})", keywords(.ehlo))]
    NoStartTls { ehlo: Reply },
    #[error("STARTTLS refused: {reply}")]
    StartTlsRefused { reply: Reply },
    #[error("TLS handshake failed: {message}")]
    Handshake {
        /// The TLS alert the server sent, e.g. `ProtocolVersion` or
        /// `HandshakeFailure`, when it sent one.
        alert: Option<String>,
        message: String,
    },
    #[error("SMTP protocol error during {stage}: {reason}: {line:?}")]
    Protocol {
        stage: Stage,
        reason: &'static str,
        /// The offending line (lossy UTF-8, cut at 200 characters).
        line: String,
    },
}

fn keywords(ehlo: &Reply) -> String {
    let k = ehlo.ehlo_keywords();
    if k.is_empty() { "none".into() } else { k.join(" ") }
}

/// Probe one SMTP server: connect to `addr`, read the greeting, `EHLO
/// ehlo_name`, `STARTTLS`, handshake with SNI `server_name` (the MX host
/// name), capture the certificate chain, `QUIT`.
///
/// `timeout` bounds the whole conversation up to the end of the handshake;
/// the `QUIT` afterwards waits at most two more seconds and its failure is
/// ignored. The caller checks the address with
/// [`crate::egress::check_target`] first.
pub async fn fetch_certificates(
    addr: SocketAddr,
    server_name: &str,
    ehlo_name: &str,
    timeout: Duration,
) -> Result<TlsCapture, ProbeError> {
    check_ehlo_name(ehlo_name)?;
    let sni = ServerName::try_from(server_name.trim_end_matches('.').to_string())
        .map_err(|_| ProbeError::InvalidServerName(server_name.to_string()))?;
    let deadline = Instant::now() + timeout;
    let Opened {
        mut smtp,
        greeting,
        ehlo,
    } = open_starttls(addr, ehlo_name, deadline, timeout).await?;
    let pre_handshake_bytes = smtp.take_pending();

    let unverified = Arc::new(AtomicBool::new(false));
    let connector = tokio_rustls::TlsConnector::from(client_config(unverified.clone())?);
    let tls = match timeout_at(deadline, connector.connect(sni, smtp.stream)).await {
        Err(_) => {
            return Err(ProbeError::Timeout {
                stage: Stage::Handshake,
                limit: timeout,
            });
        }
        Ok(Err(e)) => return Err(handshake_error(e)),
        Ok(Ok(tls)) => tls,
    };
    let conn = tls.get_ref().1;
    let capture = TlsCapture {
        greeting,
        ehlo,
        tls_version: conn.protocol_version().map(version_name).unwrap_or_default(),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()))
            .unwrap_or_default(),
        key_exchange_group: conn.negotiated_key_exchange_group().map(|g| format!("{:?}", g.name())),
        chain: conn
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .map(|c| c.as_ref().to_vec())
            .collect(),
        pre_handshake_bytes,
        signature_verified: !unverified.load(Ordering::Relaxed),
    };
    let mut smtp = Smtp::new(tls, Instant::now() + QUIT_WAIT, QUIT_WAIT);
    smtp.quit().await;
    let _ = timeout_at(smtp.deadline, smtp.stream.shutdown()).await;
    Ok(capture)
}

/// A host name or address literal: printable ASCII, no spaces, 1-255 octets.
pub(crate) fn check_ehlo_name(ehlo_name: &str) -> Result<(), ProbeError> {
    if ehlo_name.is_empty() || ehlo_name.len() > 255 || !ehlo_name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ProbeError::InvalidEhloName(ehlo_name.to_string()));
    }
    Ok(())
}

/// A conversation that has reached the 220 reply to `STARTTLS`: the next
/// bytes the client sends are its TLS ClientHello.
pub(crate) struct Opened {
    pub smtp: Smtp<TcpStream>,
    pub greeting: Reply,
    pub ehlo: Reply,
}

/// Connect to `addr`, read the greeting, `EHLO ehlo_name` (which must
/// advertise STARTTLS) and `STARTTLS`, all before `deadline` (`timeout`
/// is the whole probe's limit, named in errors). Every refusal ends with a
/// polite `QUIT`.
pub(crate) async fn open_starttls(
    addr: SocketAddr,
    ehlo_name: &str,
    deadline: Instant,
    timeout: Duration,
) -> Result<Opened, ProbeError> {
    let stream = match timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(ProbeError::Timeout {
                stage: Stage::Connect,
                limit: timeout,
            });
        }
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionRefused => {
            return Err(ProbeError::ConnectionRefused { addr });
        }
        Ok(Err(source)) => return Err(ProbeError::Connect { addr, source }),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let mut smtp = Smtp::new(stream, deadline, timeout);

    let greeting = smtp.read_reply(Stage::Greeting).await?;
    if greeting.code != 220 {
        smtp.quit().await;
        return Err(ProbeError::Rejected {
            stage: Stage::Greeting,
            reply: greeting,
        });
    }
    let ehlo = smtp.command(&format!("EHLO {ehlo_name}"), Stage::Ehlo).await?;
    if ehlo.code != 250 {
        smtp.quit().await;
        return Err(ProbeError::Rejected {
            stage: Stage::Ehlo,
            reply: ehlo,
        });
    }
    if !ehlo.ehlo_keywords().iter().any(|k| k == "STARTTLS") {
        smtp.quit().await;
        return Err(ProbeError::NoStartTls { ehlo });
    }
    let reply = smtp.command("STARTTLS", Stage::StartTls).await?;
    if reply.code != 220 {
        smtp.quit().await;
        return Err(ProbeError::StartTlsRefused { reply });
    }
    Ok(Opened { smtp, greeting, ehlo })
}

fn version_name(v: rustls::ProtocolVersion) -> String {
    match v {
        rustls::ProtocolVersion::TLSv1_2 => "TLSv1.2".into(),
        rustls::ProtocolVersion::TLSv1_3 => "TLSv1.3".into(),
        other => format!("{other:?}"),
    }
}

fn handshake_error(e: io::Error) -> ProbeError {
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        let alert = match tls {
            rustls::Error::AlertReceived(a) => Some(format!("{a:?}")),
            _ => None,
        };
        return ProbeError::Handshake {
            alert,
            message: tls.to_string(),
        };
    }
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => ProbeError::Closed {
            stage: Stage::Handshake,
        },
        _ => ProbeError::Io {
            stage: Stage::Handshake,
            source: e,
        },
    }
}

/// TLS 1.2 and 1.3 with the ring provider, and a verifier that records
/// every chain (see [`CaptureAll`]).
fn client_config(unverified: Arc<AtomicBool>) -> Result<Arc<rustls::ClientConfig>, ProbeError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ProbeError::Handshake {
            alert: None,
            message: e.to_string(),
        })?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CaptureAll { provider, unverified }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A verifier that accepts any certificate chain, so that the probe sees
/// (and the caller judges) what the server presents, while still checking
/// that the server's handshake signatures verify with the leaf's key.
///
/// ring refuses RSA keys under 2048 bits, so a server with such a key
/// would fail the handshake and its certificate would go unreported. A
/// signature that fails to verify is therefore let through and noted in
/// `unverified`: this is an audit, not a delivery, and the weak key is
/// exactly what the caller needs to see.
#[derive(Debug)]
struct CaptureAll {
    provider: Arc<CryptoProvider>,
    unverified: Arc<AtomicBool>,
}

impl CaptureAll {
    fn noted(&self, result: Result<HandshakeSignatureValid, rustls::Error>) -> HandshakeSignatureValid {
        result.unwrap_or_else(|_| {
            self.unverified.store(true, Ordering::Relaxed);
            HandshakeSignatureValid::assertion()
        })
    }
}

impl ServerCertVerifier for CaptureAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let result = verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms);
        Ok(self.noted(result))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let result = verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms);
        Ok(self.noted(result))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The plaintext (or, for `QUIT`, TLS) side of the conversation: replies
/// read line by line from a buffer, everything under one deadline.
pub(crate) struct Smtp<S> {
    pub(crate) stream: S,
    buf: Vec<u8>,
    deadline: Instant,
    limit: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Smtp<S> {
    fn new(stream: S, deadline: Instant, limit: Duration) -> Self {
        Self {
            stream,
            buf: Vec::new(),
            deadline,
            limit,
        }
    }

    async fn command(&mut self, line: &str, stage: Stage) -> Result<Reply, ProbeError> {
        let wire = format!("{line}\r\n");
        match timeout_at(self.deadline, self.stream.write_all(wire.as_bytes())).await {
            Err(_) => {
                return Err(ProbeError::Timeout {
                    stage,
                    limit: self.limit,
                });
            }
            Ok(Err(e)) => return Err(io_error(e, stage)),
            Ok(Ok(())) => {}
        }
        self.read_reply(stage).await
    }

    /// Best effort: `QUIT` and wait for the reply, ignoring failures.
    pub(crate) async fn quit(&mut self) {
        let _ = self.command("QUIT", Stage::Quit).await;
    }

    /// One line, without its CRLF (or bare LF).
    async fn read_line(&mut self, stage: Stage) -> Result<Vec<u8>, ProbeError> {
        loop {
            if let Some(end) = self.buf.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_LINE {
                return Err(protocol(stage, "reply line too long", &self.buf));
            }
            let mut chunk = [0u8; 2048];
            let n = match timeout_at(self.deadline, self.stream.read(&mut chunk)).await {
                Err(_) => {
                    return Err(ProbeError::Timeout {
                        stage,
                        limit: self.limit,
                    });
                }
                Ok(Err(e)) => return Err(io_error(e, stage)),
                Ok(Ok(n)) => n,
            };
            if n == 0 {
                return Err(ProbeError::Closed { stage });
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// One (possibly multi-line) reply: `CODE-text` lines ending with
    /// `CODE text` (or a bare `CODE`), all with the same code.
    async fn read_reply(&mut self, stage: Stage) -> Result<Reply, ProbeError> {
        let mut code = None;
        let mut lines = Vec::new();
        loop {
            let line = self.read_line(stage).await?;
            let (this, last, text) =
                parse_reply_line(&line).ok_or_else(|| protocol(stage, "not an SMTP reply", &line))?;
            if code.is_some_and(|c| c != this) {
                return Err(protocol(stage, "reply code changed within a multi-line reply", &line));
            }
            code = Some(this);
            lines.push(text);
            if last {
                return Ok(Reply { code: this, lines });
            }
            if lines.len() >= MAX_REPLY_LINES {
                return Err(protocol(stage, "too many reply lines", &line));
            }
        }
    }
}

impl Smtp<TcpStream> {
    /// Bytes the server sent beyond the last reply: those already buffered
    /// plus those waiting in the socket now. Discarded; kept as evidence.
    pub(crate) fn take_pending(&mut self) -> Option<Vec<u8>> {
        let mut pending = std::mem::take(&mut self.buf);
        let mut chunk = [0u8; 2048];
        while let Ok(n) = self.stream.try_read(&mut chunk) {
            if n == 0 {
                break;
            }
            pending.extend_from_slice(&chunk[..n]);
        }
        pending.truncate(MAX_INJECTED);
        (!pending.is_empty()).then_some(pending)
    }
}

/// `(code, last line?, text)` of a reply line, or `None` if it is not one.
fn parse_reply_line(line: &[u8]) -> Option<(u16, bool, String)> {
    let digits = line.get(..3)?;
    if !digits.iter().all(u8::is_ascii_digit) || !(b'2'..=b'5').contains(&digits[0]) {
        return None;
    }
    let code = digits.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    let last = match line.get(3) {
        None | Some(b' ') => true,
        Some(b'-') => false,
        Some(_) => return None,
    };
    let text = line.get(4..).map(clean).unwrap_or_default();
    Some((code, last, text))
}

/// Lossy UTF-8 with control characters replaced.
fn clean(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}

fn protocol(stage: Stage, reason: &'static str, line: &[u8]) -> ProbeError {
    ProbeError::Protocol {
        stage,
        reason,
        line: clean(line).chars().take(200).collect(),
    }
}

fn io_error(e: io::Error, stage: Stage) -> ProbeError {
    match e.kind() {
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            ProbeError::Closed { stage }
        }
        _ => ProbeError::Io { stage, source: e },
    }
}

#[cfg(test)]
mod tests;
