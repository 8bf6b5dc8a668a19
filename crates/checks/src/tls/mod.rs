//! TLS building blocks for the STARTTLS findings of issue 4: pure
//! functions over a certificate chain as the probe captured it (DER, leaf
//! first). No I/O; the caller supplies "now" (seconds since the Unix
//! epoch) and the trust store.
//!
//! - [`cert::analyse_chain`]: parse errors, leaf validity, names, PKIX
//!   verdict, key and signature algorithm, fingerprints;
//! - [`dane::match_tlsa`]: TLSA records against the chain (RFC 6698, RFC
//!   7671, RFC 7672).
//!
//! Neither is a judge: `scan` wires them in once the probe runs per MX.

pub mod cert;
pub mod dane;

use sha2::{Digest, Sha256, Sha512};

pub(crate) use mailwarden_model::codec::hex;

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

pub(crate) fn sha512(bytes: &[u8]) -> Vec<u8> {
    Sha512::digest(bytes).to_vec()
}

pub(crate) fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

/// A `UnixTime` for webpki from seconds since the epoch (clamped at 0).
pub(crate) fn unix_time(now: i64) -> rustls_pki_types::UnixTime {
    rustls_pki_types::UnixTime::since_unix_epoch(std::time::Duration::from_secs(now.max(0) as u64))
}

pub(crate) use mailwarden_roots::describe_webpki;

/// A host name webpki cannot take as a DNS name (lower-cased, without
/// its trailing dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InvalidName(String);

impl std::fmt::Display for InvalidName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` is not a valid DNS name", self.0)
    }
}

/// Parse a (possibly trailing-dot, any-case) DNS name for webpki.
pub(crate) fn server_name(host: &str) -> Result<rustls_pki_types::ServerName<'static>, InvalidName> {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    rustls_pki_types::ServerName::try_from(host.clone()).map_err(|_| InvalidName(host))
}

#[cfg(test)]
pub(crate) mod testcerts;
