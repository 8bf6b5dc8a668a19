//! BIMI (draft-brand-indicators-for-message-identification): the assertion
//! record at `default._bimi.<domain>` and its DMARC precondition.
//!
//! Pure over a [`DnsView`]: asks TXT at `default._bimi.<domain>` and, when a
//! logo is published, TXT at `_dmarc.<domain>`. The DMARC reading here is a
//! deliberately minimal one (a single `v=DMARC1` record with `p=quarantine`
//! or `p=reject` and `pct` absent or 100) so that this module does not
//! depend on the full DMARC audit; policies inherited from an
//! organisational domain are not considered.
//!
//! Not done yet: fetching the SVG indicator (`l=`) and the VMC/CMC evidence
//! document (`a=`) and validating them (SVG Tiny PS profile, certificate
//! chain to a Mark Verifying Authority, logotype hash). Both need the
//! hardened HTTPS egress client of the transport-security issue; until then
//! the findings only judge what DNS says.

use mailwarden_model::{DnsView, Outcome, RData, RType, RawFinding, Status};
use mailwarden_records::bimi::{self, BimiRecord};
use mailwarden_records::dkim::Level;

use crate::Context;
use crate::located::{Bounded, WithDiagnostics};
use crate::rule;
use crate::unlooked::counted;

/// The selector receivers use when a message names none.
pub const DEFAULT_SELECTOR: &str = "default";

/// What [`judge`] reads, building no findings: the BIMI record at the
/// default selector and, when exactly one is published with a logo, the
/// domain's DMARC record.
pub fn ask(ctx: &Context<'_>, view: &DnsView<'_>) {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let answer = view.get(&format!("{DEFAULT_SELECTOR}._bimi.{domain}"), RType::Txt);
    if !answer.status.is_definite() {
        return;
    }
    let texts: Vec<String> = (answer.records.iter())
        .filter_map(|rd| match rd {
            RData::Txt { .. } => rd.txt_bytes(),
            _ => None,
        })
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .filter(|t| bimi::looks_like_bimi_record(t))
        .collect();
    if let [text] = texts.as_slice() {
        let parsed = bimi::parse(text);
        if !parsed.is_declination() && parsed.has_logo() {
            view.get(&format!("_dmarc.{domain}"), RType::Txt);
        }
    }
}

/// Judge the BIMI record of `ctx.domain`. Findings carry ids `bimi.*`.
pub fn judge(ctx: &Context<'_>, view: &DnsView<'_>) -> Vec<RawFinding> {
    let domain = mailwarden_model::name::normalise(ctx.domain);
    let name = format!("{DEFAULT_SELECTOR}._bimi.{domain}");
    let answer = view.get(&name, RType::Txt);
    let mut failed: Vec<String> = Vec::new();
    let mut out = Vec::new();
    if !answer.status.is_definite() {
        failed.push(format!("{name}/TXT {}", answer.status.describe()));
        out.push(RawFinding::new(
            rule::BIMI_RECORD,
            Outcome::Indeterminate,
            &domain,
            format!("Could not look up {name}: {}", answer.status.describe()),
        ));
        out.push(lookup_failed(&domain, &failed));
        return out;
    }
    let texts: Vec<(Vec<String>, String)> = answer
        .records
        .iter()
        .filter_map(|rd| match (rd, rd.txt_bytes()) {
            (RData::Txt { strings }, Some(b)) => Some((strings.clone(), String::from_utf8_lossy(&b).into_owned())),
            _ => None,
        })
        .collect();
    let (records, other): (Vec<_>, Vec<_>) = texts.into_iter().partition(|(_, t)| bimi::looks_like_bimi_record(t));
    let other: Vec<String> = other.into_iter().map(|(_, t)| t).collect();
    match records.as_slice() {
        [] => {
            let mut f = RawFinding::new(
                rule::BIMI_RECORD,
                Outcome::NotApplicable,
                &domain,
                format!("No BIMI record at {name}; BIMI is optional."),
            );
            if !other.is_empty() {
                f = f.evidence("non_bimi_txt", &other);
            }
            out.push(f);
        }
        [(strings, text)] => {
            let parsed = bimi::parse(text);
            out.push(
                RawFinding::new(
                    rule::BIMI_RECORD,
                    Outcome::Pass,
                    &domain,
                    if parsed.is_declination() {
                        format!("{name} publishes a BIMI declination record.")
                    } else {
                        format!("{name} publishes a BIMI record.")
                    },
                )
                .evidence("record", text)
                .evidence("strings", strings),
            );
            out.push(syntax(&domain, &parsed, Level::Error));
            out.push(syntax(&domain, &parsed, Level::Warning));
            out.push(declined(&domain, &parsed));
            out.push(authority(&domain, &parsed));
            out.push(dmarc_enforcement(&domain, view, &parsed, &mut failed));
        }
        many => {
            let list: Vec<&str> = many.iter().map(|(_, t)| t.as_str()).collect();
            out.push(
                RawFinding::new(
                    rule::BIMI_RECORD,
                    Outcome::Fail,
                    &domain,
                    format!(
                        "{} BIMI records are published at {name}; receivers use none of them.",
                        many.len()
                    ),
                )
                .evidence("records", &list)
                .remediation(format!("Keep exactly one TXT record at {name}.")),
            );
        }
    }
    out.push(lookup_failed(&domain, &failed));
    out
}

/// The record grammar: a DKIM-style tag-list, `v=BIMI1` first, `l=` and
/// `a=` empty or a single `https:` URI. From the draft, for `l=`: "The
/// value of this tag is either empty indicating declination to publish, or
/// a single URI representing the location of a Brand Indicator file. The
/// only supported transport is HTTPS."; for `v=`: "It MUST be the first
/// tag in the list."
fn syntax(domain: &str, r: &BimiRecord, level: Level) -> RawFinding {
    let (id, what) = match level {
        Level::Error => (rule::BIMI_SYNTAX, "syntax error"),
        Level::Warning => (rule::BIMI_SYNTAX_WARNING, "warning"),
    };
    let found = Bounded::of(
        (r.diagnostics.iter()).filter(|d| d.level == level && d.code != "evidence-without-location"),
        &r.text,
    );
    if found.is_empty() {
        return RawFinding::new(id, Outcome::Pass, domain, format!("No {what}s in the BIMI record."));
    }
    let consequence = if level == Level::Error {
        " Receivers discard the record, so no logo is shown."
    } else {
        ""
    };
    RawFinding::new(
        id,
        Outcome::Fail,
        domain,
        format!(
            "{} {what}(s) in the BIMI record.{consequence}\n{}",
            found.total(),
            found.message()
        ),
    )
    .evidence("record", &r.text)
    .diagnostics("diagnostics", &found)
    .remediation(format!(
        "Publish `default._bimi.{domain}. IN TXT \"v=BIMI1; l=https://<host>/<logo>.svg; a=https://<host>/<vmc>.pem\"`, or `\"v=BIMI1; l=; a=;\"` to decline."
    ))
}

/// The draft: "If both the "l=" and "a=" tags are empty, it is an explicit
/// refusal to participate in BIMI." An empty `l=` next to a non-empty `a=`
/// is neither a declination nor a usable record.
fn declined(domain: &str, r: &BimiRecord) -> RawFinding {
    if r.is_declination() {
        return RawFinding::new(
            rule::BIMI_DECLINED,
            Outcome::Pass,
            domain,
            "The record is a valid declination: the domain explicitly shows no BIMI logo.",
        )
        .evidence("record", &r.text);
    }
    if !r.has_logo() {
        return RawFinding::new(
            rule::BIMI_DECLINED,
            Outcome::Fail,
            domain,
            "l= is empty or absent but a= names an evidence document: this is neither a declination nor a usable record, so no logo can be shown.",
        )
        .evidence("record", &r.text)
        .remediation(format!(
            "Either publish the logo: `default._bimi.{domain}. IN TXT \"v=BIMI1; l=https://<host>/<logo>.svg; a={}\"`, or decline with `\"v=BIMI1; l=; a=;\"`.",
            r.authority.as_deref().unwrap_or("")
        ));
    }
    RawFinding::new(
        rule::BIMI_DECLINED,
        Outcome::NotApplicable,
        domain,
        "The record publishes a logo; it is not a declination.",
    )
}

/// The evidence document (`a=`, a VMC or CMC). The draft makes it
/// optional, but the large mailbox providers that display BIMI logos
/// (Gmail, Apple Mail) show them only with a mark certificate. The document
/// itself is not fetched yet (see the module documentation).
fn authority(domain: &str, r: &BimiRecord) -> RawFinding {
    if !r.has_logo() {
        return RawFinding::new(
            rule::BIMI_AUTHORITY_EVIDENCE,
            Outcome::NotApplicable,
            domain,
            "No logo is published.",
        );
    }
    if r.has_authority() {
        return RawFinding::new(
            rule::BIMI_AUTHORITY_EVIDENCE,
            Outcome::Pass,
            domain,
            format!(
                "An evidence document is published at {} (not fetched or validated yet).",
                r.authority.as_deref().unwrap_or("")
            ),
        );
    }
    RawFinding::new(
        rule::BIMI_AUTHORITY_EVIDENCE,
        Outcome::Fail,
        domain,
        "A logo is published without an evidence document (a=): most mailbox providers that show BIMI logos require a Verified Mark Certificate or Common Mark Certificate.",
    )
    .remediation(format!(
        "Obtain a VMC or CMC for the logo from a Mark Verifying Authority, host the PEM over HTTPS, and add it: `default._bimi.{domain}. IN TXT \"v=BIMI1; l={}; a=https://<host>/<certificate>.pem\"`.",
        r.location.as_deref().unwrap_or("")
    ))
}

/// BIMI requires DMARC enforcement: the draft has receivers show an
/// indicator only for mail that passes DMARC under a policy of quarantine
/// or reject applied to all mail (pct=100 where pct is used).
fn dmarc_enforcement(domain: &str, view: &DnsView<'_>, r: &BimiRecord, failed: &mut Vec<String>) -> RawFinding {
    const ID: &str = rule::BIMI_REQUIRES_DMARC_ENFORCEMENT;
    if r.is_declination() || !r.has_logo() {
        return RawFinding::new(
            ID,
            Outcome::NotApplicable,
            domain,
            "No logo is published, so DMARC enforcement is not needed for BIMI.",
        );
    }
    let name = format!("_dmarc.{domain}");
    let answer = view.get(&name, RType::Txt);
    if !answer.status.is_definite() {
        failed.push(format!("{name}/TXT {}", answer.status.describe()));
        return RawFinding::new(
            ID,
            Outcome::Indeterminate,
            domain,
            format!("Could not look up {name}: {}", answer.status.describe()),
        );
    }
    let dmarc: Vec<String> = answer
        .records
        .iter()
        .filter_map(RData::txt_bytes)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .filter(|t| is_dmarc(t))
        .collect();
    let fix = format!(
        "Publish an enforcing DMARC policy, e.g. `_dmarc.{domain}. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc-reports@{domain}\"` (or p=reject), without pct= or with pct=100, once legitimate mail passes DMARC."
    );
    let policy = match dmarc.as_slice() {
        [] => {
            let why = if answer.status == Status::Records {
                "has no v=DMARC1 record"
            } else {
                "does not exist"
            };
            return RawFinding::new(
                ID,
                Outcome::Fail,
                domain,
                format!(
                    "A BIMI logo is published, but {name} {why}: BIMI needs a DMARC policy of quarantine or reject. (A policy inherited from an organisational domain is not considered by this check.)"
                ),
            )
            .remediation(fix);
        }
        [one] => one,
        many => {
            return RawFinding::new(
                ID,
                Outcome::Fail,
                domain,
                format!(
                    "A BIMI logo is published, but {name} has {} DMARC records, so receivers apply no DMARC policy.",
                    many.len()
                ),
            )
            .evidence("dmarc", many)
            .remediation(fix);
        }
    };
    let tags = dmarc_tags(policy);
    let get = |n: &str| tags.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
    let p = get("p").unwrap_or("").to_ascii_lowercase();
    let pct = get("pct");
    let enforcing = p == "quarantine" || p == "reject";
    let full = pct.is_none_or(|v| v.trim() == "100");
    if enforcing && full {
        return RawFinding::new(
            ID,
            Outcome::Pass,
            domain,
            format!("DMARC enforces p={p} on all mail, as BIMI requires."),
        )
        .evidence("dmarc", policy);
    }
    let why = if !enforcing {
        format!(
            "the DMARC policy is p={}, which does not enforce",
            if p.is_empty() { "(missing)" } else { &p }
        )
    } else {
        format!("pct={} applies the policy to only part of the mail", pct.unwrap_or(""))
    };
    RawFinding::new(
        ID,
        Outcome::Fail,
        domain,
        format!("A BIMI logo is published, but {why}: receivers show BIMI logos only under quarantine or reject on all mail."),
    )
    .evidence("dmarc", policy)
    .remediation(fix)
}

/// `v=DMARC1` at the start (RFC 7489 §6.4: the version tag must be first).
fn is_dmarc(text: &str) -> bool {
    let t = text.trim_start();
    let Some(rest) = t
        .get(..2)
        .filter(|v| v.eq_ignore_ascii_case("v="))
        .map(|_| t[2..].trim_start())
    else {
        return false;
    };
    rest.get(..6).is_some_and(|v| v.eq_ignore_ascii_case("DMARC1"))
        && rest[6..].trim_start().chars().next().is_none_or(|c| c == ';')
}

/// A minimal tag split for DMARC: names lower-cased, values trimmed.
fn dmarc_tags(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|t| t.split_once('='))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

fn lookup_failed(domain: &str, failed: &[String]) -> RawFinding {
    crate::unlooked::lookup_failed(
        (rule::BIMI_LOOKUP_FAILED, domain),
        "Every BIMI lookup was answered.",
        failed,
        counted("BIMI lookup(s)", "the BIMI checks that need them are indeterminate"),
        ("failed_lookups", failed),
    )
}

#[cfg(test)]
mod tests {
    use mailwarden_model::{Outcome::*, RType, RawFinding, ScanOptions, SourceInfo, Status};

    use super::*;
    use crate::testutil::{Dns, find, outcome};

    const D: &str = "example.com";
    const B: &str = "default._bimi.example.com";
    const DM: &str = "_dmarc.example.com";
    const GOOD: &str = "v=BIMI1; l=https://brand.example.com/logo.svg; a=https://brand.example.com/vmc.pem";

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

    fn with(bimi: &str, dmarc: &str) -> Dns {
        Dns::new().txt(B, &[bimi]).txt(DM, &[dmarc])
    }

    #[test]
    fn a_good_record_with_enforcing_dmarc_passes() {
        let f = run(&with(GOOD, "v=DMARC1; p=reject; rua=mailto:d@example.com"));
        for id in [
            "bimi.record",
            "bimi.syntax",
            "bimi.syntax-warning",
            "bimi.authority-evidence",
            "bimi.requires-dmarc-enforcement",
            "bimi.lookup-failed",
        ] {
            assert_eq!(outcome(&f, id, D), Pass, "{id}: {f:#?}");
        }
        assert_eq!(outcome(&f, "bimi.declined", D), NotApplicable);
        let f = run(&with(GOOD, "v=DMARC1; p=quarantine; pct=100"));
        assert_eq!(outcome(&f, "bimi.requires-dmarc-enforcement", D), Pass);
    }

    #[test]
    fn no_record_is_not_applicable_and_asks_nothing_else() {
        let f = run(&Dns::new().status(B, RType::Txt, Status::NxDomain));
        assert_eq!(outcome(&f, "bimi.record", D), NotApplicable);
        assert_eq!(outcome(&f, "bimi.lookup-failed", D), Pass);
        assert_eq!(f.len(), 2);
        let f = run(&Dns::new().txt(B, &["v=spf1 -all"]));
        assert_eq!(outcome(&f, "bimi.record", D), NotApplicable);
    }

    #[test]
    fn failed_lookups_are_indeterminate() {
        let f = run(&Dns::new().status(B, RType::Txt, Status::Timeout));
        assert_eq!(outcome(&f, "bimi.record", D), Indeterminate);
        assert_eq!(outcome(&f, "bimi.lookup-failed", D), Indeterminate);
        let f = run(&Dns::new().txt(B, &[GOOD]).status(DM, RType::Txt, Status::ServFail));
        assert_eq!(outcome(&f, "bimi.requires-dmarc-enforcement", D), Indeterminate);
        assert_eq!(outcome(&f, "bimi.lookup-failed", D), Indeterminate);
    }

    #[test]
    fn declination_passes_without_a_dmarc_lookup() {
        let f = run(&Dns::new().txt(B, &["v=BIMI1; l=; a=;"]));
        assert_eq!(outcome(&f, "bimi.declined", D), Pass);
        assert_eq!(outcome(&f, "bimi.syntax", D), Pass);
        assert_eq!(outcome(&f, "bimi.requires-dmarc-enforcement", D), NotApplicable);
        assert_eq!(outcome(&f, "bimi.authority-evidence", D), NotApplicable);
    }

    #[test]
    fn evidence_without_logo_fails_declined() {
        let f = run(&Dns::new().txt(B, &["v=BIMI1; l=; a=https://brand.example.com/vmc.pem"]));
        let d = find(&f, "bimi.declined", D);
        assert_eq!(d.outcome, Fail);
        assert!(d.remediation.as_deref().unwrap().contains("l=; a=;"));
    }

    #[test]
    fn syntax_errors_and_warnings_fail_with_carets() {
        let f = run(&with(
            "l=https://brand.example.com/logo.svg; v=BIMI1; a=https://brand.example.com/vmc.pem",
            "v=DMARC1; p=reject",
        ));
        let s = find(&f, "bimi.syntax", D);
        assert_eq!(s.outcome, Fail);
        assert!(s.message.contains("version-not-first"));
        assert!(s.message.contains('^'));
        let f = run(&with(
            "v=BIMI1; l=http://brand.example.com/logo.svg; a=https://brand.example.com/vmc.pem",
            "v=DMARC1; p=reject",
        ));
        assert_eq!(outcome(&f, "bimi.syntax", D), Fail);
        let f = run(&with(
            "v=BIMI1; l=https://brand.example.com/logo.png; a=https://brand.example.com/vmc.pem; x=1",
            "v=DMARC1; p=reject",
        ));
        assert_eq!(outcome(&f, "bimi.syntax-warning", D), Fail);
        assert_eq!(outcome(&f, "bimi.syntax", D), Pass);
    }

    #[test]
    fn logo_without_certificate_fails_authority_evidence() {
        let f = run(&with(
            "v=BIMI1; l=https://brand.example.com/logo.svg",
            "v=DMARC1; p=reject",
        ));
        let a = find(&f, "bimi.authority-evidence", D);
        assert_eq!(a.outcome, Fail);
        assert!(a.remediation.as_deref().unwrap().contains("a=https://"));
    }

    #[test]
    fn two_records_fail() {
        let f = run(&Dns::new().txt(B, &[GOOD, "v=BIMI1; l=; a=;"]));
        assert_eq!(outcome(&f, "bimi.record", D), Fail);
    }

    #[test]
    fn dmarc_without_enforcement_fails() {
        for dmarc in [
            "v=DMARC1; p=none",
            "v=DMARC1; p=quarantine; pct=50",
            "v=DMARC1; rua=mailto:d@example.com",
        ] {
            let f = run(&with(GOOD, dmarc));
            let e = find(&f, "bimi.requires-dmarc-enforcement", D);
            assert_eq!(e.outcome, Fail, "{dmarc}");
            assert!(e.remediation.as_deref().unwrap().contains("p=quarantine"));
        }
        let f = run(&Dns::new().txt(B, &[GOOD]).status(DM, RType::Txt, Status::NxDomain));
        assert_eq!(outcome(&f, "bimi.requires-dmarc-enforcement", D), Fail);
        let f = run(&Dns::new()
            .txt(B, &[GOOD])
            .txt(DM, &["v=DMARC1; p=reject", "v=DMARC1; p=none"]));
        assert_eq!(outcome(&f, "bimi.requires-dmarc-enforcement", D), Fail);
        let f = run(&Dns::new().txt(B, &[GOOD]).txt(DM, &["v=DMARC10; p=reject"]));
        assert_eq!(outcome(&f, "bimi.requires-dmarc-enforcement", D), Fail);
    }
}
