//! # mailwarden-probe
//!
//! Connections mailwarden makes because a scanned domain said so. This is
//! how mailwarden reaches the hosts a domain names:
//!
//! - [`egress`]: the guard every such connection passes first. It refuses
//!   loopback, private and other non-global addresses unless the caller
//!   explicitly allows them (tests do, against loopback servers).
//! - [`smtp`]: an SMTP STARTTLS probe (RFC 3207) that records the TLS
//!   version, cipher suite and the full certificate chain the server
//!   presents, and never sends `MAIL` or `RCPT`.
//! - [`https`]: the hardened HTTPS client for what a domain points at on the
//!   web (the MTA-STS policy; later BIMI logos and report URIs): pinned
//!   addresses, https only, pinned roots, no redirects, status 200 only,
//!   body and time caps, no cache.
//!
//! Callers resolve names themselves and pass the address they checked, so
//! the address validated is the address connected to (no DNS rebinding).
//! TLS uses rustls with the `ring` provider only.
//!
//! - [`prober`]: [`LiveProber`], the `mailwarden_model::Prober` a scan
//!   uses: results as evidence, each SMTP target probed once per run and
//!   shared between domains, one connection at a time per address.
//!
//! With the `test-server` feature, `test_server` is a fake SMTP server
//! with STARTTLS on loopback for other crates' tests.

pub mod egress;
pub mod https;
pub mod legacy;
pub mod prober;
pub mod smtp;
#[cfg(any(test, feature = "test-server"))]
pub mod test_server;

pub use egress::check_target;
pub use https::{FetchFailure, FetchOptions, PolicyFetch, Roots, fetch, fetch_mta_sts_policy};
pub use prober::{LiveProber, ProbeConfig};
pub use smtp::{ProbeError, Reply, Stage, TlsCapture, fetch_certificates};
