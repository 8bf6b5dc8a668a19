//! # mailwarden-dns
//!
//! Where answers come from. A [`DnsSource`] answers one question with an
//! [`Answer`](mailwarden_model::Answer), never an `Err`: negative answers and failures are data
//! (see `mailwarden_model::dns::Status`).
//!
//! - [`live`]: hickory-resolver over UDP/TCP with local DNSSEC validation.
//! - [`zonefile`]: answers from RFC 1035 zone files, fully offline.
//! - [`cache::SharedCache`]: one bounded cache for the whole run, so a name
//!   many domains share (an SPF include, a provider's MX) is asked once.
//!
//! # Limitations
//!
//! - **DNAME** (RFC 6672) in a zone file is loaded as data but does not
//!   redirect lookups: names below it are answered as if it were absent
//!   ([`zonefile`]). `$GENERATE` (a BIND extension) and classes other
//!   than IN are refused with the line that uses them.
//! - **Trust anchors are static.** There is no RFC 5011 automated
//!   rollover: the built-in anchors are the IANA root KSKs hickory ships
//!   (key tags 20326 and 38696) and change only with hickory; a
//!   `--trust-anchor` file is read as written at every start. A key with
//!   the REVOKE bit set there is skipped (RFC 5011 §2.1), not tracked.
//! - **DS trust anchors** are turned into keys by fetching the owner's
//!   DNSKEY RRset without validation and keeping the keys a digest
//!   matches (RFC 4034 §5.1.4); nothing else about that answer is trusted.
//! - **Validation is hickory's**, with one repair: a wildcard answer one
//!   label below the wildcard, which hickory 0.26 calls bogus, is checked
//!   again by RFC 4035 §5.3.4 (`live/wildcard.rs`). Other validator
//!   defects would show as `bogus` or `indeterminate` answers.
//! - The [`cache::SharedCache`] lives for one run; nothing is kept
//!   between runs.

#![warn(missing_docs)]

pub mod bounded;
pub mod cache;
mod lexer;
pub mod live;
pub mod zonefile;

pub use cache::SharedCache;
/// The trait every source implements lives in `mailwarden-model`, beside
/// `Prober` (both I/O traits side by side); re-exported here, where its
/// implementations are.
pub use mailwarden_model::DnsSource;
