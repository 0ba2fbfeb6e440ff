//! Shared helpers: the repository root, a temporary work folder, running the built binary, and
//! reading export files the way a person would (by their stated encoding).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where Cargo.toml is).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed sample.
pub fn sample_data() -> PathBuf {
    repo().join("sample_data")
}

/// Runs the duibiao binary with `args` in `dir`.
pub fn duibiao(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_duibiao")).args(args).current_dir(dir).output().expect("running duibiao")
}

/// Decodes a text export by its stated encoding; panics with the file name on any mismatch.
pub fn decode(path: &Path, encoding: &str) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let has_bom = bytes.starts_with(b"\xEF\xBB\xBF");
    match encoding {
        "utf-8" => {
            assert!(!has_bom, "{}: stated utf-8 without BOM, has a BOM", path.display());
            String::from_utf8(bytes).unwrap_or_else(|_| panic!("{}: not valid UTF-8", path.display()))
        }
        "utf-8-bom" => {
            assert!(has_bom, "{}: stated utf-8 with BOM, has none", path.display());
            String::from_utf8(bytes[3..].to_vec()).unwrap_or_else(|_| panic!("{}: not valid UTF-8", path.display()))
        }
        "gbk" => {
            assert!(std::str::from_utf8(&bytes).is_err(), "{}: stated GBK but reads as UTF-8", path.display());
            let (text, _, errors) = encoding_rs::GBK.decode(&bytes);
            assert!(!errors, "{}: not valid GBK", path.display());
            text.into_owned()
        }
        other => panic!("unknown encoding {other}"),
    }
}

/// Parses CSV text into records (every line, including title and blank lines, as records).
pub fn records(text: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("well-formed CSV").iter().map(str::to_string).collect())
        .collect()
}
