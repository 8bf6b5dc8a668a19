//! `mailwarden token create|revoke|list`: API tokens for the web service's
//! JSON API (`Authorization: Bearer ...`). `create` prints the token once,
//! alone on its last line, so a script can take it with `tail -n 1`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::Subcommand;
use mailwarden_store::token;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user; it acts with the user's tenant and role.
    Create {
        /// The user's e-mail address.
        #[arg(long, value_name = "EMAIL")]
        user: String,
        /// Expire after this long: 30m, 12h, 90d (s, m, h, d, w). Default: never.
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
    },
    /// Revoke a token by its id (from `token list` or `token create`).
    Revoke { id: i64 },
    /// List the tokens (never the tokens themselves): id, user, created, expires, revoked.
    List,
}

pub async fn run(db: Option<&str>, command: TokenCommand) -> Result<ExitCode> {
    let store = crate::monitor::open_store(db).await?;
    match command {
        TokenCommand::Create { user, expires } => {
            let lifetime = expires
                .as_deref()
                .map(|e| mailwarden_store::retention::parse_period(e).map_err(|m| anyhow::anyhow!("--expires {m}")))
                .transpose()?
                .map(time::Duration::seconds);
            let (id, secret) = token::create(&store, &user, lifetime).await?;
            println!("token {id} for {user}; shown once, store it now:");
            println!("{secret}");
        }
        TokenCommand::Revoke { id } => {
            if !token::revoke(&store, id).await? {
                bail!("token {id}: no such live token (token list)");
            }
            println!("token {id} revoked");
        }
        TokenCommand::List => {
            for t in token::list(&store).await? {
                println!(
                    "{}\t{}\tcreated {}\texpires {}\t{}",
                    t.id,
                    t.email,
                    t.created_at,
                    t.expires_at.as_deref().unwrap_or("never"),
                    t.revoked_at
                        .map_or_else(|| "live".to_owned(), |r| format!("revoked {r}"))
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
