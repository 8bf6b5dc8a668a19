//! The content fingerprint of a scan: what the domain looked like, not
//! when or in what order it was seen. Two scans of an unchanged domain
//! have the same fingerprint, so the second adds only a "seen again" mark.
//!
//! Left out: the scan's start time, duration and mailwarden version, TTLs
//! (a cache counts them down), RRSIG inception/expiration (re-signing is
//! not a change of content), the resolver's AD bit (`upstream_ad`: Unbound
//! sets it on a negative answer from a cold cache and not on the same
//! answer from a warm one; mailwarden's own validation is the `proof`,
//! kept), SMTP greetings (many carry the server's clock) and finding
//! messages (they may count days to an expiry). Sorted
//! first: records within an answer, signatures, addresses. Kept: every
//! record, status, proof, certificate, TLS version, policy body, and each
//! finding's rule, subject, outcome and severity.
//!
//! Hashed with BLAKE3, written `b3:` and 64 hex digits. Fingerprints
//! stored before (session 14) are SHA-256 of the same encoding, 64 hex
//! digits bare: SHA-256 was a quarter of the fingerprint's time, BLAKE3 a
//! fraction of that (SIMD over 1 KiB chunks). A scan compared with a
//! snapshot fingerprinted so is hashed both ways in one pass
//! ([`Fingerprints::of`]), so upgrading stores no new snapshot
//! of an unchanged domain, and the snapshot keeps the fingerprint its
//! audit event cites.

use mailwarden_model::{Finding, Observation};
use sha2::{Digest, Sha256};

use crate::canonical::{self, Hashers, Rules};

/// How a fingerprint made with BLAKE3 starts.
const BLAKE3_PREFIX: &str = "b3:";

/// Object keys whose value varies between scans of unchanged content.
const VOLATILE: &[&str] = &[
    "started_at",
    "duration_ms",
    "tool_version",
    "ttl",
    "inception",
    "expiration",
    "upstream_ad",
    "greeting",
];

/// Arrays whose order is the order the answer happened to come in.
const UNORDERED: &[&str] = &["records", "signatures", "addresses"];

/// The Observation's encoding: volatile keys out, unordered arrays (and
/// the address lists of `glue`) sorted.
const RULES: Rules = Rules {
    skip: VOLATILE,
    sort: UNORDERED,
    sort_values: &["glue"],
};

/// The fingerprint of a scan: BLAKE3 over the normalised observation, the
/// findings' outcomes and the profile verdicts and overall score.
pub fn fingerprint(
    observation: &Observation,
    findings: &[Finding],
    verdicts: &[(String, String)],
    score: Option<i64>,
) -> String {
    Fingerprints::of(observation, findings, verdicts, score, false).current
}

/// Whether `stored` was made by an earlier version, with SHA-256 (its
/// scans are compared by [`Fingerprints::of`] with it).
pub fn is_sha256(stored: &str) -> bool {
    !stored.starts_with(BLAKE3_PREFIX)
}

/// A scan's fingerprint, and the SHA-256 one earlier versions made of it
/// when asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints {
    /// What a new snapshot of the scan stores ([`fingerprint`]).
    pub current: String,
    /// What an earlier version would have stored, if asked for.
    pub sha256: Option<String>,
}

impl Fingerprints {
    /// Whether the scan has the fingerprint `stored`, made by this version
    /// or an earlier one.
    pub fn matches(&self, stored: &str) -> bool {
        self.current == stored || self.sha256.as_deref() == Some(stored)
    }

    /// The scan's fingerprint, with the SHA-256 one when `with_sha256`,
    /// from one pass of the encoder.
    pub fn of(
        observation: &Observation,
        findings: &[Finding],
        verdicts: &[(String, String)],
        score: Option<i64>,
        with_sha256: bool,
    ) -> Self {
        let hashers = if with_sha256 {
            Hashers::Both(Sha256::new(), Box::default())
        } else {
            Hashers::Blake3(Box::default())
        };
        let h = canonical::hash(observation, &RULES, hashers);
        let outcomes = OutcomeLines::of(findings);
        let mut verdicts = verdicts.to_vec();
        verdicts.sort_unstable();
        let blake3_hex = |b3: &blake3::Hasher| format!("{BLAKE3_PREFIX}{}", b3.finalize().to_hex());
        match canonical::hash(&(outcomes, verdicts, score), &RULES, h) {
            Hashers::Blake3(b3) => Self {
                current: blake3_hex(&b3),
                sha256: None,
            },
            Hashers::Both(sha, b3) => Self {
                current: blake3_hex(&b3),
                sha256: Some(hex(&sha.finalize())),
            },
        }
    }
}

/// Each finding's rule, subject, outcome and severity, NUL-separated (not
/// `format!`ed: that cost more than encoding the whole Observation), the
/// lines sorted, written into one string (a `String` per finding was a
/// tenth of the fingerprint's time). They serialise as the list of
/// strings the first fingerprints hashed.
struct OutcomeLines {
    text: String,
    lines: Vec<std::ops::Range<usize>>,
}

impl OutcomeLines {
    fn of(findings: &[Finding]) -> Self {
        let mut text = String::with_capacity(findings.len() * 96);
        let mut lines = Vec::with_capacity(findings.len());
        for f in findings {
            let start = text.len();
            for (i, field) in outcome_fields(f).into_iter().enumerate() {
                if i > 0 {
                    text.push('\u{0}');
                }
                text.push_str(field);
            }
            lines.push(start..text.len());
        }
        lines.sort_unstable_by(|a, b| text[a.clone()].cmp(&text[b.clone()]));
        Self { text, lines }
    }
}

impl serde::Serialize for OutcomeLines {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.lines.iter().map(|line| &self.text[line.clone()]))
    }
}

fn outcome_fields(f: &Finding) -> [&str; 4] {
    [
        f.id.as_str(),
        f.subject.as_str(),
        f.outcome.as_str(),
        f.severity.as_str(),
    ]
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mailwarden_model::{Answer, Outcome, Proof, QueryKey, RData, RType, Severity, Signature};

    use super::*;

    /// The SHA-256 fingerprint of [`fixed_scan`] as every version up to
    /// session 13 stored it.
    const PINNED_SHA256: &str = "fc8410c4863087ac83134b81c3c87fd717aee6b3b079bf4d3ac209534110b08d";
    /// Its BLAKE3 fingerprint, as stored since.
    const PINNED_BLAKE3: &str = "b3:bcab763ee878e81d8b4e0504d11b8dd5571dc930ae573acd19014802df249385";

    fn observation(records: Vec<RData>, ttl: u32, started: &str) -> Observation {
        let mut dns = mailwarden_model::Transcript::default();
        let mut answer = Answer::with_records(records, Proof::Insecure);
        answer.ttl = Some(ttl);
        answer.signatures = vec![Signature {
            type_covered: 15,
            algorithm: 13,
            key_tag: 1,
            signer: "example.com.".into(),
            inception: ttl,
            expiration: ttl + 100,
        }];
        answer.glue = BTreeMap::from([(
            "mx.example.com.".to_string(),
            if ttl.is_multiple_of(2) {
                vec!["192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap()]
            } else {
                vec!["192.0.2.2".parse().unwrap(), "192.0.2.1".parse().unwrap()]
            },
        )]);
        dns.insert(QueryKey::new("example.com.", RType::Mx), answer);
        Observation {
            tool_version: format!("0.1.{ttl}"),
            started_at: Some(started.into()),
            duration_ms: Some(ttl as u64),
            dns,
            ..Observation::new("example.com")
        }
    }

    fn mx(pref: u16, host: &str) -> RData {
        RData::Mx {
            preference: pref,
            exchange: host.into(),
        }
    }

    fn finding(outcome: Outcome) -> Finding {
        let mut f = Finding::new("mx.present", outcome, "example.com", "expires in 3 days");
        f.severity = Severity::High;
        f
    }

    /// The outcome lines are the text the first fingerprints hashed: a
    /// different text would store one new snapshot per domain on upgrade.
    #[test]
    fn outcome_lines_keep_the_text_earlier_fingerprints_hashed() {
        let f = finding(Outcome::Fail);
        let earlier = format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            f.id,
            f.subject,
            f.outcome.as_str(),
            f.severity.as_str()
        );
        let lines = OutcomeLines::of(std::slice::from_ref(&f));
        assert_eq!(&lines.text[lines.lines[0].clone()], earlier);
        assert_eq!(lines.text, "mx.present\u{0}example.com\u{0}fail\u{0}high");
    }

    fn fixed_scan() -> (Observation, [Finding; 2], [(String, String); 1]) {
        let mut o = observation(vec![mx(20, "b."), mx(10, "a.")], 300, "2026-01-01T00:00:00Z");
        o.dns.insert(
            QueryKey::new("example.com.", RType::Txt),
            Answer::with_records(
                vec![
                    RData::Txt {
                        strings: vec!["v=spf1 -all".into()],
                    },
                    RData::Txt {
                        strings: vec!["a".into(), "b".into()],
                    },
                ],
                Proof::Secure,
            ),
        );
        let findings = [finding(Outcome::Fail), finding(Outcome::Pass)];
        (o, findings, [("baseline".to_string(), "met".to_string())])
    }

    /// A faster encoder or hash that changed one byte of a fingerprint would
    /// store a new snapshot of every monitored domain on upgrade: both
    /// fingerprints of a fixed scan are pinned.
    #[test]
    fn the_fingerprints_of_a_fixed_scan_are_what_was_stored_before() {
        let (o, findings, verdicts) = fixed_scan();
        let both = Fingerprints::of(&o, &findings, &verdicts, Some(77), true);
        assert_eq!(both.sha256.as_deref(), Some(PINNED_SHA256));
        assert_eq!(both.current, PINNED_BLAKE3);
        assert_eq!(fingerprint(&o, &findings, &verdicts, Some(77)), PINNED_BLAKE3);
    }

    #[test]
    fn a_scan_matches_a_snapshot_fingerprinted_by_an_earlier_version_only_when_asked_to_hash_both() {
        let (o, findings, verdicts) = fixed_scan();
        assert!(is_sha256(PINNED_SHA256));
        assert!(!is_sha256(PINNED_BLAKE3));
        let current = Fingerprints::of(&o, &findings, &verdicts, Some(77), false);
        assert!(current.matches(PINNED_BLAKE3));
        assert!(!current.matches(PINNED_SHA256));
        assert!(Fingerprints::of(&o, &findings, &verdicts, Some(77), true).matches(PINNED_SHA256));
        // A changed scan matches neither.
        let changed = Fingerprints::of(&o, &findings, &verdicts, Some(78), true);
        assert!(!changed.matches(PINNED_SHA256) && !changed.matches(PINNED_BLAKE3));
    }

    #[test]
    fn time_ttl_order_signature_times_and_messages_do_not_change_the_fingerprint() {
        let a = observation(vec![mx(10, "a."), mx(20, "b.")], 300, "2026-01-01T00:00:00Z");
        let b = observation(vec![mx(20, "b."), mx(10, "a.")], 17, "2026-02-01T00:00:00Z");
        let mut later = finding(Outcome::Pass);
        later.message = "expires in 2 days".into();
        assert_eq!(
            fingerprint(&a, &[finding(Outcome::Pass)], &[], Some(90)),
            fingerprint(&b, &[later], &[], Some(90))
        );
    }

    /// Caught by bench/monitor-lab.sh: through a real Unbound, half of an
    /// unchanged re-scan of 2,100 domains stored new snapshots, each differing
    /// from the last only in the AD bit on negative answers (cold vs warm).
    #[test]
    fn the_resolvers_ad_bit_on_an_unchanged_answer_does_not_change_the_fingerprint() {
        let a = observation(vec![mx(10, "a.")], 300, "t");
        let with = |upstream_ad: bool, proof: Proof| {
            let mut o = a.clone();
            for (key, answer) in a.dns.iter() {
                let answer = Answer {
                    upstream_ad,
                    proof,
                    ..answer.clone()
                };
                o.dns.insert(key.clone(), answer);
            }
            fingerprint(&o, &[], &[], None)
        };
        let base = fingerprint(&a, &[], &[], None);
        assert_eq!(base, with(true, Proof::Insecure));
        // The proof of mailwarden's own validation still counts.
        assert_ne!(base, with(true, Proof::Secure));
    }

    #[test]
    fn a_changed_record_outcome_verdict_or_score_changes_the_fingerprint() {
        let a = observation(vec![mx(10, "a.")], 300, "t");
        let base = fingerprint(&a, &[finding(Outcome::Pass)], &[], Some(90));
        let b = observation(vec![mx(10, "c.")], 300, "t");
        assert_ne!(base, fingerprint(&b, &[finding(Outcome::Pass)], &[], Some(90)));
        assert_ne!(base, fingerprint(&a, &[finding(Outcome::Fail)], &[], Some(90)));
        assert_ne!(base, fingerprint(&a, &[finding(Outcome::Pass)], &[], Some(80)));
        let verdict = [("baseline".to_string(), "met".to_string())];
        assert_ne!(base, fingerprint(&a, &[finding(Outcome::Pass)], &verdict, Some(90)));
    }
}
