//! Reading export files as a stream of record blocks: CSV is cut at record boundaries into
//! blocks of a few megabytes (by the record rules of `records`, so a quoted line break never
//! splits a record and a stray quote never swallows the rest of a file) that are decoded and
//! parsed independently, in parallel; XLSX sheets are cut into row ranges. Each block knows the
//! line (CSV) or row (XLSX) number of its first record, so every record keeps its real location.
//! Title lines above the header are skipped; blank lines are counted. A wrong encoding is
//! reported with the line where the bytes stop making sense.
//!
//! Every physical line is accounted for: a table's title and header lines, its blank lines and
//! the lines of its records add up to the physical lines counted independently from the raw
//! bytes as they are read (XLSX: the rows of the sheet up to its last used row), which
//! `TableReader::lines` reports.
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

use crate::base::digest::{Sha256Stream, sha256_hex};

use super::error::{ByteAt, IngestError};
use super::records::{self, Fault, LineCounter, Next};
use crate::spec::plan::{Encoding, Format, SourcePlan};

/// Target size of a CSV block (the last record is completed past it).
const BLOCK_BYTES: usize = 4 << 20;
/// Rows of an XLSX block.
const BLOCK_ROWS: usize = 50_000;

/// One cell as the file holds it, borrowed from the block being parsed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Cell<'a> {
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

    pub(crate) fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => crate::base::text::trim(s).is_empty(),
            _ => false,
        }
    }
}

/// A run of whole records of one table, ready to be parsed on any thread.
#[derive(Debug)]
pub(crate) struct Block {
    /// Line (CSV) or row (XLSX) number of the block's first line, from 1.
    pub first_line: u64,
    /// Physical lines (rows) the block holds.
    pub lines: u64,
    data: BlockData,
}

impl Block {
    /// Records the block holds at most (blank ones included): what its parsed columns reserve.
    pub(crate) fn records_at_most(&self) -> usize {
        match &self.data {
            BlockData::Csv { records, .. } => *records as usize,
            BlockData::Xlsx { rows, .. } => rows.len(),
        }
    }

    /// Bytes of the block's text (0 for a worksheet): what its text columns reserve together.
    pub(crate) fn text_bytes(&self) -> usize {
        match &self.data {
            BlockData::Csv { bytes, .. } => bytes.len(),
            BlockData::Xlsx { .. } => 0,
        }
    }
}

#[derive(Debug)]
enum BlockData {
    /// Raw bytes of whole CSV records, still in the file's encoding; `fields` is the header's
    /// width, `records` what the cutter found (blank lines included).
    Csv { bytes: Vec<u8>, encoding: Encoding, file: PathBuf, fields: usize, records: u64 },
    /// Rows of a worksheet (indexes into the used range).
    Xlsx { range: Arc<calamine::Range<Data>>, rows: Range<usize>, first_col: usize },
}

/// One table of a file (a CSV file, or one sheet of a workbook): its headers and its blocks.
pub(crate) struct TableReader {
    pub sheet: Option<String>,
    /// The first line (row) of the table when the header is below it: the title line.
    pub title: Option<String>,
    pub headers: Vec<String>,
    blocks: Blocks,
}

enum Blocks {
    Csv(CsvBlocks),
    Xlsx { range: Arc<calamine::Range<Data>>, next: usize, first_row: usize, first_col: usize, lines: TableLines },
}

/// The physical lines of a table that are not in its blocks, and the physical lines of the
/// whole table counted from the raw input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TableLines {
    /// Physical lines of the table: line endings in the raw bytes, plus an unterminated last
    /// line (CSV); rows up to the last used row (XLSX). None until a CSV is read to its end.
    pub physical: Option<u64>,
    /// Title lines above the header.
    pub title: u64,
    /// Lines of the header record.
    pub header: u64,
    /// Blank rows between the header and the used range of a sheet (XLSX).
    pub blank: u64,
}

impl TableReader {
    /// Line accounting of the table outside its blocks (complete once every block is read).
    pub fn lines(&self) -> TableLines {
        match &self.blocks {
            Blocks::Csv(csv) => TableLines { physical: csv.eof.then(|| csv.line_counter.finish()), title: csv.title_lines, header: csv.header_lines, blank: 0 },
            Blocks::Xlsx { lines, .. } => *lines,
        }
    }

    /// How many blocks the table holds at most (a CSV block is at least `BLOCK_BYTES` long
    /// except the last), known before reading them; `duibiao check` spreads its sample by it.
    pub(crate) fn blocks_at_most(&self) -> usize {
        match &self.blocks {
            Blocks::Csv(csv) => {
                let left = csv.size.unwrap_or(0).saturating_sub(csv.bytes_read) as usize + csv.pending.len();
                left.div_ceil(csv.block_bytes).max(1)
            }
            Blocks::Xlsx { range, next, .. } => range.height().saturating_sub(*next).div_ceil(BLOCK_ROWS).max(1),
        }
    }

    /// Takes back a block that has been parsed: its buffer is reused for later blocks.
    pub(crate) fn recycle(&mut self, block: Block) {
        if let (Blocks::Csv(csv), BlockData::Csv { bytes, .. }) = (&mut self.blocks, block.data) {
            csv.recycle(bytes);
        }
    }

    /// The next block of records, None at the end of the table.
    pub(crate) fn next_block(&mut self) -> Result<Option<Block>, IngestError> {
        match &mut self.blocks {
            Blocks::Csv(csv) => csv.next_block(),
            Blocks::Xlsx { range, next, first_row, first_col, .. } => {
                if *next >= range.height() {
                    return Ok(None);
                }
                let rows = *next..(*next + BLOCK_ROWS).min(range.height());
                *next = rows.end;
                Ok(Some(Block {
                    first_line: (*first_row + rows.start) as u64 + 1,
                    lines: rows.len() as u64,
                    data: BlockData::Xlsx { range: range.clone(), rows, first_col: *first_col },
                }))
            }
        }
    }
}

/// An export file opened for reading.
pub(crate) struct FileReader {
    pub tables: Vec<TableReader>,
    whole_file: Option<(FileHash, u64)>,
}

/// What a reader hashed a file's bytes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FileHash {
    /// Lower-case hex sha256.
    Sha256(String),
    /// XXH3-64, to compare with a pass that took the sha256 (`ingest::ahead`).
    Xxh3(u64),
}

/// How a reader hashes the bytes it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HashBy {
    Sha256,
    Xxh3,
    /// Not at all: only the headers are wanted.
    Nothing,
}

/// The hash a CSV reader keeps of the bytes it reads.
enum Hashing {
    Sha256(Sha256Stream),
    Xxh3(Box<xxhash_rust::xxh3::Xxh3>),
    Nothing,
}

impl Hashing {
    fn new(by: HashBy) -> Hashing {
        match by {
            HashBy::Sha256 => Hashing::Sha256(Sha256Stream::default()),
            HashBy::Xxh3 => Hashing::Xxh3(Box::new(xxhash_rust::xxh3::Xxh3::new())),
            HashBy::Nothing => Hashing::Nothing,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        match self {
            Hashing::Sha256(h) => h.update(bytes),
            Hashing::Xxh3(h) => h.update(bytes),
            Hashing::Nothing => {}
        }
    }

    fn finish(self) -> Option<FileHash> {
        match self {
            Hashing::Sha256(h) => Some(FileHash::Sha256(h.finish_hex())),
            Hashing::Xxh3(h) => Some(FileHash::Xxh3(h.digest())),
            Hashing::Nothing => None,
        }
    }
}

impl FileReader {
    /// The hash and size of the file; for CSV only once every block has been read. None for a
    /// file opened for its headers only.
    pub(crate) fn fingerprint(&mut self) -> Option<(FileHash, u64)> {
        if self.whole_file.is_none() {
            for t in &mut self.tables {
                if let Blocks::Csv(csv) = &mut t.blocks {
                    let bytes = csv.bytes_read;
                    self.whole_file = std::mem::replace(&mut csv.hasher, Hashing::Nothing).finish().map(|hash| (hash, bytes));
                }
            }
        }
        self.whole_file.clone()
    }
}

/// Opens a file and reads its header row(s): one table for a CSV, one per selected sheet; the
/// reader takes the file's sha256 as it reads.
pub fn open(source: &SourcePlan, file: &Path) -> Result<FileReader, IngestError> {
    open_hashing(source, file, HashBy::Sha256)
}

/// `open`, but a CSV reader takes only an XXH3-64 of the bytes, for a file whose sha256 a pass
/// ahead of the reader takes (`ingest::ahead`).
pub(crate) fn open_hashed_ahead(source: &SourcePlan, file: &Path) -> Result<FileReader, IngestError> {
    open_hashing(source, file, HashBy::Xxh3)
}

/// `open` for the headers only: nothing is hashed (the first block of a CSV is read all the same).
pub(crate) fn open_unhashed(source: &SourcePlan, file: &Path) -> Result<FileReader, IngestError> {
    open_hashing(source, file, HashBy::Nothing)
}

fn open_hashing(source: &SourcePlan, file: &Path, by: HashBy) -> Result<FileReader, IngestError> {
    match source.format {
        Format::Csv => {
            let csv = CsvBlocks::open(file, source.encoding, source.header_row, by)?;
            let (headers, title) = (csv.headers.clone(), csv.title.clone());
            Ok(FileReader { tables: vec![TableReader { sheet: None, title, headers, blocks: Blocks::Csv(csv) }], whole_file: None })
        }
        Format::Xlsx => {
            let whole_file = match by {
                HashBy::Nothing => None,
                HashBy::Sha256 | HashBy::Xxh3 => {
                    let bytes = std::fs::read(file).map_err(|source| IngestError::Read { path: file.to_path_buf(), source })?;
                    Some((FileHash::Sha256(sha256_hex(&bytes)), bytes.len() as u64))
                }
            };
            Ok(FileReader { tables: xlsx_tables(source, file)?, whole_file })
        }
    }
}

/// The header row(s) of a file: one list for a CSV, one per sheet for a workbook. Reads only
/// the start of a CSV.
pub fn headers(source: &SourcePlan, file: &Path) -> Result<Vec<Vec<String>>, IngestError> {
    Ok(open_unhashed(source, file)?.tables.into_iter().map(|t| t.headers).collect())
}

/// Reads a CSV file block by block.
struct CsvBlocks {
    file: Box<dyn Read + Send>,
    path: PathBuf,
    encoding: Encoding,
    headers: Vec<String>,
    title: Option<String>,
    /// Bytes read but not yet handed out (the start of an unfinished record).
    pending: Vec<u8>,
    /// Line number of the first line of `pending`.
    pending_line: u64,
    eof: bool,
    hasher: Hashing,
    bytes_read: u64,
    /// Target size of a block.
    block_bytes: usize,
    /// Physical lines of the raw bytes read so far, counted as they arrive.
    line_counter: LineCounter,
    title_lines: u64,
    header_lines: u64,
    /// Size of the file in bytes, when it is a file (for spreading `check`'s sample).
    size: Option<u64>,
    /// Buffers of parsed blocks, taken back to read later blocks into (no fresh pages).
    spare: Vec<Vec<u8>>,
}

/// Most buffers a CSV reader keeps for reuse (the blocks in flight come back).
const SPARE_BUFFERS: usize = 16;

impl CsvBlocks {
    /// Opens `path`, to hash its bytes `by` as they are read.
    fn open(path: &Path, encoding: Encoding, header_row: usize, by: HashBy) -> Result<CsvBlocks, IngestError> {
        let file = File::open(path).map_err(|source| IngestError::Read { path: path.to_path_buf(), source })?;
        let size = file.metadata().ok().map(|m| m.len());
        let mut blocks = CsvBlocks::from_reader(Box::new(file), path, encoding, header_row, BLOCK_BYTES, by)?;
        blocks.size = size;
        Ok(blocks)
    }

    /// Reads the title lines and the header from `file` (named `path` in messages); blocks
    /// will be about `block_bytes` long.
    fn from_reader(
        file: Box<dyn Read + Send>,
        path: &Path,
        encoding: Encoding,
        header_row: usize,
        block_bytes: usize,
        by: HashBy,
    ) -> Result<CsvBlocks, IngestError> {
        let mut reader = CsvBlocks {
            file,
            path: path.to_path_buf(),
            encoding,
            headers: Vec::new(),
            title: None,
            pending: Vec::new(),
            pending_line: 1,
            eof: false,
            hasher: Hashing::new(by),
            bytes_read: 0,
            block_bytes: block_bytes.max(1),
            line_counter: LineCounter::default(),
            title_lines: 0,
            header_lines: 0,
            size: None,
            spare: Vec::new(),
        };
        reader.fill(reader.block_bytes)?;
        if reader.pending.is_empty() {
            return Err(IngestError::Empty { path: path.to_path_buf() });
        }
        let had_bom = reader.pending.starts_with(b"\xEF\xBB\xBF");
        if had_bom {
            if matches!(encoding, Encoding::Gbk | Encoding::Gb18030) {
                return Err(IngestError::BomNotGbk { path: path.to_path_buf() });
            }
            reader.pending.drain(..3);
        }
        // Title lines above the header (any line ending), then the header record; decoded
        // together so that a wrong encoding is reported where it first shows.
        let mut title_end = 0;
        for skipped in 0..header_row {
            loop {
                match records::line_end(&reader.pending[title_end..], reader.eof) {
                    Some(end) => {
                        title_end += end;
                        break;
                    }
                    None if reader.eof => {
                        let lines = skipped as u64 + u64::from(title_end < reader.pending.len());
                        return Err(IngestError::NoHeaderLine { path: path.to_path_buf(), lines, header_line: header_row + 1 });
                    }
                    None => reader.fill(reader.block_bytes)?,
                }
            }
        }
        let (end, header_lines) = loop {
            match records::next_record(&reader.pending[title_end..], None, reader.eof) {
                Next::Record(span) => {
                    if let Some(Fault::UnclosedQuote { field }) = span.fault {
                        return Err(IngestError::HeaderQuote {
                            path: path.to_path_buf(),
                            header_line: header_row + 1,
                            field,
                            max_lines: records::MAX_RECORD_LINES,
                        });
                    }
                    break (title_end + span.end, u64::from(span.lines));
                }
                Next::End => break (reader.pending.len(), 0),
                Next::NeedMore => reader.fill(reader.block_bytes)?,
            }
        };
        let bom = if had_bom { 3 } else { 0 };
        let head_bytes: Vec<u8> = reader.pending.drain(..end).collect();
        let text_all = decode(&head_bytes, encoding, path, 1, Some(bom))?;
        if header_row > 0 {
            reader.title = text_all.split(['\n', '\r']).next().map(|l| l.trim().trim_matches(',').trim().to_string());
        }
        let text = decode(&head_bytes[title_end..], encoding, path, header_row as u64 + 1, None)?;
        if text.trim().is_empty() {
            return Err(if reader.eof && reader.pending.is_empty() && text.is_empty() {
                IngestError::NoHeaderLine { path: path.to_path_buf(), lines: header_row as u64, header_line: header_row + 1 }
            } else {
                IngestError::BlankHeader { path: path.to_path_buf(), header_line: header_row + 1 }
            });
        }
        let content = text.trim_end_matches(['\r', '\n']);
        let mut fields = Vec::new();
        records::split_fields(content, &mut fields);
        reader.headers = fields.iter().map(|h| h.trim().to_string()).collect();
        reader.title_lines = header_row as u64;
        reader.header_lines = header_lines;
        reader.pending_line += header_row as u64 + header_lines;
        Ok(reader)
    }

    /// Reads at least `want` more bytes into `pending` (fewer at the end of the file), into its
    /// spare capacity (no zeroing of the buffer first).
    fn fill(&mut self, want: usize) -> Result<(), IngestError> {
        let start = self.pending.len();
        self.pending.reserve(want);
        let read = (&mut self.file).take(want as u64).read_to_end(&mut self.pending).map_err(|source| IngestError::Read { path: self.path.clone(), source })?;
        if read < want {
            self.eof = true;
        }
        let filled = start + read;
        self.hasher.update(&self.pending[start..filled]);
        self.line_counter.update(&self.pending[start..filled]);
        self.bytes_read += read as u64;
        Ok(())
    }

    /// The end of the next block and its lines when the bytes at hand hold no quote and no CR
    /// (most exports): every line is then one record, so the cut is the end of the line that
    /// reaches the block size, found with SIMD searches instead of a walk over the records; the
    /// same cut as `next_block`'s walk. None when the walk is needed.
    fn quote_free_cut(&mut self) -> Result<Option<(usize, u64)>, IngestError> {
        if self.pending.len() < self.block_bytes + self.lookahead() && !self.eof {
            self.fill(self.block_bytes + self.lookahead() - self.pending.len())?;
        }
        let bytes = &self.pending;
        if bytes.is_empty() || memchr::memchr2(b'"', b'\r', bytes).is_some() {
            return Ok(None);
        }
        let from = self.block_bytes.min(bytes.len()) - 1;
        let cut = match memchr::memchr(b'\n', &bytes[from..]) {
            Some(i) => from + i + 1,
            None if self.eof => bytes.len(),
            None => match memchr::memrchr(b'\n', bytes) {
                Some(i) => i + 1,
                None => return Ok(None),
            },
        };
        let lines = memchr::memchr_iter(b'\n', &bytes[..cut]).count() as u64 + u64::from(bytes[cut - 1] != b'\n');
        Ok(Some((cut, lines)))
    }

    /// Bytes read past the block size to find the end of the record that reaches it. What is
    /// read past the cut is copied to the start of the next block's buffer, so this is kept
    /// small: reading a whole block more, as before, copied about a block's bytes per block
    /// and grew each buffer to twice a block.
    fn lookahead(&self) -> usize {
        (self.block_bytes / 16).max(1)
    }

    /// Takes back the bytes of a parsed block, to read later blocks into.
    fn recycle(&mut self, mut bytes: Vec<u8>) {
        if self.spare.len() < SPARE_BUFFERS {
            bytes.clear();
            self.spare.push(bytes);
        }
    }

    /// The next block: whole records from the start of `pending`, cut after the record that
    /// reaches the block size.
    fn next_block(&mut self) -> Result<Option<Block>, IngestError> {
        if let Some((cut, lines)) = self.quote_free_cut()? {
            return Ok(Some(self.cut_block(cut, lines, lines)));
        }
        let expected = Some(self.headers.len());
        let (mut cut, mut lines, mut found) = (0usize, 0u64, 0u64);
        loop {
            match records::next_record(&self.pending[cut..], expected, self.eof) {
                Next::Record(span) => {
                    cut += span.end;
                    lines += u64::from(span.lines);
                    found += 1;
                    if cut >= self.block_bytes {
                        break;
                    }
                }
                Next::End => break,
                // The record at `cut` goes on past the bytes read: take more, unless the block
                // is already full.
                Next::NeedMore if cut > 0 && self.pending.len() >= self.block_bytes => break,
                // A record longer than the bytes at hand: twice as many (each try walks it
                // again from its start). Otherwise up to the block size and the lookahead.
                Next::NeedMore if cut == 0 => self.fill(self.pending.len().max(self.block_bytes))?,
                Next::NeedMore => self.fill((self.block_bytes + self.lookahead()).saturating_sub(self.pending.len()).max(self.lookahead()))?,
            }
        }
        if cut == 0 {
            return Ok(None);
        }
        Ok(Some(self.cut_block(cut, lines, found)))
    }

    /// The first `cut` bytes of `pending` as a block of `lines` lines and `records` records; the
    /// rest stays pending, in a recycled buffer when there is one.
    fn cut_block(&mut self, cut: usize, lines: u64, records: u64) -> Block {
        let mut rest = self.spare.pop().unwrap_or_default();
        rest.extend_from_slice(&self.pending[cut..]);
        self.pending.truncate(cut);
        let bytes = std::mem::replace(&mut self.pending, rest);
        let first_line = self.pending_line;
        self.pending_line += lines;
        Block { first_line, lines, data: BlockData::Csv { bytes, encoding: self.encoding, file: self.path.clone(), fields: self.headers.len(), records } }
    }
}

/// Decodes a block by the stated encoding; an error names the line and suggests the right
/// encoding. `file_start` is set for the bytes that begin the file (after a byte-order mark of
/// that many bytes): there the encoding is judged as a whole and errors give the file offset.
pub fn decode<'a>(bytes: &'a [u8], encoding: Encoding, file: &Path, first_line: u64, file_start: Option<usize>) -> Result<Cow<'a, str>, IngestError> {
    let path = || file.to_path_buf();
    // A valid block (nearly all) is checked with SIMD; the standard check then only locates an
    // error.
    let utf8 = simdutf8::basic::from_utf8(bytes).or_else(|_| std::str::from_utf8(bytes));
    let line_of = |offset: usize| first_line + records::endings(&bytes[..offset]);
    if file_start.is_some() {
        if let Some(form) = utf16_form(bytes) {
            return Err(IngestError::Utf16 { path: path(), form });
        }
    }
    match encoding {
        Encoding::Utf8 | Encoding::Utf8Bom => match utf8 {
            Ok(text) => Ok(Cow::Borrowed(text)),
            Err(e) => {
                let looks_gbk = !encoding_rs::GB18030.decode_without_bom_handling(bytes).1;
                let line = line_of(e.valid_up_to());
                let line_start = bytes[..e.valid_up_to()].iter().rposition(|b| matches!(b, b'\n' | b'\r')).map(|i| i + 1).unwrap_or(0);
                let at = if let Some(bom) = file_start { ByteAt::File(e.valid_up_to() + bom) } else { ByteAt::Line(e.valid_up_to() - line_start + 1) };
                Err(IngestError::NotUtf8 { path: path(), line, at, looks_gbk })
            }
        },
        Encoding::Gbk | Encoding::Gb18030 => {
            if file_start.is_some() && utf8.is_ok() && !bytes.is_ascii() {
                return Err(IngestError::Utf8NotGbk { path: path() });
            }
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            if had_errors {
                let bad = text.find('\u{FFFD}').map(|i| first_line + records::endings(&text.as_bytes()[..i])).unwrap_or(first_line);
                return Err(IngestError::NotGbk { path: path(), line: bad });
            }
            Ok(text)
        }
        Encoding::Auto => match utf8 {
            Ok(text) => Ok(Cow::Borrowed(text)),
            // Chinese text already read as UTF-8: the file is UTF-8, and this byte is damage (e.g.
            // a line saved as GBK), never a reason to read the whole block as GBK.
            Err(e) if has_utf8_cjk(&bytes[..e.valid_up_to()]) => {
                let line = line_of(e.valid_up_to());
                Err(IngestError::Utf8LineDamaged { path: path(), line })
            }
            Err(_) => {
                let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
                if had_errors {
                    return Err(IngestError::NeitherUtf8NorGbk { path: path(), line: first_line });
                }
                Ok(text)
            }
        },
    }
}

/// How a file's start shows it is UTF-16: a byte-order mark, or zero bytes (the high bytes of
/// ASCII characters) in many odd positions and almost no even ones, or the reverse.
pub(crate) fn utf16_form(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xFF\xFE") {
        return Some("little-endian, byte-order mark FF FE");
    }
    if bytes.starts_with(b"\xFE\xFF") {
        return Some("big-endian, byte-order mark FE FF");
    }
    let head = &bytes[..bytes.len().min(256) & !1];
    if head.len() < 4 {
        return None;
    }
    let pairs = head.len() / 2;
    let zero_odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
    let zero_even = head.iter().step_by(2).filter(|b| **b == 0).count();
    // A text export never holds zero bytes: several, all on one side of the pairs, are UTF-16.
    if zero_odd >= 2 && zero_even * 20 <= pairs && zero_odd > zero_even * 4 {
        Some("little-endian, no byte-order mark")
    } else if zero_even >= 2 && zero_odd * 20 <= pairs && zero_even > zero_odd * 4 {
        Some("big-endian, no byte-order mark")
    } else {
        None
    }
}

/// Whether valid UTF-8 bytes hold a three-byte character of the CJK ranges (lead byte E3–E9).
fn has_utf8_cjk(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|w| (0xE3..=0xE9).contains(&w[0]) && (0x80..=0xBF).contains(&w[1]) && (0x80..=0xBF).contains(&w[2]))
}

/// One record handed to the parser.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Record<'r, 'a> {
    /// The record's cells, as many as the header's (CSV) or the sheet's width (XLSX); and the
    /// record's text when the cells are exactly its comma-separated parts (a CSV line without
    /// quotes), for fingerprinting it without joining the cells again.
    Cells(&'r [Cell<'a>], Option<&'r str>),
    /// A CSV record that cannot be read as the header's fields: its text (without the line
    /// ending), why, and whether the file ends inside it.
    Malformed { text: &'r str, fault: Fault, at_end: bool },
}

/// What a block held, line by line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    /// Records handed to `each` (not blank).
    pub records: u64,
    /// Physical lines of those records.
    pub record_lines: u64,
    /// Blank lines: empty lines and records of empty cells.
    pub blank_lines: u64,
}

/// Calls `each(line, record)` for every record of a block that is not blank, and returns what
/// the block held: its lines are exactly the records' lines plus the blank lines.
pub(crate) fn for_each_record(block: &Block, mut each: impl FnMut(u64, Record) -> Result<(), IngestError>) -> Result<Tally, IngestError> {
    let tally = match &block.data {
        BlockData::Csv { bytes, encoding, file, fields, records } => {
            let text = decode(bytes, *encoding, file, block.first_line, None)?;
            let (tally, spans) = csv_records(&text, block.first_line, *fields, each)?;
            if spans != *records {
                return Err(IngestError::Recut { path: file.clone(), line: block.first_line });
            }
            tally
        }
        BlockData::Xlsx { range, rows, first_col } => {
            let mut tally = Tally::default();
            let mut cells: Vec<Cell> = Vec::new();
            for (offset, row) in range.rows().skip(rows.start).take(rows.len()).enumerate() {
                cells.clear();
                // Pad for columns left of the used range so indexes match the header's.
                cells.extend(std::iter::repeat_n(Cell::Empty, *first_col));
                cells.extend(row.iter().map(to_cell));
                if cells.iter().all(Cell::is_blank) {
                    tally.blank_lines += 1;
                    continue;
                }
                tally.records += 1;
                tally.record_lines += 1;
                each(block.first_line + offset as u64, Record::Cells(&cells, None))?;
            }
            tally
        }
    };
    if tally.record_lines + tally.blank_lines != block.lines {
        return Err(IngestError::BlockLines { line: block.first_line, lines: block.lines, spanned: tally.record_lines + tally.blank_lines });
    }
    Ok(tally)
}

/// An empty vector of cells with the storage of `cells`, of any lifetime.
fn reuse<'b>(mut cells: Vec<Cell<'_>>) -> Vec<Cell<'b>> {
    cells.clear();
    cells.into_iter().map(|_| Cell::Empty).collect()
}

/// `csv_records` for text without quotes and carriage returns (most exports): every line is a
/// record and every comma ends a field, so one SIMD search over the whole text finds both, with
/// no walk per record; the same records, cells, faults and lines as the general path.
fn plain_csv_records<E>(text: &str, first_line: u64, fields: usize, mut each: impl FnMut(u64, Record) -> Result<(), E>) -> Result<(Tally, u64), E> {
    let bytes = text.as_bytes();
    let mut tally = Tally::default();
    let mut cells: Vec<Cell> = Vec::with_capacity(fields);
    let (mut line, mut spans) = (first_line, 0u64);
    let (mut record_start, mut field_start) = (0usize, 0usize);
    fn cell(value: &str) -> Cell<'_> {
        if value.is_empty() { Cell::Empty } else { Cell::Text(value) }
    }
    let mut record = |cells: &mut Vec<Cell>, content: &str, terminated: bool, tally: &mut Tally| -> Result<(), E> {
        let at = line;
        line += 1;
        spans += 1;
        if cells.iter().all(Cell::is_blank) {
            tally.blank_lines += 1;
        } else {
            tally.records += 1;
            tally.record_lines += 1;
            if cells.len() == fields {
                each(at, Record::Cells(cells, Some(content)))?;
            } else {
                each(at, Record::Malformed { text: content, fault: Fault::FieldCount { found: cells.len(), expected: fields }, at_end: !terminated })?;
            }
        }
        cells.clear();
        Ok(())
    };
    records::each_separator(bytes, |at| {
        cells.push(cell(&text[field_start..at]));
        field_start = at + 1;
        if bytes[at] == b'\n' {
            record(&mut cells, &text[record_start..at], true, &mut tally)?;
            record_start = at + 1;
        }
        Ok(())
    })?;
    if record_start < bytes.len() {
        cells.push(cell(&text[field_start..]));
        record(&mut cells, &text[record_start..], false, &mut tally)?;
    }
    Ok((tally, spans))
}

/// Splits decoded CSV text (whole records) into records of the header's width `fields`,
/// numbering them by their first physical line in the file. Also returns how many records
/// (blank ones included) the text split into.
fn csv_records(text: &str, first_line: u64, fields: usize, each: impl FnMut(u64, Record) -> Result<(), IngestError>) -> Result<(Tally, u64), IngestError> {
    let bytes = text.as_bytes();
    if memchr::memchr2(b'"', b'\r', bytes).is_none() {
        return plain_csv_records(text, first_line, fields, each);
    }
    any_csv_records(text, first_line, fields, each)
}

/// `csv_records` for any text: record by record, following quotes.
fn any_csv_records(
    text: &str,
    first_line: u64,
    fields: usize,
    mut each: impl FnMut(u64, Record) -> Result<(), IngestError>,
) -> Result<(Tally, u64), IngestError> {
    let bytes = text.as_bytes();
    let (mut pos, mut line, mut spans) = (0usize, first_line, 0u64);
    let mut tally = Tally::default();
    let mut values: Vec<Cow<str>> = Vec::new();
    // The cells of a record borrow from `values`, so each record's vector is a new one; its
    // allocation is handed on from record to record (an empty vector's storage is reused by
    // `collect` when the element types have the same layout).
    let mut spare: Vec<Cell<'static>> = Vec::new();
    loop {
        let span = match records::next_record(&bytes[pos..], Some(fields), true) {
            Next::Record(span) => span,
            Next::End => break,
            Next::NeedMore => unreachable!("the whole text is at hand"),
        };
        spans += 1;
        let content = &text[pos..pos + span.content_end];
        let (start, lines) = (line, u64::from(span.lines));
        pos += span.end;
        line += lines;
        if let Some(fault @ Fault::UnclosedQuote { .. }) = span.fault {
            tally.records += 1;
            tally.record_lines += lines;
            each(start, Record::Malformed { text: content, fault, at_end: !span.terminated })?;
            continue;
        }
        records::split_fields(content, &mut values);
        let mut cells: Vec<Cell> = reuse(std::mem::take(&mut spare));
        cells.extend(values.iter().map(|f| if f.is_empty() { Cell::Empty } else { Cell::Text(f) }));
        if cells.iter().all(Cell::is_blank) {
            tally.blank_lines += lines;
        } else {
            tally.records += 1;
            tally.record_lines += lines;
            match span.fault {
                Some(fault) => each(start, Record::Malformed { text: content, fault, at_end: !span.terminated })?,
                None => each(start, Record::Cells(&cells, None))?,
            }
        }
        spare = reuse(cells);
    }
    Ok((tally, spans))
}

fn xlsx_tables(source: &SourcePlan, file: &Path) -> Result<Vec<TableReader>, IngestError> {
    let mut book = open_workbook_auto(file).map_err(|error| IngestError::Workbook { path: file.to_path_buf(), error })?;
    let available = book.sheet_names();
    let wanted: Vec<String> = match &source.sheets {
        Some(list) => {
            for s in list {
                if !available.contains(s) {
                    return Err(IngestError::NoSheet { path: file.to_path_buf(), sheet: s.clone(), available });
                }
            }
            list.clone()
        }
        None => available.clone(),
    };
    let mut tables = Vec::new();
    for sheet in wanted {
        let range = book.worksheet_range(&sheet).map_err(|error| IngestError::Sheet { path: file.to_path_buf(), sheet: sheet.clone(), error })?;
        let (first_row, first_col) = range.start().map(|(r, c)| (r as usize, c as usize)).unwrap_or((0, 0));
        if first_row + range.height() <= source.header_row {
            return Err(IngestError::SheetTooShort { path: file.to_path_buf(), sheet, header_line: source.header_row + 1 });
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
        // Rows of the sheet: 1 to the last used row; those above the header are title rows,
        // and empty rows between the header and the used range are blank.
        let lines = TableLines {
            physical: Some((first_row + range.height()) as u64),
            title: source.header_row as u64,
            header: 1,
            blank: first_row.saturating_sub(source.header_row + 1) as u64,
        };
        let title = (source.header_row > 0 && first_row == 0).then(|| {
            range.rows().next().into_iter().flatten().map(|d| to_cell(d).text().trim().to_string()).filter(|t| !t.is_empty()).collect::<Vec<_>>().join(" ")
        });
        tables.push(TableReader { sheet: Some(sheet), title, headers, blocks: Blocks::Xlsx { range: Arc::new(range), next, first_row, first_col, lines } });
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
        let e = decode(&gbk, Encoding::Utf8, path(), 1, Some(0)).unwrap_err().to_string();
        assert!(e.contains("not valid UTF-8 at line 1") && e.contains("encoding = \"gbk\""), "{e}");
        let utf8 = "供电所,用户数\n".as_bytes();
        let e = decode(utf8, Encoding::Gbk, path(), 1, Some(0)).unwrap_err().to_string();
        assert!(e.contains("set encoding = \"utf-8\""), "{e}");
        assert_eq!(decode(&gbk, Encoding::Gbk, path(), 1, Some(0)).unwrap(), "供电所,用户数\n");
        assert_eq!(decode(&gbk, Encoding::Auto, path(), 1, Some(0)).unwrap(), "供电所,用户数\n");
        // A bad byte deep in a file is reported at its line.
        let mut later = b"a,b\nc,d\n".to_vec();
        later.extend_from_slice(&gbk);
        let e = decode(&later, Encoding::Utf8, path(), 40, None).unwrap_err().to_string();
        assert!(e.contains("at line 42 (byte 1 of the line)"), "{e}");
    }

    fn records(text: &str, first_line: u64) -> (Vec<(u64, Vec<String>)>, u64) {
        let mut out = Vec::new();
        let (tally, _) = csv_records(text, first_line, 2, |line, record| {
            let Record::Cells(cells, _) = record else { panic!("malformed at line {line}: {record:?}") };
            out.push((line, cells.iter().map(Cell::text).collect()));
            Ok(())
        })
        .unwrap();
        (out, tally.blank_lines)
    }

    /// What a whole CSV input reads as: each record's line and cells (or why it is malformed),
    /// the table's line accounting, and the lines of records and blank lines.
    pub(crate) type ReadAll = (Vec<(u64, Result<Vec<String>, String>)>, TableLines, Tally, usize);

    /// Reads `bytes` as a CSV file with blocks of about `block_bytes`.
    pub(crate) fn read_all(bytes: &[u8], header_row: usize, block_bytes: usize) -> Result<ReadAll, IngestError> {
        let source = Box::new(std::io::Cursor::new(bytes.to_vec()));
        let mut r = CsvBlocks::from_reader(source, path(), Encoding::Utf8, header_row, block_bytes, HashBy::Sha256)?;
        let (mut seen, mut total, mut blocks) = (Vec::new(), Tally::default(), 0);
        while let Some(block) = r.next_block()? {
            blocks += 1;
            let tally = for_each_record(&block, |line, record| {
                seen.push(match record {
                    Record::Cells(cells, _) => (line, Ok(cells.iter().map(Cell::text).collect())),
                    Record::Malformed { text, fault, at_end } => (line, Err(format!("{fault:?} {at_end} {text}"))),
                });
                Ok(())
            })?;
            total.records += tally.records;
            total.record_lines += tally.record_lines;
            total.blank_lines += tally.blank_lines;
        }
        let table = TableReader { sheet: None, title: None, headers: r.headers.clone(), blocks: Blocks::Csv(r) };
        Ok((seen, table.lines(), total, blocks))
    }

    /// Title, header, blank and record lines add up to the physical lines.
    pub(crate) fn accounted(lines: &TableLines, tally: &Tally) -> u64 {
        lines.title + lines.header + lines.blank + tally.blank_lines + tally.record_lines
    }

    #[test]
    fn cr_only_and_mixed_line_endings_read_every_record() {
        let (rows, lines, tally, _) = read_all(b"a,b\r1,x\r2,y\r\n3,z\n\r4,w", 0, 1 << 20).unwrap();
        let lines_of: Vec<u64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(lines_of, [2, 3, 4, 6]);
        assert_eq!(rows[3].1, Ok(vec!["4".to_string(), "w".to_string()]));
        assert_eq!(lines.physical, Some(6));
        assert_eq!(accounted(&lines, &tally), 6);
    }

    #[test]
    fn a_stray_quote_is_one_malformed_line_and_blocks_stay_small() {
        let mut text = String::from("id,when,what\n1,2020-10-01,x\n2,\"2020-10-02,y\n");
        for i in 3..2000 {
            text.push_str(&format!("{i},2020-10-03,z\n"));
        }
        let (rows, lines, tally, blocks) = read_all(text.as_bytes(), 0, 4096).unwrap();
        assert!(blocks > 5, "{blocks} blocks");
        assert_eq!(rows.len(), 1999);
        assert_eq!(rows[1].0, 3);
        let why = rows[1].1.clone().unwrap_err();
        assert!(why.starts_with("UnclosedQuote { field: 2 } false 2,\"2020-10-02,y"), "{why}");
        assert!(rows.iter().enumerate().all(|(i, r)| r.0 == i as u64 + 2 && (i == 1 || r.1.is_ok())));
        assert_eq!((lines.physical, accounted(&lines, &tally)), (Some(2000), 2000));
    }

    #[test]
    fn rows_of_the_wrong_width_and_a_cut_off_end_are_malformed() {
        let (rows, lines, tally, _) = read_all(b"a,b,c\n1,2,3\n1,2\n1,2,3,4\n,,\n1,\"2", 0, 1 << 20).unwrap();
        let why: Vec<String> = rows.iter().map(|r| r.1.clone().err().unwrap_or_default()).collect();
        assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), [2, 3, 4, 6]);
        assert!(why[1].starts_with("FieldCount { found: 2, expected: 3 }"), "{}", why[1]);
        assert!(why[2].starts_with("FieldCount { found: 4, expected: 3 }"), "{}", why[2]);
        assert!(why[3].starts_with("UnclosedQuote { field: 2 } true"), "{}", why[3]);
        assert_eq!((tally.blank_lines, lines.physical, accounted(&lines, &tally)), (1, Some(6), 6));
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

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn headers_below_title_lines_and_missing_header_lines() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "t.csv", "标题\n序号,名称\n1,a\n".as_bytes());
        let mut r = CsvBlocks::open(&f, Encoding::Utf8, 1, HashBy::Sha256).unwrap();
        assert_eq!(r.headers, ["序号", "名称"]);
        let block = r.next_block().unwrap().unwrap();
        assert_eq!(block.first_line, 3);
        assert!(r.next_block().unwrap().is_none());
        let e = CsvBlocks::open(&write(dir.path(), "s.csv", b"a,b\n"), Encoding::Utf8, 3, HashBy::Sha256).err().unwrap().to_string();
        assert!(e.contains("header is expected on line 4"), "{e}");
        let e = CsvBlocks::open(&write(dir.path(), "b.csv", b"title\n\na,b\n"), Encoding::Utf8, 1, HashBy::Sha256).err().unwrap().to_string();
        assert!(e.contains("line 2 is blank"), "{e}");
        let e = CsvBlocks::open(&write(dir.path(), "e.csv", b""), Encoding::Utf8, 0, HashBy::Sha256).err().unwrap().to_string();
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
        // Each way of hashing reads the same records; the hash is of the whole file, BOM included.
        for by in [HashBy::Sha256, HashBy::Xxh3, HashBy::Nothing] {
            let mut r = CsvBlocks::open(&f, Encoding::Utf8Bom, 0, by).unwrap();
            let (mut seen, mut blocks) = (Vec::new(), 0);
            while let Some(block) = r.next_block().unwrap() {
                blocks += 1;
                for_each_record(&block, |line, record| {
                    let Record::Cells(cells, _) = record else { panic!("line {line}") };
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
            // sha2's portable implementation, not the one the reader uses.
            let expected: String = <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
            let mut reader = FileReader { tables: vec![TableReader { sheet: None, title: None, headers: vec![], blocks: Blocks::Csv(r) }], whole_file: None };
            let expected = match by {
                HashBy::Sha256 => Some((FileHash::Sha256(expected), text.len() as u64)),
                HashBy::Xxh3 => Some((FileHash::Xxh3(xxhash_rust::xxh3::xxh3_64(text.as_bytes())), text.len() as u64)),
                HashBy::Nothing => None,
            };
            assert_eq!(reader.fingerprint(), expected, "{by:?}");
        }
    }
}

/// Property tests of the block cutter: for any CSV-ish bytes (quotes, commas, CR, LF, CRLF,
/// blank lines, multi-byte text), cutting into blocks of any size gives exactly the records and
/// line numbers of reading the input whole, and every physical line is accounted for.
/// `PROPTEST_CASES` overrides the number of cases.
#[cfg(test)]
mod properties {
    use super::tests::{accounted, read_all};
    use super::*;
    use proptest::prelude::*;

    use crate::base::proptest_config as config;

    /// Bytes made of the pieces that matter to records.
    fn csvish() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            4 => Just(b"a".to_vec()),
            3 => Just(b",".to_vec()),
            2 => Just(b"\"".to_vec()),
            2 => Just(b"\n".to_vec()),
            1 => Just(b"\r".to_vec()),
            1 => Just(b"\r\n".to_vec()),
            1 => Just(b" ".to_vec()),
            1 => Just("供电所".as_bytes().to_vec()),
            1 => Just(b"\"\"".to_vec()),
        ];
        proptest::collection::vec(piece, 0..120).prop_map(|v| v.concat())
    }

    /// Physical lines counted the plain way: every LF, every CR not followed by LF, and a last
    /// line without an ending.
    fn naive_lines(bytes: &[u8]) -> u64 {
        let endings = (0..bytes.len()).filter(|&i| bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n'))).count() as u64;
        endings + u64::from(bytes.last().is_some_and(|b| *b != b'\n' && *b != b'\r'))
    }

    proptest! {
        #![proptest_config(config(256))]

        /// Text without quotes and CRs takes the one-search path: the same records, faults,
        /// lines and tallies as the general, record-by-record path.
        #[test]
        fn quote_free_text_reads_the_same_on_both_paths(body in proptest::collection::vec(prop_oneof![4 => Just("a"), 3 => Just(","), 2 => Just("\n"), 1 => Just(" "), 1 => Just("供电所"), 1 => Just("\u{3000}")], 0..120), fields in 1usize..5) {
            let text = body.concat();
            let run = |plain: bool| {
                let mut seen: Vec<(u64, Result<Vec<String>, (String, String, bool)>)> = Vec::new();
                let each = |line: u64, record: Record| -> Result<(), IngestError> {
                    seen.push((line, match record {
                        Record::Cells(cells, _) => Ok(cells.iter().map(|c| format!("{c:?}")).collect()),
                        Record::Malformed { text, fault, at_end } => Err((text.to_string(), format!("{fault:?}"), at_end)),
                    }));
                    Ok(())
                };
                let result = if plain { plain_csv_records(&text, 7, fields, each) } else { any_csv_records(&text, 7, fields, each) };
                (result.map_err(|e| e.to_string()), seen)
            };
            prop_assert_eq!(run(true), run(false));
        }

        #[test]
        fn any_block_size_reads_the_same_records_and_lines(header in prop_oneof![Just(b"h1,h2,h3\n".to_vec()), Just(b"title\r\nh1,\"h\n2\",h3\r".to_vec()), csvish()], body in csvish(), header_row in 0usize..2, block in 1usize..48) {
            let mut bytes = header;
            bytes.extend_from_slice(&body);
            let whole = read_all(&bytes, header_row, 1 << 20);
            let cut = read_all(&bytes, header_row, block);
            match (&whole, &cut) {
                (Ok((records, lines, tally, _)), Ok((cut_records, cut_lines, cut_tally, _))) => {
                    prop_assert_eq!(records, cut_records);
                    prop_assert_eq!(lines, cut_lines);
                    prop_assert_eq!(tally, cut_tally);
                    prop_assert_eq!(lines.physical, Some(naive_lines(&bytes)));
                    prop_assert_eq!(accounted(lines, tally), naive_lines(&bytes));
                    // Records are numbered in order, after the title and header lines.
                    let first = lines.title + lines.header + 1;
                    prop_assert!(records.windows(2).all(|w| w[0].0 < w[1].0));
                    prop_assert!(records.first().is_none_or(|r| r.0 >= first));
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                _ => prop_assert!(false, "whole: {:?}\ncut: {:?}", whole, cut),
            }
        }

        #[test]
        fn the_splitter_never_panics_and_agrees_with_the_field_split(bytes in prop_oneof![csvish(), any::<Vec<u8>>()], expected in 1usize..5, at_eof in any::<bool>()) {
            let mut pos = 0;
            let mut fields = Vec::new();
            while pos < bytes.len() {
                match records::next_record(&bytes[pos..], Some(expected), at_eof) {
                    records::Next::Record(span) => {
                        prop_assert!(span.end > 0 && pos + span.end <= bytes.len() && span.content_end <= span.end && span.lines >= 1);
                        if let Ok(text) = std::str::from_utf8(&bytes[pos..pos + span.content_end]) {
                            if !matches!(span.fault, Some(records::Fault::UnclosedQuote { .. })) {
                                records::split_fields(text, &mut fields);
                                prop_assert_eq!(fields.len(), span.fields);
                            }
                        }
                        pos += span.end;
                    }
                    records::Next::NeedMore => {
                        prop_assert!(!at_eof);
                        break;
                    }
                    records::Next::End => prop_assert!(false, "End before the end"),
                }
            }
        }
    }
}
