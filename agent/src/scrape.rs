//! Scraping a Go service's `net/http/pprof` and expvar endpoints.

use crate::goroutines::{self, Goroutine};
use crate::memstats::MemStats;
use flarego_proto::pprof::Profile;
use prost::Message;
use std::io::Read;
use std::time::Duration;

/// Why a scrape failed; names the endpoint.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    #[error("GET {url}: {reason}")]
    Http { url: String, reason: String },
    #[error("{url}: {reason}")]
    Decode { url: String, reason: String },
}

/// Scrapes one Go service, e.g. `http://127.0.0.1:6060`.
#[derive(Debug, Clone)]
pub struct Scraper {
    base: String,
    client: reqwest::Client,
    /// Largest body accepted (after gzip), in bytes.
    max_body: usize,
}

impl Scraper {
    pub fn new(base: &str, timeout: Duration, max_body: usize) -> Result<Self, ScrapeError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ScrapeError::Http {
                url: base.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Scraper {
            base: base.trim_end_matches('/').to_string(),
            client,
            max_body,
        })
    }

    async fn get(&self, path: &str) -> Result<(String, Vec<u8>), ScrapeError> {
        let url = format!("{}{path}", self.base);
        let http = |reason: String| ScrapeError::Http {
            url: url.clone(),
            reason,
        };
        let r = self
            .client
            .get(&url)
            .send()
            .await
            .map_err(|e| http(e.to_string()))?;
        if !r.status().is_success() {
            return Err(http(format!("status {}", r.status())));
        }
        let body = r.bytes().await.map_err(|e| http(e.to_string()))?;
        if body.len() > self.max_body {
            return Err(http(format!(
                "body of {} bytes is over {} bytes",
                body.len(),
                self.max_body
            )));
        }
        Ok((url, body.to_vec()))
    }

    /// `/debug/pprof/goroutine?debug=2`, parsed.
    pub async fn goroutines(&self) -> Result<Vec<Goroutine>, ScrapeError> {
        let (url, body) = self.get("/debug/pprof/goroutine?debug=2").await?;
        let text = String::from_utf8_lossy(&body);
        goroutines::parse(&text).map_err(|e| ScrapeError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    /// `/debug/vars` memstats.
    pub async fn memstats(&self) -> Result<MemStats, ScrapeError> {
        let (url, body) = self.get("/debug/vars").await?;
        MemStats::parse(&body).map_err(|e| ScrapeError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    /// A pprof endpoint (`heap`, `allocs`, `block`, `mutex`, or
    /// `profile?seconds=N` for CPU), decoded.
    pub async fn profile(&self, endpoint: &str) -> Result<Profile, ScrapeError> {
        let (url, body) = self.get(&format!("/debug/pprof/{endpoint}")).await?;
        let decode = |reason: String| ScrapeError::Decode {
            url: url.clone(),
            reason,
        };
        let raw = if body.starts_with(&[0x1f, 0x8b]) {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(body.as_slice())
                .take((self.max_body as u64).saturating_add(1))
                .read_to_end(&mut out)
                .map_err(|e| decode(format!("gzip: {e}")))?;
            if out.len() > self.max_body {
                return Err(decode(format!("inflates past {} bytes", self.max_body)));
            }
            out
        } else {
            body
        };
        Profile::decode(raw.as_slice()).map_err(|e| decode(format!("pprof: {e}")))
    }
}
