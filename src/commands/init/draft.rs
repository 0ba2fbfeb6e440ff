//! The draft pipeline init writes: files grouped into sources, each source described from its
//! sampled rows, the station master found and used to tell which column names the station, and
//! the whole rendered as a commented TOML file.

use std::fmt::Write as _;
use std::path::{Component, Path, PathBuf};

use super::infer::{self, Kind};
use super::sniff::{self, RawFile, Sniffed};
use crate::commands::exit::UsageError;
use crate::identity::{Resolution, Resolver, StationEntry};
use crate::spec::plan::{Identity, StationKey};

/// Rows of all files of a source that are sampled for types.
const ROWS_PER_SOURCE: usize = 20_000;
/// Share of a column's distinct values that must resolve to stations for it to be the station.
const MIN_STATION_SHARE: f64 = 0.6;
/// The word station names end in, as State Grid names its township units.
const UNIT_WORD: &str = "供电所";

/// Export header words → canonical column names (longest match wins). These are the words of
/// State Grid's export systems, not of one region; a header none fits becomes column_N.
const GLOSSARY: &[(&str, &str)] = &[
    ("所属供电所编码", "station_code"),
    ("供电单位编码", "station_code"),
    ("供电所编码", "station_code"),
    ("供电所编号", "station_code"),
    ("单位编码", "station_code"),
    ("单位代码", "station_code"),
    ("单位编号", "station_code"),
    ("供电所名称", "station_name"),
    ("供电单位名称", "station_name"),
    ("单位名称", "station_name"),
    ("供电单位", "unit_name"),
    ("供电所", "station_name"),
    ("党组织名称", "branch_name"),
    ("支部名称", "branch_name"),
    ("党支部", "branch_name"),
    ("所属县", "county"),
    ("县公司", "county"),
    ("乡镇", "township"),
    ("统计月份", "month"),
    ("评定月份", "month"),
    ("月份", "month"),
    ("季度", "quarter"),
    ("应收", "billed"),
    ("实收", "paid"),
    ("回收率", "recovery_rate"),
    ("应采", "expected_meters"),
    ("实采", "collected_meters"),
    ("采集成功户", "collected_meters"),
    ("成功率", "success_rate"),
    ("台区编号", "tai_area_id"),
    ("台区编码", "tai_area_id"),
    ("台区名称", "tai_area_name"),
    ("供电量", "supplied_kwh"),
    ("售电量", "sold_kwh"),
    ("线损率", "loss_rate_pct"),
    ("工单编号", "order_id"),
    ("工单号", "order_id"),
    ("受理时间", "accepted_at"),
    ("受理日期", "accepted_at"),
    ("工单类型", "order_type"),
    ("诉求类型", "order_type"),
    ("业务子类", "subtype"),
    ("诉求子类", "subtype"),
    ("处理状态", "status"),
    ("运检管理指数", "om_index"),
    ("指数", "om_index"),
    ("事件编号", "event_id"),
    ("开始时间", "start_time"),
    ("结束时间", "end_time"),
    ("影响用户", "customers_affected"),
    ("停电类型", "outage_type"),
    ("活动类型", "activity_type"),
    ("活动类别", "activity_type"),
    ("活动主题", "topic"),
    ("活动日期", "activity_date"),
    ("活动时长", "duration"),
    ("地点", "place"),
    ("应到", "expected_attendance"),
    ("应参加", "expected_attendance"),
    ("实到", "actual_attendance"),
    ("实际参加", "actual_attendance"),
    ("记录人", "recorder"),
    ("姓名", "person_name"),
    ("星级", "stars"),
    ("安全积分", "safety_points"),
    ("类别", "category"),
    ("类型", "kind"),
    ("说明", "note"),
    ("备注", "note"),
    ("序号", "row_no"),
    ("用户数", "customers"),
    ("客户数", "customers"),
    ("台区数", "tai_areas"),
    ("党员人数", "party_members"),
    ("党员数", "party_members"),
    ("停电用户", "customers_affected"),
    ("停电性质", "outage_type"),
    ("所属单位", "unit_name"),
    ("工单状态", "status"),
    ("高级经理", "senior_managers"),
    ("台区经理", "area_managers"),
    ("名称写法", "spelling"),
];

/// Words of a file's path → source names (first match in the file name, then its folders).
const SOURCE_WORDS: &[(&str, &str)] = &[
    ("台账", "stations"),
    ("别名", "aliases"),
    ("电费", "fee"),
    ("采集", "collection"),
    ("线损", "line_loss"),
    ("95598", "work_orders"),
    ("工单", "work_orders"),
    ("运检", "om_index"),
    ("停电", "outages"),
    ("星级", "star_ratings"),
    ("红旗", "flags"),
    ("督办", "flags"),
    ("活动", "party_activities"),
    ("党建", "party_activities"),
];

/// Patterns for a period in a file's name, title line or folder: (type, pattern).
const PERIOD_PATTERNS: &[(&str, &str)] = &[
    ("month", r"(?P<year>\d{4})年(?P<month>\d{1,2})月"),
    ("quarter", r"(?P<year>\d{4})年第?(?P<quarter>[1-4一二三四])季度"),
    ("quarter", r"(?P<year>\d{4}) ?[Qq](?P<quarter>[1-4])"),
    ("month", r"(?P<year>20\d{2})[-_.]?(?P<month>0[1-9]|1[0-2])(?:\D|$)"),
];

pub(crate) fn is_export(path: &Path) -> bool {
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    matches!(ext.as_deref(), Some("csv") | Some("xlsx"))
}

/// The pipeline name from the folder: ASCII snake_case of its name, else new_region.
pub(crate) fn pipeline_name(dir: &Path) -> String {
    let base = dir.canonicalize().ok().and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_default();
    let snake: String = base.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let snake = snake.trim_matches('_').to_string();
    if snake.is_empty() || snake.starts_with(|c: char| c.is_ascii_digit()) || !base.is_ascii() { "new_region".into() } else { snake }
}

/// A column of the draft.
#[derive(Debug, Clone)]
pub(crate) struct DraftColumn {
    pub name: String,
    /// The export header (None for a value made from the file or from date + time).
    pub header: Option<String>,
    pub kind: Kind,
    pub from: Option<FromText>,
    /// Other headers of the same column in some files, with their scale (万元 → 10000).
    pub also: Vec<(String, Option<u32>)>,
    pub not_null: bool,
    pub comment: Option<String>,
}

/// A value taken from the file's name, title line or sheet, or from a date and a time column.
#[derive(Debug, Clone)]
pub(crate) enum FromText {
    Path { from: &'static str, pattern: String, cells: Vec<(&'static str, String)> },
    DateTime { date: String, time: String },
}

/// One source of the draft.
#[derive(Debug, Clone)]
pub(crate) struct DraftSource {
    pub name: String,
    pub title: String,
    pub files: Vec<PathBuf>,
    /// Path or glob, relative to the pipeline file's folder.
    pub path: String,
    pub encoding: Option<Sniffed>,
    pub header_row: usize,
    pub drop: Option<(String, Vec<String>, usize)>,
    pub columns: Vec<DraftColumn>,
    pub period: Option<String>,
    /// (column, key, share of distinct values resolved, distinct values).
    pub station: Option<(String, StationKey, f64, usize)>,
    pub rows_sampled: usize,
    pub notes: Vec<String>,
}

impl DraftSource {
    /// One line for the terminal.
    pub fn summary(&self) -> String {
        let encoding = match self.encoding {
            Some(e) => e.key().unwrap_or("UTF-16").to_string(),
            None => "xlsx".into(),
        };
        let period = self.period.clone().unwrap_or_else(|| "—".into());
        let station = self.station.as_ref().map(|(c, k, s, _)| format!("{c} ({}, {:.0} %)", key_name(*k), s * 100.0)).unwrap_or_else(|| "—".into());
        format!("{encoding}, header_row {}, period {period}, station {station}", self.header_row)
    }
}

/// The whole draft.
#[derive(Debug, Clone)]
pub(crate) struct Draft {
    pub name: String,
    pub title: String,
    pub dir_shown: String,
    pub output_dir: String,
    pub sources: Vec<DraftSource>,
    pub identity: Identity,
    pub notes: Vec<String>,
}

fn key_name(k: StationKey) -> &'static str {
    match k {
        StationKey::Code => "code",
        StationKey::Name => "name",
        StationKey::Branch => "branch",
    }
}

/// A file read and shaped.
struct Sampled {
    path: PathBuf,
    raw: RawFile,
    /// Per table: its shape (None when no header row was found).
    shapes: Vec<Option<infer::Shape>>,
}

/// Builds the draft from the export files.
pub fn build(dir: &Path, stations: Option<&Path>, exports: &[PathBuf], out: &Path, name: &str) -> anyhow::Result<Draft> {
    let base = absolute(out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")));
    let mut sampled = Vec::new();
    let mut notes = Vec::new();
    let stations_abs = stations.map(absolute);
    let mut files: Vec<PathBuf> = exports.to_vec();
    if let Some(s) = &stations_abs {
        if !s.is_file() {
            return Err(UsageError(format!("--stations {}: 文件不存在 · no such file", s.display())).into());
        }
        files.retain(|f| absolute(f) != *s);
    }
    for path in stations_abs.iter().chain(files.iter()) {
        let xlsx = path.extension().and_then(|e| e.to_str()).is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
        let raw = sniff::read(path, xlsx).map_err(UsageError)?;
        let shapes = raw.tables.iter().map(|t| infer::shape(&t.rows)).collect();
        sampled.push(Sampled { path: path.clone(), raw, shapes });
    }
    // Groups, in file order: folder, format and header row (the master, when given, first and
    // alone); a file whose header cannot be found is noted.
    let mut groups: Vec<((PathBuf, bool, Vec<String>), Vec<usize>)> = Vec::new();
    let master_index = stations_abs.as_ref().map(|_| 0);
    for (i, s) in sampled.iter().enumerate() {
        let Some(shape) = s.shapes.iter().flatten().next() else {
            notes.push(format!("{}: 找不到表头行 · no header row found in its first rows; describe it by hand", s.path.display()));
            continue;
        };
        let xlsx = s.raw.encoding.is_none();
        let folder = s.path.parent().map(Path::to_path_buf).unwrap_or_default();
        let key = (folder, xlsx, shape.headers.clone());
        match groups.iter_mut().skip(usize::from(master_index.is_some())).find(|(k, _)| *k == key) {
            Some((_, members)) if !(master_index.is_some() && i == 0) => members.push(i),
            _ => groups.push((key, vec![i])),
        }
    }
    let mut group_list: Vec<Vec<usize>> = groups.into_iter().map(|(_, m)| m).collect();
    let mut sources: Vec<DraftSource> = Vec::new();
    for (g, members) in group_list.iter().enumerate() {
        let source = describe(&sampled, members, &group_list, &base, master_index == Some(g));
        sources.push(source);
    }
    merge_alike(&mut sources, &mut group_list, master_index, &sampled, &base);
    // The station master: the given file, else the source that looks like one.
    let master = match master_index {
        Some(i) => i,
        None => match (0..sources.len()).filter(|&i| looks_like_master(&sources[i], &sampled, &group_list[i])).max_by_key(|&i| sources[i].rows_sampled) {
            Some(i) => i,
            None => {
                return Err(UsageError(format!(
                    "{} 中找不到供电所台账 · no station master found in {}: none of its tables has a column of distinct names ending in {UNIT_WORD} beside a column of distinct codes. Give it with --stations FILE",
                    dir.display(),
                    dir.display()
                ))
                .into());
            }
        },
    };
    shape_master(&mut sources[master], &sampled, &group_list[master]);
    rename_unique(&mut sources, master);
    let identity = init_identity(&sources[master]);
    // An alias table (spelling → code) resolves spellings the rules cannot, as in the run.
    let aliases: Vec<(String, String)> = (0..sources.len())
        .filter(|&i| i != master && sources[i].period.is_none())
        .flat_map(|i| cells_by_row(&sources[i], &sampled, &group_list[i], &["spelling", "station_code"]))
        .filter_map(|r| Some((r[0].clone()?, r[1].clone()?)))
        .collect();
    let resolver = Resolver::new(&identity, &master_entries(&sources[master], &sampled, &group_list[master]), &aliases);
    for (i, source) in sources.iter_mut().enumerate() {
        if i != master {
            source.station = station_column(source, &sampled, &group_list[i], &resolver);
        }
    }
    sources.swap(0, master);
    let dir_abs = absolute(dir);
    let output_dir = output_folder(&dir_abs, stations_abs.as_deref(), &base, name);
    let folder_name = dir_abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(Draft {
        name: name.to_string(),
        title: format!("{folder_name}：供电所党建与同业对标季度分析"),
        dir_shown: relative(&dir_abs, &base),
        output_dir,
        sources,
        identity,
        notes,
    })
}

/// Describes one group of files as a source.
fn describe(sampled: &[Sampled], members: &[usize], groups: &[Vec<usize>], base: &Path, is_master: bool) -> DraftSource {
    let first = &sampled[members[0]];
    let shape0 = first.shapes.iter().flatten().next().expect("grouped files have a header").clone();
    let xlsx = first.raw.encoding.is_none();
    // All sampled rows of the group under the first file's headers.
    let mut rows: Vec<Vec<String>> = vec![shape0.headers.clone()];
    let mut totals: Option<(String, Vec<String>, usize)> = None;
    let mut header_rows: Vec<usize> = Vec::new();
    let mut titles: Vec<Option<String>> = Vec::new();
    let mut sheets: Vec<String> = Vec::new();
    let mut partial = false;
    for &m in members {
        let s = &sampled[m];
        for (table, shape) in s.raw.tables.iter().zip(&s.shapes) {
            let Some(shape) = shape else { continue };
            partial |= table.partial;
            header_rows.push(shape.header_index + 1);
            titles.push(shape.title.clone());
            sheets.extend(table.sheet.clone());
            let map: Vec<Option<usize>> = shape0.headers.iter().map(|h| shape.headers.iter().position(|x| x == h)).collect();
            for &r in &shape.data {
                if rows.len() > ROWS_PER_SOURCE {
                    break;
                }
                rows.push(map.iter().map(|i| i.and_then(|i| table.rows[r].get(i).cloned()).unwrap_or_default()).collect());
            }
            if let Some((c, prefixes, n)) = &shape.totals {
                let t = totals.get_or_insert_with(|| (shape.headers[*c].clone(), Vec::new(), 0));
                t.1.extend(prefixes.iter().cloned());
                t.2 += n;
            }
        }
    }
    if let Some(t) = &mut totals {
        t.1.sort();
        t.1.dedup();
    }
    let all = infer::Shape { header_index: 0, headers: shape0.headers.clone(), title: None, data: (1..rows.len()).collect(), totals: None };
    let inferred = infer::columns(&rows, &all);
    let files: Vec<PathBuf> = members.iter().map(|&m| sampled[m].path.clone()).collect();
    let mut notes = Vec::new();
    header_rows.sort_unstable();
    header_rows.dedup();
    if header_rows.len() > 1 {
        notes.push(format!("表头所在行不一致 · the header is on rows {header_rows:?} in different files: split the files into sources, or fix header_row"));
    }
    let encoding = if xlsx { None } else { first.raw.encoding };
    if members.iter().any(|&m| sampled[m].raw.encoding != first.raw.encoding) {
        notes.push("文件编码不一致 · the files differ in encoding: encoding = \"auto\" reads each as it is".into());
    }
    if partial {
        notes.push("只抽样了大文件的开头 · only the start of large files was sampled; `duibiao check` samples the whole files".into());
    }
    let mut columns = column_names(&inferred, &mut notes);
    notes.extend(duplicate_hints(&rows, &columns));
    let period = choose_period(&mut columns, &files, &titles, &sheets, xlsx, &mut notes);
    let name = source_name(&files[0], is_master);
    DraftSource {
        title: files[0]
            .file_stem()
            .map(|s| s.to_string_lossy().trim_start_matches(|c: char| c.is_ascii_digit() || "年月第季度_-".contains(c)).to_string())
            .unwrap_or_default(),
        path: glob_for(&files, groups, sampled, base),
        name,
        files,
        encoding,
        header_row: header_rows.first().copied().unwrap_or(1),
        drop: totals,
        columns,
        period,
        station: None,
        rows_sampled: rows.len() - 1,
        notes,
    }
}

/// What the sample says about duplicates: identical rows (events or copies?), and event ids
/// that repeat (a key policy quarantines their differing rows).
fn duplicate_hints(rows: &[Vec<String>], columns: &[DraftColumn]) -> Vec<String> {
    let mut hints = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let identical = rows[1..].iter().filter(|r| !seen.insert(*r)).count();
    let id = columns.iter().filter(|c| c.from.is_none()).position(|c| ["order_id", "event_id"].contains(&c.name.as_str()));
    match id {
        Some(i) => {
            let name = &columns.iter().filter(|c| c.from.is_none()).nth(i).map(|c| c.name.clone()).unwrap_or_default();
            let mut first: std::collections::HashMap<&str, &Vec<String>> = std::collections::HashMap::new();
            let mut differing = 0;
            for r in &rows[1..] {
                let Some(v) = r.get(i) else { continue };
                match first.get(v.as_str()) {
                    Some(earlier) if *earlier != r => differing += 1,
                    Some(_) => {}
                    None => {
                        first.insert(v, r);
                    }
                }
            }
            if differing > 0 || identical > 0 {
                hints.push(format!(
                    "{name} 重复 · {identical} identical row(s) and {differing} row(s) repeating a {name} with other values in the sample: duplicates = {{ key = [\"{name}\"] }} removes the copies and quarantines the differing rows as conflicting"
                ));
            }
        }
        None if identical > 0 => hints.push(format!(
            "完全相同的行 · {identical} identical row(s) in the sample and no ID column: by default they are removed as duplicates; if they are distinct events (two equal activities on one day), set duplicates = \"keep\""
        )),
        None => {}
    }
    hints
}

/// Sources of one folder whose columns differ only in their headers (应收电费(元) in some files,
/// 应收电费(万元) in others) become one source whose columns list the other headers in `also`.
fn merge_alike(sources: &mut Vec<DraftSource>, groups: &mut Vec<Vec<usize>>, master: Option<usize>, sampled: &[Sampled], base: &Path) {
    let folder = |s: &DraftSource| s.files[0].parent().map(Path::to_path_buf);
    let mut i = 0;
    while i < sources.len() {
        let mut j = i + 1;
        while j < sources.len() {
            let (a, b) = (&sources[i], &sources[j]);
            let alike = Some(i) != master
                && Some(j) != master
                && folder(a) == folder(b)
                && a.encoding == b.encoding
                && a.header_row == b.header_row
                && a.period == b.period
                && a.columns.len() == b.columns.len()
                && a.columns
                    .iter()
                    .zip(&b.columns)
                    .all(|(x, y)| x.name == y.name && x.from.is_none() == y.from.is_none() && x.kind.type_name() == y.kind.type_name());
            let differ = alike && a.columns.iter().zip(&b.columns).any(|(x, y)| x.header != y.header);
            if !differ {
                j += 1;
                continue;
            }
            let other = sources.remove(j);
            let members = groups.remove(j);
            let merged = &mut sources[i];
            for (x, y) in merged.columns.iter_mut().zip(&other.columns) {
                if let (Some(hx), Some(hy)) = (&x.header, &y.header) {
                    if hx != hy && !x.also.iter().any(|(h, _)| h == hy) {
                        let scale = matches!(y.kind, Kind::Number { wan_yuan: true, .. }).then_some(10_000);
                        x.also.push((hy.clone(), scale));
                    }
                }
            }
            if let (Some(d), Some(o)) = (&mut merged.drop, &other.drop) {
                d.2 += o.2;
            }
            merged.files.extend(other.files);
            merged.files.sort();
            merged.rows_sampled += other.rows_sampled;
            for note in other.notes {
                if !merged.notes.contains(&note) {
                    merged.notes.push(note);
                }
            }
            groups[i].extend(members);
            groups[i].sort_unstable();
        }
        i += 1;
    }
    // Paths again, over the merged groups.
    for s in sources.iter_mut() {
        s.path = glob_for(&s.files, groups, sampled, base);
    }
}

/// Canonical names for the sampled columns, and the date + time pairs made into timestamps.
fn column_names(inferred: &[infer::Column], notes: &mut Vec<String>) -> Vec<DraftColumn> {
    let mut used: Vec<String> = Vec::new();
    let mut columns: Vec<DraftColumn> = Vec::new();
    for (i, c) in inferred.iter().enumerate() {
        let name = GLOSSARY
            .iter()
            .filter(|(w, _)| c.header.contains(w))
            .max_by_key(|(w, _)| w.chars().count())
            .map(|(_, n)| n.to_string())
            .unwrap_or_else(|| format!("column_{}", i + 1));
        let name = unique(name, &mut used);
        let mut comment = Vec::new();
        if c.misfits > 0 {
            comment.push(format!(
                "{} of {} sampled values do not read as {} (e.g. '{}'): those rows go to quarantine",
                c.misfits,
                c.sampled,
                c.kind.type_name().unwrap_or("text"),
                c.misfit_example.clone().unwrap_or_default()
            ));
        }
        if let Kind::Number { percent, thousands, wan_yuan } = c.kind {
            if percent {
                comment.push("percent strings read as fractions (98.5% → 0.985)".into());
            }
            if thousands {
                comment.push("thousands separators (1,234.50)".into());
            }
            if wan_yuan {
                comment.push("万元: scale = 10000 gives 元".into());
            }
        }
        if c.sampled == 0 {
            comment.push("empty in every sampled row".into());
        }
        columns.push(DraftColumn {
            name,
            header: Some(c.header.clone()),
            kind: c.kind.clone(),
            from: None,
            also: Vec::new(),
            not_null: false,
            comment: (!comment.is_empty()).then(|| comment.join("; ")),
        });
    }
    // A time-of-day column beside a date column makes a timestamp (活动日期 + 开始时间).
    let date = columns.iter().find(|c| matches!(c.kind, Kind::Date(_))).and_then(|c| c.header.clone());
    let times: Vec<usize> = (0..columns.len()).filter(|&i| columns[i].kind == Kind::TimeOfDay).collect();
    for i in times {
        match &date {
            Some(d) => {
                let time = columns[i].header.clone().unwrap_or_default();
                columns[i].header = None;
                columns[i].kind = Kind::Timestamp(None);
                columns[i].from = Some(FromText::DateTime { date: d.clone(), time: time.clone() });
                columns[i].comment = Some(format!("{d} + {time}"));
            }
            None => {
                notes.push(format!("'{}' 只有时刻 · holds times of day without a date column: kept as text", columns[i].header.clone().unwrap_or_default()));
                columns[i].kind = Kind::Text;
            }
        }
    }
    columns
}

/// The period: a calendar column (month, quarter, date, then timestamp), else one the file
/// names, title lines or sheet names give. None for reference tables.
fn choose_period(
    columns: &mut Vec<DraftColumn>,
    files: &[PathBuf],
    titles: &[Option<String>],
    sheets: &[String],
    xlsx: bool,
    notes: &mut Vec<String>,
) -> Option<String> {
    let rank = |k: &Kind| match k {
        Kind::Month(_) => 0,
        Kind::Quarter => 1,
        Kind::Date(_) => 2,
        Kind::Timestamp(_) => 3,
        _ => 9,
    };
    if let Some(c) = columns.iter_mut().filter(|c| c.kind.is_temporal()).min_by_key(|c| rank(&c.kind)) {
        c.not_null = true;
        return Some(c.name.clone());
    }
    let names: Vec<String> = files.iter().map(|f| f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect();
    let folders: Vec<String> =
        files.iter().map(|f| f.parent().and_then(Path::file_name).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect();
    let title_texts: Vec<String> = titles.iter().flatten().cloned().collect();
    let mut tries: Vec<(&'static str, &[String])> = vec![("file_name", &names)];
    if !title_texts.is_empty() && title_texts.len() == titles.len() {
        tries.push(("title_line", &title_texts));
    }
    tries.push(("folder_name", &folders));
    for (from, texts) in tries {
        for (kind, pattern) in PERIOD_PATTERNS {
            let re = regex::Regex::new(pattern).expect("init's period patterns are valid");
            let values: Vec<String> = texts.iter().filter_map(|t| re.captures(t).map(|c| c.get(0).map_or("", |m| m.as_str()).to_string())).collect();
            // Every file fits, and the texts tell the files apart (or there is one file).
            let mut distinct = values.clone();
            distinct.sort();
            distinct.dedup();
            if values.len() == texts.len() && (distinct.len() > 1 || texts.len() == 1) {
                let mut taken: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
                let name = unique(kind.to_string(), &mut taken);
                columns.insert(
                    0,
                    DraftColumn {
                        name: name.clone(),
                        header: None,
                        kind: if *kind == "month" { Kind::Month(None) } else { Kind::Quarter },
                        from: Some(FromText::Path { from, pattern: pattern.to_string(), cells: Vec::new() }),
                        also: Vec::new(),
                        not_null: false,
                        comment: Some(format!("from the {}, e.g. '{}'", from.replace('_', " "), texts[0])),
                    },
                );
                return Some(name);
            }
        }
    }
    // A yearly sheet (2021年) and a month cell.
    if xlsx && !sheets.is_empty() {
        let year = regex::Regex::new(r"^(?P<year>\d{4})年?$").expect("valid");
        let month_column = columns.iter().position(|c| c.header.as_deref().is_some_and(|h| h.contains('月')) && matches!(c.kind, Kind::Integer));
        if let (true, Some(i)) = (sheets.iter().all(|s| year.is_match(s.trim())), month_column) {
            let header = columns[i].header.clone().unwrap_or_default();
            let pattern = if sheets.iter().all(|s| s.trim().ends_with('年')) { r"^(?P<year>\d{4})年$" } else { r"^(?P<year>\d{4})$" };
            columns[i] = DraftColumn {
                name: "month".into(),
                header: None,
                kind: Kind::Month(None),
                from: Some(FromText::Path { from: "sheet_name", pattern: pattern.into(), cells: vec![("month", header.clone())] }),
                also: Vec::new(),
                not_null: false,
                comment: Some(format!("year from the sheet name (e.g. '{}'), month from the cell {header}", sheets[0])),
            };
            return Some("month".into());
        }
    }
    if names.iter().any(|n| regex::Regex::new(r"20\d{2}").expect("valid").is_match(n)) {
        notes.push("文件名含年份但无法确定期间 · the file names hold a year but no month or quarter was found: say the period by hand if this is not a reference table".into());
    }
    None
}

/// The source name from the words of the file's name and folders.
fn source_name(file: &Path, is_master: bool) -> String {
    if is_master {
        return "stations".into();
    }
    let texts: Vec<String> = std::iter::once(file.file_name())
        .chain(file.ancestors().skip(1).take(3).map(Path::file_name))
        .flatten()
        .map(|n| n.to_string_lossy().into_owned())
        .collect();
    texts.iter().find_map(|t| SOURCE_WORDS.iter().find(|(w, _)| t.contains(w)).map(|(_, n)| n.to_string())).unwrap_or_else(|| "source".into())
}

/// `name`, or name_2, name_3 … when taken.
fn unique(name: String, used: &mut Vec<String>) -> String {
    let mut candidate = name.clone();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{name}_{n}");
        n += 1;
    }
    used.push(candidate.clone());
    candidate
}

/// The path of a group: the file itself, or a glob of the common start and end of the names
/// that matches no file of another group.
fn glob_for(files: &[PathBuf], groups: &[Vec<usize>], sampled: &[Sampled], base: &Path) -> String {
    let folder = files[0].parent().unwrap_or(Path::new(""));
    let rel_folder = relative(&absolute(folder), base);
    let join = |name: &str| if rel_folder.is_empty() { name.to_string() } else { format!("{rel_folder}/{name}") };
    let names: Vec<Vec<char>> = files.iter().map(|f| f.file_name().map(|n| n.to_string_lossy().chars().collect()).unwrap_or_default()).collect();
    if names.len() == 1 {
        return join(&names[0].iter().collect::<String>());
    }
    let mut prefix = names[0].len();
    let mut suffix = names[0].len();
    for n in &names[1..] {
        prefix = prefix.min(names[0].iter().zip(n).take_while(|(a, b)| a == b).count());
        suffix = suffix.min(names[0].iter().rev().zip(n.iter().rev()).take_while(|(a, b)| a == b).count());
    }
    let mut start: String = names[0][..prefix].iter().collect();
    let mut end: String = names[0][names[0].len() - suffix.min(names[0].len() - prefix)..].iter().collect();
    // Cut at digits so that 2021年 and 2022年 files share one pattern.
    start = start.trim_end_matches(|c: char| c.is_ascii_digit()).to_string();
    end = end.trim_start_matches(|c: char| c.is_ascii_digit()).to_string();
    let matches = |name: &str| name.starts_with(&start) && name.ends_with(&end) && name.len() >= start.len() + end.len();
    let others = groups.iter().flatten().map(|&i| &sampled[i].path).filter(|p| !files.contains(p) && p.parent() == Some(folder));
    let clash = others.clone().any(|p| p.file_name().is_some_and(|n| matches(&n.to_string_lossy())));
    let pattern = format!("{start}*{end}");
    if clash {
        // Nothing tells the groups apart by name: keep the pattern, and say so.
        return join(&pattern) + "  # CLASH";
    }
    join(&pattern)
}

/// Whether a source looks like a station master: a column of distinct names ending in the unit
/// word, and a column of distinct codes, in a single file without periods.
fn looks_like_master(source: &DraftSource, sampled: &[Sampled], members: &[usize]) -> bool {
    if source.period.is_some() || members.len() != 1 {
        return false;
    }
    let (names, codes) = master_columns(source, sampled, members);
    names.is_some() && codes.is_some()
}

/// The name and code columns of a master (indexes into its columns).
fn master_columns(source: &DraftSource, sampled: &[Sampled], members: &[usize]) -> (Option<usize>, Option<usize>) {
    let values = column_values(source, sampled, members);
    let distinct = |v: &Vec<String>| {
        let mut d = v.clone();
        d.sort();
        d.dedup();
        !v.is_empty() && d.len() == v.len()
    };
    let name =
        (0..source.columns.len()).find(|&i| distinct(&values[i]) && values[i].iter().filter(|v| v.ends_with(UNIT_WORD)).count() * 10 >= values[i].len() * 9);
    let code_like = |v: &String| !v.is_empty() && v.len() <= 20 && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let code = (0..source.columns.len()).filter(|&i| Some(i) != name && distinct(&values[i]) && values[i].iter().all(code_like)).min_by_key(|&i| {
        let h = source.columns[i].header.clone().unwrap_or_default();
        if ["编码", "编号", "代码"].iter().any(|w| h.contains(w)) { 0 } else { 1 }
    });
    (name, code)
}

/// Each column's sampled values (by the column's header) across the group's tables.
fn column_values(source: &DraftSource, sampled: &[Sampled], members: &[usize]) -> Vec<Vec<String>> {
    source
        .columns
        .iter()
        .map(|c| {
            let Some(h) = &c.header else { return Vec::new() };
            let mut out = Vec::new();
            for &m in members {
                let s = &sampled[m];
                for (table, shape) in s.raw.tables.iter().zip(&s.shapes) {
                    let Some(shape) = shape else { continue };
                    let Some(i) = shape.headers.iter().position(|x| x == h) else { continue };
                    out.extend(shape.data.iter().filter_map(|&r| table.rows[r].get(i)).filter(|v| !v.is_empty()).cloned());
                }
            }
            out
        })
        .collect()
}

/// Names the master's columns as the run needs them: station_code, station_name, and county
/// and branch_name where a column holds them.
fn shape_master(source: &mut DraftSource, sampled: &[Sampled], members: &[usize]) {
    let (name, code) = master_columns(source, sampled, members);
    let values = column_values(source, sampled, members);
    let county = (0..source.columns.len()).find(|&i| {
        Some(i) != name
            && !values[i].is_empty()
            && values[i].iter().filter(|v| v.ends_with('县') || v.ends_with('市') || v.ends_with("公司")).count() * 10 >= values[i].len() * 9
    });
    let branch =
        (0..source.columns.len()).find(|&i| !values[i].is_empty() && values[i].iter().filter(|v| v.contains("支部")).count() * 10 >= values[i].len() * 9);
    let mut taken: Vec<String> = Vec::new();
    for (i, wanted) in [(code, "station_code"), (name, "station_name"), (county, "county"), (branch, "branch_name")] {
        if let Some(i) = i {
            // Another column already holding the name gives it up.
            for (j, c) in source.columns.iter_mut().enumerate() {
                if j != i && c.name == wanted {
                    c.name = format!("{wanted}_other");
                }
            }
            source.columns[i].name = wanted.to_string();
            source.columns[i].not_null = wanted.starts_with("station_");
            source.columns[i].kind = Kind::Text;
            taken.push(wanted.to_string());
        }
    }
    source.name = "stations".into();
}

/// After the master took the name `stations`, another source of that name is renamed.
fn rename_unique(sources: &mut [DraftSource], master: usize) {
    let mut used: Vec<String> = vec!["stations".into()];
    for (i, s) in sources.iter_mut().enumerate() {
        if i != master {
            let base = s.name.trim_end_matches(|c: char| c.is_ascii_digit() || c == '_').to_string();
            let base = if base.is_empty() { "source".to_string() } else { base };
            s.name = unique(if base == "stations" { "stations_other".into() } else { base }, &mut used);
        }
    }
}

/// The identity rules init matches with, written into the draft: State Grid's naming.
fn init_identity(master: &DraftSource) -> Identity {
    Identity {
        strip_prefixes: vec!["中共".into()],
        strip_suffixes: vec!["支部委员会".into(), "党支部".into()],
        county_column: master.columns.iter().any(|c| c.name == "county").then(|| "county".into()),
        county_short_names: Vec::new(),
        township_words: vec!["镇".into(), "乡".into()],
        unit_word: Some(UNIT_WORD.into()),
        company_prefixes: Identity::COMPANY_PREFIXES.iter().map(|s| s.to_string()).collect(),
        company_words: Identity::COMPANY_WORDS.iter().map(|s| s.to_string()).collect(),
        ethnic_names: Identity::ETHNIC_NAMES.iter().map(|s| s.to_string()).collect(),
    }
}

fn master_entries(master: &DraftSource, sampled: &[Sampled], members: &[usize]) -> Vec<StationEntry> {
    let values = column_values(master, sampled, members);
    let col = |name: &str| master.columns.iter().position(|c| c.name == name);
    // Rows are aligned only when every column is filled; read them row by row instead.
    let s = &sampled[members[0]];
    let mut entries = Vec::new();
    let _ = values;
    for (table, shape) in s.raw.tables.iter().zip(&s.shapes) {
        let Some(shape) = shape else { continue };
        let at = |name: &str| col(name).and_then(|i| master.columns[i].header.clone()).and_then(|h| shape.headers.iter().position(|x| *x == h));
        let (code, name, county, branch) = (at("station_code"), at("station_name"), at("county"), at("branch_name"));
        for &r in &shape.data {
            let cell = |i: Option<usize>| i.and_then(|i| table.rows[r].get(i)).filter(|v| !v.is_empty()).cloned();
            if let (Some(id), Some(n)) = (cell(code), cell(name)) {
                entries.push(StationEntry { station_id: id, name: n, branch: cell(branch), county: cell(county) });
            }
        }
    }
    entries
}

/// The cells of the named columns, row by row, over a group's tables (None: empty or no such
/// column).
fn cells_by_row(source: &DraftSource, sampled: &[Sampled], members: &[usize], names: &[&str]) -> Vec<Vec<Option<String>>> {
    let headers: Vec<Option<String>> = names.iter().map(|n| source.columns.iter().find(|c| c.name == *n).and_then(|c| c.header.clone())).collect();
    if headers.iter().any(Option::is_none) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for &m in members {
        let s = &sampled[m];
        for (table, shape) in s.raw.tables.iter().zip(&s.shapes) {
            let Some(shape) = shape else { continue };
            let at: Vec<Option<usize>> = headers.iter().map(|h| shape.headers.iter().position(|x| Some(x) == h.as_ref())).collect();
            for &r in &shape.data {
                out.push(at.iter().map(|i| i.and_then(|i| table.rows[r].get(i)).filter(|v| !v.is_empty()).cloned()).collect());
            }
        }
    }
    out
}

/// The column whose distinct values resolve best to stations, and how (code, name, branch).
fn station_column(source: &mut DraftSource, sampled: &[Sampled], members: &[usize], resolver: &Resolver) -> Option<(String, StationKey, f64, usize)> {
    let values = column_values(source, sampled, members);
    let mut best: Option<(usize, StationKey, f64, usize)> = None;
    for (i, v) in values.iter().enumerate() {
        if v.is_empty() || !matches!(source.columns[i].kind, Kind::Text | Kind::Integer) {
            continue;
        }
        let mut distinct = v.clone();
        distinct.sort();
        distinct.dedup();
        for key in [StationKey::Code, StationKey::Name, StationKey::Branch] {
            let hit = distinct.iter().filter(|d| matches!(resolver.resolve(d, key), Resolution::Station(_))).count();
            let share = hit as f64 / distinct.len() as f64;
            if best.as_ref().is_none_or(|b| share > b.2) {
                best = Some((i, key, share, distinct.len()));
            }
        }
    }
    let (i, key, share, n) = best?;
    if share < MIN_STATION_SHARE {
        source.notes.push(format!(
            "没有与台账匹配的列 · no column matches the station master (best: '{}', {:.0} % of {n} values as {}): a reference table, or say station = by hand",
            source.columns[i].header.clone().unwrap_or_default(),
            share * 100.0,
            key_name(key)
        ));
        return None;
    }
    // Names and branch names resolve alike; a column of party organisations is labelled branch.
    let key = if key == StationKey::Name && values[i].iter().filter(|v| v.contains("支部")).count() * 2 > values[i].len() { StationKey::Branch } else { key };
    let column = &mut source.columns[i];
    column.kind = Kind::Text;
    column.not_null = true;
    if key == StationKey::Code && column.name != "station_code" && !source.columns.iter().any(|c| c.name == "station_code") {
        source.columns[i].name = "station_code".into();
    }
    Some((source.columns[i].name.clone(), key, share, n))
}

/// The output folder: beside the exports' folder, apart from every folder a source reads and
/// from the pipeline file's folder.
fn output_folder(dir: &Path, stations: Option<&Path>, base: &Path, name: &str) -> String {
    let read: Vec<PathBuf> = std::iter::once(dir.to_path_buf()).chain(stations.and_then(Path::parent).map(Path::to_path_buf)).collect();
    let candidates =
        [dir.parent().map(|p| p.join(format!("out_{name}"))), base.parent().map(|p| p.join(format!("out_{name}"))), Some(base.join(format!("out_{name}")))];
    let ok = |c: &Path| read.iter().all(|r| !c.starts_with(r) && !r.starts_with(c)) && !base.starts_with(c);
    let chosen = candidates.into_iter().flatten().find(|c| ok(c)).unwrap_or_else(|| base.join(format!("out_{name}")));
    relative(&chosen, base)
}

/// An absolute, lexically normalised path (without resolving links).
pub fn absolute(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() { p.to_path_buf() } else { std::env::current_dir().unwrap_or_default().join(p) };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// `path` relative to `base` (both absolute), with ../ as needed; "/"-separated.
pub fn relative(path: &Path, base: &Path) -> String {
    let p: Vec<Component> = path.components().collect();
    let b: Vec<Component> = base.components().collect();
    let common = p.iter().zip(&b).take_while(|(x, y)| x == y).count();
    let mut parts: Vec<String> = vec!["..".into(); b.len() - common];
    parts.extend(p[common..].iter().map(|c| c.as_os_str().to_string_lossy().into_owned()));
    parts.join("/")
}

/// A TOML basic string.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// A TOML literal string when the text allows one (patterns keep their backslashes).
fn literal(s: &str) -> String {
    if s.contains('\'') || s.contains('\n') { quoted(s) } else { format!("'{s}'") }
}

impl Draft {
    /// The commented pipeline file.
    pub(crate) fn render(&self, skipped: &[PathBuf]) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "# {} — 由 duibiao init 生成的草稿 · draft written by duibiao init", self.title);
        let _ = writeln!(t, "# from the exports in {}. Everything below was read from the files; check each line, then", self.dir_shown);
        let _ = writeln!(t, "# fill in [indicators] and [features] (templates at the end) and run `duibiao check` on this file.");
        let _ = writeln!(t, "# Paths are relative to this file.");
        if !skipped.is_empty() {
            let _ = writeln!(
                t,
                "#\n# Not exports (skipped): {}",
                skipped.iter().map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()).collect::<Vec<_>>().join(", ")
            );
        }
        for note in &self.notes {
            let _ = writeln!(t, "# NOTE: {note}");
        }
        let _ = writeln!(
            t,
            "\n[pipeline]\nname = {}\ntitle = {}\nperiod = \"quarter\"\nutc_offset = \"+08:00\"\nstations = \"stations\"",
            quoted(&self.name),
            quoted(&self.title)
        );
        // An alias table (spelling → station code) feeds identity resolution.
        let alias = |s: &&DraftSource| {
            s.name != "stations" && s.period.is_none() && ["spelling", "station_code"].iter().all(|c| s.columns.iter().any(|x| x.name == *c))
        };
        if let Some(a) = self.sources.iter().find(alias) {
            let _ = writeln!(t, "aliases = {}", quoted(&a.name));
        }
        let _ = writeln!(t, "\n[output]\ndir = {}", quoted(&self.output_dir));
        for s in &self.sources {
            render_source(&mut t, s);
        }
        let i = &self.identity;
        let list = |v: &[String]| format!("[{}]", v.iter().map(|s| quoted(s)).collect::<Vec<_>>().join(", "));
        let _ = writeln!(t, "\n# ── 站名规范化 identity: the rules init matched station spellings with ──────────────────");
        let _ = writeln!(t, "[identity]\nstrip_prefixes = {}\nstrip_suffixes = {}", list(&i.strip_prefixes), list(&i.strip_suffixes));
        let _ = writeln!(t, "company_prefixes = {}\ncompany_words = {}", list(&i.company_prefixes), list(&i.company_words));
        if let Some(c) = &i.county_column {
            let _ = writeln!(t, "county_column = {}", quoted(c));
        }
        let _ = writeln!(t, "township_words = {}\nunit_word = {}", list(&i.township_words), quoted(UNIT_WORD));
        let _ = writeln!(t, "# county_short_names = [\"塔县\"]   # county forms no rule derives");
        t.push_str(&templates(&self.sources));
        t
    }
}

fn render_source(t: &mut String, s: &DraftSource) {
    let _ = writeln!(t, "\n# ── {} ({} file(s), {} rows sampled) ──", s.title, s.files.len(), s.rows_sampled);
    for note in &s.notes {
        let _ = writeln!(t, "# NOTE: {note}");
    }
    // A UTF-16 file cannot be read: the source stays commented out.
    let utf16 = match s.encoding {
        Some(Sniffed::Utf16(form)) => Some(form),
        _ => None,
    };
    let p = if utf16.is_some() { "# " } else { "" };
    if let Some(form) = utf16 {
        let _ = writeln!(
            t,
            "# UTF-16 ({form}): duibiao reads UTF-8, UTF-8 with BOM, GBK and GB18030. Save these files as UTF-8\n# (Excel: 另存为 \"CSV UTF-8\"), run init again, or uncomment this source after converting them."
        );
    }
    let (path, clash) = match s.path.strip_suffix("  # CLASH") {
        Some(p) => (p.to_string(), true),
        None => (s.path.clone(), false),
    };
    if clash {
        let _ = writeln!(t, "# NOTE: this pattern also matches files of another source in the same folder (their headers differ); narrow it by hand");
    }
    let _ = writeln!(t, "{p}[sources.{}]\n{p}title = {}\n{p}path = {}", s.name, quoted(&s.title), quoted(&path));
    if let Some(e) = s.encoding.and_then(Sniffed::key) {
        let _ = writeln!(t, "{p}encoding = {}", quoted(e));
    }
    if s.header_row != 1 {
        let _ = writeln!(t, "{p}header_row = {}", s.header_row);
    }
    if let Some((header, prefixes, n)) = &s.drop {
        let _ = writeln!(
            t,
            "{p}drop_rows = [{{ header = {}, starts_with = [{}] }}]   # {n} total row(s) seen",
            quoted(header),
            prefixes.iter().map(|x| quoted(x)).collect::<Vec<_>>().join(", ")
        );
    }
    if let Some((column, key, share, n)) = &s.station {
        let _ = writeln!(
            t,
            "{p}station = {}\n{p}station_key = \"{}\"   # {:.0} % of {n} distinct values match the station master",
            quoted(column),
            key_name(*key),
            share * 100.0
        );
    }
    if let Some(period) = &s.period {
        let _ = writeln!(t, "{p}period = {}", quoted(period));
    }
    for c in &s.columns {
        let _ =
            writeln!(t, "{p}columns.{} = {{ {} }}{}", c.name, column_fields(c).join(", "), c.comment.as_ref().map(|x| format!("   # {x}")).unwrap_or_default());
    }
}

/// The fields of a column's inline table: where its value comes from, type, format, scale.
fn column_fields(c: &DraftColumn) -> Vec<String> {
    let mut fields: Vec<String> = Vec::new();
    match &c.from {
        None => fields.push(format!("header = {}", quoted(c.header.as_deref().unwrap_or_default()))),
        Some(FromText::Path { from, pattern, cells }) => {
            fields.push(format!("from = \"{from}\""));
            fields.push(format!("pattern = {}", literal(pattern)));
            fields.extend(cells.iter().map(|(part, h)| format!("{part} = {}", quoted(h))));
        }
        Some(FromText::DateTime { date, time }) => {
            fields.push(format!("date = {}", quoted(date)));
            fields.push(format!("time = {}", quoted(time)));
        }
    }
    if let Some(ty) = c.kind.type_name() {
        fields.push(format!("type = \"{ty}\""));
    }
    if let Some(f) = c.kind.format() {
        fields.push(format!("format = {}", quoted(f)));
    }
    if let Kind::Number { wan_yuan: true, .. } = c.kind {
        fields.push("scale = 10000".into());
    }
    if !c.also.is_empty() {
        let also: Vec<String> = c
            .also
            .iter()
            .map(|(h, scale)| match scale {
                Some(k) => format!("{{ header = {}, scale = {k} }}", quoted(h)),
                None => format!("{{ header = {} }}", quoted(h)),
            })
            .collect();
        fields.push(format!("also = [{}]", also.join(", ")));
    }
    if c.not_null {
        fields.push("not_null = true".into());
    }
    fields
}

/// Commented templates of DOMAIN's six indicators and of common features, naming the sources
/// init found where it could tell them.
fn templates(sources: &[DraftSource]) -> String {
    let has = |n: &str| sources.iter().any(|s| s.name == n && !matches!(s.encoding, Some(Sniffed::Utf16(_))));
    let src = |n: &str| if has(n) { format!("\"{n}\"") } else { format!("\"{n}\"   # no such source found: name yours") };
    let mut t = String::new();
    let _ = writeln!(t, "\n# ── 指标与特征 indicators and features: templates — uncomment, point at your sources and columns ──");
    let _ = writeln!(t, "# Quarterly values are ratios of sums over the quarter, never averages of monthly rates.");
    let indicators = [
        ("fee_recovery", "电费回收率", "fee", "sum(paid) / sum(billed)", "higher"),
        ("data_collection", "全量数据采集质量", "collection", "sum(collected_meters) / sum(expected_meters)", "higher"),
        (
            "line_loss_compliance",
            "同期线损达标率",
            "line_loss",
            "avg(CASE WHEN supplied > 0 AND (supplied - sold) / supplied BETWEEN 0 AND 0.10 THEN 1.0 ELSE 0.0 END)",
            "higher",
        ),
        (
            "complaint_control",
            "客户诉求管控（每万户月均诉求）",
            "work_orders",
            "sum(CASE WHEN order_type IN ('投诉', '意见', '举报') THEN 1.0 ELSE 0.0 END) / max(customers) * 10000 / max(period_months)",
            "lower",
        ),
        ("om_index", "配网运检管理指数", "om_index", "avg(om_index)", "higher"),
        ("reliability", "供电可靠率（RS-1）", "outages", "1 - sum(overlap_hours * customers_affected) / (max(customers) * max(period_hours))", "higher"),
    ];
    for (name, label, source, formula, better) in indicators {
        let _ = writeln!(t, "#\n# [indicators.{name}]\n# label = \"{label}\"\n# source = {}\n# formula = \"{formula}\"\n# better = \"{better}\"", src(source));
        if name == "line_loss_compliance" {
            let _ = writeln!(t, "# pre_aggregate = {{ by = [\"tai_area_id\"], columns = {{ supplied = \"sum(supplied_kwh)\", sold = \"sum(sold_kwh)\" }} }}");
            let _ = writeln!(
                t,
                "# (台区列须声明 not_null · declare tai_area_id with not_null = true among the source's columns: rows without a 台区 would otherwise be pooled into one group)"
            );
        }
        if name == "reliability" {
            let _ = writeln!(t, "# interval = {{ start = \"start_time\", end = \"end_time\" }}\n# fill = 1.0");
        }
        if name == "complaint_control" {
            let _ = writeln!(t, "# fill = 0.0");
        }
    }
    let features = [
        ("activities_per_member", "人均党建活动次数", "party_activities", "count(*) / max(party_members)"),
        ("attendance_rate", "党建活动出勤率", "party_activities", "sum(actual_attendance) / sum(expected_attendance)"),
        ("sanliang_sanbi", "三亮三比次数", "party_activities", "sum(CASE WHEN activity_type = '三亮三比' THEN 1.0 ELSE 0.0 END)"),
        ("mean_stars", "星级党员平均星级", "star_ratings", "avg(stars)"),
        ("red_flags", "流动红旗", "flags", "sum(CASE WHEN kind = '流动红旗' THEN 1.0 ELSE 0.0 END)"),
    ];
    for (name, label, source, formula) in features {
        let _ = writeln!(t, "#\n# [features.{name}]\n# label = \"{label}\"\n# source = {}\n# formula = \"{formula}\"", src(source));
    }
    let _ = writeln!(t, "#\n# [panel]\n# lags = [0, 1]");
    t
}
