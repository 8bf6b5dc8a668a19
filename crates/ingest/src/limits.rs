//! Caps that keep hostile inputs (zip and gzip bombs, deep nesting) in
//! bounded memory. Every cap is checked while reading, never after.

/// The caps of one import. Defaults are documented in the README ("Reports").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest input file (compressed or not), in bytes.
    pub max_input: u64,
    /// The largest report once decompressed, in bytes, checked while
    /// streaming: a 10 MB gzip that expands to 10 GB stops at this many bytes.
    pub max_decompressed: u64,
    /// How many containers may wrap a report (e-mail, zip, gzip): an e-mail
    /// with a zip holding an `.xml.gz` is 3.
    pub max_nesting: u8,
    /// The deepest XML element nesting (an aggregate report needs 5).
    pub max_xml_depth: usize,
    /// The most messages read from one mbox file.
    pub max_messages: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_input: 64 << 20,
            max_decompressed: 64 << 20,
            max_nesting: 3,
            max_xml_depth: 32,
            max_messages: 100_000,
        }
    }
}
