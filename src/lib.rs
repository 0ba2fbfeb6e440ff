//! duibiao (对标): quarterly analytics jobs that relate party-building activity to the six
//! peer-benchmark indicators of township power supply stations.
//!
//! The flow is one direction: pipeline spec → ingest → indicators and features → panel →
//! correlations → outputs. This crate holds every stage as a library module; `main.rs` only
//! parses the command line and maps errors to exit codes.
//!
//! The modules below are the layers, bottom to top; each imports only the ones above it in this
//! list (ARCHITECTURE.md; `tests/test_architecture.rs` checks it). They are crate-private, so
//! the compiler reports dead code; the binary enters through `commands::main`.

pub(crate) mod base;
// The correlation engine is the one public library API: reference-checked, usable on its own.
pub(crate) mod analysis;
pub mod commands;
pub(crate) mod identity;
pub(crate) mod ingest;
pub(crate) mod job;
pub(crate) mod output;
pub(crate) mod panel;
pub(crate) mod sample;
pub(crate) mod spark;
pub(crate) mod spec;
pub mod stats;
pub(crate) mod store;
