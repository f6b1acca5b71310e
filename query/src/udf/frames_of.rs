//! `frames_of(stack_id)`: the frames of a stack, looked up in the stack
//! table, or read back from the stacks files when evicted from memory
//! ([`Engine::frames_of`]). The profiles table attaches `frames` with it
//! late, after filters and projections have run on the narrow sample rows.

use datafusion::arrow::array::{AsArray, ListBuilder, StringBuilder, UInt32Array};
use datafusion::arrow::datatypes::{DataType, UInt64Type};
use datafusion::common::{Result, exec_err};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};
use flarego_storage::{Engine, schema};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Looks frames up by stack id: in memory, else in the stacks files.
#[derive(Debug)]
pub struct FramesOf {
    engine: Engine,
    signature: Signature,
}

impl FramesOf {
    pub fn new(engine: Engine) -> Self {
        FramesOf {
            engine,
            signature: Signature::exact(vec![DataType::UInt64], Volatility::Stable),
        }
    }
}

impl PartialEq for FramesOf {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(self.engine.stacks(), other.engine.stacks())
    }
}
impl Eq for FramesOf {}
impl Hash for FramesOf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(self.engine.stacks()) as usize).hash(state)
    }
}

impl ScalarUDFImpl for FramesOf {
    fn name(&self) -> &str {
        "frames_of"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(schema::frames_type())
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let Some(ids) = arrays
            .first()
            .and_then(|a| a.as_primitive_opt::<UInt64Type>())
        else {
            return exec_err!("frames_of(stack_id) needs a UInt64 stack id");
        };
        // Build each distinct stack once, then gather per row.
        let mut dense: HashMap<u64, u32, flarego_storage::KeyedHash> = HashMap::default();
        let mut distinct: Vec<u64> = Vec::new();
        let idx: UInt32Array = ids
            .iter()
            .map(|id| {
                id.map(|id| {
                    *dense.entry(id).or_insert_with(|| {
                        distinct.push(id);
                        (distinct.len() - 1) as u32
                    })
                })
            })
            .collect();
        let found = self
            .engine
            .frames_of(&distinct)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let mut b = ListBuilder::new(StringBuilder::new());
        for f in found {
            match f {
                Some(frames) => {
                    for name in frames.iter() {
                        b.values().append_value(name);
                    }
                    b.append(true);
                }
                None => b.append(false),
            }
        }
        let unique = b.finish();
        let out = datafusion::arrow::compute::take(&unique, &idx, None)?;
        Ok(ColumnarValue::Array(out))
    }
}
