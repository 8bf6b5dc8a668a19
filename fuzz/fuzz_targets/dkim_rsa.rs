//! The DER parser for DKIM RSA public keys (SubjectPublicKeyInfo and
//! PKCS#1 RSAPublicKey), and the key decoder around it.
#![no_main]
use libfuzzer_sys::fuzz_target;
use mailwarden_records::dkim;

fuzz_target!(|data: &[u8]| {
    let _ = dkim::parse_rsa_public_key(data);
    let _ = dkim::decode_public_key(&dkim::KeyType::Rsa, data);
    let _ = dkim::decode_public_key(&dkim::KeyType::Ed25519, data);
});
