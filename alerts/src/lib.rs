//! # flarego-alerts
//!
//! Alerts as continuous queries over the tables users query.
//!
//! ```text
//! rules.toml / PUT /api/v1/alerts/rules
//!   └─ rules::load ─ expr::parse ─ compile (one SQL per operand, thresholds kept out)
//!      template::Template (summary, description), sinks::SinkConfig
//! engine::AlertEngine, every tick:
//!   due rules ─▶ distinct (tenant, SQL) ─▶ QueryEngine (hot ∪ cold) ─▶ rows per group
//!   ─▶ condition::evaluate ─▶ state::step (pending → firing → resolved)
//!   ─▶ history (the `alerts` table) + store (state.json)
//!   ─▶ Notification ─▶ sinks::delivery::SinkQueue per sink (timeout, retry with
//!      backoff and jitter, dead letter) ─▶ log | slack | webhook | jira
//! ```
//!
//! Rule errors name the rule, line and reason; a file that does not load
//! never replaces the rules in force. Matchers are the read API's
//! (`flarego_query::read::matchers`).

pub mod compile;
pub mod condition;
pub mod engine;
#[cfg(test)]
mod engine_tests;
pub mod expr;
pub mod history;
pub mod metrics;
pub mod notification;
pub mod rules;
pub mod sinks;
pub mod state;
pub mod store;
pub mod template;

pub use engine::{AlertEngine, AlertError, AlertsConfig, Clock, SystemClock};
pub use expr::{CmpOp, Expr, Matcher, Op, Operand, OverFn, ParseError, ProfileFn, Selector, parse};
pub use rules::{LoadError, Origin, RuleSet};
