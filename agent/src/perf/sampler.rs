//! The sampler thread: one cpu-clock event per thread of the target,
//! drained every few milliseconds into per-window counts of call chains,
//! plus what it takes to judge the sampling itself: samples against the
//! threads' CPU time (achieved rate) and the CPU time between consecutive
//! samples of a thread against the period (jitter).

use super::sys::{self, ThreadEvent};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Highest and lowest rates accepted.
pub const MIN_HZ: u32 = 1;
pub const MAX_HZ: u32 = 10_000;

/// Jitter values kept per window at most (the rest are not measured).
const MAX_JITTER_VALUES: usize = 200_000;
/// How often the thread list of the target is read again.
const RESCAN: Duration = Duration::from_millis(500);
/// How often the ring buffers are drained.
const DRAIN: Duration = Duration::from_millis(10);

#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    #[error("--hz {hz} is out of range: the sampler takes {MIN_HZ} to {MAX_HZ} Hz")]
    Rate { hz: u32 },
    #[error("process {pid} not found ({path}): {source}")]
    NoProcess {
        pid: u32,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "perf_event_open on thread {tid} of process {pid} failed: {source} (needs root, CAP_PERFMON, or kernel.perf_event_paranoid <= 1 for another user's process)"
    )]
    Open {
        pid: u32,
        tid: i32,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start the sampler thread: {0}")]
    Thread(std::io::Error),
}

/// What to sample.
#[derive(Debug, Clone, Copy)]
pub struct PerfConfig {
    pub pid: u32,
    pub hz: u32,
    /// Ring buffer data pages per thread (rounded to a power of two).
    pub buffer_pages: usize,
}

impl PerfConfig {
    pub fn period_ns(&self) -> u64 {
        1_000_000_000 / u64::from(self.hz.max(1))
    }
}

/// Everything sampled since the previous [`PerfSampler::take`].
#[derive(Debug, Default, Clone)]
pub struct PerfWindow {
    /// User call chains (leaf first) → samples; a chain taken while the
    /// thread was in the kernel starts with [`KERNEL_FRAME`].
    pub stacks: HashMap<Vec<u64>, u64>,
    pub samples: u64,
    /// Samples the kernel dropped (ring buffer full).
    pub lost: u64,
    /// CPU time of the sampled threads in the window.
    pub on_cpu_ns: u64,
    /// |CPU time between consecutive samples of a thread − period|, ns.
    pub jitter_ns: Vec<u64>,
    pub period_ns: u64,
    pub threads: usize,
    /// Threads that could not be opened in the window, with the last error.
    pub open_errors: u64,
    pub last_error: Option<String>,
}

/// Stands for "the sample was taken in the kernel" at the leaf of a chain.
pub const KERNEL_FRAME: u64 = u64::MAX;

impl PerfWindow {
    /// Samples per second of CPU time: the configured rate when no sample
    /// was missed.
    pub fn achieved_hz(&self) -> Option<f64> {
        (self.on_cpu_ns > 0).then(|| self.samples as f64 * 1e9 / self.on_cpu_ns as f64)
    }

    /// The `q` quantile (0..=1) of the jitter, ns.
    pub fn jitter_quantile(&self, q: f64) -> Option<u64> {
        if self.jitter_ns.is_empty() {
            return None;
        }
        let mut v = self.jitter_ns.clone();
        v.sort_unstable();
        let i = ((v.len() - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize;
        v.get(i).copied()
    }
}

struct Tracked {
    event: ThreadEvent,
    /// cpu-clock value at the last sample (for jitter) and at the last read.
    last_sample_cpu: Option<u64>,
    cpu_read: u64,
}

/// Samples one process until dropped.
pub struct PerfSampler {
    config: PerfConfig,
    window: Arc<Mutex<PerfWindow>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PerfSampler {
    /// Opens an event on every current thread of the process (failing if
    /// none can be opened) and starts the sampler thread.
    pub fn start(config: PerfConfig) -> Result<PerfSampler, PerfError> {
        if !(MIN_HZ..=MAX_HZ).contains(&config.hz) {
            return Err(PerfError::Rate { hz: config.hz });
        }
        let mut threads = HashMap::new();
        let window = PerfWindow {
            period_ns: config.period_ns(),
            ..Default::default()
        };
        let window = Arc::new(Mutex::new(window));
        let first = rescan(&config, &mut threads, &window)?;
        if threads.is_empty() {
            return Err(first.unwrap_or(PerfError::NoProcess {
                pid: config.pid,
                path: task_dir(config.pid),
                source: std::io::Error::other("no threads"),
            }));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (window, stop) = (window.clone(), stop.clone());
            std::thread::Builder::new()
                .name("flarego-perf".into())
                .spawn(move || run(config, threads, window, stop))
                .map_err(PerfError::Thread)?
        };
        Ok(PerfSampler {
            config,
            window,
            stop,
            thread: Some(thread),
        })
    }

    pub fn config(&self) -> PerfConfig {
        self.config
    }

    /// What was sampled since the last call; starts a new window.
    pub fn take(&self) -> PerfWindow {
        let mut g = self.window.lock().unwrap_or_else(|p| p.into_inner());
        let fresh = PerfWindow {
            period_ns: g.period_ns,
            threads: g.threads,
            ..Default::default()
        };
        std::mem::replace(&mut *g, fresh)
    }
}

impl Drop for PerfSampler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn task_dir(pid: u32) -> PathBuf {
    PathBuf::from(format!("/proc/{pid}/task"))
}

/// Opens events for new threads and forgets threads that ended. Returns
/// the last open error, if any (also counted in the window).
fn rescan(
    config: &PerfConfig,
    threads: &mut HashMap<i32, Tracked>,
    window: &Mutex<PerfWindow>,
) -> Result<Option<PerfError>, PerfError> {
    let dir = task_dir(config.pid);
    let entries = std::fs::read_dir(&dir).map_err(|source| PerfError::NoProcess {
        pid: config.pid,
        path: dir.clone(),
        source,
    })?;
    let mut alive = Vec::new();
    let mut last = None;
    for e in entries.flatten() {
        let Some(tid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        alive.push(tid);
        if threads.contains_key(&tid) {
            continue;
        }
        match ThreadEvent::open(tid, config.period_ns(), config.buffer_pages) {
            Ok(event) => {
                threads.insert(
                    tid,
                    Tracked {
                        event,
                        last_sample_cpu: None,
                        cpu_read: 0,
                    },
                );
            }
            Err(source) => {
                let err = PerfError::Open {
                    pid: config.pid,
                    tid,
                    source,
                };
                let mut w = window.lock().unwrap_or_else(|p| p.into_inner());
                w.open_errors += 1;
                w.last_error = Some(err.to_string());
                last = Some(err);
            }
        }
    }
    threads.retain(|tid, _| alive.contains(tid));
    let mut w = window.lock().unwrap_or_else(|p| p.into_inner());
    w.threads = threads.len();
    Ok(last)
}

fn run(
    config: PerfConfig,
    mut threads: HashMap<i32, Tracked>,
    window: Arc<Mutex<PerfWindow>>,
    stop: Arc<AtomicBool>,
) {
    let period = config.period_ns();
    let mut last_scan = Instant::now();
    let mut gone_logged = false;
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(DRAIN);
        if last_scan.elapsed() >= RESCAN {
            last_scan = Instant::now();
            match rescan(&config, &mut threads, &window) {
                Ok(_) => gone_logged = false,
                Err(e) => {
                    threads.clear();
                    let mut w = window.lock().unwrap_or_else(|p| p.into_inner());
                    w.threads = 0;
                    w.last_error = Some(e.to_string());
                    if !gone_logged {
                        tracing::warn!(error = %e, "perf target gone; will retry");
                        gone_logged = true;
                    }
                }
            }
        }
        drain_all(&mut threads, &window, period);
    }
}

fn drain_all(threads: &mut HashMap<i32, Tracked>, window: &Mutex<PerfWindow>, period: u64) {
    let mut w = window.lock().unwrap_or_else(|p| p.into_inner());
    for t in threads.values_mut() {
        let last = &mut t.last_sample_cpu;
        t.event.drain(|kind, body| match kind {
            sys::RECORD_SAMPLE => {
                let Some(s) = sys::parse_sample(body) else {
                    return;
                };
                let mut chain = s.chain;
                if s.ip >= sys::CONTEXT_MAX || (s.ip as i64) < 0 {
                    chain.insert(0, KERNEL_FRAME);
                }
                *w.stacks.entry(chain).or_insert(0) += 1;
                w.samples += 1;
                if let Some(prev) = *last
                    && w.jitter_ns.len() < MAX_JITTER_VALUES
                {
                    w.jitter_ns
                        .push(s.cpu_ns.saturating_sub(prev).abs_diff(period));
                }
                *last = Some(s.cpu_ns);
            }
            sys::RECORD_LOST => {
                w.lost += sys::parse_lost(body).unwrap_or(0);
                // The next gap spans lost samples: not a jitter value.
                *last = None;
            }
            _ => {}
        });
        if let Ok(cpu) = t.event.cpu_ns() {
            w.on_cpu_ns += cpu.saturating_sub(t.cpu_read);
            t.cpu_read = cpu;
        }
    }
}
