//! # flarego-agent
//!
//! The agent that runs beside a service and streams one chunk per window
//! to a FlareGo server ([`run::run`] is the loop, `flarego agent` the CLI).
//!
//! ```text
//! pprof sources (a Go service's net/http/pprof)                     window.rs
//!   GET /debug/pprof/profile?seconds=W ──▶ CPU of the window
//!   GET /debug/pprof/goroutine?debug=2 ──▶ goroutines::parse ──▶ census::Census
//!                                          (count per state and stack, blocked)
//!   GET /debug/pprof/heap; {allocs,block,mutex} ──▶ delta::delta (per window)
//!   GET /debug/vars ──▶ memstats (heap, GC count, pauses in the window)
//! perf source (any pid)                                              perf/
//!   perf_event_open cpu-clock per thread ──▶ call chains ──▶ ELF symbols ──▶ pprof
//! own cost: selfstats (CPU%, RSS)
//!        │
//!        ▼
//! Chunk { agent id, seq, profiles, goroutines, metrics }             run.rs
//!        ──▶ Outbox (bounded, oldest dropped; on disk with            outbox.rs
//!            --buffer-dir)                                          spool.rs
//!        ──▶ upload::run: gRPC bidi / WebSocket, acks, backoff       upload/
//! ```
//!
//! `--pprof-profiles` picks which pprof sources run (all by default; see
//! [`sources`]). A source that fails is logged and counted and retried
//! next window.

pub mod census;
pub mod delta;
pub mod goroutines;
pub mod memstats;
pub mod outbox;
pub mod perf;
pub mod run;
pub mod scrape;
pub mod selfstats;
pub mod sources;
pub mod spool;
pub mod upload;
pub mod window;
