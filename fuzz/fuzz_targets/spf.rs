//! SPF (RFC 7208): the strict record parser, including macro strings.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::{assert_diagnostics, assert_span, utf8};
use mailwarden_records::spf;

fuzz_target!(|data: &[u8]| {
    let _ = spf::is_spf_record(data);
    let _ = spf::looks_like_spf(data);
    let parsed = spf::parse(data);
    let _ = spf::effective_all(&parsed.record);
    for d in &parsed.diagnostics {
        assert_span(d.span, data.len(), d.code);
    }
    if let Some(text) = utf8(data) {
        assert_diagnostics(text, &parsed.diagnostics);
    }
});
