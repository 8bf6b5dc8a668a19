//! MTA-STS (RFC 8461): the `_mta-sts.<domain>` TXT record, the policy it
//! announces, and whether the MX hosts live up to it.
//!
//! Pure over a [`DnsView`]: asks TXT at `_mta-sts.<domain>`; when there is
//! exactly one valid record, A and AAAA of `mta-sts.<domain>` and the HTTPS
//! fetch of `https://mta-sts.<domain>/.well-known/mta-sts.txt`; for a
//! usable policy in testing or enforce mode, MX at the domain and the MX
//! hosts' addresses; in enforce mode, the STARTTLS probe of every address
//! of every MX host the policy covers. Each step is asked only when the one
//! before it says there is something to ask.
//!
//! Rules of the record: `mta-sts.record` (exactly one record beginning
//! `v=STSv1`; otherwise the domain has no policy, §3.1), `mta-sts.syntax`,
//! `mta-sts.id`. Rules of the policy: `mta-sts.policy` (it can be fetched,
//! §3.2, §3.3), `mta-sts.policy-syntax`, `mta-sts.mode` (§5),
//! `mta-sts.max-age` (§3.2), `mta-sts.mx-match` (§4.1) and
//! `mta-sts.enforce-tls` (§4.2, §5).

use std::collections::BTreeMap;

use mailwarden_model::{DnsView, Finding, HttpsFetch, HttpsStatus, Outcome, RData, RType, Severity, SmtpStatus};
use mailwarden_records::mta_sts::{self, Level, Mode, Policy, Record};
use serde::Serialize;

use crate::Context;
use crate::located::{Bounded, WithDiagnostics};
use crate::tls::cert;
use crate::transport::{AddressTls, MxHost};

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

/// The rules about the policy file and what it asks of the MX hosts.
const POLICY_RULES: [&str; 6] = [
    "mta-sts.policy",
    "mta-sts.policy-syntax",
    "mta-sts.mode",
    "mta-sts.max-age",
    "mta-sts.mx-match",
    "mta-sts.enforce-tls",
];

/// The rules that judge what a usable policy says.
const CONTENT_RULES: [&str; 4] = [
    "mta-sts.mode",
    "mta-sts.max-age",
    "mta-sts.mx-match",
    "mta-sts.enforce-tls",
];

/// Policy diagnostics judged by `mta-sts.max-age` rather than
/// `mta-sts.policy-syntax`.
const MAX_AGE_CODES: [&str; 1] = ["max-age-too-short"];

/// The `max_age` to recommend: RFC 8461 §3.2 expects weeks.
const RECOMMENDED_MAX_AGE: u64 = 604_800;

/// Judge the MTA-STS record and policy of `ctx.domain`. Findings carry ids
/// `mta-sts.*`, all about the domain.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<Finding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let name = format!("_mta-sts.{domain}");
    let example = format!("`{name}. IN TXT \"v=STSv1; id=20250101T000000\"`");
    let all_but_record = || ["mta-sts.syntax", "mta-sts.id"].into_iter().chain(POLICY_RULES);
    match discover(&domain, view) {
        Discovery::Failed(why) => std::iter::once("mta-sts.record")
            .chain(all_but_record())
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
            std::iter::once(record)
                .chain(every(
                    all_but_record(),
                    Outcome::NotApplicable,
                    &domain,
                    "No MTA-STS record, so nothing to check.",
                ))
                .collect()
        }
        Discovery::Many(records) => {
            let record = Finding::new(
                "mta-sts.record",
                Outcome::Fail,
                &domain,
                format!(
                    "{} records beginning `v=STSv1` at {name}: RFC 8461 §3.1 has senders then assume the domain has no MTA-STS policy.",
                    records.len()
                ),
            )
            .evidence("records", &records)
            .remediation(format!("Keep exactly one MTA-STS record: {example}."));
            let why = "Several MTA-STS records: senders use none, so there is no record or policy to check.";
            std::iter::once(record)
                .chain(every(all_but_record(), Outcome::NotApplicable, &domain, why))
                .collect()
        }
        Discovery::One(strings, text) => {
            let parsed = mta_sts::parse(text.as_bytes());
            let mut out = vec![
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
            ];
            out.extend(policy_findings(ctx, &domain, view));
            out
        }
    }
}

/// The same outcome and message for each of `ids`.
fn every<'i>(ids: impl IntoIterator<Item = &'i str>, outcome: Outcome, domain: &str, message: &str) -> Vec<Finding> {
    ids.into_iter()
        .map(|id| Finding::new(id, outcome, domain, message))
        .collect()
}

/// The findings about the policy of a domain with one MTA-STS record.
fn policy_findings(ctx: &Context<'_>, domain: &str, view: &DnsView<'_>) -> Vec<Finding> {
    let url = policy_url(domain);
    let state = policy_state(domain, view);
    let (fetch, policy) = match &state {
        PolicyState::NoPolicy => {
            return every(
                POLICY_RULES,
                Outcome::NotApplicable,
                domain,
                "The MTA-STS record is invalid (see mta-sts.syntax and mta-sts.id), so senders assume the domain has no policy and never fetch one (RFC 8461 §3.1).",
            );
        }
        PolicyState::Unknown(why) => {
            return POLICY_RULES
                .into_iter()
                .map(|id| {
                    Finding::new(
                        id,
                        Outcome::Indeterminate,
                        domain,
                        format!("The MTA-STS policy could not be checked: {why}."),
                    )
                    .evidence("url", &url)
                    .evidence("reason", why)
                })
                .collect();
        }
        PolicyState::Unreachable { why, fetch } => return unfetchable(ctx, domain, &url, why, *fetch),
        PolicyState::Invalid {
            why,
            fetch,
            policy: None,
        } => return unfetchable(ctx, domain, &url, why, Some(*fetch)),
        PolicyState::Invalid {
            fetch,
            policy: Some(policy),
            ..
        } => (*fetch, policy),
        PolicyState::Active { fetch, policy } => (*fetch, policy),
    };
    let mut out = vec![
        fetched(domain, &url, fetch, policy),
        policy_syntax(domain, &url, fetch, policy),
    ];
    if !policy.is_valid() {
        out.extend(every(
            CONTENT_RULES,
            Outcome::NotApplicable,
            domain,
            "The policy has syntax errors (see mta-sts.policy-syntax), so senders cannot apply it.",
        ));
        return out;
    }
    let hosts = (policy.mode != Some(Mode::None)).then(|| crate::transport::mx_hosts(ctx, domain, view));
    out.push(mode(domain, policy));
    out.push(max_age(domain, policy));
    out.push(mx_match(domain, policy, hosts.as_ref()));
    out.push(enforce_tls(ctx, domain, view, policy, hosts.as_ref()));
    out
}

/// A record whose policy could not be fetched or was served as something
/// other than text/plain: `mta-sts.policy` fails, nothing else applies.
fn unfetchable(ctx: &Context<'_>, domain: &str, url: &str, why: &str, fetch: Option<&HttpsFetch>) -> Vec<Finding> {
    let mut out = vec![unreachable(ctx, domain, url, why, fetch)];
    out.extend(every(
        POLICY_RULES.into_iter().filter(|id| *id != "mta-sts.policy"),
        Outcome::NotApplicable,
        domain,
        "The policy could not be fetched (see mta-sts.policy), so there is no policy to check.",
    ));
    out
}

/// Attach what the fetch saw: the URL, the addresses tried and the one
/// that answered, the HTTP status, redirect target, content type, TLS
/// problem and version, and the client's own words.
fn with_fetch(mut f: Finding, url: &str, fetch: Option<&HttpsFetch>) -> Finding {
    f = f.evidence("url", url);
    let Some(x) = fetch else {
        return f;
    };
    f = f.evidence("status", x.status.as_str());
    if !x.addresses.is_empty() {
        f = f.evidence("addresses", &x.addresses);
    }
    if let Some(address) = x.address {
        f = f.evidence("address", address.to_string());
    }
    if let Some(code) = x.http_status {
        f = f.evidence("http_status", code);
    }
    let texts = [
        ("location", &x.location),
        ("content_type", &x.content_type),
        ("tls_problem", &x.tls_problem),
        ("tls_version", &x.tls_version),
        ("detail", &x.detail),
    ];
    for (key, value) in texts {
        if let Some(v) = value {
            f = f.evidence(key, v);
        }
    }
    f
}

/// The certificate the policy host presented, in brief, judged for
/// `host` against the scan's trust store.
#[derive(Debug, Serialize)]
struct CertificateSummary {
    names: Vec<String>,
    issuer: Option<String>,
    not_after: Option<i64>,
    validity: Option<cert::Validity>,
    pkix: cert::Pkix,
}

fn certificate_summary(ctx: &Context<'_>, host: &str, fetch: &HttpsFetch) -> Option<CertificateSummary> {
    if fetch.chain.is_empty() {
        return None;
    }
    let chain: Vec<Vec<u8>> = fetch.chain.iter().map(|c| c.0.clone()).collect();
    let report = cert::analyse_chain(&chain, host, ctx.now, ctx.roots);
    let leaf = report.certificates.first().and_then(Option::as_ref);
    Some(CertificateSummary {
        names: report.leaf.as_ref().map(|l| l.names.clone()).unwrap_or_default(),
        issuer: leaf.map(|c| c.issuer.clone()),
        not_after: leaf.map(|c| c.not_after),
        validity: report.leaf.as_ref().map(|l| l.validity),
        pkix: report.pkix,
    })
}

/// The `tls_problem` of a fetch in words.
fn tls_problem(problem: Option<&str>, host: &str) -> String {
    match problem {
        Some("name") => format!("its certificate is not valid for {host}"),
        Some("untrusted") => "its certificate does not chain to a trusted root".into(),
        Some("expired") => "its certificate has expired".into(),
        Some("not-yet-valid") => "its certificate is not valid yet".into(),
        Some("certificate") => "its certificate is invalid".into(),
        _ => "the TLS handshake failed".into(),
    }
}

/// Why the policy could not be fetched and what to do about it.
fn unreachable_reason(domain: &str, url: &str, why: &str, fetch: Option<&HttpsFetch>) -> (String, String) {
    let host = format!("mta-sts.{domain}");
    let publish =
        format!("Publish an A and/or AAAA record for {host} pointing at a web server that serves the policy at {url}.");
    let general = format!(
        "Serve the policy at {url} over HTTPS with a valid certificate for {host}, status 200 and `Content-Type: text/plain`."
    );
    let Some(f) = fetch else {
        return (why.to_string(), publish);
    };
    let detail = f.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    let code = f.http_status.map_or_else(|| "?".to_string(), |c| c.to_string());
    match f.status {
        HttpsStatus::NoAddresses => (format!("{host} has no address"), publish),
        HttpsStatus::Unreachable => (
            format!("no address of {host} accepted an HTTPS connection{detail}"),
            format!("Make the web server for {host} reachable over HTTPS from the Internet. {general}"),
        ),
        HttpsStatus::Timeout => (
            format!("{host} stopped answering before the policy was read{detail}"),
            format!("Make {host} answer promptly: senders give up on a slow policy host. {general}"),
        ),
        HttpsStatus::TlsFailed => (
            format!("{}{detail}", tls_problem(f.tls_problem.as_deref(), &host)),
            format!(
                "Serve a certificate for {host} from a publicly trusted CA (an ACME client such as certbot issues one), in date, with its intermediate certificates: senders validate it as a browser would and do not use a policy otherwise (RFC 8461 §3.3)."
            ),
        ),
        HttpsStatus::Redirect => (
            format!(
                "the server answered HTTP {code} redirecting to {}, and senders do not follow redirects (RFC 8461 §3.3: \"HTTP 3xx redirects MUST NOT be followed\")",
                f.location.as_deref().unwrap_or("(no Location)")
            ),
            format!(
                "Serve the policy itself at {url} with status 200: a redirect, even to the same file on another path or host, is not followed."
            ),
        ),
        HttpsStatus::HttpStatus => (
            format!(
                "the server answered HTTP {code}, and RFC 8461 §3.3 says \"Policies fetched via HTTPS are only valid if the HTTP response code is 200 (OK)\""
            ),
            format!("Serve the file at exactly /.well-known/mta-sts.txt on {host} with status 200. {general}"),
        ),
        HttpsStatus::TooLarge => (
            format!("the policy is larger than 64 KiB, the maximum RFC 8461 §3.3 suggests senders accept{detail}"),
            "Serve only the policy: a version, a mode, a max_age and one mx line per MX host are a few hundred bytes."
                .to_string(),
        ),
        HttpsStatus::NotUtf8 => (
            format!("the body is not UTF-8 text{detail}"),
            "Serve the policy as plain ASCII text.".to_string(),
        ),
        // Fetched, but not as text/plain (`why` says what it was).
        HttpsStatus::Fetched => (
            why.to_string(),
            format!(
                "Configure the web server for {host} to send `Content-Type: text/plain` for /.well-known/mta-sts.txt."
            ),
        ),
        _ => (f.describe(), general),
    }
}

/// RFC 8461 §3.3: "If a valid TXT record is found but no policy can be
/// fetched via HTTPS (for any reason), and there is no valid (non-expired)
/// previously cached policy, senders MUST continue with delivery as though
/// the domain has not implemented MTA-STS." A record whose policy cannot be
/// fetched protects nothing; reasons: no address, no connection, TLS
/// (including a certificate not valid for `mta-sts.<domain>`), a redirect
/// (§3.3: "HTTP 3xx redirects MUST NOT be followed"), a status other than
/// 200, too large, not UTF-8, or a media type other than text/plain (§3.2:
/// "senders SHOULD validate that the media type is "text/plain"").
fn unreachable(ctx: &Context<'_>, domain: &str, url: &str, why: &str, fetch: Option<&HttpsFetch>) -> Finding {
    let host = format!("mta-sts.{domain}");
    let (reason, remediation) = unreachable_reason(domain, url, why, fetch);
    let mut f = Finding::new(
        "mta-sts.policy",
        Outcome::Fail,
        domain,
        format!(
            "An MTA-STS record is published, but the policy cannot be fetched from {url}: {reason}. Senders without a cached copy deliver as though the domain had no MTA-STS (RFC 8461 §3.3), and cached copies lapse, so the record protects nothing."
        ),
    );
    f = with_fetch(f, url, fetch);
    if fetch.is_none() {
        f = f.evidence("host", &host);
    }
    if let Some(summary) = fetch
        .filter(|x| x.status == HttpsStatus::TlsFailed)
        .and_then(|x| certificate_summary(ctx, &host, x))
    {
        f = f.evidence("certificate", summary);
    }
    f.remediation(remediation)
}

/// The policy was fetched (status 200, text/plain, UTF-8): what it says,
/// for the record; whether it is valid is `mta-sts.policy-syntax`'s.
fn fetched(domain: &str, url: &str, fetch: &HttpsFetch, policy: &Policy) -> Finding {
    let patterns: Vec<&str> = policy.mx.iter().map(|p| p.pattern.as_str()).collect();
    let mut f = Finding::new(
        "mta-sts.policy",
        Outcome::Pass,
        domain,
        format!("The MTA-STS policy was fetched from {url}."),
    );
    f = with_fetch(f, url, Some(fetch)).evidence("mx", &patterns);
    if let Some(mode) = policy.mode {
        f = f.evidence("mode", mode.as_str());
    }
    if let Some(age) = policy.max_age {
        f = f.evidence("max_age", age);
    }
    f
}

/// RFC 8461 §3.2 defines the policy as `key: value` lines: "version"
/// (`STSv1`), "mode", "max_age" (each "required once") and "mx" ("required
/// at least once, except when mode is 'none'" — quoted from the ABNF
/// comments). A policy with errors cannot be applied, so senders treat the
/// domain as having none (§3.3, paraphrased: no usable policy, delivery
/// as though MTA-STS were not implemented).
fn policy_syntax(domain: &str, url: &str, fetch: &HttpsFetch, policy: &Policy) -> Finding {
    const ID: &str = "mta-sts.policy-syntax";
    let body = fetch.body.as_deref().unwrap_or("");
    let located = |level: Level| {
        Bounded::of(
            (policy.diagnostics.iter()).filter(move |d| d.level == level && !MAX_AGE_CODES.contains(&d.code)),
            body,
        )
    };
    let errors = located(Level::Error);
    let warnings = located(Level::Warning);
    if errors.is_empty() {
        let mut f = Finding::new(ID, Outcome::Pass, domain, "The MTA-STS policy is syntactically valid.")
            .evidence("url", url)
            .evidence("line_endings", policy.line_endings);
        if !warnings.is_empty() {
            f = f.diagnostics("warnings", &warnings);
        }
        return f;
    }
    Finding::new(
        ID,
        Outcome::Fail,
        domain,
        format!(
            "{} error(s) in the MTA-STS policy at {url}: senders cannot apply it, so the domain has no MTA-STS policy for them.\n{}",
            errors.total(),
            errors.message()
        ),
    )
    .evidence("url", url)
    .evidence("body", body)
    .diagnostics("diagnostics", &errors)
    .remediation(format!(
        "Correct the lines shown. A valid policy has one `key: value` field per line, each line ending in CRLF: `version: STSv1`, `mode: enforce` (or `testing` at first), one `mx: <host>` line per MX host of {domain} (or a `*.` pattern for exactly one left-most label), and `max_age: {RECOMMENDED_MAX_AGE}` or more (at most {}); then change the id in the _mta-sts record.",
        mta_sts::MAX_AGE_LIMIT
    ))
}

/// RFC 8461 §5: ""enforce": In this mode, Sending MTAs MUST NOT deliver
/// the message to hosts that fail MX matching or certificate validation or
/// that do not support STARTTLS." In "testing" mode senders report failures
/// through TLS-RPT, "in any case, messages may be delivered as though there
/// were no MTA-STS validation failure" — so it does not yet protect; and
/// ""none": In this mode, Sending MTAs should treat the Policy Domain as
/// though it does not have any active policy."
fn mode(domain: &str, policy: &Policy) -> Finding {
    const ID: &str = "mta-sts.mode";
    let Some(mode) = policy.mode else {
        return Finding::new(ID, Outcome::NotApplicable, domain, "The policy states no mode.");
    };
    let f = |outcome, message: String| Finding::new(ID, outcome, domain, message).evidence("mode", mode.as_str());
    match mode {
        Mode::Enforce => f(
            Outcome::Pass,
            "The policy is in enforce mode: senders that implement MTA-STS do not deliver to an MX host that fails MX matching or certificate validation or does not offer STARTTLS (RFC 8461 §5).".into(),
        ),
        Mode::Testing => f(
            Outcome::Fail,
            "The policy is in testing mode: senders report TLS failures through TLS-RPT but deliver anyway, even over an unauthenticated or unencrypted connection (RFC 8461 §5), so MTA-STS is not yet protecting mail to the domain.".into(),
        )
        .remediation(format!(
            "Read the TLS-RPT reports (publish `_smtp._tls.{domain}. IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@{domain}\"` if there is none) until they show no failures and every MX host matches the policy and presents a valid certificate; then change the policy to `mode: enforce` and change the id in the _mta-sts record so senders fetch it."
        )),
        Mode::None => f(
            Outcome::Fail,
            "The policy is `mode: none`: senders treat the domain as though it had no active policy (RFC 8461 §5). This is how a domain withdraws MTA-STS; the record now protects nothing.".into(),
        )
        .severity(Severity::Low)
        .remediation(
            "If withdrawing MTA-STS is intended, keep this `mode: none` policy (with a new id in the record) until the max_age of the policy it replaced has passed, then remove the _mta-sts record and the policy (RFC 8461 §8.3, paraphrased). Otherwise publish `mode: testing` or `mode: enforce` with an mx line for every MX host, and change the id.",
        ),
    }
}

/// `seconds` as the largest whole unit that fits, for messages.
fn duration(seconds: u64) -> String {
    let plural = |n: u64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => plural(s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => plural(s / 3_600, "hour"),
        s if s >= 60 && s % 60 == 0 => plural(s / 60, "minute"),
        s => plural(s, "second"),
    }
}

/// RFC 8461 §3.2, of `max_age`: "To mitigate the risks of attacks at
/// policy refresh time, it is expected that this value typically be in
/// the range of weeks or greater." Under a day, a sender's cached policy
/// lapses between daily refreshes, and an attacker who blocks the policy
/// fetch gets the domain treated as having none. Above 31557600 it is a
/// syntax error (`mta-sts.policy-syntax`).
fn max_age(domain: &str, policy: &Policy) -> Finding {
    const ID: &str = "mta-sts.max-age";
    let Some(age) = policy.max_age else {
        return Finding::new(ID, Outcome::NotApplicable, domain, "The policy states no max_age.");
    };
    if policy.mode == Some(Mode::None) {
        return Finding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "The policy is `mode: none`, which withdraws MTA-STS: its lifetime protects nothing.",
        )
        .evidence("max_age", age);
    }
    if age < mta_sts::MAX_AGE_TOO_SHORT {
        return Finding::new(
            ID,
            Outcome::Fail,
            domain,
            format!(
                "`max_age: {age}` ({}) is under a day: senders' cached copies of the policy lapse before it protects much, and an attacker who blocks the policy fetch then gets the domain treated as having no policy. RFC 8461 §3.2 expects \"the range of weeks or greater\".",
                duration(age)
            ),
        )
        .evidence("max_age", age)
        .evidence("recommended_min", RECOMMENDED_MAX_AGE)
        .remediation(format!(
            "Set `max_age: {RECOMMENDED_MAX_AGE}` (one week) or more, e.g. `max_age: 1209600` (two weeks), at most {} (one year), and change the id in the _mta-sts record so senders fetch the new policy.",
            mta_sts::MAX_AGE_LIMIT
        ));
    }
    let note = if age < RECOMMENDED_MAX_AGE {
        format!("; RFC 8461 §3.2 expects weeks or more (e.g. {RECOMMENDED_MAX_AGE})")
    } else {
        String::new()
    };
    Finding::new(
        ID,
        Outcome::Pass,
        domain,
        format!("`max_age: {age}` ({}) is at least a day{note}.", duration(age)),
    )
    .evidence("max_age", age)
}

/// RFC 8461 §4.1: senders check that the MX host "matches at least one of
/// the "mx" values" of the policy (paraphrased), with a wildcard covering
/// exactly one left-most label ([`mx_matches`]); §5: in enforce mode they
/// "MUST NOT deliver the message to hosts that fail MX matching". An MX
/// the policy forgets is refused under enforce (critical) and reported
/// under testing (high).
fn mx_match(domain: &str, policy: &Policy, hosts: Option<&Result<Vec<MxHost>, String>>) -> Finding {
    const ID: &str = "mta-sts.mx-match";
    let patterns: Vec<&str> = policy.mx.iter().map(|p| p.pattern.as_str()).collect();
    let hosts = match hosts {
        None => {
            return Finding::new(
                ID,
                Outcome::NotApplicable,
                domain,
                "The policy is `mode: none`: senders apply no policy, so the MX hosts need not match it.",
            );
        }
        Some(Err(why)) => {
            return Finding::new(ID, Outcome::Indeterminate, domain, format!("Could not look up {why}."))
                .evidence("failed_lookups", [why]);
        }
        Some(Ok(hosts)) if hosts.is_empty() => {
            return Finding::new(
                ID,
                Outcome::NotApplicable,
                domain,
                "The domain has no MX host names to match against the policy.",
            )
            .evidence("mx_patterns", &patterns);
        }
        Some(Ok(hosts)) => hosts,
    };
    let pattern_of = |host: &str| patterns.iter().copied().find(|p| mx_matches(p, host));
    let uncovered: Vec<&str> = hosts
        .iter()
        .map(|h| h.name.as_str())
        .filter(|h| pattern_of(h).is_none())
        .collect();
    let mx: Vec<&str> = hosts.iter().map(|h| h.name.as_str()).collect();
    let enforce = policy.mode == Some(Mode::Enforce);
    if uncovered.is_empty() {
        let matches: BTreeMap<&str, &str> = mx.iter().filter_map(|h| Some((*h, pattern_of(h)?))).collect();
        return Finding::new(
            ID,
            Outcome::Pass,
            domain,
            format!("Every MX host ({}) matches an mx pattern of the policy.", mx.join(", ")),
        )
        .evidence("matches", matches)
        .evidence("mx_patterns", &patterns);
    }
    let consequence = if enforce {
        "In enforce mode senders that implement MTA-STS do not deliver to them (RFC 8461 §5); while another MX passes, mail goes there, and if none does it is deferred and in the end bounced."
    } else {
        "In testing mode senders still deliver to them but report each delivery as a policy failure; switching to enforce would make them refuse these hosts."
    };
    let mut f = Finding::new(
        ID,
        Outcome::Fail,
        domain,
        format!(
            "{} of {} MX host(s) match no mx pattern of the policy ({}): {}. {consequence}",
            uncovered.len(),
            mx.len(),
            if patterns.is_empty() { "none".to_string() } else { patterns.join(", ") },
            uncovered.join(", ")
        ),
    )
    .evidence("uncovered", &uncovered)
    .evidence("mx", &mx)
    .evidence("mx_patterns", &patterns)
    .remediation(format!(
        "Add {} to the policy (a `*.` pattern covers exactly one left-most label: `*.example.com` covers mx.example.com, not example.com or a.b.example.com), or correct the MX records if these hosts should not receive mail; then change the id in the _mta-sts record so senders fetch the new policy.",
        uncovered.iter().map(|h| format!("`mx: {h}`")).collect::<Vec<_>>().join(", ")
    ));
    if enforce {
        f = f.severity(Severity::Critical);
    }
    f
}

/// One probed address that a sender under an enforce policy would refuse.
#[derive(Debug, Serialize)]
struct Refused {
    host: String,
    address: std::net::IpAddr,
    status: &'static str,
    reason: String,
}

/// Why a sender would refuse this address (its `pkix_valid()` is false).
fn refusal(a: &AddressTls<'_>) -> String {
    let detail = a.probe.detail.as_deref().map(|d| format!(" ({d})")).unwrap_or_default();
    match a.probe.status {
        SmtpStatus::NoStarttls => "does not offer STARTTLS".into(),
        SmtpStatus::StarttlsRefused => format!(
            "refuses STARTTLS{}",
            a.probe.reply.as_deref().map(|r| format!(" ({r})")).unwrap_or_default()
        ),
        SmtpStatus::HandshakeFailed => format!("the TLS handshake fails{detail}"),
        _ => {
            let Some(report) = &a.chain else {
                return "presents no certificate".into();
            };
            let mut why = Vec::new();
            if let cert::Pkix::Untrusted { reason } = &report.pkix {
                why.push(format!("the certificate is not trusted: {reason}"));
            }
            match &report.leaf {
                None => why.push("the certificate cannot be read".into()),
                Some(leaf) if !leaf.valid_for_host() => why.push(format!(
                    "the certificate is for {}, not {}",
                    if leaf.names.is_empty() {
                        "no DNS name".to_string()
                    } else {
                        leaf.names.join(", ")
                    },
                    a.host
                )),
                Some(_) => {}
            }
            if why.is_empty() {
                "the certificate is not valid for the host".into()
            } else {
                why.join("; ")
            }
        }
    }
}

/// RFC 8461 §4.2: "The certificate presented by the receiving MTA MUST
/// not be expired and MUST chain to a root CA that is trusted by the
/// Sending MTA", and it "MUST have a subject alternative name (SAN)
/// [RFC5280] with a DNS-ID [RFC6125] matching the hostname"; §5: in
/// enforce mode senders "MUST NOT deliver the message to hosts that fail
/// MX matching or certificate validation or that do not support STARTTLS".
/// Checked on every address of every MX host the policy covers (uncovered
/// hosts are `mta-sts.mx-match`'s).
fn enforce_tls(
    ctx: &Context<'_>,
    domain: &str,
    view: &DnsView<'_>,
    policy: &Policy,
    hosts: Option<&Result<Vec<MxHost>, String>>,
) -> Finding {
    const ID: &str = "mta-sts.enforce-tls";
    let hosts = match (policy.mode, hosts) {
        (Some(Mode::Enforce), Some(Ok(hosts))) => hosts,
        (Some(Mode::Enforce), Some(Err(why))) => {
            return Finding::new(ID, Outcome::Indeterminate, domain, format!("Could not look up {why}."))
                .evidence("failed_lookups", [why]);
        }
        (mode, _) => {
            return Finding::new(
                ID,
                Outcome::NotApplicable,
                domain,
                format!(
                    "The policy is in {} mode, not enforce: senders deliver even when TLS to an MX fails, so no MX is refused.",
                    mode.map_or("no", Mode::as_str)
                ),
            );
        }
    };
    let covered: Vec<&MxHost> = hosts
        .iter()
        .filter(|h| policy.mx.iter().any(|p| mx_matches(&p.pattern, &h.name)))
        .collect();
    if covered.is_empty() {
        return Finding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "No MX host is covered by the policy (see mta-sts.mx-match), so none is checked here.",
        );
    }
    let mut valid = Vec::new();
    let mut refused = Vec::new();
    let mut unknown = Vec::new();
    for host in covered {
        if let Err(why) = &host.addresses {
            unknown.push(format!("{}: could not look up its addresses: {why}", host.name));
            continue;
        }
        for a in crate::transport::probe_host(ctx, view, host) {
            match a.pkix_valid() {
                Some(true) => valid.push(a.subject()),
                Some(false) => refused.push(Refused {
                    host: a.host.clone(),
                    address: a.address,
                    status: a.probe.status.as_str(),
                    reason: refusal(&a),
                }),
                None => unknown.push(format!("{}: {}", a.subject(), a.probe.describe())),
            }
        }
    }
    if !refused.is_empty() {
        let lines: Vec<String> = refused
            .iter()
            .map(|r| format!("- {} ({}): {}", r.host, r.address, r.reason))
            .collect();
        let mut f = Finding::new(
            ID,
            Outcome::Fail,
            domain,
            format!(
                "The policy is in enforce mode, and senders that implement MTA-STS will not deliver to {} MX address(es) that do not offer STARTTLS with a certificate valid for the MX name (RFC 8461 §4.2, §5):\n{}\nWhile another MX passes, mail goes there; if none does, it is deferred and in the end bounced.",
                refused.len(),
                lines.join("\n")
            ),
        )
        .evidence("refused", &refused)
        .remediation(
            "On each MX listed, offer STARTTLS with a certificate from a publicly trusted CA whose subjectAltName includes the MX host name, in date, served with its intermediate certificates. Until then, switch the policy to `mode: testing` (and change the id in the _mta-sts record) so senders do not refuse mail.",
        );
        if !valid.is_empty() {
            f = f.evidence("valid", &valid);
        }
        if !unknown.is_empty() {
            f = f.evidence("not_checked", &unknown);
        }
        return f;
    }
    if !unknown.is_empty() {
        return Finding::new(
            ID,
            Outcome::Indeterminate,
            domain,
            format!(
                "No MX address checked fails, but some could not be checked: {}.",
                unknown.join("; ")
            ),
        )
        .evidence("not_checked", &unknown)
        .evidence("valid", &valid);
    }
    if valid.is_empty() {
        return Finding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "The MX hosts the policy covers have no addresses, so there is nothing to connect to.",
        );
    }
    Finding::new(
        ID,
        Outcome::Pass,
        domain,
        format!(
            "Every address of every MX host the policy covers offers STARTTLS with a certificate valid for its name: {}.",
            valid.join(", ")
        ),
    )
    .evidence("valid", &valid)
}

/// RFC 8461 §3.1: "If the number of resulting records is not one, or if
/// the resulting record is syntactically invalid, senders MUST assume the
/// recipient domain does not have an available MTA-STS Policy".
fn syntax(domain: &str, r: &Record, example: &str) -> Finding {
    let errors = Bounded::of(
        (r.diagnostics.iter()).filter(|d| d.level == Level::Error && !ID_CODES.contains(&d.code)),
        &r.text,
    );
    let warnings = Bounded::of(r.diagnostics.iter().filter(|d| d.level == Level::Warning), &r.text);
    if errors.is_empty() {
        let mut f = Finding::new(
            "mta-sts.syntax",
            Outcome::Pass,
            domain,
            "The MTA-STS record is syntactically valid.",
        );
        if !warnings.is_empty() {
            f = f.diagnostics("warnings", &warnings);
        }
        return f;
    }
    Finding::new(
        "mta-sts.syntax",
        Outcome::Fail,
        domain,
        format!(
            "{} syntax error(s) in the MTA-STS record; senders treat the domain as having no MTA-STS policy.\n{}",
            errors.total(),
            errors.message()
        ),
    )
    .evidence("record", &r.text)
    .diagnostics("diagnostics", &errors)
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
    let found = Bounded::of(r.diagnostics.iter().filter(|d| ID_CODES.contains(&d.code)), &r.text);
    Finding::new(
        "mta-sts.id",
        Outcome::Fail,
        domain,
        format!(
            "The MTA-STS record has no valid `id`, so it is invalid and senders cannot tell when the policy changes.\n{}",
            found.message()
        ),
    )
    .evidence("record", &r.text)
    .diagnostics("diagnostics", &found)
    .remediation(format!(
        "Use an id of 1 to 32 letters and digits, e.g. the UTC time of the policy change: {example}; change it whenever the policy file changes."
    ))
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Finding, Outcome::*, RType, ScanOptions, Severity, SmtpProbe, SourceInfo, Status};

    use super::*;
    use crate::testutil::{Dns, fetched, find, outcome, tls_probe};
    use crate::tls::cert::Roots;
    use crate::tls::testcerts::{self, Ca};

    const D: &str = "example.com";
    const N: &str = "_mta-sts.example.com";
    const STS: &str = "mta-sts.example.com";
    const URL: &str = "https://mta-sts.example.com/.well-known/mta-sts.txt";
    const MX: &str = "mail.example.com";
    const MX_IP: &str = "192.0.2.25";
    const ENFORCE: &str = "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n";

    fn run_with(dns: &Dns, roots: &Roots) -> Vec<Finding> {
        let options = ScanOptions::default();
        let source = SourceInfo::default();
        let ctx = Context {
            roots,
            domain: D,
            options: &options,
            source: &source,
            now: testcerts::NOW,
        };
        dns.judge(|v| judge(&ctx, v))
    }

    fn run(dns: &Dns) -> Vec<Finding> {
        run_with(dns, &Roots::WebPki)
    }

    /// A record and an address for the policy host.
    fn record() -> Dns {
        Dns::new()
            .txt(N, &["v=STSv1; id=20160831085700Z;", "unrelated"])
            .a(STS, &["192.0.2.80"])
            .aaaa(STS, &[])
    }

    /// A record, the policy host, and this fetch result.
    fn serving(fetch: HttpsFetch) -> Dns {
        record().https(URL, fetch)
    }

    /// A test CA and a trust store holding only it.
    fn ca() -> (Ca, Roots) {
        let ca = Ca::new("Test CA");
        let roots = Roots::from_der(std::slice::from_ref(&ca.der)).unwrap();
        (ca, roots)
    }

    /// `body` served, MX `mail.example.com` at one address presenting
    /// `chain`.
    fn enforce_with(body: &str, probe: SmtpProbe) -> Dns {
        serving(fetched(body))
            .mx(D, &[(10, MX)])
            .a(MX, &[MX_IP])
            .aaaa(MX, &[])
            .smtp(MX, MX_IP, probe)
    }

    const RECORD_RULES: [&str; 3] = ["mta-sts.record", "mta-sts.syntax", "mta-sts.id"];

    fn all() -> impl Iterator<Item = &'static str> {
        RECORD_RULES.into_iter().chain(POLICY_RULES)
    }

    #[test]
    fn an_enforced_policy_covering_a_valid_mx_passes_every_rule() {
        let (ca, roots) = ca();
        let leaf = ca.valid_leaf(&[MX]);
        let f = run_with(&enforce_with(ENFORCE, tls_probe(&[leaf.der], "TLSv1.3")), &roots);
        for id in all() {
            assert_eq!(outcome(&f, id, D), Pass, "{id}: {f:#?}");
        }
        assert_eq!(f.len(), 9);
        let p = find(&f, "mta-sts.policy", D);
        assert_eq!(p.evidence["url"], URL);
        assert_eq!(p.evidence["mode"], "enforce");
        assert_eq!(p.evidence["max_age"], 604800);
        assert_eq!(p.evidence["mx"], serde_json::json!([MX]));
        let t = find(&f, "mta-sts.enforce-tls", D);
        assert_eq!(
            t.evidence["valid"],
            serde_json::json!(["mail.example.com (192.0.2.25)"])
        );
    }

    #[test]
    fn no_record_is_not_applicable() {
        for dns in [
            Dns::new().status(N, RType::Txt, Status::NxDomain),
            Dns::new().txt(N, &["v=spf1 -all"]),
        ] {
            let f = run(&dns);
            for id in all() {
                assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
            }
        }
    }

    #[test]
    fn failed_lookup_is_indeterminate_everywhere() {
        let f = run(&Dns::new().status(N, RType::Txt, Status::Timeout));
        for id in all() {
            assert_eq!(outcome(&f, id, D), Indeterminate, "{id}");
        }
    }

    #[test]
    fn two_records_or_a_lookalike_mean_no_policy() {
        let f = run(&Dns::new().txt(N, &["v=STSv1; id=1", "v=STSv1; id=2"]));
        let r = find(&f, "mta-sts.record", D);
        assert_eq!(r.outcome, Fail);
        assert!(r.message.contains("no MTA-STS policy"));
        for id in POLICY_RULES {
            assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
        }
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
        // An invalid record is no record (RFC 8461 §3.1): no policy is
        // fetched (the test gives no answers for it), none is judged.
        let f = run(&Dns::new().txt(N, &["v=STSv1;"]));
        assert_eq!(outcome(&f, "mta-sts.id", D), Fail);
        for id in POLICY_RULES {
            let p = find(&f, id, D);
            assert_eq!(p.outcome, NotApplicable, "{id}");
            assert!(p.message.contains("record is invalid"), "{}", p.message);
        }
    }

    /// The policy rules of `f` other than `mta-sts.policy` are not
    /// applicable: there is no policy to judge.
    fn rest_not_applicable(f: &[Finding]) {
        for id in &POLICY_RULES[1..] {
            assert_eq!(outcome(f, id, D), NotApplicable, "{id}: {f:#?}");
        }
    }

    #[test]
    fn a_policy_host_without_an_address_fails_the_policy() {
        let dns = Dns::new()
            .txt(N, &["v=STSv1; id=1"])
            .status(STS, RType::A, Status::NxDomain)
            .status(STS, RType::Aaaa, Status::NxDomain);
        let f = run(&dns);
        let p = find(&f, "mta-sts.policy", D);
        assert_eq!(p.outcome, Fail, "{p:#?}");
        assert!(
            p.message.contains("mta-sts.example.com has no address"),
            "{}",
            p.message
        );
        assert_eq!(p.evidence["host"], STS);
        assert!(p.remediation.as_deref().unwrap().contains("A and/or AAAA"));
        rest_not_applicable(&f);
    }

    #[test]
    fn a_redirect_is_not_followed_and_fails_the_policy() {
        let mut redirect = HttpsFetch::status(HttpsStatus::Redirect, None);
        redirect.http_status = Some(301);
        redirect.location = Some("https://www.example.com/mta-sts.txt".into());
        redirect.address = Some("192.0.2.80:443".parse().unwrap());
        let f = run(&serving(redirect));
        let p = find(&f, "mta-sts.policy", D);
        assert_eq!(p.outcome, Fail);
        assert!(
            p.message
                .contains("HTTP 301 redirecting to https://www.example.com/mta-sts.txt")
                && p.message.contains("MUST NOT be followed"),
            "{}",
            p.message
        );
        assert_eq!(p.evidence["location"], "https://www.example.com/mta-sts.txt");
        assert_eq!(p.evidence["http_status"], 301);
        assert_eq!(p.evidence["address"], "192.0.2.80:443");
        assert_eq!(p.evidence["status"], "redirect");
        rest_not_applicable(&f);
    }

    #[test]
    fn other_fetch_failures_fail_the_policy_with_their_evidence() {
        let mut not_found = HttpsFetch::status(HttpsStatus::HttpStatus, None);
        not_found.http_status = Some(404);
        let mut big = HttpsFetch::status(HttpsStatus::TooLarge, Some("over 65536 bytes".into()));
        big.address = Some("192.0.2.80:443".parse().unwrap());
        let mut html = fetched("<html>policy</html>");
        html.content_type = Some("text/html; charset=utf-8".into());
        let mut untyped = fetched(ENFORCE);
        untyped.content_type = None;
        let cases = [
            (not_found, "HTTP 404", "http_status"),
            (big, "larger than 64 KiB", "detail"),
            (
                HttpsFetch::status(HttpsStatus::NotUtf8, Some("invalid byte at offset 3".into())),
                "not UTF-8",
                "detail",
            ),
            (
                HttpsFetch::status(HttpsStatus::Unreachable, Some("connection refused".into())),
                "accepted an HTTPS connection (connection refused)",
                "detail",
            ),
            (html, "\"text/html; charset=utf-8\", not text/plain", "content_type"),
            (untyped, "no Content-Type", "url"),
        ];
        for (fetch, says, key) in cases {
            let f = run(&serving(fetch));
            let p = find(&f, "mta-sts.policy", D);
            assert_eq!(p.outcome, Fail, "{says}: {p:#?}");
            assert!(p.message.contains(says), "{says}: {}", p.message);
            assert!(p.evidence.contains_key(key), "{key}: {:?}", p.evidence);
            if says.contains("text/plain") || says.contains("Content-Type") {
                let fix = p.remediation.as_deref().unwrap();
                assert!(fix.contains("`Content-Type: text/plain`"), "{fix}");
            }
            rest_not_applicable(&f);
        }
    }

    #[test]
    fn a_policy_certificate_for_another_name_fails_with_the_names_it_has() {
        let (ca, roots) = ca();
        let leaf = ca.valid_leaf(&["www.example.com"]);
        let mut tls = HttpsFetch::status(HttpsStatus::TlsFailed, Some("invalid peer certificate".into()));
        tls.tls_problem = Some("name".into());
        tls.chain = vec![mailwarden_model::probe::Der(leaf.der)];
        let f = run_with(&serving(tls), &roots);
        let p = find(&f, "mta-sts.policy", D);
        assert_eq!(p.outcome, Fail);
        assert!(
            p.message
                .contains("its certificate is not valid for mta-sts.example.com"),
            "{}",
            p.message
        );
        assert_eq!(p.evidence["tls_problem"], "name");
        assert_eq!(
            p.evidence["certificate"]["names"],
            serde_json::json!(["www.example.com"])
        );
        assert_eq!(p.evidence["certificate"]["pkix"]["verdict"], "trusted");
        assert!(p.remediation.as_deref().unwrap().contains("publicly trusted CA"));
        rest_not_applicable(&f);
    }

    #[test]
    fn a_policy_that_could_not_be_fetched_or_resolved_is_indeterminate() {
        let no_https = HttpsFetch::status(HttpsStatus::NotProbed, Some("HTTPS fetches are off".into()));
        let refused = HttpsFetch::status(HttpsStatus::EgressRefused, Some("192.0.2.80 is not global".into()));
        let lookup = Dns::new()
            .txt(N, &["v=STSv1; id=1"])
            .status(STS, RType::A, Status::Timeout)
            .status(STS, RType::Aaaa, Status::NoData);
        for (dns, says) in [
            (serving(no_https), "HTTPS fetches are off"),
            (serving(refused), "not global"),
            (lookup, "mta-sts.example.com/A"),
        ] {
            let f = run(&dns);
            for id in POLICY_RULES {
                let p = find(&f, id, D);
                assert_eq!(p.outcome, Indeterminate, "{id}");
                assert!(p.message.contains(says), "{id}: {}", p.message);
            }
        }
    }

    #[test]
    fn policy_syntax_errors_fail_with_lines_and_carets() {
        let body = "version: STSv1\r\nmode: Enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n";
        let f = run(&serving(fetched(body)));
        assert_eq!(outcome(&f, "mta-sts.policy", D), Pass, "fetched, just not valid");
        let s = find(&f, "mta-sts.policy-syntax", D);
        assert_eq!(s.outcome, Fail);
        assert!(
            s.message.contains("line 2 (mode)") && s.message.contains("mode: Enforce\n      ^^^^^^^"),
            "{}",
            s.message
        );
        assert_eq!(s.evidence["diagnostics"][0]["line"], 2);
        assert_eq!(s.evidence["diagnostics"][0]["caret"], "mode: Enforce\n      ^^^^^^^");
        assert!(s.remediation.as_deref().unwrap().contains("version: STSv1"));
        // Senders cannot apply it: the content rules have nothing to judge
        // (and MX is not even asked).
        for id in CONTENT_RULES {
            assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
        }
        // Over a year is a syntax error, not a max-age finding.
        let body = "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 31557601\r\n";
        let f = run(&serving(fetched(body)));
        let s = find(&f, "mta-sts.policy-syntax", D);
        assert_eq!(s.outcome, Fail);
        assert!(s.message.contains("max-age-too-long"), "{}", s.message);
        assert_eq!(outcome(&f, "mta-sts.max-age", D), NotApplicable);
    }

    #[test]
    fn policy_warnings_are_evidence_on_a_pass() {
        let body = "version: STSv1\nmode: none\nmax_age: 86400\nmode: enforce\n";
        let f = run(&serving(fetched(body)));
        let s = find(&f, "mta-sts.policy-syntax", D);
        assert_eq!(s.outcome, Pass, "{s:#?}");
        assert_eq!(s.evidence["line_endings"], "lf");
        let codes: Vec<&str> = (s.evidence["warnings"].as_array().unwrap().iter())
            .map(|w| w["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["lf-line-endings", "duplicate-key"]);
        // The first mode counts: none.
        assert_eq!(find(&f, "mta-sts.mode", D).evidence["mode"], "none");
    }

    #[test]
    fn testing_mode_is_not_yet_protecting() {
        let body = "version: STSv1\r\nmode: testing\r\nmx: mail.example.com\r\nmax_age: 604800\r\n";
        let dns = serving(fetched(body)).mx(D, &[(10, MX)]).a(MX, &[MX_IP]).aaaa(MX, &[]);
        let f = run(&dns);
        let m = find(&f, "mta-sts.mode", D);
        assert_eq!(m.outcome, Fail);
        assert!(!m.severity_override, "the catalogue's medium");
        assert!(m.message.contains("not yet protecting"), "{}", m.message);
        let fix = m.remediation.as_deref().unwrap();
        assert!(fix.contains("TLS-RPT") && fix.contains("mode: enforce"), "{fix}");
        // Not enforced: no probe is asked for (the test gives none).
        let t = find(&f, "mta-sts.enforce-tls", D);
        assert_eq!(t.outcome, NotApplicable);
        assert!(t.message.contains("testing mode"), "{}", t.message);
        assert_eq!(outcome(&f, "mta-sts.mx-match", D), Pass);
    }

    #[test]
    fn mode_none_is_a_withdrawal_and_low() {
        let body = "version: STSv1\r\nmode: none\r\nmax_age: 86400\r\n";
        let f = run(&serving(fetched(body)));
        let m = find(&f, "mta-sts.mode", D);
        assert_eq!(m.outcome, Fail);
        assert!(m.severity_override);
        assert_eq!(m.severity, Severity::Low);
        assert!(m.message.contains("withdraws"), "{}", m.message);
        // Nothing else to judge, and MX is not asked.
        for id in ["mta-sts.max-age", "mta-sts.mx-match", "mta-sts.enforce-tls"] {
            assert_eq!(outcome(&f, id, D), NotApplicable, "{id}");
        }
    }

    #[test]
    fn a_max_age_under_a_day_fails_and_a_day_passes() {
        let (ca, roots) = ca();
        let probe = || tls_probe(&[ca.valid_leaf(&[MX]).der], "TLSv1.3");
        let short = ENFORCE.replace("604800", "3600");
        let f = run_with(&enforce_with(&short, probe()), &roots);
        let a = find(&f, "mta-sts.max-age", D);
        assert_eq!(a.outcome, Fail);
        assert!(
            a.message.contains("`max_age: 3600` (1 hour) is under a day") && a.message.contains("weeks"),
            "{}",
            a.message
        );
        assert!(a.remediation.as_deref().unwrap().contains("max_age: 604800"));
        // Judged here, so not repeated as a syntax warning.
        let s = find(&f, "mta-sts.policy-syntax", D);
        assert_eq!(s.outcome, Pass);
        assert!(!s.evidence.contains_key("warnings"), "{s:#?}");
        let day = ENFORCE.replace("604800", "86400");
        let f = run_with(&enforce_with(&day, probe()), &roots);
        let a = find(&f, "mta-sts.max-age", D);
        assert_eq!(a.outcome, Pass);
        assert!(a.message.contains("expects weeks"), "{}", a.message);
    }

    #[test]
    fn an_mx_outside_every_pattern_fails_critical_under_enforce() {
        let (ca, roots) = ca();
        let dns = enforce_with(ENFORCE, tls_probe(&[ca.valid_leaf(&[MX]).der], "TLSv1.3"))
            .mx(D, &[(10, MX), (20, "backup.example.net")])
            .a("backup.example.net", &["192.0.2.26"])
            .aaaa("backup.example.net", &[]);
        // The uncovered backup is not probed: the test gives no probe.
        let f = run_with(&dns, &roots);
        let m = find(&f, "mta-sts.mx-match", D);
        assert_eq!(m.outcome, Fail);
        assert_eq!(m.severity, Severity::Critical);
        assert!(m.severity_override);
        assert_eq!(m.evidence["uncovered"], serde_json::json!(["backup.example.net"]));
        assert_eq!(m.evidence["mx_patterns"], serde_json::json!([MX]));
        assert!(
            m.message.contains("1 of 2 MX host(s)") && m.message.contains("do not deliver to them"),
            "{}",
            m.message
        );
        assert!(m.remediation.as_deref().unwrap().contains("`mx: backup.example.net`"));
        assert_eq!(outcome(&f, "mta-sts.enforce-tls", D), Pass);
    }

    #[test]
    fn an_uncovered_mx_under_testing_is_high_and_a_wildcard_covers_one_label() {
        let body = "version: STSv1\r\nmode: testing\r\nmx: *.example.com\r\nmax_age: 604800\r\n";
        let dns = serving(fetched(body))
            .mx(D, &[(10, MX), (20, "a.b.example.com")])
            .a(MX, &[MX_IP])
            .aaaa(MX, &[])
            .a("a.b.example.com", &["192.0.2.26"])
            .aaaa("a.b.example.com", &[]);
        let f = run(&dns);
        let m = find(&f, "mta-sts.mx-match", D);
        assert_eq!(m.outcome, Fail);
        assert!(!m.severity_override, "the catalogue's high");
        assert_eq!(m.evidence["uncovered"], serde_json::json!(["a.b.example.com"]));
        assert!(m.message.contains("testing mode"), "{}", m.message);
        let dns = serving(fetched(body))
            .mx(D, &[(10, "MAIL.example.com.")])
            .a(MX, &[MX_IP])
            .aaaa(MX, &[]);
        let f = run(&dns);
        let m = find(&f, "mta-sts.mx-match", D);
        assert_eq!(m.outcome, Pass);
        assert_eq!(m.evidence["matches"][MX], "*.example.com");
    }

    #[test]
    fn mx_match_is_indeterminate_when_mx_cannot_be_looked_up() {
        let f = run(&serving(fetched(ENFORCE)).status(D, RType::Mx, Status::ServFail));
        for id in ["mta-sts.mx-match", "mta-sts.enforce-tls"] {
            assert_eq!(outcome(&f, id, D), Indeterminate, "{id}");
        }
        let f = run(&serving(fetched(ENFORCE)).status(D, RType::Mx, Status::NoData));
        assert_eq!(outcome(&f, "mta-sts.mx-match", D), NotApplicable);
    }

    #[test]
    fn enforce_fails_for_an_mx_without_a_valid_certificate_or_starttls() {
        let (ca, roots) = ca();
        let other = Ca::new("Other CA");
        let cases = [
            (
                tls_probe(&[other.valid_leaf(&[MX]).der], "TLSv1.3"),
                "the certificate is not trusted",
            ),
            (
                tls_probe(&[ca.valid_leaf(&["other.example.net"]).der], "TLSv1.3"),
                "the certificate is for other.example.net, not mail.example.com",
            ),
            (
                tls_probe(&[ca.leaf(&[MX], (2020, 1, 1), (2021, 1, 1)).der], "TLSv1.3"),
                "expired",
            ),
            (
                SmtpProbe::status(SmtpStatus::NoStarttls, None),
                "does not offer STARTTLS",
            ),
            (
                SmtpProbe::status(SmtpStatus::HandshakeFailed, Some("alert: protocol version".into())),
                "the TLS handshake fails (alert: protocol version)",
            ),
        ];
        for (probe, says) in cases {
            let f = run_with(&enforce_with(ENFORCE, probe), &roots);
            let t = find(&f, "mta-sts.enforce-tls", D);
            assert_eq!(t.outcome, Fail, "{says}: {t:#?}");
            assert!(
                t.message.contains("- mail.example.com (192.0.2.25): ") && t.message.contains(says),
                "{says}: {}",
                t.message
            );
            assert_eq!(t.evidence["refused"][0]["host"], MX);
            assert!(t.remediation.as_deref().unwrap().contains("mode: testing"));
            // The record, the policy and the match are all fine.
            assert_eq!(outcome(&f, "mta-sts.mx-match", D), Pass);
        }
    }

    #[test]
    fn enforce_is_indeterminate_when_an_mx_could_not_be_probed() {
        let (_, roots) = ca();
        let refused = SmtpProbe::status(SmtpStatus::EgressRefused, Some("192.0.2.25 is not global".into()));
        let f = run_with(&enforce_with(ENFORCE, refused), &roots);
        let t = find(&f, "mta-sts.enforce-tls", D);
        assert_eq!(t.outcome, Indeterminate);
        assert!(t.message.contains("egress-refused"), "{}", t.message);
        // A failure elsewhere outweighs the unknown.
        let (ca, roots) = ca();
        let dns = enforce_with(ENFORCE, SmtpProbe::status(SmtpStatus::NotProbed, None))
            .mx(D, &[(10, MX), (20, "mx2.example.com")])
            .a("mx2.example.com", &["192.0.2.26"])
            .aaaa("mx2.example.com", &[])
            .smtp(
                "mx2.example.com",
                "192.0.2.26",
                tls_probe(&[ca.valid_leaf(&[MX]).der], "TLSv1.3"),
            );
        let body = ENFORCE.replace("mx: mail.example.com", "mx: *.example.com");
        let dns = Dns(dns.0, dns.1).https(URL, fetched(&body));
        let f = run_with(&dns, &roots);
        let t = find(&f, "mta-sts.enforce-tls", D);
        assert_eq!(t.outcome, Fail, "{t:#?}");
        assert_eq!(t.evidence["refused"][0]["host"], "mx2.example.com");
        assert_eq!(t.evidence["not_checked"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn mx_patterns_match_as_rfc_8461_section_4_1_says() {
        assert!(mx_matches("*.example.com", "mx.example.com"));
        assert!(!mx_matches("*.example.com", "example.com"));
        assert!(!mx_matches("*.example.com", "a.b.example.com"));
        assert!(!mx_matches("*.example.com", ".example.com"));
        assert!(mx_matches("mail.example.com", "MAIL.Example.COM"));
        assert!(mx_matches("*.EXAMPLE.com", "mx.example.com."));
        assert!(mx_matches("mail.example.com.", "mail.example.com"));
        assert!(!mx_matches("mail.example.com", "mail.example.com.evil.test"));
        assert!(!mx_matches("mail.example.com", "other.example.com"));
        assert!(!mx_matches("example.com", "mx.example.com"), "no implicit wildcard");
    }

    #[test]
    fn policy_state_reports_coverage_and_mode() {
        let dns = serving(fetched(ENFORCE));
        let view = mailwarden_model::DnsView::with_probes(&dns.0, &dns.1);
        let state = policy_state(D, &view);
        assert_eq!(state.mode(), Some(Mode::Enforce));
        assert_eq!(state.covers("mail.example.com."), Some(true));
        assert_eq!(state.covers("backup.example.com"), Some(false));
        let dns = serving(HttpsFetch::status(HttpsStatus::NotCollected, None));
        let view = mailwarden_model::DnsView::with_probes(&dns.0, &dns.1);
        let state = policy_state(D, &view);
        assert_eq!(state.covers(MX), None);
        assert_eq!(state.mode(), None);
    }
}
