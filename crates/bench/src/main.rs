//! `bench-dns`: a synthetic authoritative DNS server for benchmarks.
//!
//! Answers for `d<N>.bench.test` for any N, without storing a zone, so the
//! server costs next to nothing and the benchmark measures mailwarden.
//! Listens on UDP only, on the loopback address given (default
//! 127.0.0.1:0), prints the bound address on the first line of standard
//! output, and serves until killed. Answers are small enough for UDP.
//!
//! The synthetic zone, for each N:
//! - `d<N>.bench.test`, a zone apex: SOA; NS `ns1.<d>` and `ns2.<d>` (both
//!   127.0.0.1, so `--ns-port` sends the direct nameserver queries here);
//!   `MX 10 mx1.<d>`, `MX 20 mx2.<d>` (even N) or two shared provider hosts
//!   (odd N); A 192.0.2.1; TXT `v=spf1 mx include:_spf.provider.test -all`.
//! - `_dmarc.<d>`: a DMARC record when N is not a multiple of 3.
//! - `selector1._domainkey.<d>`: a DKIM key when N is even (so
//!   `_domainkey.<d>` exists); otherwise nothing under `_domainkey`.
//! - `mx1.<d>`: A and AAAA; `mx2.<d>`: A only.
//! - `mx<K>.provider.test`: A and AAAA, K < 50.
//! - `_spf.provider.test`: TXT with ip4 and ip6 ranges.
//!
//! Everything else is NXDOMAIN, and existing names without the asked type
//! are NODATA, both with the zone's SOA in the authority section.

use std::net::{SocketAddr, UdpSocket};

const A: u16 = 1;
const MX: u16 = 15;
const TXT: u16 = 16;
const AAAA: u16 = 28;
const SOA: u16 = 6;
const NS: u16 = 2;

fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".into())
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("listen address: {e}")))?;
    if !addr.ip().is_loopback() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "bench-dns listens on loopback only",
        ));
    }
    let socket = UdpSocket::bind(addr)?;
    println!("{}", socket.local_addr()?);
    let mut buf = [0u8; 1500];
    loop {
        let (len, peer) = socket.recv_from(&mut buf)?;
        if let Some(reply) = respond(&buf[..len]) {
            let _ = socket.send_to(&reply, peer);
        }
    }
}

/// What the synthetic zone holds for one name.
enum Lookup {
    Records(Vec<Vec<u8>>),
    NoData,
    NxDomain,
}

fn respond(query: &[u8]) -> Option<Vec<u8>> {
    if query.len() < 12 || query[2] & 0x80 != 0 {
        return None;
    }
    let (qname, qend) = read_name(query, 12)?;
    if query.len() < qend + 4 {
        return None;
    }
    let qtype = u16::from_be_bytes([query[qend], query[qend + 1]]);
    let data = lookup(&qname, qtype);
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(&query[0..2]);
    let rcode = if matches!(data, Lookup::NxDomain) { 3 } else { 0 };
    out.push(0x84 | (query[2] & 0x01)); // QR, AA, copy RD
    out.push(rcode);
    let (answers, authority) = match &data {
        Lookup::Records(r) => (r.len() as u16, 0u16),
        _ => (0, 1),
    };
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&answers.to_be_bytes());
    out.extend_from_slice(&authority.to_be_bytes());
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&query[12..qend + 4]);
    match data {
        Lookup::Records(records) => {
            for rdata in records {
                out.extend_from_slice(&[0xc0, 0x0c]);
                push_rr_tail(&mut out, qtype, &rdata);
            }
        }
        _ => {
            let zone = if qname.ends_with("provider.test") {
                "provider.test"
            } else {
                "bench.test"
            };
            push_name(&mut out, zone);
            push_rr_tail(&mut out, SOA, &soa(zone));
        }
    }
    Some(out)
}

fn push_rr_tail(out: &mut Vec<u8>, rtype: u16, rdata: &[u8]) {
    out.extend_from_slice(&rtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&300u32.to_be_bytes());
    out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    out.extend_from_slice(rdata);
}

fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    loop {
        let len = *msg.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(msg.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    Some((labels.join("."), pos))
}

fn push_name(out: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
}

fn soa(zone: &str) -> Vec<u8> {
    let mut r = Vec::new();
    push_name(&mut r, &format!("ns.{zone}"));
    push_name(&mut r, &format!("hostmaster.{zone}"));
    for v in [1u32, 3600, 600, 86400, 300] {
        r.extend_from_slice(&v.to_be_bytes());
    }
    r
}

/// A 2048-bit RSA DKIM key (testdata/dkim/rsa2048.spki.b64).
const DKIM_KEY: &str = concat!(
    "v=DKIM1; k=rsa; p=",
    include_str!("../../../testdata/dkim/rsa2048.spki.b64")
);

fn host(name: &str) -> Vec<u8> {
    let mut r = Vec::new();
    push_name(&mut r, name);
    r
}

fn mx(pref: u16, host: &str) -> Vec<u8> {
    let mut r = pref.to_be_bytes().to_vec();
    push_name(&mut r, host);
    r
}

fn txt(text: &str) -> Vec<u8> {
    let mut r = Vec::new();
    for chunk in text.as_bytes().chunks(255) {
        r.push(chunk.len() as u8);
        r.extend_from_slice(chunk);
    }
    r
}

fn a(n: u32) -> Vec<u8> {
    // 198.18.0.0/15 (RFC 2544, benchmarking): never global, so the
    // egress guard refuses probes to it and a benchmark connects nowhere.
    vec![198, 18, (n >> 8) as u8, n as u8]
}

fn aaaa(n: u32) -> Vec<u8> {
    let mut r = vec![0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0];
    r.extend_from_slice(&n.to_be_bytes());
    r
}

fn domain_number(label: &str) -> Option<u32> {
    label.strip_prefix('d')?.parse().ok()
}

fn lookup(name: &str, qtype: u16) -> Lookup {
    let labels: Vec<&str> = name.split('.').collect();
    let by_type = |pairs: Vec<(u16, Vec<Vec<u8>>)>| match pairs.into_iter().find(|(t, _)| *t == qtype) {
        Some((_, r)) => Lookup::Records(r),
        None => Lookup::NoData,
    };
    match labels.as_slice() {
        ["_spf", "provider", "test"] => by_type(vec![(
            TXT,
            vec![txt("v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:ffff::/48 -all")],
        )]),
        [host, "provider", "test"] => match host.strip_prefix("mx").and_then(|k| k.parse::<u32>().ok()) {
            Some(k) if k < 50 => by_type(vec![(A, vec![a(60000 + k)]), (AAAA, vec![aaaa(60000 + k)])]),
            _ => Lookup::NxDomain,
        },
        [zone @ ("provider" | "bench"), "test"] => by_type(vec![(SOA, vec![soa(&format!("{zone}.test"))])]),
        [d, "bench", "test"] => match domain_number(d) {
            Some(n) => {
                let mxs = if n % 2 == 0 {
                    vec![mx(10, &format!("mx1.{name}")), mx(20, &format!("mx2.{name}"))]
                } else {
                    vec![
                        mx(10, &format!("mx{}.provider.test", n % 50)),
                        mx(20, &format!("mx{}.provider.test", (n + 1) % 50)),
                    ]
                };
                by_type(vec![
                    (SOA, vec![soa(name)]),
                    (NS, vec![host(&format!("ns1.{name}")), host(&format!("ns2.{name}"))]),
                    (MX, mxs),
                    (A, vec![vec![192, 0, 2, 1]]),
                    (TXT, vec![txt("v=spf1 mx include:_spf.provider.test -all")]),
                ])
            }
            None => Lookup::NxDomain,
        },
        [host, d, "bench", "test"] => match (domain_number(d), *host) {
            (Some(n), "mx1") => by_type(vec![(A, vec![a(n % 60000)]), (AAAA, vec![aaaa(n)])]),
            (Some(n), "mx2") => by_type(vec![(A, vec![a((n + 1) % 60000)])]),
            (Some(_), "ns1" | "ns2") => by_type(vec![(A, vec![vec![127, 0, 0, 1]])]),
            (Some(n), "_dmarc") if n % 3 != 0 => by_type(vec![(
                TXT,
                vec![txt(&format!("v=DMARC1; p=reject; rua=mailto:dmarc@{d}.bench.test"))],
            )]),
            (Some(n), "_domainkey") if n % 2 == 0 => Lookup::NoData,
            _ => Lookup::NxDomain,
        },
        ["selector1", "_domainkey", d, "bench", "test"] => match domain_number(d) {
            Some(n) if n % 2 == 0 => by_type(vec![(TXT, vec![txt(DKIM_KEY)])]),
            _ => Lookup::NxDomain,
        },
        _ => Lookup::NxDomain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        push_name(&mut q, name);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&1u16.to_be_bytes());
        q
    }

    #[test]
    fn answers_mx_nodata_and_nxdomain() {
        let r = respond(&query("d4.bench.test", MX)).unwrap();
        assert_eq!((r[3] & 0x0f, u16::from_be_bytes([r[6], r[7]])), (0, 2), "two MX");
        let r = respond(&query("mx2.d4.bench.test", AAAA)).unwrap();
        assert_eq!(
            (
                r[3] & 0x0f,
                u16::from_be_bytes([r[6], r[7]]),
                u16::from_be_bytes([r[8], r[9]])
            ),
            (0, 0, 1),
            "NODATA with SOA"
        );
        let r = respond(&query("nope.d4.bench.test", A)).unwrap();
        assert_eq!(r[3] & 0x0f, 3, "NXDOMAIN");
        assert_eq!(&r[0..2], &[0x12, 0x34], "id echoed");
    }
}
