//! duibiao (对标): quarterly analytics jobs that relate party-building activity to the six
//! peer-benchmark indicators of township power supply stations.
//!
//! The flow is one direction: pipeline spec → ingest → indicators and features → panel →
//! correlations → outputs. This crate holds every stage as a library module; `main.rs` only
//! parses the command line and maps errors to exit codes.
//!
//! The modules below are the layers, bottom to top; each imports only the ones above it in this
//! list (ARCHITECTURE.md; `tests/test_architecture.rs` checks it).

pub mod base;
pub mod stats;
pub mod sample;
pub mod spec;
pub mod store;
pub mod ingest;
pub mod identity;
pub mod panel;
pub mod analysis;
pub mod output;
pub mod job;
pub mod commands;
