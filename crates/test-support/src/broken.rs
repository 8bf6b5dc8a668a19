//! Misbehaving DNS servers: the failures an auditor must never read as
//! "record missing".

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

use crate::zones::bind_loopback_pair;

/// How long a relayed query waits for the upstream's answer.
const RELAY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy)]
enum Behaviour {
    /// Answer every query with this RCODE and no records.
    Rcode(ResponseCode),
    /// Read every query, answer none.
    Silent,
    /// Relay UDP queries to `upstream`, except queries of type `drop`,
    /// which get no answer.
    Dropping { upstream: SocketAddr, drop: RecordType },
}

/// A DNS server on `127.0.0.1:<port>` (UDP and TCP) that misbehaves in
/// one way. Stops when dropped.
pub struct BrokenServer {
    addr: SocketAddr,
    tasks: [JoinHandle<()>; 2],
}

impl BrokenServer {
    /// Answers SERVFAIL (RCODE 2) to everything.
    pub async fn servfail() -> Self {
        Self::start(Behaviour::Rcode(ResponseCode::ServFail)).await
    }

    /// Answers REFUSED (RCODE 5) to everything.
    pub async fn refused() -> Self {
        Self::start(Behaviour::Rcode(ResponseCode::Refused)).await
    }

    /// Never answers: UDP queries are read and ignored, TCP connections are
    /// accepted and left hanging.
    pub async fn silent() -> Self {
        Self::start(Behaviour::Silent).await
    }

    /// A UDP relay to `upstream` that never answers queries of type
    /// `rtype` (e.g. `"DNSKEY"`), as a lossy path or a broken middlebox
    /// would. TCP connections are accepted and left hanging.
    ///
    /// # Panics
    ///
    /// If `rtype` is not a record type mnemonic.
    pub async fn dropping(upstream: SocketAddr, rtype: &str) -> Self {
        let drop = rtype
            .parse()
            .unwrap_or_else(|e| panic!("bad record type {rtype:?}: {e}"));
        Self::start(Behaviour::Dropping { upstream, drop }).await
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    async fn start(behaviour: Behaviour) -> Self {
        let (udp, tcp) = bind_loopback_pair().await;
        let addr = udp.local_addr().expect("local addr");
        let tasks = [
            tokio::spawn(serve_udp(Arc::new(udp), behaviour)),
            tokio::spawn(serve_tcp(tcp, behaviour)),
        ];
        Self { addr, tasks }
    }
}

impl Drop for BrokenServer {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

async fn serve_udp(socket: Arc<UdpSocket>, behaviour: Behaviour) {
    // Relays live in this set, so aborting the server aborts them too.
    let mut relays = JoinSet::new();
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..len].to_vec();
        match behaviour {
            Behaviour::Rcode(code) => {
                if let Some(reply) = error_reply(&query, code) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
            Behaviour::Silent => {}
            Behaviour::Dropping { upstream, drop } => {
                if query_type(&query) != Some(drop) {
                    relays.spawn(relay(socket.clone(), query, peer, upstream));
                }
            }
        }
        while relays.try_join_next().is_some() {}
    }
}

async fn relay(socket: Arc<UdpSocket>, query: Vec<u8>, peer: SocketAddr, upstream: SocketAddr) {
    let Ok(out) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await else {
        return;
    };
    if out.send_to(&query, upstream).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 65_535];
    if let Ok(Ok((len, _))) = tokio::time::timeout(RELAY_TIMEOUT, out.recv_from(&mut buf)).await {
        let _ = socket.send_to(&buf[..len], peer).await;
    }
}

/// Answers over TCP as over UDP for an RCODE server; the others read
/// queries and answer none.
async fn serve_tcp(listener: TcpListener, behaviour: Behaviour) {
    crate::tcp::serve(listener, move |query| match behaviour {
        Behaviour::Rcode(code) => error_reply(query, code),
        Behaviour::Silent | Behaviour::Dropping { .. } => None,
    })
    .await;
}

/// A reply to `query` with `code` and the question echoed.
fn error_reply(query: &[u8], code: ResponseCode) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let mut reply = Message::error_msg(query.metadata.id, query.metadata.op_code, code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.add_queries(query.queries.clone());
    reply.to_vec().ok()
}

fn query_type(query: &[u8]) -> Option<RecordType> {
    Message::from_vec(query).ok()?.queries.first().map(|q| q.query_type())
}
