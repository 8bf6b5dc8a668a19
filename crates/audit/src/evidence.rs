//! One audit event as an evidence bundle carries it (`mailwarden evidence`),
//! and its offline check: the event's fields hash to its leaf, and the
//! RFC 9162 §2.1.3 inclusion proof leads from that leaf to the root the
//! bundle's signed checkpoint commits to. Nothing here needs the database
//! or the log's secret key: an auditor checks a bundle on their own machine.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::entry::{LeafFields, SALT_LEN, content_digest, domain_digest};
use crate::hash::{Hash, hash_from_hex};
use crate::head::Checkpoint;
use crate::tree::verify_inclusion;

/// A cited event: what the log stored about it, and its inclusion proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CitedEvent {
    /// Position in the log (1..); the tree's leaf index is `seq - 1`.
    pub seq: u64,
    /// When it was appended (RFC 3339, as stored).
    pub at: String,
    /// The event kind.
    pub kind: String,
    /// The domain, `null` once erased (or if the event has none).
    pub domain: Option<String>,
    /// The content, `null` once erased or expired.
    pub content: Option<Value>,
    /// The salt in hexadecimal, `null` once erased.
    pub salt: Option<String>,
    /// The salted domain digest the leaf commits to (hex).
    pub domain_digest: String,
    /// The salted content digest the leaf commits to (hex).
    pub content_digest: String,
    /// The leaf hash (hex).
    pub leaf_hash: String,
    /// The audit path from the leaf to the checkpoint's root (hex hashes).
    pub inclusion_proof: Vec<String>,
}

/// Why a cited event does not check out; each message starts with the
/// event's position, as `mailwarden evidence verify` shows it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// A digest, the leaf hash or a proof step is not 32 bytes of hex.
    #[error("event {seq}: `{field}` is not 32 bytes of hexadecimal")]
    NotAHash {
        /// The event's position.
        seq: u64,
        /// The field: `domain_digest`, `content_digest`, `leaf_hash`, `inclusion_proof`.
        field: &'static str,
    },
    /// Domain or content is present, but the salt to check it with is not.
    #[error("event {seq}: its domain or content is present but its salt is missing or not 16 bytes")]
    Salt {
        /// The event's position.
        seq: u64,
    },
    /// The domain was edited after the log committed to it.
    #[error("event {seq}: its domain does not match the digest the log committed to")]
    Domain {
        /// The event's position.
        seq: u64,
    },
    /// The content was edited after the log committed to it.
    #[error("event {seq}: its content does not match the digest the log committed to")]
    Content {
        /// The event's position.
        seq: u64,
    },
    /// Seq, time, kind or digests were edited.
    #[error("event {seq}: its seq, time, kind or digests do not hash to its leaf hash")]
    Leaf {
        /// The event's position.
        seq: u64,
    },
    /// Seq 0: logs count from 1.
    #[error("event 0: positions start at 1")]
    SeqZero,
    /// The proof leads elsewhere: the event is not in the checkpoint's tree.
    #[error("event {seq}: its inclusion proof does not lead to the checkpoint's root (tree of {tree_size} entries)")]
    Proof {
        /// The event's position.
        seq: u64,
        /// The checkpoint's tree size.
        tree_size: u64,
    },
}

/// What checking one event established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventCheck {
    /// Whether the content was present and matched its digest (`false`:
    /// erased or expired; the leaf still verifies through its digests).
    pub content_checked: bool,
}

impl CitedEvent {
    /// Checks the event against `checkpoint`: present domain and content
    /// match their salted digests, the fields hash to the leaf, and the
    /// inclusion proof leads to the checkpoint's root. The error says which.
    pub fn verify(&self, checkpoint: &Checkpoint) -> Result<EventCheck, EventError> {
        let seq = self.seq;
        let hash = |field: &'static str, text: &str| hash_from_hex(text).ok_or(EventError::NotAHash { seq, field });
        let domain_digest_value = hash("domain_digest", &self.domain_digest)?;
        let content_digest_value = hash("content_digest", &self.content_digest)?;
        let leaf = hash("leaf_hash", &self.leaf_hash)?;
        let content_checked = self.check_contents(&domain_digest_value, &content_digest_value)?;
        let recomputed = LeafFields {
            seq: self.seq,
            at: &self.at,
            kind: &self.kind,
            domain_digest: domain_digest_value,
            content_digest: content_digest_value,
        }
        .leaf_hash();
        if recomputed != leaf {
            return Err(EventError::Leaf { seq });
        }
        let path: Vec<Hash> = self
            .inclusion_proof
            .iter()
            .map(|h| hash("inclusion_proof", h))
            .collect::<Result<_, _>>()?;
        let head = checkpoint.sth.head;
        let index = seq.checked_sub(1).ok_or(EventError::SeqZero)?;
        if !verify_inclusion(index, head.tree_size, &leaf, &path, &head.root_hash) {
            return Err(EventError::Proof {
                seq,
                tree_size: head.tree_size,
            });
        }
        Ok(EventCheck { content_checked })
    }

    /// Domain and content, where still present, against their digests.
    fn check_contents(&self, domain_digest_value: &Hash, content_digest_value: &Hash) -> Result<bool, EventError> {
        let seq = self.seq;
        if self.domain.is_none() && self.content.is_none() {
            return Ok(false);
        }
        let salt = self
            .salt
            .as_deref()
            .and_then(crate::hash::from_hex)
            .and_then(|b| <[u8; SALT_LEN]>::try_from(b).ok())
            .ok_or(EventError::Salt { seq })?;
        if let Some(domain) = &self.domain
            && domain_digest(&salt, Some(domain)) != *domain_digest_value
        {
            return Err(EventError::Domain { seq });
        }
        let Some(content) = &self.content else {
            return Ok(false);
        };
        if content_digest(&salt, content) != *content_digest_value {
            return Err(EventError::Content { seq });
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::append::{NewEntry, append};
    use crate::hash::to_hex as hex;
    use crate::head::LogKey;
    use crate::tree::{Frontier, inclusion_proof};

    /// A log of three events and the second one cited against its head.
    fn cited() -> (CitedEvent, Checkpoint) {
        let key = LogKey::from_seed([5; 32]);
        let mut frontier = Frontier::default();
        let mut leaves = Vec::new();
        let mut second = None;
        let mut last = None;
        for i in 0..3u8 {
            let content = json!({"n": i, "by": "alice"});
            let entry = NewEntry {
                at: "2026-12-06T06:00:00.000Z",
                kind: "baseline-approved",
                domain: Some("example.com"),
                content: &content,
                salt: [i; SALT_LEN],
            };
            let a = append(&mut frontier, &key, &entry, 1_000 + u64::from(i));
            leaves.push(a.leaf_hash);
            if i == 1 {
                second = Some(CitedEvent {
                    seq: a.seq,
                    at: entry.at.into(),
                    kind: entry.kind.into(),
                    domain: Some("example.com".into()),
                    content: Some(content.clone()),
                    salt: Some(hex(&entry.salt)),
                    domain_digest: hex(&a.domain_digest),
                    content_digest: hex(&a.content_digest),
                    leaf_hash: hex(&a.leaf_hash),
                    inclusion_proof: Vec::new(),
                });
            }
            last = Some(a.sth);
        }
        let mut event = second.unwrap();
        event.inclusion_proof = inclusion_proof(&leaves, 1).unwrap().iter().map(|h| hex(h)).collect();
        let checkpoint = Checkpoint {
            sth: last.unwrap(),
            public_key: key.public(),
        };
        (event, checkpoint)
    }

    #[test]
    fn a_cited_event_verifies_against_its_checkpoint() {
        let (event, checkpoint) = cited();
        assert_eq!(event.verify(&checkpoint), Ok(EventCheck { content_checked: true }));
    }

    #[test]
    fn an_edited_content_fails_at_its_digest() {
        let (mut event, checkpoint) = cited();
        event.content = Some(json!({"n": 1, "by": "mallory"}));
        let err = event.verify(&checkpoint).unwrap_err();
        assert_eq!(err, EventError::Content { seq: 2 });
        assert_eq!(
            err.to_string(),
            "event 2: its content does not match the digest the log committed to"
        );
    }

    #[test]
    fn an_edited_time_or_a_wrong_proof_fails() {
        let (mut event, checkpoint) = cited();
        event.at = "2026-12-07T06:00:00.000Z".into();
        assert_eq!(event.verify(&checkpoint), Err(EventError::Leaf { seq: 2 }));
        let (mut event, _) = cited();
        event.inclusion_proof.reverse();
        let err = event.verify(&checkpoint).unwrap_err();
        assert!(matches!(err, EventError::Proof { seq: 2, .. }), "{err}");
        assert!(err.to_string().contains("inclusion proof"), "{err}");
    }

    #[test]
    fn an_erased_event_still_verifies_through_its_digests() {
        let (mut event, checkpoint) = cited();
        (event.domain, event.content, event.salt) = (None, None, None);
        assert_eq!(event.verify(&checkpoint), Ok(EventCheck { content_checked: false }));
    }
}
