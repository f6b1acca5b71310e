//! Live tail over a real WebSocket: a write shows up at a subscriber soon
//! after its ack; reconnecting with a cursor gives neither gap nor
//! repeat; a subscriber that falls behind is told how much it missed and
//! never holds up ingest; a thousand subscribers that connect and drop
//! mid-stream leave no tasks or memory behind.

use flarego_tests::server::TestServer;
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn subscribe(s: &TestServer, query: &str) -> Ws {
    let url = format!("{}/api/v1/live?{query}", s.url.replacen("http", "ws", 1));
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    ws
}

/// The next JSON message, within `limit`.
async fn next(ws: &mut Ws, limit: Duration) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(left, ws.next())
            .await
            .expect("no message in time")
            .expect("stream ended")
            .expect("websocket error");
        if let Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// The next message that is not a heartbeat.
async fn next_event(ws: &mut Ws) -> Value {
    loop {
        let m = next(ws, Duration::from_secs(10)).await;
        if m["type"] != "heartbeat" {
            return m;
        }
    }
}

async fn write(s: &TestServer, service: &str, body: &str) {
    let (st, msg) = s
        .post(
            &format!("/ingest?name={service}.cpu&format=folded"),
            body.as_bytes().to_vec(),
            &[],
        )
        .await
        .unwrap();
    assert_eq!(st, 200, "{msg}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updates_arrive_after_the_ack_and_resume_without_gap_or_repeat() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &[])
        .await
        .unwrap();
    let mut ws = subscribe(&s, "service=api&profile_type=cpu").await;
    let hello = next_event(&mut ws).await;
    assert_eq!(hello["type"], "subscribed", "{hello}");

    write(&s, "api", "main;work 3\nmain;idle 1\n").await;
    let acked = Instant::now();
    let u = next_event(&mut ws).await;
    let latency = acked.elapsed();
    assert!(
        latency < Duration::from_secs(1),
        "update {latency:?} after the ack"
    );
    assert_eq!(u["type"], "update", "{u}");
    assert_eq!(u["total"], 40_000_000, "4 samples at 100 Hz");
    assert_eq!(u["points"].as_array().unwrap().len(), 1);
    assert_eq!(u["points"][0]["value"], 40_000_000);
    let tree = &u["flamegraph"];
    assert_eq!(
        tree["total"][0].as_i64().unwrap() * tree["scale"].as_i64().unwrap(),
        40_000_000
    );
    let c1 = u["cursor"].as_u64().unwrap();
    assert!(c1 > hello["cursor"].as_u64().unwrap());
    drop(ws);

    // While away: two matching writes and one of another service.
    write(&s, "api", "main;a 1\n").await;
    write(&s, "db", "main;q 9\n").await;
    write(&s, "api", "main;b 2\n").await;
    let mut ws = subscribe(&s, &format!("service=api&profile_type=cpu&cursor={c1}")).await;
    assert_eq!(next_event(&mut ws).await["type"], "subscribed");
    let a = next_event(&mut ws).await;
    let b = next_event(&mut ws).await;
    assert_eq!(
        (a["type"].as_str(), b["type"].as_str()),
        (Some("update"), Some("update"))
    );
    assert_eq!(
        (a["total"].as_i64(), b["total"].as_i64()),
        (Some(10_000_000), Some(20_000_000))
    );
    let (ca, cb) = (a["cursor"].as_u64().unwrap(), b["cursor"].as_u64().unwrap());
    assert!(c1 < ca && ca < cb, "{c1} {ca} {cb}");
    // Then live again, nothing repeated in between.
    write(&s, "api", "main;c 3\n").await;
    let c = next_event(&mut ws).await;
    assert_eq!(c["total"], 30_000_000, "{c}");
    assert!(c["cursor"].as_u64().unwrap() > cb);

    // Focus applies to live updates too; a tenant's subscriber never sees
    // another tenant's writes.
    let mut ws = subscribe(&s, "service=api&focus=%5Ea%24&tenant=default").await;
    assert_eq!(next_event(&mut ws).await["type"], "subscribed");
    let (st, _) = s
        .post(
            "/ingest?name=api.cpu&format=folded",
            b"main;a 5\n".to_vec(),
            &[("X-Scope-OrgID", "other")],
        )
        .await
        .unwrap();
    assert_eq!(st, 200);
    write(&s, "api", "main;a 1\nmain;b 7\n").await;
    let f = next_event(&mut ws).await;
    assert_eq!(f["total"], 10_000_000, "only main;a of this tenant: {f}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_behind_the_buffer_is_told_what_it_missed() {
    let tmp = tempfile::tempdir().unwrap();
    // The buffer holds the newest write only.
    let s = TestServer::start(&tmp.path().join("data"), &["--live-buffer-bytes", "1"])
        .await
        .unwrap();
    let mut ws = subscribe(&s, "service=api").await;
    let c0 = next_event(&mut ws).await["cursor"].as_u64().unwrap();
    drop(ws);
    for i in 0..5 {
        write(&s, "api", &format!("main;f{i} 1\n")).await;
    }
    let mut ws = subscribe(&s, &format!("service=api&cursor={c0}")).await;
    assert_eq!(next_event(&mut ws).await["type"], "subscribed");
    let lagged = next_event(&mut ws).await;
    assert_eq!(lagged["type"], "lagged", "{lagged}");
    assert_eq!(lagged["missed"], 4);
    let u = next_event(&mut ws).await;
    assert_eq!(u["type"], "update");
    assert_eq!(
        u["cursor"].as_u64().unwrap(),
        lagged["cursor"].as_u64().unwrap() + 1
    );
    assert!(s.metric("flarego_live_missed_writes_total").await.unwrap() >= 4.0);

    // A subscriber that stops reading: ingest goes on at full speed, and
    // when it reads again it learns what it missed.
    let mut stuck = subscribe(&s, "service=api").await;
    assert_eq!(next_event(&mut stuck).await["type"], "subscribed");
    let body: String = (0..2000)
        .map(|i| format!("main;handler{i};leaf{} 1\n", i % 7))
        .collect();
    let started = Instant::now();
    for _ in 0..300 {
        write(&s, "api", &body).await;
    }
    let took = started.elapsed();
    let newest = {
        let mut probe = subscribe(&s, "service=api").await;
        next_event(&mut probe).await["cursor"].as_u64().unwrap()
    };
    let mut saw_lag = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        let m = next_event(&mut stuck).await;
        if m["type"] == "lagged" {
            saw_lag += m["missed"].as_u64().unwrap();
        }
        if m["cursor"].as_u64() >= Some(newest) {
            break;
        }
    }
    assert!(
        saw_lag > 0,
        "the stuck subscriber was never told it lagged ({took:?} of ingest)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_subscribers_that_drop_mid_stream_leave_nothing_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--max-connections", "2000"])
        .await
        .unwrap();
    write(&s, "api", "main;warm 1\n").await;
    let tasks_before = s.metric("flarego_runtime_alive_tasks").await.unwrap();
    // Memory is compared from after the first wave: the allocator keeps
    // what one wave needed for the next. Later waves must not add to it.
    let mut rss_after_first = 0;
    for wave in 0..4 {
        let mut subs = Vec::new();
        for _ in 0..250 {
            let mut ws = subscribe(&s, "service=api").await;
            assert_eq!(next_event(&mut ws).await["type"], "subscribed");
            subs.push(ws);
        }
        assert_eq!(s.metric("flarego_live_subscribers").await.unwrap(), 250.0);
        write(&s, "api", "main;x 1\nmain;y 2\n").await;
        // Half read their update, half are dropped before reading it.
        for (i, ws) in subs.iter_mut().enumerate() {
            if i % 2 == 0 {
                assert_eq!(next_event(ws).await["type"], "update");
            }
        }
        // Dropped without a close handshake, mid-stream.
        for (i, mut ws) in subs.into_iter().enumerate() {
            if i % 3 == 0 {
                let _ = ws.send(Message::Close(None)).await;
            }
            drop(ws);
        }
        write(&s, "api", "main;z 1\n").await;
        wait_for_no_subscribers(&s).await;
        if wave == 0 {
            rss_after_first = rss_kib(s.pid().unwrap());
        }
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let subs = s.metric("flarego_live_subscribers").await.unwrap();
        let tasks = s.metric("flarego_runtime_alive_tasks").await.unwrap();
        if subs == 0.0 && tasks <= tasks_before + 2.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{subs} subscribers and {tasks} tasks (from {tasks_before}) left behind"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let grown = rss_kib(s.pid().unwrap()).saturating_sub(rss_after_first);
    assert!(
        grown < 16 * 1024,
        "resident memory grew by {grown} KiB over three more waves"
    );
}

async fn wait_for_no_subscribers(s: &TestServer) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while s.metric("flarego_live_subscribers").await.unwrap() != 0.0 {
        assert!(Instant::now() < deadline, "subscribers left behind");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap()
}
