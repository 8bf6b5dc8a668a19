//! `mailwarden domain claim|verify|override|list`: show a tenant owns a
//! domain before its reports and alerts are taken (issue 16). `claim`
//! prints the TXT record to publish, `verify` looks it up through the DNS
//! settings of `scan` (resolver, trust anchor, zone files), `override`
//! takes it as shown without the record, with a reason, audit-logged.
//! Exit status of `verify`: 0 shown, 1 not shown (no record, another
//! token), 2 indeterminate (the lookup failed: try again).

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use mailwarden_store::ownership::{self, CheckOutcome, Ownership};
use mailwarden_store::tenant::scope_for_cli;

use crate::args::{DnsArgs, Format};
use crate::monitor::{domain, open_store};

#[derive(Debug, Subcommand)]
pub enum DomainCommand {
    /// Claim a domain: prints the DNS TXT record that shows you own it.
    Claim {
        domain: String,
        /// The tenant claiming it (default: the only tenant there is).
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
    },
    /// Look the claim's TXT record up now (exit 0 shown, 1 not shown, 2 the lookup failed).
    Verify(Box<VerifyArgs>),
    /// Take ownership as shown without the DNS record (an administrator's decision; audit-logged).
    Override {
        domain: String,
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
        /// Why ownership is taken as shown (stored in the audit log).
        #[arg(long, value_name = "TEXT")]
        reason: String,
        /// Who decides (default: cli:$USER).
        #[arg(long, value_name = "WHO")]
        by: Option<String>,
    },
    /// The tenant's claims: state, record, latest check.
    List {
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    pub domain: String,
    #[arg(long, value_name = "NAME")]
    pub tenant: Option<String>,
    #[command(flatten)]
    pub dns: DnsArgs,
}

pub async fn run(db: Option<&str>, command: DomainCommand) -> Result<ExitCode> {
    let store = open_store(db).await?;
    match command {
        DomainCommand::Claim { domain: d, tenant } => {
            let scope = scope_for_cli(&store, tenant.as_deref()).await?;
            let claim = ownership::claim(&store, scope, &domain(&d)?).await?;
            show(&claim);
            if !claim.is_shown() {
                println!(
                    "publish this record, then run `mailwarden domain verify {}`:",
                    claim.domain
                );
                // Alone on the last line, for scripts.
                println!("{}", claim.record());
            }
        }
        DomainCommand::Verify(args) => return verify(&store, *args).await,
        DomainCommand::Override {
            domain: d,
            tenant,
            reason,
            by,
        } => {
            let scope = scope_for_cli(&store, tenant.as_deref()).await?;
            let by = by.unwrap_or_else(|| format!("cli:{}", std::env::var("USER").unwrap_or_default()));
            let claim = ownership::override_claim(&store, scope, &domain(&d)?, &by, &reason).await?;
            show(&claim);
        }
        DomainCommand::List { tenant, format } => {
            let scope = scope_for_cli(&store, tenant.as_deref()).await?;
            let claims = ownership::list(&store, scope).await?;
            if format != Format::Text {
                let mut out = std::io::stdout().lock();
                mailwarden_render::inert::to_writer_pretty(&mut out, &claims)?;
                println!();
            } else if claims.is_empty() {
                println!("no domain is claimed (mailwarden domain claim DOMAIN)");
            }
            if format == Format::Text {
                claims.iter().for_each(show);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(store: &mailwarden_store::Store, args: VerifyArgs) -> Result<ExitCode> {
    let scope = scope_for_cli(store, args.tenant.as_deref()).await?;
    let name = domain(&args.domain)?;
    // A scan-target lookup: the scan's DNS settings, no private targets.
    let dns = crate::config::dns_source(&args.dns, false).await?;
    let (claim, outcome) = mailwarden_server::ownership::verify(store, scope, &name, dns.as_ref()).await?;
    show(&claim);
    Ok(match outcome {
        CheckOutcome::Verified => ExitCode::SUCCESS,
        CheckOutcome::Indeterminate(_) => ExitCode::from(2),
        CheckOutcome::Missing(_) | CheckOutcome::Mismatch(_) => {
            println!("publish: {}", claim.record());
            ExitCode::from(1)
        }
    })
}

fn show(o: &Ownership) {
    let line = format!(
        "{}: {}{}; latest check: {}",
        o.domain,
        o.state,
        o.verified_by
            .as_deref()
            .map(|by| format!(" by {by} at {}", o.verified_at.as_deref().unwrap_or("")))
            .unwrap_or_default(),
        o.last_check.as_deref().unwrap_or("none")
    );
    println!("{}", mailwarden_render::inert::line(&line));
}
