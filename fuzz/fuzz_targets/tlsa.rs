//! TLSA records in presentation form (RFC 6698 §2.2).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::utf8;
use mailwarden_records::tlsa;

fuzz_target!(|data: &[u8]| {
    let Some(text) = utf8(data) else { return };
    if let Ok(record) = tlsa::parse(text) {
        let _ = tlsa::usage_name(record.usage);
    }
});
