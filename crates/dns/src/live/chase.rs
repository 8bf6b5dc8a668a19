//! One question, CNAMEs followed here rather than by hickory's
//! `CachingClient`, which misreads exactly the answers an auditor must not
//! misread:
//!
//! - it stops after 8 links, and a longer chain or a loop comes back as
//!   NODATA ("no DMARC record") instead of a failure to look;
//! - an answer whose records are owned by another name than the question
//!   (and not reached by a CNAME) also comes back as NODATA;
//! - it keeps only the CNAMEs of earlier hops, so their RRSIGs (and their
//!   proofs) are gone;
//! - a negative answer loses the header, so the upstream's AD bit with it.
//!
//! Here every hop's answer section is kept whole (records, CNAMEs and
//! RRSIGs, with the proofs the validator below set on them), a chain is
//! followed for at most [`MAX_CHAIN`] links, and anything else is a
//! failure with its reason.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::{BoxFuture, FutureExt, Shared};
use hickory_resolver::net::xfer::DnsHandle;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::dnssec::Proof as HickoryProof;
use hickory_resolver::proto::op::{DnsRequestOptions, DnsResponse, Query, ResponseCode};
use hickory_resolver::proto::rr::RecordRef;
use hickory_resolver::proto::rr::{LowerName, Name, RData as HRData, Record, RecordType};
use quick_cache::sync::Cache;

use super::map::norm;
use super::tap::NegativeFlags;
use super::wildcard;

/// Longest CNAME chain followed (RFC 1034 §3.6.2 sets no bound; the
/// zone-file backend uses the same).
pub(crate) const MAX_CHAIN: usize = 16;

/// What one question came to.
#[derive(Debug, Clone)]
pub(crate) struct Chased {
    /// Every hop's answer section: the CNAMEs followed, the records asked
    /// for (when found), and the RRSIGs over them.
    pub(crate) answers: Vec<Record>,
    /// `Ok` when `answers` ends in the records asked for; otherwise the
    /// last hop's negative answer or failure.
    pub(crate) result: Result<(), NetError>,
    /// The upstream's AD bit, on every hop.
    pub(crate) authentic_data: bool,
}

/// Answers each chaser keeps (least recently used go first). The run's
/// `SharedCache` holds final answers too; this one spares the upstream
/// the repeats a validator's retries and concurrent callers make.
const ANSWERS_KEPT: usize = 8192;
/// Upper bound on how long an answer is kept, whatever its TTL says.
const ANSWER_MAX_TTL: Duration = Duration::from_secs(300);

/// Asks through `handle`, following CNAMEs.
#[derive(Clone)]
pub(crate) struct Chaser<H> {
    handle: H,
    options: DnsRequestOptions,
    /// Whether the queries leave with the CD bit (to read the right flags).
    checking_disabled: bool,
    flags: NegativeFlags,
    cache: Arc<Cache<Key, (Chased, Instant)>>,
    /// Lookups under way, so concurrent askers of one question share one.
    in_flight: Arc<Mutex<HashMap<Key, Asked>>>,
}

type Key = (LowerName, RecordType);

/// A lookup under way and how many askers still wait for it.
struct Asked {
    lookup: Shared<BoxFuture<'static, Chased>>,
    askers: usize,
}

/// One asker's claim on an `in_flight` entry. The last claim to go, answered
/// or cancelled (a domain's time budget running out drops its lookups),
/// removes the entry: removing it only after an answer left the lookups of
/// cancelled askers in the map for the rest of the run.
struct Asking {
    in_flight: Arc<Mutex<HashMap<Key, Asked>>>,
    key: Key,
}

impl Drop for Asking {
    fn drop(&mut self) {
        let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(asked) = in_flight.get_mut(&self.key) {
            asked.askers -= 1;
            if asked.askers == 0 {
                in_flight.remove(&self.key);
            }
        }
    }
}

/// What one hop's answer section says about the chain.
enum Step {
    /// It holds the records asked for at the end of the chain.
    Found,
    /// It ends in a CNAME whose target it does not answer: ask again.
    Follow,
    Fail(String),
}

impl<H: DnsHandle> Chaser<H>
where
    H::Response: Send,
{
    pub(crate) fn new(handle: H, options: DnsRequestOptions, checking_disabled: bool, flags: NegativeFlags) -> Self {
        Self {
            handle,
            options,
            checking_disabled,
            flags,
            cache: Arc::new(Cache::new(ANSWERS_KEPT)),
            in_flight: Arc::default(),
        }
    }

    /// The answer to `qname`/`rtype`, from the cache while its TTL lasts.
    /// Only definite answers that validated (or were not validated) are
    /// kept: a failure or a bogus answer is asked again next time.
    pub(crate) async fn lookup(&self, qname: Name, rtype: RecordType) -> Chased {
        let key = (LowerName::new(&qname), rtype);
        if let Some((chased, until)) = self.cache.get(&key)
            && until > Instant::now()
        {
            return chased;
        }
        let (shared, asking) = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            let asked = in_flight.entry(key.clone()).or_insert_with(|| {
                let this = self.clone();
                Asked {
                    lookup: async move { this.chase(qname, rtype).await }.boxed().shared(),
                    askers: 0,
                }
            });
            asked.askers += 1;
            let asking = Asking {
                in_flight: Arc::clone(&self.in_flight),
                key: key.clone(),
            };
            (asked.lookup.clone(), asking)
        };
        let chased = shared.await;
        if let Some(ttl) = cacheable_ttl(&chased) {
            self.cache.insert(key, (chased.clone(), Instant::now() + ttl));
        }
        drop(asking);
        chased
    }

    #[cfg(test)]
    fn in_flight(&self) -> usize {
        self.in_flight.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The CNAME at `name` (its answer section, RRSIGs included) and its
    /// target. hickory's name-server layer keeps an SOA answer only when
    /// it holds an SOA at or above the name: a resolver that followed a
    /// CNAME to a name without an SOA sends the CNAME and the target
    /// zone's denial, and the CNAME is dropped; so it is asked for itself.
    async fn alias(&self, name: &Name) -> Option<(Vec<Record>, Name)> {
        let mut sent = self
            .handle
            .lookup(Query::query(name.clone(), RecordType::CNAME), self.options);
        let hop = sent.next().await?.ok()?.into_message().answers;
        let target = cname_target_at(&hop, name)?;
        Some((hop, target))
    }

    async fn chase(&self, qname: Name, rtype: RecordType) -> Chased {
        let mut answers = Vec::new();
        let mut path = vec![qname];
        let mut authentic_data = true;
        loop {
            let current = path.last().expect("the path starts at the question").clone();
            let sent = self
                .handle
                .lookup(Query::query(current.clone(), rtype), self.options)
                .next()
                .await
                .unwrap_or_else(|| Err(NetError::from("no response")));
            let response = match sent.and_then(|r| denial_as_error(DnsError::from_response(r).map_err(NetError::from)?))
            {
                Ok(response) => response,
                Err(NetError::Dns(DnsError::Nsec { response, .. })) if has_cname_at(&response.answers, &current) => {
                    // A CNAME, and the denial of its target: hickory checks
                    // that denial against the name asked (the alias), not
                    // the target it is about, and calls the whole answer
                    // bogus (a CNAME into another signed zone whose target
                    // has no AAAA, say). The CNAME itself was validated on
                    // its own RRSIG; follow it and ask the target, whose
                    // denial is then checked against the right name.
                    *response
                }
                Err(NetError::Dns(DnsError::Nsec { response, .. }))
                    if wildcard::proves_expansion(&response, &current, rtype) =>
                {
                    // Synthesised from a wildcard one label up: hickory
                    // wants the wildcard itself denied (see `wildcard`).
                    *response
                }
                Err(err) if rtype == RecordType::SOA && denies_another_zone(&err, &current) => {
                    // A denial from another zone: a CNAME was followed and
                    // dropped (see `alias`).
                    let Some((hop, target)) = self.alias(&current).await else {
                        return Chased::failed(answers, err);
                    };
                    authentic_data = false;
                    answers.extend(hop);
                    if let Some(why) = extend_path(&mut path, target) {
                        return Chased::failed(answers, NetError::from(why));
                    }
                    continue;
                }
                Err(err) => {
                    let key = (LowerName::new(&current), rtype, self.checking_disabled);
                    let ad = authentic_data && is_negative(&err) && self.flags.authentic_data(&key);
                    return Chased {
                        answers,
                        result: Err(err),
                        authentic_data: ad,
                    };
                }
            };
            authentic_data &= response.metadata.authentic_data;
            let hop = response.into_message().answers;
            let step = follow(&hop, &mut path, rtype);
            answers.extend(hop);
            match step {
                Step::Found => {
                    return Chased {
                        answers,
                        result: Ok(()),
                        authentic_data,
                    };
                }
                Step::Follow => {}
                Step::Fail(why) => return Chased::failed(answers, NetError::from(why)),
            }
        }
    }
}

impl Chased {
    fn failed(answers: Vec<Record>, err: NetError) -> Self {
        Self {
            answers,
            result: Err(err),
            authentic_data: false,
        }
    }
}

/// How long an answer may be reused: its smallest TTL (the SOA's for a
/// denial), capped; `None` for failures and anything bogus.
fn cacheable_ttl(chased: &Chased) -> Option<Duration> {
    if chased.answers.iter().any(|r| r.proof == HickoryProof::Bogus) {
        return None;
    }
    let denial = match &chased.result {
        Ok(()) => None,
        Err(NetError::Dns(DnsError::NoRecordsFound(no))) if no.response_code != ResponseCode::ServFail => {
            Some(no.soa.as_ref().map(|soa| soa.ttl.min(soa.data.minimum))?)
        }
        Err(_) => return None,
    };
    let seconds = chased.answers.iter().map(|r| r.ttl).chain(denial).min()?;
    Some(Duration::from_secs(u64::from(seconds)).min(ANSWER_MAX_TTL))
}

/// hickory's `from_response` leaves an empty answer as a response when its
/// authority section holds something of the asked type at the name, or an
/// SOA above the name for an SOA question (a NODATA for `SOA` at a name
/// below the apex). An empty answer section is a denial here, whatever
/// the authority section holds, so it comes back as the same error value
/// as every other denial.
fn denial_as_error(response: DnsResponse) -> Result<DnsResponse, NetError> {
    let code = response.response_code;
    if !response.answers.is_empty() || !matches!(code, ResponseCode::NoError | ResponseCode::NXDomain) {
        return Ok(response);
    }
    let soa = response.soa().as_ref().map(RecordRef::to_owned).map(Box::new);
    let negative_ttl = response.negative_ttl();
    let authorities = (!response.authorities.is_empty()).then(|| response.authorities.to_owned().into());
    let query = response.into_message().queries.into_iter().next().unwrap_or_default();
    let mut denial = NoRecords::new(query, code);
    denial.soa = soa;
    denial.negative_ttl = negative_ttl;
    denial.authorities = authorities;
    Err(NetError::Dns(DnsError::NoRecordsFound(denial)))
}

fn is_negative(err: &NetError) -> bool {
    matches!(err, NetError::Dns(DnsError::NoRecordsFound(_) | DnsError::Nsec { .. }))
}

fn has_cname_at(answers: &[Record], name: &Name) -> bool {
    cname_target_at(answers, name).is_some()
}

/// The target of the CNAME at `name` in `answers`.
fn cname_target_at(answers: &[Record], name: &Name) -> Option<Name> {
    answers
        .iter()
        .filter(|r| r.record_type() == RecordType::CNAME && &r.name == name)
        .find_map(|r| match &r.data {
            HRData::CNAME(cname) => Some(cname.0.clone()),
            _ => None,
        })
}

/// Add one CNAME link to `path`; the reason when that makes a loop or a
/// chain over [`MAX_CHAIN`] links.
fn extend_path(path: &mut Vec<Name>, target: Name) -> Option<String> {
    if path.contains(&target) {
        path.push(target);
        return Some(format!("a CNAME loop: {}", show(path)));
    }
    if path.len() > MAX_CHAIN {
        return Some(format!(
            "a CNAME chain longer than {MAX_CHAIN} links: {} → …",
            show(path)
        ));
    }
    path.push(target);
    None
}

/// A denial whose SOA is not at or above `name`: it is about another name
/// (the target of a CNAME the answer held), not about `name`.
fn denies_another_zone(err: &NetError, name: &Name) -> bool {
    let zone = match err {
        NetError::Dns(DnsError::NoRecordsFound(no)) => no.soa.as_ref().map(|soa| soa.name.clone()),
        NetError::Dns(DnsError::Nsec { response, .. }) => response.soa().map(|soa| soa.name().clone()),
        _ => None,
    };
    zone.is_some_and(|zone| !zone.zone_of(name))
}

/// Walk `hop` from the end of `path`, pushing each CNAME target.
fn follow(hop: &[Record], path: &mut Vec<Name>, rtype: RecordType) -> Step {
    let start = path.len();
    loop {
        let current = path.last().expect("the path starts at the question");
        if hop.iter().any(|r| r.record_type() == rtype && &r.name == current) {
            return Step::Found;
        }
        match cname_target_at(hop, current) {
            Some(target) => {
                if let Some(why) = extend_path(path, target) {
                    return Step::Fail(why);
                }
            }
            None if path.len() > start => return Step::Follow,
            None => return Step::Fail(foreign(hop, current)),
        }
    }
}

/// An answer with records, none of them owned by the name asked.
fn foreign(hop: &[Record], asked: &Name) -> String {
    let mut owners: Vec<String> = hop
        .iter()
        .filter(|r| r.record_type() != RecordType::RRSIG)
        .map(|r| format!("{} {}", norm(&r.name), r.record_type()))
        .collect();
    owners.sort();
    owners.dedup();
    format!(
        "the answer holds only records of other names ({}), none owned by {} (the name asked) or reached from it by a CNAME",
        owners.join(", "),
        norm(asked)
    )
}

fn show(path: &[Name]) -> String {
    path.iter().map(norm).collect::<Vec<_>>().join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_resolver::proto::rr::RData;
    use hickory_resolver::proto::rr::rdata::{A, CNAME};

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn cname(owner: &str, target: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::CNAME(CNAME(name(target))))
    }

    fn a(owner: &str) -> Record {
        Record::from_rdata(name(owner), 300, RData::A(A::new(192, 0, 2, 1)))
    }

    #[test]
    fn a_chain_inside_one_answer_is_followed_to_its_records() {
        let hop = [cname("a.test.", "b.test."), cname("b.test.", "c.test."), a("c.test.")];
        let mut path = vec![name("a.test.")];
        assert!(matches!(follow(&hop, &mut path, RecordType::A), Step::Found));
        assert_eq!(path.len(), 3);
    }

    #[test]
    fn a_chain_ending_in_an_unanswered_target_is_asked_again() {
        let hop = [cname("a.test.", "b.test.")];
        let mut path = vec![name("a.test.")];
        assert!(matches!(follow(&hop, &mut path, RecordType::A), Step::Follow));
        assert_eq!(path.last(), Some(&name("b.test.")));
    }

    #[test]
    fn a_loop_and_an_overlong_chain_are_failures_naming_the_chain() {
        let hop = [cname("a.test.", "b.test."), cname("b.test.", "a.test.")];
        let Step::Fail(why) = follow(&hop, &mut vec![name("a.test.")], RecordType::A) else {
            panic!("a loop must fail");
        };
        assert_eq!(why, "a CNAME loop: a.test → b.test → a.test");

        let long: Vec<Record> = (0..20)
            .map(|i| cname(&format!("n{i}.test."), &format!("n{}.test.", i + 1)))
            .collect();
        let Step::Fail(why) = follow(&long, &mut vec![name("n0.test.")], RecordType::A) else {
            panic!("an overlong chain must fail");
        };
        assert!(
            why.starts_with("a CNAME chain longer than 16 links: n0.test → "),
            "{why}"
        );
        assert!(why.contains("n16.test → …"), "{why}");
    }

    #[test]
    fn exactly_sixteen_links_are_followed() {
        let mut hop: Vec<Record> = (0..16)
            .map(|i| cname(&format!("n{i}.test."), &format!("n{}.test.", i + 1)))
            .collect();
        hop.push(a("n16.test."));
        assert!(matches!(
            follow(&hop, &mut vec![name("n0.test.")], RecordType::A),
            Step::Found
        ));
    }

    /// A server that never answers.
    #[derive(Clone)]
    struct Silent;

    impl DnsHandle for Silent {
        type Response = futures::stream::Pending<Result<DnsResponse, NetError>>;
        type Runtime = hickory_resolver::net::runtime::TokioRuntimeProvider;

        fn send(&self, _: hickory_resolver::proto::op::DnsRequest) -> Self::Response {
            futures::stream::pending()
        }
    }

    #[tokio::test]
    async fn the_in_flight_map_forgets_a_question_once_its_last_asker_gives_up() {
        let chaser = Chaser::new(Silent, DnsRequestOptions::default(), false, NegativeFlags::new());
        let ask = || Box::pin(chaser.lookup(name("a.test."), RecordType::A));
        let (mut first, mut second) = (ask(), ask());
        assert!(futures::poll!(&mut first).is_pending());
        assert!(futures::poll!(&mut second).is_pending());
        assert_eq!(chaser.in_flight(), 1, "two askers of one question share one lookup");
        // Dropped unanswered, as when a domain's time budget runs out.
        drop(first);
        assert_eq!(chaser.in_flight(), 1, "the second asker still waits");
        drop(second);
        assert_eq!(chaser.in_flight(), 0, "a lookup nobody waits for stayed in the map");
    }

    #[test]
    fn records_of_another_name_are_a_failure_not_an_empty_answer() {
        let hop = [a("elsewhere.test.")];
        let Step::Fail(why) = follow(&hop, &mut vec![name("asked.test.")], RecordType::A) else {
            panic!("a foreign owner must fail");
        };
        assert!(why.contains("(elsewhere.test A)"), "{why}");
        assert!(why.contains("none owned by asked.test"), "{why}");
    }
}
