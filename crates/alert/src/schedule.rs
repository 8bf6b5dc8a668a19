//! When to try again, when to give up, and when an alert repeats one already
//! sent: the pure rules the outbox worker applies.

use std::time::Duration;

/// Retries with exponential backoff: the n-th failure waits
/// `base * 2^(n-1)`, at most `max_delay`; after `max_attempts` the alert is
/// failed for good (and `alert list` shows it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Wait after the first failure.
    pub base: Duration,
    /// Longest wait between two attempts.
    pub max_delay: Duration,
    /// Attempts before giving up.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min ... capped at 1 h, 12 attempts: about 5.5 hours.
    fn default() -> Self {
        Self {
            base: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            max_attempts: 12,
        }
    }
}

impl RetryPolicy {
    /// After `attempts` failed attempts in total: how long to wait before the
    /// next one, or `None` to give up.
    pub fn next_delay(&self, attempts: u32) -> Option<Duration> {
        if attempts >= self.max_attempts {
            return None;
        }
        let doublings = attempts.saturating_sub(1).min(31);
        Some(self.base.saturating_mul(1 << doublings).min(self.max_delay))
    }
}

/// Whether an alert for a condition last sent `since_last_sent` ago is a
/// repeat to suppress within `window`.
pub fn is_repeat(since_last_sent: Option<Duration>, window: Duration) -> bool {
    since_last_sent.is_some_and(|d| d < window)
}

/// The default suppression window: one alert per condition per day.
pub const DEFAULT_SUPPRESSION_WINDOW: Duration = Duration::from_secs(24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_is_capped_and_ends() {
        let p = RetryPolicy {
            base: Duration::from_secs(10),
            max_delay: Duration::from_secs(60),
            max_attempts: 5,
        };
        let delays: Vec<_> = (1..=5).map(|n| p.next_delay(n).map(|d| d.as_secs())).collect();
        assert_eq!(delays, [Some(10), Some(20), Some(40), Some(60), None]);
    }

    #[test]
    fn a_repeat_is_only_suppressed_inside_the_window() {
        let w = Duration::from_secs(100);
        assert!(is_repeat(Some(Duration::from_secs(99)), w));
        assert!(!is_repeat(Some(Duration::from_secs(100)), w));
        assert!(!is_repeat(None, w));
    }
}
