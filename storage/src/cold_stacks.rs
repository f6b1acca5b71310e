//! Frames of stacks evicted from memory, read back from the stacks files.
//!
//! Stacks files are sorted by stack id in row groups of
//! [`STACKS_ROW_GROUP_ROWS`], so the min/max statistics of each row group
//! tell which groups can hold the ids asked for; only those are read. The
//! newest files are read first and the search stops once every id is found.

use crate::error::{Error, Result};
use crate::ids::StackId;
use crate::manifest::FileEntry;
use crate::model::Frames;
use arrow::array::{Array, AsArray, ListArray, StringArray};
use arrow::datatypes::UInt64Type;
use bytes::Bytes;
use futures::FutureExt;
use futures::StreamExt;
use futures::future::BoxFuture;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::arrow_reader::ArrowReaderOptions;
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::errors::ParquetError;
use parquet::file::metadata::{ParquetMetaData, ParquetMetaDataReader};
use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::Arc;

/// Rows per row group of a stacks file: a lookup reads whole groups.
pub const STACKS_ROW_GROUP_ROWS: usize = 16 * 1024;

/// The frames of `ids` found in `files` (stacks files, any order).
pub async fn fetch(
    store: Arc<dyn ObjectStore>,
    mut files: Vec<FileEntry>,
    ids: &[u64],
) -> Result<Vec<(StackId, Frames)>> {
    let mut want: BTreeSet<u64> = ids.iter().copied().collect();
    let mut found = Vec::with_capacity(want.len());
    // Newest first: later files hold the stacks seen last.
    files.sort_by(|a, b| b.path.cmp(&a.path));
    for f in files {
        if want.is_empty() {
            break;
        }
        let perr = |source| Error::Parquet {
            path: f.path.clone(),
            source,
        };
        let reader = StoreReader::new(store.clone(), &f);
        let builder = ParquetRecordBatchStreamBuilder::new(reader)
            .await
            .map_err(perr)?;
        let groups = {
            let meta = builder.metadata();
            let conv = StatisticsConverter::try_new(
                crate::schema::COL_STACK_ID,
                builder.schema(),
                builder.parquet_schema(),
            )
            .map_err(perr)?;
            let mins = conv
                .row_group_mins(meta.row_groups().iter())
                .map_err(perr)?;
            let maxs = conv
                .row_group_maxes(meta.row_groups().iter())
                .map_err(perr)?;
            let (mins, maxs) = (
                mins.as_primitive_opt::<UInt64Type>().cloned(),
                maxs.as_primitive_opt::<UInt64Type>().cloned(),
            );
            (0..meta.num_row_groups())
                .filter(|i| match (&mins, &maxs) {
                    (Some(lo), Some(hi)) if lo.is_valid(*i) && hi.is_valid(*i) => {
                        want.range(lo.value(*i)..=hi.value(*i)).next().is_some()
                    }
                    // No statistics: the group may hold anything.
                    _ => true,
                })
                .collect::<Vec<_>>()
        };
        if groups.is_empty() {
            continue;
        }
        let mut stream = builder.with_row_groups(groups).build().map_err(perr)?;
        while let Some(batch) = stream.next().await {
            let batch = batch.map_err(perr)?;
            let ids = batch.column(0).as_primitive::<UInt64Type>();
            let lists: &ListArray = batch.column(1).as_list();
            for i in 0..ids.len() {
                if !want.remove(&ids.value(i)) {
                    continue;
                }
                let l = lists.value(i);
                let names: &StringArray = l.as_string();
                let frames: Frames = names.iter().map(|n| Arc::from(n.unwrap_or(""))).collect();
                found.push((StackId(ids.value(i)), frames));
            }
        }
    }
    Ok(found)
}

/// Reads one file of the object store in ranges, as Parquet asks.
pub(crate) struct StoreReader {
    store: Arc<dyn ObjectStore>,
    path: Path,
    size: u64,
}

impl StoreReader {
    pub(crate) fn new(store: Arc<dyn ObjectStore>, file: &FileEntry) -> Self {
        StoreReader {
            store,
            path: Path::from(file.path.as_str()),
            size: file.bytes,
        }
    }
}

fn external(e: object_store::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl AsyncFileReader for StoreReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, parquet::errors::Result<Bytes>> {
        async move {
            self.store
                .get_range(&self.path, range)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, parquet::errors::Result<Vec<Bytes>>> {
        async move {
            self.store
                .get_ranges(&self.path, &ranges)
                .await
                .map_err(external)
        }
        .boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, parquet::errors::Result<Arc<ParquetMetaData>>> {
        async move {
            let size = self.size;
            let metadata = ParquetMetaDataReader::new()
                .with_arrow_reader_options(options)
                .load_and_finish(self, size)
                .await?;
            Ok(Arc::new(metadata))
        }
        .boxed()
    }
}
