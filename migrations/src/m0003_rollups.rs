//! Format 2 → 3: the manifest lists rollup files (samples summed per
//! 1 minute and per 1 hour, under `rollups/<step>/`) beside the raw files
//! they summarize. Nothing is rewritten: the compactor writes the rollups
//! of closed hours and days as it goes, and a format-2 server must not
//! read a store whose manifest lists rollups as if they were raw rows.

use crate::Step;

pub const STEP: Step = Step {
    to: 3,
    name: "rollups",
    what: "the manifest may list rollup files beside raw ones (nothing rewritten; rollups of closed hours and days are written by the compactor from now on)",
};
