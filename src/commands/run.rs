//! `duibiao run`: run the job and print a closing summary (or the manifest as JSON).

use crate::cli::RunArgs;
use crate::job::{self, RunOptions};

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let options = RunOptions { period: args.period, quiet: args.quiet || args.json };
    let report = job::run(&args.pipeline, &options)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report.manifest)?);
        return Ok(());
    }
    println!("{}", summary_table(&report.manifest));
    println!("输出 output: {}  (run {})", report.output.display(), report.manifest.run_id);
    Ok(())
}

/// The per-source row accounting as a text table.
pub fn summary_table(manifest: &job::Manifest) -> String {
    let mut lines = vec![format!(
        "{:<18} {:>6} {:>10} {:>10} {:>8} {:>8} {:>8}",
        "来源 source", "文件", "读入 read", "接受 ok", "拒绝 rej", "删除 drop", "重复 dup"
    )];
    for s in &manifest.sources {
        lines.push(format!(
            "{:<18} {:>6} {:>10} {:>10} {:>8} {:>8} {:>8}",
            s.name,
            s.files.len(),
            s.counts.rows_read,
            s.counts.accepted,
            s.counts.rejected,
            s.counts.dropped,
            s.counts.duplicates
        ));
    }
    lines.join("\n")
}
