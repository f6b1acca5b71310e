//! What the API shows of rules and live instances.

use super::{AlertEngine, Health};
use crate::notification::rfc3339;
use crate::rules::{Origin, RuleKind};
use crate::state::Phase;
use crate::template::Context;
use flarego_storage::TenantId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A live instance, as `GET /api/v1/alerts` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub tenant: String,
    pub rule: String,
    pub state: Phase,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
    pub active_since: String,
    pub fired_at: Option<String>,
    pub fingerprint: String,
    pub summary: String,
}

/// A rule, as `GET /api/v1/alerts/rules` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct RuleView {
    pub name: String,
    pub tenant: String,
    pub origin: Origin,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sql: Option<String>,
    /// The SQL the rule runs.
    pub queries: Vec<String>,
    pub every: String,
    #[serde(rename = "for")]
    pub for_: String,
    pub keep_firing_for: String,
    pub repeat_interval: String,
    pub window: String,
    pub labels: BTreeMap<String, String>,
    pub summary: String,
    pub sinks: Vec<String>,
    pub health: Health,
}

fn human(ns: i64) -> String {
    humantime::format_duration(Duration::from_nanos(ns.max(0) as u64)).to_string()
}

impl AlertEngine {
    /// The rules `tenant` sees (all for `None`).
    pub fn rules(&self, tenant: Option<&TenantId>) -> Vec<RuleView> {
        let loaded = self.inner.loaded.read();
        let health = self.inner.health.lock();
        loaded
            .all
            .iter()
            .filter(|r| tenant.is_none_or(|t| *t == r.tenant))
            .map(|r| {
                let (expr, sql) = match &r.kind {
                    RuleKind::Expr { text, .. } => (Some(text.clone()), None),
                    RuleKind::Sql { text } => (None, Some(text.clone())),
                };
                RuleView {
                    name: r.name.clone(),
                    tenant: r.tenant.0.clone(),
                    origin: r.origin,
                    expr,
                    sql,
                    queries: r.queries(),
                    every: human(r.every_ns),
                    for_: human(r.for_ns),
                    keep_firing_for: human(r.keep_firing_for_ns),
                    repeat_interval: human(r.repeat_interval_ns),
                    window: human(r.window_ns),
                    labels: r.labels.clone(),
                    summary: r.summary.source().to_string(),
                    sinks: r.sinks.clone(),
                    health: health
                        .get(&(r.tenant.0.clone(), r.name.clone()))
                        .cloned()
                        .unwrap_or_default(),
                }
            })
            .collect()
    }

    /// The live (pending and firing) instances `tenant` sees.
    pub fn instances(&self, tenant: Option<&TenantId>) -> Vec<InstanceView> {
        let loaded = self.inner.loaded.read();
        let states = self.inner.states.lock();
        let mut out = Vec::new();
        for ((t, rule), instances) in states.iter() {
            if tenant.is_some_and(|x| x.0 != *t) {
                continue;
            }
            let r = loaded
                .all
                .iter()
                .find(|r| r.tenant.0 == *t && r.name == *rule);
            for (fp, i) in instances {
                let state = match i.phase {
                    Phase::Pending => "pending",
                    Phase::Firing => "firing",
                };
                out.push(InstanceView {
                    tenant: t.clone(),
                    rule: rule.clone(),
                    state: i.phase,
                    labels: i.labels.clone(),
                    value: i.value,
                    active_since: rfc3339(i.active_since_ns),
                    fired_at: i.fired_at_ns.map(rfc3339),
                    fingerprint: fp.clone(),
                    summary: r.map_or_else(String::new, |r| {
                        r.summary.render(&Context {
                            value: i.value,
                            labels: &i.labels,
                            rule,
                            state,
                        })
                    }),
                });
            }
        }
        out
    }
}
