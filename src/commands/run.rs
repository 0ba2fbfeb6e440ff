//! `duibiao run`: run the job and print a closing summary (or the manifest as JSON).

use crate::base::vocab::Vocabulary;
use crate::commands::cli::RunArgs;
use crate::commands::terminal::line;
use crate::job::{self, RunOptions};
use crate::output::manifest::Manifest;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let options = RunOptions { period: args.period, quiet: args.quiet || args.json, lang: args.lang };
    let report = job::run(&args.pipeline, &options)?;
    if args.json {
        line(serde_json::to_string_pretty(&report.manifest)?)?;
        return Ok(());
    }
    line(summary_table(&report.manifest))?;
    let top = crate::analysis::strongest(&report.findings, 10);
    if !top.is_empty() {
        line("\n最强的关联（校正后 p < 0.05，Pearson）· strongest associations (adjusted p < 0.05, Pearson):")?;
        line(format_args!("{:<8} {:>3}  {:>6} {:>17} {:>9}  {}", "口径", "滞后", "r", "95% CI", "p_adj", "特征 → 指标 feature → indicator"))?;
        for f in top {
            line(format_args!(
                "{:<8} {:>3}  {:>+6.2} [{:>+6.2}, {:>+6.2}] {:>9.1e}  {} → {}{}",
                f.scope.name(),
                f.lag,
                f.r.unwrap_or(f64::NAN),
                f.ci_low.unwrap_or(f64::NAN),
                f.ci_high.unwrap_or(f64::NAN),
                f.p_adjusted.unwrap_or(f64::NAN),
                f.feature_label,
                f.indicator_label,
                if f.r_better.unwrap_or(0.0) > 0.0 { "  (更好 better)" } else { "  (更差 worse)" }
            ))?;
        }
    }
    line(format_args!("输出 output: {}  (run {})", report.output.display(), report.manifest.run_id))?;
    Ok(())
}

/// The per-source row accounting as a text table.
pub fn summary_table(manifest: &Manifest) -> String {
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
