//! How a run ends when nothing could be seen (README "Outcomes"), and the
//! scores that go with it (README "Scores").

use std::net::{SocketAddr, UdpSocket};

use crate::formats::{assert_valid, report_schema};
use crate::support::{json, only_domain, run_args};

/// A loopback address where nothing listens: a port the OS gave us, bound
/// and closed again.
fn dead_resolver() -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a loopback port");
    socket.local_addr().expect("its address")
}

fn scan_through(resolver: SocketAddr, extra: &[&str]) -> (i32, String, String) {
    let resolver = resolver.to_string();
    let mut args = vec![
        "scan",
        "good.test",
        "--resolver",
        &resolver,
        "--timeout",
        "0.5",
        "--retries",
        "0",
    ];
    args.extend(extra);
    run_args(&args)
}

/// "N of N checks could not look", with the same N twice.
fn all_could_not_look(text: &str) -> bool {
    text.split("not scored: ").skip(1).any(|rest| {
        let words: Vec<&str> = rest.split_whitespace().take(5).collect();
        words.len() == 5 && words[0] == words[2] && words[1] == "of" && words[3] == "checks" && words[4] == "could"
    })
}

#[test]
fn resolver_nobody_listens_on_exits_2_and_the_domain_is_not_scored() {
    // Was: every check indeterminate, exit 0, "score 100/100".
    let (code, out, err) = scan_through(dead_resolver(), &[]);
    assert_eq!(code, 2, "nothing seen is a runtime error:\n{err}\n{out}");
    assert!(
        err.contains("good.test: nothing could be seen: no DNS question got an answer"),
        "{err}"
    );
    assert!(err.contains("nothing could be seen for the domain"), "{err}");
    assert!(
        !out.contains("/100"),
        "no score anywhere, for the domain or an area:\n{out}"
    );
    let summary = out.lines().next().unwrap_or_default();
    assert!(all_could_not_look(summary), "{summary}");
    assert!(
        out.contains("Transport security (STARTTLS, MTA-STS, DANE)  (not scored: "),
        "{out}"
    );
}

#[test]
fn resolver_nobody_listens_on_gives_null_scores_in_json_and_judge_agrees() {
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("blind.jsonl");
    let (code, out, err) = scan_through(
        dead_resolver(),
        &["--format", "json", "--save-evidence", evidence.to_str().unwrap()],
    );
    assert_eq!(code, 2, "{err}");
    let doc = json(&out);
    assert_valid(&report_schema(), &doc, "a report with a null score");
    let scores = &only_domain(&doc)["scores"];
    assert!(scores["overall"].is_null(), "{scores:#}");
    assert_eq!(scores["checks"], scores["could_not_look"], "{scores:#}");
    assert!(scores["areas"].as_object().unwrap().is_empty(), "{scores:#}");
    assert!(
        scores["not_scored"]
            .as_str()
            .unwrap()
            .ends_with("checks could not look"),
        "{scores:#}"
    );
    // The saved evidence judged again ends the same way.
    let (code, _, err) = run_args(&["judge", evidence.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing could be seen"), "{err}");
}

#[test]
fn a_domain_that_was_seen_exits_by_its_findings_not_2() {
    let (code, out, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        "examples/example.com.zone",
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("nothing could be seen"), "{err}");
    // Its MX addresses are documentation addresses the probe may not
    // contact: transport security is not scored, never 100.
    assert!(
        out.contains("Transport security (STARTTLS, MTA-STS, DANE)  (not scored: "),
        "{out}"
    );
}

#[test]
fn html_and_markdown_say_not_scored_for_a_domain_nothing_was_seen_of() {
    let resolver = dead_resolver();
    for format in ["html", "markdown"] {
        let (code, out, err) = scan_through(resolver, &["--format", format]);
        assert_eq!(code, 2, "{format}: {err}");
        assert!(out.contains("not scored: "), "{format}:\n{out}");
        assert!(all_could_not_look(&out), "{format}:\n{out}");
        assert!(
            !out.contains("<strong>100</strong>") && !out.contains("**Score: 100**"),
            "{format}:\n{out}"
        );
    }
}
