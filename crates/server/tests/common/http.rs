//! One request to the in-process service and its answer, for the tests of
//! downloads (exports, evidence): status, content type and the bytes.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

/// `GET uri` with one header (`authorization` or `cookie`).
pub async fn download(app: &Router, uri: &str, auth: (&str, &str)) -> (StatusCode, String, Vec<u8>) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).header(auth.0, auth.1).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let mime = res
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(res.into_body(), 50 << 20).await.unwrap();
    (status, mime, bytes.to_vec())
}
