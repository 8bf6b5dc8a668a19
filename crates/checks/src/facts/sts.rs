//! MTA-STS facts (RFC 8461) that several judges read: what the
//! `_mta-sts` lookup says (`mta-sts`, `tlsrpt`), and the policy a sender
//! would hold (`mta-sts`, `smtp`, failover parity), each step asked only
//! when the one before it says there is something to ask.

use mailwarden_model::{DnsView, HttpsFetch, HttpsStatus, RData, RType};
use mailwarden_records::mta_sts::{self, Mode, Policy};

use crate::Unlooked;

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
    /// Could not look.
    Failed(Unlooked),
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
    if let Some(unlooked) = Unlooked::of(&name, RType::Txt, answer) {
        return Discovery::Failed(unlooked);
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
    Unreachable { why: String, fetch: Option<&'a HttpsFetch> },
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
    let addresses = match crate::transport::addresses(view, &host, usize::MAX) {
        Err(why) => return PolicyState::Unknown(format!("could not look up {why}")),
        Ok(a) if a.is_empty() => {
            return PolicyState::Unreachable {
                why: format!("{host} has no address (no A or AAAA record), so the policy cannot be fetched"),
                fetch: None,
            };
        }
        Ok(a) => a,
    };
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
                if content_type.is_empty() {
                    "no Content-Type".to_string()
                } else {
                    format!("{content_type:?}")
                }
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
