//! DNS over TCP for the test servers: accept connections, read each
//! length-prefixed query (RFC 1035 §4.2.2) and write back what `reply`
//! gives; `None` leaves the query unanswered (the connection stays open).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// Serve every connection of `listener` with `reply` until aborted.
pub(crate) async fn serve<F>(listener: TcpListener, reply: F)
where
    F: Fn(&[u8]) -> Option<Vec<u8>> + Clone + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        connections.spawn(serve_connection(stream, reply.clone()));
        while connections.try_join_next().is_some() {}
    }
}

async fn serve_connection<F: Fn(&[u8]) -> Option<Vec<u8>>>(mut stream: TcpStream, reply: F) {
    loop {
        let Ok(len) = stream.read_u16().await else {
            return;
        };
        let mut query = vec![0u8; usize::from(len)];
        if stream.read_exact(&mut query).await.is_err() {
            return;
        }
        let Some(answer) = reply(&query) else {
            continue;
        };
        let Ok(answer_len) = u16::try_from(answer.len()) else {
            continue;
        };
        if stream.write_u16(answer_len).await.is_err() || stream.write_all(&answer).await.is_err() {
            return;
        }
    }
}
