//! Connections as evidence: what the SMTP STARTTLS probe and the HTTPS
//! fetch saw, keyed by what was asked, serialisable like DNS answers.
//!
//! Judges read these through [`crate::DnsView::smtp`] and
//! [`crate::DnsView::https`]; a result the evidence lacks is recorded as
//! wanted and answered `not-collected`, exactly as for DNS, so `collect`
//! probes what the rules need and `judge` re-runs offline. A [`Prober`]
//! does the connecting; this crate only describes it.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

/// One SMTP server to probe: the MX host name (the TLS server name and
/// the TLSA owner) and one of its addresses.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SmtpTarget {
    /// The MX host name, normalised.
    pub host: String,
    /// One of its addresses.
    pub address: IpAddr,
}

impl SmtpTarget {
    /// A target; `host` is normalised.
    pub fn new(host: &str, address: IpAddr) -> Self {
        Self {
            host: crate::name::normalise(host),
            address,
        }
    }
}

/// How far an SMTP probe got. The first group are facts about the server;
/// the second mean mailwarden could not look, and judges report them as
/// indeterminate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpStatus {
    /// STARTTLS and the handshake succeeded; `tls` holds the session.
    Tls,
    /// The EHLO reply did not advertise STARTTLS.
    NoStarttls,
    /// STARTTLS was answered with something other than 220.
    StarttlsRefused,
    /// The TLS handshake failed (`alert`, `detail`).
    HandshakeFailed,
    /// Nothing accepted the TCP connection (refused or no answer).
    Unreachable,
    /// Connected, then the server stopped answering in time.
    Timeout,
    /// The greeting or EHLO was refused, or the server does not speak SMTP.
    SmtpError,
    /// The egress guard refused the address (not global unicast).
    EgressRefused,
    /// No route from the scanner (e.g. no IPv6 here): says nothing of the server.
    NoRoute,
    /// Probes were switched off (`--no-smtp`).
    NotProbed,
    /// The domain's time budget ran out first.
    BudgetExhausted,
    /// The evidence has no probe of this target (older evidence, or a rule
    /// newer than it).
    NotCollected,
}

impl SmtpStatus {
    /// True when the result says something about the server (the probe
    /// reached it, or nothing accepted the connection).
    pub fn is_definite(self) -> bool {
        !matches!(
            self,
            SmtpStatus::EgressRefused
                | SmtpStatus::NoRoute
                | SmtpStatus::NotProbed
                | SmtpStatus::BudgetExhausted
                | SmtpStatus::NotCollected
        )
    }

    /// The status as written in reports (`no-starttls` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            SmtpStatus::Tls => "tls",
            SmtpStatus::NoStarttls => "no-starttls",
            SmtpStatus::StarttlsRefused => "starttls-refused",
            SmtpStatus::HandshakeFailed => "handshake-failed",
            SmtpStatus::Unreachable => "unreachable",
            SmtpStatus::Timeout => "timeout",
            SmtpStatus::SmtpError => "smtp-error",
            SmtpStatus::EgressRefused => "egress-refused",
            SmtpStatus::NoRoute => "no-route",
            SmtpStatus::NotProbed => "not-probed",
            SmtpStatus::BudgetExhausted => "budget-exhausted",
            SmtpStatus::NotCollected => "not-collected",
        }
    }
}

/// A DER certificate, serialised as base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Der(pub Vec<u8>);

impl Serialize for Der {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&crate::codec::base64(&self.0))
    }
}

impl<'de> Deserialize<'de> for Der {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        crate::codec::base64_decode(&text)
            .map(Der)
            .map_err(serde::de::Error::custom)
    }
}

/// A negotiated TLS session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TlsSession {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// IANA name, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The key exchange group, e.g. `X25519`, when known.
    pub key_exchange_group: Option<String>,
    /// The certificates presented, leaf first.
    pub chain: Vec<Der>,
}

impl TlsSession {
    /// The chain as plain DER, for the certificate checks.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain.iter().map(|c| c.0.clone()).collect()
    }
}

/// What the STARTTLS probe of one target saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpProbe {
    /// What happened.
    pub status: SmtpStatus,
    /// The port connected to (25 unless `--smtp-port`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// What went wrong, in words, when something did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The 220 greeting, lines joined by ` / `.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greeting: Option<String>,
    /// The EHLO keywords advertised (upper case).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ehlo_keywords: Vec<String>,
    /// The refusing reply (greeting, EHLO or STARTTLS), when refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// The TLS alert the server sent, when the handshake failed with one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// The session, when the handshake succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSession>,
    /// Plaintext the server sent between its 220 to STARTTLS and the
    /// handshake (escaped): STARTTLS command injection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pre_handshake_bytes: Option<String>,
    /// What the legacy-TLS probes saw (made when STARTTLS was accepted).
    /// `None` in evidence collected before they existed: judged
    /// not-collected, never as a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legacy: Option<LegacyTls>,
}

impl SmtpProbe {
    /// A result with only a status and, optionally, why.
    pub const fn status(status: SmtpStatus, detail: Option<String>) -> Self {
        Self {
            status,
            port: None,
            detail,
            greeting: None,
            ehlo_keywords: Vec::new(),
            reply: None,
            alert: None,
            tls: None,
            pre_handshake_bytes: None,
            legacy: None,
        }
    }

    /// The detail, or the status name.
    pub fn describe(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.status.as_str()),
            None => self.status.as_str().to_string(),
        }
    }
}

/// The legacy-TLS probes of one target: ClientHellos that offer only
/// what RFC 7568 (SSL 3.0), RFC 8996 (TLS 1.0, 1.1) and RFC 7465 (RC4)
/// forbid, or RFC 9325 §4.1 advises against (3DES), each on its own
/// STARTTLS connection, closed after the server's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyTls {
    /// `client_version` TLS 1.1, every suite SSL 3.0 to TLS 1.1 servers
    /// use: a server that supports any of these versions negotiates one
    /// (RFC 5246 Appendix E.1), so a refusal rules all three out.
    pub protocols: LegacyHello,
    /// `client_version` TLS 1.2 with only RC4 and 3DES suites.
    pub ciphers: LegacyHello,
    /// `client_version` SSL 3.0, made only when `protocols` was accepted
    /// with TLS 1.0 or 1.1 (which leaves SSL 3.0 open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssl3: Option<LegacyHello>,
}

/// How a server answered one legacy ClientHello.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HelloOutcome {
    /// A well-formed ServerHello choosing a version and a suite offered.
    Accepted,
    /// A TLS alert, or the connection closed, instead of a ServerHello.
    Refused,
    /// No answer that says either (timeout, SMTP failure, unparseable or
    /// protocol-violating bytes): `detail` says what happened.
    Unknown,
}

/// The answer to one legacy ClientHello.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegacyHello {
    /// What the server did with it.
    pub outcome: HelloOutcome,
    /// The version the ServerHello chose: `SSLv3`, `TLSv1.0`, `TLSv1.1`, `TLSv1.2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The suite the ServerHello chose, IANA name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cipher_suite: Option<String>,
    /// The alert of a refusal, e.g. `protocol_version (70)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert: Option<String>,
    /// What happened, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl LegacyHello {
    /// An answer with only an outcome and why.
    pub fn new(outcome: HelloOutcome, detail: impl Into<String>) -> Self {
        Self {
            outcome,
            version: None,
            cipher_suite: None,
            alert: None,
            detail: Some(detail.into()),
        }
    }
}

/// How an HTTPS fetch ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HttpsStatus {
    /// 200 within the size cap and UTF-8: `body` and `content_type` (the
    /// judge decides whether the type is acceptable).
    Fetched,
    /// The host name has no address.
    NoAddresses,
    /// No address accepted a TCP connection.
    Unreachable,
    /// Timed out after connecting.
    Timeout,
    /// The certificate or handshake failed (`tls_problem`).
    TlsFailed,
    /// A 3xx: not followed.
    Redirect,
    /// Another status than 200 (`http_status`).
    HttpStatus,
    /// The body is over the size cap.
    TooLarge,
    /// The body is not UTF-8.
    NotUtf8,
    /// The HTTP exchange failed.
    HttpError,
    /// The URL cannot be fetched (not https, no host).
    InvalidUrl,
    /// The egress guard refused every address.
    EgressRefused,
    /// Fetching was switched off.
    NotProbed,
    /// Not fetched: the per-domain budget ran out.
    BudgetExhausted,
    /// Not in the saved evidence (it predates the rule that needs the fetch).
    NotCollected,
}

impl HttpsStatus {
    /// True when the result says something about the server.
    pub fn is_definite(self) -> bool {
        !matches!(
            self,
            HttpsStatus::EgressRefused
                | HttpsStatus::NotProbed
                | HttpsStatus::BudgetExhausted
                | HttpsStatus::NotCollected
        )
    }

    /// The status as written in reports (`http-status` ...).
    pub fn as_str(self) -> &'static str {
        match self {
            HttpsStatus::Fetched => "fetched",
            HttpsStatus::NoAddresses => "no-addresses",
            HttpsStatus::Unreachable => "unreachable",
            HttpsStatus::Timeout => "timeout",
            HttpsStatus::TlsFailed => "tls-failed",
            HttpsStatus::Redirect => "redirect",
            HttpsStatus::HttpStatus => "http-status",
            HttpsStatus::TooLarge => "too-large",
            HttpsStatus::NotUtf8 => "not-utf8",
            HttpsStatus::HttpError => "http-error",
            HttpsStatus::InvalidUrl => "invalid-url",
            HttpsStatus::EgressRefused => "egress-refused",
            HttpsStatus::NotProbed => "not-probed",
            HttpsStatus::BudgetExhausted => "budget-exhausted",
            HttpsStatus::NotCollected => "not-collected",
        }
    }
}

/// What fetching one URL gave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpsFetch {
    /// What happened.
    pub status: HttpsStatus,
    /// What went wrong, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The addresses tried (the judge's resolution of the host).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<IpAddr>,
    /// The address that answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<SocketAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The HTTP status code, when a response came.
    pub http_status: Option<u16>,
    /// The `Location` of a redirect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The `Content-Type` of the response.
    pub content_type: Option<String>,
    /// Why the certificate or handshake failed: `name`, `untrusted`,
    /// `expired`, `not-yet-valid`, `certificate`, `handshake`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_problem: Option<String>,
    /// The body, when fetched.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `TLSv1.2` or `TLSv1.3`, when the handshake succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_version: Option<String>,
    /// The certificates the server presented, leaf first, when it got
    /// that far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chain: Vec<Der>,
}

impl HttpsFetch {
    /// A result with only a status and, optionally, why.
    pub const fn status(status: HttpsStatus, detail: Option<String>) -> Self {
        Self {
            status,
            detail,
            addresses: Vec::new(),
            address: None,
            http_status: None,
            location: None,
            content_type: None,
            tls_problem: None,
            body: None,
            tls_version: None,
            chain: Vec::new(),
        }
    }

    /// The detail, or the status name.
    pub fn describe(&self) -> String {
        match &self.detail {
            Some(d) => format!("{}: {d}", self.status.as_str()),
            None => self.status.as_str().to_string(),
        }
    }
}

/// Every probe of one scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probes {
    /// STARTTLS probes by target.
    pub smtp: BTreeMap<SmtpTarget, SmtpProbe>,
    /// HTTPS fetches by URL.
    pub https: BTreeMap<String, HttpsFetch>,
}

impl Probes {
    /// No probes.
    pub const fn new() -> Self {
        Self {
            smtp: BTreeMap::new(),
            https: BTreeMap::new(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.smtp.is_empty() && self.https.is_empty()
    }
}

#[derive(Deserialize)]
struct SmtpEntry {
    host: String,
    address: IpAddr,
    #[serde(flatten)]
    probe: SmtpProbe,
}

#[derive(Deserialize)]
struct HttpsEntry {
    url: String,
    #[serde(flatten)]
    fetch: HttpsFetch,
}

#[derive(Deserialize)]
struct ProbesDoc {
    #[serde(default)]
    smtp: Vec<SmtpEntry>,
    #[serde(default)]
    https: Vec<HttpsEntry>,
}

/// The entries as written: [`SmtpEntry`] and [`HttpsEntry`], borrowed.
/// Writing owned entries cloned every probe (certificate chains, policy
/// bodies) each time an Observation was serialised: for the store's
/// fingerprint and for its stored copy of every monitored scan (perf,
/// bench/monitor-lab.sh).
#[derive(Serialize)]
struct SmtpEntryRef<'a> {
    host: &'a str,
    address: IpAddr,
    #[serde(flatten)]
    probe: &'a SmtpProbe,
}

#[derive(Serialize)]
struct HttpsEntryRef<'a> {
    url: &'a str,
    #[serde(flatten)]
    fetch: &'a HttpsFetch,
}

#[derive(Serialize)]
struct ProbesDocRef<'a> {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    smtp: Vec<SmtpEntryRef<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    https: Vec<HttpsEntryRef<'a>>,
}

impl Serialize for Probes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ProbesDocRef {
            smtp: (self.smtp.iter())
                .map(|(t, probe)| SmtpEntryRef {
                    host: &t.host,
                    address: t.address,
                    probe,
                })
                .collect(),
            https: (self.https.iter())
                .map(|(url, fetch)| HttpsEntryRef { url, fetch })
                .collect(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Probes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let doc = ProbesDoc::deserialize(d)?;
        Ok(Probes {
            smtp: (doc.smtp.into_iter())
                .map(|e| (SmtpTarget::new(&e.host, e.address), e.probe))
                .collect(),
            https: doc.https.into_iter().map(|e| (e.url, e.fetch)).collect(),
        })
    }
}

/// A boxed future, `Send` (kept under its old name; see [`crate::io`]).
pub type ProbeFuture<'a, T> = crate::io::BoxFuture<'a, T>;

pub use crate::io::Prober;

/// A prober that connects to nothing: every answer `not-probed`, with why.
#[derive(Debug, Clone)]
pub struct NoProber {
    /// Why no STARTTLS probe is made.
    pub smtp_reason: String,
    /// Why no HTTPS fetch is made.
    pub https_reason: String,
}

impl NoProber {
    /// A prober that gives `reason` for every probe and fetch.
    pub fn new(reason: &str) -> Self {
        Self {
            smtp_reason: reason.to_string(),
            https_reason: reason.to_string(),
        }
    }
}

impl Prober for NoProber {
    fn smtp<'a>(&'a self, _target: &'a SmtpTarget) -> ProbeFuture<'a, SmtpProbe> {
        let probe = SmtpProbe::status(SmtpStatus::NotProbed, Some(self.smtp_reason.clone()));
        Box::pin(async move { probe })
    }

    fn https<'a>(&'a self, _url: &'a str, _addresses: &'a [IpAddr]) -> ProbeFuture<'a, HttpsFetch> {
        let fetch = HttpsFetch::status(HttpsStatus::NotProbed, Some(self.https_reason.clone()));
        Box::pin(async move { fetch })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_round_trip_through_json_with_chains_as_base64() {
        let mut p = Probes::default();
        let mut probe = SmtpProbe::status(SmtpStatus::Tls, None);
        probe.tls = Some(TlsSession {
            version: "TLSv1.3".into(),
            cipher_suite: "TLS13_AES_128_GCM_SHA256".into(),
            key_exchange_group: Some("X25519".into()),
            chain: vec![Der(vec![0x30, 0x82, 0xff])],
        });
        p.smtp
            .insert(SmtpTarget::new("MX.Example.com.", "192.0.2.25".parse().unwrap()), probe);
        p.https.insert(
            "https://mta-sts.example.com/.well-known/mta-sts.txt".into(),
            HttpsFetch::status(HttpsStatus::Redirect, Some("301".into())),
        );
        let json = serde_json::to_string(&p).unwrap();
        // The text owned entries wrote before they were borrowed (the
        // store fingerprints it and keeps it): unchanged.
        assert_eq!(
            json,
            r#"{"smtp":[{"host":"mx.example.com","address":"192.0.2.25","status":"tls","tls":{"version":"TLSv1.3","cipher_suite":"TLS13_AES_128_GCM_SHA256","key_exchange_group":"X25519","chain":["MIL/"]}}],"https":[{"url":"https://mta-sts.example.com/.well-known/mta-sts.txt","status":"redirect","detail":"301"}]}"#
        );
        assert_eq!(serde_json::to_string(&Probes::default()).unwrap(), "{}");
        assert!(json.contains("\"MIL/\""), "DER as base64: {json}");
        assert!(json.contains("\"host\":\"mx.example.com\""), "{json}");
        let back: Probes = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
    }

    #[test]
    fn evidence_saved_before_the_legacy_probe_reads_as_not_collected_legacy() {
        let old = r#"{"smtp":[{"host":"mx.example.com","address":"192.0.2.25","status":"tls","port":25}]}"#;
        let back: Probes = serde_json::from_str(old).unwrap();
        let probe = back.smtp.values().next().unwrap();
        assert_eq!(probe.status, SmtpStatus::Tls);
        assert_eq!(probe.legacy, None);
    }

    #[test]
    fn legacy_results_round_trip_through_json() {
        let mut probe = SmtpProbe::status(SmtpStatus::Tls, None);
        let mut accepted = LegacyHello::new(HelloOutcome::Accepted, "ServerHello");
        accepted.version = Some("TLSv1.0".into());
        accepted.cipher_suite = Some("TLS_RSA_WITH_3DES_EDE_CBC_SHA".into());
        probe.legacy = Some(LegacyTls {
            protocols: accepted.clone(),
            ciphers: accepted,
            ssl3: Some(LegacyHello::new(HelloOutcome::Refused, "alert")),
        });
        let mut p = Probes::default();
        p.smtp
            .insert(SmtpTarget::new("mx.example.com", "192.0.2.25".parse().unwrap()), probe);
        let json = serde_json::to_string(&p).unwrap();
        assert!(json.contains("\"outcome\":\"accepted\""), "{json}");
        assert_eq!(serde_json::from_str::<Probes>(&json).unwrap(), p);
    }

    #[test]
    fn could_not_look_is_not_definite() {
        assert!(SmtpStatus::Unreachable.is_definite());
        assert!(SmtpStatus::NoStarttls.is_definite());
        assert!(!SmtpStatus::EgressRefused.is_definite());
        assert!(!SmtpStatus::NotCollected.is_definite());
        assert!(HttpsStatus::Redirect.is_definite());
        assert!(!HttpsStatus::NotProbed.is_definite());
    }
}
