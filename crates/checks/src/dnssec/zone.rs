//! One zone as the evidence shows it, and its chain-of-trust rules
//! (`dnssec.chain`, `dnssec.island`, `dnssec.bogus`, `dnssec.lookup-failed`);
//! the rules over its key material are in `material`.

mod material;

use mailwarden_model::{Answer, DnsView, Outcome, Proof, RData, RType, RawFinding, Severity, Signature, Status};

use super::{Apex, Dnskey, Ds, Match, join_or, lookup_failed_finding, unparsed};
use crate::Context;
use crate::rule;

/// The chain-of-trust verdict of a zone (RFC 4035 §4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Chain {
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
pub(super) struct Zone<'a> {
    pub(super) apex: String,
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
    pub(super) fn read(ctx: &Context<'_>, view: &DnsView<'a>, apex: &Apex<'a>, names: &[String]) -> Self {
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

    pub(super) fn judge(&self) -> Vec<RawFinding> {
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

    fn finding(&self, id: &str, outcome: Outcome, message: impl Into<String>) -> RawFinding {
        RawFinding::new(id, outcome, &self.apex, message).evidence("zone_of", &self.names)
    }

    /// RFC 4035 §4.3: Secure, Insecure, Bogus or Indeterminate, read from
    /// the proofs of the apex SOA, DNSKEY and DS answers.
    pub(super) fn chain(&self) -> Chain {
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

    fn proof_evidence(&self, f: RawFinding) -> RawFinding {
        let f = f
            .evidence("soa_proof", self.soa.proof)
            .evidence("dnskey_proof", self.dnskey.proof)
            .evidence("ds_proof", self.ds.proof)
            .evidence("dnskey", self.keys.iter().map(|k| &k.text).collect::<Vec<_>>())
            .evidence("ds", self.ds_records.iter().map(|d| &d.text).collect::<Vec<_>>());
        self.unparsed_evidence(f)
    }

    /// The records that did not parse, when there are any.
    fn unparsed_evidence(&self, mut f: RawFinding) -> RawFinding {
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

    fn not_validated(&self, id: &str) -> RawFinding {
        self.finding(
            id,
            Outcome::NotApplicable,
            "DNSSEC was not validated in this scan (zone-file input or validation off).",
        )
    }

    /// RFC 4035 §4.3: "Secure: An RRset for which the resolver is able to
    /// build a chain of signed DNSKEY and DS RRs from a trusted security
    /// anchor to the RRset." The same section names the other outcomes.
    fn judge_chain(&self, chain: &Chain) -> RawFinding {
        const ID: &str = rule::DNSSEC_CHAIN;
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
    fn judge_island(&self, chain: &Chain) -> RawFinding {
        const ID: &str = rule::DNSSEC_ISLAND;
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
    fn judge_bogus(&self, chain: &Chain) -> RawFinding {
        const ID: &str = rule::DNSSEC_BOGUS;
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

    /// A verdict over the keys that could be read holds for all keys only
    /// when every DNSKEY record could be read: otherwise indeterminate,
    /// with the records that could not.
    fn unless_keys_unread(&self, f: RawFinding) -> RawFinding {
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
        self.unparsed_evidence(RawFinding {
            outcome: Outcome::Indeterminate,
            message,
            ..f
        })
    }

    /// The DNSKEY answer could not be read; `None` when it could.
    fn keys_unreadable(&self, id: &str) -> Option<RawFinding> {
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

    /// The zone's key lookups could not be answered. A server failure that
    /// survives the checking-disabled re-query is not a DNSSEC verdict: it
    /// is reported here rather than as bogus.
    fn judge_lookup_failed(&self) -> RawFinding {
        let answers = [
            (format!("{}/SOA", self.apex), self.soa),
            (format!("{}/DNSKEY", self.apex), self.dnskey),
            (format!("{}/DS", self.apex), self.ds),
            (format!("{}/NSEC3PARAM", self.apex), self.nsec3param),
        ];
        lookup_failed_finding(&self.apex, &answers).evidence("zone_of", &self.names)
    }
}
