//! The header flags of negative answers, read off the wire.
//!
//! hickory turns a NODATA or NXDOMAIN response into an error value
//! (`NoRecords`) inside its name-server layer, before any layer we can
//! wrap sees it, and that value keeps no header: the AD bit a validating
//! upstream set on its denial is lost. So every connection the pool opens
//! is wrapped here, and the AD bit of each answerless response is noted
//! per question; [`super::chase`] reads it back for the final hop.

use std::net::IpAddr;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{BoxStream, StreamExt};
use hickory_resolver::config::ConnectionConfig;
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::proto::op::{DnsRequest, DnsResponse};
use hickory_resolver::proto::rr::{LowerName, RecordType};
use hickory_resolver::{ConnectionProvider, PoolContext};
use quick_cache::sync::Cache;

/// Questions whose flags are remembered (least recently used go first).
const FLAGS_KEPT: usize = 8192;

/// A question as sent: name, type, and whether the CD bit was set.
pub(crate) type FlagKey = (LowerName, RecordType, bool);

/// The AD bit of the latest answerless response to each question.
#[derive(Clone)]
pub(crate) struct NegativeFlags(Arc<Cache<FlagKey, bool>>);

impl NegativeFlags {
    pub(crate) fn new() -> Self {
        Self(Arc::new(Cache::new(FLAGS_KEPT)))
    }

    /// The AD bit of the last answerless response to this question.
    pub(crate) fn authentic_data(&self, key: &FlagKey) -> bool {
        self.0.get(key).unwrap_or(false)
    }
}

/// Opens the pool's connections as tokio does, each wrapped in [`Tapped`].
#[derive(Clone)]
pub(crate) struct TapProvider {
    runtime: TokioRuntimeProvider,
    flags: NegativeFlags,
}

impl TapProvider {
    pub(crate) fn new(flags: NegativeFlags) -> Self {
        Self {
            runtime: TokioRuntimeProvider::default(),
            flags,
        }
    }
}

type Inner = <TokioRuntimeProvider as ConnectionProvider>::Conn;

impl ConnectionProvider for TapProvider {
    type Conn = Tapped;
    type FutureConn = BoxFuture<'static, Result<Tapped, NetError>>;
    type RuntimeProvider = TokioRuntimeProvider;

    fn new_connection(
        &self,
        ip: IpAddr,
        config: &ConnectionConfig,
        cx: &PoolContext,
    ) -> Result<Self::FutureConn, NetError> {
        let connecting = ConnectionProvider::new_connection(&self.runtime, ip, config, cx)?;
        let flags = self.flags.clone();
        Ok(Box::pin(async move {
            Ok(Tapped {
                inner: connecting.await?,
                flags,
            })
        }))
    }

    fn runtime_provider(&self) -> &TokioRuntimeProvider {
        &self.runtime
    }
}

/// One connection; notes the AD bit of every answerless response.
#[derive(Clone)]
pub(crate) struct Tapped {
    inner: Inner,
    flags: NegativeFlags,
}

impl DnsHandle for Tapped {
    type Response = BoxStream<'static, Result<DnsResponse, NetError>>;
    type Runtime = TokioRuntimeProvider;

    fn send(&self, request: DnsRequest) -> Self::Response {
        let key = request.queries.first().map(|q| {
            (
                LowerName::new(q.name()),
                q.query_type(),
                request.metadata.checking_disabled,
            )
        });
        let flags = self.flags.clone();
        self.inner
            .send(request)
            .inspect(move |result| {
                if let (Some(key), Ok(response)) = (&key, result)
                    && response.answers.is_empty()
                {
                    flags.0.insert(key.clone(), response.metadata.authentic_data);
                }
            })
            .boxed()
    }
}
