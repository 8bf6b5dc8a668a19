//! `mailwarden evidence DOMAIN [--since DATE] [--until DATE] --output DIR`:
//! a bundle an auditor can check offline (issue 13). The store collects
//! what it holds about the domain over the period
//! (`mailwarden_store::evidence`) and builds the bundle
//! (`mailwarden_store::evidence_bundle`, shared with the web service):
//! its files, their SHA-256 anchored in the audit log with an
//! `evidence-exported` event, a signed checkpoint and an inclusion proof
//! for every event cited; this writes the files to a directory.
//! [`crate::evidence_verify`] checks a bundle.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Args;
use mailwarden_store::audit_log;
use mailwarden_store::evidence::Period;
pub use mailwarden_store::evidence_bundle::{CHECKPOINT, DATA_FILES, EVENTS, README};
use mailwarden_store::evidence_bundle::{build, describe};

use crate::audit::{KeyArgs, open_store};

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
    let bundle = build(&store, &name, period, store.url()).await?;
    for (file, bytes) in &bundle.files {
        let path = args.output.join(file);
        std::fs::write(&path, bytes).with_context(|| format!("--output: writing {}", path.display()))?;
    }
    println!(
        "evidence for {name} ({}) written to {}: {} snapshot(s), {} alert(s), {} audit event(s) with inclusion \
         proofs against a signed checkpoint of {} entries (key id {}); check it with \
         `mailwarden audit verify-evidence {}`",
        describe(&bundle.collected.period),
        args.output.display(),
        bundle.collected.findings.len(),
        bundle.collected.alerts.len(),
        bundle.events,
        bundle.tree_size,
        bundle.key_id,
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
