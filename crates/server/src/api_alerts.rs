//! The tenant's alert destinations through the API (issue 16: "JSON API
//! under /api/v1/ for everything the pages show and do"): add, remove and
//! test them as the alert destinations page does (`crate::pages_alerts`),
//! with a Bearer token (no CSRF: no cookie is involved). Analysts and
//! admins change them; another tenant's destination id is a 404 for every
//! role, before the role is looked at. Changes are audit-logged by the
//! store in the same transaction.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mailwarden_store::user::Principal;
use mailwarden_store::{alert_hold, tenant_alerts};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::ApiCaller;
use crate::pages_alerts::{AddForm, destination};
use crate::problem::Problem;

/// The body of `POST /alerts/destinations`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct NewDestination {
    #[serde(rename = "type")]
    kind: String,
    target: String,
    secret: Option<String>,
    smtp: Option<String>,
    starttls: bool,
    tcp: bool,
}

/// The request body's schema, for the OpenAPI document.
pub(crate) fn schema() -> Value {
    json!({"type": "object", "required": ["type", "target"], "additionalProperties": false,
           "properties": {
               "type": {"type": "string", "enum": ["webhook", "email", "syslog"]},
               "target": {"type": "string", "description": "Webhook URL, e-mail recipient, or syslog HOST:PORT."},
               "secret": {"type": "string", "description": "Webhook: signs each POST with HMAC-SHA256 (never shown again)."},
               "smtp": {"type": "string", "description": "E-mail: the relay, HOST:PORT."},
               "starttls": {"type": "boolean", "description": "E-mail: require STARTTLS."},
               "tcp": {"type": "boolean", "description": "Syslog: TCP instead of UDP."}}})
}

impl NewDestination {
    fn form(self) -> AddForm {
        AddForm {
            kind: self.kind,
            target: self.target,
            secret: self.secret.unwrap_or_default(),
            smtp: self.smtp.unwrap_or_default(),
            starttls: self.starttls.then(|| "1".into()),
            tcp: self.tcp.then(|| "1".into()),
            ..AddForm::default()
        }
    }
}

fn may_change(who: &Principal) -> Result<(), Problem> {
    if who.role.may_change() {
        Ok(())
    } else {
        Err(Problem::forbidden("manage alert destinations"))
    }
}

/// The tenant's destination of the path's `id` (404 otherwise, another
/// tenant's and a non-number alike), then the role (403).
async fn ours_to_change(state: &AppState, who: &Principal, id: &str) -> Result<i64, Problem> {
    let id: i64 = id.parse().map_err(|_| Problem::not_found())?;
    let all = tenant_alerts::destinations(&state.store, who.scope).await?;
    if !all.iter().any(|d| d.id == id) {
        return Err(Problem::not_found());
    }
    may_change(who)?;
    Ok(id)
}

/// `POST /api/v1/alerts/destinations`. The destination gets an alert about
/// a domain only once the tenant has shown ownership of it (issue 16;
/// `added_by` in the answer says whose it is).
pub(crate) async fn api_add(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    b: Result<Json<NewDestination>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    may_change(&who)?;
    let new = crate::domains_manage::body(b)?;
    let d = destination(&new.form()).map_err(Problem::bad_request)?;
    let id = tenant_alerts::add(&state.store, who.scope, &d, &who.email).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": id, "type": d.kind(), "destination": d.to_string(), "added_by": alert_hold::web_origin(&who.email)})),
    )
        .into_response())
}

/// `DELETE /api/v1/alerts/destinations/{id}`.
pub(crate) async fn api_remove(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = ours_to_change(&state, &who, &id).await?;
    if !tenant_alerts::remove(&state.store, who.scope, id, &who.email).await? {
        return Err(Problem::not_found());
    }
    Ok(Json(json!({"id": id, "removed": true})).into_response())
}

/// `POST /api/v1/alerts/destinations/{id}/test`: send a test alert now;
/// a failed delivery is a 200 saying so (the request itself worked).
pub(crate) async fn api_test(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let id = ours_to_change(&state, &who, &id).await?;
    match tenant_alerts::test(&state.store, who.scope, id).await? {
        None => Err(Problem::not_found()),
        Some(Ok(())) => Ok(Json(json!({"id": id, "delivered": true, "error": null})).into_response()),
        Some(Err(e)) => Ok(Json(json!({"id": id, "delivered": false, "error": e.to_string()})).into_response()),
    }
}
