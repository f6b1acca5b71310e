//! The perf sampler on a real Go process (`main.spin` burns CPU in two
//! goroutines): the achieved rate matches the configured one within 5%
//! at 100 and 1000 Hz, and the symbolized profile puts `main.spin` on top.

use flarego_agent::perf::{PerfConfig, PerfSampler, Symbolizer, to_pprof};
use flarego_tests::goservice::GoService;
use std::collections::HashMap;
use std::time::Duration;

#[test]
fn achieved_rate_is_within_5_percent_and_main_spin_is_on_top() {
    let tmp = tempfile::tempdir().unwrap();
    let go = GoService::start(tmp.path()).unwrap();
    for hz in [100u32, 1000] {
        let sampler = PerfSampler::start(PerfConfig {
            pid: go.pid(),
            hz,
            buffer_pages: 64,
        })
        .unwrap_or_else(|e| {
            panic!("{e}; the perf sampler needs perf_event_open (run as root or lower kernel.perf_event_paranoid)")
        });
        std::thread::sleep(Duration::from_secs(3));
        let w = sampler.take();
        drop(sampler);
        let achieved = w.achieved_hz().expect("the Go process used CPU");
        let err = (achieved - f64::from(hz)).abs() / f64::from(hz);
        assert!(
            err <= 0.05,
            "at {hz} Hz the sampler achieved {achieved:.1} Hz ({} samples over {} ms of CPU)",
            w.samples,
            w.on_cpu_ns / 1_000_000
        );
        assert!(
            w.samples > u64::from(hz),
            "{} samples at {hz} Hz",
            w.samples
        );

        let mut symbols = Symbolizer::new(go.pid());
        let p = to_pprof(&w, &mut symbols, 0);
        let name = |loc: u64| -> String {
            let l = &p.location[(loc - 1) as usize];
            let f = &p.function[(l.line[0].function_id - 1) as usize];
            p.string_table[f.name as usize].clone()
        };
        let mut per_leaf: HashMap<String, i64> = HashMap::new();
        for s in &p.sample {
            *per_leaf.entry(name(s.location_id[0])).or_default() += s.value[1];
        }
        let total: i64 = per_leaf.values().sum();
        let (top, top_ns) = per_leaf.iter().max_by_key(|(_, v)| **v).unwrap();
        assert_eq!(top, "main.spin", "leaf CPU at {hz} Hz: {per_leaf:?}");
        assert!(top_ns * 2 > total, "main.spin {top_ns} of {total} ns");
        // Whole stacks: main.spin is called from the goroutine's entry.
        let spin_stack = p
            .sample
            .iter()
            .find(|s| name(s.location_id[0]) == "main.spin")
            .unwrap();
        let frames: Vec<String> = spin_stack.location_id.iter().map(|l| name(*l)).collect();
        assert!(
            frames
                .iter()
                .any(|f| f == "runtime.goexit" || f.starts_with("main."))
                && frames.len() >= 2,
            "stack of main.spin: {frames:?}"
        );
    }
}
