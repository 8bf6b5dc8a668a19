//! Test-only helpers: DNSSEC-signed zones, misbehaving DNS servers and a
//! hostile resolver ([`hostile`]: escape-laden and oversized records),
//! served in-process on loopback with OS-assigned ports.
//!
//! ```no_run
//! # async fn demo() {
//! use mailwarden_test_support::{BrokenServer, TestDns};
//!
//! let net = TestDns::builder()
//!     .signed_zone("test.")                 // the root "." is added, signed, automatically
//!     .signed_zone("secure.test.")
//!     .unsigned_zone("insecure.test.")      // delegated without DS
//!     .bogus_zone("bogus.test.")            // DS at the parent matches no key
//!     .record("secure.test.", "MX 10 mx.secure.test.")
//!     .record("mx.secure.test.", "A 127.0.0.1")
//!     .start()
//!     .await;
//! let _server = net.addr();                 // 127.0.0.1:<port>, UDP and TCP
//! let _anchor = net.trust_anchor();         // ". 3600 IN DNSKEY 257 3 15 ..."
//!
//! let silent = BrokenServer::silent().await; // never answers
//! let _ = silent.addr();
//! # }
//! ```
//!
//! Every server stops when its handle is dropped.

mod broken;
mod catalog;
pub mod hostile;
mod multi;
/// `mailwarden serve` as a child process (the CLI's tests).
pub mod serve;
mod tcp;
mod zones;

pub use broken::BrokenServer;
pub use hostile::HostileDns;
pub use multi::{MultiServer, MultiServerBuilder, NsServer};
pub use zones::{TestDns, TestDnsBuilder};
