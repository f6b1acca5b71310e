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

/// Runs `openssl ARGS` in `dir`.
fn openssl(dir: &Path, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("running openssl (apt-get install openssl; scripts/test.sh does)")?;
    if !out.status.success() {
        bail!("openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(())
}

pub const SECRET: &str = "a-test-secret-that-is-long-enough-for-hs256";

/// Key files in a directory: `hs256.secret`, `rsa.pem` (private), `rsa.pub.pem`.
pub struct Keys {
    pub dir: PathBuf,
}

impl Keys {
    pub fn create(dir: &Path) -> anyhow::Result<Keys> {
        std::fs::write(dir.join("hs256.secret"), format!("{SECRET}\n"))?;
        let openssl = |args: &[&str]| openssl(dir, args);
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

    /// Server flags for JWT auth with the HS256 secret, the issuer and
    /// audience [`claims`] sets.
    pub fn hs256_server_flags(&self) -> Vec<String> {
        [
            "--auth",
            "jwt",
            "--jwt-hs256-secret-file",
            &self.secret_file().display().to_string(),
            "--jwt-issuer",
            "flarego-test",
            "--jwt-audience",
            "flarego",
        ]
        .map(String::from)
        .to_vec()
    }

    pub fn secret_file(&self) -> PathBuf {
        self.dir.join("hs256.secret")
    }

    pub fn public_key_file(&self) -> PathBuf {
        self.dir.join("rsa.pub.pem")
    }

    pub fn rsa_private_pem(&self) -> anyhow::Result<Vec<u8>> {
        Ok(std::fs::read(self.dir.join("rsa.pem"))?)
    }

    pub fn rsa_public_pem(&self) -> anyhow::Result<Vec<u8>> {
        Ok(std::fs::read(self.public_key_file())?)
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

pub fn hs256(claims: &Claims, secret: &[u8]) -> anyhow::Result<String> {
    let key = EncodingKey::from_secret(secret);
    Ok(encode(&Header::new(Algorithm::HS256), claims, &key)?)
}

pub fn rs256(claims: &Claims, private_pem: &[u8]) -> anyhow::Result<String> {
    let key = EncodingKey::from_rsa_pem(private_pem)?;
    Ok(encode(&Header::new(Algorithm::RS256), claims, &key)?)
}

/// An unsigned token (`alg: none`).
pub fn alg_none(claims: &Claims) -> String {
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let c = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    format!("{h}.{c}.")
}

/// A test PKI made with `openssl`: a CA, a server certificate for
/// 127.0.0.1 and a client certificate it signed, and an unrelated CA.
pub struct Pki {
    pub dir: PathBuf,
}

impl Pki {
    pub fn create(dir: &Path) -> anyhow::Result<Pki> {
        let run = |args: &[&str]| openssl(dir, args);
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "wrong-ca"] {
            let mut a = vec!["req", "-x509"];
            a.extend_from_slice(&ec);
            let (key, pem, subj) = (
                format!("{ca}.key"),
                format!("{ca}.pem"),
                format!("/CN=flarego {ca}"),
            );
            a.extend_from_slice(&["-keyout", &key, "-out", &pem, "-days", "2", "-subj", &subj]);
            a.extend_from_slice(&["-addext", "basicConstraints=critical,CA:TRUE"]);
            a.extend_from_slice(&["-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
            run(&a)?;
        }
        for (name, ext) in [
            (
                "server",
                "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
            ),
            (
                "client",
                "subjectAltName=DNS:agent\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
            ),
        ] {
            std::fs::write(dir.join(format!("{name}.ext")), ext)?;
            let (key, csr, pem, extf) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
                format!("{name}.ext"),
            );
            let subj = format!("/CN={name}");
            let mut a = vec!["req"];
            a.extend_from_slice(&ec);
            a.extend_from_slice(&["-keyout", &key, "-out", &csr, "-subj", &subj]);
            run(&a)?;
            run(&[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &extf,
            ])?;
        }
        Ok(Pki {
            dir: dir.to_path_buf(),
        })
    }

    /// Path of `name` (`ca.pem`, `server.key`, …) as a string.
    pub fn path(&self, name: &str) -> String {
        self.dir.join(name).to_string_lossy().into_owned()
    }
}
