//! What a session holds, for clients that browse before they query (Flight
//! SQL's `GetCatalogs`, `GetDbSchemas`, `GetTables`): every table with its
//! catalog, schema and columns, as the caller's tenant scope sees them.

use crate::{Error, QueryEngine, Result};
use datafusion::arrow::datatypes::SchemaRef;
use flarego_storage::TenantId;

/// One table of a session.
#[derive(Debug, Clone)]
pub struct TableInfo {
    pub catalog: String,
    pub schema: String,
    pub name: String,
    pub columns: SchemaRef,
}

impl QueryEngine {
    /// Every table a session of `scope` sees, by catalog, schema and name.
    pub async fn tables(&self, scope: Option<TenantId>) -> Result<Vec<TableInfo>> {
        let ctx = self.session(scope);
        let mut out = Vec::new();
        for catalog in ctx.catalog_names() {
            let Some(c) = ctx.catalog(&catalog) else {
                continue;
            };
            for schema in c.schema_names() {
                let Some(s) = c.schema(&schema) else {
                    continue;
                };
                for name in s.table_names() {
                    let table = s.table(&name).await.map_err(Error::from_datafusion)?;
                    if let Some(t) = table {
                        out.push(TableInfo {
                            catalog: catalog.clone(),
                            schema: schema.clone(),
                            name,
                            columns: t.schema(),
                        });
                    }
                }
            }
        }
        out.sort_by(|a, b| (&a.catalog, &a.schema, &a.name).cmp(&(&b.catalog, &b.schema, &b.name)));
        Ok(out)
    }
}
