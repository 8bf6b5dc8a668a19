//! Alerts to real peers from Debian (tests/real-peers/alerts.sh): e-mail
//! through Postfix with STARTTLS into a Maildir, and RFC 5424 syslog to
//! rsyslog over UDP and TCP. Ignored unless asked for (`-- --ignored`), as
//! the peers must run: `.ci/run` starts them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mailwarden_store::{NewAlert, Trigger};

use crate::audit_alert::{Db, queue, wait_for};
use crate::support::repo;

fn peers() -> HashMap<String, String> {
    let path = repo().join("target/real-peers/alerts.env");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; start the peers with tests/real-peers/alerts.sh start",
            path.display()
        )
    });
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The idempotency key of the alert `queue` makes for `condition`.
fn key_of(condition: &str) -> String {
    NewAlert {
        domain: "example.test".into(),
        trigger: Trigger::UnapprovedChange,
        severity: String::new(),
        summary: String::new(),
        snapshot_id: None,
        details: serde_json::Value::Null,
        condition: condition.into(),
    }
    .idempotency_key()
}

fn unique(label: &str) -> String {
    format!(
        "{label}-{}-{}",
        std::process::id(),
        time::OffsetDateTime::now_utc().unix_timestamp_nanos()
    )
}

/// Queues an alert with a fresh condition and runs `alert deliver`, which
/// must send it; returns the condition.
async fn queue_and_deliver(db: &Db, label: &str) -> String {
    let condition = unique(label);
    queue(db, &condition).await;
    let (code, out, err) = db.cli(&["alert", "deliver"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 sent"), "{out}{err}");
    condition
}

/// The delivered messages in the Maildir that carry `needle`.
fn mails_with(maildir: &Path, needle: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
        .filter(|m| m.contains(needle))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tests/real-peers/alerts.sh start"]
async fn an_alert_is_mailed_through_postfix_with_starttls_into_the_mailbox() {
    let p = peers();
    let db = Db::new();
    let (code, out, err) = db.cli(&[
        "alert",
        "add",
        "email",
        &p["MAIL_TO"],
        "--smtp",
        &p["SMTP"],
        "--starttls",
        "--ca-file",
        &p["CA_FILE"],
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let condition = queue_and_deliver(&db, "mail").await;
    let message_id = format!("<{}@mailwarden.invalid>", key_of(&condition));
    let maildir = PathBuf::from(&p["MAILDIR"]);
    wait_for("the message in the Maildir", || {
        !mails_with(&maildir, &message_id).is_empty()
    })
    .await;
    let mail = mails_with(&maildir, &message_id).remove(0);
    assert!(
        mail.contains("Subject: [mailwarden] critical example.test: MX changed"),
        "{mail}"
    );
    assert!(mail.contains("To: ops@alerts.test"), "{mail}");
    // Postfix's Received header names the TLS version when STARTTLS was used.
    assert!(mail.contains("(using TLSv1."), "not received over TLS: {mail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tests/real-peers/alerts.sh start"]
async fn starttls_to_a_relay_whose_certificate_is_not_trusted_fails_visibly() {
    let p = peers();
    let db = Db::new();
    // No --ca-file: the test CA is not among the public roots.
    db.cli(&[
        "alert",
        "add",
        "email",
        &p["MAIL_TO"],
        "--smtp",
        &p["SMTP"],
        "--starttls",
    ]);
    queue(&db, &unique("untrusted")).await;
    let (code, out, err) = db.cli(&["alert", "deliver"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 to retry"), "{out}{err}");
    let (_, list, _) = db.cli(&["alert", "list"]);
    assert!(list.contains("last error") && list.contains("SMTP relay"), "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs tests/real-peers/alerts.sh start"]
async fn an_alert_reaches_rsyslog_over_udp_and_tcp_as_rfc_5424() {
    let p = peers();
    let db = Db::new();
    db.cli(&["alert", "add", "syslog", &p["SYSLOG"]]);
    db.cli(&["alert", "add", "syslog", &p["SYSLOG"], "--tcp"]);
    let condition = queue_and_deliver(&db, "syslog").await;
    let needle = format!("idempotency-key=\"{}\"", key_of(&condition));
    let file = PathBuf::from(&p["SYSLOG_FILE"]);
    let lines = || -> Vec<String> {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains(&needle))
            .map(str::to_owned)
            .collect()
    };
    wait_for("two syslog lines (UDP and TCP)", || lines().len() >= 2).await;
    for line in lines() {
        // rsyslog parsed and re-rendered it as RFC 5424: PRI 26 (daemon.crit),
        // our structured data, the message after it.
        assert!(line.starts_with("<26>1 "), "{line}");
        assert!(
            line.contains("mailwarden ") && line.contains("[mailwarden@32473 domain=\"example.test\""),
            "{line}"
        );
        assert!(line.ends_with("MX changed"), "{line}");
    }
}
