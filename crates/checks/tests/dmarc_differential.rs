//! Differential test of the DMARC record parser against mail-auth 0.13.3
//! over `testdata/dmarc/records.txt`: wherever mail-auth rejects a record,
//! mailwarden must report at least one error-level diagnostic. mailwarden
//! may be stricter (it also flags what RFC 7489 requires and mail-auth does
//! not check, such as a missing `p` or `pct` out of range).

use mail_auth::common::parse::TxtRecordParser;
use mail_auth::dmarc::Dmarc;
use mailwarden_records::dmarc;

fn corpus() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/dmarc/records.txt");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

#[test]
fn where_mail_auth_rejects_mailwarden_reports_an_error() {
    let records = corpus();
    assert!(records.len() >= 30, "the corpus has only {} records", records.len());
    let mut rejected = 0;
    let mut only_mailwarden = Vec::new();
    let mut missed = Vec::new();
    for record in &records {
        let theirs = Dmarc::parse(record.as_bytes());
        let ours = dmarc::parse(record.as_bytes());
        match (&theirs, ours.has_errors()) {
            (Err(_), true) => rejected += 1,
            (Err(e), false) => missed.push(format!(
                "{record:?}: mail-auth says {e:?}, mailwarden: {:?}",
                ours.diagnostics
            )),
            (Ok(_), true) => only_mailwarden.push(record.clone()),
            (Ok(_), false) => {}
        }
    }
    eprintln!(
        "{} records; mail-auth rejects {rejected}; mailwarden alone reports errors in {}: {only_mailwarden:#?}",
        records.len(),
        only_mailwarden.len()
    );
    assert!(
        missed.is_empty(),
        "mail-auth rejects, mailwarden reports no error:\n{}",
        missed.join("\n")
    );
    assert!(
        rejected >= 10,
        "the corpus should exercise mail-auth's rejections (got {rejected})"
    );
}

#[test]
fn both_parsers_read_the_same_policy_from_valid_records() {
    for record in corpus() {
        let (Ok(theirs), ours) = (Dmarc::parse(record.as_bytes()), dmarc::parse(record.as_bytes())) else {
            continue;
        };
        if ours.has_errors() {
            continue;
        }
        let ours_p = ours.p.map(|p| p.as_str().to_string());
        let theirs_p = match theirs.p {
            mail_auth::dmarc::Policy::None => Some("none"),
            mail_auth::dmarc::Policy::Quarantine => Some("quarantine"),
            mail_auth::dmarc::Policy::Reject => Some("reject"),
            _ => None,
        }
        .map(str::to_string);
        assert_eq!(ours_p, theirs_p, "{record:?}");
        assert_eq!(
            ours.rua.iter().filter(|u| u.address.is_some()).count(),
            theirs.rua.len(),
            "{record:?}"
        );
    }
}
