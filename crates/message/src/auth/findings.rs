//! Findings from verified authentication: `message.dkim`, `message.arc`,
//! `message.spf`, `message.dmarc`, `message.auth-results-mismatch`.

use mailwarden_model::{Outcome, RawFinding, Severity};

use super::{AuthReport, Claim, DkimVerdict};
use crate::Analysis;

pub fn findings(a: &Analysis, r: &AuthReport) -> Vec<RawFinding> {
    let mut out = dkim(a, r);
    out.push(arc(a, r));
    out.push(spf(a, r));
    out.push(dmarc(a, r));
    out.push(mismatch(a, r));
    out
}

fn subject(a: &Analysis) -> &str {
    &a.label
}

fn dkim(a: &Analysis, r: &AuthReport) -> Vec<RawFinding> {
    let id = "message.dkim";
    if r.truncated {
        return vec![RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            "The message was cut at the size cap: its signatures cannot be verified.",
        )];
    }
    if r.dkim.is_empty() {
        return vec![RawFinding::new(
            id,
            Outcome::Fail,
            subject(a),
            "The message carries no DKIM signature.",
        )];
    }
    r.dkim.iter().map(|s| signature(a, r, s)).collect()
}

fn signature(a: &Analysis, r: &AuthReport, s: &DkimVerdict) -> RawFinding {
    let id = "message.dkim";
    let who = format!("DKIM signature d={} s={} ({})", s.domain, s.selector, s.algorithm);
    let reason = s.reason.clone().unwrap_or_default();
    let f = match s.result.as_str() {
        "pass" => RawFinding::new(id, Outcome::Pass, subject(a), format!("{who} verifies.")),
        "temperror" => RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!("{who} could not be verified: the key lookup failed ({reason})."),
        ),
        _ if s.body_modified => return modified(a, r, s, &who),
        _ if reason.contains("expired") => RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!(
                "{who} has expired (x=): it may have verified when the message arrived; the receiver's Authentication-Results tell."
            ),
        ),
        "permerror" if reason.contains("not found") || reason.contains("Record not found") => RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!(
                "{who}: no key is published at {}._domainkey.{} now ({reason}); it may have been rotated since the message was sent.",
                s.selector, s.domain
            ),
        ),
        _ if list_tagged_subject(a) => {
            return RawFinding::new(
                id,
                Outcome::Fail,
                subject(a),
                format!(
                    "{who} does not verify: {} ({reason}). The message came through a mailing list that tags the Subject ({:?}): the signed header fields were changed by the list, which is list damage, not forgery.",
                    s.result,
                    a.headers.first("subject").map(|f| f.value.as_str()).unwrap_or("")
                ),
            )
            .evidence("signature", s)
            .severity(Severity::Low);
        }
        _ => RawFinding::new(
            id,
            Outcome::Fail,
            subject(a),
            format!(
                "{who} does not verify: {} ({reason}). The signed header fields were changed after signing, or the signature is forged.",
                s.result
            ),
        ),
    };
    f.evidence("signature", s)
}

/// A mailing list (List-Id) whose tag starts the Subject (`[team] ...`):
/// lists that tag subjects break every signature over Subject.
fn list_tagged_subject(a: &Analysis) -> bool {
    a.headers.first("list-id").is_some()
        && a.headers
            .first("subject")
            .is_some_and(|f| f.value.trim_start().trim_start_matches("Re: ").starts_with('['))
}

/// The body changed after signing: mailing-list or forwarding damage when
/// the message shows a list or an ARC chain, tampering or damage otherwise.
fn modified(a: &Analysis, r: &AuthReport, s: &DkimVerdict, who: &str) -> RawFinding {
    let list = a.headers.first("list-id").map(|f| f.value.clone());
    let by_list = list.is_some() || r.arc.sets > 0;
    let context = match (&list, r.arc.sets) {
        (Some(l), _) => format!(
            "the message came through the mailing list {l}, which typically adds footers or re-encodes the body: list damage, not forgery"
        ),
        (None, n) if n > 0 => format!(
            "an ARC chain of {n} set(s) records intermediaries: forwarding damage, not forgery (ARC result: {})",
            r.arc.result
        ),
        _ => {
            "no mailing list or ARC chain explains it: the body was altered in transit or the signature is not genuine"
                .into()
        }
    };
    let f = RawFinding::new(
        "message.dkim",
        Outcome::Fail,
        subject(a),
        format!("{who} does not verify: the body hash does not match, so the body changed after signing; {context}."),
    )
    .evidence("signature", s)
    .evidence("body_modified", true);
    if by_list { f.severity(Severity::Low) } else { f }
}

fn arc(a: &Analysis, r: &AuthReport) -> RawFinding {
    let id = "message.arc";
    let reason = r.arc.reason.clone().unwrap_or_default();
    let f = match r.arc.result.as_str() {
        "none" if r.arc.sets == 0 => {
            return RawFinding::new(
                id,
                Outcome::NotApplicable,
                subject(a),
                "No ARC sets: the message was not sealed.",
            );
        }
        "pass" => RawFinding::new(
            id,
            Outcome::Pass,
            subject(a),
            format!("The ARC chain of {} set(s) validates.", r.arc.sets),
        ),
        "temperror" => RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!("The ARC chain could not be validated: {reason}."),
        ),
        other => RawFinding::new(
            id,
            Outcome::Fail,
            subject(a),
            format!(
                "The ARC chain of {} set(s) does not validate: {other} ({reason}).",
                r.arc.sets
            ),
        ),
    };
    f.evidence("arc", &r.arc)
}

fn spf(a: &Analysis, r: &AuthReport) -> RawFinding {
    let id = "message.spf";
    let Some(s) = &r.spf else {
        return RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            "The trusted hop recorded no client address, so SPF cannot be evaluated (give --trusted-hop the name of your receiving server).",
        );
    };
    let text = format!("SPF for {} from {}: {}", s.sender, s.ip, s.result);
    let helo = r
        .helo_spf
        .as_ref()
        .map(|h| format!("; HELO {}: {}", h.domain, h.result))
        .unwrap_or_default();
    let f = match s.result.as_str() {
        "pass" => RawFinding::new(id, Outcome::Pass, subject(a), format!("{text}{helo}.")),
        "temperror" => RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!("{text}: the DNS lookups failed{helo}."),
        ),
        _ => RawFinding::new(
            id,
            Outcome::Fail,
            subject(a),
            format!("{text}: {}{helo}.", spf_failure(&s.result, &s.domain)),
        ),
    };
    let f = cross_checked(f, "check_host()", &s.result, s.mail_auth.as_deref()).evidence("spf", s);
    match &r.helo_spf {
        Some(h) => {
            let note = h
                .mail_auth
                .as_deref()
                .filter(|m| *m != h.result)
                .map(|m| format!(" (for the HELO identity mail-auth's check_host() finds {m}.)"))
                .unwrap_or_default();
            let message = format!("{}{note}", f.message);
            RawFinding { message, ..f }.evidence("helo_spf", h)
        }
        None => f,
    }
}

/// What a non-passing, definite SPF result means for the sender.
fn spf_failure(result: &str, domain: &str) -> String {
    match result {
        "none" => format!("{domain} publishes no SPF record, so nothing authorises the sending address"),
        "permerror" => format!("the SPF record of {domain} cannot be evaluated (RFC 7208 §2.6.7 permerror)"),
        "neutral" => format!("{domain} says neither yes nor no about the sending address (?all)"),
        _ => format!("the sending address is not authorised by {domain}"),
    }
}

/// A verdict cross-checked with mail-auth's over the same DNS answers.
/// Agreement changes nothing. A mail-auth temperror where ours is definite
/// means it could not re-evaluate from our answers (a name it asks that
/// ours did not, or `exists:`; see `spf_cross`): noted, ours stands. Any
/// other difference leaves two verifiers disagreeing over the same
/// evidence, so the result is not certain: indeterminate, both named.
fn cross_checked(f: RawFinding, what: &str, ours: &str, theirs: Option<&str>) -> RawFinding {
    let Some(theirs) = theirs.filter(|t| *t != ours) else {
        return f;
    };
    if theirs == "temperror" {
        let message = format!(
            "{} (mail-auth's {what} could not re-evaluate this from the same DNS answers: temperror.)",
            f.message
        );
        return RawFinding { message, ..f };
    }
    let message = format!(
        "{} But mail-auth's {what} finds {theirs} over the same DNS answers: the two verifiers disagree, so the result ({ours}) is not certain; compare the trace in the evidence.",
        f.message
    );
    RawFinding {
        message,
        outcome: Outcome::Indeterminate,
        ..f
    }
    .evidence("mail_auth", theirs)
}

fn dmarc(a: &Analysis, r: &AuthReport) -> RawFinding {
    let f = dmarc_verdict(a, r);
    // mail-auth evaluated DMARC over the same answers.
    match &r.dmarc {
        Some(d) => cross_checked(f, "DMARC verifier", &d.result, d.mail_auth.as_deref()),
        None => f,
    }
}

fn dmarc_verdict(a: &Analysis, r: &AuthReport) -> RawFinding {
    let id = "message.dmarc";
    let Some(d) = &r.dmarc else {
        let why = r
            .envelope
            .from_problem
            .clone()
            .unwrap_or_else(|| "no author domain".into());
        return RawFinding::new(
            id,
            Outcome::NotApplicable,
            subject(a),
            format!("DMARC does not apply: {why}."),
        );
    };
    let f = match d.result.as_str() {
        "pass" => RawFinding::new(
            id,
            Outcome::Pass,
            subject(a),
            format!("DMARC passes for {}: {}.", d.from_domain, d.explanation),
        ),
        "temperror" => RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!("DMARC for {} could not be evaluated: {}.", d.from_domain, d.explanation),
        ),
        "none" => RawFinding::new(
            id,
            Outcome::Fail,
            subject(a),
            format!("DMARC cannot protect {}: {}.", d.from_domain, d.explanation),
        )
        .severity(Severity::Low),
        _ => {
            let policy = d.policy.as_deref().unwrap_or("none");
            let f = RawFinding::new(
                id,
                Outcome::Fail,
                subject(a),
                format!(
                    "DMARC fails for {} (policy p={policy}, from _dmarc.{}): {}.",
                    d.from_domain,
                    d.record_domain.as_deref().unwrap_or("?"),
                    d.explanation
                ),
            );
            // Only an enforcing policy makes a failure lose mail; with
            // p=none it is a monitoring signal (the catalogue's medium).
            if policy == "none" {
                f
            } else {
                f.severity(Severity::High)
            }
        }
    };
    f.evidence("dmarc", d)
}

/// Where a receiver's claim and mailwarden's verdict differ.
fn mismatch(a: &Analysis, r: &AuthReport) -> RawFinding {
    let id = "message.auth-results-mismatch";
    if r.claims.is_empty() {
        return RawFinding::new(
            id,
            Outcome::NotApplicable,
            subject(a),
            "No Authentication-Results or Received-SPF header field was written at or after the trusted hop.",
        );
    }
    let mut differences = Vec::new();
    let mut unsure = Vec::new();
    let mut compared = 0;
    for c in &r.claims {
        let Some(ours) = our_result(r, c) else { continue };
        compared += 1;
        let theirs = c.result.as_str();
        if agree(&c.method, theirs, &ours) {
            continue;
        }
        let line = format!(
            "{} says {}={} ({}), mailwarden finds {}",
            claimant(c),
            c.method,
            theirs,
            describe(c),
            ours
        );
        // Time explains some differences: a signature expired since, a key
        // or a DMARC record removed since, a lookup failing now.
        let dmarc_gone = c.method == "dmarc" && ours == "none";
        if ours == "temperror"
            || theirs == "temperror"
            || ours.contains("expired")
            || ours.contains("not found")
            || dmarc_gone
        {
            unsure.push(line);
        } else {
            differences.push(line);
        }
    }
    let claims = r.claims.clone();
    if !differences.is_empty() {
        return RawFinding::new(
            id,
            Outcome::Fail,
            subject(a),
            format!(
                "The receiver's Authentication-Results or Received-SPF disagree with verification: {}. Either the receiver's verifier or its DNS differs, or the field was forged or altered after it was written.",
                differences.join("; ")
            ),
        )
        .evidence("claims", claims);
    }
    if !unsure.is_empty() {
        return RawFinding::new(
            id,
            Outcome::Indeterminate,
            subject(a),
            format!("Some claims cannot be re-checked now: {}.", unsure.join("; ")),
        )
        .evidence("claims", claims);
    }
    if compared == 0 {
        return RawFinding::new(
            id,
            Outcome::NotApplicable,
            subject(a),
            format!(
                "None of the {} claims is about something mailwarden verified (another method, or another client address).",
                r.claims.len()
            ),
        )
        .evidence("claims", claims);
    }
    RawFinding::new(
        id,
        Outcome::Pass,
        subject(a),
        format!(
            "Every result claimed in Authentication-Results and Received-SPF agrees with verification ({compared} of {} claims compared).",
            r.claims.len()
        ),
    )
    .evidence("claims", claims)
}

/// `mx.example.net`, or `Received-SPF (by mx.example.net)`.
fn claimant(c: &Claim) -> String {
    match (c.field, c.authserv_id.as_str()) {
        (super::results::RECEIVED_SPF, "") => "Received-SPF".into(),
        (super::results::RECEIVED_SPF, id) => format!("Received-SPF (by {id})"),
        (_, id) => id.to_string(),
    }
}

fn describe(c: &Claim) -> String {
    c.props
        .iter()
        .filter(|(k, _)| {
            matches!(
                k.as_str(),
                "header.d" | "header.i" | "header.s" | "smtp.mailfrom" | "smtp.helo" | "header.from" | "client-ip"
            )
        })
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Our result for the thing a claim is about, or `None` when we did not
/// evaluate it.
fn our_result(r: &AuthReport, c: &Claim) -> Option<String> {
    match c.method.as_str() {
        "dkim" => {
            let d = c.props.get("header.d").or_else(|| c.props.get("header.i")).map(|d| {
                d.rsplit_once('@')
                    .map_or(d.as_str(), |(_, dom)| dom)
                    .to_ascii_lowercase()
            })?;
            let s = c.props.get("header.s").map(|s| s.to_ascii_lowercase());
            let sig = r
                .dkim
                .iter()
                .find(|v| v.domain == d && s.as_deref().is_none_or(|s| v.selector.eq_ignore_ascii_case(s)))?;
            let reason = sig.reason.as_deref().unwrap_or("");
            Some(if reason.contains("expired") {
                format!("{} (signature expired)", sig.result)
            } else if reason.contains("not found") {
                format!("{} (key not found)", sig.result)
            } else {
                sig.result.clone()
            })
        }
        "spf" => {
            // RFC 8601 §2.7.2: smtp.helo without smtp.mailfrom is the HELO check.
            let helo = c.props.contains_key("smtp.helo") && !c.props.contains_key("smtp.mailfrom");
            let ours = if helo { r.helo_spf.as_ref() } else { r.spf.as_ref() }?;
            // A claim about another client address is about another hop.
            match c.props.get("client-ip").map(|ip| ip.parse::<std::net::IpAddr>()) {
                Some(Ok(ip)) if ip != ours.ip => None,
                _ => Some(ours.result.clone()),
            }
        }
        "dmarc" => r.dmarc.as_ref().map(|d| d.result.clone()),
        "arc" => Some(r.arc.result.clone()),
        _ => None,
    }
}

/// Whether two results agree. DKIM: pass against anything but pass is a
/// disagreement (RFC 8601 §2.7.1 lists neutral, fail, policy, temperror,
/// permerror as non-passing); the others compare exactly.
fn agree(method: &str, theirs: &str, ours: &str) -> bool {
    let ours = ours.split(' ').next().unwrap_or(ours);
    match method {
        "dkim" | "arc" => (theirs == "pass") == (ours == "pass"),
        _ => theirs == ours,
    }
}
