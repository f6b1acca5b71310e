//! Flags of `flarego server` about authentication.

use super::layered;
use crate::config_file::ServerFile;
use anyhow::{Context, bail};
use clap::Args;
use flarego_ingest::auth::{AuthConfig, JwtConfig, Verifier};
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct AuthArgs {
    /// `none` (loopback only) or `jwt` [default: none].
    #[arg(long, env = "FLAREGO_AUTH")]
    auth: Option<String>,
    /// HS256 secret (at least 32 bytes), the key `flarego token create` signs with.
    #[arg(long, env = "FLAREGO_JWT_HS256_SECRET_FILE")]
    jwt_hs256_secret_file: Option<PathBuf>,
    /// RS256 or ES256 public key, PEM.
    #[arg(long, env = "FLAREGO_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<PathBuf>,
    /// JWKS file (`{"keys": [...]}`) of RS256/ES256 public keys.
    #[arg(long, env = "FLAREGO_JWKS_FILE")]
    jwks_file: Option<PathBuf>,
    /// File of revoked token ids (`jti`), one per line; read again when it
    /// changes.
    #[arg(long, env = "FLAREGO_JWT_REVOKED_FILE")]
    jwt_revoked_file: Option<PathBuf>,
    /// Required `iss` claim [default: none].
    #[arg(long, env = "FLAREGO_JWT_ISSUER")]
    jwt_issuer: Option<String>,
    /// Required `aud` claim [default: none].
    #[arg(long, env = "FLAREGO_JWT_AUDIENCE")]
    jwt_audience: Option<String>,
    /// Clock skew allowed on exp and nbf [default: 60s].
    #[arg(long, env = "FLAREGO_JWT_LEEWAY")]
    jwt_leeway: Option<String>,
}

impl AuthArgs {
    /// `--auth` and the key files.
    pub fn resolve(&self, file: &ServerFile) -> anyhow::Result<AuthConfig> {
        let mode = layered(self.auth.clone(), &file.auth).unwrap_or_else(|| "none".into());
        let read = |flag: &str,
                    p: &Option<PathBuf>,
                    f: &Option<String>|
         -> anyhow::Result<Option<Vec<u8>>> {
            match p.clone().or(f.clone().map(PathBuf::from)) {
                None => Ok(None),
                Some(path) => std::fs::read(&path)
                    .map(Some)
                    .with_context(|| format!("--{flag} {}", path.display())),
            }
        };
        match mode.as_str() {
            "none" => Ok(AuthConfig::None),
            "jwt" => {
                let secret = read(
                    "jwt-hs256-secret-file",
                    &self.jwt_hs256_secret_file,
                    &file.jwt_hs256_secret_file,
                )?;
                let jwt = JwtConfig {
                    hs256_secret: secret.map(|s| trim_secret(&s)),
                    public_key_pem: read(
                        "jwt-public-key",
                        &self.jwt_public_key,
                        &file.jwt_public_key,
                    )?,
                    jwks_json: read("jwks-file", &self.jwks_file, &file.jwks_file)?
                        .map(|b| String::from_utf8_lossy(&b).into_owned()),
                    issuer: layered(self.jwt_issuer.clone(), &file.jwt_issuer),
                    audience: layered(self.jwt_audience.clone(), &file.jwt_audience),
                    leeway_secs: match layered(self.jwt_leeway.clone(), &file.jwt_leeway) {
                        Some(v) => humantime::parse_duration(&v)
                            .with_context(|| format!("--jwt-leeway {v:?}"))?
                            .as_secs(),
                        None => 60,
                    },
                    revoked_file: self
                        .jwt_revoked_file
                        .clone()
                        .or(file.jwt_revoked_file.clone().map(PathBuf::from)),
                };
                let verifier = Verifier::new(&jwt).context("--auth jwt")?;
                Ok(AuthConfig::Jwt(std::sync::Arc::new(verifier)))
            }
            other => bail!("--auth {other:?}: use none or jwt"),
        }
    }
}

/// A secret file's bytes without a trailing newline (editors add one).
pub fn trim_secret(s: &[u8]) -> Vec<u8> {
    let mut v = s.to_vec();
    while v.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        v.pop();
    }
    v
}
