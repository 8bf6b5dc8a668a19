//! Property tests of the record layer (proptest): the parsers never panic
//! and keep every span inside the text they were given, whatever the
//! input; what the builders print parses back clean; a printed record
//! parses back to itself.
//!
//! Failures found are kept in `proptest-regressions/` (committed) and
//! replayed first on every run.

use mailwarden_records::diag::Span;
use mailwarden_records::generate::{self, DomainState, readback};
use mailwarden_records::spf::{DualCidr, MacroContext, Mechanism, Term};
use mailwarden_records::tlsa::{self, Tlsa};
use mailwarden_records::{bimi, dkim, dmarc, mta_sts, spf, tlsrpt};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Pieces that steer the parsers into their deeper paths: versions, tags,
/// mechanisms, macros, separators, numbers at the edges, and the bytes a
/// hostile record carries (NUL, ESC, bidi overrides, non-ASCII).
const PIECES: &[&str] = &[
    "v=spf1",
    "v=DMARC1",
    "v=DKIM1",
    "v=BIMI1",
    "v=STSv1",
    "v=TLSRPTv1",
    "version: STSv1",
    " ",
    "  ",
    "\t",
    ";",
    "; ",
    "=",
    ":",
    "/",
    "//",
    ",",
    "!",
    "-",
    "+",
    "~",
    "?",
    "%",
    "%{",
    "}",
    "%{ir}",
    "%{d2r-.}",
    "%_",
    "%%",
    "%-",
    "all",
    "-all",
    "mx",
    "a",
    "a/24//64",
    "mx/33",
    "ip4:192.0.2.1",
    "ip4:1.2.3.4/33",
    "ip6:2001:db8::/32",
    "ip6:::1/129",
    "include:",
    "include:_spf.example.com",
    "exists:%{i}.x",
    "ptr",
    "redirect=",
    "exp=",
    "p=",
    "p=none",
    "p=reject",
    "sp=quarantine",
    "np=",
    "pct=101",
    "adkim=s",
    "aspf=x",
    "fo=1:d",
    "rf=afrf",
    "ri=86400",
    "t=y",
    "psd=n",
    "rua=",
    "rua=mailto:a@example.com",
    "ruf=mailto:x@y!10m",
    "mailto:",
    "https://r.example/",
    "k=rsa",
    "k=ed25519",
    "h=sha1",
    "s=email",
    "t=y:s",
    "n=note",
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
    "AAAA",
    "==",
    "l=https://x/l.svg",
    "a=",
    "id=20260101",
    "id=",
    "mode: enforce",
    "mode: testing",
    "mx: *.example.com",
    "mx: mail.example.com",
    "max_age: 86400",
    "max_age: 99999999999999999999",
    "\r\n",
    "\n",
    "\r",
    "\\#",
    "\\# 3 030101",
    "3 1 1",
    "ff",
    "zz",
    "0",
    "255",
    "256",
    "é",
    "\u{202e}",
    "\0",
    "\u{1b}[2J",
    "\u{feff}",
    "\"",
];

/// Text made of [`PIECES`] (with arbitrary characters among them).
fn record_like() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(PIECES).prop_map(str::to_string),
        1 => any::<char>().prop_map(String::from),
    ];
    proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

/// Arbitrary bytes, or record-like text as bytes.
fn input() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..200),
        record_like().prop_map(String::into_bytes),
    ]
}

fn assert_within(what: &str, span: Span, text: &str) {
    assert!(
        span.within(text.len()),
        "{what}: span {span:?} is outside the {} bytes of {text:?}",
        text.len()
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        // Relative to the crate (where cargo runs tests): an integration
        // test has no lib.rs beside it for the default to find.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct("proptest-regressions/properties.txt"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn spf_spans_stay_inside_the_record(bytes in input()) {
        let parsed = spf::parse(&bytes);
        let text = &parsed.record.text;
        for d in &parsed.diagnostics {
            assert_within(d.code, d.span, text);
        }
        for term in &parsed.record.terms {
            let span = match term {
                Term::Directive(d) => d.span,
                Term::Modifier(m) => m.span,
            };
            assert_within("term", span, text);
        }
    }

    #[test]
    fn spf_macro_strings_never_panic(bytes in input(), explanation in any::<bool>()) {
        let ctx = if explanation { MacroContext::Explanation } else { MacroContext::Domain };
        let _ = spf::parse_macro_string(&bytes, 0, ctx);
    }

    #[test]
    fn dmarc_spans_stay_inside_the_record(bytes in input()) {
        let r = dmarc::parse(&bytes);
        for d in &r.diagnostics {
            assert_within(d.code, d.span, &r.text);
        }
        for t in &r.tags {
            assert_within(&t.name, t.span, &r.text);
            assert_within(&t.name, t.value_span, &r.text);
        }
        for u in r.rua.iter().chain(&r.ruf) {
            assert_within("report uri", u.span, &r.text);
        }
    }

    #[test]
    fn dkim_spans_stay_inside_the_record(text in record_like()) {
        let r = dkim::parse_key_record(&text);
        for d in &r.diagnostics {
            assert_within(d.code, d.span, &text);
        }
        for t in &r.tags {
            assert_within(&t.name, t.span, &text);
            assert_within(&t.name, t.name_span, &text);
            assert_within(&t.name, t.value_span, &text);
        }
    }

    #[test]
    fn dkim_key_decoding_never_panics(der in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = dkim::parse_rsa_public_key(&der);
        let _ = dkim::decode_public_key(&dkim::KeyType::Rsa, &der);
        let _ = dkim::decode_public_key(&dkim::KeyType::Ed25519, &der);
    }

    #[test]
    fn bimi_spans_stay_inside_the_record(text in record_like()) {
        let r = bimi::parse(&text);
        for d in &r.diagnostics {
            assert_within(d.code, d.span, &text);
        }
    }

    #[test]
    fn mta_sts_record_spans_stay_inside_the_record(bytes in input()) {
        let r = mta_sts::parse(&bytes);
        for d in &r.diagnostics {
            assert_within(d.code, d.span, &r.text);
        }
        for f in &r.fields {
            assert_within(&f.name, f.span, &r.text);
            assert_within(&f.name, f.value_span, &r.text);
        }
    }

    #[test]
    fn mta_sts_policy_spans_and_lines_stay_inside_the_body(bytes in input()) {
        let body = String::from_utf8_lossy(&bytes);
        let p = mta_sts::parse_policy(&bytes);
        let lines = body.split('\n').count();
        for d in &p.diagnostics {
            assert_within(d.code, d.span, &body);
            assert!((1..=lines + 1).contains(&d.line), "{}: line {} of {lines}", d.code, d.line);
            let _ = d.caret(&body);
        }
    }

    #[test]
    fn tlsrpt_spans_stay_inside_the_record(bytes in input()) {
        let r = tlsrpt::parse(&bytes);
        for d in &r.diagnostics {
            assert_within(d.code, d.span, &r.text);
        }
        for u in &r.rua {
            assert_within("rua", u.span, &r.text);
        }
    }

    #[test]
    fn tlsa_errors_point_inside_the_text(text in record_like()) {
        if let Err(d) = tlsa::parse(&text) {
            assert_within(d.code, d.span, &text);
        }
    }

    /// The printer of TLSA presentation form and the parser agree.
    #[test]
    fn tlsa_parse_of_print_is_identity(
        usage in any::<u8>(),
        selector in any::<u8>(),
        matching_type in any::<u8>(),
        data in proptest::collection::vec(any::<u8>(), 1..80),
    ) {
        let t = Tlsa { usage, selector, matching_type, data };
        prop_assert_eq!(tlsa::parse(&t.to_string()), Ok(t));
    }

    /// The printers of SPF qualifiers and dual CIDR lengths and the
    /// parser agree: `q` `a`/`mx` `/v4//v6` reads back as written.
    #[test]
    fn spf_qualifier_and_cidr_parse_of_print_is_identity(
        q in proptest::sample::select(vec!['+', '-', '~', '?']),
        mx in any::<bool>(),
        v4 in 0u8..=32,
        v6 in 0u8..=128,
    ) {
        let cidr = DualCidr { v4, v6 };
        let name = if mx { "mx" } else { "a" };
        let text = format!("v=spf1 {q}{name}{cidr} -all");
        let parsed = spf::parse(text.as_bytes());
        prop_assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics);
        let d = parsed.record.directives().next().unwrap();
        prop_assert_eq!(d.qualifier.symbol(), q);
        let got = match &d.mechanism {
            Mechanism::A { cidr, .. } | Mechanism::Mx { cidr, .. } => *cidr,
            other => panic!("{other:?}"),
        };
        prop_assert_eq!(got, cidr);
    }

    /// The builders' TXT quoting and the read-back agree on every string,
    /// long (split into character-strings) or hostile (escaped as `\DDD`).
    #[test]
    fn txt_read_back_of_quoting_is_identity(s in prop_oneof![any::<String>(), record_like(), "[a-z;= ]{200,700}"]) {
        let zone = format!("x.example. {} IN TXT {}\n", generate::TTL, generate::txt(&s));
        let records = readback::records(&zone).unwrap();
        prop_assert_eq!(records.len(), 1);
        prop_assert_eq!(&records[0].data, s.as_bytes());
    }

    /// Whatever the domain's state, every record a builder prints parses
    /// back through its strict parser with no diagnostic, and every policy
    /// file it shows is valid.
    #[test]
    fn generated_records_parse_clean(state in domain_state(), rua in rua(), flatten in any::<bool>()) {
        let outputs = [
            generate::spf(&state, flatten),
            generate::dmarc(&state, rua.as_deref()),
            generate::mta_sts(&state, "20260101T000000"),
            generate::tlsrpt(&state, rua.as_deref()),
            generate::null_mx(&state, rua.as_deref()),
        ];
        for zone in outputs.into_iter().flatten() {
            let records = readback::records(&zone).unwrap();
            prop_assert!(!records.is_empty(), "{}", zone);
            for r in &records {
                let codes: Vec<_> = readback::diagnostics(r).iter().map(|d| d.code).collect();
                let revoked_dkim = r.owner.contains("._domainkey.") && codes == ["key-revoked"];
                prop_assert!(codes.is_empty() || revoked_dkim, "{} {}: {:?}\n{}", r.owner, r.rtype, codes, zone);
            }
            for body in readback::policies(&zone) {
                let p = mta_sts::parse_policy(body.as_bytes());
                prop_assert!(p.diagnostics.is_empty(), "{:?}\n{}", p.diagnostics, body);
            }
        }
    }
}

fn label() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9]{0,8}"
}

fn domain() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(label(), 1..3),
        prop_oneof!["com", "example", "net"],
    )
        .prop_map(|(labels, tld)| format!("{}.{tld}", labels.join(".")))
}

fn network() -> impl Strategy<Value = String> {
    prop_oneof![
        (any::<[u8; 4]>(), 8u8..=32).prop_map(|(a, l)| format!("{}/{l}", std::net::Ipv4Addr::from(a))),
        (any::<[u8; 16]>(), 16u8..=128).prop_map(|(a, l)| format!("{}/{l}", std::net::Ipv6Addr::from(a))),
    ]
}

/// A current SPF record that parses clean.
fn current_spf() -> impl Strategy<Value = String> {
    let term = prop_oneof![
        Just("mx".to_string()),
        Just("a".to_string()),
        Just("ptr".to_string()),
        Just("~all".to_string()),
        Just("?all".to_string()),
        domain().prop_map(|d| format!("include:_spf.{d}")),
        network().prop_map(|n| if n.contains(':') {
            format!("ip6:{n}")
        } else {
            format!("ip4:{n}")
        }),
    ];
    (proptest::collection::vec(term, 0..6), proptest::option::of(domain())).prop_map(|(terms, redirect)| {
        let mut r = String::from("v=spf1");
        for t in terms {
            r.push(' ');
            r.push_str(&t);
        }
        if let Some(d) = redirect {
            r.push_str(&format!(" redirect=_spf.{d}"));
        }
        r
    })
}

fn rua() -> impl Strategy<Value = Option<String>> {
    proptest::option::of((label(), domain()).prop_map(|(l, d)| format!("mailto:{l}@{d}")))
}

fn domain_state() -> impl Strategy<Value = DomainState> {
    (
        domain(),
        proptest::collection::vec((any::<u16>(), label()), 0..4),
        any::<bool>(),
        proptest::option::of(current_spf()),
        proptest::option::of(0usize..20),
        proptest::collection::vec(network(), 0..40),
        proptest::option::of((prop_oneof!["none", "quarantine", "reject"], rua())),
    )
        .prop_map(|(domain, mx, null_mx, spf, spf_lookups, spf_networks, dmarc)| {
            let mx = if null_mx {
                vec![(0, ".".to_string())]
            } else {
                mx.into_iter()
                    .map(|(p, host)| (p, format!("{host}.{domain}")))
                    .collect()
            };
            let dmarc = dmarc.map(|(p, rua)| match rua {
                Some(r) => format!("v=DMARC1; p={p}; rua={r}"),
                None => format!("v=DMARC1; p={p}"),
            });
            DomainState {
                domain,
                mx,
                spf,
                spf_lookups,
                spf_networks,
                spf_dynamic: Vec::new(),
                dmarc,
            }
        })
}
