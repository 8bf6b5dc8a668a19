//! Delivery to in-process peers on loopback: a webhook receiver that checks
//! the signature and the idempotency key, and syslog collectors over UDP and
//! TCP. (E-mail goes to a real Postfix in the store's real-peer tests.)

use std::time::Duration;

use mailwarden_alert::testing::{Answer, WebhookReceiver};
use mailwarden_alert::webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature};
use mailwarden_alert::{Alert, Context, Destination, deliver};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, UdpSocket};

fn alert() -> Alert {
    Alert {
        id: 1,
        created_at: "2026-12-06T03:00:00Z".into(),
        domain: "example.test".into(),
        trigger: "unapproved-change".into(),
        severity: "critical".into(),
        summary: "MX of example.test changed".into(),
        payload: serde_json::json!({"snapshot": 2}),
        idempotency_key: "k-1".into(),
    }
}

fn cx() -> Context {
    let mut cx = Context::at(time::OffsetDateTime::now_utc());
    cx.timeout = Duration::from_secs(5);
    cx
}

async fn receiver(statuses: Vec<u16>) -> (String, WebhookReceiver) {
    let r = WebhookReceiver::start(None, statuses.into_iter().map(Answer::Status).collect()).await;
    (r.url.clone(), r)
}

#[tokio::test]
async fn a_signed_webhook_verifies_at_the_receiver() {
    let (url, seen) = receiver(vec![]).await;
    let dest = Destination::webhook(&url, Some("s3cret".into())).unwrap();
    deliver(&dest, &alert(), &cx()).await.unwrap();
    let got = seen.requests()[0].clone();
    let ts: i64 = got.header(TIMESTAMP_HEADER).unwrap().parse().unwrap();
    let sig = got.header(SIGNATURE_HEADER).unwrap();
    assert!(
        verify_signature("s3cret", ts, &got.body, sig),
        "signature {sig} does not verify"
    );
    assert!(!verify_signature("wrong", ts, &got.body, sig));
    assert_eq!(got.header(IDEMPOTENCY_HEADER), Some("\"k-1\""));
    assert_eq!(got.header("content-type"), Some("application/json"));
    let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
    assert_eq!(body["domain"], "example.test");
    assert_eq!(body["payload"]["snapshot"], 2);
}

#[tokio::test]
async fn an_unsigned_webhook_has_no_signature_header() {
    let (url, seen) = receiver(vec![]).await;
    deliver(&Destination::webhook(&url, None).unwrap(), &alert(), &cx())
        .await
        .unwrap();
    assert!(seen.requests()[0].header(SIGNATURE_HEADER).is_none());
}

#[tokio::test]
async fn a_failing_receiver_is_an_error_to_retry_with_the_same_key() {
    let (url, seen) = receiver(vec![503]).await;
    let dest = Destination::webhook(&url, Some("k".into())).unwrap();
    let err = deliver(&dest, &alert(), &cx()).await.unwrap_err();
    assert!(err.message.contains("HTTP 503") && !err.permanent, "{err}");
    deliver(&dest, &alert(), &cx()).await.unwrap();
    let seen = seen.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].header(IDEMPOTENCY_HEADER), seen[1].header(IDEMPOTENCY_HEADER));
}

#[tokio::test]
async fn an_unreachable_webhook_is_an_error_to_retry() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    drop(listener);
    let err = deliver(&Destination::webhook(&url, None).unwrap(), &alert(), &cx())
        .await
        .unwrap_err();
    assert!(err.message.contains("cannot connect") && !err.permanent, "{err}");
}

#[tokio::test]
async fn syslog_over_udp_arrives_as_one_rfc_5424_datagram() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let dest = Destination::syslog(&socket.local_addr().unwrap().to_string(), false).unwrap();
    deliver(&dest, &alert(), &cx()).await.unwrap();
    let mut buf = vec![0; 4096];
    let n = socket.recv(&mut buf).await.unwrap();
    let text = String::from_utf8(buf[..n].to_vec()).unwrap();
    assert!(text.starts_with("<26>1 "), "{text}");
    assert!(text.contains("idempotency-key=\"k-1\""), "{text}");
}

#[tokio::test]
async fn syslog_over_tcp_is_octet_counted() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dest = Destination::syslog(&listener.local_addr().unwrap().to_string(), true).unwrap();
    let read = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut all = String::new();
        stream.read_to_string(&mut all).await.unwrap();
        all
    });
    deliver(&dest, &alert(), &cx()).await.unwrap();
    let frame = read.await.unwrap();
    let (len, message) = frame.split_once(' ').unwrap();
    assert_eq!(len.parse::<usize>().unwrap(), message.len(), "{frame}");
    assert!(message.starts_with("<26>1 "), "{frame}");
}
