//! Building the DNS backends the flags ask for.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use mailwarden_dns::live::{DirectGuard, Limits, LiveConfig, LiveSource, TrustAnchor};
use mailwarden_dns::zonefile::{LoadOptions, ZoneFileSource};

/// The offline backend: answers only from the given zone files
/// (`[ORIGIN=]FILE` each), whose `$INCLUDE`s may also read `include_dirs`.
pub fn zone_files(args: &[String], include_dirs: &[PathBuf]) -> Result<ZoneFileSource> {
    let paths: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    let options = LoadOptions {
        include_dirs: include_dirs.to_vec(),
    };
    ZoneFileSource::load_with(&paths, options).context("--zone-file")
}

/// The live backend: the given resolvers (or the system's), validating
/// DNSSEC from the trust anchor unless told not to; server-directed
/// questions (nameserver checks) go to `authoritative_port`, past the
/// egress guard `direct_guard`, within the politeness `limits`. DS anchors
/// are resolved now, so a wrong anchor fails before any domain is scanned.
#[allow(
    clippy::too_many_arguments,
    reason = "one per flag; a struct would only restate DnsArgs"
)]
pub async fn live(
    resolvers: Vec<SocketAddr>,
    timeout: Duration,
    retries: u32,
    anchor: Option<PathBuf>,
    no_dnssec: bool,
    authoritative_port: u16,
    direct_guard: DirectGuard,
    limits: Limits,
) -> Result<LiveSource> {
    let trust_anchor = match (no_dnssec, anchor) {
        (true, _) => TrustAnchor::Disabled,
        (false, Some(path)) => TrustAnchor::File(path),
        (false, None) => TrustAnchor::IanaRoot,
    };
    let source = LiveSource::with_limits(
        LiveConfig {
            resolvers,
            timeout,
            retries,
            trust_anchor,
            authoritative_port,
            direct_guard,
        },
        limits,
    )
    .context("--trust-anchor")?;
    source.prepare().await.context("--trust-anchor")?;
    Ok(source)
}
