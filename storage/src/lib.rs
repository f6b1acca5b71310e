//! # flarego-storage
//!
//! Where profile data lives, from the moment a write is accepted until
//! retention deletes it.
//!
//! ```text
//! Engine::write(payload, WriteBatch)
//!     │ payload ──▶ Wal (group commit, fdatasync)          wal.rs, writer.rs
//!     │ rows    ──▶ HotWindow chunks (20 B per sample row)   hot.rs
//!     │         └──▶ LiveFeed ring (live tail, by LSN)         live.rs
//!     ▼
//! compactor (every compaction_interval)                      compactor.rs
//!     seals closed windows ──▶ compact(): sum, sort, Parquet  compact.rs
//!     ──▶ object store: local dir, S3, GCS (timeouts, retries) store.rs
//!         (tenant=…/date=…/hour=…/…-<node>.parquet, create-once) paths.rs
//!     ──▶ manifest delta, created once; checkpoints           manifest_log.rs
//!     ──▶ WAL segments released
//!     store failing: health on /ready, 503 past high-water    health.rs
//!     closed hours: small files merged into one sorted file  merge.rs, kway.rs
//!     (streamed: one batch per input), stacks files likewise
//!     and, from the same stream, rollups: 1 m per hour, 1 h per day rollup.rs
//!     files past their tenant's retention: manifest, then delete  retention.rs
//!     samples/metrics files list their series in the footer   series_index.rs
//! Engine::open: format version checked (format.rs; upgrades live in the
//!     flarego-migrations crate), node id (node.rs), manifest log loaded
//! Engine::snapshot() ──▶ TierSnapshot (hot windows + manifest + retention
//!     cutoffs, one lock)
//! ```
//!
//! The main types are [`Engine`], [`WriteBatch`], [`TierSnapshot`],
//! [`Manifest`], [`StackTable`] and the schemas in [`schema`]. Rows of a
//! window are in exactly one of: the hot map, the persisting list, the
//! manifest's files; moves between them happen under one lock, so readers
//! count every row once. On start-up the WAL is replayed, skipping rows of
//! windows the manifest says already hold them ([`Manifest::is_persisted`]).
//!
//! The WAL payload is opaque here: the ingest layer logs raw requests and
//! hands a [`ReplayDecoder`] to decode them again on replay.

pub mod arrays;
pub mod cold_stacks;
pub mod compact;
pub mod compactor;
pub mod config;
pub mod engine;
pub mod error;
pub mod format;
pub mod health;
pub mod hot;
pub mod ids;
pub mod intern;
mod kway;
pub mod live;
mod locks;
pub mod manifest;
pub mod manifest_log;
pub(crate) mod merge;
mod merge_order;
pub mod model;
pub mod node;
pub mod paths;
mod prepare;
pub mod published;
pub mod retention;
pub mod rollup;
pub mod schema;
pub mod sequences;
pub mod series;
mod series_gc;
pub mod series_index;
mod stack_cache;
pub mod store;
pub mod supervise;
pub mod verify;
pub mod wal;
mod writer;

pub use compactor::CompactionReport;
pub use config::{ColdStoreConfig, StorageConfig};
pub use engine::{Engine, EngineStats, HotUsage, ReplayDecoder, TierSnapshot};
pub use error::{Error, Result};
pub use ids::{KeyedHash, Lsn, StackId, TenantId, WindowStart};
pub use intern::StackTable;
pub use manifest::{FileEntry, FileKind, Manifest, RollupRef};
pub use model::{Frames, MetricKey, MetricPoint, SeriesKey, SeriesSamples, WriteBatch};
pub use published::PublishedManifest;
pub use retention::{Cutoffs, Retention};
pub use sequences::{SequenceMark, Sequenced};
pub use series::SeriesTable;
pub use store::{StoreOptions, StoreUrl};
pub use supervise::{FailureWatch, blocking};
pub use wal::ReplayReport;
