//! The zone-file backend against the zones in `testdata/zones/`, and each
//! parser error against the one line it must print.

use std::path::PathBuf;

use mailwarden_dns::DnsSource;
use mailwarden_dns::zonefile::{LoadOptions, ZoneError, ZoneFileSource, parse_zone_arg};
use mailwarden_model::{Answer, Proof, QueryKey, RData, RType, Status};

fn zones_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../testdata/zones")
}

/// example.com with its child zone child.example.com.
fn both() -> ZoneFileSource {
    let dir = zones_dir();
    ZoneFileSource::load(&[dir.join("example.com.zone"), dir.join("child.example.com.zone")]).unwrap()
}

fn parent_only() -> ZoneFileSource {
    ZoneFileSource::load(&[zones_dir().join("example.com.zone")]).unwrap()
}

fn ask(source: &ZoneFileSource, name: &str, rtype: RType) -> Answer {
    source.answer(&QueryKey::new(name, rtype))
}

fn parse(text: &str) -> ZoneFileSource {
    ZoneFileSource::from_str(text, None, "t.zone").unwrap_or_else(|e| panic!("{e}"))
}

fn error(text: &str) -> String {
    ZoneFileSource::from_str(text, None, "t.zone").unwrap_err().to_string()
}

fn a(address: &str) -> RData {
    RData::A {
        address: address.parse().unwrap(),
    }
}

fn txt(strings: &[&str]) -> RData {
    RData::Txt {
        strings: strings.iter().map(|s| s.to_string()).collect(),
    }
}

const SOA: &str = "$ORIGIN example.com.\n$TTL 3600\n@ SOA ns hm 1 2 3 4 300\n";

// ---- syntax ----------------------------------------------------------

#[test]
fn relative_absolute_and_at_names_are_made_absolute_and_lower_case() {
    let z = both();
    let mx = ask(&z, "example.com", RType::Mx);
    assert_eq!(
        mx.records,
        [
            RData::Mx {
                preference: 10,
                exchange: "mx1.example.com".into()
            },
            RData::Mx {
                preference: 20,
                exchange: "mx2.example.com".into()
            },
        ]
    );
    let ns = ask(&z, "EXAMPLE.com.", RType::Ns);
    assert_eq!(
        ns.records,
        [
            RData::Ns {
                target: "ns1.example.com".into()
            },
            RData::Ns {
                target: "ns2.example.net".into()
            }
        ]
    );
}

#[test]
fn a_blank_owner_repeats_the_previous_owner() {
    let z = parse(&format!("{SOA}a A 192.0.2.1\n  A 192.0.2.2\n\tTXT x\nb A 192.0.2.3\n"));
    assert_eq!(
        ask(&z, "a.example.com", RType::A).records,
        [a("192.0.2.1"), a("192.0.2.2")]
    );
    assert_eq!(ask(&z, "a.example.com", RType::Txt).records, [txt(&["x"])]);
    assert_eq!(ask(&z, "b.example.com", RType::A).records, [a("192.0.2.3")]);
}

#[test]
fn ttl_and_class_come_in_either_order_and_are_optional() {
    let z = both();
    assert_eq!(ask(&z, "mx1.example.com", RType::A).ttl, Some(600)); // "600 IN A"
    assert_eq!(ask(&z, "mx1.example.com", RType::Aaaa).ttl, Some(600)); // "IN 600 AAAA"
    assert_eq!(ask(&z, "mx2.example.com", RType::A).records, [a("192.0.2.26")]); // neither
}

#[test]
fn dollar_ttl_is_the_default_and_a_record_ttl_overrides_it() {
    let z = both();
    assert_eq!(ask(&z, "ns1.example.com", RType::A).ttl, Some(3600));
    assert_eq!(ask(&z, "web.example.com", RType::A).ttl, Some(60));
    assert_eq!(ask(&z, "example.com", RType::Dnskey).ttl, Some(7200));
}

#[test]
fn without_dollar_ttl_the_last_stated_ttl_carries_on() {
    let z = parse("$ORIGIN example.com.\n@ 900 SOA ns hm 1 2 3 4 300\na 120 A 192.0.2.1\nb A 192.0.2.2\n");
    assert_eq!(ask(&z, "b.example.com", RType::A).ttl, Some(120));
    // and an SOA without any TTL takes its MINIMUM, as BIND does
    let z = parse("$ORIGIN example.com.\n@ SOA ns hm 1 2 3 4 300\n");
    assert_eq!(ask(&z, "example.com", RType::Soa).ttl, Some(300));
}

#[test]
fn parentheses_span_lines_and_comments_are_ignored() {
    let soa = ask(&both(), "example.com", RType::Soa);
    assert_eq!(
        soa.records,
        [RData::Soa {
            mname: "ns1.example.com".into(),
            rname: "hostmaster.example.com".into(),
            serial: 2024060101,
            minimum: 300
        }]
    );
}

#[test]
fn crlf_line_ends_and_a_byte_order_mark_are_accepted() {
    let z = parse(&format!(
        "\u{feff}{}t TXT \"x\"\r\n  A 192.0.2.1\r\n",
        SOA.replace('\n', "\r\n")
    ));
    assert_eq!(ask(&z, "t.example.com", RType::Txt).records, [txt(&["x"])]);
    assert_eq!(ask(&z, "t.example.com", RType::A).records, [a("192.0.2.1")]);
}

#[test]
fn a_semicolon_inside_quotes_is_text_not_a_comment() {
    let z = parse(&format!("{SOA}t TXT \"a;b\" ; c\n"));
    assert_eq!(ask(&z, "t.example.com", RType::Txt).records, [txt(&["a;b"])]);
}

#[test]
fn quoted_strings_decode_escapes_and_are_stored_in_presentation_form() {
    let got = ask(&both(), "quoted.example.com", RType::Txt);
    assert_eq!(got.records, [txt(&["say \\\"hi\\\"; ok", "caf\\195\\169"])]);
    assert_eq!(got.records[0].txt_bytes().unwrap(), "say \"hi\"; okcafé".as_bytes());
}

#[test]
fn txt_character_strings_are_kept_apart() {
    let got = ask(&both(), "example.com", RType::Txt);
    assert_eq!(
        got.records,
        [txt(&["v=spf1 ip4:192.0.2.0/24 ", "include:_spf.example.net -all"])]
    );
    let dkim = ask(&both(), "sel1._domainkey.example.com", RType::Txt);
    assert_eq!(
        dkim.records[0],
        txt(&["v=DKIM1; k=rsa; ", "p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"])
    );
}

#[test]
fn unquoted_words_are_character_strings_too() {
    let z = parse(&format!("{SOA}t TXT v=spf1 -all\n"));
    assert_eq!(ask(&z, "t.example.com", RType::Txt).records, [txt(&["v=spf1", "-all"])]);
}

#[test]
fn a_character_string_over_255_octets_is_kept_for_the_audit_to_report() {
    let long = "a".repeat(300);
    let z = parse(&format!("{SOA}t TXT \"{long}\" \"b\"\n"));
    assert_eq!(ask(&z, "t.example.com", RType::Txt).records, [txt(&[&long, "b"])]);
}

#[test]
fn spf_type_99_has_txt_shape() {
    let got = ask(&both(), "example.com", RType::Spf);
    assert_eq!(
        got.records,
        [RData::Spf {
            strings: vec!["v=spf1 -all".into()]
        }]
    );
    assert_eq!(
        ask(&both(), "www.example.net", RType::Spf).status,
        Status::Error("outside the loaded zone files".into())
    );
}

#[test]
fn include_is_read_relative_to_the_including_file() {
    let got = ask(&both(), "example.com", RType::Dnskey);
    let [RData::Dnskey(key)] = got.records.as_slice() else {
        panic!("one DNSKEY: {got:?}")
    };
    assert_eq!(
        (key.flags, key.protocol, key.algorithm, key.public_key.len()),
        (257, 3, 13, 64)
    );
    assert_eq!(
        got.records[0].data_text().unwrap(),
        "257 3 13 mdsswUyr3DPW132mOi8V9xESWE8jTo0dxCjjnopKl+GqJxpVXckHAeF+KkxLbxILfDLUT0rAK9iUzy1L53eKGQ=="
    );
}

#[test]
fn include_restores_the_origin_and_accepts_its_own() {
    let dir = tempdir();
    std::fs::write(dir.join("inc.zone"), "x A 192.0.2.9\n").unwrap();
    let main = format!("{SOA}$INCLUDE inc.zone sub.example.com.\ny A 192.0.2.10\n");
    let z = ZoneFileSource::from_str(&main, None, dir.join("main.zone").to_str().unwrap()).unwrap();
    assert_eq!(ask(&z, "x.sub.example.com", RType::A).records, [a("192.0.2.9")]);
    assert_eq!(ask(&z, "y.example.com", RType::A).records, [a("192.0.2.10")]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn typed_and_other_types_read_as_the_live_backend_presents_them() {
    let z = both();
    let other = |name: &str, rtype| ask(&z, name, rtype).records;
    let texts = |records: Vec<RData>| records.iter().filter_map(RData::data_text).collect::<Vec<_>>();
    let tlsa = other("_25._tcp.mx1.example.com", RType::Tlsa);
    assert!(matches!(tlsa.as_slice(), [RData::Tlsa(t)] if (t.usage, t.selector, t.matching_type) == (3, 1, 1)));
    assert_eq!(
        texts(tlsa),
        ["3 1 1 8d02536c887482bc34ff54e41d2ba659bf85b341a0a20afadb5813dcfbcf286d"]
    );
    let ds = other("sub.example.com", RType::Ds);
    assert!(matches!(ds.as_slice(), [RData::Ds(d)] if d.key_tag == 12345 && d.digest.len() == 32));
    assert_eq!(
        texts(ds),
        ["12345 13 2 2BB183AF5F22588179A53B0A98631FAD1A292118BF6C2FE9B4B86B36C5C25B3F"]
    );
    let caa = parse(&format!("{SOA}@ CAA 0 issue \"letsencrypt.org\"\n"));
    let got = ask(&caa, "example.com", RType::Txt);
    assert_eq!(got.status, Status::NoData); // CAA is there, but not asked for
}

#[test]
fn generic_type_numbers_and_rfc3597_rdata() {
    let z = parse(&format!(
        "{SOA}u TYPE65534 \\# 4 0A0B0C0D\ne TYPE65535 \\# 0\nn TYPE1 \\# 4 c0000201\nt TYPE16 \"x\"\nm MX \\# 3 000a 00\n"
    ));
    // Unknown types cannot be asked for by RType, but load; typed ones decode.
    assert_eq!(ask(&z, "u.example.com", RType::A).status, Status::NoData);
    assert_eq!(ask(&z, "n.example.com", RType::A).records, [a("192.0.2.1")]);
    assert_eq!(ask(&z, "t.example.com", RType::Txt).records, [txt(&["x"])]);
    assert_eq!(
        ask(&z, "m.example.com", RType::Mx).records,
        [RData::Mx {
            preference: 10,
            exchange: "".into()
        }]
    );
}

#[test]
fn the_origin_comes_from_the_soa_owner_when_nothing_else_gives_it() {
    let z = both();
    assert_eq!(z.origins(), ["example.com", "child.example.com"]);
    assert_eq!(ask(&z, "www.child.example.com", RType::A).records, [a("192.0.2.71")]);
}

#[test]
fn the_origin_prefix_serves_relative_names_and_wins_over_dollar_origin() {
    let z = ZoneFileSource::from_str(
        "@ 60 SOA ns hm 1 2 3 4 5\nwww 60 A 192.0.2.1\n",
        Some("Example.COM."),
        "t.zone",
    )
    .unwrap();
    assert_eq!(z.origins(), ["example.com"]);
    assert_eq!(ask(&z, "www.example.com", RType::A).records, [a("192.0.2.1")]);

    let err = ZoneFileSource::from_str(
        "$ORIGIN example.org.\n@ 60 SOA ns hm 1 2 3 4 5\n",
        Some("example.com"),
        "t.zone",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "t.zone:2:1: owner \"example.org\" is outside the zone's origin \"example.com\""
    );
}

#[test]
fn zone_arguments_split_an_origin_prefix_only_when_it_is_a_name() {
    assert_eq!(
        parse_zone_arg("Example.com.=zones/x.zone"),
        (Some("example.com".into()), "zones/x.zone".into())
    );
    assert_eq!(parse_zone_arg("zones/x.zone"), (None, "zones/x.zone".into()));
    assert_eq!(parse_zone_arg("zones/a=b.zone"), (None, "zones/a=b.zone".into()));
    assert_eq!(parse_zone_arg("=x.zone"), (None, "=x.zone".into()));
}

#[test]
fn load_accepts_origin_prefixed_paths() {
    let path = zones_dir().join("child.example.com.zone");
    let arg = PathBuf::from(format!("child.example.com={}", path.display()));
    let z = ZoneFileSource::load(std::slice::from_ref(&arg)).unwrap();
    assert_eq!(z.origins(), ["child.example.com"]);
    assert_eq!(z.describe().zone_files, [arg.display().to_string()]);
}

// ---- errors: one line, file:line:column ------------------------------

#[test]
fn each_syntax_error_says_what_and_where() {
    let cases: &[(&str, &str)] = &[
        ("a MX ten mx", "t.zone:3:6: MX preference \"ten\" is not a number"),
        ("a MX 70000 mx", "t.zone:3:6: MX preference \"70000\" is out of range"),
        (
            "a A 192.0.2.300",
            "t.zone:3:5: A address \"192.0.2.300\" is not an IPv4 address",
        ),
        (
            "a AAAA 2001:db8::g",
            "t.zone:3:8: AAAA address \"2001:db8::g\" is not an IPv6 address",
        ),
        ("a CH TXT x", "t.zone:3:3: class \"CH\" is not supported: only IN is"),
        ("a IN IN A 192.0.2.1", "t.zone:3:6: a second class \"IN\""),
        (
            "a TXT \"open",
            "t.zone:3:7: unterminated quoted string: no closing '\"' on this line",
        ),
        (
            "a TXT ( x\n",
            "t.zone:3:7: '(' is never closed: the file ends before its ')'",
        ),
        ("a TXT x )", "t.zone:3:9: ')' without a matching '('"),
        ("a FOO x", "t.zone:3:3: unknown record type \"FOO\""),
        (
            "a TYPE123 x",
            "t.zone:3:3: rdata of the unknown type TYPE123 must use the RFC 3597 form: \\# <length> <hex>",
        ),
        (
            "a TYPE123 \\# 3 0a0b",
            "t.zone:3:14: RFC 3597 rdata has 2 octets but its length says 3",
        ),
        ("a A \\# 3 0a0b0c", "t.zone:3:3: RFC 3597 rdata is not valid A rdata"),
        (
            "a 1x A 192.0.2.1",
            "t.zone:3:3: TTL \"1x\" is not a number of seconds (units s, m, h, d, w allowed)",
        ),
        ("a A", "t.zone:3:5: missing address of the A record"),
        (
            "a A 192.0.2.1 192.0.2.2",
            "t.zone:3:15: unexpected \"192.0.2.2\" after the A rdata",
        ),
        ("a MX 10", "t.zone:3:9: missing exchange of the MX record"),
        ("a TXT", "t.zone:3:7: missing character-string of the TXT record"),
        ("a DS", "t.zone:3:6: missing rdata of the DS record"),
        ("a TXT \"\\300\"", "t.zone:3:7: escape \\300 is not an octet (0-255)"),
        ("a..b A 192.0.2.1", "t.zone:3:1: name \"a..b\" has an empty label"),
        (
            "www.example.org. A 192.0.2.1",
            "t.zone:3:1: owner \"www.example.org\" is outside the zone's origin \"example.com\"",
        ),
        (
            "sub SOA ns hm 1 2 3 4 5",
            "t.zone:3:1: SOA record at \"sub.example.com\" is not at the zone's origin \"example.com\"",
        ),
        (
            "@ SOA ns hm 1 2 3 4 5",
            "t.zone:3:1: a second SOA record: a zone has exactly one",
        ),
        (
            "$GENERATE 1-3 a$ A 192.0.2.$",
            "t.zone:3:1: $GENERATE is a BIND extension and is not supported",
        ),
        ("$FOO", "t.zone:3:1: unknown directive \"$FOO\""),
        ("$TTL 1 2", "t.zone:3:8: unexpected \"2\" after $TTL"),
        (
            "$INCLUDE does-not-exist.zone",
            "t.zone:3:10: cannot read included file \"does-not-exist.zone\": No such file or directory (os error 2)",
        ),
    ];
    for (line, expected) in cases {
        let text = format!("$ORIGIN example.com.\n@ 60 SOA ns hm 1 2 3 4 5\n{line}\n");
        assert_eq!(&error(&text), expected, "for {line:?}");
    }
}

#[test]
fn a_relative_name_without_an_origin_says_how_to_give_one() {
    assert_eq!(
        error("$TTL 60\nwww A 192.0.2.1\n"),
        "t.zone:2:1: the relative name \"www\" needs an origin, and none is set: add $ORIGIN or give the zone as ORIGIN=PATH"
    );
    assert_eq!(
        error("$TTL 60\nwww.example.com. A 192.0.2.1\n"),
        "t.zone: cannot tell which zone this is: add $ORIGIN or give the zone as ORIGIN=PATH"
    );
}

#[test]
fn a_blank_owner_with_no_record_before_it_is_an_error() {
    assert_eq!(
        error("$ORIGIN example.com.\n  60 A 192.0.2.1\n"),
        "t.zone:2:3: this line starts with a space, so it continues the previous owner, but no record precedes it"
    );
}

#[test]
fn a_record_without_any_ttl_is_an_error() {
    assert_eq!(
        error("$ORIGIN example.com.\nwww A 192.0.2.1\n"),
        "t.zone:2:5: no TTL for this record: give one or add $TTL before it"
    );
}

#[test]
fn an_unreadable_file_reports_the_os_error() {
    let err = ZoneFileSource::load(&[PathBuf::from("no/such.zone")]).unwrap_err();
    assert!(matches!(err, ZoneError::Read { .. }));
    assert_eq!(
        err.to_string(),
        "no/such.zone: cannot read: No such file or directory (os error 2)"
    );
}

#[test]
fn errors_in_an_included_file_name_that_file() {
    let dir = tempdir();
    std::fs::write(dir.join("bad.inc"), "\nx MX ten mx\n").unwrap();
    let main = dir.join("main.zone");
    std::fs::write(&main, format!("{SOA}$INCLUDE bad.inc\n")).unwrap();
    let err = ZoneFileSource::load(std::slice::from_ref(&main)).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:6: MX preference \"ten\" is not a number",
            dir.join("bad.inc").display()
        )
    );

    std::fs::write(dir.join("self.zone"), "$INCLUDE self.zone\n").unwrap();
    let err = ZoneFileSource::load(&[dir.join("self.zone")]).unwrap_err();
    assert!(err.to_string().contains("nested more than 8 deep"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn include_of_a_file_outside_the_zone_directory_is_refused_without_quoting_it() {
    let outside = tempdir();
    let secret = outside.join("shadow");
    std::fs::write(&secret, "root:$6$secret-hash:19000:0:99999:7:::\n").unwrap();
    let dir = tempdir();
    let main = dir.join("main.zone");
    for include in [secret.display().to_string(), "link".to_string()] {
        std::fs::write(&main, format!("{SOA}$INCLUDE {include}\n")).unwrap();
        let _ = std::os::unix::fs::symlink(&secret, dir.join("link"));
        let err = ZoneFileSource::load(std::slice::from_ref(&main))
            .unwrap_err()
            .to_string();
        assert!(err.contains("is outside the zone file's directory"), "{err}");
        assert!(err.contains("--zone-include-dir"), "{err}");
        assert!(!err.contains("secret-hash"), "{err}");
    }
    // Allowed explicitly, it is read (and, not being a zone, fails on its first line).
    let options = LoadOptions {
        include_dirs: vec![outside.clone()],
    };
    let err = ZoneFileSource::load_with(std::slice::from_ref(&main), options)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with(&format!("{}:1:", dir.join("link").display())), "{err}");
    // Below the zone's directory is allowed without the option.
    std::fs::create_dir(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/inc.zone"), "x A 192.0.2.9\n").unwrap();
    std::fs::write(&main, format!("{SOA}$INCLUDE sub/inc.zone\n")).unwrap();
    let z = ZoneFileSource::load(std::slice::from_ref(&main)).unwrap();
    assert_eq!(ask(&z, "x.example.com", RType::A).records, [a("192.0.2.9")]);
    std::fs::remove_dir_all(dir).unwrap();
    std::fs::remove_dir_all(outside).unwrap();
}

#[test]
fn dev_zero_as_zone_file_or_include_is_refused_at_the_size_limit() {
    let err = ZoneFileSource::load(&[PathBuf::from("example.com=/dev/zero")])
        .unwrap_err()
        .to_string();
    assert_eq!(err, "/dev/zero: cannot read: larger than the limit of 16 MiB");

    let dir = tempdir();
    let main = dir.join("main.zone");
    let _ = std::os::unix::fs::symlink("/dev/zero", dir.join("zero"));
    std::fs::write(&main, format!("{SOA}$INCLUDE zero\n")).unwrap();
    let options = LoadOptions {
        include_dirs: vec![PathBuf::from("/dev")],
    };
    let err = ZoneFileSource::load_with(std::slice::from_ref(&main), options)
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("makes the zone larger than the limit of 16 MiB"), "{err}");

    // Each include counts against one budget for the zone: 9 × 2 MiB > 16 MiB.
    let big = format!("; {}\n", "x".repeat(2 << 20));
    std::fs::write(dir.join("big.inc"), big).unwrap();
    std::fs::write(&main, format!("{SOA}{}", "$INCLUDE big.inc\n".repeat(9))).unwrap();
    let err = ZoneFileSource::load(std::slice::from_ref(&main))
        .unwrap_err()
        .to_string();
    assert!(err.contains(":11:10: included file") && err.contains("16 MiB"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn binary_included_file_is_refused_without_showing_it() {
    let dir = tempdir();
    std::fs::write(dir.join("blob.inc"), b"\x7fELF\0\0secret").unwrap();
    let main = dir.join("main.zone");
    std::fs::write(&main, format!("{SOA}$INCLUDE blob.inc\n")).unwrap();
    let err = ZoneFileSource::load(std::slice::from_ref(&main))
        .unwrap_err()
        .to_string();
    assert!(err.ends_with("is not a zone file (it holds binary data)"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn two_files_for_one_zone_are_refused() {
    let path = zones_dir().join("example.com.zone");
    let err = ZoneFileSource::load(&[path.clone(), path]).unwrap_err();
    assert!(matches!(err, ZoneError::DuplicateZone { .. }));
    assert!(
        err.to_string().contains("zone \"example.com\" is already loaded from"),
        "{err}"
    );
}

// ---- answers (RFC 1034 §4.3.2, RFC 2308, RFC 4592) -------------------

#[test]
fn a_missing_name_is_nxdomain_and_a_missing_type_nodata_with_the_negative_ttl() {
    let z = both();
    let nx = ask(&z, "nosuch.example.com", RType::A);
    assert_eq!(
        (nx.status, nx.ttl, nx.proof),
        (Status::NxDomain, Some(300), Proof::NotValidated)
    );
    let nodata = ask(&z, "ns1.example.com", RType::Mx);
    assert_eq!((nodata.status, nodata.ttl), (Status::NoData, Some(300)));
    let child_nodata = ask(&z, "www.child.example.com", RType::Txt);
    assert_eq!(child_nodata.ttl, Some(60)); // min(SOA TTL 1800, MINIMUM 60)
}

#[test]
fn an_empty_non_terminal_is_nodata_not_nxdomain() {
    let z = both();
    assert_eq!(ask(&z, "_domainkey.example.com", RType::Txt).status, Status::NoData);
    assert_eq!(ask(&z, "_tcp.mx1.example.com", RType::Tlsa).status, Status::NoData);
    assert_eq!(
        ask(&z, "other._domainkey.example.com", RType::Txt).status,
        Status::NxDomain
    );
}

#[test]
fn records_are_answered_sorted_with_the_rrset_ttl() {
    let got = ask(&both(), "example.com", RType::Mx);
    assert_eq!(
        (got.status, got.ttl, got.proof),
        (Status::Records, Some(3600), Proof::NotValidated)
    );
    assert!(got.cname_chain.is_empty());
}

#[test]
fn cnames_are_followed_and_recorded() {
    let z = both();
    let got = ask(&z, "www.example.com", RType::A);
    assert_eq!(got.records, [a("192.0.2.80")]);
    assert_eq!(got.cname_chain, ["web.example.com"]);
    assert_eq!(got.ttl, Some(60));
    let got = ask(&z, "alias1.example.com", RType::A);
    assert_eq!(
        got.cname_chain,
        ["alias2.example.com", "www.example.com", "web.example.com"]
    );
    assert_eq!(got.records, [a("192.0.2.80")]);
    // a negative answer at the end of a chain keeps the chain
    let got = ask(&z, "www.example.com", RType::Mx);
    assert_eq!((got.status, got.cname_chain.len()), (Status::NoData, 1));
}

#[test]
fn a_cname_query_gets_the_cname_itself() {
    let got = ask(&both(), "www.example.com", RType::Cname);
    assert_eq!(
        got.records,
        [RData::Cname {
            target: "web.example.com".into()
        }]
    );
    assert!(got.cname_chain.is_empty());
    assert_eq!(ask(&both(), "web.example.com", RType::Cname).status, Status::NoData);
}

#[test]
fn a_cname_loop_is_an_error_not_an_answer() {
    let got = ask(&both(), "loop1.example.com", RType::A);
    assert_eq!(
        got.status,
        Status::Error("CNAME loop or chain too long: loop1.example.com → loop2.example.com → loop1.example.com".into())
    );
    assert_eq!(got.proof, Proof::Indeterminate);
}

#[test]
fn a_cname_leaving_the_loaded_zones_cannot_be_followed() {
    let got = ask(&both(), "offsite.example.com", RType::A);
    assert_eq!(
        got.status,
        Status::Error("the alias target mail.example.org is outside the loaded zone files".into())
    );
    assert_eq!(got.cname_chain, ["mail.example.org"]);
}

#[test]
fn a_wildcard_answers_for_missing_names_with_the_query_name_as_owner() {
    let z = both();
    let got = ask(&z, "anything.wild.example.com", RType::Mx);
    assert_eq!(
        got.records,
        [RData::Mx {
            preference: 10,
            exchange: "mx1.example.com".into()
        }]
    );
    assert_eq!(
        ask(&z, "a.b.wild.example.com", RType::Txt).records,
        [txt(&["wildcard"])]
    );
    // the wildcard exists but has no A: NODATA, not NXDOMAIN
    assert_eq!(ask(&z, "anything.wild.example.com", RType::A).status, Status::NoData);
}

#[test]
fn a_wildcard_cname_is_synthesised_and_followed() {
    let z = parse(&format!("{SOA}*.w CNAME target\ntarget A 192.0.2.7\n"));
    let got = ask(&z, "x.w.example.com", RType::A);
    assert_eq!(
        (got.records.clone(), got.cname_chain),
        (vec![a("192.0.2.7")], vec!["target.example.com".to_string()])
    );
    assert_eq!(
        ask(&z, "x.w.example.com", RType::Cname).records,
        [RData::Cname {
            target: "target.example.com".into()
        }]
    );
    assert_eq!(ask(&z, "x.other.example.com", RType::A).status, Status::NxDomain);
}

#[test]
fn a_wildcard_does_not_match_an_existing_name_or_below_it() {
    let z = both();
    assert_eq!(ask(&z, "host.wild.example.com", RType::Mx).status, Status::NoData);
    assert_eq!(ask(&z, "a.host.wild.example.com", RType::Mx).status, Status::NxDomain);
    assert_eq!(ask(&z, "wild.example.com", RType::Mx).status, Status::NoData);
    assert_eq!(ask(&z, "nowild.example.com", RType::Mx).status, Status::NxDomain);
}

#[test]
fn below_a_delegation_whose_child_is_not_loaded_we_could_not_look() {
    let z = both();
    for (name, rtype) in [
        ("www.sub.example.com", RType::A),
        ("sub.example.com", RType::Mx),
        ("sub.example.com", RType::Ns),
    ] {
        let got = ask(&z, name, rtype);
        assert_eq!(
            got.status,
            Status::Error("delegated to sub.example.com, whose zone file is not loaded".into())
        );
        assert_eq!(got.proof, Proof::Indeterminate);
    }
    // no glue AAAA: still the child's business
    assert!(matches!(
        ask(&z, "ns.sub.example.com", RType::Aaaa).status,
        Status::Error(_)
    ));
}

#[test]
fn the_parent_answers_ds_at_the_cut_and_glue() {
    let z = both();
    assert_eq!(ask(&z, "sub.example.com", RType::Ds).status, Status::Records);
    assert_eq!(ask(&z, "ns.sub.example.com", RType::A).records, [a("192.0.2.60")]);
    // DS below the cut is the child's
    assert!(matches!(
        ask(&z, "x.sub.example.com", RType::Ds).status,
        Status::Error(_)
    ));
}

#[test]
fn a_loaded_child_zone_answers_below_its_cut() {
    let z = both();
    assert_eq!(ask(&z, "www.child.example.com", RType::A).records, [a("192.0.2.71")]);
    assert_eq!(
        ask(&z, "child.example.com", RType::Mx).records,
        [RData::Mx {
            preference: 0,
            exchange: "".into()
        }]
    );
    assert_eq!(ask(&z, "nosuch.child.example.com", RType::A).ttl, Some(60));
    // DS at the child's apex still comes from the parent
    let ds = ask(&z, "child.example.com", RType::Ds);
    assert_eq!(
        (ds.status, ds.records[0].clone()),
        (
            Status::Records,
            RData::Ds(mailwarden_model::dns::Ds {
                key_tag: 54321,
                algorithm: 13,
                digest_type: 2,
                digest: vec![0; 32]
            })
        )
    );
    // without the child, the same questions cannot be answered
    let parent = parent_only();
    assert!(matches!(
        ask(&parent, "www.child.example.com", RType::A).status,
        Status::Error(_)
    ));
    assert_eq!(
        ask(&parent, "ns1.child.example.com", RType::A).records,
        [a("192.0.2.70")]
    );
}

#[test]
fn ds_for_a_zone_whose_parent_is_not_loaded_could_not_be_looked_up() {
    let child = ZoneFileSource::load(&[zones_dir().join("child.example.com.zone")]).unwrap();
    let got = ask(&child, "child.example.com", RType::Ds);
    assert_eq!(got.status, Status::Error("outside the loaded zone files".into()));
}

#[test]
fn a_name_outside_every_loaded_zone_is_an_error_never_nxdomain() {
    let z = both();
    for name in ["example.org", "com", "example.com.evil.net", "xexample.com"] {
        let got = ask(&z, name, RType::Txt);
        assert_eq!(
            got.status,
            Status::Error("outside the loaded zone files".into()),
            "{name}"
        );
        assert_eq!(got.proof, Proof::Indeterminate);
        assert!(!got.status.is_negative());
    }
}

#[test]
fn the_source_describes_itself_and_answers_through_the_trait() {
    let dir = zones_dir();
    let paths = [dir.join("example.com.zone"), dir.join("child.example.com.zone")];
    let z = ZoneFileSource::load(&paths).unwrap();
    let info = z.describe();
    assert_eq!(info.backend, "zone-file");
    assert!(!info.dnssec_validation);
    assert_eq!(
        info.zone_files,
        paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()
    );
    let key = QueryKey::new("mx2.example.com", RType::A);
    assert_eq!(futures::executor::block_on(z.query(&key)).records, [a("192.0.2.26")]);
}

/// A fresh directory under the target dir (no tempfile dependency).
fn tempdir() -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mailwarden-zonefile-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_quick_start_example_zones_load() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    for file in ["example.com.zone", "parked.example.zone"] {
        let z = ZoneFileSource::load(&[examples.join(file)]).unwrap_or_else(|e| panic!("{e}"));
        let origin = z.origins()[0].to_owned();
        assert_eq!(ask(&z, &origin, RType::Soa).status, Status::Records, "{file}");
    }
}

#[test]
fn a_malformed_dnssec_or_dane_record_is_kept_with_its_reason() {
    let z = parse(&format!(
        "{SOA}sec DS 1 13 2 NOTHEX\n@ DNSKEY 257 3 13 !!!\n_25._tcp TLSA 3 1 1 abc\n@ NSEC3PARAM \\# 3 010000\n"
    ));
    let unparsed = |name: &str, rtype| match ask(&z, name, rtype).records.as_slice() {
        [RData::Unparsed { text, error, .. }] => (text.clone(), error.clone()),
        other => panic!("{rtype}: {other:?}"),
    };
    let (text, error) = unparsed("sec.example.com", RType::Ds);
    assert_eq!(text, "1 13 2 NOTHEX");
    assert!(error.contains("not a hex digit"), "{error}");
    assert!(unparsed("example.com", RType::Dnskey).1.contains("not base64"));
    assert!(unparsed("_25._tcp.example.com", RType::Tlsa).1.contains("odd number"));
    let (text, error) = unparsed("example.com", RType::Nsec3param);
    assert_eq!(text, "\\# 3 010000");
    assert!(error.contains("at least 5 octets"), "{error}");
}

/// Found by the zonefile fuzz target (fuzz/regressions/zonefile/): `()`,
/// parentheses around nothing, is a logical line without tokens, and the
/// parser read its first token: a hostile zone file panicked the scan.
#[test]
fn empty_parentheses_are_an_empty_line_not_a_panic() {
    let text = "$ORIGIN example.com.\n()\n@ 300 IN TXT \"v=spf1 -all\"\n ( )\n";
    let source = ZoneFileSource::from_str(text, None, "empty-parentheses.zone").expect("the zone loads");
    let answer = source.answer(&QueryKey::new("example.com", RType::Txt));
    assert_eq!(answer.records.len(), 1, "{answer:?}");
    let bare = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/zonefile/empty-parentheses"),
    )
    .expect("the fuzz input is kept");
    let _ = ZoneFileSource::from_str(&bare, Some("example.com"), "fuzz.zone");
}
