//! The parsers through the public API, on the corpus files and on inputs
//! built here; each test is named after what it catches.

use std::io::Write;
use std::path::{Path, PathBuf};

use mailwarden_ingest::{
    DirSink, Item, Kind, Limits, MemorySink, Reason, Report, ReportSink, Status, Stored, import, read,
};

fn corpus(name: &str) -> Vec<u8> {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/reports/ingest")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn one(name: &str) -> Item {
    let mut items = read(name, &corpus(name), &Limits::default());
    assert_eq!(items.len(), 1, "{name}: {items:?}");
    items.remove(0)
}

fn parsed_report(name: &str) -> (Report, Vec<String>) {
    let item = one(name);
    let parsed = item.outcome.unwrap_or_else(|r| panic!("{name}: {r}"));
    let warnings = parsed.warnings.items.iter().map(|w| w.message.clone()).collect();
    (parsed.report, warnings)
}

fn reason(name: &str) -> Reason {
    one(name).outcome.expect_err(name).reason
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn rfc9990_fields_np_testing_discovery_generator_and_extensions_are_read() {
    let (Report::Aggregate(r), _) = parsed_report("agg-9990-gmx.xml") else {
        panic!()
    };
    assert_eq!(r.schema, mailwarden_ingest::aggregate::Schema::Rfc9990);
    assert_eq!(r.policy.np.as_deref(), Some("reject"));
    assert_eq!(r.policy.testing.as_deref(), Some("n"));
    assert_eq!(r.policy.discovery_method.as_deref(), Some("treewalk"));
    assert_eq!(r.policy.pct, None);
    assert_eq!(r.generator.as_deref(), Some("GMX DMARC reporter 2.1"));
    assert_eq!(r.extensions, vec!["{urn:example:ext}arrival".to_string()]);
    assert_eq!(r.records[0].disposition, "pass");
    assert_eq!(r.records[0].envelope_from, None);
    assert_eq!(r.records[1].reasons[0].kind, "policy_test_mode");
    assert_eq!(r.records[0].dkim_results[0].selector.as_deref(), Some("s1"));
}

#[test]
fn rfc7489_report_without_namespace_is_read_as_7489() {
    let (Report::Aggregate(r), warnings) = parsed_report("agg-7489-google.xml") else {
        panic!()
    };
    assert_eq!(r.schema, mailwarden_ingest::aggregate::Schema::Rfc7489);
    assert_eq!(r.org_name, "google.com");
    assert_eq!((r.begin, r.end), (1_796_083_200, 1_796_169_599));
    assert_eq!(r.policy.pct, Some(100));
    assert_eq!(r.records.iter().map(|x| x.count).sum::<u64>(), 16);
    assert_eq!(r.records[2].source_ip.to_string(), "2001:db8::25");
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn capitalised_enums_and_fractional_epochs_are_read_with_warnings() {
    let (Report::Aggregate(r), warnings) = parsed_report("agg-quirks-capitalised.xml") else {
        panic!()
    };
    assert_eq!(r.records[0].disposition, "none");
    assert_eq!(r.records[0].dkim.as_deref(), Some("pass"));
    assert_eq!(r.records[0].spf_results[0].result, "softfail");
    assert_eq!(r.begin, 1_796_083_200);
    let joined = warnings.join("\n");
    for needle in [
        "\"None\" read as \"none\"",
        "\"SoftFail\" read as \"softfail\"",
        "read as 1796083200",
        "no <version>",
    ] {
        assert!(joined.contains(needle), "missing warning {needle:?} in\n{joined}");
    }
}

#[test]
fn doctype_is_rejected_with_its_line() {
    let err = one("hostile-doctype-xxe.xml").outcome.unwrap_err();
    assert_eq!(err.reason, Reason::Doctype);
    assert_eq!(err.position.unwrap().line, 2);
    assert_eq!(reason("hostile-billion-laughs.xml"), Reason::Doctype);
}

#[test]
fn huge_count_is_rejected_not_wrapped() {
    let err = one("hostile-huge-count.xml").outcome.unwrap_err();
    assert_eq!(err.reason, Reason::InvalidNumber);
    assert!(err.detail.contains("184467440737095516160"), "{}", err.detail);
    // The <count> element's own line, not its <row>'s.
    let count_line = String::from_utf8(corpus("hostile-huge-count.xml"))
        .unwrap()
        .lines()
        .position(|l| l.contains("<count>"))
        .unwrap();
    assert_eq!(err.position.unwrap().line, count_line as u64 + 1);
    assert_eq!(reason("hostile-tlsrpt-huge-number.json"), Reason::InvalidNumber);
}

#[test]
fn non_utf8_is_rejected_at_the_first_bad_byte() {
    let err = one("hostile-non-utf8.xml").outcome.unwrap_err();
    assert_eq!(err.reason, Reason::Encoding);
    let p = err.position.unwrap();
    // `    <org_name>g` is 15 characters; the bad byte is the 16th.
    assert_eq!((p.line, p.column), (5, 16));
}

#[test]
fn wrong_namespace_is_not_taken_for_dmarc() {
    assert_eq!(reason("hostile-wrong-namespace.xml"), Reason::WrongNamespace);
}

#[test]
fn truncated_xml_gzip_and_json_are_truncated() {
    assert_eq!(reason("hostile-truncated.xml"), Reason::Truncated);
    assert_eq!(reason("hostile-truncated.xml.gz"), Reason::Truncated);
    assert_eq!(reason("hostile-tlsrpt-truncated.json"), Reason::Truncated);
}

#[test]
fn gzip_bomb_stops_at_the_decompression_cap() {
    let limits = Limits {
        max_decompressed: 1 << 20,
        ..Limits::default()
    };
    let bomb = gzip(&vec![b' '; 8 << 20]);
    let items = read("bomb.gz", &bomb, &limits);
    assert_eq!(items[0].outcome.as_ref().unwrap_err().reason, Reason::SizeLimit);
    // Under the cap the same bytes are read (and are no report).
    let roomy = Limits {
        max_decompressed: 16 << 20,
        ..Limits::default()
    };
    assert_eq!(
        read("bomb.gz", &bomb, &roomy)[0].outcome.as_ref().unwrap_err().reason,
        Reason::Empty
    );
}

#[test]
fn zip_bomb_and_nested_gzip_and_input_size_hit_their_caps() {
    assert_eq!(reason("hostile-zip-bomb.zip"), Reason::SizeLimit);
    assert_eq!(reason("hostile-gzip-bomb.xml.gz.gz"), Reason::SizeLimit);
    let err = one("hostile-nested-gzip.gz").outcome.unwrap_err();
    assert_eq!(err.reason, Reason::SizeLimit);
    assert!(err.detail.contains("nested"), "{}", err.detail);
    let small = Limits {
        max_input: 100,
        ..Limits::default()
    };
    let items = read("big.xml", &corpus("agg-7489-google.xml"), &small);
    assert_eq!(items[0].outcome.as_ref().unwrap_err().reason, Reason::SizeLimit);
}

#[test]
fn zip_with_two_members_is_refused() {
    assert_eq!(reason("hostile-zip-two-members.zip"), Reason::ZipMembers);
}

#[test]
fn zip_member_names_never_become_paths() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = DirSink::open(dir.path()).unwrap();
    let out = import(
        "t.zip",
        &corpus("hostile-zip-traversal.zip"),
        &Limits::default(),
        &mut sink,
    )
    .unwrap();
    assert_eq!(out[0].status, Status::Imported);
    assert!(out[0].file.contains("../../../etc/cron.d/evil.xml"));
    let mut names: Vec<String> = walk_names(dir.path());
    names.sort();
    let id = out[0].id.clone().unwrap();
    assert_eq!(
        names,
        vec![
            "index.jsonl".to_string(),
            format!("raw/{id}.xml"),
            format!("reports/{id}.json")
        ]
    );
}

fn walk_names(root: &Path) -> Vec<String> {
    mailwarden_ingest::walk::files(&[root.to_path_buf()])
        .into_iter()
        .map(|f| f.unwrap().strip_prefix(root).unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn tlsrpt_microsoft_quirks_are_read_with_warnings() {
    let (Report::Tlsrpt(t), warnings) = parsed_report("tlsrpt-microsoft-quirks.json") else {
        panic!()
    };
    assert_eq!(t.begin, 1_796_083_200);
    assert_eq!(t.contact_info, None);
    assert_eq!(t.policies[0].policy_type, "sts");
    assert_eq!(t.policies[0].mx_hosts, vec!["*.example.com".to_string()]);
    assert_eq!(
        (t.policies[0].successful_sessions, t.policies[0].failed_sessions),
        (10, 1)
    );
    assert_eq!(t.policies[0].failures[0].sending_mta_ip, None);
    assert_eq!(t.policies[1].policy_domain, None);
    let joined = warnings.join("\n");
    for needle in [
        "no time zone",
        "mx-host-pattern",
        "the string \"10\"",
        "one string",
        "without policy-domain",
    ] {
        assert!(joined.contains(needle), "missing warning {needle:?} in\n{joined}");
    }
}

#[test]
fn tlsrpt_report_fields_are_read() {
    let (Report::Tlsrpt(t), warnings) = parsed_report("tlsrpt-google.json") else {
        panic!()
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(t.policies.len(), 2);
    let f = &t.policies[0].failures[0];
    assert_eq!(f.result_type, "certificate-expired");
    assert_eq!(f.receiving_mx_hostname.as_deref(), Some("mx1.example.com"));
    assert_eq!(t.policies[1].policy_type, "tlsa");
}

#[test]
fn failure_report_keeps_domains_and_drops_personal_data() {
    let (Report::Failure(f), _) = parsed_report("mail-failure-arf.eml") else {
        panic!()
    };
    assert_eq!(f.feedback_type, "auth-failure");
    assert_eq!(f.auth_failure.as_deref(), Some("dmarc"));
    assert_eq!(f.identity_alignment.as_deref(), Some("none"));
    assert_eq!(f.source_ip.unwrap().to_string(), "198.51.100.66");
    assert_eq!(f.original_rcpt_to_domain.as_deref(), Some("example.com"));
    assert_eq!(f.header_from_domain.as_deref(), Some("example.com"));
    let json = serde_json::to_string(&f).unwrap();
    for secret in ["alice.private", "billing@", "Invoice", "secret-123"] {
        assert!(!json.contains(secret), "{secret} kept in {json}");
    }
}

#[test]
fn failure_report_raw_message_is_never_stored() {
    let dir = tempfile::tempdir().unwrap();
    let mut sink = DirSink::open(dir.path()).unwrap();
    import("f.eml", &corpus("mail-failure-arf.eml"), &Limits::default(), &mut sink).unwrap();
    let all: String = walk_names(dir.path())
        .iter()
        .map(|n| std::fs::read_to_string(dir.path().join(n)).unwrap())
        .collect();
    assert!(!all.contains("alice.private") && !all.contains("Invoice"), "{all}");
    assert!(walk_names(dir.path()).iter().all(|n| !n.starts_with("raw/")));
}

#[test]
fn google_whole_message_zip_and_ses_octet_stream_are_found() {
    let (Report::Aggregate(g), _) = parsed_report("mail-google-zip.eml") else {
        panic!()
    };
    assert_eq!(g.report_id, "98765432109876543210");
    let (Report::Aggregate(s), _) = parsed_report("mail-ses-octet-stream.eml") else {
        panic!()
    };
    assert_eq!(s.org_name, "Amazon SES");
    let item = one("mail-ses-octet-stream.eml");
    assert!(
        item.locator
            .ends_with("amazonses.com!example.com!1796083200!1796169599.xml.gz"),
        "{}",
        item.locator
    );
}

#[test]
fn mbox_messages_are_read_one_by_one() {
    let items = read("r.mbox", &corpus("reports.mbox"), &Limits::default());
    let kinds: Vec<Option<Kind>> = items.iter().map(|i| i.kind).collect();
    assert_eq!(kinds, vec![Some(Kind::Aggregate), Some(Kind::Failure), None]);
    assert!(items[0].locator.starts_with("r.mbox#1:"));
    assert_eq!(items[2].outcome.as_ref().unwrap_err().reason, Reason::NotAReport);
}

#[test]
fn same_report_twice_is_a_duplicate_even_compressed() {
    let mut sink = MemorySink::default();
    let a = import("a.xml", &corpus("agg-7489-google.xml"), &Limits::default(), &mut sink).unwrap();
    let b = import(
        "a.xml.gz",
        &corpus("agg-7489-google.xml.gz"),
        &Limits::default(),
        &mut sink,
    )
    .unwrap();
    assert_eq!((a[0].status, b[0].status), (Status::Imported, Status::Duplicate));
    assert_eq!(a[0].id, b[0].id);
    assert_eq!(sink.reports.len(), 1);
}

#[test]
fn same_identity_with_other_content_is_a_duplicate_with_a_note() {
    let mut sink = MemorySink::default();
    let original = corpus("agg-7489-google.xml");
    let edited = String::from_utf8(original.clone())
        .unwrap()
        .replace("<count>12</count>", "<count>13</count>");
    import("a.xml", &original, &Limits::default(), &mut sink).unwrap();
    let b = import("b.xml", edited.as_bytes(), &Limits::default(), &mut sink).unwrap();
    assert_eq!(b[0].status, Status::Duplicate);
    assert!(
        b[0].warnings.iter().any(|w| w.contains("different content")),
        "{:?}",
        b[0].warnings
    );
}

#[test]
fn same_report_id_with_another_range_is_imported_and_flagged() {
    let mut sink = MemorySink::default();
    import("a.xml", &corpus("agg-7489-google.xml"), &Limits::default(), &mut sink).unwrap();
    let b = import(
        "b.xml",
        &corpus("agg-7489-same-id-other-range.xml"),
        &Limits::default(),
        &mut sink,
    )
    .unwrap();
    assert_eq!(b[0].status, Status::Imported);
    assert!(
        b[0].warnings.iter().any(|w| w.contains("another date range")),
        "{:?}",
        b[0].warnings
    );
}

#[test]
fn dir_sink_remembers_reports_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let google = corpus("agg-7489-google.xml");
    let first = import(
        "a",
        &google,
        &Limits::default(),
        &mut DirSink::open(dir.path()).unwrap(),
    )
    .unwrap();
    let mut again = DirSink::open(dir.path()).unwrap();
    assert_eq!(again.len(), 1);
    let second = import("a", &google, &Limits::default(), &mut again).unwrap();
    assert_eq!(
        (first[0].status, second[0].status),
        (Status::Imported, Status::Duplicate)
    );
}

#[test]
fn dir_sink_cuts_a_torn_index_line_and_keeps_the_committed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let google = corpus("agg-7489-google.xml");
    import(
        "a",
        &google,
        &Limits::default(),
        &mut DirSink::open(dir.path()).unwrap(),
    )
    .unwrap();
    // A crash in the middle of the next append.
    let mut index = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.path().join("index.jsonl"))
        .unwrap();
    index.write_all(b"{\"id\":\"deadbeef\",\"ki").unwrap();
    drop(index);
    let mut sink = DirSink::open(dir.path()).unwrap();
    assert_eq!(sink.len(), 1);
    let yahoo = import("y.zip", &corpus("agg-7489-ns-yahoo.zip"), &Limits::default(), &mut sink).unwrap();
    assert_eq!(yahoo[0].status, Status::Imported);
    assert_eq!(DirSink::open(dir.path()).unwrap().len(), 2);
}

#[test]
fn sink_errors_stop_the_import_instead_of_being_reported_as_imported() {
    struct Full;
    impl ReportSink for Full {
        fn put(&mut self, _: &mailwarden_ingest::Parsed) -> Result<Stored, mailwarden_ingest::SinkError> {
            Err(std::io::Error::other("disk full").into())
        }
    }
    assert!(import("a", &corpus("agg-7489-google.xml"), &Limits::default(), &mut Full).is_err());
}

/// Every prefix of a few corpus files and byte-flipped copies: each must
/// end as items (reports or rejections), never a panic.
#[test]
fn truncated_and_corrupted_inputs_never_panic() {
    for name in [
        "agg-9990-gmx.xml",
        "agg-7489-google.xml.gz",
        "agg-7489-ns-yahoo.zip",
        "tlsrpt-google.json",
        "mail-failure-arf.eml",
        "reports.mbox",
    ] {
        let bytes = corpus(name);
        for cut in (0..bytes.len()).step_by(7) {
            let items = read(name, &bytes[..cut], &Limits::default());
            assert!(!items.is_empty(), "{name} cut at {cut}: no outcome");
        }
        for i in (0..bytes.len()).step_by(11) {
            let mut flipped = bytes.clone();
            flipped[i] ^= 0xa5;
            assert!(!read(name, &flipped, &Limits::default()).is_empty());
        }
    }
}
