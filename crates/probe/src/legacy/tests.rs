//! The legacy probe against in-process fake servers on loopback: one that
//! answers the ClientHello with scripted bytes, and the rustls fake
//! server of [`crate::test_server`] (which refuses every legacy hello).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use super::*;
use crate::test_server::{Behaviour, FakeSmtp};

const MX: &str = "mx.example.test";
const LIMIT: Duration = Duration::from_secs(5);

/// What the scripted server does after reading the ClientHello.
#[derive(Clone)]
pub(crate) enum Script {
    /// Write these bytes, then close.
    Send(Vec<u8>),
    /// Close at once.
    Close,
    /// Say nothing, keep the connection open.
    Silent,
}

/// What the scripted server received: the SMTP commands and the ClientHello.
#[derive(Default)]
pub(crate) struct Received {
    pub connections: usize,
    pub commands: Vec<String>,
    pub hello: Vec<u8>,
}

/// An SMTP server on 127.0.0.1 that reaches STARTTLS and answers each
/// ClientHello as `script` says.
pub(crate) async fn scripted(script: Script) -> (SocketAddr, Arc<Mutex<Received>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Received::default()));
    let seen = received.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            seen.lock().unwrap().connections += 1;
            tokio::spawn(converse(stream, script.clone(), seen.clone()));
        }
    });
    (addr, received)
}

async fn converse(stream: tokio::net::TcpStream, script: Script, seen: Arc<Mutex<Received>>) -> std::io::Result<()> {
    let mut io = BufReader::new(stream);
    io.write_all(b"220 mx.example.test ESMTP\r\n").await?;
    loop {
        let mut line = String::new();
        if io.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let cmd = line.trim_end().to_string();
        seen.lock().unwrap().commands.push(cmd.clone());
        if cmd.starts_with("EHLO") {
            io.write_all(b"250-mx.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n")
                .await?;
        } else if cmd == "STARTTLS" {
            io.write_all(b"220 2.0.0 Ready to start TLS\r\n").await?;
            break;
        }
    }
    let mut header = [0u8; 5];
    io.read_exact(&mut header).await?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes([header[3], header[4]]))];
    io.read_exact(&mut body).await?;
    seen.lock().unwrap().hello = [&header[..], &body].concat();
    match script {
        Script::Send(bytes) => {
            io.write_all(&bytes).await?;
            io.shutdown().await
        }
        Script::Close => Ok(()),
        Script::Silent => {
            let mut rest = Vec::new();
            io.read_to_end(&mut rest).await.map(drop)
        }
    }
}

/// A handshake record holding a ServerHello that chooses `version` and `suite`.
pub(crate) fn server_hello(version: u16, suite: u16) -> Vec<u8> {
    let mut body = version.to_be_bytes().to_vec();
    body.extend_from_slice(&[7; 32]);
    body.push(32);
    body.extend_from_slice(&[9; 32]);
    body.extend_from_slice(&suite.to_be_bytes());
    body.push(0);
    let mut handshake = vec![2, 0, 0, body.len() as u8];
    handshake.extend_from_slice(&body);
    record(22, &handshake)
}

fn record(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 3, 1, 0, body.len() as u8];
    r.extend_from_slice(body);
    r
}

async fn answer(script: Script, hello: Hello) -> (Result<Answer, ProbeError>, Arc<Mutex<Received>>) {
    let (addr, received) = scripted(script).await;
    (offer(addr, MX, "probe.example", LIMIT, hello).await, received)
}

#[tokio::test]
async fn a_server_hello_choosing_tls10_and_3des_is_accepted() {
    let (result, received) = answer(Script::Send(server_hello(0x0301, 0x000a)), Hello::Protocols).await;
    let Answer::Accepted { version, suite } = result.unwrap() else {
        panic!("not accepted")
    };
    assert_eq!(version_name(version), "TLSv1.0");
    assert_eq!(suite.name, "TLS_RSA_WITH_3DES_EDE_CBC_SHA");
    let received = received.lock().unwrap();
    assert_eq!(
        received.commands,
        ["EHLO probe.example", "STARTTLS"],
        "never MAIL or RCPT"
    );
}

#[tokio::test]
async fn a_fatal_alert_is_a_refusal_naming_the_alert() {
    let (result, _) = answer(Script::Send(record(21, &[2, 70])), Hello::Protocols).await;
    let Answer::Refused { alert } = result.unwrap() else {
        panic!("not refused")
    };
    assert_eq!(alert.to_string(), "protocol_version (70)");
}

#[tokio::test]
async fn a_close_instead_of_a_server_hello_is_a_refusal() {
    let (result, _) = answer(Script::Close, Hello::Ciphers).await;
    assert_eq!(result.unwrap(), Answer::Closed);
}

#[tokio::test]
async fn garbage_is_unparseable_never_accepted() {
    let (result, _) = answer(
        Script::Send(b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec()),
        Hello::Ciphers,
    )
    .await;
    assert!(matches!(result.unwrap(), Answer::Unparseable(_)));
}

#[tokio::test]
async fn a_record_cut_short_by_a_close_is_unparseable() {
    let mut hello = server_hello(0x0301, 0x000a);
    hello.truncate(20);
    let (result, _) = answer(Script::Send(hello), Hello::Protocols).await;
    let Answer::Unparseable(why) = result.unwrap() else {
        panic!("not unparseable")
    };
    assert!(why.contains("within a record"), "{why}");
}

#[tokio::test]
async fn silence_after_the_hello_is_a_timeout_not_a_verdict() {
    let (addr, _) = scripted(Script::Silent).await;
    let result = offer(addr, MX, "probe.example", Duration::from_millis(300), Hello::Protocols).await;
    assert!(matches!(result, Err(ProbeError::Timeout { .. })), "{result:?}");
}

#[test]
fn a_server_hello_above_the_offered_version_is_a_violation_not_acceptance() {
    let answer = classify(&server_hello(0x0303, 0x002f), Hello::Protocols).unwrap();
    let Answer::Unparseable(why) = answer else {
        panic!("{answer:?}")
    };
    assert!(why.contains("TLSv1.2") && why.contains("did not offer"), "{why}");
    let tls10_to_ssl3 = classify(&server_hello(0x0301, 0x002f), Hello::Ssl3).unwrap();
    assert!(matches!(tls10_to_ssl3, Answer::Unparseable(_)), "{tls10_to_ssl3:?}");
}

#[test]
fn a_server_hello_choosing_an_unoffered_suite_is_a_violation_not_acceptance() {
    // TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 was not in the RC4/3DES hello.
    let answer = classify(&server_hello(0x0303, 0xc02f), Hello::Ciphers).unwrap();
    assert!(
        matches!(answer, Answer::Unparseable(ref why) if why.contains("0xc02f")),
        "{answer:?}"
    );
}

#[test]
fn a_server_hello_split_over_records_after_a_warning_alert_is_read_whole() {
    let hello = server_hello(0x0303, 0x0005);
    let (header, body) = hello.split_at(5);
    assert_eq!(header[0], 22);
    let mut wire = record(21, &[1, 112]); // warning: unrecognized_name
    wire.extend(record(22, &body[..10]));
    assert_eq!(classify(&wire, Hello::Ciphers), None, "incomplete: read more");
    wire.extend(record(22, &body[10..]));
    let Some(Answer::Accepted { version, suite }) = classify(&wire, Hello::Ciphers) else {
        panic!("not accepted")
    };
    assert_eq!(
        (version_name(version).as_str(), suite.name),
        ("TLSv1.2", "TLS_RSA_WITH_RC4_128_SHA")
    );
}

#[test]
fn other_handshake_messages_and_records_are_unparseable() {
    let certificate = record(22, &[11, 0, 0, 3, 0, 0, 0]);
    assert!(matches!(
        classify(&certificate, Hello::Protocols),
        Some(Answer::Unparseable(_))
    ));
    let application_data = record(23, &[1, 2, 3]);
    assert!(matches!(
        classify(&application_data, Hello::Protocols),
        Some(Answer::Unparseable(_))
    ));
    let short_alert = record(21, &[2]);
    assert!(matches!(
        classify(&short_alert, Hello::Protocols),
        Some(Answer::Unparseable(_))
    ));
}

/// `(client_version, suites, has extensions)` of a ClientHello record.
fn parse_client_hello(wire: &[u8]) -> (u16, Vec<u16>, bool) {
    assert_eq!(wire[0], 22, "handshake record");
    assert_eq!(usize::from(u16::from_be_bytes([wire[3], wire[4]])), wire.len() - 5);
    let hs = &wire[5..];
    assert_eq!(hs[0], 1, "client_hello");
    let body = &hs[4..];
    let version = u16::from_be_bytes([body[0], body[1]]);
    let sid = usize::from(body[34]);
    let at = 35 + sid;
    let n = usize::from(u16::from_be_bytes([body[at], body[at + 1]]));
    let suites = body[at + 2..at + 2 + n]
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], c[1]]))
        .collect();
    let after = at + 2 + n;
    assert_eq!(&body[after..after + 2], &[1, 0], "null compression only");
    (version, suites, body.len() > after + 2)
}

#[tokio::test]
async fn the_hellos_offer_only_what_they_test_and_no_fallback_scsv() {
    for (hello, version, extensions) in [
        (Hello::Protocols, 0x0302, true),
        (Hello::Ciphers, 0x0303, true),
        (Hello::Ssl3, 0x0300, false),
    ] {
        let (_, received) = answer(Script::Close, hello).await;
        let wire = received.lock().unwrap().hello.clone();
        let (got, suites, has_ext) = parse_client_hello(&wire);
        assert_eq!((got, has_ext), (version, extensions), "{hello:?}");
        assert!(!suites.contains(&0x5600), "TLS_FALLBACK_SCSV would make servers refuse");
        if hello == Hello::Ciphers {
            let names: Vec<&str> = suites.iter().map(|c| hello.offered_suite(*c).unwrap().name).collect();
            assert!(
                names.iter().all(|n| n.contains("RC4") || n.contains("3DES")),
                "{names:?}"
            );
        }
        if extensions {
            let sni = wire.windows(MX.len()).any(|w| w == MX.as_bytes());
            assert!(sni, "{hello:?}: SNI names the MX");
        }
    }
}

#[tokio::test]
async fn a_tls12_and_13_only_server_refuses_every_legacy_hello() {
    let server = FakeSmtp::start(Behaviour::Good, MX).await;
    for hello in [Hello::Protocols, Hello::Ciphers, Hello::Ssl3] {
        let result = offer(server.addr, MX, "probe.example", LIMIT, hello).await;
        assert!(
            matches!(result, Ok(Answer::Refused { .. } | Answer::Closed)),
            "{hello:?}: {result:?}"
        );
    }
    let commands = server.commands();
    assert!(
        commands.iter().all(|c| c.starts_with("EHLO") || c == "STARTTLS"),
        "{commands:?}"
    );
}
