//! Keys and tokens for the security tests: an HS256 secret file, an RSA
//! key pair made with `openssl`, and tokens signed any way a test needs
//! (good, expired, wrong key, `alg: none`, …).

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flarego_ingest::auth::{Claims, Role};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

/// Key files in a directory: `hs256.secret`, `rsa.pem` (private), `rsa.pub.pem`.
pub struct Keys {
    pub dir: PathBuf,
}

impl Keys {
    pub fn create(dir: &Path) -> anyhow::Result<Keys> {
        std::fs::write(dir.join("hs256.secret"), format!("{SECRET}\n"))?;
        let openssl = |args: &[&str]| -> anyhow::Result<()> {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(dir)
                .output()
                .context("running openssl (apt-get install openssl; scripts/test.sh does)")?;
            if !out.status.success() {
                bail!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
            }
            Ok(())
        };
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "rsa.pem",
        ])?;
        openssl(&["pkey", "-in", "rsa.pem", "-pubout", "-out", "rsa.pub.pem"])?;
        Ok(Keys {
            dir: dir.to_path_buf(),
        })
    }

    pub fn secret_file(&self) -> PathBuf {
        self.dir.join("hs256.secret")
    }

    pub fn public_key_file(&self) -> PathBuf {
        self.dir.join("rsa.pub.pem")
    }

    pub fn rsa_private_pem(&self) -> Vec<u8> {
        std::fs::read(self.dir.join("rsa.pem")).unwrap_or_default()
    }

    pub fn rsa_public_pem(&self) -> Vec<u8> {
        std::fs::read(self.public_key_file()).unwrap_or_default()
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Claims valid for an hour.
pub fn claims(tenant: &str, role: Role) -> Claims {
    Claims {
        tenant: tenant.into(),
        role,
        scope: None,
        exp: now() + 3600,
        nbf: Some(now()),
        iat: Some(now()),
        iss: Some("flarego-test".into()),
        aud: Some("flarego".into()),
        sub: None,
        jti: None,
    }
}

pub fn hs256(claims: &Claims, secret: &[u8]) -> String {
    encode(
        &Header::new(Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(secret),
    )
    .unwrap_or_default()
}

pub fn rs256(claims: &Claims, private_pem: &[u8]) -> String {
    let key = EncodingKey::from_rsa_pem(private_pem).expect("RSA private key");
    encode(&Header::new(Algorithm::RS256), claims, &key).unwrap_or_default()
}

/// An unsigned token (`alg: none`).
pub fn alg_none(claims: &Claims) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    format!("{h}.{c}.")
}
