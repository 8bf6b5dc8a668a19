//! `mailwarden user|token|tenant`, `monitor add --tenant` and `serve`
//! through the binary (issue 16), on an SQLite file; the audit key in the
//! test's directory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::support::{mailwarden, repo, run};

fn cmd(dir: &Path) -> Command {
    let mut c = mailwarden();
    c.arg("--db")
        .arg(format!("sqlite:{}", dir.join("t.db").display()))
        .env("MAILWARDEN_AUDIT_KEY", dir.join("audit.key"));
    c
}

fn mw(dir: &Path, args: &[&str]) -> (i32, String, String) {
    run(cmd(dir).args(args))
}

fn ok(dir: &Path, args: &[&str]) -> String {
    let (code, out, err) = mw(dir, args);
    assert_eq!(code, 0, "{args:?}: {err}");
    out
}

fn refused(dir: &Path, args: &[&str], says: &str) {
    let (code, _, err) = mw(dir, args);
    assert_eq!(code, 2, "{args:?} should fail");
    assert!(err.contains(says), "{args:?}: {err}");
}

#[test]
fn users_tokens_and_tenants_and_monitor_add_asks_for_the_tenant_once_there_are_two() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pw = d.join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let pw = pw.display().to_string();
    let zone = repo().join("examples/example.com.zone").display().to_string();
    let monitor = [
        "monitor",
        "add",
        "example.com",
        "--zone-file",
        &zone,
        "--no-smtp",
        "--no-https",
    ];

    ok(
        d,
        &[
            "user",
            "add",
            "Admin@Example.org",
            "--role",
            "admin",
            "--password-file",
            &pw,
        ],
    );
    refused(
        d,
        &["user", "add", "b@example.org", "--role", "boss", "--password-file", &pw],
        "--role \"boss\"",
    );
    refused(
        d,
        &[
            "user",
            "add",
            "admin@example.org",
            "--role",
            "viewer",
            "--password-file",
            &pw,
        ],
        "exists already",
    );
    ok(d, &["tenant", "add", "acme"]);
    refused(
        d,
        &[
            "user",
            "add",
            "v@acme.example",
            "--role",
            "viewer",
            "--password-file",
            &pw,
        ],
        "--tenant NAME",
    );
    ok(
        d,
        &[
            "user",
            "add",
            "v@acme.example",
            "--tenant",
            "acme",
            "--role",
            "viewer",
            "--password-file",
            &pw,
        ],
    );
    refused(d, &monitor, "say which with --tenant NAME");
    ok(d, &[&monitor[..], &["--tenant", "acme"]].concat());
    refused(
        d,
        &[&monitor[..], &["--tenant", "default"]].concat(),
        "belongs to tenant \"acme\"",
    );
    refused(d, &[&monitor[..], &["--tenant", "nope"]].concat(), "no such tenant");

    let out = ok(
        d,
        &["token", "create", "--user", "admin@example.org", "--expires", "30d"],
    );
    let last = out.lines().last().unwrap();
    assert!(
        last.starts_with("mwt_") && last.len() == 68 && !last.contains(' '),
        "{out}"
    );
    assert!(ok(d, &["token", "list"]).contains("admin@example.org\tcreated"));
    assert!(!ok(d, &["token", "list"]).contains(last), "never the token itself");
    ok(d, &["token", "revoke", "1"]);
    refused(d, &["token", "revoke", "1"], "no such live token");
    assert!(ok(d, &["user", "list", "--tenant", "acme"]).contains("v@acme.example\tviewer"));
}

/// One HTTP/1.1 GET on loopback; (status line, body).
fn get(port: u16, path: &str, token: Option<&str>) -> Option<(String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Connection: close\r\n\r\n"
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_owned(), body.to_owned()))
}

#[test]
fn serve_answers_healthz_and_the_api_with_a_token_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let zone = repo().join("examples/example.com.zone").display().to_string();
    ok(
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
    let token = token_of(d, "a@example.org", "analyst");

    let (serve, port) = mailwarden_test_support::serve::spawn_serve(cmd(d).stderr(Stdio::piped()), &[]);
    let health = get(port, "/healthz", None).expect("serve answers");
    assert_eq!(health, ("HTTP/1.1 200 OK".into(), "ok\n".into()));
    let (status, _) = get(port, "/api/v1/domains", None).unwrap();
    assert!(status.contains("401"), "{status}");
    let (status, body) = get(port, "/api/v1/domains", Some(&token)).unwrap();
    assert!(
        status.contains("200") && body.contains("\"domain\":\"example.com\""),
        "{status} {body}"
    );

    let killed = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = serve.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mailwarden: stopped"));
}

/// A new user of `role` and their API token (the last line `token create` prints).
fn token_of(dir: &Path, email: &str, role: &str) -> String {
    let pw = dir.join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    let pw = pw.display().to_string();
    ok(dir, &["user", "add", email, "--role", role, "--password-file", &pw]);
    ok(dir, &["token", "create", "--user", email])
        .lines()
        .last()
        .unwrap()
        .to_owned()
}

/// The latest stored Observation of the default tenant's `domain`, as JSON.
fn stored_observation(dir: &Path, domain: &str) -> String {
    let url = format!("sqlite:{}", dir.join("t.db").display());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let store = mailwarden_store::Store::open(&url).await.unwrap();
        let scope = mailwarden_store::tenant::scope_named(&store, "default").await.unwrap();
        let owned = scope
            .domain(&store, domain)
            .await
            .unwrap()
            .expect("the tenant's domain");
        let latest = mailwarden_store::tenant_scans::latest(&store, &owned).await.unwrap();
        serde_json::to_string(&latest.expect("a stored scan").observation).unwrap()
    })
}

#[test]
fn the_html_and_sarif_downloads_equal_what_judge_writes_for_the_stored_observation() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A copy of the zone, removed before `judge` runs: the server reads no
    // file, so neither may judge for the two to be compared.
    let zone = d.join("example.com.zone");
    std::fs::copy(repo().join("examples/example.com.zone"), &zone).unwrap();
    let zone = zone.display().to_string();
    ok(
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
    ok(d, &["monitor", "run", "--once"]);
    let token = token_of(d, "v@example.org", "viewer");
    let (mut serve, port) = mailwarden_test_support::serve::spawn_serve(cmd(d).stderr(Stdio::null()), &[]);
    let html = get(port, "/api/v1/domains/example.com/report.html", Some(&token)).unwrap();
    let sarif = get(port, "/api/v1/domains/example.com/report.sarif", Some(&token)).unwrap();
    let missing = get(port, "/api/v1/domains/other.example/report.html", Some(&token)).unwrap();
    serve.kill().unwrap();
    serve.wait().unwrap();
    assert!(html.0.contains("200"), "{html:?}");
    assert!(sarif.0.contains("200"), "{}", sarif.1);
    assert!(missing.0.contains("404"), "{missing:?}");

    std::fs::remove_file(&zone).unwrap();
    let evidence = d.join("observation.json");
    std::fs::write(&evidence, stored_observation(d, "example.com")).unwrap();
    let evidence = evidence.display().to_string();
    // judge exits 1 when a finding fails: the output is what counts.
    let (_, judged_html, err) = mw(d, &["judge", &evidence, "--format", "html"]);
    assert!(judged_html.starts_with("<!DOCTYPE html>"), "{err}");
    assert_eq!(html.1, judged_html, "the HTML download is what judge writes");
    let (_, judged_sarif, err) = mw(d, &["judge", &evidence, "--format", "sarif"]);
    assert!(judged_sarif.contains("\"version\": \"2.1.0\""), "{err}");
    assert_eq!(sarif.1, judged_sarif, "the SARIF download is what judge writes");
    // Each download is in the audit log, which still verifies.
    let (code, out, err) = mw(d, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}{err}");
}
