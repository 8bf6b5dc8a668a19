//! Differential test: mailwarden's DKIM key-record parser against
//! mail-auth's (`DomainKey::parse`, the parser its verifier uses).
//!
//! Where mail-auth rejects a record, mailwarden must report at least one
//! error: a record a real verifier cannot use must never look clean in an
//! audit. The converse is not required: mailwarden is stricter on purpose
//! (it decodes the key, rejects `v=` not first, SHA-1-only keys, duplicate
//! tags ...), and those cases are listed in the output for review.

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::common::verify::DomainKey;
use mailwarden_records::dkim;

const RECORDS: &str = include_str!("../../../testdata/dkim/records.txt");

/// (description, record) pairs from records.txt.
fn records() -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let mut lines = RECORDS.lines();
    while let Some(line) = lines.next() {
        if let Some(desc) = line.strip_prefix("#: ") {
            let record = lines.next().expect("a record after each description");
            out.push((desc, record));
        }
    }
    out
}

#[test]
fn where_mail_auth_rejects_mailwarden_reports_an_error() {
    let records = records();
    assert!(records.len() >= 30, "only {} records", records.len());
    let mut rejected = 0;
    let mut stricter = Vec::new();
    let mut missed = Vec::new();
    for (desc, record) in &records {
        let theirs = DomainKey::parse(record.as_bytes());
        let ours = dkim::parse_key_record(record);
        match (&theirs, ours.has_errors()) {
            (Err(e), false) => missed.push(format!(
                "{desc}: mail-auth says {e:?}, mailwarden {:?}",
                ours.diagnostics
            )),
            (Err(_), true) => rejected += 1,
            (Ok(_), true) => stricter.push(format!(
                "{desc}: {:?}",
                ours.diagnostics
                    .iter()
                    .filter(|d| d.level == dkim::Level::Error)
                    .map(|d| d.code)
                    .collect::<Vec<_>>()
            )),
            (Ok(_), false) => {}
        }
    }
    println!(
        "{} records; mail-auth rejects {rejected}, mailwarden reports errors for all of them",
        records.len()
    );
    println!(
        "mailwarden is stricter on {}:\n  {}",
        stricter.len(),
        stricter.join("\n  ")
    );
    assert!(
        missed.is_empty(),
        "mail-auth rejects, mailwarden is silent:\n{}",
        missed.join("\n")
    );
    assert!(
        rejected >= 8,
        "the corpus should hold records mail-auth rejects ({rejected})"
    );
}

#[test]
fn clean_records_are_accepted_by_mail_auth_too() {
    // The converse for records mailwarden finds no problem with at all: a
    // verifier must accept them, or mailwarden's "clean" means nothing.
    for (desc, record) in records() {
        let ours = dkim::parse_key_record(record);
        if ours.diagnostics.is_empty() {
            assert!(
                DomainKey::parse(record.as_bytes()).is_ok(),
                "{desc}: clean for mailwarden but rejected by mail-auth"
            );
        }
    }
}
