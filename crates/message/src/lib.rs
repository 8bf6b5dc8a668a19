//! # mailwarden-message
//!
//! Audit real messages: the path they took ([`hops`]), what their headers
//! disclose ([`leaks`]), and their authentication verified, not just read
//! ([`auth`]: DKIM, ARC, SPF, DMARC, compared with Authentication-Results).
//!
//! The core is pure: [`analyse`] reads one message's bytes, [`judge`] turns
//! the analysis (and the verified authentication, if any) into findings
//! with catalogue rule ids (`rules/message.toml`). DNS goes through the
//! project's DNS layer in [`auth::authenticate`], whose transcript is the
//! evidence, as for a scan. [`input`] splits files (a message, an mbox)
//! with size caps.

pub mod auth;
pub mod header;
pub mod hops;
pub mod input;
mod judge;
pub mod leaks;
pub mod table;

use serde::Serialize;

pub use judge::judge;

/// What the user told the audit.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--trusted-hop NAME`: the receiving server whose `Received` field is
    /// believed (its `by` name); `None` means the topmost field.
    pub trusted_hop: Option<String>,
}

/// One message, analysed (no DNS yet).
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Where the message came from: `FILE`, `FILE#3` for the third message
    /// of an mbox, `-` for standard input.
    pub label: String,
    /// The `Message-ID`, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    pub headers: header::Headers,
    pub path: hops::Path,
    /// Index into `path.hops` of the trusted hop (the receiving boundary).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted: Option<usize>,
    /// Why no hop is trusted, when `--trusted-hop` named none of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_problem: Option<String>,
    pub leaks: Vec<leaks::Leak>,
}

impl Analysis {
    /// The trusted hop, when there is one.
    pub fn trusted_hop(&self) -> Option<&hops::Hop> {
        self.trusted.and_then(|t| self.path.hops.get(t))
    }
}

/// Read one message: header fields, hops, trusted hop, leaks.
pub fn analyse(label: &str, raw: &[u8], options: &Options) -> Analysis {
    let headers = header::parse(raw);
    let path = hops::path(&headers);
    let (trusted, trusted_problem) = trusted_hop(&path.hops, options.trusted_hop.as_deref());
    let leaks = leaks::find(&headers, &path.hops, trusted);
    let message_id = headers.first("message-id").map(|f| f.value.clone());
    Analysis {
        label: label.to_string(),
        message_id,
        headers,
        path,
        trusted,
        trusted_problem,
        leaks,
    }
}

/// The hop whose receiving server is `name` (the latest such, i.e. the
/// topmost field), or the topmost hop by default.
fn trusted_hop(hops: &[hops::Hop], name: Option<&str>) -> (Option<usize>, Option<String>) {
    match name {
        None => (hops.len().checked_sub(1), None),
        Some(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            match hops.iter().rposition(|h| h.by.as_deref() == Some(name.as_str())) {
                Some(i) => (Some(i), None),
                None => (
                    None,
                    Some(format!(
                        "--trusted-hop {name}: no Received field was written by {name} (by-names: {})",
                        by_names(hops)
                    )),
                ),
            }
        }
    }
}

fn by_names(hops: &[hops::Hop]) -> String {
    let names: Vec<&str> = hops.iter().filter_map(|h| h.by.as_deref()).collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
