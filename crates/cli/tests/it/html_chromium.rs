//! The HTML report in a real browser: Debian's headless chromium prints it
//! to PDF (pages counted with pdfinfo, at most 5 per domain), and lays it
//! out at A4 width with a script that reports any element whose content is
//! wider than its box (nothing may run off the page). The PDF pages are
//! kept as PNGs under `target/html-report-check/` for a person to look at.
//!
//! Skipped, with a message, when chromium is not installed; under CI
//! (`CI` set) a missing chromium fails instead (`.ci/run` installs it with
//! `tests/html/chromium.sh install`). Chromium reads only a local file; its
//! background networking is off.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{repo, run_args};

/// Whether chromium and poppler are here; panics under CI when not.
fn tools_present() -> bool {
    let have = |tool: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let present = have("chromium") && have("pdfinfo") && have("pdftoppm");
    if !present {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium/pdfinfo/pdftoppm missing under CI: run tests/html/chromium.sh install"
        );
        eprintln!(
            "SKIPPED html_chromium: chromium, pdfinfo or pdftoppm is not installed (tests/html/chromium.sh install)"
        );
    }
    present
}

/// Headless chromium with nothing running in the background.
fn chromium(profile: &Path) -> Command {
    let mut c = Command::new("chromium");
    c.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-pdf-header-footer",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    c
}

fn url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Run mailwarden with `args`, writing HTML to `dir/NAME.html`.
fn write_report(dir: &Path, name: &str, args: &[&str]) -> PathBuf {
    let path = dir.join(format!("{name}.html"));
    let mut all = args.to_vec();
    all.extend(["--format", "html", "--output", path.to_str().unwrap()]);
    let (code, _, err) = run_args(&all);
    assert!(code == 0 || code == 1, "exit {code}: {err}");
    path
}

/// Lays the page out at A4 width and lists every box whose content is
/// wider than the box, and the page itself if it scrolls sideways.
const OVERFLOW_SCRIPT: &str = r#"<script>
window.addEventListener('load', () => {
  const bad = [];
  document.querySelectorAll('body *').forEach(e => {
    if (e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && getComputedStyle(e).overflowX === 'visible')
      bad.push(e.tagName + ' ' + e.scrollWidth + '>' + e.clientWidth + ': ' + e.textContent.slice(0, 60));
  });
  if (document.documentElement.scrollWidth > window.innerWidth)
    bad.push('page ' + document.documentElement.scrollWidth + '>' + window.innerWidth);
  const out = document.createElement('pre');
  out.id = 'overflow-result';
  out.textContent = 'OVER' + 'FLOW:' + JSON.stringify(bad);
  document.body.appendChild(out);
});
</script>"#;

#[test]
fn html_report_prints_to_a_few_pages_per_domain_with_nothing_off_the_page() {
    if !tools_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let zones = [
        "scan",
        "example.com",
        "parked.example",
        "--zone-file",
        "examples/example.com.zone",
        "--zone-file",
        "examples/parked.example.zone",
        // Accepted risks and a profile met with them: their tables laid out too.
        "--waivers",
        "examples/waivers.toml",
        "--profile",
        "baseline",
    ];
    let examples = write_report(dir.path(), "examples", &zones);
    let html = std::fs::read_to_string(&examples).unwrap();
    assert!(html.contains("<h3>Accepted risks</h3>"), "no accepted risks");
    check_in_chromium(dir.path(), &examples, 2);
    // A domain whose MX hosts were probed: certificates in the evidence.
    let probed = write_report(
        dir.path(),
        "probed",
        &["judge", "testdata/reports/probed.test.evidence.jsonl"],
    );
    let html = std::fs::read_to_string(&probed).unwrap();
    assert!(
        html.contains("<tr><td>STARTTLS mx1.probed.test (127.0.0.1)</td><td>tls<br>TLSv1."),
        "no probe row"
    );
    check_in_chromium(dir.path(), &probed, 1);
}

/// Print `report` to PDF (at most 5 pages per domain, plus the first
/// page), keep the pages as images, and check the layout at A4 width.
fn check_in_chromium(dir: &Path, report: &Path, domains: usize) {
    let name = report.file_stem().unwrap().to_str().unwrap();
    let html = std::fs::read_to_string(report).unwrap();
    for part in [
        "Scope and method",
        "Rule catalogue",
        "Results",
        "Limitations",
        "Fix first",
        "Appendix",
    ] {
        assert!(html.contains(part), "{name}: no {part:?} in the report");
    }
    let pdf = dir.join(format!("{name}.pdf"));
    let printed = chromium(&dir.join(format!("profile-pdf-{name}")))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(url(report))
        .output()
        .expect("run chromium");
    assert!(pdf.exists(), "no PDF: {}", String::from_utf8_lossy(&printed.stderr));
    let info = Command::new("pdfinfo").arg(&pdf).output().expect("run pdfinfo");
    let info = String::from_utf8_lossy(&info.stdout);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no page count in:\n{info}"));
    assert!(
        (2..=5 * domains + 1).contains(&pages),
        "{name}: {pages} pages for {domains} domain(s)"
    );

    // Keep the pages as images for a person to look at.
    let shots = repo().join("target/html-report-check");
    let _ = std::fs::create_dir_all(&shots);
    let _ = Command::new("pdftoppm")
        .args(["-r", "60", "-png"])
        .arg(&pdf)
        .arg(shots.join(name))
        .status();

    // Lay out at A4 width (794 CSS px) with the overflow script; the copy
    // drops the Content-Security-Policy, which would block the script.
    let start = html.find("<meta http-equiv=\"Content-Security-Policy\"").unwrap();
    let end = start + html[start..].find('>').unwrap() + 1;
    let probe = format!("{}{}", &html[..start], &html[end..]).replace("</body>", &format!("{OVERFLOW_SCRIPT}</body>"));
    let probe_path = dir.join(format!("{name}-probe.html"));
    std::fs::write(&probe_path, probe).unwrap();
    let dom = chromium(&dir.join(format!("profile-dom-{name}")))
        .args(["--window-size=794,1123", "--virtual-time-budget=5000", "--dump-dom"])
        .arg(url(&probe_path))
        .output()
        .expect("run chromium");
    let dom = String::from_utf8_lossy(&dom.stdout);
    let result = dom
        .split("OVERFLOW:")
        .nth(1)
        .and_then(|r| r.split("</pre>").next())
        .unwrap_or_else(|| panic!("the overflow script did not run:\n{}", &dom[..dom.len().min(2000)]));
    assert_eq!(result, "[]", "{name}: content wider than its box at A4 width");
}
