//! Typed object-store paths of cold files:
//! `tenant=<t>/date=<YYYY-MM-DD>/hour=<HH>/<kind>-<window>-<generation>.parquet`
//! for samples and metrics, `stacks/stacks-<generation>.parquet` for stacks.
//! Outside engines prune on the `tenant`, `date` and `hour` folders.

use crate::manifest::FileKind;
use chrono::{DateTime, Timelike, Utc};
use object_store::path::Path;
use std::fmt;

/// The path of one cold file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColdPath {
    /// Samples or metrics of one tenant in one hour.
    Partitioned {
        tenant: String,
        hour_start_ns: i64,
        kind: FileKind,
        first_window_ns: i64,
        generation: u64,
    },
    /// Stacks first persisted by one compaction.
    Stacks { generation: u64 },
}

impl ColdPath {
    pub fn to_path(&self) -> Path {
        Path::from(self.to_string())
    }
}

impl fmt::Display for ColdPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColdPath::Partitioned {
                tenant,
                hour_start_ns,
                kind,
                first_window_ns,
                generation,
            } => {
                let t: DateTime<Utc> = DateTime::from_timestamp_nanos(*hour_start_ns);
                let kind = match kind {
                    FileKind::Samples => "samples",
                    FileKind::Metrics => "metrics",
                    FileKind::Stacks => "stacks",
                };
                write!(
                    f,
                    "tenant={tenant}/date={}/hour={:02}/{kind}-{first_window_ns}-{generation:010}.parquet",
                    t.format("%Y-%m-%d"),
                    t.hour()
                )
            }
            ColdPath::Stacks { generation } => {
                write!(f, "stacks/stacks-{generation:010}.parquet")
            }
        }
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
            kind: FileKind::Samples,
            first_window_ns: t,
            generation: 3,
        };
        assert_eq!(
            p.to_string(),
            "tenant=acme/date=2023-11-14/hour=22/samples-1700000000000000000-0000000003.parquet"
        );
    }
}
