//! Profile type ids as Pyroscope names Go's profiles —
//! `name:sample_type:sample_unit:period_type:period_unit` — and the
//! FlareGo `profile_type` each stands for.
//!
//! Go's types have Pyroscope's own ids. Any other type (another
//! runtime's `wall`, say) gets `T:T:UNIT:T:UNIT`, which maps back.

use flarego_proto::types::v1::ProfileType;

/// (FlareGo profile type, Pyroscope id).
const IDS: [(&str, &str); 11] = [
    ("cpu", "process_cpu:cpu:nanoseconds:cpu:nanoseconds"),
    ("cpu_samples", "process_cpu:samples:count:cpu:nanoseconds"),
    ("goroutine", "goroutines:goroutine:count:goroutine:count"),
    ("heap_inuse_space", "memory:inuse_space:bytes:space:bytes"),
    (
        "heap_inuse_objects",
        "memory:inuse_objects:count:space:bytes",
    ),
    ("alloc_space", "memory:alloc_space:bytes:space:bytes"),
    ("alloc_objects", "memory:alloc_objects:count:space:bytes"),
    ("block_delay", "block:delay:nanoseconds:contentions:count"),
    (
        "block_contentions",
        "block:contentions:count:contentions:count",
    ),
    ("mutex_delay", "mutex:delay:nanoseconds:contentions:count"),
    (
        "mutex_contentions",
        "mutex:contentions:count:contentions:count",
    ),
];

/// The Pyroscope id of a FlareGo `profile_type` whose values are in `unit`.
pub fn pyroscope_id(profile_type: &str, unit: &str) -> String {
    match IDS.iter().find(|(t, _)| *t == profile_type) {
        Some((_, id)) => id.to_string(),
        None => {
            let unit = if unit.is_empty() { "count" } else { unit };
            format!("{profile_type}:{profile_type}:{unit}:{profile_type}:{unit}")
        }
    }
}

/// The Pyroscope profile type of a FlareGo `profile_type`.
pub fn pyroscope_type(profile_type: &str, unit: &str) -> ProfileType {
    type_of_id(&pyroscope_id(profile_type, unit))
}

/// A profile type id split into its parts.
pub fn type_of_id(id: &str) -> ProfileType {
    let part = |i: usize| id.split(':').nth(i).unwrap_or_default().to_string();
    ProfileType {
        name: part(0),
        sample_type: part(1),
        sample_unit: part(2),
        period_type: part(3),
        period_unit: part(4),
        id: id.to_string(),
    }
}

/// The FlareGo `profile_type` a Pyroscope id names (a sixth `:delta`
/// part is allowed), or `None` when the id is not one of ours.
pub fn flarego_type(id: &str) -> Option<String> {
    let id = id.strip_suffix(":delta").unwrap_or(id);
    if let Some((t, _)) = IDS.iter().find(|(_, i)| *i == id) {
        return Some(t.to_string());
    }
    let parts: Vec<&str> = id.split(':').collect();
    let [name, sample_type, unit, period_type, period_unit] = parts[..] else {
        return None;
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    let own = name == sample_type && name == period_type && unit == period_unit;
    let go_name = IDS.iter().any(|(t, _)| *t == name);
    (own && !go_name && plain(name) && plain(unit)).then(|| name.to_string())
}

/// The parts of an id a reserved label reads: `__profile_type__` the
/// whole id, `__name__`, `__type__`, `__unit__`, `__period_type__`,
/// `__period_unit__` one part each; `None` for other labels.
pub fn id_part<'a>(label: &str, id: &'a str) -> Option<&'a str> {
    let index = match label {
        "__profile_type__" => return Some(id),
        "__name__" => 0,
        "__type__" => 1,
        "__unit__" => 2,
        "__period_type__" => 3,
        "__period_unit__" => 4,
        _ => return None,
    };
    id.split(':').nth(index)
}

/// Whether `label` reads a profile type id (see [`id_part`]).
pub fn is_id_label(label: &str) -> bool {
    id_part(label, "::::").is_some()
}

/// The FlareGo types Pyroscope clients may name: Go's.
pub fn known_types() -> impl Iterator<Item = &'static str> {
    IDS.iter().map(|(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_both_ways() {
        let cpu = pyroscope_type("cpu", "nanoseconds");
        assert_eq!(cpu.id, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
        assert_eq!(
            (cpu.name.as_str(), cpu.sample_type.as_str()),
            ("process_cpu", "cpu")
        );
        assert_eq!(cpu.sample_unit, "nanoseconds");
        let g = pyroscope_type("goroutine", "count");
        assert_eq!(g.id, "goroutines:goroutine:count:goroutine:count");
        for (t, id) in IDS {
            assert_eq!(flarego_type(id).as_deref(), Some(t));
            assert_eq!(pyroscope_id(t, "whatever"), id);
        }
        assert_eq!(
            flarego_type("process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta").as_deref(),
            Some("cpu")
        );
        assert_eq!(flarego_type("process_cpu:cpu"), None);
        let wall = pyroscope_type("wall", "nanoseconds");
        assert_eq!(wall.id, "wall:wall:nanoseconds:wall:nanoseconds");
        assert_eq!(flarego_type(&wall.id).as_deref(), Some("wall"));
        // A Go type only by its own id.
        assert_eq!(flarego_type("cpu:cpu:nanoseconds:cpu:nanoseconds"), None);
        assert_eq!(id_part("__name__", &cpu.id), Some("process_cpu"));
        assert_eq!(id_part("__unit__", &cpu.id), Some("nanoseconds"));
        assert_eq!(id_part("env", &cpu.id), None);
    }
}
