//! `duibiao run`: run the job and print a closing summary (or the manifest as JSON).

use super::columns::{left, right};
use crate::analysis::{self, Finding};
use crate::commands::cli::RunArgs;
use crate::commands::terminal::line;
use crate::job::{self, RunOptions};
use crate::output::manifest::Manifest;
use crate::spec::plan::Analysis;

pub fn run(args: &RunArgs) -> anyhow::Result<()> {
    let options =
        RunOptions { period: args.period, quiet: args.quiet || args.json, lang: args.lang, engine: spark_options(args)?, shards: args.shards.clone() };
    let report = job::run(&args.pipeline, &options)?;
    let database = super::views::after_run(&report.output, args.duckdb.as_deref())?;
    if args.json {
        line(serde_json::to_string_pretty(&report.manifest)?)?;
        return Ok(());
    }
    line(summary_table(&report.manifest))?;
    if let Some(note) = unread_note(&report.manifest.unread_files) {
        line(note)?;
    }
    if let Some(table) = strongest_table(&report.findings, &report.analysis) {
        line(format_args!("\n{table}"))?;
    }
    line(format_args!("输出 output: {}  (run {})", report.output.display(), report.manifest.run_id))?;
    if let Some(database) = database {
        line(database)?;
    }
    Ok(())
}

/// The Spark engine's settings from the command line; None for the embedded engine.
fn spark_options(args: &RunArgs) -> anyhow::Result<Option<crate::spark::SparkOptions>> {
    use crate::commands::cli::{Engine, Switch};
    use crate::spark::{Mode, SparkOptions};
    if args.engine == Engine::Embedded {
        if args.submit.is_some() || args.connect.is_some() || args.emit.is_some() || args.spark_curated.is_some() {
            anyhow::bail!(
                "--submit、--connect、--emit、--spark-curated 须与 --engine spark 一起使用 · --submit, --connect, --emit and --spark-curated go with --engine spark"
            );
        }
        return Ok(None);
    }
    let submit = || args.submit.clone().or_else(|| std::env::var("DUIBIAO_SPARK_SUBMIT").ok()).unwrap_or_else(|| "spark-submit".to_string());
    let mode = match (&args.emit, &args.connect) {
        (Some(_), Some(_)) => anyhow::bail!("--emit 与 --connect 只能选一个 · give either --emit or --connect, not both"),
        (Some(dir), None) => Mode::Emit(dir.clone()),
        (None, Some(url)) => Mode::Connect { url: url.clone(), python: args.submit.clone().unwrap_or_else(|| "python3".to_string()) },
        (None, None) => Mode::Submit(submit()),
    };
    Ok(Some(SparkOptions { mode, ansi: args.ansi == Switch::On, curated_uri: args.spark_curated.clone() }))
}

/// Files shown by name in the unread-files note; the manifest lists them all.
const UNREAD_SHOWN: usize = 20;

/// The note on files beside the sources' files that no source reads (None when there are none).
pub(crate) fn unread_note(files: &[crate::ingest::preflight::UnreadFile]) -> Option<String> {
    if files.is_empty() {
        return None;
    }
    let mut text = format!(
        "注意：来源文件夹中有 {n} 个导出样式的文件未被任何来源读取（pattern 未匹配）；若应读取，请修改 pattern · note: {n} file(s) that look like exports sit beside the sources' files and are read by no source (no pattern matches them); widen the pattern if they belong to a source",
        n = files.len()
    );
    for f in files.iter().take(UNREAD_SHOWN) {
        text.push_str(&format!("\n  {}  （来源 {} 的文件夹 · beside source {}）", f.path, f.beside, f.beside));
    }
    if files.len() > UNREAD_SHOWN {
        text.push_str(&format!("\n  … 另 {n} 个，见 manifest.json 的 unread_files · {n} more in manifest.json, unread_files", n = files.len() - UNREAD_SHOWN));
    }
    Some(text)
}

/// The strongest associations of the pipeline's first method, with intervals at its confidence
/// level; `None` when no pair survives the correction.
pub(crate) fn strongest_table(findings: &[Finding], settings: &Analysis) -> Option<String> {
    let method = analysis::primary_method(&settings.methods);
    let top = analysis::strongest(findings, method, 10);
    if top.is_empty() {
        return None;
    }
    // The terminal is bilingual; method labels (Pearson, Spearman, Kendall) read the same in both.
    let method = crate::base::vocab::Vocabulary::label(method, crate::base::lang::Lang::En);
    let level = analysis::confidence_percent(settings.confidence);
    let mut lines = vec![
        format!("最强的关联（校正后 p < 0.05，{method}）· strongest associations (adjusted p < 0.05, {method}):"),
        format!(
            "{} {}  {} {} {}  特征 → 指标 feature → indicator",
            left("口径", 8),
            right("滞后", 4),
            right("r", 6),
            right(&format!("{level} CI"), 17),
            right("p_adj", 9)
        ),
    ];
    for f in top {
        lines.push(format!(
            "{} {}  {} {} {}  {} → {}{}",
            left(analysis::scope_name(f.scope), 8),
            right(&f.lag.to_string(), 4),
            right(&format!("{:+.2}", f.r.unwrap_or(f64::NAN)), 6),
            right(&format!("[{:>+6.2}, {:>+6.2}]", f.ci_low.unwrap_or(f64::NAN), f.ci_high.unwrap_or(f64::NAN)), 17),
            right(&format!("{:.1e}", f.p_adjusted.unwrap_or(f64::NAN)), 9),
            f.feature_label,
            f.indicator_label,
            if f.r_better.unwrap_or(0.0) > 0.0 { "  (更好 better)" } else { "  (更差 worse)" }
        ));
    }
    Some(lines.join("\n"))
}

/// The per-source row accounting as a text table.
pub(crate) fn summary_table(manifest: &Manifest) -> String {
    let row = |cells: [&str; 8]| {
        let widths = [18, 6, 10, 10, 9, 10, 9, 9];
        let mut line = left(cells[0], widths[0]);
        for (cell, width) in cells.iter().zip(widths).skip(1) {
            line.push(' ');
            line.push_str(&right(cell, width));
        }
        line
    };
    let mut lines = vec![row(["来源 source", "文件", "读入 read", "接受 ok", "拒绝 rej", "删除 drop", "重复 dup", "冲突 conf"])];
    for s in &manifest.sources {
        let c = &s.counts;
        let numbers = [s.files.len() as u64, c.rows_read, c.accepted, c.rejected, c.dropped, c.duplicates, c.conflicting].map(|n| n.to_string());
        lines.push(row([&s.name, &numbers[0], &numbers[1], &numbers[2], &numbers[3], &numbers[4], &numbers[5], &numbers[6]]));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Method, Scope};
    use unicode_width::UnicodeWidthStr;

    fn finding(scope: Scope, r: f64, feature_label: &str) -> Finding {
        Finding {
            indicator: "fee_recovery".into(),
            indicator_label: "电费回收率".into(),
            feature: "sanliang".into(),
            feature_label: feature_label.into(),
            lag: 1,
            scope,
            method: Method::Spearman,
            controls: String::new(),
            n: 40,
            n_stations: 8,
            r: Some(r),
            ci_low: Some(r - 0.25),
            ci_high: Some(r + 0.25),
            ci_method: Some("fisher_z".into()),
            p_value: Some(0.001),
            p_adjusted: Some(0.004),
            adjust_method: "fdr_bh".into(),
            r_better: Some(r),
            reason: None,
        }
    }

    fn settings(methods: Vec<Method>, confidence: f64) -> Analysis {
        Analysis {
            methods,
            scopes: vec![Scope::Within, Scope::Between],
            controls: Vec::new(),
            adjust: crate::stats::Adjust::FdrBh,
            family_all: false,
            confidence,
            bootstrap: None,
            min_observations: 10,
        }
    }

    #[test]
    fn a_spearman_only_pipeline_lists_its_findings_at_its_confidence() {
        let findings = vec![finding(Scope::Within, 0.41, "三亮三比次数"), finding(Scope::Between, -0.62, "activity hours")];
        let table = strongest_table(&findings, &settings(vec![Method::Spearman], 0.9)).expect("two significant pairs");
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].contains("Spearman"), "{table}");
        assert!(lines[1].contains("90% CI") && !table.contains("95%"), "{table}");
        assert_eq!(lines.len(), 4, "{table}");
        // The labels start in the same terminal column on every line.
        let start = |line: &str, label: &str| line[..line.find(label).unwrap()].width();
        assert_eq!(start(lines[2], "三亮三比次数"), start(lines[1], "特征"), "{table}");
        assert_eq!(start(lines[3], "activity hours"), start(lines[1], "特征"), "{table}");
        assert_eq!(strongest_table(&findings, &settings(vec![Method::Pearson, Method::Spearman], 0.95)), None);
    }

    #[test]
    fn summary_columns_line_up_under_chinese_headers() {
        let source = |name: &str, read: u64| crate::output::manifest::SourceManifest {
            name: name.into(),
            title: String::new(),
            counts: crate::ingest::SourceCounts { rows_read: read, accepted: read - 3, rejected: 2, dropped: 1, ..Default::default() },
            conserved: true,
            duplicate_policy: "exact".into(),
            reject_share: 0.0,
            max_reject_share: 0.05,
            warnings: Vec::new(),
            files: Vec::new(),
        };
        let manifest = crate::output::manifest::Manifest {
            tool: "duibiao",
            version: "test",
            run_id: "r".into(),
            pipeline: "p.toml".into(),
            pipeline_sha256: String::new(),
            periods_touched: Vec::new(),
            periods_available: Vec::new(),
            increment: None,
            sources: vec![source("fee", 1_234_567), source("工单", 12)],
            unread_files: Vec::new(),
            panel: None,
            correlations: 0,
            timings_seconds: Vec::new(),
            peak_rss_bytes: Vec::new(),
            engine: None,
        };
        let table = summary_table(&manifest);
        let widths: Vec<usize> = table.lines().map(UnicodeWidthStr::width).collect();
        assert_eq!(widths, vec![widths[0]; 3], "\n{table}");
        // Right-aligned numbers end where their headers end.
        let header = table.lines().next().unwrap();
        let end = |line: &str, cell: &str| line[..line.find(cell).unwrap() + cell.len()].width();
        assert_eq!(end(header, "读入 read"), end(table.lines().nth(1).unwrap(), "1234567"));
        assert_eq!(end(header, "文件"), 25);
        assert_eq!(end(table.lines().nth(2).unwrap(), "0"), 25, "\n{table}");
    }
}
