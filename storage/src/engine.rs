//! The storage engine: WAL, hot windows and cold files behind one handle.
//!
//! [`Engine::write`] hands a raw payload and its decoded [`WriteBatch`] to
//! the WAL writer thread, which logs a group of writes, syncs, applies them
//! to the hot windows in LSN order and only then answers. Readers take a
//! [`TierSnapshot`]: the hot windows, the windows being persisted and the
//! manifest, all under one lock, so every row is in exactly one of them.

use crate::compactor;
use crate::config::{ColdStoreConfig, StorageConfig};
use crate::error::{Error, Result};
use crate::hot::HotWindow;
use crate::ids::{Lsn, WindowStart};
use crate::intern::StackTable;
use crate::manifest::Manifest;
use crate::manifest_log::ManifestLog;
use crate::model::{MetricKey, SeriesKey, WriteBatch};
use crate::prepare::PreparedWrite;
use crate::published::PublishedManifest;
use crate::sequences::{SequenceMarks, Sequenced};
use crate::series::SeriesTable;
use crate::wal::Wal;
use crate::writer::{self, WalCommand};
use object_store::ObjectStore;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

/// Decodes a WAL payload again on replay.
pub type ReplayDecoder =
    dyn Fn(&[u8], &StackTable) -> std::result::Result<WriteBatch, String> + Send + Sync;

/// Windows in memory and the cold manifest, changed together.
#[derive(Debug)]
pub(crate) struct TierState {
    pub hot: BTreeMap<WindowStart, HotWindow>,
    /// Sealed windows being written to Parquet, with the applied LSN at
    /// sealing time. Still readable until the manifest lists their files.
    pub persisting: Vec<(HotWindow, Lsn)>,
    pub manifest: Arc<PublishedManifest>,
    pub applied: Lsn,
    /// The oldest LSN the WAL may still hold (first of its oldest segment).
    pub wal_first: Lsn,
    /// Highest applied number per numbered source.
    pub sequences: SequenceMarks,
}

/// A consistent view for one query.
#[derive(Debug, Clone)]
pub struct TierSnapshot {
    /// Hot and persisting windows.
    pub hot: Vec<HotWindow>,
    /// Held for as long as the snapshot's files may be read.
    pub manifest: Arc<PublishedManifest>,
    pub series: Vec<Arc<SeriesKey>>,
    pub metric_series: Vec<Arc<MetricKey>>,
    pub window_ns: i64,
    /// Per tenant, the oldest time a query may return (retention).
    pub cutoffs: crate::retention::Cutoffs,
    /// The same for rollup rows (`--rollup-retention`).
    pub rollup_cutoffs: crate::retention::Cutoffs,
}

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct EngineStats {
    pub wal_records: AtomicU64,
    pub wal_bytes: AtomicU64,
    pub wal_syncs: AtomicU64,
    pub replayed_records: AtomicU64,
    pub replay_failures: AtomicU64,
    /// Damage replay found in the WAL (see [`crate::wal::ReplayReport`]).
    pub wal_corrupt_regions: AtomicU64,
    pub wal_corrupt_records: AtomicU64,
    pub wal_corrupt_bytes: AtomicU64,
    pub wal_torn_tail_bytes: AtomicU64,
    pub compactions: AtomicU64,
    pub compaction_failures: AtomicU64,
    /// Compactor runs that panicked (each was logged; the next tick runs).
    pub compactor_panics: AtomicU64,
    /// Bytes of WAL segments on disk.
    pub wal_disk_bytes: AtomicU64,
    /// Stacks whose frames were evicted from memory, and read back.
    pub stacks_evicted: AtomicU64,
    pub stack_cold_reads: AtomicU64,
}

pub(crate) struct Inner {
    pub config: StorageConfig,
    /// The window length rows are filed under: the configured one, except
    /// while replaying a WAL written under another (see [`Engine::open`]).
    pub window_ns: std::sync::atomic::AtomicI64,
    pub store: Arc<dyn ObjectStore>,
    /// This node's manifest log in the store.
    pub manifest_log: ManifestLog,
    /// The last number used in a new file's name.
    pub file_number: AtomicU64,
    /// The object store as the compactor last found it.
    pub store_health: Arc<crate::health::StoreHealth>,
    /// Cold files found readable or not by queries.
    pub file_checks: crate::health::FileChecks,
    pub state: RwLock<TierState>,
    pub stacks: Arc<StackTable>,
    pub series: SeriesTable<SeriesKey>,
    pub metric_series: SeriesTable<MetricKey>,
    /// The series each cold file holds, read from its footer once.
    pub series_cache: crate::series_index::SeriesCache,
    /// Applied writes for live-tail subscribers.
    pub live: crate::live::LiveFeed,
    pub stats: EngineStats,
    pub compaction: tokio::sync::Mutex<()>,
    /// File count per (kind, tenant, hour) at the last merge check.
    pub merge_seen: std::sync::Mutex<HashMap<crate::merge::GroupKey, usize>>,
    writer: mpsc::Sender<WalCommand>,
    failure: crate::supervise::FailureWatch,
    /// Held while the engine lives: one server per data directory.
    _lock: std::fs::File,
}

/// Handle to the storage engine; cheap to clone.
#[derive(Clone)]
pub struct Engine {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// Opens (or creates) the data directory: loads the manifest and the
    /// cold stacks, replays the WAL with `decode`, then starts the WAL
    /// writer and the compactor.
    pub async fn open(config: StorageConfig, decode: Arc<ReplayDecoder>) -> Result<Engine> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| Error::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let lock = lock_data_dir(&config.data_dir)?;
        crate::store::probe(&config).await?;
        let store = crate::store::open(&config)?;
        crate::format::check(store.as_ref(), &config.wal_dir()).await?;
        let node = crate::node::resolve(&config)?;
        let store_health = Arc::<crate::health::StoreHealth>::default();
        let manifest_log = ManifestLog::new(store.clone(), &node).with_health(store_health.clone());
        let manifest = manifest_log.load().await?;
        tracing::info!(node = %node, version = manifest.generation, files = manifest.files.len(), "manifest loaded");
        compactor::remove_orphans(store.as_ref(), &manifest, &node).await?;
        let stacks = Arc::new(StackTable::default());
        compactor::load_stacks(store.as_ref(), &manifest, &stacks, config.stack_cache_bytes)
            .await?;

        let sequences = SequenceMarks::from_saved(&manifest.sequences);
        let stored_window = manifest.window_ns;
        let published = Arc::new(PublishedManifest::new(manifest, store.clone()));
        let (tx, rx) = mpsc::channel(4096);
        let inner = Arc::new(Inner {
            window_ns: std::sync::atomic::AtomicI64::new(
                stored_window.unwrap_or(config.window_ns()),
            ),
            config: config.clone(),
            store,
            manifest_log,
            file_number: AtomicU64::new(0),
            store_health,
            file_checks: Default::default(),
            state: RwLock::new(TierState {
                hot: BTreeMap::new(),
                persisting: Vec::new(),
                manifest: published,
                applied: Lsn(0),
                wal_first: Lsn(0),
                sequences,
            }),
            stacks,
            series: SeriesTable::default(),
            metric_series: SeriesTable::default(),
            series_cache: Default::default(),
            live: crate::live::LiveFeed::new(config.live_buffer_bytes),
            stats: EngineStats::default(),
            compaction: tokio::sync::Mutex::new(()),
            merge_seen: std::sync::Mutex::new(HashMap::new()),
            writer: tx,
            failure: Default::default(),
            _lock: lock,
        });
        let engine = Engine { inner };

        let wal = {
            let e = engine.clone();
            let wal_dir = config.wal_dir();
            let seg = config.wal_segment_bytes;
            tokio::task::spawn_blocking(move || e.replay(&wal_dir, seg, decode.as_ref()))
                .await
                .map_err(|e| Error::Replay {
                    lsn: 0,
                    reason: e.to_string(),
                })??
        };
        writer::spawn(engine.clone(), wal, rx)?;
        engine.adopt_window_length().await?;
        compactor::spawn(engine.clone());
        Ok(engine)
    }

    /// The window length rows are filed under now.
    pub fn window_ns(&self) -> i64 {
        self.inner.window_ns.load(Ordering::Relaxed)
    }

    /// Switches to the configured window length when the data was written
    /// under another. The WAL was just replayed under the old length (so
    /// the manifest's record of what is already cold matched it); those
    /// windows are written to Parquet now and the WAL released, and only
    /// then does the new length apply: no record is filed under two
    /// window lengths, so none is counted twice.
    async fn adopt_window_length(&self) -> Result<()> {
        let wanted = self.inner.config.window_ns();
        let stored = self.read_state().manifest.window_ns;
        if stored == Some(wanted) {
            return Ok(());
        }
        if let Some(old) = stored {
            tracing::warn!(
                old_window_ns = old,
                new_window_ns = wanted,
                "window length changed: writing the replayed windows to Parquet before switching"
            );
            compactor::run(self, true).await?;
        }
        self.inner.window_ns.store(wanted, Ordering::Relaxed);
        compactor::record_window_length(self, wanted).await
    }

    /// Replays the WAL: records are decoded in parallel, a group at a
    /// time, and applied in LSN order.
    fn replay(&self, dir: &std::path::Path, seg: u64, decode: &ReplayDecoder) -> Result<Wal> {
        const GROUP: usize = 256;
        let manifest = self.read_state().manifest.clone();
        let mut pending: Vec<(Lsn, Vec<u8>)> = Vec::with_capacity(GROUP);
        let (wal, report) = Wal::open(dir, seg, |lsn, payload| {
            pending.push((lsn, payload.to_vec()));
            if pending.len() >= GROUP {
                self.replay_group(std::mem::take(&mut pending), decode, &manifest);
            }
            Ok(())
        })?;
        self.replay_group(pending, decode, &manifest);
        self.write_state().wal_first = wal.first_lsn();
        let stats = &self.inner.stats;
        stats
            .wal_corrupt_regions
            .store(report.corrupt_regions, Ordering::Relaxed);
        stats
            .wal_corrupt_records
            .store(report.corrupt_records, Ordering::Relaxed);
        stats
            .wal_corrupt_bytes
            .store(report.corrupt_bytes, Ordering::Relaxed);
        stats
            .wal_torn_tail_bytes
            .store(report.torn_tail_bytes, Ordering::Relaxed);
        Ok(wal)
    }

    fn replay_group(
        &self,
        group: Vec<(Lsn, Vec<u8>)>,
        decode: &ReplayDecoder,
        manifest: &Manifest,
    ) {
        if group.is_empty() {
            return;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(group.len());
        let per = group.len().div_ceil(threads);
        let decoded: Vec<(Lsn, std::result::Result<PreparedWrite, String>)> =
            std::thread::scope(|scope| {
                let handles: Vec<_> = group
                    .chunks(per)
                    .map(|part| {
                        scope.spawn(move || {
                            part.iter()
                                .map(|(lsn, payload)| (*lsn, self.replay_one(payload, decode)))
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                // A worker that died anyway still accounts for each of
                // its records, as failures.
                handles
                    .into_iter()
                    .zip(group.chunks(per))
                    .flat_map(|(h, part)| {
                        h.join().unwrap_or_else(|_| {
                            part.iter()
                                .map(|(lsn, _)| (*lsn, Err("replay worker failed".to_string())))
                                .collect()
                        })
                    })
                    .collect()
            });
        let stats = &self.inner.stats;
        for (lsn, r) in decoded {
            stats.replayed_records.fetch_add(1, Ordering::Relaxed);
            match r {
                Ok(prepared) => self.apply(lsn, prepared, Some(manifest)),
                Err(reason) => {
                    stats.replay_failures.fetch_add(1, Ordering::Relaxed);
                    tracing::error!(lsn = lsn.0, %reason, "WAL record no longer decodes; skipped");
                }
            }
        }
    }

    /// Decodes and prepares one replayed record; a panic in the decoder
    /// fails this record only (counted and logged by the caller).
    fn replay_one(
        &self,
        payload: &[u8],
        decode: &ReplayDecoder,
    ) -> std::result::Result<PreparedWrite, String> {
        let run = std::panic::AssertUnwindSafe(|| {
            decode(payload, &self.inner.stacks).map(|b| self.prepare(&b))
        });
        std::panic::catch_unwind(run).unwrap_or_else(|p| {
            let what = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(format!("decoder panicked: {what}"))
        })
    }

    /// Logs `payload`, applies `batch` to the hot tier, and returns the LSN
    /// once both are done. A numbered batch that was stored before is an
    /// [`Error::Duplicate`]; use [`Engine::write_once`] to treat it as done.
    pub async fn write(&self, payload: Vec<u8>, batch: WriteBatch) -> Result<Lsn> {
        let sequence = batch.sequence.clone();
        match self.write_once(payload, batch).await? {
            Some(lsn) => Ok(lsn),
            None => {
                let s = sequence.unwrap_or(Sequenced {
                    source: String::new(),
                    seq: 0,
                });
                Err(Error::Duplicate {
                    source_id: s.source,
                    seq: s.seq,
                })
            }
        }
    }

    /// Like [`Engine::write`], for numbered batches: `None` when the batch's
    /// number is not above its source's mark (a resend), and nothing was
    /// stored. The check and the append happen in the one WAL writer, so
    /// two copies racing each other are stored once.
    pub async fn write_once(&self, payload: Vec<u8>, batch: WriteBatch) -> Result<Option<Lsn>> {
        if let Some(e) = crate::health::backpressure(self) {
            return Err(e);
        }
        let (reply, rx) = oneshot::channel();
        let prepared = crate::supervise::blocking(|| self.prepare(&batch));
        self.inner
            .writer
            .send(WalCommand::Write {
                payload,
                prepared,
                reply,
            })
            .await
            .map_err(|_| Error::ShuttingDown)?;
        rx.await.map_err(|_| Error::ShuttingDown)?
    }

    /// Pushes prepared rows into the hot windows. On replay, rows of windows
    /// the manifest says already hold this record are skipped.
    pub(crate) fn apply(&self, lsn: Lsn, mut p: PreparedWrite, replay: Option<&Manifest>) {
        // Live writes go to subscribers too, in the numbering they were
        // prepared with (the event carries its own keys).
        let event = replay.is_none().then(|| p.live_event(lsn));
        let mut st = self.write_state();
        // Series renumbered since the write was prepared: follow.
        p.renumber_if_stale(&self.inner.series, &self.inner.metric_series);
        for (w, chunk) in p.samples {
            if replay.is_some_and(|m| m.is_persisted(w, lsn)) {
                continue;
            }
            st.hot
                .entry(w)
                .or_insert_with(|| HotWindow::new(w, lsn))
                .push_samples(lsn, chunk);
        }
        for (w, chunk) in p.metrics {
            if replay.is_some_and(|m| m.is_persisted(w, lsn)) {
                continue;
            }
            st.hot
                .entry(w)
                .or_insert_with(|| HotWindow::new(w, lsn))
                .push_metrics(lsn, chunk);
        }
        st.applied = st.applied.max(lsn);
        if let Some(seq) = &p.sequence {
            st.sequences.advance(seq, now_ns());
        }
        drop(st);
        if let Some(e) = event {
            self.inner.live.publish(e);
        }
    }

    /// Whether a numbered write was applied before.
    pub(crate) fn is_duplicate(&self, seq: &Sequenced) -> bool {
        self.read_state().sequences.is_duplicate(seq)
    }

    /// A consistent view of hot and cold data for one query.
    pub fn snapshot(&self) -> TierSnapshot {
        // Keys are copied under the same lock as the windows: the series
        // are renumbered only under its write side.
        let st = self.read_state();
        let mut hot: Vec<HotWindow> = st.hot.values().cloned().collect();
        hot.extend(st.persisting.iter().map(|(w, _)| w.clone()));
        TierSnapshot {
            hot,
            manifest: st.manifest.clone(),
            series: self.inner.series.snapshot(),
            metric_series: self.inner.metric_series.snapshot(),
            window_ns: self.window_ns(),
            cutoffs: self.inner.config.retention.cutoffs(now_ns()),
            rollup_cutoffs: self.inner.config.retention.rollup_cutoffs(now_ns()),
        }
    }

    /// Persists every hot window now, whether closed or not.
    pub async fn flush(&self) -> Result<compactor::CompactionReport> {
        compactor::run(self, true).await
    }

    /// Removes the files past retention now (as the compactor does each
    /// tick). Returns how many objects went.
    pub async fn expire_old_files(&self) -> Result<usize> {
        crate::retention::expire(self).await
    }

    /// Merges the small files of closed hours now (of every hour when
    /// `force`). Returns how many (tenant, hour) groups were merged.
    pub async fn merge_small_files(&self, force: bool) -> Result<usize> {
        crate::merge::merge_hours(self, force).await
    }

    /// Makes cold files durable on a local disk: `fsync`s each object and
    /// the directories above it up to the cold root (the object store's
    /// put renames into place but does not sync). A no-op for stores that are durable on put or in memory.
    pub(crate) fn sync_cold(&self, paths: &[&str]) -> Result<()> {
        crate::supervise::blocking(|| self.sync_cold_now(paths))
    }

    fn sync_cold_now(&self, paths: &[&str]) -> Result<()> {
        let ColdStoreConfig::LocalDir(dir) = &self.inner.config.cold else {
            return Ok(());
        };
        let root = dir
            .clone()
            .unwrap_or_else(|| self.inner.config.data_dir.join("parquet"));
        let mut dirs = std::collections::BTreeSet::new();
        for p in paths {
            let file = root.join(p);
            let sync = |path: &std::path::Path| {
                std::fs::File::open(path)
                    .and_then(|f| f.sync_all())
                    .map_err(|source| Error::DataDir {
                        path: path.to_path_buf(),
                        source,
                    })
            };
            sync(&file)?;
            // New partition folders too: every directory up to the root.
            let mut dir = file.parent();
            while let Some(d) = dir {
                if !d.starts_with(&root) || !dirs.insert(d.to_path_buf()) {
                    break;
                }
                sync(d)?;
                dir = d.parent();
            }
        }
        Ok(())
    }

    /// Raised when the engine can take no more writes (its WAL writer
    /// died); the server waits on [`FailureWatch::failed`] and stops.
    pub fn watcher(&self) -> crate::supervise::FailureWatch {
        self.inner.failure.clone()
    }

    /// The object store's health, as the compactor last found it.
    pub fn store_health(&self) -> &crate::health::StoreHealth {
        &self.inner.store_health
    }

    /// Cold files found readable or not (see [`crate::health::FileChecks`]).
    pub fn file_checks(&self) -> &crate::health::FileChecks {
        &self.inner.file_checks
    }

    /// This server's node id (in object paths and the manifest log).
    pub fn node_id(&self) -> &str {
        self.inner.manifest_log.node()
    }

    /// A number for the names of new files, above every number this
    /// process used and at least `generation`: an attempt that failed
    /// after putting its files never collides with the next attempt.
    pub(crate) fn next_file_number(&self, generation: u64) -> u64 {
        let used = &self.inner.file_number;
        let mut n = generation;
        let _ = used.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| {
            n = generation.max(last + 1);
            Some(n)
        });
        n
    }

    /// Notes a failed compaction, merge or expiry: a store error marks
    /// the store unhealthy; another server writing under this node id
    /// stops this one (the two would lose each other's files).
    pub(crate) fn note_failure(&self, e: &Error) {
        self.store_health().failed(e);
        if matches!(e, Error::DuplicateNode { .. }) {
            self.inner.failure.fail(e.to_string());
        }
    }

    /// Commits `next` (one version after `prev`) to the manifest log and
    /// makes it durable.
    pub(crate) async fn commit_manifest(&self, prev: &Manifest, next: &Manifest) -> Result<()> {
        let paths = self.inner.manifest_log.commit(prev, next).await?;
        let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
        self.sync_cold(&paths)
    }

    /// Publishes `next`, a committed version without the files `removed`;
    /// those are deleted once no query reads the version that listed
    /// them (at once when none does).
    pub(crate) async fn publish_without(&self, next: Manifest, removed: Vec<String>) {
        let published = Arc::new(PublishedManifest::new(next, self.store().clone()));
        let old = std::mem::replace(&mut self.write_state().manifest, published);
        self.series_cache().forget(&removed);
        let grace = self.inner.config.delete_grace;
        match Arc::try_unwrap(old) {
            Ok(old) => {
                old.retire(removed, grace);
                old.delete_retired().await;
            }
            // Queries still read it: the last one to finish deletes.
            Err(shared) => shared.retire(removed, grace),
        }
    }

    pub fn stacks(&self) -> &Arc<StackTable> {
        &self.inner.stacks
    }

    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner.store
    }

    pub fn config(&self) -> &StorageConfig {
        &self.inner.config
    }

    pub fn stats(&self) -> &EngineStats {
        &self.inner.stats
    }

    /// Applied writes, for live tail (see [`crate::live`]).
    pub fn live(&self) -> &crate::live::LiveFeed {
        &self.inner.live
    }

    /// The series of cold files (see [`crate::series_index`]).
    pub fn series_cache(&self) -> &crate::series_index::SeriesCache {
        &self.inner.series_cache
    }

    /// Rows and bytes held in memory by hot (and persisting) windows.
    pub fn hot_usage(&self) -> HotUsage {
        let st = self.read_state();
        let windows = st.hot.values().chain(st.persisting.iter().map(|(w, _)| w));
        let mut u = HotUsage::default();
        for w in windows {
            u.windows += 1;
            u.sample_rows += w.sample_rows();
            u.bytes += w.bytes();
        }
        u
    }

    /// Bytes of windows due for the object store but not in it yet:
    /// closed past the hot retention, or sealed for a compaction that has
    /// not finished. Near zero while compaction keeps up; it grows while
    /// the store is unreachable.
    pub fn backlog_bytes(&self) -> usize {
        let window_ns = self.window_ns();
        let retention = self
            .inner
            .config
            .hot_retention
            .as_nanos()
            .min(i64::MAX as u128) as i64;
        let now = now_ns();
        let st = self.read_state();
        let due = st
            .hot
            .values()
            .filter(|w| {
                w.start
                    .0
                    .saturating_add(window_ns)
                    .saturating_add(retention)
                    <= now
            })
            .map(HotWindow::bytes);
        due.chain(st.persisting.iter().map(|(w, _)| w.bytes()))
            .sum()
    }

    pub(crate) fn read_state(&self) -> std::sync::RwLockReadGuard<'_, TierState> {
        self.inner.state.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn write_state(&self) -> std::sync::RwLockWriteGuard<'_, TierState> {
        self.inner.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Deletes the WAL segments whose records are all ≤ `through`, and
    /// notes which LSN the WAL now starts at.
    pub(crate) async fn release_wal(&self, through: Lsn) {
        let (reply, rx) = oneshot::channel();
        if self
            .inner
            .writer
            .send(WalCommand::Release { through, reply })
            .await
            .is_ok()
            && let Ok(first) = rx.await
        {
            self.write_state().wal_first = first;
        }
    }
}

/// Wall time, ns since the epoch (`i64::MAX` past 2262).
pub(crate) fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Memory held by the hot tier.
#[derive(Debug, Default, Clone, Copy)]
pub struct HotUsage {
    pub windows: usize,
    pub sample_rows: usize,
    pub bytes: usize,
}

/// Takes the data directory's exclusive lock (`<data_dir>/LOCK`), so a
/// second server cannot interleave WAL records or delete the first one's
/// files. The lock goes with the process, however it ends.
pub fn lock_data_dir(dir: &std::path::Path) -> Result<std::fs::File> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| Error::DataDir {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::DataDirLocked { path }),
        Err(std::fs::TryLockError::Error(source)) => Err(Error::DataDir { path, source }),
    }
}
