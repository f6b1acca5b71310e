//! End-to-end tests against the real `flarego` binary (one test binary:
//! each links DataFusion, and linking is the slow part of the build).

mod agent_chunks;
mod agent_scrape;
mod agent_stream;
mod alerts;
mod bad_input;
mod browser;
mod connections;
mod crash;
mod duckdb;
mod durability;
mod export_import;
mod flight_sql;
mod full_disk;
mod fuzz;
mod go_profiles;
mod grpc_read;
mod hostile;
mod hot_cold;
mod ingest_apis;
mod levels;
mod live;
mod migration;
mod object_store;
mod otlp;
mod outage;
mod perf_sampler;
mod pyroscope_api;
mod read_api;
mod retention;
mod security;
mod sql_semantics;
mod tls;
mod ui;
