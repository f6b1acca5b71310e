//! One DataFusion session per request, over the engine's tables.

use crate::error::{Error, Result};
use crate::late_frames::LateFrames;
use crate::tables::{MetricsTable, ProfilesTable, ScanScope};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};
use flarego_storage::{Engine, TenantId};
use futures::StreamExt;
use std::sync::Arc;

/// Settings of the query layer.
#[derive(Debug, Clone)]
pub struct QueryConfig {
    /// Partitions a scan is split into. Default: the number of cores.
    pub target_partitions: usize,
    /// Rows per batch inside DataFusion. Default 8192.
    pub batch_size: usize,
    /// Memory one query may hold in sorts, joins and aggregations (a
    /// DataFusion memory pool per query); over it the query fails with an
    /// error naming `query_memory_bytes`. The result counts too. Default
    /// 2 GiB; 0 turns it off.
    pub memory_limit_bytes: usize,
    /// Rows one query may return; past it the query fails naming
    /// `max_result_rows`. Default 1,000,000; 0 turns it off.
    pub max_result_rows: usize,
    /// Whether aggregates may read rollup files where those answer
    /// exactly ([`crate::rollups`]). Default on; off reads raw rows only.
    pub rollups: bool,
}

impl Default for QueryConfig {
    fn default() -> Self {
        QueryConfig {
            target_partitions: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            batch_size: 8192,
            memory_limit_bytes: 2 << 30,
            max_result_rows: 1_000_000,
            rollups: true,
        }
    }
}

/// A table whose rows live outside the storage engine (the alert history,
/// say), shown to each session scoped to its tenant.
pub trait TenantTable: Send + Sync {
    /// The table as `tenant` sees it (every tenant's rows for `None`).
    fn provider(&self, tenant: Option<&TenantId>) -> Arc<dyn TableProvider>;
}

/// Tables registered beside `profiles` and `metrics`.
type ExtraTables = Arc<parking_lot::RwLock<Vec<(String, Arc<dyn TenantTable>)>>>;

/// Answers SQL over the engine's hot and cold data.
#[derive(Clone)]
pub struct QueryEngine {
    engine: Engine,
    extra_tables: ExtraTables,
    runtime: Arc<RuntimeEnv>,
    config: QueryConfig,
    /// `frames_of(stack_id)` over the engine's stack table.
    frames_of: Arc<ScalarUDF>,
    /// Where queries execute: threads of their own, so a heavy query never
    /// delays the server's acks.
    exec: Arc<QueryThreads>,
}

/// The query threads (a tokio runtime), shut down without blocking when
/// the last handle goes.
struct QueryThreads(Option<tokio::runtime::Runtime>);

impl Drop for QueryThreads {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

/// Aborts a spawned query when its caller stops waiting (a timeout, a
/// client gone).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The result of one query.
#[derive(Debug, Clone)]
pub struct QueryOutput {
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    /// What the answer left out and why (unreadable cold files).
    pub warnings: Vec<String>,
}

impl QueryOutput {
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
}

impl QueryEngine {
    pub fn new(engine: Engine, config: QueryConfig) -> Result<Self> {
        // No spilling to disk: a memory limit is a limit, and the server's
        // disk is not scratch space for readers.
        let no_spill = datafusion::execution::disk_manager::DiskManagerBuilder::default()
            .with_mode(datafusion::execution::disk_manager::DiskManagerMode::Disabled);
        let runtime = RuntimeEnvBuilder::new()
            .with_disk_manager_builder(no_spill)
            .build_arc()
            .map_err(Error::from_datafusion)?;
        let url =
            ObjectStoreUrl::parse(crate::tables::COLD_STORE_URL).map_err(Error::from_datafusion)?;
        runtime.register_object_store(url.as_ref(), engine.store().clone());
        let frames_of = Arc::new(ScalarUDF::from(crate::udf::FramesOf::new(engine.clone())));
        // One thread more than a query's partitions: a query stuck in work
        // that does not yield (a cross join's build, say) leaves one free.
        let threads = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.target_partitions.max(1) + 1)
            .thread_name("flarego-query")
            .enable_all()
            .build()
            .map_err(|e| Error::Execution(format!("cannot start the query threads: {e}")))?;
        Ok(QueryEngine {
            engine,
            extra_tables: ExtraTables::default(),
            runtime,
            config,
            frames_of,
            exec: Arc::new(QueryThreads(Some(threads))),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Adds a table to every later session (replacing one of that name).
    pub fn register_tenant_table(&self, name: &str, table: Arc<dyn TenantTable>) {
        let mut tables = self.extra_tables.write();
        tables.retain(|(n, _)| n != name);
        tables.push((name.to_string(), table));
    }

    /// A session whose tables show only `tenant`'s rows (all rows if `None`).
    pub fn session(&self, tenant: Option<TenantId>) -> SessionContext {
        self.session_with_scope(tenant).0
    }

    /// [`QueryEngine::session`] and the scope its scans note skips in.
    pub fn session_with_scope(&self, tenant: Option<TenantId>) -> (SessionContext, ScanScope) {
        let config = SessionConfig::new()
            .with_target_partitions(self.config.target_partitions)
            .with_batch_size(self.config.batch_size)
            .with_information_schema(false)
            // Cold files are already spread over partitions whole; splitting
            // them into byte ranges only reloads their footers.
            .with_repartition_file_scans(false);
        let runtime = self.query_runtime();
        let mut state = SessionStateBuilder::new()
            .with_config(config)
            .with_runtime_env(runtime)
            .with_default_features()
            .with_optimizer_rule(Arc::new(LateFrames::new(self.frames_of.clone())));
        if self.config.rollups {
            state = state.with_optimizer_rule(Arc::new(crate::rollups::Rollups));
        }
        let state = state.build();
        let ctx = SessionContext::new_with_state(state);
        let scope = ScanScope::new(tenant.clone());
        // Registering into a fresh context cannot collide; errors here
        // would mean a programming mistake, so they are logged.
        if let Err(e) = ctx.register_table(
            "profiles",
            Arc::new(ProfilesTable::new(
                self.engine.clone(),
                scope.clone(),
                self.frames_of.clone(),
            )),
        ) {
            tracing::error!(error = %e, "cannot register profiles");
        }
        if let Err(e) = ctx.register_table(
            "metrics",
            Arc::new(MetricsTable::new(self.engine.clone(), scope.clone())),
        ) {
            tracing::error!(error = %e, "cannot register metrics");
        }
        for (name, table) in self.extra_tables.read().iter() {
            if let Err(e) = ctx.register_table(name.as_str(), table.provider(tenant.as_ref())) {
                tracing::error!(error = %e, table = %name, "cannot register a table");
            }
        }
        for udf in crate::udf::profiling_udfs() {
            ctx.register_udf(udf);
        }
        (ctx, scope)
    }

    /// The runtime of one query: the shared object stores, caches and
    /// (disabled) disk manager, and a memory pool of its own when a limit
    /// is set.
    fn query_runtime(&self) -> Arc<RuntimeEnv> {
        if self.config.memory_limit_bytes == 0 {
            return self.runtime.clone();
        }
        let pool = datafusion::execution::memory_pool::GreedyMemoryPool::new(
            self.config.memory_limit_bytes,
        );
        Arc::new(RuntimeEnv {
            memory_pool: Arc::new(pool),
            disk_manager: self.runtime.disk_manager.clone(),
            cache_manager: self.runtime.cache_manager.clone(),
            object_store_registry: self.runtime.object_store_registry.clone(),
        })
    }

    /// Runs one read-only SQL statement on the query threads. DDL, DML
    /// (COPY, INSERT), statements (SET, transactions) and file access are
    /// refused. Dropping the future stops the query.
    pub async fn sql(&self, tenant: Option<TenantId>, sql: &str) -> Result<QueryOutput> {
        let Some(rt) = self.exec.0.as_ref() else {
            return self.sql_here(tenant, sql).await;
        };
        let (this, sql) = (self.clone(), sql.to_string());
        let mut task = AbortOnDrop(rt.spawn(async move { this.sql_here(tenant, &sql).await }));
        match (&mut task.0).await {
            Ok(r) => r,
            Err(e) => Err(Error::Execution(format!("query task failed: {e}"))),
        }
    }

    /// Plans `sql` without running it, under the same read-only rules as
    /// [`QueryEngine::sql`]: the schema of its answer, or why it is refused
    /// (a syntax error, an unknown table or column, a statement that writes).
    pub async fn check(&self, tenant: Option<TenantId>, sql: &str) -> Result<SchemaRef> {
        let (ctx, _) = self.session_with_scope(tenant);
        let plan = ctx
            .state()
            .create_logical_plan(sql)
            .await
            .map_err(Error::from_datafusion)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| Error::NotReadOnly(e.strip_backtrace()))?;
        Ok(Arc::new(plan.schema().as_arrow().clone()))
    }

    async fn sql_here(&self, tenant: Option<TenantId>, sql: &str) -> Result<QueryOutput> {
        let (ctx, scope) = self.session_with_scope(tenant);
        let options = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let plan = ctx
            .state()
            .create_logical_plan(sql)
            .await
            .map_err(Error::from_datafusion)?;
        options
            .verify_plan(&plan)
            .map_err(|e| Error::NotReadOnly(e.strip_backtrace()))?;
        let df = ctx
            .execute_logical_plan(plan)
            .await
            .map_err(Error::from_datafusion)?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let pool = ctx.runtime_env().memory_pool.clone();
        let mut stream = df.execute_stream().await.map_err(Error::from_datafusion)?;
        // The result is held in memory until it is sent: it counts against
        // the query's memory pool, and its rows against the row cap.
        let held = MemoryConsumer::new("query result").register(&pool);
        let (mut batches, mut rows) = (Vec::new(), 0usize);
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(Error::from_datafusion)?;
            rows += batch.num_rows();
            let cap = self.config.max_result_rows;
            if cap > 0 && rows > cap {
                return Err(Error::ResourcesExhausted(format!(
                    "the result has more than max_result_rows = {cap} rows; aggregate, or add a LIMIT"
                )));
            }
            held.try_grow(batch.get_array_memory_size())
                .map_err(Error::from_datafusion)?;
            batches.push(batch);
        }
        Ok(QueryOutput {
            schema,
            batches,
            warnings: scope.warnings(),
        })
    }
}
