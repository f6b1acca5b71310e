//! Arrow schemas of what storage holds, hot and cold alike.
//!
//! - [`samples_schema`]: one row per (window, series, stack); `stack_id`
//!   points into the stacks table. This is the `profiles` table of the SQL
//!   surface without its `frames` column, which the query layer attaches late.
//! - [`stacks_schema`]: `stack_id` → `frames` (root first).
//! - [`metrics_schema`]: the `metrics` table.
//!
//! String columns of low cardinality are dictionary-encoded, in memory and
//! in Parquet. `docs/schema.md` describes the physical layout.

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, LazyLock};

pub const COL_TIME: &str = "time";
pub const COL_DURATION: &str = "duration_ns";
pub const COL_TENANT: &str = "tenant";
pub const COL_SERVICE: &str = "service";
pub const COL_INSTANCE: &str = "instance";
pub const COL_PROFILE_TYPE: &str = "profile_type";
pub const COL_UNIT: &str = "unit";
pub const COL_STATE: &str = "state";
pub const COL_LABELS: &str = "labels";
pub const COL_STACK_ID: &str = "stack_id";
pub const COL_FRAMES: &str = "frames";
pub const COL_VALUE: &str = "value";
pub const COL_NAME: &str = "name";

/// Timestamps: nanoseconds, UTC.
pub fn time_type() -> DataType {
    DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
}

/// Dictionary-encoded UTF-8, the type of every low-cardinality string column.
pub fn dict_type() -> DataType {
    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8))
}

/// `map<string, string>` with the field names Parquet uses, so the type
/// reads back from files unchanged.
pub fn labels_type() -> DataType {
    DataType::Map(labels_entries_field(), false)
}

pub fn labels_entries_field() -> Arc<Field> {
    Arc::new(Field::new(
        "key_value",
        DataType::Struct(Fields::from(vec![
            Field::new("key", DataType::Utf8, false),
            Field::new("value", DataType::Utf8, true),
        ])),
        false,
    ))
}

/// `list<string>` of frame names, root first.
pub fn frames_type() -> DataType {
    DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)))
}

static SAMPLES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(COL_TIME, time_type(), false),
        Field::new(COL_DURATION, DataType::Int64, false),
        Field::new(COL_TENANT, dict_type(), false),
        Field::new(COL_SERVICE, dict_type(), false),
        Field::new(COL_INSTANCE, dict_type(), false),
        Field::new(COL_PROFILE_TYPE, dict_type(), false),
        Field::new(COL_UNIT, dict_type(), false),
        Field::new(COL_STATE, dict_type(), true),
        Field::new(COL_LABELS, labels_type(), false),
        Field::new(COL_STACK_ID, DataType::UInt64, false),
        Field::new(COL_VALUE, DataType::Int64, false),
    ]))
});

static STACKS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(COL_STACK_ID, DataType::UInt64, false),
        Field::new(COL_FRAMES, frames_type(), false),
    ]))
});

static METRICS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new(COL_TIME, time_type(), false),
        Field::new(COL_TENANT, dict_type(), false),
        Field::new(COL_SERVICE, dict_type(), false),
        Field::new(COL_INSTANCE, dict_type(), false),
        Field::new(COL_NAME, dict_type(), false),
        Field::new(COL_VALUE, DataType::Float64, false),
        Field::new(COL_LABELS, labels_type(), false),
    ]))
});

/// Samples: the `profiles` table without `frames`.
pub fn samples_schema() -> SchemaRef {
    SAMPLES.clone()
}

/// Stacks: `stack_id`, `frames`.
pub fn stacks_schema() -> SchemaRef {
    STACKS.clone()
}

/// The `metrics` table.
pub fn metrics_schema() -> SchemaRef {
    METRICS.clone()
}
