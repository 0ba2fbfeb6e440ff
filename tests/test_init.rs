//! `duibiao init`: the draft it writes for a folder of exports is accepted by `check`, and says
//! what the files' own documentation says of them (sample_other/README.md's table of encodings
//! and header lines, written by the generator independently of init); it never overwrites.

use std::path::Path;

use crate::testenv::{duibiao, repo, sample_other};

fn draft(path: &Path) -> toml::Table {
    std::fs::read_to_string(path).unwrap().parse().unwrap()
}

fn source<'a>(t: &'a toml::Table, name: &str) -> &'a toml::Table {
    t["sources"].as_table().unwrap().get(name).unwrap_or_else(|| panic!("no source {name} in the draft")).as_table().unwrap()
}

fn column<'a>(s: &'a toml::Table, name: &str) -> &'a toml::Table {
    s["columns"].as_table().unwrap().get(name).unwrap_or_else(|| panic!("no column {name}")).as_table().unwrap()
}

/// (source, file, encoding, header line) rows of sample_other/README.md's file table.
fn documented_files() -> Vec<(String, String, String, usize)> {
    let readme = std::fs::read_to_string(repo().join("sample_other/README.md")).unwrap();
    readme
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains('`'))
        .filter_map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
            // Rows of the file table only: five cells or more, the fifth a line number.
            let line = cells.get(4)?.parse().ok()?;
            Some((cells[0].to_string(), cells[1].trim_matches('`').to_string(), cells[3].to_string(), line))
        })
        .collect()
}

#[test]
fn the_draft_for_the_second_region_passes_check_and_matches_its_documentation() {
    let tmp = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(sample_other(), tmp.path().join("exports")).unwrap();
    let out = duibiao(tmp.path(), &["init", "exports", "--out", "pipelines/draft.toml"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("the pipeline compiles and matches its files"), "{stdout}");
    let t = draft(&tmp.path().join("pipelines/draft.toml"));

    let files = documented_files();
    assert!(files.len() >= 50, "the README table was read: {} rows", files.len());
    for (name, file, encoding, header_line) in &files {
        let s = source(&t, name);
        let path = s["path"].as_str().unwrap();
        let pattern = glob::Pattern::new(path.trim_start_matches("../exports/")).unwrap();
        assert!(pattern.matches(file), "{name}: path {path} does not take {file}");
        assert_eq!(s.get("header_row").map_or(1, |h| h.as_integer().unwrap() as usize), *header_line, "{name}: header row");
        let said = s.get("encoding").and_then(|e| e.as_str());
        match encoding.split(',').next().unwrap() {
            // GB18030 text that uses only two-byte characters is GBK text.
            "gb18030" | "gbk" => assert!(matches!(said, Some("gbk") | Some("gb18030")), "{name}: {said:?}"),
            "xlsx" => assert_eq!(said, None, "{name}"),
            e if e.starts_with("sheets") => assert_eq!(said, None, "{name}"),
            e => assert_eq!(said, Some(e), "{name}"),
        }
    }

    // Periods: months from file names, quarters from title lines, years from sheet names with
    // the month in a cell, and the activity's start from its date and time columns.
    let fee = source(&t, "fee");
    let month = column(fee, fee["period"].as_str().unwrap());
    assert_eq!((month["from"].as_str(), month["type"].as_str()), (Some("file_name"), Some("month")));
    let line_loss = source(&t, "line_loss");
    let quarter = column(line_loss, line_loss["period"].as_str().unwrap());
    assert_eq!((quarter["from"].as_str(), quarter["type"].as_str()), (Some("title_line"), Some("quarter")));
    let collection = source(&t, "collection");
    let month = column(collection, collection["period"].as_str().unwrap());
    assert_eq!((month["from"].as_str(), month["month"].as_str()), (Some("sheet_name"), Some("月份")));
    let activities = source(&t, "party_activities");
    let start = column(activities, "start_time");
    assert_eq!((start["date"].as_str(), start["time"].as_str(), start["type"].as_str()), (Some("活动日期"), Some("开始时间"), Some("timestamp")));

    // Station columns: codes, unit names and party organisation names.
    for (name, key, header) in [
        ("fee", "code", "单位代码"),
        ("work_orders", "name", "所属单位"),
        ("party_activities", "branch", "党组织名称"),
        ("star_ratings", "branch", "党组织名称"),
    ] {
        let s = source(&t, name);
        assert_eq!(s["station_key"].as_str(), Some(key), "{name}");
        let station = column(s, s["station"].as_str().unwrap());
        assert_eq!(station["header"].as_str(), Some(header), "{name}");
    }
    // The 合计 rows of the fee files, and the thousands separators of their amounts.
    assert_eq!(fee["drop_rows"].as_array().unwrap()[0]["starts_with"].as_array().unwrap()[0].as_str(), Some("合计"));
    let billed = fee["columns"].as_table().unwrap().values().find(|c| c["header"].as_str() == Some("应收金额(元)")).unwrap();
    assert_eq!(billed["type"].as_str(), Some("number"));
}

#[test]
fn init_never_overwrites_and_names_what_it_needs() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("pipelines")).unwrap();
    std::os::unix::fs::symlink(sample_other(), tmp.path().join("exports")).unwrap();
    let existing = tmp.path().join("pipelines/mine.toml");
    std::fs::write(&existing, "# my own pipeline\n").unwrap();
    let out = duibiao(tmp.path(), &["init", "exports", "--out", "pipelines/mine.toml"]);
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stderr).contains("pipelines/mine.toml"));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "# my own pipeline\n");

    // A folder without a station master: the message says how to give one.
    let bare = tmp.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    std::fs::write(bare.join("工单.csv"), "工单号,受理时间,供电单位\nA1,2021-01-05 10:00:00,甲供电所\nA2,2021-01-06 11:00:00,甲供电所\n").unwrap();
    let out = duibiao(tmp.path(), &["init", "bare", "--out", "pipelines/bare.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--stations"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!tmp.path().join("pipelines/bare.toml").exists());
}

#[test]
fn a_hand_made_folder_gives_types_scales_totals_and_a_commented_utf16_source() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("导出");
    std::fs::create_dir_all(dir.join("电费")).unwrap();
    std::fs::create_dir_all(tmp.path().join("master")).unwrap();
    // The master lies outside the folder and is given with --stations.
    std::fs::write(tmp.path().join("master/台账.csv"), "编码,名称,用户数\nS01,甲供电所,100\nS02,乙供电所,250\nS03,丙供电所,90\n").unwrap();
    // GBK, a title line, 万元 amounts, a percent column and a 合计 line.
    let fee = "某公司电费回收统计表\n供电单位编码,统计月份,应收电费(万元),回收率\nS01,2021年01月,12.5,98.5%\nS02,2021年01月,30.25,100%\nS03,2021年01月,8,97.25%\n合计,,50.75,\n";
    std::fs::write(dir.join("电费/电费_202101.csv"), encoding_rs::GBK.encode(fee).0).unwrap();
    // The same export a year later, in 元: one source, the other header in `also`.
    let fee_yuan = "某公司电费回收统计表\n供电单位编码,统计月份,应收电费(元),回收率\nS01,2022年01月,125000,98.5%\nS02,2022年01月,302500,100%\n合计,,427500,\n";
    std::fs::write(dir.join("电费/电费_202201.csv"), encoding_rs::GBK.encode(fee_yuan).0).unwrap();
    // UTF-16 with a byte-order mark: not readable by the run, so its source stays commented.
    let utf16: Vec<u8> =
        b"\xFF\xFE".iter().copied().chain("工单号,受理时间,供电单位\nA1,2021-01-05 10:00:00,甲供电所\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
    std::fs::write(dir.join("95598工单.csv"), utf16).unwrap();
    let out = duibiao(tmp.path(), &["init", "导出", "--stations", "master/台账.csv", "--out", "p/draft.toml"]);
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(tmp.path().join("p/draft.toml")).unwrap();
    let t: toml::Table = text.parse().unwrap();
    let stations = source(&t, "stations");
    assert_eq!(stations["path"].as_str(), Some("../master/台账.csv"));
    assert_eq!(column(stations, "station_code")["header"].as_str(), Some("编码"));
    assert_eq!(column(stations, "station_name")["header"].as_str(), Some("名称"));
    let fee = source(&t, "fee");
    assert_eq!((fee["encoding"].as_str(), fee["header_row"].as_integer()), (Some("gbk"), Some(2)));
    assert_eq!(fee["period"].as_str(), Some("month"));
    assert_eq!(column(fee, "month")["type"].as_str(), Some("month"));
    let billed = column(fee, "billed");
    assert_eq!((billed["type"].as_str(), billed["scale"].as_integer()), (Some("number"), Some(10000)));
    assert_eq!(billed["also"].as_array().unwrap()[0]["header"].as_str(), Some("应收电费(元)"));
    assert!(billed["also"].as_array().unwrap()[0].get("scale").is_none());
    assert_eq!(fee["path"].as_str(), Some("../导出/电费/电费_*.csv"));
    assert_eq!(column(fee, "recovery_rate")["type"].as_str(), Some("number"));
    assert_eq!(fee["drop_rows"].as_array().unwrap()[0]["header"].as_str(), Some("供电单位编码"));
    assert_eq!((fee["station"].as_str(), fee["station_key"].as_str()), (Some("station_code"), Some("code")));
    // The UTF-16 file: named, explained, commented out.
    assert!(!t["sources"].as_table().unwrap().contains_key("work_orders"));
    assert!(text.contains("# [sources.work_orders]") && text.contains("UTF-16"), "{text}");
    // The output folder lies apart from every folder read.
    let dir_out = t["output"]["dir"].as_str().unwrap();
    assert!(!dir_out.contains("导出") && !dir_out.contains("master"), "{dir_out}");
}
