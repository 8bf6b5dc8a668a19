//! Appending one event: the digests, the leaf, the new root and its signed
//! head, computed from the log's frontier alone (no old rows are read).

use serde_json::Value;

use crate::entry::{LeafFields, Salt, canonical_json, content_digest, domain_digest};
use crate::hash::Hash;
use crate::head::{LogKey, SignedTreeHead, TreeHead};
use crate::tree::Frontier;

/// The event to append.
#[derive(Clone, Debug)]
pub struct NewEntry<'a> {
    /// When (RFC 3339, UTC).
    pub at: &'a str,
    /// The event kind.
    pub kind: &'a str,
    /// The domain it is about, if any.
    pub domain: Option<&'a str>,
    /// What happened.
    pub content: &'a Value,
    /// Fresh random salt for this entry.
    pub salt: Salt,
}

/// What to store with the entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Its position (1..): the frontier's new size.
    pub seq: u64,
    /// The content as the digest saw it (canonical JSON): store this text so
    /// the digest can be recomputed from what is stored.
    pub content_text: String,
    /// Salted digest of the domain.
    pub domain_digest: Hash,
    /// Salted digest of the content.
    pub content_digest: Hash,
    /// The leaf hash.
    pub leaf_hash: Hash,
    /// The signed head of the log including this entry.
    pub sth: SignedTreeHead,
}

/// Appends `entry` to the log whose state is `frontier` (advanced in place)
/// and signs the new tree head with `key` at `timestamp_ms`.
pub fn append(frontier: &mut Frontier, key: &LogKey, entry: &NewEntry<'_>, timestamp_ms: u64) -> Appended {
    let seq = frontier.size() + 1;
    let domain_digest = domain_digest(&entry.salt, entry.domain);
    let content_digest = content_digest(&entry.salt, entry.content);
    let leaf_hash = LeafFields {
        seq,
        at: entry.at,
        kind: entry.kind,
        domain_digest,
        content_digest,
    }
    .leaf_hash();
    frontier.push(leaf_hash);
    let sth = key.sign(TreeHead {
        tree_size: seq,
        timestamp_ms,
        root_hash: frontier.root(),
    });
    Appended {
        seq,
        content_text: canonical_json(entry.content),
        domain_digest,
        content_digest,
        leaf_hash,
        sth,
    }
}
