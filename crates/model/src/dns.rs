//! DNS answers as evidence.
//!
//! Every query mailwarden makes ends in an [`Answer`], whatever happened: the
//! records with their DNSSEC proof, a negative answer (NXDOMAIN or NODATA,
//! which are facts about the domain), or a failure (timeout, SERVFAIL,
//! REFUSED, a budget running out), which means *we could not look* and is
//! never to be read as "record missing".

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::rdata;
pub use crate::rdata::{Dnskey, Ds, Nsec3param, Tlsa};

/// The record types mailwarden asks for. Anything else is kept by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RType {
    /// An IPv4 address (RFC 1035 §3.4.1).
    A,
    /// An IPv6 address (RFC 3596).
    Aaaa,
    /// An alias (RFC 1035 §3.3.1).
    Cname,
    /// A mail exchanger (RFC 1035 §3.3.9).
    Mx,
    /// A name server (RFC 1035 §3.3.11).
    Ns,
    /// A pointer, for reverse lookups (RFC 1035 §3.3.12).
    Ptr,
    /// The start of a zone of authority (RFC 1035 §3.3.13).
    Soa,
    /// Text strings (RFC 1035 §3.3.14): SPF, DMARC, DKIM, MTA-STS ...
    Txt,
    /// The obsolete SPF RR type 99 (RFC 7208 §3.1 and §14.1).
    Spf,
    /// A delegation signer, published at the parent (RFC 4034 §5).
    Ds,
    /// A zone's public key (RFC 4034 §2).
    Dnskey,
    /// A DANE certificate association (RFC 6698 §2).
    Tlsa,
    /// NSEC3 parameters at a zone apex (RFC 5155 §4).
    Nsec3param,
}

impl RType {
    /// The type's mnemonic, as in zone files.
    pub fn as_str(self) -> &'static str {
        match self {
            RType::A => "A",
            RType::Aaaa => "AAAA",
            RType::Cname => "CNAME",
            RType::Mx => "MX",
            RType::Ns => "NS",
            RType::Ptr => "PTR",
            RType::Soa => "SOA",
            RType::Txt => "TXT",
            RType::Spf => "SPF",
            RType::Ds => "DS",
            RType::Dnskey => "DNSKEY",
            RType::Tlsa => "TLSA",
            RType::Nsec3param => "NSEC3PARAM",
        }
    }

    /// The type's number on the wire.
    pub fn code(self) -> u16 {
        match self {
            RType::A => 1,
            RType::Ns => 2,
            RType::Cname => 5,
            RType::Soa => 6,
            RType::Ptr => 12,
            RType::Mx => 15,
            RType::Txt => 16,
            RType::Aaaa => 28,
            RType::Ds => 43,
            RType::Dnskey => 48,
            RType::Tlsa => 52,
            RType::Spf => 99,
            RType::Nsec3param => 51,
        }
    }

    /// Every type mailwarden knows, for parsers and tests.
    pub const ALL: [RType; 13] = [
        RType::A,
        RType::Aaaa,
        RType::Cname,
        RType::Mx,
        RType::Ns,
        RType::Ptr,
        RType::Soa,
        RType::Txt,
        RType::Spf,
        RType::Ds,
        RType::Dnskey,
        RType::Tlsa,
        RType::Nsec3param,
    ];

    /// The type with this wire number, if mailwarden knows it.
    pub fn from_code(code: u16) -> Option<RType> {
        RType::ALL.into_iter().find(|t| t.code() == code)
    }

    /// Parse a mnemonic, case-insensitively.
    pub fn from_mnemonic(s: &str) -> Option<RType> {
        RType::ALL.into_iter().find(|t| t.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for RType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One question: a normalised name (lower case, no trailing dot), a type,
/// and optionally the server to ask directly.
///
/// Without a server the question goes to the configured resolver
/// (recursive, validated). With one, it goes to that authoritative server
/// with recursion off, so answers of different servers can be compared
/// (nameserver consistency, lame delegations); such answers carry the AA
/// bit in [`Answer::authoritative`] and are never DNSSEC-validated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct QueryKey {
    /// The name asked, normalised.
    pub name: String,
    #[serde(rename = "type")]
    /// The type asked.
    pub rtype: RType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The authoritative server asked directly, or `None` for the resolver.
    pub server: Option<IpAddr>,
}

impl QueryKey {
    /// A question for the resolver; `name` is normalised.
    pub fn new(name: &str, rtype: RType) -> Self {
        Self {
            name: crate::name::normalise(name),
            rtype,
            server: None,
        }
    }

    /// A question for one authoritative server, asked directly.
    pub fn at(server: IpAddr, name: &str, rtype: RType) -> Self {
        Self {
            server: Some(server),
            ..Self::new(name, rtype)
        }
    }
}

impl fmt::Display for QueryKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.name, self.rtype)?;
        if let Some(server) = self.server {
            write!(f, " @{server}")?;
        }
        Ok(())
    }
}

/// Record data, typed for what the checks read, with presentation text for
/// the rest. Names are normalised (lower case, no trailing dot).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "UPPERCASE")]
pub enum RData {
    /// An IPv4 address.
    A {
        /// The address.
        address: Ipv4Addr,
    },
    /// An IPv6 address.
    Aaaa {
        /// The address.
        address: Ipv6Addr,
    },
    /// An alias.
    Cname {
        /// The canonical name it points to.
        target: String,
    },
    /// A mail exchanger.
    Mx {
        /// Lower is preferred (RFC 5321 §5.1).
        preference: u16,
        /// The host; empty for the null MX `.` (RFC 7505).
        exchange: String,
    },
    /// A name server.
    Ns {
        /// The server's name.
        target: String,
    },
    /// A pointer.
    Ptr {
        /// The name pointed to.
        target: String,
    },
    /// The start of authority: only the fields the checks read.
    Soa {
        /// The primary name server.
        mname: String,
        /// The responsible mailbox, as a name.
        rname: String,
        /// The zone's version (RFC 1982 serial arithmetic).
        serial: u32,
        /// The TTL of negative answers (RFC 2308 §4).
        minimum: u32,
    },
    /// The character-strings exactly as received, before concatenation
    /// (RFC 7208 §3.3), in zone-file presentation form: bytes outside
    /// printable ASCII, `"` and `\` are written `\DDD` / `\"` / `\\`.
    Txt {
        /// The character-strings, each in presentation form.
        strings: Vec<String>,
    },
    /// The obsolete SPF RR type, same shape as TXT.
    Spf {
        /// The character-strings, each in presentation form.
        strings: Vec<String>,
    },
    /// A DS record (RFC 4034 §5.1).
    Ds(Ds),
    /// A DNSKEY record (RFC 4034 §2.1).
    Dnskey(Dnskey),
    /// A TLSA record (RFC 6698 §2.1).
    Tlsa(Tlsa),
    /// An NSEC3PARAM record (RFC 5155 §4.2).
    Nsec3param(Nsec3param),
    /// A record of a typed type (DS, DNSKEY, TLSA, NSEC3PARAM) that did
    /// not parse: kept, with its text and why, so a judge can say what it
    /// could not read instead of silently reading less.
    Unparsed {
        /// The type's number on the wire.
        rtype: u16,
        /// The record data as written or received (RFC 3597 `\#` form
        /// for wire data).
        text: String,
        /// Why it did not parse.
        error: String,
    },
    /// Anything else (RRSIG, CAA ...) in presentation format.
    Other {
        /// The type's number on the wire.
        rtype: u16,
        /// The record data in presentation format.
        text: String,
    },
}

impl RData {
    /// Concatenate TXT/SPF character-strings into the bytes a record parser
    /// reads (RFC 7208 §3.3: "joined together without adding spaces").
    pub fn txt_bytes(&self) -> Option<Vec<u8>> {
        match self {
            RData::Txt { strings } | RData::Spf { strings } => {
                let mut out = Vec::new();
                for s in strings {
                    out.extend(unescape_presentation(s));
                }
                Some(out)
            }
            _ => None,
        }
    }

    /// The presentation text of DNSSEC, DANE and other record data that is
    /// shown as one string (as zone files write it); `None` for the types
    /// with fields of their own kind (addresses, names, strings).
    pub fn data_text(&self) -> Option<String> {
        match self {
            RData::Ds(ds) => Some(ds.to_string()),
            RData::Dnskey(key) => Some(key.to_string()),
            RData::Tlsa(tlsa) => Some(tlsa.to_string()),
            RData::Nsec3param(param) => Some(param.to_string()),
            RData::Unparsed { text, .. } | RData::Other { text, .. } => Some(text.clone()),
            _ => None,
        }
    }

    /// Schema 1 kept DS, DNSKEY, TLSA and NSEC3PARAM as [`RData::Other`]
    /// text; read such a record as the typed record it is.
    fn upgrade_schema1(self) -> Self {
        match self {
            RData::Other { rtype, text } if rdata::is_typed(rtype) => {
                rdata::from_text(rtype, &text).unwrap_or(RData::Other { rtype, text })
            }
            other => other,
        }
    }
}

/// Write raw character-string bytes in presentation form (see [`RData::Txt`]).
pub use crate::presentation::escape as escape_presentation;
/// Inverse of [`escape_presentation`]; lenient: a malformed escape is kept
/// as written.
pub use crate::presentation::unescape_lenient as unescape_presentation;

/// The word every referral's reason starts with.
const REFERRAL: &str = "referral";

/// What the DNS said, or why we could not hear it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "status", content = "detail")]
pub enum Status {
    /// NOERROR with records of the asked type.
    Records,
    /// NOERROR, the name exists, no records of that type.
    NoData,
    /// NXDOMAIN: the name does not exist.
    NxDomain,
    /// RCODE 2.
    ServFail,
    /// RCODE 5.
    Refused,
    /// No answer within the timeout, after retries.
    Timeout,
    /// DNSSEC validation failed: the answer cannot be trusted.
    Bogus(String),
    /// A server asked directly that is not authoritative for the name
    /// answered with a referral: NS records in the authority section, no
    /// answer and no SOA (a lame delegation's classic reply). Says nothing
    /// about whether the record exists. Server-directed questions only.
    Referral {
        /// The servers the referral names, sorted.
        servers: Vec<String>,
        /// The zone cut they are for (the owner of the NS records; `.`
        /// for the root).
        cut: String,
    },
    /// Any other transport or protocol failure (FORMERR, NOTIMP, I/O).
    Error(String),
    /// Not asked because the per-domain query or time budget ran out.
    BudgetExhausted,
    /// Not asked: the egress guard refused to send to the server a scanned
    /// domain named (a non-global address without
    /// `--allow-private-targets`, or a cap on distinct direct-query
    /// targets); the detail says which. Server-directed questions only.
    EgressRefused(String),
    /// Not in the evidence: the saved Observation predates the rule that
    /// needs this query. Only ever produced when judging saved evidence.
    NotCollected,
}

impl Status {
    /// How a referral reads in findings: "referral: not authoritative; the
    /// server refers to ns1.example, ns2.example for example"; `None` for
    /// any other status.
    pub fn referral_reason(&self) -> Option<String> {
        let Status::Referral { servers, cut } = self else {
            return None;
        };
        Some(format!(
            "{REFERRAL}: not authoritative; the server refers to {} for {cut}",
            servers.join(", ")
        ))
    }

    /// Schema 1 wrote a referral as `Status::Error` with the text of
    /// [`Status::referral_reason`]; read it back as a referral.
    fn upgrade_schema1(self) -> Self {
        let Status::Error(why) = &self else { return self };
        let parsed = why
            .strip_prefix(REFERRAL)
            .and_then(|rest| rest.strip_prefix(": not authoritative; the server refers to "))
            .and_then(|rest| rest.rsplit_once(" for "));
        match parsed {
            Some((servers, cut)) => Status::Referral {
                servers: servers
                    .split(", ")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect(),
                cut: cut.to_owned(),
            },
            None => self,
        }
    }

    /// True when the DNS gave a definite answer (records, NODATA, NXDOMAIN).
    pub fn is_definite(&self) -> bool {
        matches!(self, Status::Records | Status::NoData | Status::NxDomain)
    }

    /// True for NODATA and NXDOMAIN: the record definitely does not exist.
    pub fn is_negative(&self) -> bool {
        matches!(self, Status::NoData | Status::NxDomain)
    }

    /// A short description for reports ("timed out", "SERVFAIL").
    pub fn describe(&self) -> String {
        match self {
            Status::Records => "answered".into(),
            Status::NoData => "no records of this type (NODATA)".into(),
            Status::NxDomain => "the name does not exist (NXDOMAIN)".into(),
            Status::ServFail => "the server failed (SERVFAIL)".into(),
            Status::Refused => "the server refused (REFUSED)".into(),
            Status::Timeout => "timed out".into(),
            Status::Bogus(why) => format!("DNSSEC validation failed (bogus): {why}"),
            Status::Referral { .. } => format!("lookup failed: {}", self.referral_reason().unwrap_or_default()),
            Status::Error(why) => format!("lookup failed: {why}"),
            Status::BudgetExhausted => "not asked: the per-domain query budget ran out".into(),
            Status::EgressRefused(why) => format!("not asked: {why}"),
            Status::NotCollected => "not in the saved evidence".into(),
        }
    }
}

/// The DNSSEC status of an answer (RFC 4035 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// Validated from the trust anchor.
    Secure,
    /// Provably unsigned (an unsigned delegation on the way).
    Insecure,
    /// Signed, but validation failed.
    Bogus,
    /// Validation could not be completed.
    Indeterminate,
    /// No validation was attempted (validation off, or a zone-file source).
    NotValidated,
}

/// One answered (or failed) query: the evidence unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    #[serde(flatten)]
    /// What the DNS said (flattened: `status` and, for failures, `detail`).
    pub status: Status,
    /// Records of the asked type, sorted, with aliases already followed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records: Vec<RData>,
    /// CNAMEs followed to reach the records, in order (owner → target).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cname_chain: Vec<String>,
    /// The smallest TTL of the answer RRset (or of the SOA for negatives).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u32>,
    /// DNSSEC proof of the records, or of the denial for negatives.
    pub proof: Proof,
    /// The AD bit set by the upstream resolver, when one was asked.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub upstream_ad: bool,
    /// The AA bit: the server answered with authority (server-directed
    /// questions only; see [`QueryKey::at`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub authoritative: bool,
    /// The RRSIGs that cover the answer's records (or, for negative
    /// answers, the SOA), as received; empty when unsigned or not asked
    /// with DNSSEC.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signatures: Vec<Signature>,
    /// A delegation's glue: the delegated servers' addresses from the
    /// additional section, by server name, when a server asked directly
    /// for the NS records of a name answers with a referral to that name
    /// (the parent's view of the delegation, RFC 1034 §4.2.1).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub glue: std::collections::BTreeMap<String, Vec<IpAddr>>,
}

/// What an RRSIG says about the signature it carries (RFC 4034 §3.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Signature {
    /// The type the signature covers.
    pub type_covered: u16,
    /// The DNSSEC algorithm number (RFC 8624 §3.1 lists which may be used).
    pub algorithm: u8,
    /// The key tag of the key that made it (RFC 4034 Appendix B).
    pub key_tag: u16,
    /// The signer's name (the zone apex), normalised.
    pub signer: String,
    /// Validity window, seconds since the Unix epoch.
    pub inception: u32,
    /// End of the validity window, seconds since the Unix epoch.
    pub expiration: u32,
}

impl Answer {
    /// Read an answer written by schema 1 as the current schema: typed
    /// DS, DNSKEY, TLSA and NSEC3PARAM records (kept as text then), and a
    /// referral as [`Status::Referral`] (an error text then). Schema 2
    /// never writes either old form, so reading them is the upgrade.
    pub fn upgrade_schema1(mut self) -> Self {
        self.status = self.status.upgrade_schema1();
        self.records = self.records.into_iter().map(RData::upgrade_schema1).collect();
        self.records.sort();
        self
    }

    /// An answer with no records: negative or failed.
    pub fn empty(status: Status, proof: Proof) -> Self {
        Self {
            status,
            records: Vec::new(),
            cname_chain: Vec::new(),
            ttl: None,
            proof,
            upstream_ad: false,
            authoritative: false,
            signatures: Vec::new(),
            glue: std::collections::BTreeMap::new(),
        }
    }

    /// A positive answer. Records are sorted for deterministic output.
    pub fn with_records(mut records: Vec<RData>, proof: Proof) -> Self {
        records.sort();
        let status = if records.is_empty() {
            Status::NoData
        } else {
            Status::Records
        };
        Self {
            status,
            records,
            ..Self::empty(Status::NoData, proof)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txt_bytes_joins_strings_without_spaces() {
        let rd = RData::Txt {
            strings: vec!["v=spf1 ip4:192.0.2.0/24".into(), " -all".into()],
        };
        assert_eq!(rd.txt_bytes().unwrap(), b"v=spf1 ip4:192.0.2.0/24 -all");
    }

    #[test]
    fn a_schema_1_referral_and_typed_records_read_as_schema_2() {
        let v1 = serde_json::json!({
            "status": "error",
            "detail": "referral: not authoritative; the server refers to a.ns.test, b.ns.test for lame.test",
            "proof": "indeterminate"
        });
        let a = serde_json::from_value::<Answer>(v1).unwrap().upgrade_schema1();
        assert_eq!(
            a.status,
            Status::Referral {
                servers: vec!["a.ns.test".into(), "b.ns.test".into()],
                cut: "lame.test".into()
            }
        );
        assert_eq!(
            a.status.describe(),
            "lookup failed: referral: not authoritative; the server refers to a.ns.test, b.ns.test for lame.test"
        );
        let other = Answer::empty(Status::Error("connection reset".into()), Proof::Indeterminate);
        assert_eq!(other.clone().upgrade_schema1(), other);

        let records = Answer::with_records(
            vec![
                RData::Other {
                    rtype: 43,
                    text: "1 8 2 ABCD".into(),
                },
                RData::Other {
                    rtype: 46,
                    text: "MX 13 2 300 ...".into(),
                },
            ],
            Proof::Secure,
        )
        .upgrade_schema1();
        assert!(
            records
                .records
                .iter()
                .any(|r| matches!(r, RData::Ds(ds) if ds.key_tag == 1))
        );
        assert!(
            records
                .records
                .iter()
                .any(|r| matches!(r, RData::Other { rtype: 46, .. }))
        );
        let json = serde_json::to_value(Answer::empty(a.status.clone(), Proof::Indeterminate)).unwrap();
        assert_eq!(json["status"], "referral");
        assert_eq!(json["detail"]["cut"], "lame.test");
    }

    #[test]
    fn answer_serialises_status_flat() {
        let a = Answer::empty(Status::Timeout, Proof::Indeterminate);
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["status"], "timeout");
        let back: Answer = serde_json::from_value(v).unwrap();
        assert_eq!(back, a);
    }
}
