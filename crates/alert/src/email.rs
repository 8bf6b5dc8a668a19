//! E-mail delivery through an SMTP relay with lettre, optionally requiring
//! STARTTLS (RFC 3207) with the relay's certificate checked against the
//! public roots and an optional CA file.

use std::path::Path;
use std::time::Duration;

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::destination::host_port;
use crate::{Alert, DeliveryError};

/// The message for an alert. Its Message-ID is derived from the idempotency
/// key, so a recipient (or a test) can tell a retry from a new alert.
pub fn message(alert: &Alert, from: &str, to: &str) -> Result<Message, DeliveryError> {
    let mailbox = |a: &str| {
        a.parse::<Mailbox>()
            .map_err(|e| DeliveryError::permanent(format!("address {a:?}: {e}")))
    };
    let subject = format!("[mailwarden] {} {}: {}", alert.severity, alert.domain, alert.summary);
    let details = serde_json::to_string_pretty(&alert.payload).unwrap_or_default();
    let body = format!(
        "{}\n\nDomain: {}\nTrigger: {}\nSeverity: {}\nQueued: {}\nIdempotency key: {}\n\nDetails:\n{details}\n",
        alert.summary, alert.domain, alert.trigger, alert.severity, alert.created_at, alert.idempotency_key
    );
    Message::builder()
        .from(mailbox(from)?)
        .to(mailbox(to)?)
        .subject(single_line(&subject))
        .message_id(Some(format!("<{}@mailwarden.invalid>", alert.idempotency_key)))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| DeliveryError::permanent(format!("cannot build the message: {e}")))
}

fn single_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// Sends the alert to `to` through the relay `smtp` (`HOST:PORT`).
pub async fn send(
    alert: &Alert,
    (from, to): (&str, &str),
    smtp: &str,
    starttls: bool,
    ca_file: Option<&Path>,
    limit: Duration,
) -> Result<(), DeliveryError> {
    let (host, port) = host_port(smtp, "--smtp").map_err(|e| DeliveryError::permanent(e.to_string()))?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(port)
        .timeout(Some(limit));
    if starttls {
        builder = builder.tls(Tls::Required(tls_parameters(&host, ca_file)?));
    }
    let transport = builder.build();
    transport
        .send(message(alert, from, to)?)
        .await
        .map(|_| ())
        .map_err(|e| DeliveryError::retry(format!("SMTP relay {smtp}: {e}")))
}

fn tls_parameters(host: &str, ca_file: Option<&Path>) -> Result<TlsParameters, DeliveryError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| DeliveryError::permanent(format!("cannot read the CA file {}: {e}", path.display())))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| {
            DeliveryError::permanent(format!("the CA file {} is not a PEM certificate: {e}", path.display()))
        })?;
        builder = builder.add_root_certificate(cert);
    }
    builder
        .build_rustls()
        .map_err(|e| DeliveryError::permanent(format!("TLS settings for {host}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample_alert;

    #[test]
    fn the_message_carries_the_key_and_keeps_the_subject_on_one_line() {
        let mut alert = sample_alert();
        alert.summary = "line one\r\nBcc: evil@example.test".into();
        let text = String::from_utf8(message(&alert, "mw@localhost", "ops@localhost").unwrap().formatted()).unwrap();
        assert!(
            text.contains(&format!("Message-ID: <{}@mailwarden.invalid>", alert.idempotency_key)),
            "{text}"
        );
        let headers = text.split("\r\n\r\n").next().unwrap();
        assert!(!headers.contains("\r\nBcc:"), "{text}");
        assert!(
            headers.contains("Subject: [mailwarden] high example.test: line one  Bcc:"),
            "{text}"
        );
    }
}
