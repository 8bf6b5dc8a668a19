//! What `mailwarden generate` recommends passes mailwarden's own rules:
//! the records it prints (uncommented, as they are to be published) are
//! added to a zone, the zone is scanned, and the rules about those records
//! must not fail. Offline (zone files only).

use std::path::Path;

use crate::support::{findings, json, mailwarden, only_domain, run};

const SOA: &str = "$TTL 3600\n@ IN SOA ns1 hostmaster 1 7200 3600 1209600 3600\n@ IN NS ns1\nns1 IN A 192.0.2.53\n";

/// `base` as a zone file for `domain`, plus what `generate KIND` prints for it.
fn with_generated(dir: &Path, domain: &str, base: &str, kinds: &[&[&str]]) -> String {
    let base_path = dir.join("base.zone");
    std::fs::write(&base_path, format!("$ORIGIN {domain}.\n{SOA}{base}")).unwrap();
    let mut zone = std::fs::read_to_string(&base_path).unwrap();
    for args in kinds {
        let (code, out, err) = run(mailwarden()
            .arg("generate")
            .args(*args)
            .arg(domain)
            .arg("--zone-file")
            .arg(&base_path));
        assert_eq!(code, 0, "generate {args:?}: {err}");
        zone.push_str(&out);
    }
    let path = dir.join("full.zone");
    std::fs::write(&path, &zone).unwrap();
    path.to_str().unwrap().to_string()
}

/// The failing findings of a scan whose rule id starts with one of `prefixes`.
fn failures(domain: &str, zone: &str, prefixes: &[&str]) -> Vec<String> {
    let (_, out, err) = run(mailwarden().args(["scan", domain, "--zone-file", zone, "--format", "json"]));
    let doc = json(&out);
    let report = only_domain(&doc);
    assert!(!findings(report).is_empty(), "{err}");
    findings(report)
        .iter()
        .filter(|f| f["outcome"] == "fail")
        .map(|f| {
            format!(
                "{} {}",
                f["id"].as_str().unwrap_or(""),
                f["subject"].as_str().unwrap_or("")
            )
        })
        .filter(|id| prefixes.iter().any(|p| id.starts_with(p)))
        .collect()
}

#[test]
fn a_null_mx_domain_built_by_generate_passes_the_spf_dmarc_and_mx_rules() {
    let dir = tempfile::tempdir().unwrap();
    // Without --rua the DMARC record has none and dmarc.rua-missing fails;
    // reports cannot go to the domain itself (its null MX bounces them).
    let zone = with_generated(
        dir.path(),
        "quiet.example",
        "",
        &[&["null-mx", "--rua", "mailto:dmarc@reports.example"]],
    );
    assert!(std::fs::read_to_string(&zone).unwrap().contains("IN MX 0 ."));
    let failed = failures("quiet.example", &zone, &["spf.", "dmarc.", "mx."]);
    assert!(failed.is_empty(), "{failed:?}");
}

#[test]
fn the_records_generate_recommends_for_a_sending_domain_pass_the_syntax_rules() {
    let dir = tempfile::tempdir().unwrap();
    let base = "@ IN MX 10 mx1\nmx1 IN A 192.0.2.25\n";
    let kinds: &[&[&str]] = &[
        &["spf"],
        &["dmarc", "--rua", "mailto:dmarc@sends.example"],
        &["tlsrpt"],
        &["mta-sts", "--id", "20260101"],
    ];
    let zone = with_generated(dir.path(), "sends.example", base, kinds);
    let failed = failures(
        "sends.example",
        &zone,
        &[
            "spf.syntax",
            "spf.version",
            "spf.no-all",
            "spf.permissive-all",
            "dmarc.syntax",
            "dmarc.version",
            "dmarc.rua",
            "tlsrpt.syntax",
            "tlsrpt.version",
            "mta-sts.syntax",
            "mta-sts.id",
            "mta-sts.record",
        ],
    );
    assert!(failed.is_empty(), "{failed:?}");
}

/// The check can fail: a zone with a broken SPF and DMARC record fails
/// the same rules.
#[test]
fn a_broken_record_fails_the_rules_the_generated_ones_pass() {
    let dir = tempfile::tempdir().unwrap();
    let base = "@ IN TXT \"v=spf1 foo ~all\"\n_dmarc IN TXT \"v=DMARC1; p=maybe\"\n";
    let zone = with_generated(dir.path(), "broken.example", base, &[]);
    let failed = failures("broken.example", &zone, &["spf.syntax", "dmarc.syntax"]);
    assert_eq!(failed.len(), 2, "{failed:?}");
}
