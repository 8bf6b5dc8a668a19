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
    /// Request logs on standard error: `text` lines or `json` objects (method, route, status, latency).
    #[arg(
        long,
        default_value = "text",
        env = "MAILWARDEN_LOG_FORMAT",
        value_name = "text|json"
    )]
    pub log_format: mailwarden_server::logging::LogFormat,
    /// Where ownership checks look up `_mailwarden-challenge` TXT records (the scan's DNS flags).
    #[command(flatten)]
    pub dns: crate::args::DnsArgs,
}

/// The `[serve]` table of the settings file (`mailwarden.toml` or
/// `--config FILE`); a flag or its environment variable wins over it.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeFile {
    listen: Option<String>,
    secure_cookies: Option<bool>,
    /// `false`: as `--no-monitor`.
    monitor: Option<bool>,
    log_format: Option<String>,
}

impl ServeFile {
    /// Fill what neither a flag nor the environment set (`given(id)`);
    /// a bad value names the file and the key.
    pub fn apply(&self, args: &mut ServeArgs, given: &dyn Fn(&str) -> bool, file: &str) -> Result<()> {
        if let Some(v) = self.listen.as_deref().filter(|_| !given("listen")) {
            args.listen = v
                .parse()
                .map_err(|_| anyhow::anyhow!("{file}: [serve] listen = {v:?}: expected ADDR:PORT"))?;
        }
        if let Some(v) = self.secure_cookies.filter(|_| !given("secure_cookies")) {
            args.secure_cookies = v;
        }
        if let Some(v) = self.monitor.filter(|_| !given("no_monitor")) {
            args.no_monitor = !v;
        }
        if let Some(v) = self.log_format.as_deref().filter(|_| !given("log_format")) {
            args.log_format = v
                .parse()
                .map_err(|e| anyhow::anyhow!("{file}: [serve] log-format = {e}"))?;
        }
        Ok(())
    }
}

pub async fn run(db: Option<&str>, args: ServeArgs) -> Result<ExitCode> {
    mailwarden_server::logging::init(args.log_format);
    let store = crate::monitor::open_store(db).await?;
    // The report routes (POST /reports/upload, /reports/tlsrpt) under the
    // service's API tokens and tenants.
    let reports = crate::reports_serve::web_routes(store.clone());
    let state = AppState::new(store.clone(), args.secure_cookies).with_domain_hooks(domain_hooks(&args.dns).await?);
    let router = app(state, Some(reports));
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
                measure: Default::default(),
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

/// What the web's domain management needs: the DNS source ownership
/// checks ask (a scan-target lookup: no private targets), and the check of
/// a monitor's scan flags that `monitor add` makes.
async fn domain_hooks(dns: &crate::args::DnsArgs) -> Result<mailwarden_server::ownership::DomainHooks> {
    // No usable DNS settings (e.g. an empty resolv.conf) must not keep the
    // service down: ownership checks then answer indeterminate.
    let source = match crate::config::dns_source(dns, false).await {
        Ok(source) => Some(source),
        Err(e) => {
            eprintln!("mailwarden: ownership checks disabled, no DNS source: {e:#}");
            None
        }
    };
    let check: mailwarden_server::ownership::FlagCheck = std::sync::Arc::new(|domain: &str, flags: &[String]| {
        crate::monitor::scan_args(domain, flags)
            .and_then(|args| crate::config::scan_options(&args).map(|_| ()))
            .map_err(|e| format!("{e:#}"))
    });
    Ok(mailwarden_server::ownership::DomainHooks {
        dns: source,
        check_flags: Some(check),
    })
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
