//! Retention: how long each tenant's profiles and metrics are kept, and
//! how much longer their rollups.
//!
//! ```text
//! Engine::snapshot ──▶ Cutoffs (per tenant, as of now), for raw rows
//!                      and for rollups ──▶ queries skip expired files
//!                      and filter rows by time
//! compactor tick ──▶ expire(): raw files wholly past their tenant's
//!                    cutoff leave the manifest in one version (committed
//!                    first), then their objects are deleted once no
//!                    query reads the version that listed them; a raw
//!                    file whose rollups are kept longer stays listed,
//!                    marked `raw_expired`, until they expire too
//! ```
//!
//! A file straddling the cutoff stays until all its rows are past it;
//! until then queries hide its expired rows. Stacks files are shared by
//! every tenant and kept.

use crate::engine::Engine;
use crate::error::Result;
use crate::manifest::{FileEntry, FileKind, Manifest};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

/// How long data is kept: a default and per-tenant overrides; `None`
/// keeps data for ever. Rollups are kept for `rollups` when that is
/// longer than a tenant's raw retention.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    pub default: Option<Duration>,
    pub per_tenant: BTreeMap<String, Duration>,
    pub rollups: Option<Duration>,
}

impl Retention {
    /// The oldest time (ns) of raw rows still kept per tenant, as of
    /// `now_ns`.
    pub fn cutoffs(&self, now_ns: i64) -> Cutoffs {
        Cutoffs {
            default: self.default.as_ref().map(|d| at(now_ns, d)),
            per_tenant: self
                .per_tenant
                .iter()
                .map(|(t, d)| (t.clone(), at(now_ns, d)))
                .collect(),
        }
    }

    /// The oldest time (ns) of rollup rows still kept per tenant: the
    /// raw cutoff, or `--rollup-retention` back when that is older.
    pub fn rollup_cutoffs(&self, now_ns: i64) -> Cutoffs {
        let raw = self.cutoffs(now_ns);
        let Some(longer) = self.rollups.as_ref().map(|d| at(now_ns, d)) else {
            return raw;
        };
        Cutoffs {
            default: raw.default.map(|c| c.min(longer)),
            per_tenant: raw
                .per_tenant
                .into_iter()
                .map(|(t, c)| (t, c.min(longer)))
                .collect(),
        }
    }
}

fn at(now_ns: i64, d: &Duration) -> i64 {
    now_ns.saturating_sub(d.as_nanos().min(i64::MAX as u128) as i64)
}

/// Per tenant, the oldest `time` (ns) a query may return.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cutoffs {
    pub default: Option<i64>,
    pub per_tenant: BTreeMap<String, i64>,
}

impl Cutoffs {
    /// The cutoff of `tenant`, if its data expires.
    pub fn of(&self, tenant: &str) -> Option<i64> {
        self.per_tenant.get(tenant).copied().or(self.default)
    }

    /// Whether nothing expires.
    pub fn is_none(&self) -> bool {
        self.default.is_none() && self.per_tenant.is_empty()
    }

    /// Whether every row of `f` is past its tenant's cutoff.
    fn expired(&self, f: &FileEntry) -> bool {
        let tenant = f.tenant.as_deref().unwrap_or_default();
        self.of(tenant).is_some_and(|c| f.max_time_ns < c)
    }
}

/// Drops files wholly past their tenant's cutoff from the manifest, then
/// deletes them. Returns how many objects went.
pub(crate) async fn expire(engine: &Engine) -> Result<usize> {
    let r = expire_now(engine).await;
    if let Err(e) = &r {
        engine.note_failure(e);
    }
    r
}

async fn expire_now(engine: &Engine) -> Result<usize> {
    let now = crate::engine::now_ns();
    let retention = &engine.config().retention;
    let (raw, rollups) = (retention.cutoffs(now), retention.rollup_cutoffs(now));
    if raw.is_none() {
        return Ok(0);
    }
    let _guard = engine.inner.compaction.lock().await;
    let manifest = engine.read_state().manifest.clone();
    let mut next = Manifest::clone(&manifest);
    let mut doomed: Vec<String> = Vec::new();
    let mut gone: HashSet<String> = HashSet::new();
    for f in &mut next.files {
        if f.kind == FileKind::Stacks || f.is_rollup() {
            continue;
        }
        if rollups.expired(f) {
            // The entry and its rollups go.
            if !f.raw_expired {
                doomed.push(f.path.clone());
            }
            doomed.extend(f.rollups.iter().map(|r| r.path.clone()));
            gone.insert(f.path.clone());
            gone.extend(f.rollups.iter().map(|r| r.path.clone()));
        } else if !f.raw_expired && raw.expired(f) {
            if f.rollups.is_empty() {
                gone.insert(f.path.clone());
            } else {
                f.raw_expired = true; // its rollups stay
            }
            doomed.push(f.path.clone());
        }
    }
    if doomed.is_empty() {
        return Ok(0);
    }
    next.generation += 1;
    next.files.retain(|f| !gone.contains(&f.path));
    engine.commit_manifest(&manifest, &next).await?;
    drop(manifest);
    let n = doomed.len();
    engine.publish_without(next, doomed).await;
    tracing::info!(files = n, "expired files removed (retention)");
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tenant_override_wins_over_the_default() {
        let r = Retention {
            default: Some(Duration::from_secs(100)),
            per_tenant: [("gold".to_string(), Duration::from_secs(1000))].into(),
            rollups: Some(Duration::from_secs(500)),
        };
        let c = r.cutoffs(10_000_000_000_000);
        assert_eq!(c.of("gold"), Some(10_000_000_000_000 - 1_000_000_000_000));
        assert_eq!(c.of("other"), Some(10_000_000_000_000 - 100_000_000_000));
        assert!(Retention::default().cutoffs(0).is_none());
        // Rollups: the longer of the two.
        let rc = r.rollup_cutoffs(10_000_000_000_000);
        assert_eq!(rc.of("gold"), c.of("gold"));
        assert_eq!(rc.of("other"), Some(10_000_000_000_000 - 500_000_000_000));
    }
}
