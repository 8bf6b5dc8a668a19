//! RFC 4035 §5.3.4 for an answer synthesised from a wildcard, which
//! hickory 0.26's validator gets wrong one label below the wildcard.
//!
//! For a wildcard answer hickory asks for an NSEC *covering* `*.` + the
//! closest encloser. At `anything.example.` synthesised from
//! `*.example.` that wildcard is the very name that answered: it exists,
//! no NSEC covers it, and hickory calls the answer bogus (names two or
//! more labels below validate, by accident: their `*.` + parent does not
//! exist). Unbound answers the same names secure. RFC 4035 §5.3.4 asks
//! for something else: "the NSEC RR proves that there was no closer
//! match", that is, that the next-closer name does not exist.
//!
//! hickory has already verified every RRSIG here (RFC 4035 §5.3.2,
//! reconstructing the wildcard owner from the RRSIG's Labels field) and
//! marked each record with its proof; this checks only the denial.

use hickory_resolver::proto::dnssec::Proof;
use hickory_resolver::proto::dnssec::rdata::{DNSSECRData, NSEC, RRSIG};
use hickory_resolver::proto::op::{Message, ResponseCode};
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};

/// Whether `response` is a secure answer to `qname`/`rtype` synthesised
/// from a wildcard: the RRset at `qname` (of `rtype`, or a CNAME) and its
/// RRSIG verified, the RRSIG's Labels field fewer than `qname`'s labels
/// (RFC 4035 §5.3.2: the closest encloser is `qname` cut to that many
/// labels), and an NSEC of the signer's zone, itself verified, covering the
/// next-closer name (§5.3.4: no closer match exists).
pub(crate) fn proves_expansion(response: &Message, qname: &Name, rtype: RecordType) -> bool {
    if response.metadata.response_code != ResponseCode::NoError {
        return false;
    }
    let answered = |r: &&Record| &r.name == qname && (r.record_type() == rtype || r.record_type() == RecordType::CNAME);
    let rrset: Vec<&Record> = response.answers.iter().filter(answered).collect();
    if rrset.is_empty() || rrset.iter().any(|r| r.proof != Proof::Secure) {
        return false;
    }
    let covered = rrset[0].record_type();
    let Some(signature) = response
        .answers
        .iter()
        .filter(|r| &r.name == qname && r.proof == Proof::Secure)
        .filter_map(rrsig)
        .filter(|s| s.input().type_covered == covered && s.input().num_labels < qname.num_labels())
        .min_by_key(|s| s.input().num_labels)
    else {
        return false;
    };
    let signer = &signature.input().signer_name;
    let next_closer = qname.trim_to(usize::from(signature.input().num_labels) + 1);
    signer.zone_of(&next_closer)
        && secure_nsecs(&response.authorities, signer).any(|(owner, nsec)| covers(owner, nsec, &next_closer))
}

fn rrsig(record: &Record) -> Option<&RRSIG> {
    match &record.data {
        RData::DNSSEC(DNSSECRData::RRSIG(rrsig)) => Some(rrsig),
        _ => None,
    }
}

/// The verified NSEC records in `authorities` with a verified RRSIG by
/// `signer` (the zone the wildcard answer came from).
fn secure_nsecs<'a>(authorities: &'a [Record], signer: &'a Name) -> impl Iterator<Item = (&'a Name, &'a NSEC)> {
    let signed_by_signer = move |owner: &Name| {
        authorities
            .iter()
            .filter(|r| &r.name == owner && r.proof == Proof::Secure)
            .filter_map(rrsig)
            .any(|s| s.input().type_covered == RecordType::NSEC && &s.input().signer_name == signer)
    };
    authorities
        .iter()
        .filter(|r| r.proof == Proof::Secure)
        .filter_map(move |r| match &r.data {
            RData::DNSSEC(DNSSECRData::NSEC(nsec)) if signed_by_signer(&r.name) => Some((&r.name, nsec)),
            _ => None,
        })
}

/// Whether the NSEC at `owner` proves `name` does not exist: `name` falls
/// strictly between the owner and the next name in canonical order (RFC
/// 4034 §6.1), or after the last owner of the zone (the NSEC whose next
/// name is the apex). A parent-side NSEC at a delegation proves nothing
/// below the cut (RFC 6840 §4.1).
fn covers(owner: &Name, nsec: &NSEC, name: &Name) -> bool {
    if nsec.is_ancestor_delegation() && owner.zone_of(name) {
        return false;
    }
    let next = nsec.next_domain_name();
    let wraps = next <= owner;
    name > owner && (name < next || (wraps && next.zone_of(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::rdata::TXT;

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn nsec(next: &str) -> NSEC {
        NSEC::new(name(next), vec![RecordType::TXT, RecordType::RRSIG, RecordType::NSEC])
    }

    #[test]
    fn an_nsec_covers_the_names_strictly_between_its_owner_and_next() {
        let owner = name("_tls.example.");
        let n = nsec("mx.example.");
        assert!(covers(&owner, &n, &name("anything.example.")));
        assert!(!covers(&owner, &n, &name("_tls.example.")), "the owner exists");
        assert!(!covers(&owner, &n, &name("mx.example.")), "the next name exists");
        assert!(
            !covers(&owner, &n, &name("*.example.")),
            "the wildcard sorts before the owner"
        );
    }

    #[test]
    fn the_last_nsec_of_a_zone_covers_the_names_after_it() {
        let owner = name("www.example.");
        let n = nsec("example.");
        assert!(covers(&owner, &n, &name("zzz.example.")));
        assert!(!covers(&owner, &n, &name("aaa.example.")));
        assert!(!covers(&owner, &n, &name("zzz.other.")), "outside the zone");
    }

    #[test]
    fn an_answer_without_a_wildcard_rrsig_is_no_expansion() {
        let mut message = Message::query();
        message.metadata.response_code = ResponseCode::NoError;
        let mut txt = Record::from_rdata(name("anything.example."), 300, RData::TXT(TXT::new(vec!["x".into()])));
        txt.proof = Proof::Secure;
        message.answers.push(txt);
        assert!(!proves_expansion(&message, &name("anything.example."), RecordType::TXT));
    }
}
