//! Rules set over the API, per tenant: replaced whole (`PUT`), deleted
//! one by name or all (`DELETE`), kept in `<dir>/rules/<tenant>.toml`.

use super::{AlertEngine, AlertError};
use crate::rules::{LoadError, Origin};
use flarego_storage::TenantId;
use std::path::PathBuf;

impl AlertEngine {
    /// Replaces `tenant`'s API rules with `text` (TOML, as a rule file).
    pub async fn put_rules(&self, tenant: &TenantId, text: &str) -> Result<usize, AlertError> {
        let set = self
            .load_checked(text, Origin::Api, Some(tenant.clone()))
            .await
            .map_err(AlertError::Refused)?;
        {
            let loaded = self.inner.loaded.read();
            if let Some(clash) = set.rules.iter().find(|r| {
                loaded
                    .file
                    .rules
                    .iter()
                    .any(|f| f.name == r.name && f.tenant == r.tenant)
            }) {
                return Err(AlertError::Refused(LoadError {
                    rule: Some(clash.name.clone()),
                    line: clash.line,
                    reason: "the rule file already has a rule of this name for the tenant".into(),
                }));
            }
        }
        let path = self.api_path(tenant);
        crate::store::write_atomic(path.clone(), text.as_bytes().to_vec())
            .await
            .map_err(|source| AlertError::Io {
                path: path.display().to_string(),
                source,
            })?;
        let n = set.rules.len();
        let (file, mut api) = {
            let l = self.inner.loaded.read();
            (l.file.clone(), l.api.clone())
        };
        api.insert(tenant.0.clone(), set);
        self.install(file, api);
        Ok(n)
    }

    /// Deletes `tenant`'s API rule `name`, or all of them; returns how
    /// many were removed.
    pub async fn delete_rules(
        &self,
        tenant: &TenantId,
        name: Option<&str>,
    ) -> Result<usize, AlertError> {
        let (file, mut api) = {
            let l = self.inner.loaded.read();
            (l.file.clone(), l.api.clone())
        };
        let Some(set) = api.get(&tenant.0).cloned() else {
            return Err(AlertError::NotFound(format!(
                "tenant {:?} has no rules set over the API",
                tenant.0
            )));
        };
        let path = self.api_path(tenant);
        let removed = match name {
            None => {
                api.remove(&tenant.0);
                std::fs::remove_file(&path).map_err(|source| AlertError::Io {
                    path: path.display().to_string(),
                    source,
                })?;
                set.rules.len()
            }
            Some(name) => {
                if !set.rules.iter().any(|r| r.name == name) {
                    return Err(AlertError::NotFound(format!("no API rule named {name:?}")));
                }
                let text = without_rule(&set.source, name).map_err(AlertError::NotFound)?;
                let new = self
                    .load_checked(&text, Origin::Api, Some(tenant.clone()))
                    .await
                    .map_err(AlertError::Refused)?;
                crate::store::write_atomic(path.clone(), text.into_bytes())
                    .await
                    .map_err(|source| AlertError::Io {
                        path: path.display().to_string(),
                        source,
                    })?;
                api.insert(tenant.0.clone(), new);
                1
            }
        };
        self.install(file, api);
        Ok(removed)
    }

    fn api_path(&self, tenant: &TenantId) -> PathBuf {
        self.inner
            .config
            .dir
            .join("rules")
            .join(format!("{}.toml", tenant.0))
    }
}

/// `text` without the `[[rule]]` named `name`.
fn without_rule(text: &str, name: &str) -> Result<String, String> {
    let mut doc: toml::Table = toml::from_str(text).map_err(|e| e.to_string())?;
    if let Some(toml::Value::Array(rules)) = doc.get_mut("rule") {
        rules.retain(|r| r.get("name").and_then(|n| n.as_str()) != Some(name));
    }
    toml::to_string(&doc).map_err(|e| e.to_string())
}
