//! Alert delivery for `mailwarden monitor` (issue 13).
//!
//! # Brief overview
//!
//! The store queues alerts in an outbox table in the same transaction as the
//! scan that caused them; its delivery worker reads them back as [`Alert`]s
//! and hands each to [`deliver`] for every configured [`Destination`]:
//!
//! - [`webhook`]: JSON POST with an HMAC-SHA256 signature and an idempotency
//!   key (at-least-once; the receiver drops repeats by key);
//! - [`email`]: through an SMTP relay with lettre, STARTTLS on request;
//! - [`syslog`]: RFC 5424 over UDP or TCP.
//!
//! [`schedule`] holds the retry backoff and the suppression window. Nothing
//! here reads the database: the store records states, attempts and errors.
//! Destinations are the operator's own, not scan targets: no egress guard.

pub mod destination;
pub mod email;
pub mod schedule;
pub mod syslog;
#[cfg(feature = "test-receiver")]
pub mod testing;
pub mod webhook;

use std::fmt;
use std::time::Duration;

pub use destination::{Destination, DestinationError};
pub use schedule::{DEFAULT_SUPPRESSION_WINDOW, RetryPolicy, is_repeat};

/// One alert from the outbox.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// Outbox row id.
    pub id: i64,
    /// When it was queued (RFC 3339).
    pub created_at: String,
    /// The domain it is about.
    pub domain: String,
    /// What triggered it (kebab-case, e.g. `unapproved-change`).
    pub trigger: String,
    /// `critical`, `high`, `medium`, `low` or `info`.
    pub severity: String,
    /// One line for humans.
    pub summary: String,
    /// Everything else (scan and snapshot ids, details).
    pub payload: serde_json::Value,
    /// Stable across retries of this alert.
    pub idempotency_key: String,
}

/// Why a delivery failed, and whether trying again can help.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryError {
    /// What went wrong, for `alert list` and the log.
    pub message: String,
    /// A configuration problem: retrying cannot help.
    pub permanent: bool,
}

impl DeliveryError {
    /// A failure worth retrying (network, timeout, non-2xx answer).
    pub fn retry(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure no retry can fix (bad URL, unreadable CA file).
    pub fn permanent(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            permanent: true,
        }
    }
}

impl fmt::Display for DeliveryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeliveryError {}

/// What a delivery needs besides the alert: the clock and limits.
#[derive(Clone, Debug)]
pub struct Context {
    /// Now, Unix seconds (signed into webhooks).
    pub now_unix: i64,
    /// Now, RFC 3339 (syslog TIMESTAMP).
    pub now_rfc3339: String,
    /// This host's name (syslog HOSTNAME).
    pub hostname: String,
    /// Time limit of one delivery attempt.
    pub timeout: Duration,
}

impl Context {
    /// The context at `now`, with a 10-second limit per attempt.
    pub fn at(now: time::OffsetDateTime) -> Self {
        let utc = now.to_offset(time::UtcOffset::UTC);
        Self {
            now_unix: utc.unix_timestamp(),
            now_rfc3339: utc.format(SYSLOG_TIMESTAMP).unwrap_or_else(|_| "-".to_owned()),
            hostname: hostname(),
            timeout: Duration::from_secs(10),
        }
    }
}

/// RFC 5424 §6.2.3 TIMESTAMP in UTC: "TIME-SECFRAC = "." 1*6DIGIT", so
/// microseconds at most (RFC 3339's nanoseconds are not allowed).
const SYSLOG_TIMESTAMP: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// Delivers one alert to one destination.
pub async fn deliver(destination: &Destination, alert: &Alert, cx: &Context) -> Result<(), DeliveryError> {
    match destination {
        Destination::Webhook { url, secret } => webhook::post(url, secret.as_deref(), alert, cx.now_unix, cx.timeout)
            .await
            .map(|_| ()),
        Destination::Email {
            to,
            smtp,
            starttls,
            from,
            ca_file,
        } => email::send(alert, (from, to), smtp, *starttls, ca_file.as_deref(), cx.timeout).await,
        Destination::Syslog { address, tcp } => {
            let message = syslog::format(alert, &cx.now_rfc3339, &cx.hostname, std::process::id());
            syslog::send(address, *tcp, &message, cx.timeout).await
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn syslog_timestamps_have_at_most_six_fraction_digits() {
        // rsyslog garbled the nine digits of an RFC 3339 nanosecond time.
        let at = time::macros::datetime!(2026-12-06 04:17:26.558370557 UTC);
        assert_eq!(Context::at(at).now_rfc3339, "2026-12-06T04:17:26.558370Z");
    }

    pub(crate) fn sample_alert() -> Alert {
        Alert {
            id: 7,
            created_at: "2026-12-06T03:00:00Z".into(),
            domain: "example.test".into(),
            trigger: "unapproved-change".into(),
            severity: "high".into(),
            summary: "MX changed".into(),
            payload: serde_json::json!({"snapshot": 3}),
            idempotency_key: "0123abcd".into(),
        }
    }
}
