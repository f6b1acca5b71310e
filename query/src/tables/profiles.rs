//! The `profiles` table: sample rows from hot windows and cold files, with
//! `frames` attached late from the stack table.

use super::bounds::TimeBounds;
use super::hot::{self, HotKind};
use super::rollup_files::{self, RollupPlan};
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
use flarego_storage::{Engine, FileKind, TierSnapshot, schema};
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
#[derive(Debug, Clone)]
pub struct ProfilesTable {
    engine: Engine,
    scope: ScanScope,
    frames_of: Arc<ScalarUDF>,
    /// Set by [`crate::rollups::Rollups`] on a scan whose query rollups
    /// answer exactly.
    rollups: Option<RollupPlan>,
}

impl ProfilesTable {
    /// `frames_of` must be a [`FramesOf`](crate::udf::FramesOf) over `engine`'s stacks.
    pub fn new(engine: Engine, scope: ScanScope, frames_of: Arc<ScalarUDF>) -> Self {
        ProfilesTable {
            engine,
            scope,
            frames_of,
            rollups: None,
        }
    }

    /// This table, scanning rollups as `plan` allows.
    pub fn with_rollups(&self, plan: RollupPlan) -> Self {
        ProfilesTable {
            rollups: Some(plan),
            ..self.clone()
        }
    }

    /// What the scan may read from rollups, if anything.
    pub fn rollups(&self) -> Option<&RollupPlan> {
        self.rollups.as_ref()
    }

    /// The cold samples scans: raw files (retention as for raw rows) and
    /// rollup files (their own retention), each `None` when empty.
    async fn cold_scans(
        &self,
        state: &dyn Session,
        snap: &TierSnapshot,
        sample_cols: &[usize],
        filters: &[Expr],
        bounds: TimeBounds,
    ) -> Result<(Vec<Arc<dyn ExecutionPlan>>, Vec<Arc<dyn ExecutionPlan>>)> {
        let samples = schema::samples_schema();
        let Some(plan) = &self.rollups else {
            let files = scan::cold_files(snap, FileKind::Samples, bounds, &self.scope);
            let files = scan::readable(&self.engine, files, &self.scope).await?;
            let raw = scan::cold_exec(state, &files, samples, sample_cols, filters)?;
            return Ok((raw.into_iter().collect(), Vec::new()));
        };
        let (mut raw, mut rolled) = (Vec::new(), Vec::new());
        for part in rollup_files::choose(snap, plan, bounds, &self.scope) {
            let files = scan::readable(&self.engine, part.files, &self.scope).await?;
            // The part's ranges prune row groups too (a day file's hours).
            let mut part_filters = filters.to_vec();
            part_filters.extend(rollup_files::ranges_expr(&part.ranges));
            let Some(exec) =
                scan::cold_exec(state, &files, samples.clone(), sample_cols, &part_filters)?
            else {
                continue;
            };
            let exec = scan::within_ranges(exec, &part.ranges)?;
            match part.step {
                Some(_) => rolled.push(exec),
                None => raw.push(exec),
            }
        }
        Ok((raw, rolled))
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
        // Retention filters on time and tenant, and rollup ranges on
        // time: scan them too.
        if !snap.cutoffs.is_none() || self.rollups.is_some() {
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
        let (raw, rolled) = self
            .cold_scans(state, &snap, &sample_cols, filters, bounds)
            .await?;
        let raw = hot.into_iter().chain(raw).map(Some).collect();
        let mut input = scan::union_or_empty(raw, inner_schema.clone())?;
        input = scan::within_retention(input, &snap.cutoffs, &self.scope)?;
        if !rolled.is_empty() {
            let rolled =
                scan::union_or_empty(rolled.into_iter().map(Some).collect(), inner_schema.clone())?;
            let rolled = scan::within_retention(rolled, &snap.rollup_cutoffs, &self.scope)?;
            input = scan::union_or_empty(vec![Some(input), Some(rolled)], inner_schema.clone())?;
        }

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
