//! Reading export files as a stream of record blocks: CSV is cut at record boundaries into
//! blocks of a few megabytes (quote-aware, so a quoted line break never splits a record) that
//! are decoded and parsed independently, in parallel; XLSX sheets are cut into row ranges. Each
//! block knows the line (CSV) or row (XLSX) number of its first record, so every record keeps its
//! real location. Title lines above the header are skipped; blank lines are counted. A wrong
//! encoding is reported with the line where the bytes stop making sense.
//!
//! Cutting raw bytes before decoding is safe for UTF-8 and GBK/GB18030 alike: in both, the bytes
//! of `\n`, `\r`, `"` and `,` never occur inside a multi-byte character.

use std::borrow::Cow;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{Data, Reader, open_workbook_auto};
use memchr::memchr;
use sha2::{Digest, Sha256};

use crate::spec::plan::{Encoding, Format, SourcePlan};

/// Target size of a CSV block (the last record is completed past it).
const BLOCK_BYTES: usize = 4 << 20;
/// Rows of an XLSX block.
const BLOCK_ROWS: usize = 50_000;

/// One cell as the file holds it, borrowed from the block being parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    Empty,
    Text(&'a str),
    Number(f64),
    /// An Excel date/time serial number (days since 1899-12-30, fraction = time of day).
    ExcelDate(f64),
}

impl Cell<'_> {
    /// The cell as text, the way a person reads it in the file.
    pub fn text(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.to_string(),
            Cell::Number(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", *v as i64),
            Cell::Number(v) => v.to_string(),
            Cell::ExcelDate(v) => format!("excel-date:{v}"),
        }
    }

    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.trim().is_empty(),
            _ => false,
        }
    }
}

/// A run of whole records of one table, ready to be parsed on any thread.
#[derive(Debug)]
pub struct Block {
    /// Line (CSV) or row (XLSX) number of the block's first line, from 1.
    pub first_line: u64,
    data: BlockData,
}

#[derive(Debug)]
enum BlockData {
    /// Raw bytes of whole CSV records, still in the file's encoding.
    Csv { bytes: Vec<u8>, encoding: Encoding, file: PathBuf },
    /// Rows of a worksheet (indexes into the used range).
    Xlsx { range: Arc<calamine::Range<Data>>, rows: Range<usize>, first_col: usize },
}

/// One table of a file (a CSV file, or one sheet of a workbook): its headers and its blocks.
pub struct TableReader {
    pub sheet: Option<String>,
    /// The first line (row) of the table when the header is below it: the title line.
    pub title: Option<String>,
    pub headers: Vec<String>,
    blocks: Blocks,
}

enum Blocks {
    Csv(CsvBlocks),
    Xlsx { range: Arc<calamine::Range<Data>>, next: usize, first_row: usize, first_col: usize },
}

impl TableReader {
    /// The next block of records, None at the end of the table.
    pub fn next_block(&mut self) -> Result<Option<Block>, String> {
        match &mut self.blocks {
            Blocks::Csv(csv) => csv.next_block(),
            Blocks::Xlsx { range, next, first_row, first_col } => {
                if *next >= range.height() {
                    return Ok(None);
                }
                let rows = *next..(*next + BLOCK_ROWS).min(range.height());
                *next = rows.end;
                Ok(Some(Block {
                    first_line: (*first_row + rows.start) as u64 + 1,
                    data: BlockData::Xlsx { range: range.clone(), rows, first_col: *first_col },
                }))
            }
        }
    }
}

/// An export file opened for reading.
pub struct FileReader {
    pub tables: Vec<TableReader>,
    hasher: Option<Sha256>,
    whole_file: Option<(String, u64)>,
}

impl FileReader {
    /// sha256 and size of the file; for CSV only once every block has been read.
    pub fn fingerprint(&mut self) -> (String, u64) {
        if let Some(done) = &self.whole_file {
            return done.clone();
        }
        let (mut bytes, mut hasher) = (0, self.hasher.take().unwrap_or_default());
        for t in &mut self.tables {
            if let Blocks::Csv(csv) = &mut t.blocks {
                bytes += csv.bytes_read;
                hasher = std::mem::take(&mut csv.hasher);
            }
        }
        let done = (hex(&hasher.finalize()), bytes);
        self.whole_file = Some(done.clone());
        done
    }
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens a file and reads its header row(s): one table for a CSV, one per selected sheet.
pub fn open(source: &SourcePlan, file: &Path) -> Result<FileReader, String> {
    match source.format {
        Format::Csv => {
            let csv = CsvBlocks::open(file, source.encoding, source.header_row)?;
            let (headers, title) = (csv.headers.clone(), csv.title.clone());
            Ok(FileReader { tables: vec![TableReader { sheet: None, title, headers, blocks: Blocks::Csv(csv) }], hasher: None, whole_file: None })
        }
        Format::Xlsx => {
            let bytes = std::fs::read(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let whole_file = Some((hex(&Sha256::digest(&bytes)), bytes.len() as u64));
            drop(bytes);
            Ok(FileReader { tables: xlsx_tables(source, file)?, hasher: None, whole_file })
        }
    }
}

/// The header row(s) of a file: one list for a CSV, one per sheet for a workbook. Reads only
/// the start of a CSV.
pub fn headers(source: &SourcePlan, file: &Path) -> Result<Vec<Vec<String>>, String> {
    Ok(open(source, file)?.tables.into_iter().map(|t| t.headers).collect())
}

/// Sheet, title line and headers of each table of a file (for preflight). Reads only the start
/// of a CSV.
pub fn table_texts(source: &SourcePlan, file: &Path) -> Result<Vec<(Option<String>, Option<String>, Vec<String>)>, String> {
    Ok(open(source, file)?.tables.into_iter().map(|t| (t.sheet, t.title, t.headers)).collect())
}

/// Reads a CSV file block by block.
struct CsvBlocks {
    file: File,
    path: PathBuf,
    encoding: Encoding,
    headers: Vec<String>,
    title: Option<String>,
    /// Bytes read but not yet handed out (the start of an unfinished record).
    pending: Vec<u8>,
    /// Line number of the first line of `pending`.
    pending_line: u64,
    eof: bool,
    hasher: Sha256,
    bytes_read: u64,
}

impl CsvBlocks {
    fn open(path: &Path, encoding: Encoding, header_row: usize) -> Result<CsvBlocks, String> {
        let file = File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut reader = CsvBlocks {
            file,
            path: path.to_path_buf(),
            encoding,
            headers: Vec::new(),
            title: None,
            pending: Vec::new(),
            pending_line: 1,
            eof: false,
            hasher: Sha256::new(),
            bytes_read: 0,
        };
        reader.fill(BLOCK_BYTES)?;
        if reader.pending.is_empty() {
            return Err(format!("{} is empty (0 bytes)", path.display()));
        }
        let had_bom = reader.pending.starts_with(b"\xEF\xBB\xBF");
        if had_bom {
            if matches!(encoding, Encoding::Gbk | Encoding::Gb18030) {
                return Err(format!("{} starts with a UTF-8 byte-order mark, so it is UTF-8, not GBK: set encoding = \"utf-8-bom\"", path.display()));
            }
            reader.pending.drain(..3);
        }
        // Title lines above the header, then the header record; decoded together so that a
        // wrong encoding is reported where it first shows.
        let mut title_end = 0;
        for skipped in 0..header_row {
            loop {
                match memchr(b'\n', &reader.pending[title_end..]) {
                    Some(i) => {
                        title_end += i + 1;
                        break;
                    }
                    None if reader.eof => {
                        let lines = skipped as u64 + u64::from(title_end < reader.pending.len());
                        return Err(format!("{} has {lines} line(s); the header is expected on line {}", path.display(), header_row + 1));
                    }
                    None => reader.fill(BLOCK_BYTES)?,
                }
            }
        }
        let end = loop {
            match record_end(&reader.pending[title_end..]) {
                Some(end) => break title_end + end,
                None if reader.eof => break reader.pending.len(),
                None => reader.fill(BLOCK_BYTES)?,
            }
        };
        let bom = if had_bom { 3 } else { 0 };
        let head_bytes: Vec<u8> = reader.pending.drain(..end).collect();
        let text_all = decode(&head_bytes, encoding, path, 1, Some(bom))?;
        let header_start = match header_row {
            0 => 0,
            n => text_all.match_indices('\n').nth(n - 1).map(|(i, _)| i + 1).unwrap_or(text_all.len()),
        };
        if header_row > 0 {
            reader.title = text_all.lines().next().map(|l| l.trim().trim_matches(',').trim().to_string());
        }
        let text = &text_all[header_start..];
        if text.trim().is_empty() {
            return Err(if reader.eof && reader.pending.is_empty() && text.is_empty() {
                format!("{} has {header_row} line(s); the header is expected on line {}", path.display(), header_row + 1)
            } else {
                format!("{}: line {} is blank, but the header is expected there (header_row = {})", path.display(), header_row + 1, header_row + 1)
            });
        }
        let mut csv = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
        let mut record = csv::StringRecord::new();
        csv.read_record(&mut record).map_err(|e| format!("{}: malformed CSV header: {e}", path.display()))?;
        reader.headers = record.iter().map(|h| h.trim().to_string()).collect();
        let header_bytes = head_bytes;
        reader.pending_line += count_newlines(&header_bytes);
        Ok(reader)
    }

    /// Reads at least `want` more bytes into `pending` (fewer at the end of the file).
    fn fill(&mut self, want: usize) -> Result<(), String> {
        let start = self.pending.len();
        self.pending.resize(start + want, 0);
        let mut filled = start;
        while filled < self.pending.len() {
            let n = self.file.read(&mut self.pending[filled..]).map_err(|e| format!("cannot read {}: {e}", self.path.display()))?;
            if n == 0 {
                self.eof = true;
                break;
            }
            filled += n;
        }
        self.hasher.update(&self.pending[start..filled]);
        self.bytes_read += (filled - start) as u64;
        self.pending.truncate(filled);
        Ok(())
    }

    fn next_block(&mut self) -> Result<Option<Block>, String> {
        while !self.eof && self.pending.len() < BLOCK_BYTES {
            self.fill(BLOCK_BYTES)?;
        }
        if self.pending.is_empty() {
            return Ok(None);
        }
        let cut = if self.eof {
            self.pending.len()
        } else {
            loop {
                match last_record_end(&self.pending) {
                    Some(cut) => break cut,
                    None if self.eof => break self.pending.len(),
                    None => self.fill(BLOCK_BYTES)?, // one record longer than a block
                }
            }
        };
        let rest = self.pending.split_off(cut);
        let bytes = std::mem::replace(&mut self.pending, rest);
        let first_line = self.pending_line;
        self.pending_line += count_newlines(&bytes);
        Ok(Some(Block { first_line, data: BlockData::Csv { bytes, encoding: self.encoding, file: self.path.clone() } }))
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    memchr::memchr_iter(b'\n', bytes).count() as u64
}

/// End (exclusive, after the `\n`) of the first record in `bytes`, if it is complete.
fn record_end(bytes: &[u8]) -> Option<usize> {
    let mut quoted = false;
    for i in memchr::memchr2_iter(b'"', b'\n', bytes) {
        match bytes[i] {
            b'"' => quoted = !quoted,
            _ if !quoted => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// End (exclusive) of the last complete record in `bytes`: after the last line break outside
/// quotes. Blocks start at record boundaries, so quote parity is known from the start.
fn last_record_end(bytes: &[u8]) -> Option<usize> {
    let mut quoted = false;
    let mut last = None;
    for i in memchr::memchr2_iter(b'"', b'\n', bytes) {
        match bytes[i] {
            b'"' => quoted = !quoted,
            _ if !quoted => last = Some(i + 1),
            _ => {}
        }
    }
    last
}

/// Decodes a block by the stated encoding; an error names the line and suggests the right
/// encoding. `file_start` is set for the bytes that begin the file (after a byte-order mark of
/// that many bytes): there the encoding is judged as a whole and errors give the file offset.
pub fn decode<'a>(bytes: &'a [u8], encoding: Encoding, file: &Path, first_line: u64, file_start: Option<usize>) -> Result<Cow<'a, str>, String> {
    let shown = file.display();
    let utf8 = std::str::from_utf8(bytes);
    let line_of = |offset: usize| first_line + count_newlines(&bytes[..offset]);
    match encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => match utf8 {
            Ok(text) => Ok(Cow::Borrowed(text)),
            Err(e) => {
                let looks_gbk = !encoding_rs::GB18030.decode_without_bom_handling(bytes).1;
                let hint = if looks_gbk { "; the bytes read as GBK/GB18030: set encoding = \"gbk\"" } else { "" };
                let line = line_of(e.valid_up_to());
                let line_start = bytes[..e.valid_up_to()].iter().rposition(|b| *b == b'\n').map(|i| i + 1).unwrap_or(0);
                let at = if let Some(bom) = file_start {
                    format!(" (byte {})", e.valid_up_to() + bom)
                } else {
                    format!(" (byte {} of the line)", e.valid_up_to() - line_start + 1)
                };
                Err(format!("{shown} is not valid UTF-8 at line {line}{at}{hint}"))
            }
        },
        Encoding::Gbk | Encoding::Gb18030 => {
            if file_start.is_some() && utf8.is_ok() && !bytes.is_ascii() {
                return Err(format!("{shown} is valid UTF-8 with Chinese text, not GBK: set encoding = \"utf-8\""));
            }
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            if had_errors {
                let bad = text.find('\u{FFFD}').map(|i| first_line + text[..i].matches('\n').count() as u64).unwrap_or(first_line);
                return Err(format!("{shown} is not valid GBK/GB18030 at line {bad}"));
            }
            Ok(text)
        }
        Encoding::Auto => match utf8 {
            Ok(text) => Ok(Cow::Borrowed(text)),
            Err(_) => {
                let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
                if had_errors {
                    return Err(format!("{shown} is neither UTF-8 nor GBK/GB18030 (line {} onwards); state its encoding", first_line));
                }
                Ok(text)
            }
        },
    }
}

/// Calls `each(line, cells)` for every record of a block that is not blank, and returns the
/// number of blank lines (empty lines and lines of empty cells).
pub fn for_each_record(block: &Block, mut each: impl FnMut(u64, &[Cell]) -> Result<(), String>) -> Result<u64, String> {
    match &block.data {
        BlockData::Csv { bytes, encoding, file } => {
            let text = decode(bytes, *encoding, file, block.first_line, None)?;
            csv_records(&text, block.first_line, file, each)
        }
        BlockData::Xlsx { range, rows, first_col } => {
            let mut blank = 0;
            let mut cells: Vec<Cell> = Vec::new();
            for (offset, row) in range.rows().skip(rows.start).take(rows.len()).enumerate() {
                cells.clear();
                // Pad for columns left of the used range so indexes match the header's.
                cells.extend(std::iter::repeat_n(Cell::Empty, *first_col));
                cells.extend(row.iter().map(to_cell));
                if cells.iter().all(Cell::is_blank) {
                    blank += 1;
                    continue;
                }
                each(block.first_line + offset as u64, &cells)?;
            }
            Ok(blank)
        }
    }
}

/// Splits decoded CSV text into records, numbering them by their first line in the file.
fn csv_records(text: &str, first_line: u64, file: &Path, mut each: impl FnMut(u64, &[Cell]) -> Result<(), String>) -> Result<u64, String> {
    // Physical blank lines never reach the CSV reader as records; count them from the text.
    let mut blank = text.lines().filter(|l| l.trim().is_empty()).count() as u64;
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut raw = csv::StringRecord::new();
    // The csv crate counts CRLF as two line ends and reports a record's start before any blank
    // lines it skipped, so lines are counted here from the record's byte offset.
    let bytes = text.as_bytes();
    let (mut counted_to, mut newlines) = (0usize, 0u64);
    loop {
        let more = reader.read_record(&mut raw).map_err(|e| format!("{}: malformed CSV near line {}: {e}", file.display(), first_line + newlines))?;
        if !more {
            break;
        }
        let mut start = raw.position().map(|p| p.byte() as usize).unwrap_or(0);
        while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
            start += 1;
        }
        newlines += count_newlines(&bytes[counted_to..start.max(counted_to)]);
        counted_to = counted_to.max(start);
        let line = first_line + newlines;
        let cells: Vec<Cell> = raw.iter().map(|f| if f.is_empty() { Cell::Empty } else { Cell::Text(f) }).collect();
        if cells.iter().all(Cell::is_blank) {
            blank += 1;
            continue;
        }
        each(line, &cells)?;
    }
    Ok(blank)
}

fn xlsx_tables(source: &SourcePlan, file: &Path) -> Result<Vec<TableReader>, String> {
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
        let (first_row, first_col) = range.start().map(|(r, c)| (r as usize, c as usize)).unwrap_or((0, 0));
        if first_row + range.height() <= source.header_row {
            return Err(format!("{} sheet '{sheet}' has no row {}, where the header is expected", file.display(), source.header_row + 1));
        }
        let header_index = source.header_row.saturating_sub(first_row);
        let headers: Vec<String> = if source.header_row < first_row {
            Vec::new()
        } else {
            let mut cells = vec![String::new(); first_col];
            cells.extend(range.rows().nth(header_index).into_iter().flatten().map(|d| to_cell(d).text().trim().to_string()));
            cells
        };
        let next = if source.header_row < first_row { 0 } else { header_index + 1 };
        let title = (source.header_row > 0 && first_row == 0).then(|| {
            range.rows().next().into_iter().flatten().map(|d| to_cell(d).text().trim().to_string()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
        });
        tables.push(TableReader { sheet: Some(sheet), title, headers, blocks: Blocks::Xlsx { range: Arc::new(range), next, first_row, first_col } });
    }
    Ok(tables)
}

fn to_cell(data: &Data) -> Cell<'_> {
    match data {
        Data::Empty => Cell::Empty,
        Data::String(s) => Cell::Text(s),
        Data::Float(v) => Cell::Number(*v),
        Data::Int(v) => Cell::Number(*v as f64),
        Data::Bool(b) => Cell::Text(if *b { "true" } else { "false" }),
        Data::DateTime(d) => Cell::ExcelDate(d.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s),
        Data::Error(_) => Cell::Text("#ERROR"),
        #[allow(unreachable_patterns)]
        _ => Cell::Empty,
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
        let e = decode(&gbk, Encoding::Utf8, path(), 1, Some(0)).unwrap_err();
        assert!(e.contains("not valid UTF-8 at line 1") && e.contains("encoding = \"gbk\""), "{e}");
        let utf8 = "供电所,用户数\n".as_bytes();
        let e = decode(utf8, Encoding::Gbk, path(), 1, Some(0)).unwrap_err();
        assert!(e.contains("set encoding = \"utf-8\""), "{e}");
        assert_eq!(decode(&gbk, Encoding::Gbk, path(), 1, Some(0)).unwrap(), "供电所,用户数\n");
        assert_eq!(decode(&gbk, Encoding::Auto, path(), 1, Some(0)).unwrap(), "供电所,用户数\n");
        // A bad byte deep in a file is reported at its line.
        let mut later = b"a,b\nc,d\n".to_vec();
        later.extend_from_slice(&gbk);
        let e = decode(&later, Encoding::Utf8, path(), 40, None).unwrap_err();
        assert!(e.contains("at line 42 (byte 1 of the line)"), "{e}");
    }

    fn records(text: &str, first_line: u64) -> (Vec<(u64, Vec<String>)>, u64) {
        let mut out = Vec::new();
        let blank = csv_records(text, first_line, path(), |line, cells| {
            out.push((line, cells.iter().map(Cell::text).collect()));
            Ok(())
        })
        .unwrap();
        (out, blank)
    }

    #[test]
    fn csv_lines_are_numbered_as_in_the_file() {
        let (rows, blank) = records("1,a\n\n2,\"b,c\"\n,\n合计,\n", 3);
        let lines: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines, [3, 5, 7]);
        assert_eq!(rows[1].1[1], "b,c");
        assert_eq!(blank, 2); // the empty line and the ",," line
        let (rows, _) = records("1,\"two\nlines\"\r\n2,x\r\n", 10);
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [10, 12]);
    }

    #[test]
    fn record_boundaries_respect_quotes() {
        assert_eq!(record_end(b"a,\"b\nc\"\nd\n"), Some(8));
        assert_eq!(last_record_end(b"a,\"b\nc\"\nd\ne,\"f\n"), Some(10));
        assert_eq!(last_record_end(b"a,\"b\nc"), None);
    }

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn headers_below_title_lines_and_missing_header_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "t.csv", "标题\n序号,名称\n1,a\n".as_bytes());
        let mut r = CsvBlocks::open(&f, Encoding::Utf8, 1).unwrap();
        assert_eq!(r.headers, ["序号", "名称"]);
        let block = r.next_block().unwrap().unwrap();
        assert_eq!(block.first_line, 3);
        assert!(r.next_block().unwrap().is_none());
        let e = CsvBlocks::open(&write(dir.path(), "s.csv", b"a,b\n"), Encoding::Utf8, 3).err().unwrap();
        assert!(e.contains("header is expected on line 4"), "{e}");
        let e = CsvBlocks::open(&write(dir.path(), "b.csv", b"title\n\na,b\n"), Encoding::Utf8, 1).err().unwrap();
        assert!(e.contains("line 2 is blank"), "{e}");
        let e = CsvBlocks::open(&write(dir.path(), "e.csv", b""), Encoding::Utf8, 0).err().unwrap();
        assert!(e.contains("is empty"), "{e}");
    }

    #[test]
    fn blocks_cover_every_record_once_with_its_line() {
        // Records longer than nothing special, a quoted line break, more than one block's bytes.
        let dir = tempfile::tempdir().unwrap();
        let mut text = String::from("\u{feff}id,note\n");
        let rows = 800_000;
        for i in 0..rows {
            if i % 1000 == 0 {
                text.push_str(&format!("{i},\"two\nlines\"\n"));
            } else {
                text.push_str(&format!("{i},供电所{i}\n"));
            }
        }
        let f = write(dir.path(), "big.csv", text.as_bytes());
        let mut r = CsvBlocks::open(&f, Encoding::Utf8Bom, 0).unwrap();
        let (mut seen, mut blocks) = (Vec::new(), 0);
        while let Some(block) = r.next_block().unwrap() {
            blocks += 1;
            for_each_record(&block, |line, cells| {
                seen.push((line, cells[0].text()));
                Ok(())
            })
            .unwrap();
        }
        assert!(blocks > 1, "{blocks} block(s)");
        assert_eq!(seen.len(), rows);
        // Line of record i: 2 + i + (multi-line records before it).
        for (i, (line, id)) in seen.iter().enumerate() {
            assert_eq!(id, &i.to_string());
            assert_eq!(*line, 2 + i as u64 + (i as u64).div_ceil(1000), "record {i}");
        }
        let expected = hex(&Sha256::digest(text.as_bytes()));
        let mut reader = FileReader { tables: vec![TableReader { sheet: None, title: None, headers: vec![], blocks: Blocks::Csv(r) }], hasher: None, whole_file: None };
        assert_eq!(reader.fingerprint(), (expected, text.len() as u64));
    }
}
