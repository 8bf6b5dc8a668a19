//! Signed test zones under a private root, served by hickory-server.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::dnssec::crypto::Ed25519SigningKey;
use hickory_proto::dnssec::rdata::{DNSKEY, DNSSECRData, DS, RRSIG};
use hickory_proto::dnssec::{Algorithm, DigestType, DnssecSigner, Nsec3HashAlgorithm, PublicKeyBuf, SigningKey};
use hickory_proto::op::{Header, HeaderCounts, ResponseCode};
use hickory_proto::rr::rdata::{NS, SOA};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};
use hickory_proto::serialize::txt::Parser;
use hickory_server::Server;
use hickory_server::dnssec::NxProofKind;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::MessageResponseBuilder;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};

use crate::catalog::DsAwareCatalog;

/// TTL of every record the builder makes, and the default for `record()`.
const TTL: u32 = 300;
/// TTL written on trust-anchor lines.
const ANCHOR_TTL: u32 = 3600;

/// How a zone is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ZoneKind {
    /// Signed, with a matching DS at the parent.
    Signed,
    /// Not signed; the parent delegates without DS (a provably insecure delegation).
    Unsigned,
    /// Signed, but the DS at the parent is the digest of another key.
    BogusDs,
    /// Signed with a matching DS, but every signature expired days ago.
    Expired,
    /// Signed, with a matching DS, but the signatures expire in two days.
    Expiring,
    /// Signed, but the parent publishes no DS: an island of security.
    Island,
}

impl ZoneKind {
    fn is_signed(self) -> bool {
        self != ZoneKind::Unsigned
    }

    /// Zones whose answers a validating resolver finds bogus.
    fn is_bogus(self) -> bool {
        matches!(self, ZoneKind::BogusDs | ZoneKind::Expired)
    }
}

/// How long signatures of an [`ZoneKind::Expiring`] zone stay valid.
const EXPIRING_VALIDITY: Duration = Duration::from_secs(2 * 86_400);

/// Builds a tree of zones under a private root. See the crate docs.
#[derive(Debug, Default)]
pub struct TestDnsBuilder {
    zones: Vec<(Name, ZoneKind)>,
    records: Vec<(Name, String)>,
    /// Zones denying with NSEC3 instead of NSEC: iterations and salt.
    nsec3: HashMap<Name, (u16, Vec<u8>)>,
    /// Further DNSKEYs to publish (unused for signing) at a zone apex.
    extra_keys: Vec<(Name, DNSKEY)>,
    /// RRsets (owner, type) whose RRSIGs are published corrupt.
    corrupt: Vec<(Name, RecordType)>,
    validating_upstream: bool,
}

impl TestDnsBuilder {
    /// A signed zone whose DS is published in its parent. Signing the root
    /// (`"."`) explicitly is optional: a signed root is always added.
    pub fn signed_zone(self, origin: &str) -> Self {
        self.zone(origin, ZoneKind::Signed)
    }

    /// An unsigned zone, delegated from its (signed) parent without DS, so
    /// its answers validate as insecure.
    pub fn unsigned_zone(self, origin: &str) -> Self {
        self.zone(origin, ZoneKind::Unsigned)
    }

    /// A signed zone whose parent publishes a DS that matches none of its
    /// keys: its answers validate as bogus.
    pub fn bogus_zone(self, origin: &str) -> Self {
        self.zone(origin, ZoneKind::BogusDs)
    }

    /// A signed zone with a correct DS whose signatures all expired days
    /// ago (RFC 4035 §5.3.1: the validator MUST NOT use an RRSIG after its
    /// expiration), so its answers validate as bogus.
    pub fn expired_zone(self, origin: &str) -> Self {
        self.zone(origin, ZoneKind::Expired)
    }

    /// A signed zone whose signatures expire two days from now (RFC 4035
    /// §5.3.1): it still validates, but its re-signing is overdue.
    pub fn expiring_zone(self, origin: &str) -> Self {
        self.zone(origin, ZoneKind::Expiring)
    }

    /// A signed zone whose parent publishes no DS for it (RFC 4033 §2, an
    /// "island of security"): its answers validate as insecure.
    pub fn island_zone(self, origin: &str) -> Self {
        self.zone(origin, ZoneKind::Island)
    }

    /// Deny existence in the (signed) zone `origin` with NSEC3, using
    /// `iterations` additional hash iterations and `salt`; the zone apex
    /// then publishes NSEC3PARAM.
    pub fn nsec3(mut self, origin: &str, iterations: u16, salt: &[u8]) -> Self {
        self.nsec3.insert(fqdn(origin), (iterations, salt.to_vec()));
        self
    }

    /// Publish one more DNSKEY at the apex of the (signed) zone `origin`,
    /// with DNSKEY `flags` (257 for a KSK, 256 for a ZSK), `algorithm` and
    /// the raw `public_key` bytes; it signs nothing but sits in the signed
    /// DNSKEY RRset, as a pre-published or forgotten key would, so an
    /// auditor sees its algorithm and size (hickory cannot sign with
    /// RSASHA1 or short RSA keys, so such keys can only be published).
    pub fn extra_dnskey(mut self, origin: &str, flags: u16, algorithm: u8, public_key: &[u8]) -> Self {
        let key = PublicKeyBuf::new(public_key.to_vec(), Algorithm::from_u8(algorithm));
        let dnskey = DNSKEY::new(flags & 0x0100 != 0, flags & 0x0001 != 0, flags & 0x0080 != 0, key);
        self.extra_keys.push((fqdn(origin), dnskey));
        self
    }

    /// Publish the RRSIGs over the `rtype` RRset at `owner` (in a signed
    /// zone) with a corrupted signature, every other RRset signed as usual:
    /// that one RRset validates as bogus, the zone's keys and chain are
    /// fine.
    ///
    /// # Panics
    ///
    /// If `rtype` is not a record type mnemonic.
    pub fn corrupt_rrsig(mut self, owner: &str, rtype: &str) -> Self {
        let rtype: RecordType = rtype
            .parse()
            .unwrap_or_else(|e| panic!("bad record type {rtype:?}: {e}"));
        self.corrupt.push((fqdn(owner), rtype));
        self
    }

    /// Answer like a validating recursive resolver would: a query without
    /// the CD bit for a name at or below a bogus or expired zone gets
    /// SERVFAIL; with CD set (RFC 4035 §3.2.2) it gets the data.
    pub fn validating_upstream(mut self) -> Self {
        self.validating_upstream = true;
        self
    }

    /// A record at `owner`, in zone-file syntax without the owner:
    /// `"MX 10 mx.example.test."`, `"TXT \"a\" \"b\""`, or with a TTL first:
    /// `"60 A 127.0.0.1"`. Relative names are relative to the owner's zone.
    /// The record goes into the zone with the longest matching origin.
    pub fn record(mut self, owner: &str, rdata: &str) -> Self {
        self.records.push((fqdn(owner), rdata.to_string()));
        self
    }

    fn zone(mut self, origin: &str, kind: ZoneKind) -> Self {
        let origin = fqdn(origin);
        self.zones.retain(|(name, _)| *name != origin);
        self.zones.push((origin, kind));
        self
    }

    /// Sign the zones and serve them on `127.0.0.1:<port>`, UDP and TCP.
    ///
    /// # Panics
    ///
    /// On a record that does not parse or falls outside every zone: this is
    /// test set-up, and a loud failure is the useful one.
    pub async fn start(mut self) -> TestDns {
        if !self.zones.iter().any(|(name, _)| name.is_root()) {
            self.zones.push((Name::root(), ZoneKind::Signed));
        }
        let keys: HashMap<Name, ZoneKey> = self
            .zones
            .iter()
            .map(|(name, _)| (name.clone(), ZoneKey::generate()))
            .collect();

        let mut handlers: Vec<(LowerName, Arc<dyn ZoneHandler>)> = Vec::new();
        for (origin, kind) in &self.zones {
            let zone = self.build_zone(origin, *kind, &keys);
            handlers.push((LowerName::new(origin), Arc::new(zone)));
        }

        let root_key = &keys[&Name::root()];
        let trust_anchor = root_key.dnskey_line(&Name::root());
        let root_ds = root_key.ds_line(&Name::root());
        let hidden = if self.validating_upstream {
            self.zones
                .iter()
                .filter(|(_, kind)| kind.is_bogus())
                .map(|(name, _)| LowerName::new(name))
                .collect()
        } else {
            Vec::new()
        };
        let handler = Upstream {
            catalog: catalog_for(&handlers),
            hidden,
        };
        let server = serve(handler).await;
        TestDns {
            trust_anchor,
            root_ds,
            addr: server.addr,
            _server: server.server,
        }
    }

    fn build_zone(&self, origin: &Name, kind: ZoneKind, keys: &HashMap<Name, ZoneKey>) -> InMemoryZoneHandler {
        let proof_kind = kind.is_signed().then(|| match self.nsec3.get(origin) {
            Some((iterations, salt)) => NxProofKind::Nsec3 {
                algorithm: Nsec3HashAlgorithm::SHA1,
                salt: salt.clone().into(),
                iterations: *iterations,
                opt_out: false,
            },
            None => NxProofKind::Nsec,
        });
        let mut zone: InMemoryZoneHandler =
            InMemoryZoneHandler::empty(origin.clone(), ZoneType::Primary, AxfrPolicy::Deny, proof_kind);
        for record in apex_records(origin) {
            zone.upsert_mut(record, 0);
        }
        for record in self.records_in(origin) {
            zone.upsert_mut(record, 0);
        }
        for record in self.delegations_from(origin, keys) {
            zone.upsert_mut(record, 0);
        }
        for (_, dnskey) in self.extra_keys.iter().filter(|(apex, _)| apex == origin) {
            let rdata = RData::DNSSEC(DNSSECRData::DNSKEY(dnskey.clone()));
            zone.upsert_mut(Record::from_rdata(origin.clone(), TTL, rdata), 0);
        }
        if kind.is_signed() {
            let key = &keys[origin];
            let validity = if kind == ZoneKind::Expiring {
                EXPIRING_VALIDITY
            } else {
                Duration::from_secs(14 * 86_400)
            };
            zone.add_zone_signing_key_mut(key.signer(origin, validity))
                .expect("add zone signing key");
            zone.secure_zone_mut().expect("sign zone");
            if kind == ZoneKind::Expired {
                expire_signatures(&mut zone, &key.signer(origin, Duration::from_secs(86_400)));
            }
            for (owner, rtype) in &self.corrupt {
                corrupt_signatures(&mut zone, owner, *rtype);
            }
        }
        zone
    }

    /// The zone a name belongs to: the longest origin it falls under.
    fn zone_of(&self, name: &Name) -> Option<&Name> {
        self.zones
            .iter()
            .map(|(origin, _)| origin)
            .filter(|origin| origin.zone_of(name))
            .max_by_key(|origin| origin.num_labels())
    }

    /// The zone directly above `child`.
    fn parent_of(&self, child: &Name) -> Option<&Name> {
        if child.is_root() {
            return None;
        }
        self.zone_of(&child.base_name())
    }

    fn records_in(&self, origin: &Name) -> Vec<Record> {
        self.records
            .iter()
            .filter(|(owner, _)| self.zone_of(owner) == Some(origin))
            .flat_map(|(owner, rdata)| parse_record(owner, origin, rdata))
            .collect()
    }

    /// NS (and DS, for signed children) for every child zone of `origin`.
    fn delegations_from(&self, origin: &Name, keys: &HashMap<Name, ZoneKey>) -> Vec<Record> {
        let mut out = Vec::new();
        for (child, kind) in &self.zones {
            if self.parent_of(child) != Some(origin) {
                continue;
            }
            out.push(Record::from_rdata(child.clone(), TTL, RData::NS(NS(ns_name(child)))));
            let ds = match kind {
                ZoneKind::Signed | ZoneKind::Expired | ZoneKind::Expiring => Some(keys[child].ds(child)),
                ZoneKind::BogusDs => Some(ZoneKey::generate().ds(child)),
                ZoneKind::Unsigned | ZoneKind::Island => None,
            };
            if let Some(ds) = ds {
                out.push(Record::from_rdata(
                    child.clone(),
                    TTL,
                    RData::DNSSEC(DNSSECRData::DS(ds)),
                ));
            }
        }
        out
    }
}

/// Signed zones served on loopback. Stops serving when dropped.
pub struct TestDns {
    addr: SocketAddr,
    trust_anchor: String,
    root_ds: String,
    _server: Server<Upstream>,
}

impl TestDns {
    /// Start describing the zones.
    pub fn builder() -> TestDnsBuilder {
        TestDnsBuilder::default()
    }

    /// Where the zones are served, UDP and TCP.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The root's DNSKEY in zone-file format (`. 3600 IN DNSKEY 257 3 15 …`),
    /// the trust anchor that validates everything under the test root.
    pub fn trust_anchor(&self) -> String {
        self.trust_anchor.clone()
    }

    /// The root key's DS record in zone-file format (`. 3600 IN DS …`), for
    /// testing DS-form trust anchors.
    pub fn root_ds(&self) -> String {
        self.root_ds.clone()
    }
}

/// One zone's key pair, kept as PKCS#8 so several signers can share it.
struct ZoneKey {
    pkcs8: Vec<u8>,
    public: PublicKeyBuf,
}

impl ZoneKey {
    fn generate() -> Self {
        let pkcs8 = Ed25519SigningKey::generate_pkcs8().expect("generate Ed25519 key");
        let key = Ed25519SigningKey::from_pkcs8(&pkcs8).expect("load Ed25519 key");
        let public = key.to_public_key().expect("public key");
        Self {
            pkcs8: pkcs8.secret_pkcs8_der().to_vec(),
            public,
        }
    }

    fn signing_key(&self) -> Ed25519SigningKey {
        Ed25519SigningKey::from_pkcs8(&self.pkcs8.clone().into()).expect("load Ed25519 key")
    }

    fn dnskey(&self) -> DNSKEY {
        DNSKEY::from_key(&self.public)
    }

    fn ds(&self, owner: &Name) -> DS {
        DS::from_key(&self.public, owner, DigestType::SHA256).expect("DS digest")
    }

    fn signer(&self, origin: &Name, validity: Duration) -> DnssecSigner {
        DnssecSigner::new(self.dnskey(), Box::new(self.signing_key()), origin.clone(), validity)
    }

    fn dnskey_line(&self, owner: &Name) -> String {
        let rdata = RData::DNSSEC(DNSSECRData::DNSKEY(self.dnskey()));
        Record::from_rdata(owner.clone(), ANCHOR_TTL, rdata).to_string()
    }

    fn ds_line(&self, owner: &Name) -> String {
        let rdata = RData::DNSSEC(DNSSECRData::DS(self.ds(owner)));
        Record::from_rdata(owner.clone(), ANCHOR_TTL, rdata).to_string()
    }
}

fn fqdn(name: &str) -> Name {
    let mut name = Name::from_ascii(name).unwrap_or_else(|e| panic!("bad test name {name:?}: {e}"));
    name.set_fqdn(true);
    name
}

fn ns_name(origin: &Name) -> Name {
    Name::from_ascii("ns")
        .expect("label")
        .append_domain(origin)
        .expect("ns name")
}

fn apex_records(origin: &Name) -> [Record; 2] {
    let hostmaster = Name::from_ascii("hostmaster")
        .expect("label")
        .append_domain(origin)
        .expect("rname");
    let soa = SOA::new(ns_name(origin), hostmaster, 1, 3600, 600, 86_400, TTL);
    [
        Record::from_rdata(origin.clone(), TTL, RData::SOA(soa)),
        Record::from_rdata(origin.clone(), TTL, RData::NS(NS(ns_name(origin)))),
    ]
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

/// Re-sign every RRset with signatures that expired a week ago.
fn expire_signatures(zone: &mut InMemoryZoneHandler, signer: &DnssecSigner) {
    let inception = time::OffsetDateTime::now_utc() - time::Duration::days(8);
    for rrset in zone.records_get_mut().values_mut() {
        let rrset = Arc::make_mut(rrset);
        rrset.clear_rrsigs();
        let rrsig = RRSIG::from_rrset(rrset, DNSClass::IN, inception, signer).expect("sign rrset");
        let record = Record::from_rdata(
            rrset.name().clone(),
            rrset.ttl(),
            RData::DNSSEC(DNSSECRData::RRSIG(rrsig)),
        );
        rrset.insert_rrsig(record);
    }
}

/// Flip the first octet of every signature over `owner`/`rtype`.
fn corrupt_signatures(zone: &mut InMemoryZoneHandler, owner: &Name, rtype: RecordType) {
    for rrset in zone.records_get_mut().values_mut() {
        if rrset.name() != owner || rrset.record_type() != rtype {
            continue;
        }
        let rrset = Arc::make_mut(rrset);
        let corrupted: Vec<Record> = rrset
            .rrsigs()
            .iter()
            .filter_map(|record| match &record.data {
                RData::DNSSEC(DNSSECRData::RRSIG(rrsig)) => {
                    let mut sig = rrsig.sig().to_vec();
                    sig[0] ^= 0xff;
                    let rdata = RData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(rrsig.input().clone(), sig)));
                    Some(Record::from_rdata(record.name.clone(), record.ttl, rdata))
                }
                _ => None,
            })
            .collect();
        rrset.clear_rrsigs();
        for record in corrupted {
            rrset.insert_rrsig(record);
        }
    }
}

fn catalog_for(handlers: &[(LowerName, Arc<dyn ZoneHandler>)]) -> DsAwareCatalog {
    let catalog_without = |skip: Option<&LowerName>| {
        let mut catalog = Catalog::new();
        for (name, handler) in handlers {
            if Some(name) != skip {
                catalog.upsert(name.clone(), vec![handler.clone()]);
            }
        }
        catalog
    };
    let without_child = handlers
        .iter()
        .filter(|(name, _)| !name.is_root())
        .map(|(name, _)| (name.clone(), catalog_without(Some(name))))
        .collect();
    DsAwareCatalog {
        all: catalog_without(None),
        without_child,
    }
}

/// The catalog, optionally behind a validating resolver's SERVFAIL for
/// bogus zones (see [`TestDnsBuilder::validating_upstream`]).
struct Upstream {
    catalog: DsAwareCatalog,
    /// Origins of the zones whose names get SERVFAIL unless CD is set.
    hidden: Vec<LowerName>,
}

#[async_trait::async_trait]
impl RequestHandler for Upstream {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        if !request.metadata.checking_disabled
            && let Ok(info) = request.request_info()
            && self.hidden.iter().any(|zone| zone.zone_of(info.query.name()))
        {
            let response = MessageResponseBuilder::new(&request.queries, None)
                .error_msg(&request.metadata, ResponseCode::ServFail);
            return match response_handle.send_response(response).await {
                Ok(info) => info,
                Err(_) => {
                    let mut metadata = request.metadata;
                    metadata.response_code = ResponseCode::ServFail;
                    ResponseInfo::from(Header {
                        metadata,
                        counts: HeaderCounts::default(),
                    })
                }
            };
        }
        self.catalog.handle_request::<R, T>(request, response_handle).await
    }
}

struct Serving {
    addr: SocketAddr,
    server: Server<Upstream>,
}

async fn serve(catalog: Upstream) -> Serving {
    let (udp, tcp) = bind_loopback_pair().await;
    let addr = udp.local_addr().expect("local addr");
    let mut server = Server::new(catalog);
    server.register_socket(udp);
    server.register_listener(tcp, Duration::from_secs(5), 64);
    Serving { addr, server }
}

/// A UDP socket and a TCP listener on the same OS-assigned loopback port.
pub(crate) async fn bind_loopback_pair() -> (UdpSocket, TcpListener) {
    for _ in 0..50 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind UDP on loopback");
        let addr = udp.local_addr().expect("local addr");
        if let Ok(tcp) = TcpListener::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no loopback port free for both UDP and TCP");
}
