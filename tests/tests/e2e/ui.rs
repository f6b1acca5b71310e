//! The web UI: served by the binary (page, assets, caching headers,
//! `--ui-dir`), and driven in a real headless Chromium by the suites of
//! `ui/e2e/` against a server loaded by the Go test service.

use flarego_ingest::auth::Role;
use flarego_tests::auth::{Keys, SECRET, claims, hs256, now};
use flarego_tests::goservice::GoService;
use flarego_tests::repo_root;
use flarego_tests::server::{TestServer, flarego_bin};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs `node ui/e2e/run.mjs SUITE` against `url`; fails with its output.
fn run_suite(suite: &str, url: &str, out: &Path, env: &[(&str, String)]) {
    let ui = repo_root().join("ui");
    assert!(
        ui.join("node_modules/playwright-core").exists(),
        "ui/node_modules is missing: run scripts/test.sh, or `cd ui && npm ci`"
    );
    let output = Command::new("node")
        .arg("e2e/run.mjs")
        .arg(suite)
        .current_dir(&ui)
        .env("FLAREGO_URL", url)
        .env("FLAREGO_E2E_OUT", out)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .output()
        .expect("node did not start: install Node.js 20 (apt-get install nodejs) and run scripts/test.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success(),
        "browser suite {suite} failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

/// Where a suite leaves its screenshots of failures (kept after the run).
fn out_dir(suite: &str) -> std::path::PathBuf {
    repo_root().join("target/ui-e2e").join(suite)
}

async fn ingest_folded(s: &TestServer, service: &str, from: u64, body: &str) {
    let url = format!(
        "{}/ingest?name={service}.cpu&format=folded&from={from}&until={}",
        s.url,
        from + 10
    );
    let res = s
        .client()
        .post(url)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(
        res.status().is_success(),
        "ingest: {}",
        res.text().await.unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_with_caching_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &[])
        .await
        .unwrap();
    let page = s.client().get(format!("{}/", s.url)).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let h = page.headers().clone();
    assert_eq!(h["cache-control"], "no-cache");
    assert!(h["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    let html = page.text().await.unwrap();
    let built = std::fs::read_to_string(repo_root().join("ui/dist/index.html")).unwrap();
    assert_eq!(html, built, "the binary serves the committed bundle");

    let js = s
        .client()
        .get(format!("{}/assets/app.js", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    let etag = js.headers()["etag"].to_str().unwrap().to_string();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let body = js.bytes().await.unwrap();
    assert_eq!(
        body.as_ref(),
        std::fs::read(repo_root().join("ui/dist/app.js")).unwrap()
    );
    let again = s
        .client()
        .get(format!("{}/assets/app.js", s.url))
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "an unchanged asset revalidates to 304");
    let missing = s
        .client()
        .get(format!("{}/assets/nope.js", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    drop(s);

    // --ui-dir: served from disk, read on every request
    let dir = tmp.path().join("dist");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["index.html", "app.js", "app.css"] {
        std::fs::write(dir.join(f), format!("dev {f}")).unwrap();
    }
    let s = TestServer::start(
        &tmp.path().join("data2"),
        &["--ui-dir", dir.to_str().unwrap()],
    )
    .await
    .unwrap();
    let get = |p: &'static str| {
        let c = s.client().clone();
        let u = format!("{}{p}", s.url);
        async move { c.get(u).send().await.unwrap().text().await.unwrap() }
    };
    assert_eq!(get("/").await, "dev index.html");
    std::fs::write(dir.join("app.js"), "changed").unwrap();
    assert_eq!(get("/assets/app.js").await, "changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_in_a_real_browser() {
    let tmp = tempfile::tempdir().unwrap();
    let go = GoService::start(tmp.path()).unwrap();
    // A rule the agent's goroutines fire, for the metrics view's alerts.
    let rules = tmp.path().join("rules.toml");
    std::fs::write(
        &rules,
        "[[rule]]\nname = \"waiting-goroutines\"\nexpr = 'goroutines(state = \"chan receive\") > 20'\nevery = \"1s\"\nwindow = \"1h\"\n",
    )
    .unwrap();
    let rules = rules.display().to_string();
    let s = TestServer::start(&tmp.path().join("data"), &["--alert-rules", &rules])
        .await
        .unwrap();
    let log = std::fs::File::create(tmp.path().join("agent.log")).unwrap();
    let agent = Command::new(flarego_bin().unwrap())
        .args(["agent", "--server", &s.grpc_url, "--service", "shop"])
        .args(["--pprof-url", &go.url, "--pid", &go.pid().to_string()])
        .args(["--window", "2s", "--windows", "3"])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .status()
        .unwrap();
    assert!(
        agent.success(),
        "agent failed: see {}",
        tmp.path().join("agent.log").display()
    );
    let goroutines =
        "SELECT count(*) FROM profiles WHERE service = 'shop' AND profile_type = 'goroutine'";
    assert!(
        s.sql_i64(goroutines).await.unwrap() > 0,
        "the agent stored goroutine profiles"
    );

    // A diff of known shape: main.grows 4x in the comparison range.
    let t = now();
    let (base, comp) = (t - 40 * 60, t - 20 * 60);
    ingest_folded(
        &s,
        "diffsvc",
        base,
        "main.main;main.steady 100\nmain.main;main.grows 100\n",
    )
    .await;
    ingest_folded(
        &s,
        "diffsvc",
        comp,
        "main.main;main.steady 100\nmain.main;main.grows 400\n",
    )
    .await;

    let env = [
        ("FLAREGO_SERVICE", "shop".to_string()),
        ("FLAREGO_DIFF_SERVICE", "diffsvc".to_string()),
        ("FLAREGO_BASE_FROM", (base - 60).to_string()),
        ("FLAREGO_BASE_TO", (base + 120).to_string()),
        ("FLAREGO_COMP_FROM", (comp - 60).to_string()),
        ("FLAREGO_COMP_TO", (comp + 120).to_string()),
        (
            "FLAREGO_SCREENSHOTS",
            std::env::var("FLAREGO_SCREENSHOTS").unwrap_or_default(),
        ),
    ];
    tokio::time::sleep(Duration::from_millis(100)).await;
    run_suite("main", &s.url, &out_dir("main"), &env);
    drop(go);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_says_when_live_mode_fell_behind() {
    let tmp = tempfile::tempdir().unwrap();
    let s = TestServer::start(&tmp.path().join("data"), &["--live-buffer-bytes", "1"])
        .await
        .unwrap();
    run_suite("behind", &s.url, &out_dir("behind"), &[]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_asks_for_a_token_with_auth_on() {
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    let flags = keys.hs256_server_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = TestServer::start(&tmp.path().join("data"), &flags)
        .await
        .unwrap();
    let good = hs256(&claims("acme", Role::Reader), SECRET.as_bytes()).unwrap();
    let mut old = claims("acme", Role::Reader);
    old.exp = now() - 3600;
    let expired = hs256(&old, SECRET.as_bytes()).unwrap();
    run_suite(
        "auth",
        &s.url,
        &out_dir("auth"),
        &[("FLAREGO_TOKEN", good), ("FLAREGO_EXPIRED_TOKEN", expired)],
    );
}
