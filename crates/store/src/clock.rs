//! Times as the store writes them: RFC 3339 UTC with milliseconds, always
//! the same width, so comparing the text compares the times (in SQL too).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

const FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// `at` as stored: `2026-12-06T03:21:08.123Z`.
pub fn stamp(at: OffsetDateTime) -> String {
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(FORMAT).unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

/// The current time as stored.
pub fn now() -> String {
    stamp(OffsetDateTime::now_utc())
}

/// A stored (or any RFC 3339) time back.
pub fn parse(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_fixed_width_utc_and_round_trip() {
        let at = time::macros::datetime!(2026-01-02 03:04:05.5 +02:00);
        assert_eq!(stamp(at), "2026-01-02T01:04:05.500Z");
        assert_eq!(parse(&stamp(at)), Some(at));
        assert!(stamp(at) < stamp(at + time::Duration::milliseconds(1)));
    }
}
