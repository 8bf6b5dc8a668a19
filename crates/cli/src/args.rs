//! Command-line arguments as clap parses them. [`crate::config`] turns them
//! into a validated configuration; nothing here is trusted yet.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "mailwarden",
    version,
    about = "Audit and guard an organisation's email infrastructure."
)]
pub struct Cli {
    /// Settings file (TOML) for the options every command shares; default: ./mailwarden.toml if it exists.
    /// Precedence: command-line flag, then MAILWARDEN_* environment variable, then this file.
    #[arg(long, global = true, value_name = "FILE", env = "MAILWARDEN_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database of monitor, history, diff, baseline, retention and erase: sqlite:PATH or
    /// postgres://USER@HOST/DB (also MAILWARDEN_DB). Default: an SQLite file in the XDG data directory,
    /// $XDG_DATA_HOME/mailwarden/mailwarden.db (~/.local/share/mailwarden/mailwarden.db), created on first use.
    /// Given to `message`, it remembers the DKIM selectors of verified signatures; given to `scan`, they are asked too.
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Audit one or more domains: MX routing, SPF, DMARC, DKIM, BIMI, DNSSEC, nameservers,
    /// STARTTLS on every MX address, DANE, MTA-STS, TLS-RPT and failover parity.
    Scan(ScanArgs),
    /// Judge saved evidence (from --save-evidence) again, offline, with the current rules.
    Judge(JudgeArgs),
    /// Audit real messages (.eml, mbox, - for standard input): the path they took (hops, delays, TLS),
    /// what their headers disclose, and DKIM, ARC, SPF and DMARC verified and compared with Authentication-Results.
    Message(MessageArgs),
    /// List the rule catalogue.
    Rules(RulesArgs),
    /// List the compliance frameworks, their controls, and how many rules map to each.
    Frameworks(FrameworksArgs),
    /// List the built-in profiles (for --profile) with their titles and requirement counts.
    Profiles(ProfilesArgs),
    /// Explain one rule: rationale, references, remediation, framework controls.
    Explain {
        /// A rule id, e.g. mx.target-cname.
        rule_id: String,
    },
    /// SPF tools.
    #[command(subcommand)]
    Spf(SpfCommand),
    /// Print the JSON Schema (draft 2020-12) of the `--format json` report.
    Schema,
    /// Build recommended records (zone-file syntax, with comments) from a domain's current state.
    Generate(GenerateArgs),
    /// Print a shell completion script (e.g. `mailwarden completions bash > /etc/bash_completion.d/mailwarden`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; `mailwarden man | man -l -`).
    Man,
    /// Watch domains: scan them on a schedule, store every scan, alert on change.
    #[command(subcommand)]
    Monitor(crate::monitor::MonitorCommand),
    /// A domain's stored timeline: snapshots, changes, finding transitions, score.
    History(crate::history::HistoryArgs),
    /// What changed between two stored snapshots of a domain (default: the last two).
    Diff(crate::history::DiffArgs),
    /// Approved baselines: the state a domain should have.
    #[command(subcommand)]
    Baseline(crate::history::BaselineCommand),
    /// How long stored data is kept, and deleting what expired.
    #[command(subcommand)]
    Retention(crate::history::RetentionCommand),
    /// Remove every stored row about a domain and print a receipt.
    Erase {
        domain: String,
        /// Receipt format (text or json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// The verifiable audit log of the store: verify it, export a checkpoint.
    #[command(subcommand)]
    Audit(crate::audit::AuditCommand),
    /// Evidence for auditors: a domain's findings, changes and approvals, alerts and verdicts over a period, with
    /// a signed checkpoint and an inclusion proof for every audit event cited (`audit verify-evidence DIR` checks it).
    Evidence(crate::evidence::EvidenceArgs),
    /// Where monitoring alerts go (webhook, email, syslog), and their delivery state.
    #[command(subcommand)]
    Alert(crate::alert::AlertCommand),
    /// DMARC aggregate and failure reports and SMTP TLS reports: import them.
    #[command(subcommand)]
    Reports(crate::reports::ReportsCommand),
    /// The sender inventory of a domain from its stored aggregate reports, joined with its
    /// configuration from the latest stored scan.
    Senders(crate::senders::SendersArgs),
    /// The web dashboard and JSON API over the store (and the monitor schedule, unless --no-monitor).
    Serve(crate::serve::ServeArgs),
    /// Users of the web service: add, list.
    #[command(subcommand)]
    User(crate::user::UserCommand),
    /// API tokens of the web service: create, revoke, list.
    #[command(subcommand)]
    Token(crate::token::TokenCommand),
    /// Tenants: organisations whose domains and users no other tenant sees.
    #[command(subcommand)]
    Tenant(crate::user::TenantCommand),
    /// Domain ownership: claim a domain, verify its DNS TXT token, or override (audit-logged).
    #[command(subcommand)]
    Domain(crate::domain::DomainCommand),
    /// Scan the batches of the jobs in the store (`mailwarden jobs submit`); run any number of
    /// workers on any number of machines sharing one PostgreSQL (--db postgres://...).
    Worker(crate::worker::WorkerArgs),
    /// Large scans as jobs for `mailwarden worker`: submit a list, follow it, read its results.
    #[command(subcommand)]
    Jobs(crate::jobs::JobsCommand),
}

#[derive(Debug, Subcommand)]
pub enum SpfCommand {
    /// Run check_host() (RFC 7208 §4) for a client IP and sender, and print the result with a trace.
    Check(SpfCheckArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Jsonl,
}

/// Report formats of `scan` and `judge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// Grouped by area, for a terminal.
    Text,
    /// One document per run (streamed); `mailwarden schema` describes it.
    Json,
    /// One domain object per line, as each finishes.
    Jsonl,
    /// SARIF 2.1.0, for code-scanning and CI systems.
    Sarif,
    /// One row per finding, for spreadsheets (formula cells neutralised).
    Csv,
    /// One self-contained document for an auditor (prints to PDF).
    Html,
    /// For pasting into tickets.
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// Where answers come from; shared by every command that asks DNS.
#[derive(Debug, Args)]
pub struct DnsArgs {
    /// Recursive resolver to ask, IP or IP:PORT (repeatable). Default: the system's.
    #[arg(long = "resolver", value_name = "IP[:PORT]")]
    pub resolvers: Vec<String>,
    /// Seconds to wait for one DNS answer.
    #[arg(long, default_value_t = 3.0, value_name = "SECS")]
    pub timeout: f64,
    /// Extra attempts per DNS query after a timeout.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub retries: u32,
    /// DNSSEC trust anchor: DNSKEY or DS lines in zone-file format. Default: the IANA root KSK.
    #[arg(long, value_name = "FILE")]
    pub trust_anchor: Option<PathBuf>,
    /// Do not validate DNSSEC (every answer's proof is `not-validated`).
    #[arg(long, conflicts_with = "trust_anchor")]
    pub no_dnssec: bool,
    /// Answer only from these zone files, offline (repeatable; `ORIGIN=FILE` when the file has no $ORIGIN).
    #[arg(long = "zone-file", value_name = "[ORIGIN=]FILE", conflicts_with_all = ["resolvers", "trust_anchor"])]
    pub zone_files: Vec<String>,
    /// A directory $INCLUDE may read from besides the zone file's own directory (repeatable).
    #[arg(long = "zone-include-dir", value_name = "DIR")]
    pub zone_include_dirs: Vec<PathBuf>,
    /// Most DNS queries for one domain.
    #[arg(long, default_value_t = 400, value_name = "N")]
    pub query_budget: usize,
    /// Most seconds spent on one domain (RFC 7208 asks that SPF evaluation be allowed at least 20 s).
    #[arg(long, default_value_t = 30.0, value_name = "SECS")]
    pub time_budget: f64,
    /// Port used for direct queries to authoritative servers (nameserver checks); for tests.
    #[arg(long, default_value_t = 53, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub ns_port: u16,
    /// Most distinct servers one domain makes mailwarden ask directly (its nameservers, its parent's).
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub max_direct_targets: usize,
    /// Most distinct servers asked directly in the whole run.
    #[arg(long, default_value_t = 4096, value_name = "N")]
    pub max_direct_targets_per_run: usize,
    /// Most queries per second to each resolver (0: no limit). REFUSED in bursts slows it further.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub resolver_qps: u32,
    /// Most queries per second to each authoritative server asked directly (0: no limit). Timeouts, SERVFAIL
    /// and REFUSED in bursts slow it further.
    #[arg(long, default_value_t = mailwarden_dns::live::Limits::DEFAULT_SERVER_RATE, value_name = "N")]
    pub ns_qps: u32,
    /// Most DNS lookups in flight at once, over all servers.
    #[arg(long, default_value_t = 512, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_in_flight: u32,
}

/// How mailwarden connects to the hosts a domain names (STARTTLS probes).
#[derive(Debug, Args)]
pub struct ProbeArgs {
    /// The SMTP port to probe (25 is what senders use; others are for tests).
    #[arg(long, default_value_t = 25, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub smtp_port: u16,
    /// The name sent in EHLO.
    #[arg(long, default_value = "mailwarden.invalid", value_name = "NAME")]
    pub ehlo_name: String,
    /// Also connect to (and send DNS queries to) loopback, private and other non-global addresses that a
    /// scanned domain names: refused by default. The --resolver is yours and always asked.
    #[arg(long)]
    pub allow_private_targets: bool,
    /// Seconds allowed for one STARTTLS probe (one address, connect to end of handshake).
    #[arg(long, default_value_t = 10.0, value_name = "SECS")]
    pub probe_timeout: f64,
}

#[derive(Debug, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
    /// Write the report to FILE (created or truncated) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Exit with 1 when a failing finding has at least this severity (info, low, medium, high, critical, or none);
    /// `profile`: when a --profile is not met. Combine with commas: `high,profile`.
    #[arg(long, default_value = "high", value_name = "SEVERITY[,profile]")]
    pub fail_on: String,
    /// Judge the findings against a profile: a built-in name (`mailwarden profiles` lists them:
    /// baseline, pci-dss-4, hipaa, gdpr, nis2, sox ...) or a profile file (repeatable).
    #[arg(long = "profile", value_name = "NAME|PATH")]
    pub profiles: Vec<String>,
    /// Colour in text output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Text output: list every finding (passes too), with evidence and references under problems.
    #[arg(long, short)]
    pub verbose: bool,
    /// CSV: one row per domain (verdict, counts, published MX/SPF/DMARC/MTA-STS/TLS-RPT, the worst findings)
    /// instead of one row per finding.
    #[arg(long)]
    pub summary: bool,
    /// JSON and JSON Lines: leave out each domain's observation (every DNS answer and probe); findings remain.
    #[arg(long)]
    pub no_evidence: bool,
    /// Accept the risk of a rule's failing findings (repeatable): RULE, or RULE@SUBJECT with SUBJECT a glob
    /// (`*`, `?`). They are shown as accepted ("ignored on the command line") and never fail the exit code.
    #[arg(long = "ignore", value_name = "RULE[@SUBJECT]")]
    pub ignore: Vec<String>,
    /// Waiver file (TOML `[[waiver]]` tables: rule, subject, reason, owner, expires): failing findings a
    /// live waiver covers are accepted risks until it expires; an expired waiver is itself a finding.
    #[arg(long, value_name = "FILE")]
    pub waivers: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Domains to audit.
    pub domains: Vec<String>,
    /// Read domains from a file, one per line, `#` comments; `-` for standard input.
    #[arg(long, short, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Domains audited at once.
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub concurrency: usize,
    /// DKIM selectors to try besides the built-in list (repeatable, or comma-separated).
    #[arg(long = "dkim-selector", value_name = "SELECTOR[,...]", value_delimiter = ',')]
    pub dkim_selectors: Vec<String>,
    /// Run only these checks (comma-separated: mx, spf, dmarc, dkim, bimi,
    /// dnssec, ns, mta-sts, tlsrpt, dane, smtp, failover). Default: all.
    #[arg(long, value_delimiter = ',', value_name = "CHECK,...")]
    pub checks: Vec<String>,
    /// The domains are parked: they should neither send nor receive mail
    /// (null MX, `v=spf1 -all`, DMARC `p=reject`).
    #[arg(long)]
    pub parked: bool,
    /// Write the evidence (one Observation per line, JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub save_evidence: Option<PathBuf>,
    /// Do not connect to the MX hosts (no STARTTLS probe); their TLS checks are indeterminate.
    #[arg(long)]
    pub no_smtp: bool,
    /// Do not fetch over HTTPS (the MTA-STS policy); its checks are indeterminate.
    #[arg(long)]
    pub no_https: bool,
    /// Most addresses (A and AAAA) probed per MX host.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub max_mx_addresses: usize,
    /// Trust anchors (PEM) for certificate checks instead of the built-in webpki roots: a private CA, or a test CA.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// Port for HTTPS fetches (MTA-STS policies); 443 is what senders use, others are for tests.
    #[arg(long, default_value_t = 443, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub https_port: u16,
    #[command(flatten)]
    pub probe: ProbeArgs,
    #[command(flatten)]
    pub dns: DnsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct MessageArgs {
    /// Message files: one message (.eml) or an mbox of many; `-` for standard input.
    pub files: Vec<PathBuf>,
    /// The receiving server whose Received field is believed (its `by` name): SPF is checked for the client
    /// and envelope it recorded, and only fields below it count as the sender's. Default: the topmost Received field.
    #[arg(long, value_name = "NAME")]
    pub trusted_hop: Option<String>,
    /// Do not verify authentication (no DNS queries): path and header privacy only.
    #[arg(long)]
    pub no_auth: bool,
    /// Print the DKIM selectors the messages were signed with (`DOMAIN SELECTOR` per line), for
    /// `scan --dkim-selector`, instead of a report.
    #[arg(long)]
    pub dkim_selectors: bool,
    /// Most bytes kept of one message; a longer one is reported, its signatures not verified.
    #[arg(long, default_value_t = 32 * 1024 * 1024, value_name = "BYTES")]
    pub max_message_bytes: usize,
    /// Write the evidence (one JSON object per message: hops, leaks, verdicts, every DNS answer) to FILE.
    #[arg(long, value_name = "FILE")]
    pub save_evidence: Option<PathBuf>,
    #[command(flatten)]
    pub dns: DnsArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct JudgeArgs {
    /// Evidence written by `scan --save-evidence`, or the JSON output of `scan`.
    pub file: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What `generate` builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateKind {
    /// SPF from the senders in use (flattened too when over the 10-lookup limit).
    Spf,
    /// A staged DMARC rollout: none, quarantine, reject, with rua.
    Dmarc,
    /// The MTA-STS TXT record and policy file, from the MX set.
    MtaSts,
    /// The TLS-RPT record.
    Tlsrpt,
    /// TLSA 3 1 1 records for the MX hosts, from a certificate file (--cert) or the live MX (STARTTLS).
    Tlsa,
    /// Null MX, `v=spf1 -all` and DMARC p=reject, for a domain that sends no mail.
    NullMx,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to build.
    #[arg(value_enum)]
    pub kind: GenerateKind,
    /// The domain (its current records are read through the DNS flags).
    pub domain: String,
    /// Report address for dmarc, tlsrpt and null-mx (mailto:ADDRESS; tlsrpt also https://URL).
    #[arg(long, value_name = "URI")]
    pub rua: Option<String>,
    /// tlsa: the MX host's certificate, PEM or DER. Without it, each MX host is probed over STARTTLS.
    #[arg(long, value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// tlsa: the host names to publish for (repeatable). Default: every MX host.
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// How tlsa without --cert probes the MX hosts.
    #[command(flatten)]
    pub probe: ProbeArgs,
    /// mta-sts: the policy id. Default: the current UTC time, YYYYMMDDHHMMSS.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// spf: also print a flattened variant when under the lookup limit.
    #[arg(long)]
    pub flatten: bool,
    /// Write to FILE (created or truncated) instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub dns: DnsArgs,
}

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only rules of this area: routing, sender-authentication, transport-security, dns-integrity, privacy
    /// (or a protocol prefix such as spf, dmarc, mta-sts).
    #[arg(long, value_name = "AREA")]
    pub area: Option<String>,
    /// Only rules of this severity (info, low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    pub severity: Option<String>,
}

#[derive(Debug, Args)]
pub struct FrameworksArgs {
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct ProfilesArgs {
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

#[derive(Debug, Args)]
pub struct SpfCheckArgs {
    /// The domain whose SPF policy is evaluated.
    pub domain: String,
    /// The SMTP client's IP address.
    #[arg(long)]
    pub ip: String,
    /// The MAIL FROM address (default: postmaster@DOMAIN).
    #[arg(long)]
    pub sender: Option<String>,
    /// The HELO/EHLO name (default: DOMAIN).
    #[arg(long)]
    pub helo: Option<String>,
    /// Output format (text or json).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    #[command(flatten)]
    pub dns: DnsArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Cli, Command};

    fn scan_ns_port(args: &[&str]) -> Result<u16, clap::Error> {
        let cli = Cli::try_parse_from(["mailwarden", "scan"].iter().chain(args))?;
        match cli.command {
            Command::Scan(scan) => Ok(scan.dns.ns_port),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn ns_port_defaults_to_53_and_parses() {
        assert_eq!(scan_ns_port(&["example.com"]).unwrap(), 53);
        assert_eq!(scan_ns_port(&["--ns-port", "5353", "example.com"]).unwrap(), 5353);
        for bad in ["0", "65536", "x"] {
            assert!(scan_ns_port(&["--ns-port", bad, "example.com"]).is_err(), "{bad}");
        }
    }
}
