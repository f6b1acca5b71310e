//! What `has_frame` and `has_frame_regex` share: `f(frames, pattern)` is
//! true when any frame of the list matches the pattern (null when either
//! is null). The pattern is compiled once when it is a constant.

use datafusion::arrow::array::{Array, AsArray, BooleanBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
use std::sync::Arc;

/// The return type of `name(frames, pattern)`, checking the arguments.
pub fn return_type(name: &str, arg_types: &[DataType]) -> Result<DataType> {
    match arg_types {
        [
            DataType::List(_) | DataType::Null,
            DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null,
        ] => Ok(DataType::Boolean),
        other => {
            exec_err!("{name}(frames, pattern) needs a list of strings and a string, got {other:?}")
        }
    }
}

/// Evaluates `name(frames, pattern)` with patterns compiled by `compile`
/// and tested by `hit`.
pub fn invoke<P: Clone>(
    name: &str,
    args: ScalarFunctionArgs,
    compile: impl Fn(&str) -> Result<P>,
    hit: impl Fn(&P, &str) -> bool,
) -> Result<ColumnarValue> {
    let rows = args.number_rows;
    let fixed = match args.args.get(1) {
        Some(ColumnarValue::Scalar(
            ScalarValue::Utf8(p) | ScalarValue::Utf8View(p) | ScalarValue::LargeUtf8(p),
        )) => Some(p.as_deref().map(&compile).transpose()?),
        _ => None,
    };
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let [frames, patterns] = arrays.as_slice() else {
        return exec_err!("{name}(frames, pattern) takes two arguments");
    };
    let Some(list) = frames.as_list_opt::<i32>() else {
        return exec_err!("{name}: the first argument must be a list of strings");
    };
    let values = list.values();
    let Some(strings) = values.as_string_opt::<i32>() else {
        return exec_err!("{name}: the first argument must be a list of strings");
    };
    let patterns = datafusion::arrow::compute::cast(patterns, &DataType::Utf8)?;
    let patterns = patterns.as_string::<i32>();
    let offsets = list.value_offsets();
    let mut out = BooleanBuilder::with_capacity(rows);
    for i in 0..list.len() {
        let pattern = match &fixed {
            Some(p) => p.clone(),
            None if patterns.is_null(i) => None,
            None => Some(compile(patterns.value(i))?),
        };
        let (Some(pattern), false) = (pattern, list.is_null(i)) else {
            out.append_null();
            continue;
        };
        let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
        out.append_value((s..e).any(|j| !strings.is_null(j) && hit(&pattern, strings.value(j))));
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}
