//! Alerts on real data: the Go test service's parked goroutines and CPU
//! hot spot through the agent, rules firing and resolving, sinks against
//! local receivers (Slack's and Jira's payload shapes, a flaky and a hung
//! webhook), state across `kill -9`, and bad rules refused.

use flarego_tests::goservice::GoService;
use flarego_tests::receiver::{Received, Receiver};
use flarego_tests::server::{TestServer, flarego_bin};
use hmac::{Hmac, Mac};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn now_secs() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs `flarego agent` against the Go service until dropped.
struct Agent(Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn agent(s: &TestServer, go: &GoService, log: &std::path::Path) -> Agent {
    let log = std::fs::File::create(log).unwrap();
    Agent(
        Command::new(flarego_bin().unwrap())
            .args(["agent", "--server", &s.grpc_url, "--service", "shop"])
            .args(["--pprof-url", &go.url, "--window", "2s"])
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap(),
    )
}

/// Notifications a receiver accepted, by state.
fn states(got: &[Received]) -> Vec<String> {
    got.iter()
        .map(|r| r.json()["state"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn get_json(s: &TestServer, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = s.client().get(format!("{}{path}", s.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goroutine_and_cpu_rules_fire_resolve_and_survive_kill_9() {
    let tmp = tempfile::tempdir().unwrap();
    let go = GoService::start(tmp.path()).unwrap();
    let hook = Receiver::start(|_, _| Some((200, "{}".into()))).await;
    let rules = tmp.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            r#"
[[rule]]
name = "waiting-goroutines"
expr = 'goroutines(state = "chan receive", frame =~ "main\\..*") > 20'
every = "1s"
for = "4s"
window = "6s"
labels = {{ team = "payments" }}
summary = "{{{{ $value }}}} goroutines waiting in chan receive on {{{{ $labels.service }}}}"
sinks = ["hook", "log"]

[[rule]]
name = "spin-hot-spot"
expr = 'share(cpu, frame = "main.spin") > 50% and share(cpu, frame = "main.nothing") < 1%'
every = "1s"
window = "6s"
sinks = ["hook"]

[[rule]]
name = "absent-function"
expr = 'share(cpu, frame =~ "main\\.nothing.*") > 1%'
every = "1s"
window = "6s"
sinks = ["hook"]

[[sink]]
name = "hook"
type = "webhook"
url = "{}/alerts"
secret = "s3cret"
backoff = "100ms"
"#,
            hook.url
        ),
    )
    .unwrap();
    let rules_arg = rules.display().to_string();
    let data = tmp.path().join("data");
    let mut s = TestServer::start(&data, &["--window", "2s", "--alert-rules", &rules_arg])
        .await
        .unwrap();
    let _agent = agent(&s, &go, &tmp.path().join("agent.log"));

    // 25 goroutines wait in main.waitOnChan: firing after `for`.
    let firing = |got: &[Received], rule: &str| {
        got.iter()
            .filter(|r| r.json()["rule"] == rule && r.json()["state"] == "firing")
            .count()
    };
    let got = hook
        .wait_for(Duration::from_secs(90), "both rules firing", |g| {
            firing(g, "waiting-goroutines") >= 1 && firing(g, "spin-hot-spot") >= 1
        })
        .await;
    let n = got
        .iter()
        .find(|r| r.json()["rule"] == "waiting-goroutines")
        .unwrap();
    let body = n.json();
    assert_eq!(body["state"], "firing");
    assert_eq!(body["value"], 25.0, "{body}");
    assert_eq!(body["labels"]["service"], "shop");
    assert_eq!(body["labels"]["team"], "payments");
    assert_eq!(
        body["summary"],
        "25 goroutines waiting in chan receive on shop"
    );
    assert_eq!(body["ends_at"], Value::Null);
    for key in ["starts_at", "fingerprint", "id"] {
        assert!(
            body[key].as_str().is_some_and(|v| !v.is_empty()),
            "{key}: {body}"
        );
    }
    // The signature is HMAC-SHA256 of the body under the shared secret.
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"s3cret").unwrap();
    mac.update(&n.body);
    let want: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(
        n.header("x-flarego-signature"),
        Some(format!("sha256={want}").as_str())
    );
    let spin = got
        .iter()
        .find(|r| r.json()["rule"] == "spin-hot-spot")
        .unwrap();
    assert!(
        spin.json()["value"].as_f64().unwrap() > 0.5,
        "{}",
        spin.json()
    );
    assert!(
        !got.iter().any(|r| r.json()["rule"] == "absent-function"),
        "a function that never runs does not fire"
    );

    // `for` held: pending at least 4 s before firing.
    let rows = s
        .sql("SELECT state, CAST(time AS BIGINT) AS t FROM alerts WHERE rule = 'waiting-goroutines' ORDER BY time")
        .await
        .unwrap();
    assert_eq!(rows[0][0], "pending", "{rows:?}");
    assert_eq!(rows[1][0], "firing", "{rows:?}");
    let held = rows[1][1].as_i64().unwrap() - rows[0][1].as_i64().unwrap();
    assert!(
        held >= 4_000_000_000,
        "fired {held} ns after pending, before `for`"
    );

    // kill -9: the firing instance is remembered, not notified again.
    s.kill9();
    s.start_again().await.unwrap();
    let (_, alerts) = get_json(&s, "/api/v1/alerts", &[]).await;
    let live = alerts["alerts"].as_array().unwrap();
    assert!(
        live.iter()
            .any(|a| a["rule"] == "waiting-goroutines" && a["state"] == "firing"),
        "{alerts}"
    );
    tokio::time::sleep(Duration::from_secs(6)).await;
    let got = hook.received();
    assert_eq!(
        firing(&got, "waiting-goroutines"),
        1,
        "no second notification after the restart"
    );
    assert!(s.metric("flarego_alert_evaluations_total").await.unwrap() >= 5.0);

    // Released goroutines: the rule resolves, once.
    let released = reqwest::get(format!("{}/release", go.url)).await.unwrap();
    assert!(released.status().is_success());
    let resolved = |g: &[Received]| {
        g.iter()
            .filter(|r| r.json()["rule"] == "waiting-goroutines" && r.json()["state"] == "resolved")
            .count()
    };
    let got = hook
        .wait_for(Duration::from_secs(30), "the waiting rule resolved", |g| {
            resolved(g) >= 1
        })
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got_later = hook.received();
    assert_eq!(resolved(&got_later), 1);
    assert_eq!(firing(&got_later, "waiting-goroutines"), 1);
    let r = got
        .iter()
        .rev()
        .find(|r| r.json()["state"] == "resolved")
        .unwrap()
        .json();
    assert!(r["ends_at"].as_str().is_some(), "{r}");
    let ids: BTreeSet<String> = got_later
        .iter()
        .map(|r| {
            r.header("x-flarego-notification-id")
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(
        ids.len(),
        got_later.len(),
        "every notification arrived once"
    );
    let history: Vec<String> = s
        .sql("SELECT state FROM alerts WHERE rule = 'waiting-goroutines' ORDER BY time")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r[0].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(history, ["pending", "firing", "resolved"]);
    assert!(
        states(&got_later)
            .iter()
            .all(|s| s == "firing" || s == "resolved"),
        "{:?}",
        states(&got_later)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sinks_deliver_once_with_retries_and_a_hung_sink_delays_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let slack = Receiver::start(|_, _| Some((200, "ok".into()))).await;
    let jira = Receiver::start(|r, _| {
        Some(if r.path == "/rest/api/2/issue" {
            (201, r#"{"id":"10001","key":"OPS-7","self":"x"}"#.into())
        } else if r.path.ends_with("/comment") {
            (201, r#"{"id":"1"}"#.into())
        } else {
            (204, String::new())
        })
    })
    .await;
    // Fails twice, then works.
    let flaky = Receiver::start(|_, n| {
        Some(if n < 2 {
            (503, "busy".into())
        } else {
            (200, "{}".into())
        })
    })
    .await;
    let hung = Receiver::start(|_, _| None).await;
    let rules = tmp.path().join("rules.toml");
    std::fs::write(
        &rules,
        format!(
            r#"
[[rule]]
name = "sinktest-busy"
sql = "SELECT service, sum(value) AS value FROM profiles WHERE service = 'sinktest' AND time >= now() - INTERVAL '6 seconds' GROUP BY service"
every = "1s"
summary = "{{{{ $labels.service }}}} is busy: {{{{ $value }}}}"
sinks = ["slack", "jira", "flaky", "hung"]

[[sink]]
name = "slack"
type = "slack"
url = "{}/services/T0/B0/x"

[[sink]]
name = "jira"
type = "jira"
url = "{}"
project = "OPS"
issue_type = "Bug"
user = "bot@example.com"
api_token = "tok"
on_resolve = "both"
transition = "31"

[[sink]]
name = "flaky"
type = "webhook"
url = "{}/hook"
backoff = "200ms"
attempts = 5

[[sink]]
name = "hung"
type = "webhook"
url = "{}/hook"
timeout = "500ms"
attempts = 2
backoff = "100ms"
"#,
            slack.url, jira.url, flaky.url, hung.url
        ),
    )
    .unwrap();
    let rules_arg = rules.display().to_string();
    let data = tmp.path().join("data");
    let s = TestServer::start(&data, &["--window", "2s", "--alert-rules", &rules_arg])
        .await
        .unwrap();
    s.ingest_folded("sinktest", now_secs(), "main.main;main.work 30\n", None)
        .await
        .unwrap();

    // Firing, then resolved once the write is older than 6 s.
    let got = slack
        .wait_for(Duration::from_secs(40), "slack: firing and resolved", |g| {
            g.len() >= 2
        })
        .await;
    for (r, want) in got
        .iter()
        .zip(["[FIRING] sinktest-busy", "[RESOLVED] sinktest-busy"])
    {
        let p = r.json();
        assert_eq!(r.path, "/services/T0/B0/x");
        assert_eq!(r.header("content-type"), Some("application/json"));
        assert!(p["text"].as_str().unwrap().starts_with(want), "{p}");
        let blocks = p["blocks"].as_array().unwrap();
        assert_eq!(blocks[0]["type"], "header");
        assert_eq!(blocks[0]["text"]["type"], "plain_text");
        assert_eq!(blocks[0]["text"]["text"], want);
        assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
        assert_eq!(blocks[1]["type"], "section");
        assert_eq!(blocks[1]["text"]["type"], "mrkdwn");
        assert_eq!(
            blocks[1]["text"]["text"], "sinktest is busy: 300000000",
            "30 samples of 10 ms"
        );
        let fields = blocks[2]["fields"].as_array().unwrap();
        assert!(fields.len() <= 10 && fields.iter().all(|f| f["type"] == "mrkdwn"));
        assert!(
            fields.iter().any(|f| f["text"] == "*service*\nsinktest"),
            "{p}"
        );
        assert_eq!(blocks.last().unwrap()["type"], "context");
    }
    // Jira: one issue created, commented and transitioned on resolve.
    let got = jira
        .wait_for(
            Duration::from_secs(20),
            "jira: create, comment, transition",
            |g| g.len() >= 3,
        )
        .await;
    let paths: Vec<&str> = got.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/rest/api/2/issue",
            "/rest/api/2/issue/OPS-7/comment",
            "/rest/api/2/issue/OPS-7/transitions"
        ]
    );
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            "bot@example.com:tok"
        )
    );
    assert!(
        got.iter()
            .all(|r| r.header("authorization") == Some(basic.as_str()))
    );
    let create = got[0].json();
    assert_eq!(create["fields"]["project"]["key"], "OPS");
    assert_eq!(create["fields"]["issuetype"]["name"], "Bug");
    assert!(
        create["fields"]["summary"]
            .as_str()
            .unwrap()
            .contains("sinktest is busy")
    );
    assert!(
        create["fields"]["description"]
            .as_str()
            .unwrap()
            .contains("Rule: sinktest-busy")
    );
    assert!(
        got[1].json()["body"]
            .as_str()
            .unwrap()
            .starts_with("Resolved at ")
    );
    assert_eq!(got[2].json()["transition"]["id"], "31");
    // The flaky hook: two failures retried with backoff, then each
    // notification accepted exactly once.
    let got = flaky
        .wait_for(
            Duration::from_secs(20),
            "flaky: 2 failures, 2 deliveries",
            |g| g.len() >= 4,
        )
        .await;
    let first_id = got[0].header("x-flarego-notification-id").unwrap();
    assert!(
        got[..3]
            .iter()
            .all(|r| r.header("x-flarego-notification-id") == Some(first_id))
    );
    for w in got[..3].windows(2) {
        let gap = w[1].at - w[0].at;
        assert!(
            gap >= Duration::from_millis(100),
            "retried after {gap:?}, before the backoff"
        );
    }
    let accepted: Vec<String> = got[2..]
        .iter()
        .map(|r| r.json()["state"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(accepted, ["firing", "resolved"]);
    // The hung hook never answered: dead-lettered after 2 attempts each,
    // and meanwhile the others were served at once.
    let hung_got = hung.received();
    assert!(!hung_got.is_empty());
    let slack_first = slack.received()[0].at;
    assert!(
        slack_first < hung_got[0].at + Duration::from_millis(500),
        "slack waited for the hung sink"
    );
    let dead = data.join("alerts/dead-letter.jsonl");
    let records: Vec<Value> = loop {
        let text = std::fs::read_to_string(&dead).unwrap_or_default();
        let r: Vec<Value> = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        if r.len() >= 2 {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(
        records
            .iter()
            .all(|r| r["sink"] == "hung" && r["attempts"] == 2),
        "{records:?}"
    );
    assert!(records[0]["error"].as_str().unwrap().contains("timeout"));
    assert_eq!(records[0]["notification"]["state"], "firing");
    assert!(
        s.metric("flarego_alert_notifications_dead_total")
            .await
            .unwrap()
            >= 2.0
    );
    assert!(
        s.metric("flarego_alert_notifications_retried_total")
            .await
            .unwrap()
            >= 4.0
    );
    // Two notifications, each delivered by slack, jira and the flaky hook.
    assert_eq!(
        s.metric("flarego_alert_notifications_sent_total")
            .await
            .unwrap(),
        6.0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rules_are_refused_and_the_old_ones_keep_running() {
    let tmp = tempfile::tempdir().unwrap();
    let rules = tmp.path().join("rules.toml");
    let good = r#"
[[rule]]
name = "heap"
expr = 'go_heap_inuse_bytes{service="api"} > 512MiB'
every = "1s"

[[rule]]
name = "breaks-at-run-time"
sql = "SELECT service, CAST(service AS INT) AS value FROM profiles"
every = "1s"
"#;
    let bad = "[[rule]]\nname = \"typo\"\nexpr = 'goroutines(state = \"chan receive\") >> 20'\n";

    // At start: refused, naming the rule, line and reason.
    std::fs::write(&rules, bad).unwrap();
    let out = Command::new(flarego_bin().unwrap())
        .args(["server", "--data-dir"])
        .arg(tmp.path().join("refused"))
        .args([
            "--http-addr",
            "127.0.0.1:0",
            "--grpc-addr",
            "127.0.0.1:0",
            "--alert-rules",
        ])
        .arg(&rules)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(
            "rule \"typo\", line 3: expr column 37: expected a number, a metric or a function"
        ),
        "{err}"
    );
    // `flarego alerts check` says the same, and prints SQL for good files.
    let check = |path: &std::path::Path| {
        Command::new(flarego_bin().unwrap())
            .args(["alerts", "check"])
            .arg(path)
            .output()
            .unwrap()
    };
    let out = check(&rules);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("rule \"typo\", line 3"));
    std::fs::write(&rules, good).unwrap();
    let out = check(&rules);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("query 1: SELECT \"service\", \"instance\", v AS value FROM"),
        "{text}"
    );
    assert!(text.contains("name = 'go_heap_inuse_bytes'"), "{text}");

    let rules_arg = rules.display().to_string();
    let s = TestServer::start(&tmp.path().join("data"), &["--alert-rules", &rules_arg])
        .await
        .unwrap();
    s.ingest_folded("api", now_secs(), "main.main 1\n", None)
        .await
        .unwrap();
    let names = |v: &Value| -> Vec<String> {
        v["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .collect()
    };
    // A failing rule is reported; the others keep running.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let rules_now = loop {
        let (_, v) = get_json(&s, "/api/v1/alerts/rules", &[]).await;
        let broken = v["rules"][1]["health"]["last_error"].as_str().is_some();
        if broken || std::time::Instant::now() > deadline {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(
        rules_now["rules"][1]["health"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("Cast") || e.contains("cast")),
        "{rules_now}"
    );
    assert_eq!(rules_now["rules"][0]["health"]["last_error"], Value::Null);
    assert!(
        s.metric("flarego_alert_evaluation_failures_total")
            .await
            .unwrap()
            >= 1.0
    );

    // A bad file on change and on SIGHUP: refused, old rules kept.
    std::fs::write(&rules, bad).unwrap();
    let wait_metric = |name: &'static str, at_least: f64| {
        let s = &s;
        async move {
            for _ in 0..100 {
                if s.metric(name).await.unwrap() >= at_least {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("{name} never reached {at_least}");
        }
    };
    wait_metric("flarego_alert_reload_failures_total", 1.0).await;
    unsafe {
        libc::kill(s.pid().unwrap() as i32, libc::SIGHUP);
    }
    wait_metric("flarego_alert_reload_failures_total", 2.0).await;
    let (_, v) = get_json(&s, "/api/v1/alerts/rules", &[]).await;
    assert_eq!(names(&v), ["heap", "breaks-at-run-time"]);
    std::fs::write(&rules, good.replace("\"heap\"", "\"heap2\"")).unwrap();
    wait_metric("flarego_alert_reloads_total", 1.0).await;
    let (_, v) = get_json(&s, "/api/v1/alerts/rules", &[]).await;
    assert_eq!(names(&v), ["heap2", "breaks-at-run-time"]);

    // Over the API, per tenant.
    let put = |text: &'static str| {
        s.client()
            .put(format!("{}/api/v1/alerts/rules", s.url))
            .header("content-type", "application/toml")
            .header("x-scope-orgid", "acme")
            .body(text)
            .send()
    };
    let refusals = [
        (
            "[[rule]]\nname = \"m\"\nexpr = 'go_heap_inuse_byte > 1'\n",
            "rule \"m\", line 3: expr: unknown metric \"go_heap_inuse_byte\"",
        ),
        (
            "[[rule]]\nname = \"w\"\nsql = \"DELETE FROM profiles\"\n",
            "rule \"w\", line 3: sql: only a read-only query",
        ),
        (
            "[[rule]]\nname = \"t\"\nexpr = 'go_goroutines > 1'\nsummary = \"{{ $valu }}\"\n",
            "rule \"t\", line 1: summary: template error at character 1: unknown variable",
        ),
        (
            "[[rule]]\nname = \"c\"\nsql = \"SELECT nope FROM profiles\"\n",
            "rule \"c\", line 1: sql:",
        ),
        (
            "[[rule]]\nname = \"d\"\nexpr = 'go_goroutines > 1'\nevery = \"5 fortnights\"\n",
            "rule \"d\", line 1: every = \"5 fortnights\" is not a duration",
        ),
    ];
    for (text, want) in refusals {
        let r = put(text).await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        let error = body["error"].as_str().unwrap_or("");
        assert_eq!(status, 400, "{body}");
        assert!(error.contains(want), "{error}\n  wanted: {want}");
    }
    let r = put(
        "[[rule]]\nname = \"acme-goroutines\"\nexpr = 'go_goroutines > 10000'\nevery = \"1s\"\n",
    )
    .await
    .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
    let (_, v) = get_json(&s, "/api/v1/alerts/rules", &[("x-scope-orgid", "acme")]).await;
    assert_eq!(
        names(&v),
        ["acme-goroutines"],
        "a tenant sees its own rules"
    );
    assert_eq!(v["rules"][0]["origin"], "api");
    assert!(
        v["rules"][0]["queries"][0]
            .as_str()
            .unwrap()
            .contains("go_goroutines")
    );
    let r = s
        .client()
        .put(format!("{}/api/v1/alerts/rules", s.url))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 415);
    let r = s
        .client()
        .delete(format!(
            "{}/api/v1/alerts/rules?name=acme-goroutines",
            s.url
        ))
        .header("x-scope-orgid", "acme")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let (_, v) = get_json(&s, "/api/v1/alerts/rules", &[("x-scope-orgid", "acme")]).await;
    assert_eq!(names(&v), Vec::<String>::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_change_rules_and_only_their_tenant_s() {
    use flarego_ingest::auth::Role;
    use flarego_tests::auth::{Keys, SECRET, claims, hs256};
    let tmp = tempfile::tempdir().unwrap();
    let keys = Keys::create(tmp.path()).unwrap();
    let flags = keys.hs256_server_flags();
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let s = TestServer::start(&tmp.path().join("data"), &flags)
        .await
        .unwrap();
    let token = |tenant: &str, role| hs256(&claims(tenant, role), SECRET.as_bytes()).unwrap();
    let (reader, admin_a, admin_b) = (
        token("acme", Role::Reader),
        token("acme", Role::Admin),
        token("globex", Role::Admin),
    );
    let put = |t: &str| {
        s.client()
            .put(format!("{}/api/v1/alerts/rules", s.url))
            .header("content-type", "application/toml")
            .bearer_auth(t)
            .body("[[rule]]\nname = \"g\"\nexpr = 'go_goroutines > 10000'\nevery = \"1s\"\n")
            .send()
    };
    assert_eq!(put(&reader).await.unwrap().status().as_u16(), 403);
    assert_eq!(put(&admin_a).await.unwrap().status().as_u16(), 200);
    let get = |path: &'static str, t: String| {
        let s = &s;
        async move {
            let r = s
                .client()
                .get(format!("{}{path}", s.url))
                .bearer_auth(t)
                .send()
                .await
                .unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    let (status, _) = get("/api/v1/alerts/rules", reader.clone()).await;
    assert_eq!(status, 403, "rules are for admins");
    let (status, v) = get("/api/v1/alerts", reader.clone()).await;
    assert_eq!(status, 200, "readers see live alerts: {v}");
    let (_, mine) = get("/api/v1/alerts/rules", admin_a.clone()).await;
    assert_eq!(mine["rules"][0]["tenant"], "acme");
    // An admin of another tenant naming none sees every tenant's rules
    // (admins read all tenants), and writes only its own.
    assert_eq!(put(&admin_b).await.unwrap().status().as_u16(), 200);
    let r = s
        .client()
        .put(format!("{}/api/v1/alerts/rules", s.url))
        .header("content-type", "application/toml")
        .bearer_auth(&admin_b)
        .body("[[rule]]\nname = \"x\"\ntenant = \"acme\"\nexpr = 'go_goroutines > 1'\n")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("belong to the caller's tenant")
    );
    let (_, acme) = get("/api/v1/alerts/rules", admin_a).await;
    let tenants: Vec<&str> = acme["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["tenant"].as_str().unwrap())
        .collect();
    assert!(
        tenants.contains(&"acme") && tenants.contains(&"globex"),
        "{acme}"
    );
}
