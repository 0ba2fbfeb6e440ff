//! Writing export files the way source systems do: CSV in UTF-8, UTF-8 with BOM, GBK or GB18030, with
//! Windows or Unix line ends, quoting only where a field needs it, and numbers written as
//! people format them ("1,234,567.89", "98.50%").

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// Character encoding of a generated text export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextEncoding {
    Utf8,
    Utf8Bom,
    Gbk,
    Gb18030,
}

impl TextEncoding {
    /// The name the pipeline file and the sample manifest use.
    pub fn name(self) -> &'static str {
        match self {
            TextEncoding::Utf8 => "utf-8",
            TextEncoding::Utf8Bom => "utf-8-bom",
            TextEncoding::Gbk => "gbk",
            TextEncoding::Gb18030 => "gb18030",
        }
    }
}

/// A CSV export being written row by row (streaming: nothing is held but the current line).
pub(crate) struct CsvFile {
    out: BufWriter<File>,
    encoding: TextEncoding,
    newline: &'static str,
    line: String,
}

impl CsvFile {
    pub fn create(path: &Path, encoding: TextEncoding, crlf: bool) -> io::Result<CsvFile> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
        if encoding == TextEncoding::Utf8Bom {
            out.write_all(b"\xEF\xBB\xBF")?;
        }
        Ok(CsvFile { out, encoding, newline: if crlf { "\r\n" } else { "\n" }, line: String::new() })
    }

    /// Writes one record, quoting fields that contain a comma, a quote or a line break.
    pub fn row<S: AsRef<str>>(&mut self, fields: &[S]) -> io::Result<()> {
        self.line.clear();
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(',');
            }
            let field = field.as_ref();
            if field.contains([',', '"', '\n', '\r']) {
                self.line.push('"');
                self.line.push_str(&field.replace('"', "\"\""));
                self.line.push('"');
            } else {
                self.line.push_str(field);
            }
        }
        let line = std::mem::take(&mut self.line);
        let result = self.raw_line(&line);
        self.line = line;
        result
    }

    /// Writes a line as it is (title rows, blank lines).
    pub(crate) fn raw_line(&mut self, line: &str) -> io::Result<()> {
        match self.encoding {
            TextEncoding::Utf8 | TextEncoding::Utf8Bom => self.out.write_all(line.as_bytes())?,
            TextEncoding::Gbk | TextEncoding::Gb18030 => {
                let encoding = if self.encoding == TextEncoding::Gbk { encoding_rs::GBK } else { encoding_rs::GB18030 };
                let (bytes, _, unmappable) = encoding.encode(line);
                if unmappable {
                    return Err(io::Error::new(io::ErrorKind::InvalidData, format!("not encodable in {}: {line}", encoding.name())));
                }
                self.out.write_all(&bytes)?;
            }
        }
        self.out.write_all(self.newline.as_bytes())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Fixed decimals with thousands separators: 1234567.891 → "1,234,567.89".
pub fn thousands(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (int_part, frac_part) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let mut grouped = String::with_capacity(text.len() + text.len() / 3 + 1);
    if value < 0.0 && value.abs() >= 0.5 * 10f64.powi(-(decimals as i32)) {
        grouped.push('-');
    }
    for (i, c) in int_part.chars().enumerate() {
        if i > 0 && (int_part.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    if let Some(frac) = frac_part {
        grouped.push('.');
        grouped.push_str(frac);
    }
    grouped
}

/// A share as a percent string: 0.98501 → "98.50%".
pub fn percent(share: f64, decimals: usize) -> String {
    format!("{:.*}%", decimals, share * 100.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_groups_digits() {
        assert_eq!(thousands(1234567.891, 2), "1,234,567.89");
        assert_eq!(thousands(999.0, 2), "999.00");
        assert_eq!(thousands(1000.0, 0), "1,000");
        assert_eq!(thousands(-12345.5, 1), "-12,345.5");
        assert_eq!(thousands(0.0, 2), "0.00");
    }

    #[test]
    fn percent_formats_shares() {
        assert_eq!(percent(0.98501, 2), "98.50%");
        assert_eq!(percent(1.0, 1), "100.0%");
    }

    #[test]
    fn gbk_rows_round_trip_and_fields_are_quoted() {
        let dir = std::env::temp_dir().join(format!("duibiao-textfile-{}", std::process::id()));
        let path = dir.join("a.csv");
        let mut f = CsvFile::create(&path, TextEncoding::Gbk, true).unwrap();
        f.row(&["托克扎克供电所", "1,234.50", "say \"hi\""]).unwrap();
        f.finish().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
        assert!(!bad);
        assert_eq!(text, "托克扎克供电所,\"1,234.50\",\"say \"\"hi\"\"\"\r\n");
        std::fs::remove_dir_all(dir).unwrap();
    }
}
