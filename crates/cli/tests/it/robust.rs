//! Bounded cost and clean failure for everything the operator hands in
//! (issue 10, "Bounded cost for anything read"), Ctrl-C on a real child
//! process, and the comforts (settings file, completions, man page, rule
//! look-ups) of issue 11.

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mailwarden_test_support::BrokenServer;

use crate::support::{json, mailwarden, run, run_args};

const ZONE: &str = "examples/example.com.zone";

#[test]
fn dev_zero_as_any_input_file_is_refused_at_its_limit() {
    let cases: [(&[&str], &str); 4] = [
        (
            &["scan", "example.com", "--zone-file", "example.com=/dev/zero"],
            "16 MiB",
        ),
        (&["scan", "example.com", "--trust-anchor", "/dev/zero"], "1 MiB"),
        (
            &["scan", "example.com", "--zone-file", ZONE, "--ca-file", "/dev/zero"],
            "4 MiB",
        ),
        (
            &["scan", "example.com", "--zone-file", ZONE, "--profile", "/dev/zero"],
            "1 MiB",
        ),
    ];
    for (args, limit) in cases {
        let started = Instant::now();
        let (code, _, err) = run_args(args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("/dev/zero") && err.contains(&format!("larger than the limit of {limit}")),
            "{err}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{args:?} took {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn judge_of_dev_zero_is_refused_not_read_forever() {
    let (code, _, err) = run_args(&["judge", "/dev/zero"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("/dev/zero"), "{err}");
}

#[test]
fn include_outside_the_zone_directory_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "password=hunter2\n").unwrap();
    let zone = dir.path().join("z.zone");
    std::fs::write(
        &zone,
        format!(
            "$ORIGIN z.example.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n$INCLUDE {}\n",
            outside.path().join("secret").display()
        ),
    )
    .unwrap();
    let zone = zone.to_str().unwrap();
    let (code, _, err) = run_args(&["scan", "z.example", "--zone-file", zone]);
    assert_eq!(code, 2);
    assert!(
        err.contains("outside the zone file's directory") && !err.contains("hunter2"),
        "{err}"
    );
    let dir_arg = outside.path().to_str().unwrap();
    let (code, _, err) = run_args(&["scan", "z.example", "--zone-file", zone, "--zone-include-dir", dir_arg]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("secret:1:"), "read once allowed: {err}");
}

/// `--input -` fed `stdin`; returns (code, stdout, stderr).
fn scan_stdin(stdin: &[u8]) -> (i32, String, String) {
    let mut child = mailwarden()
        .args([
            "scan",
            "--input",
            "-",
            "--zone-file",
            ZONE,
            "--format",
            "jsonl",
            "--fail-on",
            "none",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn input_list_survives_non_utf8_bom_and_huge_lines() {
    let mut list = b"\xEF\xBB\xBFexample.com\n\xff\xfe\n".to_vec();
    list.extend(vec![b'a'; 10 << 20]);
    list.extend(b"\nexample.com\n");
    let (code, out, err) = scan_stdin(&list);
    assert_eq!(code, 2, "bad lines make the exit 2: {err}");
    assert_eq!(out.lines().count(), 2, "both example.com lines scanned: {err}");
    assert!(err.contains("<stdin>:2: not UTF-8 text"), "{err}");
    assert!(err.contains("<stdin>:3: line of 10485760 bytes"), "{err}");
    assert!(err.len() < 2000, "the long line is not echoed: {} bytes", err.len());
}

#[test]
fn empty_stdin_says_nothing_to_scan_and_exits_2() {
    let (code, _, err) = scan_stdin(b"");
    assert_eq!(code, 2);
    assert!(
        err.contains("nothing to scan: standard input held no domain names"),
        "{err}"
    );
    let (code, _, err) = scan_stdin(b"# only a comment\n\n");
    assert_eq!(code, 2, "{err}");
}

fn saved_evidence(dir: &std::path::Path) -> String {
    let path = dir.join("e.jsonl");
    let (code, _, err) = run_args(&[
        "scan",
        "example.com",
        "--zone-file",
        ZONE,
        "--save-evidence",
        path.to_str().unwrap(),
        "--format",
        "json",
        "--fail-on",
        "none",
    ]);
    assert_eq!(code, 0, "{err}");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn judge_rejects_evidence_whose_domain_is_not_a_domain_name() {
    let dir = tempfile::tempdir().unwrap();
    let line = saved_evidence(dir.path());
    let mut bad: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
    bad["domain"] = serde_json::Value::String(format!("\u{1b}]0;pwned\u{7}{}", "x".repeat(90_000)));
    let path = dir.path().join("bad.jsonl");
    std::fs::write(&path, format!("{line}{bad}\n")).unwrap();
    let (code, out, err) = run_args(&["judge", path.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("bad.jsonl:2: invalid domain name \"\\u{1b}]0;pwned"),
        "{err}"
    );
    assert!(err.len() < 1000, "{err}");
    assert_eq!(
        json(&out)["domains"].as_array().unwrap().len(),
        1,
        "the good line is judged"
    );
}

#[test]
fn judge_reads_every_complete_line_of_a_truncated_evidence_file() {
    let dir = tempfile::tempdir().unwrap();
    let line = saved_evidence(dir.path());
    let path = dir.path().join("cut.jsonl");
    std::fs::write(&path, format!("{line}{line}{}", &line[..line.len() / 2])).unwrap();
    let (code, out, err) = run_args(&["judge", path.to_str().unwrap(), "--format", "json", "--fail-on", "none"]);
    assert_eq!(code, 0, "a cut tail is a warning: {err}");
    assert!(
        err.contains("warning: ") && err.contains("cut.jsonl:3: the last line is incomplete"),
        "{err}"
    );
    assert_eq!(json(&out)["domains"].as_array().unwrap().len(), 2);

    // Nothing complete at all: an error.
    std::fs::write(&path, &line[..line.len() / 2]).unwrap();
    let (code, _, err) = run_args(&["judge", path.to_str().unwrap()]);
    assert_eq!(code, 2, "{err}");
}

#[test]
fn write_errors_name_the_flag_and_the_path() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let base = ["scan", "example.com", "--zone-file", ZONE, "--fail-on", "none"];
    let (code, _, err) = run(mailwarden().args(base).args(["--save-evidence", "/dev/full"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("--save-evidence /dev/full: No space left on device"),
        "{err}"
    );
    for format in ["text", "json", "html"] {
        let (code, _, err) = run(mailwarden()
            .args(base)
            .args(["--format", format, "--output", "/dev/full"]));
        assert_eq!(code, 2, "{format}");
        assert!(
            err.contains("--output /dev/full: No space left on device"),
            "{format}: {err}"
        );
    }
}

/// Ctrl-C in the middle of a list, on the real binary: the JSON report is
/// a complete document of the finished domains, the evidence holds whole
/// lines for the same domains, and the exit status is 130.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_scan_leaves_valid_json_and_whole_evidence_lines_and_exits_130() {
    let silent = BrokenServer::silent().await;
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("e.jsonl");
    let (code, out, err, domains) = interrupted_scan(&silent, "json", &evidence).await;
    assert_eq!(code, 130, "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let doc = json(&out);
    let reported = doc["domains"].as_array().unwrap().len();
    let saved = std::fs::read_to_string(&evidence).unwrap();
    assert!(saved.ends_with('\n'), "evidence ends in a whole line");
    for line in saved.lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("every evidence line is complete JSON");
    }
    assert!(reported >= 1 && reported < domains, "{reported} domains reported");
    assert_eq!(saved.lines().count(), reported);
}

/// The single-document formats are written, complete, for what was finished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_mid_scan_still_writes_html_sarif_and_markdown() {
    let silent = BrokenServer::silent().await;
    let dir = tempfile::tempdir().unwrap();
    for (format, end) in [("html", "</html>"), ("sarif", "}"), ("markdown", "")] {
        let evidence = dir.path().join(format!("{format}.jsonl"));
        let (code, out, err, _) = interrupted_scan(&silent, format, &evidence).await;
        assert_eq!(code, 130, "{format}: {err}");
        assert!(out.trim_end().ends_with(end), "{format} is complete: {out}");
        assert!(
            out.contains("d0.example"),
            "{format}: the finished domain is in the report: {out}"
        );
        if format == "sarif" {
            json(&out);
        }
    }
}

/// A list of 200 domains scanned one at a time through a resolver that
/// never answers, interrupted once the first is finished; returns (code,
/// stdout, stderr, domains in the list).
async fn interrupted_scan(
    silent: &BrokenServer,
    format: &str,
    evidence: &std::path::Path,
) -> (i32, String, String, usize) {
    let domains: Vec<String> = (0..200).map(|i| format!("d{i}.example")).collect();
    let mut cmd = mailwarden();
    cmd.args([
        "scan",
        "--format",
        format,
        "--fail-on",
        "none",
        "--concurrency",
        "1",
        "--no-dnssec",
    ])
    .args(["--no-smtp", "--no-https", "--timeout", "0.2", "--retries", "0"])
    .arg("--resolver")
    .arg(silent.addr().to_string())
    .arg("--save-evidence")
    .arg(evidence)
    .args(&domains)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let evidence_path = evidence.to_path_buf();
    let (code, out, err) = tokio::task::spawn_blocking(move || interrupt_after_first_line(cmd, &evidence_path))
        .await
        .unwrap();
    (code, out, err, domains.len())
}

/// Start `cmd`, wait until `evidence` holds a complete line, send SIGINT.
fn interrupt_after_first_line(mut cmd: Command, evidence: &std::path::Path) -> (i32, String, String) {
    let mut child = cmd.spawn().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        stdout.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    while !std::fs::read_to_string(evidence).is_ok_and(|s| s.contains('\n')) {
        assert!(Instant::now() < deadline, "no domain finished in 120 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let code = child.wait().unwrap().code().unwrap_or(-1);
    (code, reader.join().unwrap(), err)
}

#[test]
fn settings_file_in_the_working_directory_and_environment_are_applied_flag_first() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("mailwarden.toml"),
        "format = \"jsonl\"\nprofile = \"baseline\"\n",
    )
    .unwrap();
    let zone = crate::support::repo().join(ZONE);
    let zone = zone.to_str().unwrap();
    let scan = |extra: &[&str], env: Option<&str>| {
        let mut cmd = mailwarden();
        cmd.current_dir(dir.path())
            .args(["scan", "example.com", "--zone-file", zone, "--fail-on", "none"]);
        cmd.args(extra);
        if let Some(format) = env {
            cmd.env("MAILWARDEN_FORMAT", format);
        }
        run(&mut cmd)
    };
    let (code, out, err) = scan(&[], None);
    assert_eq!(code, 0, "{err}");
    let line = json(out.lines().next().unwrap());
    assert!(
        line["profiles"].to_string().contains("baseline"),
        "the file's profile applies"
    );
    let (_, out, _) = scan(&[], Some("json"));
    assert!(json(&out)["domains"].is_array(), "the environment beats the file");
    let (_, out, _) = scan(&["--format", "csv"], Some("json"));
    assert!(
        out.starts_with("domain,") || out.contains(','),
        "the flag beats both: {out}"
    );
    assert!(serde_json::from_str::<serde_json::Value>(&out).is_err());

    std::fs::write(
        dir.path().join("mailwarden.toml"),
        "format = \"json\"\nresolvers = \"192.0.2.1\"\n",
    )
    .unwrap();
    let (code, _, err) = scan(&[], None);
    assert_eq!(code, 2);
    assert!(err.contains("mailwarden.toml:2: unknown field `resolvers`"), "{err}");
}

#[test]
fn completions_and_man_page_are_generated_from_the_cli() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, out, err) = run_args(&["completions", shell]);
        assert_eq!(code, 0, "{shell}: {err}");
        assert!(out.contains("mailwarden") && out.contains("zone-file"), "{shell}");
    }
    let (code, out, _) = run_args(&["man"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with(".ie") || out.contains(".TH mailwarden"),
        "{}",
        &out[..200.min(out.len())]
    );
}

#[test]
fn explain_is_case_insensitive_and_suggests_the_nearest_rule() {
    let (code, out, _) = run_args(&["explain", "MX.Null-MX-Mixed"]);
    assert_eq!(code, 0);
    assert!(out.contains("RFC 7505"), "{out}");
    let (code, _, err) = run_args(&["explain", "mx.null-mx-mixd"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean \"mx.null-mx-mixed\"?"), "{err}");
    let (code, _, err) = run_args(&["scan", "example.com", "--zone-file", ZONE, "--profile", "baseline2"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean \"baseline\"?"), "{err}");
}

#[test]
fn rules_filter_by_area_and_severity() {
    let (code, out, _) = run_args(&["rules", "--area", "transport-security", "--severity", "critical"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(!lines.is_empty());
    assert!(
        lines.iter().all(|l| l.split_whitespace().nth(1) == Some("critical")),
        "{out}"
    );
    assert!(
        lines.iter().all(|l| !l.starts_with("spf.") && !l.starts_with("mx.")),
        "{out}"
    );
    let (_, out, _) = run_args(&["rules", "--area", "spf"]);
    assert!(out.lines().all(|l| l.starts_with("spf.")) && !out.is_empty(), "{out}");
    let (code, _, err) = run_args(&["rules", "--area", "transprt-security"]);
    assert_eq!(code, 2);
    assert!(err.contains("did you mean \"transport-security\"?"), "{err}");
}

#[test]
fn dev_zero_as_input_list_is_given_up_on_not_read_forever() {
    let (code, _, err) = run_args(&["scan", "--input", "/dev/zero", "--zone-file", ZONE]);
    assert_eq!(code, 2);
    assert!(
        err.contains("/dev/zero:1: cannot read: a line longer than 256 MiB"),
        "{err}"
    );
}

/// A bad input line is echoed in its error on stderr: control and bidi
/// characters in it must reach the terminal as visible escapes (the line
/// is quoted with `{:?}` and the message passes `inert::block`).
#[test]
fn a_bad_input_line_is_echoed_inert_on_stderr() {
    let (code, _, err) = scan_stdin("ex\u{1b}]0;owned\u{7}ample .com\nevil\u{202e}moc.example\n".as_bytes());
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("<stdin>:1:") && err.contains("<stdin>:2:"), "{err}");
    assert!(
        !err.chars().any(|c| c == '\u{1b}' || c == '\u{7}' || c == '\u{202e}'),
        "raw control or bidi characters on stderr: {err:?}"
    );
}
