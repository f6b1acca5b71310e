//! [`TestServer`]: the real `flarego` binary, on a random port.

use anyhow::{Context, bail};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the `flarego` binary: `$FLAREGO_BIN`, else next to the test
/// executable's `deps/` folder (what `cargo build --bin flarego` makes).
pub fn flarego_bin() -> anyhow::Result<PathBuf> {
    if let Ok(p) = std::env::var("FLAREGO_BIN") {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let dir = exe
        .parent()
        .and_then(|d| {
            if d.ends_with("deps") {
                d.parent()
            } else {
                Some(d)
            }
        })
        .context("test executable has no parent directory")?;
    let bin = dir.join("flarego");
    if !bin.exists() {
        bail!(
            "{} not found: build it first with `cargo build --bin flarego` (scripts/test.sh does), or set FLAREGO_BIN",
            bin.display()
        );
    }
    Ok(bin)
}

/// A running `flarego server`, killed on drop.
pub struct TestServer {
    child: Option<Child>,
    pub url: String,
    /// `http://ADDR` of the gRPC listener (agents).
    pub grpc_url: String,
    /// Addresses to bind: port 0 at first, then the ports first bound, so
    /// a restarted server is found where clients left it.
    http_bind: String,
    grpc_bind: String,
    pub data_dir: PathBuf,
    extra: Vec<String>,
    log: PathBuf,
    client: reqwest::Client,
    /// For an https server: curl arguments that reach it (`--cacert …`).
    curl_tls: Vec<String>,
    /// Open-file limit of the process (`prlimit --nofile`), when set.
    nofile: Option<u64>,
    /// Environment variables of the process (object-store credentials).
    env: Vec<(String, String)>,
}

impl TestServer {
    /// Starts a server over `data_dir` with extra flags.
    pub async fn start(data_dir: &Path, extra: &[&str]) -> anyhow::Result<TestServer> {
        Self::start_tls(data_dir, extra, &[]).await
    }

    /// Starts a server with extra flags and environment variables.
    pub async fn start_with_env(
        data_dir: &Path,
        extra: &[&str],
        env: &[(String, String)],
    ) -> anyhow::Result<TestServer> {
        Self::launch(data_dir, extra, &[], None, env).await
    }

    /// Starts a server with TLS flags among `extra`; `curl_tls` are the
    /// curl arguments (`--cacert CA`, client certificate) that reach it
    /// (empty for plain HTTP).
    pub async fn start_tls(
        data_dir: &Path,
        extra: &[&str],
        curl_tls: &[&str],
    ) -> anyhow::Result<TestServer> {
        Self::launch(data_dir, extra, curl_tls, None, &[]).await
    }

    /// Starts a server whose process may open at most `nofile` files
    /// (sockets included), through util-linux's `prlimit`.
    pub async fn start_with_nofile(
        data_dir: &Path,
        extra: &[&str],
        curl_tls: &[&str],
        nofile: u64,
    ) -> anyhow::Result<TestServer> {
        Self::launch(data_dir, extra, curl_tls, Some(nofile), &[]).await
    }

    async fn launch(
        data_dir: &Path,
        extra: &[&str],
        curl_tls: &[&str],
        nofile: Option<u64>,
        env: &[(String, String)],
    ) -> anyhow::Result<TestServer> {
        let mut s = TestServer {
            env: env.to_vec(),
            child: None,
            url: String::new(),
            grpc_url: String::new(),
            http_bind: "127.0.0.1:0".into(),
            grpc_bind: "127.0.0.1:0".into(),
            data_dir: data_dir.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            log: data_dir.with_extension("log"),
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()?,
            curl_tls: curl_tls.iter().map(|s| s.to_string()).collect(),
            nofile,
        };
        s.spawn().await?;
        Ok(s)
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// One value of `/metrics` (0 when absent).
    pub async fn metric(&self, name: &str) -> anyhow::Result<f64> {
        let text = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await?
            .text()
            .await?;
        Ok(text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0))
    }

    /// `curl` to `path` with the server's TLS arguments and `args`;
    /// returns (curl's exit code, HTTP status or 0, body).
    pub fn curl(&self, path: &str, args: &[&str]) -> anyhow::Result<(i32, u16, String)> {
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "-w", "\n%{http_code}"])
            .args(&self.curl_tls)
            .args(args)
            .arg(format!("{}{}", self.url, path))
            .output()
            .context("running curl (apt-get install curl)")?;
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", text.as_str()));
        Ok((
            out.status.code().unwrap_or(-1),
            code.trim().parse().unwrap_or(0),
            format!("{body}{}", String::from_utf8_lossy(&out.stderr)),
        ))
    }

    async fn spawn(&mut self) -> anyhow::Result<()> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut cmd = match self.nofile {
            Some(n) => {
                let mut c = Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}"))
                    .arg("--")
                    .arg(flarego_bin()?);
                c
            }
            None => Command::new(flarego_bin()?),
        };
        let mut child = cmd
            .arg("server")
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args([
                "--http-addr",
                &self.http_bind,
                "--grpc-addr",
                &self.grpc_bind,
            ])
            .arg("--print-addr")
            .args(&self.extra)
            .env("FLAREGO_LOG", "info")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting flarego server")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = BufReader::new(stdout);
            let (mut http, mut grpc) = (String::new(), String::new());
            let _ = out.read_line(&mut http);
            let _ = out.read_line(&mut grpc);
            let _ = tx.send((http, grpc));
        });
        self.child = Some(child);
        let (line, grpc_line) = rx.recv_timeout(Duration::from_secs(30)).with_context(|| {
            format!(
                "server printed no address in 30 s; log: {}",
                self.log.display()
            )
        })?;
        let addr = line.trim().strip_prefix("listening on ").with_context(|| {
            format!(
                "unexpected first line {line:?}; log: {}",
                self.log.display()
            )
        })?;
        self.url = addr.to_string();
        self.grpc_url = grpc_line
            .trim()
            .strip_prefix("grpc on ")
            .with_context(|| format!("unexpected second line {grpc_line:?}"))?
            .to_string();
        let host = |u: &str| {
            u.split_once("://")
                .map_or(u.to_string(), |(_, h)| h.to_string())
        };
        self.http_bind = host(&self.url);
        self.grpc_bind = host(&self.grpc_url);
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if self.url.starts_with("https://") {
                if self
                    .curl("/ready", &[])
                    .is_ok_and(|(_, status, _)| status == 200)
                {
                    return Ok(());
                }
            } else if let Ok(r) = self.client.get(format!("{}/ready", self.url)).send().await
                && r.status().is_success()
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("server not ready after 60 s; log: {}", self.log.display());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits up to `limit` for the process to exit by itself; its status.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Some(status);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// `kill -9` the process.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Kills (if running) and starts again over the same data, on the
    /// same ports.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.kill9();
        self.spawn().await
    }

    /// Starts again after [`TestServer::kill9`].
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        self.spawn().await
    }

    /// Path of the server's log file.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// Runs SQL; returns the JSON answer or the error body.
    pub async fn sql_raw(&self, sql: &str) -> anyhow::Result<(u16, Value)> {
        let r = self
            .client
            .post(format!("{}/api/v1/query", self.url))
            .json(&json!({"sql": sql}))
            .send()
            .await?;
        let status = r.status().as_u16();
        Ok((status, r.json().await?))
    }

    /// Runs SQL and returns its rows; fails on an error answer.
    pub async fn sql(&self, sql: &str) -> anyhow::Result<Vec<Vec<Value>>> {
        let (status, v) = self.sql_raw(sql).await?;
        if status != 200 {
            bail!("query {sql:?} failed with {status}: {v}");
        }
        Ok(v["rows"]
            .as_array()
            .context("no rows")?
            .iter()
            .map(|r| r.as_array().cloned().unwrap_or_default())
            .collect())
    }

    /// A single integer answer (`NULL` counts as 0).
    pub async fn sql_i64(&self, sql: &str) -> anyhow::Result<i64> {
        let rows = self.sql(sql).await?;
        Ok(rows
            .first()
            .and_then(|r| r.first())
            .and_then(Value::as_i64)
            .unwrap_or(0))
    }

    /// POSTs `body` to `path` (with query string); returns status and body text.
    pub async fn post(
        &self,
        path_and_query: &str,
        body: Vec<u8>,
        headers: &[(&str, &str)],
    ) -> anyhow::Result<(u16, String)> {
        let mut req = self
            .client
            .post(format!("{}{}", self.url, path_and_query))
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        Ok((status, r.text().await?))
    }

    /// Writes folded stacks for `service` over the 10 s from `at` (Unix
    /// seconds), 10 ms per sample, as `tenant` (or the default); fails
    /// unless acknowledged.
    pub async fn ingest_folded(
        &self,
        service: &str,
        at: i64,
        folded: &str,
        tenant: Option<&str>,
    ) -> anyhow::Result<()> {
        let headers: Vec<(&str, &str)> = tenant.map(|t| ("X-Scope-OrgID", t)).into_iter().collect();
        let (status, body) = self
            .post(
                &format!(
                    "/ingest?name={service}.cpu&format=folded&from={at}&until={}&sampleRate=100",
                    at + 10
                ),
                folded.as_bytes().to_vec(),
                &headers,
            )
            .await?;
        if status != 200 {
            bail!("ingest answered {status}: {body}");
        }
        Ok(())
    }

    pub async fn flush(&self) -> anyhow::Result<Value> {
        let r = self
            .client
            .post(format!("{}/api/v1/admin/flush", self.url))
            .send()
            .await?;
        if !r.status().is_success() {
            bail!("flush failed: {}", r.status());
        }
        Ok(r.json().await?)
    }

    /// The `/ready` document.
    pub async fn ready_json(&self) -> anyhow::Result<Value> {
        Ok(self
            .client
            .get(format!("{}/ready", self.url))
            .send()
            .await?
            .json()
            .await?)
    }

    pub async fn healthy(&self) -> bool {
        matches!(self.client.get(format!("{}/health", self.url)).send().await, Ok(r) if r.status().is_success())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A server (query rate limit off) holding the Go workload's profiles
/// (`tests/go/profgen`: cpu, heap, goroutine, block, mutex), each as
/// series `profgen.<kind>{instance=<kind>}`; returns it and the folder
/// of the `.pb.gz` files.
pub async fn start_with_profgen(tmp: &Path) -> (TestServer, PathBuf) {
    let out = crate::gotool::profgen_profiles(tmp).expect("the Go workload's profiles");
    let s = TestServer::start(&tmp.join("data"), &["--queries-per-sec", "0"])
        .await
        .expect("server");
    for kind in ["cpu", "heap", "goroutine", "block", "mutex"] {
        let body = std::fs::read(out.join(format!("{kind}.pb.gz"))).expect("profile file");
        let (st, msg) = s
            .post(
                &format!("/ingest?name=profgen.{kind}%7Binstance%3D{kind}%7D&format=pprof"),
                body,
                &[],
            )
            .await
            .expect("ingest");
        assert_eq!(st, 200, "{kind}: {msg}");
    }
    (s, out)
}
