//! The judges and the rule catalogue agree: every rule id a judge can
//! emit is in the catalogue, and every catalogue rule is emitted by some
//! judge (no dead rules, no findings without title, severity or reference).

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

fn judge_sources(prefix: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut text = String::new();
    let mut stack = vec![std::path::PathBuf::from(dir)];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            stack.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path.ends_with("tests.rs")
            && !path.ends_with("testutil.rs")
        {
            let source = std::fs::read_to_string(&path).unwrap();
            // Test modules hold fixtures such as host names; only judge code counts.
            let judge_code = source.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
            text.push_str(judge_code);
        }
    }
    assert!(
        text.contains(&format!("\"{prefix}.")),
        "no {prefix}.* ids found in the judges"
    );
    text
}

fn catalogue_ids(prefix: &str) -> BTreeSet<String> {
    Catalogue::builtin()
        .iter()
        .map(|r| r.id.clone())
        .filter(|id| id.starts_with(&format!("{prefix}.")))
        .collect()
}

#[test]
fn every_emitted_rule_is_in_the_catalogue_and_every_rule_is_emitted() {
    for prefix in [
        "mx", "spf", "dns", "dmarc", "ns", "dnssec", "dkim", "bimi", "mta-sts", "tlsrpt", "dane", "smtp", "failover",
    ] {
        let emitted = ids_in_source(&judge_sources(prefix), prefix);
        let catalogued = catalogue_ids(prefix);
        let unknown: Vec<_> = emitted.difference(&catalogued).collect();
        let dead: Vec<_> = catalogued.difference(&emitted).collect();
        assert!(
            unknown.is_empty(),
            "{prefix}: emitted but not in rules/{prefix}.toml: {unknown:?}"
        );
        assert!(
            dead.is_empty(),
            "{prefix}: in the catalogue but never emitted: {dead:?}"
        );
    }
}
