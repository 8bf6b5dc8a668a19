//! SMTP TLS Reporting (RFC 8460): the `_smtp._tls.<domain>` TXT record.
//!
//! Pure over a [`DnsView`]: asks TXT at `_smtp._tls.<domain>` and at the
//! pre-standard name `_smtp-tlsrpt.<domain>`; to tell whether reports are
//! needed, TXT at `_mta-sts.<domain>`, MX at the domain and TLSA at
//! `_25._tcp.<mx>` (the answers the MTA-STS and DANE judges ask anyway).
//! Rules: `tlsrpt.record` (exactly one record beginning `v=TLSRPTv1`),
//! `tlsrpt.syntax`, `tlsrpt.missing` (no usable record while MTA-STS or
//! DANE is in use), `tlsrpt.legacy-name`.

use mailwarden_model::{DnsView, Outcome, RType, RawFinding};
use mailwarden_records::tlsrpt::{self, Level};

use crate::facts::sts::{Discovery, txt_records};
use crate::located::{Bounded, WithDiagnostics};
use crate::rule;
use crate::{ChainCache, Context, Facts};

/// What [`judge_with`] reads, building no findings: the record and the
/// drafts' legacy name and, unless exactly one valid record is published,
/// whether MTA-STS or DANE is in use.
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    view.get(&format!("_smtp-tlsrpt.{domain}"), RType::Txt);
    let answer = view.get(&format!("_smtp._tls.{domain}"), RType::Txt);
    if !answer.status.is_definite() {
        return;
    }
    let records: Vec<String> = (txt_records(&answer.records).into_iter())
        .map(|(_, t)| t)
        .filter(|t| tlsrpt::is_tlsrpt_record(t))
        .collect();
    let usable = matches!(records.as_slice(), [text] if valid(&tlsrpt::parse(text.as_bytes())));
    if !usable {
        facts.sts_discovery(view);
        let _ = facts.dane_in_use(view);
    }
}

/// Whether a TLS-RPT record has no errors (what `tlsrpt.syntax` passes).
fn valid(r: &tlsrpt::Record) -> bool {
    r.diagnostics.iter().all(|d| d.level != Level::Error)
}

/// Judge the TLS-RPT record of `ctx.domain`. Findings carry ids `tlsrpt.*`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let chains = ChainCache::default();
    judge_with(ctx, view, &Facts::of_view(ctx, view, &chains))
}

/// [`judge`], reading the shared facts of the view.
pub fn judge_with(ctx: &Context<'_>, view: &DnsView<'_>, facts: &Facts<'_, '_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let name = format!("_smtp._tls.{domain}");
    let example = format!("`{name}. IN TXT \"v=TLSRPTv1; rua=mailto:tls-reports@{domain}\"`");
    let answer = view.get(&name, RType::Txt);
    let mut out = vec![legacy(&domain, view, &example)];
    if !answer.status.is_definite() {
        let why = format!("{name}/TXT {}", answer.status.describe());
        for id in [rule::TLSRPT_RECORD, rule::TLSRPT_SYNTAX, rule::TLSRPT_MISSING] {
            out.push(
                RawFinding::new(id, Outcome::Indeterminate, &domain, format!("Could not look up {why}."))
                    .evidence("failed_lookups", [&why]),
            );
        }
        return out;
    }
    let texts = txt_records(&answer.records);
    let (records, other): (Vec<_>, Vec<_>) = texts.into_iter().partition(|(_, t)| tlsrpt::is_tlsrpt_record(t));
    let lookalikes: Vec<String> = other
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| tlsrpt::looks_like_tlsrpt(t))
        .collect();
    let na = |id: &str, why: &str| RawFinding::new(id, Outcome::NotApplicable, &domain, why.to_string());
    // Whether senders get a usable reporting policy, and why not.
    let usable: Result<(), Unusable> = match records.as_slice() {
        [] => {
            if lookalikes.is_empty() {
                out.push(na(
                    rule::TLSRPT_RECORD,
                    &format!("No TLS-RPT record at {name}; TLS reporting is needed once MTA-STS or DANE is in use."),
                ));
                out.push(na(rule::TLSRPT_SYNTAX, "No TLS-RPT record, so nothing to check."));
                Err(Unusable::NoRecord(name.clone()))
            } else {
                out.push(
                    RawFinding::new(
                        rule::TLSRPT_RECORD,
                        Outcome::Fail,
                        &domain,
                        format!(
                            "{name} has a record meant as TLS-RPT that does not begin with exactly `v=TLSRPTv1`, so senders discard it (RFC 8460 §3)."
                        ),
                    )
                    .evidence("records", &lookalikes)
                    .remediation(format!("Publish the record beginning exactly `v=TLSRPTv1;`: {example}.")),
                );
                out.push(na(
                    rule::TLSRPT_SYNTAX,
                    "No record beginning `v=TLSRPTv1`, so nothing to check.",
                ));
                Err(Unusable::NotTlsrpt(name.clone()))
            }
        }
        [(strings, text)] => {
            out.push(
                RawFinding::new(
                    rule::TLSRPT_RECORD,
                    Outcome::Pass,
                    &domain,
                    format!("{name} publishes one TLS-RPT record."),
                )
                .evidence("record", text)
                .evidence("strings", strings),
            );
            let parsed = tlsrpt::parse(text.as_bytes());
            let syntax = syntax(&domain, &parsed, &example);
            let ok = syntax.outcome == Outcome::Pass;
            out.push(syntax);
            if ok {
                Ok(())
            } else {
                Err(Unusable::Invalid(name.clone()))
            }
        }
        many => {
            let list: Vec<&str> = many.iter().map(|(_, t)| t.as_str()).collect();
            out.push(
                RawFinding::new(
                    rule::TLSRPT_RECORD,
                    Outcome::Fail,
                    &domain,
                    format!(
                        "{} records beginning `v=TLSRPTv1` at {name}: RFC 8460 §3 has senders then assume the domain does not implement TLS-RPT, so no reports are sent.",
                        many.len()
                    ),
                )
                .evidence("records", &list)
                .remediation(format!(
                    "Keep exactly one TLS-RPT record, listing every destination in one rua (comma-separated): {example}."
                )),
            );
            out.push(na(rule::TLSRPT_SYNTAX, "Several TLS-RPT records: senders use none."));
            Err(Unusable::Several(name.clone(), many.len()))
        }
    };
    out.push(missing(&domain, view, facts, usable, &example));
    out
}

/// Why senders get no usable TLS-RPT record at `_smtp._tls.<domain>`
/// (the name).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Unusable {
    /// No record at all.
    NoRecord(String),
    /// A record meant as TLS-RPT that does not begin `v=TLSRPTv1`.
    NotTlsrpt(String),
    /// One record, with errors.
    Invalid(String),
    /// Several records (how many).
    Several(String, usize),
}

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unusable::NoRecord(name) => write!(f, "there is no TLS-RPT record at {name}"),
            Unusable::NotTlsrpt(name) => write!(f, "the record at {name} does not begin with `v=TLSRPTv1`"),
            Unusable::Invalid(name) => write!(f, "the TLS-RPT record at {name} is invalid (see tlsrpt.syntax)"),
            Unusable::Several(name, n) => write!(f, "{name} has {n} TLS-RPT records"),
        }
    }
}

/// RFC 8460 §1: reports tell the domain about failures to establish TLS
/// (MTA-STS or DANE failures make senders defer or bounce mail); without a
/// usable record nobody hears about them.
fn missing(
    domain: &str,
    view: &DnsView<'_>,
    facts: &Facts<'_, '_>,
    usable: Result<(), Unusable>,
    example: &str,
) -> RawFinding {
    const ID: &str = rule::TLSRPT_MISSING;
    let why = match usable {
        Ok(()) => {
            return RawFinding::new(
                ID,
                Outcome::Pass,
                domain,
                "A usable TLS-RPT record is published: senders report TLS failures.",
            );
        }
        Err(why) => why,
    };
    let sts = match facts.sts_discovery(view) {
        Discovery::Failed(f) => Err(f.clone()),
        Discovery::One(..) => Ok(true),
        _ => Ok(false),
    };
    let dane = facts.dane_in_use(view);
    let mut used = Vec::new();
    let mut failed = Vec::new();
    for (what, r) in [("MTA-STS", sts), ("DANE", dane)] {
        match r {
            Ok(true) => used.push(what),
            Ok(false) => {}
            Err(f) => failed.push(f),
        }
    }
    if !used.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::Fail,
            domain,
            format!(
                "The domain uses {}, but {why}: when senders fail to deliver over TLS (an expired certificate, a policy or TLSA mismatch), nobody hears about it.",
                used.join(" and ")
            ),
        )
        .evidence("in_use", &used)
        .remediation(format!("Publish a TLS-RPT record: {example}."));
    }
    if !failed.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::Indeterminate,
            domain,
            format!(
                "{why}; whether MTA-STS or DANE is in use could not be determined: {}.",
                crate::Unlookeds(failed.clone())
            ),
        )
        .evidence("failed_lookups", &failed);
    }
    RawFinding::new(
        ID,
        Outcome::NotApplicable,
        domain,
        "Neither MTA-STS nor DANE is in use, so TLS reports are not needed yet.",
    )
}

/// Drafts of RFC 8460 used `_smtp-tlsrpt.<domain>`; senders look only at
/// `_smtp._tls.<domain>`.
fn legacy(domain: &str, view: &DnsView<'_>, example: &str) -> RawFinding {
    const ID: &str = rule::TLSRPT_LEGACY_NAME;
    let name = format!("_smtp-tlsrpt.{domain}");
    let answer = view.get(&name, RType::Txt);
    if !answer.status.is_definite() {
        return RawFinding::new(
            ID,
            Outcome::Indeterminate,
            domain,
            format!("Could not look up {name}/TXT: {}.", answer.status.describe()),
        );
    }
    let found: Vec<String> = txt_records(&answer.records)
        .into_iter()
        .map(|(_, t)| t)
        .filter(|t| t.to_ascii_lowercase().contains("tlsrpt"))
        .collect();
    if found.is_empty() {
        return RawFinding::new(
            ID,
            Outcome::Pass,
            domain,
            format!("No TLS-RPT record under the pre-standard name {name}."),
        );
    }
    RawFinding::new(
        ID,
        Outcome::Fail,
        domain,
        format!(
            "A TLS-RPT record is published at the pre-standard name {name}, which senders do not read (RFC 8460 uses _smtp._tls)."
        ),
    )
    .evidence("records", &found)
    .remediation(format!(
        "Publish the record at the standard name, {example}, and remove the one at {name}."
    ))
}

fn syntax(domain: &str, r: &tlsrpt::Record, example: &str) -> RawFinding {
    let of_level = |level: Level| Bounded::of(r.diagnostics.iter().filter(move |d| d.level == level), &r.text);
    let (errors, warnings) = (of_level(Level::Error), of_level(Level::Warning));
    let rua: Vec<&str> = r.rua.iter().filter(|u| u.valid).map(|u| u.text.as_str()).collect();
    if errors.is_empty() {
        let mut f = RawFinding::new(
            rule::TLSRPT_SYNTAX,
            Outcome::Pass,
            domain,
            format!("The TLS-RPT record is valid; reports go to {}.", rua.join(", ")),
        )
        .evidence("rua", &rua);
        if !warnings.is_empty() {
            f = f.diagnostics("warnings", &warnings);
        }
        return f;
    }
    RawFinding::new(
        rule::TLSRPT_SYNTAX,
        Outcome::Fail,
        domain,
        format!(
            "{} error(s) in the TLS-RPT record; senders may send no reports.\n{}",
            errors.total(),
            errors.message()
        ),
    )
    .evidence("record", &r.text)
    .diagnostics("diagnostics", &errors)
    .remediation(format!(
        "Correct the record at the positions shown: {example} (`rua=` takes `mailto:` or `https:` URIs, comma-separated)."
    ))
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Outcome::*, Proof, RType, RawFinding, ScanOptions, SourceInfo, Status};

    use super::*;
    use crate::testutil::{Dns, find, outcome};

    const D: &str = "example.com";
    const N: &str = "_smtp._tls.example.com";
    const L: &str = "_smtp-tlsrpt.example.com";
    const S: &str = "_mta-sts.example.com";
    const GOOD: &str = "v=TLSRPTv1; rua=mailto:tls@example.com,https://r.example.net/tls";

    fn run(dns: &Dns) -> Vec<RawFinding> {
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

    fn base() -> Dns {
        Dns::new().status(L, RType::Txt, Status::NxDomain)
    }

    /// No MTA-STS; one MX with or without TLSA.
    fn context(dns: Dns, sts: bool, tlsa: bool) -> Dns {
        let dns = if sts {
            dns.txt(S, &["v=STSv1; id=1"])
        } else {
            dns.status(S, RType::Txt, Status::NxDomain)
        }
        .mx(D, &[(10, "mx.example.com")]);
        if tlsa {
            dns.rec(
                "_25._tcp.mx.example.com",
                RType::Tlsa,
                vec![mailwarden_model::rdata::from_text(52, &format!("3 1 1 {}", "ab".repeat(32))).expect("TLSA")],
                Proof::Secure,
            )
        } else {
            dns.status("_25._tcp.mx.example.com", RType::Tlsa, Status::NxDomain)
        }
    }

    #[test]
    fn a_valid_record_passes() {
        let f = run(&base().txt(N, &[GOOD]));
        for id in ["tlsrpt.record", "tlsrpt.syntax", "tlsrpt.missing", "tlsrpt.legacy-name"] {
            assert_eq!(outcome(&f, id, D), Pass, "{id}: {f:#?}");
        }
        assert_eq!(
            find(&f, "tlsrpt.syntax", D).evidence["rua"].as_array().unwrap().len(),
            2
        );
    }

    #[test]
    fn missing_matters_only_with_mta_sts_or_dane() {
        let none = |d: Dns| d.status(N, RType::Txt, Status::NxDomain);
        let f = run(&context(none(base()), false, false));
        assert_eq!(outcome(&f, "tlsrpt.missing", D), NotApplicable);
        assert_eq!(outcome(&f, "tlsrpt.record", D), NotApplicable);
        let f = run(&context(none(base()), true, false));
        let m = find(&f, "tlsrpt.missing", D);
        assert_eq!(m.outcome, Fail);
        assert!(m.message.contains("MTA-STS") && m.message.contains("nobody hears"));
        assert!(m.remediation.as_deref().unwrap().contains("v=TLSRPTv1; rua=mailto:"));
        let f = run(&context(none(base()), false, true));
        assert_eq!(find(&f, "tlsrpt.missing", D).evidence["in_use"][0], "DANE");
        // An invalid record is as good as none.
        let f = run(&context(base().txt(N, &["v=TLSRPTv1"]), true, false));
        assert_eq!(outcome(&f, "tlsrpt.syntax", D), Fail);
        assert_eq!(outcome(&f, "tlsrpt.missing", D), Fail);
    }

    #[test]
    fn failed_lookups_are_indeterminate() {
        let f = run(&base().status(N, RType::Txt, Status::Timeout));
        for id in ["tlsrpt.record", "tlsrpt.syntax", "tlsrpt.missing"] {
            assert_eq!(outcome(&f, id, D), Indeterminate, "{id}");
        }
        let f = run(&Dns::new().txt(N, &[GOOD]).status(L, RType::Txt, Status::ServFail));
        assert_eq!(outcome(&f, "tlsrpt.legacy-name", D), Indeterminate);
        // Missing record, and whether MTA-STS is used is unknown.
        let f = run(&base()
            .status(N, RType::Txt, Status::NxDomain)
            .status(S, RType::Txt, Status::Timeout)
            .mx(D, &[(10, "mx.example.com")])
            .status("_25._tcp.mx.example.com", RType::Tlsa, Status::NxDomain));
        assert_eq!(outcome(&f, "tlsrpt.missing", D), Indeterminate);
    }

    #[test]
    fn two_records_or_a_lookalike_fail() {
        let f = run(&context(
            base().txt(N, &[GOOD, "v=TLSRPTv1; rua=mailto:b@example.com"]),
            false,
            false,
        ));
        assert_eq!(outcome(&f, "tlsrpt.record", D), Fail);
        assert_eq!(outcome(&f, "tlsrpt.syntax", D), NotApplicable);
        let f = run(&context(
            base().txt(N, &["v=tlsrptv1; rua=mailto:a@example.com"]),
            false,
            false,
        ));
        assert_eq!(outcome(&f, "tlsrpt.record", D), Fail);
    }

    #[test]
    fn syntax_errors_fail_with_carets() {
        let f = run(&context(
            base().txt(N, &["v=TLSRPTv1; rua=http://r.example.net/"]),
            false,
            false,
        ));
        let s = find(&f, "tlsrpt.syntax", D);
        assert_eq!(s.outcome, Fail);
        assert!(
            s.message.contains("uri-scheme") && s.message.contains('^'),
            "{}",
            s.message
        );
    }

    #[test]
    fn the_pre_standard_name_is_reported() {
        let f = run(&Dns::new()
            .txt(N, &[GOOD])
            .txt(L, &["v=TLSRPTv1; rua=mailto:tls@example.com"]));
        let l = find(&f, "tlsrpt.legacy-name", D);
        assert_eq!(l.outcome, Fail);
        assert!(l.remediation.as_deref().unwrap().contains("_smtp._tls.example.com"));
    }
}
