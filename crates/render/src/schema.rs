//! The JSON Schema (draft 2020-12) of the `--format json` document, as
//! printed by `mailwarden schema`. `$defs/domainReport` describes one line
//! of `--format jsonl`.
//!
//! Hand-written as data (`report.schema.json`) rather than derived, so the
//! descriptions read as documentation and the model crate carries no schema
//! dependency; the integration tests validate real output against it, so it
//! cannot drift from what the renderers write.

/// The schema, as JSON text.
pub const REPORT_JSON_SCHEMA: &str = include_str!("report.schema.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_is_json_and_matches_the_report_version() {
        let v: serde_json::Value = serde_json::from_str(REPORT_JSON_SCHEMA).unwrap();
        assert_eq!(v["properties"]["schema"]["const"], crate::REPORT_SCHEMA);
        assert_eq!(v["$schema"], "https://json-schema.org/draft/2020-12/schema");
        assert!(v["$defs"]["domainReport"].is_object());
    }
}
