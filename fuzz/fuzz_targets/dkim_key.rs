//! DKIM key records (RFC 6376 §3.6.1) and the tag-list grammar under them.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::{assert_diagnostics, assert_span, utf8};
use mailwarden_records::dkim;

fuzz_target!(|data: &[u8]| {
    let Some(text) = utf8(data) else { return };
    let tags = dkim::parse_tag_list(text);
    assert_diagnostics(text, &tags.diagnostics);
    for tag in &tags.tags {
        assert_span(tag.span, text.len(), "tag");
        assert_span(tag.value_span, text.len(), "tag value");
    }
    let _ = dkim::looks_like_key_record(text);
    let record = dkim::parse_key_record(text);
    assert_diagnostics(&record.text, &record.diagnostics);
});
