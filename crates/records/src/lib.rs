//! Strict record parsers with character positions, one module per protocol.
pub mod dmarc;
pub mod spf;
pub mod bimi;
pub mod dkim;
