//! `duibiao init DIR`: the command a new region starts with. It reads every export in a folder
//! and writes a commented draft pipeline: one source per kind of file (same folder, same
//! headers), each with its encoding, header row, total rows, column types and formats, the
//! period (a column, the file name, the title line or the sheet name) and the station column,
//! found by matching values against the station master with the identity rules the run uses.
//! Indicators and features, which no file can tell, are commented templates. It never
//! overwrites a file.

mod draft;
mod infer;
mod sniff;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::commands::cli::{CheckArgs, InitArgs};
use crate::commands::exit::UsageError;
use crate::commands::terminal::line;

/// Reads the folder, writes the draft (never over an existing file) and checks it.
pub fn run(args: &InitArgs) -> anyhow::Result<()> {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(UsageError(format!(
            "{} 不是文件夹 · {} is not a folder; give the folder holding the exports, e.g. duibiao init exports/",
            dir.display(),
            dir.display()
        ))
        .into());
    }
    let name = args.name.clone().unwrap_or_else(|| draft::pipeline_name(dir));
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("pipelines").join(format!("{name}.toml")));
    if out.exists() || out.is_symlink() {
        return Err(UsageError(format!(
            "{} 已存在，init 不会覆盖 · {} exists; init never overwrites a file: give another --out, or move the file away",
            out.display(),
            out.display()
        ))
        .into());
    }
    let files = export_files(dir)?;
    let draft = draft::build(dir, args.stations.as_deref(), &files.exports, &out, &name)?;
    let text = draft.render(&files.skipped);
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| UsageError(format!("cannot create {}: {e}", parent.display())))?;
    }
    write_new(&out, &text)?;
    for s in &draft.sources {
        line(format_args!("  {:<20} {} 个文件 file(s)  {}", s.name, s.files.len(), s.summary()))?;
    }
    for note in &draft.notes {
        line(format_args!("  注意 note: {note}"))?;
    }
    line(format_args!(
        "已写入草稿 {} · wrote the draft {} ({} source(s) from {} file(s)); checking it now:",
        out.display(),
        out.display(),
        draft.sources.len(),
        files.exports.len()
    ))?;
    crate::commands::check::run(&CheckArgs { pipeline: out.clone() })?;
    line(format_args!(
        "下一步：填写 [indicators] 与 [features]（文件中有注释模板），然后 duibiao run {} · next: fill in [indicators] and [features] (templates are in the file as comments), then duibiao run {}",
        out.display(),
        out.display()
    ))?;
    Ok(())
}

/// Writes a new file; an existing one is an error (checked again here: create_new is atomic).
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(|e| {
        UsageError(if e.kind() == std::io::ErrorKind::AlreadyExists {
            format!("{} 已存在，init 不会覆盖 · {} exists; init never overwrites a file", path.display(), path.display())
        } else {
            format!("cannot create {}: {e}", path.display())
        })
    })?;
    file.write_all(text.as_bytes()).map_err(|e| UsageError(format!("cannot write {}: {e}", path.display())))?;
    Ok(())
}

struct Found {
    exports: Vec<PathBuf>,
    skipped: Vec<PathBuf>,
}

/// Every CSV and XLSX file under `dir` (sorted), and the other files (listed in the draft).
fn export_files(dir: &Path) -> anyhow::Result<Found> {
    let mut found = Found { exports: Vec::new(), skipped: Vec::new() };
    let mut stack = vec![dir.to_path_buf()];
    let mut seen: BTreeSet<PathBuf> = BTreeSet::new();
    while let Some(folder) = stack.pop() {
        // A symlinked folder that leads back up would loop.
        if let Ok(real) = folder.canonicalize() {
            if !seen.insert(real) {
                continue;
            }
        }
        let entries = std::fs::read_dir(&folder).map_err(|e| UsageError(format!("cannot list {}: {e}", folder.display())))?;
        for entry in entries {
            let path = entry.map_err(|e| UsageError(format!("cannot list {}: {e}", folder.display())))?.path();
            let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.') || n.starts_with("~$"));
            if hidden {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if draft::is_export(&path) {
                found.exports.push(path);
            } else {
                found.skipped.push(path);
            }
        }
    }
    found.exports.sort();
    found.skipped.sort();
    if found.exports.is_empty() {
        return Err(UsageError(format!("{} 中没有 CSV 或 XLSX 文件 · {} holds no CSV or XLSX file", dir.display(), dir.display())).into());
    }
    Ok(found)
}
