//! `leaf(frames)` and `root(frames)`.

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, exec_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use std::sync::Arc;

/// `leaf(frames)`: the last (innermost) frame of a root-first stack.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Leaf {
    signature: Signature,
}

/// `root(frames)`: the first (outermost) frame.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Root {
    signature: Signature,
}

impl Leaf {
    pub fn new() -> Self {
        Leaf {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for Leaf {
    fn default() -> Self {
        Self::new()
    }
}

impl Root {
    pub fn new() -> Self {
        Root {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl Default for Root {
    fn default() -> Self {
        Self::new()
    }
}

fn end_frame(name: &str, args: ScalarFunctionArgs, last: bool) -> Result<ColumnarValue> {
    let arrays = ColumnarValue::values_to_arrays(&args.args)?;
    let Some(frames) = arrays.first() else {
        return exec_err!("{name}(frames) takes one argument");
    };
    let Some(list) = frames.as_list_opt::<i32>() else {
        return exec_err!(
            "{name}(frames) needs a list of strings, got {}",
            frames.data_type()
        );
    };
    let values = list.values();
    let Some(strings) = values.as_string_opt::<i32>() else {
        return exec_err!(
            "{name}(frames) needs a list of strings, got {}",
            frames.data_type()
        );
    };
    let offsets = list.value_offsets();
    let mut out = StringBuilder::with_capacity(list.len(), list.len() * 16);
    for i in 0..list.len() {
        let (start, end) = (offsets[i] as usize, offsets[i + 1] as usize);
        if list.is_null(i) || start == end {
            out.append_null();
            continue;
        }
        let at = if last { end - 1 } else { start };
        if strings.is_null(at) {
            out.append_null();
        } else {
            out.append_value(strings.value(at));
        }
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
}

fn check_list(name: &str, arg_types: &[DataType]) -> Result<DataType> {
    match arg_types {
        [DataType::List(_)] | [DataType::Null] => Ok(DataType::Utf8),
        other => exec_err!("{name}(frames) needs a list of strings, got {other:?}"),
    }
}

impl ScalarUDFImpl for Leaf {
    fn name(&self) -> &str {
        "leaf"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_list("leaf", arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        end_frame("leaf", args, true)
    }
}

impl ScalarUDFImpl for Root {
    fn name(&self) -> &str {
        "root"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        check_list("root", arg_types)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        end_frame("root", args, false)
    }
}
