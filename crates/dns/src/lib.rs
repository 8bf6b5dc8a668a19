//! # mailwarden-dns
//!
//! Where answers come from. A [`DnsSource`] answers one question with an
//! [`Answer`](mailwarden_model::Answer), never an `Err`: negative answers and failures are data
//! (see `mailwarden_model::dns::Status`).
//!
//! - [`live`]: hickory-resolver over UDP/TCP with local DNSSEC validation.
//! - [`zonefile`]: answers from RFC 1035 zone files, fully offline.
//! - [`cache::SharedCache`]: one bounded cache for the whole run, so a name
//!   many domains share (an SPF include, a provider's MX) is asked once.

#![warn(missing_docs)]

pub mod bounded;
pub mod cache;
mod lexer;
pub mod live;
pub mod zonefile;

pub use cache::SharedCache;
/// The trait every source implements lives in `mailwarden-model`, beside
/// `Prober` (both I/O traits side by side); re-exported here, where its
/// implementations are.
pub use mailwarden_model::DnsSource;
