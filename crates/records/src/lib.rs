//! Strict record parsers with character positions, one module per protocol.
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
