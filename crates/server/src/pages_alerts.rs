//! Alert destinations managed from the web (issue 16): the tenant's
//! webhooks, e-mail addresses and syslog collectors with their delivery
//! status (`/alerts/destinations`, `GET /api/v1/alerts/destinations`);
//! analysts and admins add, remove and test them with CSRF-protected
//! forms. Every change is audit-logged by the store in the same
//! transaction (`alert-destination-added` / `-removed`). Another tenant's
//! destination id is "no such destination", a 404. A destination added
//! here gets an alert about a domain only once the tenant has shown
//! ownership of it (issue 16); until then the delivery is held, and the
//! page says so (`mailwarden_store::alert_hold`).

use axum::Json;
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use mailwarden_alert::Destination;
use mailwarden_store::tenant_alerts::{self, DestinationStatus};
use maud::html;
use serde::Deserialize;
use serde_json::json;

use crate::AppState;
use crate::auth::{ApiCaller, PageCaller};
use crate::pages::{failed, nav};
use crate::problem::Problem;
use crate::views::{self, Nav, page};

/// `GET /api/v1/alerts/destinations`.
pub(crate) async fn api_destinations(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Response, Problem> {
    let items = tenant_alerts::statuses(&state.store, who.scope).await?;
    Ok(Json(json!({"items": items})).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Notice {
    notice: Option<String>,
}

/// `GET /alerts/destinations[?notice=...]`.
pub(crate) async fn page_destinations(
    State(state): State<AppState>,
    c: PageCaller,
    Query(q): Query<Notice>,
) -> Response {
    match tenant_alerts::statuses(&state.store, c.principal.scope).await {
        Ok(list) => render(&nav(&c), &list, c.principal.role.may_change(), q.notice.as_deref()).into_response(),
        Err(e) => failed(&e),
    }
}

/// The add form's fields; which are used depends on `kind`.
#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct AddForm {
    pub(crate) csrf: String,
    pub(crate) kind: String,
    /// Webhook URL, e-mail recipient, or syslog HOST:PORT.
    pub(crate) target: String,
    pub(crate) secret: String,
    pub(crate) smtp: String,
    pub(crate) starttls: Option<String>,
    pub(crate) tcp: Option<String>,
}

/// The destination the form describes, or what is wrong with it.
pub(crate) fn destination(f: &AddForm) -> Result<Destination, String> {
    let target = f.target.trim();
    match f.kind.as_str() {
        "webhook" => {
            let secret = Some(f.secret.trim().to_owned()).filter(|s| !s.is_empty());
            Destination::webhook(target, secret)
        }
        "email" => Destination::email(target, f.smtp.trim(), f.starttls.is_some(), None, None),
        "syslog" => Destination::syslog(target, f.tcp.is_some()),
        other => return Err(format!("type {other:?}: expected webhook, email or syslog")),
    }
    .map_err(|e| e.to_string())
}

/// The checks of every change, the form's CSRF token, then the role: the
/// refusal, if any.
fn refusal(c: &PageCaller, csrf: &str) -> Option<Response> {
    if !c.csrf_ok(csrf) {
        return Some(views::error_page(
            StatusCode::FORBIDDEN,
            "The form's CSRF token is missing or wrong; reload the page.",
        ));
    }
    if !c.principal.role.may_change() {
        return Some(views::error_page(
            StatusCode::FORBIDDEN,
            "Your role may not manage alert destinations.",
        ));
    }
    None
}

fn back(notice: &str) -> Response {
    let notice: String = notice
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    Redirect::to(&format!("/alerts/destinations?notice={notice}")).into_response()
}

/// `POST /alerts/destinations`: add one.
pub(crate) async fn add(State(state): State<AppState>, c: PageCaller, Form(f): Form<AddForm>) -> Response {
    if let Some(r) = refusal(&c, &f.csrf) {
        return r;
    }
    let d = match destination(&f) {
        Ok(d) => d,
        Err(e) => return views::error_page(StatusCode::BAD_REQUEST, &e),
    };
    match tenant_alerts::add(&state.store, c.principal.scope, &d, &c.principal.email).await {
        Ok(id) => back(&format!("Destination {id} added: {d}.")),
        Err(e) => failed(&e),
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct CsrfOnly {
    csrf: String,
}

/// `POST /alerts/destinations/{id}/remove`.
pub(crate) async fn remove(
    State(state): State<AppState>,
    c: PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = refusal(&c, &f.csrf) {
        return r;
    }
    match tenant_alerts::remove(&state.store, c.principal.scope, id, &c.principal.email).await {
        Ok(true) => back(&format!("Destination {id} removed.")),
        Ok(false) => views::error_page(StatusCode::NOT_FOUND, "No such alert destination."),
        Err(e) => failed(&e),
    }
}

/// `POST /alerts/destinations/{id}/test`: send a test alert now.
pub(crate) async fn test(
    State(state): State<AppState>,
    c: PageCaller,
    Path(id): Path<i64>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Some(r) = refusal(&c, &f.csrf) {
        return r;
    }
    match tenant_alerts::test(&state.store, c.principal.scope, id).await {
        Ok(Some(Ok(()))) => back(&format!("Test alert delivered to destination {id}.")),
        Ok(Some(Err(e))) => back(&format!("Test alert to destination {id} FAILED: {e}")),
        Ok(None) => views::error_page(StatusCode::NOT_FOUND, "No such alert destination."),
        Err(e) => failed(&e),
    }
}

/// Who added a destination, in words.
fn origin(added_by: Option<&str>) -> String {
    match added_by.and_then(|a| a.strip_prefix(mailwarden_store::alert_hold::WEB_PREFIX)) {
        Some("") => "through the web".to_owned(),
        Some(email) => format!("through the web by {email}"),
        None => "by the operator (CLI): not gated by ownership".to_owned(),
    }
}

fn render(nav: &Nav<'_>, list: &[DestinationStatus], may_change: bool, notice: Option<&str>) -> Html<String> {
    page(
        "Alert destinations",
        Some(nav),
        html! {
            @if let Some(n) = notice { p.notice role="status" id="notice" { (n) } }
            p { a href="/alerts" { "The alerts and their delivery" } }
            @if list.is_empty() { p { "No destinations: this tenant's alerts wait in the outbox until one is added." } }
            p id="ownership-gate" { "A destination added here gets an alert about a domain only once this tenant has shown ownership of the domain (claim it, publish its DNS TXT record and verify it, or an admin overrides); until then the alert is held for it, not lost." }
            table id="destinations" {
                thead { tr { th { "Id" } th { "Destination" } th { "Added" } th { "Delivered" } th { "Failed" } th { "Held" } th { "Last error" }
                    @if may_change { th { "Manage" } } } }
                tbody { @for d in list { tr {
                    td { (d.id) } td { (d.destination) } td { (d.added_at) br; span.muted { (origin(d.added_by.as_deref())) } }
                    td.num { (d.sent) } td.num { (d.failed) } td.num { (d.held) }
                    td { @if let Some(e) = &d.last_error { (e) br; span.muted { (d.last_attempt_at.as_deref().unwrap_or("")) } } }
                    @if may_change { td {
                        form method="post" action={ "/alerts/destinations/" (d.id) "/test" } {
                            input type="hidden" name="csrf" value=(nav.csrf);
                            button type="submit" id={ "test-" (d.id) } { "Send a test alert" }
                        }
                        form method="post" action={ "/alerts/destinations/" (d.id) "/remove" } {
                            input type="hidden" name="csrf" value=(nav.csrf);
                            button type="submit" id={ "remove-" (d.id) } { "Remove" }
                        }
                    } }
                } } }
            }
            @if may_change {
                h2 { "Add a destination" }
                form.add method="post" action="/alerts/destinations" {
                    input type="hidden" name="csrf" value=(nav.csrf);
                    label for="kind" { "Type" }
                    select id="kind" name="kind" {
                        option value="webhook" { "webhook (POST JSON)" }
                        option value="email" { "e-mail through an SMTP relay" }
                        option value="syslog" { "syslog (RFC 5424)" }
                    }
                    label for="target" { "URL, recipient address, or syslog HOST:PORT" }
                    input id="target" name="target" required;
                    label for="secret" { "Webhook secret (optional: signs each POST with HMAC-SHA256)" }
                    input id="secret" name="secret" type="password" autocomplete="off";
                    label for="smtp" { "E-mail: the relay, HOST:PORT" }
                    input id="smtp" name="smtp";
                    label { input type="checkbox" name="starttls" value="1"; " E-mail: require STARTTLS" }
                    label { input type="checkbox" name="tcp" value="1"; " Syslog: TCP instead of UDP" }
                    button type="submit" id="add-destination" { "Add" }
                }
            }
        },
    )
}
