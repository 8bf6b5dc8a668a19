//! The text report, fix first: snapshots of a correct domain, a broken
//! one, one where nothing could be looked at, and a list (with its summary
//! table); domains in the order given; `--verbose`; the width.

use crate::support::run_args;

const EXAMPLE: &str = "examples/example.com.zone";
const PARKED: &str = "examples/parked.example.zone";

/// `scan ARGS --zone-file example --zone-file parked`; stdout.
fn scan_text(args: &[&str]) -> String {
    scan_zones(args, &[EXAMPLE, PARKED])
}

fn scan_zones(args: &[&str], zones: &[&str]) -> String {
    let mut all = vec!["scan"];
    all.extend_from_slice(args);
    for z in zones {
        all.extend_from_slice(&["--zone-file", z]);
    }
    let (code, out, err) = run_args(&all);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    out
}

#[test]
fn text_of_a_correct_domain() {
    // With its own zone only (the report destination example.com is then
    // outside what was loaded, so its authorisation is undetermined).
    let out = scan_zones(&["parked.example"], &[PARKED]);
    assert!(out.starts_with("parked.example  OK  "), "{out}");
    assert!(!out.contains("Fix first"), "{out}");
    insta::assert_snapshot!("text_correct_domain", out);
}

#[test]
fn text_of_a_broken_domain_puts_the_fixes_first() {
    let out = scan_text(&["example.com"]);
    assert!(out.starts_with("example.com  HIGH  "), "{out}");
    let fix_first = out.find("Fix first").expect("a Fix first section");
    let first_area = out.find("Sender authentication").expect("the rest by area");
    assert!(fix_first < first_area, "{out}");
    // Info-level items are notes, never FAIL, and not counted as failures.
    assert!(!out.contains("FAIL"), "{out}");
    assert!(out.contains("note     No TLSA records"), "{out}");
    // 77 STARTTLS and failover checks the egress guard kept from running
    // are one line, not 77.
    let folded: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("STARTTLS and failover checks on 3 MX hosts (5 addresses)"))
        .collect();
    assert_eq!(folded.len(), 1, "{out}");
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("(5 addresses): documentation addresses are not probed (use --allow-private-targets"),
        "{out}"
    );
    assert!(out.lines().count() < 70, "{} lines:\n{out}", out.lines().count());
    insta::assert_snapshot!("text_broken_domain", out);
}

#[test]
fn text_of_a_domain_where_nothing_could_be_looked_at() {
    // A run in which nothing could be seen exits 2 (no audit result).
    let (code, out, err) = run_args(&["scan", "nothing.invalid", "--zone-file", EXAMPLE]);
    assert_eq!(code, 2, "{err}");
    assert!(out.starts_with("nothing.invalid  UNKNOWN  "), "{out}");
    assert!(out.contains("Nothing could be looked at"), "{out}");
    assert!(
        out.contains("MX       unknown (lookup failed: outside the loaded zone files)"),
        "{out}"
    );
    insta::assert_snapshot!("text_nothing_looked_at", out);
}

#[test]
fn text_of_a_list_keeps_the_given_order_and_ends_with_a_summary_table() {
    let out = scan_text(&["nothing.invalid", "example.com", "parked.example"]);
    let summary = out.find("Summary of 3 domains").expect("a summary table");
    let rows: Vec<&str> = out[summary..].lines().skip(2).take(3).collect();
    assert!(rows[0].trim_start().starts_with("nothing.invalid"), "{rows:?}");
    assert!(rows[1].trim_start().starts_with("example.com"), "{rows:?}");
    assert!(rows[2].trim_start().starts_with("parked.example"), "{rows:?}");
    insta::assert_snapshot!("text_list", out);
}

#[test]
fn many_domains_print_in_the_order_given_whatever_finishes_first() {
    // Unknown names fail fast, the example domain takes longer: with
    // reports written as they finish, the slow one would come later.
    let mut names = vec!["example.com".to_string()];
    names.extend((0..40).map(|i| format!("n{i}.invalid")));
    names.push("parked.example".into());
    let mut args: Vec<&str> = names.iter().map(String::as_str).collect();
    args.extend(["--concurrency", "16"]);
    let out = scan_text(&args);
    let heads: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty() && !l.starts_with("Summary"))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(heads, names, "{out}");
}

#[test]
fn verbose_lists_passes_and_evidence() {
    let quiet = scan_text(&["parked.example"]);
    let verbose = scan_text(&["parked.example", "--verbose"]);
    assert!(!quiet.contains("pass     "), "{quiet}");
    assert!(verbose.contains("pass     spf.no-all on parked.example"), "{verbose}");
}

#[test]
fn lines_are_filled_to_100_columns_when_not_a_terminal() {
    let out = scan_text(&["example.com", "--verbose"]);
    let long: Vec<&str> = out.lines().filter(|l| l.chars().count() > 100).collect();
    assert!(long.is_empty(), "{long:#?}");
}

#[test]
fn an_input_pipe_is_read_once_not_consumed_by_the_progress_count() {
    // `--input <(...)` is a pipe: counting its lines for the progress total
    // would swallow them before the scan reads them.
    let script = format!(
        "{} scan --input <(printf 'example.com\\nparked.example\\n') --zone-file {EXAMPLE} --zone-file {PARKED} --format csv --summary",
        env!("CARGO_BIN_EXE_mailwarden")
    );
    let (_, out, err) = crate::support::run(&mut crate::support::mailwarden_shell(&script));
    let rows: Vec<&str> = out.split("\r\n").skip(1).filter(|l| !l.is_empty()).collect();
    assert_eq!(rows.len(), 2, "{out}{err}");
    assert!(
        rows[0].starts_with("example.com,") && rows[1].starts_with("parked.example,"),
        "{out}"
    );
}

#[test]
fn text_with_accepted_risks() {
    // examples/waivers.toml accepts DMARC p=none and the MX hosts'
    // documentation addresses (until 2099): they leave fix first for their
    // own list, with who, why and until when, and the baseline profile
    // says how many of its findings were accepted.
    let out = scan_zones(
        &[
            "example.com",
            "--waivers",
            "examples/waivers.toml",
            "--profile",
            "baseline",
        ],
        &[EXAMPLE],
    );
    assert!(
        out.starts_with("example.com  HIGH  "),
        "mail.example.com is not waived: {out}"
    );
    insta::assert_snapshot!("text_accepted_risks", out);
}
