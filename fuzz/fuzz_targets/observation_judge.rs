//! Saved evidence, as `mailwarden judge FILE` reads it: one Observation
//! deserialised, checked (schema, domain name) and judged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_model::observation::OBSERVATION_SCHEMA;
use mailwarden_model::{DomainName, Observation};

/// 2026-01-01T00:00:00Z: a fixed "now" keeps runs reproducible.
const NOW: i64 = 1_767_225_600;

fuzz_target!(|data: &[u8]| {
    let Ok(observation) = serde_json::from_slice::<Observation>(data) else {
        return;
    };
    if observation.schema > OBSERVATION_SCHEMA || DomainName::parse(&observation.domain).is_err() {
        return;
    }
    let _ = mailwarden_checks::judge_observation(&observation, NOW);
});
