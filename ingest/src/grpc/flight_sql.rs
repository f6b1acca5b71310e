//! Arrow Flight SQL on the gRPC listener, for ADBC's Flight SQL driver,
//! the Flight SQL JDBC driver and `pyarrow.flight`: statements, prepared
//! statements, `GetCatalogs`, `GetDbSchemas`, `GetTables`, `GetSqlInfo`.
//!
//! Every call is a read with the same rules as `/api/v1/query`: the
//! bearer token in `authorization` (Query permission), the token's tenant
//! scope (an admin's `x-scope-orgid`), a query slot, the query time limit
//! and the read-only SQL rules. Statement handles and tickets carry the
//! SQL itself, so nothing is kept between calls and any server can answer
//! a ticket. `Handshake` takes basic auth whose password is a token and
//! answers it as the bearer to use. Writes (`DoPut` updates, ingest) are
//! refused: FlareGo's SQL is read-only.

use super::status_of;
use crate::auth::Permission;
use crate::error::ApiError;
use crate::routes::read::{self, Params};
use crate::state::SharedState;
use arrow::datatypes::Schema;
use arrow::ipc::writer::IpcWriteOptions;
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::flight_service_server::FlightServiceServer;
use arrow_flight::sql::metadata::{SqlInfoData, SqlInfoDataBuilder};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, CommandGetCatalogs, CommandGetDbSchemas,
    CommandGetSqlInfo, CommandGetTables, CommandPreparedStatementQuery,
    CommandPreparedStatementUpdate, CommandStatementIngest, CommandStatementQuery,
    CommandStatementUpdate, ProstMessageExt, SqlInfo, TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest, HandshakeResponse,
    IpcMessage, SchemaAsIpc, Ticket,
};
use base64::Engine as _;
use futures::{Stream, TryStreamExt};
use prost::Message;
use std::pin::Pin;
use std::sync::OnceLock;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status, Streaming};

pub struct FlightSql {
    state: SharedState,
}

/// The service, messages up to `max_body_bytes` in.
pub fn service(state: SharedState) -> FlightServiceServer<FlightSql> {
    let limit = state.limits.max_body_bytes;
    FlightServiceServer::new(FlightSql { state }).max_decoding_message_size(limit)
}

/// What `GetSqlInfo` answers.
fn sql_info() -> &'static SqlInfoData {
    static INFO: OnceLock<SqlInfoData> = OnceLock::new();
    INFO.get_or_init(|| {
        let mut b = SqlInfoDataBuilder::new();
        b.append(SqlInfo::FlightSqlServerName, "FlareGo");
        b.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
        b.append(SqlInfo::FlightSqlServerArrowVersion, "1.3");
        b.append(SqlInfo::FlightSqlServerReadOnly, true);
        b.append(SqlInfo::FlightSqlServerSql, true);
        b.append(SqlInfo::FlightSqlServerSubstrait, false);
        b.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
        // Built from constants: cannot fail.
        b.build()
            .unwrap_or_else(|_| SqlInfoDataBuilder::new().build().expect("empty sql info"))
    })
}

type DoGetStream = Pin<Box<dyn Stream<Item = Result<arrow_flight::FlightData, Status>> + Send>>;

/// One batch (or none) as a Flight data stream.
fn batch_stream(
    schema: arrow::datatypes::SchemaRef,
    batches: Vec<arrow::record_batch::RecordBatch>,
) -> Response<DoGetStream> {
    let stream = FlightDataEncoderBuilder::new()
        .with_schema(schema)
        .build(futures::stream::iter(batches.into_iter().map(Ok)))
        .map_err(Status::from);
    Response::new(Box::pin(stream))
}

/// `schema` as the stream sends it: dictionary columns as their values
/// (the encoder hydrates dictionaries), so FlightInfo and data agree.
fn hydrated(schema: &Schema) -> Schema {
    let fields: Vec<arrow::datatypes::Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            arrow::datatypes::DataType::Dictionary(_, values) => {
                f.as_ref().clone().with_data_type(values.as_ref().clone())
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    Schema::new_with_metadata(fields, schema.metadata().clone())
}

/// A metadata answer: one built batch.
fn one_batch(
    schema: arrow::datatypes::SchemaRef,
    batch: Result<arrow::record_batch::RecordBatch, impl std::fmt::Display>,
) -> Result<Response<DoGetStream>, Status> {
    let batch = batch.map_err(|e| Status::internal(e.to_string()))?;
    Ok(batch_stream(schema, vec![batch]))
}

fn sql_of(handle: &[u8]) -> Result<String, Status> {
    String::from_utf8(handle.to_vec())
        .map_err(|_| Status::invalid_argument("the statement handle is not a FlareGo handle"))
}

fn read_only() -> Status {
    Status::invalid_argument("FlareGo's SQL is read-only: updates and ingest are refused")
}

impl FlightSql {
    /// The schema of `sql`'s answer, checked as a read the caller may run.
    async fn plan<T>(
        &self,
        request: &Request<T>,
        sql: &str,
    ) -> Result<arrow::datatypes::SchemaRef, Status> {
        let headers = request.metadata().clone().into_headers();
        let ctx = read::begin_as(&self.state, &headers, &Params::new(), Permission::Query)
            .map_err(status_of)?;
        let q = ctx.ready.query.clone();
        let schema = read::timed(&self.state, q.check(ctx.scope.clone(), sql))
            .await
            .map_err(status_of)?;
        Ok(std::sync::Arc::new(hydrated(&schema)))
    }

    /// Runs `sql` as the caller and streams its answer.
    async fn run<T>(
        &self,
        request: &Request<T>,
        sql: &str,
    ) -> Result<Response<DoGetStream>, Status> {
        let headers = request.metadata().clone().into_headers();
        let ctx = read::begin_as(&self.state, &headers, &Params::new(), Permission::Query)
            .map_err(status_of)?;
        let q = ctx.ready.query.clone();
        let out = read::timed(&self.state, q.sql(ctx.scope.clone(), sql))
            .await
            .map_err(status_of)?;
        Ok(batch_stream(out.schema.clone(), out.batches))
    }

    /// A FlightInfo whose one endpoint's ticket is `ticket`.
    fn info(
        schema: &Schema,
        ticket: Vec<u8>,
        descriptor: FlightDescriptor,
    ) -> Result<Response<FlightInfo>, Status> {
        let endpoint = FlightEndpoint::new().with_ticket(Ticket {
            ticket: ticket.into(),
        });
        let info = FlightInfo::new()
            .try_with_schema(schema)
            .map_err(|e| Status::internal(e.to_string()))?
            .with_endpoint(endpoint)
            .with_descriptor(descriptor);
        Ok(Response::new(info))
    }

    /// The FlightInfo of a metadata command (its ticket is the command),
    /// for a caller who may read.
    fn metadata_info(
        &self,
        request: Request<FlightDescriptor>,
        schema: &Schema,
        command: arrow_flight::sql::Any,
    ) -> Result<Response<FlightInfo>, Status> {
        self.authorize(&request)?;
        Self::info(schema, command.encode_to_vec(), request.into_inner())
    }

    /// Checks the caller may read, for the metadata calls.
    fn authorize<T>(
        &self,
        request: &Request<T>,
    ) -> Result<Option<flarego_storage::TenantId>, Status> {
        let headers = request.metadata().clone().into_headers();
        let principal = self
            .state
            .auth
            .authorize(&headers, Permission::Query)
            .map_err(status_of)?;
        principal.read_scope(&headers).map_err(status_of)
    }
}

#[tonic::async_trait]
impl FlightSqlService for FlightSql {
    type FlightService = FlightSql;

    async fn do_handshake(
        &self,
        request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let token = match header.strip_prefix("Basic ") {
            Some(b64) => {
                // Go's Flight client leaves out the padding.
                let b64 = b64.trim();
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64))
                    .map_err(|_| Status::invalid_argument("basic auth is not base64"))?;
                let raw = String::from_utf8(raw)
                    .map_err(|_| Status::invalid_argument("basic auth is not UTF-8"))?;
                // user:password, the password being a token.
                raw.split_once(':')
                    .map(|(_, t)| t.to_string())
                    .unwrap_or(raw)
            }
            None => header.strip_prefix("Bearer ").unwrap_or("").to_string(),
        };
        let mut headers = axum::http::HeaderMap::new();
        if !token.is_empty() {
            let v =
                axum::http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                    Status::invalid_argument("the token holds characters a header cannot")
                })?;
            headers.insert(axum::http::header::AUTHORIZATION, v);
        }
        self.state
            .auth
            .authorize(&headers, Permission::Query)
            .map_err(status_of)?;
        let bearer = if token.is_empty() {
            "anonymous".to_string()
        } else {
            token
        };
        let out = futures::stream::iter([Ok(HandshakeResponse {
            protocol_version: 0,
            payload: bearer.clone().into(),
        })]);
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(out));
        let v = MetadataValue::try_from(format!("Bearer {bearer}"))
            .map_err(|_| Status::internal("token not representable"))?;
        response.metadata_mut().insert("authorization", v);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = self.plan(&request, &query.query).await?;
        let ticket = TicketStatementQuery {
            statement_handle: query.query.into_bytes().into(),
        };
        Self::info(
            &schema,
            ticket.as_any().encode_to_vec(),
            request.into_inner(),
        )
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let sql = sql_of(&ticket.statement_handle)?;
        self.run(&request, &sql).await
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        let schema = self.plan(&request, &query.query).await?;
        let IpcMessage(dataset_schema) = SchemaAsIpc::new(&schema, &IpcWriteOptions::default())
            .try_into()
            .map_err(|e: arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: query.query.into_bytes().into(),
            dataset_schema,
            parameter_schema: Default::default(),
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        // Handles hold their SQL: nothing to free.
        Ok(())
    }

    async fn get_flight_info_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let sql = sql_of(&cmd.prepared_statement_handle)?;
        let schema = self.plan(&request, &sql).await?;
        Self::info(&schema, cmd.as_any().encode_to_vec(), request.into_inner())
    }

    async fn do_get_prepared_statement(
        &self,
        cmd: CommandPreparedStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let sql = sql_of(&cmd.prepared_statement_handle)?;
        self.run(&request, &sql).await
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.into_builder().schema();
        self.metadata_info(request, &schema, query.as_any())
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tables = self.tables(&request).await?;
        let mut b = query.into_builder();
        let mut seen = std::collections::BTreeSet::new();
        for t in &tables {
            if seen.insert(t.catalog.clone()) {
                b.append(t.catalog.clone());
            }
        }
        one_batch(b.schema(), b.build())
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.metadata_info(request, &schema, query.as_any())
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tables = self.tables(&request).await?;
        let mut b = query.into_builder();
        let mut seen = std::collections::BTreeSet::new();
        for t in &tables {
            if seen.insert((t.catalog.clone(), t.schema.clone())) {
                b.append(&t.catalog, &t.schema);
            }
        }
        one_batch(b.schema(), b.build())
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder().schema();
        self.metadata_info(request, &schema, query.as_any())
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let tables = self.tables(&request).await?;
        let mut b = query.into_builder();
        for t in &tables {
            b.append(&t.catalog, &t.schema, &t.name, "TABLE", &t.columns)
                .map_err(|e| Status::internal(e.to_string()))?;
        }
        one_batch(b.schema(), b.build())
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(sql_info()).schema();
        self.metadata_info(request, &schema, query.as_any())
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        self.authorize(&request)?;
        let b = query.into_builder(sql_info());
        one_batch(b.schema(), b.build())
    }

    async fn do_put_statement_update(
        &self,
        _ticket: CommandStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only())
    }

    async fn do_put_statement_ingest(
        &self,
        _ticket: CommandStatementIngest,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only())
    }

    async fn do_put_prepared_statement_update(
        &self,
        _query: CommandPreparedStatementUpdate,
        _request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        Err(read_only())
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

impl FlightSql {
    /// The tables the caller's scope sees.
    async fn tables<T>(
        &self,
        request: &Request<T>,
    ) -> Result<Vec<flarego_query::catalog::TableInfo>, Status> {
        let scope = self.authorize(request)?;
        let ready = self.state.ready().map_err(status_of)?;
        ready
            .query
            .tables(scope)
            .await
            .map_err(|e| status_of(ApiError::from(e)))
    }
}
