//! `mailwarden serve`: the web dashboard and JSON API (crates/server) on
//! the same database as the CLI, and the monitor schedule in the same
//! process unless `--no-monitor`, so one process is a whole deployment.
//! SIGTERM or Ctrl-C stops both gracefully (requests in flight finish).

use std::net::SocketAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use mailwarden_server::{AppState, app, serve};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(
        long,
        default_value = "127.0.0.1:8080",
        env = "MAILWARDEN_LISTEN",
        value_name = "ADDR:PORT"
    )]
    pub listen: SocketAddr,
    /// Do not run the monitor schedule in this process (run `mailwarden monitor run` elsewhere).
    #[arg(long)]
    pub no_monitor: bool,
    /// Mark cookies Secure: the service is reached over HTTPS (e.g. behind a reverse proxy).
    /// Also done per request when the proxy sends `X-Forwarded-Proto: https`.
    #[arg(long, env = "MAILWARDEN_SECURE_COOKIES")]
    pub secure_cookies: bool,
}

pub async fn run(db: Option<&str>, args: ServeArgs) -> Result<ExitCode> {
    let store = crate::monitor::open_store(db).await?;
    // The report routes (POST /reports/upload, /reports/tlsrpt) under the
    // service's API tokens and tenants.
    let reports = crate::reports_serve::web_routes(store.clone());
    let router = app(AppState::new(store.clone(), args.secure_cookies), Some(reports));
    let monitor = (!args.no_monitor).then(|| {
        let store = store.clone();
        tokio::spawn(async move {
            let run = crate::monitor_run::RunArgs {
                once: false,
                concurrency: 8,
                alert_severity: "high".into(),
                certificate_days: 14,
                jitter: None,
                lease: "10m".into(),
            };
            crate::monitor_run::run(store, run).await
        })
    });
    eprintln!(
        "mailwarden: serving http://{} (database {}){}",
        args.listen,
        store.url(),
        if monitor.is_some() { ", monitoring" } else { "" }
    );
    serve(args.listen, router, stop_signal())
        .await
        .with_context(|| format!("--listen {}", args.listen))?;
    if let Some(m) = monitor {
        // The monitor saw the same signal and finishes its current scans.
        m.await.context("the monitor task")??;
    }
    store.close().await;
    eprintln!("mailwarden: stopped");
    Ok(ExitCode::SUCCESS)
}

async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
