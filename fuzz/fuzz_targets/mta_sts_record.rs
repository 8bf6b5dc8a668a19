//! MTA-STS TXT records (RFC 8461 §3.1).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::{assert_diagnostics, utf8};
use mailwarden_records::mta_sts;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = utf8(data) {
        let _ = mta_sts::is_sts_record(text);
        let _ = mta_sts::looks_like_sts(text);
        let _ = mta_sts::valid_id(text);
    }
    let record = mta_sts::parse(data);
    assert_diagnostics(&record.text, &record.diagnostics);
});
