//! hickory lookups and errors → `mailwarden_model::Answer`.

use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::dnssec::Proof as HickoryProof;
use hickory_resolver::proto::dnssec::rdata::DNSSECRData;
use hickory_resolver::proto::op::{DnsResponse, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData as HRData, Record, RecordType};
use hickory_resolver::proto::serialize::binary::BinEncodable;
use mailwarden_model::dns::escape_presentation;
use mailwarden_model::name::normalise;
use mailwarden_model::{Answer, Proof, RData, Signature, Status};

use super::chase::{Chased, MAX_CHAIN};

/// Whether the answer was validated locally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Validated,
    NotValidated,
}

/// Map a finished lookup. DNSSEC-bogus results are the caller's business
/// (see `LiveSource::confirm_bogus`); here they map to `Status::Bogus`.
pub(crate) fn answer(chased: &Chased, qname: &Name, rtype: RecordType, mode: Mode) -> Answer {
    let mut out = match &chased.result {
        Ok(()) => return positive(chased, qname, rtype, mode),
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => negative(no, mode),
        Err(NetError::Dns(DnsError::Nsec { response, proof, .. })) => unproven_negative(response, *proof),
        Err(err) => Answer::empty(failure_status(err), Proof::Indeterminate),
    };
    // A denial (or failure) reached through CNAMEs: name the chain, and
    // the denial is only as strong as the CNAMEs that led to it.
    let (chain, chain_records) = follow_cnames(&chased.answers, qname, rtype);
    if out.status.is_negative() {
        if mode == Mode::Validated && !chain_records.is_empty() {
            out.proof = combine_proofs(
                chain_records
                    .iter()
                    .map(|r| proof_of(r.proof))
                    .chain(std::iter::once(out.proof)),
            );
        }
        out.upstream_ad = chased.authentic_data;
    }
    out.cname_chain = chain;
    out
}

/// True when hickory judged the answer bogus.
pub(crate) fn is_bogus(chased: &Chased) -> bool {
    match &chased.result {
        Err(NetError::Dns(DnsError::DnssecBogus)) => true,
        Err(NetError::Dns(DnsError::Nsec { proof, .. })) => *proof == HickoryProof::Bogus,
        _ => chased.answers.iter().any(|r| r.proof == HickoryProof::Bogus),
    }
}

/// True when the server answered SERVFAIL: through a validating
/// recursive resolver, that may be data it found bogus.
pub(crate) fn is_servfail(chased: &Chased) -> bool {
    match &chased.result {
        Err(NetError::Dns(DnsError::ResponseCode(ResponseCode::ServFail))) => true,
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => no.response_code == ResponseCode::ServFail,
        _ => false,
    }
}

/// The status of a failed lookup, or `None` when the DNS gave a definite
/// answer (records, NODATA or NXDOMAIN).
pub(crate) fn transport_failure(chased: &Chased) -> Option<Status> {
    match &chased.result {
        Ok(()) => None,
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => {
            let status = rcode_status(no.response_code);
            (!status.is_negative()).then_some(status)
        }
        Err(err) => Some(failure_status(err)),
    }
}

/// True when the answers to the chain questions (see `chain_questions`:
/// the question, then DNSKEY and DS up to the root's DNSKEY, asked with
/// the DO bit) show a resolver that drops DNSSEC records: not one RRSIG
/// anywhere, or no DNSKEY for the root, which is always signed.
pub(crate) fn strips_dnssec(results: &[Chased]) -> bool {
    let root_keys = results
        .last()
        .is_some_and(|root| root.result.is_ok() && root.answers.iter().any(|r| r.record_type() == RecordType::DNSKEY));
    !root_keys || !results.iter().any(carries_rrsig)
}

fn carries_rrsig(chased: &Chased) -> bool {
    let is_rrsig = |r: &Record| r.record_type() == RecordType::RRSIG;
    chased.answers.iter().any(is_rrsig)
        || match &chased.result {
            Err(NetError::Dns(DnsError::NoRecordsFound(no))) => {
                no.authorities.iter().flat_map(|a| a.iter()).any(is_rrsig)
            }
            Err(NetError::Dns(DnsError::Nsec { response, .. })) => response.authorities.iter().any(is_rrsig),
            _ => false,
        }
}

fn failure_status(err: &NetError) -> Status {
    match err {
        NetError::Timeout => Status::Timeout,
        NetError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Status::Timeout,
        NetError::Dns(DnsError::ResponseCode(code)) => rcode_status(*code),
        NetError::Dns(DnsError::DnssecBogus) => {
            Status::Bogus("the answer does not validate from the trust anchor".into())
        }
        other => Status::Error(other.to_string()),
    }
}

fn rcode_status(code: ResponseCode) -> Status {
    match code {
        ResponseCode::ServFail => Status::ServFail,
        ResponseCode::Refused => Status::Refused,
        ResponseCode::NXDomain => Status::NxDomain,
        ResponseCode::NoError => Status::NoData,
        other => Status::Error(format!("the server answered {other}")),
    }
}

/// The records asked for at the end of the chain, with the proof of every
/// record on the way: the CNAMEs' own (validated over their RRSIGs) and
/// the final RRset's.
fn positive(chased: &Chased, qname: &Name, rtype: RecordType, mode: Mode) -> Answer {
    let answers = &chased.answers;
    let (chain, chain_records) = follow_cnames(answers, qname, rtype);
    let owner = chain_records.last().map_or(qname, |r| cname_target(r).unwrap_or(qname));
    let matching: Vec<&Record> = answers
        .iter()
        .filter(|r| r.record_type() == rtype && &r.name == owner)
        .collect();

    let proof = match mode {
        Mode::NotValidated => Proof::NotValidated,
        Mode::Validated => combine(matching.iter().chain(&chain_records).map(|r| r.proof)),
    };
    let mut out = Answer::with_records(matching.iter().map(|r| rdata(&r.data)).collect(), proof);
    if out.status == Status::Records && proof == Proof::Bogus {
        out = Answer::empty(
            Status::Bogus(bogus_reason(&matching, &chain_records, rtype)),
            Proof::Bogus,
        );
    }
    out.cname_chain = chain;
    out.ttl = matching.iter().chain(&chain_records).map(|r| r.ttl).min();
    out.upstream_ad = chased.authentic_data;
    if out.status == Status::Records {
        // The CNAMEs' own RRSIGs too: their signers are zones on the way.
        let aliases: Vec<&Name> = chain_records.iter().map(|r| &r.name).collect();
        out.signatures = signatures(answers, |covered, name| {
            (covered == rtype && name == owner) || (covered == RecordType::CNAME && aliases.contains(&name))
        });
    }
    out
}

/// Which records of a bogus answer do not validate.
fn bogus_reason(matching: &[&Record], chain: &[&Record], rtype: RecordType) -> String {
    if let Some(cname) = chain.iter().find(|r| r.proof == HickoryProof::Bogus) {
        return format!("the CNAME at {} on the way does not validate", norm(&cname.name));
    }
    match matching.first() {
        Some(r) => format!("the {rtype} record set at {} does not validate", norm(&r.name)),
        None => "a record in the answer does not validate".into(),
    }
}

/// The RRSIGs among `records` whose covered type and owner `covers` accepts.
fn signatures<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    covers: impl Fn(RecordType, &Name) -> bool,
) -> Vec<Signature> {
    let mut out: Vec<Signature> = records
        .into_iter()
        .filter_map(|r| match &r.data {
            HRData::DNSSEC(DNSSECRData::RRSIG(rrsig)) if covers(rrsig.input().type_covered, &r.name) => {
                let input = rrsig.input();
                Some(Signature {
                    type_covered: u16::from(input.type_covered),
                    algorithm: u8::from(input.algorithm),
                    key_tag: input.key_tag,
                    signer: norm(&input.signer_name),
                    inception: input.sig_inception.get(),
                    expiration: input.sig_expiration.get(),
                })
            }
            _ => None,
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The RRSIGs of a negative answer: those over its SOA and NSEC/NSEC3.
fn denial_signatures<'a>(authorities: impl IntoIterator<Item = &'a Record>) -> Vec<Signature> {
    signatures(authorities, |covered, _| {
        matches!(covered, RecordType::SOA | RecordType::NSEC | RecordType::NSEC3)
    })
}

/// What an unvalidated lookup (DO bit set) received for `qname`/`rtype`:
/// the records of that type at the name (CNAMEs followed) and the RRSIGs
/// over them, or over the denial. Kept as evidence on a bogus answer.
pub(crate) fn received(chased: &Chased, qname: &Name, rtype: RecordType) -> (Vec<RData>, Vec<Signature>) {
    match &chased.result {
        Ok(()) => {
            let answers = &chased.answers;
            let (_, chain_records) = follow_cnames(answers, qname, rtype);
            let owner = chain_records.last().map_or(qname, |r| cname_target(r).unwrap_or(qname));
            let mut records: Vec<RData> = answers
                .iter()
                .filter(|r| r.record_type() == rtype && &r.name == owner)
                .map(|r| rdata(&r.data))
                .collect();
            records.sort();
            let sigs = signatures(answers, |covered, name| covered == rtype && name == owner);
            (records, sigs)
        }
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => (
            Vec::new(),
            denial_signatures(no.authorities.iter().flat_map(|a| a.iter())),
        ),
        Err(_) => (Vec::new(), Vec::new()),
    }
}

/// The authority section of a negative answer (its SOA, NSEC and RRSIG
/// records); empty otherwise.
pub(crate) fn denial_authorities(chased: &Chased) -> &[Record] {
    match &chased.result {
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) => no.authorities.as_deref().unwrap_or_default(),
        _ => &[],
    }
}

/// The CNAMEs leading from `qname`, as normalised targets, and their records.
pub(crate) fn follow_cnames<'a>(
    answers: &'a [Record],
    qname: &Name,
    rtype: RecordType,
) -> (Vec<String>, Vec<&'a Record>) {
    let mut targets = Vec::new();
    let mut records = Vec::new();
    if rtype == RecordType::CNAME {
        return (targets, records);
    }
    let mut current = qname;
    while records.len() < MAX_CHAIN {
        let Some(record) = answers
            .iter()
            .find(|r| r.record_type() == RecordType::CNAME && &r.name == current)
        else {
            break;
        };
        let Some(target) = cname_target(record) else { break };
        targets.push(norm(target));
        records.push(record);
        current = target;
    }
    (targets, records)
}

pub(crate) fn cname_target(record: &Record) -> Option<&Name> {
    match &record.data {
        HRData::CNAME(cname) => Some(&cname.0),
        _ => None,
    }
}

/// NXDOMAIN or NODATA, with the proof of the denial.
fn negative(no: &NoRecords, mode: Mode) -> Answer {
    let status = rcode_status(no.response_code);
    if !status.is_negative() {
        return Answer::empty(status, Proof::Indeterminate);
    }
    if no.soa.is_none() && no.ns.is_some() {
        // A referral: the server is not recursive and not authoritative for
        // the name. That says nothing about whether the record exists.
        let why = "the server sent a referral instead of an answer (is it a recursive resolver?)";
        return Answer::empty(Status::Error(why.into()), Proof::Indeterminate);
    }
    let proof = match mode {
        Mode::NotValidated => Proof::NotValidated,
        Mode::Validated => denial_proof(no),
    };
    let mut out = Answer::empty(status, proof);
    out.ttl = no.soa.as_ref().map(|soa| negative_ttl(soa.ttl, soa.data.minimum));
    out.signatures = denial_signatures(no.authorities.iter().flat_map(|a| a.iter()));
    out
}

/// A negative answer whose NSEC proof hickory could not complete (but did
/// not find bogus): keep the denial, marked with that proof.
fn unproven_negative(response: &DnsResponse, proof: HickoryProof) -> Answer {
    let status = rcode_status(response.response_code);
    if !status.is_negative() {
        return Answer::empty(status, Proof::Indeterminate);
    }
    let mut out = Answer::empty(status, proof_of(proof));
    out.ttl = response.authorities.iter().find_map(|r| match &r.data {
        HRData::SOA(soa) => Some(negative_ttl(r.ttl, soa.minimum)),
        _ => None,
    });
    out.signatures = denial_signatures(&response.authorities);
    out
}

/// RFC 2308 §5: "the TTL of this record is set from the minimum of the
/// MINIMUM field of the SOA record and the TTL of the SOA itself".
fn negative_ttl(soa_ttl: u32, soa_minimum: u32) -> u32 {
    soa_ttl.min(soa_minimum)
}

/// The proof of a denial: the SOA and NSEC/NSEC3 records that carry it.
fn denial_proof(no: &NoRecords) -> Proof {
    let from_authorities = no
        .authorities
        .iter()
        .flat_map(|a| a.iter())
        .filter(|r| matches!(r.record_type(), RecordType::SOA | RecordType::NSEC | RecordType::NSEC3));
    let proofs: Vec<Proof> = from_authorities.map(|r| proof_of(r.proof)).collect();
    if proofs.is_empty() {
        return no.soa.as_ref().map_or(Proof::Indeterminate, |soa| proof_of(soa.proof));
    }
    combine_proofs(proofs)
}

fn combine(proofs: impl Iterator<Item = HickoryProof>) -> Proof {
    combine_proofs(proofs.map(proof_of))
}

/// The weakest proof wins: Secure only if every record is secure; no
/// records at all prove nothing.
fn combine_proofs(proofs: impl IntoIterator<Item = Proof>) -> Proof {
    proofs
        .into_iter()
        .max_by_key(|p| weakness(*p))
        .unwrap_or(Proof::Indeterminate)
}

/// How little a proof says: one bogus record makes the whole answer bogus,
/// one unvalidated record makes it indeterminate, one insecure record
/// makes it insecure.
fn weakness(proof: Proof) -> u8 {
    match proof {
        Proof::Secure => 0,
        Proof::Insecure => 1,
        Proof::Indeterminate => 2,
        Proof::Bogus => 3,
        Proof::NotValidated => 4,
    }
}

fn proof_of(proof: HickoryProof) -> Proof {
    match proof {
        HickoryProof::Secure => Proof::Secure,
        HickoryProof::Insecure => Proof::Insecure,
        HickoryProof::Bogus => Proof::Bogus,
        _ => Proof::Indeterminate,
    }
}

pub(crate) fn norm(name: &Name) -> String {
    normalise(&name.to_ascii())
}

/// hickory record data → model record data.
pub(crate) fn rdata(data: &HRData) -> RData {
    match data {
        HRData::A(a) => RData::A { address: a.0 },
        HRData::AAAA(aaaa) => RData::Aaaa { address: aaaa.0 },
        HRData::CNAME(cname) => RData::Cname { target: norm(&cname.0) },
        HRData::MX(mx) => RData::Mx {
            preference: mx.preference,
            exchange: norm(&mx.exchange),
        },
        HRData::NS(ns) => RData::Ns { target: norm(&ns.0) },
        HRData::PTR(ptr) => RData::Ptr { target: norm(&ptr.0) },
        HRData::SOA(soa) => RData::Soa {
            mname: norm(&soa.mname),
            rname: norm(&soa.rname),
            serial: soa.serial,
            minimum: soa.minimum,
        },
        HRData::TXT(txt) => RData::Txt {
            strings: txt.txt_data.iter().map(|s| escape_presentation(s)).collect(),
        },
        HRData::Unknown { code, rdata } if u16::from(*code) == SPF_TYPE => RData::Spf {
            strings: character_strings(&rdata.anything),
        },
        other => typed(other).unwrap_or_else(|| RData::Other {
            rtype: u16::from(other.record_type()),
            text: other.to_string(),
        }),
    }
}

/// DS, DNSKEY, TLSA and NSEC3PARAM, typed from their wire form (so an
/// algorithm or digest type hickory does not know keeps its number);
/// `None` for the other types.
fn typed(data: &HRData) -> Option<RData> {
    let code = u16::from(data.record_type());
    if !mailwarden_model::rdata::is_typed(code) {
        return None;
    }
    match data.to_bytes() {
        Ok(wire) => mailwarden_model::rdata::from_wire(code, &wire),
        Err(e) => Some(RData::Unparsed {
            rtype: code,
            text: data.to_string(),
            error: format!("cannot encode the record data: {e}"),
        }),
    }
}

/// The obsolete SPF RR type (RFC 7208 §3.1), unknown to hickory.
pub(crate) const SPF_TYPE: u16 = 99;

/// Split RFC 1035 §3.3 <character-string>s (a length octet, then that many
/// octets) and write each in presentation form. A truncated last string is
/// kept as far as it goes.
fn character_strings(mut bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = bytes.split_first() {
        let take = usize::from(len).min(rest.len());
        out.push(escape_presentation(&rest[..take]));
        bytes = &rest[take..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spf_rdata_keeps_character_strings_apart() {
        assert_eq!(character_strings(b"\x06v=spf1\x05 -all"), vec!["v=spf1", " -all"]);
        assert_eq!(character_strings(b"\x02a\""), vec!["a\\\""]);
        assert_eq!(character_strings(b"\x05ab"), vec!["ab"]);
    }

    #[test]
    fn the_weakest_proof_wins() {
        assert_eq!(combine_proofs([Proof::Secure, Proof::Secure]), Proof::Secure);
        assert_eq!(combine_proofs([Proof::Secure, Proof::Insecure]), Proof::Insecure);
        assert_eq!(combine_proofs([Proof::Insecure, Proof::Bogus]), Proof::Bogus);
        assert_eq!(combine_proofs([Proof::Bogus, Proof::Indeterminate]), Proof::Bogus);
        assert_eq!(
            combine_proofs([Proof::Secure, Proof::Indeterminate]),
            Proof::Indeterminate
        );
        assert_eq!(combine_proofs([]), Proof::Indeterminate);
    }

    #[test]
    fn negative_ttl_is_the_smaller_of_soa_ttl_and_minimum() {
        assert_eq!(negative_ttl(3600, 300), 300);
        assert_eq!(negative_ttl(60, 300), 60);
    }
}
