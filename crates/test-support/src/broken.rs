//! Misbehaving DNS servers: the failures an auditor must never read as
//! "record missing".

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, MX, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
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
    /// Relay UDP queries to `upstream` and rewrite each response.
    Rewriting { upstream: SocketAddr, rewrite: Rewrite },
    /// Answer every query NOERROR with one record of the asked type owned
    /// by another name (`elsewhere.invalid.`).
    ForeignOwner,
    /// Relay UDP queries to `upstream`, following CNAMEs into other zones
    /// as a recursive resolver does.
    Recursive { upstream: SocketAddr },
}

/// How a relay changes a response.
type Rewrite = fn(&mut Message);

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

    /// A UDP relay to `upstream` that strips every DNSSEC record (RRSIG,
    /// DNSKEY, DS, NSEC, NSEC3, NSEC3PARAM) from its responses, as a
    /// resolver or middlebox that is not DNSSEC-aware does: a DNSKEY
    /// question, even for the root, gets an empty answer.
    pub async fn stripping_dnssec(upstream: SocketAddr) -> Self {
        Self::start(Behaviour::Rewriting {
            upstream,
            rewrite: strip_dnssec,
        })
        .await
    }

    /// A UDP relay to `upstream` that sets the AD bit on every response, as
    /// a validating resolver does on data it validated.
    pub async fn setting_ad(upstream: SocketAddr) -> Self {
        Self::start(Behaviour::Rewriting {
            upstream,
            rewrite: |message| message.metadata.authentic_data = true,
        })
        .await
    }

    /// Answers every query NOERROR with a record of the asked type (A,
    /// AAAA, MX, TXT; TXT for any other) owned by `elsewhere.invalid.`,
    /// not by the name asked, and no CNAME leading there.
    pub async fn foreign_owner() -> Self {
        Self::start(Behaviour::ForeignOwner).await
    }

    /// A UDP relay to `upstream` (an authoritative [`crate::TestDns`])
    /// that answers as a recursive resolver does: when an answer ends in a
    /// CNAME whose target it does not answer (the target is in another
    /// zone), it asks for the target too and returns the whole chain, with
    /// the target's authority section (its SOA and NSEC for a denial) and
    /// RCODE. Flags (DO, CD) are passed on as sent.
    pub async fn recursive(upstream: SocketAddr) -> Self {
        Self::start(Behaviour::Recursive { upstream }).await
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
                    relays.spawn(relay(socket.clone(), query, peer, upstream, None));
                }
            }
            Behaviour::Rewriting { upstream, rewrite } => {
                relays.spawn(relay(socket.clone(), query, peer, upstream, Some(rewrite)));
            }
            Behaviour::Recursive { upstream } => {
                relays.spawn(recursive_relay(socket.clone(), query, peer, upstream));
            }
            Behaviour::ForeignOwner => {
                if let Some(reply) = foreign_reply(&query) {
                    let _ = socket.send_to(&reply, peer).await;
                }
            }
        }
        while relays.try_join_next().is_some() {}
    }
}

async fn relay(
    socket: Arc<UdpSocket>,
    query: Vec<u8>,
    peer: SocketAddr,
    upstream: SocketAddr,
    rewrite: Option<Rewrite>,
) {
    let Ok(out) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await else {
        return;
    };
    if out.send_to(&query, upstream).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 65_535];
    let Ok(Ok((len, _))) = tokio::time::timeout(RELAY_TIMEOUT, out.recv_from(&mut buf)).await else {
        return;
    };
    let reply = match rewrite {
        None => buf[..len].to_vec(),
        Some(rewrite) => {
            let Ok(mut message) = Message::from_vec(&buf[..len]) else {
                return;
            };
            rewrite(&mut message);
            let Ok(bytes) = message.to_vec() else { return };
            bytes
        }
    };
    let _ = socket.send_to(&reply, peer).await;
}

/// Ask `upstream` once: the response, parsed.
async fn exchange(query: &Message, upstream: SocketAddr) -> Option<Message> {
    let out = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.ok()?;
    out.send_to(&query.to_vec().ok()?, upstream).await.ok()?;
    let mut buf = vec![0u8; 65_535];
    let (len, _) = tokio::time::timeout(RELAY_TIMEOUT, out.recv_from(&mut buf))
        .await
        .ok()?
        .ok()?;
    Message::from_vec(&buf[..len]).ok()
}

/// The end of the CNAME chain in `answers` that starts at `name`.
fn chain_end(answers: &[Record], mut name: Name) -> Name {
    for _ in 0..answers.len() {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(cname) if r.name == name => Some(cname.0.clone()),
            _ => None,
        });
        match next {
            Some(target) => name = target,
            None => break,
        }
    }
    name
}

async fn recursive_relay(socket: Arc<UdpSocket>, query: Vec<u8>, peer: SocketAddr, upstream: SocketAddr) {
    let Ok(request) = Message::from_vec(&query) else { return };
    let Some(question) = request.queries.first().cloned() else {
        return;
    };
    let Some(mut reply) = exchange(&request, upstream).await else {
        return;
    };
    let mut asked = question.name().clone();
    for _ in 0..8 {
        let end = chain_end(&reply.answers, question.name().clone());
        let answered = reply
            .answers
            .iter()
            .any(|r| r.name == end && r.record_type() == question.query_type());
        if end == asked || answered || question.query_type() == RecordType::CNAME {
            break;
        }
        let mut next = request.clone();
        next.queries = vec![Query::query(end.clone(), question.query_type())];
        let Some(more) = exchange(&next, upstream).await else {
            return;
        };
        reply.answers.extend(more.answers);
        reply.authorities = more.authorities;
        reply.metadata.response_code = more.metadata.response_code;
        asked = end;
    }
    if let Ok(bytes) = reply.to_vec() {
        let _ = socket.send_to(&bytes, peer).await;
    }
}

/// Drop every DNSSEC record from every section.
fn strip_dnssec(message: &mut Message) {
    let keep = |r: &Record| !r.record_type().is_dnssec();
    message.answers.retain(keep);
    message.authorities.retain(keep);
    message.additionals.retain(keep);
    message.metadata.authentic_data = false;
}

/// NOERROR with one record of the asked type owned by `elsewhere.invalid.`.
fn foreign_reply(query: &[u8]) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let question = query.queries.first()?;
    let owner = Name::from_ascii("elsewhere.invalid.").ok()?;
    let rdata = match question.query_type() {
        RecordType::A => RData::A(A::new(192, 0, 2, 1)),
        RecordType::AAAA => RData::AAAA(AAAA::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)),
        RecordType::MX => RData::MX(MX::new(10, owner.clone())),
        _ => RData::TXT(TXT::new(vec!["v=spf1 -all".into()])),
    };
    let mut reply = Message::error_msg(query.metadata.id, query.metadata.op_code, ResponseCode::NoError);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_queries(query.queries.clone());
    reply.add_answer(Record::from_rdata(owner, 300, rdata));
    reply.to_vec().ok()
}

/// Answers over TCP as over UDP for an RCODE or foreign-owner server;
/// the others read queries and answer none.
async fn serve_tcp(listener: TcpListener, behaviour: Behaviour) {
    crate::tcp::serve(listener, move |query| match behaviour {
        Behaviour::Rcode(code) => error_reply(query, code),
        Behaviour::ForeignOwner => foreign_reply(query),
        Behaviour::Silent | Behaviour::Dropping { .. } | Behaviour::Rewriting { .. } | Behaviour::Recursive { .. } => {
            None
        }
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
