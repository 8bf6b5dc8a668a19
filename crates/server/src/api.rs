//! The JSON API under `/api/v1`. Its routes are one table ([`ROUTES`]):
//! the router is built from it and so is the OpenAPI document
//! ([`crate::openapi`]), so the two cannot drift apart.
//!
//! Order of checks in every handler: caller (401), then the object is the
//! caller's tenant's (404 otherwise, the same as a missing one), then the
//! role (403, only ever about the caller's own objects).

use std::collections::HashMap;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use mailwarden_store::tenant::OwnedDomain;
use mailwarden_store::tenant_data::{self, Page};
use mailwarden_store::user::Principal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::Problem;

/// One API route: what the router serves and the OpenAPI document says.
pub struct ApiRoute {
    pub method: &'static str,
    /// Relative to `/api/v1`, with `{name}` path parameters.
    pub path: &'static str,
    pub summary: &'static str,
    /// Query parameters: (name, type, description).
    pub query: &'static [(&'static str, &'static str, &'static str)],
    /// The JSON request body's schema, for POST.
    pub body: Option<fn() -> Value>,
    /// Who may call it beyond reading their tenant's data.
    pub roles: &'static str,
    pub handler: fn() -> MethodRouter<AppState>,
}

impl ApiRoute {
    /// A route without query parameters or a body.
    pub const fn plain(
        method: &'static str,
        path: &'static str,
        summary: &'static str,
        roles: &'static str,
        handler: fn() -> MethodRouter<AppState>,
    ) -> Self {
        Self {
            method,
            path,
            summary,
            query: &[],
            body: None,
            roles,
            handler,
        }
    }
}

const PAGING: &[(&str, &str, &str)] = &[
    ("limit", "integer", "Rows per page (1-500, default 50)."),
    ("offset", "integer", "Rows to skip (default 0)."),
];

/// Every API route.
pub const ROUTES: &[ApiRoute] = &[
    ApiRoute {
        method: "get",
        path: "/domains",
        summary: "The tenant's domains: score, worst findings, verdicts, last scan, open alerts.",
        query: &[
            ("limit", "integer", "Rows per page (1-500, default 50)."),
            ("offset", "integer", "Rows to skip (default 0)."),
            ("q", "string", "Only domains whose name contains this text."),
            ("sort", "string", "`name` (default) or `score` (lowest first)."),
        ],
        body: None,
        roles: "any",
        handler: || get(list_domains),
    },
    ApiRoute::plain(
        "get",
        "/domains/{domain}",
        "A domain's latest scan: score, verdicts, findings.",
        "any",
        || get(domain_detail),
    ),
    ApiRoute::plain(
        "get",
        "/domains/{domain}/findings",
        "The findings of the domain's latest scan, failing first.",
        "any",
        || get(domain_findings),
    ),
    ApiRoute::plain(
        "get",
        "/domains/{domain}/history",
        "The domain's timeline: snapshots and what changed at each.",
        "any",
        || get(domain_history),
    ),
    ApiRoute {
        method: "get",
        path: "/domains/{domain}/diff",
        summary: "The changes between two snapshots of the domain (default: the last two).",
        query: &[
            ("from", "integer", "Snapshot id to compare from."),
            ("to", "integer", "Snapshot id to compare to."),
        ],
        body: None,
        roles: "any",
        handler: || get(domain_diff),
    },
    ApiRoute::plain(
        "get",
        "/domains/{domain}/baselines",
        "The domain's approved baselines, oldest first.",
        "any",
        || get(domain_baselines),
    ),
    ApiRoute {
        method: "post",
        path: "/domains/{domain}/baselines",
        summary: "Approve the domain's latest snapshot as its baseline, with a reason (audit-logged).",
        query: &[],
        body: Some(|| {
            json!({"type": "object", "required": ["reason"],
                   "properties": {"reason": {"type": "string", "minLength": 1}}})
        }),
        roles: "analyst, admin",
        // axum merges the method routers of one path.
        handler: || post(approve_baseline),
    },
    ApiRoute {
        method: "get",
        path: "/domains/{domain}/senders",
        summary: "The domain's sender inventory from the tenant's aggregate reports: senders with pass and alignment, messages per day, the SPF joins.",
        query: &[(
            "since",
            "string",
            "Only reports whose period ends on or after this date (YYYY-MM-DD).",
        )],
        body: None,
        roles: "any",
        handler: || get(crate::pages_senders::api_senders),
    },
    ApiRoute {
        method: "get",
        path: "/domains/{domain}/tls",
        summary: "The domain's TLS-RPT sessions from the tenant's TLS reports: per day by result type, per policy, per MX.",
        query: &[(
            "since",
            "string",
            "Only reports whose period ends on or after this date (YYYY-MM-DD).",
        )],
        body: None,
        roles: "any",
        handler: || get(crate::pages_tls::api_tls),
    },
    crate::exports::domain_route(
        "/domains/{domain}/export/findings",
        "The findings of the domain's latest scan, as a download.",
    ),
    crate::exports::domain_route(
        "/domains/{domain}/export/history",
        "The domain's timeline (one row per snapshot), as a download.",
    ),
    crate::exports::domain_route(
        "/domains/{domain}/export/senders",
        "The domain's senders (one row per source address), as a download.",
    ),
    crate::exports::domain_route(
        "/domains/{domain}/export/tls",
        "The domain's TLS sessions per day and result type, as a download.",
    ),
    crate::scan_report::route(
        "/domains/{domain}/report.html",
        "The HTML report `mailwarden scan --format html` writes, of the domain's latest stored scan (audit-logged).",
    ),
    crate::scan_report::route(
        "/domains/{domain}/report.sarif",
        "The SARIF 2.1.0 log `mailwarden scan --format sarif` writes, of the domain's latest stored scan (audit-logged).",
    ),
    crate::exports::tenant_route("/export/domains", "The tenant's domains, as a download.", "any"),
    crate::exports::tenant_route(
        "/export/alerts",
        "The tenant's alerts and their delivery state, as a download.",
        "any",
    ),
    crate::exports::tenant_route(
        "/export/audit",
        "The audit log's entries about the tenant, as a download.",
        "auditor, admin",
    ),
    ApiRoute {
        method: "get",
        path: "/alerts",
        summary: "The tenant's alerts and their delivery state, newest first.",
        query: PAGING,
        body: None,
        roles: "any",
        handler: || get(list_alerts),
    },
    ApiRoute {
        method: "get",
        path: "/domains/{domain}/evidence",
        summary: "The domain's evidence bundle (as `mailwarden evidence` writes it; each file's text), with inclusion proofs; audit-logged as an export.",
        query: &[
            (
                "since",
                "string",
                "Start of the period: a date (YYYY-MM-DD) or an RFC 3339 time.",
            ),
            (
                "until",
                "string",
                "End of the period: a date (that whole day included) or an RFC 3339 time.",
            ),
        ],
        body: None,
        roles: "auditor, admin",
        handler: || get(crate::evidence::api_evidence),
    },
    ApiRoute::plain(
        "get",
        "/alerts/destinations",
        "The tenant's alert destinations (webhook, email, syslog; never a secret) and their delivery status.",
        "any",
        || get(crate::pages_alerts::api_destinations),
    ),
    ApiRoute {
        method: "post",
        path: "/alerts/destinations",
        summary: "Add an alert destination to the tenant (webhook, e-mail, syslog; audit-logged).",
        query: &[],
        body: Some(crate::api_alerts::schema),
        roles: "analyst, admin",
        handler: || post(crate::api_alerts::api_add),
    },
    ApiRoute::plain(
        "delete",
        "/alerts/destinations/{id}",
        "Remove one of the tenant's alert destinations (audit-logged).",
        "analyst, admin",
        || axum::routing::delete(crate::api_alerts::api_remove),
    ),
    ApiRoute::plain(
        "post",
        "/alerts/destinations/{id}/test",
        "Send a test alert to one of the tenant's destinations now: whether it was delivered, or the error.",
        "analyst, admin",
        || post(crate::api_alerts::api_test),
    ),
    ApiRoute {
        method: "get",
        path: "/audit",
        summary: "The audit log's entries about the tenant's domains, newest first, and whether the log verifies.",
        query: PAGING,
        body: None,
        roles: "auditor, admin",
        handler: || get(audit_log),
    },
    ApiRoute::plain("get", "/users", "The tenant's users and their roles.", "admin", || {
        get(list_users)
    }),
    ApiRoute::plain(
        "get",
        "/tokens",
        "The tenant's API tokens (never the tokens themselves): id, user, created, expiry, revocation.",
        "admin",
        || get(list_tokens),
    ),
    // web-ops: domain management and ownership (crate::domains_manage).
    ApiRoute {
        method: "post",
        path: "/domains",
        summary: "Monitor a domain: scanned every `every` (default 1h) with the allowed scan flags (audit-logged).",
        query: &[],
        body: Some(|| {
            json!({"type": "object", "required": ["domain"],
                   "properties": {"domain": {"type": "string"}, "every": {"type": "string", "examples": ["30m", "1d"]},
                                  "scan_flags": {"type": "array", "items": {"type": "string"},
                                                 "description": "--no-smtp, --no-https, --parked, --profile NAME, --dkim-selector S, --checks LIST"}}})
        }),
        roles: "analyst, admin",
        handler: || post(crate::domains_manage::api_add),
    },
    ApiRoute::plain(
        "delete",
        "/domains/{domain}",
        "Stop monitoring the domain (its history stays; audit-logged).",
        "analyst, admin",
        || axum::routing::delete(crate::domains_manage::api_remove),
    ),
    ApiRoute::plain(
        "get",
        "/ownership",
        "The tenant's ownership claims: state, the TXT record to publish, the latest check.",
        "any",
        || get(crate::domains_manage::api_list_ownership),
    ),
    ApiRoute::plain(
        "get",
        "/domains/{domain}/ownership",
        "The domain's ownership claim, if any.",
        "any",
        || get(crate::domains_manage::api_ownership),
    ),
    ApiRoute::plain(
        "post",
        "/domains/{domain}/ownership",
        "Claim the domain: a token to publish at _mailwarden-challenge.DOMAIN TXT (the claim there is, if any).",
        "analyst, admin",
        || post(crate::domains_manage::api_claim),
    ),
    ApiRoute::plain(
        "post",
        "/domains/{domain}/ownership/verify",
        "Look the TXT record up now: verified, failed (missing, other token) or indeterminate (DNS failure).",
        "analyst, admin",
        || post(crate::domains_manage::api_verify),
    ),
    ApiRoute {
        method: "post",
        path: "/domains/{domain}/ownership/override",
        summary: "Take ownership as shown without the DNS record, with a reason (audit-logged).",
        query: &[],
        body: Some(|| {
            json!({"type": "object", "required": ["reason"],
                   "properties": {"reason": {"type": "string", "minLength": 1}}})
        }),
        roles: "admin",
        handler: || post(crate::domains_manage::api_override),
    },
    ApiRoute::plain(
        "get",
        "/openapi.json",
        "This API's OpenAPI 3.1 document.",
        "any",
        || get(openapi_document),
    ),
];

/// The API router, built from [`ROUTES`].
pub fn router() -> Router<AppState> {
    ROUTES
        .iter()
        .fold(Router::new(), |r, route| r.route(route.path, (route.handler)()))
        .fallback(|| async { Problem::not_found() })
}

/// `limit` and `offset` from the query, checked.
fn page(query: &HashMap<String, String>) -> Result<Page, Problem> {
    let number = |name: &str, default: i64, max: i64| -> Result<i64, Problem> {
        match query.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| (0..=max).contains(n))
                .ok_or_else(|| Problem::bad_request(format!("{name}={v:?}: expected an integer from 0 to {max}"))),
        }
    };
    let limit = number("limit", 50, 500)?;
    if limit == 0 {
        return Err(Problem::bad_request("limit=0: expected an integer from 1 to 500"));
    }
    Ok(Page {
        limit,
        offset: number("offset", 0, i64::MAX)?,
    })
}

/// The caller's domain `name`, or 404 (missing and another tenant's alike).
pub(crate) async fn owned(state: &AppState, who: &Principal, name: &str) -> Result<OwnedDomain, Problem> {
    who.scope
        .domain(&state.store, name)
        .await?
        .ok_or_else(Problem::not_found)
}

async fn list_domains(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let page = page(&query)?;
    let mut all = tenant_data::domains(&state.store, who.scope).await?;
    if let Some(q) = query.get("q").filter(|q| !q.is_empty()) {
        let q = q.to_ascii_lowercase();
        all.retain(|d| d.domain.contains(&q));
    }
    match query.get("sort").map(String::as_str) {
        None | Some("name") => {}
        Some("score") => all.sort_by_key(|d| (d.score.unwrap_or(i64::MAX), d.domain.clone())),
        Some(other) => return Err(Problem::bad_request(format!("sort={other:?}: expected name or score"))),
    }
    Ok(Json(paged(all, page)).into_response())
}

/// One page of an in-memory list, in the shape of `tenant_data::Paged`.
fn paged<T: serde::Serialize>(all: Vec<T>, page: Page) -> Value {
    let total = all.len();
    let items: Vec<T> = all
        .into_iter()
        .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(0))
        .collect();
    json!({"items": items, "total": total, "limit": page.limit, "offset": page.offset})
}

async fn domain_detail(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = owned(&state, &who, &name).await?;
    let detail = tenant_data::detail(&state.store, &domain).await?;
    Ok(Json(json!({"domain": domain.name(), "latest": detail})).into_response())
}

async fn domain_findings(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = owned(&state, &who, &name).await?;
    let findings = tenant_data::detail(&state.store, &domain)
        .await?
        .map(|d| d.findings)
        .unwrap_or_default();
    Ok(Json(json!({"domain": domain.name(), "items": findings})).into_response())
}

async fn domain_history(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = owned(&state, &who, &name).await?;
    let steps = tenant_data::history(&state.store, &domain).await?;
    Ok(Json(json!({"domain": domain.name(), "items": steps})).into_response())
}

#[derive(Deserialize)]
struct DiffQuery {
    from: Option<String>,
    to: Option<String>,
}

fn snapshot_id(name: &str, value: Option<&String>) -> Result<Option<i64>, Problem> {
    value
        .map(|v| {
            v.parse()
                .map_err(|_| Problem::bad_request(format!("{name}={v:?}: expected a snapshot id")))
        })
        .transpose()
}

async fn domain_diff(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
    Query(q): Query<DiffQuery>,
) -> Result<Response, Problem> {
    let domain = owned(&state, &who, &name).await?;
    let (from, to) = (snapshot_id("from", q.from.as_ref())?, snapshot_id("to", q.to.as_ref())?);
    let diff = tenant_data::diff(&state.store, &domain, from, to).await?;
    Ok(Json(diff).into_response())
}

async fn domain_baselines(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = owned(&state, &who, &name).await?;
    let items = tenant_data::baselines(&state.store, &domain).await?;
    Ok(Json(json!({"domain": domain.name(), "items": items})).into_response())
}

#[derive(Deserialize)]
struct ApproveBody {
    reason: String,
}

async fn approve_baseline(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
    body: Result<Json<ApproveBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    let domain = owned(&state, &who, &name).await?;
    if !who.role.may_change() {
        return Err(Problem::forbidden("approve baselines"));
    }
    let Json(body) = body.map_err(|e| Problem::bad_request(format!("the body: {}", e.body_text())))?;
    if body.reason.trim().is_empty() {
        return Err(Problem::bad_request("reason: say why this state is approved"));
    }
    let approved = tenant_data::approve(&state.store, &domain, &who.email, body.reason.trim()).await?;
    Ok((axum::http::StatusCode::CREATED, Json(approved)).into_response())
}

async fn list_alerts(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let page = page(&query)?;
    Ok(Json(tenant_data::alerts(&state.store, who.scope, page).await?).into_response())
}

async fn audit_log(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    if !who.role.may_audit() {
        return Err(Problem::forbidden("read the audit log"));
    }
    let page = page(&query)?;
    let entries = tenant_data::audit_events(&state.store, who.scope, page).await?;
    let verification = verification(&state).await;
    Ok(Json(json!({"verification": verification, "entries": entries})).into_response())
}

/// Whether the whole audit log verifies (signatures, hash tree, contents).
pub(crate) async fn verification(state: &AppState) -> Value {
    match mailwarden_store::audit_log::verify(&state.store, None).await {
        Ok(v) => match v.outcome {
            Ok(ok) => json!({"ok": true, "entries": ok.size, "key_id": v.key_id}),
            Err(tamper) => json!({"ok": false, "problem": tamper.to_string(), "key_id": v.key_id}),
        },
        Err(e) => json!({"ok": false, "problem": e.to_string()}),
    }
}

async fn list_users(State(state): State<AppState>, ApiCaller(who): ApiCaller) -> Result<Response, Problem> {
    if !who.role.may_administer() {
        return Err(Problem::forbidden("list users"));
    }
    let users = mailwarden_store::user::list(&state.store, who.scope).await?;
    let items: Vec<Value> = users
        .into_iter()
        .map(|(email, role)| json!({"email": email, "role": role}))
        .collect();
    Ok(Json(json!({"items": items})).into_response())
}

async fn list_tokens(State(state): State<AppState>, ApiCaller(who): ApiCaller) -> Result<Response, Problem> {
    if !who.role.may_administer() {
        return Err(Problem::forbidden("list tokens"));
    }
    let items = mailwarden_store::token::list_for(&state.store, who.scope).await?;
    Ok(Json(json!({"items": items})).into_response())
}

async fn openapi_document(ApiCaller(_): ApiCaller) -> Response {
    Json(crate::openapi::document()).into_response()
}
