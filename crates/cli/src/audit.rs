//! `mailwarden audit verify|checkpoint`: the verifiable audit log (issue 13).
//! The log itself is `mailwarden_store::audit_log`; this is the command line.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use mailwarden_audit::Checkpoint;
use mailwarden_audit::hash::to_hex;
use mailwarden_store::{audit_key, audit_log};

use crate::args::Format;

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Recompute the audit log (RFC 9162 Merkle tree, signed tree heads) and name the first entry
    /// that was altered, deleted, inserted or reordered. Exit 0 verified, 1 tampering found, 2 error.
    Verify(VerifyArgs),
    /// Export the log's current signed tree head, to keep somewhere the database's writers cannot
    /// reach; `audit verify --checkpoint FILE` later detects a truncated or forked log.
    Checkpoint(CheckpointArgs),
    /// Check an evidence bundle written by `mailwarden evidence`, offline: the checkpoint's signature, every
    /// event's digests and inclusion proof, the files against the SHA-256 the log recorded. Exit 0 verified,
    /// 1 a problem found (each is named), 2 error.
    VerifyEvidence(crate::evidence_verify::VerifyEvidenceArgs),
}

/// Where the audit log's Ed25519 key is.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// The audit key file (created on first use, mode 0600). Default:
    /// $XDG_CONFIG_HOME/mailwarden/audit-ed25519.key (~/.config/mailwarden/audit-ed25519.key).
    #[arg(long = "audit-key", value_name = "FILE", env = "MAILWARDEN_AUDIT_KEY")]
    pub key: Option<PathBuf>,
}

impl KeyArgs {
    /// Makes the key choice the store's for this process.
    pub fn apply(&self) {
        if let Some(path) = &self.key {
            audit_key::set_key_path(path.clone());
        }
    }
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A checkpoint written earlier by `audit checkpoint`: the log must still contain exactly the
    /// tree it signed. Without a key file, its public key checks the log.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<PathBuf>,
    #[command(flatten)]
    pub key: KeyArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// Where to write the checkpoint (JSON).
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub key: KeyArgs,
}

/// One way to open the database, shared by every command (`alert`,
/// `evidence`, `reports` and `senders` import it from here).
pub use crate::monitor::open_store;

pub async fn run(db: Option<&str>, command: AuditCommand) -> Result<ExitCode> {
    match command {
        AuditCommand::Verify(args) => verify(db, args).await,
        AuditCommand::Checkpoint(args) => checkpoint(db, args).await,
        AuditCommand::VerifyEvidence(args) => crate::evidence_verify::run(args),
    }
}

async fn verify(db: Option<&str>, args: VerifyArgs) -> Result<ExitCode> {
    args.key.apply();
    let checkpoint = args.checkpoint.as_deref().map(read_checkpoint).transpose()?;
    let store = open_store(db).await?;
    let v = audit_log::verify(&store, checkpoint.as_ref()).await?;
    let mut out = std::io::stdout().lock();
    let code = match (&v.outcome, args.format) {
        (Ok(ok), Format::Text) if ok.size == 0 => {
            writeln!(out, "audit log is empty: nothing to verify")?;
            ExitCode::SUCCESS
        }
        (Ok(ok), Format::Text) => {
            writeln!(
                out,
                "audit log verified: {} entries, root {}",
                ok.size,
                to_hex(&ok.root)
            )?;
            writeln!(
                out,
                "signed tree heads checked with key {} ({}); contents checked against their digests: {} \
                 (the others were erased or expired, their leaves still verify)",
                v.key_id, v.key_source, ok.contents_checked
            )?;
            if let (Some(cp), Some(proof)) = (&checkpoint, v.consistency_proof) {
                writeln!(
                    out,
                    "consistent with the checkpoint of {} entries (RFC 9162 consistency proof of {proof} hashes verified)",
                    cp.sth.head.tree_size
                )?;
            }
            ExitCode::SUCCESS
        }
        (Err(tamper), Format::Text) => {
            writeln!(out, "audit log FAILED verification: {tamper}")?;
            ExitCode::from(1)
        }
        (outcome, _) => {
            let json = match outcome {
                Ok(ok) => serde_json::json!({
                    "verified": true, "size": ok.size, "root": to_hex(&ok.root), "key_id": v.key_id,
                    "contents_checked": ok.contents_checked, "consistency_proof_hashes": v.consistency_proof,
                }),
                Err(t) => serde_json::json!({
                    "verified": false, "first_bad_entry": t.seq(), "problem": t.to_string(), "key_id": v.key_id,
                }),
            };
            writeln!(out, "{json}")?;
            if outcome.is_ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
    };
    out.flush()?;
    Ok(code)
}

fn read_checkpoint(path: &Path) -> Result<Checkpoint> {
    let text = std::fs::read_to_string(path).with_context(|| format!("--checkpoint {}", path.display()))?;
    Checkpoint::from_json(&text).map_err(|e| anyhow::anyhow!("--checkpoint {}: {e}", path.display()))
}

async fn checkpoint(db: Option<&str>, args: CheckpointArgs) -> Result<ExitCode> {
    args.key.apply();
    let store = open_store(db).await?;
    let cp = audit_log::checkpoint(&store).await?;
    write_atomically(&args.output, cp.to_json().as_bytes())
        .with_context(|| format!("--output {}", args.output.display()))?;
    println!(
        "checkpoint of {} entries (root {}) written to {}",
        cp.sth.head.tree_size,
        to_hex(&cp.sth.head.root_hash),
        args.output.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A temporary file beside the target, renamed over it: a crash never leaves
/// half a checkpoint.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
