//! Counties, townships and stations of the generated organisation, and the ways exports spell a
//! station's name.
//!
//! The `kashgar` scale uses the twelve real counties of Kashgar prefecture with real township
//! names; the larger scales build synthetic county and township names from syllables, so that a
//! province or national run has thousands of distinct, plausible-looking names. The `other`
//! layout's prefecture is synthetic too, with a county-level city and an autonomous county among
//! its counties.

use super::rng::{Draw, stream};

/// A county power supply company (县供电公司).
#[derive(Debug, Clone)]
pub struct County {
    /// Administrative code, e.g. 653121.
    pub code: String,
    /// Full name, e.g. 疏附县.
    pub name: String,
    /// Short form used in prefixes, e.g. 疏附 (塔县 for 塔什库尔干塔吉克自治县).
    pub short: String,
    /// The form unit names put in front of a station's name: the full name, except that an
    /// autonomous county goes by its short 县 form (X蒙古自治县 → X县).
    pub common: String,
}

/// A township station (供电所) as the master table records it.
#[derive(Debug, Clone)]
pub struct Station {
    pub index: usize,
    /// Hierarchical unit code: county code + two digits, e.g. 65312101.
    pub code: String,
    /// Canonical name, e.g. 托克扎克供电所.
    pub name: String,
    /// Township base name without 镇/乡, e.g. 托克扎克.
    pub base: String,
    /// Township suffix as the township is officially called: 镇 or 乡 (or 族乡 forms).
    pub township_suffix: String,
    pub county: usize,
}

impl Station {
    pub(crate) fn branch_name(&self) -> String {
        format!("{}党支部", self.name)
    }
}

/// Kashgar prefecture: county code, name, short name, townships (official names).
const KASHGAR: &[(&str, &str, &str, &[&str])] = &[
    ("653101", "喀什市", "喀什", &["浩罕乡", "夏马勒巴格乡", "色满乡", "荒地乡", "伯什克然木乡"]),
    ("653121", "疏附县", "疏附", &["托克扎克镇", "乌帕尔镇", "塔什米里克乡", "铁日木乡", "布拉克苏乡", "站敏乡", "萨依巴格乡", "吾库萨克镇"]),
    ("653122", "疏勒县", "疏勒", &["疏勒镇", "罕南力克镇", "牙甫泉镇", "洋大曼乡", "亚曼牙乡", "巴合齐乡", "塔孜洪乡", "英尔力克乡", "库木西力克乡"]),
    ("653123", "英吉沙县", "英吉沙", &["英吉沙镇", "乌恰镇", "芒辛镇", "萨罕乡", "色提力乡", "依格孜牙乡", "托普鲁克乡"]),
    ("653124", "泽普县", "泽普", &["泽普镇", "奎依巴格镇", "波斯喀木乡", "依肯苏乡", "图呼其乡", "赛力乡", "阿依库勒乡"]),
    (
        "653125",
        "莎车县",
        "莎车",
        &[
            "莎车镇",
            "恰热克镇",
            "艾力西湖镇",
            "白什坎特镇",
            "依盖尔其镇",
            "米夏乡",
            "托木吾斯塘乡",
            "乌达力克乡",
            "阿拉买提乡",
            "阿扎特巴格乡",
            "喀群乡",
            "霍什拉甫乡",
            "达木斯乡",
            "伊什库力乡",
            "阔什艾日克乡",
        ],
    ),
    (
        "653126",
        "叶城县",
        "叶城",
        &["喀格勒克镇", "洛克乡", "伯西热克乡", "铁提乡", "依提木孔乡", "乌吉热克乡", "夏合甫乡", "江格勒斯乡", "柯克亚乡", "西合休乡"],
    ),
    ("653127", "麦盖提县", "麦盖提", &["麦盖提镇", "巴扎结米乡", "希依提墩乡", "央塔克乡", "吐曼塔勒乡", "库尔玛乡"]),
    ("653128", "岳普湖县", "岳普湖", &["岳普湖镇", "艾西曼镇", "阿洪鲁库木乡", "阿其克乡", "铁力木乡"]),
    ("653129", "伽师县", "伽师", &["巴仁镇", "西克尔库勒镇", "卧里托格拉克乡", "江巴孜乡", "夏普吐勒乡", "克孜勒博依乡", "英买里乡"]),
    ("653130", "巴楚县", "巴楚", &["巴楚镇", "色力布亚镇", "三岔口镇", "阿纳库勒乡"]),
    ("653131", "塔什库尔干塔吉克自治县", "塔县", &["塔什库尔干镇", "马尔洋乡", "达布达尔乡"]),
];

/// Syllables for synthetic township names at province and national scale.
const SYLLABLES: &[&str] = &[
    "阿", "克", "苏", "巴", "格", "托", "乌", "喀", "拉", "什", "库", "尔", "买", "提", "依", "恰", "热", "孜", "木", "吾", "塔", "叶", "麦", "英", "萨", "布",
    "达", "吐", "艾", "尕", "夏", "色", "亚", "铁", "兰", "干", "和", "加", "江", "西", "奎", "波", "米", "罕", "洋", "伯", "牙", "甫",
];

/// The organisation: counties and their stations.
pub(crate) struct Organisation {
    pub counties: Vec<County>,
    pub stations: Vec<Station>,
}

/// The real Kashgar layout: 12 counties, 86 stations.
pub fn kashgar() -> Organisation {
    let mut counties = Vec::new();
    let mut stations = Vec::new();
    for (county_index, (code, name, short, townships)) in KASHGAR.iter().enumerate() {
        counties.push(County { code: code.to_string(), name: name.to_string(), short: short.to_string(), common: name.to_string() });
        for (seq, township) in townships.iter().enumerate() {
            let (base, suffix) = split_township(township);
            stations.push(Station {
                index: stations.len(),
                code: format!("{code}{:02}", seq + 1),
                name: format!("{base}供电所"),
                base: base.to_string(),
                township_suffix: suffix.to_string(),
                county: county_index,
            });
        }
    }
    Organisation { counties, stations }
}

/// A synthetic organisation of about `station_count` stations, ~12 per county, unique names.
pub fn synthetic(seed: u64, station_count: usize) -> Organisation {
    synthetic_from(stream(seed, "geography", 0, 0), station_count)
}

/// The `other` layout's prefecture: `station_count` synthetic stations whose first county is a
/// county-level city (X市) and third an autonomous county (X蒙古自治县, called X县 in unit names).
/// Its names come from a stream of their own, so they are not the province scale's first counties.
pub fn other(seed: u64, station_count: usize) -> Organisation {
    let mut org = synthetic_from(stream(seed, "geography-other", 0, 0), station_count);
    for (i, county) in org.counties.iter_mut().enumerate() {
        match i {
            0 => county.name = format!("{}市", county.short),
            2 => {
                county.name = format!("{}蒙古自治县", county.short);
                county.common = format!("{}县", county.short);
                continue;
            }
            _ => {}
        }
        county.common = county.name.clone();
    }
    org
}

fn synthetic_from(mut draw: Draw, station_count: usize) -> Organisation {
    let mut used = std::collections::HashSet::new();
    let mut counties = Vec::new();
    let mut stations = Vec::new();
    let mut county_index = 0usize;
    // Exports drop or add the county in front of a station's name, so no station name may begin
    // with a county's name: "乌尔萨萨吾供电所" would otherwise be both a station and 萨萨吾 of
    // 乌尔县. Thousands of counties need three-syllable names to leave room for that.
    let county_len = if station_count > 5_000 { 3 } else { 2 };
    let mut shorts: Vec<String> = Vec::new();
    let mut bases: Vec<String> = Vec::new();
    let mut sounds = std::collections::HashSet::new();
    while stations.len() < station_count {
        // Codes 65xxyy: prefecture 01..99, county 01..99 within it.
        let prefecture = county_index / 40 + 1;
        let code = format!("65{:02}{:02}", prefecture, county_index % 40 + 1);
        let short = loop {
            let name = unique_name(&mut draw, &mut used, county_len);
            if !bases.iter().any(|b| b.starts_with(&name)) {
                break name;
            }
        };
        shorts.push(short.clone());
        counties.push(County { code: code.clone(), name: format!("{short}县"), common: format!("{short}县"), short });
        let in_county = (8 + draw.index(9)).min(station_count - stations.len());
        for seq in 0..in_county {
            let len = 3 + draw.index(2);
            // Nor may two names differ only by a homophone: the alias table's typo spelling of
            // one would be the other's name.
            let base = loop {
                let name = unique_name(&mut draw, &mut used, len);
                if !shorts.iter().any(|c| name.starts_with(c.as_str())) && sounds.insert(homophone_key(&name)) {
                    break name;
                }
            };
            bases.push(base.clone());
            let suffix = if draw.chance(0.3) { "镇" } else { "乡" };
            stations.push(Station {
                index: stations.len(),
                code: format!("{code}{:02}", seq + 1),
                name: format!("{base}供电所"),
                base,
                township_suffix: suffix.to_string(),
                county: county_index,
            });
        }
        county_index += 1;
    }
    Organisation { counties, stations }
}

fn unique_name(draw: &mut Draw, used: &mut std::collections::HashSet<String>, len: usize) -> String {
    loop {
        let name: String = (0..len).map(|_| *draw.pick(SYLLABLES)).collect();
        if used.insert(name.clone()) {
            return name;
        }
    }
}

/// Splits an official township name into its base and its 镇 / 乡 suffix.
fn split_township(township: &str) -> (&str, &str) {
    for suffix in ["镇", "乡"] {
        if let Some(base) = township.strip_suffix(suffix) {
            return (base, suffix);
        }
    }
    (township, "")
}

/// How an export spells a station: canonical, a variant that the normalisation rules undo, or a
/// variant only the alias table knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spelling {
    Canonical,
    RuleVariant,
    AliasOnly,
    /// Wrapped in the county company's name or the county, as a region's systems write units.
    Wrapped,
}

/// Character substitutions seen in hand-typed station names (same sound, other character).
const HOMOPHONES: &[(char, char)] = &[
    ('扎', '札'),
    ('克', '刻'),
    ('提', '堤'),
    ('巴', '八'),
    ('尔', '儿'),
    ('买', '麦'),
    ('格', '哥'),
    ('什', '仕'),
    ('木', '目'),
    ('依', '伊'),
    ('孜', '兹'),
    ('乌', '吾'),
    ('热', '惹'),
    ('苏', '素'),
];

/// A name with every homophone written one way: names with the same key sound alike.
fn homophone_key(name: &str) -> String {
    name.chars().map(|c| HOMOPHONES.iter().find(|(from, _)| *from == c).map(|(_, to)| *to).unwrap_or(c)).collect()
}

/// A spelling of the station's name that the pipeline's normalisation rules map back to it:
/// 镇/乡 kept, county prefix, county in full-width brackets, or stray spaces.
pub(crate) fn rule_variant(draw: &mut Draw, station: &Station, county: &County) -> String {
    let with_suffix = format!("{}{}供电所", station.base, station.township_suffix);
    match draw.index(5) {
        0 if !station.township_suffix.is_empty() => with_suffix,
        0 | 1 => format!("{}{}", county.name, station.name),
        2 => format!("{}（{}）", station.name, county.name),
        3 => format!("{} 供电所", station.base),
        _ => format!(" {}{}  ", county.short, station.name),
    }
}

/// A spelling only the alias table resolves: an abbreviation (托克扎克所) or a homophone typo.
/// Deterministic per station, so the alias table lists exactly the spellings the exports use.
pub(crate) fn alias_spellings(station: &Station) -> [String; 2] {
    let abbreviation = format!("{}所", station.base);
    let typo_base: String = {
        let mut replaced = false;
        station
            .base
            .chars()
            .map(|c| match HOMOPHONES.iter().find(|(from, _)| *from == c) {
                Some((_, to)) if !replaced => {
                    replaced = true;
                    *to
                }
                _ => c,
            })
            .collect()
    };
    let typo = if typo_base == station.base {
        format!("{}电管所", station.base) // the pre-2012 name, when no homophone applies
    } else {
        format!("{typo_base}供电所")
    };
    [abbreviation, typo]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kashgar_has_86_stations_in_12_counties_with_unique_names_and_codes() {
        let org = kashgar();
        assert_eq!(org.counties.len(), 12);
        assert_eq!(org.stations.len(), 86);
        let names: std::collections::HashSet<_> = org.stations.iter().map(|s| &s.name).collect();
        let codes: std::collections::HashSet<_> = org.stations.iter().map(|s| &s.code).collect();
        assert_eq!(names.len(), 86);
        assert_eq!(codes.len(), 86);
        let tok = org.stations.iter().find(|s| s.name == "托克扎克供电所").unwrap();
        assert_eq!(org.counties[tok.county].name, "疏附县");
        assert_eq!(tok.township_suffix, "镇");
    }

    #[test]
    fn alias_spellings_differ_from_the_canonical_name() {
        for station in kashgar().stations {
            for alias in alias_spellings(&station) {
                assert_ne!(alias, station.name);
            }
        }
    }

    #[test]
    fn synthetic_names_are_unique() {
        let org = synthetic(5, 500);
        assert_eq!(org.stations.len(), 500);
        let names: std::collections::HashSet<_> = org.stations.iter().map(|s| &s.name).collect();
        assert_eq!(names.len(), 500);
    }

    #[test]
    fn the_other_prefecture_has_a_city_and_an_autonomous_county() {
        let org = other(20_201_231, 60);
        assert_eq!(org.stations.len(), 60);
        assert!(org.counties[0].name.ends_with('市'));
        assert!(org.counties[2].name.ends_with("蒙古自治县"));
        assert_eq!(org.counties[2].common, format!("{}县", org.counties[2].short));
        assert!(org.counties[1].name.ends_with('县') && org.counties[1].common == org.counties[1].name);
        let kashgar_like = synthetic(20_201_231, 60);
        assert_ne!(org.stations[0].name, kashgar_like.stations[0].name);
    }

    #[test]
    fn no_synthetic_station_name_begins_with_a_county_name() {
        // The national size, where short county names would run out.
        let org = synthetic(5, 20_000);
        let shorts: Vec<&str> = org.counties.iter().map(|c| c.short.as_str()).collect();
        for station in &org.stations {
            assert!(!shorts.iter().any(|c| station.base.starts_with(c)), "{}", station.name);
        }
        let names: std::collections::HashSet<_> = org.stations.iter().map(|s| &s.name).collect();
        assert_eq!(names.len(), 20_000);
        // No alias spelling of one station is another station's name.
        for station in &org.stations {
            for alias in alias_spellings(station) {
                assert!(alias == station.name || !names.contains(&alias), "{alias}");
            }
        }
    }
}
