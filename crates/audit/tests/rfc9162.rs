//! The proofs checked against RFC 9162 independently of the code that builds
//! them: a reference written straight from the §2.1 recursive definitions
//! (MTH, PATH, SUBPROOF; slices copied, nothing shared with the crate but the
//! SHA-256 primitive), and the Certificate Transparency test vectors
//! published with transparency-dev/merkle (testonly/constants.go).

use mailwarden_audit::{consistency_proof, empty_root, inclusion_proof, root, verify_consistency, verify_inclusion};
use sha2::{Digest, Sha256};

type H = [u8; 32];

fn sha(parts: &[&[u8]]) -> H {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// "MTH({d(0)}) = HASH(0x00 || d(0))"
fn ref_leaf(data: &[u8]) -> H {
    sha(&[&[0x00], data])
}

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) over leaf *hashes*, recursively as the RFC writes it.
fn ref_mth(d: &[H]) -> H {
    match d.len() {
        0 => sha(&[]),
        1 => d[0],
        n => {
            let k = k_of(n);
            sha(&[&[0x01], &ref_mth(&d[..k]), &ref_mth(&d[k..])])
        }
    }
}

/// PATH(m, D[n]).
fn ref_path(m: usize, d: &[H]) -> Vec<H> {
    let n = d.len();
    if n == 1 {
        return vec![];
    }
    let k = k_of(n);
    if m < k {
        let mut p = ref_path(m, &d[..k]);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_path(m - k, &d[k..]);
        p.push(ref_mth(&d[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b).
fn ref_subproof(m: usize, d: &[H], b: bool) -> Vec<H> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![ref_mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        let mut p = ref_subproof(m, &d[..k], b);
        p.push(ref_mth(&d[k..]));
        p
    } else {
        let mut p = ref_subproof(m - k, &d[k..], false);
        p.push(ref_mth(&d[..k]));
        p
    }
}

fn hex(h: &str) -> H {
    let bytes: Vec<u8> = (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect();
    bytes.try_into().unwrap()
}

fn ct_leaves() -> Vec<H> {
    [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
    .iter()
    .map(|h| {
        let bytes: Vec<u8> = (0..h.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
            .collect();
        ref_leaf(&bytes)
    })
    .collect()
}

const CT_ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

#[test]
fn roots_match_the_published_ct_vectors_for_sizes_0_to_8() {
    let leaves = ct_leaves();
    assert_eq!(mailwarden_audit::leaf_hash(b""), hex(CT_ROOTS[1]));
    assert_eq!(empty_root(), hex(CT_ROOTS[0]));
    for n in 0..=8 {
        assert_eq!(root(&leaves[..n]), hex(CT_ROOTS[n]), "size {n}");
        assert_eq!(
            ref_mth(&leaves[..n]),
            hex(CT_ROOTS[n]),
            "the reference itself, size {n}"
        );
    }
}

#[test]
fn inclusion_proofs_match_the_published_ct_vectors() {
    let leaves = ct_leaves();
    let cases: [(u64, usize, &[&str]); 2] = [
        (
            0,
            8,
            &[
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            5,
            8,
            &[
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
    ];
    for (index, size, want) in cases {
        let want: Vec<H> = want.iter().map(|h| hex(h)).collect();
        assert_eq!(
            inclusion_proof(&leaves[..size], index).unwrap(),
            want,
            "leaf {index} of {size}"
        );
        let root_hash = hex(CT_ROOTS[size]);
        assert!(verify_inclusion(
            index,
            size as u64,
            &leaves[index as usize],
            &want,
            &root_hash
        ));
    }
}

#[test]
fn consistency_proofs_match_the_published_ct_vectors() {
    let leaves = ct_leaves();
    let cases: [(u64, usize, &[&str]); 3] = [
        (
            2,
            8,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ],
        ),
        (
            6,
            8,
            &[
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            ],
        ),
        (
            2,
            5,
            &[
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            ],
        ),
    ];
    for (first, second, want) in cases {
        let want: Vec<H> = want.iter().map(|h| hex(h)).collect();
        assert_eq!(
            consistency_proof(&leaves[..second], first).unwrap(),
            want,
            "{first} -> {second}"
        );
        let (r1, r2) = (hex(CT_ROOTS[first as usize]), hex(CT_ROOTS[second]));
        assert!(verify_consistency(first, second as u64, &r1, &r2, &want));
    }
}

fn synthetic(n: usize) -> Vec<H> {
    (0..n)
        .map(|i| ref_leaf(format!("audit event {i}").as_bytes()))
        .collect()
}

#[test]
fn every_proof_equals_the_reference_and_verifies_for_sizes_up_to_70() {
    let leaves = synthetic(70);
    for n in 0..=leaves.len() {
        let d = &leaves[..n];
        let r = ref_mth(d);
        assert_eq!(root(d), r, "root of {n}");
        for m in 0..n {
            let proof = inclusion_proof(d, m as u64).unwrap();
            assert_eq!(proof, ref_path(m, d), "PATH({m}, D[{n}])");
            assert!(
                verify_inclusion(m as u64, n as u64, &d[m], &proof, &r),
                "inclusion {m}/{n}"
            );
        }
        for m in 1..n {
            let proof = consistency_proof(d, m as u64).unwrap();
            assert_eq!(proof, ref_subproof(m, d, true), "PROOF({m}, D[{n}])");
            assert!(
                verify_consistency(m as u64, n as u64, &ref_mth(&d[..m]), &r, &proof),
                "consistency {m}->{n}"
            );
        }
    }
}

#[test]
fn mangled_inclusion_proofs_are_rejected() {
    let leaves = synthetic(40);
    for n in 2..=leaves.len() {
        let d = &leaves[..n];
        let r = ref_mth(d);
        for m in 0..n {
            let proof = ref_path(m, d);
            let (m, n64) = (m as u64, n as u64);
            let leaf = &d[m as usize];
            let mut flipped = proof.clone();
            flipped[0][7] ^= 1;
            assert!(!verify_inclusion(m, n64, leaf, &flipped, &r), "flipped {m}/{n}");
            assert!(
                !verify_inclusion(m, n64, leaf, &proof[..proof.len() - 1], &r),
                "truncated {m}/{n}"
            );
            let mut longer = proof.clone();
            longer.push([0xab; 32]);
            assert!(!verify_inclusion(m, n64, leaf, &longer, &r), "extended {m}/{n}");
            assert!(
                !verify_inclusion(m, n64, &ref_leaf(b"other"), &proof, &r),
                "wrong leaf {m}/{n}"
            );
            assert!(
                !verify_inclusion(m ^ 1, n64, leaf, &proof, &r) || d[(m ^ 1) as usize] == *leaf,
                "wrong index {m}/{n}"
            );
            assert!(
                !verify_inclusion(m, n64, leaf, &proof, &ref_mth(&d[..n - 1])),
                "wrong root {m}/{n}"
            );
        }
    }
}

#[test]
fn mangled_consistency_proofs_are_rejected() {
    let leaves = synthetic(40);
    for n in 2..=leaves.len() {
        let d = &leaves[..n];
        let r2 = ref_mth(d);
        for m in 1..n {
            let r1 = ref_mth(&d[..m]);
            let proof = ref_subproof(m, d, true);
            let (m64, n64) = (m as u64, n as u64);
            let mut flipped = proof.clone();
            flipped[0][3] ^= 0x80;
            assert!(!verify_consistency(m64, n64, &r1, &r2, &flipped), "flipped {m}->{n}");
            assert!(
                !verify_consistency(m64, n64, &r1, &r2, &proof[..proof.len() - 1]),
                "truncated {m}->{n}"
            );
            let mut longer = proof.clone();
            longer.push([0xcd; 32]);
            assert!(!verify_consistency(m64, n64, &r1, &r2, &longer), "extended {m}->{n}");
            // A fork: the same first size, a different first tree.
            assert!(
                !verify_consistency(m64, n64, &ref_leaf(b"fork"), &r2, &proof),
                "forked first root {m}->{n}"
            );
            assert!(
                !verify_consistency(m64, n64, &r1, &ref_leaf(b"fork"), &proof),
                "forked second root {m}->{n}"
            );
            assert!(
                !verify_consistency(n64, m64, &r2, &r1, &proof),
                "sizes swapped {m}->{n}"
            );
        }
    }
}

#[test]
fn degenerate_consistency_cases_follow_the_rfc() {
    let d = synthetic(5);
    let (r4, r5) = (ref_mth(&d[..4]), ref_mth(&d));
    assert!(verify_consistency(4, 4, &r4, &r4, &[]));
    assert!(!verify_consistency(4, 4, &r4, &r5, &[]));
    assert!(!verify_consistency(4, 4, &r4, &r4, &[[0; 32]]));
    assert!(verify_consistency(0, 5, &empty_root(), &r5, &[]));
    assert!(
        !verify_consistency(4, 5, &r4, &r5, &[]),
        "an empty proof between different sizes"
    );
}
