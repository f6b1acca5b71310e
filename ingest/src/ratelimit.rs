//! Rate limits and quotas: token buckets per tenant (ingest bytes/s,
//! ingest requests/s, queries/s), per token (requests/s of any kind), and
//! a cap on each tenant's concurrent queries. Over a limit the caller gets
//! 429 with `Retry-After` (gRPC `RESOURCE_EXHAUSTED`); other tenants'
//! buckets are untouched, so one tenant's burst never slows another.

use crate::auth::Principal;
use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The limits; 0 turns one off. They keep tenants from starving each
/// other; the defaults sit above what one busy node takes from a single
/// tenant (measured at about 800 pprof requests/s, 45 MiB/s), so a local
/// user with auth off never meets them.
#[derive(Debug, Clone)]
pub struct RateLimits {
    /// Per tenant. Default 256 MiB/s.
    pub ingest_bytes_per_sec: u64,
    /// Per tenant. Default 20,000.
    pub ingest_requests_per_sec: u64,
    /// Per tenant. Default 200.
    pub queries_per_sec: u64,
    /// Per tenant. Default 8.
    pub max_concurrent_queries: usize,
    /// Per token, every request; with auth off there are no tokens and it
    /// does not apply. Default 5,000.
    pub token_requests_per_sec: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            ingest_bytes_per_sec: 256 << 20,
            ingest_requests_per_sec: 20_000,
            queries_per_sec: 200,
            max_concurrent_queries: 8,
            token_requests_per_sec: 5_000,
        }
    }
}

impl RateLimits {
    pub fn unlimited() -> Self {
        RateLimits {
            ingest_bytes_per_sec: 0,
            ingest_requests_per_sec: 0,
            queries_per_sec: 0,
            max_concurrent_queries: 0,
            token_requests_per_sec: 0,
        }
    }
}

/// Above this many buckets, full ones are dropped (a full bucket is the
/// same as none), so memory follows active tenants and tokens only.
const PRUNE_AT: usize = 10_000;
/// At most one prune per this long, so a server with more than
/// [`PRUNE_AT`] active buckets does not scan them on every request.
const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

#[derive(Debug, Default)]
struct Buckets {
    by_key: HashMap<(Kind, String), Bucket>,
    pruned_at: Option<Instant>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    IngestBytes,
    IngestRequests,
    Queries,
    TokenRequests,
}

impl Kind {
    fn limit_name(self) -> &'static str {
        match self {
            Kind::IngestBytes => "ingest_bytes_per_sec",
            Kind::IngestRequests => "ingest_requests_per_sec",
            Kind::Queries => "queries_per_sec",
            Kind::TokenRequests => "token_requests_per_sec",
        }
    }
}

/// The buckets of every tenant and token.
#[derive(Debug, Default)]
pub struct Limiter {
    limits: RateLimits,
    buckets: Mutex<Buckets>,
    running: Arc<Mutex<HashMap<String, usize>>>,
}

/// Holds one of a tenant's concurrent query slots until dropped.
pub struct QuerySlot {
    running: Arc<Mutex<HashMap<String, usize>>>,
    tenant: Option<String>,
}

impl Drop for QuerySlot {
    fn drop(&mut self) {
        if let Some(t) = &self.tenant {
            let mut g = self.running.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = g.get_mut(t) {
                *n = n.saturating_sub(1);
            }
        }
    }
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Self {
        Limiter {
            limits,
            ..Default::default()
        }
    }

    fn rate(&self, kind: Kind) -> u64 {
        match kind {
            Kind::IngestBytes => self.limits.ingest_bytes_per_sec,
            Kind::IngestRequests => self.limits.ingest_requests_per_sec,
            Kind::Queries => self.limits.queries_per_sec,
            Kind::TokenRequests => self.limits.token_requests_per_sec,
        }
    }

    /// Takes `amount` from the bucket of `key`; a bucket holds one second
    /// of its rate. An amount above a full bucket passes when the bucket
    /// is full and leaves it in debt, so a large request is slowed, never
    /// refused forever.
    fn take(&self, kind: Kind, key: &str, amount: f64, who: &str) -> Result<(), ApiError> {
        let rate = self.rate(kind);
        if rate == 0 {
            return Ok(());
        }
        let rate = rate as f64;
        let now = Instant::now();
        let mut g = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let due = g
            .pruned_at
            .is_none_or(|t| now.duration_since(t) >= PRUNE_EVERY);
        if g.by_key.len() >= PRUNE_AT && due {
            g.by_key.retain(|(k, _), b| {
                let r = self.rate(*k) as f64;
                b.tokens + now.duration_since(b.at).as_secs_f64() * r < r
            });
            g.pruned_at = Some(now);
        }
        let b = g.by_key.entry((kind, key.to_string())).or_insert(Bucket {
            tokens: rate,
            at: now,
        });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * rate).min(rate);
        b.at = now;
        let need = amount.min(rate);
        if b.tokens >= need {
            b.tokens -= amount;
            return Ok(());
        }
        let retry_after_secs = ((need - b.tokens) / rate).ceil().max(1.0) as u64;
        tracing::info!(
            limit = kind.limit_name(),
            who,
            key,
            retry_after_secs,
            "rate limited"
        );
        Err(ApiError::RateLimited {
            message: format!(
                "{who} {key:?} is over the limit {} = {}; retry in {retry_after_secs} s",
                kind.limit_name(),
                rate as u64
            ),
            retry_after_secs,
        })
    }

    /// Per token; callers without a token (auth off) are one tenant's
    /// traffic and only the tenant's limits apply.
    fn token(&self, p: &Principal) -> Result<(), ApiError> {
        if p.role.is_none() {
            return Ok(());
        }
        self.take(Kind::TokenRequests, &p.token_id, 1.0, "token")
    }

    /// One ingest request (before its body is read).
    pub fn ingest_request(&self, p: &Principal) -> Result<(), ApiError> {
        self.token(p)?;
        self.take(Kind::IngestRequests, &p.tenant.0, 1.0, "tenant")
    }

    /// Bytes of one ingest request, as received.
    pub fn ingest_bytes(&self, p: &Principal, bytes: usize) -> Result<(), ApiError> {
        self.take(Kind::IngestBytes, &p.tenant.0, bytes as f64, "tenant")
    }

    /// One query: the rate, then a concurrent slot, held until the
    /// returned guard drops.
    pub fn query(&self, p: &Principal) -> Result<QuerySlot, ApiError> {
        self.token(p)?;
        self.take(Kind::Queries, &p.tenant.0, 1.0, "tenant")?;
        let max = self.limits.max_concurrent_queries;
        if max == 0 {
            return Ok(QuerySlot {
                running: self.running.clone(),
                tenant: None,
            });
        }
        let mut g = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let n = g.entry(p.tenant.0.clone()).or_insert(0);
        if *n >= max {
            return Err(ApiError::RateLimited {
                message: format!(
                    "tenant {:?} already runs {n} queries, the limit max_concurrent_queries = {max}; retry in 1 s",
                    p.tenant.0
                ),
                retry_after_secs: 1,
            });
        }
        *n += 1;
        Ok(QuerySlot {
            running: self.running.clone(),
            tenant: Some(p.tenant.0.clone()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthConfig;
    use axum::http::HeaderMap;

    fn principal(tenant: &str) -> Principal {
        let mut h = HeaderMap::new();
        h.insert("x-scope-orgid", tenant.parse().unwrap());
        AuthConfig::None
            .authorize(&h, crate::auth::Permission::Query)
            .unwrap()
    }

    #[test]
    fn a_burst_is_cut_at_the_rate_and_other_tenants_go_on() {
        let l = Limiter::new(RateLimits {
            queries_per_sec: 5,
            token_requests_per_sec: 0,
            ..RateLimits::unlimited()
        });
        let (a, b) = (principal("a"), principal("b"));
        let ok = (0..20).filter(|_| l.query(&a).is_ok()).count();
        assert_eq!(ok, 5);
        match l.query(&a) {
            Err(ApiError::RateLimited {
                message,
                retry_after_secs,
            }) => {
                assert!(message.contains("queries_per_sec = 5"), "{message}");
                assert_eq!(retry_after_secs, 1);
            }
            other => panic!("expected a rate limit, got {:?}", other.err()),
        }
        assert!(l.query(&b).is_ok(), "tenant b has its own bucket");
    }

    #[test]
    fn concurrent_queries_are_capped_until_a_slot_frees() {
        let l = Limiter::new(RateLimits {
            max_concurrent_queries: 2,
            ..RateLimits::unlimited()
        });
        let a = principal("a");
        let s1 = l.query(&a).unwrap();
        let _s2 = l.query(&a).unwrap();
        assert!(l.query(&a).is_err());
        drop(s1);
        assert!(l.query(&a).is_ok());
    }

    #[test]
    fn full_buckets_are_forgotten_when_many() {
        let l = Limiter::new(RateLimits {
            token_requests_per_sec: 1000,
            ..RateLimits::unlimited()
        });
        for i in 0..PRUNE_AT + 10 {
            l.take(Kind::TokenRequests, &i.to_string(), 1.0, "token")
                .unwrap();
        }
        // Reaching the bound dropped every bucket that had refilled.
        let n = l.buckets.lock().unwrap().by_key.len();
        assert!(n < PRUNE_AT, "{n} buckets kept");
        // A token over its rate is still held to it after a prune.
        let l = Limiter::new(RateLimits {
            token_requests_per_sec: 2,
            ..RateLimits::unlimited()
        });
        for _ in 0..2 {
            l.take(Kind::TokenRequests, "busy", 1.0, "token").unwrap();
        }
        for i in 0..PRUNE_AT {
            let _ = l.take(Kind::TokenRequests, &i.to_string(), 1.0, "token");
        }
        assert!(l.take(Kind::TokenRequests, "busy", 1.0, "token").is_err());
    }

    #[test]
    fn many_active_buckets_are_scanned_at_most_once_a_second() {
        let l = Limiter::new(RateLimits {
            token_requests_per_sec: 1,
            ..RateLimits::unlimited()
        });
        // Each bucket is emptied and needs a second to refill: none can go.
        for i in 0..PRUNE_AT + 100 {
            l.take(Kind::TokenRequests, &i.to_string(), 1.0, "token")
                .unwrap();
        }
        let g = l.buckets.lock().unwrap();
        assert_eq!(
            g.by_key.len(),
            PRUNE_AT + 100,
            "an active bucket was dropped"
        );
        let first = g.pruned_at.expect("the bound was reached");
        drop(g);
        l.take(Kind::TokenRequests, "one more", 1.0, "token")
            .unwrap();
        let g = l.buckets.lock().unwrap();
        assert!(
            g.pruned_at == Some(first) || first.elapsed() >= PRUNE_EVERY,
            "scanned again within a second"
        );
    }

    #[test]
    fn a_large_body_passes_a_full_bucket_then_waits() {
        let l = Limiter::new(RateLimits {
            ingest_bytes_per_sec: 1000,
            ..RateLimits::unlimited()
        });
        let a = principal("a");
        assert!(l.ingest_bytes(&a, 5000).is_ok());
        assert!(l.ingest_bytes(&a, 10).is_err());
    }
}
