//! RFC 9162 §2.1.1 hashing: leaves and interior nodes are hashed with
//! different one-byte prefixes so a leaf can never be passed off as a node
//! (second-preimage resistance).

use sha2::{Digest, Sha256};

/// A SHA-256 value: a leaf hash, a node hash or a tree root.
pub type Hash = [u8; 32];

/// RFC 9162 §2.1.1: "The hash of an empty list is the hash of an empty
/// string: MTH({}) = HASH()."
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// RFC 9162 §2.1.1: "The hash of a list with one entry (also known as a leaf
/// hash) is: MTH({d(0)}) = HASH(0x00 || d(0))."
pub fn leaf_hash(leaf_input: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf_input);
    h.finalize().into()
}

/// RFC 9162 §2.1.1: "MTH(D\[n\]) = HASH(0x01 || MTH(D\[0:k\]) || MTH(D\[k:n\]))".
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Lower-case hexadecimal, the form hashes take in files and messages.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses hexadecimal (either case) into bytes.
pub fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| text.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect()
}

/// Parses a 32-byte hash from hexadecimal.
pub fn hash_from_hex(text: &str) -> Option<Hash> {
    from_hex(text)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_odd_or_non_hex_input() {
        let h = leaf_hash(b"x");
        assert_eq!(hash_from_hex(&to_hex(&h)), Some(h));
        assert_eq!(from_hex("abc"), None);
        assert_eq!(from_hex("zz"), None);
        assert_eq!(hash_from_hex("00"), None);
    }

    #[test]
    fn leaf_and_node_prefixes_differ() {
        // A node over (a, b) must not equal the leaf hash of a || b.
        let (a, b) = (leaf_hash(b"a"), leaf_hash(b"b"));
        let mut joined = a.to_vec();
        joined.extend_from_slice(&b);
        assert_ne!(node_hash(&a, &b), leaf_hash(&joined));
    }
}
