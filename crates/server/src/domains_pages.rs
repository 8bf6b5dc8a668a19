//! The domain-management pages (issue 16): add a domain to monitoring,
//! and per domain its monitor, its ownership claim (the TXT record to
//! publish, the latest check) and the forms that change them. Every form
//! needs the session's CSRF token; changes need an analyst or admin, the
//! ownership override an admin. The work is [`crate::domains_manage`]'s.

use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use mailwarden_store::monitor::Monitor;
use mailwarden_store::ownership::{self, Ownership};
use mailwarden_store::tenant::OwnedDomain;
use mailwarden_store::tenant_monitor;
use maud::{Markup, html};
use serde::Deserialize;

use crate::auth::PageCaller;
use crate::domains_manage::{self as manage, NewMonitor};
use crate::views;
use crate::{AppState, api};

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/domains/new", get(new_form).post(add))
        .route("/domains/{domain}/manage", get(manage_page))
        .route("/domains/{domain}/remove", post(remove))
        .route("/domains/{domain}/ownership/{action}", post(ownership_action))
}

fn error(status: StatusCode, message: &str) -> Response {
    views::error_page(status, message)
}

fn csrf_refused() -> Response {
    error(
        StatusCode::FORBIDDEN,
        "The form's CSRF token is missing or wrong; reload the page.",
    )
}

async fn owned(state: &AppState, c: &PageCaller, name: &str) -> Result<OwnedDomain, Response> {
    match api::owned(state, &c.principal, name).await {
        Ok(d) => Ok(d),
        Err(p) if p.status == StatusCode::NOT_FOUND => Err(error(StatusCode::NOT_FOUND, "No such domain.")),
        Err(p) => Err(error(p.status, &p.detail)),
    }
}

/// The CSRF token, the domain (another tenant's: 404) and the role, in
/// that order, for every per-domain form.
async fn guarded(
    state: &AppState,
    c: &PageCaller,
    name: &str,
    csrf: Option<&str>,
    allowed: bool,
) -> Result<OwnedDomain, Response> {
    if !csrf.is_some_and(|t| c.csrf_ok(t)) {
        return Err(csrf_refused());
    }
    let d = owned(state, c, name).await?;
    if !allowed {
        return Err(error(StatusCode::FORBIDDEN, "Your role may not manage domains."));
    }
    Ok(d)
}

fn back(d: &str, notice: &str) -> Response {
    Redirect::to(&format!("/domains/{d}/manage?notice={notice}")).into_response()
}

async fn new_form(c: PageCaller) -> Response {
    if !c.principal.role.may_change() {
        return error(StatusCode::FORBIDDEN, "Your role may not manage domains.");
    }
    views::page("Add a domain", Some(&crate::pages::nav(&c)), add_form(&c.csrf, None)).into_response()
}

fn add_form(csrf: &str, problem: Option<&str>) -> Markup {
    html! {
        @if let Some(p) = problem { p.error role="alert" { (p) } }
        form.manage method="post" action="/domains/new" {
            input type="hidden" name="csrf" value=(csrf);
            label for="domain" { "Domain" }
            input id="domain" name="domain" required placeholder="example.com";
            label for="every" { "Scan every" }
            input id="every" name="every" value="1h" aria-describedby="every-help";
            p id="every-help" .muted { "30m, 1h, 1d (s, m, h, d, w); at least 1m." }
            fieldset {
                legend { "Scan options" }
                label { input type="checkbox" name="no_smtp" value="1"; " Do not probe the MX hosts over STARTTLS" }
                label { input type="checkbox" name="no_https" value="1"; " Do not fetch the MTA-STS policy" }
                label { input type="checkbox" name="parked" value="1"; " The domain is parked (sends and receives no mail)" }
                label for="profile" { "Profile (built-in name, optional)" }
                input id="profile" name="profile";
                label for="dkim_selector" { "DKIM selectors (comma-separated, optional)" }
                input id="dkim_selector" name="dkim_selector";
            }
            button type="submit" id="add-domain" { "Add to monitoring" }
        }
    }
}

#[derive(Deserialize)]
struct AddForm {
    csrf: Option<String>,
    domain: Option<String>,
    every: Option<String>,
    no_smtp: Option<String>,
    no_https: Option<String>,
    parked: Option<String>,
    profile: Option<String>,
    dkim_selector: Option<String>,
}

impl AddForm {
    fn scan_flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        for (on, flag) in [
            (&self.no_smtp, "--no-smtp"),
            (&self.no_https, "--no-https"),
            (&self.parked, "--parked"),
        ] {
            if on.is_some() {
                flags.push(flag.to_string());
            }
        }
        for (value, flag) in [(&self.profile, "--profile"), (&self.dkim_selector, "--dkim-selector")] {
            if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                flags.extend([flag.to_string(), v.to_string()]);
            }
        }
        flags
    }
}

async fn add(State(state): State<AppState>, c: PageCaller, Form(form): Form<AddForm>) -> Response {
    if !form.csrf.as_deref().is_some_and(|t| c.csrf_ok(t)) {
        return csrf_refused();
    }
    if !c.principal.role.may_change() {
        return error(StatusCode::FORBIDDEN, "Your role may not manage domains.");
    }
    let request = NewMonitor {
        domain: form.domain.clone().unwrap_or_default(),
        every: form.every.clone(),
        scan_flags: form.scan_flags(),
    };
    let refused = |message: &str| {
        let body = add_form(&c.csrf, Some(message));
        (
            StatusCode::BAD_REQUEST,
            views::page("Add a domain", Some(&crate::pages::nav(&c)), body),
        )
            .into_response()
    };
    let checked = match manage::check(&state, &request) {
        Ok(checked) => checked,
        Err(message) => return refused(&message),
    };
    match manage::add_monitor(&state, &c.principal, &checked).await {
        Ok(Some(d)) => back(d.name(), "added"),
        // Another tenant's domain: the same answer as a missing one.
        Ok(None) => error(StatusCode::NOT_FOUND, "No such domain."),
        Err(p) => error(p.status, &p.detail),
    }
}

#[derive(Deserialize)]
struct Notice {
    notice: Option<String>,
}

async fn manage_page(
    State(state): State<AppState>,
    c: PageCaller,
    Path(name): Path<String>,
    Query(q): Query<Notice>,
) -> Response {
    let d = match owned(&state, &c, &name).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let (monitor, claim) = match (
        tenant_monitor::get(&state.store, &d).await,
        ownership::get(&state.store, c.principal.scope, d.name()).await,
    ) {
        (Ok(m), Ok(o)) => (m, o),
        (Err(e), _) | (_, Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    let notice = q.notice.as_deref().and_then(notice_text);
    let body = manage_body(&c, d.name(), monitor.as_ref(), claim.as_ref(), notice);
    views::page(&format!("Manage {}", d.name()), Some(&crate::pages::nav(&c)), body).into_response()
}

fn notice_text(n: &str) -> Option<&'static str> {
    Some(match n {
        "added" => "The domain is monitored; its first scan is due now.",
        "removed" => "The domain is no longer monitored; its history stays.",
        "claimed" => "Publish the TXT record below, then check it.",
        "verified" => "Ownership is shown: the TXT record holds the token.",
        "failed" => "The TXT record does not show the token yet (see the latest check).",
        "indeterminate" => "The DNS lookup failed; nothing changed. Try again later.",
        "overridden" => "Ownership is taken as shown by your override (audit-logged).",
        _ => return None,
    })
}

fn manage_body(
    c: &PageCaller,
    name: &str,
    monitor: Option<&Monitor>,
    claim: Option<&Ownership>,
    notice: Option<&str>,
) -> Markup {
    let may_change = c.principal.role.may_change();
    let csrf = &c.csrf;
    html! {
        @if let Some(n) = notice { p.notice role="status" { (n) } }
        p { a href={ "/domains/" (name) } { "Back to the domain" } }
        section {
            h2 { "Monitoring" }
            @match monitor {
                None => p { "Not monitored." },
                Some(m) => {
                    dl.facts {
                        dt { "Every" } dd { (m.every_secs) " s" }
                        dt { "Scan options" } dd { @if m.scan_flags().is_empty() { "default" } @else { code { (m.scan_flags().join(" ")) } } }
                        dt { "Next scan" } dd { (m.next_due_at) }
                        dt { "Added by" } dd { (m.origin) }
                    }
                    @if may_change {
                        form method="post" action={ "/domains/" (name) "/remove" } {
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" id="remove-domain" { "Stop monitoring" }
                        }
                    }
                }
            }
        }
        section {
            h2 { "Ownership" }
            p { "Reports and alerts for a domain need its ownership shown: publish a TXT record at "
                code { (ownership::challenge_name(name)) } " holding the token, then check it." }
            @match claim {
                None => p { "Not claimed." },
                Some(o) => {
                    dl.facts {
                        dt { "State" } dd id="ownership-state" { (o.state) }
                        dt { "Record to publish" } dd { code id="ownership-record" { (o.record()) } }
                        dt { "Latest check" } dd { (o.last_check.as_deref().unwrap_or("none")) " " (o.checked_at.as_deref().unwrap_or("")) }
                        @if let Some(by) = &o.verified_by { dt { "Shown by" } dd { (by) " at " (o.verified_at.as_deref().unwrap_or("")) } }
                        @if let Some(r) = &o.override_reason { dt { "Override reason" } dd { (r) } }
                    }
                }
            }
            @if may_change {
                @if claim.is_none() {
                    (csrf_button(name, "claim", csrf, "Claim (get the token)"))
                } @else if !claim.is_some_and(Ownership::is_shown) {
                    (csrf_button(name, "verify", csrf, "Check the TXT record now"))
                }
            }
            @if c.principal.role.may_administer() && !claim.is_some_and(Ownership::is_shown) {
                form method="post" action={ "/domains/" (name) "/ownership/override" } {
                    input type="hidden" name="csrf" value=(csrf);
                    label for="reason" { "Admin override: why is ownership shown without the record?" }
                    input id="reason" name="reason" required;
                    button type="submit" id="ownership-override" { "Override (audit-logged)" }
                }
            }
        }
    }
}

fn csrf_button(name: &str, action: &str, csrf: &str, label: &str) -> Markup {
    html! {
        form method="post" action={ "/domains/" (name) "/ownership/" (action) } {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" id={ "ownership-" (action) } { (label) }
        }
    }
}

#[derive(Deserialize)]
struct CsrfReason {
    csrf: Option<String>,
    reason: Option<String>,
}

async fn remove(
    State(state): State<AppState>,
    c: PageCaller,
    Path(name): Path<String>,
    Form(f): Form<CsrfReason>,
) -> Response {
    let may = c.principal.role.may_change();
    let d = match guarded(&state, &c, &name, f.csrf.as_deref(), may).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    match tenant_monitor::remove(&state.store, &d).await {
        Ok(_) => back(d.name(), "removed"),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The ownership forms: `claim`, `verify`, and an admin's `override`.
async fn ownership_action(
    State(state): State<AppState>,
    c: PageCaller,
    Path((name, action)): Path<(String, String)>,
    Form(f): Form<CsrfReason>,
) -> Response {
    let may = match action.as_str() {
        "claim" | "verify" => c.principal.role.may_change(),
        "override" => c.principal.role.may_administer(),
        _ => return error(StatusCode::NOT_FOUND, "No such page."),
    };
    let d = match guarded(&state, &c, &name, f.csrf.as_deref(), may).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let scope = c.principal.scope;
    let done = match action.as_str() {
        "claim" => ownership::claim(&state.store, scope, d.name()).await.map(|_| "claimed"),
        "verify" => match manage::run_check(&state, &c.principal, &d).await {
            Ok((_, ownership::CheckOutcome::Verified)) => Ok("verified"),
            Ok((_, ownership::CheckOutcome::Indeterminate(_))) => Ok("indeterminate"),
            Ok(_) => Ok("failed"),
            Err(p) => return error(p.status, &p.detail),
        },
        _ => {
            let reason = f.reason.unwrap_or_default();
            if reason.trim().is_empty() {
                return error(StatusCode::BAD_REQUEST, "Say why ownership is taken as shown.");
            }
            let by = &c.principal.email;
            ownership::override_claim(&state.store, scope, d.name(), by, &reason)
                .await
                .map(|_| "overridden")
        }
    };
    match done {
        Ok(notice) => back(d.name(), notice),
        Err(e) => error(StatusCode::BAD_REQUEST, &e.to_string()),
    }
}
