//! # mailwarden-dns
//!
//! Where answers come from. A [`DnsSource`] answers one question with an
//! [`Answer`], never an `Err`: negative answers and failures are data
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

use futures::future::BoxFuture;
use mailwarden_model::{Answer, QueryKey, SourceInfo};

pub use cache::SharedCache;

/// A source of DNS answers.
pub trait DnsSource: Send + Sync {
    /// Answer one question. Failures come back as an `Answer` whose status
    /// says what went wrong; this never panics and never returns `Err`.
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer>;

    /// Describe the source for the Observation's evidence.
    fn describe(&self) -> SourceInfo;
}

impl<T: DnsSource + ?Sized> DnsSource for std::sync::Arc<T> {
    fn query<'a>(&'a self, key: &'a QueryKey) -> BoxFuture<'a, Answer> {
        (**self).query(key)
    }

    fn describe(&self) -> SourceInfo {
        (**self).describe()
    }
}
