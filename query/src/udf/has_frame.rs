//! `has_frame(frames, pattern)`.

use super::like::LikePattern;
use datafusion::arrow::array::{Array, AsArray, BooleanBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// `has_frame(frames, pattern)`: whether any frame matches the `LIKE`
/// pattern (no wildcard: exact match).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HasFrame {
    signature: Signature,
}

impl HasFrame {
    pub fn new() -> Self {
        HasFrame {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl Default for HasFrame {
    fn default() -> Self {
        Self::new()
    }
}

impl ScalarUDFImpl for HasFrame {
    fn name(&self) -> &str {
        "has_frame"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        match arg_types {
            [
                DataType::List(_) | DataType::Null,
                DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8 | DataType::Null,
            ] => Ok(DataType::Boolean),
            other => exec_err!(
                "has_frame(frames, pattern) needs a list of strings and a string, got {other:?}"
            ),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let scalar_pattern = match args.args.get(1) {
            Some(ColumnarValue::Scalar(
                ScalarValue::Utf8(p) | ScalarValue::Utf8View(p) | ScalarValue::LargeUtf8(p),
            )) => Some(p.clone()),
            _ => None,
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [frames, patterns] = arrays.as_slice() else {
            return exec_err!("has_frame(frames, pattern) takes two arguments");
        };
        let Some(list) = frames.as_list_opt::<i32>() else {
            return exec_err!("has_frame: first argument must be a list of strings");
        };
        let values = list.values();
        let Some(strings) = values.as_string_opt::<i32>() else {
            return exec_err!("has_frame: first argument must be a list of strings");
        };
        let patterns = datafusion::arrow::compute::cast(patterns, &DataType::Utf8)?;
        let patterns = patterns.as_string::<i32>();
        let fixed = scalar_pattern.map(|p| p.map(|p| LikePattern::new(&p)));
        let offsets = list.value_offsets();
        let mut out = BooleanBuilder::with_capacity(rows);
        for i in 0..list.len() {
            let pat = match &fixed {
                Some(p) => p.clone(),
                None => (!patterns.is_null(i)).then(|| LikePattern::new(patterns.value(i))),
            };
            let (Some(pat), false) = (pat, list.is_null(i)) else {
                out.append_null();
                continue;
            };
            let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
            let hit = (s..e).any(|j| !strings.is_null(j) && pat.matches(strings.value(j)));
            out.append_value(hit);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
