//! The marker of a duibiao output folder. Every published output carries the file
//! `layout::MARKER` naming the run that wrote it; a run replaces an existing folder only if it
//! carries that marker (or, for outputs of versions before the marker, a manifest written by
//! duibiao), or is empty. Anything else at the output path is the user's and is left alone.

use std::path::Path;

use super::error::StoreError;
use super::layout;

/// Writes the marker into a folder about to be published.
pub fn write(out: &Path, run_id: &str) -> Result<(), StoreError> {
    let path = layout::marker(out);
    let text = format!(
        "duibiao {} output, run {run_id}\nThis folder is replaced as a whole by each run of its pipeline. · 此目录由作业每次运行整体替换。\n",
        env!("CARGO_PKG_VERSION")
    );
    std::fs::write(&path, text).map_err(|source| StoreError::Write { path, source })
}

/// The run id a marker names, if the folder has one.
#[cfg(test)]
pub fn run_id(out: &Path) -> Option<String> {
    let text = std::fs::read_to_string(layout::marker(out)).ok()?;
    let first = text.lines().next()?;
    first.rsplit_once(", run ").map(|(_, id)| id.trim().to_string())
}

/// Whether a run may replace what is at `out`: nothing there, an empty folder, or a folder a run
/// marked as its output. A symbolic link, a file, or a folder of someone else's files is refused.
pub(crate) fn check_replaceable(out: &Path) -> Result<(), StoreError> {
    let meta = match std::fs::symlink_metadata(out) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(StoreError::Create { path: out.to_path_buf(), source }),
    };
    if meta.file_type().is_symlink() {
        return Err(StoreError::NotAFolder { path: out.to_path_buf(), what: "a symbolic link" });
    }
    if !meta.is_dir() {
        return Err(StoreError::NotAFolder { path: out.to_path_buf(), what: "a file" });
    }
    if layout::marker(out).is_file() || written_by_duibiao(out) {
        return Ok(());
    }
    let empty = std::fs::read_dir(out).map(|mut entries| entries.next().is_none()).unwrap_or(false);
    if empty {
        return Ok(());
    }
    Err(StoreError::NotAnOutput { path: out.to_path_buf(), marker: layout::MARKER })
}

/// An output of a version before the marker: its manifest says duibiao wrote it.
fn written_by_duibiao(out: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(out.join(layout::MANIFEST)) else { return false };
    let Ok(manifest) = serde_json::from_str::<serde_json::Value>(&text) else { return false };
    manifest["tool"] == "duibiao" && manifest["run_id"].is_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_marked_or_empty_folders_are_replaceable() {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        assert!(check_replaceable(&out).is_ok(), "missing");
        std::fs::create_dir(&out).unwrap();
        assert!(check_replaceable(&out).is_ok(), "empty");
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let e = check_replaceable(&out).unwrap_err();
        assert!(matches!(e, StoreError::NotAnOutput { .. }) && e.to_string().contains(".duibiao-output"), "{e}");
        write(&out, "20200101T000000Z-1").unwrap();
        assert!(check_replaceable(&out).is_ok(), "marked");
        assert_eq!(run_id(&out).as_deref(), Some("20200101T000000Z-1"));

        let legacy = tmp.path().join("legacy");
        std::fs::create_dir(&legacy).unwrap();
        std::fs::write(legacy.join(layout::MANIFEST), r#"{"tool": "other", "run_id": "x"}"#).unwrap();
        assert!(check_replaceable(&legacy).is_err(), "someone else's manifest");
        std::fs::write(legacy.join(layout::MANIFEST), r#"{"tool": "duibiao", "run_id": "x"}"#).unwrap();
        assert!(check_replaceable(&legacy).is_ok(), "manifest of an earlier duibiao");

        let file = tmp.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(matches!(check_replaceable(&file), Err(StoreError::NotAFolder { .. })));
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&out, &link).unwrap();
        assert!(matches!(check_replaceable(&link), Err(StoreError::NotAFolder { .. })));
    }
}
