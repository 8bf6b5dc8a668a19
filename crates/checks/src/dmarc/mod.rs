//! DMARC (RFC 7489, RFC 9989 which obsoletes it, RFC 9091 for `np`): the
//! policy a domain publishes, where receivers find it, how strong it is, and
//! where its reports go.
//!
//! Pure over a [`DnsView`]. Asks for `TXT` at `_dmarc.<domain>`, at
//! `<domain>` (a DMARC record at the apex), at each name of the RFC 9989 DNS
//! tree walk (at most [`MAX_WALK_QUERIES`]) and at the RFC 7489
//! organisational domain (public suffix list); for each reporting
//! destination `TXT` at `<policy domain>._report._dmarc.<destination>` when
//! it is external, and `MX` (then `A`/`AAAA`) of the destination; and `MX`
//! of the domain, to recognise a parked domain by its null MX.
//!
//! A lookup that failed (timeout, SERVFAIL ...) makes the findings that
//! need it indeterminate: it never becomes "no record".

mod discovery;

use std::collections::BTreeSet;

use mailwarden_model::{DnsView, Finding, Outcome, RData, RType, Severity, Status};
use mailwarden_records::dmarc::{Alignment, Level, Policy, Record, ReportUri};
use serde::Serialize;

pub use discovery::{Discovery, MAX_WALK_QUERIES, Method, Step, organisational_domain_psl, walk_names};

use crate::Context;
use crate::located::{Bounded, WithDiagnostics};

/// Audit the DMARC policy of `ctx.domain`. Findings carry ids `dmarc.*`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<Finding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let d = Discovery::run(view, &domain);
    let mut out = Vec::new();
    let own = &d.own;
    if !own.definite {
        out.push(Finding::new(
            "dmarc.missing",
            Outcome::Indeterminate,
            &domain,
            format!(
                "Could not tell whether {domain} publishes DMARC: the TXT lookup of _dmarc.{domain} did not succeed ({}).",
                own.status
            ),
        ));
        out.push(lookup_failed(&domain, &d.failures()));
        return out;
    }
    out.extend(version(&domain, own));
    out.push(spf_at_dmarc(&domain, own));
    out.extend(multiple_records(&domain, own));
    out.push(apex_record(&domain, view));
    out.push(missing(&domain, &d));
    out.push(org_domain(&domain, &d));
    let applied = d.applied();
    if let Some(applied) = &applied {
        let parked = ctx.options.parked || crate::mx::publishes_null_mx(view, &domain) == Some(true);
        out.extend(policy_findings(&domain, applied, parked));
        out.extend(reporting_findings(&domain, view, applied));
    }
    out.push(parked(ctx, &domain, view, applied.as_ref()));
    let mut failures = d.failures();
    failures.extend(applied.iter().flat_map(|a| reporting_failures(view, a)));
    out.push(lookup_failed(&domain, &failures));
    out
}

/// The record that applies to the domain, where it came from and why.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The domain at whose `_dmarc` name the record was published.
    pub source: String,
    pub record: Record,
    /// The character-strings as received.
    pub strings: Vec<String>,
    /// True when published for the audited domain itself.
    pub own: bool,
    /// Which discovery found it.
    pub method: Method,
    /// Whether the audited domain is its own organisational domain (RFC
    /// 9989 tree walk), so that `sp` and `np` of its record matter.
    pub is_org: bool,
}

/// The policies receivers apply, after defaults and error handling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
struct Effective {
    /// `None`: receivers apply no DMARC processing at all.
    domain: Option<Policy>,
    subdomains: Option<Policy>,
    nonexistent: Option<Policy>,
    /// The record lacked a valid `p` (or had an invalid `sp`/`np`) and is
    /// read as `p=none` because `rua` holds a valid URI.
    as_none: bool,
}

impl Applied {
    /// RFC 9989 §4.10.1: "If a retrieved DMARC Policy Record does not
    /// contain a valid "p" tag, or contains an "sp" or "np" tag that is not
    /// valid, then: If a "rua" tag is present and contains at least one
    /// syntactically valid reporting URI, the Mail Receiver MUST act as if
    /// a record containing "p=none" was retrieved and continue processing;
    /// Otherwise, the Mail Receiver applies no DMARC processing to this
    /// message." (RFC 7489 §6.6.3 step 6 says the same with SHOULD.) And
    /// §4.7 on `p`: "If this tag is not present in an otherwise
    /// syntactically valid DMARC Policy Record, then the record is treated
    /// as if it included "p=none"".
    fn effective(&self) -> Effective {
        let r = &self.record;
        let bad_sub = (r.tag("sp").is_some() && r.sp.is_none()) || (r.tag("np").is_some() && r.np.is_none());
        if r.tag("p").is_none() && !bad_sub {
            let sub = r.sp.unwrap_or(Policy::None);
            return Effective {
                domain: Some(if self.own { Policy::None } else { sub }),
                subdomains: Some(sub),
                nonexistent: Some(r.np.unwrap_or(sub)),
                as_none: true,
            };
        }
        if r.p.is_none() || bad_sub {
            let p = r.has_valid_rua().then_some(Policy::None);
            return Effective {
                domain: p,
                subdomains: p,
                nonexistent: p,
                as_none: p.is_some(),
            };
        }
        let sub = r.subdomain_policy();
        let nx = r.nonexistent_policy();
        Effective {
            // For an inherited record the domain is itself a subdomain of
            // the policy domain: receivers take `sp` (RFC 9989 §4.10.1).
            domain: if self.own { r.p } else { sub },
            subdomains: sub,
            nonexistent: nx,
            as_none: false,
        }
    }

    fn describe_source(&self) -> String {
        if self.own {
            format!("_dmarc.{}", self.source)
        } else {
            format!(
                "_dmarc.{} (inherited, found by {})",
                self.source,
                self.method.describe()
            )
        }
    }
}

/// A record as received at a `_dmarc` name, for evidence.
#[derive(Debug, Clone, Serialize)]
pub struct RawRecord {
    pub strings: Vec<String>,
    pub text: String,
    #[serde(skip)]
    pub bytes: Vec<u8>,
}

impl RawRecord {
    fn from_rdata(record: &RData) -> Option<Self> {
        let RData::Txt { strings } = record else { return None };
        let bytes = record.txt_bytes()?;
        Some(Self {
            strings: strings.clone(),
            text: String::from_utf8_lossy(&bytes).into_owned(),
            bytes,
        })
    }
}

fn quoted(records: &[RawRecord]) -> String {
    records
        .iter()
        .map(|r| format!("\"{}\"", r.text))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A starting record to publish, staged as RFC 9989 §5.1 describes.
fn suggested_record(domain: &str) -> String {
    format!(
        "_dmarc.{domain}. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}\" (if you are not yet sure every legitimate sender passes SPF or DKIM aligned with {domain}, publish p=none first, read the aggregate reports for a few weeks, then move to p=quarantine and p=reject)"
    )
}

/// RFC 7489 §6.3 (and RFC 9989 §4.7) on `v`: "The value of this tag MUST
/// match precisely; if it does not or it is absent, the entire retrieved
/// record MUST be ignored. It MUST be the first tag in the list."
fn version(domain: &str, own: &Step) -> Option<Finding> {
    if !own.lookalikes.is_empty() {
        let fixed = own.lookalikes.first().map(|r| fix_version(&r.text)).unwrap_or_default();
        return Some(
            Finding::new(
                "dmarc.version",
                Outcome::Fail,
                domain,
                format!(
                    "{} TXT record(s) at _dmarc.{domain} look like DMARC but do not start with exactly \"v=DMARC1\", so receivers ignore them: {}",
                    own.lookalikes.len(),
                    quoted(&own.lookalikes)
                ),
            )
            .evidence("records", &own.lookalikes)
            .remediation(format!("_dmarc.{domain}. IN TXT \"{fixed}\"")),
        );
    }
    (!own.dmarc.is_empty()).then(|| {
        Finding::new(
            "dmarc.version",
            Outcome::Pass,
            domain,
            "The DMARC record starts with the exact version \"v=DMARC1\".",
        )
    })
}

/// Replace whatever stands before the first `;` with `v=DMARC1`.
fn fix_version(text: &str) -> String {
    let trimmed = text.trim();
    let rest = trimmed.split_once(';').map_or("", |(first, rest)| {
        if first.contains("=DMARC") || first.to_ascii_lowercase().contains("dmarc") {
            rest
        } else {
            trimmed
        }
    });
    let rest = rest.trim();
    if rest.is_empty() {
        "v=DMARC1; p=none".to_string()
    } else {
        format!("v=DMARC1; {rest}")
    }
}

/// RFC 9989 §4.10 step 2: "Records that do not start with a "v" tag that
/// identifies the current version of DMARC are discarded." An SPF record at
/// `_dmarc` does nothing, and usually means the DMARC record was published
/// at the wrong name or overwritten.
fn spf_at_dmarc(domain: &str, own: &Step) -> Finding {
    if own.spf.is_empty() {
        return Finding::new(
            "dmarc.spf-at-dmarc",
            Outcome::Pass,
            domain,
            format!("No SPF record is published at _dmarc.{domain}."),
        );
    }
    Finding::new(
        "dmarc.spf-at-dmarc",
        Outcome::Fail,
        domain,
        format!(
            "SPF found where DMARC was expected: _dmarc.{domain} publishes {}. Receivers ignore it there.",
            quoted(&own.spf)
        ),
    )
    .evidence("records", &own.spf)
    .remediation(format!(
        "Delete the SPF record at _dmarc.{domain} (SPF belongs at {domain} itself) and publish DMARC there instead, e.g. {}",
        suggested_record(domain)
    ))
}

/// RFC 9989 §4.10 step 2: "If multiple DMARC Policy Records are returned,
/// they are all discarded." RFC 7489 §6.6.3 step 5: "If the remaining set contains
/// multiple records or no records, policy discovery terminates and DMARC
/// processing is not applied to this message."
fn multiple_records(domain: &str, own: &Step) -> Option<Finding> {
    match own.dmarc.len() {
        0 => None,
        1 => Some(Finding::new(
            "dmarc.multiple-records",
            Outcome::Pass,
            domain,
            "Exactly one DMARC record is published.",
        )),
        n => Some(
            Finding::new(
                "dmarc.multiple-records",
                Outcome::Fail,
                domain,
                format!(
                    "_dmarc.{domain} publishes {n} DMARC records, so receivers discard all of them: the domain has no DMARC policy of its own. {}",
                    quoted(&own.dmarc)
                ),
            )
            .evidence("records", &own.dmarc)
            .remediation(format!(
                "Keep exactly one TXT record starting with v=DMARC1 at _dmarc.{domain}; merge the tags you need into it and delete the others."
            )),
        ),
    }
}

/// RFC 9989 §4.5: "Domain Owner and PSO DMARC preferences are stored as
/// DNS TXT records in subdomains named "_dmarc"." (RFC 7489 §6.1 has the
/// same sentence.) A DMARC record at the domain itself is never read.
fn apex_record(domain: &str, view: &DnsView<'_>) -> Finding {
    let answer = view.get(domain, RType::Txt);
    if !answer.status.is_definite() {
        return Finding::new(
            "dmarc.apex-record",
            Outcome::Indeterminate,
            domain,
            format!(
                "Could not read the TXT records of {domain}: {}.",
                answer.status.describe()
            ),
        );
    }
    let found: Vec<RawRecord> = answer
        .records
        .iter()
        .filter_map(RawRecord::from_rdata)
        .filter(|r| {
            mailwarden_records::dmarc::is_dmarc_record(&r.bytes)
                || mailwarden_records::dmarc::looks_like_dmarc(&r.bytes)
        })
        .collect();
    if found.is_empty() {
        return Finding::new(
            "dmarc.apex-record",
            Outcome::Pass,
            domain,
            format!("No DMARC record is misplaced at {domain} itself."),
        );
    }
    Finding::new(
        "dmarc.apex-record",
        Outcome::Fail,
        domain,
        format!(
            "A DMARC record is published at {domain} itself, where it has no effect (receivers only read _dmarc.{domain}): {}",
            quoted(&found)
        ),
    )
    .evidence("records", &found)
    .remediation(format!(
        "Move the record to _dmarc.{domain} (if that name has none yet) and delete it from {domain}."
    ))
}

/// RFC 9989 §4.10.1: "If the set produced by the DNS Tree Walk contains no
/// DMARC Policy Record (i.e., any indication that there is no such record
/// as opposed to a transient DNS error), Mail Receivers MUST NOT apply the
/// DMARC mechanism to the message."
fn missing(domain: &str, d: &Discovery) -> Finding {
    if let Some(applied) = d.applied() {
        let message = if applied.own {
            format!("{domain} publishes a DMARC record at _dmarc.{domain}.")
        } else {
            format!(
                "{domain} publishes no DMARC record of its own; receivers apply the record of {}, found by {}.",
                applied.source,
                applied.method.describe()
            )
        };
        return Finding::new("dmarc.missing", Outcome::Pass, domain, message)
            .evidence("policy_domain", &applied.source)
            .evidence("method", applied.method.as_str())
            .evidence("record", &applied.strings);
    }
    let unchecked_suffix = unchecked_public_suffix_steps(d);
    if !d.complete() && unchecked_suffix.is_none() {
        return Finding::new(
            "dmarc.missing",
            Outcome::Indeterminate,
            domain,
            format!(
                "{domain} publishes no usable DMARC record, and a lookup of the policy discovery failed, so whether a parent's record applies is unknown."
            ),
        )
        .evidence("walk", &d.walk);
    }
    let why = if d.own.dmarc.len() > 1 {
        "its records at _dmarc cancel each other out and no parent domain publishes a policy"
    } else {
        "neither it nor its organisational domain publishes a DMARC record"
    };
    let note = unchecked_suffix
        .map(|names| {
            format!(
                " (whether a public-suffix operator publishes a policy above it could not be checked: {})",
                names.join(", ")
            )
        })
        .unwrap_or_default();
    Finding::new(
        "dmarc.missing",
        Outcome::Fail,
        domain,
        format!("{domain} has no DMARC policy: {why}{note}. Anyone can send mail as {domain} and receivers are not asked to reject it."),
    )
    .evidence("walk", &d.walk)
    .remediation(format!("Publish {}", suggested_record(domain)))
}

/// When every failed step of the discovery lies above the organisational
/// domain (at the public suffix), the names that failed. Then the domain and
/// its organisational domain definitely publish no record; only a public
/// suffix operator's policy (RFC 9989 `psd=y`) could still apply, and that
/// is not the domain owner's record. `None` when a step at or below the
/// organisational domain failed, or nothing failed.
fn unchecked_public_suffix_steps(d: &Discovery) -> Option<Vec<String>> {
    let org = &d.psl_org;
    let at_or_below = |name: &str| name == org || name.ends_with(&format!(".{org}"));
    let failed: Vec<&Step> = d
        .walk
        .iter()
        .chain(&d.psl_step)
        .chain(&d.org_step)
        .filter(|s| !s.definite)
        .collect();
    if failed.is_empty() || failed.iter().any(|s| at_or_below(&s.domain)) {
        return None;
    }
    let mut names: Vec<String> = failed.iter().map(|s| format!("_dmarc.{}", s.domain)).collect();
    names.dedup();
    Some(names)
}

/// RFC 7489 §3.2 (public suffix list) and RFC 9989 §4.10.2 (DNS tree
/// walk: "If a valid DMARC Policy Record contains the "psd" tag set to "n"
/// ("psd=n"), this is the Organizational Domain"). Receivers on either RFC
/// meet during the transition; where they disagree on the organisational
/// domain or on the record that applies, mail is judged differently.
fn org_domain(domain: &str, d: &Discovery) -> Finding {
    let walk_org = d.walk_org();
    let psl_org = d.psl_org.clone();
    let walk_src = d.source_9989().map(|s| s.domain.clone());
    let psl_src = d.source_7489().map(|s| s.domain.clone());
    let base = Finding::new("dmarc.org-domain", Outcome::Pass, domain, "")
        .evidence("walk", &d.walk)
        .evidence("organisational_domain_tree_walk", &walk_org)
        .evidence("organisational_domain_psl", &psl_org)
        .evidence("policy_domain_tree_walk", &walk_src)
        .evidence("policy_domain_psl", &psl_src);
    if !d.complete() {
        return Finding {
            outcome: Outcome::Indeterminate,
            message: "A lookup of the DNS tree walk failed, so the organisational domain is not known for certain."
                .into(),
            ..base
        };
    }
    let policy = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
    if walk_org != psl_org || walk_src != psl_src {
        return Finding {
            outcome: Outcome::Fail,
            message: format!(
                "Receivers disagree about {domain}: by the public suffix list (RFC 7489) the organisational domain is {psl_org} and the policy comes from {}; by the DNS tree walk (RFC 9989) they are {walk_org} and {}.",
                policy(&psl_src),
                policy(&walk_src)
            ),
            remediation: Some(format!(
                "Publish a DMARC record at _dmarc.{domain} itself (and at the organisational domain), so receivers of both generations apply the same policy; a record with psd=n marks an organisational domain explicitly."
            )),
            ..base
        };
    }
    Finding {
        message: format!(
            "The organisational domain of {domain} is {walk_org} by both the DNS tree walk (RFC 9989) and the public suffix list (RFC 7489); the policy comes from {}.",
            policy(&walk_src)
        ),
        ..base
    }
}

/// Findings about the record that applies: syntax and policy strength.
fn policy_findings(domain: &str, a: &Applied, parked: bool) -> Vec<Finding> {
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
fn syntax(domain: &str, a: &Applied, level: Level) -> Finding {
    let (id, what) = match level {
        Level::Error => ("dmarc.syntax", "syntax error"),
        Level::Warning => ("dmarc.syntax-warning", "warning"),
    };
    let found = Bounded::of(
        (a.record.diagnostics.iter()).filter(|d| d.level == level && d.code != "removed-tag"),
        &a.record.text,
    );
    if found.is_empty() {
        return Finding::new(
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
    let f = Finding::new(
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
fn repaired(r: &Record) -> String {
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
fn policy_none(domain: &str, a: &Applied, eff: &Effective) -> Finding {
    let severity = if a.is_org { Severity::High } else { Severity::Medium };
    let base = |outcome, msg: String| {
        Finding::new("dmarc.policy-none", outcome, domain, msg)
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

fn verb(p: Policy) -> &'static str {
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
fn subdomain_policy(domain: &str, a: &Applied, eff: &Effective) -> Finding {
    if !a.is_org {
        let note = if a.own && a.record.tag("sp").is_some() {
            " Its sp tag has no effect there."
        } else {
            ""
        };
        return Finding::new(
            "dmarc.subdomain-policy",
            Outcome::NotApplicable,
            domain,
            format!(
                "{domain} is not an organisational domain: its subdomains get the policy of the organisational domain's record.{note}"
            ),
        );
    }
    match eff.subdomains {
        Some(p) if p.enforces() => Finding::new(
            "dmarc.subdomain-policy",
            Outcome::Pass,
            domain,
            format!("Subdomains of {domain} without their own record get sp={p}."),
        ),
        _ => Finding::new(
            "dmarc.subdomain-policy",
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

fn describe(p: Option<Policy>) -> String {
    p.map_or_else(|| "no DMARC at all".to_string(), |p| format!("{p}"))
}

/// RFC 9091 §4.1 on `np`: "If the "np" tag is absent, the policy specified
/// by the "sp" tag (if the "sp" tag is present) or the policy specified by
/// the "p" tag, if the "sp" tag is not present, MUST be applied for
/// non-existent subdomains."
fn np_policy(domain: &str, a: &Applied, eff: &Effective) -> Finding {
    if !a.is_org {
        return Finding::new(
            "dmarc.np-policy",
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
        Some(p) if p.enforces() => Finding::new(
            "dmarc.np-policy",
            Outcome::Pass,
            domain,
            format!("Mail from non-existent subdomains of {domain} gets {p} (from {source})."),
        ),
        _ => Finding::new(
            "dmarc.np-policy",
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
fn pct(domain: &str, a: &Applied, eff: &Effective) -> Finding {
    match a.record.pct {
        Some(n) if n < 100 && eff.domain.is_some_and(Policy::enforces) => Finding::new(
            "dmarc.pct",
            Outcome::Fail,
            domain,
            format!(
                "pct={n}: RFC 7489 receivers apply the policy to only {n}% of failing mail from {domain} (and treat the rest one step weaker); RFC 9989 receivers ignore pct."
            ),
        )
        .evidence("pct", n)
        .remediation(format!("Remove pct from the record at _dmarc.{} (or set pct=100).", a.source)),
        Some(n) if n < 100 => Finding::new(
            "dmarc.pct",
            Outcome::Pass,
            domain,
            format!("pct={n} has no effect: the policy does not enforce anything."),
        ),
        _ => Finding::new(
            "dmarc.pct",
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
fn testing(domain: &str, a: &Applied) -> Finding {
    if a.record.t == Some(true) {
        return Finding::new(
            "dmarc.testing",
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
    Finding::new(
        "dmarc.testing",
        Outcome::Pass,
        domain,
        "The policy is not in testing mode (no t=y).",
    )
}

/// RFC 9989 removed `pct`, `rf` and `ri` (Appendix A.6 replaces `pct=0`
/// by `t=y`); the IANA registry marks them historic and receivers following
/// RFC 9989 treat them as unknown tags, which "MUST be ignored" (§4.7).
fn removed_tags(domain: &str, a: &Applied) -> Finding {
    let tags: Vec<String> = a
        .record
        .removed_tags()
        .iter()
        .map(|t| format!("{}={}", t.name, t.value))
        .collect();
    if tags.is_empty() {
        return Finding::new(
            "dmarc.removed-tags",
            Outcome::Pass,
            domain,
            "The record uses none of the tags RFC 9989 removed (pct, rf, ri).",
        );
    }
    Finding::new(
        "dmarc.removed-tags",
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
fn alignment(domain: &str, a: &Applied, parked: bool) -> Finding {
    let adkim = a.record.adkim.unwrap_or(Alignment::Relaxed);
    let aspf = a.record.aspf.unwrap_or(Alignment::Relaxed);
    let modes = format!("adkim={}, aspf={}", adkim.as_str(), aspf.as_str());
    let strict = adkim == Alignment::Strict || aspf == Alignment::Strict;
    if strict && parked {
        // A parked domain sends no legitimate mail: strict costs nothing.
        return Finding::new(
            "dmarc.alignment",
            Outcome::Pass,
            domain,
            format!("Strict alignment ({modes}) on a parked domain, which sends no mail."),
        );
    }
    if strict {
        return Finding::new(
            "dmarc.alignment",
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
    Finding::new(
        "dmarc.alignment",
        Outcome::Pass,
        domain,
        format!("Relaxed alignment ({modes}): subdomains of the organisational domain align."),
    )
}

/// RFC 9989 §4.7 on `fo`: "This tag's content MUST be ignored if a "ruf"
/// tag (below) is not also specified."
fn fo(domain: &str, a: &Applied) -> Finding {
    let Some(opts) = &a.record.fo else {
        return Finding::new("dmarc.fo", Outcome::NotApplicable, domain, "No fo tag.");
    };
    let value: String = opts.iter().map(char::to_string).collect::<Vec<_>>().join(":");
    if a.record.ruf.is_empty() {
        return Finding::new(
            "dmarc.fo",
            Outcome::Fail,
            domain,
            format!("fo={value} has no effect: there is no ruf tag, so no failure reports are requested."),
        )
        .remediation(format!("Remove fo from the record at _dmarc.{}.", a.source));
    }
    Finding::new(
        "dmarc.fo",
        Outcome::Pass,
        domain,
        format!("fo={value} selects which failures are reported to ruf."),
    )
}

/// One reporting destination (a `mailto:` domain) and what is known of it.
#[derive(Debug, Clone, Serialize)]
struct Destination {
    domain: String,
    tags: BTreeSet<&'static str>,
    uris: Vec<String>,
}

fn destinations(a: &Applied) -> Vec<Destination> {
    let mut out: Vec<Destination> = Vec::new();
    for (tag, list) in [("rua", &a.record.rua), ("ruf", &a.record.ruf)] {
        for uri in list.iter().filter(|u| u.valid) {
            let Some(dom) = &uri.domain else { continue };
            match out.iter_mut().find(|d| &d.domain == dom) {
                Some(d) => {
                    d.tags.insert(tag);
                    d.uris.push(uri.text.clone());
                }
                None => out.push(Destination {
                    domain: dom.clone(),
                    tags: [tag].into_iter().collect(),
                    uris: vec![uri.text.clone()],
                }),
            }
        }
    }
    out.sort_by(|a, b| a.domain.cmp(&b.domain));
    out
}

/// RFC 7489 §7.1: "When a Mail Receiver discovers a DMARC policy in the
/// DNS, and the Organizational Domain at which that record was discovered
/// is not identical to the Organizational Domain of the host part of the
/// authority component of a [URI] specified in the "rua" or "ruf" tag, the
/// following verification steps are to be taken".
fn is_external(policy_domain: &str, destination: &str) -> bool {
    organisational_domain_psl(policy_domain) != organisational_domain_psl(destination)
}

fn report_name(policy_domain: &str, destination: &str) -> String {
    format!("{policy_domain}._report._dmarc.{destination}")
}

fn reporting_findings(domain: &str, view: &DnsView<'_>, a: &Applied) -> Vec<Finding> {
    let mut out = vec![
        rua_missing(domain, a),
        uris_invalid(domain, a),
        too_many(domain, a),
        ruf_privacy(domain, a),
    ];
    let dests = destinations(a);
    let external: Vec<&Destination> = dests.iter().filter(|d| is_external(&a.source, &d.domain)).collect();
    if dests.is_empty() {
        out.push(Finding::new(
            "dmarc.external-unauthorised",
            Outcome::NotApplicable,
            domain,
            "No valid mailto: reporting destination.",
        ));
    } else if external.is_empty() {
        out.push(Finding::new(
            "dmarc.external-unauthorised",
            Outcome::Pass,
            domain,
            format!(
                "Every reporting destination is within the organisational domain of {}; no authorisation is needed.",
                a.source
            ),
        ));
    }
    for dest in &external {
        out.push(external_authorised(a, view, dest));
    }
    for dest in &dests {
        out.push(destination_mx(view, dest));
    }
    out
}

/// RFC 9989 §4.7 on `rua`: "If the tag is not provided, Mail Receivers
/// MUST NOT generate aggregate feedback reports for the domain."
fn rua_missing(domain: &str, a: &Applied) -> Finding {
    if a.record.rua.is_empty() {
        return Finding::new(
            "dmarc.rua-missing",
            Outcome::Fail,
            domain,
            format!(
                "The record at {} has no rua tag: no aggregate reports are sent, so nobody sees who sends mail as {domain} or whether legitimate mail fails.",
                a.describe_source()
            ),
        )
        .remediation(format!(
            "Add rua=mailto:dmarc@{} (a mailbox or report-processing service you read) to the record at _dmarc.{}.",
            a.source, a.source
        ));
    }
    Finding::new(
        "dmarc.rua-missing",
        Outcome::Pass,
        domain,
        format!("Aggregate reports are requested ({} URI(s)).", a.record.rua.len()),
    )
    // The URIs as written, for profile checks such as BOD 18-01's required
    // report address (`dmarc-rua-includes`).
    .evidence("rua", a.record.rua.iter().map(|u| u.text.as_str()).collect::<Vec<_>>())
}

/// RFC 7489 §6.2: "A Mail Receiver MUST implement support for a "mailto:"
/// URI, i.e., the ability to send a DMARC report via electronic mail."
/// The grammar (§6.4) is `dmarc-uri = URI [ "!" 1*DIGIT [ "k" / "m" / "g"
/// / "t" ] ]`; RFC 9989 dropped the size suffix.
fn uris_invalid(domain: &str, a: &Applied) -> Finding {
    let codes = [
        "invalid-uri",
        "invalid-mailto",
        "invalid-size",
        "non-mailto-uri",
        "size-suffix",
    ];
    let problems: Vec<String> = a
        .record
        .diagnostics
        .iter()
        .filter(|d| codes.contains(&d.code))
        .map(|d| format!("{} ({})", d.message, d.code))
        .collect();
    let total = a.record.rua.len() + a.record.ruf.len();
    if total == 0 {
        return Finding::new(
            "dmarc.rua-invalid",
            Outcome::NotApplicable,
            domain,
            "No reporting URIs.",
        );
    }
    if problems.is_empty() {
        return Finding::new(
            "dmarc.rua-invalid",
            Outcome::Pass,
            domain,
            "Every reporting URI is a valid mailto: address.",
        );
    }
    let valid_rua = a.record.rua.iter().filter(|u| u.valid && u.address.is_some()).count();
    let consequence = if !a.record.rua.is_empty() && valid_rua == 0 {
        " No rua URI is usable, so no aggregate reports arrive."
    } else {
        ""
    };
    Finding::new(
        "dmarc.rua-invalid",
        Outcome::Fail,
        domain,
        format!("Problems with the reporting URIs:{consequence} {}", problems.join("; ")),
    )
    .evidence("problems", &problems)
    .remediation(format!(
        "Write each destination as mailto:local@domain without a !size suffix, separated by commas, e.g. rua=mailto:dmarc@{}.",
        a.source
    ))
}

/// RFC 7489 §6.2: "Mail Receivers MAY impose a limit on the number of URIs
/// to which they will send reports but MUST support the ability to send to
/// at least two."
fn too_many(domain: &str, a: &Applied) -> Finding {
    let over: Vec<String> = [("rua", &a.record.rua), ("ruf", &a.record.ruf)]
        .iter()
        .filter(|(_, l)| l.len() > 2)
        .map(|(t, l)| format!("{t} lists {}", l.len()))
        .collect();
    if over.is_empty() {
        return Finding::new(
            "dmarc.too-many-destinations",
            Outcome::Pass,
            domain,
            "At most two destinations per report type.",
        );
    }
    Finding::new(
        "dmarc.too-many-destinations",
        Outcome::Fail,
        domain,
        format!(
            "{}: receivers are only required to send to two destinations, so the ones after the second may get no reports.",
            over.join(", ")
        ),
    )
    .remediation("Keep at most two destinations per tag, the most important first; forward internally if more parties need the reports.")
}

/// Failure reports carry message content and personal data.
fn ruf_privacy(domain: &str, a: &Applied) -> Finding {
    if a.record.ruf.is_empty() {
        return Finding::new(
            "dmarc.ruf-privacy",
            Outcome::Pass,
            domain,
            "No failure reports (ruf) are requested.",
        );
    }
    let uris: Vec<&str> = a.record.ruf.iter().map(|u| u.text.as_str()).collect();
    Finding::new(
        "dmarc.ruf-privacy",
        Outcome::Fail,
        domain,
        format!(
            "ruf={} requests failure reports: copies or excerpts of individual messages, with addresses and possibly content, i.e. personal data of third parties. Under GDPR's data-minimisation principle this needs a documented purpose and retention; most receivers no longer send them.",
            uris.join(",")
        ),
    )
    .evidence("ruf", &uris)
    .remediation(format!(
        "Remove ruf (and fo) from the record at _dmarc.{} unless you have a documented need, a processing agreement with the destination, and a retention limit.",
        a.source
    ))
}

/// RFC 7489 §7.1 steps 2-6: "Prepend the string "_report._dmarc"." ...
/// "Prepend the domain name from which the policy was retrieved" ... "In
/// particular, the "v=DMARC1" tag is mandatory and MUST appear first in
/// the list. Discard any that do not pass this test." ... "If the result
/// includes no TXT resource records that pass basic parsing, a positive
/// determination of the external reporting relationship cannot be made;
/// stop." A wildcard `*._report._dmarc.<destination>` answers the query
/// by itself.
fn external_authorised(a: &Applied, view: &DnsView<'_>, dest: &Destination) -> Finding {
    let name = report_name(&a.source, &dest.domain);
    let answer = view.get(&name, RType::Txt);
    let base = |outcome, msg: String| {
        Finding::new("dmarc.external-unauthorised", outcome, &dest.domain, msg)
            .evidence("query", &name)
            .evidence("uris", &dest.uris)
    };
    if !answer.status.is_definite() {
        return base(
            Outcome::Indeterminate,
            format!(
                "Could not check whether {} accepts reports for {}: the TXT lookup of {name} {}.",
                dest.domain,
                a.source,
                answer.status.describe()
            ),
        );
    }
    let ok = answer
        .records
        .iter()
        .filter_map(RawRecord::from_rdata)
        .any(|r| mailwarden_records::dmarc::is_dmarc_record(&r.bytes));
    if ok {
        return base(
            Outcome::Pass,
            format!(
                "{} authorises reports for {} ({name} publishes v=DMARC1).",
                dest.domain, a.source
            ),
        );
    }
    let tags: Vec<&str> = dest.tags.iter().copied().collect();
    base(
        Outcome::Fail,
        format!(
            "{} is outside the organisational domain of {} and does not authorise it: {name} has no TXT record starting with v=DMARC1, so receivers send no {} reports there.",
            dest.domain,
            a.source,
            tags.join("/")
        ),
    )
    .remediation(format!(
        "Ask the operator of {} to publish `{name}. IN TXT \"v=DMARC1\"` (or `*._report._dmarc.{}. IN TXT \"v=DMARC1\"` for all customers), or send reports to an address within {}.",
        dest.domain, dest.domain, a.source
    ))
}

/// A report destination must accept mail: MX, or an address as the
/// implicit MX of RFC 5321 §5.1 ("If an empty list of MXs is returned, the
/// address is treated as if it was associated with an implicit MX RR"),
/// and no null MX (RFC 7505).
fn destination_mx(view: &DnsView<'_>, dest: &Destination) -> Finding {
    let d = &dest.domain;
    let mx = view.get(d, RType::Mx);
    let base =
        |outcome, msg: String| Finding::new("dmarc.destination-no-mx", outcome, d, msg).evidence("uris", &dest.uris);
    match &mx.status {
        Status::Records => {
            let exchanges: Vec<String> = mx
                .records
                .iter()
                .filter_map(|r| match r {
                    RData::Mx { exchange, .. } => Some(mailwarden_model::name::normalise(exchange)),
                    _ => None,
                })
                .collect();
            if exchanges.iter().all(String::is_empty) {
                return base(
                    Outcome::Fail,
                    format!("The report destination {d} publishes a null MX: it accepts no mail, so reports sent there bounce."),
                )
                .remediation(format!("Send reports to a domain that receives mail, or remove the null MX of {d}."));
            }
            base(Outcome::Pass, format!("The report destination {d} has MX records."))
        }
        Status::NoData => {
            let a = view.get(d, RType::A);
            let aaaa = view.get(d, RType::Aaaa);
            if a.status == Status::Records || aaaa.status == Status::Records {
                return base(
                    Outcome::Pass,
                    format!("The report destination {d} has no MX but an address, used as its implicit MX."),
                );
            }
            if let Some(failed) = [a, aaaa].iter().find(|x| !x.status.is_definite()) {
                return base(
                    Outcome::Indeterminate,
                    format!(
                        "The report destination {d} has no MX, and its address lookup failed: {}.",
                        failed.status.describe()
                    ),
                );
            }
            base(
                Outcome::Fail,
                format!("The report destination {d} has neither MX nor address records: reports sent there cannot be delivered."),
            )
            .remediation(format!("Fix the mail routing of {d} or use another report address."))
        }
        Status::NxDomain => base(
            Outcome::Fail,
            format!("The report destination {d} does not exist (NXDOMAIN): reports cannot be delivered."),
        )
        .remediation(format!("Correct the report address; {d} does not exist.")),
        other => base(
            Outcome::Indeterminate,
            format!(
                "Could not look up the MX of the report destination {d}: {}.",
                other.describe()
            ),
        ),
    }
}

/// The lookups the reporting checks needed that failed.
fn reporting_failures(view: &DnsView<'_>, a: &Applied) -> Vec<String> {
    let mut out = Vec::new();
    for dest in destinations(a) {
        let mut names = vec![(dest.domain.clone(), RType::Mx)];
        if is_external(&a.source, &dest.domain) {
            names.push((report_name(&a.source, &dest.domain), RType::Txt));
        }
        for (name, rtype) in names {
            let answer = view.get(&name, rtype);
            if !answer.status.is_definite() {
                out.push(format!("{name}/{rtype} {}", answer.status.describe()));
            }
        }
    }
    out
}

/// M3AAWG parked-domain practice: a domain that sends no mail publishes
/// `p=reject` with subdomains rejected too. RFC 9989 §4.7 on `reject`:
/// "The Domain Owner considers all such failures to be a clear indication
/// that the use of the domain name is not valid."
fn parked(ctx: &Context<'_>, domain: &str, view: &DnsView<'_>, applied: Option<&Applied>) -> Finding {
    let reason = if ctx.options.parked {
        Some("the scan was told it is parked (--parked)".to_string())
    } else {
        let mx = view.get(domain, RType::Mx);
        if !mx.status.is_definite() {
            return Finding::new(
                "dmarc.parked",
                Outcome::Indeterminate,
                domain,
                format!(
                    "Could not tell whether {domain} is parked: the MX lookup {}.",
                    mx.status.describe()
                ),
            );
        }
        let null_mx = crate::mx::publishes_null_mx(view, domain) == Some(true);
        null_mx.then(|| "it publishes a null MX (RFC 7505)".to_string())
    };
    let Some(reason) = reason else {
        return Finding::new(
            "dmarc.parked",
            Outcome::NotApplicable,
            domain,
            format!("{domain} is not marked as parked and has no null MX."),
        );
    };
    let wanted = format!("_dmarc.{domain}. IN TXT \"v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s\"");
    let Some(a) = applied else {
        return Finding::new(
            "dmarc.parked",
            Outcome::Fail,
            domain,
            format!("{domain} is parked ({reason}) but has no DMARC policy: anyone can send mail as it."),
        )
        .remediation(format!("Publish {wanted}"));
    };
    let eff = a.effective();
    let ok = eff.domain == Some(Policy::Reject) && eff.subdomains == Some(Policy::Reject);
    if ok {
        return Finding::new(
            "dmarc.parked",
            Outcome::Pass,
            domain,
            format!("{domain} is parked ({reason}) and its DMARC policy rejects mail from it and its subdomains."),
        );
    }
    Finding::new(
        "dmarc.parked",
        Outcome::Fail,
        domain,
        format!(
            "{domain} is parked ({reason}) but its DMARC policy is p={}, sp={}: a parked domain sends no mail, so all of it should be rejected.",
            describe(eff.domain),
            describe(eff.subdomains)
        ),
    )
    .evidence("effective", eff)
    .remediation(format!("Publish {wanted}"))
}

/// Every lookup of the DMARC checks that failed, or a pass.
fn lookup_failed(domain: &str, failed: &[String]) -> Finding {
    if failed.is_empty() {
        return Finding::new(
            "dmarc.lookup-failed",
            Outcome::Pass,
            domain,
            "Every DNS lookup of the DMARC checks was answered.",
        );
    }
    Finding::new(
        "dmarc.lookup-failed",
        Outcome::Indeterminate,
        domain,
        format!(
            "{} DNS lookup(s) needed for DMARC failed, so some DMARC checks are indeterminate: {}.",
            failed.len(),
            failed.join("; ")
        ),
    )
    .evidence("failed_lookups", failed)
}

#[cfg(test)]
mod tests;
