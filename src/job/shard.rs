//! Shardable ingest: several machines ingest disjoint parts of a pipeline (by source × period)
//! into one shard folder each, and a run merges the shards' curated partitions and row
//! accounting instead of ingesting itself.
//!
//! ```text
//! duibiao ingest PIPELINE --into SHARDS --source fee --period 2020Q1 --period 2020Q2
//! duibiao ingest PIPELINE --into SHARDS --source fee --period 2020Q3 --period 2020Q4
//! duibiao ingest PIPELINE --into SHARDS --source stations --source aliases …
//! duibiao run PIPELINE --shards SHARDS [--engine spark …]
//! ```
//!
//! A shard writes `SHARDS/<shard>/curated/…` (the curated layout) and `SHARDS/<shard>/shard.json`:
//! the pipeline's sha256 and, per source and period it ingested, the source's row accounting,
//! file reports, warnings and quarantined rows. Duplicates are searched within a partition, so
//! a period is the unit of a shard. The merge checks that every shard ran the same pipeline
//! file, that no partition comes from two shards, and that the shards of a source read the same
//! files; it then sums what is per period (accepted rows, duplicates, conflicting rows, failed
//! checks) and takes
//! once what every read of the files finds alike (rows read, lines, dropped rows, rows that do
//! not parse), so the merged accounting still adds up: rows read = accepted + rejected + dropped
//! + duplicates + conflicting + rows of periods no shard ingested.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::base::period::Period;
use crate::base::vocab::Vocabulary;
use crate::ingest::{self, FileReport, IngestedSource, Reject, RejectKind, SourceCounts, preflight};
use crate::job::error::JobError;
use crate::spec::plan::Plan;
use crate::store::layout;
use crate::store::staging::copy_tree;

/// The file a shard writes beside its curated folder.
const SHARD_FILE: &str = "shard.json";

/// What one shard ingests: these sources (all when empty) and periods (all when empty).
#[derive(Debug, Clone, Default)]
pub(crate) struct ShardSpec {
    pub name: Option<String>,
    pub sources: Vec<String>,
    pub periods: Vec<Period>,
}

/// A shard's record.
#[derive(Debug, Serialize, Deserialize)]
struct ShardRecord {
    pipeline_sha256: String,
    shard: String,
    parts: Vec<ShardPart>,
}

/// One ingest of one source (one period, or all of a reference table or of an unsharded source).
#[derive(Debug, Serialize, Deserialize)]
struct ShardPart {
    source: String,
    /// The period ingested (None: every period, or a reference table).
    period: Option<String>,
    /// The partitions written (None: a reference table's single file).
    written: Vec<Option<String>>,
    counts: SourceCounts,
    files: Vec<FileReport>,
    warnings: Vec<(String, u64)>,
    rejects: Vec<ShardReject>,
    duplicate_policy: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct ShardReject {
    file: String,
    sheet: Option<String>,
    row: u64,
    column: Option<String>,
    value: Option<String>,
    kind: String,
    reason: String,
}

fn failed(what: String) -> JobError {
    JobError::Shard(what)
}

/// The folder name of a shard: its name, or its sources and periods.
fn shard_name(spec: &ShardSpec) -> String {
    if let Some(n) = &spec.name {
        return n.clone();
    }
    let sources = if spec.sources.is_empty() { "all".to_string() } else { spec.sources.join("+") };
    let periods = if spec.periods.is_empty() { "all".to_string() } else { spec.periods.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("+") };
    format!("{sources}@{periods}")
}

/// Ingests one shard into `into/<shard>/`; returns that folder.
pub(crate) fn ingest_shard(pipeline: &Path, spec: &ShardSpec, into: &Path, quiet: bool) -> Result<PathBuf, JobError> {
    let plan = super::prepare(pipeline)?;
    for name in &spec.sources {
        if !plan.sources.iter().any(|s| &s.name == name) {
            return Err(failed(format!("作业文件中没有来源 '{name}' · the pipeline has no source '{name}'")));
        }
    }
    for p in &spec.periods {
        if p.grain != plan.grain {
            return Err(JobError::PeriodGrain { period: *p, pipeline: pipeline.to_path_buf(), grain: plan.grain });
        }
    }
    let name = shard_name(spec);
    let dir = into.join(&name);
    if dir.exists() {
        return Err(failed(format!("分片目录已存在 · the shard folder {} exists already: remove it to ingest the shard again", dir.display())));
    }
    let curated = layout::curated(&dir);
    std::fs::create_dir_all(&curated).map_err(|source| JobError::Write { path: curated.clone(), source })?;
    let run_id = crate::store::staging::new_run_id();
    let mut parts = Vec::new();
    for source in plan.sources.iter().filter(|s| spec.sources.is_empty() || spec.sources.contains(&s.name)) {
        let files = preflight::source_files(source).map_err(JobError::Ingest)?;
        // A reference table (no period column) is read whole; a source per period asked for.
        let periods: Vec<Option<Period>> =
            if source.period.is_none() || spec.periods.is_empty() { vec![None] } else { spec.periods.iter().copied().map(Some).collect() };
        for only in periods {
            if !quiet {
                eprintln!("导入 ingest {} {}", source.name, only.map(|p| p.to_string()).unwrap_or_default());
            }
            let destination = ingest::Destination::Curated { dir: &curated, run_id: &run_id };
            let done = ingest::ingest_source(&plan, source, &files, only, destination, None).map_err(JobError::Ingest)?;
            parts.push(ShardPart {
                source: source.name.clone(),
                period: only.map(|p| p.to_string()),
                written: done.periods.iter().map(|p| p.map(|p| p.to_string())).collect(),
                counts: done.counts,
                files: done.files,
                warnings: done.warnings,
                rejects: done.rejects.iter().map(shard_reject).collect(),
                duplicate_policy: done.duplicate_policy,
            });
        }
    }
    let record = ShardRecord { pipeline_sha256: plan.spec_sha256.clone(), shard: name, parts };
    let path = dir.join(SHARD_FILE);
    let json = serde_json::to_string_pretty(&record).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    std::fs::write(&path, json).map_err(|source| JobError::Write { path: path.clone(), source })?;
    Ok(dir)
}

fn shard_reject(r: &Reject) -> ShardReject {
    ShardReject {
        file: r.file.clone(),
        sheet: r.sheet.clone(),
        row: r.row,
        column: r.column.clone(),
        value: r.value.clone(),
        kind: r.kind.name().to_string(),
        reason: r.reason.clone(),
    }
}

/// Merges the shards under `shards` into the run's curated folder; returns every source of the
/// plan as if this run had ingested it.
pub(crate) fn merge_shards(plan: &Plan, shards: &Path, curated: &Path) -> Result<Vec<IngestedSource>, JobError> {
    let mut records = Vec::new();
    let entries = std::fs::read_dir(shards).map_err(|e| failed(format!("{}: {e}", shards.display())))?;
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.join(SHARD_FILE).is_file()).collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(failed(format!("{} 中没有分片 · no shard (a folder with {SHARD_FILE}) in {}", shards.display(), shards.display())));
    }
    for dir in &dirs {
        let path = dir.join(SHARD_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        let record: ShardRecord = serde_json::from_str(&text).map_err(|e| failed(format!("{}: {e}", path.display())))?;
        if record.pipeline_sha256 != plan.spec_sha256 {
            return Err(failed(format!(
                "分片 {} 由另一版本的作业文件导入 · shard {} was ingested with another version of the pipeline file (sha256 {}, this one {}): ingest it again",
                dir.display(),
                dir.display(),
                record.pipeline_sha256,
                plan.spec_sha256
            )));
        }
        records.push((dir.clone(), record));
    }

    // Every partition (and reference table) from exactly one shard.
    let mut owner: BTreeMap<(String, Option<String>), PathBuf> = BTreeMap::new();
    for (dir, record) in &records {
        for part in &record.parts {
            for written in &part.written {
                if let Some(other) = owner.insert((part.source.clone(), written.clone()), dir.clone()) {
                    let what = written.clone().map(|p| format!("partition {p}")).unwrap_or_else(|| "reference table".to_string());
                    return Err(failed(format!(
                        "来源 '{}' 的 {what} 同时出现在分片 {} 与 {} 中 · source '{}': its {what} is in shards {} and {}; shards must not overlap",
                        part.source,
                        other.display(),
                        dir.display(),
                        part.source,
                        other.display(),
                        dir.display()
                    )));
                }
            }
        }
    }
    for ((source, written), dir) in &owner {
        let from = layout::curated(dir);
        let (src, dst) = match written {
            Some(p) => {
                let q: Period = p.parse().map_err(|e| failed(format!("{}: {e}", dir.display())))?;
                let name = layout::partition_dir(q);
                (layout::source_dir(&from, source).join(&name), layout::source_dir(curated, source).join(&name))
            }
            None => (layout::reference_file(&from, source), layout::reference_file(curated, source)),
        };
        if src.is_dir() {
            copy_tree(&src, &dst)?;
        } else if src.is_file() {
            let parent = dst.parent().expect("a curated file has a folder");
            std::fs::create_dir_all(parent).map_err(|source| JobError::Write { path: parent.to_path_buf(), source })?;
            std::fs::copy(&src, &dst).map_err(|source| JobError::Write { path: dst.clone(), source })?;
        }
    }

    let mut out = Vec::new();
    for source in &plan.sources {
        let parts: Vec<(&PathBuf, &ShardPart)> =
            records.iter().flat_map(|(d, r)| r.parts.iter().filter(|p| p.source == source.name).map(move |p| (d, p))).collect();
        if parts.is_empty() {
            return Err(failed(format!("没有分片导入来源 '{0}' · no shard ingested source '{0}'", source.name)));
        }
        out.push(merge_source(&source.name, &source.title, &parts)?);
    }
    Ok(out)
}

/// One source's accounting from its parts (each a read of the same files for other periods).
fn merge_source(name: &str, title: &str, parts: &[(&PathBuf, &ShardPart)]) -> Result<IngestedSource, JobError> {
    let (first_dir, first) = parts[0];
    let same_files = |f: &[FileReport]| f.iter().map(|x| (&x.path, &x.sha256)).eq(first.files.iter().map(|x| (&x.path, &x.sha256)));
    for (dir, p) in &parts[1..] {
        if !same_files(&p.files) || p.counts.rows_read != first.counts.rows_read || p.counts.dropped != first.counts.dropped {
            return Err(failed(format!(
                "来源 '{name}' 的分片读到的文件不同 · the shards {} and {} of source '{name}' read different files (or files that changed between them): ingest them again from the same exports",
                first_dir.display(),
                dir.display()
            )));
        }
    }
    let mut counts = first.counts.clone();
    counts.accepted = parts.iter().map(|(_, p)| p.counts.accepted).sum();
    counts.duplicates = parts.iter().map(|(_, p)| p.counts.duplicates).sum();
    counts.conflicting = parts.iter().map(|(_, p)| p.counts.conflicting).sum();
    // Rows that do not parse are found by every read, failed checks by the read of their period.
    let mut seen = BTreeSet::new();
    let mut rejects = Vec::new();
    for (_, p) in parts {
        for r in &p.rejects {
            if seen.insert((r.file.clone(), r.sheet.clone(), r.row, r.kind.clone(), r.column.clone())) {
                let kind = RejectKind::parse(&r.kind).ok_or_else(|| failed(format!("source '{name}': unknown reject kind '{}'", r.kind)))?;
                rejects.push(Reject {
                    source: name.to_string(),
                    file: r.file.clone(),
                    sheet: r.sheet.clone(),
                    row: r.row,
                    column: r.column.clone(),
                    value: r.value.clone(),
                    kind,
                    reason: r.reason.clone(),
                });
            }
        }
    }
    let rejected_rows: BTreeSet<(&str, Option<&str>, u64)> =
        rejects.iter().filter(|r| r.kind == RejectKind::Rejected).map(|r| (r.file.as_str(), r.sheet.as_deref(), r.row)).collect();
    counts.rejected = rejected_rows.len() as u64;
    let placed = counts.accepted + counts.rejected + counts.dropped + counts.duplicates + counts.conflicting;
    counts.other_period = counts.rows_read.checked_sub(placed).ok_or_else(|| {
        failed(format!(
            "来源 '{name}' 的分片行数不守恒 · the shards of source '{name}' account for {placed} rows but read {}: ingest them again",
            counts.rows_read
        ))
    })?;
    let mut warnings: Vec<(String, u64)> = first.warnings.iter().map(|(m, _)| (m.clone(), 0)).collect();
    for (_, p) in parts {
        for (m, n) in &p.warnings {
            if let Some(w) = warnings.iter_mut().find(|(x, _)| x == m) {
                w.1 += n;
            }
        }
    }
    let periods: BTreeSet<Option<Period>> = parts.iter().flat_map(|(_, p)| p.written.iter().map(|w| w.as_ref().and_then(|q| q.parse().ok()))).collect();
    Ok(IngestedSource {
        name: name.to_string(),
        title: title.to_string(),
        files: first.files.clone(),
        counts,
        warnings,
        rejects,
        periods: periods.into_iter().collect(),
        duplicate_policy: first.duplicate_policy.clone(),
    })
}
