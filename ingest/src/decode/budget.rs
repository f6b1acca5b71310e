//! What one request may allocate while it is decoded.
//!
//! Every decoder charges a [`MemoryCharge`] *before* it allocates: the
//! inflated body, the structures a protobuf message becomes (counted on
//! the wire by [`super::wire`]), the frames of new stacks. A charge over
//! the request's own limit (`max_request_memory_bytes`) is refused with
//! 413; a charge that would take the server's requests together over
//! `ingest_memory_bytes` is refused with 503 and `Retry-After`, so a few
//! hostile requests at once cannot exhaust the machine. The charge is
//! given back when the request ends (the charge is dropped).

use super::error::{DecodeError, DecodeResult};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Memory every request being decoded holds together, with its cap.
#[derive(Debug)]
pub struct IngestMemory {
    limit: usize,
    used: AtomicUsize,
}

impl IngestMemory {
    /// A pool of `limit` bytes; 0 means no cap.
    pub fn new(limit: usize) -> Arc<Self> {
        Arc::new(IngestMemory {
            limit: if limit == 0 { usize::MAX } else { limit },
            used: AtomicUsize::new(0),
        })
    }

    /// Bytes held by requests now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn try_take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= self.limit)
            })
            .is_ok()
    }
}

/// One request's charge: what it is estimated to hold, within its own
/// limit and the shared pool's.
#[derive(Debug)]
pub struct MemoryCharge {
    limit: usize,
    used: usize,
    pool: Option<Arc<IngestMemory>>,
}

impl MemoryCharge {
    /// A charge for one request of at most `limit` bytes, drawn from `pool`.
    pub fn new(limit: usize, pool: Option<Arc<IngestMemory>>) -> Self {
        MemoryCharge {
            limit: if limit == 0 { usize::MAX } else { limit },
            used: 0,
            pool,
        }
    }

    /// No limit and no pool: WAL replay, which must not refuse what was
    /// accepted once.
    pub fn unlimited() -> Self {
        MemoryCharge::new(0, None)
    }

    /// Bytes charged so far.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Bytes this request may still charge (within its own limit).
    pub fn remaining(&self) -> usize {
        self.limit - self.used
    }

    /// Charges `bytes` for `what`, before it is allocated.
    pub fn charge(&mut self, what: &str, bytes: usize) -> DecodeResult<()> {
        let total = self.used.saturating_add(bytes);
        if total > self.limit {
            return Err(DecodeError::OverMemoryBudget {
                what: what.to_string(),
                needed: total,
                limit: self.limit,
            });
        }
        if let Some(pool) = &self.pool
            && !pool.try_take(bytes)
        {
            return Err(DecodeError::ServerBusy {
                what: what.to_string(),
                bytes,
                in_use: pool.used(),
                limit: pool.limit,
            });
        }
        self.used = total;
        Ok(())
    }
}

impl Drop for MemoryCharge {
    fn drop(&mut self) {
        if let Some(pool) = &self.pool {
            pool.used.fetch_sub(self.used, Ordering::AcqRel);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_held_to_its_own_limit_and_the_pool() {
        let pool = IngestMemory::new(1000);
        let mut a = MemoryCharge::new(600, Some(pool.clone()));
        a.charge("body", 500).unwrap();
        let e = a.charge("profile", 200).unwrap_err().to_string();
        assert!(e.contains("max_request_memory_bytes = 600"), "{e}");
        let mut b = MemoryCharge::new(600, Some(pool.clone()));
        let e = b.charge("body", 501).unwrap_err().to_string();
        assert!(e.contains("ingest_memory_bytes = 1000"), "{e}");
        b.charge("body", 500).unwrap();
        assert_eq!(pool.used(), 1000);
        drop(a);
        assert_eq!(pool.used(), 500);
        drop(b);
        assert_eq!(pool.used(), 0);
    }
}
