//! BIMI assertion records (draft-brand-indicators-for-message-identification).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::{assert_diagnostics, utf8};
use mailwarden_records::bimi;

fuzz_target!(|data: &[u8]| {
    let Some(text) = utf8(data) else { return };
    let _ = bimi::looks_like_bimi_record(text);
    let record = bimi::parse(text);
    assert_diagnostics(&record.text, &record.diagnostics);
});
