//! Typed object-store paths of cold files:
//! `tenant=<t>/date=<YYYY-MM-DD>/hour=<HH>/<kind>-<window>-<generation>-<node>.parquet`
//! for samples and metrics, `stacks/stacks-<generation>-<node>.parquet` for
//! stacks. Rollup files (rows summed per step, see [`crate::rollup`]) sit
//! apart under `rollups/<step>/` with the same layout below, so a glob
//! over the raw folders never counts a row twice. Outside engines prune
//! on the `tenant`, `date` and `hour` folders. The writing node's id ends every name, so no two servers
//! sharing a store ever write one object; files of format 1 carry none
//! (they belong to the node that migrated them).

use crate::manifest::FileKind;
use chrono::{DateTime, Timelike, Utc};
use object_store::path::Path;
use std::fmt;

/// The path of one cold file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColdPath {
    /// Samples or metrics of one tenant in one hour, or in one whole day
    /// (then under `hour=all`).
    Partitioned {
        tenant: String,
        hour_start_ns: i64,
        whole_day: bool,
        kind: FileKind,
        first_window_ns: i64,
        generation: u64,
        node: String,
        /// The step of a rollup file; `None` for raw rows.
        rollup_step_ns: Option<i64>,
    },
    /// Stacks first persisted by one compaction.
    Stacks { generation: u64, node: String },
}

impl ColdPath {
    pub fn to_path(&self) -> Path {
        Path::from(self.to_string())
    }

    /// The writing node's id.
    pub fn node(&self) -> &str {
        match self {
            ColdPath::Partitioned { node, .. } | ColdPath::Stacks { node, .. } => node,
        }
    }
}

impl fmt::Display for ColdPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColdPath::Partitioned {
                tenant,
                hour_start_ns,
                whole_day,
                kind,
                first_window_ns,
                generation,
                node,
                rollup_step_ns,
            } => {
                if let Some(step) = rollup_step_ns {
                    write!(f, "rollups/{}/", step_label(*step))?;
                }
                let t: DateTime<Utc> = DateTime::from_timestamp_nanos(*hour_start_ns);
                let kind = match kind {
                    FileKind::Samples => "samples",
                    FileKind::Metrics => "metrics",
                    FileKind::Stacks => "stacks",
                };
                let hour = if *whole_day {
                    "all".to_string()
                } else {
                    format!("{:02}", t.hour())
                };
                write!(
                    f,
                    "tenant={tenant}/date={}/hour={hour}/{kind}-{first_window_ns}-{generation:010}-{node}.parquet",
                    t.format("%Y-%m-%d"),
                )
            }
            ColdPath::Stacks { generation, node } => {
                write!(f, "stacks/stacks-{generation:010}-{node}.parquet")
            }
        }
    }
}

/// Whether `node` may delete the cold file at `path`: it wrote it (its id
/// ends the name), or the name is of format 1, which has no node id.
pub fn owned_by(path: &str, node: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    let Some(stem) = name.strip_suffix(".parquet") else {
        return false;
    };
    match stem.rsplit_once('-') {
        Some((_, last)) => last == node || last.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Checks a node id: 1 to 64 of `[A-Za-z0-9_]`, not all digits (file
/// names of format 1 end in digits).
pub fn check_node_id(id: &str) -> std::result::Result<(), String> {
    let ok_chars = id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if id.is_empty() || id.len() > 64 || !ok_chars || id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "node id {id:?} must be 1 to 64 letters, digits or '_', not only digits"
        ));
    }
    Ok(())
}

/// A step as a folder name: `1m`, `1h`, else seconds (`90s`).
pub fn step_label(step_ns: i64) -> String {
    const S: i64 = 1_000_000_000;
    match step_ns {
        n if n % (3600 * S) == 0 => format!("{}h", n / (3600 * S)),
        n if n % (60 * S) == 0 => format!("{}m", n / (60 * S)),
        n => format!("{}s", n / S),
    }
}

/// Start of the UTC hour holding `time_ns`.
pub fn hour_start(time_ns: i64) -> i64 {
    const HOUR: i64 = 3_600_000_000_000;
    time_ns.div_euclid(HOUR) * HOUR
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_is_hive_partitioned() {
        let t = 1_700_000_000_000_000_000i64; // 2023-11-14T22:13:20Z
        let p = ColdPath::Partitioned {
            tenant: "acme".into(),
            hour_start_ns: hour_start(t),
            whole_day: false,
            kind: FileKind::Samples,
            first_window_ns: t,
            generation: 3,
            node: "n1a".into(),
            rollup_step_ns: None,
        };
        assert_eq!(
            p.to_string(),
            "tenant=acme/date=2023-11-14/hour=22/samples-1700000000000000000-0000000003-n1a.parquet"
        );
        assert!(owned_by(&p.to_string(), "n1a"));
        assert!(!owned_by(&p.to_string(), "n1b"));
        let mut rollup = p.clone();
        if let ColdPath::Partitioned { rollup_step_ns, .. } = &mut rollup {
            *rollup_step_ns = Some(60_000_000_000);
        }
        assert_eq!(
            rollup.to_string(),
            "rollups/1m/tenant=acme/date=2023-11-14/hour=22/samples-1700000000000000000-0000000003-n1a.parquet"
        );
        assert!(owned_by(&rollup.to_string(), "n1a"));
        // Format 1 names have no node id: the migrating node owns them.
        assert!(owned_by(
            "tenant=a/date=x/hour=01/samples-17-0000000003.parquet",
            "n1b"
        ));
        assert!(owned_by("stacks/stacks-0000000003.parquet", "n1b"));
        assert!(check_node_id("ingest_1").is_ok());
        assert!(check_node_id("12").is_err());
        assert!(check_node_id("a-b").is_err());
    }
}
