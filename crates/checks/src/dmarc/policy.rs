//! What the applied DMARC record asks of receivers: its syntax, the
//! policies for the domain, subdomains and non-existent subdomains, pct,
//! testing, removed tags, alignment and failure-reporting options.

use super::*;
use crate::rule;

/// Findings about the record that applies: syntax and policy strength.
pub(super) fn policy_findings(domain: &str, a: &Applied, parked: bool) -> Vec<RawFinding> {
    let eff = a.effective();
    vec![
        syntax(domain, a, Level::Error),
        syntax(domain, a, Level::Warning),
        policy_none(domain, a, &eff),
        subdomain_policy(domain, a, &eff),
        np_policy(domain, a, &eff),
        pct(domain, a, &eff),
        testing(domain, a),
        removed_tags(domain, a),
        alignment(domain, a, parked),
        fo(domain, a),
    ]
}

/// RFC 9989 §4.7: "A DMARC Policy Record MUST comply with the formal
/// specification found in Section 4.8 in that the "v" tag MUST be present
/// and MUST appear first. Unknown tags MUST be ignored. Syntax errors in
/// the remainder of the record MUST be discarded in favor of default
/// values (if any) or ignored outright."
pub(super) fn syntax(domain: &str, a: &Applied, level: Level) -> RawFinding {
    let (id, what) = match level {
        Level::Error => (rule::DMARC_SYNTAX, "syntax error"),
        Level::Warning => (rule::DMARC_SYNTAX_WARNING, "warning"),
    };
    let found = Bounded::of(
        (a.record.diagnostics.iter()).filter(|d| d.level == level && d.code != "removed-tag"),
        &a.record.text,
    );
    if found.is_empty() {
        return RawFinding::new(
            id,
            Outcome::Pass,
            domain,
            format!("No DMARC {what}s in the record at {}.", a.describe_source()),
        );
    }
    let consequence = if level == Level::Error {
        " Receivers discard the invalid tags (and fall back to defaults), so the policy is not what the record says."
    } else {
        ""
    };
    let f = RawFinding::new(
        id,
        Outcome::Fail,
        domain,
        format!(
            "{} DMARC {what}(s) in the record at {}.{consequence}\n{}",
            found.total(),
            a.describe_source(),
            found.message()
        ),
    );
    f.diagnostics("diagnostics", &found)
        .evidence("record", &a.strings)
        .remediation(format!(
            "Correct the record at _dmarc.{}: {}",
            a.source,
            repaired(&a.record)
        ))
}

/// The record with invalid and unknown tags dropped, duplicates removed, a
/// missing `p` added and `v=DMARC1` first: a starting point for a fix.
pub(super) fn repaired(r: &Record) -> String {
    let mut seen = BTreeSet::new();
    let mut parts = vec!["v=DMARC1".to_string()];
    let p = r.p.unwrap_or(Policy::None);
    parts.push(format!("p={p}"));
    seen.insert("p".to_string());
    for t in &r.tags {
        let valid = match t.name.as_str() {
            "sp" => r.sp.is_some(),
            "np" => r.np.is_some(),
            "adkim" => r.adkim.is_some(),
            "aspf" => r.aspf.is_some(),
            "fo" => r.fo.is_some(),
            "t" => r.t.is_some(),
            "psd" => r.psd.is_some(),
            "rua" | "ruf" => {
                let uris: Vec<&ReportUri> = if t.name == "rua" {
                    r.rua.iter().collect()
                } else {
                    r.ruf.iter().collect()
                };
                let good: Vec<String> = uris
                    .iter()
                    .filter(|u| u.valid)
                    .map(|u| u.text.split('!').next().unwrap_or("").to_string())
                    .collect();
                if !good.is_empty() && seen.insert(t.name.clone()) {
                    parts.push(format!("{}={}", t.name, good.join(",")));
                }
                false
            }
            _ => false,
        };
        if valid && seen.insert(t.name.clone()) {
            parts.push(format!("{}={}", t.name, t.value.to_ascii_lowercase()));
        }
    }
    format!("\"{}\"", parts.join("; "))
}

/// RFC 9989 §4.7 on `p`: "none: The Domain Owner offers no expression of
/// preference." and §5.4: "discovered policies of "p=none" MUST NOT
/// modify existing mail handling processes." A policy of `none` lets
/// anyone send as the domain.
pub(super) fn policy_none(domain: &str, a: &Applied, eff: &Effective) -> RawFinding {
    let severity = if a.is_org { Severity::High } else { Severity::Medium };
    let base = |outcome, msg: String| {
        RawFinding::new(rule::DMARC_POLICY_NONE, outcome, domain, msg)
            .evidence("policy_domain", &a.source)
            .evidence("effective", eff)
    };
    match eff.domain {
        None => base(
            Outcome::Fail,
            format!(
                "The record at {} has no valid p tag and no valid rua URI, so receivers apply no DMARC processing to {domain} at all.",
                a.describe_source()
            ),
        )
        .severity(severity)
        .remediation(format!("Publish {}", suggested_record(domain))),
        Some(Policy::None) => {
            let why = if eff.as_none {
                "the record has no valid p tag, so receivers read it as p=none (RFC 7489 receivers only if rua holds a valid URI)"
            } else if a.own {
                "p=none"
            } else {
                "the inherited record asks p=none (or sp=none) for subdomains"
            };
            base(
                Outcome::Fail,
                format!(
                    "The DMARC policy for {domain} does not enforce anything ({why}): receivers deliver mail that fails DMARC as if there were no policy."
                ),
            )
            .severity(severity)
            .remediation(format!(
                "Once the aggregate reports show every legitimate sender passing, raise the policy at _dmarc.{}: first p=quarantine, then p=reject, e.g. \"v=DMARC1; p=quarantine; rua=mailto:dmarc@{}\".",
                a.source, a.source
            ))
        }
        Some(p) => base(
            Outcome::Pass,
            format!("Receivers are asked to {} mail from {domain} that fails DMARC (p={p}).", verb(p)),
        ),
    }
}

pub(super) fn verb(p: Policy) -> &'static str {
    match p {
        Policy::None => "deliver",
        Policy::Quarantine => "quarantine",
        Policy::Reject => "reject",
    }
}

/// RFC 7489 §6.3 on `sp`: "If absent, the policy specified by the "p" tag
/// MUST be applied for subdomains." RFC 9989 §4.7: "Note that "sp" will be
/// ignored for DMARC Policy Records published on subdomains of
/// Organizational Domains and PSDs".
pub(super) fn subdomain_policy(domain: &str, a: &Applied, eff: &Effective) -> RawFinding {
    if !a.is_org {
        let note = if a.own && a.record.tag("sp").is_some() {
            " Its sp tag has no effect there."
        } else {
            ""
        };
        return RawFinding::new(
            rule::DMARC_SUBDOMAIN_POLICY,
            Outcome::NotApplicable,
            domain,
            format!(
                "{domain} is not an organisational domain: its subdomains get the policy of the organisational domain's record.{note}"
            ),
        );
    }
    match eff.subdomains {
        Some(p) if p.enforces() => RawFinding::new(
            rule::DMARC_SUBDOMAIN_POLICY,
            Outcome::Pass,
            domain,
            format!("Subdomains of {domain} without their own record get sp={p}."),
        ),
        _ => RawFinding::new(
            rule::DMARC_SUBDOMAIN_POLICY,
            Outcome::Fail,
            domain,
            format!(
                "Subdomains of {domain} are not protected: the effective subdomain policy is {}, so mail from any invented name such as billing.{domain} is delivered.",
                describe(eff.subdomains)
            ),
        )
        .evidence("effective", eff)
        .remediation(format!(
            "Set sp=quarantine or sp=reject in the record at _dmarc.{domain} (or remove sp=none so p applies), after checking that subdomains that send mail authenticate."
        )),
    }
}

pub(super) fn describe(p: Option<Policy>) -> String {
    p.map_or_else(|| "no DMARC at all".to_string(), |p| format!("{p}"))
}

/// RFC 9091 §4.1 on `np`: "If the "np" tag is absent, the policy specified
/// by the "sp" tag (if the "sp" tag is present) or the policy specified by
/// the "p" tag, if the "sp" tag is not present, MUST be applied for
/// non-existent subdomains."
pub(super) fn np_policy(domain: &str, a: &Applied, eff: &Effective) -> RawFinding {
    if !a.is_org {
        return RawFinding::new(
            rule::DMARC_NP_POLICY,
            Outcome::NotApplicable,
            domain,
            format!("{domain} is not an organisational domain: np applies only at the organisational domain."),
        );
    }
    let source = if a.record.np.is_some() {
        "np"
    } else if a.record.sp.is_some() {
        "sp (np absent)"
    } else {
        "p (np and sp absent)"
    };
    match eff.nonexistent {
        Some(p) if p.enforces() => RawFinding::new(
            rule::DMARC_NP_POLICY,
            Outcome::Pass,
            domain,
            format!("Mail from non-existent subdomains of {domain} gets {p} (from {source})."),
        ),
        _ => RawFinding::new(
            rule::DMARC_NP_POLICY,
            Outcome::Fail,
            domain,
            format!(
                "Mail from non-existent subdomains of {domain} (names that do not exist in DNS, which never send legitimate mail) gets {} (from {source}).",
                describe(eff.nonexistent)
            ),
        )
        .evidence("effective", eff)
        .remediation(format!(
            "Add np=reject to the record at _dmarc.{domain}: non-existent names never send legitimate mail."
        )),
    }
}

/// RFC 7489 §6.3 on `pct`: "Percentage of messages from the Domain Owner's
/// mail stream to which the DMARC policy is to be applied."
pub(super) fn pct(domain: &str, a: &Applied, eff: &Effective) -> RawFinding {
    match a.record.pct {
        Some(n) if n < 100 && eff.domain.is_some_and(Policy::enforces) => RawFinding::new(
            rule::DMARC_PCT,
            Outcome::Fail,
            domain,
            format!(
                "pct={n}: RFC 7489 receivers apply the policy to only {n}% of failing mail from {domain} (and treat the rest one step weaker); RFC 9989 receivers ignore pct."
            ),
        )
        .evidence("pct", n)
        .remediation(format!("Remove pct from the record at _dmarc.{} (or set pct=100).", a.source)),
        Some(n) if n < 100 => RawFinding::new(
            rule::DMARC_PCT,
            Outcome::Pass,
            domain,
            format!("pct={n} has no effect: the policy does not enforce anything."),
        ),
        _ => RawFinding::new(
            rule::DMARC_PCT,
            Outcome::Pass,
            domain,
            "The policy applies to all failing mail (pct absent or 100).",
        ),
    }
}

/// RFC 9989 §4.7 on `t=y`: "A request that the actor performing the DMARC
/// validation check not apply the policy, but instead apply any special
/// handling rules it might have in place" ... "if the policy is "reject"
/// and the value of the "t" tag is "y", a policy of "quarantine" will be
/// applied to failing messages".
pub(super) fn testing(domain: &str, a: &Applied) -> RawFinding {
    if a.record.t == Some(true) {
        return RawFinding::new(
            rule::DMARC_TESTING,
            Outcome::Fail,
            domain,
            format!(
                "t=y: the record at {} is in testing mode; RFC 9989 receivers apply one level below the stated policy (reject as quarantine, quarantine as none).",
                a.describe_source()
            ),
        )
        .remediation(format!(
            "Remove t=y from the record at _dmarc.{} once the reports show no legitimate mail failing.",
            a.source
        ));
    }
    RawFinding::new(
        rule::DMARC_TESTING,
        Outcome::Pass,
        domain,
        "The policy is not in testing mode (no t=y).",
    )
}

/// RFC 9989 removed `pct`, `rf` and `ri` (Appendix A.6 replaces `pct=0`
/// by `t=y`); the IANA registry marks them historic and receivers following
/// RFC 9989 treat them as unknown tags, which "MUST be ignored" (§4.7).
pub(super) fn removed_tags(domain: &str, a: &Applied) -> RawFinding {
    let tags: Vec<String> = a
        .record
        .removed_tags()
        .iter()
        .map(|t| format!("{}={}", t.name, t.value))
        .collect();
    if tags.is_empty() {
        return RawFinding::new(
            rule::DMARC_REMOVED_TAGS,
            Outcome::Pass,
            domain,
            "The record uses none of the tags RFC 9989 removed (pct, rf, ri).",
        );
    }
    RawFinding::new(
        rule::DMARC_REMOVED_TAGS,
        Outcome::Fail,
        domain,
        format!(
            "The record uses tag(s) RFC 9989 removed, which current receivers ignore: {}.",
            tags.join(", ")
        ),
    )
    .evidence("tags", &tags)
    .remediation(format!(
        "Remove {} from the record at _dmarc.{}.",
        tags.join(", "),
        a.source
    ))
}

/// RFC 7489 §6.3 on `adkim`: "(plain-text; OPTIONAL; default is "r".)
/// Indicates whether strict or relaxed DKIM Identifier Alignment mode is
/// required by the Domain Owner." Relaxed is the usual and safe choice;
/// strict makes any mail signed or bounced with a subdomain fail.
pub(super) fn alignment(domain: &str, a: &Applied, parked: bool) -> RawFinding {
    let adkim = a.record.adkim.unwrap_or(Alignment::Relaxed);
    let aspf = a.record.aspf.unwrap_or(Alignment::Relaxed);
    let modes = format!("adkim={}, aspf={}", adkim.as_str(), aspf.as_str());
    let strict = adkim == Alignment::Strict || aspf == Alignment::Strict;
    if strict && parked {
        // A parked domain sends no legitimate mail: strict costs nothing.
        return RawFinding::new(
            rule::DMARC_ALIGNMENT,
            Outcome::Pass,
            domain,
            format!("Strict alignment ({modes}) on a parked domain, which sends no mail."),
        );
    }
    if strict {
        return RawFinding::new(
            rule::DMARC_ALIGNMENT,
            Outcome::Fail,
            domain,
            format!(
                "Strict alignment ({modes}): mail passes DMARC only when the DKIM d= or the envelope sender is exactly {}, not a subdomain; senders that sign or bounce with a subdomain fail.",
                a.source
            ),
        )
        .evidence("adkim", adkim.as_str())
        .evidence("aspf", aspf.as_str())
        .remediation("Keep strict alignment only if every sender uses exactly the domain; otherwise remove adkim=s / aspf=s (relaxed is the default).");
    }
    RawFinding::new(
        rule::DMARC_ALIGNMENT,
        Outcome::Pass,
        domain,
        format!("Relaxed alignment ({modes}): subdomains of the organisational domain align."),
    )
}

/// RFC 9989 §4.7 on `fo`: "This tag's content MUST be ignored if a "ruf"
/// tag (below) is not also specified."
pub(super) fn fo(domain: &str, a: &Applied) -> RawFinding {
    let Some(opts) = &a.record.fo else {
        return RawFinding::new(rule::DMARC_FO, Outcome::NotApplicable, domain, "No fo tag.");
    };
    let value: String = opts.iter().map(char::to_string).collect::<Vec<_>>().join(":");
    if a.record.ruf.is_empty() {
        return RawFinding::new(
            rule::DMARC_FO,
            Outcome::Fail,
            domain,
            format!("fo={value} has no effect: there is no ruf tag, so no failure reports are requested."),
        )
        .remediation(format!("Remove fo from the record at _dmarc.{}.", a.source));
    }
    RawFinding::new(
        rule::DMARC_FO,
        Outcome::Pass,
        domain,
        format!("fo={value} selects which failures are reported to ruf."),
    )
}
