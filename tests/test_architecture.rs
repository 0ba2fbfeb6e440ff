//! The module graph: every `crate::` path in `src/` points to the same layer or one below it, in
//! the order ARCHITECTURE.md declares, so the layers cannot form an import cycle; and the paths
//! of the output folder are spelled only in `store::layout`.
//!
//! Reads the source text (no compiler help): the `crate::<module>` paths of each file, with
//! comments removed, and `super::` paths that leave a layer's top folder.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::testenv::repo;

/// The layers as ARCHITECTURE.md lists them, bottom first: the line starting with
/// "Layers, bottom to top:" names them in backticks.
fn declared_layers() -> Vec<String> {
    let doc = std::fs::read_to_string(repo().join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    let line = doc.lines().find(|l| l.starts_with("Layers, bottom to top:")).expect("ARCHITECTURE.md declares 'Layers, bottom to top:'");
    line.split('`').skip(1).step_by(2).map(str::to_string).collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module of a file under src/ (None for lib.rs and main.rs).
fn layer_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy().into_owned();
    match first.strip_suffix(".rs") {
        Some("lib" | "main") => None,
        Some(stem) => Some(stem.to_string()),
        None => Some(first),
    }
}

/// Code without `//` comments (doc comments included); string contents stay.
fn without_comments(text: &str) -> String {
    text.lines().map(|l| l.find("//").map_or(l, |i| &l[..i])).collect::<Vec<_>>().join("\n")
}

/// The top-level modules a file's code names, with the line of the first mention of each.
fn imports(code: &str, file_is_layer_root: bool) -> BTreeMap<String, usize> {
    let mut found = BTreeMap::new();
    for (n, line) in code.lines().enumerate() {
        // `crate::x` anywhere; `super::x` only from a layer's mod.rs, where super is the crate root.
        let prefixes: &[&str] = if file_is_layer_root { &["crate::", "super::"] } else { &["crate::"] };
        for prefix in prefixes {
            let mut rest = line;
            while let Some(i) = rest.find(prefix) {
                let preceded_by_ident = rest[..i].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
                rest = &rest[i + prefix.len()..];
                if preceded_by_ident {
                    continue;
                }
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if !name.is_empty() && rest[name.len()..].starts_with("::") {
                    found.entry(name).or_insert(n + 1);
                }
            }
        }
    }
    found
}

#[test]
fn layers_import_only_downwards() {
    let layers = declared_layers();
    assert!(layers.len() > 5, "ARCHITECTURE.md lists the layers: {layers:?}");
    let rank: BTreeMap<&str, usize> = layers.iter().enumerate().map(|(i, l)| (l.as_str(), i)).collect();
    let src = repo().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut problems = Vec::new();
    let mut seen_layers = std::collections::BTreeSet::new();
    for file in &files {
        let Some(layer) = layer_of(&src, file) else { continue };
        seen_layers.insert(layer.clone());
        let Some(&own) = rank.get(layer.as_str()) else {
            problems.push(format!("{}: module '{layer}' is not among the layers of ARCHITECTURE.md", file.display()));
            continue;
        };
        let is_root = file.file_name().is_some_and(|f| f == "mod.rs") && file.parent() == Some(src.join(&layer).as_path());
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        for (target, line) in imports(&code, is_root) {
            if target == layer {
                continue;
            }
            match rank.get(target.as_str()) {
                Some(&other) if other < own => {}
                Some(_) => problems.push(format!(
                    "{}:{line}: '{layer}' imports '{target}', which is not below it (layers, bottom to top: {})",
                    file.display(),
                    layers.join(" → ")
                )),
                None => problems.push(format!("{}:{line}: '{layer}' imports unknown module '{target}'", file.display())),
            }
        }
    }
    for layer in &layers {
        assert!(seen_layers.contains(layer), "ARCHITECTURE.md lists '{layer}', which is not a module under src/");
    }
    assert!(problems.is_empty(), "import direction violated:\n{}", problems.join("\n"));
}

/// The reader itself: a planted upward import is found, a comment is not.
#[test]
fn the_import_reader_sees_paths_not_comments() {
    let code = without_comments("use crate::base::period::Period; // crate::job::run\nlet x = crate::output::tables::write_panel(p);\nsuper::spec::x();");
    let found: Vec<String> = imports(&code, false).into_keys().collect();
    assert_eq!(found, ["base", "output"]);
    let found: Vec<String> = imports(&code, true).into_keys().collect();
    assert_eq!(found, ["base", "output", "spec"]);
}

/// File names of the output folder appear as literals only in src/store/layout.rs (the sample
/// generator writes the sample's own files, not a run's output, and is not checked).
#[test]
fn output_paths_are_spelled_only_in_the_layout() {
    let src = repo().join("src");
    let layout = src.join("store/layout.rs");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let spelled = [
        "\"manifest.json\"",
        "\"report.html\"",
        "\"views.sql\"",
        "\"curated\"",
        "\"curated/",
        "\"period=",
        "\"data.parquet\"",
        "\"part-0.parquet\"",
        "\"panel.parquet\"",
        "\"panel_long.parquet\"",
        "\"correlations.parquet\"",
        "\"quality/",
    ];
    let mut problems = Vec::new();
    for file in files.iter().filter(|f| **f != layout && !f.starts_with(src.join("sample"))) {
        let code = without_comments(&std::fs::read_to_string(file).unwrap());
        for (n, line) in code.lines().enumerate() {
            for literal in spelled.iter().filter(|l| line.contains(*l)) {
                problems.push(format!("{}:{}: {literal}…", file.display(), n + 1));
            }
        }
    }
    assert!(problems.is_empty(), "output paths belong in src/store/layout.rs:\n{}", problems.join("\n"));
}
