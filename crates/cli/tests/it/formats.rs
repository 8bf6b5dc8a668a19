//! Report formats (text, json, jsonl, sarif, csv, html, markdown), `--output`,
//! `mailwarden schema`, and `mailwarden generate`: snapshots of the example
//! zones, JSON validated against the published schema, SARIF validated
//! against the official SARIF 2.1.0 schema, hostile TXT content inert in
//! every format.

use crate::support::{json, mailwarden, run, run_args};

const EXAMPLE: &str = "examples/example.com.zone";
const PARKED: &str = "examples/parked.example.zone";
const HOSTILE: &str = "testdata/cli/hostile.example.zone";
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// `scan DOMAIN --zone-file ZONE --format FORMAT`; stdout (exit 0 or 1).
fn scan(domain: &str, zone: &str, format: &str) -> String {
    let (code, out, err) = run_args(&["scan", domain, "--zone-file", zone, "--format", format]);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    assert_eq!(err, "", "stderr");
    out
}

/// Run-dependent text (version, start time, duration) replaced, and the
/// framework mappings and the catalogue's size and fingerprint (data
/// maintained with the rules and frameworks, tested there).
fn redact_text(s: &str) -> String {
    s.lines()
        .map(|l| {
            if l.starts_with("<dt>Controls</dt>") {
                "<dt>Controls</dt><dd>[frameworks]</dd>".to_string()
            } else if (l.starts_with("| fail |") || l.starts_with("| note |") || l.starts_with("| indeterminate |"))
                && l.ends_with(" |")
            {
                let body = &l[..l.len() - 2];
                let cut = body.rfind(" | ").unwrap_or(0);
                format!("{} | [frameworks] |", &body[..cut])
            } else if l.starts_with("<dt>Date</dt>") {
                "<dt>Date</dt><dd>[time]</dd>".to_string()
            } else if l.starts_with("<dt>Rule catalogue</dt>") {
                "<dt>Rule catalogue</dt><dd>[catalogue]</dd>".to_string()
            } else if l.starts_with("<dt>Scanned at</dt>") {
                "<dt>Scanned at</dt><dd>[time]</dd>".to_string()
            } else if l.starts_with("<dt>Duration</dt>") {
                "<dt>Duration</dt><dd>[duration]</dd>".to_string()
            } else {
                l.replace(VERSION, "[version]")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(crate) fn report_schema() -> jsonschema::Validator {
    let (code, out, err) = run_args(&["schema"]);
    assert_eq!(code, 0, "{err}");
    jsonschema::draft202012::new(&json(&out)).expect("the report schema compiles")
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, doc: &serde_json::Value, what: &str) {
    let errors: Vec<String> = validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .take(10)
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match its schema:\n{}",
        errors.join("\n")
    );
}

pub(crate) fn sarif_schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(crate::support::repo().join("testdata/sarif/sarif-schema-2.1.0.json")).unwrap();
    // The official schema's `language` patterns have a stray `]` that
    // ECMA-262 reads as a literal and Rust regex engines reject; use the
    // pattern they mean (see testdata/sarif/README.md). mailwarden never
    // writes `language`.
    const BAD: &str = "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$";
    assert_eq!(text.matches(BAD).count(), 2, "the vendored schema changed");
    let schema = json(&text.replace(BAD, "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$"));
    jsonschema::draft7::new(&schema).expect("the SARIF schema compiles")
}

const CASES: [(&str, &str, &str); 2] = [
    ("example.com", EXAMPLE, "example_com"),
    ("parked.example", PARKED, "parked_example"),
];

#[test]
fn json_and_jsonl_validate_against_the_schema_and_snapshot() {
    let schema = report_schema();
    for (domain, zone, name) in CASES.into_iter().chain([("hostile.example", HOSTILE, "hostile")]) {
        let doc = json(&scan(domain, zone, "json"));
        assert_valid(&schema, &doc, &format!("{domain} json"));
        assert_eq!(doc["domains"].as_array().map(Vec::len), Some(1), "{name}");
        let line_schema = {
            let mut s = json(&run_args(&["schema"]).1);
            s["$ref"] = serde_json::json!("#/$defs/domainReport");
            s.as_object_mut().unwrap().remove("required");
            s.as_object_mut().unwrap().remove("properties");
            s.as_object_mut().unwrap().remove("additionalProperties");
            s.as_object_mut().unwrap().remove("type");
            jsonschema::draft202012::new(&s).unwrap()
        };
        let jsonl = scan(domain, zone, "jsonl");
        assert_eq!(jsonl.lines().count(), 1);
        let mut line = json(jsonl.trim_end());
        assert_valid(&line_schema, &line, &format!("{domain} jsonl"));
        // The line is the document's domain, byte for byte but for the run's
        // time (the document is the one snapshot of a full report: zone_scan.rs).
        let mut in_doc = doc["domains"][0].clone();
        for report in [&mut line, &mut in_doc] {
            report["observation"]["started_at"] = serde_json::Value::Null;
            report["observation"]["duration_ms"] = serde_json::Value::Null;
        }
        assert_eq!(
            line, in_doc,
            "{name}: the jsonl line differs from the json document's domain"
        );
    }
}

#[test]
fn schema_rejects_a_malformed_report() {
    let schema = report_schema();
    let mut doc = json(&scan("example.com", EXAMPLE, "json"));
    doc["domains"][0]["findings"][0]["outcome"] = serde_json::json!("maybe");
    assert!(!schema.is_valid(&doc));
}

#[test]
fn sarif_validates_against_sarif_2_1_0_and_snapshots() {
    let validator = sarif_schema();
    let rules = json(&run_args(&["rules", "--format", "json"]).1);
    let rule_count = rules.as_array().map_or(0, Vec::len);
    for (domain, zone, name) in CASES.into_iter().chain([("hostile.example", HOSTILE, "hostile")]) {
        let doc = json(&scan(domain, zone, "sarif"));
        assert_valid(&validator, &doc, &format!("{domain} sarif"));
        let run = &doc["runs"][0];
        assert_eq!(doc["version"], "2.1.0");
        let driver_rules = run["tool"]["driver"]["rules"].as_array().unwrap();
        if rule_count > 0 {
            assert_eq!(driver_rules.len(), rule_count, "one SARIF rule per catalogue rule");
        }
        for r in run["results"].as_array().unwrap() {
            let rule = &driver_rules[r["ruleIndex"].as_u64().unwrap() as usize];
            assert_eq!(rule["id"], r["ruleId"]);
            assert_eq!(
                r["partialFingerprints"]["mailwardenFinding/v1"].as_str().unwrap().len(),
                64
            );
            let loc = &r["locations"][0];
            assert!(loc["logicalLocations"][0]["fullyQualifiedName"].is_string());
            assert!(
                loc["physicalLocation"]["artifactLocation"]["uri"]
                    .as_str()
                    .unwrap()
                    .ends_with(".zone")
            );
            match r["kind"].as_str().unwrap() {
                "fail" => assert_ne!(r["level"], "none"),
                "review" => assert_eq!(r["level"], "none"),
                other => panic!("unexpected kind {other}"),
            }
        }
        if name != "hostile" {
            // A small fixture: the DMARC and MX results (fail and review
            // kinds, logical and physical locations); the structure of every
            // result is checked above.
            let mut doc = doc;
            doc["runs"][0]["results"].as_array_mut().unwrap().retain(|r| {
                r["ruleId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("dmarc.") || id.starts_with("mx."))
            });
            insta::assert_json_snapshot!(format!("sarif_{name}"), doc, {
                ".runs[].tool.driver.version" => "[version]",
                ".runs[].tool.driver.semanticVersion" => "[version]",
                ".runs[].tool.driver.rules" => "[catalogue rules: see sarif_rules_carry_catalogue_fields]",
                ".runs[].results[].properties.frameworks" => "[frameworks]",
            });
        }
    }
}

#[test]
fn sarif_rules_carry_catalogue_fields_and_fingerprints_are_stable() {
    let a = json(&scan("example.com", EXAMPLE, "sarif"));
    let b = json(&scan("example.com", EXAMPLE, "sarif"));
    let prints = |d: &serde_json::Value| -> Vec<serde_json::Value> {
        d["runs"][0]["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["partialFingerprints"].clone())
            .collect()
    };
    assert_eq!(prints(&a), prints(&b));
    let rules = a["runs"][0]["tool"]["driver"]["rules"].as_array().unwrap();
    let dmarc = rules.iter().find(|r| r["id"] == "dmarc.policy-none").unwrap();
    assert_eq!(dmarc["defaultConfiguration"]["level"], "error");
    assert!(dmarc["shortDescription"]["text"].as_str().unwrap().contains("p=none"));
    assert!(!dmarc["fullDescription"]["text"].as_str().unwrap().is_empty());
    assert!(!dmarc["help"]["text"].as_str().unwrap().is_empty());
    assert_eq!(dmarc["properties"]["severity"], "high");
    assert!(dmarc["properties"]["references"].is_array());
    // The DMARC result points at the _dmarc record and its line in the zone.
    let result = a["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ruleId"] == "dmarc.policy-none")
        .unwrap();
    let loc = &result["locations"][0];
    assert_eq!(
        loc["logicalLocations"][0]["fullyQualifiedName"],
        "_dmarc.example.com/TXT"
    );
    let line = loc["physicalLocation"]["region"]["startLine"].as_u64().unwrap() as usize;
    let zone = std::fs::read_to_string(crate::support::repo().join(EXAMPLE)).unwrap();
    assert!(zone.lines().nth(line - 1).unwrap().starts_with("_dmarc"), "line {line}");
}

#[test]
fn csv_markdown_and_html_snapshots() {
    for (domain, zone, name) in CASES {
        let csv: Vec<String> = parse_csv(&scan(domain, zone, "csv"))
            .into_iter()
            .enumerate()
            .map(|(i, mut row)| {
                if i > 0 {
                    row[7] = "[frameworks]".into();
                }
                row.iter()
                    .map(|c| mailwarden_render::csv::field(c))
                    .collect::<Vec<_>>()
                    .join(",")
            })
            .collect();
        insta::assert_snapshot!(format!("csv_{name}"), csv.join("\n"));
        insta::assert_snapshot!(format!("markdown_{name}"), redact_text(&scan(domain, zone, "markdown")));
        insta::assert_snapshot!(format!("html_{name}"), redact_text(&scan(domain, zone, "html")));
    }
}

#[test]
fn multi_domain_runs_make_one_document() {
    let args = [
        "scan",
        "parked.example",
        "example.com",
        "--zone-file",
        EXAMPLE,
        "--zone-file",
        PARKED,
        "--format",
    ];
    let with = |f: &str| {
        let mut a = args.to_vec();
        a.push(f);
        run_args(&a).1
    };
    let csv = with("csv");
    assert_eq!(csv.matches("domain,rule,outcome").count(), 1, "one header");
    assert!(csv.contains("\r\nexample.com,") && csv.contains("\r\nparked.example,"));
    let sarif = json(&with("sarif"));
    assert_eq!(sarif["runs"].as_array().unwrap().len(), 1);
    let domains: std::collections::BTreeSet<&str> = sarif["runs"][0]["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["properties"]["domain"].as_str().unwrap())
        .collect();
    assert!(domains.contains("example.com"));
    let html = with("html");
    assert_eq!(html.matches("<!DOCTYPE html>").count(), 1);
    assert_eq!(html.matches("<section>").count(), 2);
    let md = with("markdown");
    assert_eq!(md.matches("# Email security report").count(), 1);
    assert!(
        md.find("## example.com").unwrap() < md.find("## parked.example").unwrap(),
        "sorted"
    );
}

#[test]
fn hostile_txt_content_is_inert_in_html() {
    let html = scan("hostile.example", HOSTILE, "html");
    let lower = html.to_ascii_lowercase();
    for tag in ["<script", "<img", "<b>", "onerror=alert(1)>"] {
        assert!(!lower.contains(tag), "raw {tag} in the HTML report");
    }
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped script is shown"
    );
    assert!(
        html.contains("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
        "escaped img is shown"
    );
    assert!(html.contains(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src &#39;none&#39;; style-src &#39;sha256-"
    ));
    // The CSP hash is the hash of the one style block.
    let style = html.split("<style>").nth(1).unwrap().split("</style>").next().unwrap();
    assert_eq!(style, mailwarden_render::html::STYLE);
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external assets"
    );
}

#[test]
fn hostile_txt_content_is_neutralised_in_csv_and_markdown() {
    let csv = scan("hostile.example", HOSTILE, "csv");
    let cells = parse_csv(&csv);
    assert!(cells.len() > 10);
    for row in &cells {
        assert_eq!(row.len(), mailwarden_render::csv::HEADER.len(), "{row:?}");
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "cell a spreadsheet would evaluate: {cell:?}"
            );
        }
    }
    let subjects: Vec<&str> = cells.iter().map(|r| r[4].as_str()).collect();
    for hostile in ["'=cmd|", "'+1.hostile.example", "'@sum", "'-2.hostile.example"] {
        assert!(
            subjects.iter().any(|s| s.starts_with(hostile)),
            "{hostile} in {subjects:?}"
        );
    }
    let md = scan("hostile.example", HOSTILE, "markdown");
    assert!(!md.contains("<script>") && !md.contains("<img"), "{md}");
    for line in md.lines().filter(|l| l.starts_with('|')) {
        let unescaped = line.replace("\\|", "");
        assert!(unescaped.matches('|').count() >= 3, "{line}");
    }
}

/// RFC 4180 rows (quoted fields may hold commas, quotes and newlines).
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                cell.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if cell.is_empty() => quoted = true,
            ',' if !quoted => row.push(std::mem::take(&mut cell)),
            '\r' if !quoted && chars.peek() == Some(&'\n') => {
                chars.next();
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            _ => cell.push(c),
        }
    }
    assert!(cell.is_empty() && row.is_empty(), "the file ends with CRLF");
    rows
}

#[test]
fn output_flag_writes_the_file_and_names_itself_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("report.html");
    let (code, out, err) = run(mailwarden()
        .args([
            "scan",
            "example.com",
            "--zone-file",
            EXAMPLE,
            "--format",
            "html",
            "--output",
        ])
        .arg(&path));
    assert_eq!(code, 1, "{err}");
    assert_eq!(out, "");
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("<!DOCTYPE html>"));
    // Truncated, not appended, on a second run.
    std::fs::write(&path, "x".repeat(1_000_000)).unwrap();
    run(mailwarden()
        .args(["scan", "parked.example", "--zone-file", PARKED, "--format", "csv", "-o"])
        .arg(&path));
    assert!(std::fs::read_to_string(&path).unwrap().starts_with("domain,rule"));

    let bad = dir.path().join("missing/dir/report.csv");
    let (code, _, err) = run(mailwarden()
        .args([
            "scan",
            "example.com",
            "--zone-file",
            EXAMPLE,
            "--format",
            "csv",
            "--output",
        ])
        .arg(&bad));
    assert_eq!(code, 2);
    assert!(
        err.contains("--output") && err.contains("missing/dir/report.csv"),
        "{err}"
    );
}

#[test]
fn judge_writes_every_format_from_saved_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("ev.jsonl");
    run(mailwarden()
        .args(["scan", "example.com", "--zone-file", EXAMPLE, "--save-evidence"])
        .arg(&evidence));
    let validator = sarif_schema();
    for format in ["sarif", "csv", "html", "markdown", "json"] {
        let (code, out, err) = run(mailwarden().arg("judge").arg(&evidence).args(["--format", format]));
        assert_eq!(code, 1, "{format}: {err}");
        assert!(!out.is_empty());
        if format == "sarif" {
            assert_valid(&validator, &json(&out), "judge sarif");
        }
    }
}

// ---- generate ----

fn generate(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["generate"];
    all.extend_from_slice(args);
    run_args(&all)
}

#[test]
fn generate_outputs_snapshot() {
    let cases: [(&str, &[&str]); 9] = [
        ("spf_example_com", &["spf", "example.com", "--zone-file", EXAMPLE]),
        (
            "spf_flatten_example_com",
            &["spf", "example.com", "--flatten", "--zone-file", EXAMPLE],
        ),
        ("dmarc_example_com", &["dmarc", "example.com", "--zone-file", EXAMPLE]),
        (
            "dmarc_parked_example",
            &[
                "dmarc",
                "parked.example",
                "--rua",
                "mailto:reports@parked.example",
                "--zone-file",
                PARKED,
            ],
        ),
        (
            "mta_sts_example_com",
            &[
                "mta-sts",
                "example.com",
                "--id",
                "20260101000000",
                "--zone-file",
                EXAMPLE,
            ],
        ),
        (
            "tlsrpt_example_com",
            &[
                "tlsrpt",
                "example.com",
                "--rua",
                "mailto:tls@example.com",
                "--zone-file",
                EXAMPLE,
            ],
        ),
        (
            "tlsa_example_com",
            &[
                "tlsa",
                "example.com",
                "--cert",
                "testdata/cli/mx1.example.com.pem",
                "--zone-file",
                EXAMPLE,
            ],
        ),
        (
            "null_mx_example_com",
            &["null-mx", "example.com", "--zone-file", EXAMPLE],
        ),
        (
            "null_mx_parked_example",
            &["null-mx", "parked.example", "--zone-file", PARKED],
        ),
    ];
    for (name, args) in cases {
        let (code, out, err) = generate(args);
        assert_eq!(code, 0, "{name}: {err}");
        assert_eq!(err, "", "{name}");
        insta::assert_snapshot!(format!("generate_{name}"), out);
    }
}

#[test]
fn generated_records_parse_as_zone_files() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [&[&str]; 5] = [
        &["spf", "example.com", "--flatten"],
        &["dmarc", "example.com"],
        &["mta-sts", "example.com", "--id", "1"],
        &["tlsrpt", "example.com"],
        &["null-mx", "example.com"],
    ];
    for args in cases {
        let mut all = args.to_vec();
        all.extend(["--zone-file", EXAMPLE]);
        let (code, out, err) = generate(&all);
        assert_eq!(code, 0, "{args:?}: {err}");
        let zone = dir.path().join("gen.zone");
        // The generated records plus an SOA make a loadable zone.
        std::fs::write(
            &zone,
            format!("$ORIGIN example.com.\n@ 3600 IN SOA ns. h. 1 2 3 4 5\n{out}"),
        )
        .unwrap();
        let (code, _, err) = run(mailwarden()
            .args([
                "scan",
                "example.com",
                "--format",
                "json",
                "--fail-on",
                "none",
                "--zone-file",
            ])
            .arg(&zone));
        assert_eq!(code, 0, "{args:?} output does not load as a zone: {err}\n{out}");
    }
}

#[test]
fn tlsa_hashes_the_public_key_of_pem_and_der_alike() {
    // The expected value is `openssl x509 -pubkey -noout | openssl pkey -pubin -outform der | sha256sum`.
    const SPKI_SHA256: &str = "bdae072ea7cec493f8bcf9afb9cd27b7eb886a0fb9f31cd89c1b1f43c5c78a42";
    for cert in ["testdata/cli/mx1.example.com.pem", "testdata/cli/mx1.example.com.der"] {
        let (code, out, err) = generate(&[
            "tlsa",
            "example.com",
            "--cert",
            cert,
            "--host",
            "mx1.example.com",
            "--zone-file",
            EXAMPLE,
        ]);
        assert_eq!(code, 0, "{err}");
        assert!(
            out.contains(&format!("_25._tcp.mx1.example.com. 3600 IN TLSA 3 1 1 {SPKI_SHA256}")),
            "{out}"
        );
        assert_eq!(out.matches("IN TLSA").count(), 1);
    }
}

#[test]
fn generate_errors_are_clear() {
    // Without --cert the MX hosts are probed; the example's documentation addresses are refused, unprobed.
    let (code, _, err) = generate(&["tlsa", "example.com", "--zone-file", EXAMPLE]);
    assert_eq!(code, 2);
    assert!(
        err.contains("no TLSA record could be produced for example.com")
            && err.contains("mx1.example.com: 192.0.2.25: refused: 192.0.2.25 is documentation (RFC 5737)")
            && err.contains("--allow-private-targets"),
        "{err}"
    );
    let (code, _, err) = generate(&[
        "tlsa",
        "example.com",
        "--cert",
        "testdata/cli/hostile.example.zone",
        "--zone-file",
        EXAMPLE,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--cert testdata/cli/hostile.example.zone"), "{err}");
    let (code, _, err) = generate(&[
        "dmarc",
        "example.com",
        "--rua",
        "dmarc@example.com",
        "--zone-file",
        EXAMPLE,
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("--rua"), "{err}");
    let (code, _, err) = generate(&["mta-sts", "parked.example", "--zone-file", PARKED]);
    assert_eq!(code, 2);
    assert!(err.contains("no MX hosts"), "{err}");
    let (code, _, err) = generate(&["mta-sts", "example.com", "--id", "not valid!", "--zone-file", EXAMPLE]);
    assert_eq!(code, 2);
    assert!(err.contains("--id"), "{err}");
}
