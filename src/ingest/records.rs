//! CSV records and physical lines: where each record of CSV bytes begins and ends, how many
//! physical lines it spans, and whether it is whole. One splitter serves the block cutter (on
//! raw bytes, before decoding) and the parser (on the decoded text of a block), so both always
//! agree on record boundaries; and every physical line is either part of exactly one record or
//! counted as a title or header line.
//!
//! Line endings: LF, CRLF and a lone CR (old Excel and Mac exports) each end one physical line,
//! also mixed in one file. A last line without a line ending is a line too.
//!
//! Quotes: a field is quoted when it starts with `"`; inside it `""` is a quote and a line
//! ending is part of the value; a `"` elsewhere in a field is an ordinary character (RFC 4180,
//! as the csv crate reads it). A quote that is still open at the end of a line is where one
//! stray `"` could swallow the rest of a file, so the rule is:
//!
//! - the record continues onto the following lines only if the quote closes, and the record
//!   ends, within [`MAX_RECORD_LINES`] physical lines, and the record then has exactly the
//!   header's number of fields;
//! - otherwise the record ends at the end of its first line and is malformed
//!   ([`Fault::UnclosedQuote`]): it goes to quarantine with that line, and the next line is
//!   read as the start of a new record.
//!
//! A record whose number of fields differs from the header's is malformed too
//! ([`Fault::FieldCount`]). The decision for a record depends only on its own bytes and at most
//! [`MAX_RECORD_LINES`] lines after its start, never on where a block was cut.

/// Most physical lines one record may span (a quoted value with line breaks).
pub(crate) const MAX_RECORD_LINES: u32 = 100;

/// Why a record cannot be read as the header's fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Field `field` (from 1) opens a quote that does not close on the record's first line (nor
    /// within [`MAX_RECORD_LINES`] lines as a record of the header's width).
    UnclosedQuote { field: usize },
    /// The record has `found` fields where the header has `expected`.
    FieldCount { found: usize, expected: usize },
}

impl Fault {
    /// The quarantine reason, in Chinese and English; `headers` name the fields, `at_end` says
    /// the file ends inside the record.
    pub fn reason(&self, headers: &[String], at_end: bool) -> String {
        let (end_zh, end_en) = if at_end { ("文件在记录中途结束：", "the file ends inside this record: ") } else { ("", "") };
        match *self {
            Fault::UnclosedQuote { field } => {
                let header = headers.get(field.wrapping_sub(1)).map(|h| format!("（{h}）")).unwrap_or_default();
                let header_en = headers.get(field.wrapping_sub(1)).map(|h| format!(" ({h})")).unwrap_or_default();
                format!(
                    "{end_zh}第 {field} 个字段{header}以引号开始，引号在本行没有闭合（跨行的引号值须在 {MAX_RECORD_LINES} 行内闭合，且整条记录的字段数与表头相同）\
                     · {end_en}field {field}{header_en} opens a quote that does not close on this line (a quoted value may span lines only if it \
                     closes within {MAX_RECORD_LINES} lines and the record then has the header's {} fields)",
                    headers.len()
                )
            }
            Fault::FieldCount { found, expected } => {
                format!("{end_zh}本行有 {found} 个字段，表头有 {expected} 个 · {end_en}{found} fields, but the header has {expected}")
            }
        }
    }
}

/// One record found at the start of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    /// End of the record's content (before its line ending).
    pub content_end: usize,
    /// End of the record including its line ending.
    pub end: usize,
    /// Physical lines the record spans (at least 1).
    pub lines: u32,
    /// Number of fields (commas outside quotes + 1).
    pub fields: usize,
    /// Whether the record ends with a line ending (false only for an unterminated last line).
    pub terminated: bool,
    pub fault: Option<Fault>,
}

/// What is at the start of some bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    Record(Span),
    /// The record may continue past the bytes given: more are needed to decide.
    NeedMore,
    /// No bytes left (at the end of the input).
    End,
}

/// Length of the line ending at `bytes[i]` (2 for CRLF, 1 for LF or a lone CR, 0 for none).
/// A CR at the very end is a lone CR only when `at_eof`; otherwise `None` (need more bytes).
#[inline]
fn terminator_at(bytes: &[u8], i: usize, at_eof: bool) -> Option<usize> {
    match bytes[i] {
        b'\n' => Some(1),
        b'\r' => match bytes.get(i + 1) {
            Some(b'\n') => Some(2),
            Some(_) => Some(1),
            None if at_eof => Some(1),
            None => None,
        },
        _ => Some(0),
    }
}

/// End (after its line ending) of the first physical line of `bytes`, ignoring quotes (title
/// lines); None if no line ending is there yet (or only a CR that the next byte may extend).
pub(crate) fn line_end(bytes: &[u8], at_eof: bool) -> Option<usize> {
    let i = bytes.iter().position(|b| *b == b'\n' || *b == b'\r')?;
    terminator_at(bytes, i, at_eof).map(|t| i + t)
}

/// Line endings in `bytes` (CRLF, LF and a lone CR each count once), for naming the line of an
/// offset.
pub fn endings(bytes: &[u8]) -> u64 {
    let mut counter = LineCounter::default();
    counter.update(bytes);
    counter.endings()
}

/// Physical lines in `bytes` when they are a whole input: line endings (CRLF, LF and a lone CR
/// each count once) plus a last line without one.
#[cfg(test)]
pub fn physical_lines(bytes: &[u8]) -> u64 {
    let mut counter = LineCounter::default();
    counter.update(bytes);
    counter.finish()
}

/// Counts physical lines of bytes arriving in chunks (a CRLF may be split between two).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LineCounter {
    endings: u64,
    last: Option<u8>,
}

impl LineCounter {
    pub fn update(&mut self, chunk: &[u8]) {
        let Some(&last) = chunk.last() else { return };
        if memchr::memchr(b'\r', chunk).is_none() {
            // Only LF endings: count them with a SIMD search; an LF right after a CR that ended
            // the previous chunk completes that CRLF.
            let lf = memchr::memchr_iter(b'\n', chunk).count() as u64;
            self.endings += lf - u64::from(chunk[0] == b'\n' && self.last == Some(b'\r'));
            self.last = Some(last);
            return;
        }
        let mut previous = self.last;
        for &b in chunk {
            match b {
                b'\r' => self.endings += 1,
                b'\n' if previous != Some(b'\r') => self.endings += 1,
                _ => {}
            }
            previous = Some(b);
        }
        if !chunk.is_empty() {
            self.last = previous;
        }
    }

    /// Line endings seen so far.
    pub fn endings(&self) -> u64 {
        self.endings
    }

    /// Physical lines of everything seen, as a whole input.
    pub fn finish(&self) -> u64 {
        self.endings + u64::from(self.last.is_some_and(|b| b != b'\n' && b != b'\r'))
    }
}

/// Calls `each` with the offset of every comma and line feed in `bytes`, in order, until it
/// returns an error. This is how a block without quotes or carriage returns is cut into fields
/// and records: one pass that finds the separators of 64 bytes at a time as a bit mask (SSE2,
/// part of every x86-64 CPU; elsewhere byte by byte) and hands them out lowest bit first,
/// instead of a search that starts afresh after each separator a few bytes on.
#[inline]
pub(crate) fn each_separator<E>(bytes: &[u8], mut each: impl FnMut(usize) -> Result<(), E>) -> Result<(), E> {
    let whole = bytes.len() / 64 * 64;
    let mut base = 0;
    while base < whole {
        let mut mask = separator_mask(&bytes[base..base + 64]);
        while mask != 0 {
            each(base + mask.trailing_zeros() as usize)?;
            mask &= mask - 1;
        }
        base += 64;
    }
    for at in memchr::memchr2_iter(b',', b'\n', &bytes[whole..]) {
        each(whole + at)?;
    }
    Ok(())
}

/// Bit i is set when byte i of `chunk` (64 bytes) is a comma or a line feed.
#[inline]
fn separator_mask(chunk: &[u8]) -> u64 {
    assert_eq!(chunk.len(), 64);
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8};
        let mut mask = 0u64;
        for k in 0..4 {
            // SAFETY: SSE2 is part of x86-64, and the 16 bytes read lie inside `chunk`, whose
            // length was checked above; the load has no alignment requirement.
            let bits = unsafe {
                let v = _mm_loadu_si128(chunk.as_ptr().add(16 * k).cast::<__m128i>());
                let hits = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(b',' as i8)), _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)));
                _mm_movemask_epi8(hits) as u16
            };
            mask |= u64::from(bits) << (16 * k);
        }
        mask
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        chunk.iter().enumerate().fold(0u64, |mask, (i, &b)| mask | (u64::from(b == b',' || b == b'\n') << i))
    }
}

/// How a scan of one record ended.
enum Scan {
    Complete {
        content_end: usize,
        end: usize,
        lines: u32,
        fields: usize,
        terminated: bool,
    },
    /// A line ended inside quotes (single-line scan): the record's first line ends at `end`.
    OpenAtLineEnd {
        content_end: usize,
        end: usize,
        fields: usize,
        field: usize,
        terminated: bool,
    },
    NeedMore,
    /// More than `max_lines` lines, or the input ended inside quotes.
    Unclosed,
}

/// Scans one record; `follow` lets a quoted value continue over line endings (up to `max_lines`).
fn scan(bytes: &[u8], at_eof: bool, follow: bool, max_lines: u32) -> Scan {
    // Most records hold no quote: when the first quote or line ending is a line ending, the
    // record is that line, found and its commas counted with SIMD searches instead of a walk.
    if let Some(i) = memchr::memchr3(b'"', b'\n', b'\r', bytes) {
        if bytes[i] != b'"' {
            let Some(t) = terminator_at(bytes, i, at_eof) else { return Scan::NeedMore };
            let fields = 1 + memchr::memchr_iter(b',', &bytes[..i]).count();
            return Scan::Complete { content_end: i, end: i + t, lines: 1, fields, terminated: true };
        }
    }
    let n = bytes.len();
    let (mut i, mut lines, mut fields) = (0usize, 0u32, 1usize);
    let (mut field_start, mut quoted, mut open_field) = (true, false, 0usize);
    while i < n {
        let b = bytes[i];
        if quoted {
            match b {
                b'"' => {
                    if i + 1 == n && !at_eof {
                        return Scan::NeedMore; // "" or a closing quote: the next byte decides
                    }
                    if bytes.get(i + 1) == Some(&b'"') {
                        i += 2;
                    } else {
                        quoted = false;
                        i += 1;
                    }
                }
                b'\r' | b'\n' => {
                    let Some(t) = terminator_at(bytes, i, at_eof) else { return Scan::NeedMore };
                    if !follow {
                        return Scan::OpenAtLineEnd { content_end: i, end: i + t, fields, field: open_field, terminated: true };
                    }
                    lines += 1;
                    if lines >= max_lines {
                        return Scan::Unclosed;
                    }
                    i += t;
                }
                _ => i += 1,
            }
            continue;
        }
        match b {
            b',' => {
                fields += 1;
                field_start = true;
            }
            b'"' if field_start => {
                quoted = true;
                open_field = fields;
                field_start = false;
            }
            b'\r' | b'\n' => {
                let Some(t) = terminator_at(bytes, i, at_eof) else { return Scan::NeedMore };
                return Scan::Complete { content_end: i, end: i + t, lines: lines + 1, fields, terminated: true };
            }
            _ => field_start = false,
        }
        i += 1;
    }
    if !at_eof {
        return Scan::NeedMore;
    }
    if quoted {
        if follow {
            return Scan::Unclosed;
        }
        return Scan::OpenAtLineEnd { content_end: n, end: n, fields, field: open_field, terminated: false };
    }
    Scan::Complete { content_end: n, end: n, lines: lines + 1, fields, terminated: false }
}

/// The first record of `bytes` (which start at a record boundary). `expected_fields` is the
/// header's width (None while reading the header itself); `at_eof` says the bytes end the input.
pub(crate) fn next_record(bytes: &[u8], expected_fields: Option<usize>, at_eof: bool) -> Next {
    if bytes.is_empty() {
        return if at_eof { Next::End } else { Next::NeedMore };
    }
    let fault_for = |fields: usize| match expected_fields {
        Some(expected) if fields != expected => Some(Fault::FieldCount { found: fields, expected }),
        _ => None,
    };
    match scan(bytes, at_eof, false, MAX_RECORD_LINES) {
        Scan::NeedMore => Next::NeedMore,
        Scan::Unclosed => unreachable!("a single-line scan never follows quotes"),
        Scan::Complete { content_end, end, lines, fields, terminated } => {
            Next::Record(Span { content_end, end, lines, fields, terminated, fault: fault_for(fields) })
        }
        Scan::OpenAtLineEnd { content_end, end, fields, field, terminated } => {
            let single = Span { content_end, end, lines: 1, fields, terminated, fault: Some(Fault::UnclosedQuote { field }) };
            if !terminated {
                return Next::Record(single);
            }
            match scan(bytes, at_eof, true, MAX_RECORD_LINES) {
                Scan::NeedMore => Next::NeedMore,
                Scan::Complete { content_end, end, lines, fields, terminated } if fault_for(fields).is_none() => {
                    Next::Record(Span { content_end, end, lines, fields, terminated, fault: None })
                }
                _ => Next::Record(single),
            }
        }
    }
}

/// Splits a record's content (without its line ending) into its fields, unquoting quoted ones.
/// Fields without escaped quotes borrow from `record`.
pub(crate) fn split_fields<'a>(record: &'a str, out: &mut Vec<std::borrow::Cow<'a, str>>) {
    use std::borrow::Cow;
    out.clear();
    let bytes = record.as_bytes();
    if memchr::memchr(b'"', bytes).is_none() {
        out.extend(record.split(',').map(Cow::Borrowed));
        return;
    }
    let mut i = 0;
    loop {
        // One field from i.
        if bytes.get(i) == Some(&b'"') {
            let start = i + 1;
            let mut j = start;
            let mut owned: Option<String> = None;
            let mut closed_at = None;
            while j < bytes.len() {
                if bytes[j] == b'"' {
                    if bytes.get(j + 1) == Some(&b'"') {
                        owned.get_or_insert_with(String::new).push_str(&record[start..j + 1]);
                        // Keep going after the escaped quote; earlier text is already copied.
                        let rest_start = j + 2;
                        let (text, end) = quoted_rest(record, rest_start);
                        owned.as_mut().unwrap().push_str(&text);
                        closed_at = end;
                        break;
                    }
                    closed_at = Some(j);
                    break;
                }
                j += 1;
            }
            let (mut value, after) = match (owned, closed_at) {
                (Some(s), Some(end)) => (Cow::Owned(s), end + 1),
                (Some(s), None) => (Cow::Owned(s), bytes.len()),
                (None, Some(end)) => (Cow::Borrowed(&record[start..end]), end + 1),
                (None, None) => (Cow::Borrowed(&record[start..]), bytes.len()),
            };
            // Text after the closing quote up to the next comma belongs to the field as written.
            let next_comma = bytes[after.min(bytes.len())..].iter().position(|b| *b == b',').map(|p| p + after);
            let tail_end = next_comma.unwrap_or(bytes.len());
            if after < tail_end {
                value.to_mut().push_str(&record[after..tail_end]);
            }
            out.push(value);
            match next_comma {
                Some(c) => i = c + 1,
                None => return,
            }
        } else {
            match bytes[i.min(bytes.len())..].iter().position(|b| *b == b',') {
                Some(p) => {
                    out.push(Cow::Borrowed(&record[i..i + p]));
                    i += p + 1;
                }
                None => {
                    out.push(Cow::Borrowed(&record[i.min(bytes.len())..]));
                    return;
                }
            }
        }
    }
}

/// The rest of a quoted value from `start` (after an escaped quote), unescaped, and the index
/// of its closing quote if it has one.
fn quoted_rest(record: &str, start: usize) -> (String, Option<usize>) {
    let bytes = record.as_bytes();
    let mut text = String::new();
    let mut from = start;
    let mut j = start;
    while j < bytes.len() {
        if bytes[j] == b'"' {
            if bytes.get(j + 1) == Some(&b'"') {
                text.push_str(&record[from..j + 1]);
                j += 2;
                from = j;
                continue;
            }
            text.push_str(&record[from..j]);
            return (text, Some(j));
        }
        j += 1;
    }
    text.push_str(&record[from..]);
    (text, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(bytes: &[u8], expected: Option<usize>) -> Vec<(usize, u32, Option<Fault>)> {
        let mut out = Vec::new();
        let mut pos = 0;
        loop {
            match next_record(&bytes[pos..], expected, true) {
                Next::Record(s) => {
                    out.push((pos + s.end, s.lines, s.fault));
                    pos += s.end;
                }
                Next::End => return out,
                Next::NeedMore => panic!("need more at eof"),
            }
        }
    }

    #[test]
    fn line_endings_of_every_kind_end_one_line() {
        assert_eq!(physical_lines(b"a\nb\r\nc\rd"), 4);
        assert_eq!(physical_lines(b"a\r\n"), 1);
        assert_eq!(physical_lines(b"\r\r\n\n"), 3);
        assert_eq!(physical_lines(b""), 0);
        let mut c = LineCounter::default();
        c.update(b"a\r");
        c.update(b"\nb");
        assert_eq!(c.finish(), 2);
        assert_eq!(all(b"a,b\rc,d\r\ne,f\ng,h", Some(2)).iter().map(|r| r.0).collect::<Vec<_>>(), [4, 9, 13, 16]);
    }

    #[test]
    fn a_cr_at_the_end_of_the_bytes_waits_for_the_next_byte() {
        assert_eq!(next_record(b"a,b\r", Some(2), false), Next::NeedMore);
        assert!(matches!(next_record(b"a,b\r", Some(2), true), Next::Record(Span { end: 4, .. })));
    }

    #[test]
    fn quoted_line_breaks_stay_in_their_record() {
        let r = all(b"1,\"two\nlines\"\n2,x\n", Some(2));
        assert_eq!(r, [(14, 2, None), (18, 1, None)]);
    }

    #[test]
    fn a_stray_quote_costs_one_line_not_the_rest_of_the_file() {
        // Line 2 opens a quote that never closes: it is malformed alone; lines 3 and 4 are read.
        let text = b"1,a,b\n2,\"x,c\n3,d,e\n4,f,g\n";
        let r = all(text, Some(3));
        assert_eq!(r.len(), 4);
        assert_eq!(r[1], (13, 1, Some(Fault::UnclosedQuote { field: 2 })));
        assert_eq!((r[2].2, r[3].2), (None, None));
        // The quote closes two lines later, but the record would not have the header's width.
        let text = b"1,\"a,b\n2,c,d\n3,e\",f,g,h\n";
        let r = all(text, Some(3));
        assert_eq!(r.iter().map(|x| x.1).collect::<Vec<_>>(), [1, 1, 1]);
        assert_eq!(r[0].2, Some(Fault::UnclosedQuote { field: 2 }));
        // More lines than a record may span.
        let mut long = b"1,\"".to_vec();
        for _ in 0..MAX_RECORD_LINES {
            long.extend_from_slice(b"x\n");
        }
        long.extend_from_slice(b"\"\n");
        assert_eq!(all(&long, Some(2))[0], (4 + 1, 1, Some(Fault::UnclosedQuote { field: 2 })));
    }

    #[test]
    fn quotes_inside_a_field_are_text_and_widths_are_checked() {
        assert_eq!(all(b"a,b\"c,d\n", Some(3)), [(8, 1, None)]);
        assert_eq!(all(b"a,b\n", Some(3)), [(4, 1, Some(Fault::FieldCount { found: 2, expected: 3 }))]);
        // The file ends inside a quoted value.
        assert_eq!(all(b"a,\"b", Some(2)), [(4, 1, Some(Fault::UnclosedQuote { field: 2 }))]);
    }

    /// The separator scan finds what a byte-by-byte walk finds: every comma and line feed, in
    /// order, at every length around the 64-byte chunks and every byte value around them
    /// (non-ASCII, CR, the bytes next to ',' and '\n'), and stops at the first error.
    #[test]
    fn the_separator_scan_finds_every_comma_and_line_feed() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = [b',', b'\n', b'\r', b'a', b'"', b'+', b'-', b'\t', b'\x0b', 0xE4, 0x80, 0xAC, 0x8A, 0x2C | 0x80, 0x0A | 0x80, 0];
        for len in (0..=260).chain([511, 512, 513, 4096 + 17]) {
            for round in 0..20 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| match round % 3 {
                        0 => alphabet[(next() % alphabet.len() as u64) as usize],
                        1 => next() as u8,
                        _ => [b',', b'\n'][(next() % 2) as usize],
                    })
                    .collect();
                let walk: Vec<usize> = (0..len).filter(|&i| bytes[i] == b',' || bytes[i] == b'\n').collect();
                let mut found = Vec::new();
                each_separator(&bytes, |at| {
                    found.push(at);
                    Ok::<(), ()>(())
                })
                .unwrap();
                assert_eq!(found, walk, "length {len}, round {round}");
                // An error stops the scan at once.
                if let Some(&stop) = walk.get(walk.len() / 2) {
                    let mut seen = Vec::new();
                    let result = each_separator(&bytes, |at| {
                        seen.push(at);
                        if at == stop { Err(at) } else { Ok(()) }
                    });
                    assert_eq!(result, Err(stop));
                    assert_eq!(seen, walk[..=walk.len() / 2]);
                }
            }
        }
    }

    #[test]
    fn fields_are_unquoted() {
        let mut out = Vec::new();
        split_fields("1,\"a,b\",\"say \"\"hi\"\"\",,\"x\"y,\"two\nlines\"", &mut out);
        assert_eq!(out, ["1", "a,b", "say \"hi\"", "", "xy", "two\nlines"]);
        split_fields("", &mut out);
        assert_eq!(out, [""]);
        split_fields("a,", &mut out);
        assert_eq!(out, ["a", ""]);
        split_fields("\"a\"\"", &mut out);
        assert_eq!(out, ["a\""]);
    }
}
