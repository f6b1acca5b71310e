//! Table providers: each table is one [`TableProvider`] that unions the hot
//! windows and the cold Parquet files of one [`TierSnapshot`], so a row is
//! read from exactly one tier.
//!
//! [`TableProvider`]: datafusion::catalog::TableProvider
//! [`TierSnapshot`]: flarego_storage::TierSnapshot

pub(crate) mod bounds;
mod hot;
mod metrics;
mod profiles;
mod rollup_files;
mod scan;

pub use metrics::MetricsTable;
pub use profiles::{ProfilesTable, profiles_schema};
pub use rollup_files::{RollupPlan, split};
pub use scan::{COLD_STORE_URL, ScanScope};
