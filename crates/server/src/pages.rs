//! The pages' handlers: the caller from its session, the data through the
//! tenant scope (another tenant's domain: 404 like a missing one), the
//! HTML from [`crate::views`]. The only change, approving a baseline,
//! needs the session's CSRF token and an analyst or admin.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mailwarden_store::tenant::OwnedDomain;
use mailwarden_store::tenant_data::{self, Page};
use serde::Deserialize;

use crate::auth::PageCaller;
use crate::views::{self, History, Nav};
use crate::{AppState, api};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/domains") }))
        .route("/domains", get(domains))
        .route("/domains/{domain}", get(domain))
        .route("/domains/{domain}/history", get(history))
        .route("/domains/{domain}/approve", post(approve))
        .route("/domains/{domain}/senders", get(crate::pages_senders::page_senders))
        .route("/domains/{domain}/tls", get(crate::pages_tls::page_tls))
        .route(
            "/domains/{domain}/export/{table}",
            get(crate::exports::page_domain_export),
        )
        .route("/export/{table}", get(crate::exports::page_tenant_export))
        .route("/domains/{domain}/report.html", get(crate::scan_report::page_report))
        .route("/domains/{domain}/report.sarif", get(crate::scan_report::page_report))
        .route("/domains/{domain}/evidence.zip", get(crate::evidence::page_evidence))
        .route(
            "/alerts/destinations",
            get(crate::pages_alerts::page_destinations).post(crate::pages_alerts::add),
        )
        .route("/alerts/destinations/{id}/remove", post(crate::pages_alerts::remove))
        .route("/alerts/destinations/{id}/test", post(crate::pages_alerts::test))
        .route("/alerts", get(alerts))
        .route("/audit", get(audit))
        .route("/admin", get(admin))
        .route("/admin/tokens/{id}/revoke", post(revoke_token))
        .merge(crate::auth::router())
        .fallback(|| async { views::error_page(StatusCode::NOT_FOUND, "No such page.") })
}

pub(crate) fn nav(c: &PageCaller) -> Nav<'_> {
    Nav {
        email: &c.principal.email,
        role: c.principal.role.as_str(),
        csrf: &c.csrf,
        may_audit: c.principal.role.may_audit(),
        may_administer: c.principal.role.may_administer(),
        may_change: c.principal.role.may_change(),
    }
}

pub(crate) fn failed(e: &dyn std::fmt::Display) -> Response {
    views::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())
}

fn not_found() -> Response {
    views::error_page(StatusCode::NOT_FOUND, "No such domain.")
}

pub(crate) async fn owned(state: &AppState, c: &PageCaller, name: &str) -> Result<OwnedDomain, Response> {
    match api::owned(state, &c.principal, name).await {
        Ok(d) => Ok(d),
        Err(p) if p.status == StatusCode::NOT_FOUND => Err(not_found()),
        Err(p) => Err(failed(&p.detail)),
    }
}

async fn domains(State(state): State<AppState>, c: PageCaller, Query(q): Query<HashMap<String, String>>) -> Response {
    let mut list = match tenant_data::domains(&state.store, c.principal.scope).await {
        Ok(l) => l,
        Err(e) => return failed(&e),
    };
    let filter = q.get("q").map(|s| s.trim().to_ascii_lowercase()).unwrap_or_default();
    list.retain(|d| d.domain.contains(&filter));
    let sort = q.get("sort").map_or("name", String::as_str);
    if sort == "score" {
        list.sort_by_key(|d| (d.score.unwrap_or(i64::MAX), d.domain.clone()));
    }
    views::domains(&nav(&c), &list, &filter, sort).into_response()
}

async fn domain(State(state): State<AppState>, c: PageCaller, Path(name): Path<String>) -> Response {
    let d = match owned(&state, &c, &name).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match tenant_data::detail(&state.store, &d).await {
        Ok(detail) => views::domain(&nav(&c), d.name(), detail.as_ref()).into_response(),
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
struct HistoryQuery {
    from: Option<i64>,
    to: Option<i64>,
    notice: Option<String>,
}

async fn history(
    State(state): State<AppState>,
    c: PageCaller,
    Path(name): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let d = match owned(&state, &c, &name).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (steps, baselines) = match (
        tenant_data::history(&state.store, &d).await,
        tenant_data::baselines(&state.store, &d).await,
    ) {
        (Ok(s), Ok(b)) => (s, b),
        (Err(e), _) | (_, Err(e)) => return failed(&e),
    };
    // A snapshot id that is not this domain's is a 404, like a domain.
    let diff = match steps.len() {
        0 | 1 if q.from.is_none() && q.to.is_none() => None,
        _ => match tenant_data::diff(&state.store, &d, q.from, q.to).await {
            Ok(diff) => Some(diff),
            Err(mailwarden_store::StoreError::NotFound(_)) => return not_found(),
            Err(e) => return failed(&e),
        },
    };
    let notice = q
        .notice
        .as_deref()
        .filter(|n| *n == "approved")
        .map(|_| "The latest snapshot is now the approved baseline.");
    let view = History {
        name: d.name(),
        steps: &steps,
        diff: diff.as_ref(),
        baselines: &baselines,
        may_change: c.principal.role.may_change(),
        notice,
    };
    views::history(&nav(&c), &view).into_response()
}

#[derive(Deserialize)]
struct ApproveForm {
    csrf: Option<String>,
    reason: Option<String>,
}

async fn approve(
    State(state): State<AppState>,
    c: PageCaller,
    Path(name): Path<String>,
    Form(form): Form<ApproveForm>,
) -> Response {
    if !form.csrf.as_deref().is_some_and(|t| c.csrf_ok(t)) {
        return views::error_page(
            StatusCode::FORBIDDEN,
            "The form's CSRF token is missing or wrong; reload the page.",
        );
    }
    let d = match owned(&state, &c, &name).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    if !c.principal.role.may_change() {
        return views::error_page(StatusCode::FORBIDDEN, "Your role may not approve baselines.");
    }
    let reason = form.reason.unwrap_or_default();
    if reason.trim().is_empty() {
        return views::error_page(StatusCode::BAD_REQUEST, "Say why this state is approved.");
    }
    match tenant_data::approve(&state.store, &d, &c.principal.email, reason.trim()).await {
        Ok(_) => Redirect::to(&format!("/domains/{}/history?notice=approved", d.name())).into_response(),
        Err(e) => views::error_page(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}

const PAGE: Page = Page { limit: 200, offset: 0 };

async fn alerts(State(state): State<AppState>, c: PageCaller) -> Response {
    match tenant_data::alerts(&state.store, c.principal.scope, PAGE).await {
        Ok(a) => views::alerts(&nav(&c), &a).into_response(),
        Err(e) => failed(&e),
    }
}

async fn audit(State(state): State<AppState>, c: PageCaller) -> Response {
    if !c.principal.role.may_audit() {
        return views::error_page(StatusCode::FORBIDDEN, "Your role may not read the audit log.");
    }
    match tenant_data::audit_events(&state.store, c.principal.scope, PAGE).await {
        Ok(entries) => {
            let v = api::verification(&state).await;
            views::audit(&nav(&c), &v, &entries).into_response()
        }
        Err(e) => failed(&e),
    }
}

async fn admin(State(state): State<AppState>, c: PageCaller) -> Response {
    if !c.principal.role.may_administer() {
        return views::error_page(StatusCode::FORBIDDEN, "Only an admin manages users and tokens.");
    }
    let scope = c.principal.scope;
    match (
        mailwarden_store::user::list(&state.store, scope).await,
        mailwarden_store::token::list_for(&state.store, scope).await,
    ) {
        (Ok(users), Ok(tokens)) => views::admin(&nav(&c), &users, &tokens).into_response(),
        (Err(e), _) | (_, Err(e)) => failed(&e),
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

/// Revoke one of the tenant's tokens (another tenant's id: 404).
async fn revoke_token(
    State(state): State<AppState>,
    c: PageCaller,
    Path(id): Path<i64>,
    Form(form): Form<CsrfOnly>,
) -> Response {
    if !form.csrf.as_deref().is_some_and(|t| c.csrf_ok(t)) {
        return views::error_page(
            StatusCode::FORBIDDEN,
            "The form's CSRF token is missing or wrong; reload the page.",
        );
    }
    if !c.principal.role.may_administer() {
        return views::error_page(StatusCode::FORBIDDEN, "Only an admin manages users and tokens.");
    }
    match mailwarden_store::token::revoke_in(&state.store, c.principal.scope, id).await {
        Ok(Some(_)) => Redirect::to("/admin").into_response(),
        Ok(None) => views::error_page(StatusCode::NOT_FOUND, "No such token."),
        Err(e) => failed(&e),
    }
}
