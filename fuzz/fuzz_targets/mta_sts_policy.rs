//! MTA-STS policy files (RFC 8461 §3.2), as fetched over HTTPS.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::{assert_span, utf8};
use mailwarden_records::mta_sts;

fuzz_target!(|data: &[u8]| {
    let policy = mta_sts::parse_policy(data);
    let _ = policy.is_valid();
    for d in &policy.diagnostics {
        assert_span(d.span, data.len(), d.code);
        if let Some(text) = utf8(data) {
            let _ = d.caret(text);
        }
    }
});
