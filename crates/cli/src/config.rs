//! Validated configuration, built from the raw arguments: every value here
//! has been checked, and errors say which flag and what was wrong.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use mailwarden_dns::{DnsSource, SharedCache};
use mailwarden_engine::Budget;
use mailwarden_model::Severity;

use crate::args::{ColorChoice, DnsArgs, OutputArgs, ReportFormat};

/// Largest `--ca-file` (the whole Mozilla root bundle is about 220 KiB).
pub const CA_FILE_LIMIT: u64 = 4 << 20;
/// Largest `--profile` file.
pub const PROFILE_LIMIT: u64 = 1 << 20;

/// Answers kept in the run-wide cache. About 1 KiB each at most, so this
/// bounds the cache near 100 MiB in the worst case and far less in practice.
const CACHE_CAPACITY: usize = 50_000;

/// How results are printed and judged for the exit code.
#[derive(Debug, Clone)]
pub struct OutputConfig {
    pub format: ReportFormat,
    /// `--output FILE`; standard output when `None`.
    pub output: Option<std::path::PathBuf>,
    /// `None`: never exit 1 for findings.
    pub fail_on: Option<Severity>,
    pub color: bool,
    pub verbose: bool,
    /// Columns the text report fills: the terminal's, or 100.
    pub width: usize,
    /// `--summary`: one CSV row per domain.
    pub summary: bool,
    /// `--no-evidence`: JSON without the observations.
    pub evidence: bool,
}

impl OutputConfig {
    pub fn from_args(args: &OutputArgs) -> Result<Self> {
        let mut fail_on = None;
        for part in args.fail_on.split(',').map(str::trim) {
            fail_on = match part {
                "none" | "never" => None,
                p if p.eq_ignore_ascii_case("profile") => fail_on,
                s => Some(Severity::parse(s).with_context(|| {
                    format!("--fail-on {s:?}: expected one of info, low, medium, high, critical, none, profile")
                })?),
            };
        }
        if args.summary && args.format != ReportFormat::Csv {
            bail!("--summary: only for --format csv (one row per domain)");
        }
        if args.no_evidence && !matches!(args.format, ReportFormat::Json | ReportFormat::Jsonl) {
            bail!("--no-evidence: only for --format json or jsonl (other formats carry no raw observation)");
        }
        crate::compliance::configure(&args.profiles, &args.fail_on)?;
        let color = match args.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                use std::io::IsTerminal;
                std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal()
            }
        };
        Ok(Self {
            format: args.format,
            output: args.output.clone(),
            fail_on,
            color,
            verbose: args.verbose,
            width: text_width(args.output.is_some()),
            summary: args.summary,
            evidence: !args.no_evidence,
        })
    }
}

/// The terminal's width when the report goes to one (at least 60
/// columns), else [`mailwarden_render::text::DEFAULT_WIDTH`].
fn text_width(to_file: bool) -> usize {
    use std::io::IsTerminal;
    if to_file || !std::io::stdout().is_terminal() {
        return mailwarden_render::text::DEFAULT_WIDTH;
    }
    let (_, cols) = console::Term::stdout().size();
    usize::from(cols).max(60)
}

/// The EHLO name and probe timeout, checked.
pub fn probe_basics(args: &crate::args::ProbeArgs) -> Result<(String, Duration)> {
    let t = args.probe_timeout;
    if !(t.is_finite() && t > 0.0 && t <= 3600.0) {
        bail!("--probe-timeout {t}: expected a number of seconds above 0 (at most 3600)");
    }
    let e = &args.ehlo_name;
    if e.is_empty() || e.len() > 255 || !e.bytes().all(|b| b.is_ascii_graphic()) {
        bail!("--ehlo-name {e:?}: expected a host name (printable ASCII, no spaces)");
    }
    Ok((e.clone(), Duration::from_secs_f64(t)))
}

/// The prober `scan` connects through, from the probe flags. `--ca-file`
/// is the trust store of the HTTPS fetches as well as of the judges.
pub fn prober(
    args: &crate::args::ScanArgs,
    options: &mailwarden_model::ScanOptions,
) -> Result<mailwarden_probe::LiveProber> {
    let (ehlo_name, smtp_timeout) = probe_basics(&args.probe)?;
    let roots = match &options.ca_pem {
        Some(pem) => {
            mailwarden_probe::Roots::from_pem(pem.as_bytes()).map_err(|e| anyhow::anyhow!("--ca-file: {e}"))?
        }
        None => mailwarden_probe::Roots::webpki(),
    };
    Ok(mailwarden_probe::LiveProber::new(mailwarden_probe::ProbeConfig {
        smtp: !args.no_smtp,
        https: !args.no_https,
        smtp_port: args.probe.smtp_port,
        ehlo_name,
        smtp_timeout,
        allow_private: args.probe.allow_private_targets,
        max_connections: args.concurrency.clamp(1, 256),
        fetch: mailwarden_probe::FetchOptions {
            port: args.https_port,
            roots,
            ..mailwarden_probe::FetchOptions::default()
        },
    }))
}

/// The options the judges see, checked.
pub fn scan_options(args: &crate::args::ScanArgs) -> Result<mailwarden_model::ScanOptions> {
    let mut dkim_selectors = Vec::new();
    for s in &args.dkim_selectors {
        let valid = !s.is_empty()
            && s.split('.').all(|l| {
                !l.is_empty() && l.len() <= 63 && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if !valid {
            bail!("--dkim-selector {s:?}: a selector is one or more DNS labels (letters, digits, '-', '_')");
        }
        dkim_selectors.push(s.to_ascii_lowercase());
    }
    let known: Vec<&str> = mailwarden_checks::JUDGES.iter().map(|judge| judge.name).collect();
    let mut checks = Vec::new();
    for c in &args.checks {
        let c = c.trim().to_ascii_lowercase();
        if !known.contains(&c.as_str()) {
            bail!("--checks {c:?}: expected some of {}", known.join(", "));
        }
        if !checks.contains(&c) {
            checks.push(c);
        }
    }
    if args.max_mx_addresses == 0 {
        bail!("--max-mx-addresses 0: at least one address of each MX host must be probed (--no-smtp skips probing)");
    }
    let ca_pem = match &args.ca_file {
        Some(path) => {
            let pem =
                read_text(path, CA_FILE_LIMIT).with_context(|| format!("--ca-file {}: cannot read", path.display()))?;
            mailwarden_checks::tls::cert::Roots::from_pem(pem.as_bytes())
                .map_err(|e| anyhow::anyhow!("--ca-file {}: {e}", path.display()))?;
            Some(pem)
        }
        None => None,
    };
    Ok(mailwarden_model::ScanOptions {
        dkim_selectors,
        parked: args.parked,
        checks,
        max_mx_addresses: (args.max_mx_addresses != mailwarden_model::ScanOptions::DEFAULT_MX_ADDRESSES)
            .then_some(args.max_mx_addresses),
        ca_pem,
    })
}

/// Read a whole operator-supplied file as UTF-8, at most `limit` bytes.
pub fn read_text(path: &std::path::Path, limit: u64) -> std::io::Result<String> {
    let bytes = mailwarden_dns::bounded::read_capped(path, limit)?;
    String::from_utf8(bytes).map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidData, "not UTF-8 text"))
}

/// `--profile NAME|PATH`: a built-in profile, or a file of at most
/// [`PROFILE_LIMIT`]; an unknown name gets the nearest built-in suggested.
pub fn load_profile(name_or_path: &str) -> Result<mailwarden_policy::profile::Profile> {
    use mailwarden_policy::profile::Profile;
    if let Some(p) = Profile::builtin(name_or_path) {
        return Ok(p.clone());
    }
    let path = std::path::Path::new(name_or_path);
    let looks_like_path = name_or_path.contains(['/', '\\']) || name_or_path.ends_with(".toml") || path.exists();
    if !looks_like_path {
        let known: Vec<String> = Profile::builtins().iter().map(|p| p.id.clone()).collect();
        bail!(
            "--profile {name_or_path}: unknown profile {name_or_path:?}: built-in profiles are {}; or give the path of a profile file (.toml){}",
            known.join(", "),
            crate::rules::did_you_mean(name_or_path, &known)
        );
    }
    let text = read_text(path, PROFILE_LIMIT).with_context(|| format!("--profile {name_or_path}: cannot read"))?;
    let catalogue = mailwarden_policy::Catalogue::builtin();
    let frameworks = mailwarden_policy::frameworks::Frameworks::builtin();
    Profile::parse(name_or_path, &text, catalogue, frameworks)
        .map_err(|e| anyhow::anyhow!("--profile {name_or_path}: {e}"))
}

/// Parse `IP` or `IP:PORT` (IPv6 with a port as `[::1]:53`).
pub fn parse_resolver(s: &str) -> Result<SocketAddr> {
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = s.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, 53));
    }
    bail!(
        "--resolver {s:?}: expected an IP address, optionally with a port (192.0.2.53, 192.0.2.53:5353, [2001:db8::53]:53)"
    )
}

fn seconds(flag: &str, value: f64) -> Result<Duration> {
    if !(value.is_finite() && value > 0.0 && value <= 86_400.0) {
        bail!("{flag} {value}: expected a number of seconds above 0");
    }
    Ok(Duration::from_secs_f64(value))
}

/// The per-domain budget from the DNS flags.
pub fn budget(args: &DnsArgs) -> Result<Budget> {
    if args.query_budget == 0 {
        bail!("--query-budget 0: a domain needs at least one query");
    }
    if args.max_direct_targets > args.max_direct_targets_per_run {
        bail!(
            "--max-direct-targets {} is above --max-direct-targets-per-run {}: one domain cannot ask more servers than the whole run",
            args.max_direct_targets,
            args.max_direct_targets_per_run
        );
    }
    Ok(Budget {
        max_queries: args.query_budget,
        max_time: seconds("--time-budget", args.time_budget)?,
        max_direct_targets: args.max_direct_targets,
        ..Budget::default()
    })
}

/// Build the DNS source the flags describe, wrapped in the run-wide cache.
/// `allow_private_targets`: whether server-directed questions may go to
/// non-global addresses (`--allow-private-targets`; the egress guard).
pub async fn dns_source(args: &DnsArgs, allow_private_targets: bool) -> Result<Arc<dyn DnsSource>> {
    if !args.zone_files.is_empty() {
        let source = crate::sources::zone_files(&args.zone_files, &args.zone_include_dirs)?;
        return Ok(Arc::new(source));
    }
    let resolvers = args
        .resolvers
        .iter()
        .map(|r| parse_resolver(r))
        .collect::<Result<Vec<_>>>()?;
    let timeout = seconds("--timeout", args.timeout)?;
    let live = crate::sources::live(
        resolvers,
        timeout,
        args.retries,
        args.trust_anchor.clone(),
        args.no_dnssec,
        args.ns_port,
        mailwarden_dns::live::DirectGuard {
            allow_private: allow_private_targets,
            max_targets: args.max_direct_targets_per_run,
        },
        mailwarden_dns::live::Limits {
            resolver_rate: args.resolver_qps,
            server_rate: args.ns_qps,
            max_in_flight: usize::try_from(args.max_in_flight).unwrap_or(usize::MAX),
        },
    )
    .await?;
    Ok(Arc::new(SharedCache::new(live, CACHE_CAPACITY)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolver_forms() {
        assert_eq!(parse_resolver("127.0.0.1").unwrap(), "127.0.0.1:53".parse().unwrap());
        assert_eq!(
            parse_resolver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(parse_resolver("[::1]:5353").unwrap(), "[::1]:5353".parse().unwrap());
        assert_eq!(parse_resolver("::1").unwrap(), "[::1]:53".parse().unwrap());
        let err = parse_resolver("dns.example").unwrap_err().to_string();
        assert!(err.starts_with("--resolver \"dns.example\""), "{err}");
    }

    #[test]
    fn a_per_domain_direct_target_cap_above_the_per_run_cap_names_both_flags() {
        use clap::Parser;
        let cli = crate::args::Cli::try_parse_from([
            "mailwarden",
            "scan",
            "example.com",
            "--max-direct-targets",
            "50",
            "--max-direct-targets-per-run",
            "10",
        ])
        .unwrap();
        let crate::args::Command::Scan(scan) = cli.command else {
            panic!("not scan")
        };
        let err = budget(&scan.dns).unwrap_err().to_string();
        assert!(
            err.starts_with("--max-direct-targets 50 is above --max-direct-targets-per-run 10"),
            "{err}"
        );
        let defaults = crate::args::Cli::try_parse_from(["mailwarden", "scan", "example.com"]).unwrap();
        let crate::args::Command::Scan(scan) = defaults.command else {
            panic!("not scan")
        };
        assert_eq!(
            budget(&scan.dns).unwrap().max_direct_targets,
            Budget::DEFAULT_DIRECT_TARGETS
        );
        assert_eq!(
            scan.dns.max_direct_targets_per_run,
            mailwarden_dns::live::DirectGuard::DEFAULT_MAX_TARGETS
        );
    }

    #[test]
    fn bad_numbers_name_their_flag() {
        assert!(
            seconds("--timeout", 0.0)
                .unwrap_err()
                .to_string()
                .starts_with("--timeout")
        );
        assert!(seconds("--timeout", f64::NAN).is_err());
        assert!(seconds("--timeout", 2.5).is_ok());
    }
}
