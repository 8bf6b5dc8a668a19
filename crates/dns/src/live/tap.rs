//! The header flags of negative answers, read off the wire.
//!
//! hickory turns a NODATA or NXDOMAIN response into an error value
//! (`NoRecords`) inside its name-server layer, before any layer we can
//! wrap sees it, and that value keeps no header: the AD bit a validating
//! upstream set on its denial is lost. So every connection the pool opens
//! is wrapped here, and the AD bit of each answerless response is noted
//! per question; [`super::chase`] reads it back for the final hop.
//!
//! UDP connections are [`UdpMux`]es (a few reused sockets per server)
//! rather than hickory's socket per query; TCP is hickory's.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::stream::{self, BoxStream, StreamExt};
use hickory_resolver::config::{ConnectionConfig, ProtocolConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::proto::op::{DnsRequest, DnsResponse};
use hickory_resolver::proto::rr::{LowerName, RecordType};
use hickory_resolver::{ConnectionProvider, PoolContext};
use quick_cache::sync::Cache;

use super::polite::Politeness;
use super::udp::UdpMux;

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

/// Opens the pool's connections, each wrapped in [`Tapped`].
#[derive(Clone)]
pub(crate) struct TapProvider {
    runtime: TokioRuntimeProvider,
    flags: NegativeFlags,
    polite: Arc<Politeness>,
}

impl TapProvider {
    pub(crate) fn new(flags: NegativeFlags, polite: Arc<Politeness>) -> Self {
        Self {
            runtime: TokioRuntimeProvider::default(),
            flags,
            polite,
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
        let (flags, polite) = (self.flags.clone(), self.polite.clone());
        if matches!(config.protocol, ProtocolConfig::Udp) && config.bind_addr.is_none() {
            let inner = Conn::Udp(UdpMux::new(SocketAddr::new(ip, config.port), cx.options.timeout));
            return Ok(Box::pin(async move {
                Ok(Tapped {
                    inner,
                    ip,
                    flags,
                    polite,
                })
            }));
        }
        let connecting = ConnectionProvider::new_connection(&self.runtime, ip, config, cx)?;
        Ok(Box::pin(async move {
            Ok(Tapped {
                inner: Conn::Hickory(connecting.await?),
                ip,
                flags,
                polite,
            })
        }))
    }

    fn runtime_provider(&self) -> &TokioRuntimeProvider {
        &self.runtime
    }
}

/// One connection; notes the AD bit of every answerless response, and
/// keeps to the server's rate limit and backoff (see `polite`).
#[derive(Clone)]
pub(crate) struct Tapped {
    inner: Conn,
    ip: IpAddr,
    flags: NegativeFlags,
    polite: Arc<Politeness>,
}

#[derive(Clone)]
enum Conn {
    Udp(UdpMux),
    Hickory(Inner),
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
        let (inner, ip, polite) = (self.inner.clone(), self.ip, self.polite.clone());
        let sent = async move {
            polite.wait(ip).await;
            let sent = match &inner {
                Conn::Udp(udp) => udp.send(request),
                Conn::Hickory(inner) => inner.send(request).boxed(),
            };
            sent.inspect(move |result| {
                polite.answered(ip, result.as_ref().ok().map(|r| r.metadata.response_code));
            })
        };
        stream::once(sent)
            .flatten()
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
