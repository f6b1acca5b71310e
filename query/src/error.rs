//! Errors of the query layer.

/// Result type of the query crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a query failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The statement is not a read-only query (DDL, DML, COPY, SET, …).
    #[error("only read-only queries are allowed: {0}")]
    NotReadOnly(String),
    /// The SQL text is invalid or refers to something that does not exist.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    /// The query ran into a resource limit.
    #[error("query exceeded a limit: {0}")]
    ResourcesExhausted(String),
    /// The query failed while running.
    #[error("query failed: {0}")]
    Execution(String),
}

impl Error {
    /// Sorts a DataFusion error into what the caller did wrong and what
    /// failed on our side.
    pub fn from_datafusion(e: datafusion::error::DataFusionError) -> Self {
        use datafusion::error::DataFusionError as D;
        match e.find_root() {
            D::SQL(..) | D::Plan(..) | D::SchemaError(..) | D::NotImplemented(..) => {
                Error::InvalidQuery(e.to_string())
            }
            D::ResourcesExhausted(m) => {
                Error::ResourcesExhausted(format!("query_memory_bytes (memory per query): {m}"))
            }
            _ => Error::Execution(e.to_string()),
        }
    }
}
