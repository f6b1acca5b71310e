//! Fuzzing the decoders that take network input: every input is a
//! mutation of a real one ([`mutate`]), run through its decoder
//! ([`targets`]); a run fails on the first input that panics, allocates
//! past the request's memory budget (measured by [`alloc::CountingAlloc`]
//! when the binary installs it), or runs longer than a second.
//!
//! The test command runs a short, seeded run of every target
//! (`tests/e2e/fuzz.rs`); `flarego-bench fuzz` runs the long one.

pub mod alloc;
pub mod mutate;
pub mod targets;

use rand::SeedableRng;
use rand::rngs::StdRng;
use std::time::{Duration, Instant};

/// Allocation past the budget allowed for the input itself and the
/// decoder's fixed state (gzip tables, parser buffers).
pub const SLACK_BYTES: usize = 4 << 20;
/// An input running longer than this is a hang.
pub const HANG: Duration = Duration::from_secs(1);

/// What one run of one target saw.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub target: &'static str,
    pub inputs: u64,
    /// Inputs the decoder accepted (the rest were refused with an error).
    pub accepted: u64,
    /// Largest allocation peak of one input, bytes (0 if not measured).
    pub max_alloc_bytes: usize,
    pub slowest: Duration,
    pub elapsed: Duration,
    /// The first failure: what, and the input that caused it.
    pub failure: Option<(String, Vec<u8>)>,
}

/// Runs `inputs` mutations of `target`'s seeds, from `seed`. With
/// `alloc`, each input's allocation peak is checked against `budget`.
pub fn run(
    target: &targets::Target,
    inputs: u64,
    seed: u64,
    alloc: Option<&alloc::CountingAlloc>,
    budget: usize,
) -> Report {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut r = Report {
        target: target.name,
        ..Default::default()
    };
    let started = Instant::now();
    // The seeds themselves first: they must decode.
    let seeds = target.seeds.iter().cloned().map(Some);
    let mutated = std::iter::repeat_with(|| None);
    for input in seeds.chain(mutated).take(inputs as usize) {
        let input = input.unwrap_or_else(|| (target.mutate)(&mut rng, &target.seeds));
        let base = alloc.map(|a| {
            a.reset_peak();
            a.now()
        });
        let t = Instant::now();
        let outcome =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (target.run)(&input)));
        let took = t.elapsed();
        r.inputs += 1;
        r.slowest = r.slowest.max(took);
        let failed = match outcome {
            Err(p) => Some(format!(
                "panicked: {}",
                p.downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| p.downcast_ref::<String>().cloned())
                    .unwrap_or_default()
            )),
            Ok(ok) => {
                r.accepted += u64::from(ok);
                let peak = match (alloc, base) {
                    (Some(a), Some(b)) => a.peak().saturating_sub(b),
                    _ => 0,
                };
                r.max_alloc_bytes = r.max_alloc_bytes.max(peak);
                if peak > budget + SLACK_BYTES {
                    Some(format!(
                        "allocated {peak} bytes, over the budget of {budget} (+{SLACK_BYTES} slack)"
                    ))
                } else if took > HANG {
                    Some(format!("took {took:?}"))
                } else {
                    None
                }
            }
        };
        if let Some(why) = failed {
            r.failure = Some((why, input));
            break;
        }
    }
    r.elapsed = started.elapsed();
    r
}
