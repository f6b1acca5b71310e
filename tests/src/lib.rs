//! # flarego-tests
//!
//! Helpers for FlareGo's end-to-end tests (`tests/e2e/`) and SQL semantics
//! tests (`tests/slt/`):
//!
//! - [`server::TestServer`] starts the real `flarego` binary on port 0,
//!   waits for `/ready`, and kills it on drop.
//! - [`pprof::ProfileBuilder`] writes pprof profiles with known content.
//! - [`auth`] makes keys (openssl) and tokens, good and bad.
//! - [`goservice::GoService`] runs the Go service with known goroutines.
//! - [`gotool`] builds the Go workload under `tests/go/` and reads
//!   `go tool pprof -raw` output.
//! - [`fuzz`] mutates real inputs of every network decoder and checks
//!   each for panics, allocation past its budget and hangs.
//! - [`schema`] validates `.fgo` documents against their JSON Schema.
//! - [`slt`] runs `.slt` files against an in-process query engine holding
//!   both hot and cold data.

pub mod auth;
pub mod connect;
pub mod fuzz;
pub mod goservice;
pub mod gotool;
pub mod pprof;
pub mod receiver;
pub mod s3;
pub mod schema;
pub mod server;
pub mod slt;

/// The repository root (where `Cargo.toml` of the workspace is). The
/// directory cargo names at run time wins over the one compiled in, so a
/// test binary built from another checkout still reads this one.
pub fn repo_root() -> std::path::PathBuf {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    manifest_dir
        .parent()
        .map(|p| p.to_path_buf())
        .unwrap_or_else(|| std::path::PathBuf::from("."))
}

/// Every file below `dir`, as display strings (empty if `dir` is absent).
pub fn files_below(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_below(&p));
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}
