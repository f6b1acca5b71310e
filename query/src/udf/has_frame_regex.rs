//! `has_frame_regex(frames, regex)`.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use regex::Regex;

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
        super::any_frame::return_type("has_frame_regex", arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::any_frame::invoke("has_frame_regex", args, compile, |re: &Regex, frame| {
            re.is_match(frame)
        })
    }
}
