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
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use mailwarden_ingest::Limits;
use mailwarden_ingest::{MemorySink, ReportSink};
use mailwarden_reports_http::routes::DEFAULT_TLSRPT_MAX;
use mailwarden_reports_http::{Admission, Decision, Refusal, ReportsState, Tenancy, Token, report_routes, serve};
use mailwarden_store::ownership;
use mailwarden_store::reports::{StoreSink, owner_scope};
use mailwarden_store::user::Principal;
use mailwarden_store::user::Role;
use mailwarden_store::{Store, StoreError};

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

// The report routes of `mailwarden serve`: the same routes, mounted beside
// the web service and under its accounts. An upload needs one of the
// service's API tokens (`Authorization: Bearer mwt_...`, `mailwarden token
// create`) of an analyst or admin, and its reports are stored for that
// token's tenant; a TLS report (RFC 8460 §5.4 HTTPS POST, whose sender
// cannot authenticate) is stored for the tenant owning its policy domain,
// and refused (404) when no tenant here owns it.
//
// Ownership (issue 16: "A domain can be added for reports and alerts only
// after its ownership is shown with a DNS TXT token (or by an admin
// override that is audit-logged)"): an upload whose reports name a domain
// the uploader's tenant has not shown it owns is refused whole (403,
// problem+json naming each domain and how to claim it), and a TLS report
// is taken only when its owner has shown ownership (else the same 404 as
// for a domain nobody here owns: the anonymous sender learns nothing).

/// The report routes `mailwarden serve` mounts for `store` (default size limits).
pub fn web_routes(store: Store) -> mailwarden_reports_http::Router {
    // The state's own sink and token are unused once a tenancy decides.
    let state = ReportsState::new(Box::new(MemorySink::default()), Limits::default())
        .with_tenancy(Arc::new(StoreTenancy { store }));
    report_routes(state)
}

struct StoreTenancy {
    store: Store,
}

fn sink(store: &Store, scope: mailwarden_store::tenant::TenantScope) -> Result<Box<dyn ReportSink + Send>, Refusal> {
    StoreSink::for_tenant(store.clone(), scope)
        .map(|s| Box::new(s) as Box<dyn ReportSink + Send>)
        .map_err(|e| Refusal::Failed(e.to_string()))
}

/// The account of a `Authorization: Bearer mwt_...` header (401 otherwise).
async fn principal(store: &Store, authorization: Option<&str>) -> Result<Principal, Refusal> {
    let Some(token) = authorization.and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else {
        return Err(Refusal::Unauthorized);
    };
    match mailwarden_store::token::authenticate(store, token).await {
        Ok(Some(p)) => Ok(p),
        Ok(None) => Err(Refusal::Unauthorized),
        Err(e) => Err(Refusal::Failed(e.to_string())),
    }
}

impl Tenancy for StoreTenancy {
    fn uploader<'a>(&'a self, authorization: Option<&'a str>) -> Decision<'a> {
        Box::pin(async move {
            let principal = principal(&self.store, authorization).await?;
            // Storing reports changes the tenant's data: analysts and admins only.
            if !matches!(principal.role, Role::Analyst | Role::Admin) {
                return Err(Refusal::Forbidden(format!(
                    "a {} may not upload reports (analyst or admin)",
                    principal.role.as_str()
                )));
            }
            sink(&self.store, principal.scope)
        })
    }

    fn tls_owner<'a>(&'a self, domain: &'a str) -> Decision<'a> {
        Box::pin(async move {
            let not_here = || Refusal::NotHere(format!("no TLS reports are taken here for {domain}"));
            let scope = match owner_scope(&self.store, domain).await {
                Ok(Some(scope)) => scope,
                Ok(None) => return Err(not_here()),
                Err(e) => return Err(Refusal::Failed(e.to_string())),
            };
            match ownership::require_shown(&self.store, scope, domain).await {
                Ok(()) => sink(&self.store, scope),
                Err(StoreError::NotFound(_)) => Err(not_here()),
                Err(e) => Err(Refusal::Failed(e.to_string())),
            }
        })
    }

    fn admits<'a>(&'a self, authorization: Option<&'a str>, domains: &'a [String]) -> Admission<'a> {
        Box::pin(async move {
            let scope = principal(&self.store, authorization).await?.scope;
            let mut refused = Vec::new();
            let mut why = Vec::new();
            for domain in domains {
                match ownership::require_shown(&self.store, scope, domain).await {
                    Ok(()) => {}
                    Err(StoreError::NotFound(message)) => {
                        refused.push(domain.clone());
                        why.push(message);
                    }
                    Err(e) => return Err(Refusal::Failed(e.to_string())),
                }
            }
            if refused.is_empty() {
                return Ok(());
            }
            Err(Refusal::NotShown {
                detail: format!(
                    "nothing stored: reports are taken only for domains whose ownership this tenant has shown. {}. \
                     Claim a domain with `mailwarden domain claim DOMAIN` or, once it is one of the tenant's domains, \
                     POST /api/v1/domains/DOMAIN/ownership; publish the TXT record and verify it (or have an admin override)",
                    why.join("; ")
                ),
                domains: refused,
            })
        })
    }

    fn record(
        &self,
        source: &'static str,
        run: mailwarden_ingest::RunSummary,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async move {
            mailwarden_store::reports::record_run(&self.store, source, &run)
                .await
                .map(|_| ())
                .map_err(|e| format!("the reports are stored, but the audit log failed: {e}"))
        })
    }
}
