//! A tiny client for a node's health endpoint (`GET /healthz` on 127.0.0.1), bounded in time and
//! size.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MAX_RESPONSE: usize = 64 << 10;

/// `GET /healthz` on `127.0.0.1:port`, parsed; `None` if the node does not answer in `timeout`.
pub async fn healthz(port: u16, timeout: Duration) -> Option<serde_json::Value> {
    let body = tokio::time::timeout(timeout, get(port, "/healthz"))
        .await
        .ok()??;
    serde_json::from_str(&body).ok()
}

async fn get(port: u16, path: &str) -> Option<String> {
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n").as_bytes())
        .await
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        if buf.len() > MAX_RESPONSE {
            return None;
        }
    }
    let text = String::from_utf8(buf).ok()?;
    text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
}
