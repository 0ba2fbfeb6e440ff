//! `duibiao check`: compile the pipeline, check it against the real files, parse the start of
//! the first file of each source, and say what would happen. Writes nothing.

use crate::commands::cli::CheckArgs;
use crate::commands::terminal::line;
use crate::ingest;
use crate::job;

/// Blocks (a few megabytes each) of the first file that `check` parses.
const SAMPLE_BLOCKS: usize = 4;

pub fn run(args: &CheckArgs) -> anyhow::Result<()> {
    let plan = job::prepare(&args.pipeline)?;
    // A run would refuse to replace what is at the output path: say so now.
    crate::store::marker::check_replaceable(&plan.output_dir).map_err(job::error::JobError::OutputFolder)?;
    line(format_args!("{}: 作业文件正确 · the pipeline compiles and matches its files", args.pipeline.display()))?;
    for source in &plan.sources {
        let files = ingest::preflight::source_files(source).map_err(anyhow::Error::msg)?;
        let sample = ingest::ingest_source(&plan, source, &files[..1], None, ingest::Destination::Nowhere, Some(SAMPLE_BLOCKS)).map_err(anyhow::Error::msg)?;
        let c = &sample.counts;
        let mut reasons: Vec<(String, usize)> = Vec::new();
        for r in &sample.rejects {
            // Duplicates each name their first copy; counted together here.
            let reason = match r.kind {
                ingest::RejectKind::Duplicate => "完全重复的行 · exact duplicate rows".to_string(),
                _ => r.reason.clone(),
            };
            match reasons.iter_mut().find(|(known, _)| known == &reason) {
                Some(entry) => entry.1 += 1,
                None => reasons.push((reason, 1)),
            }
        }
        reasons.sort_by(|a, b| b.1.cmp(&a.1));
        line(format_args!(
            "  {:<18} {} file(s); sample {}: {} rows read, {} accepted, {} rejected, {} dropped, {} duplicates",
            source.name,
            files.len(),
            sample.files[0].path,
            c.rows_read,
            c.accepted,
            c.rejected,
            c.dropped,
            c.duplicates
        ))?;
        for (reason, n) in reasons.iter().take(3) {
            line(format_args!("      {n} × {reason}"))?;
        }
    }
    Ok(())
}
