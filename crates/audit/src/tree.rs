//! The RFC 9162 §2.1 Merkle Tree Hash over a list of leaf hashes: roots,
//! the compact frontier an append-only log keeps, inclusion proofs
//! (§2.1.3) and consistency proofs (§2.1.4), generated and verified.
//!
//! Sizes and indices are `u64` as in the RFC's TLS structures; the slices
//! they index are in memory, so they fit a `usize` on every target we build.

use crate::hash::{Hash, empty_root, node_hash};

/// RFC 9162 §2.1.1: "let k be the largest power of two smaller than n
/// (i.e., k < n <= 2k)". Only defined for n > 1.
pub fn split_point(n: u64) -> u64 {
    debug_assert!(n > 1);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D\[n\]) of the leaves, whose leaf hashes are given.
pub fn root(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::default();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

/// The roots of the perfect subtrees a tree of `size` leaves decomposes into,
/// largest (leftmost) first: one per set bit of `size`. Enough to append a
/// leaf and compute the new root in O(log n) without reading old leaves.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    peaks: Vec<Hash>,
}

impl Frontier {
    /// Rebuilds a frontier from its stored parts, refusing a peak count that
    /// does not match the size (a damaged or hand-edited state).
    pub fn from_parts(size: u64, peaks: Vec<Hash>) -> Option<Self> {
        (peaks.len() == size.count_ones() as usize).then_some(Self { size, peaks })
    }

    /// The number of leaves appended so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The perfect-subtree roots, leftmost first.
    pub fn peaks(&self) -> &[Hash] {
        &self.peaks
    }

    /// Appends one leaf hash: merges equal-sized subtrees like a binary
    /// counter carrying.
    pub fn push(&mut self, leaf: Hash) {
        let mut carry = leaf;
        let mut size = self.size;
        while size & 1 == 1 {
            let left = self.peaks.pop().expect("one peak per set bit");
            carry = node_hash(&left, &carry);
            size >>= 1;
        }
        self.peaks.push(carry);
        self.size += 1;
    }

    /// MTH over every leaf appended. Folding the peaks from the right is the
    /// §2.1.1 recursion: the left part D\[0:k\] is always the largest peak.
    pub fn root(&self) -> Hash {
        let mut peaks = self.peaks.iter().rev();
        let Some(last) = peaks.next() else {
            return empty_root();
        };
        peaks.fold(*last, |right, left| node_hash(left, &right))
    }
}

/// RFC 9162 §2.1.3.1 PATH(m, D\[n\]): the audit path of leaf `index`.
/// `None` when the index is outside the tree.
pub fn inclusion_proof(leaves: &[Hash], index: u64) -> Option<Vec<Hash>> {
    if index >= leaves.len() as u64 {
        return None;
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Some(proof)
}

fn path(m: u64, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len() as u64;
    if n <= 1 {
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k as usize);
    if m < k {
        path(m, left, out);
        out.push(root(right));
    } else {
        path(m - k, right, out);
        out.push(root(left));
    }
}

/// RFC 9162 §2.1.3.2: whether `proof` shows the leaf `leaf` at `index` is in
/// the tree of `size` leaves whose root is `root_hash`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root_hash: &Hash) -> bool {
    // "If leaf_index is greater than or equal to tree_size, then fail".
    if index >= size {
        return false;
    }
    let (mut fn_, mut sn) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        // "If sn is 0, then stop the iteration and fail the proof verification."
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            skip_right_edge(&mut fn_, &mut sn);
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    sn == 0 && &r == root_hash
}

/// The shared step of §2.1.3.2 and §2.1.4.2: "If LSB(fn) is not set, then
/// right-shift both fn and sn equally until either LSB(fn) is set or fn is 0"
/// (the node sits on the tree's right edge, where levels have no sibling).
fn skip_right_edge(fn_: &mut u64, sn: &mut u64) {
    while *fn_ & 1 == 0 && *fn_ != 0 {
        *fn_ >>= 1;
        *sn >>= 1;
    }
}

/// RFC 9162 §2.1.4.1 PROOF(m, D\[n\]) = SUBPROOF(m, D\[n\], true): shows the
/// tree of the first `first` leaves is a prefix of the tree of all `leaves`.
/// `None` when `first` is larger than the tree; empty for 0 or equal sizes.
pub fn consistency_proof(leaves: &[Hash], first: u64) -> Option<Vec<Hash>> {
    let n = leaves.len() as u64;
    if first > n {
        return None;
    }
    let mut proof = Vec::new();
    if first > 0 {
        subproof(first, leaves, true, &mut proof);
    }
    Some(proof)
}

fn subproof(m: u64, leaves: &[Hash], whole_first_tree: bool, out: &mut Vec<Hash>) {
    let n = leaves.len() as u64;
    if m == n {
        // "If m = n ... SUBPROOF(m, D[m], true) = {}" and
        // "SUBPROOF(m, D[m], false) = {MTH(D[m])}".
        if !whole_first_tree {
            out.push(root(leaves));
        }
        return;
    }
    let k = split_point(n);
    let (left, right) = leaves.split_at(k as usize);
    if m <= k {
        subproof(m, left, whole_first_tree, out);
        out.push(root(right));
    } else {
        subproof(m - k, right, false, out);
        out.push(root(left));
    }
}

/// RFC 9162 §2.1.4.2: whether `proof` shows the tree of size `first` with root
/// `first_hash` is a prefix of the tree of size `second` with root `second_hash`.
pub fn verify_consistency(first: u64, second: u64, first_hash: &Hash, second_hash: &Hash, proof: &[Hash]) -> bool {
    if first > second {
        return false;
    }
    if first == second {
        return proof.is_empty() && first_hash == second_hash;
    }
    if first == 0 {
        // Every tree extends the empty one; there is nothing to prove.
        return proof.is_empty() && first_hash == &empty_root();
    }
    // "If consistency_path is an empty array, stop and fail".
    if proof.is_empty() {
        return false;
    }
    // "If first is an exact power of 2, then prepend first_hash".
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if first.is_power_of_two() {
        path.push(*first_hash);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (first - 1, second - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return false;
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            skip_right_edge(&mut fn_, &mut sn);
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    &fr == first_hash && &sr == second_hash && sn == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::leaf_hash;

    #[test]
    fn split_point_is_the_largest_power_of_two_below_n() {
        for (n, k) in [(2, 1), (3, 2), (4, 2), (5, 4), (8, 4), (9, 8), (1000, 512)] {
            assert_eq!(split_point(n), k, "n = {n}");
        }
    }

    #[test]
    fn frontier_refuses_a_peak_count_that_does_not_match_the_size() {
        let h = leaf_hash(b"x");
        assert!(Frontier::from_parts(3, vec![h]).is_none());
        assert!(Frontier::from_parts(3, vec![h, h]).is_some());
        assert!(Frontier::from_parts(0, vec![]).is_some());
    }

    #[test]
    fn frontier_keeps_one_peak_per_set_bit() {
        let mut f = Frontier::default();
        for i in 0u64..100 {
            f.push(leaf_hash(&i.to_be_bytes()));
            assert_eq!(f.peaks().len(), f.size().count_ones() as usize);
        }
    }

    #[test]
    fn proofs_outside_the_tree_are_refused() {
        let leaves = [leaf_hash(b"a"), leaf_hash(b"b")];
        assert!(inclusion_proof(&leaves, 2).is_none());
        assert!(consistency_proof(&leaves, 3).is_none());
        assert!(!verify_inclusion(2, 2, &leaves[0], &[], &root(&leaves)));
    }
}
