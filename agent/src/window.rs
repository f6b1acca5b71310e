//! One window of one Go service, as a chunk for the server: the CPU
//! profile of the window, deltas of the cumulative profiles, a goroutine
//! census and runtime metrics. A source that fails is reported in the
//! chunk's `scrape_errors` metric and the log; the others go on.

use crate::census::Census;
use crate::delta::delta;
use crate::memstats::{MemStats, nearest_rank};
use crate::scrape::Scraper;
use crate::sources::PprofSources;
use flarego_proto::agent::v1::{Chunk, GoroutineGroup, MetricPoint, PprofProfile};
use flarego_proto::pprof::Profile;
use prost::Message;
use std::collections::HashMap;
use std::time::Duration;

/// Cumulative profiles the agent turns into per-window deltas.
pub const CUMULATIVE: [&str; 3] = ["allocs", "block", "mutex"];

/// What one window needs from the previous one.
#[derive(Debug, Default)]
pub struct Carry {
    /// Last scrape of each cumulative profile.
    pub previous: HashMap<String, Profile>,
    /// `NumGC` at the last memstats scrape.
    pub num_gc: Option<u64>,
}

/// Identity of the chunks an agent sends.
#[derive(Debug, Clone)]
pub struct ChunkMeta {
    pub agent_id: String,
    pub seq: u64,
    pub window_start_ns: i64,
    pub window: Duration,
    pub service: String,
    pub instance: String,
    pub labels: HashMap<String, String>,
}

impl ChunkMeta {
    /// The chunk of this window with nothing in it yet.
    pub fn empty_chunk(&self) -> Chunk {
        Chunk {
            agent_id: self.agent_id.clone(),
            seq: self.seq,
            window_start_ns: self.window_start_ns,
            window_ns: self.window.as_nanos().min(i64::MAX as u128) as i64,
            service: self.service.clone(),
            instance: self.instance.clone(),
            labels: self.labels.clone(),
            ..Default::default()
        }
    }
}

/// Scrapes one window and builds its chunk: the goroutine census at its
/// start, the CPU profile across it, and the rest at its end, so
/// per-window deltas cover the window. Only `sources` are scraped.
pub async fn collect(
    scraper: &Scraper,
    sources: PprofSources,
    carry: &mut Carry,
    meta: ChunkMeta,
) -> Chunk {
    let secs = meta.window.as_secs().max(1);
    let t = meta.window_start_ns;
    let mut metrics = Vec::new();
    let mut errors = 0u32;
    let point = |name: &str, value: f64| MetricPoint {
        name: name.to_string(),
        value,
        time_ns: t,
        labels: Default::default(),
    };
    let mut profiles = Vec::new();

    let cpu_endpoint = format!("profile?seconds={secs}");
    let cpu = async {
        if sources.has("cpu") {
            Some(scraper.profile(&cpu_endpoint).await)
        } else {
            tokio::time::sleep(meta.window).await;
            None
        }
    };
    let goroutines = async {
        if sources.has("goroutine") {
            Some(scraper.goroutines().await)
        } else {
            None
        }
    };
    let (cpu, goroutines) = tokio::join!(cpu, goroutines);
    match cpu {
        Some(Ok(p)) => profiles.push(PprofProfile {
            kind: "cpu".into(),
            pprof: p.encode_to_vec(),
            source: "pprof".into(),
        }),
        Some(Err(e)) => {
            errors += 1;
            tracing::warn!(error = %e, "cpu profile scrape failed");
        }
        None => {}
    }
    let mut groups = Vec::new();
    match goroutines {
        None => {}
        Some(Ok(gs)) => {
            let c = Census::of(&gs);
            for ((state, frames), count) in c.stacks {
                groups.push(GoroutineGroup {
                    state,
                    frames,
                    count,
                });
            }
            for (state, n) in &c.per_state {
                let mut m = point("go_goroutines", *n as f64);
                m.labels.insert("state".into(), state.clone());
                metrics.push(m);
            }
            for (state, minutes) in &c.longest_wait_minutes {
                let mut m = point("go_goroutines_wait_minutes_max", f64::from(*minutes));
                m.labels.insert("state".into(), state.clone());
                metrics.push(m);
            }
            metrics.push(point("go_goroutines_blocked", c.blocked as f64));
            metrics.push(point("go_goroutines_total", c.total as f64));
        }
        Some(Err(e)) => {
            errors += 1;
            tracing::warn!(error = %e, "goroutine scrape failed");
        }
    }
    if sources.has("heap") {
        match scraper.profile("heap").await {
            Ok(p) => profiles.push(PprofProfile {
                kind: "heap".into(),
                pprof: p.encode_to_vec(),
                source: "pprof".into(),
            }),
            Err(e) => {
                errors += 1;
                tracing::warn!(error = %e, "heap scrape failed");
            }
        }
    }
    for kind in CUMULATIVE.into_iter().filter(|k| sources.has(k)) {
        match scraper.profile(kind).await {
            Ok(p) => {
                // The first scrape only sets the baseline.
                if let Some(prev) = carry.previous.get(kind) {
                    let d = delta(&p, Some(prev));
                    profiles.push(PprofProfile {
                        kind: kind.into(),
                        pprof: d.encode_to_vec(),
                        source: "pprof".into(),
                    });
                }
                carry.previous.insert(kind.to_string(), p);
            }
            Err(e) => {
                errors += 1;
                tracing::warn!(error = %e, kind, "profile scrape failed");
            }
        }
    }
    if sources.has("memstats") {
        match scraper.memstats().await {
            Ok(m) => add_memstats(&m, carry, t, &mut metrics),
            Err(e) => {
                errors += 1;
                tracing::warn!(error = %e, "memstats scrape failed");
            }
        }
    }
    metrics.push(point("agent_scrape_errors", errors as f64));
    Chunk {
        profiles,
        goroutines: groups,
        metrics,
        ..meta.empty_chunk()
    }
}

fn add_memstats(m: &MemStats, carry: &mut Carry, t: i64, out: &mut Vec<MetricPoint>) {
    let point = |name: &str, value: f64| MetricPoint {
        name: name.to_string(),
        value,
        time_ns: t,
        labels: Default::default(),
    };
    out.push(point("go_heap_inuse_bytes", m.heap_inuse as f64));
    out.push(point("go_heap_alloc_bytes", m.heap_alloc as f64));
    out.push(point("go_heap_objects", m.heap_objects as f64));
    out.push(point("go_gc_count", m.num_gc as f64));
    if let Some(prev) = carry.num_gc {
        let (mut pauses, lost) = m.pauses_since(prev);
        for &p in &pauses {
            out.push(point("go_gc_pause_ns", p as f64));
        }
        // Quantiles of the window's pauses, for dashboards and alert
        // rules that should not aggregate raw points themselves.
        pauses.sort_unstable();
        for (name, q) in [
            ("go_gc_pause_p50_ns", 0.5),
            ("go_gc_pause_p99_ns", 0.99),
            ("go_gc_pause_max_ns", 1.0),
        ] {
            if let Some(v) = nearest_rank(&pauses, q) {
                out.push(point(name, v as f64));
            }
        }
        if lost > 0 {
            out.push(point("go_gc_pauses_lost", lost as f64));
        }
    }
    carry.num_gc = Some(m.num_gc);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Alert rules check metric names against the shared catalog; a
    /// metric added here must be added there.
    #[test]
    fn every_metric_the_agent_sends_is_in_the_shared_catalog() {
        let catalog = flarego_proto::agent_metrics::NAMES;
        let mut seen = 0;
        for src in [include_str!("window.rs"), include_str!("run.rs")] {
            for piece in src.split("point(\"").skip(1) {
                let name = &piece[..piece.find('"').unwrap()];
                assert!(
                    catalog.contains(&name),
                    "{name} is not in agent_metrics::NAMES"
                );
                seen += 1;
            }
        }
        assert!(seen >= 20, "found {seen} metric names");
    }

    fn named(out: &[MetricPoint], name: &str) -> Vec<f64> {
        out.iter()
            .filter(|p| p.name == name)
            .map(|p| p.value)
            .collect()
    }

    #[test]
    fn a_window_reports_its_own_gc_pauses_and_their_quantiles() {
        let mut m =
            MemStats::parse(include_bytes!("../../tests/data/debug-vars-go1.19.json")).unwrap();
        let mut carry = Carry::default();
        let mut first = Vec::new();
        add_memstats(&m, &mut carry, 1, &mut first);
        // The first reading only sets where the next window starts.
        assert!(named(&first, "go_gc_pause_ns").is_empty());
        assert!(named(&first, "go_gc_pause_max_ns").is_empty());

        // Four more collections: GC k's pause sits at (k - 1) % 256.
        let before = m.num_gc as usize;
        for (i, ns) in [400, 100, 300, 200].into_iter().enumerate() {
            m.pause_ns[before + i] = ns;
        }
        m.num_gc += 4;
        let mut second = Vec::new();
        add_memstats(&m, &mut carry, 2, &mut second);
        assert_eq!(
            named(&second, "go_gc_pause_ns"),
            vec![400.0, 100.0, 300.0, 200.0]
        );
        assert_eq!(named(&second, "go_gc_pause_p50_ns"), vec![200.0]);
        assert_eq!(named(&second, "go_gc_pause_p99_ns"), vec![400.0]);
        assert_eq!(named(&second, "go_gc_pause_max_ns"), vec![400.0]);

        // No collection in a window: no pause points, no quantiles.
        let mut third = Vec::new();
        add_memstats(&m, &mut carry, 3, &mut third);
        assert!(named(&third, "go_gc_pause_p50_ns").is_empty());
        assert_eq!(named(&third, "go_gc_count"), vec![m.num_gc as f64]);
    }
}
