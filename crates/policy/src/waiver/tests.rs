use mailwarden_model::Severity;
use time::macros::date;

use super::*;

fn no_hint(_: &str) -> String {
    String::new()
}

fn failing(id: &str, subject: &str) -> Finding {
    let mut f = Finding::new(id, Outcome::Fail, subject, "m");
    f.severity = Severity::High;
    f
}

const FILE: &str = r#"# accepted risks
[[waiver]]
rule = "DMARC.policy-none"
subject = "example.com"
reason = "p=none during the rollout"
owner = "mail-team@example.com"
expires = 2026-12-31

[[waiver]]
rule = "smtp.cert-expired"
subject = "mx?.example.com (*)"
reason = "replacement ordered"
owner = "ops"
expires = "2026-06-30"
"#;

fn waivers() -> Vec<Waiver> {
    Waiver::parse_file("w.toml", FILE, Catalogue::builtin(), &no_hint).unwrap()
}

#[test]
fn a_waiver_file_parses_with_origins_and_lower_case_rule_ids() {
    let w = waivers();
    assert_eq!(w.len(), 2);
    assert_eq!(w[0].rule, "dmarc.policy-none");
    assert_eq!(w[0].origin, "w.toml:3");
    assert_eq!(w[0].expires, Some(date!(2026 - 12 - 31)));
    assert_eq!(w[1].expires, Some(date!(2026 - 06 - 30)));
    assert_eq!(w[1].origin, "w.toml:10");
}

#[test]
fn a_live_waiver_accepts_the_failing_finding_through_its_last_day() {
    let w = waivers();
    for today in [date!(2026 - 01 - 01), date!(2026 - 12 - 31)] {
        let mut findings = vec![failing("dmarc.policy-none", "example.com")];
        let applied = apply(&w, &mut findings, today);
        assert_eq!(applied.matched, [0]);
        assert_eq!(findings.len(), 1, "no expired-waiver finding while live");
        let a = findings[0].accepted.as_ref().expect("accepted");
        assert_eq!(a.owner.as_deref(), Some("mail-team@example.com"));
        assert_eq!(a.expires.as_deref(), Some("2026-12-31"));
        assert_eq!(a.waiver, "w.toml:3");
        assert!(!findings[0].fails() && findings[0].is_accepted());
    }
}

#[test]
fn an_expired_waiver_fails_again_and_is_itself_a_finding() {
    let w = waivers();
    let mut findings = vec![failing("dmarc.policy-none", "example.com")];
    let applied = apply(&w, &mut findings, date!(2027 - 01 - 01));
    assert_eq!(applied.matched, [0]);
    assert!(findings[0].fails(), "the finding fails again");
    assert_eq!(findings.len(), 2);
    let expired = &findings[1];
    assert_eq!(expired.id, EXPIRED_RULE);
    assert_eq!(expired.outcome, Outcome::Fail);
    assert_eq!(expired.subject, "dmarc.policy-none@example.com");
    assert!(
        expired.message.contains("expired after 2026-12-31"),
        "{}",
        expired.message
    );
    assert_eq!(expired.evidence["owner"], "mail-team@example.com");
}

#[test]
fn waivers_match_rule_and_subject_glob_only() {
    let w = waivers();
    let mut findings = vec![
        failing("smtp.cert-expired", "mx1.example.com (192.0.2.25)"),
        failing("smtp.cert-expired", "mail.example.com (192.0.2.25)"),
        failing("dmarc.policy-none", "other.example"),
        Finding::new("dmarc.policy-none", Outcome::Pass, "example.com", "ok"),
    ];
    let applied = apply(&w, &mut findings, date!(2026 - 01 - 01));
    assert_eq!(applied.matched, [1], "the DMARC waiver matched no failing finding");
    assert!(findings[0].is_accepted());
    assert!(findings[1].fails() && findings[2].fails());
    assert!(findings[3].accepted.is_none(), "a pass is never marked");
}

#[test]
fn ignore_takes_rule_and_optional_subject_case_insensitively() {
    let c = Catalogue::builtin();
    let w = Waiver::ignore("SPF.softfail-all", c, &no_hint).unwrap();
    assert_eq!((w.rule.as_str(), w.subject.as_str()), ("spf.softfail-all", "*"));
    assert_eq!(w.reason, IGNORED_REASON);
    assert!(w.live(date!(9999 - 12 - 31)));
    let w = Waiver::ignore("spf.softfail-all@*.example.com", c, &no_hint).unwrap();
    assert!(w.covers(&failing("spf.softfail-all", "mail.EXAMPLE.com")));
    assert!(!w.covers(&failing("spf.softfail-all", "example.com")));
    let err = Waiver::ignore("spf.softfail-al", c, &|_| "; did you mean \"spf.softfail-all\"?".into()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--ignore spf.softfail-al: unknown rule \"spf.softfail-al\" (`mailwarden rules` lists them); did you mean \"spf.softfail-all\"?"
    );
    assert!(Waiver::ignore("spf.softfail-all@", c, &no_hint).is_err());
    assert!(Waiver::ignore("waiver.expired", c, &no_hint).is_err());
}

#[test]
fn bad_waiver_files_name_file_line_and_field() {
    let c = Catalogue::builtin();
    let cases = [
        (FILE.replace("2026-12-31", "2026-13-01"), "w.toml:7"),
        (
            FILE.replace("\"2026-06-30\"", "\"next year\""),
            "w.toml:14: expires: \"next year\" is not a date",
        ),
        (
            FILE.replace("smtp.cert-expired", "smtp.cert-expird"),
            "w.toml:10: rule: unknown rule \"smtp.cert-expird\"",
        ),
        (
            FILE.replace("owner = \"ops\"", "owner = \" \""),
            "w.toml:13: owner: empty",
        ),
        (FILE.replace("owner = \"ops\"\n", ""), "w.toml:9"),
        (
            FILE.replace("reason = \"replacement", "resaon = \"replacement"),
            "w.toml:12: unknown field `resaon`",
        ),
    ];
    for (text, want) in cases {
        let err = Waiver::parse_file("w.toml", &text, c, &no_hint)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(want), "want {want:?}, got {err:?}");
    }
}

#[test]
fn glob_matches_stars_and_question_marks() {
    assert!(glob("*", ""));
    assert!(glob("*.example.com", "mx.example.com"));
    assert!(!glob("*.example.com", "example.com"));
    assert!(glob("mx?.example.com*", "mx1.example.com (2001:db8::1)"));
    assert!(glob("a*b*c", "aXbYbZc"));
    assert!(!glob("a*b*c", "aXbYbZ"));
    assert!(glob("EXAMPLE.com", "example.COM"));
}
