//! A local HTTP receiver standing in for a third-party service (Slack,
//! Jira, a webhook): it records every request and answers as the test
//! says — a status and body, or no answer at all (a hung service).

use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

/// How to answer: `None` hangs (never answers, holds the connection).
pub type Answer = Option<(u16, String)>;

/// A running receiver.
pub struct Receiver {
    pub url: String,
    log: Arc<parking_lot::Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listens on 127.0.0.1; `answer` sees each request and how many came
    /// before it.
    pub async fn start(
        answer: impl Fn(&Received, usize) -> Answer + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let log: Arc<parking_lot::Mutex<Vec<Received>>> = Arc::default();
        let answer = Arc::new(answer);
        let task = {
            let log = log.clone();
            tokio::spawn(async move {
                loop {
                    let Ok((mut conn, _)) = listener.accept().await else {
                        return;
                    };
                    let (log, answer) = (log.clone(), answer.clone());
                    tokio::spawn(async move {
                        let Some(req) = read_request(&mut conn).await else {
                            return;
                        };
                        let n = {
                            let mut l = log.lock();
                            l.push(req.clone());
                            l.len() - 1
                        };
                        match answer(&req, n) {
                            Some((status, body)) => {
                                let reply = format!(
                                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                                    body.len()
                                );
                                let _ = conn.write_all(reply.as_bytes()).await;
                                let _ = conn.shutdown().await;
                            }
                            // Hung: hold the connection for a long while.
                            None => tokio::time::sleep(Duration::from_secs(600)).await,
                        }
                    });
                }
            })
        };
        Receiver { url, log, task }
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.log.lock().clone()
    }

    /// Waits (up to `limit`) until `done` holds for what was received.
    pub async fn wait_for(
        &self,
        limit: Duration,
        what: &str,
        done: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if done(&got) {
                return got;
            }
            assert!(
                start.elapsed() < limit,
                "waited {limit:?} for {what}; received: {:#?}",
                got.iter()
                    .map(|r| format!(
                        "{} {} {}",
                        r.method,
                        r.path,
                        String::from_utf8_lossy(&r.body)
                    ))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received {
        method,
        path,
        headers,
        body,
        at: Instant::now(),
    })
}
