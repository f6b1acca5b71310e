//! `opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export`:
//! OTLP profiles over gRPC, as the OpenTelemetry Collector's `otlp`
//! exporter and the eBPF profiler send them. The same path as
//! `POST /v1development/profiles`: authorized as an ingest, logged in
//! the WAL (as protobuf) before the answer, refused whole on bad input
//! (`INVALID_ARGUMENT` naming what and which limit).

use super::status_of;
use crate::record::{IngestRecord, Source};
use crate::routes::{commit, now_ns};
use crate::state::SharedState;
use flarego_proto::opentelemetry::proto::collector::profiles::v1development::profiles_service_server::{
    ProfilesService, ProfilesServiceServer,
};
use flarego_proto::opentelemetry::proto::collector::profiles::v1development::{
    ExportProfilesServiceRequest, ExportProfilesServiceResponse,
};
use prost::Message;
use tonic::{Request, Response, Status};

pub struct OtlpProfiles {
    state: SharedState,
}

/// The service: gzip both ways, messages up to `max_body_bytes`.
pub fn service(state: SharedState) -> ProfilesServiceServer<OtlpProfiles> {
    let limit = state.limits.max_body_bytes;
    ProfilesServiceServer::new(OtlpProfiles { state })
        .accept_compressed(tonic::codec::CompressionEncoding::Gzip)
        .send_compressed(tonic::codec::CompressionEncoding::Gzip)
        .max_decoding_message_size(limit)
}

#[tonic::async_trait]
impl ProfilesService for OtlpProfiles {
    async fn export(
        &self,
        request: Request<ExportProfilesServiceRequest>,
    ) -> Result<Response<ExportProfilesServiceResponse>, Status> {
        let state = &self.state;
        let headers = request.metadata().clone().into_headers();
        let principal = state.admit_ingest(&headers).map_err(status_of)?;
        let raw = request.into_inner().encode_to_vec();
        state
            .limiter
            .ingest_bytes(&principal, raw.len())
            .map_err(status_of)?;
        let mut charge = state.memory_charge();
        charge
            .charge("request body", raw.len())
            .map_err(|e| status_of(e.into()))?;
        let record = IngestRecord {
            tenant: principal.tenant.clone(),
            received_ns: now_ns(),
            source: Source::Otlp,
            parts: vec![raw],
        };
        commit(state, record, &mut charge)
            .await
            .map_err(status_of)?;
        Ok(Response::new(ExportProfilesServiceResponse::default()))
    }
}
