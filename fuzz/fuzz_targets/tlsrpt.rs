//! SMTP TLS Reporting records (RFC 8460 §3).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::{assert_diagnostics, utf8};
use mailwarden_records::tlsrpt;

fuzz_target!(|data: &[u8]| {
    if let Some(text) = utf8(data) {
        let _ = tlsrpt::is_tlsrpt_record(text);
        let _ = tlsrpt::looks_like_tlsrpt(text);
    }
    let record = tlsrpt::parse(data);
    assert_diagnostics(&record.text, &record.diagnostics);
});
