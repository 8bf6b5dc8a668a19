//! `mailwarden generate KIND DOMAIN`: recommended records from the domain's
//! current state. This is the I/O edge: scan the domain through the same
//! DNS flags as `scan` (so `--zone-file` works offline), read the
//! certificate file for TLSA, and hand plain data to the pure builders in
//! `mailwarden_render::generate`.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use mailwarden_model::dns::{QueryKey, RData, RType};
use mailwarden_model::{DomainName, ScanOptions};
use mailwarden_render::DomainReport;
use mailwarden_render::generate::{self as gen_records, CertInfo, DomainState};
use sha2::{Digest, Sha256};

use crate::args::{GenerateArgs, GenerateKind};
use crate::config;

pub async fn run(args: GenerateArgs) -> Result<ExitCode> {
    let name =
        DomainName::parse(&args.domain).map_err(|e| anyhow::anyhow!("invalid domain name {:?}: {e}", args.domain))?;
    // Check the flags before asking DNS anything.
    let cert = match args.kind {
        GenerateKind::Tlsa => Some(read_certificate(args.cert.as_deref())?),
        _ => None,
    };
    if let Some(rua) = &args.rua {
        let https_ok = args.kind == GenerateKind::Tlsrpt;
        gen_records::check_rua(rua, https_ok).map_err(anyhow::Error::msg)?;
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
    let source = config::dns_source(&args.dns).await?;
    let report = crate::scan::scan_one(source.as_ref(), &name, &ScanOptions::default(), budget).await;
    let state = domain_state(&report);

    let rua = args.rua.as_deref();
    let text = match args.kind {
        GenerateKind::Spf => gen_records::spf(&state, args.flatten),
        GenerateKind::Dmarc => gen_records::dmarc(&state, rua),
        GenerateKind::MtaSts => gen_records::mta_sts(&state, &id),
        GenerateKind::Tlsrpt => gen_records::tlsrpt(&state, rua),
        GenerateKind::Tlsa => gen_records::tlsa(&state, cert.as_ref().expect("read above"), &args.hosts),
        GenerateKind::NullMx => gen_records::null_mx(&state, rua),
    }
    .map_err(anyhow::Error::msg)?;

    let mut out = crate::output::open_output(args.output.as_deref())?;
    out.write_all(text.as_bytes())?;
    out.flush().context("cannot write the output")?;
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

/// Read a certificate (PEM or DER; the first certificate of a PEM chain)
/// and hash its SubjectPublicKeyInfo.
fn read_certificate(path: Option<&Path>) -> Result<CertInfo> {
    let Some(path) = path else {
        bail!(
            "generate tlsa needs --cert FILE (the MX host's certificate, PEM or DER); reading it from the live MX \
             needs the STARTTLS probe of the transport-security issue (#4), which is not built yet"
        );
    };
    let label = path.display();
    let bytes = std::fs::read(path).with_context(|| format!("--cert {label}: cannot read"))?;
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
    let (_, cert) = x509_parser::parse_x509_certificate(&der)
        .map_err(|e| anyhow::anyhow!("--cert {label}: not an X.509 certificate (PEM or DER): {e}"))?;
    let spki = cert.tbs_certificate.subject_pki.raw;
    let spki_sha256 = Sha256::digest(spki).iter().map(|b| format!("{b:02x}")).collect();
    Ok(CertInfo {
        subject: cert.subject().to_string(),
        not_after: cert.validity().not_after.to_string(),
        spki_sha256,
    })
}
