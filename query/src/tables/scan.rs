//! Building blocks shared by the table providers: hot batches from a
//! snapshot's windows, a Parquet scan over cold files, and their union.

use super::bounds::TimeBounds;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::buffer::ScalarBuffer;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, utils::conjunction};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
use flarego_storage::arrays::{self, MetricRows, SampleRows, SeriesColumns};
use flarego_storage::{FileEntry, PublishedManifest, TenantId, TierSnapshot};
use std::sync::Arc;

/// The URL the cold tier's object store is registered under.
pub const COLD_STORE_URL: &str = "flarego://cold/";

/// Which rows a session's scans may see, and the manifest versions they
/// planned against.
#[derive(Debug, Clone)]
pub struct ScanScope {
    /// Only this tenant's rows; `None` sees every tenant (admin).
    pub tenant: Option<TenantId>,
    /// Versions held until the session ends, so files a merge replaces
    /// are not deleted under a running query.
    leases: Arc<std::sync::Mutex<Vec<Arc<PublishedManifest>>>>,
}

impl ScanScope {
    pub fn new(tenant: Option<TenantId>) -> Self {
        ScanScope {
            tenant,
            leases: Arc::default(),
        }
    }

    /// Keeps the snapshot's cold files until this session is dropped.
    pub fn hold(&self, snap: &TierSnapshot) {
        self.leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(snap.manifest.clone());
    }
}

/// Hot sample batches of the snapshot, projected to `projection` (indexes
/// into the samples schema), within `bounds` and `scope`.
pub fn hot_sample_batches(
    snap: &TierSnapshot,
    projection: &[usize],
    bounds: TimeBounds,
    scope: &ScanScope,
) -> Result<Vec<RecordBatch>> {
    let cols = SeriesColumns::for_samples(&snap.series);
    let allowed = allowed_series(snap.series.iter().map(|k| &k.tenant), scope);
    let mut out = Vec::new();
    for w in &snap.hot {
        if !bounds.overlaps(w.start.0, w.start.0) {
            continue;
        }
        for c in &w.samples {
            let rows = SampleRows {
                time: ScalarBuffer::from(vec![w.start.0; c.len()]),
                duration_ns: snap.window_ns,
                series: c.series.clone(),
                stacks: c.stacks.clone(),
                values: c.values.clone(),
            };
            let batch = arrays::samples_batch(&rows, &cols, Some(projection))?;
            if let Some(b) = restrict(batch, &c.series, allowed.as_deref())? {
                out.push(b);
            }
        }
    }
    Ok(out)
}

/// Hot metric batches of the snapshot.
pub fn hot_metric_batches(
    snap: &TierSnapshot,
    projection: &[usize],
    bounds: TimeBounds,
    scope: &ScanScope,
) -> Result<Vec<RecordBatch>> {
    let cols = SeriesColumns::for_metrics(&snap.metric_series);
    let allowed = allowed_series(snap.metric_series.iter().map(|k| &k.tenant), scope);
    let mut out = Vec::new();
    for w in &snap.hot {
        if !bounds.overlaps(w.start.0, w.start.0.saturating_add(snap.window_ns)) {
            continue;
        }
        for c in &w.metrics {
            let rows = MetricRows {
                time: c.times.clone(),
                series: c.series.clone(),
                values: c.values.clone(),
            };
            let batch = arrays::metrics_batch(&rows, &cols, Some(projection))?;
            if let Some(b) = restrict(batch, &c.series, allowed.as_deref())? {
                out.push(b);
            }
        }
    }
    Ok(out)
}

/// Per series: may the scope see it? `None` when every series is visible.
fn allowed_series<'a>(
    tenants: impl Iterator<Item = &'a TenantId>,
    scope: &ScanScope,
) -> Option<Vec<bool>> {
    let t = scope.tenant.as_ref()?;
    Some(tenants.map(|x| x == t).collect())
}

/// Keeps the rows of `batch` whose series is allowed.
fn restrict(
    batch: RecordBatch,
    series: &ScalarBuffer<u32>,
    allowed: Option<&[bool]>,
) -> Result<Option<RecordBatch>> {
    let Some(allowed) = allowed else {
        return Ok(Some(batch));
    };
    let ok = |s: &u32| allowed.get(*s as usize).copied().unwrap_or(false);
    if series.iter().all(ok) {
        return Ok(Some(batch));
    }
    if !series.iter().any(ok) {
        return Ok(None);
    }
    let mask: BooleanArray = series.iter().map(|s| Some(ok(s))).collect();
    Ok(Some(datafusion::arrow::compute::filter_record_batch(
        &batch, &mask,
    )?))
}

/// Cold files of one kind for a scan: in scope and overlapping the bounds.
pub fn cold_files<'a>(
    snap: &'a TierSnapshot,
    kind: flarego_storage::FileKind,
    bounds: TimeBounds,
    scope: &'a ScanScope,
) -> Vec<&'a FileEntry> {
    snap.manifest
        .files_of(kind, scope.tenant.as_ref().map(|t| t.as_str()))
        .filter(|f| bounds.overlaps(f.min_time_ns, f.max_time_ns))
        .collect()
}

/// A Parquet scan of `files` (all of `file_schema`), projected to
/// `projection`, with the filters that name only file columns pushed down
/// for row-group pruning.
pub fn cold_exec(
    state: &dyn Session,
    files: &[&FileEntry],
    file_schema: SchemaRef,
    projection: &[usize],
    filters: &[Expr],
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if files.is_empty() {
        return Ok(None);
    }
    let partitions = state.config().target_partitions().max(1);
    let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); partitions.min(files.len())];
    let n = groups.len();
    for (i, f) in files.iter().enumerate() {
        groups[i % n].push(PartitionedFile::new(f.path.clone(), f.bytes));
    }
    // Footers are cached in the shared runtime, so a file's metadata is
    // read once, not once per query.
    let url = ObjectStoreUrl::parse(COLD_STORE_URL)?;
    let runtime = state.runtime_env();
    let reader = CachedParquetFileReaderFactory::new(
        runtime.object_store(&url)?,
        runtime.cache_manager.get_file_metadata_cache(),
    );
    let mut source =
        ParquetSource::new(file_schema.clone()).with_parquet_file_reader_factory(Arc::new(reader));
    let pushable: Vec<Expr> = filters
        .iter()
        .filter(|f| {
            f.column_refs()
                .iter()
                .all(|c| file_schema.field_with_name(&c.name).is_ok())
        })
        .cloned()
        .collect();
    if let Some(pred) = conjunction(pushable) {
        let df_schema = DFSchema::try_from(file_schema.as_ref().clone())?;
        if let Ok(phys) = state.create_physical_expr(pred, &df_schema) {
            source = source.with_predicate(phys);
        }
    }
    let config =
        FileScanConfigBuilder::new(ObjectStoreUrl::parse(COLD_STORE_URL)?, Arc::new(source))
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .with_projection_indices(Some(projection.to_vec()))?
            .build();
    Ok(Some(DataSourceExec::from_data_source(config)))
}

/// Hot batches as an in-memory scan, split over the session's partitions.
pub fn hot_exec(
    state: &dyn Session,
    batches: Vec<RecordBatch>,
    schema: SchemaRef,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    if batches.is_empty() {
        return Ok(None);
    }
    let n = state.config().target_partitions().max(1).min(batches.len());
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % n].push(b);
    }
    Ok(Some(MemorySourceConfig::try_new_exec(
        &parts, schema, None,
    )?))
}

/// Union of whichever of hot and cold has data; empty scan if neither.
pub fn union_or_empty(
    plans: Vec<Option<Arc<dyn ExecutionPlan>>>,
    schema: SchemaRef,
) -> Result<Arc<dyn ExecutionPlan>> {
    let plans: Vec<_> = plans.into_iter().flatten().collect();
    if plans.is_empty() {
        return Ok(Arc::new(EmptyExec::new(schema)));
    }
    UnionExec::try_new(plans)
}
