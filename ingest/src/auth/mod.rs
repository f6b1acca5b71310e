//! Who is calling, and what they may do.
//!
//! ```text
//! Authorization: Bearer <JWT>  (HTTP, WebSocket upgrade, gRPC metadata)
//!   └─ Verifier (jwt.rs): the key for the header's kid/alg, fixed algorithms
//!      per key, exp/nbf with leeway, iss, aud, jti not in the revoked
//!      file (revoked.rs) ──▶ Claims { tenant, role, scope }
//!   └─ Principal { tenant, role, permissions (role ∩ scope) }
//! authorize(need) ──▶ 401 (no or bad token; reason logged, not returned)
//!                 ──▶ 403 (the role or scope lacks `need`)
//! ```
//!
//! With auth off (loopback only) the tenant comes from `X-Scope-OrgID`, as
//! Pyroscope clients send it, and every permission is granted.

pub mod claims;
pub mod jwt;
pub mod revoked;

pub use claims::{Claims, Permission, Role};
pub use jwt::{JwtConfig, Verifier};

use crate::error::ApiError;
use crate::state::{tenant_from_headers, valid_tenant};
use axum::http::HeaderMap;
use flarego_storage::TenantId;

/// How callers are authenticated.
#[derive(Clone, Default)]
pub enum AuthConfig {
    /// Everyone may do everything (the server binds loopback only).
    #[default]
    None,
    Jwt(std::sync::Arc<Verifier>),
}

impl std::fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthConfig::None => f.write_str("None"),
            AuthConfig::Jwt(_) => f.write_str("Jwt"),
        }
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The tenant every write is stamped with and every read is limited to
    /// (an admin may name another with `X-Scope-OrgID`).
    pub tenant: TenantId,
    pub role: Option<Role>,
    permissions: Vec<Permission>,
    /// Admins (and everyone when auth is off) may read every tenant.
    pub all_tenants: bool,
    /// Identifies the token for per-token rate limits (`anonymous` without auth).
    pub token_id: String,
}

impl Principal {
    pub fn may(&self, p: Permission) -> bool {
        self.permissions.contains(&p)
    }

    /// The tenant a read is limited to: `None` reads all tenants (only
    /// for admins and with auth off, and only when no tenant is named).
    pub fn read_scope(&self, headers: &HeaderMap) -> Result<Option<TenantId>, ApiError> {
        if !self.all_tenants {
            return Ok(Some(self.tenant.clone()));
        }
        tenant_from_headers(headers)
    }
}

impl AuthConfig {
    pub fn is_on(&self) -> bool {
        matches!(self, AuthConfig::Jwt(_))
    }

    /// Authenticates the caller and checks that it may do `need`.
    pub fn authorize(&self, headers: &HeaderMap, need: Permission) -> Result<Principal, ApiError> {
        let principal = match self {
            AuthConfig::None => {
                let tenant = tenant_from_headers(headers)?.unwrap_or_else(TenantId::default_tenant);
                Principal {
                    tenant,
                    role: None,
                    permissions: Permission::ALL.to_vec(),
                    all_tenants: true,
                    token_id: "anonymous".into(),
                }
            }
            AuthConfig::Jwt(verifier) => {
                let token = bearer(headers).map_err(|reason| {
                    tracing::warn!(%reason, "request refused: unauthenticated");
                    ApiError::Unauthorized
                })?;
                let claims = verifier.verify(token).map_err(|reason| {
                    tracing::warn!(%reason, "request refused: bad token");
                    ApiError::Unauthorized
                })?;
                principal_of(claims, token)?
            }
        };
        if !principal.may(need) {
            tracing::warn!(
                tenant = %principal.tenant,
                role = ?principal.role,
                need = need.as_str(),
                "request refused: not permitted"
            );
            return Err(ApiError::Forbidden(format!(
                "this token may not {}",
                need.as_str()
            )));
        }
        Ok(principal)
    }
}

fn principal_of(claims: Claims, token: &str) -> Result<Principal, ApiError> {
    if !valid_tenant(&claims.tenant) {
        tracing::warn!(tenant = %claims.tenant, "request refused: token names an invalid tenant");
        return Err(ApiError::Unauthorized);
    }
    let permissions = claims.permissions();
    Ok(Principal {
        tenant: TenantId(claims.tenant.clone()),
        role: Some(claims.role),
        all_tenants: claims.role == Role::Admin,
        permissions,
        token_id: claims
            .jti
            .clone()
            .unwrap_or_else(|| format!("{:016x}", xxhash_rust::xxh3::xxh3_64(token.as_bytes()))),
    })
}

/// The token of `Authorization: Bearer <token>`.
pub fn bearer(headers: &HeaderMap) -> Result<&str, &'static str> {
    let Some(v) = headers.get(axum::http::header::AUTHORIZATION) else {
        return websocket_bearer(headers).ok_or("no Authorization header");
    };
    let v = v
        .to_str()
        .map_err(|_| "Authorization header is not ASCII")?;
    let token = v
        .strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .ok_or("Authorization is not a Bearer token")?
        .trim();
    if token.is_empty() {
        return Err("empty bearer token");
    }
    Ok(token)
}

/// Browsers cannot set headers on a WebSocket, so a page sends its token
/// as a subprotocol `bearer.<token>` beside the real one (the server
/// answers with the real one only, never echoing the token).
fn websocket_bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix("bearer."))
        .filter(|t| !t.is_empty())
}
