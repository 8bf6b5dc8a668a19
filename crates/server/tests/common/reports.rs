//! Imported reports for the senders and TLS pages' tests: our domain's
//! aggregate reports over three days and a TLS report, the other tenant's
//! reports about its domain and about ours (which we must never see), and
//! a scan of ours with an SPF record (for the "in SPF but never seen" and
//! "seen but not in SPF" lists).

use mailwarden_model::{Answer, Proof, QueryKey, RData, RType};
use mailwarden_store::ingest::{AlertPolicy, ingest};
use serde_json::json;

use super::{OURS, Seeded, THEIRS, services};

/// 2026-11-01T00:00:00Z: the first report's day.
pub const DAY1: i64 = 1_793_491_200;
/// The address acme's report about OUR domain names: never on our page.
pub const ACME_IP: &str = "203.0.113.66";
/// The address of acme's own domain's report.
pub const THEIR_IP: &str = "203.0.113.77";

/// (source, count, DKIM d= with pass, SPF domain, SPF result)
type Row<'a> = (&'a str, u32, Option<&'a str>, &'a str, &'a str);

pub fn aggregate(domain: &str, report_id: &str, begin: i64, rows: &[Row<'_>]) -> String {
    let records: String = rows
        .iter()
        .map(|(ip, n, dkim, spf_domain, spf)| {
            let dkim_eval = if dkim.is_some() { "pass" } else { "fail" };
            let dkim_auth = dkim.map_or_else(String::new, |d| {
                format!("<dkim><domain>{d}</domain><selector>s1</selector><result>pass</result></dkim>")
            });
            format!(
                "<record><row><source_ip>{ip}</source_ip><count>{n}</count><policy_evaluated>\
                 <disposition>none</disposition><dkim>{dkim_eval}</dkim><spf>{spf}</spf></policy_evaluated></row>\
                 <identifiers><header_from>{domain}</header_from></identifiers><auth_results>{dkim_auth}\
                 <spf><domain>{spf_domain}</domain><scope>mfrom</scope><result>{spf}</result></spf></auth_results></record>"
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><feedback><report_metadata><org_name>Receiver</org_name>\
         <email>dmarc@receiver.example</email><report_id>{report_id}</report_id><date_range><begin>{begin}</begin>\
         <end>{}</end></date_range></report_metadata><policy_published><domain>{domain}</domain><p>none</p>\
         </policy_published>{records}</feedback>",
        begin + 86_399
    )
}

pub fn tls_report(domain: &str, report_id: &str, day: &str, ok: u32, expired: u32) -> String {
    json!({
        "organization-name": "TLS Receiver",
        "date-range": {"start-datetime": format!("{day}T00:00:00Z"), "end-datetime": format!("{day}T23:59:59Z")},
        "contact-info": "tls@receiver.example",
        "report-id": report_id,
        "policies": [{
            "policy": {"policy-type": "sts", "policy-string": ["version: STSv1", "mode: enforce"],
                       "policy-domain": domain, "mx-host": [format!("mx1.{domain}")]},
            "summary": {"total-successful-session-count": ok, "total-failure-session-count": expired},
            "failure-details": [{"result-type": "certificate-expired", "sending-mta-ip": "192.0.2.200",
                                 "receiving-mx-hostname": format!("mx1.{domain}"), "failed-session-count": expired}]
        }]
    })
    .to_string()
}

/// Import `text` and give it to `tenant` (the importer stores tenant 1's).
pub async fn import(s: &Seeded, text: &str, report_id: &str, tenant: &str) {
    let items = mailwarden_ingest::input::read("test", text.as_bytes(), &mailwarden_ingest::Limits::default());
    let parsed = items.into_iter().next().unwrap().outcome.unwrap();
    mailwarden_store::reports::put(&s.store, &parsed).await.unwrap();
    let scope = mailwarden_store::tenant::scope_named(&s.store, tenant).await.unwrap();
    sqlx::query("UPDATE reports SET tenant_id = $1 WHERE report_id = $2")
        .bind(scope.id())
        .bind(report_id)
        .execute(s.store.pool())
        .await
        .unwrap();
    // `put` imports for the default tenant and keeps the inventory's sums
    // for it: moved to another tenant, they are summed again.
    if tenant != "default" {
        mailwarden_store::rollup::rebuild(&s.store).await.unwrap();
    }
}

/// A scan of OURS whose SPF record names one address that sends and one that never does.
pub async fn scan_with_spf(s: &Seeded) {
    let mut scan = super::scan(OURS, "mx1.ours.example.", 90);
    let txt = RData::Txt {
        strings: vec!["v=spf1 ip4:192.0.2.10 ip4:192.0.2.200 -all".into()],
    };
    scan.observation.dns.insert(
        QueryKey::new(&format!("{OURS}."), RType::Txt),
        Answer::with_records(vec![txt], Proof::Insecure),
    );
    ingest(&s.store, &scan, &AlertPolicy::default(), None).await.unwrap();
}

/// The seeded services with a scan of ours that has an SPF record, and the reports.
pub async fn with_reports() -> Vec<Seeded> {
    let mut out = Vec::new();
    for s in services().await {
        scan_with_spf(&s).await;
        import_reports(&s).await;
        out.push(s);
    }
    out
}

/// Our reports over three days, acme's about its domain and about ours.
pub async fn import_reports(s: &Seeded) {
    let ours = [
        ("192.0.2.10", 7, Some(OURS), OURS, "pass"),
        ("198.51.100.99", 1, None, "spoof.example", "fail"),
        ("203.0.113.5", 4, Some(OURS), "bounce.other.example", "pass"),
    ];
    for (i, rows) in [&ours[..], &ours[..1]].iter().enumerate() {
        let id = format!("ours-{i}");
        let begin = DAY1 + 2 * 86_400 * i64::try_from(i).unwrap();
        import(s, &aggregate(OURS, &id, begin, rows), &id, "default").await;
    }
    let acme_about_ours = [(ACME_IP, 999, Some(OURS), OURS, "pass")];
    let text = aggregate(OURS, "acme-ours", DAY1, &acme_about_ours);
    import(s, &text, "acme-ours", "acme").await;
    let theirs = [(THEIR_IP, 5, Some(THEIRS), THEIRS, "pass")];
    let text = aggregate(THEIRS, "acme-theirs", DAY1, &theirs);
    import(s, &text, "acme-theirs", "acme").await;
    import(
        s,
        &tls_report(OURS, "tls-ours", "2026-11-01", 120, 3),
        "tls-ours",
        "default",
    )
    .await;
    import(
        s,
        &tls_report(THEIRS, "tls-theirs", "2026-11-01", 50, 9),
        "tls-theirs",
        "acme",
    )
    .await;
}
