//! `mailwarden message` against messages signed by a third party: OpenDKIM
//! from Debian as two milters of a real Postfix (RSA, and Ed25519 per RFC
//! 8463), relayed to a second Postfix
//! over STARTTLS and in plain text (tests/real-peers/dkim.sh start; its
//! zone file publishes the key, SPF and DMARC). Ignored unless asked for:
//! `tests/real-peers/dkim.sh start && cargo test -p mailwarden --test real_peers_dkim -- --ignored`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn env() -> BTreeMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/real-peers/dkim.env");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; run tests/real-peers/dkim.sh start first", path.display()));
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The JSON report of `mailwarden message` over FILE with the tier's zones.
fn audit(file: &str) -> Value {
    let e = env();
    let out = Command::new(env!("CARGO_BIN_EXE_mailwarden"))
        .args([
            "message",
            "--format",
            "json",
            "--zone-file",
            &e["ZONE"],
            "--zone-file",
            &e["PARENT_ZONE"],
            file,
        ])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}: {}", String::from_utf8_lossy(&out.stderr)))
}

fn finding<'a>(doc: &'a Value, message: usize, id: &str) -> &'a Value {
    doc["domains"][message]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no {id} for message {message}: {doc}"))
}

/// The delivered message sent over TLS, out of the mbox.
fn delivered_over_tls() -> String {
    let mbox = std::fs::read_to_string(&env()["MBOX"]).unwrap();
    let messages: Vec<&str> = mbox.split("\nFrom alice@").collect();
    assert_eq!(messages.len(), 2, "{mbox}");
    let first = messages[0].split_once('\n').unwrap().1;
    assert!(first.contains("Subject: over TLS"), "{first}");
    first.to_string()
}

#[test]
#[ignore = "needs tests/real-peers/dkim.sh start"]
fn opendkim_signatures_verify_and_the_tls_hop_is_told_from_the_plain_one() {
    let doc = audit(&env()["MBOX"]);
    for (i, hop) in [(0, "pass"), (1, "fail")] {
        assert_eq!(
            finding(&doc, i, "message.dkim")["outcome"],
            "pass",
            "message {i}: {doc}"
        );
        assert_eq!(finding(&doc, i, "message.spf")["outcome"], "pass", "message {i}");
        let dmarc = finding(&doc, i, "message.dmarc");
        assert_eq!(dmarc["outcome"], "pass", "message {i}");
        assert_eq!(
            dmarc["evidence"]["dmarc"]["mail_auth"], "pass",
            "mail-auth agrees: {dmarc}"
        );
        assert_eq!(
            finding(&doc, i, "message.hop-unencrypted")["outcome"],
            hop,
            "message {i}"
        );
    }
    // Both OpenDKIM signatures verify: RSA and Ed25519 (RFC 8463).
    for i in [0, 1] {
        let mut algorithms: Vec<&str> = doc["domains"][i]["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["id"] == "message.dkim")
            .map(|f| {
                assert_eq!(f["outcome"], "pass", "{f}");
                f["evidence"]["signature"]["algorithm"].as_str().unwrap()
            })
            .collect();
        algorithms.sort();
        assert_eq!(algorithms, ["ed25519-sha256", "rsa-sha256"], "message {i}");
    }
    // Postfix records the TLS version (smtpd_tls_received_header = yes).
    assert_eq!(finding(&doc, 0, "message.hop-tls-version")["outcome"], "pass", "{doc}");
}

#[test]
#[ignore = "needs tests/real-peers/dkim.sh start"]
fn a_message_modified_after_opendkim_signed_it_fails_dkim() {
    let dir = tempfile::tempdir().unwrap();
    let original = delivered_over_tls();

    let body = dir.path().join("body.eml");
    std::fs::write(
        &body,
        original.replace("signed by OpenDKIM.", "signed by OpenDKIM, then changed."),
    )
    .unwrap();
    let doc = audit(body.to_str().unwrap());
    let dkim = finding(&doc, 0, "message.dkim");
    assert_eq!(dkim["outcome"], "fail", "{doc}");
    assert!(
        dkim["message"].as_str().unwrap().contains("body changed after signing"),
        "{dkim}"
    );
    // SPF still passes for the relay that sent it, so DMARC passes through SPF.
    assert_eq!(finding(&doc, 0, "message.dmarc")["outcome"], "pass");

    let header = dir.path().join("header.eml");
    std::fs::write(
        &header,
        original.replace("Subject: over TLS", "Subject: pay this invoice"),
    )
    .unwrap();
    let doc = audit(header.to_str().unwrap());
    let dkim = finding(&doc, 0, "message.dkim");
    assert_eq!(dkim["outcome"], "fail", "{doc}");
    assert!(
        dkim["message"]
            .as_str()
            .unwrap()
            .contains("signed header fields were changed"),
        "{dkim}"
    );
}

#[test]
#[ignore = "needs tests/real-peers/dkim.sh start"]
fn the_opendkim_selector_is_listed_for_scan() {
    let out = Command::new(env!("CARGO_BIN_EXE_mailwarden"))
        .args(["message", "--dkim-selectors", &env()["MBOX"]])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "example.test ed\nexample.test mw\n"
    );
}

#[test]
#[ignore = "needs tests/real-peers/dkim.sh start"]
fn the_verified_opendkim_selectors_are_remembered_with_db() {
    let e = env();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("mw.db").display());
    let out = Command::new(env!("CARGO_BIN_EXE_mailwarden"))
        .args([
            "--db",
            &db,
            "message",
            "--format",
            "json",
            "--zone-file",
            &e["ZONE"],
            "--zone-file",
            &e["PARENT_ZONE"],
            &e["MBOX"],
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 DKIM selector(s) remembered"), "{err}");
}
