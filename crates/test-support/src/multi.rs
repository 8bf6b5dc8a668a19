//! Several authoritative servers for one zone, each with its own data, on
//! distinct loopback addresses (127.0.0.2, 127.0.0.3, …) and one shared
//! port: what the nameserver checks compare.
//!
//! ```no_run
//! # async fn demo() {
//! use mailwarden_test_support::{MultiServer, NsServer};
//!
//! let net = MultiServer::builder("example.test.")
//!     .record("example.test.", "MX 10 mx.example.test.") // on every server that serves the zone
//!     .server(NsServer::authoritative())                  // ns1.example.test. = 127.0.0.2
//!     .server(NsServer::authoritative().serial(2).replace("example.test.", "MX 20 evil.example.test."))
//!     .server(NsServer::silent())                         // listed, never answers
//!     .server(NsServer::not_authoritative())              // answers without the AA bit
//!     .start()
//!     .await;
//! let _resolver = net.resolver(); // the first authoritative server, for the resolver path
//! let _port = net.port();         // LiveConfig::authoritative_port
//! # }
//! ```
//!
//! Server `i` is `ns<i+1>.<origin>` at `127.0.0.<i+2>`; every zone lists
//! all of them in its NS RRset, with their A records. Zones are unsigned.
//! Every server stops when the [`MultiServer`] is dropped.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::{Message, MessageType};
use hickory_proto::rr::rdata::{A, NS, SOA};
use hickory_proto::rr::{LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::task::{JoinHandle, JoinSet};

const TTL: u32 = 300;

/// How long the non-authoritative relay waits for its inner server.
const RELAY_TIMEOUT: Duration = Duration::from_secs(5);

/// How one listed nameserver behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Serves the zone with authority.
    Authoritative,
    /// Reads every query and answers none (UDP and TCP).
    Silent,
    /// Answers from its copy of the zone, but with the AA bit cleared, as a
    /// caching resolver would (UDP; TCP connections hang).
    NotAuthoritative,
    /// Answers every query with a referral: no answer, the zone's NS
    /// records in the authority section, no AA bit (UDP; TCP hangs).
    Referral,
}

/// One listed nameserver and its copy of the zone.
#[derive(Debug, Clone)]
pub struct NsServer {
    role: Role,
    serial: u32,
    add: Vec<(String, String)>,
    remove: Vec<(String, RecordType)>,
}

impl NsServer {
    fn new(role: Role) -> Self {
        Self {
            role,
            serial: 1,
            add: Vec::new(),
            remove: Vec::new(),
        }
    }

    /// Serves the zone with authority (SOA serial 1 unless told otherwise).
    pub fn authoritative() -> Self {
        Self::new(Role::Authoritative)
    }

    /// Never answers.
    pub fn silent() -> Self {
        Self::new(Role::Silent)
    }

    /// Answers from the zone data without the AA bit.
    pub fn not_authoritative() -> Self {
        Self::new(Role::NotAuthoritative)
    }

    /// Answers every query with a referral to the zone's nameservers.
    pub fn referral() -> Self {
        Self::new(Role::Referral)
    }

    /// The SOA serial of this server's copy.
    pub fn serial(mut self, serial: u32) -> Self {
        self.serial = serial;
        self
    }

    /// An extra record on this server only (`rdata` as in a zone file,
    /// optionally preceded by a TTL).
    pub fn record(mut self, owner: &str, rdata: &str) -> Self {
        self.add.push((owner.to_string(), rdata.to_string()));
        self
    }

    /// Leave out the shared records of this type at `owner` (e.g. `"MX"`).
    ///
    /// # Panics
    ///
    /// If `rtype` is not a record type mnemonic.
    pub fn without(mut self, owner: &str, rtype: &str) -> Self {
        let rtype: RecordType = rtype
            .parse()
            .unwrap_or_else(|e| panic!("bad record type {rtype:?}: {e}"));
        self.remove.push((owner.to_string(), rtype));
        self
    }

    /// Replace the shared records of `rdata`'s type at `owner` with `rdata`.
    pub fn replace(self, owner: &str, rdata: &str) -> Self {
        let rtype = rdata
            .split_whitespace()
            .find(|t| t.parse::<u32>().is_err())
            .expect("a record type");
        self.without(owner, rtype).record(owner, rdata)
    }
}

/// Builds a [`MultiServer`].
#[derive(Debug)]
pub struct MultiServerBuilder {
    origin: Name,
    records: Vec<(String, String)>,
    servers: Vec<NsServer>,
}

impl MultiServerBuilder {
    /// A record on every server's copy of the zone.
    pub fn record(mut self, owner: &str, rdata: &str) -> Self {
        self.records.push((owner.to_string(), rdata.to_string()));
        self
    }

    /// The next listed nameserver.
    pub fn server(mut self, server: NsServer) -> Self {
        self.servers.push(server);
        self
    }

    /// Bind every server and start serving.
    ///
    /// # Panics
    ///
    /// On a record that does not parse, on no servers or more than 250, and
    /// when no port is free on every address after many tries: this is test
    /// set-up, and a loud failure is the useful one.
    pub async fn start(self) -> MultiServer {
        assert!(
            (1..=250).contains(&self.servers.len()),
            "between 1 and 250 servers, got {}",
            self.servers.len()
        );
        let (reserve, port, sockets) = bind_all(self.servers.len()).await;
        let mut running = Vec::new();
        for (i, (server, (udp, tcp))) in self.servers.iter().zip(sockets).enumerate() {
            let handle = match server.role {
                Role::Authoritative => {
                    let mut server_fut = Server::new(self.catalog(server));
                    server_fut.register_socket(udp);
                    server_fut.register_listener(tcp, Duration::from_secs(5), 64);
                    Running::Hickory(Box::new(server_fut))
                }
                Role::Silent => Running::Tasks(vec![
                    tokio::spawn(serve_udp(udp, Reply::Silent)),
                    tokio::spawn(hang_tcp(tcp)),
                ]),
                Role::Referral => {
                    let ns = self.ns_records();
                    Running::Tasks(vec![
                        tokio::spawn(serve_udp(udp, Reply::Referral(Arc::new(ns)))),
                        tokio::spawn(hang_tcp(tcp)),
                    ])
                }
                Role::NotAuthoritative => {
                    let inner_udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
                        .await
                        .expect("bind inner server");
                    let inner = inner_udp.local_addr().expect("local addr");
                    let mut inner_server = Server::new(self.catalog(server));
                    inner_server.register_socket(inner_udp);
                    Running::Relay(
                        Box::new(inner_server),
                        vec![
                            tokio::spawn(serve_udp(udp, Reply::ClearAa(inner))),
                            tokio::spawn(hang_tcp(tcp)),
                        ],
                    )
                }
            };
            running.push((server_ip(i), ns_name(&self.origin, i), server.role, handle));
        }
        MultiServer {
            port,
            servers: running,
            _reserve: reserve,
        }
    }

    /// The zone as one server holds it.
    fn catalog(&self, server: &NsServer) -> Catalog {
        let origin = &self.origin;
        let mut zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny, None);
        let hostmaster = Name::from_ascii("hostmaster")
            .expect("label")
            .append_domain(origin)
            .expect("rname");
        let soa = SOA::new(ns_name(origin, 0), hostmaster, server.serial, 3600, 600, 86_400, TTL);
        zone.upsert_mut(Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)), 0);
        for record in self.ns_records() {
            zone.upsert_mut(record, 0);
        }
        for i in 0..self.servers.len() {
            let a = RData::A(A(server_ip(i)));
            zone.upsert_mut(Record::from_rdata(ns_name(origin, i), TTL, a), 0);
        }
        let removed = |record: &Record| {
            server
                .remove
                .iter()
                .any(|(owner, rtype)| fqdn(owner) == record.name && *rtype == record.record_type())
        };
        for (owner, rdata) in &self.records {
            for record in parse_record(&fqdn(owner), origin, rdata) {
                if !removed(&record) {
                    zone.upsert_mut(record, 0);
                }
            }
        }
        for (owner, rdata) in &server.add {
            for record in parse_record(&fqdn(owner), origin, rdata) {
                zone.upsert_mut(record, 0);
            }
        }
        let mut catalog = Catalog::new();
        let handler: Arc<dyn ZoneHandler> = Arc::new(zone);
        catalog.upsert(LowerName::new(origin), vec![handler]);
        catalog
    }

    /// The NS RRset: every listed server.
    fn ns_records(&self) -> Vec<Record> {
        (0..self.servers.len())
            .map(|i| Record::from_rdata(self.origin.clone(), TTL, RData::NS(NS(ns_name(&self.origin, i)))))
            .collect()
    }
}

enum Running {
    Hickory(#[allow(dead_code, reason = "kept only to be dropped: that stops the server")] Box<Server<Catalog>>),
    Tasks(Vec<JoinHandle<()>>),
    Relay(
        #[allow(dead_code, reason = "kept only to be dropped: that stops the server")] Box<Server<Catalog>>,
        Vec<JoinHandle<()>>,
    ),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Running::Tasks(tasks) | Running::Relay(_, tasks) = self {
            for task in tasks {
                task.abort();
            }
        }
    }
}

/// Several nameservers for one zone on loopback; see the module docs.
pub struct MultiServer {
    port: u16,
    servers: Vec<(Ipv4Addr, Name, Role, Running)>,
    /// Holds the port on 127.0.0.1 so no other test is given it.
    _reserve: std::net::UdpSocket,
}

impl MultiServer {
    /// Start describing the servers of the zone `origin`.
    pub fn builder(origin: &str) -> MultiServerBuilder {
        MultiServerBuilder {
            origin: fqdn(origin),
            records: Vec::new(),
            servers: Vec::new(),
        }
    }

    /// The port every server listens on (UDP and TCP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address of server `i` (`127.0.0.<i+2>`).
    pub fn ip(&self, i: usize) -> IpAddr {
        IpAddr::V4(self.servers[i].0)
    }

    /// Where server `i` listens.
    pub fn addr(&self, i: usize) -> SocketAddr {
        SocketAddr::new(self.ip(i), self.port)
    }

    /// The name of server `i`, normalised (`ns<i+1>.<origin>`, no trailing dot).
    pub fn ns_name(&self, i: usize) -> String {
        let name = self.servers[i].1.to_ascii();
        name.trim_end_matches('.').to_ascii_lowercase()
    }

    /// The first authoritative server: ask it as the recursive resolver.
    ///
    /// # Panics
    ///
    /// If no server is authoritative.
    pub fn resolver(&self) -> SocketAddr {
        let i = self
            .servers
            .iter()
            .position(|s| s.2 == Role::Authoritative)
            .expect("an authoritative server");
        self.addr(i)
    }
}

fn server_ip(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, u8::try_from(i + 2).expect("at most 250 servers"))
}

fn ns_name(origin: &Name, i: usize) -> Name {
    Name::from_ascii(format!("ns{}", i + 1))
        .expect("label")
        .append_domain(origin)
        .expect("ns name")
}

fn fqdn(name: &str) -> Name {
    let mut name = Name::from_ascii(name).unwrap_or_else(|e| panic!("bad test name {name:?}: {e}"));
    name.set_fqdn(true);
    name
}

/// Parse `rdata` (optionally preceded by a TTL) as a zone-file line for `owner`.
fn parse_record(owner: &Name, origin: &Name, rdata: &str) -> Vec<Record> {
    let rdata = rdata.trim();
    let (ttl, rest) = match rdata.split_once(char::is_whitespace) {
        Some((first, rest)) if first.parse::<u32>().is_ok() => (first.to_string(), rest),
        _ => (TTL.to_string(), rdata),
    };
    let line = format!("{owner} {ttl} IN {rest}\n");
    let (_, sets) = Parser::new(line.as_str(), None, Some(origin.clone()))
        .parse()
        .unwrap_or_else(|e| panic!("test record {owner} {rdata:?} does not parse: {e}"));
    sets.into_values()
        .flat_map(|set| set.records_without_rrsigs().cloned().collect::<Vec<_>>())
        .collect()
}

type Bound = (std::net::UdpSocket, u16, Vec<(UdpSocket, TcpListener)>);

/// Reserve a port on 127.0.0.1, then bind UDP and TCP on it at
/// 127.0.0.2, 127.0.0.3, …; on any conflict, start again with a new port.
async fn bind_all(count: usize) -> Bound {
    'port: for _ in 0..100 {
        let reserve = std::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind UDP on loopback");
        let port = reserve.local_addr().expect("local addr").port();
        let mut sockets = Vec::with_capacity(count);
        for i in 0..count {
            let ip = server_ip(i);
            let Ok(udp) = UdpSocket::bind((ip, port)).await else {
                continue 'port;
            };
            let Ok(tcp) = TcpListener::bind((ip, port)).await else {
                continue 'port;
            };
            sockets.push((udp, tcp));
        }
        return (reserve, port, sockets);
    }
    panic!("no port free on 127.0.0.2..{} for UDP and TCP", server_ip(count - 1));
}

#[derive(Clone)]
enum Reply {
    Silent,
    Referral(Arc<Vec<Record>>),
    /// Relay to this inner authoritative server and clear the AA bit.
    ClearAa(SocketAddr),
}

async fn serve_udp(socket: UdpSocket, reply: Reply) {
    let socket = Arc::new(socket);
    let mut relays = JoinSet::new();
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let query = buf[..len].to_vec();
        match &reply {
            Reply::Silent => {}
            Reply::Referral(ns) => {
                if let Some(bytes) = referral(&query, ns) {
                    let _ = socket.send_to(&bytes, peer).await;
                }
            }
            Reply::ClearAa(inner) => {
                relays.spawn(relay_clearing_aa(socket.clone(), query, peer, *inner));
            }
        }
        while relays.try_join_next().is_some() {}
    }
}

fn referral(query: &[u8], ns: &[Record]) -> Option<Vec<u8>> {
    let query = Message::from_vec(query).ok()?;
    let mut reply = Message::query();
    reply.metadata.id = query.metadata.id;
    reply.metadata.message_type = MessageType::Response;
    reply.metadata.op_code = query.metadata.op_code;
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.authoritative = false;
    reply.queries = query.queries.clone();
    reply.authorities = ns.to_vec();
    reply.to_vec().ok()
}

async fn relay_clearing_aa(socket: Arc<UdpSocket>, query: Vec<u8>, peer: SocketAddr, inner: SocketAddr) {
    let Ok(out) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await else {
        return;
    };
    if out.send_to(&query, inner).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; 65_535];
    let Ok(Ok((len, _))) = tokio::time::timeout(RELAY_TIMEOUT, out.recv_from(&mut buf)).await else {
        return;
    };
    let Ok(mut message) = Message::from_vec(&buf[..len]) else {
        return;
    };
    message.metadata.authoritative = false;
    if let Ok(bytes) = message.to_vec() {
        let _ = socket.send_to(&bytes, peer).await;
    }
}

/// Accept TCP connections, read queries, answer none.
async fn hang_tcp(listener: TcpListener) {
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(drain(stream));
        while connections.try_join_next().is_some() {}
    }
}

async fn drain(mut stream: TcpStream) {
    let mut buf = [0u8; 1024];
    while let Ok(n) = stream.read(&mut buf).await {
        if n == 0 {
            return;
        }
    }
}
