//! The rules over a zone's key material, read from its records rather
//! than from proofs, so they also run on zone files: `dnssec.ds-mismatch`,
//! `dnssec.signature-expiry`, `dnssec.algorithm`, `dnssec.ds-digest`,
//! `dnssec.rsa-key-size` and `dnssec.nsec3-parameters`.

use mailwarden_model::{Outcome, RData, RawFinding, Severity, Signature, Status};

use super::Zone;
use crate::dnssec::keys::{self, algorithm_name, digest_name};
use crate::dnssec::{
    Dnskey, Ds, EXPIRY_WARNING_SECONDS, Match, Nsec3Param, SigningStatus, signing_status, timestamp, type_name,
    unparsed,
};
use crate::rule;

impl Zone<'_> {
    /// RFC 4034 §5: "The DS RR refers to a DNSKEY RR by storing the key
    /// tag, algorithm number, and a digest of the DNSKEY RR"; §5.1.4:
    /// "digest = digest_algorithm( DNSKEY owner name | DNSKEY RDATA)".
    pub(super) fn judge_ds_mismatch(&self) -> RawFinding {
        const ID: &str = rule::DNSSEC_DS_MISMATCH;
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
        let evidence = |f: RawFinding| {
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
    pub(super) fn remaining(&self, s: &Signature) -> i64 {
        i64::from(s.expiration.wrapping_sub(self.now as u32) as i32)
    }

    /// RFC 4035 §5.3.1: "The validator's notion of the current time MUST
    /// be less than or equal to the time listed in the RRSIG RR's
    /// Expiration field." and "The validator's notion of the current time
    /// MUST be greater than or equal to the time listed in the RRSIG RR's
    /// Inception field." Signatures that expire within three days are a
    /// re-signing process about to fail.
    pub(super) fn judge_signature_expiry(&self) -> RawFinding {
        const ID: &str = rule::DNSSEC_SIGNATURE_EXPIRY;
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
            return RawFinding {
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
            return RawFinding {
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
            return RawFinding {
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
        RawFinding {
            message: format!(
                "Every signature of {} in the evidence is valid for at least {} more days.",
                self.apex,
                first / 86_400
            ),
            ..f
        }
    }

    /// RFC 8624 §3.1, the "DNSSEC Signing" column: RSAMD5 "MUST NOT", DSA
    /// "MUST NOT", RSASHA1 "NOT RECOMMENDED", DSA-NSEC3-SHA1 "MUST NOT",
    /// RSASHA1-NSEC3-SHA1 "NOT RECOMMENDED", RSASHA512 "NOT RECOMMENDED",
    /// ECC-GOST "MUST NOT"; "RSAMD5 is an implementation MUST NOT" and
    /// "zones deploying it are recommended to switch to ECDSAP256SHA256".
    pub(super) fn judge_algorithm(&self) -> RawFinding {
        const ID: &str = rule::DNSSEC_ALGORITHM;
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
            return self.unless_keys_unread(RawFinding {
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
        let f = RawFinding {
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
    pub(super) fn judge_ds_digest(&self) -> RawFinding {
        const ID: &str = rule::DNSSEC_DS_DIGEST;
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
    pub(super) fn judge_rsa_key_size(&self) -> RawFinding {
        const ID: &str = rule::DNSSEC_RSA_KEY_SIZE;
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
            return self.unless_keys_unread(RawFinding {
                message: format!("Every RSA key of {} has at least 2048 bits.", self.apex),
                ..f
            });
        }
        RawFinding {
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
    pub(super) fn judge_nsec3_parameters(&self) -> RawFinding {
        const ID: &str = rule::DNSSEC_NSEC3_PARAMETERS;
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
            return RawFinding {
                message: format!("{} uses NSEC3 with 0 iterations and no salt.", self.apex),
                ..f
            };
        }
        let flags = params.first().map_or(0, |p| p.flags);
        RawFinding {
            outcome: Outcome::Fail,
            message: format!("{} uses NSEC3 with {}.", self.apex, problems.join(" and ")),
            ..f
        }
        .remediation(format!(
            "Re-sign {} with NSEC3PARAM `1 {flags} 0 -` (0 iterations, empty salt), or switch to NSEC; resolvers may treat high iteration counts as insecure (RFC 9276 §3.2).",
            self.apex
        ))
    }
}
