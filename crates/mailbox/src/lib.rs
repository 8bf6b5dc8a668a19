//! Report e-mails from an IMAP mailbox (issue 14): `mailwarden reports
//! fetch` reads a folder over TLS or STARTTLS, hands each message to the
//! importer, and marks or moves it only after its reports are stored, so
//! a crash never loses a report and the store's duplicate rule keeps a
//! re-read one single. `--watch` waits with IDLE and reconnects with
//! [`Backoff`].
//!
//! Pure parts: [`MailboxUrl`], [`marks`] (how a processed message is
//! marked), [`utf7`] (folder names), [`Backoff`]. I/O: [`Mailbox`].

pub mod backoff;
pub mod marks;
pub mod session;
pub mod url;
pub mod utf7;

pub use backoff::Backoff;
pub use marks::{Disposition, Scheme};
pub use session::{Error, Mailbox, Options, Pending, Secret, Wake};
pub use url::{MailboxUrl, Security, UrlError};
