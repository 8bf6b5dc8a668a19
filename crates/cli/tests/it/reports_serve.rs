//! `mailwarden reports serve` on loopback, driven by a real HTTP client
//! (hyper, and rustls for HTTPS): the RFC 8460 TLS report POST, the
//! bearer-token upload, the answers (201, 200, 422, 401, 403, 413, 415)
//! and that nothing refused is stored.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::support::{mailwarden, repo};

const CORPUS: &str = "testdata/reports/ingest";
const TOKEN: &str = "serve-test-token-0123456789";

struct Server {
    child: Child,
    addr: String,
    store: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `reports serve` on a free loopback port, storing into a fresh directory.
fn start(extra: &[&str]) -> Server {
    start_into(&["--store-dir", "STORE_DIR"], extra)
}

/// `reports serve` with `store` (STORE_DIR, DB_FILE: paths in a fresh directory).
fn start_into(store_args: &[&str], extra: &[&str]) -> Server {
    let store = tempfile::tempdir().unwrap();
    let token = store.path().join("token");
    std::fs::write(&token, format!("{TOKEN}\n")).unwrap();
    let place = |a: &&str| {
        a.replace("STORE_DIR", store.path().join("store").to_str().unwrap())
            .replace("DB_FILE", store.path().join("mw.db").to_str().unwrap())
    };
    let mut cmd = mailwarden();
    cmd.args(["reports", "serve", "--listen", "127.0.0.1:0"])
        .args(store_args.iter().map(place))
        .args(extra.iter().map(|a| a.replace("TOKEN_FILE", token.to_str().unwrap())))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    Server { child, addr, store }
}

impl Server {
    fn stored(&self) -> usize {
        std::fs::read_to_string(self.store.path().join("store/index.jsonl")).map_or(0, |t| t.lines().count())
    }
}

struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    json: serde_json::Value,
}

/// POST `body` to `path` with `headers`, over TLS when `tls` is given.
async fn post(
    server: &Server,
    path: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
    tls: Option<Arc<rustls::ClientConfig>>,
) -> Answer {
    let mut request = hyper::Request::post(path).header("host", &server.addr);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let request = request.body(Full::new(Bytes::from(body))).unwrap();
    let tcp = TcpStream::connect(&server.addr).await.unwrap();
    let response = match tls {
        None => {
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp)).await.unwrap();
            tokio::spawn(conn);
            send.send_request(request).await.unwrap()
        }
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").unwrap();
            let stream = tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .unwrap();
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .unwrap();
            tokio::spawn(conn);
            send.send_request(request).await.unwrap()
        }
    };
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    Answer { status, headers, json }
}

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(repo().join(CORPUS).join(name)).unwrap()
}

fn first(a: &Answer, field: &str) -> String {
    a.json["outcomes"][0][field].as_str().unwrap_or_default().to_string()
}

/// POST a corpus file to the TLS report route as `media` (none: no Content-Type).
async fn tlsrpt(s: &Server, media: Option<&str>, file: &str) -> Answer {
    let headers: Vec<(&str, &str)> = media.map(|m| ("content-type", m)).into_iter().collect();
    post(s, "/reports/tlsrpt", &headers, corpus(file), None).await
}

/// Upload a corpus file as `name`, with the right token, a given header, or none.
async fn upload(s: &Server, authorization: Option<&str>, name: &str, file: &str) -> Answer {
    let headers: Vec<(&str, &str)> = authorization.map(|a| ("authorization", a)).into_iter().collect();
    post(s, &format!("/reports/upload?name={name}"), &headers, corpus(file), None).await
}

fn bearer() -> String {
    format!("Bearer {TOKEN}")
}

#[tokio::test]
async fn a_tls_report_post_is_stored_once_201_then_200_for_the_same_report() {
    let s = start(&[]);
    let gz = tlsrpt(&s, Some("application/tlsrpt+gzip"), "tlsrpt-google.json.gz").await;
    assert_eq!(gz.status, 201, "{}", gz.json);
    assert_eq!(
        (first(&gz, "status"), first(&gz, "kind")),
        ("imported".into(), "tlsrpt".into())
    );
    // The same report uncompressed: a sender's retry is not an error.
    let json = tlsrpt(&s, Some("application/tlsrpt+json"), "tlsrpt-google.json").await;
    assert_eq!(json.status, 200, "{}", json.json);
    assert_eq!(first(&json, "status"), "duplicate");
    assert_eq!(first(&json, "id"), first(&gz, "id"));
    assert_eq!(s.stored(), 1);
}

#[tokio::test]
async fn the_tls_report_route_refuses_dmarc_reports_other_media_types_and_bad_reports_storing_nothing() {
    let s = start(&["--token-file", "TOKEN_FILE"]);
    let dmarc = tlsrpt(&s, Some("application/tlsrpt+json"), "agg-7489-google.xml").await;
    assert_eq!(dmarc.status, 422, "{}", dmarc.json);
    assert!(dmarc.json["error"].as_str().unwrap().contains("/reports/upload"));
    let html = tlsrpt(&s, Some("text/html"), "tlsrpt-google.json").await;
    assert_eq!(html.status, 415, "{}", html.json);
    let truncated = tlsrpt(&s, None, "hostile-tlsrpt-truncated.json").await;
    assert_eq!(
        (truncated.status, first(&truncated, "status")),
        (422, "rejected".into())
    );
    assert_eq!(s.stored(), 0);
    // The refused aggregate report was not stored: uploading it imports it.
    let up = upload(&s, Some(&bearer()), "g.xml", "agg-7489-google.xml").await;
    assert_eq!(
        (up.status, first(&up, "status")),
        (201, "imported".into()),
        "{}",
        up.json
    );
}

#[tokio::test]
async fn uploads_need_the_bearer_token_and_answer_what_import_decided() {
    let s = start(&["--token-file", "TOKEN_FILE"]);
    let none = upload(&s, None, "y.zip", "agg-7489-ns-yahoo.zip").await;
    assert_eq!(none.status, 401);
    assert!(none.headers["www-authenticate"].to_str().unwrap().starts_with("Bearer"));
    let wrong = upload(
        &s,
        Some("Bearer not-the-token-at-all"),
        "y.zip",
        "agg-7489-ns-yahoo.zip",
    )
    .await;
    assert_eq!(wrong.status, 401);
    assert_eq!(s.stored(), 0);
    let ok = upload(&s, Some(&bearer()), "yahoo.zip", "agg-7489-ns-yahoo.zip").await;
    assert_eq!(ok.status, 201, "{}", ok.json);
    assert!(first(&ok, "file").starts_with("upload:yahoo.zip:"), "{}", ok.json);
    let bomb = upload(&s, Some(&bearer()), "b.zip", "hostile-zip-bomb.zip").await;
    assert_eq!(
        (bomb.status, first(&bomb, "reason")),
        (422, "size-limit".into()),
        "{}",
        bomb.json
    );
    assert_eq!(s.stored(), 1);
}

#[tokio::test]
async fn without_a_token_file_uploads_are_forbidden() {
    let s = start(&[]);
    let up = upload(&s, Some(&bearer()), "g.xml", "agg-7489-google.xml").await;
    assert_eq!(up.status, 403, "{}", up.json);
    assert_eq!(s.stored(), 0);
}

#[tokio::test]
async fn a_body_over_the_cap_is_413_and_not_stored() {
    let s = start(&["--max-tlsrpt-size", "100"]);
    let big = tlsrpt(&s, Some("application/tlsrpt+json"), "tlsrpt-google.json").await;
    assert_eq!(big.status, 413);
    assert_eq!(s.stored(), 0);
}

#[tokio::test]
async fn https_with_tls_cert_and_key_takes_reports() {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    let s = start(&[
        "--tls-cert",
        cert_path.to_str().unwrap(),
        "--tls-key",
        key_path.to_str().unwrap(),
    ]);
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let a = post(
        &s,
        "/reports/tlsrpt",
        &[("content-type", "application/tlsrpt+gzip")],
        corpus("tlsrpt-google.json.gz"),
        Some(Arc::new(config)),
    )
    .await;
    assert_eq!((a.status, first(&a, "status")), (201, "imported".into()), "{}", a.json);
    assert_eq!(s.stored(), 1);
}

#[tokio::test]
async fn a_tls_report_post_lands_in_the_database_by_default() {
    let s = start_into(&["--db", "sqlite:DB_FILE"], &[]);
    let a = tlsrpt(&s, Some("application/tlsrpt+gzip"), "tlsrpt-google.json.gz").await;
    assert_eq!((a.status, first(&a, "status")), (201, "imported".into()), "{}", a.json);
    let db = format!("sqlite:{}", s.store.path().join("mw.db").display());
    let (code, listed, err) =
        crate::support::run(mailwarden().args(["--db", &db, "reports", "list", "--format", "json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(listed.lines().count(), 1, "{listed}");
    assert!(listed.contains(&first(&a, "id")), "{listed}");
}

/// `mailwarden serve` (the web service) with an SQLite store in `dir`,
/// on a free loopback port, once it answers `/healthz`.
fn web_serve(dir: &std::path::Path) -> Server {
    let (child, port) =
        mailwarden_test_support::serve::spawn_serve(web_cmd(dir).stdout(Stdio::null()).stderr(Stdio::null()), &[]);
    Server {
        child,
        addr: format!("127.0.0.1:{port}"),
        store: tempfile::tempdir().unwrap(),
    }
}

fn web_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = mailwarden();
    c.arg("--db")
        .arg(format!("sqlite:{}", dir.join("web.db").display()))
        .env("MAILWARDEN_AUDIT_KEY", dir.join("audit.key"));
    c
}

fn web_ok(dir: &std::path::Path, args: &[&str]) -> String {
    let (code, out, err) = crate::support::run(web_cmd(dir).args(args));
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

/// A user of `role` and their API token (the last line `token create` prints).
fn web_token(dir: &std::path::Path, email: &str, role: &str) -> String {
    let pw = dir.join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let pw = pw.display().to_string();
    web_ok(dir, &["user", "add", email, "--role", role, "--password-file", &pw]);
    let out = web_ok(dir, &["token", "create", "--user", email]);
    format!("Bearer {}", out.lines().last().unwrap())
}

#[tokio::test]
async fn serve_takes_uploads_and_tls_reports_only_for_domains_whose_ownership_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let analyst = web_token(d, "a@example.org", "analyst");
    let viewer = web_token(d, "v@example.org", "viewer");
    let s = web_serve(d);

    // No TLS report is taken for a domain no tenant here owns.
    let unowned = tlsrpt(&s, Some("application/tlsrpt+json"), "tlsrpt-google.json").await;
    assert_eq!(unowned.status, 404, "{}", unowned.json);
    assert_eq!(upload(&s, None, "a.xml", "agg-7489-google.xml").await.status, 401);
    // The token of `reports serve` is no account of the web service.
    assert_eq!(
        upload(&s, Some(&bearer()), "a.xml", "agg-7489-google.xml").await.status,
        401
    );
    let read_only = upload(&s, Some(&viewer), "a.xml", "agg-7489-google.xml").await;
    assert_eq!(read_only.status, 403, "{}", read_only.json);
    let listed = web_ok(d, &["reports", "list", "--format", "json"]);
    assert!(listed.trim().is_empty(), "nothing refused is stored: {listed}");

    // Not before the tenant has shown it owns example.com: refused whole,
    // as problem details naming the domain and how to claim it.
    let not_shown = upload(&s, Some(&analyst), "a.xml", "agg-7489-google.xml").await;
    assert_eq!(not_shown.status, 403, "{}", not_shown.json);
    assert_eq!(not_shown.headers["content-type"], "application/problem+json");
    assert_eq!(not_shown.json["domains"], serde_json::json!(["example.com"]));
    let detail = not_shown.json["detail"].as_str().unwrap();
    assert!(
        detail.contains("example.com: ownership not shown") && detail.contains("mailwarden domain claim example.com"),
        "{detail}"
    );
    let listed = web_ok(d, &["reports", "list", "--format", "json"]);
    assert!(listed.trim().is_empty(), "nothing refused is stored: {listed}");
    let zone = repo().join("examples/example.com.zone").display().to_string();
    web_ok(
        d,
        &[
            "monitor",
            "add",
            "example.com",
            "--zone-file",
            &zone,
            "--no-smtp",
            "--no-https",
        ],
    );
    // Owned (monitored) but not shown: a TLS report is not taken either.
    let unshown = tlsrpt(&s, Some("application/tlsrpt+json"), "tlsrpt-google.json").await;
    assert_eq!(unshown.status, 404, "{}", unshown.json);
    web_ok(
        d,
        &["domain", "override", "example.com", "--reason", "the test owns it"],
    );

    let stored = upload(&s, Some(&analyst), "a.xml", "agg-7489-google.xml").await;
    assert_eq!(stored.status, 201, "{}", stored.json);
    let owned = tlsrpt(&s, Some("application/tlsrpt+json"), "tlsrpt-google.json").await;
    assert_eq!(owned.status, 201, "{}", owned.json);

    let listed = web_ok(d, &["reports", "list", "--format", "json"]);
    let ids: Vec<String> = listed
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids.len(), 2, "{listed}");
    assert!(
        ids.contains(&first(&stored, "id")) && ids.contains(&first(&owned, "id")),
        "{listed}"
    );
    // Each request's import is one event of the audit log, which verifies.
    let (code, out, err) = crate::support::run(web_cmd(d).args(["audit", "verify"]));
    assert_eq!(code, 0, "{out}{err}");
}
