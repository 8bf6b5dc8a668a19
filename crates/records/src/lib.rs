//! Strict record parsers with character positions, one module per protocol.
pub mod dmarc;
pub mod spf;
