//! The base layer: calendar arithmetic and periods, text folding and edit distance, content
//! digests, the report language and the vocabularies (names and labels of enums). Everything above may import it; it imports nothing else of the crate (only std and
//! small external crates), so it can never take part in an import cycle.

pub mod build_info;
pub mod calendar;
pub mod digest;
pub mod lang;
pub mod period;
pub(crate) mod sha256_lanes;
pub mod text;
pub mod vocab;

/// An error and its causes on one line, joined by ": " as anyhow's `{:#}` shows them.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// The configuration of the crate's property tests: `cases` cases unless `PROPTEST_CASES` says
/// otherwise, and no failure files written into the source tree.
#[cfg(test)]
pub(crate) fn proptest_config(cases: u32) -> proptest::test_runner::Config {
    let mut config = proptest::test_runner::Config { failure_persistence: None, ..Default::default() };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config
}
