//! The web service in a real browser: Debian's chromium driven by
//! chromedriver over WebDriver. An analyst logs in, sees the domain list,
//! opens a domain, sees the MX change in its history and approves it, and
//! logs out (the session is then gone); a viewer gets no approve form; the
//! browser console shows no Content-Security-Policy violation on any page.
//! The analyst also opens the senders page (its volume chart an SVG with
//! a series per sender) and the TLS page. Screenshots of the main pages go
//! to target/screenshots/.
//!
//! Ignored by default (chromedriver is not in every checkout's machine);
//! `tests/web/ci.sh` installs chromium and chromium-driver and runs it
//! with `--ignored` from `.ci/run`. Skipped with a message when either is
//! missing, except under CI (`CI` set), where that fails.

mod common;
mod webdriver;

use std::path::PathBuf;
use std::process::Command;

use common::{OURS, PASSWORD, THEIRS, email};
use mailwarden_store::user::Role;
use webdriver::{Driver, Session};

fn tools_present() -> bool {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let present = have("chromium") && have("chromedriver");
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium/chromedriver missing under CI: tests/web/ci.sh installs them"
        );
        eprintln!("SKIPPED browser: chromium or chromedriver is not installed (tests/web/ci.sh installs them)");
    }
    present
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn log_in(s: &Session, base: &str, who: &str) {
    s.go(&format!("{base}/login"));
    s.type_into("#email", who);
    s.type_into("#password", PASSWORD);
    s.click("#login");
    assert!(s.wait_url("/domains"), "after login: {}", s.url());
}

/// No console message about the Content-Security-Policy (a violation is
/// logged as "Refused to ... because it violates ... Content Security Policy").
fn assert_no_csp_violation(s: &Session, page: &str) {
    let bad: Vec<String> = s
        .console()
        .into_iter()
        .filter(|m| m.contains("Content Security Policy") || m.contains("Refused to"))
        .collect();
    assert!(bad.is_empty(), "{page}: CSP violations: {bad:?}");
}

/// The analyst's walk, then the viewer's.
fn walk(base: &str, profile: &std::path::Path) {
    let shots = screenshots();
    let driver = Driver::start();
    let s = driver.session(&profile.join("analyst"));

    s.go(&format!("{base}/domains"));
    assert!(s.url().ends_with("/login"), "not logged in: sent to the login form");
    s.screenshot(&shots.join("login.png"));
    log_in(&s, base, &email("default", Role::Analyst));
    let list = s.source();
    assert!(
        list.contains(OURS) && !list.contains(THEIRS),
        "the list is the tenant's"
    );
    s.screenshot(&shots.join("domains.png"));
    assert_no_csp_violation(&s, "domains");

    s.click(&format!("a[href=\"/domains/{OURS}\"]"));
    assert!(s.wait_text("dmarc.policy-none"), "the domain's findings");
    s.screenshot(&shots.join("domain.png"));
    assert_no_csp_violation(&s, "domain");

    s.click("#history-link");
    assert!(s.wait_url("/history"), "the history page");
    let history = s.source();
    assert!(history.contains("mx2.ours.example"), "the MX change is in the diff");
    assert!(history.contains("<svg"), "the score chart");
    s.screenshot(&shots.join("history.png"));
    s.type_into("#reason", "new MX host reviewed");
    s.click("#approve");
    assert!(s.wait_text("now the approved baseline"), "the approval notice");
    let approved = s.source();
    assert!(
        approved.contains("new MX host reviewed"),
        "the baseline with its reason"
    );
    s.screenshot(&shots.join("history-approved.png"));
    assert_no_csp_violation(&s, "history");

    s.go(&format!("{base}/alerts"));
    s.screenshot(&shots.join("alerts.png"));
    assert_no_csp_violation(&s, "alerts");

    // The senders page: the volume chart is an inline SVG with a series per sender.
    s.go(&format!("{base}/domains/{OURS}"));
    s.click("#senders-link");
    assert!(s.wait_url("/senders"), "the senders page: {}", s.url());
    assert!(s.find("svg#volume").is_some(), "the volume chart");
    let series = "svg#volume g.series[data-series=\"spoof.example\"] polyline";
    assert!(s.find(series).is_some(), "the chart's line of the spoofing sender");
    assert!(
        s.source().contains("data-series=\"ours.example (own)"),
        "the chart's line of the domain's own servers"
    );
    assert!(s.source().contains("In SPF but never seen"), "the SPF joins");
    s.screenshot(&shots.join("senders.png"));
    assert_no_csp_violation(&s, "senders");
    s.click("a[href=\"/domains/ours.example/tls\"]");
    assert!(s.wait_url("/tls"), "the TLS page: {}", s.url());
    assert!(
        s.find("svg#sessions g.series[data-series=\"certificate-expired\"]")
            .is_some(),
        "the sessions chart by result type"
    );
    s.screenshot(&shots.join("tls.png"));
    assert_no_csp_violation(&s, "tls");

    s.click("#logout");
    assert!(s.wait_url("/login"), "after logout: {}", s.url());
    s.go(&format!("{base}/domains"));
    assert!(s.url().ends_with("/login"), "the session is over");
    drop(s);

    let v = driver.session(&profile.join("viewer"));
    log_in(&v, base, &email("default", Role::Viewer));
    v.go(&format!("{base}/domains/{OURS}/history"));
    assert!(v.source().contains("mx2.ours.example"), "a viewer reads the history");
    assert!(v.find("#approve").is_none(), "a viewer gets no approve form");
    assert_no_csp_violation(&v, "viewer history");
    v.go(&format!("{base}/domains/{THEIRS}"));
    assert!(
        v.source().contains("No such domain"),
        "another tenant's domain is not found"
    );
    // The console is really read: chromium logs the 404 it just got, so
    // a CSP violation would be seen the same way.
    let console = v.console();
    assert!(console.iter().any(|m| m.contains("404")), "console: {console:?}");
    assert!(
        !console.iter().any(|m| m.contains("Content Security Policy")),
        "{console:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver: tests/web/ci.sh runs it"]
async fn an_analyst_logs_in_approves_a_change_and_logs_out_and_a_viewer_cannot_approve() {
    if !tools_present() {
        return;
    }
    let service = common::services().await.remove(0);
    common::reports::import_reports(&service).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(mailwarden_server::serve_on(listener, service.app.clone(), async {
        let _ = stopped.await;
    }));
    let profile = tempfile::tempdir().unwrap();
    let profile_path = profile.path().to_owned();
    let outcome = tokio::task::spawn_blocking(move || walk(&base, &profile_path)).await;
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    let approvals = mailwarden_store::count(&service.store, "SELECT COUNT(*) FROM baselines")
        .await
        .unwrap();
    assert_eq!(approvals, 1, "the analyst's approval is stored");
}
