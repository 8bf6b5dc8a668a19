//! The request log (issue 16): one structured line per request with the
//! method, route template, status and latency, and never a secret: a
//! login's password, the session cookie, the CSRF token, a Bearer token,
//! nor the request's own path or query.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, header};
use common::{OURS, PASSWORD, email, services};
use mailwarden_store::user::Role;
use serde_json::Value;
use tower::ServiceExt;

/// Log lines captured in memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_login_and_a_bearer_request_log_their_route_and_status_and_no_secret() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_writer(move || writer.clone())
        .finish();
    // This test's thread only: every poll of the current-thread runtime.
    let _guard = tracing::subscriber::set_default(subscriber);
    for s in services().await {
        let cookie = common::page_session(&s.app, &email("default", Role::Analyst)).await;
        let session = cookie.split_once('=').unwrap().1.to_owned();
        let token = s.tokens[&("default", Role::Viewer)].clone();
        let req = Request::get(format!("/api/v1/domains/{OURS}?secretquery=1"))
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::empty())
            .unwrap();
        assert!(s.app.clone().oneshot(req).await.unwrap().status().is_success());

        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v["message"] == "request")
            .collect();
        let seen = |method: &str, route: &str, status: u64| {
            lines.iter().any(|v| {
                v["method"] == method && v["route"] == route && v["status"] == status && v["latency_ms"].is_f64()
            })
        };
        assert!(seen("POST", "/login", 303), "{}: the login is logged: {text}", s.label);
        assert!(
            seen("GET", "/api/v1/domains/{domain}", 200),
            "{}: the API call: {text}",
            s.label
        );
        for secret in [
            PASSWORD,
            "correct+horse",
            &session,
            &token,
            "secretquery",
            OURS,
            "Bearer",
        ] {
            assert!(!text.contains(secret), "{}: the log holds {secret:?}: {text}", s.label);
        }
    }
}
