//! sqllogictest over FlareGo's own session: an in-process engine with a
//! fixture written through the real ingest decoders, part of it flushed
//! to Parquet (cold) and part left in memory (hot), so every `.slt` query
//! reads both tiers.

use anyhow::Context;
use async_trait::async_trait;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use flarego_ingest::Limits;
use flarego_ingest::decode::budget::MemoryCharge;
use flarego_ingest::record::{IngestRecord, Source, replay_decoder};
use flarego_query::{QueryConfig, QueryEngine};
use flarego_storage::{ColdStoreConfig, Engine, StorageConfig, TenantId};
use sqllogictest::{DBOutput, DefaultColumnType};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// First window of the fixture: 2023-11-14T22:13:20Z.
pub const T0_NS: i64 = 1_700_000_000_000_000_000;

/// A FlareGo session as a sqllogictest database.
pub struct FlareGoDb {
    pub query: QueryEngine,
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SltError(String);

#[async_trait]
impl sqllogictest::AsyncDB for FlareGoDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<DefaultColumnType>, SltError> {
        let out = self
            .query
            .sql(None, sql)
            .await
            .map_err(|e| SltError(e.to_string()))?;
        let opts = FormatOptions::default().with_null("NULL");
        let mut rows = Vec::new();
        for b in &out.batches {
            let fmts: Vec<ArrayFormatter> = b
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts))
                .collect::<Result<_, _>>()
                .map_err(|e| SltError(e.to_string()))?;
            for r in 0..b.num_rows() {
                rows.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
            }
        }
        Ok(DBOutput::Rows {
            types: vec![DefaultColumnType::Any; out.schema.fields().len()],
            rows,
        })
    }

    async fn shutdown(&mut self) {}
}

/// One folded upload of the fixture.
pub struct Folded<'a> {
    pub tenant: &'a str,
    pub service: &'a str,
    pub profile_type: &'a str,
    pub unit: &'a str,
    pub time_ns: i64,
    pub labels: &'a [(&'a str, &'a str)],
    pub lines: &'a str,
}

/// Writes one folded upload through the real decoder and WAL.
pub async fn write_folded(engine: &Engine, f: Folded<'_>) -> anyhow::Result<()> {
    let rec = IngestRecord {
        tenant: TenantId(f.tenant.into()),
        received_ns: f.time_ns,
        source: Source::Folded {
            service: f.service.into(),
            instance: "i-1".into(),
            labels: f
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            profile_type: f.profile_type.into(),
            unit: f.unit.into(),
            scale: 1,
            time_ns: Some(f.time_ns),
        },
        parts: vec![f.lines.as_bytes().to_vec()],
    };
    let batch = rec.decode(
        engine.stacks(),
        &Limits::unlimited(),
        &mut MemoryCharge::unlimited(),
    )?;
    engine.write(rec.encode(), batch).await?;
    Ok(())
}

/// An engine holding the SQL fixture: `api` CPU and `worker` goroutines,
/// two tenants, one window cold and one hot.
pub async fn fixture_engine(dir: &Path) -> anyhow::Result<Engine> {
    let config = StorageConfig {
        data_dir: dir.to_path_buf(),
        hot_retention: Duration::from_secs(3600 * 24 * 365 * 100),
        cold: ColdStoreConfig::InMemory,
        ..Default::default()
    };
    let engine = Engine::open(config, Arc::new(replay_decoder)).await?;
    let t1 = T0_NS + 10_000_000_000;
    let prod = [("env", "prod")];
    let cpu = |tenant, service, time_ns, labels, lines| Folded {
        tenant,
        service,
        profile_type: "cpu",
        unit: "nanoseconds",
        time_ns,
        labels,
        lines,
    };
    write_folded(
        &engine,
        cpu(
            "default",
            "api",
            T0_NS,
            &prod,
            "main;handler;json.Marshal 30\nmain;handler;db.Query 50\nmain;gc;runtime.mallocgc 20\n",
        ),
    )
    .await?;
    write_folded(
        &engine,
        cpu("acme", "billing", T0_NS, &[], "main;charge 7\n"),
    )
    .await?;
    engine.flush().await.context("flushing the cold part")?;
    write_folded(
        &engine,
        cpu(
            "default",
            "api",
            t1,
            &prod,
            "main;handler;json.Marshal 10\nmain;gc;runtime.mallocgc 40\n",
        ),
    )
    .await?;
    write_folded(
        &engine,
        Folded {
            tenant: "default",
            service: "worker",
            profile_type: "goroutine",
            unit: "count",
            time_ns: t1,
            labels: &[("env", "dev")],
            lines: "main;loop 5\nmain;loop;time.Sleep 3\n",
        },
    )
    .await?;
    Ok(engine)
}

/// Runs every `.slt` file in `dir` against the fixture.
pub async fn run_dir(dir: &Path) -> anyhow::Result<usize> {
    let tmp = tempfile::tempdir()?;
    let engine = fixture_engine(tmp.path()).await?;
    let query = QueryEngine::new(engine, QueryConfig::default())?;
    let mut files: Vec<_> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    anyhow::ensure!(!files.is_empty(), "no .slt files in {}", dir.display());
    for f in &files {
        let q = query.clone();
        let mut runner = sqllogictest::Runner::new(move || {
            let q = q.clone();
            async move { Ok(FlareGoDb { query: q }) }
        });
        runner.with_column_validator(|_, _| true);
        runner
            .run_file_async(f)
            .await
            .with_context(|| format!("{}", f.display()))?;
    }
    Ok(files.len())
}
