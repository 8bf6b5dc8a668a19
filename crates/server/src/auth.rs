//! Who is calling. Pages: a server-side session named by an HttpOnly,
//! SameSite=Strict cookie (Secure behind TLS), with a CSRF token that every
//! state-changing form must echo. API: `Authorization: Bearer mwt_...`
//! only, so a browser's ambient cookie can never drive the API (no CSRF).
//! Logins are rate-limited per client address, and accounts lock after
//! repeated failures (`mailwarden_store::user`).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router, routing::get, routing::post};
use mailwarden_store::user::{self, Principal};
use mailwarden_store::{session, token};
use serde::Deserialize;

use crate::problem::Problem;
use crate::{AppState, views};

pub const SESSION_COOKIE: &str = "mw_session";
/// Double-submit cookie of the login form (there is no session yet).
pub const LOGIN_CSRF_COOKIE: &str = "mw_login_csrf";
/// How long a session lasts.
pub const SESSION_LIFETIME: time::Duration = time::Duration::hours(12);
/// Login attempts per client address per window.
pub const LOGIN_ATTEMPTS: u32 = 10;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(300);

/// An API caller, authenticated by a Bearer token.
#[derive(Debug, Clone)]
pub struct ApiCaller(pub Principal);

impl FromRequestParts<AppState> for ApiCaller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let presented = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        let Some(presented) = presented else {
            return Err(Problem::unauthorized());
        };
        match token::authenticate(&state.store, presented).await {
            Ok(Some(p)) => Ok(ApiCaller(p)),
            Ok(None) => Err(Problem::unauthorized()),
            Err(e) => Err(Problem::internal(&e)),
        }
    }
}

/// A page visitor with a live session; others are sent to the login page.
#[derive(Debug, Clone)]
pub struct PageCaller {
    pub principal: Principal,
    pub csrf: String,
    secret: String,
}

impl PageCaller {
    /// Whether a form's CSRF field is this session's token.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), presented.as_bytes())
    }
}

impl FromRequestParts<AppState> for PageCaller {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) else {
            return Err(Redirect::to("/login").into_response());
        };
        match session::lookup(&state.store, &secret).await {
            Ok(Some((principal, csrf))) => Ok(PageCaller {
                principal,
                csrf,
                secret,
            }),
            Ok(None) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(views::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string())),
        }
    }
}

/// The client's address, when the server knows it (not in in-process tests).
pub struct ClientIp(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientIp(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(a)| a.ip()),
        ))
    }
}

/// The value of cookie `name` in the request's Cookie headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fixed-window counter of login attempts per client address. In memory:
/// per process; the per-account lockout in the database holds across them.
#[derive(Debug, Default)]
pub struct LoginLimiter {
    windows: Mutex<HashMap<Option<IpAddr>, (Instant, u32)>>,
}

impl LoginLimiter {
    /// Count one attempt from `ip`; false when it is over the limit.
    pub fn allow(&self, ip: Option<IpAddr>, now: Instant) -> bool {
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        windows.retain(|_, (start, _)| now.duration_since(*start) < LOGIN_WINDOW);
        let (_, count) = windows.entry(ip).or_insert((now, 0));
        *count += 1;
        *count <= LOGIN_ATTEMPTS
    }
}

fn secure(state: &AppState, headers: &HeaderMap) -> bool {
    state.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"https"))
}

fn set_cookie(name: &str, value: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
}

async fn login_form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    login_page(&state, &headers, StatusCode::OK, None)
}

fn login_page(state: &AppState, headers: &HeaderMap, status: StatusCode, message: Option<&str>) -> Response {
    let csrf = match session_random() {
        Ok(c) => c,
        Err(e) => return views::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e),
    };
    let mut response = (status, views::login(&csrf, message)).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(LOGIN_CSRF_COOKIE, &csrf, 600, secure(state, headers)),
    );
    response
}

fn session_random() -> Result<String, String> {
    let mut bytes = [0u8; 16];
    // Same source as the store's secrets; 128 bits suffice for a form token.
    getrandom_fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn getrandom_fill(bytes: &mut [u8]) -> Result<(), String> {
    getrandom::fill(bytes).map_err(|e| format!("no randomness: {e}"))
}

/// Missing fields are empty (and refused as such), not a 422.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct LoginForm {
    email: String,
    password: String,
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return login_page(
            &state,
            &headers,
            StatusCode::FORBIDDEN,
            Some("The form expired; try again."),
        );
    }
    if !state.limiter.allow(ip, Instant::now()) {
        state.metrics.login_failed();
        return login_page(
            &state,
            &headers,
            StatusCode::TOO_MANY_REQUESTS,
            Some("Too many login attempts from here; wait a few minutes."),
        );
    }
    let now = time::OffsetDateTime::now_utc();
    let principal = match user::login(&state.store, &form.email, &form.password, now).await {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => {
            state.metrics.login_failed();
            // The same answer for an unknown user, a wrong password and a lock.
            return login_page(
                &state,
                &headers,
                StatusCode::UNAUTHORIZED,
                Some("Wrong e-mail or password, or the account is locked for a while."),
            );
        }
        Err(e) => return views::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    };
    match session::create(&state.store, &principal, SESSION_LIFETIME).await {
        Ok(s) => {
            let mut response = Redirect::to("/domains").into_response();
            let secure = secure(&state, &headers);
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &s.secret, SESSION_LIFETIME.whole_seconds(), secure),
            );
            h.append(header::SET_COOKIE, set_cookie(LOGIN_CSRF_COOKIE, "", 0, secure));
            response
        }
        Err(e) => views::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

#[derive(Default, Deserialize)]
#[serde(default)]
pub struct CsrfForm {
    pub csrf: String,
}

/// End the session server-side (the cookie alone no longer works) and clear it.
async fn logout(
    State(state): State<AppState>,
    caller: PageCaller,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if !caller.csrf_ok(&form.csrf) {
        return views::error_page(StatusCode::FORBIDDEN, "The form's CSRF token is missing or wrong.");
    }
    if let Err(e) = session::revoke(&state.store, &caller.secret).await {
        return views::error_page(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, secure(&state, &headers)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limiter_refuses_after_the_limit_and_forgets_after_the_window() {
        let l = LoginLimiter::default();
        let t = Instant::now();
        let ip = Some(IpAddr::from([127, 0, 0, 1]));
        assert!((0..LOGIN_ATTEMPTS).all(|_| l.allow(ip, t)));
        assert!(!l.allow(ip, t));
        assert!(l.allow(Some(IpAddr::from([127, 0, 0, 2])), t), "per address");
        assert!(l.allow(ip, t + LOGIN_WINDOW));
    }

    #[test]
    fn cookies_are_read_from_any_cookie_header() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; mw_session=abc"));
        assert_eq!(cookie(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
