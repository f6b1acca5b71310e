//! # flarego-migrations
//!
//! The versioned changes of FlareGo's on-disk format (the manifest, the
//! Parquet schema, the WAL record format), one numbered step each, run
//! forward only, before the storage engine opens the data.
//!
//! ```text
//! plan(config):    open the store ──▶ format::detect ──▶ steps above it
//! upgrade(config): plan ──▶ log every step ──▶ run each ──▶ format::record
//! ```
//!
//! Each step is idempotent: a crash in the middle leaves the older format
//! recorded, and the step runs again from its start on the next attempt.
//! `fixtures/` holds data directories written by older versions, which
//! the tests upgrade and query.

mod m0002_manifest_log;
mod m0003_rollups;

use flarego_storage::StorageConfig;
use flarego_storage::format::{self, CURRENT};
use object_store::ObjectStore;
use std::sync::Arc;

/// What went wrong while migrating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Storage(#[from] flarego_storage::Error),
    #[error("migration {step} failed: {reason}")]
    Step { step: &'static str, reason: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One forward step.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// The format the step produces (from the one below it).
    pub to: u32,
    pub name: &'static str,
    /// What it changes, for the plan.
    pub what: &'static str,
}

/// Every step, in order.
pub const STEPS: &[Step] = &[m0002_manifest_log::STEP, m0003_rollups::STEP];

/// What an upgrade would do.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The format found (0: fresh, nothing to do).
    pub from: u32,
    pub to: u32,
    pub steps: Vec<Step>,
}

impl std::fmt::Display for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.steps.is_empty() {
            let found = if self.from == 0 {
                "fresh".to_string()
            } else {
                format!("format {}", self.from)
            };
            return write!(
                f,
                "data is {found}; this server's format is {CURRENT}: nothing to migrate"
            );
        }
        writeln!(
            f,
            "data is format {}; upgrading to format {}:",
            self.from, self.to
        )?;
        for s in &self.steps {
            writeln!(f, "  {:04} {}: {}", s.to, s.name, s.what)?;
        }
        Ok(())
    }
}

struct Opened {
    store: Arc<dyn ObjectStore>,
    from: u32,
}

async fn open(config: &StorageConfig) -> Result<Opened> {
    flarego_storage::store::probe(config).await?;
    let store = flarego_storage::store::open(config)?;
    let from = format::detect(store.as_ref(), &config.wal_dir()).await?;
    Ok(Opened { store, from })
}

fn plan_from(from: u32) -> Result<Plan> {
    if from > CURRENT {
        return Err(Error::Storage(flarego_storage::Error::Format(format!(
            "the data is of format {from}, written by a newer FlareGo; this build knows formats up to {CURRENT} and migrates only forward"
        ))));
    }
    let steps = if from == 0 {
        Vec::new()
    } else {
        STEPS.iter().filter(|s| s.to > from).copied().collect()
    };
    Ok(Plan {
        from,
        to: CURRENT,
        steps,
    })
}

/// What [`upgrade`] would do, changing nothing.
pub async fn plan(config: &StorageConfig) -> Result<Plan> {
    plan_from(open(config).await?.from)
}

/// Brings the data up to the current format, saying first what it does.
/// Holds the data directory's lock while it runs.
pub async fn upgrade(config: &StorageConfig) -> Result<Plan> {
    std::fs::create_dir_all(&config.data_dir).map_err(|source| {
        flarego_storage::Error::DataDir {
            path: config.data_dir.clone(),
            source,
        }
    })?;
    let _lock = flarego_storage::engine::lock_data_dir(&config.data_dir)?;
    let opened = open(config).await?;
    let plan = plan_from(opened.from)?;
    if plan.steps.is_empty() {
        // A step that recorded its format but crashed before its cleanup.
        m0002_manifest_log::finish(opened.store.as_ref()).await?;
        return Ok(plan);
    }
    tracing::warn!(
        from = plan.from,
        to = plan.to,
        steps = plan.steps.len(),
        "upgrading the data format (forward only)"
    );
    for step in &plan.steps {
        tracing::warn!(
            step = step.name,
            to = step.to,
            what = step.what,
            "migration step starting"
        );
        match step.to {
            2 => m0002_manifest_log::run(config, &opened.store).await?,
            3 => {} // nothing to rewrite
            other => {
                return Err(Error::Step {
                    step: step.name,
                    reason: format!("no code for format {other}"),
                });
            }
        }
        format::record(opened.store.as_ref(), step.to).await?;
        if step.to == 2 {
            m0002_manifest_log::finish(opened.store.as_ref()).await?;
        }
        tracing::warn!(step = step.name, to = step.to, "migration step done");
    }
    Ok(plan)
}
