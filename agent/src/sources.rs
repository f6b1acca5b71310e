//! Which pprof endpoints the agent scrapes each window
//! (`--pprof-profiles`). All by default; leaving `cpu` out spares the
//! service the runtime's SIGPROF profiling, e.g. when perf takes CPU.

use std::fmt;
use std::str::FromStr;

/// The names `--pprof-profiles` takes, in scrape order.
pub const ALL: [&str; 7] = [
    "cpu",
    "goroutine",
    "heap",
    "allocs",
    "block",
    "mutex",
    "memstats",
];

/// A set of [`ALL`]'s names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PprofSources(u8);

impl PprofSources {
    pub fn all() -> Self {
        PprofSources((1 << ALL.len()) - 1)
    }

    /// Whether `name` (one of [`ALL`]) is scraped.
    pub fn has(self, name: &str) -> bool {
        ALL.iter()
            .position(|n| *n == name)
            .is_some_and(|i| self.0 & (1 << i) != 0)
    }
}

impl Default for PprofSources {
    fn default() -> Self {
        Self::all()
    }
}

impl FromStr for PprofSources {
    type Err = String;

    /// A comma-separated list of [`ALL`]'s names, or `all`.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut bits = 0u8;
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "all" {
                return Ok(Self::all());
            }
            let i = ALL.iter().position(|n| *n == name).ok_or_else(|| {
                format!(
                    "unknown pprof profile {name:?}: use all or some of {}",
                    ALL.join(",")
                )
            })?;
            bits |= 1 << i;
        }
        if bits == 0 {
            return Err(format!(
                "no pprof profile named: use all or some of {}",
                ALL.join(",")
            ));
        }
        Ok(PprofSources(bits))
    }
}

impl fmt::Display for PprofSources {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ALL.iter().copied().filter(|n| self.has(n)).collect();
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_refuses_unknown_names() {
        let s: PprofSources = "goroutine, heap,memstats".parse().unwrap();
        assert!(s.has("goroutine") && s.has("heap") && s.has("memstats"));
        assert!(!s.has("cpu") && !s.has("allocs") && !s.has("mutex"));
        assert_eq!(s.to_string(), "goroutine,heap,memstats");
        assert_eq!("all".parse::<PprofSources>().unwrap(), PprofSources::all());
        assert_eq!(PprofSources::default().to_string(), ALL.join(","));
        let e = "cpu,trace".parse::<PprofSources>().unwrap_err();
        assert!(e.contains("\"trace\"") && e.contains("goroutine"), "{e}");
        assert!("".parse::<PprofSources>().is_err());
    }
}
