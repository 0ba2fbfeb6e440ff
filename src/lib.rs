//! duibiao (对标): quarterly analytics jobs that relate party-building activity to the six
//! peer-benchmark indicators of township power supply stations.
//!
//! The flow is one direction: pipeline spec → ingest → indicators and features → panel →
//! correlations → outputs. This crate holds every stage as a library module; `main.rs` only
//! parses the command line and maps errors to exit codes.

pub mod analysis;
pub mod bi;
pub mod build_info;
pub mod cli;
pub mod commands;
pub mod error;
pub mod period;
pub mod sample;
pub mod sink;
pub mod stats;
pub mod identity;
pub mod ingest;
pub mod inspect;
pub mod job;
pub mod outputs;
pub mod panel;
pub mod plan;
pub mod report;
pub mod resources;
pub mod spec;
pub mod views;
