//! `flarego token create`: mints a token for the built-in HS256 issuer.
//! The token is printed alone on the last line of stdout.

use crate::server_cmd::trim_secret;
use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use flarego_ingest::auth::{Claims, Permission, Role};
use jsonwebtoken::{EncodingKey, Header, encode};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum TokenCmd {
    /// Mint a token: tenant, role, lifetime, optional scope.
    Create(CreateArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Tenant every request of the token acts for.
    #[arg(long)]
    tenant: String,
    /// agent (ingest), reader (query, export, subscribe) or admin (all, every tenant).
    #[arg(long)]
    role: String,
    /// Lifetime, e.g. 30d or 12h.
    #[arg(long, default_value = "30d")]
    ttl: String,
    /// Narrow the role to these permissions (space- or comma-separated):
    /// ingest, query, export, subscribe, flush, import, alerts, metrics.
    #[arg(long)]
    scope: Option<String>,
    /// The secret the server verifies with (`--jwt-hs256-secret-file`).
    #[arg(long, env = "FLAREGO_JWT_HS256_SECRET_FILE")]
    jwt_hs256_secret_file: PathBuf,
    /// `iss` claim [default: none].
    #[arg(long, env = "FLAREGO_JWT_ISSUER")]
    issuer: Option<String>,
    /// `aud` claim [default: none].
    #[arg(long, env = "FLAREGO_JWT_AUDIENCE")]
    audience: Option<String>,
    /// `sub` claim, e.g. who the token is for.
    #[arg(long)]
    subject: Option<String>,
}

pub fn run(cmd: TokenCmd) -> anyhow::Result<()> {
    let TokenCmd::Create(a) = cmd;
    let role: Role = a
        .role
        .parse()
        .map_err(|e: String| anyhow::anyhow!("--role: {e}"))?;
    if !flarego_ingest::state::valid_tenant(&a.tenant) {
        bail!(
            "--tenant {:?}: use 1-128 characters of [A-Za-z0-9_.-]",
            a.tenant
        );
    }
    let scope = match &a.scope {
        None => None,
        Some(s) => {
            let parts: Vec<&str> = s.split([' ', ',']).filter(|p| !p.is_empty()).collect();
            for p in &parts {
                if Permission::parse(p).is_none() {
                    bail!("--scope: unknown permission {p:?}");
                }
            }
            Some(parts.join(" "))
        }
    };
    let ttl = humantime::parse_duration(&a.ttl).with_context(|| format!("--ttl {:?}", a.ttl))?;
    let secret = std::fs::read(&a.jwt_hs256_secret_file).with_context(|| {
        format!(
            "--jwt-hs256-secret-file {}",
            a.jwt_hs256_secret_file.display()
        )
    })?;
    let secret = trim_secret(&secret);
    if secret.len() < 32 {
        bail!(
            "the HS256 secret is {} bytes; use at least 32",
            secret.len()
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = Claims {
        tenant: a.tenant.clone(),
        role,
        scope,
        exp: now + ttl.as_secs(),
        nbf: Some(now),
        iat: Some(now),
        iss: a.issuer,
        aud: a.audience,
        sub: a.subject,
        jti: Some(format!("{:016x}", rand_id())),
    };
    let jti = claims.jti.clone().unwrap_or_default();
    let token = encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(&secret),
    )?;
    eprintln!(
        "token for tenant {:?}, role {}, expires in {}; id (jti) {jti}: \
         add it to the --jwt-revoked-file to revoke the token",
        a.tenant,
        a.role,
        humantime::format_duration(ttl)
    );
    println!("{token}");
    Ok(())
}

fn rand_id() -> u64 {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        return t ^ u64::from(std::process::id());
    }
    u64::from_le_bytes(b)
}
