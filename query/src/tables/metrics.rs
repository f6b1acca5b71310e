//! The `metrics` table: metric points from hot windows and cold files.

use super::bounds::TimeBounds;
use super::hot::{self, HotKind};
use super::scan::{self, ScanScope};
use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use flarego_storage::{Engine, FileKind, schema};
use std::sync::Arc;

/// The `metrics` table for one session.
#[derive(Debug)]
pub struct MetricsTable {
    engine: Engine,
    scope: ScanScope,
}

impl MetricsTable {
    pub fn new(engine: Engine, scope: ScanScope) -> Self {
        MetricsTable { engine, scope }
    }
}

#[async_trait]
impl TableProvider for MetricsTable {
    fn schema(&self) -> SchemaRef {
        schema::metrics_schema()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let full = schema::metrics_schema();
        let all: Vec<usize> = (0..full.fields().len()).collect();
        let wanted = projection.unwrap_or(&all);
        let snap = self.engine.snapshot();
        // Retention filters on time and tenant: scan them too, after the
        // wanted columns, and drop them again once filtered.
        let mut scanned = wanted.clone();
        if !snap.cutoffs.is_none() {
            for i in [
                full.index_of(schema::COL_TIME)?,
                full.index_of(schema::COL_TENANT)?,
            ] {
                if !scanned.contains(&i) {
                    scanned.push(i);
                }
            }
        }
        let projection = &scanned;
        let projected = Arc::new(full.project(projection)?);
        self.scope.hold(&snap);
        let bounds = TimeBounds::from_filters(filters);
        let files = scan::cold_files(&snap, FileKind::Metrics, bounds, &self.scope);
        let files = scan::readable(&self.engine, files, &self.scope).await?;
        let hot = hot::hot_exec(
            state,
            &snap,
            HotKind::Metrics,
            projected.clone(),
            projection,
            bounds,
            &self.scope,
        )?;
        let input = scan::union_or_empty(
            vec![
                hot,
                scan::cold_exec(state, &files, full.clone(), projection, filters)?,
            ],
            projected,
        )?;
        let filtered = scan::within_retention(input, &snap.cutoffs, &self.scope)?;
        if scanned.len() == wanted.len() {
            return Ok(filtered);
        }
        let exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> = wanted
            .iter()
            .enumerate()
            .map(|(pos, i)| {
                let name = full.field(*i).name().clone();
                (
                    Arc::new(datafusion::physical_expr::expressions::Column::new(
                        &name, pos,
                    )) as Arc<dyn datafusion::physical_expr::PhysicalExpr>,
                    name,
                )
            })
            .collect();
        Ok(Arc::new(
            datafusion::physical_plan::projection::ProjectionExec::try_new(exprs, filtered)?,
        ))
    }
}
