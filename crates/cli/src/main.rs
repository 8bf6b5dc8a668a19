//! The `mailwarden` binary: parse arguments, run the command, map the
//! result to an exit code (0 clean, 1 findings at or above `--fail-on`,
//! 2 usage or runtime error, or nothing could be seen for any domain). A
//! closed standard output is not an error.

mod alert;
mod allocator;
mod args;
mod audit;
mod compliance;
mod config;
mod cpu_meter;
mod domain;
mod evidence;
mod evidence_verify;
mod generate;
mod history;
mod input;
mod interrupt;
mod jobs;
mod judge;
mod message;
mod monitor;
mod monitor_claim;
mod monitor_run;
mod output;
mod remembered;
mod reports;
mod reports_fetch;
mod reports_serve;
mod reports_view;
mod rules;
mod scan;
mod seen;
mod senders;
mod serve;
mod settings;
mod sources;
mod spf;
mod token;
mod user;
mod waivers;
mod worker;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

use crate::args::{Cli, Command, SpfCommand};

fn main() -> ExitCode {
    allocator::tune();
    let cli = match parse() {
        Ok(cli) => cli,
        Err(err) => {
            eprintln!("mailwarden: {err:#}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mailwarden: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(run(cli));
    // Do not wait for lingering DNS tasks of a finished run.
    runtime.shutdown_background();
    match result {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            // Errors may quote input (names, records): never raw to a terminal.
            eprintln!("mailwarden: {}", mailwarden_render::inert::block(&format!("{err:#}")));
            ExitCode::from(2)
        }
    }
}

/// The command line, with the shared options it leaves unset filled from
/// the environment and the settings file ([`settings`]).
fn parse() -> anyhow::Result<Cli> {
    let matches = Cli::command().get_matches();
    let mut cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if matches!(
        cli.command,
        Command::Scan(_)
            | Command::Judge(_)
            | Command::Spf(_)
            | Command::Generate(_)
            | Command::Monitor(_)
            | Command::History(_)
            | Command::Diff(_)
            | Command::Baseline(_)
            | Command::Retention(_)
            | Command::Erase { .. }
            | Command::Evidence(_)
            | Command::Message(_)
            | Command::Reports(_)
            | Command::Senders(_)
            | Command::Serve(_)
            | Command::User(_)
            | Command::Token(_)
            | Command::Tenant(_)
            | Command::Domain(_)
            | Command::Worker(_)
            | Command::Jobs(_)
    ) {
        settings::Settings::load(cli.config.as_deref())?.apply(&mut cli, &matches)?;
    }
    Ok(cli)
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let db = cli.db.as_deref();
    match cli.command {
        Command::Monitor(c) => monitor::run(db, c).await,
        Command::History(a) => history::history(db, a).await,
        Command::Diff(a) => history::diff(db, a).await,
        Command::Baseline(c) => history::baseline(db, c).await,
        Command::Retention(c) => history::retention(db, c).await,
        Command::Erase { domain, format } => history::erase(db, &domain, format).await,
        Command::Audit(c) => audit::run(db, c).await,
        Command::Evidence(a) => evidence::run(db, a).await,
        Command::Alert(c) => alert::run(db, c).await,
        Command::Scan(args) => scan::run(db, args).await,
        Command::Judge(args) => judge::run(args),
        Command::Rules(args) => rules::list(args),
        Command::Frameworks(args) => compliance::list_frameworks(args),
        Command::Profiles(args) => compliance::list_profiles(args),
        Command::Explain { rule_id } => rules::explain(&rule_id),
        Command::Spf(SpfCommand::Check(args)) => spf::check(args).await,
        Command::Message(args) => message::run(db, args).await,
        Command::Schema => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(mailwarden_render::schema::REPORT_JSON_SCHEMA.as_bytes())?;
            out.flush()?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Generate(args) => generate::run(args).await,
        Command::Completions { shell } => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(shell, &mut Cli::command(), "mailwarden", &mut out);
            Ok(ExitCode::SUCCESS)
        }
        Command::Reports(command) => reports::run(db, command).await,
        Command::Senders(args) => senders::run(db, args).await,
        Command::Serve(args) => serve::run(db, args).await,
        Command::User(c) => user::run(db, c).await,
        Command::Token(c) => token::run(db, c).await,
        Command::Tenant(c) => user::run_tenant(db, c).await,
        Command::Domain(c) => domain::run(db, c).await,
        Command::Worker(args) => worker::run(db, args).await,
        Command::Jobs(command) => jobs::run(db, command).await,
        Command::Man => {
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout().lock())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Whether the error chain ends in a closed pipe (`mailwarden scan | head`).
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
