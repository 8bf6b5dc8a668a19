//! `mailwarden alert add|list|remove|test|deliver|window`: where monitoring
//! alerts go (issue 13). Delivery itself is
//! `mailwarden_store::alert_delivery` (also run by `monitor run` each tick).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, anyhow, bail};
use clap::{Args, Subcommand};
use mailwarden_alert::{Context, Destination};
use mailwarden_store::alert_delivery::{self, StoredDestination};
use mailwarden_store::outbox::list_alerts;
use time::OffsetDateTime;

use crate::args::Format;
use crate::audit::{KeyArgs, open_store};

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Add a destination: webhook, email or syslog.
    #[command(subcommand)]
    Add(AddDestination),
    /// The destinations (who added them), then the alerts with their delivery state (failures with
    /// their last error; alerts held for a web-added destination with why).
    List {
        /// How many of the latest alerts to show.
        #[arg(long, default_value_t = 20)]
        last: usize,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Remove a destination (its id from `alert list`).
    Remove {
        /// The destination's id.
        id: i64,
    },
    /// Send a test alert to every destination now (not queued); exit 1 if one failed.
    Test,
    /// Deliver the pending alerts that are due now, as `monitor run` does each tick (for cron).
    Deliver(DeliverArgs),
    /// Show, or set, the window in which a repeat alert for the same domain and trigger is
    /// suppressed (e.g. 6h, 1d; 0 turns suppression off).
    Window {
        /// The new window: a number with s, m, h or d.
        duration: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum AddDestination {
    /// POST each alert as JSON to URL; with --secret, signed (X-Mailwarden-Signature: HMAC-SHA256).
    Webhook {
        /// http:// or https:// URL.
        url: String,
        /// Shared secret for the HMAC-SHA256 signature (stored in the database).
        #[arg(long, env = "MAILWARDEN_WEBHOOK_SECRET", hide_env_values = true)]
        secret: Option<String>,
    },
    /// Mail each alert to ADDRESS through the SMTP relay HOST:PORT.
    Email {
        /// Recipient.
        address: String,
        /// The relay, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        smtp: String,
        /// Require STARTTLS (RFC 3207) with a valid certificate before sending.
        #[arg(long)]
        starttls: bool,
        /// Sender address.
        #[arg(long, default_value = mailwarden_alert::destination::DEFAULT_FROM)]
        from: String,
        /// PEM CA certificates the relay's certificate may chain to (besides the public roots).
        #[arg(long, value_name = "FILE")]
        ca_file: Option<PathBuf>,
    },
    /// Send each alert as an RFC 5424 syslog message to HOST:PORT (UDP; --tcp for TCP).
    Syslog {
        /// The collector, HOST:PORT.
        address: String,
        /// TCP with octet-counting framing (RFC 6587) instead of UDP.
        #[arg(long)]
        tcp: bool,
    },
}

#[derive(Debug, Args)]
pub struct DeliverArgs {
    #[command(flatten)]
    pub key: KeyArgs,
}

pub async fn run(db: Option<&str>, command: AlertCommand) -> Result<ExitCode> {
    let store = open_store(db).await?;
    match command {
        AlertCommand::Add(add) => {
            let destination = destination(add)?;
            let id = alert_delivery::add_destination(&store, &destination).await?;
            println!("destination {id} added: {destination}");
        }
        AlertCommand::List { last, format } => list(&store, last, format).await?,
        AlertCommand::Remove { id } => {
            if !alert_delivery::remove_destination(&store, id).await? {
                bail!("no alert destination {id} (see `mailwarden alert list`)");
            }
            println!("destination {id} removed");
        }
        AlertCommand::Test => return test(&store).await,
        AlertCommand::Deliver(args) => {
            args.key.apply();
            let report = alert_delivery::deliver_pending(&store, OffsetDateTime::now_utc()).await?;
            println!(
                "{} sent, {} to retry, {} failed, {} suppressed, {} held (waiting for ownership)",
                report.sent, report.retrying, report.failed, report.suppressed, report.held
            );
        }
        AlertCommand::Window { duration: Some(text) } => {
            let window = parse_duration(&text)?;
            alert_delivery::set_suppression_window(&store, window).await?;
            println!("suppression window: {}", show_duration(window));
        }
        AlertCommand::Window { duration: None } => {
            println!(
                "suppression window: {}",
                show_duration(alert_delivery::suppression_window(&store).await?)
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn destination(add: AddDestination) -> Result<Destination> {
    match add {
        AddDestination::Webhook { url, secret } => Destination::webhook(&url, secret),
        AddDestination::Email {
            address,
            smtp,
            starttls,
            from,
            ca_file,
        } => {
            if let Some(path) = &ca_file
                && !path.is_file()
            {
                return Err(anyhow!("--ca-file {}: no such file", path.display()));
            }
            Destination::email(&address, &smtp, starttls, Some(&from), ca_file)
        }
        AddDestination::Syslog { address, tcp } => Destination::syslog(&address, tcp),
    }
    .map_err(|e| anyhow!(e))
}

async fn list(store: &mailwarden_store::Store, last: usize, format: Format) -> Result<()> {
    let destinations = alert_delivery::list_destinations(store).await?;
    let alerts = list_alerts(store, None).await?;
    let alerts = &alerts[alerts.len().saturating_sub(last)..];
    let mut out = std::io::stdout().lock();
    if format != Format::Text {
        let json = serde_json::json!({
            "destinations": destinations.iter().map(|d| serde_json::json!({
                "id": d.id, "type": d.destination.kind(), "destination": d.destination.to_string(), "added_at": d.added_at,
                "tenant_id": d.tenant_id, "added_by": d.added_by, "needs_ownership": d.needs_ownership(),
            })).collect::<Vec<_>>(),
            "alerts": alerts.iter().map(|a| serde_json::json!({
                "id": a.id, "created_at": a.created_at, "domain": a.domain, "trigger": a.trigger,
                "severity": a.severity, "summary": a.summary, "state": a.state, "attempts": a.attempts,
                "next_attempt_at": a.next_attempt_at, "last_error": a.last_error,
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{json}")?;
        return Ok(out.flush()?);
    }
    write_destinations(&mut out, &destinations)?;
    writeln!(out, "\nalerts (latest {}):", alerts.len())?;
    for a in alerts {
        writeln!(
            out,
            "  #{} {} {} {} {}: {} [{}, {} attempt(s)]",
            a.id, a.created_at, a.severity, a.domain, a.trigger, a.summary, a.state, a.attempts
        )?;
        if let Some(error) = a.last_error.as_deref().filter(|_| a.state != "sent") {
            if a.state == "held" {
                // The reason says "held: ..." and what to do.
                writeln!(out, "      {error}")?;
                continue;
            }
            let when = if a.state == "pending" {
                format!(", next try {}", a.next_attempt_at)
            } else {
                String::new()
            };
            writeln!(out, "      last error{when}: {error}")?;
        }
    }
    Ok(out.flush()?)
}

fn write_destinations(out: &mut impl Write, destinations: &[StoredDestination]) -> std::io::Result<()> {
    if destinations.is_empty() {
        return writeln!(
            out,
            "no destinations: alerts wait in the outbox (add one with `mailwarden alert add`)"
        );
    }
    writeln!(out, "destinations:")?;
    for d in destinations {
        writeln!(
            out,
            "  {} {} (added {}, {})",
            d.id,
            d.destination,
            d.added_at,
            origin(d)
        )?;
    }
    Ok(())
}

/// Who added a destination and whether ownership gates it, in words.
fn origin(d: &StoredDestination) -> String {
    match d.added_by.as_deref() {
        Some(by) if d.needs_ownership() => format!(
            "tenant {}, {by}: an alert about a domain waits until the tenant shows ownership of it",
            d.tenant_id
        ),
        _ => "by the CLI: not gated by ownership".to_owned(),
    }
}

async fn test(store: &mailwarden_store::Store) -> Result<ExitCode> {
    let destinations = alert_delivery::list_destinations(store).await?;
    if destinations.is_empty() {
        bail!("no alert destinations to test (add one with `mailwarden alert add`)");
    }
    let now = OffsetDateTime::now_utc();
    let alert = mailwarden_store::tenant_alerts::test_alert(now);
    let cx = Context::at(now);
    let mut failed = false;
    for d in &destinations {
        match mailwarden_alert::deliver(&d.destination, &alert, &cx).await {
            Ok(()) => println!("{} {}: ok", d.id, d.destination),
            Err(e) => {
                failed = true;
                println!("{} {}: FAILED: {e}", d.id, d.destination);
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// `90s`, `15m`, `6h`, `1d` or `0`.
fn parse_duration(text: &str) -> Result<Duration> {
    let bad = || anyhow!("{text:?} is not a duration: a number with s, m, h or d (e.g. 6h)");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let (number, unit) = text.split_at(text.len().saturating_sub(1));
    let n: u64 = number.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86_400,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs(secs))
}

fn show_duration(d: Duration) -> String {
    match d.as_secs() {
        0 => "off".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_show() {
        assert_eq!(parse_duration("6h").unwrap(), Duration::from_secs(21_600));
        assert_eq!(show_duration(parse_duration("90s").unwrap()), "90s");
        assert_eq!(show_duration(parse_duration("2d").unwrap()), "2d");
        assert_eq!(show_duration(parse_duration("0").unwrap()), "off");
        assert!(parse_duration("6x").unwrap_err().to_string().contains("not a duration"));
        assert!(parse_duration("h").is_err());
    }
}
