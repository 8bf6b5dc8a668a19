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

use mailwarden_model::{Finding, Observation};
use sha2::{Digest, Sha256};

use crate::canonical::{self, Rules};

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

/// Hex SHA-256 over the normalised observation, the findings' outcomes and
/// the profile verdicts and overall score.
pub fn fingerprint(
    observation: &Observation,
    findings: &[Finding],
    verdicts: &[(String, String)],
    score: Option<i64>,
) -> String {
    let mut h = Sha256::new();
    h.update(canonical::encode(observation, RULES));
    let mut outcomes: Vec<String> = findings.iter().map(outcome_line).collect();
    outcomes.sort_unstable();
    let mut verdicts = verdicts.to_vec();
    verdicts.sort_unstable();
    h.update(canonical::encode(&(outcomes, verdicts, score), RULES));
    hex(&h.finalize())
}

/// A finding's rule, subject, outcome and severity, NUL-separated. Joined,
/// not `format!`ed: `format!` for the 157 findings of a scan cost more
/// than encoding the whole Observation (perf, an unchanged re-scan).
fn outcome_line(f: &Finding) -> String {
    [
        f.id.as_str(),
        f.subject.as_str(),
        f.outcome.as_str(),
        f.severity.as_str(),
    ]
    .join("\u{0}")
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use mailwarden_model::{Answer, Outcome, Proof, QueryKey, RData, RType, Severity, Signature};

    use super::*;

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
        assert_eq!(outcome_line(&f), earlier);
        assert_eq!(outcome_line(&f), "mx.present\u{0}example.com\u{0}fail\u{0}high");
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
