//! The `profiles` table: sample rows from hot windows and cold files, with
//! `frames` attached late from the stack table.

use super::bounds::TimeBounds;
use super::hot::{self, HotKind};
use super::scan::{self, ScanScope};
use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::catalog::Session;
use datafusion::catalog::TableProvider;
use datafusion::common::Result;
use datafusion::datasource::TableType;
use datafusion::logical_expr::{Expr, ScalarUDF, TableProviderFilterPushDown};
use datafusion::physical_expr::ScalarFunctionExpr;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::projection::ProjectionExec;
use flarego_storage::{Engine, FileKind, schema};
use std::sync::{Arc, LazyLock};

/// Position of `frames` in the table (right after `stack_id`).
const FRAMES_AT: usize = 10;

static PROFILES: LazyLock<SchemaRef> = LazyLock::new(|| {
    let samples = schema::samples_schema();
    let mut fields: Vec<Field> = samples
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    fields.insert(
        FRAMES_AT,
        Field::new(schema::COL_FRAMES, schema::frames_type(), true),
    );
    Arc::new(Schema::new(fields))
});

/// Schema of the `profiles` table.
pub fn profiles_schema() -> SchemaRef {
    PROFILES.clone()
}

/// The `profiles` table for one session.
#[derive(Debug)]
pub struct ProfilesTable {
    engine: Engine,
    scope: ScanScope,
    frames_of: Arc<ScalarUDF>,
}

impl ProfilesTable {
    /// `frames_of` must be a [`FramesOf`](crate::udf::FramesOf) over `engine`'s stacks.
    pub fn new(engine: Engine, scope: ScanScope, frames_of: Arc<ScalarUDF>) -> Self {
        ProfilesTable {
            engine,
            scope,
            frames_of,
        }
    }
}

#[async_trait]
impl TableProvider for ProfilesTable {
    fn schema(&self) -> SchemaRef {
        profiles_schema()
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
        let table = profiles_schema();
        let all: Vec<usize> = (0..table.fields().len()).collect();
        let projection = projection.unwrap_or(&all);
        let to_sample = |i: usize| if i < FRAMES_AT { i } else { i - 1 };
        let stack_idx = FRAMES_AT - 1;
        let want_frames = projection.contains(&FRAMES_AT);

        let mut sample_cols: Vec<usize> = projection
            .iter()
            .filter(|i| **i != FRAMES_AT)
            .map(|i| to_sample(*i))
            .collect();
        if want_frames {
            sample_cols.push(stack_idx);
        }
        let snap = self.engine.snapshot();
        // Retention filters on time and tenant: scan them too.
        if !snap.cutoffs.is_none() {
            let samples = schema::samples_schema();
            sample_cols.push(samples.index_of(schema::COL_TIME)?);
            sample_cols.push(samples.index_of(schema::COL_TENANT)?);
        }
        sample_cols.sort_unstable();
        sample_cols.dedup();

        self.scope.hold(&snap);
        let bounds = TimeBounds::from_filters(filters);
        let samples = schema::samples_schema();
        let inner_schema = Arc::new(samples.project(&sample_cols)?);
        let hot = hot::hot_exec(
            state,
            &snap,
            HotKind::Samples,
            inner_schema.clone(),
            &sample_cols,
            bounds,
            &self.scope,
        )?;
        let files = scan::cold_files(&snap, FileKind::Samples, bounds, &self.scope);
        let files = scan::readable(&self.engine, files, &self.scope).await?;
        let input = scan::union_or_empty(
            vec![
                hot,
                scan::cold_exec(state, &files, samples.clone(), &sample_cols, filters)?,
            ],
            inner_schema.clone(),
        )?;
        let input = scan::within_retention(input, &snap.cutoffs, &self.scope)?;

        // Reorder to the requested projection, attaching frames.
        let pos = |sample_idx: usize| {
            sample_cols
                .iter()
                .position(|c| *c == sample_idx)
                .unwrap_or(0)
        };
        let mut exprs: Vec<(Arc<dyn datafusion::physical_expr::PhysicalExpr>, String)> = Vec::new();
        for &i in projection {
            let name = table.field(i).name().clone();
            if i == FRAMES_AT {
                let stack = Arc::new(Column::new(schema::COL_STACK_ID, pos(stack_idx)));
                let f = ScalarFunctionExpr::try_new(
                    self.frames_of.clone(),
                    vec![stack],
                    inner_schema.as_ref(),
                    Arc::new(state.config_options().clone()),
                )?;
                exprs.push((Arc::new(f), name));
            } else {
                exprs.push((Arc::new(Column::new(&name, pos(to_sample(i)))), name));
            }
        }
        Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
    }
}
