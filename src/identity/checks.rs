//! Identity guardrails on the reference tables: a station code that appears on two rows of the
//! station master, or an alias row that points to a code the master does not have, is a data
//! error that stops the run, never a silent choice. Each problem names every offending row by
//! file and line.

use std::collections::BTreeMap;
use std::fmt;

/// Where a row of a reference table came from (file as shown in quarantine, physical line).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RowLocation {
    pub file: String,
    pub line: u64,
}

impl fmt::Display for RowLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// One data error in the station master or the alias table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IdentityProblem {
    /// The same station code on several rows of the master (all of them listed).
    DuplicateCode { code: String, rows: Vec<RowLocation> },
    /// An alias row whose station code is not in the master.
    UnknownAliasCode { spelling: String, code: String, row: RowLocation },
}

/// Every identity problem of a run, with the names of the two reference sources.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) struct IdentityErrors {
    pub stations: String,
    pub aliases: Option<String>,
    pub problems: Vec<IdentityProblem>,
}

impl fmt::Display for IdentityErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let duplicates: Vec<_> =
            self.problems.iter().filter_map(|p| if let IdentityProblem::DuplicateCode { code, rows } = p { Some((code, rows)) } else { None }).collect();
        let unknown: Vec<_> = self
            .problems
            .iter()
            .filter_map(|p| if let IdentityProblem::UnknownAliasCode { spelling, code, row } = p { Some((spelling, code, row)) } else { None })
            .collect();
        if !duplicates.is_empty() {
            writeln!(
                f,
                "供电所台账 '{0}' 中有 {1} 个供电所编码重复出现，无法确定数据归属哪一行；请删除或更正重复的行 · {1} station code(s) appear on more than one row of the station master '{0}'; remove or correct the repeated rows:",
                self.stations,
                duplicates.len()
            )?;
            // One line per offending row, so each reads as file:line and code.
            for (code, rows) in duplicates {
                for row in rows {
                    writeln!(f, "  {row}: {code}")?;
                }
            }
        }
        if !unknown.is_empty() {
            let aliases = self.aliases.as_deref().unwrap_or("aliases");
            writeln!(
                f,
                "别名表 '{aliases}' 中有 {0} 行指向台账 '{1}' 中不存在的供电所编码；请更正编码或在台账中补充该供电所 · {0} row(s) of the alias table '{aliases}' point to station codes that the station master '{1}' does not have; correct the code or add the station to the master:",
                unknown.len(),
                self.stations
            )?;
            for (spelling, code, row) in unknown {
                writeln!(f, "  {row}: '{spelling}' → {code}")?;
            }
        }
        Ok(())
    }
}

/// Checks the master's codes (trimmed, as they are matched) and the aliases' codes against them.
/// `master` holds (code, row) of every master row with a code; `aliases` (spelling, code, row).
pub(crate) fn check_reference_rows(master: &[(String, RowLocation)], aliases: &[(String, String, RowLocation)]) -> Vec<IdentityProblem> {
    let mut by_code: BTreeMap<&str, Vec<RowLocation>> = BTreeMap::new();
    for (code, row) in master {
        by_code.entry(code.trim()).or_default().push(row.clone());
    }
    let mut problems: Vec<IdentityProblem> = by_code
        .iter()
        .filter(|(_, rows)| rows.len() > 1)
        .map(|(code, rows)| {
            let mut rows = rows.clone();
            rows.sort();
            IdentityProblem::DuplicateCode { code: code.to_string(), rows }
        })
        .collect();
    let mut unknown: Vec<(RowLocation, &str, &str)> = aliases
        .iter()
        .filter(|(_, code, _)| !by_code.contains_key(code.trim()))
        .map(|(spelling, code, row)| (row.clone(), spelling.as_str(), code.trim()))
        .collect();
    unknown.sort();
    problems.extend(unknown.into_iter().map(|(row, spelling, code)| IdentityProblem::UnknownAliasCode {
        spelling: spelling.to_string(),
        code: code.to_string(),
        row,
    }));
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(file: &str, line: u64) -> RowLocation {
        RowLocation { file: file.into(), line }
    }

    #[test]
    fn repeated_codes_list_every_row_and_unknown_alias_codes_their_row() {
        let master = vec![("S01".to_string(), at("m.csv", 2)), ("S02".into(), at("m.csv", 3)), (" S01".into(), at("m.csv", 5)), ("S01".into(), at("m.csv", 4))];
        let aliases = vec![("阿克所".to_string(), "S01".to_string(), at("a.csv", 2)), ("巴格所".into(), "S09 ".into(), at("a.csv", 3))];
        let problems = check_reference_rows(&master, &aliases);
        assert_eq!(
            problems,
            vec![
                IdentityProblem::DuplicateCode { code: "S01".into(), rows: vec![at("m.csv", 2), at("m.csv", 4), at("m.csv", 5)] },
                IdentityProblem::UnknownAliasCode { spelling: "巴格所".into(), code: "S09".into(), row: at("a.csv", 3) },
            ]
        );
        let text = IdentityErrors { stations: "stations".into(), aliases: Some("aliases".into()), problems }.to_string();
        assert!(text.contains("  m.csv:2: S01\n  m.csv:4: S01\n  m.csv:5: S01\n"), "{text}");
        assert!(text.contains("a.csv:3: '巴格所' → S09"), "{text}");
    }

    #[test]
    fn clean_tables_have_no_problems() {
        let master = vec![("S01".to_string(), at("m.csv", 2)), ("S02".into(), at("m.csv", 3))];
        let aliases = vec![("阿克所".to_string(), "S01".to_string(), at("a.csv", 2))];
        assert!(check_reference_rows(&master, &aliases).is_empty());
    }
}
