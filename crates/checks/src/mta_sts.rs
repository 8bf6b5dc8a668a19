//! MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record.
//!
//! Pure over a [`DnsView`]: asks TXT at `_mta-sts.<domain>`. Rules:
//! `mta-sts.record` (exactly one record beginning `v=STSv1`; otherwise the
//! domain has no policy, §3.1), `mta-sts.syntax`, `mta-sts.id`, and
//! `mta-sts.policy`.
//!
//! Not done yet: fetching the policy from
//! `https://mta-sts.<domain>/.well-known/mta-sts.txt` (RFC 8461 §3.3) needs
//! the hardened HTTPS client of the transport-security issue. Until then
//! `mta-sts.policy` is indeterminate whenever a record exists, never pass or
//! fail; the policy-file parser ([`mailwarden_records::mta_sts::parse_policy`])
//! is ready for it.

use mailwarden_model::{DnsView, Finding, HttpsFetch, HttpsStatus, Outcome, RData, RType};
use mailwarden_records::mta_sts::{self, Diagnostic, Level, Mode, Policy, Record};
use serde::Serialize;

use crate::Context;

/// Diagnostic codes judged by `mta-sts.id` rather than `mta-sts.syntax`.
const ID_CODES: [&str; 3] = ["id-invalid", "id-missing", "id-case"];

/// The TXT records at `name`: (character-strings, joined text).
pub(crate) fn txt_records(records: &[RData]) -> Vec<(Vec<String>, String)> {
    records
        .iter()
        .filter_map(|rd| match (rd, rd.txt_bytes()) {
            (RData::Txt { strings }, Some(b)) => Some((strings.clone(), String::from_utf8_lossy(&b).into_owned())),
            _ => None,
        })
        .collect()
}

/// What the `_mta-sts` lookup says, shared with the TLS-RPT judge.
pub(crate) enum Discovery {
    /// Could not look: why.
    Failed(String),
    /// No record beginning `v=STSv1` (with the discarded look-alikes).
    None(Vec<String>),
    /// Exactly one.
    One(Vec<String>, String),
    /// More than one: senders use none.
    Many(Vec<String>),
}

pub(crate) fn discover(domain: &str, view: &DnsView<'_>) -> Discovery {
    let name = format!("_mta-sts.{domain}");
    let answer = view.get(&name, RType::Txt);
    if !answer.status.is_definite() {
        return Discovery::Failed(format!("{name}/TXT {}", answer.status.describe()));
    }
    let texts = txt_records(&answer.records);
    let (sts, other): (Vec<_>, Vec<_>) = texts.into_iter().partition(|(_, t)| mta_sts::is_sts_record(t));
    match sts.len() {
        0 => Discovery::None(
            other
                .into_iter()
                .map(|(_, t)| t)
                .filter(|t| mta_sts::looks_like_sts(t))
                .collect(),
        ),
        1 => {
            let (strings, text) = sts.into_iter().next().unwrap_or_default();
            Discovery::One(strings, text)
        }
        _ => Discovery::Many(sts.into_iter().map(|(_, t)| t).collect()),
    }
}

/// `https://mta-sts.<domain>/.well-known/mta-sts.txt` (RFC 8461 §3.2).
pub(crate) fn policy_url(domain: &str) -> String {
    format!("https://mta-sts.{domain}/.well-known/mta-sts.txt")
}

/// The policy a sender would hold for the domain, from the record and
/// the fetched file.
#[derive(Debug)]
pub(crate) enum PolicyState<'a> {
    /// No usable record (none, several, or invalid): no policy.
    NoPolicy,
    /// Could not look (a lookup or the fetch could not be made): why.
    Unknown(String),
    /// A record, but the policy cannot be fetched (a fact about the
    /// server): the fetch result, or why there was nothing to fetch from.
    Unreachable {
        why: String,
        fetch: Option<&'a HttpsFetch>,
    },
    /// Fetched, but senders cannot use it: wrong content type, or
    /// syntax errors (in `policy`).
    Invalid {
        why: String,
        fetch: &'a HttpsFetch,
        policy: Option<Policy>,
    },
    /// A valid policy.
    Active { fetch: &'a HttpsFetch, policy: Policy },
}

impl PolicyState<'_> {
    /// The mode of a valid policy.
    pub fn mode(&self) -> Option<Mode> {
        match self {
            PolicyState::Active { policy, .. } => policy.mode,
            _ => None,
        }
    }

    /// `Some(true)` when a valid policy covers `host` (RFC 8461 §4.1),
    /// `Some(false)` when there is none or it does not, `None` when we
    /// could not tell.
    pub fn covers(&self, host: &str) -> Option<bool> {
        match self {
            PolicyState::Active { policy, .. } => Some(policy.mx.iter().any(|p| mx_matches(&p.pattern, host))),
            PolicyState::Unknown(_) => None,
            _ => Some(false),
        }
    }
}

/// The record, the address of `mta-sts.<domain>` and the policy file,
/// each asked only once the step before it says there is something to ask.
pub(crate) fn policy_state<'a>(domain: &str, view: &DnsView<'a>) -> PolicyState<'a> {
    let record = match discover(domain, view) {
        Discovery::Failed(why) => return PolicyState::Unknown(format!("could not look up {why}")),
        Discovery::None(_) | Discovery::Many(_) => return PolicyState::NoPolicy,
        Discovery::One(_, text) => mta_sts::parse(text.as_bytes()),
    };
    if record.has_errors() {
        return PolicyState::NoPolicy;
    }
    let host = format!("mta-sts.{domain}");
    let mut addresses = Vec::new();
    let mut failed = Vec::new();
    for rtype in [RType::A, RType::Aaaa] {
        let answer = view.get(&host, rtype);
        if !answer.status.is_definite() {
            failed.push(format!("{host}/{rtype} {}", answer.status.describe()));
        }
        addresses.extend(answer.records.iter().filter_map(|rd| match rd {
            RData::A { address } => Some(std::net::IpAddr::V4(*address)),
            RData::Aaaa { address } => Some(std::net::IpAddr::V6(*address)),
            _ => None,
        }));
    }
    if addresses.is_empty() {
        return if failed.is_empty() {
            PolicyState::Unreachable {
                why: format!("{host} has no address (no A or AAAA record), so the policy cannot be fetched"),
                fetch: None,
            }
        } else {
            PolicyState::Unknown(format!("could not look up {}", failed.join("; ")))
        };
    }
    let fetch = view.https(&policy_url(domain), &addresses);
    if !fetch.status.is_definite() {
        return PolicyState::Unknown(format!("the policy was not fetched ({})", fetch.describe()));
    }
    let Some(body) = fetch.body.as_deref().filter(|_| fetch.status == HttpsStatus::Fetched) else {
        return PolicyState::Unreachable {
            why: fetch.describe(),
            fetch: Some(fetch),
        };
    };
    let content_type = fetch.content_type.as_deref().unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("text/plain") {
        return PolicyState::Invalid {
            why: format!(
                "the policy is served as {}, not text/plain (RFC 8461 §3.2)",
                if content_type.is_empty() { "no Content-Type".to_string() } else { format!("{content_type:?}") }
            ),
            fetch,
            policy: None,
        };
    }
    let policy = mta_sts::parse_policy(body.as_bytes());
    if !policy.is_valid() {
        let n = policy.errors().count();
        return PolicyState::Invalid {
            why: format!("the policy file has {n} error(s)"),
            fetch,
            policy: Some(policy),
        };
    }
    PolicyState::Active { fetch, policy }
}

/// RFC 8461 §4.1: "Matching is identical to the rules given in
/// [RFC6125], with restriction that the wildcard character "*" may only
/// be used to match the entire left-most label in the presented
/// identifier." So `*.example.com` covers `mx.example.com` but neither
/// `example.com` nor `a.b.example.com`. Case-insensitive, trailing dots
/// ignored.
pub(crate) fn mx_matches(pattern: &str, host: &str) -> bool {
    let pattern = mailwarden_model::name::normalise(pattern);
    let host = mailwarden_model::name::normalise(host);
    match pattern.strip_prefix("*.") {
        Some(parent) => host
            .split_once('.')
            .is_some_and(|(first, rest)| !first.is_empty() && rest == parent),
        None => pattern == host,
    }
}

/// Judge the MTA-STS record of `ctx.domain`. Findings carry ids `mta-sts.*`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<Finding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let name = format!("_mta-sts.{domain}");
    let example = format!("`{name}. IN TXT \"v=STSv1; id=20250101T000000\"`");
    match discover(&domain, view) {
        Discovery::Failed(why) => ["mta-sts.record", "mta-sts.syntax", "mta-sts.id", "mta-sts.policy"]
            .into_iter()
            .map(|id| {
                Finding::new(id, Outcome::Indeterminate, &domain, format!("Could not look up {why}."))
                    .evidence("failed_lookups", [&why])
            })
            .collect(),
        Discovery::None(lookalikes) => {
            let record = if lookalikes.is_empty() {
                Finding::new(
                    "mta-sts.record",
                    Outcome::NotApplicable,
                    &domain,
                    format!(
                        "No MTA-STS record at {name}: the domain does not use MTA-STS (it is optional; DANE or MTA-STS protects mail in transit against downgrade)."
                    ),
                )
            } else {
                Finding::new(
                    "mta-sts.record",
                    Outcome::Fail,
                    &domain,
                    format!(
                        "{name} has a record meant as MTA-STS that does not begin with exactly `v=STSv1`, so senders discard it and the domain has no policy (RFC 8461 §3.1)."
                    ),
                )
                .evidence("records", &lookalikes)
                .remediation(format!("Publish the record beginning exactly `v=STSv1;`: {example}."))
            };
            let none = |id: &str| {
                Finding::new(
                    id,
                    Outcome::NotApplicable,
                    &domain,
                    "No MTA-STS record, so nothing to check.",
                )
            };
            vec![
                record,
                none("mta-sts.syntax"),
                none("mta-sts.id"),
                none("mta-sts.policy"),
            ]
        }
        Discovery::Many(records) => {
            let none = |id: &str| {
                Finding::new(
                    id,
                    Outcome::NotApplicable,
                    &domain,
                    "Several MTA-STS records: senders use none, so there is no record to check.",
                )
            };
            vec![
                Finding::new(
                    "mta-sts.record",
                    Outcome::Fail,
                    &domain,
                    format!(
                        "{} records beginning `v=STSv1` at {name}: RFC 8461 §3.1 has senders then assume the domain has no MTA-STS policy.",
                        records.len()
                    ),
                )
                .evidence("records", &records)
                .remediation(format!("Keep exactly one MTA-STS record: {example}.")),
                none("mta-sts.syntax"),
                none("mta-sts.id"),
                none("mta-sts.policy"),
            ]
        }
        Discovery::One(strings, text) => {
            let parsed = mta_sts::parse(text.as_bytes());
            vec![
                Finding::new(
                    "mta-sts.record",
                    Outcome::Pass,
                    &domain,
                    format!("{name} publishes one MTA-STS record."),
                )
                .evidence("record", &text)
                .evidence("strings", &strings),
                syntax(&domain, &parsed, &example),
                id(&domain, &parsed, &example),
                Finding::new(
                    "mta-sts.policy",
                    Outcome::Indeterminate,
                    &domain,
                    format!(
                        "An MTA-STS record exists, but the policy at https://mta-sts.{domain}/.well-known/mta-sts.txt was not checked: the policy fetch over HTTPS is not implemented yet."
                    ),
                )
                .evidence("policy_url", format!("https://mta-sts.{domain}/.well-known/mta-sts.txt")),
            ]
        }
    }
}

/// A diagnostic with its caret line, for evidence.
#[derive(Debug, Serialize)]
struct Located<'d> {
    #[serde(flatten)]
    diagnostic: &'d Diagnostic,
    caret: String,
}

fn located<'d>(r: &Record, found: &[&'d Diagnostic]) -> (Vec<String>, Vec<Located<'d>>) {
    let shown = found
        .iter()
        .map(|d| format!("({}) {}\n{}", d.code, d.message, d.caret(&r.text)))
        .collect();
    let located = found
        .iter()
        .map(|d| Located {
            diagnostic: d,
            caret: d.caret(&r.text),
        })
        .collect();
    (shown, located)
}

/// RFC 8461 §3.1: "If the number of resulting records is not one, or if
/// the resulting record is syntactically invalid, senders MUST assume the
/// recipient domain does not have an available MTA-STS Policy".
fn syntax(domain: &str, r: &Record, example: &str) -> Finding {
    let errors: Vec<&Diagnostic> = r
        .diagnostics
        .iter()
        .filter(|d| d.level == Level::Error && !ID_CODES.contains(&d.code))
        .collect();
    let warnings: Vec<&Diagnostic> = r.diagnostics.iter().filter(|d| d.level == Level::Warning).collect();
    if errors.is_empty() {
        let mut f = Finding::new(
            "mta-sts.syntax",
            Outcome::Pass,
            domain,
            "The MTA-STS record is syntactically valid.",
        );
        if !warnings.is_empty() {
            f = f.evidence("warnings", located(r, &warnings).1);
        }
        return f;
    }
    let (shown, located) = located(r, &errors);
    Finding::new(
        "mta-sts.syntax",
        Outcome::Fail,
        domain,
        format!(
            "{} syntax error(s) in the MTA-STS record; senders treat the domain as having no MTA-STS policy.\n{}",
            errors.len(),
            shown.join("\n")
        ),
    )
    .evidence("record", &r.text)
    .evidence("diagnostics", located)
    .remediation(format!(
        "Correct the record at the positions shown: {example} (fields separated by `;`, no spaces around `=`)."
    ))
}

/// RFC 8461 §3.1: `sts-id = %s"id=" 1*32(ALPHA / DIGIT)`; the id must
/// change whenever the policy changes.
fn id(domain: &str, r: &Record, example: &str) -> Finding {
    if let Some(id) = &r.id
        && !r.diagnostics.iter().any(|d| ID_CODES.contains(&d.code))
    {
        return Finding::new(
            "mta-sts.id",
            Outcome::Pass,
            domain,
            format!("The policy id `{id}` is 1 to 32 letters and digits."),
        )
        .evidence("id", id);
    }
    let found: Vec<&Diagnostic> = r.diagnostics.iter().filter(|d| ID_CODES.contains(&d.code)).collect();
    let (shown, located) = located(r, &found);
    Finding::new(
        "mta-sts.id",
        Outcome::Fail,
        domain,
        format!(
            "The MTA-STS record has no valid `id`, so it is invalid and senders cannot tell when the policy changes.\n{}",
            shown.join("\n")
        ),
    )
    .evidence("record", &r.text)
    .evidence("diagnostics", located)
    .remediation(format!(
        "Use an id of 1 to 32 letters and digits, e.g. the UTC time of the policy change: {example}; change it whenever the policy file changes."
    ))
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Finding, Outcome::*, RType, ScanOptions, SourceInfo, Status};

    use super::*;
    use crate::testutil::{Dns, find, outcome};

    const D: &str = "example.com";
    const N: &str = "_mta-sts.example.com";

    fn run(dns: &Dns) -> Vec<Finding> {
        let options = ScanOptions::default();
        let source = SourceInfo::default();
        let ctx = Context {
            roots: &crate::tls::cert::Roots::WebPki,
            domain: D,
            options: &options,
            source: &source,
            now: 0,
        };
        dns.judge(|v| judge(&ctx, v))
    }

    const ALL: [&str; 4] = ["mta-sts.record", "mta-sts.syntax", "mta-sts.id", "mta-sts.policy"];

    #[test]
    fn one_valid_record_passes_and_the_policy_is_indeterminate() {
        let f = run(&Dns::new().txt(N, &["v=STSv1; id=20160831085700Z;", "unrelated"]));
        for id in ["mta-sts.record", "mta-sts.syntax", "mta-sts.id"] {
            assert_eq!(outcome(&f, id, D), Pass, "{id}: {f:#?}");
        }
        let p = find(&f, "mta-sts.policy", D);
        assert_eq!(p.outcome, Indeterminate);
        assert!(p.message.contains("not implemented yet"), "{}", p.message);
        assert_eq!(f.len(), 4);
    }

    #[test]
    fn no_record_is_not_applicable() {
        for dns in [
            Dns::new().status(N, RType::Txt, Status::NxDomain),
            Dns::new().txt(N, &["v=spf1 -all"]),
        ] {
            let f = run(&dns);
            for id in ALL {
                assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
            }
        }
    }

    #[test]
    fn failed_lookup_is_indeterminate_everywhere() {
        let f = run(&Dns::new().status(N, RType::Txt, Status::Timeout));
        for id in ALL {
            assert_eq!(outcome(&f, id, D), Indeterminate, "{id}");
        }
    }

    #[test]
    fn two_records_or_a_lookalike_mean_no_policy() {
        let f = run(&Dns::new().txt(N, &["v=STSv1; id=1", "v=STSv1; id=2"]));
        let r = find(&f, "mta-sts.record", D);
        assert_eq!(r.outcome, Fail);
        assert!(r.message.contains("no MTA-STS policy"));
        assert_eq!(outcome(&f, "mta-sts.policy", D), NotApplicable);
        let f = run(&Dns::new().txt(N, &["v=stsv1; id=1"]));
        assert_eq!(outcome(&f, "mta-sts.record", D), Fail);
        assert_eq!(outcome(&f, "mta-sts.syntax", D), NotApplicable);
    }

    #[test]
    fn syntax_errors_fail_with_carets_and_id_is_separate() {
        let f = run(&Dns::new().txt(N, &["v=STSv1; id=1; junk"]));
        let s = find(&f, "mta-sts.syntax", D);
        assert_eq!(s.outcome, Fail);
        assert!(
            s.message.contains("missing-equals") && s.message.contains('^'),
            "{}",
            s.message
        );
        assert_eq!(outcome(&f, "mta-sts.id", D), Pass);
        let f = run(&Dns::new().txt(N, &["v=STSv1; id=2016-08-31"]));
        assert_eq!(outcome(&f, "mta-sts.syntax", D), Pass);
        let i = find(&f, "mta-sts.id", D);
        assert_eq!(i.outcome, Fail);
        assert!(i.remediation.as_deref().unwrap().contains("v=STSv1; id="));
        let f = run(&Dns::new().txt(N, &["v=STSv1;"]));
        assert_eq!(outcome(&f, "mta-sts.id", D), Fail);
        // Still a record: the policy is looked at once it can be fetched.
        assert_eq!(outcome(&f, "mta-sts.policy", D), Indeterminate);
    }
}
