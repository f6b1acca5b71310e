//! Retention: how long each tenant's profiles and metrics are kept.
//!
//! ```text
//! Engine::snapshot ──▶ Cutoffs (per tenant, as of now) ──▶ queries
//!                      skip expired files and filter rows by time
//! compactor tick ──▶ expire(): files wholly past their tenant's cutoff
//!                    leave the manifest in one version (committed
//!                    first), then their objects are deleted once no
//!                    query reads the version that listed them
//! ```
//!
//! A file straddling the cutoff stays until all its rows are past it;
//! until then queries hide its expired rows. Stacks files are shared by
//! every tenant and kept.

use crate::engine::Engine;
use crate::error::Result;
use crate::manifest::{FileKind, Manifest};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long data is kept: a default and per-tenant overrides; `None`
/// keeps data for ever.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Retention {
    pub default: Option<Duration>,
    pub per_tenant: BTreeMap<String, Duration>,
}

impl Retention {
    /// The oldest time (ns) still kept per tenant, as of `now_ns`.
    pub fn cutoffs(&self, now_ns: i64) -> Cutoffs {
        let at = |d: &Duration| now_ns.saturating_sub(d.as_nanos().min(i64::MAX as u128) as i64);
        Cutoffs {
            default: self.default.as_ref().map(at),
            per_tenant: self
                .per_tenant
                .iter()
                .map(|(t, d)| (t.clone(), at(d)))
                .collect(),
        }
    }
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
}

/// Drops files wholly past their tenant's cutoff from the manifest, then
/// deletes them. Returns how many files went.
pub(crate) async fn expire(engine: &Engine) -> Result<usize> {
    let r = expire_now(engine).await;
    if let Err(e) = &r {
        engine.note_failure(e);
    }
    r
}

async fn expire_now(engine: &Engine) -> Result<usize> {
    let cutoffs = engine.config().retention.cutoffs(crate::engine::now_ns());
    if cutoffs.is_none() {
        return Ok(0);
    }
    let _guard = engine.inner.compaction.lock().await;
    let manifest = engine.read_state().manifest.clone();
    let expired: Vec<String> = manifest
        .files
        .iter()
        .filter(|f| f.kind != FileKind::Stacks)
        .filter(|f| {
            let tenant = f.tenant.as_deref().unwrap_or_default();
            cutoffs.of(tenant).is_some_and(|c| f.max_time_ns < c)
        })
        .map(|f| f.path.clone())
        .collect();
    if expired.is_empty() {
        return Ok(0);
    }
    let mut next = Manifest::clone(&manifest);
    next.generation += 1;
    next.files.retain(|f| !expired.contains(&f.path));
    engine.commit_manifest(&manifest, &next).await?;
    drop(manifest);
    let n = expired.len();
    engine.publish_without(next, expired).await;
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
        };
        let c = r.cutoffs(10_000_000_000_000);
        assert_eq!(c.of("gold"), Some(10_000_000_000_000 - 1_000_000_000_000));
        assert_eq!(c.of("other"), Some(10_000_000_000_000 - 100_000_000_000));
        assert!(Retention::default().cutoffs(0).is_none());
    }
}
