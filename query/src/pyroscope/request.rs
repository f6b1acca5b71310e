//! Pyroscope request fields in FlareGo's terms: millisecond ranges,
//! profile type ids and label selectors into a [`Selection`].
//!
//! Selectors are Prometheus matchers. `service_name` is FlareGo's
//! `service`; the reserved labels that read a profile type id
//! (`__profile_type__` the whole id; `__name__`, `__type__`, `__unit__`,
//! `__period_type__`, `__period_unit__` one part) become a matcher on
//! `profile_type`, tested against Go's ids (and, for `=`/`!=`, the type
//! the value itself names), so `{__profile_type__="…"}` works wherever a
//! selector does.

use super::profile_types::{flarego_type, id_part, is_id_label, known_types, pyroscope_id};
use crate::read::matchers::{Matcher, Op, parse_selector};
use crate::read::{ReadError, Selection};

/// `[start, end)` in ms as ns, checked: both set, start before end.
pub fn range_ns(start_ms: i64, end_ms: i64) -> Result<(i64, i64), ReadError> {
    if start_ms <= 0 && end_ms <= 0 {
        return Err(ReadError::param(
            "start",
            "a time range is required: start and end in Unix milliseconds",
        ));
    }
    let ns = |ms: i64| ms.saturating_mul(1_000_000);
    if end_ms <= start_ms {
        return Err(ReadError::param(
            "end",
            format!("end ({end_ms} ms) must be after start ({start_ms} ms)"),
        ));
    }
    Ok((ns(start_ms), ns(end_ms)))
}

/// The FlareGo profile type a request's `profile_typeID` names.
pub fn profile_type(param: &str, id: &str) -> Result<String, ReadError> {
    if id.is_empty() {
        return Err(ReadError::param(param, "a profile type id is required"));
    }
    flarego_type(id).ok_or_else(|| {
        ReadError::param(
            param,
            format!(
                "unknown profile type id {id:?}: expected name:sample_type:sample_unit:period_type:period_unit, such as process_cpu:cpu:nanoseconds:cpu:nanoseconds"
            ),
        )
    })
}

/// A label selector's matchers, reserved labels translated.
pub fn matchers(param: &str, selector: &str) -> Result<Vec<Matcher>, ReadError> {
    let parsed = parse_selector(param, selector)?;
    parsed.into_iter().map(|m| translate(param, m)).collect()
}

/// One matcher in FlareGo's terms.
fn translate(param: &str, m: Matcher) -> Result<Matcher, ReadError> {
    if !is_id_label(&m.name) {
        return Ok(m);
    }
    let positive = Matcher {
        op: match m.op {
            Op::Eq | Op::Ne => Op::Eq,
            Op::Re | Op::NotRe => Op::Re,
        },
        ..m.clone()
    }
    .compile()
    .map_err(|e| ReadError::param(param, e.to_string()))?;
    let mut types: Vec<String> = known_types()
        .filter(|t| {
            let id = pyroscope_id(t, "");
            positive.matches(id_part(&m.name, &id).unwrap_or(""))
        })
        .map(str::to_string)
        .collect();
    if matches!(m.op, Op::Eq | Op::Ne) {
        let named = match m.name.as_str() {
            "__profile_type__" => flarego_type(&m.value),
            "__name__" | "__type__" | "__period_type__" => Some(m.value.clone()),
            _ => None,
        };
        types.extend(named.filter(|t| !types.contains(t)));
    }
    let alternatives: Vec<String> = types.iter().map(|t| regex::escape(t)).collect();
    let negative = matches!(m.op, Op::Ne | Op::NotRe);
    Ok(match (negative, alternatives.is_empty()) {
        // With nothing to leave out, `profile_type !~ ""` passes every type.
        (true, _) => Matcher {
            name: "profile_type".into(),
            op: Op::NotRe,
            value: alternatives.join("|"),
        },
        // Nothing matches: `profile_type = ""` passes no type.
        (false, true) => Matcher {
            name: "profile_type".into(),
            op: Op::Eq,
            value: String::new(),
        },
        (false, false) => Matcher {
            name: "profile_type".into(),
            op: Op::Re,
            value: alternatives.join("|"),
        },
    })
}

/// The selection of a Select… request.
pub fn selection(
    profile_type_id: &str,
    label_selector: &str,
    start_ms: i64,
    end_ms: i64,
    call_site: Vec<String>,
) -> Result<Selection, ReadError> {
    let profile_type = profile_type("profile_typeID", profile_type_id)?;
    let (from_ns, to_ns) = range_ns(start_ms, end_ms)?;
    Ok(Selection {
        profile_type,
        matchers: matchers("label_selector", label_selector)?,
        from_ns,
        to_ns,
        focus: None,
        ignore: None,
        hide: None,
        call_site,
        tenant: None,
    })
}

/// The largest `max_nodes` a flame graph may ask for.
pub const MAX_NODES_LIMIT: i64 = 1 << 24;
/// Nodes a flame graph keeps when the request names none (Pyroscope's
/// default).
pub const DEFAULT_MAX_NODES: usize = 8192;

/// A request's `max_nodes`: unset or 0 is the default; negative or above
/// [`MAX_NODES_LIMIT`] is refused.
pub fn max_nodes(requested: Option<i64>) -> Result<usize, ReadError> {
    match requested {
        None | Some(0) => Ok(DEFAULT_MAX_NODES),
        Some(n) if (1..=MAX_NODES_LIMIT).contains(&n) => Ok(n as usize),
        Some(n) => Err(ReadError::param(
            "max_nodes",
            format!(
                "{n} is not between 0 (the default, {DEFAULT_MAX_NODES}) and {MAX_NODES_LIMIT}"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read::matchers::Compiled;

    fn passes(selector: &str, profile_type: &str) -> bool {
        let ms = matchers("q", selector).unwrap();
        ms.iter()
            .filter(|m| m.name == "profile_type")
            .map(|m| m.compile().unwrap())
            .all(|c: Compiled| c.matches(profile_type))
    }

    #[test]
    fn reserved_labels_select_profile_types() {
        let cpu = r#"{__profile_type__="process_cpu:cpu:nanoseconds:cpu:nanoseconds"}"#;
        assert!(passes(cpu, "cpu"));
        assert!(!passes(cpu, "cpu_samples"));
        assert!(passes(r#"{__name__="memory"}"#, "heap_inuse_space"));
        assert!(passes(r#"{__name__="memory"}"#, "alloc_objects"));
        assert!(!passes(r#"{__name__="memory"}"#, "cpu"));
        assert!(passes(r#"{__name__!="memory"}"#, "cpu"));
        assert!(passes(r#"{__name__!="memory"}"#, "wall"));
        assert!(!passes(r#"{__name__!="memory"}"#, "alloc_space"));
        assert!(passes(r#"{__unit__=~"nano.*"}"#, "block_delay"));
        assert!(!passes(r#"{__unit__=~"nano.*"}"#, "goroutine"));
        assert!(passes(
            r#"{__profile_type__="wall:wall:nanoseconds:wall:nanoseconds"}"#,
            "wall"
        ));
        assert!(!passes(r#"{__profile_type__="nope"}"#, "cpu"));
        let ms = matchers("q", r#"{service_name="api", env="prod"}"#).unwrap();
        assert_eq!(ms[0].name, "service_name");
        assert_eq!(ms[1].name, "env");
    }

    #[test]
    fn requests_are_checked() {
        assert!(range_ns(0, 0).unwrap_err().to_string().contains("start"));
        assert!(range_ns(5, 5).unwrap_err().to_string().contains("end"));
        assert_eq!(
            range_ns(1000, 4000).unwrap(),
            (1_000_000_000, 4_000_000_000)
        );
        let e = profile_type("profile_typeID", "cpu")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("profile_typeID") && e.contains("unknown profile type id"),
            "{e}"
        );
        assert_eq!(max_nodes(None).unwrap(), DEFAULT_MAX_NODES);
        assert_eq!(max_nodes(Some(0)).unwrap(), DEFAULT_MAX_NODES);
        assert_eq!(max_nodes(Some(100)).unwrap(), 100);
        assert!(
            max_nodes(Some(-1))
                .unwrap_err()
                .to_string()
                .contains("max_nodes")
        );
        let e = selection(
            "process_cpu:cpu:nanoseconds:cpu:nanoseconds",
            "{a=",
            1,
            2,
            vec![],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("label_selector"), "{e}");
    }
}
