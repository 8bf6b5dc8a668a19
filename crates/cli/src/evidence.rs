//! `mailwarden evidence DOMAIN [--since DATE] [--until DATE] --output DIR`:
//! a bundle an auditor can check offline (issue 13). The store collects
//! what it holds about the domain over the period
//! (`mailwarden_store::evidence`); this writes it as files, anchors their
//! SHA-256 in the audit log with an `evidence-exported` event, and adds a
//! signed checkpoint and an inclusion proof for every event cited.
//! [`crate::evidence_verify`] checks a bundle.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use mailwarden_audit::hash::to_hex;
use mailwarden_store::evidence::{self, Collected, Period};
use mailwarden_store::{audit_key, audit_log};
use sha2::{Digest, Sha256};

use crate::audit::{KeyArgs, open_store};

/// The data files of a bundle, in the order they are described.
pub const DATA_FILES: [&str; 4] = ["findings.json", "changes.json", "alerts.json", "verdicts.json"];
/// The auditor's instructions (also anchored by its SHA-256).
pub const README: &str = "README.md";
/// The cited events with their inclusion proofs.
pub const EVENTS: &str = "audit/events.json";
/// The signed tree head the proofs lead to.
pub const CHECKPOINT: &str = "audit/checkpoint.json";

#[derive(Debug, Args)]
pub struct EvidenceArgs {
    /// The domain.
    pub domain: String,
    /// Start of the period: a date (2026-01-01, from its midnight UTC) or an RFC 3339 time. Default: the beginning.
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// End of the period: a date (that whole day included) or an RFC 3339 time (included). Default: now.
    #[arg(long, value_name = "DATE")]
    pub until: Option<String>,
    /// The directory to write the bundle to (created; it must be empty if it exists).
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
}

pub async fn run(db: Option<&str>, args: EvidenceArgs) -> Result<ExitCode> {
    args.key.apply();
    let period = Period::parse(args.since.as_deref(), args.until.as_deref()).map_err(anyhow::Error::msg)?;
    let name = crate::monitor::domain(&args.domain)?;
    let store = open_store(db).await?;
    // Nothing is appended to a log that does not verify: the bundle's
    // proofs would prove nothing.
    if let Err(tamper) = audit_log::verify(&store, None).await?.outcome {
        bail!("the audit log does not verify ({tamper}): run `mailwarden audit verify`; no evidence exported");
    }
    prepare_dir(&args.output)?;
    let collected = evidence::collect(&store, &name, period).await?;
    let key_id = audit_key::signing_key()?.public().key_id();
    let mut files = data_files(&collected)?;
    let readme = readme(&collected, store.url(), &key_id);
    files.insert(README, readme.into_bytes());
    let hashes: BTreeMap<String, String> = files
        .iter()
        .map(|(name, bytes)| (name.to_string(), to_hex(&Sha256::digest(bytes))))
        .collect();
    let export = evidence::record_export(&store, &collected, &hashes).await?;
    let mut seqs = collected.cited.clone();
    seqs.push(export);
    let (checkpoint, events) = audit_log::cite(&store, &seqs).await?;
    files.insert(EVENTS, (serde_json::to_string_pretty(&events)? + "\n").into_bytes());
    files.insert(CHECKPOINT, checkpoint.to_json().into_bytes());
    for (file, bytes) in &files {
        let path = args.output.join(file);
        std::fs::write(&path, bytes).with_context(|| format!("--output: writing {}", path.display()))?;
    }
    println!(
        "evidence for {name} ({}) written to {}: {} snapshot(s), {} alert(s), {} audit event(s) with inclusion \
         proofs against a signed checkpoint of {} entries (key id {key_id}); check it with \
         `mailwarden audit verify-evidence {}`",
        describe(&collected.period),
        args.output.display(),
        collected.findings.len(),
        collected.alerts.len(),
        events.len(),
        checkpoint.sth.head.tree_size,
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Creates the bundle directory; refuses one that already holds files, so a
/// bundle is never mixed with an older one.
fn prepare_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut entries = std::fs::read_dir(dir).with_context(|| format!("--output {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "--output {}: the directory is not empty; write the bundle to a new directory",
                dir.display()
            );
        }
    }
    std::fs::create_dir_all(dir.join("audit")).with_context(|| format!("--output {}: cannot create", dir.display()))
}

/// The data files' bytes (pretty JSON, ending in a newline).
fn data_files(c: &Collected) -> Result<BTreeMap<&'static str, Vec<u8>>> {
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

fn describe(period: &Period) -> String {
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
        .replace("{generated_at}", &mailwarden_store::now())
        .replace("{database}", database)
        .replace("{period}", &describe(&c.period))
        .replace("{key_id}", key_id)
        .replace("{snapshots}", &c.findings.len().to_string())
        .replace("{changes}", &count(&c.changes, "changes").to_string())
        .replace("{baselines}", &count(&c.changes, "baselines").to_string())
        .replace("{alerts}", &c.alerts.len().to_string())
        .replace("{events}", &(c.cited.len() + 1).to_string())
}
