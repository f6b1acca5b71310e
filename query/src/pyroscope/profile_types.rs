//! Profile type ids as Pyroscope names Go's profiles —
//! `name:sample_type:sample_unit:period_type:period_unit` — and the
//! FlareGo `profile_type` each stands for.

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

/// The Pyroscope profile type of a FlareGo `profile_type`, if it has one.
pub fn pyroscope_type(profile_type: &str) -> Option<ProfileType> {
    let (_, id) = IDS.iter().find(|(t, _)| *t == profile_type)?;
    let parts: Vec<&str> = id.split(':').collect();
    let [name, sample_type, sample_unit, period_type, period_unit] = parts[..] else {
        return None;
    };
    Some(ProfileType {
        id: id.to_string(),
        name: name.into(),
        sample_type: sample_type.into(),
        sample_unit: sample_unit.into(),
        period_type: period_type.into(),
        period_unit: period_unit.into(),
    })
}

/// The FlareGo `profile_type` a Pyroscope id names.
pub fn flarego_type(id: &str) -> Option<&'static str> {
    IDS.iter().find(|(_, i)| *i == id).map(|(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_map_both_ways() {
        let cpu = pyroscope_type("cpu").unwrap();
        assert_eq!(cpu.id, "process_cpu:cpu:nanoseconds:cpu:nanoseconds");
        assert_eq!(
            (cpu.name.as_str(), cpu.sample_type.as_str()),
            ("process_cpu", "cpu")
        );
        assert_eq!(cpu.sample_unit, "nanoseconds");
        let g = pyroscope_type("goroutine").unwrap();
        assert_eq!(g.id, "goroutines:goroutine:count:goroutine:count");
        for (t, id) in IDS {
            assert_eq!(flarego_type(id), Some(t));
            assert_eq!(pyroscope_type(t).unwrap().id, id);
        }
        assert_eq!(flarego_type("process_cpu:cpu"), None);
        assert!(pyroscope_type("wall").is_none());
    }
}
