//! Reading the start of an unknown export for `duibiao init`: its encoding, and its first rows as
//! text cells (CSV through the csv crate, XLSX through calamine), without any pipeline.

use std::io::Read;
use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};

use crate::base::calendar::civil_from_days;

/// How much of a CSV file is read to describe it: enough rows for types, little time.
const CSV_BYTES: usize = 4 << 20;
/// Rows of a sheet read to describe it.
const SHEET_ROWS: usize = 5_000;

/// What a CSV file's bytes say about their encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniffed {
    Utf8,
    Utf8Bom,
    Gbk,
    Gb18030,
    /// UTF-16, which the reader does not take: (how it shows).
    Utf16(&'static str),
}

impl Sniffed {
    /// The pipeline's `encoding` value (None for UTF-16).
    pub fn key(self) -> Option<&'static str> {
        match self {
            Sniffed::Utf8 => Some("utf-8"),
            Sniffed::Utf8Bom => Some("utf-8-bom"),
            Sniffed::Gbk => Some("gbk"),
            Sniffed::Gb18030 => Some("gb18030"),
            Sniffed::Utf16(_) => None,
        }
    }
}

/// One table of a file: a CSV file or one sheet, as rows of trimmed text cells from the top.
#[derive(Debug, Clone)]
pub(crate) struct RawTable {
    pub sheet: Option<String>,
    pub rows: Vec<Vec<String>>,
    /// Whether only the start of the table was read.
    pub partial: bool,
}

/// A file as init sees it.
#[derive(Debug, Clone)]
pub(crate) struct RawFile {
    pub encoding: Option<Sniffed>,
    pub tables: Vec<RawTable>,
}

/// Reads the start of a CSV or XLSX file.
pub fn read(path: &Path, xlsx: bool) -> Result<RawFile, String> {
    if xlsx { read_xlsx(path) } else { read_csv(path) }
}

/// The encoding the bytes show: a byte-order mark, UTF-16's zero bytes, valid UTF-8, else
/// GBK (or GB18030 for characters GBK lacks).
pub(crate) fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.starts_with(b"\xEF\xBB\xBF") {
        return Sniffed::Utf8Bom;
    }
    if let Some(form) = crate::ingest::read::utf16_form(bytes) {
        return Sniffed::Utf16(form);
    }
    // A cut at the end of the sample may split a character: judge the complete part.
    let valid = match std::str::from_utf8(bytes) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    if valid {
        return Sniffed::Utf8;
    }
    if has_four_byte_gb18030(bytes) { Sniffed::Gb18030 } else { Sniffed::Gbk }
}

/// Whether GB-encoded bytes use GB18030's four-byte sequences (lead 81–FE, then a digit byte),
/// which GBK lacks.
fn has_four_byte_gb18030(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            i += 1;
        } else if (0x81..=0xFE).contains(&b) && i + 1 < bytes.len() && (0x30..=0x39).contains(&bytes[i + 1]) {
            return true;
        } else {
            i += 2;
        }
    }
    false
}

fn read_csv(path: &Path) -> Result<RawFile, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut bytes = Vec::new();
    file.take(CSV_BYTES as u64 + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let partial = bytes.len() > CSV_BYTES;
    if partial {
        bytes.truncate(CSV_BYTES);
        // Whole lines only.
        let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    let encoding = sniff(&bytes);
    let text = match encoding {
        Sniffed::Utf8 => String::from_utf8_lossy(&bytes).into_owned(),
        Sniffed::Utf8Bom => String::from_utf8_lossy(&bytes[3..]).into_owned(),
        Sniffed::Gbk | Sniffed::Gb18030 => encoding_rs::GB18030.decode_without_bom_handling(&bytes).0.into_owned(),
        Sniffed::Utf16(_) => {
            let (text, _, _) = encoding_rs::UTF_16LE.decode(&bytes);
            let text = if bytes.starts_with(b"\xFE\xFF") || encoding == Sniffed::Utf16("big-endian, no byte-order mark") {
                encoding_rs::UTF_16BE.decode(&bytes).0
            } else {
                text
            };
            text.into_owned()
        }
    };
    let mut rows = Vec::new();
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    for record in reader.records() {
        match record {
            Ok(r) => rows.push(r.iter().map(|c| c.trim().to_string()).collect()),
            // An unclosed quote: what was read so far describes the file.
            Err(_) => break,
        }
    }
    Ok(RawFile { encoding: Some(encoding), tables: vec![RawTable { sheet: None, rows, partial }] })
}

fn read_xlsx(path: &Path) -> Result<RawFile, String> {
    let mut book = open_workbook_auto(path).map_err(|e| format!("cannot open {} as a workbook: {e}", path.display()))?;
    let mut tables = Vec::new();
    for sheet in book.sheet_names() {
        let range = book.worksheet_range(&sheet).map_err(|e| format!("{} sheet '{sheet}': {e}", path.display()))?;
        let (first_row, first_col) = range.start().map_or((0, 0), |(r, c)| (r as usize, c as usize));
        let mut rows: Vec<Vec<String>> = vec![Vec::new(); first_row];
        for row in range.rows().take(SHEET_ROWS) {
            let mut cells = vec![String::new(); first_col];
            cells.extend(row.iter().map(cell_text));
            rows.push(cells);
        }
        tables.push(RawTable { sheet: Some(sheet), partial: range.height() > SHEET_ROWS, rows });
    }
    Ok(RawFile { encoding: None, tables })
}

/// A cell as text the way the export shows it: dates as yyyy-MM-dd (with the time when it has
/// one), whole numbers without a decimal point.
fn cell_text(d: &Data) -> String {
    match d {
        Data::Empty => String::new(),
        Data::String(s) => s.trim().to_string(),
        Data::Int(i) => i.to_string(),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        Data::Float(f) => f.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(dt) => {
            let serial = dt.as_f64();
            match crate::ingest::parse::excel_serial(serial, "") {
                Ok((days, fraction)) => {
                    let (y, m, d) = civil_from_days(days);
                    let seconds = (fraction * 86_400.0).round() as i64;
                    if seconds == 0 {
                        format!("{y:04}-{m:02}-{d:02}")
                    } else {
                        format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
                    }
                }
                Err(_) => serial.to_string(),
            }
        }
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_told_apart() {
        assert_eq!(sniff("单位,月份\n".as_bytes()), Sniffed::Utf8);
        assert_eq!(sniff(b"\xEF\xBB\xBFa,b\n"), Sniffed::Utf8Bom);
        let (gbk, _, _) = encoding_rs::GBK.encode("单位名称,应收电费\n托克扎克供电所,1\n");
        assert_eq!(sniff(&gbk), Sniffed::Gbk);
        // 𠀀 (U+20000) exists in GB18030 only.
        let (gb18030, _, _) = encoding_rs::GB18030.encode("单位,𠀀\n");
        assert_eq!(sniff(&gb18030), Sniffed::Gb18030);
        let utf16: Vec<u8> = b"\xFF\xFE".iter().copied().chain("a,b\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert!(matches!(sniff(&utf16), Sniffed::Utf16(_)));
        // A UTF-8 sample cut inside a character is still UTF-8.
        let cut = &"供电所".as_bytes()[..7];
        assert_eq!(sniff(cut), Sniffed::Utf8);
    }
}
