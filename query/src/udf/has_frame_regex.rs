//! `has_frame_regex(frames, regex)`.

use datafusion::arrow::array::{Array, AsArray, BooleanBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;
use std::sync::Arc;

/// `has_frame_regex(frames, regex)`: whether any frame matches the
/// regular expression (unanchored, as `regexp_like`; write `^…$` to match
/// whole names).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HasFrameRegex {
    signature: Signature,
}

impl HasFrameRegex {
    pub fn new() -> Self {
        HasFrameRegex {
            signature: Signature::any(2, Volatility::Immutable),
        }
    }
}

impl Default for HasFrameRegex {
    fn default() -> Self {
        Self::new()
    }
}

fn compile(p: &str) -> Result<Regex> {
    Regex::new(p).map_err(|e| {
        datafusion::error::DataFusionError::Execution(format!(
            "has_frame_regex: {p:?} is not a valid regex: {e}"
        ))
    })
}

impl ScalarUDFImpl for HasFrameRegex {
    fn name(&self) -> &str {
        "has_frame_regex"
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
                "has_frame_regex(frames, regex) needs a list of strings and a string, got {other:?}"
            ),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let rows = args.number_rows;
        let fixed = match args.args.get(1) {
            Some(ColumnarValue::Scalar(
                ScalarValue::Utf8(p) | ScalarValue::Utf8View(p) | ScalarValue::LargeUtf8(p),
            )) => Some(p.as_deref().map(compile).transpose()?),
            _ => None,
        };
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [frames, patterns] = arrays.as_slice() else {
            return exec_err!("has_frame_regex(frames, regex) takes two arguments");
        };
        let Some(list) = frames.as_list_opt::<i32>() else {
            return exec_err!("has_frame_regex: first argument must be a list of strings");
        };
        let values = list.values();
        let Some(strings) = values.as_string_opt::<i32>() else {
            return exec_err!("has_frame_regex: first argument must be a list of strings");
        };
        let patterns = datafusion::arrow::compute::cast(patterns, &DataType::Utf8)?;
        let patterns = patterns.as_string::<i32>();
        let offsets = list.value_offsets();
        let mut out = BooleanBuilder::with_capacity(rows);
        for i in 0..list.len() {
            let re = match &fixed {
                Some(re) => re.clone(),
                None if patterns.is_null(i) => None,
                None => Some(compile(patterns.value(i))?),
            };
            let (Some(re), false) = (re, list.is_null(i)) else {
                out.append_null();
                continue;
            };
            let (s, e) = (offsets[i] as usize, offsets[i + 1] as usize);
            let hit = (s..e).any(|j| !strings.is_null(j) && re.is_match(strings.value(j)));
            out.append_value(hit);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish())))
    }
}
