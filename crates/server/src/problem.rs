//! API errors as RFC 9457 problem details (`application/problem+json`):
//! "a way to carry machine-readable details of errors in HTTP response
//! content" (RFC 9457 §1). Another tenant's object and a missing one give
//! the same 404, so a caller learns nothing about others' data.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// One problem: the status, a short title and a detail for this occurrence.
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: String,
}

impl Problem {
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "credentials required: Authorization: Bearer <token> (mailwarden token create)",
        )
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "no such object")
    }

    pub fn forbidden(what: &str) -> Self {
        Self::new(StatusCode::FORBIDDEN, format!("your role may not {what}"))
    }

    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn internal(err: &dyn std::fmt::Display) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {err}"))
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = json!({
            // RFC 9457 §4.2.1: "about:blank" when the status says it all.
            "type": "about:blank",
            "title": self.status.canonical_reason().unwrap_or("Error"),
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        let mut response = (self.status, body.to_string()).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/problem+json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"mailwarden\""),
            );
        }
        response
    }
}

impl From<mailwarden_store::StoreError> for Problem {
    fn from(e: mailwarden_store::StoreError) -> Self {
        match e {
            // Only ever about the caller's own objects (ownership is checked first).
            mailwarden_store::StoreError::NotFound(m) => Problem::new(StatusCode::NOT_FOUND, m),
            other => Problem::internal(&other),
        }
    }
}
