//! The evidence bundle of one of the caller's domains for an auditor
//! (auditor and admin; issue 16): the bundle `mailwarden evidence` writes
//! (`mailwarden_store::evidence_bundle`), as a zip archive from the domain
//! page (`/domains/{domain}/evidence.zip`) or as JSON from the API
//! (`/api/v1/domains/{domain}/evidence`). Each download is an export: it
//! appends its `evidence-exported` audit event, like the CLI. Nothing is
//! exported from an audit log that does not verify. Another tenant's
//! domain: 404, before the role is looked at.

use std::collections::HashMap;
use std::io::Write as _;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mailwarden_store::evidence::Period;
use mailwarden_store::evidence_bundle::{Bundle, build_owned};
use mailwarden_store::user::Principal;
use serde_json::{Map, Value, json};

use crate::auth::{ApiCaller, PageCaller};
use crate::problem::Problem;
use crate::{AppState, api, views};

/// What the README says the bundle came from (never the database URL,
/// which may carry a password).
const SOURCE: &str = "mailwarden serve";

async fn bundle(
    state: &AppState,
    who: &Principal,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<Bundle, Problem> {
    let domain = api::owned(state, who, name).await?;
    if !who.role.may_audit() {
        return Err(Problem::forbidden("export evidence"));
    }
    let period = Period::parse(
        query.get("since").map(String::as_str).filter(|s| !s.is_empty()),
        query.get("until").map(String::as_str).filter(|s| !s.is_empty()),
    )
    .map_err(|e| Problem::bad_request(e.to_string().replace("--since", "since").replace("--until", "until")))?;
    if let Err(tamper) = mailwarden_store::audit_log::verify(&state.store, None).await?.outcome {
        return Err(Problem::new(
            StatusCode::CONFLICT,
            format!("the audit log does not verify ({tamper}); no evidence exported"),
        ));
    }
    Ok(build_owned(&state.store, &domain, period, SOURCE).await?)
}

/// `GET /api/v1/domains/{domain}/evidence[?since=&until=]`: the files as JSON text.
pub(crate) async fn api_evidence(
    State(state): State<AppState>,
    ApiCaller(who): ApiCaller,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, Problem> {
    let b = bundle(&state, &who, &name, &q).await?;
    let files: Map<String, Value> = b
        .files
        .iter()
        .map(|(path, bytes)| {
            (
                (*path).to_owned(),
                Value::String(String::from_utf8_lossy(bytes).into_owned()),
            )
        })
        .collect();
    Ok(Json(json!({"domain": b.collected.domain, "files": files})).into_response())
}

/// The files as a zip archive, under a directory named after the domain.
fn zip(b: &Bundle) -> Result<Vec<u8>, Problem> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (path, bytes) in &b.files {
        w.start_file(format!("evidence-{}/{path}", b.collected.domain), options)
            .map_err(|e| Problem::internal(&e))?;
        w.write_all(bytes).map_err(|e| Problem::internal(&e))?;
    }
    Ok(w.finish().map_err(|e| Problem::internal(&e))?.into_inner())
}

/// `GET /domains/{domain}/evidence.zip[?since=&until=]` for a signed-in auditor or admin.
pub(crate) async fn page_evidence(
    State(state): State<AppState>,
    c: PageCaller,
    Path(name): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let built = bundle(&state, &c.principal, &name, &q)
        .await
        .and_then(|b| Ok((zip(&b)?, b.collected.domain)));
    let (archive, domain) = match built {
        Ok(a) => a,
        Err(p) => return views::error_page(p.status, &p.detail),
    };
    let mut r = (StatusCode::OK, archive).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"evidence-{domain}.zip\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
