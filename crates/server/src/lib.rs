//! `mailwarden serve` (issue 16): the web dashboard and the JSON API over
//! the store, multi-tenant. Every handler gets its caller from [`auth`]
//! (a session cookie for pages, a Bearer token for the API) and reads
//! tenant data only through `mailwarden_store::tenant_data` with the
//! caller's scope, so another tenant's object is a 404 like a missing one.
//!
//! Pages are rendered on the server (maud templates compiled into the
//! binary), with no script at all, one stylesheet served from the binary
//! and a strict Content-Security-Policy; charts are SVG drawn here.

pub mod api;
pub mod auth;
mod chart;
// web-ops: domain management and ownership checks.
pub mod domains_manage;
mod domains_pages;
pub mod logging;
pub mod metrics;
mod metrics_ops;
// web: the scan-duration histogram of /metrics.
mod metrics_scans;
pub mod openapi;
pub mod ownership;
mod pages;
pub mod problem;
mod views;
// webpages: the senders and TLS pages, their data, a chart of several series.
mod chart_series;
mod evidence;
mod exports;
mod pages_alerts;
mod pages_senders;
mod pages_tls;
mod report_views;
// web: HTML/SARIF scan reports as downloads.
pub mod scan_report;
// web: alert destinations through the API.
mod api_alerts;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use mailwarden_store::Store;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Mark cookies `Secure` (the service is reached over TLS, e.g. behind
    /// a reverse proxy); also set per request by `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    pub limiter: Arc<auth::LoginLimiter>,
    pub metrics: Arc<metrics::Metrics>,
    /// DNS source and scan-flag check for domain management (web-ops).
    pub domains: ownership::DomainHooks,
}

impl AppState {
    pub fn new(store: Store, secure_cookies: bool) -> Self {
        Self {
            store,
            secure_cookies,
            limiter: Arc::new(auth::LoginLimiter::default()),
            metrics: Arc::new(metrics::Metrics::default()),
            domains: ownership::DomainHooks::default(),
        }
    }

    /// With the DNS source and scan-flag check domain management uses.
    pub fn with_domain_hooks(mut self, hooks: ownership::DomainHooks) -> Self {
        self.domains = hooks;
        self
    }
}

/// The Content-Security-Policy of every response: nothing but this
/// origin's stylesheet and images; no script, no frames, forms post here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                       frame-ancestors 'none'; base-uri 'none'";

/// The whole service. `extra` is mounted beside it (the report upload
/// endpoints, `report_routes(state)`, when that branch is merged).
pub fn app(state: AppState, extra: Option<Router>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(healthz))
        .route("/static/style.css", get(stylesheet))
        .route("/metrics", get(metrics::handler))
        .nest("/api/v1", api::router())
        .merge(pages::router())
        .merge(domains_pages::router())
        .with_state(state.clone());
    if let Some(extra) = extra {
        router = router.merge(extra);
    }
    router
        .layer(axum::middleware::from_fn_with_state(state, metrics::count))
        .layer(axum::middleware::from_fn(logging::log_request))
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Liveness and the database: 200 "ok", or 503 when the store does not answer.
async fn healthz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    match mailwarden_store::count(&state.store, "SELECT 1").await {
        Ok(_) => "ok\n".into_response(),
        Err(e) => (axum::http::StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}\n")).into_response(),
    }
}

async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("../static/style.css"),
    )
        .into_response()
}

/// Serve `app` on `listen` until `shutdown` resolves, then finish the
/// requests in flight (graceful shutdown).
pub async fn serve(
    listen: SocketAddr,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(listen).await?;
    serve_on(listener, app, shutdown).await
}

/// [`serve`] on a bound listener (tests bind port 0).
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
