//! Validation of label names and values, and parsing of Pyroscope's
//! `name=app.cpu{k=v,...}` parameter.

use super::error::{DecodeError, DecodeResult};
use crate::limits::Limits;
use std::collections::BTreeMap;

/// Checks a label name (`[A-Za-z_][A-Za-z0-9_.]*`) and value against the limits.
pub fn check_label(name: &str, value: &str, limits: &Limits) -> DecodeResult<()> {
    let bad = |reason: String| DecodeError::BadLabel {
        name: name.chars().take(64).collect(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty label name".into()));
    }
    if name.len() > limits.max_label_name_bytes {
        return Err(bad(format!(
            "name is {} bytes, over the limit max_label_name_bytes = {}",
            name.len(),
            limits.max_label_name_bytes
        )));
    }
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        return Err(bad("names use [A-Za-z_][A-Za-z0-9_.]*".into()));
    }
    check_value(name, value, limits)
}

/// Checks a free-form value (label value, service, instance).
pub fn check_value(what: &str, value: &str, limits: &Limits) -> DecodeResult<()> {
    if value.len() > limits.max_label_value_bytes {
        return Err(DecodeError::BadLabel {
            name: what.chars().take(64).collect(),
            reason: format!(
                "value is {} bytes, over the limit max_label_value_bytes = {}",
                value.len(),
                limits.max_label_value_bytes
            ),
        });
    }
    if value.chars().any(|c| c.is_control()) {
        return Err(DecodeError::BadLabel {
            name: what.chars().take(64).collect(),
            reason: "value holds control characters".into(),
        });
    }
    Ok(())
}

/// Checks the number of labels.
pub fn check_label_count(labels: &BTreeMap<String, String>, limits: &Limits) -> DecodeResult<()> {
    if labels.len() > limits.max_labels {
        return Err(DecodeError::TooManyLabels {
            count: labels.len(),
            limit: limits.max_labels,
        });
    }
    Ok(())
}

/// Pyroscope's application name: `app.cpu{env=prod,region=eu}`.
#[derive(Debug, Clone, PartialEq)]
pub struct AppName {
    /// Everything before `{`.
    pub name: String,
    pub labels: BTreeMap<String, String>,
}

impl AppName {
    /// The part after the last `.`, if any.
    pub fn suffix(&self) -> Option<&str> {
        self.name.rsplit_once('.').map(|(_, s)| s)
    }
}

/// Parses `app.cpu{k=v,...}`.
pub fn parse_app_name(raw: &str, limits: &Limits) -> DecodeResult<AppName> {
    let bad = |reason: &str| DecodeError::BadName {
        name: raw.chars().take(128).collect(),
        reason: reason.to_string(),
    };
    let (name, rest) = match raw.find('{') {
        Some(i) => (&raw[..i], Some(&raw[i + 1..])),
        None => (raw, None),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(bad("empty application name"));
    }
    if name.contains('}') || name.contains(',') {
        return Err(bad("application name must not contain '}' or ','"));
    }
    check_value("name", name, limits)?;
    let mut labels = BTreeMap::new();
    if let Some(rest) = rest {
        let Some(body) = rest.strip_suffix('}') else {
            return Err(bad("missing closing '}'"));
        };
        if body.contains('{') || body.contains('}') {
            return Err(bad("unbalanced braces"));
        }
        for pair in body.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((k, v)) = pair.split_once('=') else {
                return Err(bad(&format!("label {pair:?} is not key=value")));
            };
            let (k, v) = (k.trim(), v.trim());
            check_label(k, v, limits)?;
            labels.insert(k.to_string(), v.to_string());
        }
    }
    check_label_count(&labels, limits)?;
    Ok(AppName {
        name: name.to_string(),
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_names_with_labels() {
        let l = Limits::default();
        let n = parse_app_name("api.cpu{env=prod, region=eu-1}", &l).unwrap();
        assert_eq!(n.name, "api.cpu");
        assert_eq!(n.suffix(), Some("cpu"));
        assert_eq!(n.labels.get("region").map(String::as_str), Some("eu-1"));
        assert!(parse_app_name("api.cpu{env=prod", &l).is_err());
        assert!(parse_app_name("api.cpu{envprod}", &l).is_err());
        assert!(parse_app_name("{a=b}", &l).is_err());
        assert!(parse_app_name("api{1bad=x}", &l).is_err());
    }
}
