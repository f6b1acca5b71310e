//! The read API's logic: what every profiler shows, computed on the query
//! layer (the same sessions, tenant scoping and budgets as SQL).
//!
//! ```text
//! request parameters ─▶ Selection (selection.rs: matchers.rs, time.rs)
//!   ─▶ SQL over `profiles`: sum(value) GROUP BY stack_id       stacks.rs
//!   ─▶ frames per stack (memory, else the stacks files)
//!   ─▶ focus / ignore / hide ─▶ Tree (tree.rs) ─▶ columnar wire form
//!                              └▶ per-function table (top.rs)
//!   two selections ─▶ one tree with both sides (diff.rs)
//!   one function ─▶ callers and callees trees (sandwich.rs)
//! SQL over `profiles`/`metrics` GROUP BY step, group ─▶ Timeline (timeline.rs)
//! series of hot windows + cold files' footers ─▶ label browsing (browse.rs)
//! each applied write ─▶ LiveFilter ─▶ live update (live.rs)
//! stacks ─▶ pprof / folded; tree + top + timelines + metrics ─▶ .fgo (export/)
//! ```
//!
//! HTTP handlers (in the server crate) only turn parameters into a
//! [`Selection`] and results into JSON.

pub mod browse;
pub mod diff;
pub mod export;
pub mod flame;
pub mod live;
pub mod matchers;
pub mod sandwich;
pub mod selection;
pub mod stacks;
pub mod time;
pub mod timeline;
pub mod top;
pub mod tree;

pub use selection::Selection;
pub use tree::{Columnar, Tree};

/// Why a read request failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// A parameter is malformed; the message names it and why.
    #[error("invalid parameter {param}: {reason}")]
    BadParam { param: String, reason: String },
    /// The query under the request failed (a budget, say).
    #[error(transparent)]
    Query(#[from] crate::Error),
}

impl ReadError {
    pub fn param(param: &str, reason: impl Into<String>) -> Self {
        ReadError::BadParam {
            param: param.to_string(),
            reason: reason.into(),
        }
    }
}
