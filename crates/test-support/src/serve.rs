//! `mailwarden serve` as a child process, for the CLI's tests: on a free
//! loopback port, returned once it accepts connections (the service binds
//! its port only after opening the store, so a connection means ready).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// How long `serve` may take to listen (a debug build on a loaded machine).
const READY_WITHIN: Duration = Duration::from_secs(30);

/// A port free on 127.0.0.1 now (the OS picks it; the listener closes).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Run `cmd` (`mailwarden` with its global options and stdio set) with
/// `serve --listen 127.0.0.1:PORT --no-monitor` and `extra` arguments;
/// the child and its port once it accepts connections. Panics, after
/// killing it, when it does not listen within 30 s or exits first.
pub fn spawn_serve(cmd: &mut Command, extra: &[&str]) -> (Child, u16) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut child = cmd
        .args(["serve", "--listen", &addr, "--no-monitor"])
        .args(extra)
        .spawn()
        .expect("mailwarden serve starts");
    let deadline = Instant::now() + READY_WITHIN;
    while TcpStream::connect(&addr).is_err() {
        let exited = child.try_wait().ok().flatten();
        if exited.is_some() || Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mailwarden serve did not listen on {addr} (exit: {exited:?})");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}
