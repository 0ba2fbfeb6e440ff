//! `report.html`: one self-contained page (inline CSS and SVG, no scripts, no network) that an
//! analyst can mail to a manager. Chinese by default, English with `--lang en`.
//!
//! Sections: run summary and timings; inputs with row accounting and the main reject reasons;
//! coverage and unmatched spellings; a heatmap of indicator × feature for each scope and lag;
//! the strongest findings with confidence interval and adjusted p; a scatter plot per top pair;
//! caveats in plain language.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::analysis::{Finding, confidence_percent, scope_name};
use crate::base::lang::Lang;
use crate::base::period::Grain;
use crate::base::vocab::Vocabulary;
use crate::ingest::{Reject, RejectKind};
use crate::output::manifest::Manifest;
use crate::panel::Panel;
use crate::spec::plan::{Better, Plan};
use crate::stats::{Method, Scope};

/// Rejected rows of one source grouped by what went wrong.
#[derive(Debug, Clone)]
pub(crate) struct RejectGroup {
    pub source: String,
    pub kind: RejectKind,
    /// The column, or the check / drop rule message.
    pub what: String,
    pub rows: u64,
    /// Up to three raw values or file:line examples.
    pub examples: Vec<String>,
}

/// Groups rejects by source, kind and column (or rule), largest first.
pub(crate) fn group_rejects<'a>(rejects: impl IntoIterator<Item = &'a Reject>) -> Vec<RejectGroup> {
    let mut groups: BTreeMap<(String, u8, String), RejectGroup> = BTreeMap::new();
    for r in rejects {
        let (rank, what) = match r.kind {
            RejectKind::Rejected => (0, r.column.clone().unwrap_or_else(|| r.reason.clone())),
            RejectKind::Dropped => (1, r.reason.clone()),
            RejectKind::Duplicate => (2, String::new()),
            RejectKind::Conflicting => (3, r.column.clone().unwrap_or_default()),
        };
        let g = groups.entry((r.source.clone(), rank, what.clone())).or_insert_with(|| RejectGroup {
            source: r.source.clone(),
            kind: r.kind,
            what,
            rows: 0,
            examples: Vec::new(),
        });
        g.rows += 1;
        let example = match (&r.kind, &r.column, &r.value) {
            (RejectKind::Rejected, Some(_), Some(v)) => format!("'{v}'"),
            _ => format!("{}:{}", file_name(&r.file), r.row),
        };
        if g.examples.len() < 3 && !g.examples.contains(&example) {
            g.examples.push(example);
        }
    }
    let mut out: Vec<RejectGroup> = groups.into_values().collect();
    out.sort_by(|a, b| a.source.cmp(&b.source).then(b.rows.cmp(&a.rows)));
    out
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Everything the report shows.
pub(crate) struct ReportInput<'a> {
    pub plan: &'a Plan,
    pub manifest: &'a Manifest,
    pub panel: Option<&'a Panel>,
    pub findings: &'a [Finding],
    pub rejects: &'a [RejectGroup],
    pub lang: Lang,
}

/// Opens a table with one header row.
fn table_head(h: &mut String, headers: &[&str]) {
    h.push_str("<table><tr>");
    for header in headers {
        let _ = write!(h, "<th>{}</th>", esc(header));
    }
    h.push_str("</tr>\n");
}

/// Escapes text for HTML (and SVG) content and attributes.
pub(crate) fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const CSS: &str = r#"
body{font-family:"Microsoft YaHei","PingFang SC","Noto Sans CJK SC","Source Han Sans SC","WenQuanYi Micro Hei",system-ui,sans-serif;margin:0;color:#1f2328;background:#f6f7f9;line-height:1.5}
main{max-width:1180px;margin:0 auto;padding:24px 28px 60px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:34px 0 10px;padding-bottom:4px;border-bottom:2px solid #d0d7de}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#57606a;font-size:13px}.note{color:#57606a;font-size:13px;margin:4px 0 10px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:14px 0}.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card span{font-size:12px;color:#57606a}
table{border-collapse:collapse;font-size:13px;margin:6px 0 12px}th,td{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f0f3f6;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
table.heat td.cell{width:62px;min-width:62px;text-align:center;font-variant-numeric:tabular-nums;padding:6px 2px}
table.heat th.feat{font-size:12px;font-weight:500;width:62px;max-width:62px;word-break:break-all}
td.sig{outline:2px solid #1f2328;outline-offset:-3px;font-weight:700}td.na{background:#eef0f2;color:#8c959f}
.heatwrap{display:flex;flex-wrap:wrap;gap:18px}.legend{font-size:12px;color:#57606a;margin:6px 0}
.swatch{display:inline-block;width:14px;height:12px;vertical-align:middle;margin:0 2px}
.scatters{display:flex;flex-wrap:wrap;gap:14px}.scatter{border:1px solid #d0d7de;border-radius:6px;padding:6px}
.scatter{margin:0}.scatter p{margin:2px 4px;font-size:12px;max-width:340px}
ul.caveats li{margin-bottom:6px}.warn{color:#9a6700}
"#;

/// Renders the whole page.
pub(crate) fn render(input: &ReportInput) -> String {
    let lang = input.lang;
    let plan = input.plan;
    let m = input.manifest;
    let mut h = String::new();
    let title = if plan.title.is_empty() { plan.name.clone() } else { plan.title.clone() };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body><main>\n",
        lang.t("zh-CN", "en"),
        esc(&title)
    );
    let _ = writeln!(h, "<h1>{}</h1>", esc(&title));
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} {} · {} {} · duibiao {} · {} {}</p>",
        lang.t("作业", "Pipeline"),
        esc(&plan.name),
        lang.t("运行编号", "Run"),
        esc(&m.run_id),
        esc(m.version),
        lang.t("作业文件 SHA-256", "pipeline SHA-256"),
        esc(&m.pipeline_sha256[..m.pipeline_sha256.len().min(12)])
    );
    summary(&mut h, input);
    inputs(&mut h, input);
    coverage(&mut h, input);
    heatmaps(&mut h, input);
    let top = crate::analysis::strongest(input.findings, primary_method(input), 10);
    strongest(&mut h, input, &top);
    scatters(&mut h, input, &top);
    caveats(&mut h, input);
    h.push_str("</main></body>\n</html>\n");
    h
}

fn measure_label(plan: &Plan, name: &str, lang: Lang) -> String {
    plan.indicators
        .iter()
        .chain(&plan.features)
        .find(|x| x.name == name)
        .map(|x| match lang {
            Lang::En if !x.label_en.is_empty() => x.label_en.clone(),
            _ if !x.label.is_empty() => x.label.clone(),
            _ => x.name.clone(),
        })
        .unwrap_or_else(|| name.to_string())
}

fn scope_label(s: Scope, lang: Lang, grain: Grain) -> String {
    match s {
        Scope::Within => lang.t("站内（同一供电所随时间变化）", "within station (changes over time)").to_string(),
        Scope::Between => lang.t("站间（各供电所均值之间）", "between stations (station means)").to_string(),
        Scope::Pooled => match lang {
            Lang::Zh => format!("合并（全部供电所×{}）", lang.unit(grain)),
            Lang::En => format!("pooled (all station-{}s)", lang.unit(grain)),
        },
    }
}

fn scope_short(s: Scope, lang: Lang) -> &'static str {
    s.label(lang)
}

fn lag_label(lag: i64, lang: Lang, grain: Grain) -> String {
    let unit = lang.unit(grain);
    match (lag, lang) {
        (0, Lang::Zh) => "同期".into(),
        (0, Lang::En) => format!("same {unit}"),
        (k, Lang::Zh) => format!("滞后{k}期（党建活动早{k}个{unit}）"),
        (k, Lang::En) => format!("lag {k} (activity {k} {unit}{} earlier)", if k == 1 { "" } else { "s" }),
    }
}

fn fmt_p(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 1e-4 => format!("{p:.1e}"),
        Some(p) => format!("{p:.4}"),
    }
}

fn fmt_r(r: Option<f64>) -> String {
    r.map(|r| format!("{r:+.2}")).unwrap_or_else(|| "—".into())
}

fn summary(h: &mut String, input: &ReportInput) {
    let lang = input.lang;
    let m = input.manifest;
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("一、运行概况", "1. Run summary"));
    let read: u64 = m.sources.iter().map(|s| s.counts.rows_read).sum();
    let accepted: u64 = m.sources.iter().map(|s| s.counts.accepted).sum();
    let quarantined: u64 = m.sources.iter().map(|s| s.counts.rejected + s.counts.dropped + s.counts.duplicates + s.counts.conflicting).sum();
    let significant = input.findings.iter().filter(|f| f.p_adjusted.is_some_and(|p| p < 0.05)).count();
    let mut cards: Vec<(String, String)> = Vec::new();
    if let Some(p) = &m.panel {
        cards.push((p.stations.to_string(), lang.t("供电所", "stations").into()));
        let span = match (p.periods.first(), p.periods.last()) {
            (Some(a), Some(b)) => format!("{a}–{b}"),
            _ => "—".into(),
        };
        let unit = lang.unit(input.plan.grain);
        cards.push((p.periods.len().to_string(), format!("{} {span}", lang.t(&format!("个{unit}"), &format!("{unit}s")))));
    }
    cards.push((m.sources.len().to_string(), lang.t("个数据来源", "sources").into()));
    cards.push((thousands(read), lang.t("读入行数", "rows read").into()));
    cards.push((thousands(accepted), lang.t("接受行数", "rows accepted").into()));
    cards.push((thousands(quarantined), lang.t("隔离行数（拒绝/删除/重复）", "rows quarantined").into()));
    cards.push((input.findings.len().to_string(), lang.t("项相关检验", "correlation tests").into()));
    cards.push((significant.to_string(), lang.t("项校正后显著（p<0.05）", "significant after correction").into()));
    h.push_str("<div class=\"cards\">");
    for (v, l) in cards {
        let _ = write!(h, "<div class=\"card\"><b>{}</b><span>{}</span></div>", esc(&v), esc(&l));
    }
    h.push_str("</div>\n");
    if let Some(inc) = &m.increment {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} {} {}</p>",
            lang.t("本次为增量运行，只导入了期间", "This run was an increment: only period"),
            esc(inc),
            lang.t(
                "，其余期间沿用上次的整理数据；指标与相关分析基于全部历史重新计算。",
                "was ingested; the other periods' curated data were kept, and the analysis was recomputed over the whole history."
            )
        );
    }
    let _ = writeln!(h, "<h3>{}</h3>\n<table><tr><th></th>", lang.t("各阶段耗时与内存", "Time and memory per stage"));
    for (stage, _) in &m.timings_seconds {
        let _ = write!(h, "<th>{}</th>", esc(&stage_label(stage, lang)));
    }
    let _ = write!(h, "</tr><tr><th>{}</th>", lang.t("耗时（秒）", "seconds"));
    for (_, s) in &m.timings_seconds {
        let _ = write!(h, "<td class=\"num\">{s:.2}</td>");
    }
    if !m.peak_rss_bytes.is_empty() {
        let _ = write!(h, "</tr><tr><th>{}</th>", lang.t("峰值内存（MiB）", "peak memory (MiB)"));
        for (stage, _) in &m.timings_seconds {
            match m.peak_rss_bytes.iter().find(|(s, _)| s == stage) {
                Some((_, bytes)) => {
                    let _ = write!(h, "<td class=\"num\">{:.0}</td>", *bytes as f64 / 1048576.0);
                }
                None => h.push_str("<td></td>"),
            }
        }
    }
    h.push_str("</tr></table>\n");
}

fn stage_label(stage: &str, lang: Lang) -> String {
    let zh = match stage {
        "compile" => "检查作业",
        "ingest" => "导入并写入",
        "quarantine" => "隔离表",
        "panel" => "面板",
        "correlate" => "相关分析",
        "total" => "合计",
        _ => return stage.to_string(),
    };
    match lang {
        Lang::Zh => format!("{zh} {stage}"),
        Lang::En => stage.to_string(),
    }
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn lang_conflicting(lang: Lang) -> &'static str {
    lang.t("冲突", "conflicting")
}

fn kind_label(kind: RejectKind, lang: Lang) -> &'static str {
    kind.label(lang)
}

fn inputs(h: &mut String, input: &ReportInput) {
    let lang = input.lang;
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("二、输入数据与隔离", "2. Inputs and quarantine"));
    let _ = writeln!(
        h,
        "<p class=\"note\">{}</p>",
        lang.t(
            "每一行都有去处：读入 = 接受 + 拒绝 + 删除 + 重复。被隔离的行连同文件、行号、列和原因保存在 quality/rejects.parquet。",
            "Every row is accounted for: read = accepted + rejected + dropped + duplicates. Quarantined rows are in quality/rejects.parquet with file, line, column and reason."
        )
    );
    table_head(
        h,
        &[
            lang.t("来源", "Source"),
            lang.t("说明", "Title"),
            lang.t("文件数", "Files"),
            lang.t("读入", "Read"),
            lang.t("接受", "Accepted"),
            lang.t("拒绝", "Rejected"),
            lang.t("删除", "Dropped"),
            lang.t("重复", "Duplicates"),
            lang.t("拒绝比例（上限）", "Reject share (limit)"),
        ],
    );
    for s in &input.manifest.sources {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{:.2}% ({:.0}%)</td></tr>",
            esc(&s.name),
            esc(&s.title),
            s.files.len(),
            thousands(s.counts.rows_read),
            thousands(s.counts.accepted),
            thousands(s.counts.rejected),
            thousands(s.counts.dropped),
            if s.counts.conflicting > 0 {
                format!("{} + {} {}", thousands(s.counts.duplicates), thousands(s.counts.conflicting), lang_conflicting(input.lang))
            } else {
                thousands(s.counts.duplicates)
            },
            s.reject_share * 100.0,
            s.max_reject_share * 100.0
        );
    }
    h.push_str("</table>\n");
    if input.rejects.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h3>{}</h3>", lang.t("主要隔离原因", "Main quarantine reasons"));
    table_head(
        h,
        &[lang.t("来源", "Source"), lang.t("类别", "Kind"), lang.t("列或规则", "Column or rule"), lang.t("行数", "Rows"), lang.t("示例", "Examples")],
    );
    let header_of = |source: &str, column: &str| -> Option<String> {
        let s = input.plan.sources.iter().find(|s| s.name == source)?;
        let c = s.columns.iter().find(|c| c.name == column)?;
        c.headers.first().map(|h| h.0.clone())
    };
    let mut shown: BTreeMap<&str, usize> = BTreeMap::new();
    for g in input.rejects {
        let k = shown.entry(g.source.as_str()).or_default();
        *k += 1;
        if *k > 5 {
            continue;
        }
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&g.source),
            kind_label(g.kind, lang),
            esc(&header_of(&g.source, &g.what).unwrap_or_else(|| g.what.clone())),
            thousands(g.rows),
            esc(&g.examples.join(", "))
        );
    }
    h.push_str("</table>\n");
}

fn coverage(h: &mut String, input: &ReportInput) {
    let lang = input.lang;
    let Some(panel) = input.panel else { return };
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("三、数据覆盖", "3. Coverage"));
    let cells = panel.stations.len() * panel.periods.len();
    let mut by_var: BTreeMap<&str, (usize, BTreeMap<&str, usize>)> = BTreeMap::new();
    for g in &panel.gaps {
        let e = by_var.entry(g.variable.as_str()).or_default();
        e.0 += 1;
        *e.1.entry(g.reason.as_str()).or_default() += 1;
    }
    if by_var.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", lang.t("面板中每个供电所×期间的每个变量都有值。", "Every variable has a value for every station × period."));
    } else {
        let _ = writeln!(
            h,
            "<p class=\"note\">{} {} × {} = {} {}</p>",
            lang.t("面板共", "The panel has"),
            panel.stations.len(),
            panel.periods.len(),
            cells,
            lang.t(
                "个供电所×期间。下表列出缺值的变量（明细见 quality/coverage.parquet）。",
                "station-periods. Variables with empty cells (details in quality/coverage.parquet):"
            )
        );
        table_head(h, &[lang.t("变量", "Variable"), lang.t("缺值单元", "Empty cells"), lang.t("占比", "Share"), lang.t("主要原因", "Main reason")]);
        for column in &panel.columns {
            let Some((n, reasons)) = by_var.get(column.name.as_str()) else { continue };
            let main = reasons.iter().max_by_key(|(_, c)| **c).map(|(r, _)| *r).unwrap_or("");
            let label = match lang {
                Lang::En if !column.label_en.is_empty() => &column.label_en,
                _ => &column.label,
            };
            let _ = writeln!(
                h,
                "<tr><td>{} <span class=\"meta\">{}</span></td><td class=\"num\">{n}</td><td class=\"num\">{:.1}%</td><td>{}</td></tr>",
                esc(label),
                esc(&column.name),
                *n as f64 * 100.0 / cells.max(1) as f64,
                esc(main)
            );
        }
        h.push_str("</table>\n");
    }
    if !panel.unmatched.is_empty() {
        let total: u64 = panel.unmatched.iter().map(|u| u.rows).sum();
        let _ = writeln!(
            h,
            "<h3>{}</h3>\n<p class=\"note warn\">{} {} {} {} {}</p>",
            lang.t("未能对应到供电所的名称", "Spellings matching no station"),
            panel.unmatched.len(),
            lang.t("种写法、共", "spellings,"),
            thousands(total),
            lang.t(
                "行数据未计入任何供电所。可在别名表中补充对应关系后重新运行。",
                "rows in total, counted for no station. Add them to the alias table and re-run."
            ),
            lang.t("（明细：quality/unmatched.parquet）", "(details: quality/unmatched.parquet)")
        );
        table_head(h, &[lang.t("来源", "Source"), lang.t("写法", "Spelling"), lang.t("行数", "Rows"), lang.t("最接近的供电所", "Closest stations")]);
        let mut list: Vec<_> = panel.unmatched.iter().collect();
        list.sort_by(|a, b| b.rows.cmp(&a.rows));
        for u in list.iter().take(12) {
            let _ = writeln!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&u.source),
                esc(&u.spelling),
                u.rows,
                esc(&u.candidates)
            );
        }
        h.push_str("</table>\n");
    }
}

/// White → blue for positive (better), white → red for negative (worse).
fn heat_colour(v: f64) -> (String, &'static str) {
    let t = v.abs().clamp(0.0, 1.0);
    let (r, g, b) = if v >= 0.0 { (33.0, 102.0, 172.0) } else { (178.0, 24.0, 43.0) };
    let mix = |c: f64| (255.0 + (c - 255.0) * t).round() as u8;
    (format!("#{:02x}{:02x}{:02x}", mix(r), mix(g), mix(b)), if t > 0.55 { "#ffffff" } else { "#1f2328" })
}

fn primary_method(input: &ReportInput) -> Method {
    crate::analysis::primary_method(&input.plan.analysis.methods)
}

fn heatmaps(h: &mut String, input: &ReportInput) {
    let lang = input.lang;
    let plan = input.plan;
    if input.findings.is_empty() {
        return;
    }
    let method = primary_method(input);
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("四、相关热力图", "4. Correlation heatmaps"));
    let (pos, _) = heat_colour(0.7);
    let (neg, _) = heat_colour(-0.7);
    let _ = writeln!(
        h,
        "<p class=\"note\">{} <b>{}</b>。{}</p><p class=\"legend\"><span class=\"swatch\" style=\"background:{neg}\"></span>{} <span class=\"swatch\" style=\"background:#ffffff;border:1px solid #d0d7de\"></span>0 <span class=\"swatch\" style=\"background:{pos}\"></span>{} · {} · {}</p>",
        lang.t("格中数字为方向调整后的相关系数（正值 = 党建特征越多，指标越好），方法", "Each cell is the direction-adjusted correlation (positive = more of the feature goes with a better indicator), method"),
        method.label(lang),
        lang.t("站内口径排除了各供电所固有差异（如规模），最能回答“同一个所多开展活动后指标是否更好”。", "The within-station scope removes fixed differences between stations (such as size) and comes closest to asking whether a station does better after more activity."),
        lang.t("指标更差", "worse indicator"),
        lang.t("指标更好", "better indicator"),
        lang.t("粗框 = 多重检验校正后 p < 0.05", "bold frame = adjusted p < 0.05"),
        lang.t("灰色 = 无法计算（悬停查看原因）", "grey = not computable (hover for the reason)")
    );
    let mut scopes: Vec<Scope> = plan.analysis.scopes.clone();
    scopes.sort_by_key(|s| match s {
        Scope::Within => 0,
        Scope::Between => 1,
        Scope::Pooled => 2,
    });
    let controls = plan.analysis.controls.join(",");
    let mut panels: Vec<(Scope, String)> = scopes.iter().map(|s| (*s, String::new())).collect();
    if !controls.is_empty() {
        for s in &scopes {
            panels.push((*s, controls.clone()));
        }
    }
    for (scope, ctrl) in panels {
        for &lag in &plan.lags {
            let cells: Vec<&Finding> = input.findings.iter().filter(|f| f.scope == scope && f.lag == lag && f.method == method && f.controls == ctrl).collect();
            if cells.is_empty() {
                continue;
            }
            let mut heading = format!("{} · {}", scope_label(scope, lang, input.plan.grain), lag_label(lag, lang, input.plan.grain));
            if !ctrl.is_empty() {
                let _ = write!(heading, " · {} {}", lang.t("偏相关，控制", "partial, controlling for"), ctrl);
            }
            let _ = writeln!(h, "<h3>{}</h3>", esc(&heading));
            h.push_str("<table class=\"heat\"><tr><th></th>");
            for f in &plan.features {
                let _ = write!(h, "<th class=\"feat\">{}</th>", esc(&measure_label(plan, &f.name, lang)));
            }
            h.push_str("</tr>\n");
            for ind in &plan.indicators {
                let arrow = match ind.better {
                    Some(Better::Lower) => lang.t("（越低越好）", " (lower is better)"),
                    _ => lang.t("（越高越好）", " (higher is better)"),
                };
                let _ = write!(h, "<tr><th>{}<span class=\"meta\">{}</span></th>", esc(&measure_label(plan, &ind.name, lang)), arrow);
                for feat in &plan.features {
                    match cells.iter().find(|c| c.indicator == ind.name && c.feature == feat.name) {
                        Some(c) if c.r_better.is_some() => {
                            let v = c.r_better.unwrap();
                            let (bg, fg) = heat_colour(v);
                            let sig = c.p_adjusted.is_some_and(|p| p < 0.05);
                            let _ = write!(
                                h,
                                "<td class=\"cell{}\" style=\"background:{bg};color:{fg}\" title=\"r={} CI [{}, {}] p_adj={} n={}\">{:+.2}</td>",
                                if sig { " sig" } else { "" },
                                fmt_r(c.r),
                                fmt_r(c.ci_low),
                                fmt_r(c.ci_high),
                                fmt_p(c.p_adjusted),
                                c.n,
                                v
                            );
                        }
                        Some(c) => {
                            let _ = write!(h, "<td class=\"cell na\" title=\"{}\">—</td>", esc(c.reason.as_deref().unwrap_or("")));
                        }
                        None => h.push_str("<td class=\"cell na\">·</td>"),
                    }
                }
                h.push_str("</tr>\n");
            }
            h.push_str("</table>\n");
        }
    }
}

fn strongest(h: &mut String, input: &ReportInput, top: &[&Finding]) {
    let lang = input.lang;
    if input.findings.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("五、最强的关联", "5. Strongest associations"));
    if top.is_empty() {
        let _ = writeln!(h, "<p>{}</p>", lang.t("没有任何一对在多重检验校正后达到 p < 0.05。", "No pair reaches adjusted p < 0.05."));
        return;
    }
    let method = primary_method(input).label(lang);
    let level = confidence_percent(input.plan.analysis.confidence);
    let note = match lang {
        Lang::Zh => format!(
            "校正后 p < 0.05 的关联（{method}，未加控制变量），先站内、再站间、最后合并口径，各按 |r| 排序。r 为原始方向的相关系数，区间为 {level} 置信区间；“方向”按指标的好坏方向判断。"
        ),
        Lang::En => format!(
            "Associations with adjusted p < 0.05 ({method}, no controls): within-station first, then between, then pooled, each by |r|. r is in the raw direction with its {level} confidence interval; “direction” reads it against the indicator's better side."
        ),
    };
    let _ = writeln!(h, "<p class=\"note\">{}</p>", esc(&note));
    let interval = match lang {
        Lang::Zh => format!("{level} 置信区间"),
        Lang::En => format!("{level} CI"),
    };
    table_head(
        h,
        &[
            "#",
            lang.t("党建特征", "Feature"),
            lang.t("指标", "Indicator"),
            lang.t("口径", "Scope"),
            lang.t("滞后", "Lag"),
            "r",
            &interval,
            lang.t("校正后 p", "Adjusted p"),
            "n",
            lang.t("方向", "Direction"),
        ],
    );
    for (i, f) in top.iter().enumerate() {
        let better = f.r_better.unwrap_or(0.0) > 0.0;
        let _ = writeln!(
            h,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{} {}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            i + 1,
            esc(&measure_label(input.plan, &f.feature, lang)),
            esc(&measure_label(input.plan, &f.indicator, lang)),
            scope_short(f.scope, lang),
            f.lag,
            fmt_r(f.r),
            ci_bar(f.r, f.ci_low, f.ci_high),
            fmt_r(f.ci_low).replace('—', "") + " … " + &fmt_r(f.ci_high),
            fmt_p(f.p_adjusted),
            f.n,
            if better { lang.t("指标更好", "better") } else { lang.t("指标更差", "worse") }
        );
    }
    h.push_str("</table>\n");
}

/// A small SVG of r and its interval on the axis −1 … +1.
fn ci_bar(r: Option<f64>, lo: Option<f64>, hi: Option<f64>) -> String {
    let (w, hgt) = (140.0, 14.0);
    let x = |v: f64| (v.clamp(-1.0, 1.0) + 1.0) / 2.0 * (w - 8.0) + 4.0;
    let mut s = format!(
        "<svg width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" role=\"img\"><line x1=\"{0}\" y1=\"1\" x2=\"{0}\" y2=\"13\" stroke=\"#8c959f\" stroke-dasharray=\"2,2\"/>",
        x(0.0)
    );
    if let (Some(lo), Some(hi)) = (lo, hi) {
        let _ = write!(s, "<line x1=\"{:.1}\" y1=\"7\" x2=\"{:.1}\" y2=\"7\" stroke=\"#1f2328\" stroke-width=\"2\"/>", x(lo), x(hi));
    }
    if let Some(r) = r {
        let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"7\" r=\"3.5\" fill=\"#0969da\"/>", x(r));
    }
    s.push_str("</svg>");
    s
}

/// Points of one finding as the scope sees them: raw, demeaned per station, or station means.
pub(crate) fn scatter_points(panel: &Panel, feature_column: &str, indicator: &str, scope: Scope) -> Vec<(f64, f64)> {
    let (Some(xc), Some(yc)) = (panel.column(feature_column), panel.column(indicator)) else { return Vec::new() };
    let periods = panel.periods.len();
    let mut per_station: Vec<Vec<(f64, f64)>> = Vec::new();
    for s in 0..panel.stations.len() {
        let pts: Vec<(f64, f64)> = (0..periods)
            .filter_map(|p| {
                let i = panel.index(s, p);
                match (xc.values[i], yc.values[i]) {
                    (Some(x), Some(y)) if x.is_finite() && y.is_finite() => Some((x, y)),
                    _ => None,
                }
            })
            .collect();
        per_station.push(pts);
    }
    let mean = |pts: &[(f64, f64)]| {
        let n = pts.len() as f64;
        (pts.iter().map(|p| p.0).sum::<f64>() / n, pts.iter().map(|p| p.1).sum::<f64>() / n)
    };
    match scope {
        Scope::Pooled => per_station.into_iter().flatten().collect(),
        Scope::Between => per_station.iter().filter(|p| !p.is_empty()).map(|p| mean(p)).collect(),
        Scope::Within => per_station
            .iter()
            .filter(|p| p.len() >= 2)
            .flat_map(|p| {
                let (mx, my) = mean(p);
                p.iter().map(move |(x, y)| (x - mx, y - my))
            })
            .collect(),
    }
}

/// Round tick positions inside [lo, hi] and the number of decimals their step needs.
fn nice_ticks(lo: f64, hi: f64) -> (Vec<f64>, usize) {
    let span = (hi - lo).abs().max(1e-12);
    let raw = span / 5.0;
    let mag = 10f64.powf(raw.log10().floor());
    let (mult, step) = [1.0, 2.0, 2.5, 5.0, 10.0].iter().map(|m| (*m, m * mag)).find(|(_, s)| *s >= raw).unwrap_or((10.0, 10.0 * mag));
    let decimals = (-(step.log10().floor()) as i64 + if mult == 2.5 { 1 } else { 0 }).max(0) as usize;
    let (first, last) = ((lo / step - 1e-9).ceil() as i64, (hi / step + 1e-9).floor() as i64);
    let out = (first..=last).take(12).map(|k| if k == 0 { 0.0 } else { k as f64 * step }).collect();
    (out, decimals)
}

fn tick_text(v: f64, decimals: usize) -> String {
    format!("{v:.decimals$}")
}

/// An SVG scatter plot with the least-squares line.
pub(crate) fn scatter_svg(points: &[(f64, f64)], x_label: &str, y_label: &str) -> String {
    let (w, hgt, left, right, top, bottom) = (340.0, 260.0, 52.0, 10.0, 10.0, 40.0);
    let mut s = format!("<svg width=\"{w}\" height=\"{hgt}\" viewBox=\"0 0 {w} {hgt}\" role=\"img\" font-size=\"10\" font-family=\"inherit\">");
    if points.is_empty() {
        s.push_str("</svg>");
        return s;
    }
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for &(x, y) in points {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let pad = |a: f64, b: f64| {
        let d = if b > a { (b - a) * 0.05 } else { a.abs().max(1.0) * 0.05 };
        (a - d, b + d)
    };
    let (x0, x1) = pad(x0, x1);
    let (y0, y1) = pad(y0, y1);
    let px = |x: f64| left + (x - x0) / (x1 - x0) * (w - left - right);
    let py = |y: f64| hgt - bottom - (y - y0) / (y1 - y0) * (hgt - top - bottom);
    let _ = write!(s, "<rect x=\"{left}\" y=\"{top}\" width=\"{}\" height=\"{}\" fill=\"#fbfcfd\" stroke=\"#d0d7de\"/>", w - left - right, hgt - top - bottom);
    let (xt, xd) = nice_ticks(x0, x1);
    for t in xt {
        let _ = write!(
            s,
            "<line x1=\"{0:.1}\" y1=\"{1}\" x2=\"{0:.1}\" y2=\"{2}\" stroke=\"#eaeef2\"/><text x=\"{0:.1}\" y=\"{3}\" text-anchor=\"middle\" fill=\"#57606a\">{4}</text>",
            px(t),
            top,
            hgt - bottom,
            hgt - bottom + 12.0,
            tick_text(t, xd)
        );
    }
    let (yt, yd) = nice_ticks(y0, y1);
    for t in yt {
        let _ = write!(
            s,
            "<line x1=\"{1}\" y1=\"{0:.1}\" x2=\"{2}\" y2=\"{0:.1}\" stroke=\"#eaeef2\"/><text x=\"{3}\" y=\"{4:.1}\" text-anchor=\"end\" fill=\"#57606a\">{5}</text>",
            py(t),
            left,
            w - right,
            left - 4.0,
            py(t) + 3.0,
            tick_text(t, yd)
        );
    }
    let opacity = if points.len() > 400 { 0.35 } else { 0.6 };
    for &(x, y) in points {
        let _ = write!(s, "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.6\" fill=\"#0969da\" fill-opacity=\"{opacity}\"/>", px(x), py(y));
    }
    // Least-squares line y = a + b x over the visible range.
    let n = points.len() as f64;
    let (mx, my) = (points.iter().map(|p| p.0).sum::<f64>() / n, points.iter().map(|p| p.1).sum::<f64>() / n);
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx > 0.0 {
        let b = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>() / sxx;
        let a = my - b * mx;
        let _ = write!(
            s,
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#cf222e\" stroke-width=\"2\"/>",
            px(x0),
            py(a + b * x0).clamp(top, hgt - bottom),
            px(x1),
            py(a + b * x1).clamp(top, hgt - bottom)
        );
    }
    let _ = write!(
        s,
        "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#1f2328\" font-size=\"11\">{}</text>",
        left + (w - left - right) / 2.0,
        hgt - 8.0,
        esc(x_label)
    );
    let _ = write!(
        s,
        "<text transform=\"translate(12,{}) rotate(-90)\" text-anchor=\"middle\" fill=\"#1f2328\" font-size=\"11\">{}</text>",
        top + (hgt - top - bottom) / 2.0,
        esc(y_label)
    );
    s.push_str("</svg>");
    s
}

fn scatters(h: &mut String, input: &ReportInput, top: &[&Finding]) {
    let lang = input.lang;
    let Some(panel) = input.panel else { return };
    if top.is_empty() {
        return;
    }
    let _ = writeln!(h, "<h2>{}</h2>", lang.t("六、主要关联的散点图", "6. Scatter plots of the top pairs"));
    let _ = writeln!(
        h,
        "<p class=\"note\">{}</p>",
        lang.t(
            "每点一个观测：合并口径为供电所×期间；站内口径为减去该所各期均值后的偏离；站间口径为各所均值。红线为最小二乘拟合线。",
            "One point per observation: pooled = station-periods; within = deviations from each station's own mean; between = station means. The red line is the least-squares fit."
        )
    );
    h.push_str("<div class=\"scatters\">\n");
    for f in top.iter().take(6) {
        let column = if f.lag == 0 { f.feature.clone() } else { format!("{}_lag{}", f.feature, f.lag) };
        let pts = scatter_points(panel, &column, &f.indicator, f.scope);
        let (xl, yl) = (measure_label(input.plan, &f.feature, lang), measure_label(input.plan, &f.indicator, lang));
        let suffix = match f.scope {
            Scope::Within => lang.t("（站内偏离）", " (within-station deviation)"),
            Scope::Between => lang.t("（各所均值）", " (station mean)"),
            Scope::Pooled => "",
        };
        let _ = writeln!(
            h,
            "<figure class=\"scatter\">{}<p><b>{} → {}</b><br>{} · {} · r = {} [{}, {}] · {} {} · n = {}</p></figure>",
            scatter_svg(&pts, &format!("{xl}{suffix}"), &format!("{yl}{suffix}")),
            esc(&xl),
            esc(&yl),
            scope_short(f.scope, lang),
            esc(&lag_label(f.lag, lang, input.plan.grain)),
            fmt_r(f.r),
            fmt_r(f.ci_low),
            fmt_r(f.ci_high),
            lang.t("校正后 p", "adjusted p"),
            fmt_p(f.p_adjusted),
            f.n
        );
    }
    h.push_str("</div>\n");
}

fn caveats(h: &mut String, input: &ReportInput) {
    let lang = input.lang;
    let a = &input.plan.analysis;
    let _ = writeln!(h, "<h2>{}</h2>\n<ul class=\"caveats\">", lang.t("七、解读须知", "7. Caveats"));
    let adjust = a.adjust.label(lang);
    let (stations, periods) = input.panel.map(|p| (p.stations.len(), p.periods.len())).unwrap_or((0, 0));
    let unit = lang.unit(input.plan.grain);
    let items: Vec<String> = vec![
        lang.t(
            "<b>相关不等于因果。</b>党建活动多的供电所指标更好，可能是活动带来的，也可能是管理好的所两方面都做得好，或者指标好的所更有余力开展活动。本报告只描述共同变化，不证明谁导致谁。",
            "<b>Association is not causation.</b> A station with more activity and better results may owe the results to the activity, or be well run in both respects, or have room for activity because its results are good. The report describes co-movement, not cause.",
        )
        .to_string(),
        lang.t(
            "<b>规模混杂。</b>用户多、台区多的供电所，活动次数和诉求件数都更多。合并口径把“大所”和“小所”的差异混在一起，可能得出与站内口径相反的结论；请优先看站内口径和控制规模后的偏相关。",
            "<b>Confounding by size.</b> Stations with more customers and 台区 have both more activities and more complaints. The pooled scope mixes large and small stations and can even point the other way than the within-station scope; read the within-station and size-controlled partial results first.",
        )
        .to_string(),
        match lang {
            Lang::Zh => format!(
                "<b>样本量有限。</b>共 {stations} 个供电所、{periods} 个{unit}；站内口径依赖{unit}间的波动，置信区间较宽时结论不稳。n 少于设定下限的组合不计算，表中注明原因。"
            ),
            Lang::En => format!(
                "<b>Limited sample.</b> {stations} stations over {periods} {unit}s; the within-station scope rests on {unit}-to-{unit} changes, so wide intervals mean unstable conclusions. Pairs below the minimum n are not computed and say why."
            ),
        },
        format!(
            "{} {adjust}{}",
            lang.t("<b>多重检验。</b>同时检验了很多组合，偶然出现的“显著”难免；显著性按", "<b>Many tests.</b> Many pairs are tested at once, so some chance “findings” are expected; significance is judged by"),
            lang.t("校正后的 p 值判断。", "-adjusted p-values."),
        ),
        match lang {
            Lang::Zh => format!("<b>滞后。</b>“滞后1期”指上一{unit}的党建活动与本{unit}指标的关系；缺失的{unit}不会被跨越。"),
            Lang::En => format!("<b>Lags.</b> “Lag 1” relates last {unit}'s activity to this {unit}'s indicator; a missing {unit} is never bridged."),
        },
        match lang {
            Lang::Zh => format!(
                "<b>同期与滞后相互牵连。</b>站内口径先减去各所自身均值；{periods} 个{unit}的短序列里，若活动对下一{unit}指标确有影响，同期相关也会出现方向相反的弱相关（由去均值造成，并非另一种效应）。同一组合的同期与滞后结果请放在一起解读。"
            ),
            Lang::En => format!(
                "<b>Same-{unit} and lagged results are linked.</b> The within-station scope subtracts each station's own mean; over a short series of {periods} {unit}s, a real effect of activity on the next {unit} also shows as a weak same-{unit} correlation of the opposite sign (an artefact of the demeaning, not a second effect). Read a pair's lag 0 and lag 1 together."
            ),
        },
        lang.t(
            "<b>数据质量。</b>被隔离的行、未对应到供电所的名称和缺值单元都不参与计算，见第二、三部分。",
            "<b>Data quality.</b> Quarantined rows, unmatched spellings and empty cells take no part in the results; see sections 2 and 3.",
        )
        .to_string(),
    ];
    for item in items {
        let _ = writeln!(h, "<li>{item}</li>");
    }
    h.push_str("</ul>\n");
    let _ = writeln!(
        h,
        "<p class=\"meta\">{} {} · {} {} · {} {}</p>",
        lang.t("方法", "Methods"),
        a.methods.iter().map(|m| m.label(lang)).collect::<Vec<_>>().join(", "),
        lang.t("置信水平", "confidence"),
        confidence_percent(a.confidence),
        lang.t("口径", "scopes"),
        a.scopes.iter().map(|s| scope_name(*s)).collect::<Vec<_>>().join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_characters() {
        assert_eq!(esc("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
    }

    #[test]
    fn colours_run_from_red_through_white_to_blue() {
        assert_eq!(heat_colour(0.0).0, "#ffffff");
        assert_eq!(heat_colour(1.0).0, "#2166ac");
        assert_eq!(heat_colour(-1.0).0, "#b2182b");
    }

    #[test]
    fn ticks_are_round_and_inside_the_range() {
        assert_eq!(nice_ticks(0.0, 1.0).0.len(), 6);
        assert_eq!(nice_ticks(0.0, 1.0).1, 1);
        assert_eq!(nice_ticks(-3.2, 7.9), (vec![-2.5, 0.0, 2.5, 5.0, 7.5], 1));
        assert_eq!(nice_ticks(0.0, 40.0).1, 0);
        let (t, d) = nice_ticks(-0.0012, 0.0009);
        assert_eq!(d, 4);
        assert_eq!(t.iter().map(|v| tick_text(*v, d)).collect::<Vec<_>>(), vec!["-0.0010", "-0.0005", "0.0000", "0.0005"]);
    }

    #[test]
    fn strongest_section_follows_the_pipelines_method_and_confidence() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pipelines/panel_small.toml");
        let mut plan = crate::spec::compile::compile_file(&path).unwrap();
        plan.analysis.methods = vec![Method::Spearman];
        plan.analysis.confidence = 0.9;
        let manifest = Manifest {
            tool: "duibiao",
            version: "test",
            run_id: "run".into(),
            pipeline: "panel_small.toml".into(),
            pipeline_sha256: "0".repeat(64),
            periods_touched: Vec::new(),
            periods_available: Vec::new(),
            increment: None,
            sources: Vec::new(),
            unread_files: Vec::new(),
            panel: None,
            correlations: 1,
            timings_seconds: Vec::new(),
            peak_rss_bytes: Vec::new(),
            engine: None,
        };
        let findings = [Finding {
            indicator: "fee_recovery".into(),
            indicator_label: "fee_recovery".into(),
            feature: "sanliang".into(),
            feature_label: "sanliang".into(),
            lag: 0,
            scope: Scope::Within,
            method: Method::Spearman,
            controls: String::new(),
            n: 40,
            n_stations: 8,
            r: Some(0.5),
            ci_low: Some(0.3),
            ci_high: Some(0.7),
            ci_method: Some("fisher_z".into()),
            p_value: Some(0.001),
            p_adjusted: Some(0.002),
            adjust_method: "fdr_bh".into(),
            r_better: Some(0.5),
            reason: None,
        }];
        for (lang, heading, interval, none) in
            [(Lang::En, "5. Strongest associations", "90% CI", "No pair reaches"), (Lang::Zh, "五、最强的关联", "90% 置信区间", "没有任何一对")]
        {
            let html = render(&ReportInput { plan: &plan, manifest: &manifest, panel: None, findings: &findings, rejects: &[], lang });
            let section = &html[html.find(heading).unwrap()..];
            assert!(!section.contains(none), "{section}");
            assert!(section.contains("Spearman") && section.contains(interval), "{section}");
            assert!(section.contains("<td class=\"num\">+0.50</td>"), "{section}");
            assert!(!html.contains("95%"), "{html}");
            assert!(html.contains("90%"));
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
    }
}
