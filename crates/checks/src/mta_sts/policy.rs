//! The MTA-STS policy file: whether it can be fetched (RFC 8461 §3.2,
//! §3.3), its syntax, mode (§5) and max_age (§3.2).

use mailwarden_model::{DnsView, HttpsFetch, HttpsStatus, Outcome, RawFinding, Severity};
use mailwarden_records::mta_sts::{self, Level, Mode, Policy};
use serde::Serialize;

use super::enforce::{enforce_tls, mx_match};
use super::{CONTENT_RULES, MAX_AGE_CODES, POLICY_RULES, RECOMMENDED_MAX_AGE, every};
use crate::Context;
use crate::facts::Facts;
use crate::facts::sts::{PolicyState, mx_matches, policy_url};
use crate::located::{Bounded, WithDiagnostics};
use crate::rule;
use crate::tls::cert;

/// What [`policy_findings`] reads, building no findings: the policy
/// and, unless it is invalid or in mode none, the MX hosts and, in
/// enforce mode, the probes of every host the policy covers.
pub(super) fn policy_reads(view: &DnsView<'_>, facts: &Facts<'_, '_>) {
    let (PolicyState::Invalid {
        policy: Some(policy), ..
    }
    | PolicyState::Active { policy, .. }) = facts.policy_state(view)
    else {
        return;
    };
    if !policy.is_valid() || policy.mode == Some(Mode::None) {
        return;
    }
    if let (Some(Mode::Enforce), Ok(hosts)) = (policy.mode, facts.mx_hosts(view)) {
        let covered = hosts
            .iter()
            .filter(|h| policy.mx.iter().any(|p| mx_matches(&p.pattern, &h.name)));
        for host in covered {
            facts.probe_host(view, host);
        }
    }
}

/// The findings about the policy of a domain with one MTA-STS record.
pub(super) fn policy_findings(
    ctx: &Context<'_>,
    domain: &str,
    view: &DnsView<'_>,
    facts: &Facts<'_, '_>,
) -> Vec<RawFinding> {
    let url = policy_url(domain);
    let (fetch, policy) = match facts.policy_state(view) {
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
                    RawFinding::new(
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
    let hosts = (policy.mode != Some(Mode::None)).then(|| facts.mx_hosts(view));
    out.push(mode(domain, policy));
    out.push(max_age(domain, policy));
    out.push(mx_match(domain, policy, hosts));
    out.push(enforce_tls(domain, view, facts, policy, hosts));
    out
}

/// A record whose policy could not be fetched or was served as something
/// other than text/plain: `mta-sts.policy` fails, nothing else applies.
fn unfetchable(ctx: &Context<'_>, domain: &str, url: &str, why: &str, fetch: Option<&HttpsFetch>) -> Vec<RawFinding> {
    let mut out = vec![unreachable(ctx, domain, url, why, fetch)];
    out.extend(every(
        POLICY_RULES.into_iter().filter(|id| *id != rule::MTA_STS_POLICY),
        Outcome::NotApplicable,
        domain,
        "The policy could not be fetched (see mta-sts.policy), so there is no policy to check.",
    ));
    out
}

/// Attach what the fetch saw: the URL, the addresses tried and the one
/// that answered, the HTTP status, redirect target, content type, TLS
/// problem and version, and the client's own words.
fn with_fetch(mut f: RawFinding, url: &str, fetch: Option<&HttpsFetch>) -> RawFinding {
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
fn unreachable(ctx: &Context<'_>, domain: &str, url: &str, why: &str, fetch: Option<&HttpsFetch>) -> RawFinding {
    let host = format!("mta-sts.{domain}");
    let (reason, remediation) = unreachable_reason(domain, url, why, fetch);
    let mut f = RawFinding::new(
        rule::MTA_STS_POLICY,
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
fn fetched(domain: &str, url: &str, fetch: &HttpsFetch, policy: &Policy) -> RawFinding {
    let patterns: Vec<&str> = policy.mx.iter().map(|p| p.pattern.as_str()).collect();
    let mut f = RawFinding::new(
        rule::MTA_STS_POLICY,
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
fn policy_syntax(domain: &str, url: &str, fetch: &HttpsFetch, policy: &Policy) -> RawFinding {
    const ID: &str = rule::MTA_STS_POLICY_SYNTAX;
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
        let mut f = RawFinding::new(ID, Outcome::Pass, domain, "The MTA-STS policy is syntactically valid.")
            .evidence("url", url)
            .evidence("line_endings", policy.line_endings);
        if !warnings.is_empty() {
            f = f.diagnostics("warnings", &warnings);
        }
        return f;
    }
    RawFinding::new(
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
fn mode(domain: &str, policy: &Policy) -> RawFinding {
    const ID: &str = rule::MTA_STS_MODE;
    let Some(mode) = policy.mode else {
        return RawFinding::new(ID, Outcome::NotApplicable, domain, "The policy states no mode.");
    };
    let f = |outcome, message: String| RawFinding::new(ID, outcome, domain, message).evidence("mode", mode.as_str());
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
fn max_age(domain: &str, policy: &Policy) -> RawFinding {
    const ID: &str = rule::MTA_STS_MAX_AGE;
    let Some(age) = policy.max_age else {
        return RawFinding::new(ID, Outcome::NotApplicable, domain, "The policy states no max_age.");
    };
    if policy.mode == Some(Mode::None) {
        return RawFinding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "The policy is `mode: none`, which withdraws MTA-STS: its lifetime protects nothing.",
        )
        .evidence("max_age", age);
    }
    if age < mta_sts::MAX_AGE_TOO_SHORT {
        return RawFinding::new(
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
    RawFinding::new(
        ID,
        Outcome::Pass,
        domain,
        format!("`max_age: {age}` ({}) is at least a day{note}.", duration(age)),
    )
    .evidence("max_age", age)
}
