//! TLS end to end with certificates made in the test: HTTPS (curl as the
//! browser-less client), the agent over gRPC+TLS and WebSocket+TLS, a
//! wrong CA refused on both sides, and mutual TLS.

use flarego_tests::auth::Pki;
use flarego_tests::server::{TestServer, flarego_bin};
use std::process::{Command, Stdio};

/// Runs `flarego agent` on this test process (perf) for `windows` 1 s
/// windows; returns (delivered, undelivered, log).
fn agent(server: &str, windows: u32, extra: &[&str], log: &std::path::Path) -> (u64, u64, String) {
    let pid = std::process::id().to_string();
    let out = Command::new(flarego_bin().unwrap())
        .args([
            "agent",
            "--server",
            server,
            "--service",
            "tls",
            "--pid",
            &pid,
        ])
        .args(["--window", "1s", "--windows", &windows.to_string()])
        .args([
            "--backoff-initial",
            "100ms",
            "--backoff-max",
            "500ms",
            "--drain-timeout",
            "4s",
        ])
        .args(extra)
        .env("FLAREGO_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let log = std::fs::read_to_string(log).unwrap_or_default();
    assert!(out.status.success(), "agent failed: {stdout}\n{log}");
    let n = |key: &str| -> u64 {
        stdout
            .split_whitespace()
            .skip_while(|w| *w != key)
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {stdout:?}"))
    };
    (n("delivered"), n("undelivered"), log)
}

fn windows_stored(s: &TestServer) -> i64 {
    let (code, status, body) = s
        .curl(
            "/api/v1/query",
            &[
                "-H",
                "content-type: application/json",
                "-d",
                r#"{"sql": "SELECT count(*) FROM metrics WHERE name = 'agent_window_seq'"}"#,
            ],
        )
        .unwrap();
    assert_eq!((code, status), (0, 200), "{body}");
    let v: serde_json::Value = serde_json::from_str(body.trim()).unwrap();
    v["rows"][0][0].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_and_clients_reach_the_server_over_tls_and_a_wrong_ca_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::create(tmp.path()).unwrap();
    let (cert, key, ca, wrong) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
        pki.path("wrong-ca.pem"),
    );
    let s = TestServer::start_tls(
        &tmp.path().join("data"),
        &["--tls-cert", &cert, "--tls-key", &key],
        &["--cacert", &ca],
    )
    .await
    .unwrap();
    assert!(s.url.starts_with("https://") && s.grpc_url.starts_with("https://"));

    // HTTPS with the right CA answers; the wrong CA fails the handshake
    // (curl exit 60: peer certificate not trusted); plain HTTP gets nothing.
    let (code, status, _) = s.curl("/health", &[]).unwrap();
    assert_eq!((code, status), (0, 200));
    let (code, _, err) = s.curl("/health", &["--cacert", &wrong]).unwrap();
    assert_eq!(code, 60, "wrong CA: {err}");
    let plain = s.url.replace("https://", "http://");
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "5", &format!("{plain}/health")])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "plain HTTP to the TLS port must fail"
    );

    // The agent over gRPC+TLS and over WebSocket+TLS.
    let (delivered, undelivered, log) = agent(
        &s.grpc_url,
        2,
        &["--ca-cert", &ca],
        &tmp.path().join("a1.log"),
    );
    assert_eq!((delivered, undelivered), (2, 0), "{log}");
    let (delivered, undelivered, log) = agent(
        &s.url,
        2,
        &["--ca-cert", &ca, "--transport", "websocket"],
        &tmp.path().join("a2.log"),
    );
    assert_eq!((delivered, undelivered), (2, 0), "{log}");
    assert_eq!(windows_stored(&s), 4);

    // An agent trusting another CA delivers nothing and says why.
    for transport in ["grpc", "websocket"] {
        let server = if transport == "grpc" {
            &s.grpc_url
        } else {
            &s.url
        };
        let (delivered, undelivered, log) = agent(
            server,
            1,
            &["--ca-cert", &wrong, "--transport", transport],
            &tmp.path().join(format!("wrong-{transport}.log")),
        );
        assert_eq!((delivered, undelivered), (0, 1), "{transport}: {log}");
        assert!(
            log.to_lowercase().contains("certificate"),
            "{transport}: the log names the certificate problem:\n{log}"
        );
    }
    assert_eq!(windows_stored(&s), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_requires_a_client_certificate() {
    let tmp = tempfile::tempdir().unwrap();
    let pki = Pki::create(tmp.path()).unwrap();
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    let (ccert, ckey) = (pki.path("client.pem"), pki.path("client.key"));
    let s = TestServer::start_tls(
        &tmp.path().join("data"),
        &[
            "--tls-cert",
            &cert,
            "--tls-key",
            &key,
            "--tls-client-ca",
            &ca,
        ],
        &["--cacert", &ca, "--cert", &ccert, "--key", &ckey],
    )
    .await
    .unwrap();
    let (code, status, _) = s.curl("/health", &[]).unwrap();
    assert_eq!((code, status), (0, 200), "with a client certificate");
    let out = Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            &ca,
            &format!("{}/health", s.url),
        ])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "without a client certificate the handshake fails"
    );

    let id = [
        "--ca-cert",
        &ca,
        "--client-cert",
        &ccert,
        "--client-key",
        &ckey,
    ];
    let (delivered, _, log) = agent(&s.grpc_url, 1, &id, &tmp.path().join("m1.log"));
    assert_eq!(delivered, 1, "{log}");
    let mut ws = id.to_vec();
    ws.extend_from_slice(&["--transport", "websocket"]);
    let (delivered, _, log) = agent(&s.url, 1, &ws, &tmp.path().join("m2.log"));
    assert_eq!(delivered, 1, "{log}");
    let (delivered, undelivered, log) = agent(
        &s.grpc_url,
        1,
        &["--ca-cert", &ca],
        &tmp.path().join("m3.log"),
    );
    assert_eq!(
        (delivered, undelivered),
        (0, 1),
        "no client certificate: {log}"
    );
}
