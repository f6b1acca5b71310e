//! The perf sampler: CPU stacks of any process by pid, without its help.
//!
//! ```text
//! /proc/PID/task/* ──▶ perf_event_open(cpu-clock, period = 1/hz of CPU time)   sys.rs
//!                       one event + ring buffer per thread
//! sampler thread ──drain every 10 ms──▶ PerfWindow { call chains → count,      sampler.rs
//!                                        on-CPU ns, jitter, lost }
//! take() each window ──▶ Symbolizer (/proc/PID/maps + ELF symtab)               symbols.rs
//!                     ──▶ pprof Profile (samples/count, cpu/nanoseconds)         profile.rs
//! ```
//!
//! The kernel walks user stacks by frame pointer (Go keeps them); for Go
//! code the sampler repairs what that walk misses (the caller of a
//! frameless leaf) from the sampled SP, the top of the stack and Go's own
//! function table, and marks chains it cannot trust (`unwind.rs`). A
//! sample taken while the thread was in the kernel gets a `[kernel]` leaf.

pub mod gopclntab;
pub mod profile;
pub mod sampler;
pub mod symbols;
pub mod sys;
pub mod unwind;

pub use profile::to_pprof;
pub use sampler::{MAX_HZ, MIN_HZ, PerfConfig, PerfError, PerfSampler, PerfWindow};
pub use symbols::Symbolizer;
