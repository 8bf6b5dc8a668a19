//! The two I/O traits, side by side: where DNS answers come from
//! ([`DnsSource`]) and who makes the connections a scan asks for
//! ([`Prober`]). Both answer every question with data (a failure is a
//! status), never an `Err`, and never panic. Implementations live at the
//! edges (`mailwarden-dns`, `mailwarden-probe`); the fixpoint that calls
//! them lives in `mailwarden-engine`; the judges in `mailwarden-checks`
//! see neither, only the evidence they produced.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use crate::dns::{Answer, QueryKey};
use crate::observation::SourceInfo;
use crate::probe::{HttpsFetch, SmtpProbe, SmtpTarget};

/// A boxed future, `Send`, without a dependency on an async crate.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// Who makes the connections `collect` was asked for. Implementations
/// answer every question with data (a failure is a status), never panic.
pub trait Prober: Send + Sync {
    /// Probe STARTTLS on `target`.
    fn smtp<'a>(&'a self, target: &'a SmtpTarget) -> BoxFuture<'a, SmtpProbe>;
    /// Fetch `url` from `addresses` (the caller's resolution of its host).
    fn https<'a>(&'a self, url: &'a str, addresses: &'a [IpAddr]) -> BoxFuture<'a, HttpsFetch>;
}
