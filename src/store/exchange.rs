//! Atomic exchange of two folders: `renameat2(RENAME_EXCHANGE)` on Linux swaps two names in one
//! step, so the output name always points at a whole output, the previous or the new one.
//! Where the call or the file system does not support it, `exchange` says so and publish falls
//! back to two renames (`store::staging`).

use std::path::Path;

/// What an exchange did.
#[derive(Debug)]
pub(crate) enum Exchanged {
    /// The two folders swapped names.
    Done,
    /// Not supported here (platform, kernel or file system); nothing was changed.
    Unsupported,
}

/// Swaps the names of `a` and `b` (both must exist).
#[cfg(target_os = "linux")]
pub(crate) fn exchange(a: &Path, b: &Path) -> std::io::Result<Exchanged> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt as _;
    let c = |p: &Path| CString::new(p.as_os_str().as_bytes()).map_err(std::io::Error::other);
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both paths are NUL-terminated strings that live across the call.
    let done = unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), libc::RENAME_EXCHANGE) };
    if done == 0 {
        return Ok(Exchanged::Done);
    }
    let error = std::io::Error::last_os_error();
    match error.raw_os_error() {
        // EINVAL: the file system does not support the flag; ENOSYS: the kernel (or a sandbox)
        // lacks the call; EOPNOTSUPP: some network and FUSE file systems.
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP) => Ok(Exchanged::Unsupported),
        _ => Err(error),
    }
}

/// Other platforms have no exchange here; publish uses its fallback.
#[cfg(not(target_os = "linux"))]
pub(crate) fn exchange(_a: &Path, _b: &Path) -> std::io::Result<Exchanged> {
    Ok(Exchanged::Unsupported)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_folders_swap_names() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("from_a"), "").unwrap();
        std::fs::write(b.join("from_b"), "").unwrap();
        match exchange(&a, &b).unwrap() {
            Exchanged::Done => {
                assert!(a.join("from_b").exists() && b.join("from_a").exists());
            }
            Exchanged::Unsupported => assert!(a.join("from_a").exists() && b.join("from_b").exists()),
        }
        if cfg!(target_os = "linux") {
            assert!(exchange(&a, &tmp.path().join("missing")).is_err());
        }
    }
}
