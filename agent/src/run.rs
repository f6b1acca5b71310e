//! The agent's main loop: one chunk per window from every configured
//! source, queued in the [`Outbox`] for the uploader.
//!
//! ```text
//! every window ─▶ pprof sources (window::collect; the CPU profile spans the window)
//!              ─▶ perf sampler take() ─▶ pprof profile `cpu`, source=perf
//!              ─▶ own metrics (CPU%, RSS, achieved rate, jitter, buffer)
//!              ─▶ Chunk { agent id, seq } ─▶ Outbox ─▶ upload::run ─▶ server
//! ```
//!
//! A source that fails is logged and counted in the chunk's metrics and
//! tried again next window; the others go on.

use crate::outbox::{Outbox, OutboxStats};
use crate::perf::{PerfConfig, PerfSampler, Symbolizer, to_pprof};
use crate::scrape::Scraper;
use crate::selfstats::{SelfStats, rss_bytes};
use crate::sources::PprofSources;
use crate::spool::Spool;
use crate::upload::{self, UploadConfig, UploadStats};
use crate::window::{Carry, ChunkMeta, collect};
use flarego_proto::agent::v1::{MetricPoint, PprofProfile};
use prost::Message;
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// Everything the agent needs; the CLI fills it from flags.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub upload: UploadConfig,
    pub service: String,
    pub instance: String,
    pub labels: HashMap<String, String>,
    /// Names the agent; each run adds a random suffix, so its sequence
    /// numbers never collide with an earlier run's.
    pub agent_name: String,
    pub window: Duration,
    /// Base URL of the service's `net/http/pprof` (and `/debug/vars`).
    pub pprof_url: Option<String>,
    /// Which pprof endpoints to scrape.
    pub pprof_sources: PprofSources,
    /// Process to sample with perf.
    pub pid: Option<u32>,
    pub hz: u32,
    /// Bound of the unsent-chunk buffer, bytes.
    pub buffer_bytes: usize,
    /// Keep the unsent chunks on disk here too, and resume from it.
    pub buffer_dir: Option<std::path::PathBuf>,
    pub scrape_timeout: Duration,
    pub max_scrape_bytes: usize,
    /// How long to keep delivering queued chunks after a stop.
    pub drain_timeout: Duration,
    /// Stop after this many windows (none: run until stopped).
    pub max_windows: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("nothing to profile: give --pprof-url (a Go service) and/or --pid (any process)")]
    NoSource,
    #[error("--window {0:?} is too short: windows are whole seconds, at least 1s")]
    Window(Duration),
    #[error(transparent)]
    Scrape(#[from] crate::scrape::ScrapeError),
    #[error(transparent)]
    Perf(#[from] crate::perf::PerfError),
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
}

/// What a run did.
#[derive(Debug, Clone, Copy, Default)]
pub struct AgentReport {
    pub windows: u64,
    pub outbox: OutboxStats,
}

/// The wire id of this run: `name/random`.
pub fn run_id(name: &str) -> String {
    format!("{name}/{:016x}", rand::rng().random::<u64>())
}

/// Runs until `shutdown` resolves (or `max_windows`), then delivers what
/// is queued for up to `drain_timeout`.
pub async fn run(
    config: AgentConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<AgentReport, AgentError> {
    if config.pprof_url.is_none() && config.pid.is_none() {
        return Err(AgentError::NoSource);
    }
    if config.window < Duration::from_secs(1) {
        return Err(AgentError::Window(config.window));
    }
    let scraper = config
        .pprof_url
        .as_deref()
        .map(|u| Scraper::new(u, config.scrape_timeout, config.max_scrape_bytes))
        .transpose()?;
    let perf_config = config.pid.map(|pid| PerfConfig::for_rate(pid, config.hz));
    if let Some(p) = &perf_config
        && !(crate::perf::MIN_HZ..=crate::perf::MAX_HZ).contains(&p.hz)
    {
        return Err(crate::perf::PerfError::Rate { hz: p.hz }.into());
    }
    let (outbox, agent_id, first_seq) = match &config.buffer_dir {
        None => (
            Outbox::new(config.buffer_bytes),
            run_id(&config.agent_name),
            1,
        ),
        Some(dir) => {
            let (spool, resume) = Spool::open(dir, &config.agent_name)?;
            let agent_id = resume
                .agent_id
                .unwrap_or_else(|| run_id(&config.agent_name));
            spool.set_agent_id(&agent_id)?;
            let outbox = Outbox::with_spool(config.buffer_bytes, spool);
            if !resume.chunks.is_empty() {
                tracing::info!(chunks = resume.chunks.len(), dir = %dir.display(), "resending chunks an earlier run left");
            }
            for c in resume.chunks {
                outbox.restore(c);
            }
            (outbox, agent_id, resume.next_seq)
        }
    };
    tracing::info!(agent_id = %agent_id, first_seq, service = %config.service, window_s = config.window.as_secs(), "agent started");

    let outbox = Arc::new(outbox);
    let upload_stats = Arc::new(UploadStats::default());
    let uploader = tokio::spawn(upload::run(
        config.upload.clone(),
        outbox.clone(),
        upload_stats.clone(),
    ));

    let mut perf: Option<(PerfSampler, Symbolizer)> = None;
    let mut carry = Carry::default();
    let mut own = SelfStats::default();
    let mut report = AgentReport::default();
    tokio::pin!(shutdown);
    loop {
        if config.max_windows.is_some_and(|m| report.windows >= m) {
            break;
        }
        let seq = first_seq + report.windows;
        let meta = ChunkMeta {
            agent_id: agent_id.clone(),
            seq,
            window_start_ns: now_ns(),
            window: Duration::from_secs(config.window.as_secs()),
            service: config.service.clone(),
            instance: config.instance.clone(),
            labels: config.labels.clone(),
        };
        let mut perf_errors = 0u32;
        if perf.is_none()
            && let Some(pc) = perf_config
        {
            match PerfSampler::start(pc) {
                Ok(s) => perf = Some((s, Symbolizer::new(pc.pid))),
                Err(e) => {
                    perf_errors += 1;
                    tracing::warn!(error = %e, "perf sampler not running; will retry next window");
                }
            }
        }
        if let Some((s, _)) = &perf {
            s.take(); // the window starts now
        }
        let window = async {
            let sleep = tokio::time::sleep(meta.window);
            let pprof = async {
                match &scraper {
                    Some(s) => {
                        Some(collect(s, config.pprof_sources, &mut carry, meta.clone()).await)
                    }
                    None => None,
                }
            };
            tokio::join!(pprof, sleep).0
        };
        let chunk = tokio::select! {
            c = window => c,
            _ = &mut shutdown => break,
        };
        let mut chunk = chunk.unwrap_or_else(|| meta.empty_chunk());
        let t = meta.window_start_ns;
        let point = |name: &str, value: f64| MetricPoint {
            name: name.into(),
            value,
            time_ns: t,
            labels: Default::default(),
        };
        if let Some((sampler, symbols)) = &mut perf {
            let w = sampler.take();
            symbols.reload_maps();
            if w.samples > 0 {
                chunk.profiles.push(PprofProfile {
                    kind: "cpu".into(),
                    pprof: to_pprof(&w, symbols, t).encode_to_vec(),
                    source: "perf".into(),
                });
            }
            let m = &mut chunk.metrics;
            m.push(point("agent_perf_samples", w.samples as f64));
            m.push(point("agent_perf_lost_samples", w.lost as f64));
            m.push(point("agent_perf_threads", w.threads as f64));
            m.push(point(
                "agent_perf_configured_hz",
                f64::from(sampler.config().hz),
            ));
            if let Some(hz) = w.achieved_hz() {
                m.push(point("agent_perf_achieved_hz", hz));
            }
            for (q, name) in [
                (0.5, "agent_perf_jitter_p50_ns"),
                (0.99, "agent_perf_jitter_p99_ns"),
            ] {
                if let Some(v) = w.jitter_quantile(q) {
                    m.push(point(name, v as f64));
                }
            }
            perf_errors += w.open_errors.min(u64::from(u32::MAX)) as u32;
            if w.threads == 0 {
                tracing::warn!(error = ?w.last_error, "perf target has no threads left; restarting the sampler");
                perf = None;
                perf_errors += 1;
            }
        }
        if perf_config.is_some() {
            chunk
                .metrics
                .push(point("agent_perf_errors", f64::from(perf_errors)));
        }
        let before = outbox.stats();
        let m = &mut chunk.metrics;
        if let Some(p) = own.cpu_percent() {
            m.push(point("agent_cpu_percent", p));
        }
        if let Some(r) = rss_bytes() {
            m.push(point("agent_rss_bytes", r as f64));
        }
        m.push(point("agent_buffered_chunks", before.queued as f64));
        m.push(point("agent_buffered_bytes", before.queued_bytes as f64));
        m.push(point("agent_dropped_chunks_total", before.dropped as f64));
        m.push(point("agent_refused_chunks_total", before.refused as f64));
        let up = &upload_stats;
        m.push(point(
            "agent_connected",
            up.connected.load(Ordering::Relaxed) as f64,
        ));
        m.push(point(
            "agent_upload_failures_total",
            up.failures.load(Ordering::Relaxed) as f64,
        ));
        m.push(point("agent_window_seq", seq as f64));
        outbox.push(chunk).await;
        report.windows += 1;
    }

    outbox.close();
    if tokio::time::timeout(config.drain_timeout, uploader)
        .await
        .is_err()
    {
        tracing::warn!(
            queued = outbox.stats().queued,
            "stopping with chunks undelivered (drain timeout)"
        );
    }
    report.outbox = outbox.stats();
    tracing::info!(
        windows = report.windows,
        delivered = report.outbox.delivered,
        dropped = report.outbox.dropped,
        refused = report.outbox.refused,
        undelivered = report.outbox.queued,
        "agent stopped"
    );
    Ok(report)
}

fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}
