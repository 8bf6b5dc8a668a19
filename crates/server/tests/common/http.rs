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

/// A form request (`method uri`, urlencoded `form`) with a session
/// cookie: (status, Location, body).
pub async fn form(app: &Router, method: &str, uri: &str, cookie: &str, form: &str) -> (StatusCode, String, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let location = res
        .headers()
        .get(header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = axum::body::to_bytes(res.into_body(), 10 << 20).await.unwrap();
    (status, location, String::from_utf8_lossy(&bytes).into_owned())
}

/// The benchmarks' timing loop: each `(label, uri, api)` case requested
/// `rounds` times, with the Bearer `token` (API) or the `session` cookie
/// (pages); prints p50 and p95. Every answer must be 200.
pub async fn time_requests(app: &Router, cases: &[(&str, String, bool)], rounds: usize, token: &str, session: &str) {
    for (label, uri, api) in cases {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let req = if *api {
                Request::get(uri).header(header::AUTHORIZATION, format!("Bearer {token}"))
            } else {
                Request::get(uri).header(header::COOKIE, session)
            };
            let t = std::time::Instant::now();
            let res = app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
            let status = res.status();
            axum::body::to_bytes(res.into_body(), 100 << 20).await.unwrap();
            times.push(t.elapsed());
            assert_eq!(status, StatusCode::OK, "{label}");
        }
        times.sort();
        let percentile = |p: usize| times[(times.len() * p / 100).min(times.len() - 1)];
        println!(
            "{label:<40} p50 {:>8.1?}  p95 {:>8.1?}  ({rounds} requests)",
            percentile(50),
            percentile(95)
        );
    }
}
