//! The `alerts` table: every state change of every instance (`pending`,
//! `firing`, `resolved`, `inactive`), with `time`, `tenant`, `rule`,
//! `labels`, `state`, `value` and `fingerprint`. Kept in memory up to
//! `max_rows` (oldest dropped first) and appended to `history.jsonl`, read
//! back at start.

use datafusion::arrow::array::{
    ArrayRef, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray,
};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::TableProvider;
use datafusion::datasource::MemTable;
use flarego_query::TenantTable;
use flarego_storage::TenantId;
use flarego_storage::schema::{labels_type, time_type};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One row of `alerts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryRow {
    pub time_ns: i64,
    pub tenant: String,
    pub rule: String,
    pub labels: BTreeMap<String, String>,
    pub state: String,
    pub value: f64,
    pub fingerprint: String,
}

/// The rows, shared by the engine (writer) and sessions (readers).
pub struct History {
    rows: parking_lot::RwLock<VecDeque<HistoryRow>>,
    max_rows: usize,
    path: PathBuf,
    file: parking_lot::Mutex<()>,
}

pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("time", time_type(), false),
        Field::new(
            "tenant",
            datafusion::arrow::datatypes::DataType::Utf8,
            false,
        ),
        Field::new("rule", datafusion::arrow::datatypes::DataType::Utf8, false),
        Field::new("labels", labels_type(), false),
        Field::new("state", datafusion::arrow::datatypes::DataType::Utf8, false),
        Field::new(
            "value",
            datafusion::arrow::datatypes::DataType::Float64,
            false,
        ),
        Field::new(
            "fingerprint",
            datafusion::arrow::datatypes::DataType::Utf8,
            false,
        ),
    ]))
}

impl History {
    /// Reads `history.jsonl` in `dir` (its last `max_rows` rows),
    /// rewriting it when it has grown to twice that.
    pub fn open(dir: &Path, max_rows: usize) -> History {
        let path = dir.join("history.jsonl");
        let mut rows = VecDeque::new();
        let mut lines = 0usize;
        if let Ok(f) = std::fs::File::open(&path) {
            for line in std::io::BufReader::new(f).lines().map_while(Result::ok) {
                lines += 1;
                // A torn last line (a crash mid-append) is skipped.
                if let Ok(r) = serde_json::from_str::<HistoryRow>(&line) {
                    rows.push_back(r);
                    if rows.len() > max_rows {
                        rows.pop_front();
                    }
                }
            }
        }
        let h = History {
            rows: parking_lot::RwLock::new(rows),
            max_rows,
            path,
            file: parking_lot::Mutex::new(()),
        };
        if lines > 2 * max_rows.max(1) {
            let text: String = h
                .rows
                .read()
                .iter()
                .filter_map(|r| serde_json::to_string(r).ok())
                .map(|l| l + "\n")
                .collect();
            if let Err(e) = crate::store::write_atomic_now(&h.path, text.as_bytes()) {
                tracing::error!(error = %e, "cannot trim the alert history");
            }
        }
        h
    }

    /// Appends rows (memory and file).
    pub fn append(&self, new: Vec<HistoryRow>) {
        if new.is_empty() {
            return;
        }
        let text: String = new
            .iter()
            .filter_map(|r| serde_json::to_string(r).ok())
            .map(|l| l + "\n")
            .collect();
        {
            let mut rows = self.rows.write();
            rows.extend(new);
            while rows.len() > self.max_rows {
                rows.pop_front();
            }
        }
        let _guard = self.file.lock();
        let written = (|| {
            if let Some(d) = self.path.parent() {
                std::fs::create_dir_all(d)?;
            }
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)?
                .write_all(text.as_bytes())
        })();
        if let Err(e) = written {
            tracing::error!(path = %self.path.display(), error = %e, "cannot append to the alert history");
        }
    }

    /// The rows `tenant` may see, as one batch.
    pub fn batch(&self, tenant: Option<&TenantId>) -> RecordBatch {
        let rows = self.rows.read();
        let seen: Vec<&HistoryRow> = rows
            .iter()
            .filter(|r| tenant.is_none_or(|t| t.0 == r.tenant))
            .collect();
        let strings = |f: fn(&HistoryRow) -> &str| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(seen.iter().map(|r| f(r))))
        };
        let columns: Vec<ArrayRef> = vec![
            Arc::new(
                TimestampNanosecondArray::from_iter_values(seen.iter().map(|r| r.time_ns))
                    .with_timezone("UTC"),
            ),
            strings(|r| &r.tenant),
            strings(|r| &r.rule),
            Arc::new(flarego_storage::arrays::labels_array(
                seen.iter().map(|r| &r.labels),
            )),
            strings(|r| &r.state),
            Arc::new(Float64Array::from_iter_values(seen.iter().map(|r| r.value))),
            strings(|r| &r.fingerprint),
        ];
        match RecordBatch::try_new(schema(), columns) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot build the alerts table");
                RecordBatch::new_empty(schema())
            }
        }
    }
}

/// `alerts` in every session: built when a query scans it.
pub struct AlertsTable(pub Arc<History>);

impl TenantTable for AlertsTable {
    fn provider(&self, tenant: Option<&TenantId>) -> Arc<dyn TableProvider> {
        Arc::new(LazyHistory {
            history: self.0.clone(),
            tenant: tenant.cloned(),
        })
    }
}

/// Copies the rows only if a query reads the table.
#[derive(Debug)]
struct LazyHistory {
    history: Arc<History>,
    tenant: Option<TenantId>,
}

impl std::fmt::Debug for History {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("History").field("path", &self.path).finish()
    }
}

#[async_trait::async_trait]
impl TableProvider for LazyHistory {
    fn schema(&self) -> SchemaRef {
        schema()
    }
    fn table_type(&self) -> datafusion::logical_expr::TableType {
        datafusion::logical_expr::TableType::Base
    }
    async fn scan(
        &self,
        state: &dyn datafusion::catalog::Session,
        projection: Option<&Vec<usize>>,
        filters: &[datafusion::logical_expr::Expr],
        limit: Option<usize>,
    ) -> datafusion::error::Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        let batch = self.history.batch(self.tenant.as_ref());
        let table = MemTable::try_new(schema(), vec![vec![batch]])?;
        table.scan(state, projection, filters, limit).await
    }
}
