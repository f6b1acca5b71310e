//! The `agent.v1.AgentIngest/Stream` route with chunks kept as bytes.
//!
//! tonic's generated server decodes every `Chunk` with `prost` before our
//! code sees it, so a small message of many empty parts would be built in
//! full before any limit applied. This route hands each message over as
//! the bytes that came (inflated if gzipped), and
//! [`crate::decode::chunk::parse_chunk`] counts them on the wire before
//! decoding; the WAL keeps those same bytes. Replies are `prost`-encoded
//! `Ack`s, so agents see the service the `.proto` file declares.

use bytes::{Buf, Bytes};
use flarego_proto::agent::v1::Ack;
use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use tonic::codec::{Codec, CompressionEncoding, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::server::{Grpc, NamedService, StreamingService};
use tonic::{Request, Response, Status, Streaming};

/// The full method path of the agent stream.
pub const STREAM_PATH: &str = "/agent.v1.AgentIngest/Stream";

/// Decodes each message as its bytes; encodes `Ack`s with `prost`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RawChunkCodec;

#[derive(Debug, Default)]
pub struct AckEncoder;

#[derive(Debug, Default)]
pub struct BytesDecoder;

impl Encoder for AckEncoder {
    type Item = Ack;
    type Error = Status;
    fn encode(&mut self, item: Ack, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        prost::Message::encode(&item, dst).map_err(|e| Status::internal(e.to_string()))
    }
}

impl Decoder for BytesDecoder {
    type Item = Bytes;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

impl Codec for RawChunkCodec {
    type Encode = Ack;
    type Decode = Bytes;
    type Encoder = AckEncoder;
    type Decoder = BytesDecoder;
    fn encoder(&mut self) -> AckEncoder {
        AckEncoder
    }
    fn decoder(&mut self) -> BytesDecoder {
        BytesDecoder
    }
}

/// What serves the stream: raw chunks in, acks out.
pub trait ChunkStream: Send + Sync + 'static {
    type Acks: futures::Stream<Item = Result<Ack, Status>> + Send + 'static;
    fn stream(&self, request: Request<Streaming<Bytes>>)
    -> BoxFuture<Response<Self::Acks>, Status>;
}

/// The gRPC service: gzip both ways, messages up to `max_message_bytes`.
pub struct RawAgentServer<T> {
    inner: Arc<T>,
    max_message_bytes: usize,
}

impl<T> RawAgentServer<T> {
    pub fn new(inner: T, max_message_bytes: usize) -> Self {
        RawAgentServer {
            inner: Arc::new(inner),
            max_message_bytes,
        }
    }
}

impl<T> Clone for RawAgentServer<T> {
    fn clone(&self) -> Self {
        RawAgentServer {
            inner: self.inner.clone(),
            max_message_bytes: self.max_message_bytes,
        }
    }
}

impl<T> NamedService for RawAgentServer<T> {
    const NAME: &'static str = "agent.v1.AgentIngest";
}

struct Method<T>(Arc<T>);

impl<T: ChunkStream> StreamingService<Bytes> for Method<T> {
    type Response = Ack;
    type ResponseStream = T::Acks;
    type Future = BoxFuture<Response<T::Acks>, Status>;
    fn call(&mut self, request: Request<Streaming<Bytes>>) -> Self::Future {
        self.0.stream(request)
    }
}

impl<T, B> Service<http::Request<B>> for RawAgentServer<T>
where
    T: ChunkStream,
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        if req.uri().path() != STREAM_PATH {
            return Box::pin(async { Ok(Status::unimplemented("unknown method").into_http()) });
        }
        let inner = self.inner.clone();
        let limit = self.max_message_bytes;
        Box::pin(async move {
            let mut grpc = Grpc::new(RawChunkCodec)
                .accept_compressed(CompressionEncoding::Gzip)
                .send_compressed(CompressionEncoding::Gzip)
                .max_decoding_message_size(limit);
            Ok(grpc.streaming(Method(inner), req).await)
        })
    }
}
