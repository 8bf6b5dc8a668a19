//! DNSSEC: the chain of trust of the domain's zone and of the zone of each
//! MX host, and the algorithms and parameters those zones are signed with.
//!
//! Pure over a [`DnsView`]. For the domain and each MX host it walks `SOA`
//! queries up the labels to find the zone apex, then reads the apex's
//! `DNSKEY`, `DS` (answered from the parent side of the cut) and
//! `NSEC3PARAM`. An MX host that is a CNAME belongs to its parent's zone
//! (a CNAME is not a zone cut, so its owner is never taken for an apex);
//! the zone of its target is judged too. Two kinds of rule come out:
//!
//! - **proof-based** (`dnssec.chain`, `dnssec.island`, `dnssec.bogus`,
//!   and `dnssec.bogus-rrset` for one RRset senders need, in `rrsets`):
//!   they need answers validated from a trust anchor, and are
//!   not-applicable otherwise (zone files, `--no-dnssec`);
//! - **data-based** (`dnssec.ds-mismatch`, `dnssec.signature-expiry`,
//!   `dnssec.algorithm`, `dnssec.ds-digest`, `dnssec.rsa-key-size`,
//!   `dnssec.nsec3-parameters`, `dnssec.lookup-failed`): they read the
//!   records themselves, so they also run on zone files.
//!
//! Could not look is never absent: a timeout, SERVFAIL or budget running
//! out makes a rule indeterminate, never "unsigned" and never "bogus".

mod keys;
mod rrsets;

use std::collections::BTreeMap;

use mailwarden_model::{Answer, DnsView, Finding, Outcome, Proof, RData, RType, Severity, Signature, Status};

use crate::Context;
pub use keys::{Dnskey, Ds, Match, Nsec3Param, base64_decode, hex_decode, key_tag, owner_wire, rsa_modulus_bits};
use keys::{algorithm_name, digest_name};

/// Signatures expiring sooner than this fail `dnssec.signature-expiry`.
pub const EXPIRY_WARNING_SECONDS: i64 = 3 * 86_400;

/// Judge the DNSSEC deployment of `ctx.domain` and of its MX hosts' zones.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<Finding> {
    let domain = ctx.domain;
    let mut subjects = vec![domain.to_string()];
    let mx = view.get(domain, RType::Mx);
    if mx.status == Status::Records {
        for rd in &mx.records {
            if let RData::Mx { exchange, .. } = rd {
                let host = mailwarden_model::name::normalise(exchange);
                if !host.is_empty() && host.parse::<std::net::IpAddr>().is_err() && !subjects.contains(&host) {
                    subjects.push(host);
                }
            }
        }
    }

    let mx_hosts = subjects[1..].to_vec();
    // A name that is a CNAME lives in its parent's zone (a CNAME is not a
    // zone cut); the zone of its target is judged as well, as the one
    // senders' answers for the MX host come from.
    for host in &mx_hosts {
        let target = view.get(host, RType::Soa).cname_chain.last();
        if let Some(target) = target.filter(|t| !subjects.contains(t)) {
            subjects.push(target.clone());
        }
    }

    let mut zones: BTreeMap<String, (Apex<'_>, Vec<String>)> = BTreeMap::new();
    let mut out = Vec::new();
    for subject in subjects {
        match find_apex(view, &subject) {
            Ok(apex) => {
                zones
                    .entry(apex.name.clone())
                    .or_insert_with(|| (apex, Vec::new()))
                    .1
                    .push(subject);
            }
            Err(failure) => out.extend(apex_failure(&subject, &failure)),
        }
    }
    let mut bogus_zones = Vec::new();
    for (apex, names) in zones.values() {
        let zone = Zone::read(ctx, view, apex, names);
        if matches!(zone.chain(), Chain::Bogus(_)) {
            bogus_zones.push(zone.apex.clone());
        }
        out.extend(zone.judge());
    }
    out.push(rrsets::judge(ctx, view, &mx_hosts, &bogus_zones));
    out
}

/// Where a name's zone starts, and how we know.
#[derive(Debug, Clone)]
struct Apex<'a> {
    name: String,
    soa: &'a Answer,
    /// The walk met bogus answers: `name` is the highest name that gave
    /// one below the first name with a valid SOA.
    bogus: bool,
}

/// Why a name's zone could not be found.
struct ApexFailure<'a> {
    /// The name whose SOA lookup failed.
    name: String,
    answer: &'a Answer,
}

/// RFC 1034 §4.2: "each zone has exactly one SOA record at its top".
/// Walk up from `name` asking for SOA: the first name that answers with an
/// SOA of its own (not through a CNAME) is the apex. Bogus answers on the
/// way are remembered: the highest name that gave one is the apex of a
/// zone that does not validate (its parent answered fine).
fn find_apex<'a>(view: &DnsView<'a>, name: &str) -> Result<Apex<'a>, ApexFailure<'a>> {
    let mut candidate = name.to_string();
    let mut last_bogus: Option<(String, &'a Answer)> = None;
    loop {
        let answer = view.get(&candidate, RType::Soa);
        match &answer.status {
            Status::Records if answer.cname_chain.is_empty() => {
                return Ok(match last_bogus {
                    Some((bogus, soa)) => Apex {
                        name: bogus,
                        soa,
                        bogus: true,
                    },
                    None => Apex {
                        name: candidate,
                        soa: answer,
                        bogus: false,
                    },
                });
            }
            Status::Records | Status::NoData | Status::NxDomain => {}
            Status::Bogus(_) => last_bogus = Some((candidate.clone(), answer)),
            _ => {
                return Err(ApexFailure {
                    name: candidate,
                    answer,
                });
            }
        }
        match candidate.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => candidate = parent.to_string(),
            _ => {
                return match last_bogus {
                    Some((bogus, soa)) => Ok(Apex {
                        name: bogus,
                        soa,
                        bogus: true,
                    }),
                    None => Err(ApexFailure {
                        name: name.to_string(),
                        answer,
                    }),
                };
            }
        }
    }
}

/// The zone of `subject` could not be found: every rule about it is
/// indeterminate, and a server failure is reported as such.
fn apex_failure(subject: &str, failure: &ApexFailure<'_>) -> Vec<Finding> {
    let why = if failure.answer.status.is_definite() {
        format!("no SOA record was found at {} or above it", failure.name)
    } else {
        format!(
            "the SOA lookup for {} failed: {}",
            failure.name,
            failure.answer.status.describe()
        )
    };
    let lookup = lookup_failed_finding(subject, &[(format!("{}/SOA", failure.name), failure.answer)]);
    vec![
        lookup,
        Finding::new(
            "dnssec.chain",
            Outcome::Indeterminate,
            subject,
            format!("Could not find the zone of {subject}: {why}."),
        )
        .evidence("status", failure.answer.status.describe()),
    ]
}

/// The chain-of-trust verdict of a zone (RFC 4035 §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Chain {
    Secure,
    /// Provably unsigned: no DNSKEY, no DS.
    Unsigned,
    /// Signed (DNSKEY present) but no DS at the parent.
    Island,
    Bogus(String),
    Indeterminate(String),
}

impl Chain {
    fn label(&self) -> &'static str {
        match self {
            Chain::Secure => "secure",
            Chain::Unsigned | Chain::Island => "insecure",
            Chain::Bogus(_) => "bogus",
            Chain::Indeterminate(_) => "indeterminate",
        }
    }
}

/// Everything the evidence says about one zone.
struct Zone<'a> {
    apex: String,
    /// The domain and MX hosts that live in this zone.
    names: Vec<String>,
    validated: bool,
    now: i64,
    soa: &'a Answer,
    dnskey: &'a Answer,
    ds: &'a Answer,
    nsec3param: &'a Answer,
    keys: Vec<Dnskey>,
    ds_records: Vec<Ds>,
    /// DNSKEY and DS records that did not parse, "`text`: why": kept so a
    /// rule that needs every key says it could not read one, rather than
    /// judging the keys it could read as if they were all.
    unparsed_keys: Vec<String>,
    unparsed_ds: Vec<String>,
    signatures: Vec<Signature>,
    walk_met_bogus: bool,
}

impl<'a> Zone<'a> {
    fn read(ctx: &Context<'_>, view: &DnsView<'a>, apex: &Apex<'a>, names: &[String]) -> Self {
        let name = apex.name.as_str();
        let dnskey = view.get(name, RType::Dnskey);
        let ds = view.get(name, RType::Ds);
        let nsec3param = view.get(name, RType::Nsec3param);
        let keys = dnskey
            .records
            .iter()
            .filter_map(|rd| match rd {
                RData::Dnskey(key) => Some(Dnskey::from_rdata(key)),
                _ => None,
            })
            .collect();
        let ds_records = ds
            .records
            .iter()
            .filter_map(|rd| match rd {
                RData::Ds(ds) => Some(Ds::from_rdata(ds)),
                _ => None,
            })
            .collect();
        // The zone's own signatures: over its SOA, DNSKEY and NSEC3PARAM,
        // and over the MX RRset when the domain is in this zone. The DS
        // RRset is signed by the parent, so it is left out.
        let mut answers = vec![apex.soa, dnskey, nsec3param];
        if names.iter().any(|n| n == ctx.domain) {
            answers.push(view.get(ctx.domain, RType::Mx));
        }
        let mut signatures: Vec<Signature> = answers
            .iter()
            .flat_map(|a| a.signatures.iter())
            .filter(|s| s.signer == name)
            .cloned()
            .collect();
        signatures.sort();
        signatures.dedup();
        Self {
            apex: name.to_string(),
            names: names.to_vec(),
            validated: ctx.source.dnssec_validation,
            now: ctx.now,
            soa: apex.soa,
            dnskey,
            ds,
            nsec3param,
            keys,
            ds_records,
            unparsed_keys: unparsed(dnskey),
            unparsed_ds: unparsed(ds),
            signatures,
            walk_met_bogus: apex.bogus,
        }
    }

    fn judge(&self) -> Vec<Finding> {
        let chain = self.chain();
        vec![
            self.judge_chain(&chain),
            self.judge_island(&chain),
            self.judge_bogus(&chain),
            self.judge_ds_mismatch(),
            self.judge_signature_expiry(),
            self.judge_algorithm(),
            self.judge_ds_digest(),
            self.judge_rsa_key_size(),
            self.judge_nsec3_parameters(),
            self.judge_lookup_failed(),
        ]
    }

    fn finding(&self, id: &str, outcome: Outcome, message: impl Into<String>) -> Finding {
        Finding::new(id, outcome, &self.apex, message).evidence("zone_of", &self.names)
    }

    /// RFC 4035 §4.3: Secure, Insecure, Bogus or Indeterminate, read from
    /// the proofs of the apex SOA, DNSKEY and DS answers.
    fn chain(&self) -> Chain {
        let parts = [("SOA", self.soa), ("DNSKEY", self.dnskey), ("DS", self.ds)];
        if let Some((what, answer)) = parts
            .iter()
            .find(|(_, a)| matches!(a.status, Status::Bogus(_)) || a.proof == Proof::Bogus)
        {
            let why = match &answer.status {
                Status::Bogus(why) => why.clone(),
                _ => "a record does not validate".into(),
            };
            return Chain::Bogus(format!("{what} at {}: {why}", self.apex));
        }
        if self.walk_met_bogus {
            return Chain::Bogus(format!("answers under {} do not validate", self.apex));
        }
        if let Some((what, answer)) = parts.iter().find(|(_, a)| !a.status.is_definite()) {
            return Chain::Indeterminate(format!(
                "the {what} lookup for {} failed: {}",
                self.apex,
                answer.status.describe()
            ));
        }
        match self.soa.proof {
            Proof::Secure => Chain::Secure,
            Proof::Insecure if self.dnskey.status == Status::Records => Chain::Island,
            Proof::Insecure => Chain::Unsigned,
            Proof::Indeterminate | Proof::NotValidated | Proof::Bogus => {
                Chain::Indeterminate(format!("the SOA of {} could not be validated", self.apex))
            }
        }
    }

    fn proof_evidence(&self, f: Finding) -> Finding {
        let f = f
            .evidence("soa_proof", self.soa.proof)
            .evidence("dnskey_proof", self.dnskey.proof)
            .evidence("ds_proof", self.ds.proof)
            .evidence("dnskey", self.keys.iter().map(|k| &k.text).collect::<Vec<_>>())
            .evidence("ds", self.ds_records.iter().map(|d| &d.text).collect::<Vec<_>>());
        self.unparsed_evidence(f)
    }

    /// The records that did not parse, when there are any.
    fn unparsed_evidence(&self, mut f: Finding) -> Finding {
        if !self.unparsed_keys.is_empty() {
            f = f.evidence("dnskey_unparsed", &self.unparsed_keys);
        }
        if !self.unparsed_ds.is_empty() {
            f = f.evidence("ds_unparsed", &self.unparsed_ds);
        }
        f
    }

    /// The DS records to publish at the parent: one SHA-256 DS per secure
    /// entry point key (or per zone key when none is marked SEP).
    fn ds_to_publish(&self) -> Vec<String> {
        let usable: Vec<&Dnskey> = self
            .keys
            .iter()
            .filter(|k| k.is_zone_key() && !k.is_revoked() && k.protocol == 3)
            .collect();
        let sep: Vec<&Dnskey> = usable.iter().copied().filter(|k| k.is_sep()).collect();
        let chosen = if sep.is_empty() { usable } else { sep };
        chosen
            .iter()
            .map(|k| format!("{}. IN DS {}", self.apex, k.ds_text(&self.apex)))
            .collect()
    }

    fn not_validated(&self, id: &str) -> Finding {
        self.finding(
            id,
            Outcome::NotApplicable,
            "DNSSEC was not validated in this scan (zone-file input or validation off).",
        )
    }

    /// RFC 4035 §4.3: "Secure: An RRset for which the resolver is able to
    /// build a chain of signed DNSKEY and DS RRs from a trusted security
    /// anchor to the RRset." The same section names the other outcomes.
    fn judge_chain(&self, chain: &Chain) -> Finding {
        const ID: &str = "dnssec.chain";
        if !self.validated {
            return self.not_validated(ID);
        }
        let f = match chain {
            Chain::Secure => self.finding(
                ID,
                Outcome::Pass,
                format!("{} is DNSSEC-secure: a chain of trust leads from the root to it.", self.apex),
            ),
            Chain::Unsigned => self
                .finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "{} is not signed (DNSSEC insecure): its records, MX and SPF included, can be forged in transit, and DANE cannot protect its mail.",
                        self.apex
                    ),
                )
                .remediation(format!(
                    "Sign the zone {} (for example with algorithm 13, ECDSAP256SHA256, and NSEC or NSEC3 with 0 iterations and no salt), then publish its DS record at the parent zone through the registrar.",
                    self.apex
                )),
            Chain::Island => self.finding(
                ID,
                Outcome::Fail,
                format!(
                    "{} is signed but has no DS record at its parent (an island of security): validating resolvers treat it as unsigned.",
                    self.apex
                ),
            ),
            Chain::Bogus(why) => self
                .finding(
                    ID,
                    Outcome::Fail,
                    format!("The chain of trust to {} is broken (bogus): {why}.", self.apex),
                )
                .severity(Severity::Critical),
            Chain::Indeterminate(why) => self.finding(
                ID,
                Outcome::Indeterminate,
                format!("The DNSSEC status of {} could not be determined: {why}.", self.apex),
            ),
        };
        self.proof_evidence(f.evidence("status", chain.label()))
    }

    /// RFC 4033 §2: "Island of Security: Term used to describe a signed,
    /// delegated zone that does not have an authentication chain from its
    /// delegating parent. That is, there is no DS RR containing a hash of
    /// a DNSKEY RR for the island in its delegating parent zone".
    fn judge_island(&self, chain: &Chain) -> Finding {
        const ID: &str = "dnssec.island";
        if !self.validated {
            return self.not_validated(ID);
        }
        match chain {
            Chain::Island => {
                let publish = self.ds_to_publish();
                self.proof_evidence(self.finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "{} publishes DNSKEY records but its parent has no DS record for it: the signatures protect nobody.",
                        self.apex
                    ),
                ))
                .evidence("ds_to_publish", &publish)
                .remediation(format!(
                    "Publish at the parent zone, through the registrar: {}",
                    join_or(&publish, "a DS record for the zone's key-signing key")
                ))
            }
            Chain::Secure => self.finding(
                ID,
                Outcome::Pass,
                format!("The parent of {} publishes its DS.", self.apex),
            ),
            Chain::Unsigned => self.finding(
                ID,
                Outcome::NotApplicable,
                format!("{} is not signed (no DNSKEY).", self.apex),
            ),
            Chain::Bogus(_) => self.finding(
                ID,
                Outcome::NotApplicable,
                format!("{} does not validate; see dnssec.bogus.", self.apex),
            ),
            Chain::Indeterminate(why) => self.finding(ID, Outcome::Indeterminate, format!("{why}.")),
        }
    }

    /// RFC 4035 §4.3: "Bogus: An RRset for which the resolver believes
    /// that it ought to be able to establish a chain of trust but for which
    /// it is unable to do so". Validating resolvers answer SERVFAIL for
    /// such data, so mail to the domain or its MX hosts is not delivered.
    fn judge_bogus(&self, chain: &Chain) -> Finding {
        const ID: &str = "dnssec.bogus";
        if !self.validated {
            return self.not_validated(ID);
        }
        match chain {
            Chain::Bogus(why) => {
                let mut f = self.proof_evidence(self.finding(
                    ID,
                    Outcome::Fail,
                    format!(
                        "{} does not validate (bogus): {why}. Validating resolvers answer SERVFAIL for it, so senders that validate cannot deliver mail.",
                        self.apex
                    ),
                ));
                f = f.evidence("signatures", &self.signatures);
                f.remediation(self.bogus_remediation())
            }
            Chain::Indeterminate(why) => self.finding(ID, Outcome::Indeterminate, format!("{why}.")),
            _ => self.finding(
                ID,
                Outcome::Pass,
                format!("{} validates ({}).", self.apex, chain.label()),
            ),
        }
    }

    /// What most likely broke the chain, as far as the evidence shows.
    fn bogus_remediation(&self) -> String {
        let unmatched: Vec<&Ds> = self
            .ds_records
            .iter()
            .filter(|ds| !self.keys.iter().any(|k| ds.matches(&self.apex, k) != Match::No))
            .collect();
        if !self.keys.is_empty() && !unmatched.is_empty() {
            return format!(
                "The DS at the parent matches no DNSKEY of {}: replace it with {}.",
                self.apex,
                join_or(&self.ds_to_publish(), "the DS of the current key-signing key")
            );
        }
        if self.signatures.iter().any(|s| self.remaining(s) < 0) {
            return format!(
                "Signatures of {} have expired: re-sign the zone now and check that the signer re-signs automatically.",
                self.apex
            );
        }
        format!(
            "Find the broken link with a DNSSEC debugger (e.g. `delv {} SOA +rtrace` or DNSViz): check that the DS at the parent matches a published DNSKEY, that signatures are current, and that every RRset is signed. If the zone cannot be fixed quickly, remove the DS at the parent so the zone becomes insecure rather than unreachable.",
            self.apex
        )
    }

    /// RFC 4034 §5: "The DS RR refers to a DNSKEY RR by storing the key
    /// tag, algorithm number, and a digest of the DNSKEY RR"; §5.1.4:
    /// "digest = digest_algorithm( DNSKEY owner name | DNSKEY RDATA)".
    fn judge_ds_mismatch(&self) -> Finding {
        const ID: &str = "dnssec.ds-mismatch";
        if !self.ds.status.is_definite() && self.ds_records.is_empty() {
            return self.finding(
                ID,
                Outcome::Indeterminate,
                format!(
                    "Could not read the DS records of {}: {}",
                    self.apex,
                    self.ds.status.describe()
                ),
            );
        }
        if self.ds_records.is_empty() && !self.unparsed_ds.is_empty() {
            let f = self.finding(
                ID,
                Outcome::Indeterminate,
                format!(
                    "Could not read the DS records of {}: {}",
                    self.apex,
                    self.unparsed_ds.join("; ")
                ),
            );
            return self.unparsed_evidence(f);
        }
        if self.ds_records.is_empty() {
            return self.finding(
                ID,
                Outcome::NotApplicable,
                format!("The parent publishes no DS for {}.", self.apex),
            );
        }
        if let Some(f) = self.keys_unreadable(ID).filter(|_| !self.unparsed_keys.is_empty()) {
            return f;
        }
        if self.keys.is_empty() && self.dnskey.status != Status::NoData && self.dnskey.status != Status::NxDomain {
            return self.finding(
                ID,
                Outcome::Indeterminate,
                format!(
                    "Could not read the DNSKEY records of {}: {}",
                    self.apex,
                    self.dnskey.status.describe()
                ),
            );
        }
        let mut matched = Vec::new();
        let mut unverifiable = Vec::new();
        let mut unmatched = Vec::new();
        for ds in &self.ds_records {
            let best = self
                .keys
                .iter()
                .map(|k| ds.matches(&self.apex, k))
                .min_by_key(|m| match m {
                    Match::Yes => 0,
                    Match::Unverifiable => 1,
                    Match::No => 2,
                })
                .unwrap_or(Match::No);
            match best {
                Match::Yes => matched.push(ds.text.clone()),
                Match::Unverifiable => unverifiable.push(ds.text.clone()),
                Match::No => unmatched.push(ds.text.clone()),
            }
        }
        let evidence = |f: Finding| {
            self.proof_evidence(f)
                .evidence("ds_matched", &matched)
                .evidence("ds_unmatched", &unmatched)
                .evidence("ds_unverifiable", &unverifiable)
        };
        if !unmatched.is_empty() && !self.unparsed_keys.is_empty() {
            // The DS may be of the key that could not be read: not a
            // broken chain until that key is read.
            return evidence(self.finding(
                ID,
                Outcome::Indeterminate,
                format!(
                    "{} of the DS records for {} match none of the DNSKEY records that could be read, and {} could not be read: {}.",
                    unmatched.len(),
                    self.apex,
                    self.unparsed_keys.len(),
                    self.unparsed_keys.join("; ")
                ),
            ));
        }
        if unmatched.is_empty() {
            let note = if unverifiable.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} with a digest type mailwarden cannot compute, matched by key tag and algorithm only)",
                    unverifiable.len()
                )
            };
            return evidence(self.finding(
                ID,
                Outcome::Pass,
                format!("Every DS record for {} matches a published DNSKEY{note}.", self.apex),
            ));
        }
        let publish = self.ds_to_publish();
        let all = matched.is_empty() && unverifiable.is_empty();
        let message = if self.keys.is_empty() {
            format!(
                "The parent publishes DS records for {} but the zone has no DNSKEY: the chain of trust is broken.",
                self.apex
            )
        } else if all {
            format!(
                "No DS record for {} matches any of its DNSKEY records (tags {}): the chain of trust is broken.",
                self.apex,
                self.keys
                    .iter()
                    .map(|k| k.key_tag.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        } else {
            format!(
                "{} of the DS records for {} match no DNSKEY (a stale DS left from a key rollover?): {}.",
                unmatched.len(),
                self.apex,
                unmatched.join("; ")
            )
        };
        let remediation = if publish.is_empty() {
            format!(
                "Remove the DS records for {} at the parent (through the registrar), or publish the DNSKEY they refer to.",
                self.apex
            )
        } else {
            format!(
                "At the parent (through the registrar), remove DS {} and publish: {}",
                unmatched.join("; "),
                publish.join("; ")
            )
        };
        let f = evidence(self.finding(ID, Outcome::Fail, message))
            .evidence("ds_to_publish", &publish)
            .remediation(remediation);
        if all { f.severity(Severity::Critical) } else { f }
    }

    /// Seconds from now until the signature expires (negative: expired),
    /// in RFC 1982 serial arithmetic as RFC 4034 §3.1.5 requires.
    fn remaining(&self, s: &Signature) -> i64 {
        i64::from(s.expiration.wrapping_sub(self.now as u32) as i32)
    }

    /// RFC 4035 §5.3.1: "The validator's notion of the current time MUST
    /// be less than or equal to the time listed in the RRSIG RR's
    /// Expiration field." and "The validator's notion of the current time
    /// MUST be greater than or equal to the time listed in the RRSIG RR's
    /// Inception field." Signatures that expire within three days are a
    /// re-signing process about to fail.
    fn judge_signature_expiry(&self) -> Finding {
        const ID: &str = "dnssec.signature-expiry";
        if self.signatures.is_empty() {
            let outcome = if [self.soa, self.dnskey].iter().all(|a| a.status.is_definite()) {
                Outcome::NotApplicable
            } else {
                Outcome::Indeterminate
            };
            return self.finding(
                ID,
                outcome,
                format!(
                    "No signatures of {} are in the evidence (unsigned, or not recorded).",
                    self.apex
                ),
            );
        }
        let describe = |s: &Signature| {
            format!(
                "RRSIG {} {} {} (signer {}, inception {}, expiration {})",
                type_name(s.type_covered),
                s.algorithm,
                s.key_tag,
                s.signer,
                timestamp(s.inception),
                timestamp(s.expiration)
            )
        };
        let now32 = self.now as u32;
        let expired: Vec<String> = self
            .signatures
            .iter()
            .filter(|s| self.remaining(s) < 0)
            .map(describe)
            .collect();
        let early: Vec<String> = self
            .signatures
            .iter()
            .filter(|s| (now32.wrapping_sub(s.inception) as i32) < 0)
            .map(describe)
            .collect();
        let soon: Vec<String> = self
            .signatures
            .iter()
            .filter(|s| (0..EXPIRY_WARNING_SECONDS).contains(&self.remaining(s)))
            .map(describe)
            .collect();
        let first = self
            .signatures
            .iter()
            .map(|s| self.remaining(s))
            .min()
            .unwrap_or_default();
        let f = self
            .finding(ID, Outcome::Pass, String::new())
            .evidence("signatures", &self.signatures)
            .evidence("now", timestamp(self.now as u32));
        if !expired.is_empty() {
            return Finding {
                outcome: Outcome::Fail,
                message: format!("Signatures of {} have expired: {}.", self.apex, expired.join("; ")),
                ..f
            }
            .evidence("expired", &expired)
            .severity(Severity::Critical)
            .remediation(format!(
                "Re-sign {} now; validating resolvers already reject these records. Then find out why automatic re-signing stopped (signer down, expired key files, a hidden primary not transferring).",
                self.apex
            ));
        }
        if !early.is_empty() {
            return Finding {
                outcome: Outcome::Fail,
                message: format!("Signatures of {} are not valid yet: {}.", self.apex, early.join("; ")),
                ..f
            }
            .evidence("not_yet_valid", &early)
            .severity(Severity::Critical)
            .remediation(format!(
                "Check the signer's clock and re-sign {} with an inception time in the past (signers usually backdate it by an hour).",
                self.apex
            ));
        }
        if !soon.is_empty() {
            return Finding {
                outcome: Outcome::Fail,
                message: format!(
                    "Signatures of {} expire within {} days: {}.",
                    self.apex,
                    EXPIRY_WARNING_SECONDS / 86_400,
                    soon.join("; ")
                ),
                ..f
            }
            .evidence("expiring", &soon)
            .remediation(format!(
                "Re-sign {} before the signatures expire, and check that the signer re-signs automatically well ahead of expiry (a refresh period of at least a week).",
                self.apex
            ));
        }
        Finding {
            message: format!(
                "Every signature of {} in the evidence is valid for at least {} more days.",
                self.apex,
                first / 86_400
            ),
            ..f
        }
    }

    /// A verdict over the keys that could be read holds for all keys only
    /// when every DNSKEY record could be read: otherwise indeterminate,
    /// with the records that could not.
    fn unless_keys_unread(&self, f: Finding) -> Finding {
        if self.unparsed_keys.is_empty() {
            return f;
        }
        let message = format!(
            "{} But {} DNSKEY record(s) of {} could not be read: {}.",
            f.message,
            self.unparsed_keys.len(),
            self.apex,
            self.unparsed_keys.join("; ")
        );
        self.unparsed_evidence(Finding {
            outcome: Outcome::Indeterminate,
            message,
            ..f
        })
    }

    /// The DNSKEY answer could not be read; `None` when it could.
    fn keys_unreadable(&self, id: &str) -> Option<Finding> {
        if self.keys.is_empty() && !self.unparsed_keys.is_empty() {
            let f = self.finding(
                id,
                Outcome::Indeterminate,
                format!(
                    "Could not read the DNSKEY records of {}: {}",
                    self.apex,
                    self.unparsed_keys.join("; ")
                ),
            );
            return Some(self.unparsed_evidence(f));
        }
        if !self.keys.is_empty() || self.dnskey.status.is_negative() {
            return None;
        }
        Some(if self.dnskey.status.is_definite() {
            self.finding(
                id,
                Outcome::NotApplicable,
                format!("{} has no DNSKEY records.", self.apex),
            )
        } else {
            self.finding(
                id,
                Outcome::Indeterminate,
                format!(
                    "Could not read the DNSKEY records of {}: {}",
                    self.apex,
                    self.dnskey.status.describe()
                ),
            )
        })
    }

    /// RFC 8624 §3.1, the "DNSSEC Signing" column: RSAMD5 "MUST NOT", DSA
    /// "MUST NOT", RSASHA1 "NOT RECOMMENDED", DSA-NSEC3-SHA1 "MUST NOT",
    /// RSASHA1-NSEC3-SHA1 "NOT RECOMMENDED", RSASHA512 "NOT RECOMMENDED",
    /// ECC-GOST "MUST NOT"; "RSAMD5 is an implementation MUST NOT" and
    /// "zones deploying it are recommended to switch to ECDSAP256SHA256".
    fn judge_algorithm(&self) -> Finding {
        const ID: &str = "dnssec.algorithm";
        if let Some(f) = self.keys_unreadable(ID) {
            return f;
        }
        if self.keys.is_empty() {
            return self.finding(
                ID,
                Outcome::NotApplicable,
                format!("{} has no DNSKEY records.", self.apex),
            );
        }
        let mut used: Vec<u8> = self
            .keys
            .iter()
            .map(|k| k.algorithm)
            .chain(self.signatures.iter().map(|s| s.algorithm))
            .collect();
        used.sort_unstable();
        used.dedup();
        let mut must_not = Vec::new();
        let mut not_recommended = Vec::new();
        for &alg in &used {
            match signing_status(alg) {
                SigningStatus::MustNot => must_not.push(format!("{alg} ({})", algorithm_name(alg))),
                SigningStatus::NotRecommended => not_recommended.push(format!("{alg} ({})", algorithm_name(alg))),
                SigningStatus::Fine => {}
            }
        }
        let names: Vec<String> = used.iter().map(|a| format!("{a} ({})", algorithm_name(*a))).collect();
        let f = self
            .finding(ID, Outcome::Pass, String::new())
            .evidence("algorithms", &names);
        if must_not.is_empty() && not_recommended.is_empty() {
            return self.unless_keys_unread(Finding {
                message: format!("{} is signed with {}.", self.apex, names.join(", ")),
                ..f
            });
        }
        let mut parts = Vec::new();
        if !must_not.is_empty() {
            parts.push(format!(
                "{} (RFC 8624: MUST NOT be used for signing)",
                must_not.join(", ")
            ));
        }
        if !not_recommended.is_empty() {
            parts.push(format!(
                "{} (RFC 8624: NOT RECOMMENDED for signing)",
                not_recommended.join(", ")
            ));
        }
        let f = Finding {
            outcome: Outcome::Fail,
            message: format!("{} is signed with deprecated algorithms: {}.", self.apex, parts.join("; ")),
            ..f
        }
        .evidence("dnskey", self.keys.iter().map(|k| &k.text).collect::<Vec<_>>())
        .remediation(format!(
            "Roll {} to algorithm 13 (ECDSAP256SHA256) or 15 (ED25519): re-sign with the new keys, publish the new DS at the parent, then remove the old keys and DS (RFC 6781 §4.1.4, algorithm rollover).",
            self.apex
        ));
        if must_not.is_empty() {
            f
        } else {
            f.severity(Severity::High)
        }
    }

    /// RFC 8624 §3.3: SHA-1 "MUST NOT be used to generate new DS Digests";
    /// the "DNSSEC Delegation" column lists NULL (0) "MUST NOT", SHA-1 (1)
    /// "MUST NOT", SHA-256 (2) "MUST", GOST R 34.11-94 (3) "MUST NOT",
    /// SHA-384 (4) "MAY".
    fn judge_ds_digest(&self) -> Finding {
        const ID: &str = "dnssec.ds-digest";
        if self.ds_records.is_empty() {
            return if self.ds.status.is_definite() {
                self.finding(
                    ID,
                    Outcome::NotApplicable,
                    format!("The parent publishes no DS for {}.", self.apex),
                )
            } else {
                self.finding(
                    ID,
                    Outcome::Indeterminate,
                    format!(
                        "Could not read the DS records of {}: {}",
                        self.apex,
                        self.ds.status.describe()
                    ),
                )
            };
        }
        let bad: Vec<&Ds> = self
            .ds_records
            .iter()
            .filter(|ds| matches!(ds.digest_type, 0 | 1 | 3))
            .collect();
        let types: Vec<String> = self.ds_records.iter().map(|d| digest_name(d.digest_type)).collect();
        if bad.is_empty() {
            return self
                .finding(
                    ID,
                    Outcome::Pass,
                    format!("The DS records for {} use {}.", self.apex, types.join(", ")),
                )
                .evidence("ds", self.ds_records.iter().map(|d| &d.text).collect::<Vec<_>>());
        }
        let replacements: Vec<String> = bad
            .iter()
            .filter_map(|ds| {
                self.keys
                    .iter()
                    .find(|k| ds.matches(&self.apex, k) != Match::No)
                    .map(|k| format!("{}. IN DS {}", self.apex, k.ds_text(&self.apex)))
            })
            .collect();
        let listed: Vec<String> = bad
            .iter()
            .map(|d| format!("{} ({})", d.text, digest_name(d.digest_type)))
            .collect();
        self.finding(
            ID,
            Outcome::Fail,
            format!(
                "DS records for {} use a digest that must not be used: {}.",
                self.apex,
                listed.join("; ")
            ),
        )
        .evidence("ds", self.ds_records.iter().map(|d| &d.text).collect::<Vec<_>>())
        .evidence("ds_to_publish", &replacements)
        .remediation(format!(
            "At the parent (through the registrar), replace these DS records with SHA-256 (digest type 2) ones{}.",
            if replacements.is_empty() {
                String::new()
            } else {
                format!(": {}", replacements.join("; "))
            }
        ))
    }

    /// RSA keys below 2048 bits: NIST SP 800-57 Part 1 Rev. 5 §5.6.1.1
    /// gives 1024-bit RSA under 112 bits of security, and NIST SP 800-131A
    /// Rev. 2 §3 disallows it for signature generation; RFC 3110 §2 gives
    /// the key format ("exponent length (1 or 3 octets), exponent,
    /// modulus").
    fn judge_rsa_key_size(&self) -> Finding {
        const ID: &str = "dnssec.rsa-key-size";
        if let Some(f) = self.keys_unreadable(ID) {
            return f;
        }
        let rsa: Vec<(&Dnskey, Option<usize>)> = self
            .keys
            .iter()
            .filter(|k| keys::is_rsa(k.algorithm))
            .map(|k| (k, k.rsa_bits()))
            .collect();
        if rsa.is_empty() {
            let f = self.finding(ID, Outcome::NotApplicable, format!("{} has no RSA keys.", self.apex));
            return self.unless_keys_unread(f);
        }
        let sizes: Vec<String> = rsa
            .iter()
            .map(|(k, bits)| match bits {
                Some(bits) => format!("key {} ({}): {bits} bits", k.key_tag, algorithm_name(k.algorithm)),
                None => format!("key {} ({}): malformed", k.key_tag, algorithm_name(k.algorithm)),
            })
            .collect();
        let weak: Vec<&String> = rsa
            .iter()
            .zip(&sizes)
            .filter(|((_, bits), _)| bits.is_none_or(|b| b < 2048))
            .map(|(_, s)| s)
            .collect();
        let f = self
            .finding(ID, Outcome::Pass, String::new())
            .evidence("rsa_keys", &sizes);
        if weak.is_empty() {
            return self.unless_keys_unread(Finding {
                message: format!("Every RSA key of {} has at least 2048 bits.", self.apex),
                ..f
            });
        }
        Finding {
            outcome: Outcome::Fail,
            message: format!(
                "{} has RSA keys shorter than 2048 bits: {}.",
                self.apex,
                weak.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("; ")
            ),
            ..f
        }
        .remediation(format!(
            "Roll the short keys of {} to 2048-bit RSA (RSASHA256), or better to algorithm 13 (ECDSAP256SHA256), and publish the new DS at the parent for a new key-signing key.",
            self.apex
        ))
    }

    /// RFC 9276 §3.1: "If NSEC3 must be used, then an iterations count of
    /// 0 MUST be used to alleviate computational burdens." and "Operators
    /// SHOULD NOT use a salt by indicating a zero-length salt value instead
    /// (represented as a "-" in the presentation format)."
    fn judge_nsec3_parameters(&self) -> Finding {
        const ID: &str = "dnssec.nsec3-parameters";
        let params: Vec<Nsec3Param> = self
            .nsec3param
            .records
            .iter()
            .filter_map(|rd| match rd {
                RData::Nsec3param(param) => Some(Nsec3Param::from_rdata(param)),
                _ => None,
            })
            .collect();
        let unreadable = unparsed(self.nsec3param);
        if params.is_empty() && !unreadable.is_empty() {
            return self
                .finding(
                    ID,
                    Outcome::Indeterminate,
                    format!(
                        "Could not read the NSEC3PARAM of {}: {}",
                        self.apex,
                        unreadable.join("; ")
                    ),
                )
                .evidence("nsec3param_unparsed", &unreadable);
        }
        if params.is_empty() {
            return if self.nsec3param.status.is_definite() {
                self.finding(
                    ID,
                    Outcome::NotApplicable,
                    format!("{} does not use NSEC3 (no NSEC3PARAM).", self.apex),
                )
            } else {
                self.finding(
                    ID,
                    Outcome::Indeterminate,
                    format!(
                        "Could not read the NSEC3PARAM of {}: {}",
                        self.apex,
                        self.nsec3param.status.describe()
                    ),
                )
            };
        }
        let texts: Vec<&str> = params.iter().map(|p| p.text.as_str()).collect();
        let mut problems = Vec::new();
        if let Some(p) = params.iter().find(|p| p.iterations > 0) {
            problems.push(format!("{} additional iterations (RFC 9276: MUST be 0)", p.iterations));
        }
        if let Some(p) = params.iter().find(|p| !p.salt.is_empty()) {
            problems.push(format!("the salt {} (RFC 9276: SHOULD be empty)", p.salt));
        }
        let f = self
            .finding(ID, Outcome::Pass, String::new())
            .evidence("nsec3param", &texts);
        if problems.is_empty() {
            return Finding {
                message: format!("{} uses NSEC3 with 0 iterations and no salt.", self.apex),
                ..f
            };
        }
        let flags = params.first().map_or(0, |p| p.flags);
        Finding {
            outcome: Outcome::Fail,
            message: format!("{} uses NSEC3 with {}.", self.apex, problems.join(" and ")),
            ..f
        }
        .remediation(format!(
            "Re-sign {} with NSEC3PARAM `1 {flags} 0 -` (0 iterations, empty salt), or switch to NSEC; resolvers may treat high iteration counts as insecure (RFC 9276 §3.2).",
            self.apex
        ))
    }

    /// The zone's key lookups could not be answered. A server failure that
    /// survives the checking-disabled re-query is not a DNSSEC verdict: it
    /// is reported here rather than as bogus.
    fn judge_lookup_failed(&self) -> Finding {
        let answers = [
            (format!("{}/SOA", self.apex), self.soa),
            (format!("{}/DNSKEY", self.apex), self.dnskey),
            (format!("{}/DS", self.apex), self.ds),
            (format!("{}/NSEC3PARAM", self.apex), self.nsec3param),
        ];
        lookup_failed_finding(&self.apex, &answers).evidence("zone_of", &self.names)
    }
}

/// `dnssec.lookup-failed` over some answers: indeterminate when a lookup
/// could not be completed (formerly: fail when a server answered
/// SERVFAIL, REFUSED or an error (it is unreachable or broken, and not
/// because of DNSSEC), indeterminate when we could not ask (timeout,
/// budget, not collected), pass when every lookup was answered.
fn lookup_failed_finding(subject: &str, answers: &[(String, &Answer)]) -> Finding {
    const ID: &str = "dnssec.lookup-failed";
    // Every failure to look is indeterminate: a SERVFAIL or REFUSED from the
    // resolver cannot be pinned on the domain (the resolver itself may be
    // refusing us); `ns.lame` asks the domain's own servers directly.
    let unanswered: Vec<String> = answers
        .iter()
        .filter(|(_, a)| !a.status.is_definite() && !matches!(a.status, Status::Bogus(_)))
        .map(|(q, a)| format!("{q}: {}", a.status.describe()))
        .collect();
    if !unanswered.is_empty() {
        return Finding::new(
            ID,
            Outcome::Indeterminate,
            subject,
            format!("Could not complete the DNSSEC lookups for {subject}: {}.", unanswered.join("; ")),
        )
        .evidence("unanswered", &unanswered)
        .remediation(format!(
            "If this persists, check that every name server of the zone of {subject} answers these queries (`dig +cd +dnssec @<server> {subject} SOA`); the nameserver checks (ns.lame) ask each server directly."
        ));
    }
    Finding::new(
        ID,
        Outcome::Pass,
        subject,
        format!("Every DNSSEC lookup for {subject} was answered."),
    )
}

/// The records of an answer that did not parse, as "`text`: why".
fn unparsed(answer: &Answer) -> Vec<String> {
    answer
        .records
        .iter()
        .filter_map(|rd| match rd {
            RData::Unparsed { text, error, .. } => Some(format!("`{text}`: {error}")),
            _ => None,
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SigningStatus {
    MustNot,
    NotRecommended,
    Fine,
}

/// RFC 8624 §3.1, "DNSSEC Signing" column.
fn signing_status(algorithm: u8) -> SigningStatus {
    match algorithm {
        1 | 3 | 6 | 12 => SigningStatus::MustNot,
        5 | 7 | 10 => SigningStatus::NotRecommended,
        _ => SigningStatus::Fine,
    }
}

fn type_name(code: u16) -> String {
    match code {
        46 => "RRSIG".into(),
        47 => "NSEC".into(),
        50 => "NSEC3".into(),
        _ => RType::from_code(code).map_or_else(|| format!("TYPE{code}"), |t| t.as_str().to_string()),
    }
}

/// RFC 4034 §3.2 presentation form of a signature time: YYYYMMDDHHmmSS.
fn timestamp(t: u32) -> String {
    let secs = i64::from(t);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn join_or(items: &[String], fallback: &str) -> String {
    if items.is_empty() {
        fallback.to_string()
    } else {
        items.join("; ")
    }
}

#[cfg(test)]
mod tests;
