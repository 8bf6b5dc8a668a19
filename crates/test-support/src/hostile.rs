//! A resolver that answers with what a hostile domain would publish: TXT
//! records full of terminal escapes and bidi overrides, and records of tens
//! of kilobytes with thousands of syntax errors (over TCP: a UDP answer
//! that does not fit the client's EDNS size is truncated, as RFC 1035
//! §4.2.1 asks).
//!
//! ```no_run
//! # async fn demo() {
//! use mailwarden_test_support::{HostileDns, hostile};
//!
//! let dns = HostileDns::start().await;          // 127.0.0.1:<port>, UDP and TCP, recursion "available"
//! let _ = (dns.addr(), hostile::ESCAPES, hostile::OVERSIZED);
//! # }
//! ```
//!
//! Served (everything else is NXDOMAIN; known names without the type asked
//! for are NODATA):
//! - [`ESCAPES`]: SPF, DMARC, MTA-STS, TLS-RPT, BIMI (`default._bimi`) and
//!   DKIM (`selector1._domainkey`) TXT records carrying ESC/CSI/OSC
//!   sequences (window title, clear screen, an OSC 8 hyperlink), BEL, NUL,
//!   DEL, C1 CSI and U+202E and the other bidi controls; an MX host.
//! - [`OVERSIZED`]: the same six records, each [`OVERSIZED_LEN`] bytes or
//!   more (SPF 60 KB) and made of thousands of errors, split into 255-byte
//!   character-strings.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, MX, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record};
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

use crate::zones::bind_loopback_pair;

/// The domain whose records carry terminal and bidi controls.
pub const ESCAPES: &str = "escapes.test";
/// The domain whose records are tens of kilobytes of errors.
pub const OVERSIZED: &str = "oversized.test";
/// The size of the oversized SPF record; the others are at least half.
pub const OVERSIZED_LEN: usize = 60_000;

/// Every control [`ESCAPES`] plants, as they appear in its records.
pub const PLANTED: &[&str] = &[
    "\u{1b}]0;pwned\u{7}",                                            // OSC 0: window title, BEL
    "\u{1b}[2J\u{1b}[H",                                              // CSI: clear screen, home
    "\u{1b}]8;;https://evil.example/\u{1b}\\click\u{1b}]8;;\u{1b}\\", // OSC 8 hyperlink
    "\u{0}",                                                          // NUL
    "\u{7f}\u{9b}31m",                                                // DEL, C1 CSI
    "\u{202e}lla-\u{202c}",                                           // right-to-left override
    "\u{2066}\u{2067}\u{2068}\u{2069}\u{200e}\u{200f}\u{61c}\u{202a}\u{202b}\u{202d}", // the other bidi controls
];

const TTL: u32 = 300;

/// The hostile resolver on `127.0.0.1:<port>` (UDP and TCP). Stops when
/// dropped.
pub struct HostileDns {
    addr: SocketAddr,
    tasks: [JoinHandle<()>; 2],
}

impl HostileDns {
    pub async fn start() -> Self {
        let zone = Arc::new(zone());
        let (udp, tcp) = bind_loopback_pair().await;
        let addr = udp.local_addr().expect("local addr");
        let tasks = [
            tokio::spawn(serve_udp(udp, zone.clone())),
            tokio::spawn(serve_tcp(tcp, zone)),
        ];
        Self { addr, tasks }
    }

    /// Where it listens: pass as `--resolver`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for HostileDns {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

type Zone = BTreeMap<Name, Vec<Record>>;

static NO_RECORDS: Vec<Record> = Vec::new();

fn name(s: &str) -> Name {
    let mut n = Name::from_ascii(s).unwrap_or_else(|e| panic!("{s}: {e}"));
    n.set_fqdn(true);
    n
}

/// `text` as TXT character-strings of at most 255 bytes.
fn txt(text: &str) -> RData {
    RData::TXT(TXT::from_bytes(text.as_bytes().chunks(255).collect()))
}

/// The records of both domains.
fn zone() -> Zone {
    let planted = PLANTED.concat();
    let escapes = |owner: &str, text: String| (owner.to_string(), txt(&text));
    let huge = |head: &str, unit: &str, len: usize| format!("{head}{}", unit.repeat(len / unit.len()));
    let mut records = vec![
        escapes(
            ESCAPES,
            format!("v=spf1 ip4:192.0.2.1 {planted} a:x{planted}.example -all"),
        ),
        escapes(
            &format!("_dmarc.{ESCAPES}"),
            format!("v=DMARC1; p=none{planted}; rua=mailto:{planted}d@escapes.test"),
        ),
        escapes(&format!("_mta-sts.{ESCAPES}"), format!("v=STSv1; id={planted}")),
        escapes(
            &format!("_smtp._tls.{ESCAPES}"),
            format!("v=TLSRPTv1; rua=mailto:{planted}r@escapes.test"),
        ),
        escapes(
            &format!("default._bimi.{ESCAPES}"),
            format!("v=BIMI1; l=https://{planted}/logo.svg; a={planted}"),
        ),
        escapes(
            &format!("selector1._domainkey.{ESCAPES}"),
            format!("v=DKIM1; k=rsa{planted}; p={planted}"),
        ),
        (OVERSIZED.to_string(), txt(&huge("v=spf1 ", "x: ", OVERSIZED_LEN))),
        (
            format!("_dmarc.{OVERSIZED}"),
            txt(&huge("v=DMARC1; p=none;", " pct=x;", OVERSIZED_LEN / 2)),
        ),
        (
            format!("_mta-sts.{OVERSIZED}"),
            txt(&huge("v=STSv1; id=1;", " x;", OVERSIZED_LEN / 2)),
        ),
        (
            format!("_smtp._tls.{OVERSIZED}"),
            txt(&huge("v=TLSRPTv1; rua=", "x,", OVERSIZED_LEN / 2)),
        ),
        (
            format!("default._bimi.{OVERSIZED}"),
            txt(&huge("v=BIMI1; l=;", " x;", OVERSIZED_LEN / 2)),
        ),
        (
            format!("selector1._domainkey.{OVERSIZED}"),
            txt(&huge("v=DKIM1; p=;", " x;", OVERSIZED_LEN / 2)),
        ),
    ];
    for domain in [ESCAPES, OVERSIZED] {
        let mx = MX::new(10, name(&format!("mx.{domain}")));
        records.push((domain.to_string(), RData::MX(mx)));
        records.push((format!("mx.{domain}"), RData::A(A(Ipv4Addr::new(192, 0, 2, 25)))));
    }
    let mut zone = Zone::new();
    for (owner, rdata) in records {
        let owner = name(&owner);
        zone.entry(owner.clone())
            .or_default()
            .push(Record::from_rdata(owner, TTL, rdata));
    }
    zone
}

/// The answer to `query`: records, NODATA or NXDOMAIN, with the SOA of
/// `test.` for negative answers; `None` for what is not a query.
fn answer(query: &[u8], zone: &Zone) -> Option<Message> {
    let query = Message::from_vec(query).ok()?;
    let question = query.queries.first()?.clone();
    let mut reply = Message::new(query.metadata.id, MessageType::Response, query.metadata.op_code);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.add_query(question.clone());
    let mut qname = question.name().clone();
    qname.set_fqdn(true);
    // Name compares case-insensitively; a name above a served one (an empty
    // non-terminal such as `_domainkey.escapes.test`) exists without records.
    let found = zone
        .get(&qname)
        .or_else(|| zone.keys().any(|n| qname.zone_of(n)).then_some(&NO_RECORDS));
    match found {
        Some(records) => {
            let hits: Vec<Record> = (records.iter())
                .filter(|r| r.record_type() == question.query_type())
                .cloned()
                .collect();
            if hits.is_empty() {
                reply.add_authority(soa());
            }
            reply.add_answers(hits);
        }
        None => {
            reply.metadata.response_code = ResponseCode::NXDomain;
            reply.add_authority(soa());
        }
    }
    if let Some(edns) = &query.edns {
        let mut ours = edns.clone();
        ours.set_max_payload(4096);
        reply.set_edns(ours);
    }
    Some(reply)
}

fn soa() -> Record {
    let soa = SOA::new(name("ns.test"), name("hostmaster.test"), 1, 3600, 600, 86_400, TTL);
    Record::from_rdata(name("test"), TTL, RData::SOA(soa))
}

/// Over UDP, an answer larger than the client's EDNS payload size (512
/// without EDNS) goes out empty with the TC bit: the client retries over TCP.
async fn serve_udp(socket: UdpSocket, zone: Arc<Zone>) {
    let mut buf = vec![0u8; 65_535];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Some(mut reply) = answer(&buf[..len], &zone) else {
            continue;
        };
        let limit = Message::from_vec(&buf[..len]).map_or(512, |q| q.max_payload());
        let Ok(mut bytes) = reply.to_vec() else {
            continue;
        };
        if bytes.len() > usize::from(limit) {
            reply.answers.clear();
            reply.authorities.clear();
            reply.metadata.truncation = true;
            let Ok(short) = reply.to_vec() else {
                continue;
            };
            bytes = short;
        }
        let _ = socket.send_to(&bytes, peer).await;
    }
}

async fn serve_tcp(listener: TcpListener, zone: Arc<Zone>) {
    crate::tcp::serve(listener, move |query| {
        answer(query, &zone).and_then(|r| r.to_vec().ok())
    })
    .await;
}

#[cfg(test)]
mod tests {
    use hickory_proto::rr::RecordType;

    use super::*;

    fn query(name_: &str, rtype: RecordType) -> Vec<u8> {
        let mut q = Message::new(7, MessageType::Query, hickory_proto::op::OpCode::Query);
        q.add_query(hickory_proto::op::Query::query(name(name_), rtype));
        q.to_vec().unwrap()
    }

    fn txt_of(reply: &Message) -> Vec<u8> {
        reply
            .answers
            .iter()
            .filter_map(|r| match &r.data {
                RData::TXT(t) => Some(t.txt_data.concat()),
                _ => None,
            })
            .flatten()
            .collect()
    }

    #[test]
    fn serves_the_planted_controls_and_the_oversized_records() {
        let zone = zone();
        let spf = answer(&query("ESCAPES.test", RecordType::TXT), &zone).unwrap();
        let text = String::from_utf8(txt_of(&spf)).unwrap();
        for planted in PLANTED {
            assert!(text.contains(planted), "{planted:?} not in {text:?}");
        }
        let big = answer(&query(OVERSIZED, RecordType::TXT), &zone).unwrap();
        assert!(txt_of(&big).len() >= OVERSIZED_LEN - 3);
        assert!(big.to_vec().unwrap().len() < 65_535);
        let none = answer(&query("nothing.test", RecordType::TXT), &zone).unwrap();
        assert_eq!(none.metadata.response_code, ResponseCode::NXDomain);
        for (name_, rtype) in [
            (ESCAPES, RecordType::AAAA),
            ("_domainkey.escapes.test", RecordType::TXT),
        ] {
            let nodata = answer(&query(name_, rtype), &zone).unwrap();
            assert_eq!(nodata.metadata.response_code, ResponseCode::NoError, "{name_}");
            assert!(nodata.answers.is_empty());
        }
    }
}
