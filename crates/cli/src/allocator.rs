//! The global allocator, and the one option of it the binary sets.
//!
//! mimalloc rather than glibc's malloc: with scans allocating on one
//! thread and the store's writer freeing on another, glibc's arenas and
//! their locks were 15-20% of a monitoring run's CPU (perf,
//! bench/monitor-lab.sh).
#![allow(
    unsafe_code,
    reason = "the binary's only unsafe code: mimalloc's option table, through its C API"
)]

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_e` (libmimalloc-sys
/// names no constant for it); a test below holds the index to the option
/// that `MIMALLOC_PURGE_DELAY` sets.
const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The environment variable that overrides [`tune`].
const PURGE_DELAY_ENV: &str = "MIMALLOC_PURGE_DELAY";

/// Return freed memory to the system at once (purge delay 0) unless the
/// operator set `MIMALLOC_PURGE_DELAY`. With mimalloc's default delay
/// (1 s) the full audit of 10,000 domains peaked at 159-361 MB from run
/// to run; with 0 at 152-156 MB at the same rate (bench/scan.sh, three
/// interleaved runs each).
pub fn tune() {
    if std::env::var_os(PURGE_DELAY_ENV).is_none() {
        // SAFETY: mi_option_set stores one value in mimalloc's option
        // table; any index below `_mi_option_last` is valid, and the
        // option is read only when memory is purged.
        unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, 0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purge_delay() -> std::ffi::c_long {
        // SAFETY: reads one entry of mimalloc's option table (index valid as
        // above).
        unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) }
    }

    /// Set in the child process of the test below.
    const CHILD: &str = "MAILWARDEN_TEST_PURGE_CHILD";
    const NAME: &str = "allocator::tests::the_purge_delay_is_zero_unless_the_environment_sets_it";

    #[test]
    fn the_purge_delay_is_zero_unless_the_environment_sets_it() {
        tune();
        if std::env::var_os(CHILD).is_some() {
            // mimalloc read MIMALLOC_PURGE_DELAY=7 at start; tune kept it.
            assert_eq!(purge_delay(), 7, "option {PURGE_DELAY} is not the purge delay");
            return;
        }
        if std::env::var_os(PURGE_DELAY_ENV).is_none() {
            assert_eq!(purge_delay(), 0);
        }
        let exe = std::env::current_exe().expect("the test binary");
        let out = std::process::Command::new(exe)
            .args([NAME, "--exact", "--test-threads=1"])
            .env(PURGE_DELAY_ENV, "7")
            .env(CHILD, "1")
            .output()
            .expect("running the test binary again");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "child failed: {stdout}");
        assert!(stdout.contains("1 passed"), "the child ran no test: {stdout}");
    }
}
