//! `mailwarden generate KIND DOMAIN`: recommended records from the domain's
//! current state. This is the I/O edge: scan the domain through the same
//! DNS flags as `scan` (so `--zone-file` works offline), read the
//! certificate file for TLSA or probe the MX hosts over STARTTLS
//! (`mailwarden_probe`, behind the egress guard), and hand plain data to
//! the pure builders in `mailwarden_records::generate`.

use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use mailwarden_dns::DnsSource;
use mailwarden_model::dns::{QueryKey, RData, RType, Status};
use mailwarden_model::{DomainName, ScanOptions};
use mailwarden_records::generate::{self as gen_records, CertInfo, DomainState, ProbedAddress, ProbedHost};
use mailwarden_render::DomainReport;
use sha2::{Digest, Sha256};

use crate::args::{GenerateArgs, GenerateKind};
use crate::config;

pub async fn run(args: GenerateArgs) -> Result<ExitCode> {
    let name =
        DomainName::parse(&args.domain).map_err(|e| anyhow::anyhow!("invalid domain name {:?}: {e}", args.domain))?;
    // Check the flags before asking DNS anything.
    let cert = match (&args.kind, &args.cert) {
        (GenerateKind::Tlsa, Some(path)) => Some(read_certificate(path)?),
        _ => None,
    };
    let live = match args.kind {
        GenerateKind::Tlsa if cert.is_none() => Some(LiveProbe::from_args(&args)?),
        _ => None,
    };
    if let Some(rua) = &args.rua {
        let https_ok = args.kind == GenerateKind::Tlsrpt;
        gen_records::check_rua(rua, https_ok)?;
    }
    let id = match &args.id {
        Some(id) => id.clone(),
        None => time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[year][month][day][hour][minute][second]"
            ))
            .context("formatting the MTA-STS id")?,
    };

    let budget = config::budget(&args.dns)?;
    let source = config::dns_source(&args.dns, args.probe.allow_private_targets).await?;
    let report = crate::scan::scan_one(
        source.as_ref(),
        &mailwarden_model::probe::NoProber::new("generate reads DNS only"),
        &name,
        &ScanOptions::default(),
        budget,
    )
    .await;
    let state = domain_state(&report);

    let rua = args.rua.as_deref();
    let text = match args.kind {
        GenerateKind::Spf => gen_records::spf(&state, args.flatten),
        GenerateKind::Dmarc => gen_records::dmarc(&state, rua),
        GenerateKind::MtaSts => gen_records::mta_sts(&state, &id),
        GenerateKind::Tlsrpt => gen_records::tlsrpt(&state, rua),
        GenerateKind::Tlsa => match (&cert, &live) {
            (Some(cert), _) => gen_records::tlsa(&state, cert, &args.hosts),
            (None, Some(live)) => {
                let hosts = if args.hosts.is_empty() {
                    state.mx_hosts()
                } else {
                    args.hosts.clone()
                };
                let probed = live.probe_hosts(source.as_ref(), &hosts).await;
                // Without any record the error lists every failure; with some, warn here too.
                if probed.iter().any(|h| !h.keys().is_empty()) {
                    probed.iter().for_each(warn_about);
                }
                gen_records::tlsa_live(&state, &probed, live.port)
            }
            (None, None) => unreachable!("tlsa has --cert or the live probe settings"),
        },
        GenerateKind::NullMx => gen_records::null_mx(&state, rua),
    }?;

    let mut out = crate::output::open_output(args.output.as_deref())?;
    // TXT data is already `\DDD`-escaped; this catches names and comments.
    out.write_all(mailwarden_render::inert::block(&text).as_bytes())
        .and_then(|()| out.flush())
        .with_context(|| crate::output::target_label(args.output.as_deref()))?;
    Ok(ExitCode::SUCCESS)
}

/// What the builders need, read from a scan's evidence and findings.
pub fn domain_state(report: &DomainReport) -> DomainState {
    let o = &report.observation;
    let domain = o.domain.trim_end_matches('.').to_ascii_lowercase();
    let answer = |name: &str, rtype| o.dns.get(&QueryKey::new(name, rtype));
    let mx = answer(&domain, RType::Mx)
        .map(|a| {
            a.records
                .iter()
                .filter_map(|r| match r {
                    RData::Mx { preference, exchange } => Some((*preference, exchange.clone())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    let txt_starting = |name: &str, prefix: &str| -> Vec<String> {
        answer(name, RType::Txt)
            .map(|a| {
                a.records
                    .iter()
                    .filter_map(|r| r.txt_bytes())
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .filter(|t| {
                        t.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix))
                            && t[prefix.len()..].chars().next().is_none_or(|c| c == ' ' || c == ';')
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let one = |mut v: Vec<String>| if v.len() == 1 { v.pop() } else { None };
    let evidence = |id: &str, key: &str| {
        report
            .findings
            .iter()
            .find(|f| f.id == id && f.subject.eq_ignore_ascii_case(&domain))
            .and_then(|f| f.evidence.get(key).cloned())
    };
    let spf_networks = evidence("spf.authorised-senders", "senders")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|s| s["network"].as_str().map(str::to_string))
        .collect();
    let spf_dynamic = evidence("spf.authorised-senders", "dynamic_terms")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(|t| t["term"].as_str().or(t.as_str()).map(str::to_string))
        .collect();
    let spf_lookups = evidence("spf.lookup-limit", "dns_lookups")
        .and_then(|v| v.as_u64())
        .and_then(|n| usize::try_from(n).ok());
    DomainState {
        spf: one(txt_starting(&domain, "v=spf1")),
        dmarc: one(txt_starting(&format!("_dmarc.{domain}"), "v=DMARC1")),
        domain,
        mx,
        spf_lookups,
        spf_networks,
        spf_dynamic,
    }
}

/// How `generate tlsa` without `--cert` probes the MX hosts.
struct LiveProbe {
    port: u16,
    ehlo_name: String,
    allow_private: bool,
    timeout: Duration,
}

impl LiveProbe {
    fn from_args(args: &GenerateArgs) -> Result<Self> {
        let (ehlo_name, timeout) = crate::config::probe_basics(&args.probe)?;
        Ok(Self {
            port: args.probe.smtp_port,
            ehlo_name,
            allow_private: args.probe.allow_private_targets,
            timeout,
        })
    }

    /// Every address (A, then AAAA) of every host, probed one at a time.
    async fn probe_hosts(&self, source: &dyn DnsSource, hosts: &[String]) -> Vec<ProbedHost> {
        let mut out = Vec::new();
        for host in hosts {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let (addresses, lookup_failures) = addresses(source, &host).await;
            let mut probed = ProbedHost {
                host: host.clone(),
                addresses: Vec::new(),
                error: None,
            };
            if addresses.is_empty() {
                probed.error = Some(if lookup_failures.is_empty() {
                    "no A or AAAA record".to_string()
                } else {
                    format!("no address found ({})", lookup_failures.join("; "))
                });
            }
            for address in addresses {
                let result = self.probe_one(&host, address).await;
                probed.addresses.push(ProbedAddress { address, result });
            }
            out.push(probed);
        }
        out
    }

    async fn probe_one(&self, host: &str, address: IpAddr) -> Result<CertInfo, String> {
        mailwarden_probe::check_target(address, self.allow_private)
            .map_err(|e| format!("refused: {e} (pass --allow-private-targets to probe it)"))?;
        let addr = SocketAddr::new(address, self.port);
        let capture = mailwarden_probe::fetch_certificates(addr, host, &self.ehlo_name, self.timeout)
            .await
            .map_err(|e| e.to_string())?;
        let leaf = capture.leaf().ok_or("the server presented no certificate")?;
        let info = cert_info(leaf).map_err(|e| format!("the leaf certificate: {e}"))?;
        if let Some(bytes) = &capture.pre_handshake_bytes {
            eprintln!(
                "mailwarden: warning: {host} ({address}) sent {} byte(s) between its reply to STARTTLS and the \
                 handshake (STARTTLS response injection?); they were discarded",
                bytes.len()
            );
        }
        Ok(info)
    }
}

/// The host's addresses, and the lookups that failed (not NODATA/NXDOMAIN).
async fn addresses(source: &dyn DnsSource, host: &str) -> (Vec<IpAddr>, Vec<String>) {
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for rtype in [RType::A, RType::Aaaa] {
        let answer = source.query(&QueryKey::new(host, rtype)).await;
        match &answer.status {
            Status::Records => {}
            s if s.is_definite() => continue,
            s => {
                failures.push(format!("{rtype} lookup: {}", s.describe()));
                continue;
            }
        }
        for r in &answer.records {
            let ip = match r {
                RData::A { address } => IpAddr::V4(*address),
                RData::Aaaa { address } => IpAddr::V6(*address),
                _ => continue,
            };
            if !found.contains(&ip) {
                found.push(ip);
            }
        }
    }
    (found, failures)
}

/// Tell stderr what the comments in the output say: failed probes and
/// hosts presenting different keys.
fn warn_about(h: &ProbedHost) {
    use mailwarden_render::inert::line;
    let keys = h.keys().len();
    if keys > 1 {
        eprintln!(
            "mailwarden: warning: the addresses of {} present {keys} different keys; a record is printed for each",
            line(&h.host)
        );
    }
    for f in h.failures() {
        eprintln!("mailwarden: warning: {}: {}", line(&h.host), line(&f));
    }
}

/// Read a certificate (PEM or DER; the first certificate of a PEM chain)
/// and hash its SubjectPublicKeyInfo.
fn read_certificate(path: &Path) -> Result<CertInfo> {
    let label = path.display();
    let bytes = mailwarden_dns::bounded::read_capped(path, crate::config::CA_FILE_LIMIT)
        .with_context(|| format!("--cert {label}: cannot read"))?;
    let der = if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let (_, pem) = x509_parser::pem::parse_x509_pem(&bytes)
            .map_err(|e| anyhow::anyhow!("--cert {label}: not a PEM certificate: {e}"))?;
        if pem.label != "CERTIFICATE" {
            bail!(
                "--cert {label}: the first PEM block is {:?}, not CERTIFICATE",
                pem.label
            );
        }
        pem.contents
    } else {
        bytes
    };
    cert_info(&der).map_err(|e| anyhow::anyhow!("--cert {label}: {e}"))
}

/// Subject, expiry and the SHA-256 of the SubjectPublicKeyInfo (TLSA
/// selector 1, matching type 1) of a DER certificate.
fn cert_info(der: &[u8]) -> Result<CertInfo, String> {
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|e| format!("not an X.509 certificate (PEM or DER): {e}"))?;
    let spki = cert.tbs_certificate.subject_pki.raw;
    let spki_sha256 = mailwarden_model::codec::hex(&Sha256::digest(spki));
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        not_after: cert.validity().not_after.to_string(),
        spki_sha256,
    })
}
