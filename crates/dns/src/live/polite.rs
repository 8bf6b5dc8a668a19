//! Politeness: a rate limit per server, and backing off a server that
//! fails in bursts.
//!
//! A scan of many domains that share a provider sends that provider's
//! nameservers (and the operator's resolver) a steady stream of queries;
//! without a limit it looks like an attack on one provider. Each server
//! gets its own schedule: queries leave at most `rate` a second, and when
//! a burst of failures arrives (timeouts, SERVFAIL, REFUSED:
//! [`BURST`] within [`WINDOW`]) every later query to it waits an extra
//! delay that doubles with each further burst (up to [`MAX_BACKOFF`]) and
//! halves with each success. RFC 1035 §7.2 asks resolvers to "avoid
//! sending queries to a server that is not responding"; RFC 8767 §5
//! suggests backing off a failing server rather than retrying at once.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use hickory_resolver::proto::op::ResponseCode;
use tokio::time::Instant;

/// Failures within [`WINDOW`] that make a burst.
pub(crate) const BURST: u32 = 5;
/// How far back failures count towards a burst.
pub(crate) const WINDOW: Duration = Duration::from_secs(1);
/// The first extra delay after a burst.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// The longest extra delay between two queries to one failing server.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Servers whose schedules are kept; beyond it the least recently asked
/// are forgotten (a run asks at most `--max-direct-targets-per-run`
/// distinct servers directly, 4096 by default).
const SERVERS_KEPT: usize = 8192;

/// Per-server schedules. `rate` is queries per second per server; 0 means
/// no limit (backoff still applies).
#[derive(Debug)]
pub(crate) struct Politeness {
    interval: Duration,
    /// Whether SERVFAIL and timeouts count as failures of the server
    /// itself: yes for an authoritative server; no for a recursive
    /// resolver, which answers SERVFAIL (or nothing in time) for every
    /// broken or slow zone it is asked about. A resolver's REFUSED does
    /// count: it is the resolver turning us away.
    servfail_is_failure: bool,
    servers: Mutex<HashMap<IpAddr, Schedule>>,
}

/// Whether a response code (`None`: no response) says the server is in
/// trouble: REFUSED, and a timeout or other transport error or SERVFAIL
/// where `servfail_is_failure` (see [`Politeness`]).
fn is_failure(code: Option<ResponseCode>, servfail_is_failure: bool) -> bool {
    match code {
        Some(ResponseCode::Refused) => true,
        Some(ResponseCode::ServFail) | None => servfail_is_failure,
        Some(_) => false,
    }
}

#[derive(Debug, Clone, Copy)]
struct Schedule {
    /// When the next query may leave.
    next: Instant,
    backoff: Duration,
    window_start: Instant,
    failures: u32,
}

impl Politeness {
    pub(crate) fn new(rate: u32, servfail_is_failure: bool) -> Self {
        let interval = if rate == 0 {
            Duration::ZERO
        } else {
            Duration::from_secs(1) / rate
        };
        Self {
            interval,
            servfail_is_failure,
            servers: Mutex::default(),
        }
    }

    /// Wait until a query may be sent to `server`, and book its slot.
    pub(crate) async fn wait(&self, server: IpAddr) {
        let at = self.book(server, Instant::now());
        if at > Instant::now() {
            tokio::time::sleep_until(at).await;
        }
    }

    /// The time the next query to `server` may leave (not before `now`).
    fn book(&self, server: IpAddr, now: Instant) -> Instant {
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        if servers.len() >= SERVERS_KEPT && !servers.contains_key(&server) {
            // Forget the schedules already in the past: they constrain nothing.
            servers.retain(|_, s| s.next > now || !s.backoff.is_zero());
            if servers.len() >= SERVERS_KEPT {
                servers.clear();
            }
        }
        let schedule = servers.entry(server).or_insert(Schedule {
            next: now,
            backoff: Duration::ZERO,
            window_start: now,
            failures: 0,
        });
        let at = schedule.next.max(now);
        schedule.next = at + self.interval.max(schedule.backoff);
        at
    }

    /// Record how a query to `server` ended: `failed` for a timeout,
    /// SERVFAIL or REFUSED.
    fn outcome(&self, server: IpAddr, failed: bool) {
        self.record(server, failed, Instant::now());
    }

    /// [`Politeness::outcome`] of a response's code (`None`: none came).
    pub(crate) fn answered(&self, server: IpAddr, code: Option<ResponseCode>) {
        self.outcome(server, is_failure(code, self.servfail_is_failure));
    }

    fn record(&self, server: IpAddr, failed: bool, now: Instant) {
        let mut servers = self.servers.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(schedule) = servers.get_mut(&server) else {
            return;
        };
        if !failed {
            schedule.backoff /= 2;
            if schedule.backoff < FIRST_BACKOFF / 2 {
                schedule.backoff = Duration::ZERO;
            }
            return;
        }
        if now.duration_since(schedule.window_start) > WINDOW {
            schedule.window_start = now;
            schedule.failures = 0;
        }
        schedule.failures += 1;
        if schedule.failures >= BURST {
            schedule.failures = 0;
            schedule.window_start = now;
            schedule.backoff = (schedule.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
        }
    }

    #[cfg(test)]
    fn backoff(&self, server: IpAddr) -> Duration {
        self.servers
            .lock()
            .unwrap()
            .get(&server)
            .map_or(Duration::ZERO, |s| s.backoff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn queries_to_one_server_are_spaced_by_the_rate_and_other_servers_are_not_held_up() {
        let p = Politeness::new(100, true);
        let now = Instant::now();
        assert_eq!(p.book(A, now), now);
        assert_eq!(p.book(A, now), now + Duration::from_millis(10));
        assert_eq!(p.book(A, now), now + Duration::from_millis(20));
        assert_eq!(p.book(B, now), now, "another server has its own schedule");
    }

    #[test]
    fn a_resolver_is_backed_off_for_refused_only_not_for_timeouts_or_servfail() {
        // Regression: a silent resolver, backed off on its timeouts, made
        // `--timeout 0.3 --retries 0` scans take seconds.
        assert!(is_failure(Some(ResponseCode::Refused), false));
        assert!(!is_failure(None, false));
        assert!(!is_failure(Some(ResponseCode::ServFail), false));
        assert!(is_failure(None, true));
        assert!(is_failure(Some(ResponseCode::ServFail), true));
        assert!(!is_failure(Some(ResponseCode::NXDomain), true));
    }

    #[test]
    fn no_rate_means_no_wait() {
        let p = Politeness::new(0, true);
        let now = Instant::now();
        for _ in 0..10 {
            assert_eq!(p.book(A, now), now);
        }
    }

    #[test]
    fn a_burst_of_failures_backs_off_and_successes_recover() {
        let p = Politeness::new(0, true);
        let now = Instant::now();
        p.book(A, now);
        for _ in 0..BURST - 1 {
            p.record(A, true, now);
        }
        assert_eq!(p.backoff(A), Duration::ZERO, "below a burst: no backoff");
        p.record(A, true, now);
        assert_eq!(p.backoff(A), FIRST_BACKOFF);
        let first = p.book(A, now);
        assert_eq!(
            p.book(A, now),
            first + FIRST_BACKOFF,
            "the next query waits the backoff"
        );
        for _ in 0..BURST {
            p.record(A, true, now);
        }
        assert_eq!(p.backoff(A), FIRST_BACKOFF * 2, "a second burst doubles it");
        for _ in 0..20 {
            p.record(A, true, now);
        }
        assert!(p.backoff(A) <= MAX_BACKOFF);
        for _ in 0..16 {
            p.record(A, false, now);
        }
        assert_eq!(p.backoff(A), Duration::ZERO, "successes bring it back to none");
    }

    #[test]
    fn failures_spread_wider_than_the_window_are_no_burst() {
        let p = Politeness::new(0, true);
        let mut now = Instant::now();
        p.book(A, now);
        for _ in 0..3 * BURST {
            p.record(A, true, now);
            now += WINDOW / 2;
        }
        assert_eq!(p.backoff(A), Duration::ZERO);
    }
}
