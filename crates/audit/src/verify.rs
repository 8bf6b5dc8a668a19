//! Recomputes the whole log from its stored rows and names the first entry
//! that was altered, deleted, inserted or reordered, and, against a
//! checkpoint, a log that was truncated or forked since.
//!
//! Each entry carries the signed tree head of the log at its own size, so
//! the first entry whose head fails is the first one that changed: every
//! head before it signs exactly the recomputed tree up to there.

use std::fmt;

use serde_json::Value;

use crate::entry::{LeafFields, SALT_LEN, Salt, content_digest, domain_digest};
use crate::hash::Hash;
use crate::head::{Checkpoint, PublicKey, SignedTreeHead, TreeHead};
use crate::tree::Frontier;

/// One row of the log as stored (the caller reads it from the database).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEntry {
    /// The stored position (1..).
    pub seq: u64,
    /// When it was appended (RFC 3339).
    pub at: String,
    /// The event kind.
    pub kind: String,
    /// The domain, `None` once erased (or if the event has none).
    pub domain: Option<String>,
    /// The content as stored (JSON text), `None` once erased or expired.
    pub content: Option<String>,
    /// The salt, `None` once the event was erased.
    pub salt: Option<Vec<u8>>,
    /// The committed domain digest.
    pub domain_digest: Vec<u8>,
    /// The committed content digest.
    pub content_digest: Vec<u8>,
    /// The leaf hash stored at append time.
    pub leaf_hash: Vec<u8>,
    /// The signed tree head's timestamp.
    pub head_timestamp_ms: u64,
    /// The signature over the tree head at size `seq`.
    pub head_signature: Vec<u8>,
}

/// What verification found wrong first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tamper {
    /// The entry's stored fields no longer match what the log signed.
    Altered { seq: u64, what: String },
    /// Entries are missing at this position.
    Deleted { seq: u64, what: String },
    /// An entry the log never signed sits at this position.
    Inserted { seq: u64, what: String },
    /// The entry at this position was signed at another position.
    Reordered { seq: u64, what: String },
    /// The log is shorter than a checkpoint taken earlier.
    Truncated { log_size: u64, checkpoint_size: u64 },
    /// The log's tree at the checkpoint's size is not the checkpointed one.
    Forked { size: u64 },
    /// The checkpoint was signed by another key than the log's.
    ForeignCheckpoint,
}

impl Tamper {
    /// The first entry the problem concerns, if it is about one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Self::Altered { seq, .. }
            | Self::Deleted { seq, .. }
            | Self::Inserted { seq, .. }
            | Self::Reordered { seq, .. } => Some(*seq),
            Self::Forked { size } => Some(*size),
            Self::Truncated { .. } | Self::ForeignCheckpoint => None,
        }
    }
}

impl fmt::Display for Tamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Altered { seq, what } => write!(f, "entry {seq} was altered: {what}"),
            Self::Deleted { seq, what } => write!(f, "entry {seq} was deleted: {what}"),
            Self::Inserted { seq, what } => write!(f, "entry {seq} was inserted: {what}"),
            Self::Reordered { seq, what } => write!(f, "entry {seq} was reordered: {what}"),
            Self::Truncated {
                log_size,
                checkpoint_size,
            } => write!(
                f,
                "the log was truncated: it has {log_size} entries, the checkpoint saw {checkpoint_size}; \
                 entries {} to {checkpoint_size} were deleted",
                log_size + 1
            ),
            Self::Forked { size } => write!(
                f,
                "the log forked from the checkpoint: its first {size} entries are not the ones the checkpoint signed"
            ),
            Self::ForeignCheckpoint => write!(f, "the checkpoint was signed by another key than this log's"),
        }
    }
}

/// A log that verified: its size and latest signed head (`None` if empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Number of entries.
    pub size: u64,
    /// Current root.
    pub root: Hash,
    /// The head signed with the last entry.
    pub latest: Option<SignedTreeHead>,
    /// How many entries had their content checked against its digest (the
    /// others were erased or expired; their leaves still verify).
    pub contents_checked: u64,
}

/// Verifies every entry (in stored `seq` order) under `key`, and the log
/// against `checkpoint` if one is given.
pub fn verify(entries: &[StoredEntry], key: &PublicKey, checkpoint: Option<&Checkpoint>) -> Result<Verified, Tamper> {
    if let Some(cp) = checkpoint
        && cp.public_key != *key
    {
        return Err(Tamper::ForeignCheckpoint);
    }
    let mut frontier = Frontier::default();
    let mut latest = None;
    let mut contents_checked = 0;
    for (i, entry) in entries.iter().enumerate() {
        let expected = i as u64 + 1;
        check_position(entries, i, expected)?;
        contents_checked += u64::from(check_contents(entry)?);
        let leaf = recomputed_leaf(entry);
        if entry.leaf_hash != leaf {
            return Err(classify_moved_or_altered(entries, i, expected));
        }
        frontier.push(leaf);
        let sth = signed_head(entry, frontier.root());
        if !key.verifies(&sth) {
            return Err(classify_unsigned(entries, i, expected));
        }
        if let Some(cp) = checkpoint
            && cp.sth.head.tree_size == expected
            && cp.sth.head.root_hash != sth.head.root_hash
        {
            return Err(Tamper::Forked { size: expected });
        }
        latest = Some(sth);
    }
    let size = entries.len() as u64;
    if let Some(cp) = checkpoint
        && cp.sth.head.tree_size > size
    {
        return Err(Tamper::Truncated {
            log_size: size,
            checkpoint_size: cp.sth.head.tree_size,
        });
    }
    Ok(Verified {
        size,
        root: frontier.root(),
        latest,
        contents_checked,
    })
}

/// Stored positions must run 1, 2, 3... without gaps.
fn check_position(entries: &[StoredEntry], i: usize, expected: u64) -> Result<(), Tamper> {
    let seq = entries[i].seq;
    if seq > expected {
        let what = if seq == expected + 1 {
            format!("the log has no entry {expected}; the next stored entry is {seq}")
        } else {
            format!("entries {expected} to {} are missing", seq - 1)
        };
        return Err(Tamper::Deleted { seq: expected, what });
    }
    if seq < expected {
        return Err(Tamper::Reordered {
            seq: expected,
            what: format!("position {expected} holds entry number {seq}"),
        });
    }
    Ok(())
}

/// Checks the domain and content still present against their committed
/// digests. Returns whether the content was checked. A value that is gone
/// (NULL) is an erasure, not tampering: the leaf keeps committing to it.
fn check_contents(entry: &StoredEntry) -> Result<bool, Tamper> {
    let altered = |what: &str| Tamper::Altered {
        seq: entry.seq,
        what: what.to_owned(),
    };
    if entry.domain.is_none() && entry.content.is_none() {
        return Ok(false);
    }
    let salt: Salt = match entry.salt.as_deref().map(<[u8; SALT_LEN]>::try_from) {
        Some(Ok(salt)) => salt,
        Some(Err(_)) => return Err(altered("its salt is not 16 bytes")),
        None => {
            return Err(altered(
                "its domain or content is present but the salt that commits to it is gone",
            ));
        }
    };
    if let Some(domain) = &entry.domain
        && domain_digest(&salt, Some(domain)).as_slice() != entry.domain_digest
    {
        return Err(altered("its domain does not match the digest the log committed to"));
    }
    let Some(content) = &entry.content else {
        return Ok(false);
    };
    let value: Value = serde_json::from_str(content).map_err(|_| altered("its content is no longer valid JSON"))?;
    if content_digest(&salt, &value).as_slice() != entry.content_digest {
        return Err(altered("its content does not match the digest the log committed to"));
    }
    Ok(true)
}

fn fields(entry: &StoredEntry, seq: u64) -> LeafFields<'_> {
    LeafFields {
        seq,
        at: &entry.at,
        kind: &entry.kind,
        domain_digest: to_hash(&entry.domain_digest),
        content_digest: to_hash(&entry.content_digest),
    }
}

/// A digest column of the wrong length reads as all zeroes: it then fails
/// the leaf comparison like any other alteration.
fn to_hash(bytes: &[u8]) -> Hash {
    <[u8; 32]>::try_from(bytes).unwrap_or([0; 32])
}

fn recomputed_leaf(entry: &StoredEntry) -> Hash {
    fields(entry, entry.seq).leaf_hash()
}

fn signed_head(entry: &StoredEntry, root_hash: Hash) -> SignedTreeHead {
    let head = TreeHead {
        tree_size: entry.seq,
        timestamp_ms: entry.head_timestamp_ms,
        root_hash,
    };
    let signature = <[u8; 64]>::try_from(entry.head_signature.as_slice()).unwrap_or([0; 64]);
    SignedTreeHead { head, signature }
}

/// The position an entry's stored leaf hash was computed for, if its fields
/// still hash to it at some position of the log: how a renumbered row is told
/// apart from an edited one.
fn original_position(entry: &StoredEntry, log_size: u64) -> Option<u64> {
    let stored = to_hash(&entry.leaf_hash);
    (1..=log_size.max(entry.seq) + 1).find(|&seq| fields(entry, seq).leaf_hash() == stored)
}

/// The entry at `expected` does not hash to its stored leaf: was it moved
/// here from elsewhere (deleted or reordered neighbours) or edited?
fn classify_moved_or_altered(entries: &[StoredEntry], i: usize, expected: u64) -> Tamper {
    let size = entries.len() as u64;
    match original_position(&entries[i], size) {
        Some(origin) if origin > expected => {
            let later_holds_this_one = entries[i + 1..]
                .iter()
                .any(|e| original_position(e, size) == Some(expected));
            if later_holds_this_one {
                Tamper::Reordered {
                    seq: expected,
                    what: format!("the entry at position {expected} was signed as entry {origin}"),
                }
            } else {
                Tamper::Deleted {
                    seq: expected,
                    what: format!(
                        "the entry now numbered {expected} was signed as entry {origin}; the entries between were removed and the rest renumbered"
                    ),
                }
            }
        }
        Some(origin) => Tamper::Reordered {
            seq: expected,
            what: format!("the entry at position {expected} was signed as entry {origin}"),
        },
        None => Tamper::Altered {
            seq: expected,
            what: "its time, kind or committed digests no longer hash to its leaf".to_owned(),
        },
    }
}

/// The entry is self-consistent but the log never signed a tree with it
/// here: a forged row. Inserted if the next row was signed at this position.
fn classify_unsigned(entries: &[StoredEntry], i: usize, expected: u64) -> Tamper {
    let next_was_here = entries
        .get(i + 1)
        .is_some_and(|next| fields(next, expected).leaf_hash() == to_hash(&next.leaf_hash));
    if next_was_here {
        Tamper::Inserted {
            seq: expected,
            what: "the log's key never signed a tree containing it, and the entry after it was signed at this position"
                .to_owned(),
        }
    } else {
        Tamper::Altered {
            seq: expected,
            what: "the log's key never signed a tree containing it as it is now (edited with its digests \
                   recomputed, or inserted without the key)"
                .to_owned(),
        }
    }
}
