//! Managing domains from the web (issue 16, analyst and admin): add one to
//! monitoring with its period and scan options, remove it, claim it and
//! check its ownership (DNS TXT token), and, for an admin, vouch for its
//! ownership with a reason. API handlers here; the pages are in
//! `domains_pages`. Everything goes through the tenant's scope:
//! another tenant's domain is a 404 like a missing one, and adding it is
//! refused the same way, never naming the other tenant.
//!
//! Scan options from the web are an allow-list: the flags that read files
//! on the server (`--zone-file`, `--ca-file`, `--trust-anchor`) or reach
//! other hosts (`--resolver`, `--allow-private-targets`, `--ns-port`) are
//! the operator's, set with `mailwarden monitor add`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use mailwarden_store::ownership::{self, CheckOutcome};
use mailwarden_store::tenant::OwnedDomain;
use mailwarden_store::tenant_monitor::{self, AddRefused};
use mailwarden_store::user::Principal;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::ApiCaller;
use crate::problem::Problem;

/// The scan flags a web user may set, and whether each takes a value.
const WEB_FLAGS: &[(&str, bool)] = &[
    ("--no-smtp", false),
    ("--no-https", false),
    ("--parked", false),
    ("--profile", true),
    ("--dkim-selector", true),
    ("--checks", true),
];

/// A new monitor's settings, from the API's JSON or the page's form.
#[derive(Debug, Deserialize)]
pub struct NewMonitor {
    pub domain: String,
    #[serde(default)]
    pub every: Option<String>,
    #[serde(default)]
    pub scan_flags: Vec<String>,
}

/// A checked monitor request: the domain normalised, the period in seconds.
pub(crate) struct Checked {
    pub domain: String,
    pub every_secs: i64,
    pub flags: Vec<String>,
}

/// Check a new monitor's settings; the error says which field is wrong.
pub(crate) fn check(state: &AppState, m: &NewMonitor) -> Result<Checked, String> {
    let domain = normalise(&m.domain)?;
    let every = m
        .every
        .clone()
        .filter(|e| !e.trim().is_empty())
        .unwrap_or_else(|| "1h".into());
    let every_secs = mailwarden_store::retention::parse_period(every.trim()).map_err(|e| format!("every: {e}"))?;
    if every_secs < 60 {
        return Err(format!("every: {every}: at least 1m between scans of one domain"));
    }
    allowed_flags(&m.scan_flags)?;
    if let Some(check) = &state.domains.check_flags {
        check(&domain, &m.scan_flags).map_err(|e| format!("scan_flags: {e}"))?;
    }
    Ok(Checked {
        domain,
        every_secs,
        flags: m.scan_flags.clone(),
    })
}

/// A domain name as typed: lower case, no trailing dot, DNS syntax.
pub(crate) fn normalise(input: &str) -> Result<String, String> {
    let name = mailwarden_model::DomainName::parse(input.trim()).map_err(|e| format!("domain: {input:?}: {e}"))?;
    let name = name.as_str().trim_end_matches('.').to_ascii_lowercase();
    if !name.contains('.') {
        return Err(format!(
            "domain: {input:?}: expected a registered name such as example.com"
        ));
    }
    Ok(name)
}

/// Refuse scan flags outside [`WEB_FLAGS`] (and built-in profile names only).
pub(crate) fn allowed_flags(flags: &[String]) -> Result<(), String> {
    let mut it = flags.iter();
    while let Some(flag) = it.next() {
        let Some((_, takes_value)) = WEB_FLAGS.iter().find(|(f, _)| f == flag) else {
            return Err(format!(
                "scan_flags: {flag:?} cannot be set from the web (allowed: {}); an operator sets other options with \
                 `mailwarden monitor add`",
                WEB_FLAGS.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
            ));
        };
        if *takes_value {
            let Some(value) = it.next() else {
                return Err(format!("scan_flags: {flag} needs a value"));
            };
            if flag == "--profile" && (value.contains('/') || value.ends_with(".toml")) {
                return Err(format!(
                    "scan_flags: --profile {value:?}: only built-in profile names from the web, not files"
                ));
            }
        }
    }
    Ok(())
}

/// Add a monitor for the caller's tenant; `Ok(None)`: another tenant's.
pub(crate) async fn add_monitor(
    state: &AppState,
    who: &Principal,
    checked: &Checked,
) -> Result<Option<OwnedDomain>, Problem> {
    let origin = format!("web:{}", who.email);
    match tenant_monitor::add(
        &state.store,
        who.scope,
        &checked.domain,
        checked.every_secs,
        &checked.flags,
        &origin,
    )
    .await
    {
        Ok(d) => Ok(Some(d)),
        Err(AddRefused::OtherTenant) => Ok(None),
        Err(AddRefused::Store(e)) => Err(e.into()),
    }
}

pub(crate) fn body<T>(b: Result<Json<T>, axum::extract::rejection::JsonRejection>) -> Result<T, Problem> {
    b.map(|Json(t)| t)
        .map_err(|e| Problem::bad_request(format!("the body: {}", e.body_text())))
}

pub(crate) async fn api_add(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    b: Result<Json<NewMonitor>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    if !who.role.may_change() {
        return Err(Problem::forbidden("manage domains"));
    }
    let checked = check(&state, &body(b)?).map_err(Problem::bad_request)?;
    let Some(domain) = add_monitor(&state, &who, &checked).await? else {
        return Err(Problem::not_found());
    };
    let monitor = tenant_monitor::get(&state.store, &domain).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"domain": domain.name(), "monitor": monitor})),
    )
        .into_response())
}

/// The caller's domain `name` (404 otherwise), then the role (403).
async fn owned_to_change(state: &AppState, who: &Principal, name: &str, allowed: bool) -> Result<OwnedDomain, Problem> {
    let domain = crate::api::owned(state, who, name).await?;
    if !allowed {
        return Err(Problem::forbidden("manage domains or their ownership"));
    }
    Ok(domain)
}

pub(crate) async fn api_remove(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = owned_to_change(&state, &who, &name, who.role.may_change()).await?;
    let removed = tenant_monitor::remove(&state.store, &domain).await?;
    Ok(Json(json!({"domain": domain.name(), "monitored": false, "removed": removed})).into_response())
}

pub(crate) async fn api_list_ownership(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
) -> Result<Response, Problem> {
    let items = ownership::list(&state.store, who.scope).await?;
    Ok(Json(json!({"items": items.iter().map(ownership_json).collect::<Vec<_>>()})).into_response())
}

/// A claim as the API shows it, with the record to publish.
pub(crate) fn ownership_json(o: &ownership::Ownership) -> Value {
    json!({
        "domain": o.domain, "state": o.state, "shown": o.is_shown(),
        "record": {"name": ownership::challenge_name(&o.domain), "type": "TXT",
                   "value": format!("{}{}", ownership::TXT_PREFIX, o.token), "zone_line": o.record()},
        "created_at": o.created_at, "checked_at": o.checked_at, "last_check": o.last_check,
        "verified_at": o.verified_at, "verified_by": o.verified_by, "override_reason": o.override_reason,
    })
}

pub(crate) async fn api_ownership(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = crate::api::owned(&state, &who, &name).await?;
    let claim = ownership::get(&state.store, who.scope, domain.name()).await?;
    Ok(Json(json!({"domain": domain.name(), "ownership": claim.as_ref().map(ownership_json)})).into_response())
}

pub(crate) async fn api_claim(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = owned_to_change(&state, &who, &name, who.role.may_change()).await?;
    let claim = ownership::claim(&state.store, who.scope, domain.name()).await?;
    Ok((StatusCode::CREATED, Json(ownership_json(&claim))).into_response())
}

/// Run the check; the outcome and the stored claim, or why it could not run.
pub(crate) async fn run_check(
    state: &AppState,
    who: &Principal,
    domain: &OwnedDomain,
) -> Result<(ownership::Ownership, CheckOutcome), Problem> {
    if ownership::get(&state.store, who.scope, domain.name()).await?.is_none() {
        ownership::claim(&state.store, who.scope, domain.name()).await?;
    }
    let Some(dns) = state.domains.dns.clone() else {
        // Nothing was asked, so nothing is known: indeterminate, not failed.
        let outcome = CheckOutcome::Indeterminate("this server has no DNS source configured".into());
        let stored = ownership::record_check(&state.store, who.scope, domain.name(), &outcome).await?;
        return Ok((stored, outcome));
    };
    Ok(crate::ownership::verify(&state.store, who.scope, domain.name(), dns.as_ref()).await?)
}

pub(crate) async fn api_verify(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
) -> Result<Response, Problem> {
    let domain = owned_to_change(&state, &who, &name, who.role.may_change()).await?;
    let (claim, outcome) = run_check(&state, &who, &domain).await?;
    Ok(Json(json!({"outcome": outcome, "ownership": ownership_json(&claim)})).into_response())
}

#[derive(Deserialize)]
pub(crate) struct Reason {
    reason: String,
}

pub(crate) async fn api_override(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
    b: Result<Json<Reason>, axum::extract::rejection::JsonRejection>,
) -> Result<Response, Problem> {
    let domain = owned_to_change(&state, &who, &name, who.role.may_administer()).await?;
    let reason = body(b)?.reason;
    if reason.trim().is_empty() {
        return Err(Problem::bad_request("reason: say why ownership is taken as shown"));
    }
    let claim = ownership::override_claim(&state.store, who.scope, domain.name(), &who.email, &reason).await?;
    Ok((StatusCode::CREATED, Json(ownership_json(&claim))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn web_scan_flags_are_an_allow_list() {
        allowed_flags(&flags("--no-smtp --profile baseline --dkim-selector s1 --checks spf")).unwrap();
        for refused in [
            "--zone-file /etc/passwd",
            "--allow-private-targets",
            "--resolver 10.0.0.1",
            "--ca-file /x.pem",
            "--profile /etc/mw/p.toml",
            "--profile",
        ] {
            let err = allowed_flags(&flags(refused)).unwrap_err();
            assert!(err.starts_with("scan_flags:"), "{refused}: {err}");
        }
    }

    #[test]
    fn domains_are_normalised_and_bare_labels_refused() {
        assert_eq!(normalise(" Example.COM. ").unwrap(), "example.com");
        assert!(normalise("localhost").unwrap_err().contains("registered name"));
        assert!(normalise("exa mple.com").is_err());
    }
}
