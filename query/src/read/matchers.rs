//! Label selectors in Prometheus matcher syntax:
//! `{service="api", env=~"prod|stage", region!="eu", pod!~"test-.*"}`.
//!
//! `service` (also `service_name`), `instance`, `profile_type` and
//! `state` match their columns; any other name matches that label.
//! As in Prometheus, a missing label equals `""`, and regexes match the
//! whole value.

use super::ReadError;

/// How a matcher compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Re,
    NotRe,
}

/// One `name op "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    pub op: Op,
    pub value: String,
}

impl std::fmt::Display for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.op {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Re => "=~",
            Op::NotRe => "!~",
        };
        let v = self
            .value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .replace('\t', "\\t");
        write!(f, "{}{op}\"{v}\"", self.name)
    }
}

/// Matchers written back as a selector (`{a="x",b=~"y"}`).
pub fn selector_string(matchers: &[Matcher]) -> String {
    let parts: Vec<String> = matchers.iter().map(Matcher::to_string).collect();
    format!("{{{}}}", parts.join(","))
}

impl Matcher {
    /// This matcher compiled for evaluating in memory (regexes anchored).
    pub fn compile(&self) -> Result<Compiled, ReadError> {
        let re = match self.op {
            Op::Re | Op::NotRe => Some(
                regex::Regex::new(&format!("^(?:{})$", self.value))
                    .map_err(|e| ReadError::param("query", e.to_string()))?,
            ),
            Op::Eq | Op::Ne => None,
        };
        Ok(Compiled {
            matcher: self.clone(),
            re,
        })
    }
}

/// A matcher ready to test values (series browsing tests keys in memory).
#[derive(Debug, Clone)]
pub struct Compiled {
    pub matcher: Matcher,
    re: Option<regex::Regex>,
}

impl Compiled {
    /// Whether `value` (`""` for a missing label) passes.
    pub fn matches(&self, value: &str) -> bool {
        let m = &self.matcher;
        match (m.op, &self.re) {
            (Op::Eq, _) => value == m.value,
            (Op::Ne, _) => value != m.value,
            (Op::Re, Some(re)) => re.is_match(value),
            (Op::NotRe, Some(re)) => !re.is_match(value),
            (Op::Re | Op::NotRe, None) => false,
        }
    }
}

/// Parses `{...}` (the braces may be left out; empty means everything).
pub fn parse_selector(param: &str, raw: &str) -> Result<Vec<Matcher>, ReadError> {
    let bad = |reason: String| ReadError::param(param, reason);
    let s = raw.trim();
    let s = match (s.strip_prefix('{'), s.ends_with('}')) {
        (Some(rest), true) => &rest[..rest.len() - 1],
        (None, false) => s,
        _ => return Err(bad(format!("{raw:?}: unbalanced braces"))),
    };
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let name_end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
            .unwrap_or(rest.len());
        let name = &rest[..name_end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(bad(format!("{raw:?}: expected a label name at {rest:?}")));
        }
        rest = rest[name_end..].trim_start();
        let (op, len) = if rest.starts_with("=~") {
            (Op::Re, 2)
        } else if rest.starts_with("!~") {
            (Op::NotRe, 2)
        } else if rest.starts_with("!=") {
            (Op::Ne, 2)
        } else if rest.starts_with('=') {
            (Op::Eq, 1)
        } else {
            return Err(bad(format!(
                "{raw:?}: expected =, !=, =~ or !~ after {name}"
            )));
        };
        rest = rest[len..].trim_start();
        let (value, used) = quoted(rest).ok_or_else(|| {
            bad(format!(
                "{raw:?}: the value of {name} must be a double-quoted string"
            ))
        })?;
        if matches!(op, Op::Re | Op::NotRe) {
            regex::Regex::new(&format!("^(?:{value})$"))
                .map_err(|e| bad(format!("{name}=~{value:?} is not a valid regex: {e}")))?;
        }
        out.push(Matcher {
            name: name.to_string(),
            op,
            value,
        });
        rest = rest[used..].trim_start();
        match rest.strip_prefix(',') {
            Some(r) => rest = r.trim_start(),
            None if rest.is_empty() => {}
            None => {
                return Err(bad(format!(
                    "{raw:?}: expected , between matchers at {rest:?}"
                )));
            }
        }
    }
    Ok(out)
}

/// A double-quoted string at the start of `s` with `\"`, `\\`, `\n`
/// escapes: `(value, bytes used)`.
fn quoted(s: &str) -> Option<(String, usize)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, i + 1)),
            '\\' => match chars.next()?.1 {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_selectors() {
        let m = parse_selector(
            "query",
            r#"{service="api", env=~"prod|stage",region!="eu",pod!~"t.*"}"#,
        )
        .unwrap();
        assert_eq!(m.len(), 4);
        assert_eq!(
            m[1],
            Matcher {
                name: "env".into(),
                op: Op::Re,
                value: "prod|stage".into()
            }
        );
        assert_eq!(m[3].op, Op::NotRe);
        assert_eq!(parse_selector("query", "{}").unwrap(), vec![]);
        assert_eq!(
            parse_selector("query", r#"a="x\"y""#).unwrap()[0].value,
            "x\"y"
        );
        assert_eq!(parse_selector("q", &selector_string(&m)).unwrap(), m);
        let odd = parse_selector("q", r#"{a="x\"y\\z\n"}"#).unwrap();
        assert_eq!(parse_selector("q", &selector_string(&odd)).unwrap(), odd);
        let c = m[1].compile().unwrap();
        assert!(c.matches("prod") && c.matches("stage") && !c.matches("production"));
        let c = m[3].compile().unwrap();
        assert!(!c.matches("t1") && c.matches("x"));
        for bad in [
            r#"{a="x""#,
            r#"{a=x}"#,
            r#"{a~"x"}"#,
            r#"{a="x" b="y"}"#,
            r#"{a=~"("}"#,
            r#"{1a="x"}"#,
        ] {
            let e = parse_selector("query", bad).unwrap_err().to_string();
            assert!(e.contains("query"), "{bad}: {e}");
        }
    }
}
