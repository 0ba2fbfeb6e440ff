//! The base layer: calendar arithmetic and periods, text folding and edit distance, content
//! digests. Everything above may import it; it imports nothing else of the crate (only std and
//! small external crates), so it can never take part in an import cycle.

pub mod calendar;
pub mod digest;
pub mod period;
pub mod text;
