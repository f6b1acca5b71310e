//! The agent's own cost: CPU time and resident memory, from `/proc/self`.

use std::time::Instant;

/// CPU% since the previous call, and RSS now.
#[derive(Debug)]
pub struct SelfStats {
    last_cpu_s: f64,
    last_at: Instant,
}

impl Default for SelfStats {
    fn default() -> Self {
        SelfStats {
            last_cpu_s: cpu_seconds().unwrap_or(0.0),
            last_at: Instant::now(),
        }
    }
}

impl SelfStats {
    /// Percent of one core used since the last call (or since creation).
    pub fn cpu_percent(&mut self) -> Option<f64> {
        let now_cpu = cpu_seconds()?;
        let now = Instant::now();
        let wall = now.duration_since(self.last_at).as_secs_f64();
        let used = now_cpu - self.last_cpu_s;
        self.last_cpu_s = now_cpu;
        self.last_at = now;
        (wall > 0.0).then(|| used / wall * 100.0)
    }
}

/// User + system CPU seconds of this process.
pub fn cpu_seconds() -> Option<f64> {
    cpu_seconds_of("self")
}

/// User + system CPU seconds of `/proc/<pid>` (`self` for this process).
pub fn cpu_seconds_of(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Some((utime + stime) / hz)
}

/// Resident set size of `/proc/<pid>`, bytes.
pub fn rss_bytes_of(pid: &str) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    Some(pages * page)
}

pub fn rss_bytes() -> Option<u64> {
    rss_bytes_of("self")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_and_rss_are_read() {
        let mut s = SelfStats::default();
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed().as_millis() < 200 {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let pct = s.cpu_percent().unwrap();
        assert!(pct > 20.0, "a 200 ms spin used {pct}% of a core");
        assert!(rss_bytes().unwrap() > 1 << 20);
    }
}
