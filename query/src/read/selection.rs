//! The selection every read endpoint takes: which series, which profile
//! type, which time range, and which frames to focus on, ignore or hide.
//!
//! From query-string parameters (or a JSON body's fields, the same names):
//! `service`, `query` (a Prometheus selector), `profile_type` (default
//! `cpu`), `state`, `from` (default `now-1h`), `to` (default `now`),
//! `focus`, `ignore`, `hide` (regexes on function names), and for admins
//! `tenant`. It becomes a SQL `WHERE` clause over the `profiles` (or
//! `metrics`) table, with every value quoted and every name checked.

use super::ReadError;
use super::matchers::{Matcher, Op, parse_selector};
use super::time::parse_time;
use regex::Regex;
use std::collections::BTreeMap;

const HOUR_NS: i64 = 3_600_000_000_000;

/// What a read request selects.
#[derive(Debug, Clone)]
pub struct Selection {
    pub profile_type: String,
    pub matchers: Vec<Matcher>,
    /// `[from, to)` in ns.
    pub from_ns: i64,
    pub to_ns: i64,
    /// Keep only stacks through a frame matching it.
    pub focus: Option<Regex>,
    /// Drop stacks through a frame matching it.
    pub ignore: Option<Regex>,
    /// Drop the frames matching it from every stack.
    pub hide: Option<Regex>,
    /// Keep only stacks that start (root first) with these functions
    /// (Pyroscope's `stack_trace_selector.call_site`).
    pub call_site: Vec<String>,
    /// An admin's `tenant=`.
    pub tenant: Option<String>,
}

impl Selection {
    /// Reads the selection from request parameters; `prefix` picks a
    /// second selection's names (`base_`/`comp_` in a diff). Parameters
    /// a side does not name fall back to the unprefixed ones.
    pub fn parse(
        params: &BTreeMap<String, String>,
        prefix: &str,
        now_ns: i64,
    ) -> Result<Selection, ReadError> {
        let get = |name: &str| -> Option<(String, &String)> {
            let p = format!("{prefix}{name}");
            params
                .get(&p)
                .map(|v| (p, v))
                .or_else(|| params.get(name).map(|v| (name.to_string(), v)))
        };
        let mut matchers = match get("query") {
            Some((p, q)) => parse_selector(&p, q)?,
            None => Vec::new(),
        };
        if let Some((_, s)) = get("service") {
            matchers.push(Matcher {
                name: "service".into(),
                op: Op::Eq,
                value: s.clone(),
            });
        }
        if let Some((_, s)) = get("state") {
            matchers.push(Matcher {
                name: "state".into(),
                op: Op::Eq,
                value: s.clone(),
            });
        }
        let profile_type = match get("profile_type") {
            Some((p, t)) => {
                if t.is_empty()
                    || !t
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    return Err(ReadError::param(&p, format!("{t:?} is not a profile type")));
                }
                t.clone()
            }
            None => "cpu".into(),
        };
        let to_ns = match get("to") {
            Some((p, v)) => parse_time(&p, v, now_ns)?,
            None => now_ns,
        };
        let from_ns = match get("from") {
            Some((p, v)) => parse_time(&p, v, now_ns)?,
            None => to_ns.saturating_sub(HOUR_NS),
        };
        if from_ns >= to_ns {
            return Err(ReadError::param(
                &format!("{prefix}from"),
                format!("from ({from_ns} ns) must be before to ({to_ns} ns)"),
            ));
        }
        let regex = |name: &str| -> Result<Option<Regex>, ReadError> {
            match get(name) {
                None => Ok(None),
                Some((p, r)) => Regex::new(r)
                    .map(Some)
                    .map_err(|e| ReadError::param(&p, format!("{r:?} is not a valid regex: {e}"))),
            }
        };
        Ok(Selection {
            profile_type,
            matchers,
            from_ns,
            to_ns,
            focus: regex("focus")?,
            ignore: regex("ignore")?,
            hide: regex("hide")?,
            call_site: Vec::new(),
            tenant: get("tenant").map(|(_, t)| t.clone()),
        })
    }

    /// The `WHERE` clause over `profiles` (without the word `WHERE`).
    pub fn profiles_where(&self) -> String {
        let mut parts = vec![
            self.time_clause(),
            format!("profile_type = {}", quote(&self.profile_type)),
        ];
        parts.extend(
            self.matchers
                .iter()
                .map(|m| matcher_sql(m, Table::Profiles)),
        );
        parts.join(" AND ")
    }

    /// The `WHERE` clause over `metrics` for metric `name`.
    pub fn metrics_where(&self, name: &str) -> String {
        let mut parts = vec![self.time_clause(), format!("name = {}", quote(name))];
        parts.extend(self.matchers.iter().map(|m| matcher_sql(m, Table::Metrics)));
        parts.join(" AND ")
    }

    fn time_clause(&self) -> String {
        format!(
            "time >= to_timestamp_nanos({}) AND time < to_timestamp_nanos({})",
            self.from_ns, self.to_ns
        )
    }

    /// Applies `focus`, `ignore` and `hide` to one stack (root first):
    /// `None` when the stack is left out.
    pub fn filter_frames<'a>(&self, frames: &'a [std::sync::Arc<str>]) -> Option<Vec<&'a str>> {
        let any = |re: &Regex| frames.iter().any(|f| re.is_match(f));
        let starts_with_call_site = frames.len() >= self.call_site.len()
            && frames.iter().zip(&self.call_site).all(|(f, c)| **f == **c);
        if !starts_with_call_site {
            return None;
        }
        if self.focus.as_ref().is_some_and(|re| !any(re)) {
            return None;
        }
        if self.ignore.as_ref().is_some_and(any) {
            return None;
        }
        let kept: Vec<&str> = frames
            .iter()
            .map(|f| f.as_ref())
            .filter(|f| self.hide.as_ref().is_none_or(|re| !re.is_match(f)))
            .collect();
        Some(kept)
    }

    /// Whether a stack filter applies (else stacks are used as they are).
    pub fn filters_frames(&self) -> bool {
        self.focus.is_some()
            || self.ignore.is_some()
            || self.hide.is_some()
            || !self.call_site.is_empty()
    }
}

#[derive(Clone, Copy)]
enum Table {
    Profiles,
    Metrics,
}

/// A SQL string literal.
pub fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The SQL expression a matcher reads (a column, or a label; a missing
/// label reads as `''`).
fn subject(name: &str, table: Table) -> String {
    match (name, table) {
        ("service" | "service_name", _) => "service".into(),
        ("instance", _) => "instance".into(),
        ("profile_type", Table::Profiles) => "profile_type".into(),
        ("state", Table::Profiles) => "coalesce(state, '')".into(),
        // Names are [A-Za-z0-9_.] only (the selector parser checks).
        (label, _) => format!("coalesce(labels[{}], '')", quote(label)),
    }
}

/// One matcher as a condition over `profiles` (a column or a label).
pub fn profiles_matcher_sql(m: &Matcher) -> String {
    matcher_sql(m, Table::Profiles)
}

/// One matcher as a condition over `metrics` (a column or a label).
pub fn metrics_matcher_sql(m: &Matcher) -> String {
    matcher_sql(m, Table::Metrics)
}

/// The SQL expression naming a label or column of `profiles` (a missing
/// label reads as `''`). Names are `[A-Za-z0-9_.]`.
pub fn profiles_subject(name: &str) -> String {
    subject(name, Table::Profiles)
}

/// [`profiles_subject`] over `metrics`.
pub fn metrics_subject(name: &str) -> String {
    subject(name, Table::Metrics)
}

fn matcher_sql(m: &Matcher, table: Table) -> String {
    let s = subject(&m.name, table);
    let v = quote(&m.value);
    match m.op {
        Op::Eq => format!("{s} = {v}"),
        Op::Ne => format!("{s} <> {v}"),
        Op::Re => format!("regexp_like({s}, {})", quote(&format!("^(?:{})$", m.value))),
        Op::NotRe => format!(
            "NOT regexp_like({s}, {})",
            quote(&format!("^(?:{})$", m.value))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn builds_a_quoted_where_clause() {
        let now = 1_800_000_000_000_000_000;
        let s = Selection::parse(
            &params(&[
                ("service", "a'pi"),
                ("query", r#"{env=~"prod|stage",region!="eu"}"#),
                ("from", "now-15m"),
            ]),
            "",
            now,
        )
        .unwrap();
        let w = s.profiles_where();
        assert!(w.contains("profile_type = 'cpu'"), "{w}");
        assert!(w.contains("service = 'a''pi'"), "{w}");
        assert!(
            w.contains("regexp_like(coalesce(labels['env'], ''), '^(?:prod|stage)$')"),
            "{w}"
        );
        assert!(w.contains("coalesce(labels['region'], '') <> 'eu'"), "{w}");
        assert_eq!(s.to_ns - s.from_ns, 900_000_000_000);
        let e =
            Selection::parse(&params(&[("from", "now"), ("to", "now-1h")]), "", now).unwrap_err();
        assert!(e.to_string().contains("from"), "{e}");
        let e = Selection::parse(&params(&[("focus", "(")]), "", now).unwrap_err();
        assert!(e.to_string().contains("focus"), "{e}");
        let e = Selection::parse(&params(&[("profile_type", "cpu; DROP")]), "", now).unwrap_err();
        assert!(e.to_string().contains("profile_type"), "{e}");
    }

    #[test]
    fn focus_ignore_and_hide_mean_what_pprof_means() {
        let now = 1_800_000_000_000_000_000;
        let s = Selection::parse(
            &params(&[
                ("focus", "^main\\.work$"),
                ("ignore", "gc"),
                ("hide", "^runtime\\."),
            ]),
            "",
            now,
        )
        .unwrap();
        let f = |names: &[&str]| -> Vec<std::sync::Arc<str>> {
            names.iter().map(|n| std::sync::Arc::from(*n)).collect()
        };
        assert_eq!(
            s.filter_frames(&f(&["runtime.main", "main.work", "leaf"])),
            Some(vec!["main.work", "leaf"])
        );
        assert_eq!(s.filter_frames(&f(&["main.other"])), None);
        assert_eq!(s.filter_frames(&f(&["main.work", "gcBgMark"])), None);
    }
}
