//! Signatures checked once per run.
//!
//! A scan asks many questions whose answers carry the same signed RRsets:
//! the SOA and NSEC records of a zone's denials (every guessed DKIM
//! selector that does not exist), the TLD's proof that a child has no DS.
//! hickory's validator keeps its verdicts per question, so it checks each
//! of those signatures again for every answer that carries it; with ECDSA
//! that was about a fifth of a scan's CPU (issue 15).
//!
//! [`SignatureCache`] is the validator's signature check
//! ([`SignatureCheck`], a hook of the patched hickory-net in
//! vendor/hickory-net): one verification per (key, signed data,
//! signature), the verdict kept in a bounded cache shared by the whole
//! run. The trust semantics do not move:
//!
//! - the cache answers only the cryptographic question, "is this a valid
//!   signature by this key over these bytes", which has one answer for
//!   ever; RFC 4035 §5.3.1's checks around it (the validity period above
//!   all, so an expired signature still fails; owner, signer, labels, key
//!   tag, algorithm) and whether the key is trusted are made by the
//!   validator on every use;
//! - a failed check is kept as a failure, so bogus stays bogus, and a
//!   verdict is only ever looked up by everything that made it, so a hit
//!   cannot turn one signature's failure into another's success;
//! - the key is SHA-256 of the algorithm, public key, signed data and
//!   signature (each length-prefixed), so a forged entry would need a
//!   SHA-256 collision.

use std::sync::atomic::{AtomicU64, Ordering};

use hickory_resolver::net::dnssec::SignatureCheck;
use hickory_resolver::proto::ProtoError;
use hickory_resolver::proto::dnssec::crypto::Digest;
use hickory_resolver::proto::dnssec::rdata::DNSKEY;
use hickory_resolver::proto::dnssec::{DigestType, PublicKey, Verifier};
use quick_cache::sync::Cache;

/// Signature verdicts kept: the hot ones (a TLD's and big providers'
/// denials and key sets) stay; an evicted one is verified again.
pub(crate) const SIGNATURES_KEPT: usize = 1 << 16;

/// Verdicts of signature checks, shared by every validator of a run.
pub(crate) struct SignatureCache {
    verdicts: Cache<[u8; 32], Result<(), ProtoError>>,
    /// Checks made with the key (cache misses).
    verified: AtomicU64,
    /// Checks answered from the cache.
    reused: AtomicU64,
}

/// How often the run verified a signature and how often it reused a verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SignatureStats {
    /// Signatures verified with their key.
    pub verified: u64,
    /// Checks answered by an earlier verification of the same signature.
    pub reused: u64,
}

impl SignatureCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            verdicts: Cache::new(capacity.max(1)),
            verified: AtomicU64::new(0),
            reused: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> SignatureStats {
        SignatureStats {
            verified: self.verified.load(Ordering::Relaxed),
            reused: self.reused.load(Ordering::Relaxed),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.verdicts.len()
    }
}

impl SignatureCheck for SignatureCache {
    fn check(&self, key: &DNSKEY, signed_data: &[u8], signature: &[u8]) -> Result<(), ProtoError> {
        let Some(id) = identity(key, signed_data, signature) else {
            // No digest: check without the cache.
            return key.verify(signed_data, signature);
        };
        if let Some(verdict) = self.verdicts.get(&id) {
            self.reused.fetch_add(1, Ordering::Relaxed);
            return verdict;
        }
        let verdict = key.verify(signed_data, signature);
        self.verified.fetch_add(1, Ordering::Relaxed);
        self.verdicts.insert(id, verdict.clone());
        verdict
    }
}

/// SHA-256 over everything the verdict depends on, each part
/// length-prefixed so no two inputs share an encoding.
fn identity(key: &DNSKEY, signed_data: &[u8], signature: &[u8]) -> Option<[u8; 32]> {
    let public = key.public_key();
    let algorithm = [u8::from(public.algorithm())];
    let parts: [&[u8]; 4] = [&algorithm, public.public_bytes(), signed_data, signature];
    let lengths = parts.map(|part| u32::try_from(part.len()).unwrap_or(u32::MAX).to_be_bytes());
    let framed = parts.iter().zip(&lengths).flat_map(|(part, len)| [&len[..], part]);
    let digest = Digest::from_iter(framed, DigestType::SHA256).ok()?;
    digest.as_ref().try_into().ok()
}

#[cfg(test)]
mod tests {
    use hickory_resolver::proto::dnssec::crypto::EcdsaSigningKey;
    use hickory_resolver::proto::dnssec::{Algorithm, SigningKey, TBS};

    use super::*;

    struct Signer {
        key: EcdsaSigningKey,
        dnskey: DNSKEY,
    }

    fn signer() -> Signer {
        let algorithm = Algorithm::ECDSAP256SHA256;
        let pkcs8 = EcdsaSigningKey::generate_pkcs8(algorithm).unwrap();
        let key = EcdsaSigningKey::from_pkcs8(&pkcs8, algorithm).unwrap();
        let dnskey = DNSKEY::new(true, false, false, key.to_public_key().unwrap());
        Signer { key, dnskey }
    }

    impl Signer {
        fn sign(&self, data: &[u8]) -> Vec<u8> {
            self.key.sign(&TBS::from(data)).unwrap()
        }
    }

    #[test]
    fn a_hit_gives_the_verdict_of_the_first_check_without_verifying_again() {
        let cache = SignatureCache::new(16);
        let s = signer();
        let signature = s.sign(b"rrset");
        assert!(cache.check(&s.dnskey, b"rrset", &signature).is_ok());
        assert!(cache.check(&s.dnskey, b"rrset", &signature).is_ok());
        assert_eq!(cache.stats(), SignatureStats { verified: 1, reused: 1 });
    }

    #[test]
    fn a_bad_signature_is_cached_as_bad() {
        let cache = SignatureCache::new(16);
        let s = signer();
        let mut forged = s.sign(b"rrset");
        forged[10] ^= 1;
        let first = cache.check(&s.dnskey, b"rrset", &forged);
        let second = cache.check(&s.dnskey, b"rrset", &forged);
        assert!(first.is_err());
        assert_eq!(second.map_err(|e| e.to_string()), first.map_err(|e| e.to_string()));
        assert_eq!(cache.stats(), SignatureStats { verified: 1, reused: 1 });
    }

    #[test]
    fn a_good_verdict_is_never_lent_to_other_data_another_key_or_another_signature() {
        let cache = SignatureCache::new(16);
        let (s, other) = (signer(), signer());
        let signature = s.sign(b"rrset");
        assert!(cache.check(&s.dnskey, b"rrset", &signature).is_ok());
        assert!(cache.check(&s.dnskey, b"rrset, changed", &signature).is_err());
        assert!(cache.check(&other.dnskey, b"rrset", &signature).is_err());
        let mut forged = signature.clone();
        forged[0] ^= 1;
        assert!(cache.check(&s.dnskey, b"rrset", &forged).is_err());
        assert_eq!(cache.stats().reused, 0, "each was verified on its own");
    }

    #[test]
    fn the_capacity_bounds_the_verdicts_kept() {
        let cache = SignatureCache::new(8);
        let s = signer();
        let signature = s.sign(b"rrset");
        for i in 0..100u32 {
            let _ = cache.check(&s.dnskey, &i.to_be_bytes(), &signature);
            assert!(cache.len() <= 8, "{} verdicts kept after {i}", cache.len());
        }
        assert_eq!(cache.stats().verified, 100);
    }

    #[test]
    fn the_identity_frames_its_parts() {
        let s = signer();
        assert_ne!(
            identity(&s.dnskey, b"ab", b"c"),
            identity(&s.dnskey, b"a", b"bc"),
            "moving a byte from the data to the signature changes the identity"
        );
    }
}
