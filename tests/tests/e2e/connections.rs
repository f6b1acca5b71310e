//! Slow and many connections: headers and bodies that trickle in, TLS
//! handshakes that never finish, more clients than the connection cap,
//! and a process out of file descriptors. The server closes what is too
//! slow, waits instead of spinning, and serves again once load passes.

use flarego_tests::auth::Pki;
use flarego_tests::server::TestServer;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn addr(url: &str) -> String {
    url.split_once("://").map_or(url, |(_, a)| a).to_string()
}

/// Reads until the peer closes (or `limit` passes); returns what was read
/// and how long the peer took to close, if it did.
fn read_until_closed(c: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let start = Instant::now();
    c.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while start.elapsed() < limit {
        match c.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into(), Some(start.elapsed())),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return (String::from_utf8_lossy(&got).into(), Some(start.elapsed())),
        }
    }
    (String::from_utf8_lossy(&got).into(), None)
}

/// User plus system CPU seconds of a process so far.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_headers_and_bodies_are_cut_off() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &["--header-timeout", "1s", "--body-timeout", "1s"],
    )
    .await
    .unwrap();
    let a = addr(&s.url);

    // Headers never finished.
    let mut c = TcpStream::connect(&a).unwrap();
    c.write_all(b"POST /ingest?name=slow.cpu HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .unwrap();
    let (_, closed) = read_until_closed(&mut c, Duration::from_secs(8));
    let t = closed.expect("a connection with unfinished headers stayed open");
    assert!(t < Duration::from_secs(4), "closed after {t:?}");

    // A body that stops arriving: 408, naming the limit.
    let mut c = TcpStream::connect(&a).unwrap();
    c.write_all(
        b"POST /ingest?name=slow.cpu&format=folded HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\nmain;slow 1\n",
    )
    .unwrap();
    let (answer, closed) = read_until_closed(&mut c, Duration::from_secs(8));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_read_timeout"), "{answer}");
    assert!(closed.is_some(), "the connection stayed open");

    // An idle kept-alive connection is closed too.
    let mut c = TcpStream::connect(&a).unwrap();
    c.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    let (answer, closed) = read_until_closed(&mut c, Duration::from_secs(8));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed.is_some(), "the idle connection stayed open");
    assert!(s.healthy().await);
    assert_eq!(s.sql_i64("SELECT count(*) FROM profiles").await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_past_the_cap_wait_until_a_connection_closes() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &["--max-connections", "3", "--header-timeout", "30s"],
    )
    .await
    .unwrap();
    let a = addr(&s.url);
    // Three connections that send nothing take every slot (the test
    // client's own kept-alive connection may hold one of them).
    let idle: Vec<TcpStream> = (0..3).map(|_| TcpStream::connect(&a).unwrap()).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, status, _) = s.curl("/health", &["--max-time", "1.5"]).unwrap();
    assert_ne!(status, 200, "served past the cap (curl exit {code})");
    drop(idle);
    let (code, status, body) = s.curl("/health", &["--max-time", "5"]).unwrap();
    assert_eq!((code, status), (0, 200), "{body}");
    assert!(
        s.metric("flarego_connections_accepted_total{listener=\"http\"}")
            .await
            .unwrap()
            >= 4.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_descriptors_the_tls_listener_waits_instead_of_spinning() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::create(tmp.path()).unwrap();
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    let s = TestServer::start_with_nofile(
        &tmp.path().join("data"),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-handshake-timeout",
            "1s",
            "--header-timeout",
            "30s",
        ],
        &["--cacert", &ca],
        96,
    )
    .await
    .unwrap();
    let pid = s.pid().unwrap();
    let a = addr(&s.url);

    // A handshake that never starts is dropped within its deadline.
    let mut c = TcpStream::connect(&a).unwrap();
    let (_, closed) = read_until_closed(&mut c, Duration::from_secs(6));
    let t = closed.expect("a silent TLS client kept its connection");
    assert!(t < Duration::from_secs(4), "closed after {t:?}");

    // Hold more connections than the process has descriptors: accept
    // fails with EMFILE while they stay open.
    let held: Vec<TcpStream> = (0..150)
        .filter_map(|_| TcpStream::connect(&a).ok())
        .collect();
    assert!(held.len() > 100, "{} connections", held.len());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cpu0 = cpu_secs(pid);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let busy = cpu_secs(pid) - cpu0;
    assert!(
        busy < 0.5,
        "the server burned {busy:.2} s of CPU in 3 s with no free descriptor"
    );
    drop(held);
    // Descriptors free again (the held TLS clients are dropped at their
    // handshake deadline): it serves.
    let mut served = false;
    for _ in 0..40 {
        if s.curl("/health", &["--max-time", "2"])
            .is_ok_and(|(_, st, _)| st == 200)
        {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        served,
        "the server did not serve again after the descriptors came back"
    );
    let (_, st, body) = s.curl("/metrics", &[]).unwrap();
    assert_eq!(st, 200);
    let errors: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("flarego_accept_errors_total{listener=\"http\"} "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(errors >= 1.0, "no accept error was counted:\n{body}");
}
