//! The crate graph enforces the architecture: the judges cannot do I/O.
//!
//! `mailwarden-checks` may depend, among our crates, only on
//! `mailwarden-model`, `mailwarden-records` and `mailwarden-roots` (the
//! trust store as bytes: rustls-webpki, no connections), and (transitively, normal
//! dependencies) on no DNS, async, TLS-connection or database stack.
//! Pure helpers (serde, psl, sha*, x509-parser, rustls-webpki,
//! rustls-pki-types, webpki-roots) are fine: they parse and verify bytes.

use std::collections::BTreeSet;
use std::process::Command;

/// Crates whose presence would mean the judges can reach the network or
/// a database (prefixes: `hickory-proto`, `tokio-rustls`, ...).
const FORBIDDEN: [&str; 6] = ["hickory", "tokio", "futures", "rustls", "sqlx", "mio"];

/// Crates allowed although a forbidden prefix matches them: certificate
/// verification over bytes, no connections.
const ALLOWED: [&str; 2] = ["rustls-webpki", "rustls-pki-types"];

/// Our crates `checks` may depend on (`roots` is itself held to no I/O by
/// the same forbidden list, which reaches through it).
const OURS: [&str; 4] = [
    "mailwarden-checks",
    "mailwarden-model",
    "mailwarden-records",
    "mailwarden-roots",
];

/// The names of every crate `mailwarden-checks` reaches through normal
/// dependencies, by `cargo tree`.
fn normal_dependencies() -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "-p",
            "mailwarden-checks",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .args(["--format", "{p}"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// The crates of `names` the rules above refuse.
fn refused(names: &BTreeSet<String>) -> Vec<&str> {
    names
        .iter()
        .map(String::as_str)
        .filter(|n| {
            let io = FORBIDDEN.iter().any(|f| n.starts_with(f)) && !ALLOWED.contains(n);
            let ours = n.starts_with("mailwarden") && !OURS.contains(n);
            io || ours
        })
        .collect()
}

#[test]
fn checks_reaches_no_io_stack_and_only_model_and_records_of_ours() {
    let names = normal_dependencies();
    assert!(
        names.contains("mailwarden-model") && names.contains("x509-parser"),
        "cargo tree output not understood: {names:?}"
    );
    assert_eq!(refused(&names), Vec::<&str>::new(), "checks must stay pure");
}

/// The test above can fail: the rules refuse what `checks` depended on
/// before `collect` moved to `mailwarden-engine`.
#[test]
fn the_rules_refuse_the_old_graph() {
    let old: BTreeSet<String> = [
        "mailwarden-dns",
        "hickory-resolver",
        "tokio",
        "futures-util",
        "rustls-webpki",
    ]
    .map(String::from)
    .into();
    assert_eq!(
        refused(&old),
        ["futures-util", "hickory-resolver", "mailwarden-dns", "tokio"]
    );
}
