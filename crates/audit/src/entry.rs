//! What a leaf of the audit log commits to. An event's domain and content
//! enter the tree only as salted digests, so erasing them later (GDPR
//! Art. 17, retention) leaves every leaf hash, every signed tree head and
//! every proof valid, while the salt makes the kept digest useless for
//! guessing what was erased.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::hash::{Hash, leaf_hash};

/// Bytes of random salt per event.
pub const SALT_LEN: usize = 16;

/// Per-event random salt (drawn by the caller: this crate does no I/O).
pub type Salt = [u8; SALT_LEN];

/// Version tag at the start of every leaf input, so a later encoding can
/// never be confused with this one.
const LEAF_TAG: &[u8; 8] = b"MWAUDIT1";

/// The fixed fields of an event and the digests of the erasable ones:
/// exactly what the leaf hash covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeafFields<'a> {
    /// Position in the log, from 1 (the tree's leaf index is `seq - 1`).
    pub seq: u64,
    /// When the event was appended (RFC 3339, UTC).
    pub at: &'a str,
    /// The event kind (kebab-case).
    pub kind: &'a str,
    /// [`domain_digest`] of the event's domain.
    pub domain_digest: Hash,
    /// [`content_digest`] of the event's content.
    pub content_digest: Hash,
}

impl LeafFields<'_> {
    /// The leaf input d(i) of RFC 9162 §2.1.1: a length-prefixed encoding,
    /// so no two different events share an input.
    pub fn leaf_input(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 8 + 4 + self.at.len() + 4 + self.kind.len() + 64);
        out.extend_from_slice(LEAF_TAG);
        out.extend_from_slice(&self.seq.to_be_bytes());
        push_prefixed(&mut out, self.at.as_bytes());
        push_prefixed(&mut out, self.kind.as_bytes());
        out.extend_from_slice(&self.domain_digest);
        out.extend_from_slice(&self.content_digest);
        out
    }

    /// The leaf hash: `HASH(0x00 || leaf_input)`.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.leaf_input())
    }
}

/// Appends a 32-bit big-endian length and the bytes.
fn push_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).expect("an audit field under 4 GiB");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// Salted digest of the event's domain (`None` is a value of its own).
pub fn domain_digest(salt: &Salt, domain: Option<&str>) -> Hash {
    let mut h = Sha256::new();
    h.update(b"mailwarden-audit-domain\0");
    h.update(salt);
    match domain {
        None => h.update([0]),
        Some(d) => {
            h.update([1]);
            h.update(d.as_bytes());
        }
    }
    h.finalize().into()
}

/// Salted digest of the event's content, over its canonical JSON
/// ([`canonical_json`]) so a database that reorders object keys (PostgreSQL
/// `jsonb`) does not read as tampering.
pub fn content_digest(salt: &Salt, content: &Value) -> Hash {
    let mut h = Sha256::new();
    h.update(b"mailwarden-audit-content\0");
    h.update(salt);
    h.update(canonical_json(content).as_bytes());
    h.finalize().into()
}

/// JSON with object keys sorted (by their UTF-8 bytes) at every level and no
/// insignificant whitespace; strings and numbers as serde_json writes them.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(&map[key], out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(seq: u64) -> LeafFields<'static> {
        LeafFields {
            seq,
            at: "2026-01-01T00:00:00Z",
            kind: "erasure",
            domain_digest: [1; 32],
            content_digest: [2; 32],
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let a = json!({"b": 1, "a": {"y": [1, {"d": 0, "c": "x"}], "x": null}});
        assert_eq!(canonical_json(&a), r#"{"a":{"x":null,"y":[1,{"c":"x","d":0}]},"b":1}"#);
    }

    #[test]
    fn content_digest_ignores_key_order_but_not_values() {
        let salt = [7; SALT_LEN];
        let a: Value = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"b":2,"a":1}"#).unwrap();
        let c: Value = serde_json::from_str(r#"{"b":3,"a":1}"#).unwrap();
        assert_eq!(content_digest(&salt, &a), content_digest(&salt, &b));
        assert_ne!(content_digest(&salt, &a), content_digest(&salt, &c));
    }

    #[test]
    fn digests_depend_on_the_salt_and_tell_none_from_empty() {
        let (s1, s2) = ([1; SALT_LEN], [2; SALT_LEN]);
        assert_ne!(domain_digest(&s1, Some("a.test")), domain_digest(&s2, Some("a.test")));
        assert_ne!(domain_digest(&s1, None), domain_digest(&s1, Some("")));
    }

    #[test]
    fn leaf_hash_commits_to_the_position() {
        assert_ne!(fields(1).leaf_hash(), fields(2).leaf_hash());
    }

    #[test]
    fn length_prefixes_keep_field_boundaries_apart() {
        let a = LeafFields {
            at: "ab",
            kind: "c",
            ..fields(1)
        };
        let b = LeafFields {
            at: "a",
            kind: "bc",
            ..fields(1)
        };
        assert_ne!(a.leaf_input(), b.leaf_input());
    }
}
