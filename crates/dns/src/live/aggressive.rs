//! Validated NSEC records reused to deny other names (RFC 8198).
//!
//! A scan guesses about 36 DKIM selectors under every domain; in a signed
//! zone each miss comes back as a validated NXDOMAIN whose NSEC records
//! say which ranges of names do not exist. The same two NSEC records (the
//! gap between `_dmarc` and the first real selector, and the one over the
//! `*._domainkey` wildcard) deny most of the other guesses as well, so
//! asking for each is a query the zone has already answered.
//!
//! RFC 8198 §4: "Once the records are validated, DNSSEC-enabled
//! validating resolvers MAY use NSEC/NSEC3 resource records to generate
//! negative responses until their effective TTLs or signatures for those
//! records expire." §5.1 (NSEC): "The validating resolver needs to check
//! the existence of an NSEC RR matching/covering the source of synthesis
//! and an NSEC RR covering the query name. If denial of existence can be
//! determined according to the rules set out in Section 5.4 of
//! [RFC4035], using NSEC records in the cache, then the resolver can
//! immediately return an NXDOMAIN or NODATA (as appropriate) response."
//!
//! The rules kept here:
//! - only NSEC records the validator found `secure`, from a denial that
//!   validated secure as a whole, are kept: never from an insecure,
//!   indeterminate or unvalidated answer, never without validation;
//! - each is kept until its TTL (capped by the denial's negative TTL,
//!   RFC 9077 §3: the SOA MINIMUM and SOA TTL) or its signature expires;
//! - only negative answers are made: NXDOMAIN when one NSEC covers the
//!   name and one covers the wildcard at its closest encloser (RFC 4035
//!   §5.4; RFC 8198 §5.3 also allows answering from a cached wildcard,
//!   which is not done: a wildcard that exists means the name is asked);
//!   NODATA when the NSEC at the name lacks the type and CNAME;
//! - an NSEC at a delegation (NS without SOA, or DNAME) denies nothing
//!   below it (RFC 6840 §4.1), and an empty non-terminal (the next name
//!   is below the one asked) and DS questions are always asked;
//! - NSEC3 is not used (RFC 8198 §5.2 allows it, with opt-out excluded);
//!   those zones are asked as before.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hickory_resolver::proto::dnssec::Proof as HickoryProof;
use hickory_resolver::proto::dnssec::rdata::{DNSSECRData, NSEC};
use hickory_resolver::proto::rr::{Name, RData as HRData, Record, RecordType};
use mailwarden_model::{Answer, Proof, Status};
use quick_cache::sync::Cache;

/// Signed zones whose NSEC records are kept (least recently used go first).
const ZONES_KEPT: usize = 4096;
/// NSEC records kept per zone: a scan needs the few around `_domainkey`.
const LINKS_PER_ZONE: usize = 64;

/// The run's validated NSEC records, by zone.
pub(crate) struct DenialCache {
    zones: Cache<Name, Arc<Mutex<Chain>>>,
    answered: AtomicU64,
}

/// What is known of one zone's NSEC chain: owner → link.
#[derive(Default)]
struct Chain {
    links: BTreeMap<Name, Link>,
}

struct Link {
    next: Name,
    nsec: NSEC,
    expires: Instant,
    /// The validated denial the NSEC came with: its signatures and AD bit
    /// are what an answer made from it carries.
    denial: Arc<Answer>,
}

impl DenialCache {
    pub(crate) fn new() -> Self {
        Self {
            zones: Cache::new(ZONES_KEPT),
            answered: AtomicU64::new(0),
        }
    }

    /// Questions answered from kept NSEC records instead of asked.
    pub(crate) fn answered(&self) -> u64 {
        self.answered.load(Ordering::Relaxed)
    }

    /// Keep the NSEC records of `denial` (the answer made of a response
    /// whose authority section is `authorities`) if it validated secure.
    pub(crate) fn learn(&self, denial: &Answer, authorities: &[Record]) {
        let secure_denial =
            denial.status.is_negative() && denial.proof == Proof::Secure && denial.cname_chain.is_empty();
        let Some(negative_ttl) = denial.ttl.filter(|_| secure_denial) else {
            return;
        };
        let shared = Arc::new(denial.clone());
        let now = Instant::now();
        for record in authorities {
            let HRData::DNSSEC(DNSSECRData::NSEC(nsec)) = &record.data else {
                continue;
            };
            if record.proof != HickoryProof::Secure {
                continue;
            }
            let Some((zone, signature_left)) = signer(authorities, &record.name) else {
                continue;
            };
            let ttl = record.ttl.min(negative_ttl).min(signature_left);
            if ttl == 0 || !zone.zone_of(&record.name) {
                continue;
            }
            let link = Link {
                next: nsec.next_domain_name().clone(),
                nsec: nsec.clone(),
                expires: now + Duration::from_secs(u64::from(ttl)),
                denial: shared.clone(),
            };
            let chain = self.zones.get_or_insert_with(&zone, || Ok::<_, ()>(Arc::default()));
            if let Ok(chain) = chain {
                chain
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(record.name.clone(), link, now);
            }
        }
    }

    /// The denial of `qname`/`rtype` that kept NSEC records prove, if any.
    pub(crate) fn answer(&self, qname: &Name, rtype: RecordType) -> Option<Answer> {
        if rtype == RecordType::DS || self.zones.is_empty() {
            return None;
        }
        let (zone, chain) = self.zone_of(qname)?;
        let answer = chain
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .deny(&zone, qname, rtype, Instant::now())?;
        self.answered.fetch_add(1, Ordering::Relaxed);
        Some(answer)
    }

    /// The deepest zone above (or at) `qname` with NSEC records kept.
    fn zone_of(&self, qname: &Name) -> Option<(Name, Arc<Mutex<Chain>>)> {
        let mut name = qname.clone();
        loop {
            if let Some(chain) = self.zones.get(&name) {
                return Some((name, chain));
            }
            if name.is_root() {
                return None;
            }
            name = name.base_name();
        }
    }
}

/// The zone that signed the NSEC at `owner`, and how many seconds its
/// signature stays valid.
fn signer(authorities: &[Record], owner: &Name) -> Option<(Name, u32)> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?.as_secs();
    authorities.iter().find_map(|r| match &r.data {
        HRData::DNSSEC(DNSSECRData::RRSIG(rrsig))
            if rrsig.input().type_covered == RecordType::NSEC && &r.name == owner =>
        {
            let input = rrsig.input();
            let left = u64::from(input.sig_expiration.get()).saturating_sub(now);
            Some((input.signer_name.clone(), u32::try_from(left).unwrap_or(u32::MAX)))
        }
        _ => None,
    })
}

impl Chain {
    fn insert(&mut self, owner: Name, link: Link, now: Instant) {
        if self.links.len() >= LINKS_PER_ZONE && !self.links.contains_key(&owner) {
            self.links.retain(|_, l| l.expires > now);
            if self.links.len() >= LINKS_PER_ZONE {
                self.links.clear();
            }
        }
        self.links.insert(owner, link);
    }

    fn deny(&self, zone: &Name, qname: &Name, rtype: RecordType, now: Instant) -> Option<Answer> {
        if let Some(link) = self.links.get(qname).filter(|l| l.expires > now) {
            return link.nodata(rtype, now);
        }
        let (owner, link) = self.covering(zone, qname, now)?;
        if qname.zone_of(&link.next) && link.next != *zone {
            return None; // an empty non-terminal: it exists
        }
        let encloser = deeper(common_ancestor(qname, owner), common_ancestor(qname, &link.next));
        let wildcard = encloser.prepend_label("*").ok()?;
        if self.links.get(&wildcard).is_some_and(|l| l.expires > now) {
            return None; // the wildcard exists: no positive answer is made
        }
        self.covering(zone, &wildcard, now)?;
        Some(link.synthesize(Status::NxDomain, now))
    }

    /// The kept, unexpired NSEC whose range holds `name` (strictly between
    /// its owner and next name, the last one wrapping to the apex), unless
    /// it sits at a delegation above `name`.
    fn covering(&self, zone: &Name, name: &Name, now: Instant) -> Option<(&Name, &Link)> {
        if !zone.zone_of(name) {
            return None;
        }
        let (owner, link) = self.links.range(..name.clone()).next_back()?;
        if link.expires <= now || owner == name {
            return None;
        }
        let wraps = link.next <= *owner;
        if !(wraps || *name < link.next) {
            return None;
        }
        if owner.zone_of(name) && link.nsec.is_ancestor_delegation() {
            return None;
        }
        Some((owner, link))
    }
}

impl Link {
    /// NODATA from the NSEC at the name itself: the type is not there, nor
    /// a CNAME; not at a delegation, where the records are the child's.
    fn nodata(&self, rtype: RecordType, now: Instant) -> Option<Answer> {
        let types = self.nsec.type_set();
        if self.nsec.is_ancestor_delegation() || types.contains(rtype) || types.contains(RecordType::CNAME) {
            return None;
        }
        Some(self.synthesize(Status::NoData, now))
    }

    fn synthesize(&self, status: Status, now: Instant) -> Answer {
        let left = self.expires.saturating_duration_since(now).as_secs();
        Answer {
            status,
            ttl: Some(u32::try_from(left).unwrap_or(u32::MAX)),
            records: Vec::new(),
            cname_chain: Vec::new(),
            ..(*self.denial).clone()
        }
    }
}

/// The longest name that is an ancestor of (or equal to) both.
fn common_ancestor(a: &Name, b: &Name) -> Name {
    let shared = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x.eq_ignore_ascii_case(y))
        .count();
    a.trim_to(shared)
}

fn deeper(a: Name, b: Name) -> Name {
    if a.num_labels() >= b.num_labels() { a } else { b }
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::dnssec::Algorithm;
    use hickory_resolver::proto::dnssec::rdata::{RRSIG, SigInput};
    use hickory_resolver::proto::rr::SerialNumber;
    use mailwarden_model::Signature;

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn far_future() -> u32 {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
        u32::try_from(now + 86_400).unwrap()
    }

    /// An NSEC `owner → next` of `zone` with `types`, its RRSIG, with
    /// the validator's verdict `proof`.
    fn nsec(zone: &str, owner: &str, next: &str, types: &[RecordType], proof: HickoryProof) -> [Record; 2] {
        let mut record = Record::from_rdata(
            name(owner),
            3600,
            HRData::DNSSEC(DNSSECRData::NSEC(NSEC::new(name(next), types.iter().copied()))),
        );
        record.proof = proof;
        let input = SigInput {
            type_covered: RecordType::NSEC,
            algorithm: Algorithm::ECDSAP256SHA256,
            num_labels: name(owner).num_labels(),
            original_ttl: 3600,
            sig_expiration: SerialNumber::new(far_future()),
            sig_inception: SerialNumber::new(0),
            key_tag: 1,
            signer_name: name(zone),
        };
        let rrsig = HRData::DNSSEC(DNSSECRData::RRSIG(RRSIG::from_sig(input, vec![1; 64])));
        [record, Record::from_rdata(name(owner), 3600, rrsig)]
    }

    fn secure_nxdomain() -> Answer {
        Answer {
            ttl: Some(300),
            signatures: vec![Signature {
                type_covered: 47,
                algorithm: 13,
                key_tag: 1,
                signer: "x.lab".into(),
                inception: 0,
                expiration: far_future(),
            }],
            ..Answer::empty(Status::NxDomain, Proof::Secure)
        }
    }

    /// The denial a signed zone `x.lab` gives for `k1._domainkey.x.lab`:
    /// the gap from `_dmarc` to the first selector covers the wildcard
    /// `*._domainkey.x.lab`; the gap from `google` to `selector1` the name.
    fn dkim_denial(proof: HickoryProof) -> Vec<Record> {
        let txt = [RecordType::TXT, RecordType::RRSIG, RecordType::NSEC];
        [
            nsec("x.lab.", "_dmarc.x.lab.", "default._domainkey.x.lab.", &txt, proof),
            nsec(
                "x.lab.",
                "google._domainkey.x.lab.",
                "selector1._domainkey.x.lab.",
                &txt,
                proof,
            ),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    #[test]
    fn a_name_covered_by_a_validated_nsec_is_denied_without_asking() {
        let cache = DenialCache::new();
        cache.learn(&secure_nxdomain(), &dkim_denial(HickoryProof::Secure));
        let answer = cache.answer(&name("k2._domainkey.x.lab."), RecordType::TXT).unwrap();
        assert_eq!(answer.status, Status::NxDomain);
        assert_eq!(answer.proof, Proof::Secure);
        assert_eq!(answer.signatures, secure_nxdomain().signatures);
        assert!(answer.ttl.is_some_and(|t| t <= 300));
        assert_eq!(cache.answered(), 1);
        // Names outside both gaps are asked.
        for outside in [
            "selector2._domainkey.x.lab.",
            "default._domainkey.x.lab.",
            "a.y.lab.",
            "x.lab.",
        ] {
            assert_eq!(cache.answer(&name(outside), RecordType::TXT), None, "{outside}");
        }
    }

    #[test]
    fn an_unvalidated_or_insecure_nsec_denies_nothing() {
        for proof in [HickoryProof::Insecure, HickoryProof::Indeterminate, HickoryProof::Bogus] {
            let cache = DenialCache::new();
            cache.learn(&secure_nxdomain(), &dkim_denial(proof));
            assert_eq!(
                cache.answer(&name("k2._domainkey.x.lab."), RecordType::TXT),
                None,
                "{proof:?}"
            );
        }
        // A denial that is not secure as a whole keeps nothing either.
        for proof in [Proof::Insecure, Proof::NotValidated, Proof::Indeterminate] {
            let cache = DenialCache::new();
            let denial = Answer {
                proof,
                ..secure_nxdomain()
            };
            cache.learn(&denial, &dkim_denial(HickoryProof::Secure));
            assert_eq!(
                cache.answer(&name("k2._domainkey.x.lab."), RecordType::TXT),
                None,
                "{proof:?}"
            );
        }
    }

    #[test]
    fn an_expired_nsec_denies_nothing() {
        let cache = DenialCache::new();
        let expired = Answer {
            ttl: Some(0),
            ..secure_nxdomain()
        };
        cache.learn(&expired, &dkim_denial(HickoryProof::Secure));
        assert_eq!(cache.answer(&name("k2._domainkey.x.lab."), RecordType::TXT), None);
        // Kept ones lapse with time too.
        let cache = DenialCache::new();
        cache.learn(&secure_nxdomain(), &dkim_denial(HickoryProof::Secure));
        let (zone, chain) = cache.zone_of(&name("x.lab.")).unwrap();
        let later = Instant::now() + Duration::from_secs(301);
        let chain = chain.lock().unwrap();
        assert!(
            chain
                .deny(&zone, &name("k2._domainkey.x.lab."), RecordType::TXT, later)
                .is_none()
        );
    }

    #[test]
    fn without_a_denied_wildcard_nothing_is_denied() {
        // Only the gap over the name: `*._domainkey.x.lab` might exist.
        let cache = DenialCache::new();
        let txt = [RecordType::TXT, RecordType::RRSIG, RecordType::NSEC];
        let gap = nsec(
            "x.lab.",
            "google._domainkey.x.lab.",
            "selector1._domainkey.x.lab.",
            &txt,
            HickoryProof::Secure,
        );
        cache.learn(&secure_nxdomain(), &gap);
        assert_eq!(cache.answer(&name("k2._domainkey.x.lab."), RecordType::TXT), None);
        // A wildcard that exists: the name would be synthesized from it,
        // which is never done here.
        let star = nsec(
            "x.lab.",
            "*._domainkey.x.lab.",
            "default._domainkey.x.lab.",
            &txt,
            HickoryProof::Secure,
        );
        cache.learn(&secure_nxdomain(), &star);
        assert_eq!(cache.answer(&name("k2._domainkey.x.lab."), RecordType::TXT), None);
    }

    #[test]
    fn nodata_only_for_a_type_the_nsec_at_the_name_lacks() {
        let cache = DenialCache::new();
        let types = [RecordType::MX, RecordType::TXT, RecordType::RRSIG, RecordType::NSEC];
        cache.learn(
            &Answer {
                status: Status::NoData,
                ..secure_nxdomain()
            },
            &nsec("x.lab.", "mail.x.lab.", "www.x.lab.", &types, HickoryProof::Secure),
        );
        let tlsa = cache.answer(&name("mail.x.lab."), RecordType::TLSA).unwrap();
        assert_eq!(tlsa.status, Status::NoData);
        assert_eq!(
            cache.answer(&name("mail.x.lab."), RecordType::MX),
            None,
            "records exist: never made up"
        );
        // In the gap after it, but with no denied wildcard: asked.
        assert_eq!(cache.answer(&name("sub.x.lab."), RecordType::A), None);
    }

    #[test]
    fn an_nsec_at_a_delegation_denies_nothing_below_it() {
        let cache = DenialCache::new();
        let delegation = [RecordType::NS, RecordType::RRSIG, RecordType::NSEC];
        let records: Vec<Record> = [
            nsec(
                "lab.",
                "lab.",
                "x.lab.",
                &[RecordType::SOA, RecordType::NS],
                HickoryProof::Secure,
            ),
            nsec("lab.", "x.lab.", "z.lab.", &delegation, HickoryProof::Secure),
        ]
        .into_iter()
        .flatten()
        .collect();
        cache.learn(&secure_nxdomain(), &records);
        assert_eq!(cache.answer(&name("k2._domainkey.x.lab."), RecordType::TXT), None);
        assert_eq!(cache.answer(&name("x.lab."), RecordType::MX), None);
        assert_eq!(cache.answer(&name("x.lab."), RecordType::DS), None);
    }
}
