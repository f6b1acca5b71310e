//! # flarego-proto
//!
//! Protobuf definitions FlareGo speaks, and the Rust types generated from
//! them at build time (by `protox` + `prost-build`, no system `protoc`).
//! No logic lives here.
//!
//! - [`pprof`]: the pprof `Profile` message (Go's `net/http/pprof` output and
//!   what every Pyroscope client sends).
//! - [`push::v1`]: Pyroscope's `push.v1.PusherService/Push` request and response.
//! - [`types::v1`]: label pairs shared by the push API.
//! - [`agent::v1`]: the chunks agents send per window, and their acks.
//! - [`flarego::query::v1`]: the read API over gRPC (`QueryService`).

/// `perftools.*` packages.
pub mod perftools {
    /// The pprof profile format (`perftools.profiles`).
    pub mod profiles {
        include!(concat!(env!("OUT_DIR"), "/perftools.profiles.rs"));
    }
}

/// `types.*` packages.
pub mod types {
    /// Label pairs (`types.v1`).
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/types.v1.rs"));
    }
}

/// `push.*` packages.
pub mod push {
    /// Pyroscope's push API (`push.v1`).
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/push.v1.rs"));
    }
}

/// `agent.*` packages.
pub mod agent {
    /// What agents send (`agent.v1`): chunks per window, and acks.
    pub mod v1 {
        include!(concat!(env!("OUT_DIR"), "/agent.v1.rs"));
    }
}

/// `flarego.*` packages.
pub mod flarego {
    /// FlareGo's own APIs.
    pub mod query {
        /// The read API over gRPC (`flarego.query.v1.QueryService`).
        pub mod v1 {
            include!(concat!(env!("OUT_DIR"), "/flarego.query.v1.rs"));
        }
    }
}

pub use perftools::profiles as pprof;

/// The metric names an agent's chunks carry (`agent.v1` metric points):
/// the vocabulary alert rules are checked against.
pub mod agent_metrics {
    pub const NAMES: &[&str] = &[
        "go_goroutines",
        "go_goroutines_wait_minutes_max",
        "go_goroutines_blocked",
        "go_goroutines_total",
        "go_heap_inuse_bytes",
        "go_heap_alloc_bytes",
        "go_heap_objects",
        "go_gc_count",
        "go_gc_pause_ns",
        "go_gc_pause_p50_ns",
        "go_gc_pause_p99_ns",
        "go_gc_pause_max_ns",
        "go_gc_pauses_lost",
        "agent_cpu_percent",
        "agent_rss_bytes",
        "agent_buffered_chunks",
        "agent_buffered_bytes",
        "agent_dropped_chunks_total",
        "agent_refused_chunks_total",
        "agent_window_seq",
        "agent_scrape_errors",
        "agent_perf_samples",
        "agent_perf_lost_samples",
        "agent_perf_threads",
        "agent_perf_achieved_hz",
        "agent_perf_errors",
    ];
}
