//! The evidence bundle of a domain (issue 13), as files in memory: what
//! [`crate::evidence`] collects over a period as JSON documents, the
//! auditor's README, then an `evidence-exported` audit event anchoring
//! their SHA-256, a signed checkpoint and an inclusion proof for every
//! event cited. `mailwarden evidence` writes the files to a directory; the
//! web service (issue 16) sends them to an auditor as one archive.
//! `mailwarden audit verify-evidence` checks a bundle either way.
//!
//! The caller checks first that the audit log verifies: a bundle whose
//! proofs lead to a tampered log would prove nothing.

use std::collections::BTreeMap;

use mailwarden_audit::hash::to_hex;
use sha2::{Digest, Sha256};

use crate::evidence::{self, Collected, Period};
use crate::tenant::OwnedDomain;
use crate::{Store, StoreError, audit_key, audit_log};

/// The data files of a bundle, in the order they are described.
pub const DATA_FILES: [&str; 4] = ["findings.json", "changes.json", "alerts.json", "verdicts.json"];
/// The auditor's instructions (also anchored by its SHA-256).
pub const README: &str = "README.md";
/// The cited events with their inclusion proofs.
pub const EVENTS: &str = "audit/events.json";
/// The signed tree head the proofs lead to.
pub const CHECKPOINT: &str = "audit/checkpoint.json";

/// A built bundle: its files (path inside the bundle -> bytes) and what
/// the CLI says about it.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub files: BTreeMap<&'static str, Vec<u8>>,
    pub collected: Collected,
    pub events: usize,
    pub tree_size: u64,
    pub key_id: String,
}

/// Build the bundle of `domain` over `period` (appends the export's
/// audit event). `database` names the store in the README.
pub async fn build(store: &Store, domain: &str, period: Period, database: &str) -> Result<Bundle, StoreError> {
    let collected = evidence::collect(store, domain, period).await?;
    let key_id = audit_key::signing_key()?.public().key_id();
    let mut files = data_files(&collected)?;
    files.insert(README, readme(&collected, database, &key_id).into_bytes());
    let hashes: BTreeMap<String, String> = files
        .iter()
        .map(|(name, bytes)| (name.to_string(), to_hex(&Sha256::digest(bytes))))
        .collect();
    let export = evidence::record_export(store, &collected, &hashes).await?;
    let mut seqs = collected.cited.clone();
    seqs.push(export);
    let (checkpoint, events) = audit_log::cite(store, &seqs).await?;
    files.insert(EVENTS, (serde_json::to_string_pretty(&events)? + "\n").into_bytes());
    files.insert(CHECKPOINT, checkpoint.to_json().into_bytes());
    Ok(Bundle {
        files,
        collected,
        events: events.len(),
        tree_size: checkpoint.sth.head.tree_size,
        key_id,
    })
}

/// [`build`] for one of a tenant's domains (the web service).
pub async fn build_owned(
    store: &Store,
    domain: &OwnedDomain,
    period: Period,
    database: &str,
) -> Result<Bundle, StoreError> {
    build(store, domain.name(), period, database).await
}

/// The data files' bytes (pretty JSON, ending in a newline).
fn data_files(c: &Collected) -> Result<BTreeMap<&'static str, Vec<u8>>, StoreError> {
    let head = |items: serde_json::Value| {
        serde_json::json!({
            "domain": c.domain, "since": c.period.since, "until": c.period.until, "items": items,
        })
    };
    let docs = [
        head(serde_json::to_value(&c.findings)?),
        head(c.changes.clone()),
        head(serde_json::to_value(&c.alerts)?),
        head(serde_json::to_value(&c.verdicts)?),
    ];
    DATA_FILES
        .iter()
        .zip(docs)
        .map(|(name, doc)| Ok((*name, (serde_json::to_string_pretty(&doc)? + "\n").into_bytes())))
        .collect()
}

/// The period in words.
pub fn describe(period: &Period) -> String {
    match (&period.since, &period.until) {
        (None, None) => "everything stored".into(),
        (Some(s), None) => format!("from {s}"),
        (None, Some(u)) => format!("before {u}"),
        (Some(s), Some(u)) => format!("from {s}, before {u}"),
    }
}

fn readme(c: &Collected, database: &str, key_id: &str) -> String {
    let count = |v: &serde_json::Value, key: &str| v[key].as_array().map_or(0, Vec::len);
    include_str!("evidence_readme.md")
        .replace("{domain}", &c.domain)
        .replace("{version}", env!("CARGO_PKG_VERSION"))
        .replace("{generated_at}", &crate::now())
        .replace("{database}", database)
        .replace("{period}", &describe(&c.period))
        .replace("{key_id}", key_id)
        .replace("{snapshots}", &c.findings.len().to_string())
        .replace("{changes}", &count(&c.changes, "changes").to_string())
        .replace("{baselines}", &count(&c.changes, "baselines").to_string())
        .replace("{alerts}", &c.alerts.len().to_string())
        .replace("{events}", &(c.cited.len() + 1).to_string())
}
