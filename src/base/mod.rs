//! The base layer: calendar periods.

pub mod period;
