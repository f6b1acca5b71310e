//! The sampler thread: one cpu-clock event per thread of the target,
//! drained every few milliseconds into per-window counts of call chains,
//! plus what it takes to judge the sampling itself: samples against the
//! threads' CPU time (achieved rate) and the CPU time between consecutive
//! samples of a thread against the period (jitter).

use super::sys::{self, ThreadEvent};
use super::unwind::GoUnwinder;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Highest and lowest rates accepted.
pub const MIN_HZ: u32 = 1;
pub const MAX_HZ: u32 = 10_000;

/// Jitter values kept per window at most (the rest are not measured).
const MAX_JITTER_VALUES: usize = 200_000;
/// How often the thread list of the target is read again.
const RESCAN: Duration = Duration::from_millis(500);
/// Bounds of how often the ring buffers are drained.
const DRAIN_MIN: Duration = Duration::from_millis(10);
const DRAIN_MAX: Duration = Duration::from_millis(200);
/// Longest [`PerfSampler::take`] waits for the sampler thread.
const TAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// A sample with a full 127-frame call chain, its registers and stack
/// dump, bytes, rounded up.
const SAMPLE_BYTES_MAX: u64 = 1700;

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
    /// The ring size the agent uses for `hz`: 64 KiB per thread, 256 KiB
    /// above 1000 Hz.
    pub fn for_rate(pid: u32, hz: u32) -> Self {
        PerfConfig {
            pid,
            hz,
            buffer_pages: if hz > 1000 { 64 } else { 16 },
        }
    }

    pub fn period_ns(&self) -> u64 {
        1_000_000_000 / u64::from(self.hz.max(1))
    }

    /// How often to drain: when a thread running flat out with the
    /// deepest stacks has filled a quarter of its ring, so nothing is
    /// lost, and no more often than that (each drain wakes the sampler).
    pub fn drain_every(&self) -> Duration {
        let ring = (self.buffer_pages.next_power_of_two() * 4096) as u64;
        let fill_bytes_per_sec = u64::from(self.hz.max(1)) * SAMPLE_BYTES_MAX;
        let quarter_ms = ring * 1000 / 4 / fill_bytes_per_sec;
        Duration::from_millis(quarter_ms).clamp(DRAIN_MIN, DRAIN_MAX)
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
    /// To the sampler thread; dropping it stops the thread.
    requests: Option<mpsc::Sender<Request>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the sampler thread is asked between its timed drains.
enum Request {
    /// Drain every ring now, start a new window, send the old one back.
    Take(mpsc::SyncSender<PerfWindow>),
}

impl PerfSampler {
    /// Opens an event on every current thread of the process (failing if
    /// none can be opened) and starts the sampler thread.
    pub fn start(config: PerfConfig) -> Result<PerfSampler, PerfError> {
        if !(MIN_HZ..=MAX_HZ).contains(&config.hz) {
            return Err(PerfError::Rate { hz: config.hz });
        }
        let mut threads = HashMap::new();
        let mut window = PerfWindow {
            period_ns: config.period_ns(),
            ..Default::default()
        };
        let first = rescan(&config, &mut threads, &mut window)?;
        if threads.is_empty() {
            return Err(first.unwrap_or(PerfError::NoProcess {
                pid: config.pid,
                path: task_dir(config.pid),
                source: std::io::Error::other("no threads"),
            }));
        }
        let (requests, inbox) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("flarego-perf".into())
            .spawn(move || run(config, threads, window, inbox))
            .map_err(PerfError::Thread)?;
        Ok(PerfSampler {
            config,
            requests: Some(requests),
            thread: Some(thread),
        })
    }

    pub fn config(&self) -> PerfConfig {
        self.config
    }

    /// What was sampled since the last call, rings drained up to now;
    /// starts a new window. Waits for the sampler thread (one drain).
    pub fn take(&self) -> PerfWindow {
        let (reply, answer) = mpsc::sync_channel(1);
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|r| r.send(Request::Take(reply)).is_ok());
        match answer.recv_timeout(TAKE_TIMEOUT) {
            Ok(w) if sent => w,
            _ => PerfWindow {
                period_ns: self.config.period_ns(),
                last_error: Some("the perf sampler thread is not answering".into()),
                ..Default::default()
            },
        }
    }
}

impl Drop for PerfSampler {
    fn drop(&mut self) {
        self.requests = None;
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
    w: &mut PerfWindow,
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
                w.open_errors += 1;
                w.last_error = Some(err.to_string());
                last = Some(err);
            }
        }
    }
    threads.retain(|tid, _| alive.contains(tid));
    w.threads = threads.len();
    Ok(last)
}

/// The sampler thread: drains every `drain_every`, rescans threads every
/// [`RESCAN`], answers [`Request::Take`], and ends when the
/// [`PerfSampler`] is dropped.
fn run(
    config: PerfConfig,
    mut threads: HashMap<i32, Tracked>,
    mut window: PerfWindow,
    inbox: mpsc::Receiver<Request>,
) {
    let period = config.period_ns();
    let drain_every = config.drain_every();
    let mut unwinder = GoUnwinder::new(config.pid);
    let mut last_scan = Instant::now();
    let mut gone_logged = false;
    loop {
        let request = match inbox.recv_timeout(drain_every) {
            Ok(r) => Some(r),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return,
        };
        if last_scan.elapsed() >= RESCAN {
            last_scan = Instant::now();
            unwinder.reload_maps();
            match rescan(&config, &mut threads, &mut window) {
                Ok(_) => gone_logged = false,
                Err(e) => {
                    threads.clear();
                    window.threads = 0;
                    window.last_error = Some(e.to_string());
                    if !gone_logged {
                        tracing::warn!(error = %e, "perf target gone; will retry");
                        gone_logged = true;
                    }
                }
            }
        }
        drain_all(&mut threads, &mut window, period, &mut unwinder);
        if let Some(Request::Take(reply)) = request {
            let fresh = PerfWindow {
                period_ns: window.period_ns,
                threads: window.threads,
                ..Default::default()
            };
            let _ = reply.send(std::mem::replace(&mut window, fresh));
        }
    }
}

fn drain_all(
    threads: &mut HashMap<i32, Tracked>,
    w: &mut PerfWindow,
    period: u64,
    unwinder: &mut GoUnwinder,
) {
    for t in threads.values_mut() {
        let last = &mut t.last_sample_cpu;
        t.event.drain(|kind, body| match kind {
            sys::RECORD_SAMPLE => {
                let Some(s) = sys::parse_sample(body) else {
                    return;
                };
                let mut chain = unwinder.repair(s.chain, s.regs, &s.stack);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drains_when_a_quarter_of_the_ring_could_be_full() {
        let at = |hz, buffer_pages| {
            PerfConfig {
                pid: 1,
                hz,
                buffer_pages,
            }
            .drain_every()
        };
        // 64 KiB ring at 100 Hz of 1700-byte samples: a quarter in 96 ms.
        assert_eq!(at(100, 16), Duration::from_millis(96));
        assert_eq!(at(1000, 16), DRAIN_MIN);
        // Bounded both ways.
        assert_eq!(at(10_000, 64), DRAIN_MIN);
        assert_eq!(at(1, 16), DRAIN_MAX);
    }
}
