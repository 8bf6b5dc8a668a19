//! Output must not attack its reader: `scan`, `judge`, `generate` and
//! `spf check` against the hostile resolver (`mailwarden_test_support::
//! hostile`), whose records carry terminal escapes and bidi overrides or
//! are 30-60 KB of syntax errors. Every format must come out inert (no raw
//! control or bidi character from outside) and bounded in size and in the
//! child's peak memory. Before the fix, the oversized SPF record alone made
//! a 1.9 GB JSON report, 3.3 GB of memory and 37 s.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

use mailwarden_render::inert::is_unsafe;
use mailwarden_test_support::HostileDns;
use mailwarden_test_support::hostile::{ESCAPES, OVERSIZED};

use crate::support::{json, mailwarden};

/// Generous caps: a correct run of both domains is far below them.
const MAX_OUTPUT: usize = 2 * 1024 * 1024;
const MAX_RSS_KIB: i64 = 300 * 1024;

/// A finished child: exit code, output, and its peak resident set.
struct Measured {
    code: i32,
    stdout: String,
    stderr: String,
    max_rss_kib: i64,
}

/// Run `cmd` to the end and read its peak RSS from `wait4` (the kernel's
/// rusage of exactly this child, whatever else the test binary runs).
#[expect(clippy::zombie_processes, reason = "reaped by wait4, which also reports its rusage")]
fn run_measured(mut cmd: Command) -> Measured {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mailwarden");
    let mut stderr_pipe = child.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        stderr_pipe.read_to_end(&mut buf).map(|_| buf)
    });
    let mut stdout = Vec::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut stdout)
        .expect("read stdout");
    let stderr = stderr_reader.join().unwrap().expect("read stderr");
    let pid = i32::try_from(child.id()).unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data; wait4 writes it and the status of our own child.
    #[allow(
        unsafe_code,
        reason = "wait4(2) is the only way to read the child's peak memory (ru_maxrss)"
    )]
    let (usage, waited) = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        let waited = libc::wait4(pid, &mut status, 0, &mut usage);
        (usage, waited)
    };
    assert_eq!(waited, pid, "wait4: {}", std::io::Error::last_os_error());
    Measured {
        code: ExitStatus::from_raw(status).code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
        max_rss_kib: usage.ru_maxrss, // KiB on Linux
    }
}

/// `mailwarden ARGS` asking the hostile resolver, without probes or DNSSEC.
fn against(dns: &HostileDns, args: &[&str]) -> Command {
    let mut cmd = mailwarden();
    cmd.args(args)
        .args(["--resolver", &dns.addr().to_string(), "--no-dnssec", "--timeout", "2"]);
    cmd
}

/// What every run must satisfy.
fn assert_bounded_and_inert(what: &str, run: &Measured, ours: &[&str]) {
    assert!(
        run.stdout.len() < MAX_OUTPUT,
        "{what}: {} bytes of output",
        run.stdout.len()
    );
    assert!(
        run.max_rss_kib < MAX_RSS_KIB,
        "{what}: peak RSS {} KiB",
        run.max_rss_kib
    );
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        // Our own colour codes (`--color always`) are the only escapes allowed.
        let rest = ours.iter().fold(text.clone(), |t, code| t.replace(code, ""));
        let raw: Vec<(usize, char)> = rest
            .char_indices()
            .filter(|&(_, c)| is_unsafe(c) && !matches!(c, '\n' | '\r'))
            .take(5)
            .collect();
        assert!(
            raw.is_empty(),
            "{what} {stream}: raw {raw:?} in\n{}",
            &rest[..rest.len().min(3000)]
        );
    }
}

/// Both hostile domains, without probes.
const SCAN: [&str; 5] = ["scan", ESCAPES, OVERSIZED, "--no-smtp", "--no-https"];

const COLOURS: &[&str] = &[
    "\u{1b}[31m",
    "\u{1b}[33m",
    "\u{1b}[32m",
    "\u{1b}[2m",
    "\u{1b}[36m",
    "\u{1b}[1m",
    "\u{1b}[0m",
];

#[tokio::test(flavor = "multi_thread")]
async fn hostile_records_are_inert_and_bounded_in_every_format() {
    let dns = HostileDns::start().await;
    let cases: [(&str, &[&str]); 9] = [
        ("text", &["--color", "never"]),
        ("text", &["--color", "always", "--verbose"]),
        ("json", &[]),
        ("jsonl", &[]),
        ("sarif", &[]),
        ("csv", &[]),
        ("html", &[]),
        ("markdown", &[]),
        ("text", &["--color", "never", "--verbose"]),
    ];
    for (format, extra) in cases {
        let mut cmd = against(&dns, &SCAN);
        cmd.args(["--format", format]).args(extra);
        let run = tokio::task::spawn_blocking(move || run_measured(cmd)).await.unwrap();
        let what = format!("scan --format {format} {extra:?}");
        assert!(
            run.code == 0 || run.code == 1,
            "{what}: exit {}: {}",
            run.code,
            run.stderr
        );
        assert_bounded_and_inert(&what, &run, COLOURS);
        // The records were read, and shown escaped (text-like formats).
        if !matches!(format, "json" | "jsonl" | "sarif") {
            assert!(
                run.stdout.contains(title_shown(format)),
                "{what}: the planted title is not shown:\n{}",
                run.stdout
            );
        }
        if format == "json" {
            assert_oversized_diagnostics_are_capped(&json(&run.stdout));
        }
    }
}

/// The planted window-title sequence as a text-like format shows it.
fn title_shown(format: &str) -> &'static str {
    match format {
        "markdown" => r"\\x1b\]0;pwned", // Markdown escapes the backslash and `]`
        _ => r"\x1b]0;pwned",
    }
}

/// Each oversized record has thousands of errors: its syntax finding
/// shows 20, counts the rest and stays small; SPF stores the record once.
fn assert_oversized_diagnostics_are_capped(doc: &serde_json::Value) {
    let report = doc["domains"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["domain"] == OVERSIZED)
        .expect("the oversized domain");
    let finding = |id: &str| {
        (report["findings"].as_array().unwrap().iter())
            .find(|f| f["id"] == id && f["outcome"] == "fail")
            .unwrap_or_else(|| panic!("no failing {id}"))
    };
    for id in [
        "spf.syntax",
        "dmarc.syntax",
        "dkim.syntax",
        "bimi.syntax",
        "mta-sts.syntax",
        "tlsrpt.syntax",
    ] {
        let f = finding(id);
        assert_eq!(f["evidence"]["diagnostics"].as_array().unwrap().len(), 20, "{id}");
        assert!(f["evidence"]["omitted_diagnostics"].as_u64().unwrap() > 1000, "{id}");
        assert!(f["message"].as_str().unwrap().len() < 5000, "{id}");
        assert!(serde_json::to_string(f).unwrap().len() < 100_000, "{id}");
    }
    assert_eq!(
        finding("spf.syntax")["evidence"]["records"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn judge_generate_and_spf_check_of_hostile_records_are_inert() {
    let dns = HostileDns::start().await;
    let dir = tempfile::tempdir().unwrap();
    let evidence = dir.path().join("evidence.jsonl");
    let evidence_arg = evidence.to_str().unwrap().to_string();
    let mut scan = against(&dns, &SCAN);
    scan.args(["--format", "json", "--save-evidence", &evidence_arg]);
    let run = tokio::task::spawn_blocking(move || run_measured(scan)).await.unwrap();
    assert!(run.code == 0 || run.code == 1, "exit {}: {}", run.code, run.stderr);
    // The saved evidence is JSON written inert too, and complete.
    let saved = std::fs::read_to_string(&evidence).unwrap();
    assert_eq!(saved.lines().count(), 2);
    let raw: Vec<char> = saved.chars().filter(|&c| is_unsafe(c) && c != '\n').take(5).collect();
    assert!(raw.is_empty(), "raw {raw:?} in the saved evidence");

    let mut runs: Vec<(String, Command)> = Vec::new();
    for format in ["text", "markdown", "csv"] {
        let mut judge = mailwarden();
        judge.args(["judge", &evidence_arg, "--format", format, "--verbose"]);
        runs.push((format!("judge --format {format}"), judge));
    }
    for kind in ["spf", "dmarc"] {
        runs.push((format!("generate {kind}"), against(&dns, &["generate", kind, ESCAPES])));
    }
    runs.push((
        "spf check".into(),
        against(&dns, &["spf", "check", ESCAPES, "--ip", "192.0.2.99"]),
    ));
    for (what, cmd) in runs {
        let run = tokio::task::spawn_blocking(move || run_measured(cmd)).await.unwrap();
        assert!(run.code <= 2, "{what}: exit {}: {}", run.code, run.stderr);
        assert_bounded_and_inert(&what, &run, &[]);
        // The records were read, and are shown escaped.
        let format = what.strip_prefix("judge --format ").unwrap_or("text");
        assert!(run.stdout.contains(title_shown(format)), "{what}:\n{}", run.stdout);
        if what.starts_with("generate") {
            assert_eq!(run.code, 0, "{what}: {}", run.stderr);
            // Comments quote the current record visibly.
            assert!(run.stdout.contains(r"Current record: v="), "{what}:\n{}", run.stdout);
        }
        if what == "generate spf" {
            // Copied TXT data stays the same octets, as RFC 1035 `\DDD`.
            assert!(run.stdout.contains(r"\027]0;pwned\007"), "{what}:\n{}", run.stdout);
        }
    }
}
