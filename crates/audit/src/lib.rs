//! The verifiable audit log of mailwarden (issue 13): an append-only list of
//! events built as an RFC 9162 (Certificate Transparency 2.0) Merkle tree.
//!
//! # Brief overview
//!
//! - [`hash`]: the §2.1.1 leaf and node hashes.
//! - [`tree`]: roots, the O(log n) [`Frontier`] a log keeps to append,
//!   inclusion (§2.1.3) and consistency (§2.1.4) proofs and their checks.
//! - [`append()`]: one event in, what to store out (digests, leaf, signed
//!   head), from the frontier alone.
//! - [`entry`]: what a leaf commits to. Domain and content enter only as
//!   salted digests, so erasing them keeps every proof valid.
//! - [`head`]: signed tree heads (Ed25519 over the §4.10 `TreeHeadDataV2`),
//!   the [`LogKey`] and the [`Checkpoint`] file.
//! - [`verify()`]: recomputes a stored log and names the first entry that was
//!   altered, deleted, inserted or reordered, or the truncation or fork
//!   since a checkpoint.
//! - [`evidence`]: one event as an evidence bundle cites it, checked offline
//!   against the bundle's checkpoint with its inclusion proof.
//!
//! The crate does no I/O: the store reads and writes rows, draws salts and
//! keeps the key file.

pub mod append;
pub mod entry;
pub mod evidence;
pub mod hash;
pub mod head;
pub mod tree;
pub mod verify;

pub use append::{Appended, NewEntry, append};
pub use entry::{LeafFields, SALT_LEN, Salt, canonical_json, content_digest, domain_digest};
pub use evidence::{CitedEvent, EventCheck, EventError};
pub use hash::{Hash, empty_root, leaf_hash, node_hash};
pub use head::{Checkpoint, CheckpointError, KeyFileError, LogKey, PublicKey, SignedTreeHead, TreeHead};
pub use tree::{Frontier, consistency_proof, inclusion_proof, root, verify_consistency, verify_inclusion};
pub use verify::{StoredEntry, Tamper, Verified, verify};
