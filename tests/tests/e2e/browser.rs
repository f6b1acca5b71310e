//! With auth off, a web page the user visits must not reach the server:
//! the exact requests a browser sends for a cross-site form, a
//! `text/plain` fetch, a DNS-rebound page and a WebSocket are refused,
//! and no CORS header ever invites another origin to read an answer.
//! SDKs and tools (no `Origin`) keep working.

use flarego_tests::server::TestServer;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_and_rebound_requests_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &[])
        .await
        .unwrap();
    let own = s.url.clone();
    let host = own.trim_start_matches("http://").to_string();
    let sql = r#"{"sql": "SELECT count(*) FROM profiles"}"#;

    // fetch(url, {method: "POST", body}) from http://evil.example: a
    // "simple" request, sent without a preflight.
    let (_, st, body) = s
        .curl(
            "/api/v1/query",
            &[
                "-H",
                "Origin: http://evil.example",
                "-H",
                "Content-Type: text/plain;charset=UTF-8",
                "-d",
                sql,
            ],
        )
        .unwrap();
    assert_eq!(st, 403, "{body}");
    assert!(
        body.contains("Origin \\\"http://evil.example\\\" is another site"),
        "{body}"
    );

    // The same from a form (urlencoded), against the admin flush.
    let (_, st, body) = s
        .curl(
            "/api/v1/admin/flush",
            &[
                "-H",
                "Origin: http://evil.example",
                "-H",
                "Content-Type: application/x-www-form-urlencoded",
                "-d",
                "a=b",
            ],
        )
        .unwrap();
    assert_eq!(st, 403, "{body}");

    // A browser that sends no Origin (some do for same-site GETs) still
    // cannot post JSON as text/plain.
    let (_, st, body) = s
        .curl(
            "/api/v1/query",
            &["-H", "Content-Type: text/plain", "-d", sql],
        )
        .unwrap();
    assert_eq!(st, 415, "{body}");
    assert!(body.contains("application/json"), "{body}");

    // DNS rebinding: the page's own name, now pointing at 127.0.0.1.
    let (_, st, body) = s
        .curl(
            "/api/v1/query",
            &[
                "-H",
                "Host: evil.example:4040",
                "-H",
                "Content-Type: application/json",
                "-d",
                sql,
            ],
        )
        .unwrap();
    assert_eq!(st, 403, "{body}");
    assert!(body.contains("DNS rebinding"), "{body}");
    let (_, st, _) = s.curl("/metrics", &["-H", "Host: evil.example"]).unwrap();
    assert_eq!(st, 403);

    // A preflight from another origin gets no CORS grant.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-i", "-X", "OPTIONS"])
        .args(["-H", "Origin: http://evil.example"])
        .args(["-H", "Access-Control-Request-Method: POST"])
        .args(["-H", "Access-Control-Request-Headers: content-type"])
        .arg(format!("{own}/api/v1/query"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(!text.contains("access-control-allow"), "{text}");

    // A WebSocket opened by a page on another site.
    let (_, st, body) = s
        .curl(
            "/api/v1/agent/ws",
            &[
                "-H",
                "Origin: http://evil.example",
                "-H",
                "Connection: Upgrade",
                "-H",
                "Upgrade: websocket",
                "-H",
                "Sec-WebSocket-Version: 13",
                "-H",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            ],
        )
        .unwrap();
    assert_eq!(st, 403, "{body}");

    // Nothing of the above was written or flushed.
    assert_eq!(s.sql_i64("SELECT count(*) FROM profiles").await.unwrap(), 0);

    // The server's own page (same origin) and SDKs (no Origin) work, and
    // answers carry no CORS header.
    let out = std::process::Command::new("curl")
        .args(["-sS", "-i", "-H", &format!("Origin: {own}")])
        .args(["-H", "Content-Type: application/json", "-d", sql])
        .arg(format!("{own}/api/v1/query"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        !text.to_lowercase().contains("access-control-allow"),
        "{text}"
    );
    let (status, body) = s
        .post(
            "/ingest?name=sdk.cpu&format=folded&sampleRate=100",
            b"main;work 1\n".to_vec(),
            &[("User-Agent", "pyroscope-go/1.2")],
        )
        .await
        .unwrap();
    assert_eq!(status, 200, "{body}");
    let (_, st, _) = s
        .curl(
            "/ready",
            &[
                "-H",
                &format!("Host: localhost:{}", host.rsplit(':').next().unwrap()),
            ],
        )
        .unwrap();
    assert_eq!(st, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configured_hosts_and_origins_are_let_in() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(
        &tmp.path().join("data"),
        &[
            "--allowed-hosts",
            "flarego.internal",
            "--allowed-origins",
            "https://grafana.example",
        ],
    )
    .await
    .unwrap();
    let sql = r#"{"sql": "SELECT 1"}"#;
    let (_, st, body) = s
        .curl(
            "/api/v1/query",
            &[
                "-H",
                "Host: flarego.internal:4040",
                "-H",
                "Origin: https://grafana.example",
                "-H",
                "Content-Type: application/json",
                "-d",
                sql,
            ],
        )
        .unwrap();
    assert_eq!(st, 200, "{body}");
    let (_, st, _) = s
        .curl(
            "/api/v1/query",
            &[
                "-H",
                "Host: other.internal",
                "-H",
                "Content-Type: application/json",
                "-d",
                sql,
            ],
        )
        .unwrap();
    assert_eq!(st, 403);
}
