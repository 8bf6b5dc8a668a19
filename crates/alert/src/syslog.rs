//! Syslog delivery as RFC 5424 messages, one UDP datagram each (RFC 5426)
//! or over TCP with octet-counting framing (RFC 6587 §3.4.1).

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

use crate::destination::host_port;
use crate::{Alert, DeliveryError};

/// RFC 5424 §6.2.1 facility 3, "system daemons".
const FACILITY_DAEMON: u8 = 3;

/// The SD-ID of our structured data. RFC 5424 §7.2.2: private SD-IDs are
/// "name@&lt;private enterprise number&gt;"; 32473 is the number RFC 5612 reserves
/// for documentation and examples, used until the project registers one.
pub const SD_ID: &str = "mailwarden@32473";

/// RFC 5424 §6.2.1 severity for an alert severity.
pub fn severity_code(severity: &str) -> u8 {
    match severity {
        "critical" => 2, // Critical: critical conditions
        "high" => 3,     // Error: error conditions
        "medium" => 4,   // Warning: warning conditions
        "low" => 5,      // Notice: normal but significant condition
        _ => 6,          // Informational
    }
}

/// The RFC 5424 message for an alert:
/// `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] BOM MSG`.
pub fn format(alert: &Alert, timestamp: &str, hostname: &str, procid: u32) -> String {
    let pri = u16::from(FACILITY_DAEMON) * 8 + u16::from(severity_code(&alert.severity));
    format!(
        "<{pri}>1 {timestamp} {} mailwarden {procid} {} [{SD_ID} domain=\"{}\" trigger=\"{}\" severity=\"{}\" idempotency-key=\"{}\" alert-id=\"{}\"] \u{feff}{}",
        header_field(hostname, 255),
        header_field(&alert.trigger, 32),
        param_value(&alert.domain),
        param_value(&alert.trigger),
        param_value(&alert.severity),
        param_value(&alert.idempotency_key),
        alert.id,
        one_line(&alert.summary),
    )
}

/// RFC 5424 §6: header fields are 1*N PRINTUSASCII (33-126), `-` when empty.
fn header_field(text: &str, max: usize) -> String {
    let field: String = text.chars().filter(|c| ('!'..='~').contains(c)).take(max).collect();
    if field.is_empty() { "-".to_owned() } else { field }
}

/// RFC 5424 §6.3.3: "Inside PARAM-VALUE, the characters '"' (ABNF %d34),
/// '\' (ABNF %d92), and ']' (ABNF %d93) MUST be escaped."
fn param_value(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in one_line(text).chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Control characters (line breaks above all) would split the record in a
/// collector's file: replaced by spaces.
fn one_line(text: &str) -> String {
    text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Sends one message to `address` (`HOST:PORT`).
pub async fn send(address: &str, tcp: bool, message: &str, limit: Duration) -> Result<(), DeliveryError> {
    let (host, port) = host_port(address, "the syslog address").map_err(|e| DeliveryError::permanent(e.to_string()))?;
    let io = async {
        if tcp {
            let mut stream = TcpStream::connect((host.as_str(), port)).await?;
            // RFC 6587 §3.4.1: "SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG".
            let frame = format!("{} {message}", message.len());
            stream.write_all(frame.as_bytes()).await?;
            stream.shutdown().await
        } else {
            let bind = if host.contains(':') { "[::]:0" } else { "0.0.0.0:0" };
            let socket = UdpSocket::bind(bind).await?;
            socket.connect((host.as_str(), port)).await?;
            socket.send(message.as_bytes()).await.map(|_| ())
        }
    };
    timeout(limit, io)
        .await
        .map_err(|_| DeliveryError::retry(format!("syslog {address}: no progress within {} s", limit.as_secs())))?
        .map_err(|e| DeliveryError::retry(format!("syslog {address}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::sample_alert;

    #[test]
    fn message_follows_the_rfc_5424_layout() {
        let m = format(&sample_alert(), "2026-12-06T03:00:00.000Z", "host.example", 42);
        // PRI = daemon (3) * 8 + Error (3) for "high".
        assert!(
            m.starts_with(
                "<27>1 2026-12-06T03:00:00.000Z host.example mailwarden 42 unapproved-change [mailwarden@32473 "
            ),
            "{m}"
        );
        assert!(m.contains(" \u{feff}MX changed"), "{m}");
    }

    #[test]
    fn param_values_are_escaped_and_kept_on_one_line() {
        assert_eq!(param_value("a\"b\\c]d\ne"), "a\\\"b\\\\c\\]d e");
        assert_eq!(header_field("a b", 32), "ab");
        assert_eq!(header_field("", 32), "-");
    }

    #[test]
    fn severities_map_to_rfc_5424_codes() {
        assert_eq!(
            [severity_code("critical"), severity_code("low"), severity_code("?")],
            [2, 5, 6]
        );
    }
}
