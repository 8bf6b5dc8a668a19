//! `--trust-anchor` files: DNSKEY and DS lines in zone-file syntax.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_fuzz::utf8;

fuzz_target!(|data: &[u8]| {
    let Some(text) = utf8(data) else { return };
    let _ = mailwarden_dns::live::check_trust_anchor_text(text);
});
