//! `mailwarden spf check DOMAIN --ip ADDR`: run check_host() (RFC 7208 §4)
//! through the same collector as `scan`, and print the result and trace.

use std::io::{self, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::{Context, Result};
use mailwarden_checks::spf::check_host;
use mailwarden_engine::collect::{self, Budget};
use mailwarden_model::{DomainName, Transcript};

use mailwarden_render::inert;

use crate::args::{Format, SpfCheckArgs};
use crate::config;

/// check_host() asks one question per round (each answer decides the
/// next), so it needs a round per DNS lookup; the query budget still bounds it.
const SPF_CHECK_ROUNDS: usize = 1_000;

pub async fn check(args: SpfCheckArgs) -> Result<ExitCode> {
    // RFC 7208 §4.3: a malformed domain (an empty label, a label over 63
    // octets, a domain literal such as a HELO of `[192.0.2.1]`) is not an
    // error but the result "none"; check_host() says why in the trace.
    let domain = DomainName::parse(&args.domain).map_or_else(|_| args.domain.trim().to_string(), |d| d.to_string());
    let ip: IpAddr = args
        .ip
        .parse()
        .with_context(|| format!("--ip {:?}: expected an IPv4 or IPv6 address", args.ip))?;
    let sender = args.sender.clone().unwrap_or_else(|| format!("postmaster@{domain}"));
    let helo = args.helo.clone().unwrap_or_else(|| domain.to_string());
    let budget = Budget {
        max_rounds: SPF_CHECK_ROUNDS,
        ..config::budget(&args.dns)?
    };
    // check_host() asks only the resolver, never a server a domain names.
    let source = config::dns_source(&args.dns, false).await?;
    let (_, result, stats) = collect::dns_fixpoint(source.as_ref(), budget, Transcript::default(), |view| {
        check_host(view, ip, &domain, &sender, &helo)
    })
    .await;
    let mut out = io::stdout().lock();
    match args.format {
        Format::Json | Format::Jsonl => {
            let doc = serde_json::json!({
                "domain": domain,
                "ip": ip,
                "sender": sender,
                "helo": helo,
                "result": result.result,
                "explanation": result.explanation,
                "trace": result.trace,
                "queries": stats.queries,
                "budget_exhausted": stats.budget_exhausted,
            });
            mailwarden_render::inert::to_writer_pretty(&mut out, &doc)?;
            writeln!(out)?;
        }
        Format::Text => {
            let result_text = serde_json::to_value(result.result)?;
            writeln!(out, "{}", result_text.as_str().unwrap_or("?"))?;
            if let Some(exp) = &result.explanation {
                writeln!(out, "explanation: {}", inert::line(exp))?;
            }
            for line in &result.trace {
                writeln!(out, "  {}", inert::line(line))?;
            }
            if stats.budget_exhausted {
                writeln!(
                    out,
                    "  (the query budget ran out: the result is temperror by budget, not by the domain)"
                )?;
            }
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
