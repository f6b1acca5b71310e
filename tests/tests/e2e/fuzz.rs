//! A short fuzz run of every network decoder (the long one is
//! `flarego-bench fuzz`, figures in docs/BENCHMARKS.md): mutations of real
//! captured inputs, none of which may panic, allocate past the request's
//! memory budget, or hang.

use flarego_tests::fuzz::{self, targets};

#[global_allocator]
static ALLOC: fuzz::alloc::CountingAlloc = fuzz::alloc::CountingAlloc::new();

#[test]
fn every_decoder_survives_mutated_real_inputs() {
    let data = flarego_tests::repo_root().join("tests/data");
    let targets = targets::targets(&data).unwrap();
    let budget = targets::fuzz_limits().max_request_memory_bytes;
    let per_target: u64 = std::env::var("FLAREGO_FUZZ_INPUTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    for t in &targets {
        let r = fuzz::run(t, per_target, 0xF1A2E60, Some(&ALLOC), budget);
        if let Some((why, input)) = &r.failure {
            let path = std::env::temp_dir().join(format!("flarego-fuzz-{}.bin", t.name));
            let _ = std::fs::write(&path, input);
            panic!("{}: {why} (input saved to {})", t.name, path.display());
        }
        assert_eq!(r.inputs, per_target);
        assert!(
            r.accepted >= t.seeds.len() as u64,
            "{}: a seed was refused",
            t.name
        );
        assert!(
            r.max_alloc_bytes > 0,
            "{}: allocation was not measured",
            t.name
        );
    }
}
