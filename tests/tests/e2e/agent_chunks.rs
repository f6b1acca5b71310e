//! Chunks sent to the agent stream by hand, over real gRPC: resends are
//! stored once, across compaction and a restart too; a bad chunk is
//! refused with its reason and the stream goes on.

use flarego_proto::agent::v1::agent_ingest_client::AgentIngestClient;
use flarego_proto::agent::v1::{Ack, Chunk, MetricPoint};
use flarego_tests::server::TestServer;

/// The start of the hour an hour ago, in ns.
fn hour_ago_ns() -> i64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    (now / 3600 - 1) * 3600 * 1_000_000_000
}

fn chunk(agent: &str, seq: u64, service: &str) -> Chunk {
    Chunk {
        agent_id: agent.into(),
        seq,
        // The last hour (writes may not be dated far from the server's clock).
        window_start_ns: hour_ago_ns() + seq as i64 * 10_000_000_000,
        window_ns: 10_000_000_000,
        service: service.into(),
        metrics: vec![MetricPoint {
            name: "seen".into(),
            value: seq as f64,
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// Sends `chunks` on one stream; returns the acks.
async fn send(server: &TestServer, chunks: Vec<Chunk>) -> Vec<Ack> {
    let mut client = AgentIngestClient::connect(server.grpc_url.clone())
        .await
        .unwrap()
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip);
    let n = chunks.len();
    let mut acks = client
        .stream(futures::stream::iter(chunks))
        .await
        .unwrap()
        .into_inner();
    let mut out = Vec::new();
    while out.len() < n {
        out.push(acks.message().await.unwrap().expect("an ack per chunk"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resends_are_stored_once_even_after_compaction_and_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let mut server = TestServer::start(&tmp.path().join("data"), &[])
        .await
        .unwrap();
    let dup = |acks: &[Ack]| acks.iter().map(|a| a.duplicate).collect::<Vec<_>>();

    let acks = send(
        &server,
        vec![chunk("a/1", 1, "svc"), chunk("a/1", 2, "svc")],
    )
    .await;
    assert_eq!(dup(&acks), [false, false]);
    // A lost ack: the agent resends 2, then goes on with 3; the copy of 3
    // in the same stream is dropped too.
    let acks = send(
        &server,
        vec![
            chunk("a/1", 2, "svc"),
            chunk("a/1", 3, "svc"),
            chunk("a/1", 3, "svc"),
        ],
    )
    .await;
    assert_eq!(dup(&acks), [true, false, true]);
    // Another agent's numbers are its own.
    let acks = send(&server, vec![chunk("b/1", 1, "svc")]).await;
    assert_eq!(dup(&acks), [false]);

    // Into Parquet (the WAL segments go), then a crash: the marks survive.
    server.flush().await.unwrap();
    server.restart().await.unwrap();
    let acks = send(
        &server,
        vec![chunk("a/1", 3, "svc"), chunk("a/1", 4, "svc")],
    )
    .await;
    assert_eq!(dup(&acks), [true, false]);
    // And from the WAL alone (no flush since): a crash right after the ack.
    server.restart().await.unwrap();
    let acks = send(&server, vec![chunk("a/1", 4, "svc")]).await;
    assert_eq!(dup(&acks), [true]);

    let rows = server
        .sql("SELECT CAST(value AS BIGINT), count(*) FROM metrics WHERE name = 'seen' AND service = 'svc' GROUP BY 1 ORDER BY 1")
        .await
        .unwrap();
    let expected: Vec<Vec<serde_json::Value>> = [(1, 2), (2, 1), (3, 1), (4, 1)]
        .iter()
        .map(|(v, n)| vec![(*v).into(), (*n).into()])
        .collect();
    assert_eq!(rows, expected, "a/1 sent 1..4 once each, b/1 sent 1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_chunk_is_refused_with_its_reason_and_the_stream_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let server = TestServer::start(&tmp.path().join("data"), &["--max-label-value-bytes", "64"])
        .await
        .unwrap();
    let mut long = chunk("c/1", 2, "svc");
    long.labels.insert("pod".into(), "x".repeat(100));
    let acks = send(
        &server,
        vec![chunk("c/1", 1, ""), long, chunk("c/1", 3, "svc")],
    )
    .await;
    assert!(acks[0].error.contains("no service"), "{:?}", acks[0].error);
    assert!(
        acks[1].error.contains("max_label_value_bytes"),
        "{:?}",
        acks[1].error
    );
    assert!(acks[2].error.is_empty() && !acks[2].duplicate);
    let stored = server
        .sql_i64("SELECT count(*) FROM metrics WHERE name = 'seen'")
        .await
        .unwrap();
    assert_eq!(stored, 1, "only the good chunk is stored");
}
