//! Forward-confirmed reverse DNS of a source address: the PTR names of the
//! address, each looked up forward (A or AAAA), and only a name whose
//! addresses contain the source is trusted. RFC 8601 §2.7.3 (iprev):
//! "pass: The DNS evaluation succeeded, i.e., the "reverse" and "forward"
//! lookup results were returned and were in agreement."; "fail: ... the
//! "reverse" and "forward" lookups each produced results, but they were
//! not in agreement, or the "forward" query completed but produced no
//! result"; "temperror: The DNS evaluation could not be completed due to
//! some error that is likely transient in nature, such as a temporary DNS
//! error, e.g., a DNS RCODE of 2, commonly known as SERVFAIL"; "permerror:
//! ... no PTR data are published for the connecting IP address".
//!
//! [`classify`] is pure (answers in, state out); [`look_up`] asks a
//! [`DnsSource`] with bounded concurrency; [`resolve`] puts the store's
//! cache in front of it.

use std::collections::BTreeMap;
use std::net::IpAddr;

use futures::stream::{self, StreamExt};
use mailwarden_model::dns::{RData, Status};
use mailwarden_model::{Answer, DnsSource, QueryKey, RType};
use mailwarden_store::{Store, rdns_cache};
use serde::Serialize;

/// PTR names followed forward at most (a PTR RRset of hundreds of names
/// would otherwise cost hundreds of lookups per address).
pub const MAX_NAMES: usize = 10;

/// How long a stored answer is used before it is asked again: a day for
/// final answers, an hour for a lookup that could not be completed.
pub const TTL_SECS: i64 = 24 * 3600;
pub const TTL_INDETERMINATE_SECS: i64 = 3600;

/// What the reverse DNS of one address says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Rdns {
    /// A PTR name whose forward lookup contains the address (iprev pass).
    Confirmed { name: String },
    /// PTR names, none of which resolves back to the address (iprev
    /// fail): shown, never trusted.
    Unconfirmed { names: Vec<String> },
    /// No PTR record: NXDOMAIN or no data (iprev permerror).
    None,
    /// The lookup could not be completed (timeout, SERVFAIL, bogus
    /// DNSSEC): nothing is known, which is not "unconfirmed".
    Indeterminate { reason: String },
}

impl Rdns {
    /// The name to trust: only a confirmed one.
    pub fn confirmed(&self) -> Option<&str> {
        match self {
            Rdns::Confirmed { name } => Some(name),
            _ => None,
        }
    }

    /// The state's name, as stored and printed.
    pub fn state(&self) -> &'static str {
        match self {
            Rdns::Confirmed { .. } => "confirmed",
            Rdns::Unconfirmed { .. } => "unconfirmed",
            Rdns::None => "none",
            Rdns::Indeterminate { .. } => "indeterminate",
        }
    }

    /// One short line for a table: the name, or why there is none to trust.
    pub fn label(&self) -> String {
        match self {
            Rdns::Confirmed { name } => name.clone(),
            Rdns::Unconfirmed { names } => format!("unconfirmed PTR {}", names.join(" ")),
            Rdns::None => "no PTR".into(),
            Rdns::Indeterminate { reason } => format!("PTR not known ({reason})"),
        }
    }

    fn ttl(&self) -> i64 {
        match self {
            Rdns::Indeterminate { .. } => TTL_INDETERMINATE_SECS,
            _ => TTL_SECS,
        }
    }
}

/// One DNS answer as the classification reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// Records of the asked type: PTR targets, or addresses as text.
    Records(Vec<String>),
    /// The name exists with no such record, or does not exist.
    Nothing,
    /// No answer to rely on (timeout, SERVFAIL, REFUSED, bogus, budget).
    Failed(String),
}

impl Lookup {
    /// An answer of the DNS layer read as a [`Lookup`].
    pub fn from_answer(answer: &Answer) -> Lookup {
        match &answer.status {
            Status::Records => Lookup::Records(
                answer
                    .records
                    .iter()
                    .filter_map(|r| match r {
                        RData::Ptr { target } => Some(target.trim_end_matches('.').to_ascii_lowercase()),
                        RData::A { address } => Some(address.to_string()),
                        RData::Aaaa { address } => Some(address.to_string()),
                        _ => None,
                    })
                    .collect(),
            ),
            Status::NoData | Status::NxDomain => Lookup::Nothing,
            other => Lookup::Failed(status_reason(other)),
        }
    }
}

fn status_reason(status: &Status) -> String {
    match status {
        Status::ServFail => "SERVFAIL".into(),
        Status::Refused => "REFUSED".into(),
        Status::Timeout => "timeout".into(),
        Status::Bogus(why) => format!("DNSSEC bogus: {why}"),
        Status::Error(why) => why.clone(),
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}

/// The PTR names to follow: distinct, sorted, at most [`MAX_NAMES`].
fn ptr_names(records: &[String]) -> Vec<String> {
    let mut names: Vec<String> = records.iter().filter(|n| !n.is_empty()).cloned().collect();
    names.sort();
    names.dedup();
    names.truncate(MAX_NAMES);
    names
}

/// Classify from the PTR answer of `ip` and the forward answer of each
/// PTR name (`forward(name)`, of the address family of `ip`). The first
/// confirmed name in sorted order wins. When no name confirms and some
/// forward lookup failed, the answer is indeterminate: that name might
/// have confirmed.
pub fn classify(ip: IpAddr, ptr: &Lookup, forward: impl Fn(&str) -> Lookup) -> Rdns {
    let records = match ptr {
        Lookup::Failed(why) => return Rdns::Indeterminate { reason: why.clone() },
        Lookup::Nothing => return Rdns::None,
        Lookup::Records(r) => r,
    };
    let names = ptr_names(records);
    if names.is_empty() {
        return Rdns::None;
    }
    let mut failed = None;
    for name in &names {
        match forward(name) {
            Lookup::Records(addrs) if addrs.iter().any(|a| a.parse::<IpAddr>().ok() == Some(ip)) => {
                return Rdns::Confirmed { name: name.clone() };
            }
            Lookup::Failed(why) => failed = failed.or_else(|| Some(format!("{name}: {why}"))),
            _ => {}
        }
    }
    match failed {
        Some(reason) => Rdns::Indeterminate { reason },
        None => Rdns::Unconfirmed { names },
    }
}

/// The reverse name of an address: `4.3.2.1.in-addr.arpa` or the nibbles
/// under `ip6.arpa` (RFC 1035 §3.5, RFC 3596 §2.5).
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut out = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                out.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            out + "ip6.arpa"
        }
    }
}

/// Look one address up: its PTR, then each name forward.
pub async fn look_up_one(dns: &dyn DnsSource, ip: IpAddr) -> Rdns {
    let ptr = Lookup::from_answer(&dns.query(&QueryKey::new(&reverse_name(ip), RType::Ptr)).await);
    let rtype = if ip.is_ipv4() { RType::A } else { RType::Aaaa };
    let mut forward = BTreeMap::new();
    if let Lookup::Records(records) = &ptr {
        for name in ptr_names(records) {
            let answer = dns.query(&QueryKey::new(&name, rtype)).await;
            forward.insert(name, Lookup::from_answer(&answer));
        }
    }
    classify(ip, &ptr, |name| {
        forward
            .get(name)
            .cloned()
            .unwrap_or_else(|| Lookup::Failed("not asked".into()))
    })
}

/// Look every address up, at most `concurrency` at a time.
pub async fn look_up(dns: &dyn DnsSource, ips: &[IpAddr], concurrency: usize) -> BTreeMap<IpAddr, Rdns> {
    stream::iter(ips.iter().copied())
        .map(|ip| async move { (ip, look_up_one(dns, ip).await) })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// Where the names come from.
#[derive(Clone, Copy)]
pub enum Names<'a> {
    /// No names (`--offline`): nothing asked, nothing read from the cache,
    /// so the inventory depends on the reports and scans only.
    Off,
    /// What the store's cache holds within its TTL; nothing asked (the web pages).
    Cached,
    /// The cache, and the DNS for addresses it has no fresh answer for,
    /// at most `concurrency` at a time; new answers go into the cache.
    Lookup { dns: &'a dyn DnsSource, concurrency: usize },
}

/// The reverse DNS of `ips` as `names` allows.
pub async fn resolve(store: &Store, ips: &[IpAddr], names: Names<'_>) -> anyhow::Result<BTreeMap<IpAddr, Rdns>> {
    if matches!(names, Names::Off) || ips.is_empty() {
        return Ok(BTreeMap::new());
    }
    let now = time::OffsetDateTime::now_utc();
    let keys: Vec<String> = ips.iter().map(IpAddr::to_string).collect();
    let mut out = BTreeMap::new();
    for row in rdns_cache::get(store, &keys).await? {
        let (Ok(ip), Some(rdns)) = (row.ip.parse::<IpAddr>(), from_row(&row)) else {
            continue;
        };
        let fresh =
            mailwarden_store::parse_time(&row.looked_up_at).is_some_and(|at| (now - at).whole_seconds() < rdns.ttl());
        if fresh {
            out.insert(ip, rdns);
        }
    }
    if let Names::Lookup { dns, concurrency } = names {
        let missing: Vec<IpAddr> = ips.iter().filter(|ip| !out.contains_key(ip)).copied().collect();
        let found = look_up(dns, &missing, concurrency).await;
        let rows: Vec<rdns_cache::Row> = found.iter().map(|(ip, r)| to_row(*ip, r, &now)).collect();
        rdns_cache::put(store, &rows).await?;
        out.extend(found);
    }
    Ok(out)
}

fn to_row(ip: IpAddr, r: &Rdns, at: &time::OffsetDateTime) -> rdns_cache::Row {
    let (names, reason) = match r {
        Rdns::Confirmed { name } => (vec![name.clone()], None),
        Rdns::Unconfirmed { names } => (names.clone(), None),
        Rdns::None => (Vec::new(), None),
        Rdns::Indeterminate { reason } => (Vec::new(), Some(reason.clone())),
    };
    rdns_cache::Row {
        ip: ip.to_string(),
        state: r.state().to_string(),
        names: names.join(" "),
        reason,
        looked_up_at: mailwarden_store::stamp(*at),
    }
}

fn from_row(row: &rdns_cache::Row) -> Option<Rdns> {
    let names: Vec<String> = row.names.split_whitespace().map(str::to_string).collect();
    Some(match row.state.as_str() {
        "confirmed" => Rdns::Confirmed {
            name: names.into_iter().next()?,
        },
        "unconfirmed" => Rdns::Unconfirmed { names },
        "none" => Rdns::None,
        "indeterminate" => Rdns::Indeterminate {
            reason: row.reason.clone().unwrap_or_default(),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn records(items: &[&str]) -> Lookup {
        Lookup::Records(items.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn a_ptr_name_resolving_back_to_the_address_is_confirmed() {
        let got = classify(ip("192.0.2.1"), &records(&["mail.example.net"]), |_| {
            records(&["192.0.2.9", "192.0.2.1"])
        });
        assert_eq!(got.confirmed(), Some("mail.example.net"));
    }

    #[test]
    fn a_ptr_name_resolving_elsewhere_is_unconfirmed_and_never_trusted() {
        let got = classify(ip("192.0.2.1"), &records(&["mail.google.com"]), |_| {
            records(&["192.0.2.9"])
        });
        assert_eq!(
            got,
            Rdns::Unconfirmed {
                names: vec!["mail.google.com".into()]
            }
        );
        assert_eq!(got.confirmed(), None);
        // The forward name does not exist: also unconfirmed (iprev fail).
        let got = classify(ip("192.0.2.1"), &records(&["x.example"]), |_| Lookup::Nothing);
        assert_eq!(got.state(), "unconfirmed");
    }

    #[test]
    fn no_ptr_is_none_and_a_failed_ptr_lookup_is_indeterminate_not_unconfirmed() {
        assert_eq!(
            classify(ip("192.0.2.1"), &Lookup::Nothing, |_| unreachable!()),
            Rdns::None
        );
        let got = classify(ip("192.0.2.1"), &Lookup::Failed("timeout".into()), |_| unreachable!());
        assert_eq!(got.state(), "indeterminate");
    }

    /// A forward lookup that failed might have confirmed: indeterminate,
    /// unless another name confirms.
    #[test]
    fn a_failed_forward_lookup_makes_it_indeterminate_unless_another_name_confirms() {
        let ptr = records(&["a.example", "b.example"]);
        let got = classify(ip("192.0.2.1"), &ptr, |n| {
            if n == "a.example" {
                Lookup::Failed("SERVFAIL".into())
            } else {
                records(&["192.0.2.2"])
            }
        });
        assert_eq!(
            got,
            Rdns::Indeterminate {
                reason: "a.example: SERVFAIL".into()
            }
        );
        let got = classify(ip("192.0.2.1"), &ptr, |n| {
            if n == "a.example" {
                Lookup::Failed("SERVFAIL".into())
            } else {
                records(&["192.0.2.1"])
            }
        });
        assert_eq!(got.confirmed(), Some("b.example"));
    }

    #[test]
    fn ipv6_matches_whatever_the_text_form() {
        let got = classify(ip("2001:db8::1"), &records(&["v6.example"]), |_| {
            records(&["2001:0db8:0000::0001"])
        });
        assert_eq!(got.confirmed(), Some("v6.example"));
    }

    #[test]
    fn at_most_max_names_are_followed() {
        let many: Vec<String> = (0..50).map(|i| format!("n{i:02}.example")).collect();
        let asked = std::cell::Cell::new(0);
        let got = classify(ip("192.0.2.1"), &Lookup::Records(many), |_| {
            asked.set(asked.get() + 1);
            Lookup::Nothing
        });
        assert_eq!(asked.get(), MAX_NAMES);
        assert!(matches!(got, Rdns::Unconfirmed { names } if names.len() == MAX_NAMES));
    }

    #[test]
    fn reverse_names_of_both_families() {
        assert_eq!(reverse_name(ip("192.0.2.10")), "10.2.0.192.in-addr.arpa");
        assert_eq!(
            reverse_name(ip("2001:db8::567:89ab")),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }

    #[test]
    fn cache_rows_round_trip_every_state() {
        let at = time::OffsetDateTime::now_utc();
        for r in [
            Rdns::Confirmed {
                name: "a.example".into(),
            },
            Rdns::Unconfirmed {
                names: vec!["a.example".into(), "b.example".into()],
            },
            Rdns::None,
            Rdns::Indeterminate {
                reason: "timeout".into(),
            },
        ] {
            assert_eq!(from_row(&to_row(ip("192.0.2.1"), &r, &at)), Some(r));
        }
    }
}
