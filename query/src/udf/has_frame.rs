//! `has_frame(frames, pattern)`.

use super::like::LikePattern;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

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
        super::any_frame::return_type("has_frame", arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        super::any_frame::invoke(
            "has_frame",
            args,
            |p| Ok(LikePattern::new(p)),
            |p, frame| p.matches(frame),
        )
    }
}
