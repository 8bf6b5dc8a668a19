//! # mailwarden-model
//!
//! The pure data that flows through mailwarden: `collect` fills an
//! [`Observation`] with every DNS query and answer ([`Answer`]), `judge`
//! turns it into [`RawFinding`]s, and the rule catalogue completes those
//! into [`Finding`]s. Nothing here does I/O.
//!
//! - [`name`]: domain-name normalisation and validation.
//! - [`dns`]: query keys, answers as data (records, negative answers,
//!   failures) and their DNSSEC proof.
//! - [`rdata`]: typed DS, DNSKEY, TLSA and NSEC3PARAM record data.
//! - [`presentation`]: the zone-file text codec (escapes, hex, base64).
//! - [`observation`]: the versioned, serialisable evidence of one scan.
//! - [`finding`]: outcomes, severities, judges' raw findings and complete findings.
//! - [`net`]: address classes (global unicast or not, and why).
//! - [`probe`]: SMTP STARTTLS and HTTPS results as evidence, and the
//!   [`probe::Prober`] that `collect` asks for them.
//! - [`io`]: the two I/O traits side by side, [`DnsSource`] and [`Prober`]
//!   (implemented at the edges, called only by `mailwarden-engine`).

#![warn(missing_docs)]

pub mod codec;
pub mod dns;
pub mod finding;
pub mod io;
pub mod name;
pub mod net;
pub mod observation;
pub mod presentation;
pub mod probe;
pub mod rdata;

pub use dns::{Answer, Proof, QueryKey, RData, RType, Signature, Status};
pub use finding::{Acceptance, Finding, Outcome, RawFinding, Severity};
pub use io::{BoxFuture, DnsSource};
pub use name::{DomainName, NameError};
pub use observation::{DnsView, Lookup, Observation, ScanOptions, SourceInfo, Transcript, Wants};
pub use probe::{HttpsFetch, HttpsStatus, Prober, Probes, SmtpProbe, SmtpStatus, SmtpTarget, TlsSession};
