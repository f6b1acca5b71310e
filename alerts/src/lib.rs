//! # flarego-alerts
//!
//! Alerts as continuous queries over the tables users query. This crate
//! holds, so far, the rule expression language:
//!
//! ```text
//! rule expr text ──▶ lexer (tokens with line:column) ──▶ parser ──▶ Expr
//!   'share(cpu, frame = "runtime.mallocgc") > 20% and
//!    go_heap_inuse_bytes{service="api"} > 512MiB'
//! ```
//!
//! Compiling an [`Expr`] to SQL over `profiles` and `metrics`, the rule
//! file, evaluation states and sinks are not built yet. Matchers are the
//! read API's (`flarego_query::read::matchers`).

pub mod expr;

pub use expr::{CmpOp, Expr, Matcher, Op, Operand, OverFn, ParseError, ProfileFn, Selector, parse};
