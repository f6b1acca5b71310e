//! Pyroscope's read API in FlareGo's terms, for Grafana's Pyroscope data
//! source, profilecli and Pyroscope's UI: requests arrive as the
//! `querier.v1` messages and leave as them; everything in between is
//! the read API's own code.
//!
//! ```text
//! profile_typeID, label_selector, start/end ms ─▶ Selection    request.rs
//!   (profile type ids ⇄ FlareGo types: profile_types.rs)
//! Selection ─▶ stacks ─▶ tree ─▶ levels (flame graph, diff)    select.rs, levels.rs
//!                            └▶ pprof Profile
//! Selection ─▶ timeline ─▶ Series with label pairs            select.rs
//! series metadata ─▶ Pyroscope labels ─▶ profile types,
//!   label names and values, label sets                        browse.rs
//! legacy /pyroscope/render[-diff] ─▶ flamebearer JSON           render.rs
//! ```

pub mod browse;
pub mod levels;
pub mod profile_types;
pub mod render;
pub mod request;
pub mod select;
