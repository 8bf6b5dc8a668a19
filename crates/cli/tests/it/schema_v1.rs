//! Evidence of an older schema is still judged: `testdata/evidence/` holds
//! Observations written by the schema-1 build (DS, DNSKEY, TLSA and
//! NSEC3PARAM as `OTHER` text) from the real-peer tier's signed zones, and
//! the findings that build judged in them. The current build must read
//! them and find exactly the same.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::{json, repo, run_args};

/// id, subject, outcome, severity, message and evidence of each finding.
fn essentials(findings: &Value) -> Vec<Value> {
    findings
        .as_array()
        .expect("findings is a list")
        .iter()
        .map(|f| {
            let keep = ["id", "subject", "outcome", "severity", "message", "evidence"];
            Value::Object(keep.iter().map(|k| (k.to_string(), f[*k].clone())).collect())
        })
        .collect()
}

#[test]
fn schema_1_evidence_is_judged_with_the_same_findings_as_when_it_was_saved() {
    let evidence = repo().join("testdata/evidence/v1-signed.evidence.jsonl");
    let (code, out, err) = run_args(&["judge", evidence.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 1, "the saved zones have high failures (bogus.test): {err}");
    let doc = json(&out);
    let expected: BTreeMap<String, Vec<Value>> = serde_json::from_str(
        &std::fs::read_to_string(repo().join("testdata/evidence/v1-signed.findings.json")).unwrap(),
    )
    .unwrap();
    let domains = doc["domains"].as_array().unwrap();
    assert_eq!(domains.len(), expected.len());
    for d in domains {
        let name = d["domain"].as_str().unwrap();
        let got = essentials(&d["findings"]);
        let want = &expected[name];
        assert_eq!(got.len(), want.len(), "{name}: number of findings");
        for (g, w) in got.iter().zip(want) {
            assert_eq!(g, w, "{name}");
        }
    }
}

#[test]
fn schema_1_records_are_read_as_typed_records() {
    let evidence = repo().join("testdata/evidence/v1-signed.evidence.jsonl");
    let (_, out, err) = run_args(&["judge", evidence.to_str().unwrap(), "--format", "json"]);
    let doc = json(&out);
    let mut types = Vec::new();
    for d in doc["domains"].as_array().unwrap() {
        // Read, the evidence is of the current schema; the build that
        // collected it is still named.
        assert_eq!(d["observation"]["schema"], 2);
        assert_ne!(d["observation"]["tool_version"], "");
        for answer in d["observation"]["dns"].as_array().unwrap() {
            for r in answer["records"].as_array().into_iter().flatten() {
                types.push(r["type"].as_str().unwrap().to_string());
                assert_ne!(r["type"], "UNPARSED", "{r}");
                if r["type"] == "OTHER" {
                    let code = r["rtype"].as_u64().unwrap();
                    assert!(![43, 48, 51, 52].contains(&code), "left as text: {r}");
                }
            }
        }
    }
    for typed in ["DS", "DNSKEY", "TLSA", "NSEC3PARAM"] {
        assert!(types.iter().any(|t| t == typed), "no {typed} record read: {err}");
    }
    // The typed records and referrals match the published report schema.
    let schema = crate::formats::report_schema();
    crate::formats::assert_valid(&schema, &doc, "the judged schema-1 evidence");
}
