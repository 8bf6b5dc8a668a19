//! `mailwarden reports serve --listen ADDR`: take reports over HTTP(S)
//! until stopped. `POST /reports/tlsrpt` is the RFC 8460 HTTPS delivery
//! of TLS reports (publish `rua=https://HOST/reports/tlsrpt`);
//! `POST /reports/upload` takes any report file with
//! `Authorization: Bearer TOKEN` (`--token-file`). The routes are
//! `mailwarden_reports_http::report_routes`, which the web service mounts too.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use mailwarden_ingest::Limits;
use mailwarden_reports_http::routes::DEFAULT_TLSRPT_MAX;
use mailwarden_reports_http::{ReportsState, Token, report_routes, serve};

use crate::reports::{open_sink, sink_place};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen, e.g. 127.0.0.1:8025 (port 0: any free port, printed).
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// A file whose first line is the bearer token of the upload route
    /// (16 characters or more); without it uploads are refused (403).
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Store in this directory instead of the database (`--db`, the default).
    #[arg(
        long = "store-dir",
        alias = "store",
        value_name = "DIR",
        env = "MAILWARDEN_REPORTS_DIR"
    )]
    pub store_dir: Option<PathBuf>,
    /// The largest upload and the largest decompressed report, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_decompressed)]
    pub max_size: u64,
    /// The largest body of the unauthenticated TLS report route, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = DEFAULT_TLSRPT_MAX)]
    pub max_tlsrpt_size: usize,
}

fn read(path: &PathBuf, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("cannot read the {what} {}", path.display()))
}

pub async fn run(db: Option<&str>, args: ServeArgs) -> Result<ExitCode> {
    let limits = Limits {
        max_input: args.max_size,
        max_decompressed: args.max_size,
        ..Limits::default()
    };
    let token = match &args.token_file {
        None => None,
        Some(path) => {
            let text = String::from_utf8(read(path, "token file")?).context("the token file is not UTF-8")?;
            Some(Token::from_file_text(&text).with_context(|| format!("token file {}", path.display()))?)
        }
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(
            mailwarden_reports_http::server::tls_config(&read(cert, "certificate")?, &read(key, "key")?)
                .map_err(anyhow::Error::msg)?,
        ),
        _ => None,
    };
    let sink = open_sink(db, args.store_dir.as_deref()).await?;
    let place = sink_place(db, args.store_dir.as_deref());
    let upload_max = usize::try_from(args.max_size).unwrap_or(usize::MAX);
    let state = ReportsState::new(sink, limits)
        .with_token(token)
        .with_body_limits(args.max_tlsrpt_size, upload_max);
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bound = listener.local_addr()?;
    // The first line says where (tests and scripts read the port from it).
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "listening on {scheme}://{bound} (POST /reports/tlsrpt, /reports/upload); {place}"
    )?;
    out.flush()?;
    drop(out);
    serve(listener, tls, report_routes(state)).await;
    Ok(ExitCode::SUCCESS)
}
