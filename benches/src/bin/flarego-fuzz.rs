//! `flarego-fuzz`: the long fuzz run of every network decoder (see
//! `flarego_tests::fuzz`). Mutations of real captured inputs; each input
//! is checked for panics, allocation past the request's memory budget
//! (this binary counts every allocation) and hangs. Prints a Markdown row
//! per decoder; exits non-zero on the first failure, saving its input.

use clap::Parser;
use flarego_tests::fuzz::{self, targets};

#[global_allocator]
static ALLOC: fuzz::alloc::CountingAlloc = fuzz::alloc::CountingAlloc::new();

#[derive(Debug, Parser)]
#[command(name = "flarego-fuzz")]
struct Args {
    /// Inputs per decoder.
    #[arg(long, default_value_t = 10_000_000)]
    inputs: u64,
    /// Only this decoder (pprof, push, push-json, folded, agent-chunk,
    /// legacy-name, legacy-multipart, jwt).
    #[arg(long)]
    target: Option<String>,
    /// Seed of the mutations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let data = flarego_tests::repo_root().join("tests/data");
    let budget = targets::fuzz_limits().max_request_memory_bytes;
    println!(
        "| decoder | inputs | accepted | largest allocation of one input | slowest input | inputs/s |"
    );
    println!("|---|---|---|---|---|---|");
    for t in targets::targets(&data)? {
        if args.target.as_deref().is_some_and(|n| n != t.name) {
            continue;
        }
        let r = fuzz::run(&t, args.inputs, args.seed, Some(&ALLOC), budget);
        println!(
            "| {} | {} | {} | {:.1} MiB | {:.1} ms | {:.0} |",
            r.target,
            r.inputs,
            r.accepted,
            r.max_alloc_bytes as f64 / (1 << 20) as f64,
            r.slowest.as_secs_f64() * 1e3,
            r.inputs as f64 / r.elapsed.as_secs_f64()
        );
        if let Some((why, input)) = r.failure {
            let path = std::env::temp_dir().join(format!("flarego-fuzz-{}.bin", r.target));
            std::fs::write(&path, input)?;
            anyhow::bail!("{}: {why} (input saved to {})", r.target, path.display());
        }
    }
    Ok(())
}
