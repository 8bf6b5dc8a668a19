//! `mailwarden audit verify-evidence DIR`: checks a bundle written by
//! `mailwarden evidence`, offline, with crates/audit's RFC 9162 code: the
//! checkpoint's signature, every cited event against its digests and its
//! inclusion proof, the files against the SHA-256 the `evidence-exported`
//! event anchored, and every event reference in the files. It reports every
//! problem it finds, not only the first.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use mailwarden_audit::hash::to_hex;
use mailwarden_audit::{Checkpoint, CitedEvent};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::args::Format;
use crate::evidence::{CHECKPOINT, DATA_FILES, EVENTS, README};

#[derive(Debug, Args)]
pub struct VerifyEvidenceArgs {
    /// The bundle's directory.
    pub dir: PathBuf,
    /// The log key id you hold (from an earlier checkpoint): the bundle's checkpoint must be signed by it.
    #[arg(long, value_name = "HEX")]
    pub key_id: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// What checking a bundle found.
#[derive(Debug, Default, serde::Serialize)]
pub struct BundleCheck {
    /// The checkpoint's tree size, root and key id, when it could be read.
    pub tree_size: Option<u64>,
    pub root: Option<String>,
    pub key_id: Option<String>,
    /// Events checked, and how many of them had their content checked.
    pub events: usize,
    pub contents_checked: usize,
    /// Files whose SHA-256 matched the export event.
    pub files_matched: usize,
    /// Everything wrong; empty when the bundle verifies.
    pub problems: Vec<String>,
}

pub fn run(args: VerifyEvidenceArgs) -> Result<ExitCode> {
    if !args.dir.is_dir() {
        anyhow::bail!("{}: not a directory (an evidence bundle)", args.dir.display());
    }
    let check = verify_bundle(&args.dir, args.key_id.as_deref());
    let mut out = std::io::stdout().lock();
    if args.format == Format::Text {
        if check.problems.is_empty() {
            writeln!(
                out,
                "evidence bundle verified: {} audit event(s) in a tree of {} entries (root {}), {} with their \
                 content checked; {} file(s) match the SHA-256 recorded in the log",
                check.events,
                check.tree_size.unwrap_or(0),
                check.root.as_deref().unwrap_or("-"),
                check.contents_checked,
                check.files_matched
            )?;
            writeln!(
                out,
                "checkpoint signed by key {}{}",
                check.key_id.as_deref().unwrap_or("-"),
                if args.key_id.is_some() {
                    " (the key id you gave)"
                } else {
                    "; compare it with the key id you hold for this log (--key-id)"
                }
            )?;
        } else {
            writeln!(out, "evidence bundle FAILED verification:")?;
            for p in &check.problems {
                writeln!(out, "  - {}", mailwarden_render::inert::line(p))?;
            }
        }
    } else {
        mailwarden_render::inert::to_writer_pretty(&mut out, &check)?;
        writeln!(out)?;
    }
    out.flush()?;
    Ok(if check.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Checks the bundle in `dir`; `key_id` pins the checkpoint's key.
pub fn verify_bundle(dir: &Path, key_id: Option<&str>) -> BundleCheck {
    let mut check = BundleCheck::default();
    let checkpoint = match read(dir, CHECKPOINT).and_then(|t| Ok(Checkpoint::from_json(&t)?)) {
        Ok(cp) => cp,
        Err(e) => {
            check.problems.push(format!("{CHECKPOINT}: {e}"));
            return check;
        }
    };
    check.tree_size = Some(checkpoint.sth.head.tree_size);
    check.root = Some(to_hex(&checkpoint.sth.head.root_hash));
    let signer = checkpoint.public_key.key_id();
    if let Some(want) = key_id
        && !want.eq_ignore_ascii_case(&signer)
    {
        check.problems.push(format!(
            "{CHECKPOINT}: signed by key {signer}, not by the key {want} you gave"
        ));
    }
    check.key_id = Some(signer);
    let events: Vec<CitedEvent> =
        match read(dir, EVENTS).and_then(|t| serde_json::from_str(&t).map_err(FileError::Events)) {
            Ok(events) => events,
            Err(e) => {
                check.problems.push(format!("{EVENTS}: {e}"));
                return check;
            }
        };
    check_events(&events, &checkpoint, &mut check);
    check_export(dir, &events, &mut check);
    check
}

/// Each event against its digests, its leaf and its inclusion proof.
fn check_events(events: &[CitedEvent], checkpoint: &Checkpoint, check: &mut BundleCheck) {
    let mut seen = BTreeSet::new();
    for event in events {
        if !seen.insert(event.seq) {
            check
                .problems
                .push(format!("{EVENTS}: event {} appears twice", event.seq));
        }
        match event.verify(checkpoint) {
            Ok(ok) => check.contents_checked += usize::from(ok.content_checked),
            Err(e) => check.problems.push(format!("{EVENTS}: {e}")),
        }
    }
    check.events = events.len();
}

/// The export event: the files' SHA-256, the events cited, and every
/// `audit_seq` the data files name.
fn check_export(dir: &Path, events: &[CitedEvent], check: &mut BundleCheck) {
    // This bundle's export is the last event (earlier exports of the domain
    // are cited like any other event).
    let last_seq = events.iter().map(|e| e.seq).max();
    let Some(export) = events
        .last()
        .filter(|e| e.kind == "evidence-exported" && Some(e.seq) == last_seq)
    else {
        check.problems.push(format!(
            "{EVENTS}: the last event is not the bundle's evidence-exported event (it must be, with the highest seq)"
        ));
        return;
    };
    let Some(content) = &export.content else {
        check.problems.push(format!(
            "{EVENTS}: the evidence-exported event {} has no content",
            export.seq
        ));
        return;
    };
    let listed = content["files_sha256"].as_object().cloned().unwrap_or_default();
    let expected: Vec<&str> = DATA_FILES.iter().copied().chain([README]).collect();
    for name in &expected {
        let Some(want) = listed.get(*name).and_then(Value::as_str) else {
            check.problems.push(format!(
                "{name}: not among the files the export event {} anchored",
                export.seq
            ));
            continue;
        };
        match std::fs::read(dir.join(name)) {
            Ok(bytes) if to_hex(&Sha256::digest(&bytes)) == want => check.files_matched += 1,
            Ok(_) => check.problems.push(format!(
                "{name}: changed since the export (its SHA-256 is not the one event {} recorded)",
                export.seq
            )),
            Err(e) => check.problems.push(format!("{name}: {e}")),
        }
    }
    let cited: BTreeSet<u64> = content["cited"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let present: BTreeSet<u64> = events.iter().map(|e| e.seq).filter(|s| *s != export.seq).collect();
    for missing in cited.difference(&present) {
        check.problems.push(format!(
            "{EVENTS}: event {missing} was cited by the export but is missing"
        ));
    }
    for extra in present.difference(&cited) {
        check
            .problems
            .push(format!("{EVENTS}: event {extra} is not one the export cited"));
    }
    for name in DATA_FILES {
        let doc: Value = read(dir, name)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let mut refs = Vec::new();
        audit_refs(&doc, &mut refs);
        for seq in refs.into_iter().filter(|s| !present.contains(s)) {
            check.problems.push(format!(
                "{name}: names audit event {seq}, which the bundle does not prove"
            ));
        }
    }
}

/// Every number under a key `audit_seq` or `*_audit_seqs`.
fn audit_refs(value: &Value, out: &mut Vec<u64>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                if k == "audit_seq" || k.ends_with("audit_seqs") {
                    match v {
                        Value::Array(items) => out.extend(items.iter().filter_map(Value::as_u64)),
                        other => out.extend(other.as_u64()),
                    }
                } else {
                    audit_refs(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| audit_refs(i, out)),
        _ => {}
    }
}

/// Why one of the bundle's files could not be used (shown after its name).
#[derive(Debug, thiserror::Error)]
enum FileError {
    #[error("cannot read it: {0}")]
    Read(#[from] std::io::Error),
    #[error(transparent)]
    Checkpoint(#[from] mailwarden_audit::CheckpointError),
    #[error("not the events list: {0}")]
    Events(serde_json::Error),
}

fn read(dir: &Path, name: &str) -> Result<String, FileError> {
    Ok(std::fs::read_to_string(dir.join(name))?)
}
