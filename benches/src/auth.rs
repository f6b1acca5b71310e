//! What authentication costs a request: the same small query
//! (`SELECT 1`) and the same small ingest (one folded line) against a
//! server with auth off, with HS256 tokens and with RS256 tokens. Rate
//! limits are off, so only verification differs.

use crate::procs::spawn_server;
use flarego_ingest::auth::Role;
use flarego_tests::auth::{Keys, SECRET, claims, hs256, rs256};
use jsonwebtoken::Algorithm;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

async fn load(url: &str, token: Option<String>, ingest: bool, clients: usize, seconds: u64) -> f64 {
    let client = reqwest::Client::new();
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (client, done, token) = (client.clone(), done.clone(), token.clone());
            let url = url.to_string();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    let mut req = if ingest {
                        client
                            .post(format!("{url}/ingest?name=bench.cpu&sampleRate=100"))
                            .body("main;handler;work 1")
                    } else {
                        client
                            .post(format!("{url}/api/v1/query"))
                            .json(&serde_json::json!({"sql": "SELECT 1"}))
                    };
                    if let Some(t) = &token {
                        req = req.bearer_auth(t);
                    }
                    match req.send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => panic!("request failed: {}", r.status()),
                        Err(e) => panic!("request failed: {e}"),
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        let _ = t.await;
    }
    done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64()
}

pub async fn run(seconds: u64, clients: usize) -> anyhow::Result<()> {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path();
    let keys = Keys::create(dir)?;
    let private_pem = keys.rsa_private_pem()?;
    let token = |alg: Algorithm, role: Role| -> anyhow::Result<String> {
        let c = claims("bench", role);
        match alg {
            Algorithm::RS256 => rs256(&c, &private_pem),
            _ => hs256(&c, SECRET.as_bytes()),
        }
    };
    let no_limits = [
        "--queries-per-sec",
        "0",
        "--ingest-requests-per-sec",
        "0",
        "--token-requests-per-sec",
        "0",
        "--max-concurrent-queries",
        "0",
        "--ingest-bytes-per-sec",
        "0",
    ];
    let secret_file = keys.secret_file().to_string_lossy().into_owned();
    let public_file = keys.public_key_file().to_string_lossy().into_owned();
    let mut jwt_args: Vec<&str> = vec!["--auth", "jwt", "--jwt-hs256-secret-file", &secret_file];
    jwt_args.extend_from_slice(&["--jwt-public-key", &public_file]);
    jwt_args.extend_from_slice(&no_limits);

    let (mut open, open_url, _) = spawn_server(&dir.join("open"), &no_limits)?;
    let (mut jwt, jwt_url, _) = spawn_server(&dir.join("jwt"), &jwt_args)?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let configs = [
        ("auth off", open_url.clone(), None, None),
        (
            "JWT HS256",
            jwt_url.clone(),
            Some(token(Algorithm::HS256, Role::Reader)?),
            Some(token(Algorithm::HS256, Role::Agent)?),
        ),
        (
            "JWT RS256",
            jwt_url.clone(),
            Some(token(Algorithm::RS256, Role::Reader)?),
            Some(token(Algorithm::RS256, Role::Agent)?),
        ),
    ];
    println!(
        "| server | queries/s (`SELECT 1`) | vs auth off | ingests/s (one folded line) | vs auth off |"
    );
    println!("|---|---|---|---|---|");
    let (mut base_q, mut base_i) = (0.0, 0.0);
    for (name, url, reader, agent) in configs {
        load(&url, reader.clone(), false, clients, 2).await; // warm up
        let q = load(&url, reader, false, clients, seconds).await;
        let i = load(&url, agent, true, clients, seconds).await;
        if base_q == 0.0 {
            (base_q, base_i) = (q, i);
        }
        println!(
            "| {name} | {q:.0} | {:+.1}% | {i:.0} | {:+.1}% |",
            (q / base_q - 1.0) * 100.0,
            (i / base_i - 1.0) * 100.0
        );
    }
    let _ = open.kill();
    let _ = jwt.kill();
    let _ = open.wait();
    let _ = jwt.wait();
    println!("\n{seconds} s per measurement, {clients} keep-alive clients, rate limits off.");
    Ok(())
}
