//! Signed tree heads (RFC 9162 §4.10) with Ed25519, the log's key, and the
//! checkpoint file an auditor keeps to detect a later truncation or fork.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hash::{Hash, from_hex, hash_from_hex, to_hex};

/// The tree head a signature covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TreeHead {
    /// Number of entries in the tree.
    pub tree_size: u64,
    /// Milliseconds since the Unix epoch when the head was made.
    pub timestamp_ms: u64,
    /// MTH over the first `tree_size` entries.
    pub root_hash: Hash,
}

impl TreeHead {
    /// The TLS encoding of RFC 9162 §4.10 `TreeHeadDataV2`, which is what
    /// gets signed: "uint64 timestamp; uint64 tree_size; NodeHash root_hash;
    /// Extension sth_extensions<0..2^16-1>;" (NodeHash is
    /// `opaque<32..2^8-1>`; we add no extensions).
    pub fn signed_data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 8 + 1 + 32 + 2);
        out.extend_from_slice(&self.timestamp_ms.to_be_bytes());
        out.extend_from_slice(&self.tree_size.to_be_bytes());
        out.push(32);
        out.extend_from_slice(&self.root_hash);
        out.extend_from_slice(&0u16.to_be_bytes());
        out
    }
}

/// A tree head and the log key's signature over it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedTreeHead {
    /// The head.
    pub head: TreeHead,
    /// Ed25519 over [`TreeHead::signed_data`].
    pub signature: [u8; 64],
}

/// The log's signing key. Its secret never enters the database.
pub struct LogKey(SigningKey);

/// Shows the public half only: the secret must not reach logs.
impl std::fmt::Debug for LogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LogKey").field(&self.public().key_id()).finish()
    }
}

impl LogKey {
    /// The key from its 32-byte secret seed (drawn by the caller from the OS
    /// random source when the key is first created).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(SigningKey::from_bytes(&seed))
    }

    /// The public half, which verifies the heads.
    pub fn public(&self) -> PublicKey {
        PublicKey(self.0.verifying_key())
    }

    /// Signs a tree head.
    pub fn sign(&self, head: TreeHead) -> SignedTreeHead {
        SignedTreeHead {
            head,
            signature: self.0.sign(&head.signed_data()).to_bytes(),
        }
    }

    /// The key file's text: a header line naming the format, then the seed.
    pub fn to_file_text(&self) -> String {
        format!("{KEY_FILE_HEADER}\n{}\n", to_hex(&self.0.to_bytes()))
    }

    /// Reads a key file written by [`LogKey::to_file_text`].
    pub fn from_file_text(text: &str) -> Result<Self, KeyFileError> {
        let mut lines = text.lines();
        if lines.next().map(str::trim) != Some(KEY_FILE_HEADER) {
            return Err(KeyFileError::Header);
        }
        let seed = lines
            .next()
            .and_then(|l| from_hex(l.trim()))
            .and_then(|b| <[u8; 32]>::try_from(b).ok())
            .ok_or(KeyFileError::Seed)?;
        Ok(Self::from_seed(seed))
    }
}

const KEY_FILE_HEADER: &str = "mailwarden-audit-ed25519-secret-v1";

/// Why a key file could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// Not a mailwarden audit key file (or another version of it).
    #[error("the first line is not `{}`", KEY_FILE_HEADER)]
    Header,
    /// The key itself is missing or malformed.
    #[error("the second line is not a 32-byte key in hexadecimal")]
    Seed,
}

/// The log's public key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl PublicKey {
    /// From the 32-byte encoding; `None` if it is not a valid point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Option<Self> {
        VerifyingKey::from_bytes(bytes).ok().map(Self)
    }

    /// The 32-byte encoding.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// RFC 9162 §4.4 "log_id" style identifier: SHA-256 of the key, in hex.
    pub fn key_id(&self) -> String {
        to_hex(&Sha256::digest(self.0.to_bytes()))
    }

    /// Whether `sth` carries this key's valid signature (strict: rejects
    /// malleable and small-order forms).
    pub fn verifies(&self, sth: &SignedTreeHead) -> bool {
        let signature = Signature::from_bytes(&sth.signature);
        self.0.verify_strict(&sth.head.signed_data(), &signature).is_ok()
    }
}

/// A signed tree head exported for safekeeping (`audit checkpoint`), with the
/// public key that signed it so the file can be checked on its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The exported head.
    pub sth: SignedTreeHead,
    /// The key that signed it.
    pub public_key: PublicKey,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointFile {
    format: String,
    tree_size: u64,
    timestamp_ms: u64,
    root_hash: String,
    signature: String,
    public_key: String,
}

const CHECKPOINT_FORMAT: &str = "mailwarden-audit-checkpoint-v1";

/// Why a checkpoint file could not be used; the message names the field.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not JSON of the checkpoint's shape.
    #[error("not a checkpoint file: {0}")]
    NotACheckpoint(String),
    /// Another format or version.
    #[error("`format` is {found:?}, expected {:?}", CHECKPOINT_FORMAT)]
    Format {
        /// The `format` the file gives.
        found: String,
    },
    /// `root_hash` is malformed.
    #[error("`root_hash` is not 32 bytes of hexadecimal")]
    RootHash,
    /// `signature` is malformed.
    #[error("`signature` is not 64 bytes of hexadecimal")]
    Signature,
    /// `public_key` is malformed or not a valid point.
    #[error("`public_key` is not an Ed25519 public key in hexadecimal")]
    PublicKey,
    /// Well-formed, but the signature is not the key's over this head.
    #[error("the signature does not verify under the checkpoint's own public key")]
    Unsigned,
}

impl Checkpoint {
    /// The checkpoint as a small JSON document.
    pub fn to_json(&self) -> String {
        let file = CheckpointFile {
            format: CHECKPOINT_FORMAT.to_owned(),
            tree_size: self.sth.head.tree_size,
            timestamp_ms: self.sth.head.timestamp_ms,
            root_hash: to_hex(&self.sth.head.root_hash),
            signature: to_hex(&self.sth.signature),
            public_key: to_hex(&self.public_key.to_bytes()),
        };
        serde_json::to_string_pretty(&file).expect("a checkpoint serialises") + "\n"
    }

    /// Reads a checkpoint and checks its own signature; the error says which
    /// field was wrong.
    pub fn from_json(text: &str) -> Result<Self, CheckpointError> {
        let file: CheckpointFile =
            serde_json::from_str(text).map_err(|e| CheckpointError::NotACheckpoint(e.to_string()))?;
        if file.format != CHECKPOINT_FORMAT {
            return Err(CheckpointError::Format { found: file.format });
        }
        let root_hash = hash_from_hex(&file.root_hash).ok_or(CheckpointError::RootHash)?;
        let signature = from_hex(&file.signature)
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
            .ok_or(CheckpointError::Signature)?;
        let public_key = hash_from_hex(&file.public_key)
            .and_then(|b| PublicKey::from_bytes(&b))
            .ok_or(CheckpointError::PublicKey)?;
        let head = TreeHead {
            tree_size: file.tree_size,
            timestamp_ms: file.timestamp_ms,
            root_hash,
        };
        let checkpoint = Self {
            sth: SignedTreeHead { head, signature },
            public_key,
        };
        if !public_key.verifies(&checkpoint.sth) {
            return Err(CheckpointError::Unsigned);
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(size: u64) -> TreeHead {
        TreeHead {
            tree_size: size,
            timestamp_ms: 1_700_000_000_000,
            root_hash: [9; 32],
        }
    }

    #[test]
    fn signed_data_is_the_rfc_9162_tree_head_encoding() {
        let data = head(5).signed_data();
        assert_eq!(data.len(), 8 + 8 + 1 + 32 + 2);
        assert_eq!(&data[8..16], &5u64.to_be_bytes());
        assert_eq!(data[16], 32);
        assert_eq!(&data[49..], &[0, 0]);
    }

    #[test]
    fn a_signature_verifies_only_for_its_head_and_key() {
        let key = LogKey::from_seed([1; 32]);
        let sth = key.sign(head(3));
        assert!(key.public().verifies(&sth));
        let other = SignedTreeHead { head: head(4), ..sth };
        assert!(!key.public().verifies(&other));
        assert!(!LogKey::from_seed([2; 32]).public().verifies(&sth));
    }

    #[test]
    fn key_file_round_trips_and_bad_files_say_what_is_wrong() {
        let key = LogKey::from_seed([3; 32]);
        let back = LogKey::from_file_text(&key.to_file_text()).unwrap();
        assert_eq!(back.public(), key.public());
        assert_eq!(LogKey::from_file_text("nope\n").unwrap_err(), KeyFileError::Header);
        assert_eq!(
            KeyFileError::Header.to_string(),
            "the first line is not `mailwarden-audit-ed25519-secret-v1`"
        );
        let short = format!("{KEY_FILE_HEADER}\nabcd\n");
        assert_eq!(LogKey::from_file_text(&short).unwrap_err(), KeyFileError::Seed);
    }

    #[test]
    fn checkpoint_round_trips_and_a_forged_one_is_refused() {
        let key = LogKey::from_seed([4; 32]);
        let cp = Checkpoint {
            sth: key.sign(head(7)),
            public_key: key.public(),
        };
        assert_eq!(Checkpoint::from_json(&cp.to_json()).unwrap(), cp);
        let forged = cp.to_json().replace("\"tree_size\": 7", "\"tree_size\": 6");
        assert_eq!(Checkpoint::from_json(&forged).unwrap_err(), CheckpointError::Unsigned);
        let err = Checkpoint::from_json("{}").unwrap_err();
        assert!(err.to_string().starts_with("not a checkpoint file: "), "{err}");
        let other = cp.to_json().replace(CHECKPOINT_FORMAT, "v0");
        assert_eq!(
            Checkpoint::from_json(&other).unwrap_err().to_string(),
            "`format` is \"v0\", expected \"mailwarden-audit-checkpoint-v1\""
        );
    }
}
