//! Opening the cold tier's object store: a local directory, S3 (or an
//! S3-compatible server) or Google Cloud Storage, chosen by URL.
//!
//! ```text
//! file:///path | s3://bucket[/prefix] | gs://bucket[/prefix] | memory://
//!     ──▶ object_store builder (credentials from the environment, then
//!         the flags in StoreOptions) with a per-request timeout and
//!         retries (exponential backoff with jitter)
//!     ──▶ PrefixStore when the URL has a path
//!     ──▶ probe(): one LIST at start, so a wrong bucket, endpoint or
//!         credentials fail at once with one line
//! ```

use crate::config::{ColdStoreConfig, StorageConfig};
use crate::error::{Error, Result};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig};
use std::sync::Arc;
use std::time::Duration;

/// How requests to a remote store are made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// One request (a GET, PUT or LIST) may take this long. Default 30 s.
    pub request_timeout: Duration,
    /// Connecting may take this long. Default 5 s.
    pub connect_timeout: Duration,
    /// A failed request is retried this many times. Default 5.
    pub max_retries: usize,
    /// No retry starts after this long from the first attempt. Default 60 s.
    pub retry_timeout: Duration,
    /// S3 endpoint (MinIO, moto, …); otherwise `AWS_ENDPOINT` or AWS.
    pub s3_endpoint: Option<String>,
    /// S3 region; otherwise `AWS_REGION` or `us-east-1`.
    pub s3_region: Option<String>,
    /// S3 credentials; otherwise `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY` (or the instance's role).
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    /// Allow plain HTTP to the endpoint (also `AWS_ALLOW_HTTP`).
    pub allow_http: bool,
    /// Path of a GCS service account JSON (also `GOOGLE_SERVICE_ACCOUNT`).
    pub gcs_service_account: Option<String>,
    /// GCS base URL, for an emulator (also `GOOGLE_BASE_URL`).
    pub gcs_base_url: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            max_retries: 5,
            retry_timeout: Duration::from_secs(60),
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            allow_http: false,
            gcs_service_account: None,
            gcs_base_url: None,
        }
    }
}

/// A store URL split into its scheme, bucket and prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Local(std::path::PathBuf),
    S3 { bucket: String, prefix: String },
    Gcs { bucket: String, prefix: String },
    Memory,
}

impl StoreUrl {
    /// Parses `file:///path`, `s3://bucket/prefix`, `gs://bucket/prefix`
    /// or `memory://`; the error names what was wrong.
    pub fn parse(url: &str) -> std::result::Result<StoreUrl, String> {
        let (scheme, rest) = url.split_once("://").ok_or_else(|| {
            format!("object store URL {url:?} has no scheme (file://, s3://, gs://)")
        })?;
        let bucket_and_prefix = |rest: &str| {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(format!("object store URL {url:?} names no bucket"));
            }
            Ok((bucket.to_string(), prefix.trim_matches('/').to_string()))
        };
        match scheme {
            "file" => {
                if !rest.starts_with('/') {
                    return Err(format!(
                        "object store URL {url:?}: a file URL needs an absolute path (file:///path)"
                    ));
                }
                Ok(StoreUrl::Local(rest.into()))
            }
            "s3" | "s3a" => {
                let (bucket, prefix) = bucket_and_prefix(rest)?;
                Ok(StoreUrl::S3 { bucket, prefix })
            }
            "gs" => {
                let (bucket, prefix) = bucket_and_prefix(rest)?;
                Ok(StoreUrl::Gcs { bucket, prefix })
            }
            "memory" => Ok(StoreUrl::Memory),
            other => Err(format!(
                "object store URL {url:?}: scheme {other:?} is not one of file, s3, gs, memory"
            )),
        }
    }

    /// The cold-store configuration `url` stands for; the error names
    /// what was wrong with it.
    pub fn config_of(url: &str) -> std::result::Result<ColdStoreConfig, String> {
        Ok(match StoreUrl::parse(url)? {
            StoreUrl::Local(p) => ColdStoreConfig::LocalDir(Some(p)),
            StoreUrl::Memory => ColdStoreConfig::InMemory,
            StoreUrl::S3 { .. } | StoreUrl::Gcs { .. } => ColdStoreConfig::Remote(url.to_string()),
        })
    }
}

/// Builds the object store of `config`.
pub fn open(config: &StorageConfig) -> Result<Arc<dyn ObjectStore>> {
    open_with(config, &config.store)
}

fn open_with(config: &StorageConfig, o: &StoreOptions) -> Result<Arc<dyn ObjectStore>> {
    let bad = |url: &str, reason: String| Error::StoreConfig {
        url: url.to_string(),
        reason,
    };
    Ok(match &config.cold {
        ColdStoreConfig::InMemory => Arc::new(object_store::memory::InMemory::new()),
        ColdStoreConfig::LocalDir(dir) => {
            let dir = dir
                .clone()
                .unwrap_or_else(|| config.data_dir.join("parquet"));
            std::fs::create_dir_all(&dir).map_err(|source| Error::DataDir {
                path: dir.clone(),
                source,
            })?;
            Arc::new(
                object_store::local::LocalFileSystem::new_with_prefix(&dir).map_err(|source| {
                    Error::ObjectStore {
                        path: dir.display().to_string(),
                        source,
                    }
                })?,
            )
        }
        ColdStoreConfig::Remote(url) => {
            // Set key by key: the environment's client settings (proxy,
            // AWS_ALLOW_HTTP, …) stay, where a whole ClientOptions would
            // replace them.
            let mut client: Vec<(ClientConfigKey, String)> = vec![
                (ClientConfigKey::Timeout, secs(o.request_timeout)),
                (ClientConfigKey::ConnectTimeout, secs(o.connect_timeout)),
            ];
            if o.allow_http {
                client.push((ClientConfigKey::AllowHttp, "true".into()));
            }
            let retry = RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(10),
                    base: 2.0,
                },
                max_retries: o.max_retries,
                retry_timeout: o.retry_timeout,
            };
            match StoreUrl::parse(url).map_err(|r| bad(url, r))? {
                StoreUrl::S3 { bucket, prefix } => {
                    let mut b = AmazonS3Builder::from_env()
                        .with_bucket_name(&bucket)
                        .with_retry(retry)
                        .with_virtual_hosted_style_request(false);
                    for (k, v) in &client {
                        b = b.with_config(AmazonS3ConfigKey::Client(*k), v);
                    }
                    if let Some(e) = &o.s3_endpoint {
                        b = b.with_endpoint(e);
                    }
                    if let Some(r) = &o.s3_region {
                        b = b.with_region(r);
                    }
                    if let Some(k) = &o.s3_access_key_id {
                        b = b.with_access_key_id(k);
                    }
                    if let Some(k) = &o.s3_secret_access_key {
                        b = b.with_secret_access_key(k);
                    }
                    if o.allow_http {
                        b = b.with_allow_http(true);
                    }
                    let s3 = b.build().map_err(|e| bad(url, e.to_string()))?;
                    with_prefix(s3, &prefix)
                }
                StoreUrl::Gcs { bucket, prefix } => {
                    let mut b = GoogleCloudStorageBuilder::from_env()
                        .with_bucket_name(&bucket)
                        .with_retry(retry);
                    for (k, v) in &client {
                        b = b.with_config(GoogleConfigKey::Client(*k), v);
                    }
                    if let Some(p) = &o.gcs_service_account {
                        b = b.with_service_account_path(p);
                    }
                    if let Some(u) = &o.gcs_base_url {
                        b = b.with_base_url(u);
                    }
                    let gcs = b.build().map_err(|e| bad(url, e.to_string()))?;
                    with_prefix(gcs, &prefix)
                }
                StoreUrl::Local(_) | StoreUrl::Memory => {
                    return Err(bad(url, "not a remote store URL".into()));
                }
            }
        }
    })
}

/// A duration as the builders' configuration reads it.
fn secs(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn with_prefix<S: ObjectStore>(store: S, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

/// Checks at start that the store answers: one LIST, without retries, so
/// a wrong bucket, endpoint or credentials fail at once, in one line.
pub async fn probe(config: &StorageConfig) -> Result<()> {
    let ColdStoreConfig::Remote(url) = &config.cold else {
        return Ok(());
    };
    let once = StoreOptions {
        max_retries: 0,
        ..config.store.clone()
    };
    let store = open_with(config, &once)?;
    store
        .list_with_delimiter(Some(&Path::from("_manifest")))
        .await
        .map(|_| ())
        .map_err(|e| Error::StoreUnreachable {
            url: url.clone(),
            reason: one_line(&e),
        })
}

/// The numbers `n` of the objects `<dir>/<n>.json`, ascending (the
/// manifest log and the format records are named so).
pub async fn numbered_json(store: &dyn ObjectStore, dir: &Path) -> Result<Vec<u64>> {
    use futures::TryStreamExt;
    let objects: Vec<_> = store
        .list(Some(dir))
        .try_collect()
        .await
        .map_err(|source| Error::ObjectStore {
            path: dir.to_string(),
            source,
        })?;
    let mut numbers: Vec<u64> = objects
        .iter()
        .filter_map(|o| o.location.filename()?.strip_suffix(".json")?.parse().ok())
        .collect();
    numbers.sort_unstable();
    Ok(numbers)
}

/// An object-store error as one line: its chain of causes, joined.
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.contains(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    out.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_and_bad_ones_say_why() {
        assert_eq!(
            StoreUrl::parse("s3://bkt/a/b/").unwrap(),
            StoreUrl::S3 {
                bucket: "bkt".into(),
                prefix: "a/b".into()
            }
        );
        assert_eq!(
            StoreUrl::parse("gs://bkt").unwrap(),
            StoreUrl::Gcs {
                bucket: "bkt".into(),
                prefix: String::new()
            }
        );
        assert_eq!(
            StoreUrl::parse("file:///var/lib/x").unwrap(),
            StoreUrl::Local("/var/lib/x".into())
        );
        assert!(StoreUrl::parse("s3://").unwrap_err().contains("no bucket"));
        assert!(StoreUrl::parse("ftp://x").unwrap_err().contains("\"ftp\""));
        assert!(StoreUrl::parse("bucket").unwrap_err().contains("no scheme"));
        assert!(
            StoreUrl::parse("file://rel")
                .unwrap_err()
                .contains("absolute")
        );
    }
}
