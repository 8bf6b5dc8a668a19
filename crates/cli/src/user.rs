//! `mailwarden user add|list` and `mailwarden tenant add|list`: the
//! accounts of the web service (issue 16) and the tenants they belong to.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use mailwarden_store::tenant;
use mailwarden_store::user::{self, Role};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user to a tenant, with a role and a password read from a file (- for standard input).
    Add {
        email: String,
        /// The user's tenant (default: the only one there is).
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
        /// viewer reads; analyst also approves baselines; admin also manages users and tokens;
        /// auditor reads everything including the audit log and changes nothing.
        #[arg(long, value_name = "admin|analyst|viewer|auditor")]
        role: String,
        /// File whose first line is the password (- reads standard input).
        #[arg(long, value_name = "FILE")]
        password_file: PathBuf,
    },
    /// List a tenant's users and their roles.
    List {
        #[arg(long, value_name = "NAME")]
        tenant: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Add a tenant (an organisation whose domains and users no other tenant sees).
    Add { name: String },
    /// List the tenants.
    List,
}

pub async fn run(db: Option<&str>, command: UserCommand) -> Result<ExitCode> {
    let store = crate::monitor::open_store(db).await?;
    match command {
        UserCommand::Add {
            email,
            tenant: name,
            role,
            password_file,
        } => {
            let Some(role) = Role::parse(&role) else {
                bail!("--role {role:?}: expected admin, analyst, viewer or auditor");
            };
            let password = read_password(&password_file)?;
            let scope = tenant::scope_for_cli(&store, name.as_deref()).await?;
            user::add(&store, scope, &email, role, &password).await?;
            println!("{}: added as {}", email.trim().to_ascii_lowercase(), role.as_str());
        }
        UserCommand::List { tenant: name } => {
            let scope = tenant::scope_for_cli(&store, name.as_deref()).await?;
            for (email, role) in user::list(&store, scope).await? {
                println!("{email}\t{role}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn run_tenant(db: Option<&str>, command: TenantCommand) -> Result<ExitCode> {
    let store = crate::monitor::open_store(db).await?;
    match command {
        TenantCommand::Add { name } => {
            let t = tenant::add(&store, &name).await?;
            println!("tenant {:?} added (id {})", t.name, t.id);
        }
        TenantCommand::List => {
            for t in tenant::list(&store).await? {
                println!("{}\t{}\t{}", t.id, t.name, t.created_at);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The first line of `path` (or of standard input for `-`), without its newline.
fn read_password(path: &std::path::Path) -> Result<String> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .context("--password-file -: standard input")?;
    } else {
        text = std::fs::read_to_string(path).with_context(|| format!("--password-file {}", path.display()))?;
    }
    let line = text.lines().next().unwrap_or("").to_owned();
    if line.is_empty() {
        bail!(
            "--password-file {}: the first line (the password) is empty",
            path.display()
        );
    }
    Ok(line)
}
