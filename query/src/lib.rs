//! # flarego-query
//!
//! SQL over profiles. A request gets its own DataFusion session
//! ([`QueryEngine::session`]) holding two tables, each one
//! [`TableProvider`](datafusion::catalog::TableProvider) over one
//! [`TierSnapshot`](flarego_storage::TierSnapshot):
//!
//! ```text
//! SQL ─▶ SessionContext ─▶ profiles: ProfilesTable ─┬─ hot windows (MemorySourceConfig)
//!                        │                          └─ cold Parquet (ParquetSource, pruned)
//!                        │                          ─▶ union ─▶ frames_of(stack_id) attached late
//!                        └▶ metrics: MetricsTable  ── same, without frames
//! ```
//!
//! Grouping by `frames` is rewritten to grouping by `stack_id` with frames
//! attached per group ([`late_frames::LateFrames`]). Aggregates that
//! rollup files answer exactly read them for the aligned part of their
//! range ([`rollups::Rollups`]).
//!
//! Tenant scope is applied inside the scans ([`tables::ScanScope`]), below
//! SQL. Profiling functions live in [`udf`]; results are turned into JSON
//! rows by [`output`]. The read API's logic (flame graphs, top tables,
//! timelines, browsing, exports) is in [`read`]; stored `.fgo` snapshots
//! in [`snapshots`]; Pyroscope's read API's terms in [`pyroscope`].

pub mod catalog;
pub mod error;
pub mod late_frames;
pub mod output;
pub mod pyroscope;
pub mod read;
pub mod rollups;
#[cfg(test)]
mod rollups_tests;
pub mod session;
pub mod snapshots;
pub mod tables;
pub mod udf;

pub use error::{Error, Result};
pub use session::{QueryConfig, QueryEngine, QueryOutput, TenantTable};
