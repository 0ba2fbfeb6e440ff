//! Build script: records the commit the binary is built from, for the `created_by` field of
//! every Parquet file it writes ("duibiao version 0.1.0 (build <commit>)"). Without git or
//! outside a repository the build is "unknown".

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).filter(|c| c.chars().all(|ch| ch.is_ascii_hexdigit()));
    println!("cargo:rustc-env=DUIBIAO_BUILD={}", commit.as_deref().unwrap_or("unknown"));
    // Rebuild when HEAD moves (a commit, checkout or reset updates the HEAD reflog).
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/logs/HEAD");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
