//! Tests of the SPF audit and of `check_host()` beyond the RFC suite. Each
//! rule has a passing and a failing case; rules that read DNS also have an
//! indeterminate one (a timeout is never "missing").

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use mailwarden_model::{Answer, Outcome, Proof, QueryKey, RData, RType, RawFinding, Status, Transcript};

use super::*;
use crate::testutil::{find, settle};

/// A tiny in-memory DNS: names with no data are NXDOMAIN, names with other
/// types NODATA, and chosen questions time out.
#[derive(Default)]
struct Zone {
    records: BTreeMap<(String, RType), Vec<RData>>,
    timeouts: BTreeSet<(String, RType)>,
}

impl Zone {
    fn new() -> Self {
        Self::default()
    }

    fn add(mut self, name: &str, rtype: RType, rdata: RData) -> Self {
        self.records.entry((name.to_string(), rtype)).or_default().push(rdata);
        self
    }

    fn txt(self, name: &str, text: &str) -> Self {
        self.txt_strings(name, &[text])
    }

    fn txt_strings(self, name: &str, strings: &[&str]) -> Self {
        let strings = strings.iter().map(|s| s.to_string()).collect();
        self.add(name, RType::Txt, RData::Txt { strings })
    }

    fn a(self, name: &str, addr: &str) -> Self {
        self.add(
            name,
            RType::A,
            RData::A {
                address: addr.parse().unwrap(),
            },
        )
    }

    fn aaaa(self, name: &str, addr: &str) -> Self {
        self.add(
            name,
            RType::Aaaa,
            RData::Aaaa {
                address: addr.parse().unwrap(),
            },
        )
    }

    fn mx(self, name: &str, preference: u16, exchange: &str) -> Self {
        self.add(
            name,
            RType::Mx,
            RData::Mx {
                preference,
                exchange: exchange.to_string(),
            },
        )
    }

    fn timeout(mut self, name: &str, rtype: RType) -> Self {
        self.timeouts.insert((name.to_string(), rtype));
        self
    }

    fn answer(&self, key: &QueryKey) -> Answer {
        let k = (key.name.clone(), key.rtype);
        if self.timeouts.contains(&k) {
            return Answer::empty(Status::Timeout, Proof::Indeterminate);
        }
        if let Some(records) = self.records.get(&k) {
            return Answer::with_records(records.clone(), Proof::NotValidated);
        }
        let exists = self.records.keys().chain(&self.timeouts).any(|(n, _)| *n == key.name);
        let status = if exists { Status::NoData } else { Status::NxDomain };
        Answer::empty(status, Proof::NotValidated)
    }

    fn run<R>(&self, judge: impl Fn(&mailwarden_model::DnsView<'_>) -> R) -> R {
        let (transcript, result) = settle(|key| self.answer(key), &judge);
        // Judging the saved transcript again asks for nothing new.
        let view = mailwarden_model::DnsView::new(&transcript);
        let _ = judge(&view);
        assert!(view.into_missing().is_empty());
        result
    }

    fn judge(&self, domain: &str) -> Vec<RawFinding> {
        self.run(|view| judge(domain, view))
    }

    fn check(&self, ip: &str, domain: &str) -> CheckHost {
        let ip: IpAddr = ip.parse().unwrap();
        self.run(|view| check_host(view, ip, domain, &format!("user@{domain}"), "helo.example"))
    }
}

const D: &str = "example.com";

fn outcome_of(findings: &[RawFinding], id: &str) -> Outcome {
    find(findings, id, D).outcome
}

fn with_record(record: &str) -> Zone {
    Zone::new().txt(D, record)
}

fn assert_outcome(zone: &Zone, id: &str, want: Outcome) -> RawFinding {
    let findings = zone.judge(D);
    let f = find(&findings, id, D).clone();
    assert_eq!(f.outcome, want, "{id}: {f:#?}");
    f
}

#[test]
fn missing_record() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.missing", Outcome::Pass);
    let f = assert_outcome(
        &Zone::new().txt(D, "google-site-verification=abc"),
        "spf.missing",
        Outcome::Fail,
    );
    assert!(f.remediation.unwrap().contains("v=spf1 -all"));
    assert_outcome(&Zone::new(), "spf.missing", Outcome::Fail);
}

#[test]
fn missing_is_indeterminate_when_the_txt_lookup_times_out() {
    let findings = Zone::new().timeout(D, RType::Txt).judge(D);
    assert_eq!(outcome_of(&findings, "spf.missing"), Outcome::Indeterminate);
    assert_eq!(outcome_of(&findings, "spf.lookup-failed"), Outcome::Indeterminate);
    assert!(findings.iter().all(|f| f.outcome != Outcome::Fail), "{findings:#?}");
}

#[test]
fn multiple_records() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.multiple-records", Outcome::Pass);
    let zone = with_record("v=spf1 ip4:192.0.2.0/24 -all").txt(D, "V=SPF1 include:_spf.example.net ~all");
    let f = assert_outcome(&zone, "spf.multiple-records", Outcome::Fail);
    assert_eq!(
        f.remediation.unwrap(),
        "Merge them into one record: example.com. IN TXT \"v=spf1 include:_spf.example.net ip4:192.0.2.0/24 -all\""
    );
}

#[test]
fn version_token() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.version", Outcome::Pass);
    let zone = Zone::new().txt(D, "v=spf1.0 ip4:192.0.2.1 -all");
    let f = assert_outcome(&zone, "spf.version", Outcome::Fail);
    assert_eq!(
        f.remediation.unwrap(),
        "example.com. IN TXT \"v=spf1 ip4:192.0.2.1 -all\""
    );
    assert_outcome(&zone, "spf.missing", Outcome::Fail);
}

#[test]
fn type99_record() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.type99", Outcome::Pass);
    let zone = with_record("v=spf1 -all").add(
        D,
        RType::Spf,
        RData::Spf {
            strings: vec!["v=spf1 -all".into()],
        },
    );
    assert_outcome(&zone, "spf.type99", Outcome::Fail);
    assert_outcome(
        &with_record("v=spf1 -all").timeout(D, RType::Spf),
        "spf.type99",
        Outcome::Indeterminate,
    );
}

#[test]
fn string_and_record_lengths() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.string-too-long", Outcome::Pass);
    let long = format!(
        "v=spf1 {} -all",
        (1..=20)
            .map(|i| format!("ip4:192.0.2.{i}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    assert!(long.len() > 255 && long.len() < 450);
    let f = assert_outcome(&with_record(&long), "spf.string-too-long", Outcome::Fail);
    let fix = f.remediation.unwrap();
    assert!(fix.split('"').all(|chunk| chunk.len() <= 255), "{fix}");
    assert_outcome(&with_record(&long), "spf.record-too-long", Outcome::Pass);

    let huge: Vec<String> = (0..4)
        .map(|n| {
            format!(
                "{} ",
                (1..=9)
                    .map(|i| format!("ip4:198.51.100.{}", n * 10 + i))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        })
        .collect();
    let mut strings = vec!["v=spf1 ".to_string()];
    strings.extend(huge);
    strings.push("-all".into());
    let refs: Vec<&str> = strings.iter().map(String::as_str).collect();
    let zone = Zone::new().txt_strings(D, &refs);
    assert_outcome(&zone, "spf.record-too-long", Outcome::Fail);
    assert_outcome(&zone, "spf.string-too-long", Outcome::Pass);
}

#[test]
fn string_split_inside_a_term() {
    assert_outcome(
        &Zone::new().txt_strings(D, &["v=spf1 ip4:192.0.2.1 ", "-all"]),
        "spf.string-split",
        Outcome::Pass,
    );
    let f = assert_outcome(
        &Zone::new().txt_strings(D, &["v=spf1 ip4:192.0", ".2.1 -all"]),
        "spf.string-split",
        Outcome::Fail,
    );
    assert_eq!(f.evidence["split_offsets"], serde_json::json!([16]));
}

#[test]
fn syntax_errors_with_carets_across_the_tree() {
    let zone =
        with_record("v=spf1 include:_spf.example.net -all").txt("_spf.example.net", "v=spf1 ip4:192.0.2.0/24 ~all");
    assert_outcome(&zone, "spf.syntax", Outcome::Pass);
    let zone = with_record("v=spf1 include:_spf.example.net ip4:192.0.2.300 -all");
    let f = assert_outcome(&zone, "spf.syntax", Outcome::Fail);
    let caret = format!(
        "v=spf1 include:_spf.example.net ip4:192.0.2.300 -all\n{}{}",
        " ".repeat(36),
        "^".repeat(11)
    );
    assert!(f.message.contains(&caret), "{}", f.message);
    assert_eq!(
        f.evidence["diagnostics"][0]["span"],
        serde_json::json!({"start": 36, "end": 47})
    );
    assert_eq!(f.evidence["diagnostics"][0]["code"], "bad-ip");

    let zone = with_record("v=spf1 include:_spf.example.net -all").txt("_spf.example.net", "v=spf1 moo -all");
    let f = assert_outcome(&zone, "spf.syntax", Outcome::Fail);
    assert_eq!(
        f.evidence["diagnostics"][0]["path"],
        "example.com → include:_spf.example.net"
    );
    assert_eq!(f.evidence["diagnostics"][0]["code"], "unknown-mechanism");
    assert_eq!(zone.check("192.0.2.1", D).result, SpfResult::Permerror);
}

#[test]
fn syntax_warnings() {
    assert_outcome(&with_record("v=spf1 a -all"), "spf.syntax-warning", Outcome::Pass);
    let f = assert_outcome(
        &with_record("v=spf1 -all a").a(D, "192.0.2.1"),
        "spf.syntax-warning",
        Outcome::Fail,
    );
    assert!(f.message.contains("after-all"));
}

#[test]
fn redirect_with_all() {
    let zone = with_record("v=spf1 redirect=_spf.example.net").txt("_spf.example.net", "v=spf1 -all");
    assert_outcome(&zone, "spf.redirect-with-all", Outcome::Pass);
    assert_outcome(&zone, "spf.no-all", Outcome::Pass);
    let zone = with_record("v=spf1 -all redirect=_spf.example.net");
    assert_outcome(&zone, "spf.redirect-with-all", Outcome::Fail);
}

#[test]
fn lookup_limit_over_the_whole_tree() {
    let zone = with_record("v=spf1 include:a.example.net include:b.example.net -all")
        .txt("a.example.net", "v=spf1 ip4:192.0.2.1 -all")
        .txt("b.example.net", "v=spf1 ip4:192.0.2.2 -all");
    let f = assert_outcome(&zone, "spf.lookup-limit", Outcome::Pass);
    assert_eq!(f.evidence["dns_lookups"], 2);

    let names: Vec<String> = (0..6).map(|i| format!("i{i}.example.net")).collect();
    let mut zone = with_record(&format!(
        "v=spf1 {} exp=explain.example.com -all",
        names
            .iter()
            .map(|n| format!("include:{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    for n in &names {
        zone = zone
            .txt(n, &format!("v=spf1 a:host.{n} -all"))
            .a(&format!("host.{n}"), "192.0.2.9");
    }
    let f = assert_outcome(&zone, "spf.lookup-limit", Outcome::Fail);
    assert_eq!(f.evidence["dns_lookups"], 12);
    assert_eq!(f.evidence["terms"][1]["path"], "example.com → include:i0.example.net");
    assert_eq!(f.evidence["terms"][1]["term"], "a:host.i0.example.net");
    // The receiver agrees: a client matching nothing gets permerror.
    assert_eq!(zone.check("203.0.113.1", D).result, SpfResult::Permerror);

    let zone = with_record("v=spf1 include:a.example.net -all").timeout("a.example.net", RType::Txt);
    assert_outcome(&zone, "spf.lookup-limit", Outcome::Indeterminate);
    assert_outcome(&zone, "spf.include-missing", Outcome::Indeterminate);
}

#[test]
fn void_lookup_limit() {
    let zone = with_record("v=spf1 a:gone1.example.com a:gone2.example.com -all");
    assert_outcome(&zone, "spf.void-lookup-limit", Outcome::Pass);
    let zone = with_record("v=spf1 a:gone1.example.com a:gone2.example.com mx:gone3.example.com -all");
    let f = assert_outcome(&zone, "spf.void-lookup-limit", Outcome::Fail);
    assert_eq!(f.evidence["void_lookups"].as_array().unwrap().len(), 3);
    assert_eq!(zone.check("203.0.113.1", D).result, SpfResult::Permerror);
    let zone = with_record("v=spf1 a:slow.example.com -all").timeout("slow.example.com", RType::A);
    assert_outcome(&zone, "spf.void-lookup-limit", Outcome::Indeterminate);
}

#[test]
fn mx_limit() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.mx-limit", Outcome::NotApplicable);
    let zone = with_record("v=spf1 mx -all")
        .mx(D, 10, "mx1.example.com")
        .a("mx1.example.com", "192.0.2.25");
    assert_outcome(&zone, "spf.mx-limit", Outcome::Pass);
    let mut zone = with_record("v=spf1 mx -all");
    for i in 0..11 {
        zone = zone.mx(D, i, &format!("mx{i}.example.com"));
    }
    assert_outcome(&zone, "spf.mx-limit", Outcome::Fail);
    let zone = with_record("v=spf1 mx -all").timeout(D, RType::Mx);
    assert_outcome(&zone, "spf.mx-limit", Outcome::Indeterminate);
}

#[test]
fn include_target_missing() {
    let zone = with_record("v=spf1 include:_spf.example.net -all").txt("_spf.example.net", "v=spf1 -all");
    assert_outcome(&zone, "spf.include-missing", Outcome::Pass);
    let zone = with_record("v=spf1 include:_spf.example.net -all");
    let f = assert_outcome(&zone, "spf.include-missing", Outcome::Fail);
    assert_eq!(f.evidence["targets"][0]["target"], "_spf.example.net");
    assert_eq!(zone.check("192.0.2.1", D).result, SpfResult::Permerror);
    assert_outcome(
        &with_record("v=spf1 -all"),
        "spf.include-missing",
        Outcome::NotApplicable,
    );
}

#[test]
fn include_loop() {
    let zone = with_record("v=spf1 include:a.example.net -all").txt("a.example.net", "v=spf1 ip4:192.0.2.1 -all");
    assert_outcome(&zone, "spf.loop", Outcome::Pass);
    let zone = with_record("v=spf1 include:a.example.net -all").txt("a.example.net", "v=spf1 include:example.com -all");
    let f = assert_outcome(&zone, "spf.loop", Outcome::Fail);
    assert_eq!(f.evidence["loops"][0]["path"], "example.com → include:a.example.net");
    assert_eq!(zone.check("203.0.113.1", D).result, SpfResult::Permerror);
}

#[test]
fn ptr_used() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.ptr-used", Outcome::Pass);
    assert_outcome(&with_record("v=spf1 ptr -all"), "spf.ptr-used", Outcome::Fail);
}

#[test]
fn permissive_softfail_and_missing_all() {
    let strict = with_record("v=spf1 ip4:192.0.2.0/24 -all");
    assert_outcome(&strict, "spf.permissive-all", Outcome::Pass);
    assert_outcome(&strict, "spf.softfail-all", Outcome::Pass);
    assert_outcome(&strict, "spf.no-all", Outcome::Pass);

    for weak in ["+all", "?all", "all"] {
        let f = assert_outcome(
            &with_record(&format!("v=spf1 ip4:192.0.2.0/24 {weak}")),
            "spf.permissive-all",
            Outcome::Fail,
        );
        assert_eq!(
            f.remediation.unwrap(),
            "example.com. IN TXT \"v=spf1 ip4:192.0.2.0/24 -all\""
        );
    }
    let open_include = with_record("v=spf1 include:lax.example.net -all").txt("lax.example.net", "v=spf1 +all");
    let f = assert_outcome(&open_include, "spf.permissive-all", Outcome::Fail);
    // Regression: the fix used to rewrite the (already strict) top record,
    // which still included the open one. It must point at the include.
    let fix = f.remediation.unwrap();
    assert!(
        fix.contains("\"+all\"") && fix.contains("include:lax.example.net"),
        "{fix}"
    );
    assert!(!fix.contains("IN TXT"), "{fix}");
    let open_cidr = with_record("v=spf1 ip4:0.0.0.0/0 -all");
    assert_outcome(&open_cidr, "spf.permissive-all", Outcome::Fail);

    let soft = with_record("v=spf1 mx ~all")
        .mx(D, 10, "mx.example.com")
        .a("mx.example.com", "192.0.2.25");
    assert_outcome(&soft, "spf.softfail-all", Outcome::Fail);
    assert_outcome(&soft, "spf.permissive-all", Outcome::Pass);

    let none = with_record("v=spf1 ip4:192.0.2.0/24 exp=why.example.com");
    let f = assert_outcome(&none, "spf.no-all", Outcome::Fail);
    assert_eq!(
        f.remediation.unwrap(),
        "example.com. IN TXT \"v=spf1 ip4:192.0.2.0/24 -all exp=why.example.com\""
    );

    let broken = with_record("v=spf1 redirect=_spf.example.net").timeout("_spf.example.net", RType::Txt);
    assert_outcome(&broken, "spf.no-all", Outcome::Indeterminate);
    assert_outcome(&broken, "spf.permissive-all", Outcome::Indeterminate);
}

#[test]
fn unevaluable_macros_are_reported_not_expanded() {
    assert_outcome(
        &with_record("v=spf1 include:_spf.%{d} -all").txt("_spf.example.com", "v=spf1 -all"),
        "spf.unevaluable-macro",
        Outcome::Pass,
    );
    let zone = with_record("v=spf1 exists:%{i}._spf.%{d} include:%{l}.users.%{d} -all");
    let f = assert_outcome(&zone, "spf.unevaluable-macro", Outcome::Fail);
    assert_eq!(f.evidence["terms"].as_array().unwrap().len(), 2);
    // The include behind a macro could hide lookups: a lower bound only.
    assert_outcome(&zone, "spf.lookup-limit", Outcome::Indeterminate);
}

#[test]
fn authorised_sender_inventory() {
    let zone = with_record(
        "v=spf1 ip4:198.51.100.7 mx a:out.example.com/28 include:_spf.provider.test ~include:soft.example.net -all",
    )
    .mx(D, 10, "mx1.example.com")
    .a("mx1.example.com", "192.0.2.25")
    .aaaa("mx1.example.com", "2001:db8::25")
    .a("out.example.com", "203.0.113.5")
    .txt(
        "_spf.provider.test",
        "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8:1::/48 -ip4:192.0.2.99 ~all",
    )
    .txt("soft.example.net", "v=spf1 ip4:10.0.0.0/8 -all");
    let f = assert_outcome(&zone, "spf.authorised-senders", Outcome::Pass);
    let got: Vec<(String, String)> = f.evidence["senders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["network"].as_str().unwrap().to_string(),
                s["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let want = [
        (
            "192.0.2.0/24",
            "example.com → include:_spf.provider.test → ip4:192.0.2.0/24",
        ),
        ("192.0.2.25/32", "example.com → mx → mx1.example.com"),
        ("198.51.100.7/32", "example.com → ip4:198.51.100.7"),
        ("203.0.113.0/28", "example.com → a:out.example.com/28"),
        ("2001:db8::25/128", "example.com → mx → mx1.example.com"),
        (
            "2001:db8:1::/48",
            "example.com → include:_spf.provider.test → ip6:2001:db8:1::/48",
        ),
    ];
    let want: Vec<(String, String)> = want.iter().map(|(n, p)| (n.to_string(), p.to_string())).collect();
    assert_eq!(got, want);

    let zone = with_record("v=spf1 a:slow.example.com -all")
        .timeout("slow.example.com", RType::Aaaa)
        .a("slow.example.com", "192.0.2.1");
    assert_outcome(&zone, "spf.authorised-senders", Outcome::Indeterminate);
}

#[test]
fn lookup_failures_are_listed() {
    assert_outcome(&with_record("v=spf1 -all"), "spf.lookup-failed", Outcome::Pass);
    let zone = with_record("v=spf1 include:a.example.net -all").timeout("a.example.net", RType::Txt);
    let f = assert_outcome(&zone, "spf.lookup-failed", Outcome::Indeterminate);
    assert_eq!(f.evidence["failed_lookups"][0]["name"], "a.example.net");
    assert_eq!(f.evidence["failed_lookups"][0]["status"], "timed out");
}

#[test]
fn judging_is_deterministic() {
    let zone = with_record("v=spf1 mx include:b.example.net include:a.example.net -all")
        .mx(D, 10, "mx2.example.com")
        .mx(D, 5, "mx1.example.com")
        .a("mx1.example.com", "192.0.2.2")
        .a("mx2.example.com", "192.0.2.1")
        .txt("a.example.net", "v=spf1 ip4:192.0.2.128/25 -all")
        .txt("b.example.net", "v=spf1 ip4:192.0.2.0/25 -all");
    let once = format!("{:?}", zone.judge(D));
    assert_eq!(once, format!("{:?}", zone.judge(D)));
}

#[test]
fn every_emitted_rule_is_in_the_catalogue() {
    let catalogue = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules/spf.toml")).unwrap();
    let zones = [
        Zone::new(),
        Zone::new().timeout(D, RType::Txt),
        with_record("v=spf1 include:x.example.net mx ptr -all").txt("x.example.net", "v=spf1 -all"),
        with_record("v=spf1 -all").txt(D, "v=spf1 ~all"),
    ];
    for zone in &zones {
        for f in zone.judge(D) {
            assert!(
                catalogue.contains(&format!("id = \"{}\"", f.id)),
                "{} is not in rules/spf.toml",
                f.id
            );
        }
    }
}

#[test]
fn check_host_basics() {
    let zone = with_record("v=spf1 ip4:192.0.2.0/24 mx -all exp=why.%{d}")
        .mx(D, 10, "mx.example.com")
        .a("mx.example.com", "198.51.100.25")
        .txt("why.example.com", "%{i} is not a sender for %{d}");
    assert_eq!(zone.check("192.0.2.7", D).result, SpfResult::Pass);
    assert_eq!(zone.check("198.51.100.25", D).result, SpfResult::Pass);
    assert_eq!(zone.check("::ffff:192.0.2.7", D).result, SpfResult::Pass);
    let fail = zone.check("203.0.113.9", D);
    assert_eq!(fail.result, SpfResult::Fail);
    assert_eq!(
        fail.explanation.as_deref(),
        Some("203.0.113.9 is not a sender for example.com")
    );
    assert_eq!(serde_json::to_value(fail.result).unwrap(), "fail");
    assert!(!fail.trace.is_empty());
}

#[test]
fn check_host_temperror_not_none_on_timeout() {
    assert_eq!(
        Zone::new().timeout(D, RType::Txt).check("192.0.2.1", D).result,
        SpfResult::Temperror
    );
    assert_eq!(Zone::new().check("192.0.2.1", D).result, SpfResult::None);
    let zone = with_record("v=spf1 a:slow.example.com -all").timeout("slow.example.com", RType::A);
    assert_eq!(zone.check("192.0.2.1", D).result, SpfResult::Temperror);
}

#[test]
fn check_host_on_an_incomplete_view_is_temperror() {
    let transcript = Transcript::default();
    let view = mailwarden_model::DnsView::new(&transcript);
    let r = check_host(&view, "192.0.2.1".parse().unwrap(), D, "a@example.com", "h");
    assert_eq!(r.result, SpfResult::Temperror);
    assert_eq!(
        view.into_missing().into_iter().collect::<Vec<_>>(),
        vec![QueryKey::new(D, RType::Txt)]
    );
}

#[test]
fn effective_all_helper() {
    let parsed = mailwarden_records::spf::parse(b"v=spf1 -all");
    assert_eq!(effective_all(&parsed.record), Some(Qualifier::Fail));
    let parsed = mailwarden_records::spf::parse(b"v=spf1 redirect=x.example.com");
    assert_eq!(effective_all(&parsed.record), None);
}
