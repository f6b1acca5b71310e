//! Profiling functions of the SQL surface.
//!
//! - `leaf(frames)`: the innermost frame (where the time was spent).
//! - `root(frames)`: the outermost frame.
//! - `has_frame(frames, pattern)`: true if any frame matches `pattern`, a
//!   SQL `LIKE` pattern (`%` any run, `_` one character; no wildcard means
//!   an exact match).
//! - `has_frame_regex(frames, regex)`: true if any frame matches the
//!   regular expression (unanchored, as `regexp_like`).
//! - `frames_of(stack_id)` (internal): attaches frames to sample rows.

mod any_frame;
mod frames_of;
mod has_frame;
mod has_frame_regex;
mod leaf;
mod like;

pub use frames_of::FramesOf;
pub use has_frame::HasFrame;
pub use has_frame_regex::HasFrameRegex;
pub use leaf::{Leaf, Root};
pub use like::LikePattern;

use datafusion::logical_expr::ScalarUDF;

/// The user-visible profiling functions.
pub fn profiling_udfs() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::from(Leaf::new()),
        ScalarUDF::from(Root::new()),
        ScalarUDF::from(HasFrame::new()),
        ScalarUDF::from(HasFrameRegex::new()),
    ]
}
