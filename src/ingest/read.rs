//! Reading export files into records: decoding text by its encoding (with a clear error when the
//! stated encoding is wrong), splitting CSV with its real line numbers, and reading XLSX sheets
//! with their row numbers. Title lines above the header are skipped; blank lines are counted.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};

use crate::plan::{Encoding, Format, SourcePlan};

/// One cell as the file holds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    /// An Excel date/time serial number (days since 1899-12-30, fraction = time of day).
    ExcelDate(f64),
}

impl Cell {
    /// The cell as text, the way a person reads it in the file.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", *v as i64),
            Cell::Number(v) => v.to_string(),
            Cell::ExcelDate(v) => format!("excel-date:{v}"),
        }
    }

    fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// A record: its location in the file and its cells.
#[derive(Debug, Clone)]
pub struct Record {
    /// Sheet name (XLSX only).
    pub sheet: Option<String>,
    /// Line (CSV) or row (XLSX) number in the file, from 1, as a person sees it.
    pub line: u64,
    pub cells: Vec<Cell>,
}

/// The headers and records of one file (or one sheet of a workbook).
#[derive(Debug)]
pub struct Table {
    pub sheet: Option<String>,
    pub headers: Vec<String>,
    pub records: Vec<Record>,
    /// Blank lines (or all-empty rows) below the header.
    pub blank_lines: u64,
}

/// Decodes file bytes by the stated encoding; the error names the line and suggests the right one.
pub fn decode(bytes: &[u8], encoding: Encoding, file: &Path) -> Result<String, String> {
    let shown = file.display();
    if bytes.is_empty() {
        return Err(format!("{shown} is empty (0 bytes)"));
    }
    let bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let body = if bom { &bytes[3..] } else { bytes };
    let utf8 = std::str::from_utf8(body);
    let line_of = |offset: usize| body[..offset].iter().filter(|b| **b == b'\n').count() + 1;
    match encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => match utf8 {
            Ok(text) => Ok(text.to_string()),
            Err(e) => {
                let looks_gbk = !encoding_rs::GB18030.decode_without_bom_handling(body).1;
                let hint = if looks_gbk { "; the bytes read as GBK/GB18030: set encoding = \"gbk\"" } else { "" };
                Err(format!("{shown} is not valid UTF-8 at line {} (byte {}){hint}", line_of(e.valid_up_to()), e.valid_up_to() + if bom { 3 } else { 0 }))
            }
        },
        Encoding::Gbk | Encoding::Gb18030 => {
            if bom {
                return Err(format!("{shown} starts with a UTF-8 byte-order mark, so it is UTF-8, not GBK: set encoding = \"utf-8-bom\""));
            }
            if utf8.is_ok() && !body.is_ascii() {
                return Err(format!("{shown} is valid UTF-8 with Chinese text, not GBK: set encoding = \"utf-8\""));
            }
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(body);
            if had_errors {
                let bad = text.find('\u{FFFD}').map(|i| text[..i].matches('\n').count() + 1).unwrap_or(0);
                return Err(format!("{shown} is not valid GBK/GB18030 at line {bad}"));
            }
            Ok(text.into_owned())
        }
        Encoding::Auto => match utf8 {
            Ok(text) => Ok(text.to_string()),
            Err(_) => {
                let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(body);
                if had_errors {
                    return Err(format!("{shown} is neither UTF-8 nor GBK/GB18030; state its encoding"));
                }
                Ok(text.into_owned())
            }
        },
    }
}

/// The header row(s) of a file: one list for a CSV, one per sheet for a workbook.
pub fn headers(source: &SourcePlan, file: &Path) -> Result<Vec<Vec<String>>, String> {
    Ok(read(source, file, true)?.into_iter().map(|t| t.headers).collect())
}

/// Reads a whole file into tables (one for CSV, one per selected sheet for XLSX).
pub fn read_tables(source: &SourcePlan, file: &Path) -> Result<Vec<Table>, String> {
    read(source, file, false)
}

fn read(source: &SourcePlan, file: &Path, headers_only: bool) -> Result<Vec<Table>, String> {
    match source.format {
        Format::Csv => {
            let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let text = decode(&bytes, source.encoding, file)?;
            Ok(vec![csv_table(&text, source.header_row, file, headers_only)?])
        }
        Format::Xlsx => xlsx_tables(source, file, headers_only),
    }
}

fn csv_table(text: &str, header_row: usize, file: &Path, headers_only: bool) -> Result<Table, String> {
    // Physical blank lines never reach the CSV reader as records; count them from the text.
    let physical_blank = text.lines().skip(header_row + 1).filter(|l| l.trim().is_empty()).count() as u64;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut headers = None;
    let mut records = Vec::new();
    let mut blank_lines = physical_blank;
    let mut raw = csv::StringRecord::new();
    // The csv crate counts CRLF as two line ends and reports a record's start before any blank
    // lines it skipped, so lines are counted here from the record's byte offset.
    let bytes = text.as_bytes();
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    loop {
        let more = reader.read_record(&mut raw).map_err(|e| format!("{}: malformed CSV: {e}", file.display()))?;
        if !more {
            break;
        }
        let mut start = raw.position().map(|p| p.byte() as usize).unwrap_or(0);
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += bytes[counted_to..start.max(counted_to)].iter().filter(|b| **b == b'\n').count() as u64;
        counted_to = counted_to.max(start);
        let line = newlines + 1;
        if (line as usize) < header_row + 1 {
            continue; // title lines above the header
        }
        if headers.is_none() {
            if line as usize != header_row + 1 {
                return Err(format!("{}: line {} is blank, but the header is expected there (header_row = {})", file.display(), header_row + 1, header_row + 1));
            }
            headers = Some(raw.iter().map(|h| h.trim().to_string()).collect::<Vec<_>>());
            if headers_only {
                break;
            }
            continue;
        }
        let cells: Vec<Cell> = raw.iter().map(|f| if f.is_empty() { Cell::Empty } else { Cell::Text(f.to_string()) }).collect();
        if cells.iter().all(Cell::is_blank) {
            blank_lines += 1;
            continue;
        }
        records.push(Record { sheet: None, line, cells });
    }
    let Some(headers) = headers else {
        let lines = text.lines().count();
        return Err(format!("{} has {lines} line(s); the header is expected on line {}", file.display(), header_row + 1));
    };
    Ok(Table { sheet: None, headers, records, blank_lines: if headers_only { 0 } else { blank_lines } })
}

fn xlsx_tables(source: &SourcePlan, file: &Path, headers_only: bool) -> Result<Vec<Table>, String> {
    let mut book = open_workbook_auto(file).map_err(|e| format!("cannot open {} as a workbook: {e}", file.display()))?;
    let available = book.sheet_names();
    let wanted: Vec<String> = match &source.sheets {
        Some(list) => {
            for s in list {
                if !available.contains(s) {
                    return Err(format!("sheet '{s}' is not in {}; sheets there: {}", file.display(), available.join(", ")));
                }
            }
            list.clone()
        }
        None => available.clone(),
    };
    let mut tables = Vec::new();
    for sheet in wanted {
        let range = book.worksheet_range(&sheet).map_err(|e| format!("{} sheet '{sheet}': {e}", file.display()))?;
        let (first_row, first_col) = range.start().unwrap_or((0, 0));
        let width = range.width();
        let row_cells = |row: &[Data]| -> Vec<Cell> {
            // Pad for columns left of the used range so indexes match the header's.
            let mut cells = vec![Cell::Empty; first_col as usize];
            cells.extend(row.iter().take(width).map(to_cell));
            cells
        };
        let mut headers = None;
        let mut records = Vec::new();
        let mut blank_lines = 0;
        for (i, row) in range.rows().enumerate() {
            let row_number = first_row as usize + i; // zero-based
            if row_number < source.header_row {
                continue;
            }
            let cells = row_cells(row);
            if row_number == source.header_row {
                headers = Some(cells.iter().map(|c| c.text().trim().to_string()).collect::<Vec<_>>());
                if headers_only {
                    break;
                }
                continue;
            }
            if cells.iter().all(Cell::is_blank) {
                blank_lines += 1;
                continue;
            }
            records.push(Record { sheet: Some(sheet.clone()), line: row_number as u64 + 1, cells });
        }
        let Some(headers) = headers else {
            return Err(format!("{} sheet '{sheet}' has no row {}, where the header is expected", file.display(), source.header_row + 1));
        };
        tables.push(Table { sheet: Some(sheet), headers, records, blank_lines });
    }
    Ok(tables)
}

fn to_cell(data: &Data) -> Cell {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Float(v) => Cell::Number(*v),
        Data::Int(v) => Cell::Number(*v as f64),
        Data::Bool(b) => Cell::Text(b.to_string()),
        Data::DateTime(d) => Cell::ExcelDate(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
        #[allow(unreachable_patterns)]
        _ => Cell::Text(data.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path() -> &'static Path {
        Path::new("x.csv")
    }

    #[test]
    fn wrong_encodings_are_named() {
        let gbk = encoding_rs::GBK.encode("供电所,用户数\n").0.into_owned();
        let e = decode(&gbk, Encoding::Utf8, path()).unwrap_err();
        assert!(e.contains("not valid UTF-8 at line 1") && e.contains("encoding = \"gbk\""), "{e}");
        let utf8 = "供电所,用户数\n".as_bytes();
        let e = decode(utf8, Encoding::Gbk, path()).unwrap_err();
        assert!(e.contains("set encoding = \"utf-8\""), "{e}");
        assert_eq!(decode(&gbk, Encoding::Gbk, path()).unwrap(), "供电所,用户数\n");
        assert_eq!(decode(&gbk, Encoding::Auto, path()).unwrap(), "供电所,用户数\n");
        assert_eq!(decode(b"\xEF\xBB\xBFa,b\n", Encoding::Utf8Bom, path()).unwrap(), "a,b\n");
        assert!(decode(b"", Encoding::Auto, path()).unwrap_err().contains("is empty"));
    }

    #[test]
    fn csv_lines_are_numbered_as_in_the_file() {
        let text = "标题\n序号,名称\n1,a\n\n2,\"b,c\"\n,\n合计,\n";
        let t = csv_table(text, 1, path(), false).unwrap();
        assert_eq!(t.headers, ["序号", "名称"]);
        let lines: Vec<u64> = t.records.iter().map(|r| r.line).collect();
        assert_eq!(lines, [3, 5, 7]);
        assert_eq!(t.records[1].cells[1], Cell::Text("b,c".into()));
        assert_eq!(t.blank_lines, 2); // the empty line and the ",," line
    }

    #[test]
    fn missing_header_line_is_an_error() {
        let e = csv_table("a,b\n", 3, path(), false).unwrap_err();
        assert!(e.contains("header is expected on line 4"), "{e}");
    }
}
