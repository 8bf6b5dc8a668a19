//! Strict record parsers with character positions, one module per protocol.
//!
//! # Limitations
//!
//! - **One record at a time.** A parser sees the text of one record and
//!   nothing else: SPF's lookup limits, include and redirect targets, the
//!   DMARC organisational domain and every other fact that needs DNS are
//!   judged in `mailwarden-checks`.
//! - **SPF macros** are parsed and checked for syntax (RFC 7208 §7.1) but
//!   not expanded: expansion needs a message (sender, client address).
//! - **DKIM keys**: [`dkim::parse_rsa_public_key`] reads the DER
//!   structure (SubjectPublicKeyInfo or PKCS#1), the modulus length and
//!   the exponent; it does not check that the modulus is a product of two
//!   primes or otherwise usable. An Ed25519 key is checked for length only.
//! - **BIMI**: only the DNS record; the SVG indicator and the VMC are not
//!   fetched or checked.
//! - **TLSA** is read in presentation form (RFC 6698 §2.2) only.
//! - Bytes that are not UTF-8 are kept lossily (U+FFFD) in a parsed
//!   record's `text`.

#![warn(missing_docs)]
pub mod bimi;
pub mod diag;
pub mod dkim;
pub mod dmarc;
mod fields;
pub mod generate;
pub mod mta_sts;
pub mod spf;
pub mod tlsa;
pub mod tlsrpt;
pub mod visible;
