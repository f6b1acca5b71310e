//! Maps pprof sample types onto FlareGo's `profile_type` and `unit`.
//!
//! Go's sample types map onto the names of the SQL surface (`cpu`,
//! `heap_inuse_space`, `block_delay`, …). Go writes block and mutex
//! profiles with the same sample types, so a [`ProfileHint`] taken from the
//! request (`name=app.mutex`, `__name__=mutex`) tells them apart. Sample
//! types of other runtimes (`wall`, `alloc_in_new_tlab_bytes`, …) keep
//! their own name, lower-cased with non-alphanumerics as `_`.

/// What the request says about the profile's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileHint {
    None,
    Block,
    Mutex,
}

impl ProfileHint {
    /// Reads a hint from a profile name such as `mutex`, `block`,
    /// `mutex_count`, `block_duration`.
    pub fn from_name(name: &str) -> Self {
        let n = name.to_ascii_lowercase();
        if n.starts_with("mutex") || n.contains("lock") && !n.contains("block") {
            ProfileHint::Mutex
        } else if n.starts_with("block") {
            ProfileHint::Block
        } else {
            ProfileHint::None
        }
    }
}

/// `(profile_type, unit)` for a pprof sample type.
pub fn map_sample_type(
    kind: &str,
    unit: &str,
    period_type: &str,
    hint: ProfileHint,
) -> (String, String) {
    let unit_out = normalize_unit(unit);
    let mapped = match (kind, unit) {
        ("cpu", "nanoseconds") => Some("cpu"),
        ("samples", "count") if period_type == "cpu" => Some("cpu_samples"),
        ("goroutine" | "goroutines", "count") => Some("goroutine"),
        ("inuse_space", "bytes") => Some("heap_inuse_space"),
        ("inuse_objects", "count") => Some("heap_inuse_objects"),
        ("alloc_space", "bytes") => Some("alloc_space"),
        ("alloc_objects", "count") => Some("alloc_objects"),
        ("contentions", "count") => Some(if hint == ProfileHint::Mutex {
            "mutex_contentions"
        } else {
            "block_contentions"
        }),
        ("delay", "nanoseconds") => Some(if hint == ProfileHint::Mutex {
            "mutex_delay"
        } else {
            "block_delay"
        }),
        _ => None,
    };
    match mapped {
        Some(m) => (m.to_string(), unit_out),
        None => (sanitize(kind), unit_out),
    }
}

fn normalize_unit(unit: &str) -> String {
    match unit {
        "" => "count".to_string(),
        u => sanitize(u),
    }
}

/// Lower-case, `[a-z0-9_]` only; empty becomes `samples`.
pub fn sanitize(s: &str) -> String {
    let out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if out.is_empty() {
        "samples".into()
    } else {
        out
    }
}

/// The profile type of a folded (collapsed) upload, from the suffix of
/// its name (`app.cpu`, `app.inuse_space`, …) and the `units` parameter.
/// Returns `(profile_type, unit, is_cpu_samples)`.
pub fn folded_type(suffix: Option<&str>, units: Option<&str>) -> (String, String, bool) {
    let unit = match units.unwrap_or("samples") {
        "samples" | "objects" | "goroutines" | "lock_samples" | "count" => "count",
        "bytes" => "bytes",
        "lock_nanoseconds" | "nanoseconds" => "nanoseconds",
        other => {
            return (
                suffix.map(sanitize).unwrap_or_else(|| sanitize(other)),
                sanitize(other),
                false,
            );
        }
    };
    let t = match suffix {
        Some("cpu") | Some("itimer") => return ("cpu".into(), "nanoseconds".into(), true),
        Some("alloc_objects") => "alloc_objects",
        Some("alloc_space") => "alloc_space",
        Some("inuse_objects") => "heap_inuse_objects",
        Some("inuse_space") => "heap_inuse_space",
        Some("goroutines") | Some("goroutine") => "goroutine",
        Some("mutex_count") => "mutex_contentions",
        Some("mutex_duration") => "mutex_delay",
        Some("block_count") => "block_contentions",
        Some("block_duration") => "block_delay",
        Some(other) => return (sanitize(other), unit.into(), false),
        None => "samples",
    };
    (t.into(), unit.into(), false)
}

/// Whether a name suffix (`app.<suffix>`) is a known profile kind, so the
/// service name is what comes before it.
pub fn is_known_suffix(s: &str) -> bool {
    matches!(
        s,
        "cpu"
            | "itimer"
            | "wall"
            | "alloc_objects"
            | "alloc_space"
            | "inuse_objects"
            | "inuse_space"
            | "goroutines"
            | "goroutine"
            | "mutex_count"
            | "mutex_duration"
            | "block_count"
            | "block_duration"
            | "heap"
            | "allocs"
            | "block"
            | "mutex"
            | "lock_count"
            | "lock_duration"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_types_map_onto_the_sql_surface() {
        let m = |k, u, p, h| map_sample_type(k, u, p, h);
        assert_eq!(m("cpu", "nanoseconds", "cpu", ProfileHint::None).0, "cpu");
        assert_eq!(
            m("samples", "count", "cpu", ProfileHint::None).0,
            "cpu_samples"
        );
        assert_eq!(
            m("inuse_space", "bytes", "space", ProfileHint::None).0,
            "heap_inuse_space"
        );
        assert_eq!(
            m("delay", "nanoseconds", "contentions", ProfileHint::Mutex).0,
            "mutex_delay"
        );
        assert_eq!(
            m("delay", "nanoseconds", "contentions", ProfileHint::None).0,
            "block_delay"
        );
        assert_eq!(
            m("alloc_in_new_tlab_bytes", "bytes", "", ProfileHint::None),
            ("alloc_in_new_tlab_bytes".to_string(), "bytes".to_string())
        );
        assert_eq!(m("wall", "nanoseconds", "", ProfileHint::None).0, "wall");
    }

    #[test]
    fn folded_suffixes() {
        assert_eq!(
            folded_type(Some("cpu"), None),
            ("cpu".into(), "nanoseconds".into(), true)
        );
        assert_eq!(
            folded_type(Some("inuse_space"), Some("bytes")).0,
            "heap_inuse_space"
        );
        assert_eq!(folded_type(None, None).0, "samples");
    }
}
