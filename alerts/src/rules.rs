//! Rule files: `[[rule]]` and `[[sink]]` tables in TOML, checked whole
//! before they replace anything. Errors name the rule, the line and the
//! reason.

use crate::compile::{Compiled, Vocabulary, compile};
use crate::expr::parse;
use crate::sinks::{SinkConfig, SinkSpec};
use crate::template::Template;
use flarego_storage::TenantId;
use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// Where a rule came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// `--alert-rules`.
    File,
    /// `PUT /api/v1/alerts/rules`.
    Api,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    #[serde(default)]
    rule: Vec<Spanned<RuleSpec>>,
    #[serde(default)]
    sink: Vec<Spanned<SinkSpec>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    name: String,
    expr: Option<Spanned<String>>,
    sql: Option<Spanned<String>>,
    every: Option<String>,
    #[serde(rename = "for")]
    for_: Option<String>,
    keep_firing_for: Option<String>,
    repeat_interval: Option<String>,
    window: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    summary: Option<String>,
    description: Option<String>,
    sinks: Option<Vec<String>>,
    tenant: Option<String>,
}

/// What a rule evaluates.
#[derive(Debug, Clone)]
pub enum RuleKind {
    Expr {
        text: String,
        compiled: Compiled,
    },
    /// Each returned row is a firing instance.
    Sql {
        text: String,
    },
}

/// A loaded rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub name: String,
    pub tenant: TenantId,
    pub kind: RuleKind,
    pub every_ns: i64,
    pub for_ns: i64,
    pub keep_firing_for_ns: i64,
    pub repeat_interval_ns: i64,
    pub window_ns: i64,
    pub labels: BTreeMap<String, String>,
    pub summary: Template,
    pub description: Template,
    pub sinks: Vec<String>,
    pub origin: Origin,
    /// The line of the rule's `name` in its file.
    pub line: usize,
}

impl Rule {
    /// The SQL statements the rule runs each evaluation.
    pub fn queries(&self) -> Vec<String> {
        match &self.kind {
            RuleKind::Expr { compiled, .. } => {
                compiled.queries.iter().map(|q| q.sql.clone()).collect()
            }
            RuleKind::Sql { text } => vec![text.clone()],
        }
    }
}

/// Rules and the sinks they notify.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    pub sinks: Vec<SinkConfig>,
    /// The text the set was loaded from.
    pub source: String,
}

/// Why a rule file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    pub rule: Option<String>,
    pub line: usize,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.rule {
            Some(r) => write!(f, "rule {r:?}, line {}: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// What loading needs besides the text.
pub struct LoadContext<'a> {
    pub origin: Origin,
    /// The tenant of rules that name none.
    pub default_tenant: TenantId,
    /// Over the API every rule is the caller's tenant's; naming another
    /// is refused.
    pub only_tenant: Option<TenantId>,
    pub vocab: Vocabulary<'a>,
}

/// Defaults of rule keys left out.
pub const DEFAULT_EVERY: &str = "1m";
pub const DEFAULT_REPEAT_INTERVAL: &str = "4h";
pub const DEFAULT_WINDOW: &str = "1m";
/// The shortest evaluation interval.
pub const MIN_EVERY_NS: i64 = 1_000_000_000;

/// 1-based line of byte offset `at`.
pub fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].matches('\n').count() + 1
}

pub(crate) fn duration_ns(key: &str, v: &str) -> Result<i64, String> {
    let d = humantime::parse_duration(v.trim())
        .map_err(|e| format!("{key} = {v:?} is not a duration like 30s or 5m: {e}"))?;
    i64::try_from(d.as_nanos()).map_err(|_| format!("{key} = {v:?} is too long"))
}

/// Parses and checks a rule file (every rule, sink and template).
pub fn load(text: &str, cx: &LoadContext<'_>) -> Result<RuleSet, LoadError> {
    let spec: FileSpec = toml::from_str(text).map_err(|e| LoadError {
        rule: None,
        line: e.span().map_or(1, |s| line_of(text, s.start)),
        reason: e.message().to_string(),
    })?;
    let mut sinks: Vec<SinkConfig> = Vec::new();
    for s in spec.sink {
        let line = line_of(text, s.span().start);
        let sink = SinkConfig::from_spec(s.into_inner()).map_err(|reason| LoadError {
            rule: None,
            line,
            reason,
        })?;
        if sinks.iter().any(|x| x.name == sink.name) {
            return Err(LoadError {
                rule: None,
                line,
                reason: format!("sink {:?} is defined twice", sink.name),
            });
        }
        sinks.push(sink);
    }
    if !sinks.iter().any(|s| s.name == "log") {
        sinks.push(SinkConfig::log());
    }
    let mut rules: Vec<Rule> = Vec::new();
    for r in spec.rule {
        let line = line_of(text, r.span().start);
        let r = r.into_inner();
        let name = r.name.clone();
        let rule = rule_of(text, r, line, cx, &sinks).map_err(|(line, reason)| LoadError {
            rule: Some(name.clone()),
            line,
            reason,
        })?;
        if rules
            .iter()
            .any(|x| x.name == rule.name && x.tenant == rule.tenant)
        {
            return Err(LoadError {
                rule: Some(name),
                line,
                reason: "a rule of this name is defined twice for the tenant".into(),
            });
        }
        rules.push(rule);
    }
    Ok(RuleSet {
        rules,
        sinks,
        source: text.to_string(),
    })
}

fn rule_of(
    text: &str,
    r: RuleSpec,
    line: usize,
    cx: &LoadContext<'_>,
    sinks: &[SinkConfig],
) -> Result<Rule, (usize, String)> {
    let at = |reason: String| (line, reason);
    if r.name.trim().is_empty() || r.name.len() > 200 || r.name.chars().any(char::is_control) {
        return Err(at(
            "a rule needs a name of 1-200 printable characters".into()
        ));
    }
    let tenant = match (&r.tenant, &cx.only_tenant) {
        (Some(t), Some(only)) if *t != only.0 => {
            return Err(at(format!(
                "tenant = {t:?}: rules sent over the API belong to the caller's tenant {:?}",
                only.0
            )));
        }
        (Some(t), _) => TenantId(t.clone()),
        (None, Some(only)) => only.clone(),
        (None, None) => cx.default_tenant.clone(),
    };
    let dur = |key: &str, v: &Option<String>, default: &str| {
        duration_ns(key, v.as_deref().unwrap_or(default)).map_err(at)
    };
    let every_ns = dur("every", &r.every, DEFAULT_EVERY)?;
    if every_ns < MIN_EVERY_NS {
        return Err(at(format!(
            "every = {:?}: the shortest evaluation interval is 1s",
            r.every.as_deref().unwrap_or("")
        )));
    }
    let for_ns = dur("for", &r.for_, "0s")?;
    let keep_firing_for_ns = dur("keep_firing_for", &r.keep_firing_for, "0s")?;
    let repeat_interval_ns = dur(
        "repeat_interval",
        &r.repeat_interval,
        DEFAULT_REPEAT_INTERVAL,
    )?;
    let window_ns = dur("window", &r.window, DEFAULT_WINDOW)?;
    if window_ns <= 0 || repeat_interval_ns <= 0 {
        return Err(at(
            "window and repeat_interval must be greater than zero".into()
        ));
    }
    let kind = match (r.expr, r.sql) {
        (Some(e), None) => {
            let start = line_of(text, e.span().start);
            let raw = &text[e.span().start.min(text.len())..e.span().end.min(text.len())];
            // A multi-line string ('''…''') starting with a newline begins
            // on the next line.
            let first = if raw.starts_with("'''\n") || raw.starts_with("\"\"\"\n") {
                start + 1
            } else {
                start
            };
            let expr_text = e.into_inner();
            let parsed = parse(&expr_text).map_err(|p| {
                (
                    first + p.line - 1,
                    format!("expr column {}: {}", p.column, p.reason),
                )
            })?;
            let compiled = compile(&parsed, window_ns, &cx.vocab)
                .map_err(|c| (start, format!("expr: {c}")))?;
            RuleKind::Expr {
                text: expr_text,
                compiled,
            }
        }
        (None, Some(s)) => {
            let start = line_of(text, s.span().start);
            let sql = s.into_inner();
            read_only(&sql).map_err(|reason| (start, format!("sql: {reason}")))?;
            RuleKind::Sql { text: sql }
        }
        (Some(_), Some(_)) => return Err(at("give expr or sql, not both".into())),
        (None, None) => return Err(at("a rule needs expr or sql".into())),
    };
    let template = |key: &str, v: &Option<String>| {
        Template::parse(v.as_deref().unwrap_or("")).map_err(|e| at(format!("{key}: {e}")))
    };
    let summary = match &r.summary {
        Some(_) => template("summary", &r.summary)?,
        None => Template::parse("{{ $rule }} is {{ $state }}: value {{ $value }}")
            .map_err(|e| at(e.to_string()))?,
    };
    let description = template("description", &r.description)?;
    let sink_names = r.sinks.unwrap_or_else(|| vec!["log".to_string()]);
    for s in &sink_names {
        if !sinks.iter().any(|x| &x.name == s) {
            let known: Vec<&str> = sinks.iter().map(|x| x.name.as_str()).collect();
            return Err(at(format!(
                "unknown sink {s:?} (defined: {})",
                known.join(", ")
            )));
        }
    }
    for k in r.labels.keys() {
        if k.is_empty() || !k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(at(format!("label name {k:?}: use [A-Za-z0-9_]")));
        }
    }
    Ok(Rule {
        name: r.name,
        tenant,
        kind,
        every_ns,
        for_ns,
        keep_firing_for_ns,
        repeat_interval_ns,
        window_ns,
        labels: r.labels,
        summary,
        description,
        sinks: sink_names,
        origin: cx.origin,
        line,
    })
}

/// Loads a rule file with every metric name taken as known: what can be
/// checked before the server's data is open (syntax, durations,
/// templates, sinks, read-only SQL).
pub fn precheck(
    path: &std::path::Path,
    default_tenant: &TenantId,
) -> Result<RuleSet, crate::AlertError> {
    let text = std::fs::read_to_string(path).map_err(|source| crate::AlertError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let cx = LoadContext {
        origin: Origin::File,
        default_tenant: default_tenant.clone(),
        only_tenant: None,
        vocab: Vocabulary {
            metric_known: &|_| true,
        },
    };
    load(&text, &cx).map_err(|error| crate::AlertError::Rules {
        path: path.display().to_string(),
        error,
    })
}

/// Whether `sql` is one read-only query (as `/api/v1/query` requires;
/// the server also plans it against its tables before accepting it).
pub fn read_only(sql: &str) -> Result<(), String> {
    use datafusion::sql::parser::{DFParser, Statement};
    use datafusion::sql::sqlparser::ast::Statement as Sql;
    let stmts = DFParser::parse_sql(sql).map_err(|e| e.to_string())?;
    match stmts.len() {
        1 => {}
        n => {
            return Err(format!(
                "one SELECT statement expected, found {n} statements"
            ));
        }
    }
    match stmts.front() {
        Some(Statement::Statement(s)) if matches!(**s, Sql::Query(_)) => Ok(()),
        Some(other) => Err(format!(
            "only a read-only query (SELECT …) may be a rule, not: {}",
            other.to_string().chars().take(60).collect::<String>()
        )),
        None => Err("empty".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cx() -> LoadContext<'static> {
        LoadContext {
            origin: Origin::File,
            default_tenant: TenantId("default".into()),
            only_tenant: None,
            vocab: Vocabulary {
                metric_known: &|m| m == "go_goroutines",
            },
        }
    }

    const GOOD: &str = r#"
[[rule]]
name = "waiting-goroutines"
expr = 'goroutines(state = "chan receive") > 20'
every = "10s"
for = "30s"
keep_firing_for = "1m"
labels = { team = "payments" }
summary = "{{ $value }} goroutines waiting in chan receive on {{ $labels.service }}"
sinks = ["ops-hook", "log"]

[[rule]]
name = "slow"
sql = "SELECT service, count(*) AS value FROM profiles GROUP BY service HAVING count(*) > 5"

[[sink]]
name = "ops-hook"
type = "webhook"
url = "http://127.0.0.1:9000/alerts"
"#;

    #[test]
    fn the_documented_file_loads() {
        let set = load(GOOD, &cx()).unwrap();
        assert_eq!(set.rules.len(), 2);
        let r = &set.rules[0];
        assert_eq!(
            (r.every_ns, r.for_ns, r.keep_firing_for_ns),
            (10e9 as i64, 30e9 as i64, 60e9 as i64)
        );
        assert_eq!(r.repeat_interval_ns, 4 * 3600 * 1_000_000_000);
        assert_eq!(r.sinks, ["ops-hook", "log"]);
        assert_eq!(set.rules[1].sinks, ["log"]);
        assert_eq!(set.sinks.len(), 2, "ops-hook and the built-in log");
    }

    #[test]
    fn bad_rules_are_refused_with_name_line_and_reason() {
        let cases = [
            (
                GOOD.replace("> 20'", "> > 20'"),
                "rule \"waiting-goroutines\", line 4: expr column 38: expected a number",
            ),
            (
                GOOD.replace("every = \"10s\"", "every = \"10 parsecs\""),
                "rule \"waiting-goroutines\", line 2: every = \"10 parsecs\" is not a duration",
            ),
            (
                GOOD.replace("SELECT service", "DELETE FROM profiles; SELECT service"),
                "rule \"slow\", line 14: sql: one SELECT statement expected, found 2",
            ),
            (
                GOOD.replace(
                    "count(*) AS value FROM",
                    "1 AS value FROM (SELECT 1); DROP TABLE x; --",
                ),
                "rule \"slow\", line 14: sql: one SELECT statement expected",
            ),
            (
                GOOD.replace("$labels.service", "$label.service"),
                "rule \"waiting-goroutines\", line 2: summary: template error at character 52: unknown variable",
            ),
            (
                GOOD.replace("\"ops-hook\", \"log\"", "\"ops-hok\""),
                "unknown sink \"ops-hok\" (defined: ops-hook, log)",
            ),
            (
                GOOD.replace(
                    "goroutines(state",
                    "avg_over(go_gorutines, 5m) > 1 and goroutines(state",
                ),
                "rule \"waiting-goroutines\", line 4: expr: unknown metric \"go_gorutines\"",
            ),
            (
                GOOD.replace("type = \"webhook\"", "type = \"pager\""),
                "line 18: unknown variant `pager`",
            ),
        ];
        for (text, want) in cases {
            let e = load(&text, &cx()).unwrap_err().to_string();
            assert!(e.contains(want), "{e}\n  wanted: {want}");
        }
    }
}
