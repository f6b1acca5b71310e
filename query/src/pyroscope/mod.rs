//! Pyroscope's read API in FlareGo's terms (for Grafana's Pyroscope data
//! source, profilecli and Pyroscope's UI). So far: profile type ids
//! ([`profile_types`]).

pub mod profile_types;
