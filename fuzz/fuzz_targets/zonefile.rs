//! RFC 1035 master files (`--zone`), then a few questions answered from
//! what was loaded (CNAME chains, wildcards, delegations).
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_dns::zonefile::ZoneFileSource;
use mailwarden_fuzz::utf8;
use mailwarden_model::{QueryKey, RType};

/// A directory that does not exist: `$INCLUDE` may read nothing.
const LABEL: &str = "/nonexistent-mailwarden-fuzz/fuzz.zone";

fuzz_target!(|data: &[u8]| {
    let Some(text) = utf8(data) else { return };
    let Ok(source) = ZoneFileSource::from_str(text, Some("example.com"), LABEL) else {
        return;
    };
    for origin in source.origins() {
        for (prefix, rtype) in [
            ("", RType::Mx),
            ("", RType::Txt),
            ("_dmarc.", RType::Txt),
            ("www.", RType::A),
            ("a.b.", RType::Aaaa),
        ] {
            let _ = source.answer(&QueryKey::new(&format!("{prefix}{origin}"), rtype));
        }
    }
});
