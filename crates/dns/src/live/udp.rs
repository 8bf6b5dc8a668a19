//! UDP to one server over a few long-lived sockets.
//!
//! hickory's UDP client opens a socket for every query (bind, register
//! with epoll, send, receive, close) and routes each through a background
//! task: at tens of thousands of queries a second that setup is most of
//! the kernel time a scan costs. Here each server gets [`SOCKETS`]
//! sockets, each read by one task that hands every datagram to the query
//! waiting for it. The same muxes carry the questions sent straight to
//! authoritative servers (`direct`), with [`DIRECT_SOCKETS`] sockets each;
//! a mux that is dropped closes its sockets once their queries are done.
//!
//! Spoofing resistance is kept (RFC 5452 §9.2: "resolver implementations
//! MUST ... use an unpredictable source port for outgoing queries from the
//! range of available ports ... and use an unpredictable query ID"):
//!
//! - each socket is bound to a port the kernel picks at random (Linux
//!   randomises UDP ephemeral ports) and is replaced after
//!   [`USES_PER_SOCKET`] queries, so the port keeps changing;
//! - every query gets a fresh ID from the operating system's CSPRNG, one
//!   not in flight on that socket;
//! - the socket is connected to the server, so the kernel delivers only
//!   datagrams from the address and port asked;
//! - a response is taken only when its ID is in flight and its question
//!   section is the one sent (RFC 5452 §9.1, RFC 1035 §7.3: "verify that
//!   the question section corresponds to the information currently
//!   desired"); anything else is dropped and the query keeps waiting.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::stream::{self, BoxStream, StreamExt};
use hickory_resolver::net::NetError;
use hickory_resolver::proto::op::{DnsRequest, DnsResponse};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, oneshot};

/// Sockets per resolver. More spreads the IDs in flight over more ports.
const SOCKETS: usize = 8;
/// Sockets per authoritative server asked directly: a scan asks many
/// servers a few questions each.
pub(crate) const DIRECT_SOCKETS: usize = 2;
/// Queries sent from one socket before it is replaced by a new one (a new
/// random port).
const USES_PER_SOCKET: u32 = 512;
/// Largest datagram read (RFC 6891 allows up to 65535 octets).
const RECEIVE_BUFFER: usize = 65_535;

/// UDP to one server. Cheap to clone; the sockets are shared.
#[derive(Clone)]
pub(crate) struct UdpMux {
    shared: Arc<Shared>,
}

struct Shared {
    server: SocketAddr,
    timeout: Duration,
    slots: Vec<Mutex<Option<Arc<Socket>>>>,
    next: AtomicUsize,
    ids: Mutex<RandomIds>,
}

/// One socket, connected to the server, and the queries waiting on it.
struct Socket {
    socket: UdpSocket,
    waiting: Mutex<HashMap<u16, Waiter>>,
    serials: AtomicU64,
    uses: AtomicU32,
    /// No query may register any more; the reader stops once none waits.
    /// Read and written only under `waiting`'s lock, so a query cannot
    /// register after the reader was told to stop.
    retired: AtomicBool,
    /// Wakes the reader to stop once the socket is retired and idle.
    stop: Notify,
}

/// The socket was retired between being picked and the registration.
struct Retired;

/// A query's registration on a socket: its serial and where its reply comes.
type Registration = (u64, oneshot::Receiver<Vec<u8>>);

struct Waiter {
    question: Vec<u8>,
    reply: oneshot::Sender<Vec<u8>>,
    /// Which registration this is: once answered, the same ID may be
    /// taken by the next query before the first one's lease is dropped.
    serial: u64,
}

impl UdpMux {
    /// A resolver's mux: [`SOCKETS`] sockets.
    pub(crate) fn new(server: SocketAddr, timeout: Duration) -> Self {
        Self::with_sockets(server, timeout, SOCKETS)
    }

    pub(crate) fn with_sockets(server: SocketAddr, timeout: Duration, sockets: usize) -> Self {
        Self {
            shared: Arc::new(Shared {
                server,
                timeout,
                slots: (0..sockets.max(1)).map(|_| Mutex::new(None)).collect(),
                next: AtomicUsize::new(0),
                ids: Mutex::new(RandomIds::default()),
            }),
        }
    }

    pub(crate) fn send(&self, request: DnsRequest) -> BoxStream<'static, Result<DnsResponse, NetError>> {
        let shared = self.shared.clone();
        stream::once(async move { shared.exchange(request).await }).boxed()
    }

    /// One query and its response.
    pub(crate) async fn exchange(&self, request: DnsRequest) -> Result<DnsResponse, NetError> {
        self.shared.exchange(request).await
    }
}

impl Drop for Shared {
    /// The last handle is gone (a query in flight holds one): stop the
    /// readers, which closes the sockets.
    fn drop(&mut self) {
        for slot in &mut self.slots {
            if let Some(socket) = slot.get_mut().unwrap_or_else(PoisonError::into_inner).take() {
                socket.retire();
            }
        }
    }
}

impl Shared {
    async fn exchange(&self, request: DnsRequest) -> Result<DnsResponse, NetError> {
        let mut wire = request.to_vec()?;
        let question = question_section(&wire)
            .ok_or_else(|| NetError::from("the query has no question section"))?
            .to_vec();
        // A socket retired between being picked and the registration (a
        // concurrent query replaced it) takes no more queries: pick again.
        let (socket, (id, (serial, receiver))) = loop {
            let socket = self.socket().await?;
            if let Ok(registered) = self.register(&socket, &question)? {
                break (socket, registered);
            }
        };
        wire[..2].copy_from_slice(&id.to_be_bytes());
        let lease = Lease {
            socket: &socket,
            id,
            serial,
        };
        socket.socket.send(&wire).await?;
        let reply = match tokio::time::timeout(self.timeout, receiver).await {
            Ok(Ok(reply)) => reply,
            Ok(Err(_)) => return Err(NetError::from("the UDP socket's reader stopped")),
            Err(_) => return Err(NetError::Timeout),
        };
        drop(lease);
        Ok(DnsResponse::from_buffer(reply)?)
    }

    /// The next socket round-robin, replaced by a fresh one when it has
    /// been used up (or never opened).
    async fn socket(&self) -> Result<Arc<Socket>, NetError> {
        let slot = &self.slots[self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len()];
        let current = slot.lock().unwrap_or_else(PoisonError::into_inner).clone();
        if let Some(socket) = current
            && socket.uses.fetch_add(1, Ordering::Relaxed) < USES_PER_SOCKET
        {
            return Ok(socket);
        }
        let fresh = Socket::open(self.server).await?;
        fresh.uses.store(1, Ordering::Relaxed);
        let old = slot
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .replace(fresh.clone());
        if let Some(old) = old {
            old.retire();
        }
        Ok(fresh)
    }

    /// A random ID not in flight on `socket`, and the channel its reply
    /// comes on; `Err(Retired)` when the socket takes no more queries.
    fn register(&self, socket: &Socket, question: &[u8]) -> io::Result<Result<(u16, Registration), Retired>> {
        loop {
            let id = self.ids.lock().unwrap_or_else(PoisonError::into_inner).next()?;
            match socket.wait(id, question) {
                Ok(Some(registration)) => return Ok(Ok((id, registration))),
                Ok(None) => continue, // the ID is in flight: draw another
                Err(retired) => return Ok(Err(retired)),
            }
        }
    }
}

/// A query in flight: leaving (answered, timed out or cancelled) removes
/// its ID, and stops a retired socket's reader once nothing waits.
struct Lease<'a> {
    socket: &'a Arc<Socket>,
    id: u16,
    serial: u64,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut waiting = self.socket.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        // Only its own registration: another query may hold the ID now.
        if waiting.get(&self.id).is_some_and(|w| w.serial == self.serial) {
            waiting.remove(&self.id);
        }
        // Only once retired: a socket whose uses are spent but that is still
        // in its slot may have a query registering on it right now.
        if waiting.is_empty() && self.socket.retired.load(Ordering::Relaxed) {
            self.socket.stop.notify_one();
        }
    }
}

impl Socket {
    async fn open(server: SocketAddr) -> io::Result<Arc<Self>> {
        let local: SocketAddr = if server.is_ipv4() {
            (Ipv4Addr::UNSPECIFIED, 0).into()
        } else {
            (Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(local).await?;
        socket.connect(server).await?;
        let socket = Arc::new(Self {
            socket,
            waiting: Mutex::default(),
            serials: AtomicU64::new(0),
            uses: AtomicU32::new(0),
            retired: AtomicBool::new(false),
            stop: Notify::new(),
        });
        tokio::spawn(socket.clone().read());
        Ok(socket)
    }

    /// Wait for the reply to `id`, unless that ID is in flight already
    /// (`Ok(None)`) or the socket is retired.
    fn wait(&self, id: u16, question: &[u8]) -> Result<Option<Registration>, Retired> {
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        if self.retired.load(Ordering::Relaxed) {
            return Err(Retired);
        }
        let std::collections::hash_map::Entry::Vacant(entry) = waiting.entry(id) else {
            return Ok(None);
        };
        let (reply, receiver) = oneshot::channel();
        let serial = self.serials.fetch_add(1, Ordering::Relaxed);
        entry.insert(Waiter {
            question: question.to_vec(),
            reply,
            serial,
        });
        Ok(Some((serial, receiver)))
    }

    /// No new queries go out on it; its reader stops once the ones in
    /// flight are done.
    fn retire(&self) {
        self.uses.store(USES_PER_SOCKET, Ordering::Relaxed);
        let waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        self.retired.store(true, Ordering::Relaxed);
        if waiting.is_empty() {
            self.stop.notify_one();
        }
    }

    /// Hand each datagram to the query it answers; drop the rest.
    async fn read(self: Arc<Self>) {
        let mut buffer = vec![0; RECEIVE_BUFFER];
        loop {
            let len = tokio::select! {
                received = self.socket.recv(&mut buffer) => match received {
                    Ok(len) => len,
                    // ICMP port unreachable and the like: the queries time out.
                    Err(_) => continue,
                },
                () = self.stop.notified() => return,
            };
            self.deliver(&buffer[..len]);
        }
    }

    fn deliver(&self, datagram: &[u8]) {
        let Some(id) = datagram.first_chunk::<2>().map(|b| u16::from_be_bytes(*b)) else {
            return;
        };
        let mut waiting = self.waiting.lock().unwrap_or_else(PoisonError::into_inner);
        let matches = waiting
            .get(&id)
            .is_some_and(|w| question_section(datagram).is_some_and(|q| q.eq_ignore_ascii_case(&w.question)));
        if matches && let Some(waiter) = waiting.remove(&id) {
            let _ = waiter.reply.send(datagram.to_vec());
        }
    }
}

/// The question section of a message with one question: the name, type
/// and class, as sent (uncompressed: it is the first name
/// of the message). `None` when the message is not shaped so.
fn question_section(message: &[u8]) -> Option<&[u8]> {
    if message.get(4..6)? != [0, 1] {
        return None;
    }
    let mut at = 12;
    loop {
        let len = usize::from(*message.get(at)?);
        if len == 0 {
            break;
        }
        if len > 63 {
            return None; // a compression pointer or a reserved label type
        }
        at += 1 + len;
    }
    message.get(12..at + 1 + 4)
}

/// Query IDs from the OS's CSPRNG, fetched 256 at a time.
#[derive(Default)]
struct RandomIds {
    bytes: Vec<u8>,
}

impl RandomIds {
    fn next(&mut self) -> io::Result<u16> {
        if self.bytes.len() < 2 {
            self.bytes = vec![0; 512];
            getrandom::fill(&mut self.bytes).map_err(|e| io::Error::other(e.to_string()))?;
        }
        let low = self.bytes.pop().unwrap_or_default();
        let high = self.bytes.pop().unwrap_or_default();
        Ok(u16::from_be_bytes([high, low]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &[u8], id: u16) -> Vec<u8> {
        let mut m = id.to_be_bytes().to_vec();
        m.extend([1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        m.extend(name);
        m.extend([0, 16, 0, 1]);
        m
    }

    #[test]
    fn the_question_section_is_the_name_type_and_class() {
        let m = query(b"\x01a\x04test\x00", 7);
        assert_eq!(question_section(&m), Some(&b"\x01a\x04test\x00\x00\x10\x00\x01"[..]));
        assert_eq!(question_section(&m[..m.len() - 1]), None, "truncated");
        let mut two = m.clone();
        two[5] = 2;
        assert_eq!(question_section(&two), None, "two questions");
    }

    #[tokio::test]
    async fn a_reply_with_another_question_or_id_is_dropped_and_the_right_one_taken() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mux = UdpMux::new(server.local_addr().unwrap(), Duration::from_secs(5));
        let request = DnsRequest::from_query(
            hickory_resolver::proto::op::Query::query(
                "a.test.".parse().unwrap(),
                hickory_resolver::proto::rr::RecordType::TXT,
            ),
            hickory_resolver::proto::op::DnsRequestOptions::default(),
        );
        let answer = tokio::spawn(async move { mux.send(request).next().await.unwrap() });
        let mut buf = [0; 512];
        let (len, client) = server.recv_from(&mut buf).await.unwrap();
        let sent = buf[..len].to_vec();
        let id = u16::from_be_bytes([sent[0], sent[1]]);
        let mut reply = sent.clone();
        reply[2] |= 0x80; // QR
        // Wrong ID, then the right ID with another question: both dropped.
        let mut wrong_id = reply.clone();
        wrong_id[..2].copy_from_slice(&id.wrapping_add(1).to_be_bytes());
        server.send_to(&wrong_id, client).await.unwrap();
        let mut wrong_question = reply.clone();
        assert_eq!(&wrong_question[12..18], b"\x01a\x04tes");
        wrong_question[16] = b'b'; // "a.test" -> "a.tbst"
        server.send_to(&wrong_question, client).await.unwrap();
        server.send_to(&reply, client).await.unwrap();
        let response = answer.await.unwrap().unwrap();
        assert_eq!(response.id, id);
        assert_eq!(response.queries[0].name().to_ascii(), "a.test.");
    }

    #[tokio::test]
    async fn a_dropped_mux_stops_its_readers_and_closes_its_sockets() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mux = UdpMux::with_sockets(server.local_addr().unwrap(), Duration::from_millis(50), 1);
        let request = DnsRequest::from_query(
            hickory_resolver::proto::op::Query::query(
                "a.test.".parse().unwrap(),
                hickory_resolver::proto::rr::RecordType::A,
            ),
            hickory_resolver::proto::op::DnsRequestOptions::default(),
        );
        let _ = mux.exchange(request).await; // opens the socket; times out
        let socket = mux.shared.slots[0]
            .lock()
            .unwrap()
            .clone()
            .expect("a socket was opened");
        assert_eq!(Arc::strong_count(&socket), 3, "the slot, the reader and this test");
        drop(mux);
        for _ in 0..100 {
            if Arc::strong_count(&socket) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the reader still holds the socket after its mux was dropped");
    }

    /// Found by comparing the lab's findings before and after the direct
    /// queries moved onto these sockets: a query answered, then its ID
    /// drawn again by the next query before the first one's lease was
    /// dropped, and that drop removed the next query's waiter ("the UDP
    /// socket's reader stopped").
    #[tokio::test]
    async fn a_late_lease_leaves_the_next_query_with_the_same_id_waiting() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let socket = Socket::open(server.local_addr().unwrap()).await.unwrap();
        let question = b"\x01a\x04test\x00\x00\x01\x00\x01";
        let (first, _answered) = registered(socket.wait(7, question));
        socket.waiting.lock().unwrap().remove(&7); // answered (as `deliver` does)
        let (_second, mut next) = registered(socket.wait(7, question));
        drop(Lease {
            socket: &socket,
            id: 7,
            serial: first,
        });
        assert!(
            socket.waiting.lock().unwrap().contains_key(&7),
            "the next query still waits"
        );
        assert!(next.try_recv().is_err_and(|e| e == oneshot::error::TryRecvError::Empty));
        socket.retire();
    }

    fn registered(wait: Result<Option<Registration>, Retired>) -> Registration {
        match wait {
            Ok(Some(registered)) => registered,
            _ => panic!("not registered"),
        }
    }

    /// Found reading the code for the lab's findings comparison: the last
    /// query a socket's uses allowed could pick the socket, then another
    /// query's lease, seeing the uses spent and nothing waiting, stopped
    /// the reader; the query registered after that waited for a reply no
    /// one would hand it, and timed out.
    #[tokio::test]
    async fn a_used_up_socket_keeps_its_reader_until_it_is_retired() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let socket = Socket::open(server.local_addr().unwrap()).await.unwrap();
        let question = b"\x01a\x04test\x00\x00\x01\x00\x01";
        let (serial, _reply) = registered(socket.wait(7, question));
        socket.uses.store(USES_PER_SOCKET, Ordering::Relaxed);
        drop(Lease {
            socket: &socket,
            id: 7,
            serial,
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(Arc::strong_count(&socket), 2, "the reader still runs");
        let (_, _late) = registered(socket.wait(8, question));
        socket.waiting.lock().unwrap().clear();
        socket.retire();
        assert!(socket.wait(9, question).is_err(), "a retired socket takes no query");
        for _ in 0..100 {
            if Arc::strong_count(&socket) == 1 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the retired socket's reader did not stop");
    }

    #[tokio::test]
    async fn no_reply_is_a_timeout() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mux = UdpMux::new(server.local_addr().unwrap(), Duration::from_millis(100));
        let request = DnsRequest::from_query(
            hickory_resolver::proto::op::Query::query(
                "a.test.".parse().unwrap(),
                hickory_resolver::proto::rr::RecordType::A,
            ),
            hickory_resolver::proto::op::DnsRequestOptions::default(),
        );
        let result = mux.send(request).next().await.unwrap();
        assert!(matches!(result, Err(NetError::Timeout)), "{result:?}");
    }
}
