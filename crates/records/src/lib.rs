//! Strict record parsers with character positions, one module per protocol.
pub mod spf;
