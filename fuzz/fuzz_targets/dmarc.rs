//! DMARC (RFC 7489 and DMARCbis): the record parser.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::assert_diagnostics;
use mailwarden_records::dmarc;

fuzz_target!(|data: &[u8]| {
    let _ = dmarc::is_dmarc_record(data);
    let _ = dmarc::looks_like_dmarc(data);
    let record = dmarc::parse(data);
    assert_diagnostics(&record.text, &record.diagnostics);
});
