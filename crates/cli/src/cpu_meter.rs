//! The CPU time the store's work costs inside `monitor run --once
//! --timings` (issue 13: "the store adds under 10% to scan time").
//!
//! Comparing a stored run with a `--no-store` run measures it too, but on a
//! shared machine two identical runs differed by up to 40% in CPU time, far
//! more than the effect measured. Counted inside one run, the store's share
//! does not move with the machine's load: the CPU time of the store's
//! futures while they are polled (a poll runs on one thread from start to
//! end, so the thread's CPU clock around it counts that poll alone), plus
//! the CPU time of SQLite's worker threads, where sqlx runs every SQLite
//! statement. PostgreSQL's own work is in its server, not in this process.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use rustix::time::{ClockId, clock_gettime};

fn clock(id: ClockId) -> Duration {
    let t = clock_gettime(id);
    Duration::new(
        u64::try_from(t.tv_sec).unwrap_or(0),
        u32::try_from(t.tv_nsec).unwrap_or(0),
    )
}

/// CPU time of the calling thread so far.
pub fn thread() -> Duration {
    clock(ClockId::ThreadCPUTime)
}

/// CPU time of the whole process so far (every thread, user and system).
pub fn process() -> Duration {
    clock(ClockId::ProcessCPUTime)
}

/// A future whose polls' CPU time is added up.
pub struct Metered<F> {
    inner: Pin<Box<F>>,
    spent: Duration,
}

impl<F: Future> Metered<F> {
    pub fn new(inner: F) -> Self {
        Metered {
            inner: Box::pin(inner),
            spent: Duration::ZERO,
        }
    }
}

impl<F: Future> Future for Metered<F> {
    /// The inner output, and the CPU time all its polls took.
    type Output = (F::Output, Duration);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let before = thread();
        let polled = self.inner.as_mut().poll(cx);
        let spent = thread().saturating_sub(before);
        self.spent += spent;
        polled.map(|out| (out, self.spent))
    }
}

/// Run `future`, returning its output and the CPU time of its polls.
pub async fn metered<F: Future>(future: F) -> (F::Output, Duration) {
    Metered::new(future).await
}

/// CPU time of this process's threads named `prefix...` that are alive now
/// (Linux: `/proc/self/task`; elsewhere, and on any read error, zero).
pub fn threads_named(prefix: &str) -> Duration {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Duration::ZERO;
    };
    tasks
        .flatten()
        .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|name| name.starts_with(prefix)))
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|stat| on_cpu(&stat))
        .sum()
}

/// The time on the CPU of a `schedstat` line: its first field, nanoseconds.
fn on_cpu(schedstat: &str) -> Option<Duration> {
    schedstat
        .split_whitespace()
        .next()?
        .parse()
        .ok()
        .map(Duration::from_nanos)
}

/// The name sqlx gives each SQLite connection's worker thread
/// (`sqlx-sqlite-worker-N`), as the kernel keeps it (15 bytes).
pub const SQLITE_WORKERS: &str = "sqlx-sqlite-wor";

#[cfg(test)]
mod tests {
    use super::*;

    fn burn(until: Duration) {
        let start = thread();
        let mut x = 0u64;
        while thread().saturating_sub(start) < until {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
    }

    #[tokio::test]
    async fn a_metered_future_counts_its_polls_cpu_and_not_its_waits() {
        let ((), spent) = metered(async {
            burn(Duration::from_millis(30));
            // Waiting costs no CPU: a sleep must not count.
            tokio::time::sleep(Duration::from_millis(60)).await;
            burn(Duration::from_millis(30));
        })
        .await;
        assert!(spent >= Duration::from_millis(60), "{spent:?}");
        assert!(spent < Duration::from_millis(100), "{spent:?}");
    }

    #[test]
    fn schedstat_first_field_is_nanoseconds_on_cpu() {
        assert_eq!(on_cpu("123456789 42 7\n"), Some(Duration::from_nanos(123_456_789)));
        assert_eq!(on_cpu(""), None);
        assert_eq!(on_cpu("x 1 2"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_named_thread_is_found_and_its_cpu_counted() {
        let worker = std::thread::Builder::new()
            .name("meter-test-burner".into())
            .spawn(|| {
                burn(Duration::from_millis(40));
                let seen = threads_named("meter-test-bur");
                assert!(seen >= Duration::from_millis(40), "{seen:?}");
            })
            .unwrap();
        worker.join().unwrap();
        assert_eq!(threads_named("no-such-thread-"), Duration::ZERO);
    }
}
