//! Dropping series keys no hot window uses any more, so the series tables
//! follow the live series instead of every series ever seen (pods come and
//! go with their `instance` labels).
//!
//! Runs at the end of a compaction, when a table has grown to twice the
//! live keys it had at its last renumbering (and past 10,000). Under the
//! state's write lock, it marks the series the hot and persisting windows
//! use, renumbers the table ([`SeriesTable::retain`]) and rewrites those
//! windows' series columns to the new numbers. Cold files carry their own
//! series columns and never needed the table.
//!
//! [`SeriesTable::retain`]: crate::series::SeriesTable::retain

use crate::engine::Engine;
use crate::hot::{MetricChunk, SampleChunk};
use arrow::buffer::ScalarBuffer;
use std::sync::Arc;

/// Renumbers the series tables that want it.
pub(crate) fn collect(engine: &Engine) {
    let inner = &engine.inner;
    if !inner.series.wants_retain() && !inner.metric_series.wants_retain() {
        return;
    }
    let mut st = engine.write_state();
    let st = &mut *st;
    if inner.series.wants_retain() {
        let before = inner.series.len();
        let mut live = vec![false; before];
        let windows = st.hot.values().chain(st.persisting.iter().map(|(w, _)| w));
        for w in windows {
            for c in &w.samples {
                mark(&mut live, &c.series);
            }
        }
        let map = inner.series.retain(&live);
        let windows = st
            .hot
            .values_mut()
            .chain(st.persisting.iter_mut().map(|(w, _)| w));
        for w in windows {
            for c in &mut w.samples {
                *c = Arc::new(SampleChunk {
                    series: renumber(&c.series, &map),
                    stacks: c.stacks.clone(),
                    values: c.values.clone(),
                });
            }
        }
        tracing::info!(
            before,
            after = inner.series.len(),
            "series table renumbered"
        );
    }
    if inner.metric_series.wants_retain() {
        let before = inner.metric_series.len();
        let mut live = vec![false; before];
        let windows = st.hot.values().chain(st.persisting.iter().map(|(w, _)| w));
        for w in windows {
            for c in &w.metrics {
                mark(&mut live, &c.series);
            }
        }
        let map = inner.metric_series.retain(&live);
        let windows = st
            .hot
            .values_mut()
            .chain(st.persisting.iter_mut().map(|(w, _)| w));
        for w in windows {
            for c in &mut w.metrics {
                *c = Arc::new(MetricChunk {
                    series: renumber(&c.series, &map),
                    times: c.times.clone(),
                    values: c.values.clone(),
                });
            }
        }
        tracing::info!(
            before,
            after = inner.metric_series.len(),
            "metric series table renumbered"
        );
    }
}

fn mark(live: &mut [bool], series: &ScalarBuffer<u32>) {
    for s in series.iter() {
        if let Some(l) = live.get_mut(*s as usize) {
            *l = true;
        }
    }
}

fn renumber(series: &ScalarBuffer<u32>, map: &[u32]) -> ScalarBuffer<u32> {
    series
        .iter()
        .map(|s| map.get(*s as usize).copied().unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::config::{ColdStoreConfig, StorageConfig};
    use crate::engine::Engine;
    use crate::ids::{Lsn, StackId, TenantId};
    use crate::model::{SeriesKey, SeriesSamples, WriteBatch};
    use std::sync::Arc;

    fn batch(services: impl Iterator<Item = String>, time_ns: i64) -> WriteBatch {
        let frames: crate::model::Frames = vec![Arc::<str>::from("main")].into();
        let id = StackId::of_frames(&frames);
        WriteBatch {
            stacks: vec![(id, frames)],
            series: services
                .map(|service| SeriesSamples {
                    time_ns,
                    key: SeriesKey {
                        tenant: TenantId::default_tenant(),
                        service,
                        instance: String::new(),
                        profile_type: "cpu".into(),
                        unit: "nanoseconds".into(),
                        state: None,
                        labels: Default::default(),
                    },
                    samples: vec![(id, 1)],
                })
                .collect(),
            ..Default::default()
        }
    }

    /// `(service, sum)` of every hot row, read through a snapshot.
    fn hot_sums(e: &Engine) -> Vec<(String, i64)> {
        let snap = e.snapshot();
        let mut out = std::collections::BTreeMap::new();
        for w in &snap.hot {
            for c in &w.samples {
                for i in 0..c.len() {
                    let k = &snap.series[c.series[i] as usize];
                    *out.entry(k.service.clone()).or_insert(0) += c.values[i];
                }
            }
        }
        out.into_iter().collect()
    }

    #[tokio::test]
    async fn dead_series_are_dropped_and_live_and_late_writes_keep_their_keys() {
        let dir = tempfile::tempdir().unwrap();
        let config = StorageConfig {
            data_dir: dir.path().to_path_buf(),
            cold: ColdStoreConfig::InMemory,
            // Compactions only when the test runs them: a background one
            // between the write and the flush would renumber with every
            // key live and set the next renumbering at twice that.
            compaction_interval: std::time::Duration::from_secs(3600),
            ..Default::default()
        };
        let e = Engine::open(config, Arc::new(|_, _| Err("no replay".into())))
            .await
            .unwrap();
        let t = crate::engine::now_ns();
        // 12,000 short-lived series, gone to Parquet.
        e.write(vec![], batch((0..12_000).map(|i| format!("pod-{i}")), t))
            .await
            .unwrap();
        e.flush().await.unwrap();
        assert!(
            e.inner.series.len() < 10,
            "{} keys left",
            e.inner.series.len()
        );
        // Again many, two of which stay hot; a write prepared before the
        // renumbering is applied after it.
        e.write(
            vec![],
            batch((0..12_000).map(|i| format!("old-{i}")), t - 600_000_000_000),
        )
        .await
        .unwrap();
        e.write(
            vec![],
            batch(["live-a".to_string(), "live-b".into()].into_iter(), t),
        )
        .await
        .unwrap();
        let late = e.prepare(&batch(
            ["old-7".to_string(), "live-b".into()].into_iter(),
            t,
        ));
        // Seal only the old window (closed): the live one stays hot.
        crate::compactor::run(&e, false).await.unwrap();
        assert!(
            e.inner.series.len() < 100,
            "{} keys left",
            e.inner.series.len()
        );
        e.apply(Lsn(1_000_000), late, None);
        assert_eq!(
            hot_sums(&e),
            vec![
                ("live-a".into(), 1),
                ("live-b".into(), 2),
                ("old-7".into(), 1)
            ]
        );
    }
}
