//! Each path and parse rule with a passing and a failing message.

use mailwarden_model::Outcome;

use crate::{Options, analyse, judge};

fn outcome(raw: &str, id: &str) -> Outcome {
    outcome_with(raw, id, &Options::default())
}

fn outcome_with(raw: &str, id: &str, options: &Options) -> Outcome {
    let a = analyse("t.eml", raw.as_bytes(), options);
    judge(&a, None)
        .into_iter()
        .find(|f| f.id == id)
        .unwrap_or_else(|| panic!("no {id}"))
        .outcome
}

const TOP: &str = "Received: from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net with ESMTPS; Mon, 1 Jan 2024 10:00:05 +0000\n";

#[test]
fn hop_unencrypted_fails_for_a_plain_relay_hop_and_passes_with_tls() {
    let plain = format!(
        "Received: from b (b [192.0.2.11]) by c.example with ESMTP; Mon, 1 Jan 2024 10:00:06 +0000\n{TOP}Received: from ws by mail.example.org with ESMTP; Mon, 1 Jan 2024 10:00:00 +0000\n\n"
    );
    assert_eq!(outcome(&plain, "message.hop-unencrypted"), Outcome::Fail);
    // The first hop (submission) in plain text is not judged.
    let first_plain = format!(
        "{TOP}Received: from ws (ws [192.0.2.50]) by mail.example.org with ESMTP; Mon, 1 Jan 2024 10:00:00 +0000\n\n"
    );
    assert_eq!(outcome(&first_plain, "message.hop-unencrypted"), Outcome::Pass);
    let unknown = format!("Received: from b (b [192.0.2.11]) by c.example; Mon, 1 Jan 2024 10:00:06 +0000\n{TOP}\n");
    assert_eq!(outcome(&unknown, "message.hop-unencrypted"), Outcome::Indeterminate);
}

#[test]
fn hop_tls_version_fails_for_tls_1_0_and_passes_for_1_3() {
    let old = "Received: from a (a [192.0.2.1]) by b with ESMTPS (version=TLSv1 cipher=AES256-SHA bits=256); Mon, 1 Jan 2024 10:00:06 +0000\n\n";
    assert_eq!(outcome(old, "message.hop-tls-version"), Outcome::Fail);
    let new = "Received: from a (a [192.0.2.1]) by b with ESMTPS (using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256); Mon, 1 Jan 2024 10:00:06 +0000\n\n";
    assert_eq!(outcome(new, "message.hop-tls-version"), Outcome::Pass);
}

#[test]
fn hop_count_fails_above_100_received_fields() {
    let many: String = (0..101)
        .map(|i| {
            format!(
                "Received: from h{i} by h{} with ESMTPS; Mon, 1 Jan 2024 10:00:00 +0000\n",
                i + 1
            )
        })
        .collect();
    assert_eq!(outcome(&format!("{many}\n"), "message.hop-count"), Outcome::Fail);
    assert_eq!(outcome(&format!("{TOP}\n"), "message.hop-count"), Outcome::Pass);
}

#[test]
fn parse_fails_for_garbage_and_an_unknown_trusted_hop_and_passes_for_a_clean_header() {
    assert_eq!(
        outcome("From: a@example.org\n\0junk line\n\n", "message.parse"),
        Outcome::Fail
    );
    assert_eq!(outcome("", "message.parse"), Outcome::Fail, "no header fields at all");
    assert_eq!(
        outcome(&format!("{TOP}From: a@example.org\n\n"), "message.parse"),
        Outcome::Pass
    );
    let options = Options {
        trusted_hop: Some("mx.nowhere.example".into()),
    };
    assert_eq!(
        outcome_with(&format!("{TOP}\n"), "message.parse", &options),
        Outcome::Fail
    );
    let named = Options {
        trusted_hop: Some("MX.example.net.".into()),
    };
    assert_eq!(
        outcome_with(&format!("{TOP}\n"), "message.parse", &named),
        Outcome::Pass
    );
}

#[test]
fn every_leak_rule_passes_on_a_clean_message() {
    let clean = format!("{TOP}From: a@example.org\nMessage-ID: <1@mail.example.org>\nX-Mailer: Webmail\n\n");
    for id in [
        "message.received-private-address",
        "message.received-internal-name",
        "message.originating-ip",
        "message.client-software",
        "message.message-id-host",
        "message.internal-header",
    ] {
        assert_eq!(outcome(&clean, id), Outcome::Pass, "{id}");
    }
}

#[test]
fn hostile_messages_end_in_findings_not_panics() {
    let mut inputs: Vec<Vec<u8>> = vec![
        b"\0\0\0".to_vec(),
        b"Received: (((((((((((((\n\n".to_vec(),
        b"Received: from a by b with ESMTP; \xff\xfe\n\n".to_vec(),
        b"From: a@example.org\r\nSubject: x\r\nBcc: injected\r\n\r\n".to_vec(),
        b"Received: from \x1b]8;;http://evil\x07 by b; Mon, 1 Jan 2024\n\n".to_vec(),
        vec![b'A'; 2 * 1024 * 1024],
    ];
    inputs.push(
        (0..10_000)
            .flat_map(|_| b"Received: from a by b with SMTP; x\n".iter().copied())
            .collect(),
    );
    for raw in inputs {
        let a = analyse("h.eml", &raw, &Options::default());
        let findings = judge(&a, None);
        assert!(findings.iter().any(|f| f.id == "message.parse"));
    }
}
