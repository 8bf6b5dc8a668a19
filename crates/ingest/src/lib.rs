//! Report ingestion, pure core: DMARC aggregate reports (RFC 7489 Appendix
//! C, RFC 9990), DMARC failure reports (ARF: RFC 5965, RFC 6591, RFC 9991)
//! and SMTP TLS reports (RFC 8460), plain, gzip or zip, alone or attached
//! to e-mails and mbox files. Every input ends as reports or typed
//! rejections ([`Reason`]) with a position where one is known; hostile
//! inputs are bounded by [`Limits`]. Storage is behind [`ReportSink`].

pub mod aggregate;
pub mod aggregate_stream;
pub mod dir_sink;
pub mod failure;
pub mod import;
pub mod input;
pub mod limits;
pub mod mail;
pub mod rejection;
pub mod report;
pub mod sink;
pub mod stream;
pub mod tlsrpt;
pub mod walk;
pub mod warning;
pub mod xml;
pub mod xml_stream;

pub use dir_sink::DirSink;
pub use import::{Outcome, RunSummary, Status, import};
pub use input::{Item, read};
pub use limits::Limits;
pub use rejection::{Position, Reason, Rejection};
pub use report::{Identity, Kind, Parsed, Report};
pub use sink::{AggregateWriter, MemorySink, ReportSink, SinkError, Stored};
pub use stream::import_reader;
pub use warning::{Warning, Warnings};
