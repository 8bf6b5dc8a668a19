//! MTA-STS policy files (RFC 8461 §3.2), as fetched over HTTPS.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::assert_span;
use mailwarden_records::mta_sts;

fuzz_target!(|data: &[u8]| {
    let policy = mta_sts::parse_policy(data);
    let _ = policy.is_valid();
    // Spans are offsets in the body as UTF-8 (invalid bytes replaced), the
    // text the parser reads and the caret is drawn under.
    let text = String::from_utf8_lossy(data);
    for d in &policy.diagnostics {
        assert_span(d.span, text.len(), d.code);
        let _ = d.caret(&text);
    }
});
