//! What a FlareGo token says: tenant, role, optional scope, and the
//! registered claims (`exp`, `nbf`, `iat`, `iss`, `aud`, `jti`).

use serde::{Deserialize, Serialize};

/// What a role may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Ingest only.
    Agent,
    /// Query, export, subscribe.
    Reader,
    /// Everything, on every tenant.
    Admin,
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "agent" => Ok(Role::Agent),
            "reader" => Ok(Role::Reader),
            "admin" => Ok(Role::Admin),
            _ => Err(format!("unknown role {s:?}: use agent, reader or admin")),
        }
    }
}

/// One thing a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Permission {
    Ingest,
    Query,
    Export,
    Subscribe,
    Flush,
    Import,
    Alerts,
    Metrics,
}

impl Permission {
    pub const ALL: [Permission; 8] = [
        Permission::Ingest,
        Permission::Query,
        Permission::Export,
        Permission::Subscribe,
        Permission::Flush,
        Permission::Import,
        Permission::Alerts,
        Permission::Metrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Ingest => "ingest",
            Permission::Query => "query",
            Permission::Export => "export",
            Permission::Subscribe => "subscribe",
            Permission::Flush => "flush",
            Permission::Import => "import",
            Permission::Alerts => "alerts",
            Permission::Metrics => "metrics",
        }
    }

    pub fn parse(s: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

impl Role {
    pub fn permissions(self) -> &'static [Permission] {
        match self {
            Role::Agent => &[Permission::Ingest],
            Role::Reader => &[Permission::Query, Permission::Export, Permission::Subscribe],
            Role::Admin => &Permission::ALL,
        }
    }
}

/// The claims of a FlareGo token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub tenant: String,
    pub role: Role,
    /// Narrows the role: only these permissions (space-separated, as
    /// OAuth scopes are). Absent: all of the role's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
}

impl Claims {
    /// The role's permissions, narrowed by the scope if there is one.
    pub fn permissions(&self) -> Vec<Permission> {
        let role = self.role.permissions();
        match &self.scope {
            None => role.to_vec(),
            Some(scope) => scope
                .split_whitespace()
                .filter_map(Permission::parse)
                .filter(|p| role.contains(p))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: Role, scope: Option<&str>) -> Claims {
        Claims {
            tenant: "acme".into(),
            role,
            scope: scope.map(str::to_string),
            exp: 0,
            nbf: None,
            iat: None,
            iss: None,
            aud: None,
            sub: None,
            jti: None,
        }
    }

    #[test]
    fn scope_narrows_but_never_widens_a_role() {
        assert_eq!(
            claims(Role::Agent, None).permissions(),
            [Permission::Ingest]
        );
        assert_eq!(
            claims(Role::Reader, Some("query flush")).permissions(),
            [Permission::Query],
            "a reader's scope cannot add flush"
        );
        assert_eq!(
            claims(Role::Admin, Some("flush")).permissions(),
            [Permission::Flush]
        );
    }
}
