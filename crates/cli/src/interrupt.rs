//! Ctrl-C during a scan: stop taking results, write what was finished as a
//! complete document, exit 130 (128 + SIGINT, as shells report it). A
//! second Ctrl-C exits at once.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::Notify;

/// The exit status of an interrupted run.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Whether Ctrl-C was pressed, and a way to wait for it.
pub struct Interrupt {
    state: Arc<State>,
}

#[derive(Default)]
struct State {
    happened: AtomicBool,
    notify: Notify,
}

impl Interrupt {
    /// Take over SIGINT now (before any output exists), for the rest of
    /// the process.
    pub fn install() -> anyhow::Result<Self> {
        let state = Arc::new(State::default());
        let mut signals = sigint()?;
        let seen = Arc::clone(&state);
        tokio::spawn(async move {
            if signals.recv().await.is_none() {
                return;
            }
            seen.happened.store(true, Ordering::SeqCst);
            seen.notify.notify_waiters();
            if signals.recv().await.is_some() {
                std::process::exit(EXIT_INTERRUPTED.into());
            }
        });
        Ok(Self { state })
    }

    pub fn happened(&self) -> bool {
        self.state.happened.load(Ordering::SeqCst)
    }

    /// `work`'s output, or `None` once Ctrl-C has been pressed.
    pub async fn until<T>(&self, work: impl Future<Output = T>) -> Option<T> {
        let notified = self.state.notify.notified();
        futures::pin_mut!(notified);
        notified.as_mut().enable();
        if self.happened() {
            return None;
        }
        tokio::select! {
            biased;
            () = notified => None,
            out = work => Some(out),
        }
    }
}

#[cfg(unix)]
fn sigint() -> anyhow::Result<impl SignalStream> {
    use tokio::signal::unix::{SignalKind, signal};
    Ok(signal(SignalKind::interrupt())?)
}

#[cfg(not(unix))]
fn sigint() -> anyhow::Result<impl SignalStream> {
    Ok(CtrlC)
}

/// Something that yields once per signal.
trait SignalStream: Send + 'static {
    fn recv(&mut self) -> impl Future<Output = Option<()>> + Send;
}

#[cfg(unix)]
impl SignalStream for tokio::signal::unix::Signal {
    fn recv(&mut self) -> impl Future<Output = Option<()>> + Send {
        tokio::signal::unix::Signal::recv(self)
    }
}

#[cfg(not(unix))]
struct CtrlC;

#[cfg(not(unix))]
impl SignalStream for CtrlC {
    fn recv(&mut self) -> impl Future<Output = Option<()>> + Send {
        async { tokio::signal::ctrl_c().await.ok() }
    }
}
