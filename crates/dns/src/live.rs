//! Live DNS over hickory-resolver with local DNSSEC validation.
