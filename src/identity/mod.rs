//! Station identity: every spelling in every source (unit code, station name variant, 95598 unit
//! name, party branch name) resolves to one `station_id`, through the pipeline's normalisation
//! rules plus the alias table. Unresolved spellings are reported with their closest candidates;
//! a spelling that fits more than one station is an error, never a guess. Names wrapped in State
//! Grid company names (国网X县供电公司Y供电所, 中共国网…供电公司X县供电公司Y供电所支部委员会) are
//! unwrapped, and county forms are derived from the master's county column the same way;
//! `checks` holds the guardrails on the master and alias table themselves.
//!
//! Layer `identity` (ARCHITECTURE.md): owns station resolution; may import `base` and `spec`.

pub mod checks;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::base::text::{edit_distance, to_half_width};
use crate::spec::plan::{Identity, StationKey};

/// One station of the master table.
#[derive(Debug, Clone)]
pub(crate) struct StationEntry {
    pub station_id: String,
    pub name: String,
    pub branch: Option<String>,
    pub county: Option<String>,
}

/// How a spelling was resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolution {
    Station(String),
    Unmatched,
    /// Fits several stations: (station ids).
    Ambiguous(Vec<String>),
}

/// The lookup built from the station master, the alias table and the rules.
pub(crate) struct Resolver {
    rules: Identity,
    counties: Vec<String>,
    codes: HashMap<String, String>,
    /// Exact spellings (names, branch names, aliases) → station ids.
    exact: HashMap<String, BTreeSet<String>>,
    /// Normalised spellings → station ids.
    normalised: HashMap<String, BTreeSet<String>>,
    /// Normalised spellings with the county name removed → station ids.
    county_free: HashMap<String, BTreeSet<String>>,
    names: Vec<(String, String)>,
}

impl Resolver {
    pub fn new(rules: &Identity, stations: &[StationEntry], aliases: &[(String, String)]) -> Resolver {
        let mut counties: Vec<String> = Vec::new();
        for s in stations {
            if let Some(c) = &s.county {
                for form in county_forms(c, rules) {
                    if form.chars().count() >= 2 && !counties.contains(&form) {
                        counties.push(form);
                    }
                }
            }
        }
        counties.extend(rules.county_short_names.iter().map(|c| compact(c)));
        // Longest first, so 疏勒县 is stripped before 疏勒.
        counties.sort_by_key(|c| std::cmp::Reverse(c.chars().count()));
        let mut r = Resolver {
            rules: rules.clone(),
            counties,
            codes: stations.iter().map(|s| (s.station_id.trim().to_string(), s.station_id.clone())).collect(),
            exact: HashMap::new(),
            normalised: HashMap::new(),
            county_free: HashMap::new(),
            names: stations.iter().map(|s| (s.station_id.clone(), s.name.clone())).collect(),
        };
        let add = |r: &mut Resolver, spelling: &str, id: &str| {
            r.exact.entry(spelling.trim().to_string()).or_default().insert(id.to_string());
            let (key, county_free) = r.keys(spelling);
            if !key.is_empty() {
                r.normalised.entry(key).or_default().insert(id.to_string());
            }
            if let Some(k) = county_free {
                r.county_free.entry(k).or_default().insert(id.to_string());
            }
        };
        for s in stations {
            add(&mut r, &s.name, &s.station_id);
            if let Some(b) = &s.branch {
                add(&mut r, b, &s.station_id);
            }
        }
        for (spelling, code) in aliases {
            if let Some(id) = r.codes.get(code.trim()).cloned() {
                add(&mut r, spelling, &id);
            }
        }
        r
    }

    /// Applies the rules: width, spaces, brackets, prefixes/suffixes, township words.
    pub(crate) fn normalise(&self, spelling: &str) -> String {
        let mut s = compact(spelling);
        s = remove_brackets(&s);
        let mut changed = true;
        while changed {
            changed = false;
            for p in &self.rules.strip_prefixes {
                if let Some(rest) = s.strip_prefix(p.as_str()).filter(|r| !r.is_empty()) {
                    s = rest.to_string();
                    changed = true;
                }
            }
            for suffix in &self.rules.strip_suffixes {
                if let Some(rest) = s.strip_suffix(suffix.as_str()).filter(|r| !r.is_empty()) {
                    s = rest.to_string();
                    changed = true;
                }
            }
            if let Some(rest) = unwrap_company(&s, &self.rules) {
                s = rest;
                changed = true;
            }
        }
        self.drop_township_word(&s)
    }

    fn drop_township_word(&self, s: &str) -> String {
        if let Some(unit) = &self.rules.unit_word {
            for word in &self.rules.township_words {
                let joined = format!("{word}{unit}");
                if let Some(base) = s.strip_suffix(joined.as_str()).filter(|b| !b.is_empty()) {
                    return format!("{base}{unit}");
                }
            }
        }
        s.to_string()
    }

    /// The normalised key, and the key with a leading county name removed — only when at least
    /// two characters remain before the unit word (疏勒县疏勒供电所 → 疏勒供电所, but 疏勒所 keeps 疏勒).
    fn keys(&self, spelling: &str) -> (String, Option<String>) {
        let key = self.normalise(spelling);
        let unit = self.rules.unit_word.as_deref().unwrap_or("");
        let county_free = self.counties.iter().find_map(|county| {
            let rest = key.strip_prefix(county.as_str())?;
            let core = rest.strip_suffix(unit).filter(|_| !unit.is_empty()).unwrap_or(rest);
            (core.chars().count() >= 2).then(|| self.drop_township_word(rest))
        });
        (key, county_free)
    }

    /// Resolves one spelling of the given kind.
    pub fn resolve(&self, spelling: &str, key: StationKey) -> Resolution {
        let trimmed = spelling.trim();
        if key == StationKey::Code {
            return match self.codes.get(trimmed) {
                Some(id) => Resolution::Station(id.clone()),
                None => Resolution::Unmatched,
            };
        }
        if let Some(ids) = self.exact.get(trimmed) {
            return one(ids);
        }
        // Without county stripping first; the county-free key only when that finds nothing.
        let (key, county_free) = self.keys(spelling);
        if let Some(ids) = self.normalised.get(&key) {
            return one(ids);
        }
        if let Some(k) = county_free {
            if let Some(ids) = self.normalised.get(&k).or_else(|| self.county_free.get(&k)) {
                return one(ids);
            }
        }
        Resolution::Unmatched
    }

    /// The closest station names to a spelling (for the unmatched report).
    pub fn candidates(&self, spelling: &str, n: usize) -> Vec<String> {
        let key = self.normalise(spelling);
        let mut scored: Vec<(usize, &String, &String)> = self.names.iter().map(|(id, name)| (edit_distance(&key, &self.normalise(name)), id, name)).collect();
        scored.sort();
        scored.into_iter().take(n).map(|(_, id, name)| format!("{name} ({id})")).collect()
    }
}

/// Removes one company layer from the front of a spelling, if something remains after it: a
/// company prefix (国网托克扎克供电所 → 托克扎克供电所), or a leading part ending in a company word
/// (国网博斯腾供电公司热吐市供电公司叶买吐提供电所 → 热吐市供电公司叶买吐提供电所). None when there is none.
fn unwrap_company(s: &str, rules: &Identity) -> Option<String> {
    for prefix in &rules.company_prefixes {
        if let Some(rest) = s.strip_prefix(prefix.as_str()).filter(|r| !r.is_empty()) {
            return Some(rest.to_string());
        }
    }
    // The wrapper ends where the first company word ends (供电公司 and 公司 end together).
    let end = rules.company_words.iter().filter_map(|w| s.find(w.as_str()).map(|at| at + w.len())).min()?;
    Some(s[end..].to_string()).filter(|rest| !rest.is_empty())
}

/// A county name as the station master writes it, without company wrappers: 国网疏附县供电公司 →
/// 疏附县, 国网博斯腾供电公司疏附县供电公司 → 疏附县, 喀什市 → 喀什市.
fn county_core(county: &str, rules: &Identity) -> String {
    let mut c = compact(county);
    let mut words: Vec<&String> = rules.company_words.iter().collect();
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    if let Some(rest) = words.iter().find_map(|w| c.strip_suffix(w.as_str()).filter(|r| !r.is_empty())) {
        c = rest.to_string();
    }
    while let Some(rest) = unwrap_company(&c, rules) {
        c = rest;
    }
    c
}

/// The forms of a county a spelling may begin with, longest first: the master's value, its core
/// without company wrappers (疏附县), the core without 县 / 市 (疏附), without 自治县, and for an
/// autonomous county without the ethnic name too (塔什库尔干塔吉克自治县 → 塔什库尔干县, 塔什库尔干).
pub(crate) fn county_forms(county: &str, rules: &Identity) -> Vec<String> {
    let core = county_core(county, rules);
    let mut forms = vec![compact(county), core.clone(), core.trim_end_matches("自治县").to_string(), core.trim_end_matches(['县', '市']).to_string()];
    if let Some(mut stem) = core.strip_suffix("自治县").map(str::to_string) {
        // Several ethnic names may precede 自治县 (X土家族苗族自治县): drop them one by one.
        let mut stripped = false;
        while let Some(rest) = rules.ethnic_names.iter().find_map(|e| stem.strip_suffix(e.as_str()).filter(|r| !r.is_empty())) {
            stem = rest.to_string();
            stripped = true;
        }
        if stripped {
            forms.push(format!("{stem}县"));
            forms.push(stem);
        }
    }
    let mut unique: Vec<String> = Vec::new();
    for form in forms {
        if !form.is_empty() && !unique.contains(&form) {
            unique.push(form);
        }
    }
    unique.sort_by_key(|f| std::cmp::Reverse(f.chars().count()));
    unique
}

fn one(ids: &BTreeSet<String>) -> Resolution {
    if ids.len() == 1 { Resolution::Station(ids.iter().next().unwrap().clone()) } else { Resolution::Ambiguous(ids.iter().cloned().collect()) }
}

/// Half-width characters, no whitespace.
fn compact(s: &str) -> String {
    to_half_width(s).chars().filter(|c| !c.is_whitespace()).collect()
}

/// Removes bracketed parts: 托克扎克供电所(疏附县) → 托克扎克供电所.
fn remove_brackets(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    for c in s.chars() {
        match c {
            '(' | '[' | '【' | '〔' => depth += 1,
            ')' | ']' | '】' | '〕' if depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Distinct spellings of a source with their row counts, resolved; the unmatched ones reported.
pub(crate) struct SourceResolution {
    pub mapping: HashMap<String, String>,
    /// (spelling, rows, candidates)
    pub unmatched: Vec<(String, u64, Vec<String>)>,
    /// (spelling, rows, station ids)
    pub ambiguous: Vec<(String, u64, Vec<String>)>,
}

/// Resolves every distinct spelling of a source.
pub(crate) fn resolve_all(resolver: &Resolver, spellings: &BTreeMap<String, u64>, key: StationKey) -> SourceResolution {
    let mut out = SourceResolution { mapping: HashMap::new(), unmatched: Vec::new(), ambiguous: Vec::new() };
    for (spelling, rows) in spellings {
        match resolver.resolve(spelling, key) {
            Resolution::Station(id) => {
                out.mapping.insert(spelling.clone(), id);
            }
            Resolution::Unmatched => out.unmatched.push((spelling.clone(), *rows, resolver.candidates(spelling, 3))),
            Resolution::Ambiguous(ids) => out.ambiguous.push((spelling.clone(), *rows, ids)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Identity {
        Identity {
            strip_prefixes: vec!["中共".into()],
            strip_suffixes: vec!["党支部".into(), "支部委员会".into()],
            county_column: Some("county".into()),
            county_short_names: vec!["塔县".into()],
            township_words: vec!["镇".into(), "乡".into()],
            unit_word: Some("供电所".into()),
            company_prefixes: Identity::COMPANY_PREFIXES.iter().map(|w| w.to_string()).collect(),
            company_words: Identity::COMPANY_WORDS.iter().map(|w| w.to_string()).collect(),
            ethnic_names: Identity::ETHNIC_NAMES.iter().map(|w| w.to_string()).collect(),
        }
    }

    fn station(id: &str, name: &str, county: &str) -> StationEntry {
        StationEntry { station_id: id.into(), name: name.into(), branch: Some(format!("{name}党支部")), county: Some(county.into()) }
    }

    fn resolver() -> Resolver {
        let stations = vec![
            station("65312101", "托克扎克供电所", "疏附县"),
            station("65312201", "疏勒供电所", "疏勒县"),
            station("65312202", "罕南力克供电所", "疏勒县"),
            station("65313102", "马尔洋供电所", "塔什库尔干塔吉克自治县"),
        ];
        Resolver::new(
            &rules(),
            &stations,
            &[("托克扎克所".into(), "65312101".into()), ("托克札克供电所".into(), "65312101".into()), ("疏勒所".into(), "65312201".into())],
        )
    }

    #[test]
    fn each_rule_maps_a_variant_to_its_station() {
        let r = resolver();
        let tok = Resolution::Station("65312101".into());
        for (spelling, why) in [
            ("托克扎克供电所", "canonical"),
            ("托克扎克镇供电所", "township word"),
            ("疏附县托克扎克供电所", "county prefix"),
            ("疏附托克扎克供电所", "short county prefix"),
            ("托克扎克供电所（疏附县）", "full-width brackets"),
            ("托克扎克 供电所 ", "stray spaces"),
            ("托克扎克供电所党支部", "branch suffix"),
            ("中共托克扎克镇供电所支部委员会", "party prefix and suffix"),
            ("托克扎克所", "alias"),
            ("托克札克供电所", "alias typo"),
            ("托克扎克所党支部", "alias with branch suffix"),
        ] {
            assert_eq!(r.resolve(spelling, StationKey::Name), tok, "{why}: {spelling}");
        }
        assert_eq!(r.resolve("塔县马尔洋供电所", StationKey::Name), Resolution::Station("65313102".into()));
        // The county name that is also the township: 疏勒县疏勒供电所 is 疏勒供电所, not a bare 供电所.
        assert_eq!(r.resolve("疏勒县疏勒供电所", StationKey::Name), Resolution::Station("65312201".into()));
        assert_eq!(r.resolve("疏勒县罕南力克供电所", StationKey::Name), Resolution::Station("65312202".into()));
        assert_eq!(r.resolve("65312101", StationKey::Code), tok);
        // An abbreviation of a county-seat station is not reduced to a bare "所".
        assert_eq!(r.resolve("疏勒所党支部", StationKey::Branch), Resolution::Station("65312201".into()));
        assert_eq!(r.resolve("客户服务中心党支部", StationKey::Branch), Resolution::Unmatched);
        assert_eq!(r.resolve("99999999", StationKey::Code), Resolution::Unmatched);
    }

    #[test]
    fn a_spelling_that_fits_two_stations_is_ambiguous() {
        // Two 古勒巴格 stations in different counties: without the county the name is ambiguous.
        let stations = vec![station("A", "古勒巴格供电所", "泽普县"), station("B", "古勒巴格供电所", "莎车县")];
        let r = Resolver::new(&rules(), &stations, &[]);
        assert_eq!(r.resolve("古勒巴格乡供电所", StationKey::Name), Resolution::Ambiguous(vec!["A".into(), "B".into()]));
        assert_eq!(r.resolve("A", StationKey::Code), Resolution::Station("A".into()));
    }

    #[test]
    fn county_forms_unwrap_company_names_and_autonomous_counties() {
        let r = rules();
        assert_eq!(county_forms("国网疏附县供电公司", &r), ["国网疏附县供电公司", "疏附县", "疏附"]);
        assert_eq!(county_forms("国网博斯腾供电公司热吐市供电分公司", &r), ["国网博斯腾供电公司热吐市供电分公司", "热吐市", "热吐"]);
        assert_eq!(county_forms("疏附县公司", &r), ["疏附县公司", "疏附县", "疏附"]);
        assert_eq!(
            county_forms("国网达叶蒙古自治县供电公司", &r),
            ["国网达叶蒙古自治县供电公司", "达叶蒙古自治县", "达叶蒙古自治", "达叶蒙古", "达叶县", "达叶"]
        );
        assert_eq!(
            county_forms("塔什库尔干塔吉克自治县", &r),
            ["塔什库尔干塔吉克自治县", "塔什库尔干塔吉克自治", "塔什库尔干塔吉克", "塔什库尔干县", "塔什库尔干"]
        );
        assert_eq!(county_forms("喀什市", &r), ["喀什市", "喀什"]);
        // Without company words or ethnic names only the value and its 县 / 市 forms remain.
        let bare = Identity { company_prefixes: vec![], company_words: vec![], ethnic_names: vec![], ..r };
        assert_eq!(county_forms("国网疏附县供电公司", &bare), ["国网疏附县供电公司"]);
        assert_eq!(county_forms("达叶蒙古自治县", &bare), ["达叶蒙古自治县", "达叶蒙古自治", "达叶蒙古"]);
    }

    #[test]
    fn names_wrapped_in_company_names_resolve_to_their_station() {
        // Master rows as the second sample region writes them: the county column names the
        // county company, the party organisation the prefecture and county companies.
        let stations = vec![
            StationEntry {
                station_id: "65010101".into(),
                name: "叶买吐提供电所".into(),
                branch: Some("中共国网博斯腾供电公司热吐市供电公司叶买吐提供电所支部委员会".into()),
                county: Some("国网热吐市供电公司".into()),
            },
            StationEntry {
                station_id: "65010301".into(), name: "喀巴孜加供电所".into(), branch: None, county: Some("国网达叶蒙古自治县供电公司".into())
            },
            StationEntry {
                station_id: "65312101".into(), name: "托克扎克供电所".into(), branch: None, county: Some("国网疏附县供电公司".into())
            },
        ];
        let r = Resolver::new(&rules(), &stations, &[]);
        for (spelling, id) in [
            ("热吐市叶买吐提供电所", "65010101"),
            ("国网热吐市供电公司叶买吐提供电所", "65010101"),
            ("中共国网热吐市供电公司叶买吐提供电所支部委员会", "65010101"),
            ("中共国网博斯腾供电公司热吐市供电公司叶买吐提供电所支部委员会", "65010101"),
            ("国家电网热吐市供电分公司叶买吐提乡供电所", "65010101"),
            ("达叶县喀巴孜加供电所", "65010301"),
            ("达叶喀巴孜加供电所", "65010301"),
            ("国网达叶蒙古自治县供电公司喀巴孜加供电所", "65010301"),
            ("中共国网博斯腾供电公司达叶蒙古自治县供电公司喀巴孜加供电所支部委员会", "65010301"),
            ("疏附县托克扎克供电所", "65312101"),
            ("中共国网喀什供电公司疏附县供电公司托克扎克供电所支部委员会", "65312101"),
        ] {
            assert_eq!(r.resolve(spelling, StationKey::Name), Resolution::Station(id.into()), "{spelling}");
        }
        // What is left after the wrappers must still be a station.
        assert_eq!(r.resolve("国网博斯腾供电公司客户服务中心营业厅", StationKey::Name), Resolution::Unmatched);
        assert_eq!(r.resolve("中共国网博斯腾供电公司客户服务中心支部委员会", StationKey::Branch), Resolution::Unmatched);
        // A company name alone is not unwrapped into nothing.
        assert_eq!(r.resolve("国网疏附县供电公司", StationKey::Name), Resolution::Unmatched);
    }

    #[test]
    fn unmatched_spellings_get_the_closest_candidates() {
        let r = resolver();
        let c = r.candidates("托克扎供电所", 2);
        assert_eq!(c[0], "托克扎克供电所 (65312101)");
    }
}
