//! Building the DNS backends the flags ask for.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use mailwarden_dns::live::{DirectGuard, LiveConfig, LiveSource, TrustAnchor};
use mailwarden_dns::zonefile::ZoneFileSource;

/// The offline backend: answers only from the given zone files
/// (`[ORIGIN=]FILE` each).
pub fn zone_files(args: &[String]) -> Result<ZoneFileSource> {
    let paths: Vec<PathBuf> = args.iter().map(PathBuf::from).collect();
    ZoneFileSource::load(&paths).context("--zone-file")
}

/// The live backend: the given resolvers (or the system's), validating
/// DNSSEC from the trust anchor unless told not to; server-directed
/// questions (nameserver checks) go to `authoritative_port`, past the
/// egress guard `direct_guard`. DS anchors are resolved
/// now, so a wrong anchor fails before any domain is scanned.
pub async fn live(
    resolvers: Vec<SocketAddr>,
    timeout: Duration,
    retries: u32,
    anchor: Option<PathBuf>,
    no_dnssec: bool,
    authoritative_port: u16,
    direct_guard: DirectGuard,
) -> Result<LiveSource> {
    let trust_anchor = match (no_dnssec, anchor) {
        (true, _) => TrustAnchor::Disabled,
        (false, Some(path)) => TrustAnchor::File(path),
        (false, None) => TrustAnchor::IanaRoot,
    };
    let source = LiveSource::new(LiveConfig {
        resolvers,
        timeout,
        retries,
        trust_anchor,
        authoritative_port,
        direct_guard,
    })
    .context("--trust-anchor")?;
    source.prepare().await.context("--trust-anchor")?;
    Ok(source)
}
