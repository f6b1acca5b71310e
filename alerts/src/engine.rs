//! The alert engine: loads rules (file and API), evaluates the due ones
//! each tick, advances instance states, records history and hands
//! notifications to the sinks' queues.
//!
//! ```text
//! tick ─▶ due rules ─▶ their queries, one per distinct (tenant, SQL) ──▶ QueryEngine (hot ∪ cold)
//!                                  │ rows per group
//!                                  ▼
//!        condition (thresholds, and/or) ─▶ state::step ─▶ history (alerts table)
//!                                               │            state.json
//!                                               └─▶ notifications ─▶ sink queues (async, retried)
//! ```

mod api_rules;
mod round;
mod views;

pub use round::fingerprint;
pub(crate) use round::to_rows;
use round::{Answer, plan};
pub use views::{InstanceView, RuleView};

use crate::compile::Vocabulary;
use crate::condition::{Outcome, Rows, evaluate};
use crate::history::{AlertsTable, History, HistoryRow};
use crate::metrics::AlertMetrics;
use crate::notification::{Notification, NotifyState, rfc3339};
use crate::rules::{LoadContext, LoadError, Origin, Rule, RuleKind, RuleSet, load};
use crate::sinks::delivery::SinkQueue;
use crate::sinks::{Sink, SinkConfig, SinkKind};
use crate::state::{Change, Event, Instance, Phase, Timing, step};
use crate::store::{DeadLetters, RuleState, load_state, save_state};
use crate::template::Context;
use flarego_query::QueryEngine;
use flarego_storage::TenantId;
use futures::StreamExt;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

/// Settings of the alert engine.
#[derive(Debug, Clone)]
pub struct AlertsConfig {
    /// `--alert-rules`: the rule file, reloaded on change (and SIGHUP).
    pub rules_file: Option<PathBuf>,
    /// Where state, history, dead letters and API rules live
    /// (`<data>/alerts`).
    pub dir: PathBuf,
    /// Run each distinct (tenant, query) once per tick for every rule
    /// that reads it. Default on.
    pub share_scans: bool,
    /// How often due rules are looked for. Default 1 s.
    pub tick: Duration,
    /// Longest one rule query may run. Default 30 s.
    pub query_timeout: Duration,
    /// Rule queries run at once. Default 2.
    pub max_concurrent_queries: usize,
    /// Rows of the `alerts` table kept. Default 100,000.
    pub history_max_rows: usize,
    /// The tenant of file rules that name none. Default `default`.
    pub default_tenant: TenantId,
    /// How often the rule file is checked for changes. Default 2 s.
    pub watch_interval: Duration,
}

impl AlertsConfig {
    pub fn new(dir: PathBuf) -> AlertsConfig {
        AlertsConfig {
            rules_file: None,
            dir,
            share_scans: true,
            tick: Duration::from_secs(1),
            query_timeout: Duration::from_secs(30),
            max_concurrent_queries: 2,
            history_max_rows: 100_000,
            default_tenant: TenantId::default_tenant(),
            watch_interval: Duration::from_secs(2),
        }
    }
}

/// Why the engine cannot start or a rule change is refused.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{path}: {error}")]
    Rules { path: String, error: LoadError },
    #[error("{0}")]
    Refused(LoadError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    NotFound(String),
}

/// The evaluation time source (tests drive their own).
pub trait Clock: Send + Sync {
    fn now_ns(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ns(&self) -> i64 {
        crate::store::now_ns()
    }
}

type RuleKey = (String, String);

/// A rule's last evaluation.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Health {
    pub last_evaluation: Option<String>,
    pub last_duration_ms: f64,
    pub last_error: Option<String>,
}

/// The rules in force and the queues of their sinks.
#[derive(Default)]
struct Loaded {
    file: RuleSet,
    api: BTreeMap<String, RuleSet>,
    all: Vec<Arc<Rule>>,
    /// (origin, tenant for API sinks, sink name) → queue.
    queues: BTreeMap<(Origin, String, String), SinkQueue>,
}

struct Inner {
    query: QueryEngine,
    config: AlertsConfig,
    clock: Arc<dyn Clock>,
    loaded: parking_lot::RwLock<Loaded>,
    states: parking_lot::Mutex<BTreeMap<RuleKey, BTreeMap<String, Instance>>>,
    health: parking_lot::Mutex<BTreeMap<RuleKey, Health>>,
    next_due: parking_lot::Mutex<BTreeMap<RuleKey, i64>>,
    history: Arc<History>,
    metrics: Arc<AlertMetrics>,
    dead: Arc<DeadLetters>,
    client: reqwest::Client,
    file_stamp: parking_lot::Mutex<Option<(std::time::SystemTime, u64)>>,
    last_saved_ns: parking_lot::Mutex<i64>,
}

/// The running alert engine (cheap to clone).
#[derive(Clone)]
pub struct AlertEngine {
    inner: Arc<Inner>,
}

impl AlertEngine {
    /// Opens the engine: state and history from `config.dir`, rules from
    /// the file and from earlier API calls, each checked against the
    /// tables. A bad rule file is an error (the server refuses to start).
    pub async fn start(
        query: QueryEngine,
        config: AlertsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<AlertEngine, AlertError> {
        std::fs::create_dir_all(&config.dir).map_err(|source| AlertError::Io {
            path: config.dir.display().to_string(),
            source,
        })?;
        let history = Arc::new(History::open(&config.dir, config.history_max_rows));
        query.register_tenant_table("alerts", Arc::new(AlertsTable(history.clone())));
        let states: BTreeMap<RuleKey, BTreeMap<String, Instance>> = load_state(&config.dir)
            .into_iter()
            .map(|r| ((r.tenant, r.rule), r.instances))
            .collect();
        let engine = AlertEngine {
            inner: Arc::new(Inner {
                dead: Arc::new(DeadLetters::new(&config.dir)),
                query,
                clock,
                loaded: Default::default(),
                states: parking_lot::Mutex::new(states),
                health: Default::default(),
                next_due: Default::default(),
                history,
                metrics: Arc::default(),
                client: reqwest::Client::builder()
                    .user_agent(concat!("flarego/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .unwrap_or_default(),
                file_stamp: Default::default(),
                last_saved_ns: Default::default(),
                config,
            }),
        };
        let file = match &engine.inner.config.rules_file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| AlertError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                *engine.inner.file_stamp.lock() = stamp(path);
                engine
                    .load_checked(&text, Origin::File, None)
                    .await
                    .map_err(|error| AlertError::Rules {
                        path: path.display().to_string(),
                        error,
                    })?
            }
            None => RuleSet::default(),
        };
        let mut api = BTreeMap::new();
        let api_dir = engine.inner.config.dir.join("rules");
        if let Ok(entries) = std::fs::read_dir(&api_dir) {
            for e in entries.flatten() {
                let path = e.path();
                let Some(tenant) = path
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .filter(|_| path.extension().is_some_and(|x| x == "toml"))
                else {
                    continue;
                };
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                match engine
                    .load_checked(&text, Origin::Api, Some(TenantId(tenant.to_string())))
                    .await
                {
                    Ok(set) => {
                        api.insert(tenant.to_string(), set);
                    }
                    // Accepted once, refused now (a metric no longer
                    // seen, say): reported, and the tenant's other
                    // rules are not held back by the file.
                    Err(e) => {
                        tracing::error!(path = %path.display(), error = %e, "stored API rules no longer load; skipped")
                    }
                }
            }
        }
        engine.install(file, api);
        Ok(engine)
    }

    /// Starts evaluating (every tick) and watching the rule file. Both
    /// stop when the last engine handle is dropped.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let tick = self.inner.config.tick;
        let watch = self.inner.config.watch_interval;
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(tick);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut last_watch = Instant::now();
            loop {
                ticks.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let engine = AlertEngine { inner };
                let now = engine.inner.clock.now_ns();
                engine.evaluate_due(now).await;
                if engine.inner.config.rules_file.is_some() && last_watch.elapsed() >= watch {
                    last_watch = Instant::now();
                    engine.reload_if_changed().await;
                }
            }
        })
    }

    pub fn metrics(&self) -> &AlertMetrics {
        &self.inner.metrics
    }

    /// Metric names an agent sends, and those seen in the last day.
    async fn vocabulary(&self) -> BTreeSet<String> {
        let mut names: BTreeSet<String> = flarego_proto::agent_metrics::NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let sql = "SELECT DISTINCT name FROM metrics WHERE time >= now() - INTERVAL '1 day'";
        let seen = tokio::time::timeout(
            self.inner.config.query_timeout,
            self.inner.query.sql(None, sql),
        )
        .await;
        if let Ok(Ok(out)) = seen
            && let Ok((_, rows)) = to_rows(&out, &["value".to_string()])
        {
            names.extend(
                rows.into_iter()
                    .flat_map(|r| r.into_keys())
                    .filter_map(|k| k.into_iter().next()),
            );
        }
        names
    }

    /// Loads `text` and plans every query the rules run.
    async fn load_checked(
        &self,
        text: &str,
        origin: Origin,
        only_tenant: Option<TenantId>,
    ) -> Result<RuleSet, LoadError> {
        let names = self.vocabulary().await;
        let set = {
            let known = |m: &str| names.contains(m);
            let cx = LoadContext {
                origin,
                default_tenant: self.inner.config.default_tenant.clone(),
                only_tenant,
                vocab: Vocabulary {
                    metric_known: &known,
                },
            };
            load(text, &cx)?
        };
        for rule in &set.rules {
            for sql in rule.queries() {
                if let Err(e) = self
                    .inner
                    .query
                    .check(Some(rule.tenant.clone()), &sql)
                    .await
                {
                    return Err(LoadError {
                        rule: Some(rule.name.clone()),
                        line: rule.line,
                        reason: format!("sql: {e}"),
                    });
                }
            }
        }
        Ok(set)
    }

    /// Puts rule sets in force and (re)starts their sinks' workers.
    fn install(&self, file: RuleSet, api: BTreeMap<String, RuleSet>) {
        let mut queues = BTreeMap::new();
        for s in &file.sinks {
            queues.insert(
                (Origin::File, String::new(), s.name.clone()),
                self.queue(s, ""),
            );
        }
        for (tenant, set) in &api {
            for s in &set.sinks {
                queues.insert(
                    (Origin::Api, tenant.clone(), s.name.clone()),
                    self.queue(s, tenant),
                );
            }
        }
        let all: Vec<Arc<Rule>> = file
            .rules
            .iter()
            .chain(api.values().flat_map(|s| s.rules.iter()))
            .cloned()
            .map(Arc::new)
            .collect();
        let keys: BTreeSet<RuleKey> = all
            .iter()
            .map(|r| (r.tenant.0.clone(), r.name.clone()))
            .collect();
        self.inner
            .metrics
            .rules
            .store(all.len() as u64, Ordering::Relaxed);
        *self.inner.loaded.write() = Loaded {
            file,
            api,
            all,
            queues,
        };
        // Rules that are gone take their instances and schedule along.
        self.inner.states.lock().retain(|k, _| keys.contains(k));
        self.inner.next_due.lock().retain(|k, _| keys.contains(k));
        self.inner.health.lock().retain(|k, _| keys.contains(k));
    }

    fn queue(&self, s: &SinkConfig, tenant: &str) -> SinkQueue {
        let client = self.inner.client.clone();
        let sink: Arc<dyn Sink> = match s.kind {
            SinkKind::Log => Arc::new(crate::sinks::log::LogSink),
            SinkKind::Webhook => Arc::new(crate::sinks::webhook::WebhookSink {
                client,
                config: s.clone(),
            }),
            SinkKind::Slack => Arc::new(crate::sinks::slack::SlackSink {
                client,
                config: s.clone(),
            }),
            SinkKind::Jira => {
                let owner = if tenant.is_empty() { "file" } else { tenant };
                let path = self
                    .inner
                    .config
                    .dir
                    .join(format!("jira-{owner}-{}.json", s.name));
                Arc::new(crate::sinks::jira::JiraSink::new(client, s.clone(), path))
            }
        };
        SinkQueue::spawn(
            s.name.clone(),
            sink,
            s.retry.clone(),
            self.inner.metrics.clone(),
            self.inner.dead.clone(),
        )
    }

    /// Re-reads the rule file (SIGHUP). A file that does not load is
    /// refused and the rules in force keep running.
    pub async fn reload(&self) -> Result<usize, AlertError> {
        let Some(path) = self.inner.config.rules_file.clone() else {
            return Ok(0);
        };
        *self.inner.file_stamp.lock() = stamp(&path);
        let refused = |e: AlertError| {
            self.inner
                .metrics
                .reload_failures
                .fetch_add(1, Ordering::Relaxed);
            tracing::error!(error = %e, "rule file refused; the rules in force keep running");
            e
        };
        let text = std::fs::read_to_string(&path).map_err(|source| {
            refused(AlertError::Io {
                path: path.display().to_string(),
                source,
            })
        })?;
        let set = self
            .load_checked(&text, Origin::File, None)
            .await
            .map_err(|error| {
                refused(AlertError::Rules {
                    path: path.display().to_string(),
                    error,
                })
            })?;
        let n = set.rules.len();
        let api = self.inner.loaded.read().api.clone();
        self.install(set, api);
        self.inner.metrics.reloads.fetch_add(1, Ordering::Relaxed);
        tracing::info!(path = %path.display(), rules = n, "alert rules reloaded");
        Ok(n)
    }

    async fn reload_if_changed(&self) {
        let Some(path) = self.inner.config.rules_file.clone() else {
            return;
        };
        let now = stamp(&path);
        if now.is_some() && now != *self.inner.file_stamp.lock() {
            let _ = self.reload().await;
        }
    }

    /// Evaluates every rule due at `now_ns`; returns how many ran.
    pub async fn evaluate_due(&self, now_ns: i64) -> usize {
        let started = Instant::now();
        let due: Vec<Arc<Rule>> = {
            let loaded = self.inner.loaded.read();
            let mut next = self.inner.next_due.lock();
            loaded
                .all
                .iter()
                .filter(|r| {
                    let key = (r.tenant.0.clone(), r.name.clone());
                    let at = next.entry(key).or_insert(now_ns);
                    if *at <= now_ns {
                        *at = now_ns + r.every_ns;
                        true
                    } else {
                        false
                    }
                })
                .cloned()
                .collect()
        };
        if due.is_empty() {
            return 0;
        }
        // One query per distinct (tenant, SQL), and one per profile scan,
        // when scans are shared.
        let (queries, uses) = plan(&due, self.inner.config.share_scans);
        let results: Vec<Answer> = futures::stream::iter(queries)
            .map(|p| self.run_query(p.tenant, p.sql, p.values))
            .buffered(self.inner.config.max_concurrent_queries.max(1))
            .collect()
            .await;
        let mut events_all = 0;
        let mut rows = Vec::new();
        for (r, mine) in due.iter().zip(uses) {
            let rule_started = Instant::now();
            let answers: Result<Vec<(Vec<String>, Rows)>, String> = mine
                .iter()
                .map(|(n, col)| {
                    results[*n]
                        .as_ref()
                        .map_err(Clone::clone)
                        .map(|(keys, cols)| {
                            (keys.clone(), cols.get(*col).cloned().unwrap_or_default())
                        })
                })
                .collect();
            let key = (r.tenant.0.clone(), r.name.clone());
            let mut health = Health {
                last_evaluation: Some(rfc3339(now_ns)),
                ..Health::default()
            };
            self.inner
                .metrics
                .evaluations
                .fetch_add(1, Ordering::Relaxed);
            match answers.and_then(|a| self.groups(r, a)) {
                Ok(holding) => {
                    let events = {
                        let mut states = self.inner.states.lock();
                        let instances = states.entry(key.clone()).or_default();
                        let t = Timing {
                            for_ns: r.for_ns,
                            keep_firing_for_ns: r.keep_firing_for_ns,
                            repeat_interval_ns: r.repeat_interval_ns,
                        };
                        step(instances, holding, now_ns, t)
                    };
                    events_all += events.len();
                    for e in events {
                        self.notify(r, &e);
                        if e.change != Change::Repeat {
                            rows.push(HistoryRow {
                                time_ns: e.at_ns,
                                tenant: r.tenant.0.clone(),
                                rule: r.name.clone(),
                                labels: e.instance.labels.clone(),
                                state: change_name(e.change).to_string(),
                                value: e.instance.value,
                                fingerprint: e.fingerprint.clone(),
                            });
                        }
                    }
                }
                Err(e) => {
                    self.inner
                        .metrics
                        .evaluation_failures
                        .fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(tenant = %r.tenant.0, rule = %r.name, error = %e, "rule evaluation failed");
                    health.last_error = Some(e);
                }
            }
            health.last_duration_ms = rule_started.elapsed().as_secs_f64() * 1e3;
            self.inner.health.lock().insert(key, health);
        }
        self.inner.history.append(rows);
        let firing = self
            .inner
            .states
            .lock()
            .values()
            .flat_map(|m| m.values())
            .filter(|i| i.phase == Phase::Firing)
            .count();
        self.inner
            .metrics
            .firing
            .store(firing as u64, Ordering::Relaxed);
        // State is saved on every change, and otherwise every 10 s while
        // instances live (their last-true times matter for keep_firing_for).
        let stale = now_ns - *self.inner.last_saved_ns.lock() >= 10_000_000_000;
        if events_all > 0 || (stale && firing + self.live() > 0) {
            self.save().await;
            *self.inner.last_saved_ns.lock() = now_ns;
        }
        self.inner
            .metrics
            .evaluation_ns
            .fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        due.len()
    }

    fn live(&self) -> usize {
        self.inner.states.lock().values().map(|m| m.len()).sum()
    }

    async fn save(&self) {
        let rules: Vec<RuleState> = self
            .inner
            .states
            .lock()
            .iter()
            .filter(|(_, i)| !i.is_empty())
            .map(|((t, r), i)| RuleState {
                tenant: t.clone(),
                rule: r.clone(),
                instances: i.clone(),
            })
            .collect();
        if let Err(e) = save_state(&self.inner.config.dir, rules).await {
            tracing::error!(error = %e, "cannot save the alert state");
        }
    }

    async fn run_query(&self, tenant: TenantId, sql: String, values: Vec<String>) -> Answer {
        self.inner.metrics.queries.fetch_add(1, Ordering::Relaxed);
        let limit = self.inner.config.query_timeout;
        match tokio::time::timeout(limit, self.inner.query.sql(Some(tenant), &sql)).await {
            Err(_) => Err(format!(
                "the query ran longer than query_timeout = {limit:?}"
            )),
            Ok(Err(e)) => Err(e.to_string()),
            Ok(Ok(out)) => to_rows(&out, &values),
        }
    }

    /// The groups where `r` holds: fingerprint → (labels, value).
    #[allow(clippy::type_complexity)]
    fn groups(
        &self,
        r: &Rule,
        answers: Vec<(Vec<String>, Rows)>,
    ) -> Result<BTreeMap<String, (BTreeMap<String, String>, f64)>, String> {
        let (keys, rows): (Vec<String>, Rows) = match &r.kind {
            RuleKind::Expr { compiled, .. } => {
                let keys = compiled
                    .queries
                    .first()
                    .map(|q| q.keys.clone())
                    .unwrap_or_default();
                let results: Vec<Rows> = answers.into_iter().map(|(_, rows)| rows).collect();
                match evaluate(&compiled.cond, &results) {
                    Outcome::Const(true) => (Vec::new(), Rows::from([(Vec::new(), 1.0)])),
                    Outcome::Const(false) => (keys, Rows::new()),
                    Outcome::Groups(g) => (keys, g),
                }
            }
            RuleKind::Sql { .. } => answers.into_iter().next().unwrap_or_default(),
        };
        let mut out = BTreeMap::new();
        for (vals, value) in rows {
            let mut labels: BTreeMap<String, String> = keys
                .iter()
                .cloned()
                .zip(vals)
                .filter(|(_, v)| !v.is_empty())
                .collect();
            labels.extend(r.labels.clone());
            let fp = fingerprint(&r.tenant.0, &r.name, &labels);
            out.insert(fp, (labels, value));
        }
        Ok(out)
    }

    fn notify(&self, r: &Rule, e: &Event) {
        let state = match e.change {
            Change::Firing | Change::Repeat => NotifyState::Firing,
            Change::Resolved => NotifyState::Resolved,
            Change::Pending | Change::Inactive => return,
        };
        let i = &e.instance;
        let cx = Context {
            value: i.value,
            labels: &i.labels,
            rule: &r.name,
            state: state.as_str(),
        };
        let n = Notification {
            id: format!("{}-{}-{}", e.fingerprint, e.at_ns, change_name(e.change)),
            tenant: r.tenant.0.clone(),
            rule: r.name.clone(),
            state,
            labels: i.labels.clone(),
            value: i.value,
            summary: r.summary.render(&cx),
            description: r.description.render(&cx),
            starts_at: rfc3339(i.fired_at_ns.unwrap_or(i.active_since_ns)),
            ends_at: (state == NotifyState::Resolved).then(|| rfc3339(e.at_ns)),
            fingerprint: e.fingerprint.clone(),
            repeat: e.change == Change::Repeat,
        };
        let loaded = self.inner.loaded.read();
        let owner = match r.origin {
            Origin::File => String::new(),
            Origin::Api => r.tenant.0.clone(),
        };
        for s in &r.sinks {
            match loaded.queues.get(&(r.origin, owner.clone(), s.clone())) {
                Some(q) => q.push(n.clone()),
                None => tracing::error!(rule = %r.name, sink = %s, "the rule's sink has no queue"),
            }
        }
    }
}

fn change_name(c: Change) -> &'static str {
    match c {
        Change::Pending => "pending",
        Change::Firing => "firing",
        Change::Repeat => "repeat",
        Change::Resolved => "resolved",
        Change::Inactive => "inactive",
    }
}

fn stamp(path: &std::path::Path) -> Option<(std::time::SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
