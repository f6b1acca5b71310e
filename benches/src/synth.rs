//! A synthetic Go service: a fixed pool of stacks drawn from a skewed
//! distribution, one CPU pprof per 10 s window, as Go's runtime writes it
//! (sample types `samples/count` and `cpu/nanoseconds`, 100 Hz).

use flarego_proto::pprof::{Function, Line, Location, Profile, Sample, ValueType};
use prost::Message;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Write;

/// Shape of the synthetic data.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub windows: usize,
    pub stacks: usize,
    /// Mean pprof samples per window.
    pub samples_per_window: usize,
    pub seed: u64,
    /// Every stack of the pool in every window (a busy service), instead
    /// of a skewed draw.
    pub every_stack: bool,
}

impl Default for Shape {
    /// One hour: 360 windows of 10 s, 2,000 stacks, about 1,500 samples each.
    fn default() -> Self {
        Shape {
            windows: 360,
            stacks: 2000,
            samples_per_window: 1513,
            seed: 7,
            every_stack: false,
        }
    }
}

/// The stack pool: root-first function names.
pub fn stack_pool(shape: &Shape) -> Vec<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(shape.seed);
    let pkgs = [
        "net/http",
        "encoding/json",
        "database/sql",
        "runtime",
        "sync",
        "github.com/acme/api/handlers",
        "github.com/acme/api/store",
        "google.golang.org/grpc",
        "compress/gzip",
        "crypto/tls",
    ];
    let funcs: Vec<String> = (0..600)
        .map(|i| {
            let p = pkgs[i % pkgs.len()];
            if i % 3 == 0 {
                format!("{p}.(*T{}).Method{}", i % 17, i)
            } else {
                format!("{p}.func{i}")
            }
        })
        .collect();
    (0..shape.stacks)
        .map(|_| {
            let depth = rng.random_range(8..32);
            let mut s = vec!["runtime.goexit".to_string(), "main.main".to_string()];
            for _ in 2..depth {
                s.push(funcs[rng.random_range(0..funcs.len())].clone());
            }
            s
        })
        .collect()
}

/// One window's samples: `(index into the pool, count)`, each stack once.
pub fn window_samples(pool: &[Vec<String>], shape: &Shape, window: usize) -> Vec<(usize, i64)> {
    let mut rng =
        StdRng::seed_from_u64(shape.seed ^ (window as u64 + 1).wrapping_mul(0x9e3779b97f4a7c15));
    let n =
        rng.random_range(shape.samples_per_window * 9 / 10..=shape.samples_per_window * 11 / 10);
    // Skewed choice: a few hot stacks, a long tail; each stack once per profile.
    let mut chosen = std::collections::BTreeSet::new();
    if shape.every_stack {
        chosen.extend(0..pool.len());
    }
    while chosen.len() < n.min(pool.len()) {
        let u: f64 = rng.random();
        chosen.insert(((u * u * u) * pool.len() as f64) as usize % pool.len());
        if chosen.len() >= pool.len() {
            break;
        }
    }
    chosen
        .into_iter()
        .map(|idx| (idx, 1 + (rng.random::<f64>().powi(4) * 40.0) as i64))
        .collect()
}

/// One window's CPU profile: `(gzipped pprof, number of pprof samples)`.
pub fn window_profile(
    pool: &[Vec<String>],
    shape: &Shape,
    window: usize,
    time_ns: i64,
) -> (Vec<u8>, usize) {
    let mut p = Profile {
        string_table: vec![
            String::new(),
            "samples".into(),
            "count".into(),
            "cpu".into(),
            "nanoseconds".into(),
        ],
        sample_type: vec![
            ValueType { r#type: 1, unit: 2 },
            ValueType { r#type: 3, unit: 4 },
        ],
        period_type: Some(ValueType { r#type: 3, unit: 4 }),
        period: 10_000_000,
        time_nanos: time_ns,
        duration_nanos: 10_000_000_000,
        ..Default::default()
    };
    let mut func_ids = std::collections::HashMap::new();
    let mut samples = 0;
    for (idx, count) in window_samples(pool, shape, window) {
        let stack = &pool[idx];
        let mut locs = Vec::with_capacity(stack.len());
        for name in stack.iter().rev() {
            let next = func_ids.len() as u64 + 1;
            let id = *func_ids.entry(name.clone()).or_insert_with(|| {
                let s = p.string_table.len() as i64;
                p.string_table.push(name.clone());
                p.function.push(Function {
                    id: next,
                    name: s,
                    system_name: s,
                    filename: 0,
                    start_line: 0,
                });
                p.location.push(Location {
                    id: next,
                    mapping_id: 0,
                    address: 0x400000 + next * 16,
                    line: vec![Line {
                        function_id: next,
                        line: 10,
                        column: 0,
                    }],
                    is_folded: false,
                });
                next
            });
            locs.push(id);
        }
        p.sample.push(Sample {
            location_id: locs,
            value: vec![count, count * 10_000_000],
            label: vec![],
        });
        samples += 1;
    }
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = e.write_all(&p.encode_to_vec());
    (e.finish().unwrap_or_default(), samples)
}
