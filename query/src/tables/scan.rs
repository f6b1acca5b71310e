//! Building blocks shared by the table providers: the scope of a scan, a
//! Parquet scan over cold files, and the union with the hot scan
//! ([`super::hot`]).

use super::bounds::TimeBounds;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::Session;
use datafusion::common::ScalarValue;
use datafusion::common::{DFSchema, Result};
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::CachedParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{FileGroup, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::Operator;
use datafusion::logical_expr::{Expr, utils::conjunction};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{binary, col, lit};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::union::UnionExec;
use flarego_storage::{Cutoffs, FileEntry, PublishedManifest, TenantId, TierSnapshot, schema};
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
    /// Cold files this session's scans skipped as unreadable, and why.
    skipped: Arc<std::sync::Mutex<std::collections::BTreeMap<String, String>>>,
}

impl ScanScope {
    pub fn new(tenant: Option<TenantId>) -> Self {
        ScanScope {
            tenant,
            leases: Arc::default(),
            skipped: Arc::default(),
        }
    }

    /// What the answer should say about data it could not read.
    pub fn warnings(&self) -> Vec<String> {
        self.skipped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(what, why)| format!("skipped {what}: {why}"))
            .collect()
    }

    /// Keeps the snapshot's cold files until this session is dropped.
    pub fn hold(&self, snap: &TierSnapshot) {
        self.leases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(snap.manifest.clone());
    }
}

/// Cold files of one kind for a scan: in scope, overlapping the bounds,
/// and not wholly past their tenant's retention.
pub fn cold_files<'a>(
    snap: &'a TierSnapshot,
    kind: flarego_storage::FileKind,
    bounds: TimeBounds,
    scope: &'a ScanScope,
) -> Vec<&'a FileEntry> {
    snap.manifest
        .files_of(kind, scope.tenant.as_ref().map(|t| t.as_str()))
        .filter(|f| bounds.overlaps(f.min_time_ns, f.max_time_ns))
        .filter(|f| {
            let tenant = f.tenant.as_deref().unwrap_or_default();
            snap.cutoffs.of(tenant).is_none_or(|c| f.max_time_ns >= c)
        })
        .collect()
}

/// The files of `files` that can be read: each is checked once per
/// process (its size against the manifest, its footer); one found
/// truncated, corrupt or missing is left out, and the session notes it.
/// A store that does not answer is an error, not a verdict on the file.
pub async fn readable<'a>(
    engine: &flarego_storage::Engine,
    files: Vec<&'a FileEntry>,
    scope: &ScanScope,
) -> Result<Vec<&'a FileEntry>> {
    // The store is down (the compactor's last attempt failed): answer
    // from hot data now, saying what was left out, rather than wait for
    // every request's timeouts.
    let health = engine.store_health();
    if !health.is_healthy() && !files.is_empty() {
        let from = files.iter().map(|f| f.min_time_ns).min().unwrap_or(0);
        let to = files.iter().map(|f| f.max_time_ns).max().unwrap_or(0);
        let span = |ns: i64| chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339();
        scope
            .skipped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(
                format!(
                    "{} cold files from {} to {}",
                    files.len(),
                    span(from),
                    span(to)
                ),
                format!(
                    "the object store is unreachable ({})",
                    health.last_error().unwrap_or_default()
                ),
            );
        return Ok(Vec::new());
    }
    let checks = engine.file_checks();
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let ok = match checks.status(&f.path) {
            Some(known) => known,
            None => match check_file(engine.store(), f).await? {
                Ok(()) => {
                    checks.mark_ok(&f.path);
                    true
                }
                Err(why) => {
                    checks.mark_bad(&f.path, why);
                    false
                }
            },
        };
        if ok {
            out.push(f);
        } else {
            let why = checks.why(&f.path).unwrap_or_default();
            scope
                .skipped
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(format!("unreadable cold file {}", f.path), why);
        }
    }
    Ok(out)
}

/// `Ok(Err(why))` when the file is unreadable; `Err` when the store
/// failed to answer.
async fn check_file(
    store: &Arc<dyn object_store::ObjectStore>,
    f: &FileEntry,
) -> Result<std::result::Result<(), String>> {
    use object_store::ObjectStoreExt;
    let path = object_store::path::Path::from(f.path.as_str());
    let meta = match store.head(&path).await {
        Ok(m) => m,
        Err(object_store::Error::NotFound { .. }) => {
            return Ok(Err("missing from the object store".into()));
        }
        Err(e) => return Err(datafusion::error::DataFusionError::ObjectStore(Box::new(e))),
    };
    if meta.size != f.bytes {
        return Ok(Err(format!(
            "{} bytes where the manifest says {}",
            meta.size, f.bytes
        )));
    }
    // The footer: its length and magic in the last 8 bytes, then itself.
    let get = |range: std::ops::Range<u64>| {
        let (store, path) = (store.clone(), path.clone());
        async move {
            store
                .get_range(&path, range)
                .await
                .map_err(|e| datafusion::error::DataFusionError::ObjectStore(Box::new(e)))
        }
    };
    if f.bytes < 12 {
        return Ok(Err(format!("{} bytes: too short for Parquet", f.bytes)));
    }
    let tail = get(f.bytes - 8..f.bytes).await?;
    if &tail[4..] != b"PAR1" {
        return Ok(Err("no Parquet magic at the end (truncated?)".into()));
    }
    let len = u64::from(u32::from_le_bytes([tail[0], tail[1], tail[2], tail[3]]));
    if len + 12 > f.bytes {
        return Ok(Err(format!("footer of {len} bytes does not fit the file")));
    }
    let footer = get(f.bytes - 8 - len..f.bytes - 8).await?;
    match parquet::file::metadata::ParquetMetaDataReader::decode_metadata(&footer) {
        Ok(_) => Ok(Ok(())),
        Err(e) => Ok(Err(format!("footer does not parse: {e}"))),
    }
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

/// Keeps only rows whose `time` is in one of the half-open `ranges`
/// (`i64::MIN` / `i64::MAX` ends are open). `input` must have `time`.
pub fn within_ranges(
    input: Arc<dyn ExecutionPlan>,
    ranges: &[(i64, i64)],
) -> Result<Arc<dyn ExecutionPlan>> {
    let schema = input.schema();
    let time = col(schema::COL_TIME, &schema)?;
    let tz = match schema.field_with_name(schema::COL_TIME)?.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let at = |v: i64| lit(ScalarValue::TimestampNanosecond(Some(v), tz.clone()));
    let mut any: Option<Arc<dyn PhysicalExpr>> = None;
    for &(lo, hi) in ranges {
        let mut range: Arc<dyn PhysicalExpr> = lit(true);
        if lo != i64::MIN {
            range = binary(time.clone(), Operator::GtEq, at(lo), &schema)?;
        }
        if hi != i64::MAX {
            let below = binary(time.clone(), Operator::Lt, at(hi), &schema)?;
            range = binary(range, Operator::And, below, &schema)?;
        }
        any = Some(match any {
            Some(acc) => binary(acc, Operator::Or, range, &schema)?,
            None => range,
        });
    }
    match any {
        Some(pred) => Ok(Arc::new(FilterExec::try_new(pred, input)?)),
        None => Ok(input),
    }
}

/// Keeps only rows within retention: `time` at or after the cutoff of the
/// row's tenant (see [`flarego_storage::Cutoffs`]). `input` must have
/// `time` and `tenant` columns. Unchanged when nothing in scope expires.
pub fn within_retention(
    input: Arc<dyn ExecutionPlan>,
    cutoffs: &Cutoffs,
    scope: &ScanScope,
) -> Result<Arc<dyn ExecutionPlan>> {
    match retention_predicate(&input.schema(), cutoffs, scope)? {
        Some(pred) => Ok(Arc::new(FilterExec::try_new(pred, input)?)),
        None => Ok(input),
    }
}

fn retention_predicate(
    schema: &SchemaRef,
    cutoffs: &Cutoffs,
    scope: &ScanScope,
) -> Result<Option<Arc<dyn PhysicalExpr>>> {
    if cutoffs.is_none() {
        return Ok(None);
    }
    let time = col(schema::COL_TIME, schema)?;
    let tz = match schema.field_with_name(schema::COL_TIME)?.data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let at_or_after = |c: i64| -> Result<Arc<dyn PhysicalExpr>> {
        binary(
            time.clone(),
            Operator::GtEq,
            lit(ScalarValue::TimestampNanosecond(Some(c), tz.clone())),
            schema,
        )
    };
    if let Some(t) = &scope.tenant {
        return cutoffs.of(t.as_str()).map(at_or_after).transpose();
    }
    // Every tenant: each override for its rows, the default for the rest.
    let tenant = col(schema::COL_TENANT, schema)?;
    let is = |t: &str, op: Operator| {
        let value = ScalarValue::Dictionary(
            Box::new(DataType::Int32),
            Box::new(ScalarValue::Utf8(Some(t.to_string()))),
        );
        binary(tenant.clone(), op, lit(value), schema)
    };
    let mut any: Vec<Arc<dyn PhysicalExpr>> = Vec::new();
    for (t, c) in &cutoffs.per_tenant {
        any.push(binary(
            is(t, Operator::Eq)?,
            Operator::And,
            at_or_after(*c)?,
            schema,
        )?);
    }
    let mut others: Option<Arc<dyn PhysicalExpr>> = cutoffs.default.map(at_or_after).transpose()?;
    for t in cutoffs.per_tenant.keys() {
        let not_t = is(t, Operator::NotEq)?;
        others = Some(match others {
            Some(o) => binary(o, Operator::And, not_t, schema)?,
            None => not_t,
        });
    }
    any.extend(others);
    let mut pred: Option<Arc<dyn PhysicalExpr>> = None;
    for p in any {
        pred = Some(match pred {
            Some(acc) => binary(acc, Operator::Or, p, schema)?,
            None => p,
        });
    }
    Ok(pred)
}
