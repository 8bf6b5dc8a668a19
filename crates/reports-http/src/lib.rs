//! Reports over HTTP (issue 14): the routes of [`routes::report_routes`]
//! (RFC 8460 TLS report POST, authenticated upload of any report file),
//! mounted by `mailwarden reports serve` through [`server::serve`] and,
//! later, by the web service.

pub mod answer;
pub mod routes;
pub mod server;
pub mod token;

/// The routes' type, for mounting them without depending on axum.
pub use axum::Router;
pub use routes::{Admission, Decision, Refusal, ReportsState, Tenancy, report_routes};
pub use server::serve;
pub use token::Token;
