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

use mailwarden_model::{DnsView, Outcome, RData, RType, RawFinding, Severity, Status};
use mailwarden_records::dmarc::{Alignment, Level, Policy, Record, ReportUri};
use serde::Serialize;

pub use discovery::{Discovery, MAX_WALK_QUERIES, Method, Step, organisational_domain_psl, walk_names};

use crate::Context;
use crate::located::{Bounded, WithDiagnostics};

mod policy;
mod reporting;
use crate::rule;
use crate::unlooked::counted;
use policy::*;
use reporting::*;

/// Audit the DMARC policy of `ctx.domain`. Findings carry ids `dmarc.*`.
/// What [`judge`] reads, building no findings: the discovery of the
/// record that applies, the domain's own TXT records, its MX (for a null
/// MX, unless `--parked` says it), and what the reporting checks read.
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>) {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let d = Discovery::run(view, &domain);
    if !d.own.definite {
        return;
    }
    view.get(&domain, RType::Txt);
    if !ctx.options.parked {
        view.get(&domain, RType::Mx);
    }
    if let Some(applied) = d.applied() {
        reporting_reads(view, &applied);
    }
}

pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let d = Discovery::run(view, &domain);
    let mut out = Vec::new();
    let own = &d.own;
    if !own.definite {
        out.push(RawFinding::new(
            rule::DMARC_MISSING,
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
        let parked = ctx.options.parked || crate::facts::null_mx(view, &domain) == Some(true);
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
fn version(domain: &str, own: &Step) -> Option<RawFinding> {
    if !own.lookalikes.is_empty() {
        let fixed = own.lookalikes.first().map(|r| fix_version(&r.text)).unwrap_or_default();
        return Some(
            RawFinding::new(
                rule::DMARC_VERSION,
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
        RawFinding::new(
            rule::DMARC_VERSION,
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
fn spf_at_dmarc(domain: &str, own: &Step) -> RawFinding {
    if own.spf.is_empty() {
        return RawFinding::new(
            rule::DMARC_SPF_AT_DMARC,
            Outcome::Pass,
            domain,
            format!("No SPF record is published at _dmarc.{domain}."),
        );
    }
    RawFinding::new(
        rule::DMARC_SPF_AT_DMARC,
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
fn multiple_records(domain: &str, own: &Step) -> Option<RawFinding> {
    match own.dmarc.len() {
        0 => None,
        1 => Some(RawFinding::new(
            rule::DMARC_MULTIPLE_RECORDS,
            Outcome::Pass,
            domain,
            "Exactly one DMARC record is published.",
        )),
        n => Some(
            RawFinding::new(
                rule::DMARC_MULTIPLE_RECORDS,
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
fn apex_record(domain: &str, view: &DnsView<'_>) -> RawFinding {
    let answer = view.get(domain, RType::Txt);
    if !answer.status.is_definite() {
        return RawFinding::new(
            rule::DMARC_APEX_RECORD,
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
        return RawFinding::new(
            rule::DMARC_APEX_RECORD,
            Outcome::Pass,
            domain,
            format!("No DMARC record is misplaced at {domain} itself."),
        );
    }
    RawFinding::new(
        rule::DMARC_APEX_RECORD,
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
fn missing(domain: &str, d: &Discovery) -> RawFinding {
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
        return RawFinding::new(rule::DMARC_MISSING, Outcome::Pass, domain, message)
            .evidence("policy_domain", &applied.source)
            .evidence("method", applied.method.as_str())
            .evidence("record", &applied.strings);
    }
    let unchecked_suffix = unchecked_public_suffix_steps(d);
    if !d.complete() && unchecked_suffix.is_none() {
        return RawFinding::new(
            rule::DMARC_MISSING,
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
    RawFinding::new(
        rule::DMARC_MISSING,
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
fn org_domain(domain: &str, d: &Discovery) -> RawFinding {
    let walk_org = d.walk_org();
    let psl_org = d.psl_org.clone();
    let walk_src = d.source_9989().map(|s| s.domain.clone());
    let psl_src = d.source_7489().map(|s| s.domain.clone());
    let base = RawFinding::new(rule::DMARC_ORG_DOMAIN, Outcome::Pass, domain, "")
        .evidence("walk", &d.walk)
        .evidence("organisational_domain_tree_walk", &walk_org)
        .evidence("organisational_domain_psl", &psl_org)
        .evidence("policy_domain_tree_walk", &walk_src)
        .evidence("policy_domain_psl", &psl_src);
    if !d.complete() {
        return RawFinding {
            outcome: Outcome::Indeterminate,
            message: "A lookup of the DNS tree walk failed, so the organisational domain is not known for certain."
                .into(),
            ..base
        };
    }
    let policy = |s: &Option<String>| s.clone().unwrap_or_else(|| "none".into());
    if walk_org != psl_org || walk_src != psl_src {
        return RawFinding {
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
    RawFinding {
        message: format!(
            "The organisational domain of {domain} is {walk_org} by both the DNS tree walk (RFC 9989) and the public suffix list (RFC 7489); the policy comes from {}.",
            policy(&walk_src)
        ),
        ..base
    }
}

/// M3AAWG parked-domain practice: a domain that sends no mail publishes
/// `p=reject` with subdomains rejected too. RFC 9989 §4.7 on `reject`:
/// "The Domain Owner considers all such failures to be a clear indication
/// that the use of the domain name is not valid."
fn parked(ctx: &Context<'_>, domain: &str, view: &DnsView<'_>, applied: Option<&Applied>) -> RawFinding {
    let reason = if ctx.options.parked {
        Some("the scan was told it is parked (--parked)".to_string())
    } else {
        let mx = view.get(domain, RType::Mx);
        if !mx.status.is_definite() {
            return RawFinding::new(
                rule::DMARC_PARKED,
                Outcome::Indeterminate,
                domain,
                format!(
                    "Could not tell whether {domain} is parked: the MX lookup {}.",
                    mx.status.describe()
                ),
            );
        }
        let null_mx = crate::facts::null_mx(view, domain) == Some(true);
        null_mx.then(|| "it publishes a null MX (RFC 7505)".to_string())
    };
    let Some(reason) = reason else {
        return RawFinding::new(
            rule::DMARC_PARKED,
            Outcome::NotApplicable,
            domain,
            format!("{domain} is not marked as parked and has no null MX."),
        );
    };
    let wanted = format!("_dmarc.{domain}. IN TXT \"v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s\"");
    let Some(a) = applied else {
        return RawFinding::new(
            rule::DMARC_PARKED,
            Outcome::Fail,
            domain,
            format!("{domain} is parked ({reason}) but has no DMARC policy: anyone can send mail as it."),
        )
        .remediation(format!("Publish {wanted}"));
    };
    let eff = a.effective();
    let ok = eff.domain == Some(Policy::Reject) && eff.subdomains == Some(Policy::Reject);
    if ok {
        return RawFinding::new(
            rule::DMARC_PARKED,
            Outcome::Pass,
            domain,
            format!("{domain} is parked ({reason}) and its DMARC policy rejects mail from it and its subdomains."),
        );
    }
    RawFinding::new(
        rule::DMARC_PARKED,
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
fn lookup_failed(domain: &str, failed: &[String]) -> RawFinding {
    crate::unlooked::lookup_failed(
        (rule::DMARC_LOOKUP_FAILED, domain),
        "Every DNS lookup of the DMARC checks was answered.",
        failed,
        counted("DNS lookup(s) needed for DMARC", "some DMARC checks are indeterminate"),
        ("failed_lookups", failed),
    )
}

#[cfg(test)]
mod tests;
