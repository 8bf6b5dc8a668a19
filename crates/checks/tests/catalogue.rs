//! The judges and the rule catalogue agree: every rule id a judge can
//! emit is in the catalogue, and every catalogue rule is emitted by some
//! judge (no dead rules, no findings without title, severity or reference).
//!
//! Judges name rules through `mailwarden_checks::rule`, constants the
//! build script generates from the catalogue, so an unknown id does not
//! compile; this test checks that no id is written as a literal instead
//! (which would escape that check) and that every rule's constant is used.

use std::collections::BTreeSet;

use mailwarden_policy::Catalogue;

/// Rule ids written as string literals in a judge's source, e.g. `"mx.present"`.
fn ids_in_source(source: &str, prefix: &str) -> BTreeSet<String> {
    let needle = format!("\"{prefix}.");
    source
        .match_indices(&needle)
        .filter_map(|(at, _)| {
            let rest = &source[at + 1..];
            let end = rest.find('"')?;
            let id = &rest[..end];
            id.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
                .then(|| id.to_string())
        })
        .collect()
}

/// The judge code (test modules left out: they hold fixtures such as
/// host names, and compare ids as literals).
fn judge_sources() -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut text = String::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            if !path.ends_with("tests") {
                stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
            }
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.ends_with("tests.rs")
            && !path.ends_with("testutil.rs")
        {
            let source = std::fs::read_to_string(&path).unwrap();
            let judge_code = source.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            text.push_str(judge_code);
        }
    }
    text
}

/// The constant of `mailwarden_checks::rule` that names `id`.
fn constant(id: &str) -> String {
    id.to_ascii_uppercase().replace(['.', '-'], "_")
}

/// Whether `source` uses the constant `name` (`rule::NAME`, not a longer one).
fn uses(source: &str, name: &str) -> bool {
    let needle = format!("rule::{name}");
    source.match_indices(&needle).any(|(at, _)| {
        let next = source[at + needle.len()..].chars().next();
        !next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn catalogue_ids(prefix: &str) -> BTreeSet<String> {
    Catalogue::builtin()
        .iter()
        .map(|r| r.id.clone())
        .filter(|id| id.starts_with(&format!("{prefix}.")))
        .collect()
}

#[test]
fn every_rule_is_emitted_and_none_is_named_by_a_literal() {
    let source = judge_sources();
    for prefix in [
        "mx", "spf", "dns", "dmarc", "ns", "dnssec", "dkim", "bimi", "mta-sts", "tlsrpt", "dane", "smtp", "failover",
    ] {
        let literal = ids_in_source(&source, prefix);
        assert!(
            literal.is_empty(),
            "{prefix}: rule ids written as literals, not `rule::` constants: {literal:?}"
        );
        let dead: Vec<String> = (catalogue_ids(prefix).into_iter())
            .filter(|id| !uses(&source, &constant(id)))
            .collect();
        assert!(
            dead.is_empty(),
            "{prefix}: in the catalogue but never emitted: {dead:?}"
        );
    }
}

#[test]
fn every_rule_has_its_constant() {
    for rule in Catalogue::builtin().iter() {
        let name = constant(&rule.id);
        let value = rule_constant(&name);
        assert_eq!(value, Some(rule.id.as_str()), "{name}");
    }
    assert_eq!(mailwarden_checks::rule::MX_PRESENT, "mx.present");
}

/// The value of `mailwarden_checks::rule::NAME`, read from the generated
/// file the crate includes.
fn rule_constant(name: &str) -> Option<&'static str> {
    let generated = include_str!(concat!(env!("OUT_DIR"), "/rule_ids.rs"));
    let line = generated
        .lines()
        .find(|l| l.starts_with(&format!("pub const {name}: &str = ")))?;
    line.split('"').nth(1)
}
