//! The adversarial suite: bad tokens on every listener, roles, tenant
//! isolation against every way a reader could reach another tenant's
//! rows, and rate limits that stop one tenant without slowing another.

use flarego_ingest::auth::Role;
use flarego_proto::agent::v1::agent_ingest_client::AgentIngestClient;
use flarego_proto::agent::v1::{Chunk, MetricPoint};
use flarego_tests::auth::{Keys, SECRET, alg_none, claims, hs256, now, rs256};
use flarego_tests::server::{TestServer, flarego_bin};
use serde_json::{Value, json};
use std::path::Path;

async fn start(tmp: &Path, keys: &Keys, extra: &[&str]) -> TestServer {
    let secret = keys.secret_file();
    let public = keys.public_key_file();
    let mut args = vec![
        "--auth",
        "jwt",
        "--jwt-hs256-secret-file",
        secret.to_str().unwrap(),
        "--jwt-public-key",
        public.to_str().unwrap(),
        "--jwt-issuer",
        "flarego-test",
        "--jwt-audience",
        "flarego",
    ];
    args.extend_from_slice(extra);
    TestServer::start(&tmp.join("data"), &args).await.unwrap()
}

async fn query(
    s: &TestServer,
    token: Option<&str>,
    sql: &str,
    tenant: Option<&str>,
) -> (u16, String) {
    let mut req = s
        .client()
        .post(format!("{}/api/v1/query", s.url))
        .json(&json!({ "sql": sql }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn ingest(
    s: &TestServer,
    token: Option<&str>,
    name: &str,
    folded: &str,
    tenant: Option<&str>,
) -> u16 {
    let mut req = s
        .client()
        .post(format!("{}/ingest?name={name}.cpu&sampleRate=100", s.url))
        .body(folded.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(t) = tenant {
        req = req.header("X-Scope-OrgID", t);
    }
    req.send().await.unwrap().status().as_u16()
}

fn chunk(seq: u64) -> Chunk {
    Chunk {
        agent_id: "sec/1".into(),
        seq,
        window_start_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64),
        window_ns: 10_000_000_000,
        service: "grpc-svc".into(),
        metrics: vec![MetricPoint {
            name: "m".into(),
            value: 1.0,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The gRPC status code of opening a stream and sending one chunk.
async fn grpc_code(s: &TestServer, token: Option<&str>) -> tonic::Code {
    let mut client = AgentIngestClient::connect(s.grpc_url.clone())
        .await
        .unwrap();
    let mut req = tonic::Request::new(futures::stream::iter(vec![chunk(1)]));
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match client.stream(req).await {
        Err(status) => status.code(),
        Ok(resp) => match resp.into_inner().message().await {
            Ok(_) => tonic::Code::Ok,
            Err(status) => status.code(),
        },
    }
}

/// The HTTP status of a WebSocket upgrade to the agent endpoint.
async fn ws_status(s: &TestServer, token: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let url = format!("{}/api/v1/agent/ws", s.url.replace("http://", "ws://"));
    let mut req = url.into_client_request().unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(req).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => r.status().as_u16(),
        Err(e) => panic!("WebSocket connect failed oddly: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_token_is_refused_on_http_grpc_and_websocket() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    let s = start(tmp.path(), &keys, &[]).await;
    let admin = claims("acme", Role::Admin);

    let mut expired = admin.clone();
    expired.exp = now() - 3600;
    let mut early = admin.clone();
    early.nbf = Some(now() + 3600);
    let mut wrong_iss = admin.clone();
    wrong_iss.iss = Some("someone-else".into());
    let mut wrong_aud = admin.clone();
    wrong_aud.aud = Some("another-service".into());
    let mut bad_tenant = admin.clone();
    bad_tenant.tenant = "../etc".into();
    let bad: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("malformed", Some("not.a.jwt".into())),
        ("garbage", Some("x".into())),
        ("alg none", Some(alg_none(&admin))),
        (
            "wrong secret",
            Some(hs256(&admin, b"another-secret-that-is-long-enough-too").unwrap()),
        ),
        // The classic confusion: HS256 keyed with the server's RSA public key.
        (
            "algorithm confusion",
            Some(hs256(&admin, &keys.rsa_public_pem().unwrap()).unwrap()),
        ),
        ("expired", Some(hs256(&expired, SECRET.as_bytes()).unwrap())),
        (
            "not yet valid",
            Some(hs256(&early, SECRET.as_bytes()).unwrap()),
        ),
        (
            "wrong issuer",
            Some(hs256(&wrong_iss, SECRET.as_bytes()).unwrap()),
        ),
        (
            "wrong audience",
            Some(hs256(&wrong_aud, SECRET.as_bytes()).unwrap()),
        ),
        (
            "invalid tenant",
            Some(hs256(&bad_tenant, SECRET.as_bytes()).unwrap()),
        ),
    ];
    for (case, token) in &bad {
        let t = token.as_deref();
        let (status, body) = query(&s, t, "SELECT 1", None).await;
        assert_eq!(status, 401, "{case}: query answered {status} {body}");
        assert!(
            body.contains("a valid bearer token is required")
                && !body.to_lowercase().contains("expired"),
            "{case}: the caller learns no reason: {body}"
        );
        assert_eq!(
            ingest(&s, t, "svc", "main;f 1", None).await,
            401,
            "{case}: ingest"
        );
        assert_eq!(
            grpc_code(&s, t).await,
            tonic::Code::Unauthenticated,
            "{case}: gRPC"
        );
        assert_eq!(ws_status(&s, t).await, 401, "{case}: WebSocket");
    }
    // The reasons are in the log.
    let log = std::fs::read_to_string(s.log_path()).unwrap();
    for reason in [
        "ExpiredSignature",
        "ImmatureSignature",
        "InvalidIssuer",
        "InvalidAudience",
        "InvalidSignature",
    ] {
        assert!(log.contains(reason), "log lacks {reason}");
    }
    // Good tokens pass everywhere: HS256 from the built-in issuer, RS256 from an outside one.
    for good in [
        hs256(&admin, SECRET.as_bytes()).unwrap(),
        rs256(&admin, &keys.rsa_private_pem().unwrap()).unwrap(),
    ] {
        assert_eq!(query(&s, Some(&good), "SELECT 1", None).await.0, 200);
        assert_eq!(ingest(&s, Some(&good), "svc", "main;f 1", None).await, 200);
        assert_eq!(grpc_code(&s, Some(&good)).await, tonic::Code::Ok);
        assert_eq!(ws_status(&s, Some(&good)).await, 101);
    }
}

/// The status of `method path` with bearer `token`.
async fn status_of(s: &TestServer, method: reqwest::Method, path: &str, token: String) -> u16 {
    let r = s
        .client()
        .request(method, format!("{}{path}", s.url))
        .bearer_auth(token);
    r.send().await.unwrap().status().as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_limit_what_a_token_may_do() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    let s = start(tmp.path(), &keys, &[]).await;
    let tok = |role| hs256(&claims("acme", role), SECRET.as_bytes()).unwrap();
    let (agent, reader, admin) = (tok(Role::Agent), tok(Role::Reader), tok(Role::Admin));

    assert_eq!(ingest(&s, Some(&agent), "svc", "main;f 1", None).await, 200);
    assert_eq!(grpc_code(&s, Some(&agent)).await, tonic::Code::Ok);
    assert_eq!(
        query(&s, Some(&agent), "SELECT 1", None).await.0,
        403,
        "an agent cannot query"
    );

    assert_eq!(query(&s, Some(&reader), "SELECT 1", None).await.0, 200);
    assert_eq!(
        ingest(&s, Some(&reader), "svc", "main;f 1", None).await,
        403,
        "a reader cannot ingest"
    );
    assert_eq!(
        grpc_code(&s, Some(&reader)).await,
        tonic::Code::PermissionDenied
    );
    assert_eq!(ws_status(&s, Some(&reader)).await, 403);

    let flush = |t: String| status_of(&s, reqwest::Method::POST, "/api/v1/admin/flush", t);
    assert_eq!(flush(reader.clone()).await, 403);
    assert_eq!(flush(agent.clone()).await, 403);
    assert_eq!(flush(admin.clone()).await, 200);
    let metrics = |t: String| status_of(&s, reqwest::Method::GET, "/metrics", t);
    assert_eq!(metrics(reader.clone()).await, 403, "counters span tenants");
    assert_eq!(metrics(admin.clone()).await, 200);

    // A scope narrows a role: an admin token scoped to `query` cannot flush.
    let mut scoped = claims("acme", Role::Admin);
    scoped.scope = Some("query".into());
    let scoped = hs256(&scoped, SECRET.as_bytes()).unwrap();
    assert_eq!(query(&s, Some(&scoped), "SELECT 1", None).await.0, 200);
    assert_eq!(flush(scoped).await, 403);

    // `flarego token create` prints the token alone on its last line.
    let out = std::process::Command::new(flarego_bin().unwrap())
        .args([
            "token", "create", "--tenant", "acme", "--role", "reader", "--ttl", "1h",
        ])
        .args(["--issuer", "flarego-test", "--audience", "flarego"])
        .arg("--jwt-hs256-secret-file")
        .arg(keys.secret_file())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let minted = stdout.lines().last().unwrap().trim();
    assert_eq!(query(&s, Some(minted), "SELECT 1", None).await.0, 200);
    assert_eq!(ingest(&s, Some(minted), "svc", "main;f 1", None).await, 403);
}

/// A token minted by `flarego token create` works until its id is added
/// to the `--jwt-revoked-file`; then every listener refuses it, without a
/// restart, while other tokens go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_is_refused_everywhere_without_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    let revoked = tmp.path().join("revoked-tokens");
    std::fs::write(&revoked, "# revoked token ids\n").unwrap();
    let s = start(
        tmp.path(),
        &keys,
        &["--jwt-revoked-file", revoked.to_str().unwrap()],
    )
    .await;
    let mint = || {
        let out = std::process::Command::new(flarego_bin().unwrap())
            .args(["token", "create", "--tenant", "acme", "--role", "admin"])
            .args([
                "--ttl",
                "1h",
                "--issuer",
                "flarego-test",
                "--audience",
                "flarego",
            ])
            .arg("--jwt-hs256-secret-file")
            .arg(keys.secret_file())
            .output()
            .unwrap();
        assert!(out.status.success());
        let stderr = String::from_utf8(out.stderr).unwrap();
        let jti = stderr
            .split("id (jti) ")
            .nth(1)
            .and_then(|r| r.split(':').next())
            .unwrap_or_else(|| panic!("no token id in {stderr:?}"))
            .to_string();
        let token = String::from_utf8(out.stdout).unwrap();
        (token.lines().last().unwrap().trim().to_string(), jti)
    };
    let (leaked, leaked_id) = mint();
    let (kept, _) = mint();
    assert_eq!(query(&s, Some(&leaked), "SELECT 1", None).await.0, 200);
    assert_eq!(grpc_code(&s, Some(&leaked)).await, tonic::Code::Ok);
    assert_eq!(ws_status(&s, Some(&leaked)).await, 101);

    let mut text = std::fs::read_to_string(&revoked).unwrap();
    text.push_str(&format!("{leaked_id}  # leaked in a CI log\n"));
    std::fs::write(&revoked, text).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while query(&s, Some(&leaked), "SELECT 1", None).await.0 != 401 {
        assert!(
            std::time::Instant::now() < deadline,
            "the revoked token still works 10 s later"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(
        grpc_code(&s, Some(&leaked)).await,
        tonic::Code::Unauthenticated
    );
    assert_eq!(ws_status(&s, Some(&leaked)).await, 401);
    assert_eq!(query(&s, Some(&kept), "SELECT 1", None).await.0, 200);
    let log = std::fs::read_to_string(s.log_path()).unwrap();
    assert!(log.contains("is revoked"), "the reason is logged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_of_one_tenant_never_sees_another() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    // Dozens of queries back to back: the query rate limit (tested on its
    // own below) is off so that every attempt gets an answer.
    let s = start(tmp.path(), &keys, &["--queries-per-sec", "0"]).await;
    let tok = |tenant: &str, role| hs256(&claims(tenant, role), SECRET.as_bytes()).unwrap();
    let (agent_a, agent_b) = (tok("a", Role::Agent), tok("b", Role::Agent));
    let reader_a = tok("a", Role::Reader);
    let admin = tok("ops", Role::Admin);

    assert_eq!(
        ingest(&s, Some(&agent_a), "a-service", "main;a_function 10", None).await,
        200
    );
    // B's agent names tenant a in the header: the token's tenant wins.
    assert_eq!(
        ingest(
            &s,
            Some(&agent_b),
            "bsecret-service",
            "main;bsecret_function 7",
            Some("a")
        )
        .await,
        200
    );
    let mut c = chunk(1);
    c.service = "bsecret-grpc".into();
    let mut client = AgentIngestClient::connect(s.grpc_url.clone())
        .await
        .unwrap();
    let mut req = tonic::Request::new(futures::stream::iter(vec![c]));
    req.metadata_mut().insert(
        "authorization",
        format!("Bearer {agent_b}").parse().unwrap(),
    );
    req.metadata_mut()
        .insert("x-scope-orgid", "a".parse().unwrap());
    let ack = client
        .stream(req)
        .await
        .unwrap()
        .into_inner()
        .message()
        .await
        .unwrap()
        .unwrap();
    assert!(ack.error.is_empty());
    // Half the data in Parquet, half in memory: both tiers are scoped.
    s.client()
        .post(format!("{}/api/v1/admin/flush", s.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        ingest(
            &s,
            Some(&agent_b),
            "bsecret-hot",
            "main;bsecret_hot 3",
            None
        )
        .await,
        200
    );

    let attempts = [
        "SELECT * FROM profiles",
        "SELECT * FROM metrics",
        "SELECT DISTINCT tenant, service FROM profiles",
        "SELECT * FROM profiles WHERE tenant = 'b'",
        "SELECT * FROM profiles WHERE tenant <> 'a' OR tenant IS NULL",
        "SELECT service FROM profiles UNION ALL SELECT service FROM metrics",
        "SELECT * FROM (SELECT tenant, service, frames FROM profiles) t WHERE t.tenant = 'b'",
        "WITH x AS (SELECT * FROM profiles) SELECT tenant, service, frames FROM x",
        "SELECT p.service, m.service FROM profiles p FULL JOIN metrics m ON p.tenant <> m.tenant",
        "SELECT count(*), array_agg(DISTINCT service) FROM profiles",
        "SELECT frames_of(stack_id) FROM profiles",
        "SELECT leaf(frames), sum(value) FROM profiles GROUP BY 1",
        "SELECT * FROM information_schema.tables",
        "SHOW TABLES",
        "CREATE EXTERNAL TABLE stolen STORED AS PARQUET LOCATION '/'",
        "SELECT * FROM read_parquet('/')",
        "SELECT * FROM 'tenant=b'",
        "COPY (SELECT 1) TO '/tmp/x.parquet'",
    ];
    let mut answered = 0;
    for sql in attempts {
        for header in [None, Some("b")] {
            let (status, body) = query(&s, Some(&reader_a), sql, header).await;
            assert!(
                !body.contains("bsecret"),
                "{sql} (X-Scope-OrgID {header:?}) leaked tenant b: {body}"
            );
            assert!(
                status == 200 || status == 400,
                "{sql}: unexpected {status} {body}"
            );
            if status == 200 {
                answered += 1;
                let v: Value = serde_json::from_str(&body).unwrap();
                for row in v["rows"].as_array().unwrap() {
                    assert!(!row.to_string().contains("\"b\""), "{sql}: row of b {row}");
                }
            }
        }
    }
    assert!(
        answered >= 20,
        "most attempts are legal queries that answer (without b)"
    );
    // A's own data is there, both tiers.
    let (_, body) = query(
        &s,
        Some(&reader_a),
        "SELECT DISTINCT service FROM profiles ORDER BY 1",
        None,
    )
    .await;
    assert!(body.contains("a-service"), "{body}");
    // The admin sees every tenant, or the one it names.
    let (_, all) = query(
        &s,
        Some(&admin),
        "SELECT DISTINCT tenant FROM profiles ORDER BY 1",
        None,
    )
    .await;
    assert!(all.contains("\"a\"") && all.contains("\"b\""), "{all}");
    let (_, only_b) = query(
        &s,
        Some(&admin),
        "SELECT DISTINCT tenant FROM profiles",
        Some("b"),
    )
    .await;
    assert!(
        only_b.contains("\"b\"") && !only_b.contains("\"a\""),
        "{only_b}"
    );
    // B's gRPC chunk went to b despite the header.
    let (_, grpc_rows) = query(
        &s,
        Some(&admin),
        "SELECT tenant FROM metrics WHERE service = 'bsecret-grpc'",
        None,
    )
    .await;
    assert!(
        grpc_rows.contains("\"b\"") && !grpc_rows.contains("\"a\""),
        "{grpc_rows}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bursts_over_the_rate_limit_get_429_and_other_tenants_go_on() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    let s = start(
        tmp.path(),
        &keys,
        &["--queries-per-sec", "5", "--ingest-requests-per-sec", "5"],
    )
    .await;
    let tok = |tenant: &str, role| hs256(&claims(tenant, role), SECRET.as_bytes()).unwrap();
    let (reader_a, reader_b) = (tok("a", Role::Reader), tok("b", Role::Reader));
    let agent_a = tok("a", Role::Agent);

    let burst: Vec<_> = (0..30)
        .map(|_| {
            let c = s.client().clone();
            let url = format!("{}/api/v1/query", s.url);
            let t = reader_a.clone();
            tokio::spawn(async move {
                let r = c
                    .post(url)
                    .bearer_auth(t)
                    .json(&json!({"sql": "SELECT 1"}))
                    .send()
                    .await
                    .unwrap();
                let retry = r
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                let status = r.status().as_u16();
                (status, retry, r.text().await.unwrap())
            })
        })
        .collect();
    // Tenant b is unaffected while a is limited.
    assert_eq!(query(&s, Some(&reader_b), "SELECT 1", None).await.0, 200);
    let mut limited = 0;
    for h in burst {
        let (status, retry, body) = h.await.unwrap();
        match status {
            200 => {}
            429 => {
                limited += 1;
                assert!(retry.is_some_and(|r| r >= 1), "429 without Retry-After");
                assert!(body.contains("queries_per_sec = 5"), "{body}");
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(
        limited >= 20,
        "only {limited} of 30 over a rate of 5/s were limited"
    );
    assert_eq!(query(&s, Some(&reader_b), "SELECT 1", None).await.0, 200);

    let mut ingest_limited = 0;
    for _ in 0..15 {
        if ingest(&s, Some(&agent_a), "svc", "main;f 1", None).await == 429 {
            ingest_limited += 1;
        }
    }
    assert!(
        ingest_limited >= 5,
        "ingest over 5/s limited {ingest_limited} times"
    );
    // After a second the bucket has refilled.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(query(&s, Some(&reader_a), "SELECT 1", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_time_or_memory_limit_is_stopped_and_says_which() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--query-timeout", "300ms"])
        .await
        .unwrap();
    // 400 M rows of cross join: far more than 300 ms.
    let (status, body) = s
        .sql_raw(
            "SELECT count(*) FROM unnest(range(1, 20000)) a(x) CROSS JOIN unnest(range(1, 20000)) b(y)",
        )
        .await
        .unwrap();
    assert_eq!(status, 429, "{body}");
    assert!(body.to_string().contains("query_timeout = 300ms"), "{body}");
    assert_eq!(s.sql_i64("SELECT 41 + 1").await.unwrap(), 42);

    // Grouping 3 M distinct keys needs far more than 4 MiB, and may not spill.
    let s = TestServer::start(&tmp.path().join("data2"), &["--query-memory-bytes", "4MiB"])
        .await
        .unwrap();
    let (status, body) = s
        .sql_raw(
            "SELECT x, count(*) FROM unnest(range(1, 3000000)) t(x) GROUP BY x ORDER BY x LIMIT 1",
        )
        .await
        .unwrap();
    assert_eq!(status, 429, "{body}");
    assert!(body.to_string().contains("query_memory_bytes"), "{body}");
    // Small queries still answer.
    assert_eq!(s.sql_i64("SELECT 41 + 1").await.unwrap(), 42);
}
