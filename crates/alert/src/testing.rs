//! A webhook receiver on loopback for tests (feature `test-receiver`): it
//! checks each request's signature, answers from a script, can hang (to kill
//! a sender mid-delivery), and keeps what it saw, including which
//! idempotency keys it processed (the receiver's side of exactly-once).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

use crate::webhook::{IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature};

/// What the receiver does with the next request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Answer with this HTTP status.
    Status(u16),
    /// Read the request, then never answer.
    Hang,
}

/// One request as received.
#[derive(Clone, Debug)]
pub struct Received {
    /// Header names (lower case) and values.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// Whether the signature verified under the receiver's secret.
    pub signature_ok: bool,
    /// What the receiver answered.
    pub answer: Answer,
}

impl Received {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The receiver.
#[derive(Clone)]
pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
}

impl WebhookReceiver {
    /// Starts a receiver answering `script` in turn, then 200 to everything.
    pub async fn start(secret: Option<&str>, script: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind loopback");
        let url = format!("http://{}/hook", listener.local_addr().expect("local address"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let secret = secret.map(str::to_owned);
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (log, secret, script) = (log.clone(), secret.clone(), script.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, &log, secret.as_deref(), &script).await;
                });
            }
        });
        Self { url, seen }
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Received> {
        self.seen.lock().expect("receiver log").clone()
    }

    /// The idempotency keys of the requests answered 2xx, each once: what a
    /// receiver that drops repeats by key would have processed.
    pub fn processed_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .requests()
            .iter()
            .filter(|r| matches!(r.answer, Answer::Status(s) if (200..300).contains(&s)))
            .filter_map(|r| r.header(IDEMPOTENCY_HEADER).map(str::to_owned))
            .collect();
        keys.sort();
        keys.dedup();
        keys
    }
}

async fn serve(
    stream: tokio::net::TcpStream,
    log: &Mutex<Vec<Received>>,
    secret: Option<&str>,
    script: &Mutex<VecDeque<Answer>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).await?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line).await?;
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((n, v)) = l.split_once(':') {
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
    }
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    let find = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    let signature_ok = match (
        secret,
        find(TIMESTAMP_HEADER).and_then(|t| t.parse().ok()),
        find(SIGNATURE_HEADER),
    ) {
        (Some(secret), Some(ts), Some(sig)) => verify_signature(secret, ts, &body, &sig),
        (None, _, None) => true,
        _ => false,
    };
    let answer = script
        .lock()
        .expect("script")
        .pop_front()
        .unwrap_or(Answer::Status(200));
    log.lock().expect("receiver log").push(Received {
        headers,
        body,
        signature_ok,
        answer,
    });
    match answer {
        Answer::Status(status) => {
            let text = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            reader.get_mut().write_all(text.as_bytes()).await
        }
        Answer::Hang => {
            std::future::pending::<()>().await;
            Ok(())
        }
    }
}
