//! From a goroutine dump to what FlareGo stores: goroutines counted per
//! (state, stack), stacks root first as the `profiles` table wants them,
//! and the derived metrics (goroutines per state, blocked goroutines).

use crate::goroutines::Goroutine;
use std::collections::BTreeMap;

/// States in which a goroutine is not blocked.
const NOT_BLOCKED: [&str; 3] = ["running", "runnable", "syscall"];

/// Goroutines of one dump, grouped.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Census {
    /// `(state, frames root first)` → number of goroutines.
    pub stacks: BTreeMap<(String, Vec<String>), u64>,
    /// State → number of goroutines.
    pub per_state: BTreeMap<String, u64>,
    /// Goroutines waiting on something (any state but running, runnable, syscall).
    pub blocked: u64,
    pub total: u64,
    /// Goroutines whose stack Go cut short (`...additional frames elided...`).
    pub elided: u64,
    /// State → the longest wait Go reports in it (`[chan receive, 12 minutes]`;
    /// Go only says so after a minute).
    pub longest_wait_minutes: BTreeMap<String, u32>,
}

impl Census {
    /// Counts `goroutines`. Stacks are kept whole; where Go elided frames
    /// the stack ends with a `...` frame so the cut shows.
    pub fn of(goroutines: &[Goroutine]) -> Census {
        let mut c = Census::default();
        for g in goroutines {
            let mut frames: Vec<String> =
                g.frames.iter().rev().map(|f| f.function.clone()).collect();
            if g.elided {
                frames.insert(0, "...".to_string());
                c.elided += 1;
            }
            *c.stacks.entry((g.state.clone(), frames)).or_default() += 1;
            *c.per_state.entry(g.state.clone()).or_default() += 1;
            if !NOT_BLOCKED.contains(&g.state.as_str()) {
                c.blocked += 1;
            }
            c.total += 1;
            if let Some(m) = g.wait_minutes {
                let e = c.longest_wait_minutes.entry(g.state.clone()).or_default();
                *e = (*e).max(m);
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_the_golden_dump() {
        let text = include_str!("../../tests/data/goroutines-debug2-go1.19.txt");
        let c = Census::of(&crate::goroutines::parse(text).unwrap());
        assert_eq!(c.total, 40);
        assert_eq!(c.per_state["chan receive"], 25);
        assert_eq!(c.per_state["semacquire"], 7);
        assert_eq!(c.per_state["sleep"], 3);
        // Everything but the 2 spinning and the 1 running main.
        assert_eq!(c.blocked, 37);
        // All 25 waiters share one stack, root first.
        let waiters = c.stacks.iter().find(|((s, f), _)| {
            s == "chan receive" && f.last().is_some_and(|l| l == "main.waitOnChan")
        });
        let ((_, frames), n) = waiters.unwrap();
        assert_eq!(*n, 25);
        assert_eq!(frames, &vec!["main.waitOnChan".to_string()]);
        assert_eq!(c.stacks.values().sum::<u64>(), 40);
    }

    #[test]
    fn keeps_the_longest_wait_per_state() {
        let dump = "goroutine 7 [chan receive, 12 minutes]:\nmain.a()\n\t/x/main.go:3 +0x1\n\n\
                    goroutine 8 [chan receive, 3 minutes]:\nmain.a()\n\t/x/main.go:3 +0x1\n\n\
                    goroutine 9 [select]:\nmain.b()\n\t/x/main.go:9 +0x1\n";
        let c = Census::of(&crate::goroutines::parse(dump).unwrap());
        assert_eq!(c.longest_wait_minutes.get("chan receive"), Some(&12));
        assert_eq!(c.longest_wait_minutes.get("select"), None);
    }
}
