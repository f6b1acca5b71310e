//! JWT verification. Each configured key carries the algorithms it may be
//! used with (an HMAC secret: HS256; an RSA key: RS256; an EC P-256 key:
//! ES256), and a token is checked only against keys whose algorithms
//! include its header's, so `alg: none` and algorithm confusion (an RSA
//! public key taken as an HMAC secret) cannot pass.

use super::claims::Claims;
use super::revoked::{RevocationList, RevokedFileError};
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};

/// Key material and checks, as read from the configured files.
#[derive(Debug, Clone, Default)]
pub struct JwtConfig {
    /// HS256 shared secret (the built-in issuer of `flarego token create`).
    pub hs256_secret: Option<Vec<u8>>,
    /// An RS256 or ES256 public key, PEM.
    pub public_key_pem: Option<Vec<u8>>,
    /// A JWKS document (`{"keys": [...]}`).
    pub jwks_json: Option<String>,
    /// Required `iss`, when set.
    pub issuer: Option<String>,
    /// Required `aud`, when set.
    pub audience: Option<String>,
    /// Clock skew allowed on `exp` and `nbf`, seconds.
    pub leeway_secs: u64,
    /// A file of revoked `jti` values, read again when it changes.
    pub revoked_file: Option<std::path::PathBuf>,
}

/// Why the configuration is unusable.
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error(
        "auth is jwt but no key is configured: give an HS256 secret file, a public key or a JWKS file"
    )]
    NoKey,
    #[error("the HS256 secret is {0} bytes; use at least 32")]
    ShortSecret(usize),
    #[error("the public key is neither an RSA nor an EC P-256 PEM key: {0}")]
    PublicKey(String),
    #[error("the JWKS document: {0}")]
    Jwks(String),
    #[error(transparent)]
    Revoked(#[from] RevokedFileError),
}

struct Key {
    kid: Option<String>,
    key: DecodingKey,
    algorithms: Vec<Algorithm>,
}

/// Verified tokens kept, at most; the cache is emptied when full.
const CACHE_MAX: usize = 4096;

/// Checks tokens against the configured keys. A token that verified is
/// remembered (its exact bytes → claims), so an agent or dashboard
/// sending the same token again pays a hash lookup, not a signature check
/// (an RS256 check costs about as much as a small query); `exp` and `nbf`
/// are checked again on every use.
pub struct Verifier {
    keys: Vec<Key>,
    verified: std::sync::Mutex<std::collections::HashMap<String, Claims>>,
    issuer: Option<String>,
    audience: Option<String>,
    leeway_secs: u64,
    revoked: Option<RevocationList>,
}

impl Verifier {
    pub fn new(config: &JwtConfig) -> Result<Verifier, JwtConfigError> {
        let mut keys = Vec::new();
        if let Some(secret) = &config.hs256_secret {
            if secret.len() < 32 {
                return Err(JwtConfigError::ShortSecret(secret.len()));
            }
            keys.push(Key {
                kid: None,
                key: DecodingKey::from_secret(secret),
                algorithms: vec![Algorithm::HS256],
            });
        }
        if let Some(pem) = &config.public_key_pem {
            let key = match DecodingKey::from_rsa_pem(pem) {
                Ok(k) => Key {
                    kid: None,
                    key: k,
                    algorithms: vec![Algorithm::RS256],
                },
                Err(rsa) => match DecodingKey::from_ec_pem(pem) {
                    Ok(k) => Key {
                        kid: None,
                        key: k,
                        algorithms: vec![Algorithm::ES256],
                    },
                    Err(ec) => {
                        return Err(JwtConfigError::PublicKey(format!(
                            "as RSA: {rsa}; as EC: {ec}"
                        )));
                    }
                },
            };
            keys.push(key);
        }
        if let Some(json) = &config.jwks_json {
            let set: JwkSet =
                serde_json::from_str(json).map_err(|e| JwtConfigError::Jwks(e.to_string()))?;
            for jwk in &set.keys {
                let algorithms = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => vec![Algorithm::RS256],
                    AlgorithmParameters::EllipticCurve(_) => vec![Algorithm::ES256],
                    // Shared secrets and other key types do not belong in a
                    // public key set.
                    _ => continue,
                };
                let key =
                    DecodingKey::from_jwk(jwk).map_err(|e| JwtConfigError::Jwks(e.to_string()))?;
                keys.push(Key {
                    kid: jwk.common.key_id.clone(),
                    key,
                    algorithms,
                });
            }
        }
        if keys.is_empty() {
            return Err(JwtConfigError::NoKey);
        }
        let revoked = config
            .revoked_file
            .as_deref()
            .map(RevocationList::open)
            .transpose()?;
        Ok(Verifier {
            keys,
            verified: Default::default(),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            leeway_secs: config.leeway_secs,
            revoked,
        })
    }

    /// The token's claims, or why it is refused (for the log only).
    pub fn verify(&self, token: &str) -> Result<Claims, String> {
        let claims = self.verify_unrevoked(token)?;
        if let (Some(list), Some(jti)) = (&self.revoked, &claims.jti)
            && list.is_revoked(jti)
        {
            return Err(format!("token {jti:?} is revoked"));
        }
        Ok(claims)
    }

    /// Signature and times, from the cache when the token verified before.
    fn verify_unrevoked(&self, token: &str) -> Result<Claims, String> {
        let now = jsonwebtoken::get_current_timestamp();
        {
            let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(c) = cache.get(token) {
                let live = c.exp.saturating_add(self.leeway_secs) > now
                    && c.nbf
                        .is_none_or(|nbf| nbf <= now.saturating_add(self.leeway_secs));
                if live {
                    return Ok(c.clone());
                }
                cache.remove(token);
            }
        }
        let claims = self.verify_signature(token)?;
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.clear();
        }
        cache.insert(token.to_string(), claims.clone());
        Ok(claims)
    }

    fn verify_signature(&self, token: &str) -> Result<Claims, String> {
        let header = decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        let candidates: Vec<&Key> = self
            .keys
            .iter()
            .filter(|k| k.algorithms.contains(&header.alg))
            .filter(|k| match (&header.kid, &k.kid) {
                (Some(want), Some(have)) => want == have,
                _ => true,
            })
            .collect();
        if candidates.is_empty() {
            return Err(format!(
                "no configured key takes algorithm {:?}{}",
                header.alg,
                header
                    .kid
                    .as_deref()
                    .map(|k| format!(" with kid {k:?}"))
                    .unwrap_or_default()
            ));
        }
        let mut last = String::new();
        for k in candidates {
            let mut v = Validation::new(header.alg);
            v.algorithms = k.algorithms.clone();
            v.leeway = self.leeway_secs;
            v.validate_nbf = true;
            v.validate_exp = true;
            v.set_required_spec_claims(&["exp"]);
            match &self.issuer {
                Some(iss) => v.set_issuer(&[iss]),
                None => v.iss = None,
            }
            match &self.audience {
                Some(aud) => v.set_audience(&[aud]),
                None => v.validate_aud = false,
            }
            match decode::<Claims>(token, &k.key, &v) {
                Ok(data) => return Ok(data.claims),
                Err(e) => last = e.to_string(),
            }
        }
        Err(format!("token refused: {last}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const SECRET: &[u8] = b"a-unit-test-secret-long-enough-for-hs256";

    fn token(exp: u64) -> String {
        token_with_id(exp, None)
    }

    fn token_with_id(exp: u64, jti: Option<&str>) -> String {
        let claims = Claims {
            tenant: "t".into(),
            role: Role::Reader,
            scope: None,
            exp,
            nbf: None,
            iat: None,
            iss: None,
            aud: None,
            sub: None,
            jti: jti.map(str::to_string),
        };
        encode(
            &Header::default(),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap()
    }

    #[test]
    fn a_remembered_token_still_expires() {
        let v = Verifier::new(&JwtConfig {
            hs256_secret: Some(SECRET.to_vec()),
            leeway_secs: 0,
            ..Default::default()
        })
        .unwrap();
        let t = token(jsonwebtoken::get_current_timestamp() + 1);
        assert!(v.verify(&t).is_ok());
        assert!(v.verify(&t).is_ok(), "second use, from the cache");
        std::thread::sleep(std::time::Duration::from_millis(2100));
        let e = v.verify(&t).unwrap_err();
        assert!(e.contains("ExpiredSignature"), "{e}");
        // A tampered copy of a remembered token is checked, not looked up.
        let good = token(jsonwebtoken::get_current_timestamp() + 600);
        assert!(v.verify(&good).is_ok());
        let mut bad = good.clone();
        bad.pop();
        assert!(v.verify(&bad).is_err());
    }

    #[test]
    fn a_revoked_id_is_refused_even_when_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("revoked");
        std::fs::write(&file, "someone-elses\n").unwrap();
        let v = Verifier::new(&JwtConfig {
            hs256_secret: Some(SECRET.to_vec()),
            revoked_file: Some(file.clone()),
            ..Default::default()
        })
        .unwrap();
        let exp = jsonwebtoken::get_current_timestamp() + 600;
        let (leaked, kept) = (
            token_with_id(exp, Some("leaked-1")),
            token_with_id(exp, Some("kept-2")),
        );
        assert!(v.verify(&leaked).is_ok(), "not revoked yet, and now cached");
        std::thread::sleep(crate::auth::revoked::RECHECK + std::time::Duration::from_millis(50));
        std::fs::write(&file, "someone-elses\nleaked-1\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            .unwrap();
        let e = v.verify(&leaked).unwrap_err();
        assert!(e.contains("revoked"), "{e}");
        assert!(v.verify(&kept).is_ok());
        // A missing file at start is a configuration error.
        let e = Verifier::new(&JwtConfig {
            hs256_secret: Some(SECRET.to_vec()),
            revoked_file: Some(dir.path().join("absent")),
            ..Default::default()
        })
        .err()
        .unwrap();
        assert!(e.to_string().contains("absent"), "{e}");
    }
}
