//! `mailwarden monitor add|list|remove|sync`: which domains are watched,
//! how often, and with which scan options. A monitor keeps its options as
//! the `mailwarden scan` flags they stand for, so `monitor run` scans each
//! domain exactly as `mailwarden scan DOMAIN FLAGS...` would.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use mailwarden_store::{Store, monitor};
use serde::Deserialize;

use crate::args::Format;

#[derive(Debug, Subcommand)]
pub enum MonitorCommand {
    /// Watch domains: scan each every DURATION with the scan options given here.
    Add(Box<MonitorSpec>),
    /// List the watched domains, their period, options and next scan.
    List {
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Stop watching domains (their history stays; `mailwarden erase` removes it).
    Remove {
        #[arg(required = true)]
        domains: Vec<String>,
    },
    /// Make the monitors declared in a TOML file (`[[monitor]]` tables) the file's monitors:
    /// add or update each, remove those the file declared before and no longer does.
    Sync {
        /// The monitors file.
        file: PathBuf,
    },
    /// Scan the domains when due (jitter, bounded concurrency; SIGTERM/SIGINT stop gracefully).
    Run(crate::monitor_run::RunArgs),
}

/// One monitor: domains, period and scan options (the `scan` flags of the
/// same names). Also the `[[monitor]]` table of a monitors file.
#[derive(Debug, Default, Args, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MonitorSpec {
    /// Domains to watch.
    #[arg(required = true)]
    #[serde(default)]
    pub domains: Vec<String>,
    /// How often: 30m, 1h, 1d (s, m, h, d, w).
    #[arg(long, default_value = "1h", value_name = "DURATION")]
    #[serde(default)]
    pub every: String,
    /// Recursive resolver, IP or IP:PORT (repeatable).
    #[arg(long = "resolver", value_name = "IP[:PORT]")]
    #[serde(default)]
    pub resolver: Vec<String>,
    /// DNSSEC trust anchor file.
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Do not validate DNSSEC.
    #[arg(long)]
    #[serde(default)]
    pub no_dnssec: bool,
    /// Trust anchors (PEM) for certificate checks.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Also connect to loopback and private addresses the domain names.
    #[arg(long)]
    #[serde(default)]
    pub allow_private_targets: bool,
    /// DKIM selectors to try (repeatable or comma-separated).
    #[arg(long = "dkim-selector", value_delimiter = ',', value_name = "SELECTOR[,...]")]
    #[serde(default)]
    pub dkim_selector: Vec<String>,
    /// Profiles to judge against (built-in name or file; repeatable).
    #[arg(long = "profile", value_name = "NAME|PATH")]
    #[serde(default)]
    pub profile: Vec<String>,
    /// Run only these checks (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "CHECK,...")]
    #[serde(default)]
    pub checks: Vec<String>,
    /// Answer from these zone files, offline (repeatable).
    #[arg(long = "zone-file", value_name = "[ORIGIN=]FILE")]
    #[serde(default)]
    pub zone_file: Vec<String>,
    /// The domain is parked (should neither send nor receive mail).
    #[arg(long)]
    #[serde(default)]
    pub parked: bool,
    /// Do not probe the MX hosts over STARTTLS.
    #[arg(long)]
    #[serde(default)]
    pub no_smtp: bool,
    /// Do not fetch the MTA-STS policy.
    #[arg(long)]
    #[serde(default)]
    pub no_https: bool,
    /// The tenant the domains belong to (default: the only tenant there is).
    #[arg(long, value_name = "NAME")]
    #[serde(default)]
    pub tenant: Option<String>,
    /// Any other `mailwarden scan` flags, after `--` (e.g. `-- --timeout 5 --ns-port 5300`).
    #[arg(last = true, value_name = "SCAN FLAGS")]
    #[serde(default)]
    pub scan_flags: Vec<String>,
}

impl MonitorSpec {
    /// The `scan` flags this spec stands for; relative paths are made
    /// absolute against `base` (a monitor runs from anywhere).
    pub fn flags(&self, base: &Path) -> Vec<String> {
        let abs = |p: &Path| base.join(p).display().to_string();
        let mut out = Vec::new();
        let mut push = |flag: &str, value: Option<String>| {
            out.push(flag.to_string());
            out.extend(value);
        };
        self.resolver.iter().for_each(|r| push("--resolver", Some(r.clone())));
        if let Some(p) = &self.trust_anchor {
            push("--trust-anchor", Some(abs(p)));
        }
        if let Some(p) = &self.ca_file {
            push("--ca-file", Some(abs(p)));
        }
        for (on, flag) in [
            (self.no_dnssec, "--no-dnssec"),
            (self.allow_private_targets, "--allow-private-targets"),
            (self.parked, "--parked"),
            (self.no_smtp, "--no-smtp"),
            (self.no_https, "--no-https"),
        ] {
            if on {
                push(flag, None);
            }
        }
        self.dkim_selector
            .iter()
            .for_each(|s| push("--dkim-selector", Some(s.clone())));
        for p in &self.profile {
            // A profile file is a path; a built-in profile is a bare name.
            let value = if p.ends_with(".toml") {
                abs(Path::new(p))
            } else {
                p.clone()
            };
            push("--profile", Some(value));
        }
        if !self.checks.is_empty() {
            push("--checks", Some(self.checks.join(",")));
        }
        for z in &self.zone_file {
            let value = match z.split_once('=') {
                Some((origin, file)) => format!("{origin}={}", abs(Path::new(file))),
                None => abs(Path::new(z)),
            };
            push("--zone-file", Some(value));
        }
        out.extend(self.scan_flags.iter().cloned());
        out
    }
}

/// The `scan` arguments a monitor's flags stand for (checked the way
/// `mailwarden scan` checks them).
pub fn scan_args(domain: &str, flags: &[String]) -> Result<crate::args::ScanArgs> {
    let argv = ["mailwarden", "scan", domain]
        .into_iter()
        .map(String::from)
        .chain(flags.iter().cloned());
    match crate::args::Cli::try_parse_from(argv) {
        Ok(crate::args::Cli {
            command: crate::args::Command::Scan(args),
            ..
        }) => Ok(args),
        Ok(_) => bail!("{domain}: not a scan"),
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("").trim_start_matches("error: ");
            bail!("{domain}: the scan options {flags:?} are not valid: {first}")
        }
    }
}

/// Open the database of `--db`, else `MAILWARDEN_DB`, else the default
/// file. The environment is read here too because `audit` and `alert` do
/// not load the settings (which fill `--db` from it for other commands).
pub async fn open_store(db: Option<&str>) -> Result<Store> {
    let url = match db
        .map(str::to_owned)
        .or_else(|| std::env::var("MAILWARDEN_DB").ok().filter(|v| !v.is_empty()))
    {
        Some(url) => url,
        None => mailwarden_store::location::default_url()?,
    };
    Ok(Store::open(&url).await?)
}

pub async fn run(db: Option<&str>, command: MonitorCommand) -> Result<ExitCode> {
    let store = open_store(db).await?;
    match command {
        MonitorCommand::Add(spec) => {
            let cwd = std::env::current_dir().context("the working directory")?;
            add(&store, &spec, &cwd, "cli").await?;
        }
        MonitorCommand::List { format } => list(&store, format).await?,
        MonitorCommand::Remove { domains } => {
            for d in &domains {
                let name = domain(d)?;
                if !monitor::remove(&store, &name).await? {
                    bail!("monitor remove {name}: not monitored (monitor list shows what is)");
                }
                println!("{name}: no longer monitored (its history stays; `mailwarden erase {name}` removes it)");
            }
        }
        MonitorCommand::Sync { file } => sync(&store, &file).await?,
        MonitorCommand::Run(args) => return crate::monitor_run::run(store, args).await,
    }
    Ok(ExitCode::SUCCESS)
}

/// A domain argument, normalised (lower case, no trailing dot).
pub fn domain(input: &str) -> Result<String> {
    let name = mailwarden_model::DomainName::parse(input).map_err(|e| anyhow::anyhow!("{input:?}: {e}"))?;
    Ok(name.as_str().trim_end_matches('.').to_string())
}

async fn add(store: &Store, spec: &MonitorSpec, base: &Path, origin: &str) -> Result<Vec<String>> {
    let every = mailwarden_store::retention::parse_period(&spec.every).map_err(|e| anyhow::anyhow!("--every {e}"))?;
    if every < 60 {
        bail!("--every {}: at least 1m between scans of one domain", spec.every);
    }
    let flags = spec.flags(base);
    let scope = mailwarden_store::tenant::scope_for_cli(store, spec.tenant.as_deref()).await?;
    let mut added = Vec::new();
    for d in &spec.domains {
        let name = domain(d)?;
        // Check the options now, not at 3 a.m. in `monitor run`.
        let args = scan_args(&name, &flags)?;
        crate::config::scan_options(&args)?;
        mailwarden_store::tenant::claim_domain(store, scope, &name).await?;
        monitor::add(store, &name, every, &flags, origin).await?;
        mailwarden_store::tenant::assign_monitor(store, scope, &name).await?;
        println!("{name}: monitored every {} ({})", spec.every, describe_flags(&flags));
        added.push(name);
    }
    Ok(added)
}

fn describe_flags(flags: &[String]) -> String {
    if flags.is_empty() {
        "default scan options".into()
    } else {
        format!("scan {}", flags.join(" "))
    }
}

async fn list(store: &Store, format: Format) -> Result<()> {
    let monitors = monitor::list(store).await?;
    if format != Format::Text {
        let mut out = std::io::stdout().lock();
        mailwarden_render::inert::to_writer_pretty(&mut out, &monitors)?;
        println!();
        return Ok(());
    }
    if monitors.is_empty() {
        println!("no domain is monitored (mailwarden monitor add DOMAIN)");
    }
    for m in monitors {
        println!(
            "{}  every {}s  next {}  {}  [{}]",
            m.domain,
            m.every_secs,
            m.next_due_at,
            mailwarden_render::inert::line(&describe_flags(&m.scan_flags())),
            m.origin
        );
    }
    Ok(())
}

/// A monitors file: `[[monitor]]` tables with the keys of `monitor add`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MonitorsFile {
    #[serde(default)]
    monitor: Vec<MonitorSpec>,
}

async fn sync(store: &Store, file: &Path) -> Result<()> {
    let text = crate::config::read_text(file, 1 << 20).with_context(|| format!("{}: cannot read", file.display()))?;
    let parsed: MonitorsFile = toml::from_str(&text).map_err(|e| {
        let line = e.span().map_or(String::new(), |s| {
            format!(":{}", text[..s.start.min(text.len())].matches('\n').count() + 1)
        });
        anyhow::anyhow!("{}{line}: {}", file.display(), e.message().trim_end())
    })?;
    let abs = std::fs::canonicalize(file).with_context(|| file.display().to_string())?;
    let origin = format!("config:{}", abs.display());
    let base = abs.parent().unwrap_or_else(|| Path::new("/")).to_path_buf();
    let mut declared = Vec::new();
    for mut spec in parsed.monitor {
        if spec.every.is_empty() {
            spec.every = "1h".into();
        }
        if spec.domains.is_empty() {
            bail!("{}: a [[monitor]] without domains", file.display());
        }
        declared.extend(add(store, &spec, &base, &origin).await?);
    }
    for m in monitor::list(store).await? {
        if m.origin == origin && !declared.contains(&m.domain) {
            monitor::remove(store, &m.domain).await?;
            println!("{}: no longer in {}, no longer monitored", m.domain, file.display());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_flags_are_scan_flags_with_absolute_paths() {
        let spec = MonitorSpec {
            domains: vec!["example.com".into()],
            every: "1h".into(),
            resolver: vec!["127.0.0.1:5353".into()],
            trust_anchor: Some("root.key".into()),
            zone_file: vec!["example.com=z/example.zone".into()],
            no_smtp: true,
            profile: vec!["baseline".into()],
            scan_flags: vec!["--timeout".into(), "5".into()],
            ..MonitorSpec::default()
        };
        let flags = spec.flags(Path::new("/etc/mw"));
        assert_eq!(
            flags,
            [
                "--resolver",
                "127.0.0.1:5353",
                "--trust-anchor",
                "/etc/mw/root.key",
                "--no-smtp",
                "--profile",
                "baseline",
                "--zone-file",
                "example.com=/etc/mw/z/example.zone",
                "--timeout",
                "5"
            ]
        );
        // --zone-file and --resolver exclude each other, as in `scan`.
        let err = scan_args("example.com", &flags).unwrap_err().to_string();
        assert!(err.contains("cannot be used with"), "{err}");
        let args = scan_args("example.com", &flags[..7]).unwrap();
        assert_eq!(args.dns.resolvers, ["127.0.0.1:5353"]);
        assert!(args.no_smtp);
        assert!(scan_args("example.com", &["--bogus".into()]).is_err());
    }

    #[test]
    fn a_monitors_file_parses_and_unknown_keys_are_refused() {
        let ok: MonitorsFile =
            toml::from_str("[[monitor]]\ndomains = [\"a.example\"]\nevery = \"30m\"\nno-smtp = true\n").unwrap();
        assert_eq!(ok.monitor[0].every, "30m");
        assert!(ok.monitor[0].no_smtp);
        assert!(toml::from_str::<MonitorsFile>("[[monitor]]\ndomain = \"a\"\n").is_err());
    }
}
