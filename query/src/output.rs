//! Query results as JSON (`{"columns": [...], "rows": [[...], ...]}`) or as
//! an Arrow IPC stream.

use crate::session::QueryOutput;
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use serde_json::{Map, Value, json};

/// The JSON form of a result.
pub fn to_json(out: &QueryOutput) -> Result<Value, ArrowError> {
    let columns: Vec<Value> = out
        .schema
        .fields()
        .iter()
        .map(|f| json!({"name": f.name(), "type": type_name(f.data_type())}))
        .collect();
    let mut rows = Vec::with_capacity(out.num_rows());
    for batch in &out.batches {
        let cols: Vec<Vec<Value>> = batch
            .columns()
            .iter()
            .map(column_values)
            .collect::<Result<_, _>>()?;
        for r in 0..batch.num_rows() {
            rows.push(Value::Array(cols.iter().map(|c| c[r].clone()).collect()));
        }
    }
    let mut v = json!({"columns": columns, "rows": rows});
    if !out.warnings.is_empty() {
        v["warnings"] = json!(out.warnings);
    }
    Ok(v)
}

/// A short, stable name for a column type.
pub fn type_name(t: &DataType) -> String {
    match t {
        DataType::Dictionary(_, v) => type_name(v),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => "timestamp".into(),
        DataType::Timestamp(..) => "timestamp".into(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "string".into(),
        DataType::List(f) | DataType::LargeList(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::Map(..) => "map<string,string>".into(),
        other => other.to_string().to_lowercase(),
    }
}

/// Every value of one column as JSON.
fn column_values(a: &ArrayRef) -> Result<Vec<Value>, ArrowError> {
    let a: ArrayRef = match a.data_type() {
        DataType::Dictionary(_, v) => datafusion::arrow::compute::cast(a, v)?,
        DataType::Utf8View | DataType::LargeUtf8 => {
            datafusion::arrow::compute::cast(a, &DataType::Utf8)?
        }
        _ => a.clone(),
    };
    let n = a.len();
    let mut out = Vec::with_capacity(n);
    macro_rules! prim {
        ($t:ty) => {{
            let p = a.as_primitive::<$t>();
            for i in 0..n {
                out.push(if p.is_null(i) {
                    Value::Null
                } else {
                    json!(p.value(i))
                });
            }
        }};
    }
    use datafusion::arrow::datatypes::*;
    match a.data_type() {
        DataType::Null => out.resize(n, Value::Null),
        DataType::Boolean => {
            let b = a.as_boolean();
            for i in 0..n {
                out.push(if b.is_null(i) {
                    Value::Null
                } else {
                    json!(b.value(i))
                });
            }
        }
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float64 => {
            let p = a.as_primitive::<Float64Type>();
            for i in 0..n {
                out.push(if p.is_null(i) {
                    Value::Null
                } else {
                    serde_json::Number::from_f64(p.value(i)).map_or(Value::Null, Value::Number)
                });
            }
        }
        DataType::Utf8 => {
            let s = a.as_string::<i32>();
            for i in 0..n {
                out.push(if s.is_null(i) {
                    Value::Null
                } else {
                    json!(s.value(i))
                });
            }
        }
        DataType::List(_) => {
            let l = a.as_list::<i32>();
            for i in 0..n {
                out.push(if l.is_null(i) {
                    Value::Null
                } else {
                    Value::Array(column_values(&l.value(i))?)
                });
            }
        }
        DataType::Map(..) => {
            let m = a.as_map();
            for i in 0..n {
                if m.is_null(i) {
                    out.push(Value::Null);
                    continue;
                }
                let entries = m.value(i);
                let keys = column_values(entries.column(0))?;
                let vals = column_values(entries.column(1))?;
                let mut obj = Map::new();
                for (k, v) in keys.into_iter().zip(vals) {
                    let k = match k {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    obj.insert(k, v);
                }
                out.push(Value::Object(obj));
            }
        }
        _ => {
            // Timestamps (RFC 3339) and anything else: Arrow's display form.
            let opts = FormatOptions::default().with_display_error(true);
            let f = ArrayFormatter::try_new(a.as_ref(), &opts)?;
            for i in 0..n {
                out.push(if a.is_null(i) {
                    Value::Null
                } else {
                    json!(f.value(i).to_string())
                });
            }
        }
    }
    Ok(out)
}

/// The result as an Arrow IPC stream.
pub fn to_arrow_ipc(out: &QueryOutput) -> Result<Vec<u8>, ArrowError> {
    let mut buf = Vec::new();
    {
        let mut w = StreamWriter::try_new(&mut buf, &out.schema)?;
        for b in &out.batches {
            w.write(b)?;
        }
        w.finish()?;
    }
    Ok(buf)
}
