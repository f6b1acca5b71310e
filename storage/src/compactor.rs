//! The compactor: seals closed hot windows, writes them to Parquet through
//! [`crate::compact`], lists the files in a new manifest, drops the windows
//! from memory and releases the WAL segments no window still needs.
//!
//! Also owns start-up housekeeping of the cold tier: deleting files no
//! manifest lists (left by a crash between a file put and the manifest
//! put) and loading cold stacks into the [`StackTable`].

use crate::compact::{self, CompactArgs};
use crate::engine::Engine;
use crate::error::{Error, Result};
use crate::hot::HotWindow;
use crate::ids::{Lsn, StackId};
use crate::intern::StackTable;
use crate::manifest::{FileKind, Manifest};
use crate::published::PublishedManifest;
use arrow::array::{AsArray, ListArray, StringArray};
use arrow::datatypes::UInt64Type;
use object_store::{ObjectStore, ObjectStoreExt, path::Path};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// What one compaction did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct CompactionReport {
    pub windows: usize,
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
}

/// Starts the periodic compactor. Each tick runs as a task of its own, so
/// a panic in it is logged and counted and the next tick runs again (a
/// failed run leaves its windows hot or persisting, and they are retried).
pub(crate) fn spawn(engine: Engine) {
    let interval = engine.config().compaction_interval;
    tokio::spawn(async move {
        // The first run one interval after start, not at once: start-up
        // already did its housekeeping.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if Arc::strong_count(&engine.inner) <= 2 {
                // Only this task and the WAL writer hold the engine: stop.
                break;
            }
            let e = engine.clone();
            if let Err(join) = tokio::spawn(async move { tick_once(&e).await }).await {
                engine
                    .stats()
                    .compactor_panics
                    .fetch_add(1, Ordering::Relaxed);
                let why = match join.try_into_panic() {
                    Ok(p) => crate::supervise::panic_text(&p),
                    Err(e) => e.to_string(),
                };
                tracing::error!(reason = %why, "compactor run panicked; it runs again next tick");
            }
        }
    });
}

async fn tick_once(engine: &Engine) {
    if let Err(e) = run(engine, false).await {
        engine
            .stats()
            .compaction_failures
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(error = %e, "compaction failed; windows stay hot and are retried");
    }
    if let Err(e) = crate::retention::expire(engine).await {
        tracing::error!(error = %e, "expiring old files failed; retried next tick");
    }
    if let Err(e) = crate::merge::merge_hours(engine, false).await {
        tracing::error!(error = %e, "merging small files failed; retried later");
    }
}

/// Compacts closed windows (all windows when `all`), noting what that
/// says of the store ([`Engine::note_failure`]).
pub(crate) async fn run(engine: &Engine, all: bool) -> Result<CompactionReport> {
    let r = compact_windows(engine, all).await;
    match &r {
        Ok(done) if done.windows > 0 => engine.store_health().ok(),
        Ok(_) => {}
        Err(e) => engine.note_failure(e),
    }
    r
}

async fn compact_windows(engine: &Engine, all: bool) -> Result<CompactionReport> {
    let _guard = engine.inner.compaction.lock().await;
    let window_ns = engine.window_ns();
    let cfg = engine.config();
    let now = crate::engine::now_ns();
    let retention = cfg.hot_retention.as_nanos().min(i64::MAX as u128) as i64;

    // The WAL over its size cap: every window goes, open or not, so the
    // segments can be released whatever a window's time.
    let wal_full = engine.stats().wal_disk_bytes.load(Ordering::Relaxed) > cfg.wal_max_bytes;
    // Seal: move windows out of `hot` under the lock. Over the memory
    // budget, windows go oldest first, the newest too if need be.
    let (sealed, manifest) = {
        let mut st = engine.write_state();
        let applied = st.applied;
        let mut total: usize = st.hot.values().map(HotWindow::bytes).sum();
        let keys: Vec<_> = st.hot.keys().copied().collect();
        for k in keys {
            let closed = k.0.saturating_add(window_ns).saturating_add(retention) <= now;
            let over_budget = total > cfg.hot_max_bytes;
            if (all || wal_full || closed || over_budget)
                && let Some(w) = st.hot.remove(&k)
            {
                total -= w.bytes();
                st.persisting.push((w, applied));
            }
        }
        if st.persisting.is_empty() {
            drop(st);
            crate::series_gc::collect(engine);
            return Ok(CompactionReport::default());
        }
        (st.persisting.clone(), st.manifest.clone())
    };
    // Every record this compaction lets the WAL drop was applied by now, so
    // its number is in these marks, saved with the manifest below.
    let (sequences, applied_at_seal, series, metric_series) = {
        let mut st = engine.write_state();
        let horizon = cfg.sequence_horizon.as_nanos().min(i64::MAX as u128) as i64;
        // Keys under the lock: they match the sealed windows' numbering.
        (
            st.sequences.to_saved(now.saturating_sub(horizon)),
            st.applied,
            engine.inner.series.snapshot(),
            engine.inner.metric_series.snapshot(),
        )
    };

    let windows: Vec<HotWindow> = sealed.iter().map(|(w, _)| w.clone()).collect();
    let generation = manifest.generation + 1;
    let file_number = engine.next_file_number(generation);
    let out = compact::compact(CompactArgs {
        store: engine.store().as_ref(),
        windows: &windows,
        series: &series,
        metric_series: &metric_series,
        stacks: engine.stacks(),
        window_ns,
        generation: file_number,
        node: engine.node_id(),
    })
    .await?;

    let mut next = Manifest::clone(&manifest);
    next.generation = generation;
    next.sequences = sequences;
    next.window_ns = Some(window_ns);
    // Entries no WAL record can need any more: every record at or below
    // them is gone from the WAL.
    let wal_first = engine.read_state().wal_first;
    next.persisted_through
        .retain(|_, through| *through >= wal_first.0);
    for (w, through) in &sealed {
        let e = next.persisted_through.entry(w.start.0).or_insert(0);
        *e = (*e).max(through.0);
    }
    let report = CompactionReport {
        windows: sealed.len(),
        files: out.files.len(),
        rows: out
            .files
            .iter()
            .filter(|f| f.kind == FileKind::Samples)
            .map(|f| f.rows)
            .sum(),
        bytes: out.files.iter().map(|f| f.bytes).sum(),
    };
    let written: Vec<&str> = out.files.iter().map(|f| f.path.as_str()).collect();
    engine.sync_cold(&written)?;
    next.files.extend(out.files.iter().cloned());
    engine.commit_manifest(&manifest, &next).await?;

    // Publish: the files replace the sealed windows in one step.
    let release = {
        let mut st = engine.write_state();
        st.manifest = Arc::new(PublishedManifest::new(next, engine.store().clone()));
        let n = sealed.len();
        st.persisting.drain(..n);
        engine
            .stacks()
            .mark_persisted(out.new_stacks.iter().copied());
        let oldest = st
            .hot
            .values()
            .chain(st.persisting.iter().map(|(w, _)| w))
            .map(|w| w.min_lsn)
            .min();
        let through = match oldest {
            Some(l) => Lsn(l.0.saturating_sub(1)),
            None => st.applied,
        };
        // Records applied after the marks were taken stay in the WAL.
        through.min(applied_at_seal)
    };
    engine.release_wal(release).await;
    crate::series_gc::collect(engine);
    crate::stack_cache::evict(engine);
    engine.stats().compactions.fetch_add(1, Ordering::Relaxed);
    tracing::info!(
        windows = report.windows,
        files = report.files,
        rows = report.rows,
        bytes = report.bytes,
        generation,
        "windows compacted to parquet"
    );
    Ok(report)
}

/// Writes a manifest version that records the window length in force.
pub(crate) async fn record_window_length(engine: &Engine, window_ns: i64) -> Result<()> {
    let _guard = engine.inner.compaction.lock().await;
    let current = engine.read_state().manifest.clone();
    if current.window_ns == Some(window_ns) {
        return Ok(());
    }
    let mut next = Manifest::clone(&current);
    next.generation += 1;
    next.window_ns = Some(window_ns);
    engine.commit_manifest(&current, &next).await?;
    let published = Arc::new(PublishedManifest::new(next, engine.store().clone()));
    engine.write_state().manifest = published;
    Ok(())
}

/// Deletes Parquet files of this node (see [`crate::paths::owned_by`])
/// that the manifest does not list.
pub(crate) async fn remove_orphans(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    node: &str,
) -> Result<()> {
    for path in crate::verify::unlisted_parquet(store, manifest).await? {
        let p = path.to_string();
        if crate::paths::owned_by(&p, node) {
            tracing::warn!(path = %p, "deleting parquet file no manifest lists (left by a crash)");
            store
                .delete(&path)
                .await
                .map_err(|source| Error::ObjectStore { path: p, source })?;
        }
    }
    Ok(())
}

/// Loads the cold stacks files into `stacks`, newest first: frames while
/// they fit `budget` bytes, fingerprints only after that. A file that is
/// missing or not readable Parquet is logged and skipped (its stacks show
/// no frames), so one damaged object does not keep the server from
/// starting; a store that does not answer stops the start.
pub(crate) async fn load_stacks(
    store: &dyn ObjectStore,
    manifest: &Manifest,
    stacks: &StackTable,
    budget: usize,
) -> Result<()> {
    let mut files: Vec<_> = manifest.files_of(FileKind::Stacks, None).collect();
    files.sort_by(|a, b| b.path.cmp(&a.path));
    for f in files {
        match load_stacks_file(store, f, stacks, budget).await {
            Ok(()) => {}
            Err(Error::ObjectStore { source, path })
                if !matches!(source, object_store::Error::NotFound { .. }) =>
            {
                return Err(Error::ObjectStore { source, path });
            }
            Err(e) => {
                tracing::error!(path = %f.path, error = %e, "stacks file unreadable; its stacks have no frames (see flarego admin verify)")
            }
        }
    }
    Ok(())
}

async fn load_stacks_file(
    store: &dyn ObjectStore,
    f: &crate::manifest::FileEntry,
    stacks: &StackTable,
    budget: usize,
) -> Result<()> {
    let perr = |source| Error::Parquet {
        path: f.path.clone(),
        source,
    };
    let bytes = store
        .get(&Path::from(f.path.as_str()))
        .await
        .map_err(|source| Error::ObjectStore {
            path: f.path.clone(),
            source,
        })?
        .bytes()
        .await
        .map_err(|source| Error::ObjectStore {
            path: f.path.clone(),
            source,
        })?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes)
        .map_err(perr)?
        .build()
        .map_err(perr)?;
    for batch in reader {
        let batch = batch?;
        let ids = batch.column(0).as_primitive::<UInt64Type>();
        let lists: &ListArray = batch.column(1).as_list();
        let mut decoded = Vec::with_capacity(ids.len());
        for i in 0..ids.len() {
            let l = lists.value(i);
            let names: &StringArray = l.as_string();
            let frames: Vec<Arc<str>> = names.iter().map(|n| Arc::from(n.unwrap_or(""))).collect();
            decoded.push((StackId(ids.value(i)), frames));
        }
        let all = decoded.iter().map(|(id, f)| (*id, f.as_slice()));
        if stacks.bytes() < budget {
            stacks.insert_all(all, true);
        } else {
            stacks.insert_cold_fingerprints(all);
        }
    }
    Ok(())
}
