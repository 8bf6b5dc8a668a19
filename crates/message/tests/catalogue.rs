//! The message judges and rules/message.toml agree: every `message.*` id
//! the source can emit is catalogued, and every catalogued one is emitted.

use std::collections::BTreeSet;

use mailwarden_policy::Catalogue;

/// `"message.xyz"` literals in the crate's non-test sources.
fn emitted() -> BTreeSet<String> {
    let mut ids = BTreeSet::new();
    let mut stack = vec![std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src"))];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("tests.rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let code = source.split("#[cfg(test)]").next().unwrap_or("");
        for (at, _) in code.match_indices("\"message.") {
            let rest = &code[at + 1..];
            let id = &rest[..rest.find('"').unwrap()];
            if id.bytes().all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'-') {
                ids.insert(id.to_string());
            }
        }
    }
    ids
}

#[test]
fn every_emitted_message_rule_is_catalogued_and_every_one_is_emitted() {
    let emitted = emitted();
    let catalogued: BTreeSet<String> = Catalogue::builtin()
        .iter()
        .map(|r| r.id.clone())
        .filter(|id| id.starts_with("message."))
        .collect();
    assert!(emitted.len() >= 15, "{emitted:?}");
    assert_eq!(emitted, catalogued, "rules/message.toml and crates/message/src differ");
}
