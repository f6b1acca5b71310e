//! Building blocks shared by the table providers: the scope of a scan, a
//! Parquet scan over cold files, and the union with the hot scan
//! ([`super::hot`]).

use super::bounds::TimeBounds;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{Expr, utils::conjunction};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::union::UnionExec;
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
