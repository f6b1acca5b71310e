//! # flarego-agent
//!
//! The agent that runs beside a Go service. This version holds its first
//! parts: [`scrape::Scraper`] fetches a service's endpoints, and readers
//! turn what it fetches into what FlareGo stores:
//!
//! ```text
//! GET /debug/pprof/goroutine?debug=2 ──▶ goroutines::parse ──▶ Vec<Goroutine>
//!                                         (id, state, wait minutes, frames, created by)
//!                                     ──▶ census::Census::of ──▶ count per (state, stack),
//!                                         per state, blocked
//! GET /debug/pprof/{allocs,block,mutex} ──▶ delta::delta(current, previous)
//!                     ──▶ what happened in the window (pprof)
//! GET /debug/vars ──▶ memstats::MemStats::parse ──▶ heap, GC count,
//!                     pauses_since(previous NumGC)
//! ```
//!
//! Scraping, windowing and the upload to the server build on it.

pub mod census;
pub mod delta;
pub mod goroutines;
pub mod memstats;
pub mod outbox;
pub mod perf;
pub mod run;
pub mod scrape;
pub mod selfstats;
pub mod upload;
pub mod window;
