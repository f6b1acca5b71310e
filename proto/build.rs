//! Compiles the `.proto` files under `protos/` with protox (pure Rust), so a
//! build needs nothing outside cargo; tonic adds gRPC clients and servers
//! for the services, and pbjson the protobuf JSON mapping (serde) of the
//! messages Connect clients send as JSON.

use prost::Message;

/// Packages whose messages also speak protobuf JSON.
const JSON_PACKAGES: [&str; 5] = [
    ".querier.v1",
    ".types.v1",
    ".settings.v1",
    ".perftools",
    ".opentelemetry.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let files = [
        "protos/perftools/profile.proto",
        "protos/types/v1/types.proto",
        "protos/querier/v1/querier.proto",
        "protos/settings/v1/setting.proto",
        "protos/push/v1/push.proto",
        "protos/agent/v1/agent.proto",
        "protos/flarego/query/v1/query.proto",
        "protos/opentelemetry/proto/collector/profiles/v1development/profiles_service.proto",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={f}");
    }
    let fds = protox::compile(files, ["protos"])?;
    let descriptors = fds.encode_to_vec();
    tonic_prost_build::configure().compile_fds(fds)?;
    pbjson_build::Builder::new()
        .register_descriptors(&descriptors)?
        .ignore_unknown_fields()
        .build(&JSON_PACKAGES)?;
    Ok(())
}
