//! Server-directed questions: ask one authoritative server directly.
//!
//! A [`QueryKey`] with `server: Some(ip)` is sent straight to
//! `ip:authoritative_port` over UDP (TCP when the answer is truncated),
//! with recursion desired off and EDNS on, and is never validated
//! (`Proof::NotValidated`): the point is to compare what each of a zone's
//! servers says, not to trust any one of them.
//!
//! The response maps to an [`Answer`] like the resolver path's: records of
//! the asked type (aliases inside the answer followed), NXDOMAIN and
//! NODATA as data, SERVFAIL / REFUSED / timeout as failure statuses. The
//! AA bit goes to [`Answer::authoritative`]; RFC 1035 §4.1.1: "Authoritative
//! Answer - this bit is valid in responses, and specifies that the
//! responding name server is an authority for the domain name in question
//! section."
//!
//! **Referrals.** A server that is not authoritative for the name may
//! answer NOERROR with no answer and NS records in the authority section
//! (a referral, the classic lame-delegation reply). That says nothing about
//! whether the record exists, so it is *not* NODATA: it maps to
//! [`Status::Referral`] (the servers named and the cut) with
//! `authoritative: false`. The nameserver judge reads it, like any answer
//! without the AA bit, as a lame delegation.
//!
//! **Delegations.** Asked for the NS records of a name, the parent zone's
//! server answers with a referral to that very name: the NS set of the
//! referral is the delegation (RFC 1034 §4.2.1, "the NS RRs that mark the
//! cut ... at the top of the subzone"), so it maps to records with
//! `authoritative: false` and the delegated servers' addresses from the
//! additional section in [`Answer::glue`]. That is how the nameserver
//! judge finds a delegation the resolver cannot follow (a lame one).
//!
//! **The egress guard.** The server comes from a scanned domain's records,
//! so every question first passes [`mailwarden_model::net::check_target`]
//! (the SMTP and HTTPS probes' guard, with the same
//! `--allow-private-targets`), and a run asks at most
//! [`DirectGuard::max_targets`] distinct servers. A refused question is
//! `Status::EgressRefused` and nothing is sent.
//!
//! **Aliases.** An authoritative server answers a CNAME at the name with the
//! CNAME and, when it also serves the target, the target's records. When it
//! does not, the answer has the alias chain and no records: that maps to
//! NODATA with `cname_chain` set (the server said everything it knows).

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::Duration;

use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::tcp::TcpClientStream;
use hickory_resolver::net::xfer::FirstAnswer;
use hickory_resolver::net::{DnsHandle, NetError};
use hickory_resolver::proto::op::{DnsRequest, DnsRequestOptions, Message, Query, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData as HRData, Record, RecordType};
use mailwarden_model::name::normalise;
use mailwarden_model::net::check_target;
use mailwarden_model::{Answer, Proof, QueryKey, RData, Status};
use quick_cache::sync::Cache;

use super::map;
use super::polite::Politeness;
use super::udp::{DIRECT_SOCKETS, UdpMux};

/// Authoritative servers whose sockets are kept open (least recently
/// asked go first, their sockets closed once idle).
const SERVERS_KEPT: usize = 256;

/// Which servers a run may ask directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectGuard {
    /// Also ask loopback, private and other non-global addresses
    /// (`--allow-private-targets`).
    pub allow_private: bool,
    /// Most distinct servers asked in the whole run.
    pub max_targets: usize,
}

impl DirectGuard {
    /// The default run-wide cap on distinct direct-query targets.
    pub const DEFAULT_MAX_TARGETS: usize = 4096;
}

impl Default for DirectGuard {
    /// Global addresses only, [`DirectGuard::DEFAULT_MAX_TARGETS`].
    fn default() -> Self {
        Self {
            allow_private: false,
            max_targets: Self::DEFAULT_MAX_TARGETS,
        }
    }
}

/// How to reach authoritative servers.
#[derive(Debug)]
pub(crate) struct Direct {
    /// The port every authoritative server is asked on (53 but in tests).
    pub(crate) port: u16,
    /// How long to wait for each try.
    pub(crate) timeout: Duration,
    /// Tries in all (the configured retries plus one).
    pub(crate) attempts: u32,
    pub(crate) guard: DirectGuard,
    /// The distinct servers asked so far in this run.
    pub(crate) asked: Mutex<HashSet<IpAddr>>,
    /// Each server's rate limit and backoff (`--ns-qps`).
    pub(crate) polite: Politeness,
    /// UDP sockets to the servers asked recently, reused across questions.
    pub(crate) sockets: Sockets,
}

/// A bounded set of [`UdpMux`]es, one per server and port.
pub(crate) struct Sockets(Cache<SocketAddr, UdpMux>);

impl Default for Sockets {
    fn default() -> Self {
        Self(Cache::new(SERVERS_KEPT))
    }
}

impl std::fmt::Debug for Sockets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sockets").field("servers", &self.0.len()).finish()
    }
}

impl Sockets {
    fn to(&self, server: SocketAddr, timeout: Duration) -> UdpMux {
        self.0
            .get_or_insert_with(&server, || {
                Ok::<_, std::convert::Infallible>(UdpMux::with_sockets(server, timeout, DIRECT_SOCKETS))
            })
            .unwrap_or_else(|never| match never {})
    }
}

impl Direct {
    /// Ask `server` the question `key` (whose `server` field is ignored),
    /// unless the egress guard refuses it.
    pub(crate) async fn answer(&self, server: IpAddr, key: &QueryKey) -> Answer {
        if let Err(why) = self.admit(server) {
            return Answer::empty(Status::EgressRefused(why), Proof::Indeterminate);
        }
        let name = match Name::from_ascii(format!("{}.", key.name)) {
            Ok(name) => name,
            Err(e) => {
                let why = format!("{:?} is not a domain name: {e}", key.name);
                return Answer::empty(Status::Error(why), Proof::Indeterminate);
            }
        };
        let rtype = RecordType::from(key.rtype.code());
        let addr = SocketAddr::new(server, self.port);
        match self.exchange(addr, &name, rtype).await {
            Ok(response) => from_response(&response, &name, rtype),
            Err(err) => Answer::empty(failure_status(&err), Proof::Indeterminate),
        }
    }

    /// The egress guard: the address class, then the run-wide cap.
    fn admit(&self, server: IpAddr) -> Result<(), String> {
        check_target(server, self.guard.allow_private)
            .map_err(|e| format!("{e}; pass --allow-private-targets to ask such servers"))?;
        let mut asked = self.asked.lock().unwrap_or_else(|e| e.into_inner());
        if asked.contains(&server) || asked.len() < self.guard.max_targets {
            asked.insert(server);
            return Ok(());
        }
        Err(format!(
            "the run already asked {} distinct servers directly, its cap (--max-direct-targets-per-run); {server} was not asked",
            self.guard.max_targets
        ))
    }

    /// UDP, retried on timeout; TCP once the UDP answer is truncated.
    async fn exchange(&self, addr: SocketAddr, name: &Name, rtype: RecordType) -> Result<Message, NetError> {
        let mut last = NetError::Timeout;
        for _ in 0..self.attempts.max(1) {
            match self.udp(addr, request(name, rtype)).await {
                Ok(response) if response.metadata.truncation => {
                    return self.tcp(addr, request(name, rtype)).await;
                }
                Ok(response) => return Ok(response),
                Err(err) if is_timeout(&err) => last = err,
                Err(err) => return Err(err),
            }
        }
        Err(last)
    }

    async fn udp(&self, addr: SocketAddr, request: DnsRequest) -> Result<Message, NetError> {
        self.polite.wait(addr.ip()).await;
        let result = self.udp_once(addr, request).await;
        let code = result.as_ref().ok().map(|m| m.metadata.response_code);
        self.polite.answered(addr.ip(), code);
        result
    }

    /// One send per try (the retries are ours, each with the full
    /// timeout), over the server's reused sockets: random IDs, the question
    /// checked, answers only from the address asked (see `udp`).
    async fn udp_once(&self, addr: SocketAddr, request: DnsRequest) -> Result<Message, NetError> {
        let response = self.sockets.to(addr, self.timeout).exchange(request).await?;
        Ok(response.into_message())
    }

    async fn tcp(&self, addr: SocketAddr, request: DnsRequest) -> Result<Message, NetError> {
        let ask = async {
            let exchange =
                TcpClientStream::exchange(addr, None, self.timeout, Some(1), TokioRuntimeProvider::default()).await?;
            exchange.send(request).first_answer().await
        };
        match tokio::time::timeout(self.timeout, ask).await {
            Ok(response) => Ok(response?.into_message()),
            Err(_) => Err(NetError::Timeout),
        }
    }
}

/// The question, recursion off, EDNS on, DO off (nothing is validated).
fn request(name: &Name, rtype: RecordType) -> DnsRequest {
    let mut options = DnsRequestOptions::default();
    options.recursion_desired = false;
    options.use_edns = true;
    options.edns_set_dnssec_ok = false;
    DnsRequest::from_query(Query::query(name.clone(), rtype), options)
}

fn is_timeout(err: &NetError) -> bool {
    match err {
        NetError::Timeout => true,
        NetError::Io(io) => io.kind() == std::io::ErrorKind::TimedOut,
        _ => false,
    }
}

fn failure_status(err: &NetError) -> Status {
    if is_timeout(err) {
        Status::Timeout
    } else {
        Status::Error(err.to_string())
    }
}

/// Map one server's response (see the module documentation).
pub(crate) fn from_response(response: &Message, qname: &Name, rtype: RecordType) -> Answer {
    let aa = response.metadata.authoritative;
    let mut out = match response.metadata.response_code {
        ResponseCode::NoError => no_error(response, qname, rtype, aa),
        ResponseCode::NXDomain => negative(Status::NxDomain, response),
        ResponseCode::ServFail => Answer::empty(Status::ServFail, Proof::Indeterminate),
        ResponseCode::Refused => Answer::empty(Status::Refused, Proof::Indeterminate),
        other => Answer::empty(
            Status::Error(format!("the server answered {other}")),
            Proof::Indeterminate,
        ),
    };
    out.authoritative = aa;
    out
}

fn no_error(response: &Message, qname: &Name, rtype: RecordType, aa: bool) -> Answer {
    let (chain, chain_records) = map::follow_cnames(&response.answers, qname, rtype);
    let owner = chain_records.last().and_then(|r| map::cname_target(r)).unwrap_or(qname);
    let matching: Vec<&Record> = response
        .answers
        .iter()
        .filter(|r| r.record_type() == rtype && &r.name == owner)
        .collect();
    if matching.is_empty() && chain.is_empty() && !aa {
        if rtype == RecordType::NS
            && let Some(delegation) = delegation(response, qname)
        {
            return delegation;
        }
        if let Some(status) = referral(response) {
            return Answer::empty(status, Proof::Indeterminate);
        }
    }
    if matching.is_empty() {
        let mut out = negative(Status::NoData, response);
        out.cname_chain = chain;
        return out;
    }
    let mut out = Answer::with_records(
        matching.iter().map(|r| map::rdata(&r.data)).collect(),
        Proof::NotValidated,
    );
    out.ttl = matching.iter().chain(&chain_records).map(|r| r.ttl).min();
    out.cname_chain = chain;
    out
}

/// A referral: NS records in the authority section and no SOA.
fn referral(response: &Message) -> Option<Status> {
    let has_soa = response.authorities.iter().any(|r| r.record_type() == RecordType::SOA);
    let ns: Vec<&Record> = response
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS)
        .collect();
    if has_soa || ns.is_empty() {
        return None;
    }
    let cut = norm(&ns[0].name);
    let mut targets: Vec<String> = ns
        .iter()
        .filter_map(|r| match &r.data {
            HRData::NS(target) => Some(norm(&target.0)),
            _ => None,
        })
        .collect();
    targets.sort();
    targets.dedup();
    Some(Status::Referral {
        servers: targets,
        cut: if cut.is_empty() { ".".into() } else { cut },
    })
}

/// A referral to `qname` itself: its NS set as records, the glue for those
/// servers from the additional section (see the module documentation).
fn delegation(response: &Message, qname: &Name) -> Option<Answer> {
    if response.authorities.iter().any(|r| r.record_type() == RecordType::SOA) {
        return None;
    }
    let ns: Vec<&Record> = response
        .authorities
        .iter()
        .filter(|r| r.record_type() == RecordType::NS && &r.name == qname)
        .collect();
    if ns.is_empty() {
        return None;
    }
    let targets: Vec<&Name> = ns
        .iter()
        .filter_map(|r| match &r.data {
            HRData::NS(target) => Some(&target.0),
            _ => None,
        })
        .collect();
    let mut out = Answer::with_records(ns.iter().map(|r| map::rdata(&r.data)).collect(), Proof::NotValidated);
    out.ttl = ns.iter().map(|r| r.ttl).min();
    for record in response.additionals.iter().filter(|r| targets.contains(&&r.name)) {
        let address = match map::rdata(&record.data) {
            RData::A { address } => IpAddr::V4(address),
            RData::Aaaa { address } => IpAddr::V6(address),
            _ => continue,
        };
        let addresses = out.glue.entry(norm(&record.name)).or_default();
        if !addresses.contains(&address) {
            addresses.push(address);
        }
    }
    Some(out)
}

/// NODATA or NXDOMAIN, with the negative TTL from the SOA when present.
fn negative(status: Status, response: &Message) -> Answer {
    let mut out = Answer::empty(status, Proof::NotValidated);
    // RFC 2308 §5: the negative TTL is the smaller of the SOA's TTL and MINIMUM.
    out.ttl = response.authorities.iter().find_map(|r| match &r.data {
        HRData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
        _ => None,
    });
    out
}

fn norm(name: &Name) -> String {
    normalise(&name.to_ascii())
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_resolver::proto::op::MessageType;
    use hickory_resolver::proto::rr::rdata::{A, CNAME, NS, SOA};
    use mailwarden_model::RData;

    use super::*;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn response(code: ResponseCode, aa: bool) -> Message {
        let mut m = Message::query();
        m.metadata.message_type = MessageType::Response;
        m.metadata.response_code = code;
        m.metadata.authoritative = aa;
        m
    }

    fn soa(owner: &str) -> Record {
        let soa = SOA::new(
            name("ns1.example.test."),
            name("h.example.test."),
            7,
            3600,
            600,
            86400,
            300,
        );
        Record::from_rdata(name(owner), 3600, HRData::SOA(soa))
    }

    #[test]
    fn records_carry_the_aa_bit_and_are_not_validated() {
        let mut m = response(ResponseCode::NoError, true);
        m.answers.push(Record::from_rdata(
            name("example.test."),
            60,
            HRData::A(A(Ipv4Addr::new(192, 0, 2, 1))),
        ));
        let a = from_response(&m, &name("example.test."), RecordType::A);
        assert_eq!(a.status, Status::Records);
        assert!(a.authoritative);
        assert_eq!(a.proof, Proof::NotValidated);
        assert_eq!(a.ttl, Some(60));
        assert_eq!(
            a.records,
            vec![RData::A {
                address: Ipv4Addr::new(192, 0, 2, 1)
            }]
        );
    }

    #[test]
    fn negative_answers_are_data_with_the_soa_ttl() {
        let mut m = response(ResponseCode::NXDomain, true);
        m.authorities.push(soa("example.test."));
        let a = from_response(&m, &name("nope.example.test."), RecordType::TXT);
        assert_eq!(a.status, Status::NxDomain);
        assert_eq!(a.ttl, Some(300));
        assert!(a.authoritative);

        let mut m = response(ResponseCode::NoError, true);
        m.authorities.push(soa("example.test."));
        let a = from_response(&m, &name("example.test."), RecordType::TXT);
        assert_eq!(a.status, Status::NoData);
    }

    #[test]
    fn a_referral_is_not_nodata() {
        let mut m = response(ResponseCode::NoError, false);
        m.authorities.push(Record::from_rdata(
            name("example.test."),
            60,
            HRData::NS(NS(name("ns2.example.test."))),
        ));
        m.authorities.push(Record::from_rdata(
            name("example.test."),
            60,
            HRData::NS(NS(name("ns1.example.test."))),
        ));
        let a = from_response(&m, &name("example.test."), RecordType::MX);
        assert_eq!(
            a.status,
            Status::Referral {
                servers: vec!["ns1.example.test".into(), "ns2.example.test".into()],
                cut: "example.test".into()
            }
        );
        assert!(!a.authoritative);
    }

    #[test]
    fn a_referral_to_the_asked_name_is_its_delegation_with_glue() {
        let mut m = response(ResponseCode::NoError, false);
        for ns in ["ns1.child.test.", "ns.elsewhere.test."] {
            m.authorities
                .push(Record::from_rdata(name("child.test."), 60, HRData::NS(NS(name(ns)))));
        }
        m.additionals.push(Record::from_rdata(
            name("ns1.child.test."),
            60,
            HRData::A(A(Ipv4Addr::new(192, 0, 2, 53))),
        ));
        // Not glue for a delegated server: ignored.
        m.additionals.push(Record::from_rdata(
            name("other.test."),
            60,
            HRData::A(A(Ipv4Addr::new(192, 0, 2, 99))),
        ));
        let a = from_response(&m, &name("child.test."), RecordType::NS);
        assert_eq!(a.status, Status::Records);
        assert!(!a.authoritative);
        assert_eq!(a.records.len(), 2);
        assert_eq!(a.glue.len(), 1, "{:?}", a.glue);
        assert_eq!(a.glue["ns1.child.test"], vec![IpAddr::V4(Ipv4Addr::new(192, 0, 2, 53))]);
        // The same referral to another question is still a referral.
        let mx = from_response(&m, &name("child.test."), RecordType::MX);
        assert!(matches!(mx.status, Status::Referral { .. }), "{mx:?}");
        // A referral further down is not the delegation of the name asked.
        let deeper = from_response(&m, &name("a.child.test."), RecordType::NS);
        assert!(matches!(deeper.status, Status::Referral { .. }), "{deeper:?}");
    }

    #[test]
    fn failures_keep_their_rcode() {
        for (code, status) in [
            (ResponseCode::ServFail, Status::ServFail),
            (ResponseCode::Refused, Status::Refused),
        ] {
            let a = from_response(&response(code, false), &name("example.test."), RecordType::MX);
            assert_eq!(a.status, status);
            assert_eq!(a.proof, Proof::Indeterminate);
        }
        let a = from_response(
            &response(ResponseCode::NotImp, false),
            &name("example.test."),
            RecordType::MX,
        );
        assert!(matches!(a.status, Status::Error(_)), "{a:?}");
    }

    #[test]
    fn an_alias_to_data_elsewhere_is_nodata_with_the_chain() {
        let mut m = response(ResponseCode::NoError, true);
        m.answers.push(Record::from_rdata(
            name("_dmarc.example.test."),
            60,
            HRData::CNAME(CNAME(name("dmarc.provider.test."))),
        ));
        let a = from_response(&m, &name("_dmarc.example.test."), RecordType::TXT);
        assert_eq!(a.status, Status::NoData);
        assert_eq!(a.cname_chain, vec!["dmarc.provider.test".to_string()]);
    }
}
