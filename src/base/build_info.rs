//! What this binary is: version and build commit, and the `created_by` string written into
//! every Parquet file.
//!
//! The `created_by` string follows the form parquet-mr (parquet-java) parses,
//! `<application> version <semver> (build <hash>)`: readers built on it (Spark, Hive, most JVM BI
//! tools) distrust the string-column statistics of a file whose `created_by` they cannot parse
//! (PARQUET-251), and then cannot skip row groups on string filters.

/// The package version, e.g. "0.1.0".
pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit the binary was built from (12 hex digits), or "unknown" outside a git checkout.
pub(crate) const BUILD: &str = env!("DUIBIAO_BUILD");

/// The Parquet `created_by` string, e.g. "duibiao version 0.1.0 (build 3f2a9c1d0e4b)".
pub(crate) fn created_by() -> String {
    format!("duibiao version {VERSION} (build {BUILD})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// parquet-mr's VersionParser.FORMAT, as in apache/parquet-java,
    /// parquet-common/src/main/java/org/apache/parquet/VersionParser.java, applied with
    /// `Matcher.matches()` (the whole string). CorruptStatistics.shouldIgnoreStatistics
    /// (parquet-column) ignores binary statistics when this fails to match; when it matches and
    /// the application is not "parquet-mr", the statistics are trusted.
    const PARQUET_MR_FORMAT: &str = r"(.*?)\s+version\s*(?:([^(]*?)\s*(?:\(\s*build\s*([^)]*?)\s*\))?)?";

    fn parse(created_by: &str) -> Option<(String, Option<String>, Option<String>)> {
        let whole = regex::Regex::new(&format!("^(?:{PARQUET_MR_FORMAT})$")).unwrap();
        let c = whole.captures(created_by)?;
        let group = |i: usize| c.get(i).map(|m| m.as_str().to_string()).filter(|s| !s.is_empty());
        Some((group(1)?, group(2), group(3)))
    }

    #[test]
    fn created_by_parses_as_parquet_mr_expects() {
        let (application, version, build) = parse(&created_by()).expect("created_by matches VersionParser.FORMAT");
        assert_eq!(application, "duibiao");
        assert_eq!(version.as_deref(), Some(VERSION));
        assert_eq!(build.as_deref(), Some(BUILD));
        assert!(BUILD == "unknown" || (BUILD.len() == 12 && BUILD.chars().all(|c| c.is_ascii_hexdigit())), "{BUILD}");
        // The semantic version part is what SemanticVersion.parse accepts: major.minor.patch.
        let parts: Vec<&str> = VERSION.split('.').collect();
        assert!(parts.len() == 3 && parts.iter().all(|p| p.parse::<u32>().is_ok()), "{VERSION}");
    }

    #[test]
    fn the_parser_reproduction_behaves_like_parquet_mr() {
        // parquet-mr's own string (the example in VersionParser) and pyarrow's.
        assert_eq!(
            parse("parquet-mr version 1.8.0rc2-SNAPSHOT (build ddb469afac70404ea63b72ed2f07a911a8592ff7)"),
            Some(("parquet-mr".into(), Some("1.8.0rc2-SNAPSHOT".into()), Some("ddb469afac70404ea63b72ed2f07a911a8592ff7".into())))
        );
        assert_eq!(parse("parquet-cpp-arrow version 14.0.2"), Some(("parquet-cpp-arrow".into(), Some("14.0.2".into()), None)));
        // The string written before: no " version ", so parquet-mr distrusted every string statistic.
        assert_eq!(parse("duibiao 0.1.0"), None);
    }
}
