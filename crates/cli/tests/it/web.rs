//! `mailwarden user|token|tenant`, `monitor add --tenant` and `serve`
//! through the binary (issue 16), on an SQLite file; the audit key in the
//! test's directory.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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
    let pw = d.join("pw");
    std::fs::write(&pw, "correct horse battery\n").unwrap();
    ok(
        d,
        &[
            "user",
            "add",
            "a@example.org",
            "--role",
            "analyst",
            "--password-file",
            &pw.display().to_string(),
        ],
    );
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
    let token = ok(d, &["token", "create", "--user", "a@example.org"])
        .lines()
        .last()
        .unwrap()
        .to_owned();

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let serve = cmd(d)
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--no-monitor"])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        if let Some(r) = get(port, "/healthz", None) {
            break r;
        }
        assert!(Instant::now() < deadline, "serve did not answer on {port}");
        std::thread::sleep(Duration::from_millis(100));
    };
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
