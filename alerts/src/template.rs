//! `summary` and `description` templates: text with `{{ $value }}`,
//! `{{ $labels.NAME }}`, `{{ $rule }}` and `{{ $state }}`, checked when a
//! rule is loaded so a notification never fails to render.

use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Text(String),
    Value,
    Label(String),
    Rule,
    State,
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Template {
    parts: Vec<Part>,
    source: String,
}

/// Why a template does not parse: where (1-based character) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template error at character {at}: {reason}")]
pub struct TemplateError {
    pub at: usize,
    pub reason: String,
}

/// What a template is rendered with.
pub struct Context<'a> {
    pub value: f64,
    pub labels: &'a BTreeMap<String, String>,
    pub rule: &'a str,
    pub state: &'a str,
}

impl Template {
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut rest = text;
        let mut offset = 0;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                parts.push(Part::Text(rest[..open].to_string()));
            }
            let at = text[..offset + open].chars().count() + 1;
            let after = &rest[open + 2..];
            let Some(close) = after.find("}}") else {
                return Err(TemplateError {
                    at,
                    reason: "\"{{\" is never closed by \"}}\"".into(),
                });
            };
            let var = after[..close].trim();
            parts.push(match var {
                "$value" => Part::Value,
                "$rule" => Part::Rule,
                "$state" => Part::State,
                v => match v.strip_prefix("$labels.") {
                    Some(name)
                        if !name.is_empty()
                            && name
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') =>
                    {
                        Part::Label(name.to_string())
                    }
                    _ => {
                        return Err(TemplateError {
                            at,
                            reason: format!(
                                "unknown variable {v:?} (use $value, $labels.NAME, $rule, $state)"
                            ),
                        });
                    }
                },
            });
            let used = open + 2 + close + 2;
            offset += used;
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            parts.push(Part::Text(rest.to_string()));
        }
        Ok(Template {
            parts,
            source: text.to_string(),
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn render(&self, cx: &Context<'_>) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Value => out.push_str(&format_value(cx.value)),
                Part::Label(l) => out.push_str(cx.labels.get(l).map_or("", String::as_str)),
                Part::Rule => out.push_str(cx.rule),
                Part::State => out.push_str(cx.state),
            }
        }
        out
    }
}

/// A value as people read it: integers without decimals, others with up
/// to four significant digits.
pub fn format_value(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else if v.is_finite() && v != 0.0 {
        let digits = (3 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
        let s = format!("{v:.digits$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_labels_and_names() {
        let t = Template::parse(
            "{{ $value }} goroutines waiting on {{$labels.service}} ({{ $rule }}, {{ $state }})",
        )
        .unwrap();
        let labels = BTreeMap::from([("service".to_string(), "api".to_string())]);
        let cx = Context {
            value: 25.0,
            labels: &labels,
            rule: "waiting",
            state: "firing",
        };
        assert_eq!(
            t.render(&cx),
            "25 goroutines waiting on api (waiting, firing)"
        );
        assert_eq!(format_value(0.23456), "0.2346");
        assert_eq!(format_value(1234.5678), "1235");
    }

    #[test]
    fn errors_are_caught_at_load() {
        let e = Template::parse("x {{ $valeu }}").unwrap_err();
        assert_eq!(e.at, 3);
        assert!(e.reason.contains("unknown variable \"$valeu\""), "{e}");
        let e = Template::parse("x {{ $value ").unwrap_err();
        assert!(e.reason.contains("never closed"), "{e}");
        assert!(Template::parse("{{ $labels. }}").is_err());
    }
}
