//! `analysis.duckdb`: the database BI tools connect to (FineBI, Power BI or Tableau through the
//! DuckDB ODBC/JDBC driver, DBeaver), holding the views of `views.sql` with absolute paths.
//!
//! DuckDB resolves a relative path in a view against the working directory of the process that
//! queries it (or its `file_search_path` setting), never against the database file's folder, so a
//! driver opening a database of relative views from anywhere else finds no files. The database
//! therefore stores absolute paths, written on each run and rewritten by `duibiao views OUT_DIR`
//! after the folder moved; `views.sql` keeps the relative paths for a DuckDB session started
//! inside the folder.
//!
//! duibiao does not link DuckDB (its bundled C++ build would cost more than the rest of the
//! project's build); it drives a DuckDB the machine has: the DuckDB command-line program, or a
//! Python with the `duckdb` package. The file is written in storage version v1.0.0, which DuckDB
//! 1.0 and every later version open (DuckDB 1.2 and later write newer versions only on request).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// File name of the database in the output folder.
pub use crate::store::layout::DATABASE;

/// Storage version written: the oldest DuckDB 1.x reads it.
pub(crate) const STORAGE_VERSION: &str = "v1.0.0";

/// Storage number in the file header for DuckDB v0.9 - v1.1 files, and for files written by later
/// versions with STORAGE_VERSION 'v1.0.0'.
const STORAGE_NUMBER_V1_0: u64 = 64;

/// Why the database could not be written, or no DuckDB could be used: the program, file or
/// folder is named; an I/O error is kept as the cause (as a field shown inside the message where
/// the message goes on after it).
#[derive(Debug, thiserror::Error)]
pub(crate) enum BiError {
    /// A program could not be started, fed or waited for.
    #[error("{}", program.display())]
    Program {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} ({banner}) has no duckdb package (pip install duckdb)", program.display())]
    NoDuckdbPackage { program: PathBuf, banner: String },
    #[error("{}: unexpected duckdb version '{text}'", program.display())]
    UnexpectedVersion { program: PathBuf, text: String },
    #[error("{} is neither the DuckDB command-line program nor a Python (it answered '{answer}')", program.display())]
    NotDuckdb { program: PathBuf, answer: String },
    #[error("views.sql: unterminated path literal")]
    UnterminatedLiteral,
    #[error("{}: the folder's path is not valid Unicode", folder.display())]
    NotUnicode { folder: PathBuf },
    #[error(
        "{}: 路径中含有字符 '{wildcard}'，DuckDB 会把它当作通配符；请换一个文件夹名 · the folder's path contains '{wildcard}', which DuckDB reads as a \
         wildcard in file paths; rename or move the folder",
        folder.display()
    )]
    Wildcard { folder: PathBuf, wildcard: char },
    #[error(
        "{}: 路径中的文件夹名 '{part}' 含有 '='，DuckDB 会把它当作分区列；请换一个文件夹名 · the folder '{part}' in the path \
         contains '=', which DuckDB reads as a partition column in every view; rename or move the folder",
        folder.display()
    )]
    PartitionLike { folder: PathBuf, part: String },
    #[error("{engine}: DuckDB older than 1.0 cannot write a database DuckDB 1.x drivers open; use DuckDB 1.0 or later")]
    TooOld { engine: String },
    /// The output folder's absolute path cannot be found.
    #[error("{}", folder.display())]
    Absolute {
        folder: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {error} (is this a duibiao output folder?)", path.display())]
    NoViews { path: PathBuf, error: std::io::Error },
    #[error("{engine} could not create the views: {said}")]
    ViewsFailed { engine: String, said: String },
    #[error("cannot replace {}: {error} (close BI connections to it and run: duibiao views {})", target.display(), folder.display())]
    Replace { target: PathBuf, folder: PathBuf, error: std::io::Error },
    /// The database just written cannot be read back.
    #[error("{}", path.display())]
    ReadBack {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a DuckDB database file", path.display())]
    NotDuckdbFile { path: PathBuf },
    #[error(
        "{}: written in storage number {number}, which DuckDB 1.x drivers cannot open (expected {STORAGE_NUMBER_V1_0}, storage {STORAGE_VERSION})",
        path.display()
    )]
    StorageNumber { path: PathBuf, number: u64 },
}

/// Environment variable naming the DuckDB program or Python to use, like `--duckdb`.
pub(crate) const ENV: &str = "DUIBIAO_DUCKDB";

/// How DuckDB is driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EngineKind {
    /// The DuckDB command-line program, SQL on standard input.
    Cli,
    /// A Python interpreter with the `duckdb` package.
    Python,
}

/// A DuckDB found on this machine.
#[derive(Debug, Clone)]
pub(crate) struct Engine {
    pub kind: EngineKind,
    pub program: PathBuf,
    /// DuckDB version, e.g. (2, 0, 1).
    pub version: (u32, u32, u32),
}

impl Engine {
    pub fn describe(&self) -> String {
        let (a, b, c) = self.version;
        let via = match self.kind {
            EngineKind::Cli => "DuckDB CLI",
            EngineKind::Python => "Python duckdb",
        };
        format!("DuckDB {a}.{b}.{c} ({via} {})", self.program.display())
    }
}

/// Which DuckDB to use: the `--duckdb` value if given, else $DUIBIAO_DUCKDB, else a search.
#[derive(Debug, Clone)]
pub(crate) enum Choice {
    /// `--duckdb none`: write no database.
    Off,
    /// A program named by the user (flag or environment): it must work.
    Named(PathBuf),
    /// Look for `duckdb`, then `python3` / `python` with the duckdb package, on PATH.
    Search,
}

impl Choice {
    pub(crate) fn from_flag(flag: Option<&Path>) -> Choice {
        let named = flag.map(Path::to_path_buf).or_else(|| std::env::var_os(ENV).filter(|v| !v.is_empty()).map(PathBuf::from));
        match named {
            Some(p) if p.as_os_str() == "none" => Choice::Off,
            Some(p) => Choice::Named(p),
            None => Choice::Search,
        }
    }
}

/// What to tell a user who has no DuckDB (Chinese, then English).
pub(crate) fn install_hint(out: &Path) -> String {
    format!(
        "未找到 DuckDB，无法写入 {DATABASE}（views.sql 不受影响）。请安装 DuckDB 命令行程序（duckdb / duckdb.exe，放在 PATH 中）\
         或带 duckdb 包的 Python（pip install duckdb），或用 --duckdb 路径 / 环境变量 {ENV} 指定，然后运行：duibiao views {out}\n\
         no DuckDB found to write {DATABASE} (views.sql is unaffected). Install the DuckDB command-line program \
         (duckdb / duckdb.exe on PATH) or Python's duckdb package (pip install duckdb), or name one with --duckdb PATH \
         or {ENV}; then run: duibiao views {out}",
        out = out.display()
    )
}

/// Parses "v2.0.1", "1.0.0", "1.1.4.dev12" into (major, minor, patch).
fn parse_version(text: &str) -> Option<(u32, u32, u32)> {
    let text = text.trim().trim_start_matches('v');
    let mut parts = text.split(|c: char| !c.is_ascii_digit()).filter(|p| !p.is_empty());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?, parts.next().and_then(|p| p.parse().ok()).unwrap_or(0)))
}

fn output_text(out: &std::process::Output) -> String {
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    text.trim().to_string()
}

/// Python code that prints the duckdb package's version.
const PY_VERSION: &str = "import duckdb; print(duckdb.__version__)";

/// Python code that runs the SQL read from standard input (UTF-8) in an in-memory DuckDB.
const PY_RUN: &str = "import sys, duckdb\ncon = duckdb.connect()\ncon.execute(sys.stdin.buffer.read().decode('utf-8'))\ncon.close()\n";

/// Asks `program` what it is: the DuckDB CLI or a Python with duckdb; Err says why neither.
pub(crate) fn probe(program: &Path) -> Result<Engine, BiError> {
    let failed = |source| BiError::Program { program: program.to_path_buf(), source };
    let version = Command::new(program).arg("--version").stdin(Stdio::null()).output().map_err(failed)?;
    let banner = output_text(&version);
    if banner.starts_with("Python") {
        let out = Command::new(program).args(["-c", PY_VERSION]).stdin(Stdio::null()).output().map_err(failed)?;
        if !out.status.success() {
            return Err(BiError::NoDuckdbPackage { program: program.to_path_buf(), banner });
        }
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let version = parse_version(&text).ok_or_else(|| BiError::UnexpectedVersion { program: program.to_path_buf(), text: text.clone() })?;
        return Ok(Engine { kind: EngineKind::Python, program: program.to_path_buf(), version });
    }
    let out = Command::new(program).args(["-noheader", "-list", "-c", "SELECT version();"]).stdin(Stdio::null()).output().map_err(failed)?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match parse_version(&text) {
        Some(version) if out.status.success() && text.starts_with('v') => Ok(Engine { kind: EngineKind::Cli, program: program.to_path_buf(), version }),
        _ => Err(BiError::NotDuckdb { program: program.to_path_buf(), answer: banner.lines().next().unwrap_or("").to_string() }),
    }
}

/// Finds the DuckDB to use. Ok(None): none wanted (`--duckdb none`) or none found by searching.
pub fn find(choice: &Choice) -> Result<Option<Engine>, BiError> {
    match choice {
        Choice::Off => Ok(None),
        Choice::Named(program) => probe(program).map(Some),
        Choice::Search => Ok(["duckdb", "python3", "python"].iter().find_map(|p| probe(Path::new(p)).ok())),
    }
}

/// The views of `views.sql` with every relative path in `read_parquet('...')` made absolute under
/// `folder` (already absolute). Errors when the folder's path cannot be written into a DuckDB
/// path literal faithfully.
pub(crate) fn absolute_views(views_sql: &str, folder: &Path) -> Result<String, BiError> {
    let base = sql_path(folder)?;
    let marker = "read_parquet('";
    let mut out = String::with_capacity(views_sql.len() + 4096);
    let mut rest = views_sql;
    while let Some(at) = rest.find(marker) {
        let start = at + marker.len();
        out.push_str(&rest[..start]);
        // The literal runs to the next quote that is not doubled.
        let body = &rest[start..];
        let mut end = None;
        let mut chars = body.char_indices().peekable();
        while let Some((i, c)) = chars.next() {
            if c == '\'' {
                if chars.peek().is_some_and(|(_, n)| *n == '\'') {
                    chars.next();
                } else {
                    end = Some(i);
                    break;
                }
            }
        }
        let end = end.ok_or(BiError::UnterminatedLiteral)?;
        let literal = &body[..end];
        let path = literal.replace("''", "'");
        if is_absolute_sql_path(&path) {
            out.push_str(literal);
        } else {
            let joined = format!("{base}/{}", path.trim_start_matches("./"));
            out.push_str(&joined.replace('\'', "''"));
        }
        rest = &body[end..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_absolute_sql_path(path: &str) -> bool {
    let b = path.as_bytes();
    path.starts_with('/') || path.starts_with('\\') || path.contains("://") || (b.len() > 2 && b[0].is_ascii_alphabetic() && b[1] == b':')
}

/// A folder as DuckDB should see it in a path: forward slashes, no trailing slash. Refuses
/// characters DuckDB would read as a glob pattern, which would make the views find nothing or
/// the wrong files.
fn sql_path(folder: &Path) -> Result<String, BiError> {
    let text = folder.to_str().ok_or_else(|| BiError::NotUnicode { folder: folder.to_path_buf() })?;
    let text = if cfg!(windows) { text.replace('\\', "/") } else { text.to_string() };
    let text = text.trim_end_matches('/').to_string();
    if let Some(c) = text.chars().find(|c| matches!(c, '*' | '?' | '[' | ']' | '{' | '}')) {
        return Err(BiError::Wildcard { folder: folder.to_path_buf(), wildcard: c });
    }
    // DuckDB reads every `key=value` folder in a path as a Hive partition column.
    if let Some(part) = text.split('/').find(|p| p.contains('=')) {
        return Err(BiError::PartitionLike { folder: folder.to_path_buf(), part: part.to_string() });
    }
    Ok(if text.is_empty() { "/".into() } else { text })
}

/// Writes `out/analysis.duckdb` from `out/views.sql`, with absolute paths, through `engine`.
/// The database is built beside the target and renamed over it, so a failure leaves no
/// half-written file. Returns the database path.
pub(crate) fn write_database(out: &Path, engine: &Engine) -> Result<PathBuf, BiError> {
    let (major, minor, _) = engine.version;
    if major < 1 {
        return Err(BiError::TooOld { engine: engine.describe() });
    }
    let folder = std::path::absolute(out).map_err(|source| BiError::Absolute { folder: out.to_path_buf(), source })?;
    let views_path = folder.join(crate::store::layout::VIEWS);
    let views = std::fs::read_to_string(&views_path).map_err(|error| BiError::NoViews { path: views_path.clone(), error })?;
    let views = absolute_views(&views, &folder)?;

    let target = folder.join(DATABASE);
    let staging = folder.join(format!(".{DATABASE}.tmp-{}", std::process::id()));
    let remove_staging = || {
        let _ = std::fs::remove_file(&staging);
        let _ = std::fs::remove_file(staging.with_file_name(format!(".{DATABASE}.tmp-{}.wal", std::process::id())));
    };
    remove_staging();
    // DuckDB 1.0 and 1.1 write storage v1.0.0 by default and do not know the option.
    let option = if (major, minor) >= (1, 2) { format!(" (STORAGE_VERSION '{STORAGE_VERSION}')") } else { String::new() };
    let script = format!("ATTACH '{}' AS analysis{option};\nUSE analysis;\n{views}\nUSE memory;\nDETACH analysis;\n", sql_path(&staging)?.replace('\'', "''"));

    let mut command = Command::new(&engine.program);
    match engine.kind {
        EngineKind::Cli => command.args(["-batch", "-bail"]),
        EngineKind::Python => command.args(["-c", PY_RUN]),
    };
    let failed = |source| BiError::Program { program: engine.program.clone(), source };
    let result = (|| {
        let mut child = command.current_dir(&folder).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(failed)?;
        child.stdin.take().unwrap().write_all(script.as_bytes()).map_err(failed)?;
        let done = child.wait_with_output().map_err(failed)?;
        let said = output_text(&done);
        // The CLI may report an error on standard error and still exit 0 in some versions.
        if !done.status.success() || said.contains("Error:") {
            return Err(BiError::ViewsFailed { engine: engine.describe(), said });
        }
        check_header(&staging)?;
        // A journal left by a driver that had the previous database open belongs to that file.
        let _ = std::fs::remove_file(folder.join(format!("{DATABASE}.wal")));
        std::fs::rename(&staging, &target).map_err(|error| BiError::Replace { target: target.clone(), folder: folder.clone(), error })
    })();
    if result.is_err() {
        remove_staging();
    }
    result.map(|()| target)
}

/// Checks the file header: DuckDB's magic and the storage number DuckDB 1.0 reads.
fn check_header(path: &Path) -> Result<(), BiError> {
    let bytes = std::fs::read(path).map_err(|source| BiError::ReadBack { path: path.to_path_buf(), source })?;
    if bytes.len() < 20 || &bytes[8..12] != b"DUCK" {
        return Err(BiError::NotDuckdbFile { path: path.to_path_buf() });
    }
    let number = u64::from_le_bytes(bytes[12..20].try_into().unwrap());
    if number != STORAGE_NUMBER_V1_0 {
        return Err(BiError::StorageNumber { path: path.to_path_buf(), number });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_become_absolute_and_others_stay() {
        let sql = "CREATE VIEW a AS SELECT * FROM read_parquet('panel.parquet');\n\
                   CREATE VIEW b AS SELECT * FROM read_parquet('curated/fee/period=*/*.parquet', hive_partitioning = true);\n\
                   CREATE VIEW c AS SELECT * FROM read_parquet('/data/x.parquet');\n\
                   CREATE VIEW d AS SELECT 'read_parquet' AS t FROM read_parquet('it''s.parquet');";
        let got = absolute_views(sql, Path::new("/srv/对标/out")).unwrap();
        assert!(got.contains("read_parquet('/srv/对标/out/panel.parquet')"), "{got}");
        assert!(got.contains("read_parquet('/srv/对标/out/curated/fee/period=*/*.parquet', hive_partitioning = true)"), "{got}");
        assert!(got.contains("read_parquet('/data/x.parquet')"), "{got}");
        assert!(got.contains("SELECT 'read_parquet' AS t FROM read_parquet('/srv/对标/out/it''s.parquet')"), "{got}");
    }

    #[test]
    fn quotes_in_the_folder_are_escaped_and_wildcards_refused() {
        let got = absolute_views("FROM read_parquet('panel.parquet')", Path::new("/srv/o'neil")).unwrap();
        assert_eq!(got, "FROM read_parquet('/srv/o''neil/panel.parquet')");
        let err = absolute_views("FROM read_parquet('panel.parquet')", Path::new("/srv/out[2020]")).unwrap_err().to_string();
        assert!(err.contains('['), "{err}");
        let err = absolute_views("FROM read_parquet('panel.parquet')", Path::new("/srv/run=7/out")).unwrap_err().to_string();
        assert!(err.contains("run=7"), "{err}");
    }

    #[test]
    fn versions_parse_from_both_engines() {
        assert_eq!(parse_version("v2.0.1"), Some((2, 0, 1)));
        assert_eq!(parse_version("1.0.0"), Some((1, 0, 0)));
        assert_eq!(parse_version("1.1.4.dev12"), Some((1, 1, 4)));
        assert_eq!(parse_version("Python"), None);
    }
}
