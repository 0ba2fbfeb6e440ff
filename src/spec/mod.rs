//! Pipeline files: the raw TOML model (`raw`), its compilation into a checked, immutable `Plan`
//! (`compile`), and spec errors that point at file:line:column.
//!
//! Layer `spec` (ARCHITECTURE.md): owns the pipeline file and the `Plan` (`plan`); reads nothing
//! but the pipeline file; may import `base` and `stats` (method, scope and adjustment names).

pub mod compile;
pub mod dialect;
pub mod expr;
pub mod output_dir;
pub mod plan;
pub mod raw;
pub(crate) mod syntax;
pub mod words;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::base::text::closest;

/// One mistake in a pipeline file, located by byte span.
#[derive(Debug, Clone)]
pub(crate) struct SpecError {
    pub span: Option<Range<usize>>,
    pub message: String,
}

/// All mistakes found in a pipeline file, rendered with file:line:column.
#[derive(Debug)]
pub(crate) struct SpecErrors {
    pub path: PathBuf,
    pub text: String,
    pub errors: Vec<SpecError>,
}

impl SpecErrors {
    /// Line and column (both from 1, columns in characters) of a byte offset.
    pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        (line, col)
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors.len();
        writeln!(f, "{} 有 {n} 处错误 · {n} error{} in the pipeline file:", self.path.display(), if n == 1 { "" } else { "s" })?;
        let mut sorted: Vec<&SpecError> = self.errors.iter().collect();
        sorted.sort_by_key(|e| e.span.as_ref().map(|s| s.start));
        for e in sorted {
            match &e.span {
                Some(span) => {
                    let (line, col) = Self::line_col(&self.text, span.start);
                    writeln!(f, "  {}:{line}:{col}: {}", self.path.display(), e.message)?;
                }
                None => writeln!(f, "  {}: {}", self.path.display(), e.message)?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Reads and parses a pipeline file into the raw model (syntax and unknown keys only).
pub fn load(path: &Path) -> Result<(String, raw::RawPipeline), SpecErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| SpecErrors {
        path: path.to_path_buf(),
        text: String::new(),
        errors: vec![SpecError { span: None, message: format!("cannot read the pipeline file: {e}") }],
    })?;
    match toml::from_str::<raw::RawPipeline>(&text) {
        Ok(raw) => Ok((text, raw)),
        Err(e) => Err(SpecErrors { path: path.to_path_buf(), errors: vec![SpecError { span: e.span(), message: with_suggestion(e.message().trim()) }], text }),
    }
}

/// Adds "did you mean" to serde's "unknown field `x`, expected one of `a`, `b`" messages.
fn with_suggestion(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else { return message.to_string() };
    let Some((field, expected)) = rest.split_once("`, expected one of ") else { return message.to_string() };
    let candidates: Vec<&str> = expected.split(", ").map(|c| c.trim_matches('`')).collect();
    match closest(field, candidates.iter().copied()) {
        Some(best) => format!("unknown key `{field}`; did you mean `{best}`? (keys allowed here: {expected})"),
        None => format!("unknown key `{field}` (keys allowed here: {expected})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters() {
        let text = "a = 1\n名称 = x\n";
        assert_eq!(SpecErrors::line_col(text, text.find('x').unwrap()), (2, 6));
    }
}
