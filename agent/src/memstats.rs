//! Go's runtime memory statistics as `/debug/vars` (expvar) serves them,
//! and the GC pauses that happened between two readings.

/// The fields of `runtime.MemStats` the agent turns into metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemStats {
    pub heap_inuse: u64,
    pub heap_alloc: u64,
    pub heap_objects: u64,
    pub num_gc: u64,
    pub pause_total_ns: u64,
    /// The runtime's ring of the 256 most recent pauses: pause `k` (1-based
    /// GC number) is at `(k + 255) % 256`.
    pub pause_ns: Vec<u64>,
}

/// `/debug/vars` without a usable `memstats` object.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("/debug/vars: {0}")]
pub struct MemStatsError(pub String);

impl MemStats {
    /// Reads the `memstats` object of a `/debug/vars` body.
    pub fn parse(body: &[u8]) -> Result<MemStats, MemStatsError> {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| MemStatsError(format!("not JSON: {e}")))?;
        let m = v
            .get("memstats")
            .ok_or_else(|| MemStatsError("no memstats object (is expvar imported?)".into()))?;
        let num = |k: &str| {
            m.get(k)
                .and_then(|x| x.as_u64())
                .ok_or_else(|| MemStatsError(format!("memstats.{k} missing or not a number")))
        };
        let pause_ns = m
            .get("PauseNs")
            .and_then(|p| p.as_array())
            .ok_or_else(|| MemStatsError("memstats.PauseNs missing".into()))?
            .iter()
            .map(|x| x.as_u64().unwrap_or(0))
            .collect();
        Ok(MemStats {
            heap_inuse: num("HeapInuse")?,
            heap_alloc: num("HeapAlloc")?,
            heap_objects: num("HeapObjects")?,
            num_gc: num("NumGC")?,
            pause_total_ns: num("PauseTotalNs")?,
            pause_ns,
        })
    }

    /// Pauses of the collections after GC number `prev_num_gc`, oldest
    /// first, and how many of them the ring no longer holds.
    pub fn pauses_since(&self, prev_num_gc: u64) -> (Vec<u64>, u64) {
        let ring = self.pause_ns.len() as u64;
        if ring == 0 || self.num_gc <= prev_num_gc {
            return (Vec::new(), 0);
        }
        let new = self.num_gc - prev_num_gc;
        let kept = new.min(ring);
        let first = self.num_gc - kept + 1;
        let pauses = (first..=self.num_gc)
            .map(|k| self.pause_ns[((k + ring - 1) % ring) as usize])
            .collect();
        (pauses, new - kept)
    }
}

/// The nearest-rank `q` quantile (0 < q ≤ 1) of `sorted`, ascending.
pub fn nearest_rank(sorted: &[u64], q: f64) -> Option<u64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    Some(sorted[rank - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_quantiles() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(nearest_rank(&v, 0.5), Some(50));
        assert_eq!(nearest_rank(&v, 0.99), Some(99));
        assert_eq!(nearest_rank(&v, 1.0), Some(100));
        assert_eq!(nearest_rank(&[7], 0.5), Some(7));
        assert_eq!(nearest_rank(&[3, 9], 0.5), Some(3));
        assert_eq!(nearest_rank(&[3, 9], 0.99), Some(9));
        assert_eq!(nearest_rank(&[], 0.5), None);
    }

    #[test]
    fn reads_debian_go_debug_vars() {
        // Served by tests/go/goroutines -serve after three runtime.GC().
        let m = MemStats::parse(include_bytes!("../../tests/data/debug-vars-go1.19.json")).unwrap();
        assert_eq!(m.num_gc, 3);
        assert!(m.heap_inuse > 0 && m.heap_alloc > 0);
        let (pauses, lost) = m.pauses_since(0);
        assert_eq!(lost, 0);
        assert_eq!(pauses.len(), 3);
        assert_eq!(pauses.iter().sum::<u64>(), m.pause_total_ns);
        let (one, _) = m.pauses_since(2);
        assert_eq!(one, vec![pauses[2]]);
        assert!(m.pauses_since(3).0.is_empty());
    }

    #[test]
    fn ring_wraps_and_counts_what_it_lost() {
        let mut m =
            MemStats::parse(include_bytes!("../../tests/data/debug-vars-go1.19.json")).unwrap();
        m.num_gc = 300; // GC k's pause sits at (k - 1) % 256
        m.pause_ns = (0..256).map(|i| i as u64).collect();
        let (p, lost) = m.pauses_since(0);
        assert_eq!((p.len(), lost), (256, 44));
        assert_eq!(p[0], 44); // GC 45, the oldest kept, sits at index 44
        assert_eq!(*p.last().unwrap(), (300 - 1) % 256);
        assert!(MemStats::parse(b"{}").unwrap_err().0.contains("expvar"));
    }
}
