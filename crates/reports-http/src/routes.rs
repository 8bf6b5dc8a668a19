//! The report routes: `POST /reports/tlsrpt` for RFC 8460 senders and
//! `POST /reports/upload` for any report file, behind a bearer token. Both
//! answer with what `import()` decided for each report of the body.
//!
//! RFC 8460 §5.4: "The report MAY be delivered by POST to HTTPS. If
//! compressed, the report SHOULD use the media type
//! application/tlsrpt+gzip, and application/tlsrpt+json otherwise."
//! Senders cannot authenticate (the `rua=https://...` URL is all they
//! know), so that route takes only TLS reports, within a smaller cap.

use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use mailwarden_ingest::{Kind, Limits, Outcome, ReportSink, import};
use serde::Deserialize;

use crate::answer;
use crate::token::Token;

/// The sink is shared by every request; `import()` holds it only while
/// storing one body, on a blocking thread.
pub type SharedSink = Arc<Mutex<Box<dyn ReportSink + Send>>>;

/// Why a [`Tenancy`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No or unknown credentials: 401 with a Bearer challenge.
    Unauthorized,
    /// Known caller, not allowed (e.g. a read-only role): 403.
    Forbidden(String),
    /// Nobody here takes this report (a TLS report for a domain no tenant
    /// owns): 404, so a sender learns nothing about other tenants.
    NotHere(String),
    /// The store failed: 500 (nothing was stored; the sender may retry).
    Failed(String),
    /// The caller's tenant has not shown it owns these domains (issue 16:
    /// "A domain can be added for reports and alerts only after its
    /// ownership is shown with a DNS TXT token"): 403 as RFC 9457 problem
    /// details, the detail saying how to claim each domain.
    NotShown { domains: Vec<String>, detail: String },
}

/// A future answering whether a request may go on.
pub type Admission<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), Refusal>> + Send + 'a>>;

/// A future a [`Tenancy`] answers with.
pub type Decision<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<Box<dyn ReportSink + Send>, Refusal>> + Send + 'a>>;

/// Accounts and tenants, when the routes are mounted in a service that
/// has them (`mailwarden serve`): the caller's credentials, or for a TLS
/// report its policy domain, choose the sink (the owning tenant's), in
/// place of the single sink and token of `mailwarden reports serve`.
pub trait Tenancy: Send + Sync {
    /// The sink of an upload whose `Authorization` header is `authorization`.
    fn uploader<'a>(&'a self, authorization: Option<&'a str>) -> Decision<'a>;
    /// The sink of a TLS report about `domain` (RFC 8460 senders cannot
    /// authenticate: the domain's owner takes it).
    fn tls_owner<'a>(&'a self, domain: &'a str) -> Decision<'a>;
    /// Whether the uploader (`authorization`) may store reports about
    /// `domains` (the policy domains of the body's reports): the service
    /// refuses domains whose ownership the caller's tenant has not shown.
    /// Asked before anything of the body is stored. Default: yes.
    fn admits<'a>(&'a self, authorization: Option<&'a str>, domains: &'a [String]) -> Admission<'a> {
        let _ = (authorization, domains);
        Box::pin(async { Ok(()) })
    }
    /// Record what one request's import did (the audit log), once its
    /// reports are stored; `source` is `upload` or `tlsrpt`.
    fn record<'a>(
        &'a self,
        source: &'static str,
        run: mailwarden_ingest::RunSummary,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send + 'a>>;
}

/// What the routes need.
#[derive(Clone)]
pub struct ReportsState {
    sink: SharedSink,
    limits: Limits,
    token: Option<Token>,
    tenancy: Option<Arc<dyn Tenancy>>,
    /// The largest body of the unauthenticated TLS report route.
    tlsrpt_max: usize,
    /// The largest body of the upload route.
    upload_max: usize,
}

/// Media types a TLS report POST may carry: RFC 8460's two, and the
/// generic ones some senders use; anything else is not a report.
const TLSRPT_MEDIA_TYPES: &[&str] = &[
    "application/tlsrpt+gzip",
    "application/tlsrpt+json",
    "application/gzip",
    "application/json",
    "application/octet-stream",
];

/// 5 MiB: a TLS report of thousands of MX hosts fits; the cap is on the
/// compressed body, the decompressed size is capped by [`Limits`].
pub const DEFAULT_TLSRPT_MAX: usize = 5 << 20;

impl ReportsState {
    /// Routes storing into `sink`; uploads need [`ReportsState::with_token`].
    pub fn new(sink: Box<dyn ReportSink + Send>, limits: Limits) -> ReportsState {
        ReportsState {
            sink: Arc::new(Mutex::new(sink)),
            limits,
            token: None,
            tenancy: None,
            tlsrpt_max: DEFAULT_TLSRPT_MAX,
            upload_max: usize::try_from(limits.max_input).unwrap_or(usize::MAX),
        }
    }

    /// The bearer token of the upload route (without one it answers 403).
    pub fn with_token(mut self, token: Option<Token>) -> ReportsState {
        self.token = token;
        self
    }

    /// Choose sinks per caller and per domain through `tenancy`; the
    /// token and the sink given to [`ReportsState::new`] are then unused.
    pub fn with_tenancy(mut self, tenancy: Arc<dyn Tenancy>) -> ReportsState {
        self.tenancy = Some(tenancy);
        self
    }

    /// The body caps of the TLS report route and the upload route.
    pub fn with_body_limits(mut self, tlsrpt: usize, upload: usize) -> ReportsState {
        self.tlsrpt_max = tlsrpt;
        self.upload_max = upload;
        self
    }
}

/// `POST /reports/tlsrpt` and `POST /reports/upload`.
pub fn report_routes(state: ReportsState) -> Router {
    let upload = post(upload)
        .route_layer(middleware::from_fn_with_state(state.clone(), authenticate))
        .layer(DefaultBodyLimit::max(state.upload_max));
    Router::new()
        .route(
            "/reports/tlsrpt",
            post(tlsrpt).layer(DefaultBodyLimit::max(state.tlsrpt_max)),
        )
        .route("/reports/upload", upload)
        .with_state(state)
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, Json(serde_json::json!({ "error": why }))).into_response()
}

/// RFC 6750 §3: a request without valid credentials gets 401 and a
/// `WWW-Authenticate: Bearer` challenge, before its body is read.
async fn authenticate(State(state): State<ReportsState>, mut request: Request, next: Next) -> Response {
    if let Some(tenancy) = &state.tenancy {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        return match tenancy.uploader(given).await {
            Ok(sink) => {
                request.extensions_mut().insert(Caller(Arc::new(Mutex::new(sink))));
                next.run(request).await
            }
            Err(refusal) => refused(refusal),
        };
    }
    let Some(token) = &state.token else {
        return refuse(
            StatusCode::FORBIDDEN,
            "uploads are off: start the server with --token-file",
        );
    };
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !token.admits(given) {
        return refused(Refusal::Unauthorized);
    }
    next.run(request).await
}

/// The sink [`Tenancy::uploader`] chose for this request.
#[derive(Clone)]
struct Caller(SharedSink);

fn refused(refusal: Refusal) -> Response {
    match refusal {
        Refusal::Unauthorized => {
            let mut response = refuse(StatusCode::UNAUTHORIZED, "a valid bearer token is required");
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"mailwarden reports\""),
            );
            response
        }
        Refusal::Forbidden(why) => refuse(StatusCode::FORBIDDEN, &why),
        Refusal::NotHere(why) => refuse(StatusCode::NOT_FOUND, &why),
        Refusal::Failed(why) => refuse(StatusCode::INTERNAL_SERVER_ERROR, &why),
        Refusal::NotShown { domains, detail } => {
            // RFC 9457 §3.2: extension members ("domains") may be added.
            let body = serde_json::json!({
                "type": "about:blank", "title": "Forbidden", "status": 403,
                "detail": detail, "domains": domains,
            });
            let mut response = (StatusCode::FORBIDDEN, Json(body)).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                header::HeaderValue::from_static("application/problem+json"),
            );
            response
        }
    }
}

/// The policy domains of the reports read from a body, each once, sorted
/// (a report naming no domain has none to show ownership of).
fn report_domains(items: &[mailwarden_ingest::Item]) -> Vec<String> {
    let mut domains: Vec<String> = items
        .iter()
        .filter_map(|i| i.outcome.as_ref().ok())
        .map(|p| p.report.identity().domain.trim_end_matches('.').to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect();
    domains.sort();
    domains.dedup();
    domains
}

async fn tlsrpt(State(state): State<ReportsState>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    if let Some(media) = media.filter(|m| !TLSRPT_MEDIA_TYPES.contains(&m.as_str())) {
        let why = format!("{media} is not a TLS report; send application/tlsrpt+gzip or application/tlsrpt+json");
        return refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, &why);
    }
    let label = "POST /reports/tlsrpt";
    // Look before storing: a DMARC report posted here is refused, not stored.
    let items = mailwarden_ingest::read(label, &body, &state.limits);
    if items
        .iter()
        .any(|i| matches!(i.kind, Some(Kind::Aggregate | Kind::Failure)))
    {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "only TLS reports (RFC 8460) are taken here; upload DMARC reports to /reports/upload",
        );
    }
    let sink = match &state.tenancy {
        None => state.sink.clone(),
        Some(tenancy) => match tls_sink(tenancy.as_ref(), &items).await {
            Ok(sink) => sink,
            Err(refusal) => return refused(refusal),
        },
    };
    store(&state, "tlsrpt", sink, label.to_string(), body).await
}

/// The sink of the tenant owning the TLS report's policy domain; a body
/// with no readable report stores nothing, so any sink answers it.
async fn tls_sink(tenancy: &dyn Tenancy, items: &[mailwarden_ingest::Item]) -> Result<SharedSink, Refusal> {
    let domains = report_domains(items);
    let sink: Box<dyn ReportSink + Send> = match domains.as_slice() {
        [] => Box::new(mailwarden_ingest::MemorySink::default()),
        [domain] => tenancy.tls_owner(domain).await?,
        _ => {
            return Err(Refusal::Forbidden(
                "one TLS report per POST: this body holds reports for several domains".into(),
            ));
        }
    };
    Ok(Arc::new(Mutex::new(sink)))
}

#[derive(Debug, Deserialize)]
struct UploadQuery {
    /// The file name, shown in the outcomes (never used as a path).
    name: Option<String>,
}

async fn upload(
    State(state): State<ReportsState>,
    caller: Option<axum::Extension<Caller>>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let name: String = query
        .name
        .unwrap_or_default()
        .chars()
        .take(200)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    let label = if name.is_empty() {
        "upload".to_string()
    } else {
        format!("upload:{name}")
    };
    if let Some(tenancy) = &state.tenancy {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
        if let Err(refusal) = admitted(tenancy.as_ref(), authorization, &state.limits, &label, &body).await {
            return refused(refusal);
        }
    }
    let sink = caller.map_or_else(|| state.sink.clone(), |axum::Extension(Caller(sink))| sink);
    store(&state, "upload", sink, label, body).await
}

/// Read the body's reports (on a blocking thread: parsing is CPU work)
/// and ask the tenancy about their domains, before anything is stored.
async fn admitted(
    tenancy: &dyn Tenancy,
    authorization: Option<&str>,
    limits: &Limits,
    label: &str,
    body: &axum::body::Bytes,
) -> Result<(), Refusal> {
    let (limits, label, body) = (*limits, label.to_owned(), body.clone());
    let domains = tokio::task::spawn_blocking(move || report_domains(&mailwarden_ingest::read(&label, &body, &limits)))
        .await
        .map_err(|_| Refusal::Failed("reading the reports stopped".into()))?;
    tenancy.admits(authorization, &domains).await
}

/// `import()` into `sink` on a blocking thread; the answer lists its outcomes.
async fn store(
    state: &ReportsState,
    source: &'static str,
    sink: SharedSink,
    label: String,
    body: axum::body::Bytes,
) -> Response {
    let limits = state.limits;
    let stored = tokio::task::spawn_blocking(move || {
        let mut sink = sink.lock().map_err(|_| "the report store failed earlier".to_string())?;
        import(&label, &body, &limits, sink.as_mut()).map_err(|e| format!("the report store failed: {e}"))
    })
    .await;
    let outcomes: Vec<Outcome> = match stored {
        Ok(Ok(outcomes)) => outcomes,
        // Nothing was committed for this body: the sender may retry.
        Ok(Err(why)) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, &why),
        Err(_) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, "the import stopped"),
    };
    if let Some(tenancy) = &state.tenancy {
        let mut run = mailwarden_ingest::RunSummary::default();
        outcomes.iter().for_each(|o| run.add(o));
        if !run.is_empty()
            && let Err(why) = tenancy.record(source, run).await
        {
            // The reports are stored; say the log failed rather than hide it.
            return refuse(StatusCode::INTERNAL_SERVER_ERROR, &why);
        }
    }
    (
        answer::status(&outcomes),
        Json(serde_json::json!({ "outcomes": outcomes })),
    )
        .into_response()
}
