//! The probe against the fake server of [`crate::test_server`], on
//! 127.0.0.1 with OS-assigned ports.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use super::*;
use crate::test_server::{Behaviour, FakeSmtp};

const HOST: &str = "mx.example.test";
const EHLO: &str = "mailwarden.invalid";
const LIMIT: Duration = Duration::from_secs(5);

async fn probe(server: &FakeSmtp) -> Result<TlsCapture, ProbeError> {
    fetch_certificates(server.addr, HOST, EHLO, LIMIT).await
}

/// Commands the server saw, once the client is done with it.
async fn commands(server: &FakeSmtp) -> Vec<String> {
    // The server task records QUIT after the client has its reply; give it a moment.
    for _ in 0..50 {
        let c = server.commands();
        if c.last().is_some_and(|c| c == "QUIT") {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.commands()
}

#[tokio::test]
async fn good_server_chain_is_captured_as_served() {
    let server = FakeSmtp::start(Behaviour::Good, HOST).await;
    let capture = probe(&server).await.expect("probe");
    assert_eq!(capture.chain, server.chain, "the chain captured is the chain served");
    assert_eq!(capture.chain.len(), 2);
    assert_eq!(capture.leaf(), Some(server.chain[0].as_slice()));
    assert_eq!(capture.greeting.code, 220);
    assert_eq!(
        capture.greeting.lines,
        [format!("{HOST} ESMTP fake"), "no UCE".to_string()]
    );
    assert_eq!(capture.ehlo.ehlo_keywords(), ["PIPELINING", "STARTTLS", "8BITMIME"]);
    assert_eq!(capture.tls_version, "TLSv1.3");
    assert!(capture.cipher_suite.starts_with("TLS13_"), "{}", capture.cipher_suite);
    assert!(capture.key_exchange_group.is_some());
    assert!(!capture.starttls_injection());
    assert_eq!(
        commands(&server).await,
        [format!("EHLO {EHLO}"), "STARTTLS".into(), "QUIT".into()],
        "EHLO, STARTTLS, QUIT over TLS; never MAIL or RCPT"
    );
    assert_eq!(
        server.seen.lock().unwrap().sni,
        [Some(HOST.to_string())],
        "SNI is the MX name"
    );
}

#[tokio::test]
async fn no_starttls_advertised() {
    let server = FakeSmtp::start(Behaviour::NoStartTls, HOST).await;
    let err = probe(&server).await.expect_err("no STARTTLS");
    assert!(matches!(err, ProbeError::NoStartTls { .. }), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the server does not offer STARTTLS (EHLO keywords: PIPELINING 8BITMIME)"
    );
    assert_eq!(commands(&server).await, [format!("EHLO {EHLO}"), "QUIT".into()]);
}

#[tokio::test]
async fn starttls_refused_keeps_the_reply() {
    let server = FakeSmtp::start(Behaviour::StartTlsRefused, HOST).await;
    let err = probe(&server).await.expect_err("454");
    let ProbeError::StartTlsRefused { reply } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(reply.code, 454);
    assert_eq!(
        err.to_string(),
        "STARTTLS refused: 454 4.7.0 TLS not available due to local problem"
    );
    assert_eq!(commands(&server).await.last().map(String::as_str), Some("QUIT"));
}

#[tokio::test]
async fn bytes_injected_after_the_starttls_reply_are_detected() {
    let server = FakeSmtp::start(Behaviour::Inject, HOST).await;
    let capture = probe(&server)
        .await
        .expect("the handshake still works: the bytes are discarded");
    assert!(capture.starttls_injection());
    assert_eq!(capture.pre_handshake_bytes.as_deref(), Some(&b"250 injected\r\n"[..]));
    assert_eq!(capture.chain, server.chain);
}

#[tokio::test]
async fn tls12_only_server() {
    let server = FakeSmtp::start(Behaviour::Tls12Only, HOST).await;
    let capture = probe(&server).await.expect("probe");
    assert_eq!(capture.tls_version, "TLSv1.2");
    assert!(
        capture.cipher_suite.starts_with("TLS_ECDHE_"),
        "{}",
        capture.cipher_suite
    );
    assert_eq!(capture.chain, server.chain);
}

#[tokio::test]
async fn handshake_alert_is_reported() {
    let server = FakeSmtp::start(Behaviour::TlsAlert, HOST).await;
    let err = probe(&server).await.expect_err("alert");
    let ProbeError::Handshake { alert, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(alert.as_deref(), Some("HandshakeFailure"));
    assert!(err.to_string().starts_with("TLS handshake failed: "), "{err}");
}

#[tokio::test]
async fn server_closing_early_is_named() {
    let server = FakeSmtp::start(Behaviour::CloseAfterEhlo, HOST).await;
    let err = probe(&server).await.expect_err("closed");
    assert!(matches!(err, ProbeError::Closed { stage: Stage::Ehlo }), "{err:?}");
    assert_eq!(err.to_string(), "the server closed the connection during EHLO");
}

#[tokio::test]
async fn silent_server_times_out() {
    let server = FakeSmtp::start(Behaviour::Silent, HOST).await;
    let started = std::time::Instant::now();
    let err = fetch_certificates(server.addr, HOST, EHLO, Duration::from_millis(300))
        .await
        .expect_err("timeout");
    assert!(
        matches!(
            err,
            ProbeError::Timeout {
                stage: Stage::Greeting,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("timed out during the greeting"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[tokio::test]
async fn a_web_server_is_a_protocol_error_with_the_line() {
    let server = FakeSmtp::start(Behaviour::NotSmtp, HOST).await;
    let err = probe(&server).await.expect_err("not SMTP");
    let ProbeError::Protocol { stage, line, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*stage, Stage::Greeting);
    assert_eq!(line, "HTTP/1.1 400 Bad Request");
}

#[tokio::test]
async fn refused_connection() {
    // Bind, learn the port, close: nothing listens there now.
    let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let err = fetch_certificates(addr, HOST, EHLO, LIMIT).await.expect_err("refused");
    assert!(matches!(err, ProbeError::ConnectionRefused { .. }), "{err:?}");
    assert_eq!(err.to_string(), format!("{addr}: connection refused"));
}

#[tokio::test]
async fn ehlo_name_cannot_smuggle_commands() {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 9));
    for bad in ["", "a b", "x\r\nMAIL FROM:<a@b>"] {
        let err = fetch_certificates(addr, HOST, bad, LIMIT).await.expect_err(bad);
        assert!(matches!(err, ProbeError::InvalidEhloName(_)), "{bad:?}: {err:?}");
    }
}

#[test]
fn reply_lines_parse() {
    assert_eq!(parse_reply_line(b"250-STARTTLS"), Some((250, false, "STARTTLS".into())));
    assert_eq!(parse_reply_line(b"250 OK"), Some((250, true, "OK".into())));
    assert_eq!(parse_reply_line(b"250"), Some((250, true, String::new())));
    assert_eq!(parse_reply_line(b"220 a\x07b"), Some((220, true, "a\u{fffd}b".into())));
    for bad in [&b"25"[..], b"2500 x", b"abc def", b"650 x", b"", b"250x"] {
        assert_eq!(parse_reply_line(bad), None, "{:?}", String::from_utf8_lossy(bad));
    }
}

#[test]
fn replies_display_on_one_line() {
    let r = Reply {
        code: 554,
        lines: vec!["no".into(), "service".into()],
    };
    assert_eq!(r.to_string(), "554 no / service");
}
