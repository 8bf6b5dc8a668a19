//! Tests of the DMARC judge. Each rule has a passing and a failing case;
//! rules that read DNS also have an indeterminate one (a timeout is never
//! "missing").

use mailwarden_model::{Outcome, RType, RawFinding, ScanOptions, Severity, SourceInfo, Status};

use super::*;
use crate::testutil::{Dns, find, outcome};

const D: &str = "example.com";

/// example.com with MX, no TXT at the apex, nothing at `_dmarc.com`.
fn base() -> Dns {
    Dns::new()
        .mx(D, &[(10, "mx.example.com")])
        .status(D, RType::Txt, Status::NoData)
        .status("_dmarc.com", RType::Txt, Status::NxDomain)
}

fn with_record(record: &str) -> Dns {
    base().txt("_dmarc.example.com", &[record])
}

fn run_as(dns: &Dns, domain: &str, parked: bool) -> Vec<RawFinding> {
    let options = ScanOptions {
        parked,
        ..ScanOptions::default()
    };
    let source = SourceInfo::default();
    let ctx = Context {
        roots: &crate::tls::cert::Roots::WebPki,
        domain,
        options: &options,
        source: &source,
        now: 0,
    };
    dns.judge(|view| judge(&ctx, view))
}

fn run(dns: &Dns) -> Vec<RawFinding> {
    run_as(dns, D, false)
}

const GOOD: &str = "v=DMARC1; p=reject; rua=mailto:dmarc@example.com";

#[test]
fn a_good_record_passes_everything() {
    let f = run(&with_record(GOOD));
    for f in &f {
        assert!(
            matches!(f.outcome, Outcome::Pass | Outcome::NotApplicable),
            "{}: {:?} {}",
            f.id,
            f.outcome,
            f.message
        );
    }
    for id in [
        "dmarc.missing",
        "dmarc.version",
        "dmarc.spf-at-dmarc",
        "dmarc.multiple-records",
        "dmarc.apex-record",
        "dmarc.org-domain",
        "dmarc.syntax",
        "dmarc.syntax-warning",
        "dmarc.policy-none",
        "dmarc.subdomain-policy",
        "dmarc.np-policy",
        "dmarc.pct",
        "dmarc.testing",
        "dmarc.removed-tags",
        "dmarc.alignment",
        "dmarc.rua-missing",
        "dmarc.rua-invalid",
        "dmarc.too-many-destinations",
        "dmarc.destination-no-mx",
        "dmarc.ruf-privacy",
        "dmarc.lookup-failed",
    ] {
        assert_eq!(outcome(&f, id, D), Outcome::Pass, "{id}");
    }
    assert_eq!(outcome(&f, "dmarc.external-unauthorised", D), Outcome::Pass);
    assert_eq!(outcome(&f, "dmarc.parked", D), Outcome::NotApplicable);
    assert_eq!(outcome(&f, "dmarc.fo", D), Outcome::NotApplicable);
}

#[test]
fn no_record_anywhere_is_missing() {
    let f = run(&base().status("_dmarc.example.com", RType::Txt, Status::NxDomain));
    let m = find(&f, "dmarc.missing", D);
    assert_eq!(m.outcome, Outcome::Fail);
    assert!(
        m.remediation
            .as_ref()
            .unwrap()
            .contains("_dmarc.example.com. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@example.com\"")
    );
    assert!(!f.iter().any(|f| f.id == "dmarc.policy-none"));
}

#[test]
fn a_timeout_is_never_missing() {
    let dns = Dns::new().status("_dmarc.example.com", RType::Txt, Status::Timeout);
    let f = run(&dns);
    assert_eq!(outcome(&f, "dmarc.missing", D), Outcome::Indeterminate);
    assert_eq!(outcome(&f, "dmarc.lookup-failed", D), Outcome::Indeterminate);
    assert_eq!(f.len(), 2);
}

/// Regression: in a zone-file audit the tree walk's `_dmarc.com` is
/// outside the loaded zones, and a domain with no record of its own came
/// out indeterminate. Only a public-suffix operator's policy could apply
/// above the organisational domain, so the domain's own absence is a fact.
#[test]
fn a_failed_lookup_above_the_organisational_domain_still_reports_missing() {
    let dns = base()
        .status("_dmarc.example.com", RType::Txt, Status::NxDomain)
        .status(
            "_dmarc.com",
            RType::Txt,
            Status::Error("outside the loaded zone files".into()),
        );
    let f = run(&dns);
    let m = find(&f, "dmarc.missing", D);
    assert_eq!(m.outcome, Outcome::Fail);
    assert!(m.message.contains("could not be checked: _dmarc.com"), "{}", m.message);
    assert_eq!(outcome(&f, "dmarc.lookup-failed", D), Outcome::Indeterminate);
}

#[test]
fn a_failed_parent_lookup_makes_inheritance_indeterminate() {
    let dns = Dns::new()
        .mx("mail.example.com", &[(10, "mx.example.com")])
        .status("mail.example.com", RType::Txt, Status::NoData)
        .status("_dmarc.mail.example.com", RType::Txt, Status::NxDomain)
        .status("_dmarc.example.com", RType::Txt, Status::ServFail)
        .status("_dmarc.com", RType::Txt, Status::NxDomain);
    let f = run_as(&dns, "mail.example.com", false);
    assert_eq!(outcome(&f, "dmarc.missing", "mail.example.com"), Outcome::Indeterminate);
    assert_eq!(
        outcome(&f, "dmarc.org-domain", "mail.example.com"),
        Outcome::Indeterminate
    );
    let lf = find(&f, "dmarc.lookup-failed", "mail.example.com");
    assert_eq!(lf.outcome, Outcome::Indeterminate);
    assert!(lf.message.contains("_dmarc.example.com/TXT"), "{}", lf.message);
}

#[test]
fn a_subdomain_inherits_the_organisational_policy() {
    let dns = with_record("v=DMARC1; p=reject; sp=quarantine; rua=mailto:dmarc@example.com")
        .mx("mail.example.com", &[(10, "mx.example.com")])
        .status("mail.example.com", RType::Txt, Status::NoData)
        .status("_dmarc.mail.example.com", RType::Txt, Status::NxDomain);
    let f = run_as(&dns, "mail.example.com", false);
    let m = find(&f, "dmarc.missing", "mail.example.com");
    assert_eq!(m.outcome, Outcome::Pass);
    assert!(m.message.contains("example.com"), "{}", m.message);
    assert_eq!(m.evidence["method"], "tree-walk");
    // The subdomain gets sp, which enforces.
    let p = find(&f, "dmarc.policy-none", "mail.example.com");
    assert_eq!(p.outcome, Outcome::Pass);
    assert!(p.message.contains("quarantine"), "{}", p.message);
    assert_eq!(
        outcome(&f, "dmarc.subdomain-policy", "mail.example.com"),
        Outcome::NotApplicable
    );
    assert_eq!(
        outcome(&f, "dmarc.np-policy", "mail.example.com"),
        Outcome::NotApplicable
    );
    assert_eq!(outcome(&f, "dmarc.org-domain", "mail.example.com"), Outcome::Pass);
}

#[test]
fn a_subdomain_inheriting_sp_none_is_not_enforced_at_medium() {
    let dns = with_record("v=DMARC1; p=reject; sp=none; rua=mailto:dmarc@example.com")
        .mx("mail.example.com", &[(10, "mx.example.com")])
        .status("mail.example.com", RType::Txt, Status::NoData)
        .status("_dmarc.mail.example.com", RType::Txt, Status::NxDomain);
    let f = run_as(&dns, "mail.example.com", false);
    let p = find(&f, "dmarc.policy-none", "mail.example.com");
    assert_eq!(p.outcome, Outcome::Fail);
    assert_eq!(p.severity, Some(Severity::Medium));
}

#[test]
fn version_must_be_exact() {
    let f = run(&with_record("v=dmarc1; p=reject"));
    let v = find(&f, "dmarc.version", D);
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(
        v.remediation.as_deref(),
        Some("_dmarc.example.com. IN TXT \"v=DMARC1; p=reject\"")
    );
    // The look-alike is ignored by receivers, so the domain has no policy.
    assert_eq!(outcome(&f, "dmarc.missing", D), Outcome::Fail);
}

#[test]
fn spf_at_dmarc_is_reported() {
    let f = run(&with_record("v=spf1 -all"));
    let s = find(&f, "dmarc.spf-at-dmarc", D);
    assert_eq!(s.outcome, Outcome::Fail);
    assert!(s.message.starts_with("SPF found where DMARC was expected"));
    assert_eq!(outcome(&f, "dmarc.missing", D), Outcome::Fail);
}

#[test]
fn several_records_mean_no_policy() {
    let dns = base().txt("_dmarc.example.com", &["v=DMARC1; p=reject", "v=DMARC1; p=none"]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "dmarc.multiple-records", D), Outcome::Fail);
    assert_eq!(outcome(&f, "dmarc.missing", D), Outcome::Fail);
}

#[test]
fn a_record_at_the_apex_has_no_effect() {
    let dns = with_record(GOOD).txt(D, &["v=DMARC1; p=reject", "v=spf1 -all"]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "dmarc.apex-record", D), Outcome::Fail);
    let dns = with_record(GOOD).status(D, RType::Txt, Status::Timeout);
    let f = run(&dns);
    assert_eq!(outcome(&f, "dmarc.apex-record", D), Outcome::Indeterminate);
}

#[test]
fn syntax_errors_and_warnings_with_carets() {
    let f = run(&with_record(
        "v=DMARC1; p=reject; adkim=x; foo=bar; rua=mailto:dmarc@example.com",
    ));
    let s = find(&f, "dmarc.syntax", D);
    assert_eq!(s.outcome, Outcome::Fail);
    assert!(s.message.contains("invalid-alignment"), "{}", s.message);
    assert!(s.message.contains("^"), "{}", s.message);
    assert!(
        s.remediation
            .as_ref()
            .unwrap()
            .contains("\"v=DMARC1; p=reject; rua=mailto:dmarc@example.com\"")
    );
    let w = find(&f, "dmarc.syntax-warning", D);
    assert_eq!(w.outcome, Outcome::Fail);
    assert!(w.message.contains("unknown-tag"));
}

#[test]
fn p_none_does_not_enforce_and_is_high_at_the_org_domain() {
    let f = run(&with_record("v=DMARC1; p=none; rua=mailto:dmarc@example.com"));
    let p = find(&f, "dmarc.policy-none", D);
    assert_eq!(p.outcome, Outcome::Fail);
    assert_eq!(p.severity, Some(Severity::High));
    assert!(p.remediation.as_ref().unwrap().contains("p=quarantine"));
    assert_eq!(outcome(&f, "dmarc.subdomain-policy", D), Outcome::Fail);
    assert_eq!(outcome(&f, "dmarc.np-policy", D), Outcome::Fail);
}

#[test]
fn no_p_is_none_with_rua_and_nothing_without() {
    let f = run(&with_record("v=DMARC1; rua=mailto:dmarc@example.com"));
    let p = find(&f, "dmarc.policy-none", D);
    assert_eq!(p.outcome, Outcome::Fail);
    assert!(p.message.contains("no valid p tag"), "{}", p.message);
    let f = run(&with_record("v=DMARC1; p=block"));
    let p = find(&f, "dmarc.policy-none", D);
    assert_eq!(p.outcome, Outcome::Fail);
    assert!(p.message.contains("no DMARC processing"), "{}", p.message);
}

#[test]
fn subdomain_and_np_policies() {
    let f = run(&with_record(
        "v=DMARC1; p=reject; sp=none; np=reject; rua=mailto:dmarc@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.subdomain-policy", D), Outcome::Fail);
    assert_eq!(outcome(&f, "dmarc.np-policy", D), Outcome::Pass);
    let f = run(&with_record(
        "v=DMARC1; p=reject; np=none; rua=mailto:dmarc@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.subdomain-policy", D), Outcome::Pass);
    let np = find(&f, "dmarc.np-policy", D);
    assert_eq!(np.outcome, Outcome::Fail);
    assert!(np.remediation.as_ref().unwrap().contains("np=reject"));
}

#[test]
fn pct_testing_and_removed_tags() {
    let f = run(&with_record(
        "v=DMARC1; p=reject; pct=50; t=y; rf=afrf; ri=3600; rua=mailto:dmarc@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.pct", D), Outcome::Fail);
    assert_eq!(outcome(&f, "dmarc.testing", D), Outcome::Fail);
    let r = find(&f, "dmarc.removed-tags", D);
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(r.message.contains("pct=50") && r.message.contains("rf=afrf") && r.message.contains("ri=3600"));
    // Removed tags are reported by their own rule, not as syntax warnings.
    assert_eq!(outcome(&f, "dmarc.syntax-warning", D), Outcome::Pass);
    let f = run(&with_record(
        "v=DMARC1; p=reject; pct=100; t=n; rua=mailto:dmarc@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.pct", D), Outcome::Pass);
    assert_eq!(outcome(&f, "dmarc.testing", D), Outcome::Pass);
}

#[test]
fn alignment_and_fo() {
    let f = run(&with_record(
        "v=DMARC1; p=reject; adkim=s; fo=1; rua=mailto:dmarc@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.alignment", D), Outcome::Fail);
    assert_eq!(outcome(&f, "dmarc.fo", D), Outcome::Fail);
    let f = run(&with_record(
        "v=DMARC1; p=reject; adkim=r; fo=1; rua=mailto:dmarc@example.com; ruf=mailto:ruf@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.alignment", D), Outcome::Pass);
    assert_eq!(outcome(&f, "dmarc.fo", D), Outcome::Pass);
    assert_eq!(outcome(&f, "dmarc.ruf-privacy", D), Outcome::Fail);
}

#[test]
fn rua_missing_and_invalid() {
    let f = run(&with_record("v=DMARC1; p=reject"));
    assert_eq!(outcome(&f, "dmarc.rua-missing", D), Outcome::Fail);
    assert_eq!(outcome(&f, "dmarc.rua-invalid", D), Outcome::NotApplicable);
    assert_eq!(outcome(&f, "dmarc.external-unauthorised", D), Outcome::NotApplicable);
    let f = run(&with_record("v=DMARC1; p=reject; rua=dmarc@example.com"));
    let i = find(&f, "dmarc.rua-invalid", D);
    assert_eq!(i.outcome, Outcome::Fail);
    assert!(i.message.contains("No rua URI is usable"), "{}", i.message);
    let f = run(&with_record("v=DMARC1; p=reject; rua=mailto:dmarc@example.com!10m"));
    assert_eq!(outcome(&f, "dmarc.rua-invalid", D), Outcome::Fail);
}

#[test]
fn rua_uris_are_evidence_for_profile_checks() {
    let f = run(&with_record(
        "v=DMARC1; p=reject; rua=mailto:dmarc@example.com,mailto:second@example.com",
    ));
    let m = find(&f, "dmarc.rua-missing", D);
    assert_eq!(m.outcome, Outcome::Pass);
    assert_eq!(
        m.evidence["rua"],
        serde_json::json!(["mailto:dmarc@example.com", "mailto:second@example.com"])
    );
}

#[test]
fn more_than_two_destinations() {
    let f = run(&with_record(
        "v=DMARC1; p=reject; rua=mailto:a@example.com,mailto:b@example.com,mailto:c@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.too-many-destinations", D), Outcome::Fail);
    let f = run(&with_record(
        "v=DMARC1; p=reject; rua=mailto:a@example.com,mailto:b@example.com",
    ));
    assert_eq!(outcome(&f, "dmarc.too-many-destinations", D), Outcome::Pass);
}

const EXTERNAL: &str = "v=DMARC1; p=reject; rua=mailto:d@reports.example.net";
const AUTH: &str = "example.com._report._dmarc.reports.example.net";

#[test]
fn external_destinations_must_authorise() {
    let dns = with_record(EXTERNAL)
        .txt(AUTH, &["v=DMARC1"])
        .mx("reports.example.net", &[(10, "mx.example.net")]);
    let f = run(&dns);
    let e = find(&f, "dmarc.external-unauthorised", "reports.example.net");
    assert_eq!(e.outcome, Outcome::Pass);
    assert_eq!(
        outcome(&f, "dmarc.destination-no-mx", "reports.example.net"),
        Outcome::Pass
    );

    let dns = with_record(EXTERNAL)
        .status(AUTH, RType::Txt, Status::NxDomain)
        .mx("reports.example.net", &[(10, "mx.example.net")]);
    let f = run(&dns);
    let e = find(&f, "dmarc.external-unauthorised", "reports.example.net");
    assert_eq!(e.outcome, Outcome::Fail);
    assert!(e.remediation.as_ref().unwrap().contains(AUTH));

    // A record that does not start with v=DMARC1 does not authorise.
    let dns = with_record(EXTERNAL)
        .txt(AUTH, &["p=none; v=DMARC1"])
        .mx("reports.example.net", &[(10, "mx.example.net")]);
    let f = run(&dns);
    assert_eq!(
        outcome(&f, "dmarc.external-unauthorised", "reports.example.net"),
        Outcome::Fail
    );

    let dns = with_record(EXTERNAL)
        .status(AUTH, RType::Txt, Status::Timeout)
        .mx("reports.example.net", &[(10, "mx.example.net")]);
    let f = run(&dns);
    assert_eq!(
        outcome(&f, "dmarc.external-unauthorised", "reports.example.net"),
        Outcome::Indeterminate
    );
    assert_eq!(outcome(&f, "dmarc.lookup-failed", D), Outcome::Indeterminate);
}

#[test]
fn destinations_must_accept_mail() {
    let dns = with_record(EXTERNAL)
        .txt(AUTH, &["v=DMARC1"])
        .status("reports.example.net", RType::Mx, Status::NxDomain);
    let f = run(&dns);
    assert_eq!(
        outcome(&f, "dmarc.destination-no-mx", "reports.example.net"),
        Outcome::Fail
    );
    let dns = with_record(EXTERNAL)
        .txt(AUTH, &["v=DMARC1"])
        .mx("reports.example.net", &[(0, ".")]);
    let f = run(&dns);
    assert_eq!(
        outcome(&f, "dmarc.destination-no-mx", "reports.example.net"),
        Outcome::Fail
    );
    let dns = with_record(EXTERNAL)
        .txt(AUTH, &["v=DMARC1"])
        .status("reports.example.net", RType::Mx, Status::NoData)
        .a("reports.example.net", &["192.0.2.1"])
        .status("reports.example.net", RType::Aaaa, Status::NoData);
    let f = run(&dns);
    assert_eq!(
        outcome(&f, "dmarc.destination-no-mx", "reports.example.net"),
        Outcome::Pass
    );
    let dns = with_record(EXTERNAL)
        .txt(AUTH, &["v=DMARC1"])
        .status("reports.example.net", RType::Mx, Status::Timeout);
    let f = run(&dns);
    assert_eq!(
        outcome(&f, "dmarc.destination-no-mx", "reports.example.net"),
        Outcome::Indeterminate
    );
}

#[test]
fn ruf_is_a_privacy_finding() {
    let f = run(&with_record(
        "v=DMARC1; p=reject; rua=mailto:dmarc@example.com; ruf=mailto:f@example.com",
    ));
    let r = find(&f, "dmarc.ruf-privacy", D);
    assert_eq!(r.outcome, Outcome::Fail);
    assert!(r.message.contains("GDPR"));
}

#[test]
fn parked_domains_must_reject_everything() {
    // Null MX, p=reject with subdomains rejected: pass.
    let dns = Dns::new()
        .mx(D, &[(0, ".")])
        .status(D, RType::Txt, Status::NoData)
        .status("_dmarc.com", RType::Txt, Status::NxDomain)
        .txt(
            "_dmarc.example.com",
            &["v=DMARC1; p=reject; rua=mailto:dmarc@example.net"],
        )
        .txt("example.com._report._dmarc.example.net", &["v=DMARC1"])
        .mx("example.net", &[(10, "mx.example.net")]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "dmarc.parked", D), Outcome::Pass);
    // Told it is parked, p=reject but sp=none: fail.
    let f = run_as(
        &with_record("v=DMARC1; p=reject; sp=none; rua=mailto:dmarc@example.com"),
        D,
        true,
    );
    let p = find(&f, "dmarc.parked", D);
    assert_eq!(p.outcome, Outcome::Fail);
    assert!(p.remediation.as_ref().unwrap().contains("p=reject; sp=reject"));
    // Parked without any policy: fail.
    let f = run_as(
        &base().status("_dmarc.example.com", RType::Txt, Status::NxDomain),
        D,
        true,
    );
    assert_eq!(outcome(&f, "dmarc.parked", D), Outcome::Fail);
    // MX lookup failed: cannot tell.
    let dns = Dns::new()
        .status(D, RType::Mx, Status::Timeout)
        .status(D, RType::Txt, Status::NoData)
        .status("_dmarc.com", RType::Txt, Status::NxDomain)
        .txt("_dmarc.example.com", &[GOOD]);
    let f = run(&dns);
    assert_eq!(outcome(&f, "dmarc.parked", D), Outcome::Indeterminate);
}

#[test]
fn tree_walk_names_are_bounded() {
    assert_eq!(
        walk_names("a.mail.example.com"),
        vec!["a.mail.example.com", "mail.example.com", "example.com", "com"]
    );
    let long = "a.b.c.d.e.f.g.h.i.j.example.com";
    let names = walk_names(long);
    assert_eq!(names.len(), MAX_WALK_QUERIES);
    assert_eq!(names[1], "f.g.h.i.j.example.com");
    assert_eq!(names.last().unwrap(), "com");
    assert_eq!(walk_names("com"), vec!["com"]);
}

#[test]
fn public_suffix_list_is_embedded() {
    assert_eq!(organisational_domain_psl("a.b.example.co.uk"), "example.co.uk");
    assert_eq!(organisational_domain_psl("Mail.Example.COM."), "example.com");
    assert_eq!(organisational_domain_psl("co.uk"), "co.uk");
}

#[test]
fn psd_y_at_a_public_suffix_sets_the_org_domain_and_applies() {
    // a.mail.example.com: nothing below; `_dmarc.com` says psd=y.
    let dns = Dns::new()
        .mx("a.mail.example.com", &[(10, "mx.example.com")])
        .status("a.mail.example.com", RType::Txt, Status::NoData)
        .status("_dmarc.a.mail.example.com", RType::Txt, Status::NxDomain)
        .status("_dmarc.mail.example.com", RType::Txt, Status::NxDomain)
        .status("_dmarc.example.com", RType::Txt, Status::NxDomain)
        .txt("_dmarc.com", &["v=DMARC1; p=reject; psd=y"]);
    let f = run_as(&dns, "a.mail.example.com", false);
    let o = find(&f, "dmarc.org-domain", "a.mail.example.com");
    assert_eq!(o.evidence["organisational_domain_tree_walk"], "example.com");
    // RFC 7489 receivers find nothing at example.com; RFC 9989 ones apply the PSD policy.
    assert_eq!(o.outcome, Outcome::Fail, "{}", o.message);
    let m = find(&f, "dmarc.missing", "a.mail.example.com");
    assert_eq!(m.outcome, Outcome::Pass);
    assert_eq!(m.evidence["policy_domain"], "com");
}

#[test]
fn psd_n_below_the_psl_org_domain_is_a_disagreement() {
    let dns = Dns::new()
        .mx("a.b.example.com", &[(10, "mx.example.com")])
        .status("a.b.example.com", RType::Txt, Status::NoData)
        .status("_dmarc.a.b.example.com", RType::Txt, Status::NxDomain)
        .txt(
            "_dmarc.b.example.com",
            &["v=DMARC1; p=reject; psd=n; rua=mailto:d@b.example.com"],
        )
        .txt("_dmarc.example.com", &["v=DMARC1; p=none; rua=mailto:d@example.com"])
        .mx("b.example.com", &[(10, "mx.example.com")]);
    let f = run_as(&dns, "a.b.example.com", false);
    let o = find(&f, "dmarc.org-domain", "a.b.example.com");
    assert_eq!(o.outcome, Outcome::Fail);
    assert!(o.message.contains("b.example.com"), "{}", o.message);
    // The walk stopped at psd=n: `_dmarc.com` was never asked.
    let walk = o.evidence["walk"].as_array().unwrap();
    assert_eq!(walk.len(), 2);
    let p = find(&f, "dmarc.policy-none", "a.b.example.com");
    assert_eq!(p.outcome, Outcome::Pass);
}

/// Regression: `dmarc.parked` recommends `adkim=s; aspf=s`, and
/// `dmarc.alignment` then flagged the very record it recommended.
#[test]
fn strict_alignment_passes_on_a_parked_domain_only() {
    let strict = "v=DMARC1; p=reject; sp=reject; adkim=s; aspf=s; rua=mailto:dmarc@example.com";
    let parked = run_as(&with_record(strict), D, true);
    assert_eq!(outcome(&parked, "dmarc.alignment", D), Outcome::Pass);
    let sending = run(&with_record(strict));
    assert_eq!(outcome(&sending, "dmarc.alignment", D), Outcome::Fail);
}

#[test]
fn ruf_destination_outside_the_organisational_domain_needs_authorisation() {
    const RUF_ONLY: &str = "v=DMARC1; p=reject; rua=mailto:dmarc@example.com; ruf=mailto:f@forensic.example.org";
    const RUF_AUTH: &str = "example.com._report._dmarc.forensic.example.org";
    let unauthorised = with_record(RUF_ONLY)
        .status(RUF_AUTH, RType::Txt, Status::NxDomain)
        .mx("forensic.example.org", &[(10, "mx.example.org")]);
    let f = run(&unauthorised);
    let e = find(&f, "dmarc.external-unauthorised", "forensic.example.org");
    assert_eq!(e.outcome, Outcome::Fail, "{}", e.message);
    assert!(e.message.contains("ruf"), "{}", e.message);
    let authorised = with_record(RUF_ONLY)
        .txt(RUF_AUTH, &["v=DMARC1"])
        .mx("forensic.example.org", &[(10, "mx.example.org")]);
    let f = run(&authorised);
    assert_eq!(
        outcome(&f, "dmarc.external-unauthorised", "forensic.example.org"),
        Outcome::Pass
    );
}
