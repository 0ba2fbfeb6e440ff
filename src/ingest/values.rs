//! Typed column values built up during ingest, and their conversion to Arrow arrays (for the
//! Parquet sink) and polars Series (for SQL row checks).

use std::sync::Arc;

use arrow::array::{ArrayRef, Date32Array, Float64Array, Int64Array, StringArray, TimestampMicrosecondArray};
use arrow::buffer::{Buffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use polars::prelude::{DataType, NamedFrom, Series, TimeUnit};

use crate::spec::plan::ColumnType;

/// One typed column.
#[derive(Debug, Clone)]
pub enum Values {
    Text(TextValues),
    Int(Vec<Option<i64>>),
    Float(Vec<Option<f64>>),
    /// Days since 1970-01-01.
    Date(Vec<Option<i32>>),
    /// Microseconds since the epoch, UTC.
    Timestamp(Vec<Option<i64>>),
}

impl Values {
    /// An empty column for values of `kind` (months and quarters are stored as their first day).
    pub(crate) fn for_type(kind: ColumnType) -> Values {
        match kind {
            ColumnType::Text => Values::Text(TextValues::default()),
            ColumnType::Integer => Values::Int(Vec::new()),
            ColumnType::Number => Values::Float(Vec::new()),
            ColumnType::Month | ColumnType::Quarter | ColumnType::Date => Values::Date(Vec::new()),
            ColumnType::Timestamp => Values::Timestamp(Vec::new()),
        }
    }

    /// An empty column for `rows` values of `kind`, text values taking `text_bytes` together.
    pub(crate) fn with_capacity(kind: ColumnType, rows: usize, text_bytes: usize) -> Values {
        match kind {
            ColumnType::Text => {
                Values::Text(TextValues { text: String::with_capacity(text_bytes), ends: Vec::with_capacity(rows), valid: Vec::with_capacity(rows) })
            }
            ColumnType::Integer => Values::Int(Vec::with_capacity(rows)),
            ColumnType::Number => Values::Float(Vec::with_capacity(rows)),
            ColumnType::Month | ColumnType::Quarter | ColumnType::Date => Values::Date(Vec::with_capacity(rows)),
            ColumnType::Timestamp => Values::Timestamp(Vec::with_capacity(rows)),
        }
    }

    /// Keeps the rows whose `keep` flag is set, in place: the rows before the first one left
    /// out stay where they are, the others move up (no second buffer, no fresh pages).
    pub fn retain(&mut self, keep: &[bool]) {
        match self {
            Values::Text(v) => v.retain(keep),
            Values::Int(v) => retain_flagged(v, keep),
            Values::Float(v) => retain_flagged(v, keep),
            Values::Date(v) => retain_flagged(v, keep),
            Values::Timestamp(v) => retain_flagged(v, keep),
        }
    }

    /// The BI-safe Arrow array: plain UTF-8, Int64, Float64, DATE, TIMESTAMP(µs, UTC).
    pub(crate) fn to_arrow(&self) -> ArrayRef {
        match self {
            Values::Text(v) => Arc::new((0..v.len()).map(|i| v.get(i)).collect::<StringArray>()),
            Values::Int(v) => Arc::new(Int64Array::from(v.clone())),
            Values::Float(v) => Arc::new(Float64Array::from(v.clone())),
            Values::Date(v) => Arc::new(Date32Array::from(v.clone())),
            Values::Timestamp(v) => Arc::new(TimestampMicrosecondArray::from(v.clone()).with_timezone("UTC")),
        }
    }

    /// The BI-safe Arrow array of all the values; the text is moved, not copied.
    pub(crate) fn into_arrow(self) -> ArrayRef {
        match self {
            Values::Text(v) => v.into_arrow(),
            Values::Int(v) => Arc::new(Int64Array::from(v)),
            Values::Float(v) => Arc::new(Float64Array::from(v)),
            Values::Date(v) => Arc::new(Date32Array::from(v)),
            Values::Timestamp(v) => Arc::new(TimestampMicrosecondArray::from(v).with_timezone("UTC")),
        }
    }

    /// The BI-safe Arrow array of the rows at `rows`, in that order.
    pub(crate) fn take_arrow(&self, rows: &[usize]) -> ArrayRef {
        match self {
            Values::Text(v) => Arc::new(rows.iter().map(|&i| v.get(i)).collect::<StringArray>()),
            Values::Int(v) => Arc::new(rows.iter().map(|&i| v[i]).collect::<Int64Array>()),
            Values::Float(v) => Arc::new(rows.iter().map(|&i| v[i]).collect::<Float64Array>()),
            Values::Date(v) => Arc::new(rows.iter().map(|&i| v[i]).collect::<Date32Array>()),
            Values::Timestamp(v) => Arc::new(rows.iter().map(|&i| v[i]).collect::<TimestampMicrosecondArray>().with_timezone("UTC")),
        }
    }

    /// A polars Series for evaluating SQL checks.
    pub(crate) fn to_series(&self, name: &str) -> Series {
        let name = name.into();
        match self {
            Values::Text(v) => Series::new(name, (0..v.len()).map(|i| v.get(i)).collect::<Vec<_>>()),
            Values::Int(v) => Series::new(name, v),
            Values::Float(v) => Series::new(name, v),
            Values::Date(v) => Series::new(name, v).cast(&DataType::Date).expect("i32 casts to Date"),
            Values::Timestamp(v) => Series::new(name, v).cast(&DataType::Datetime(TimeUnit::Microseconds, None)).expect("i64 casts to Datetime"),
        }
    }
}

impl Values {
    /// Pushes a null.
    pub fn push_null(&mut self) {
        match self {
            Values::Text(v) => v.push(None),
            Values::Int(v) => v.push(None),
            Values::Float(v) => v.push(None),
            Values::Date(v) => v.push(None),
            Values::Timestamp(v) => v.push(None),
        }
    }

    /// Keeps the first `len` rows (takes back the values of a row that turned out rejected).
    pub fn truncate(&mut self, len: usize) {
        match self {
            Values::Text(v) => v.truncate(len),
            Values::Int(v) => v.truncate(len),
            Values::Float(v) => v.truncate(len),
            Values::Date(v) => v.truncate(len),
            Values::Timestamp(v) => v.truncate(len),
        }
    }
}

/// Text values of a column as Arrow holds them: one buffer of text and the end of each value in
/// it, so a row costs no allocation of its own.
#[derive(Debug, Clone, Default)]
pub(crate) struct TextValues {
    text: String,
    /// End of each value in `text`; a null (None in `valid`) ends where it starts.
    ends: Vec<usize>,
    valid: Vec<bool>,
}

impl TextValues {
    pub fn push(&mut self, value: Option<&str>) {
        self.text.push_str(value.unwrap_or_default());
        self.ends.push(self.text.len());
        self.valid.push(value.is_some());
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn get(&self, i: usize) -> Option<&str> {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.valid[i].then(|| &self.text[start..self.ends[i]])
    }

    pub fn truncate(&mut self, len: usize) {
        if len < self.len() {
            self.text.truncate(if len == 0 { 0 } else { self.ends[len - 1] });
            self.ends.truncate(len);
            self.valid.truncate(len);
        }
    }

    /// The values as a UTF-8 array over the same text buffer (copied only past i32 offsets,
    /// which a block of a few megabytes never reaches).
    fn into_arrow(self) -> ArrayRef {
        if i32::try_from(self.text.len()).is_err() {
            return Arc::new((0..self.len()).map(|i| self.get(i)).collect::<StringArray>());
        }
        let offsets: Vec<i32> = std::iter::once(0).chain(self.ends.iter().map(|&e| e as i32)).collect();
        let nulls = self.valid.iter().any(|v| !v).then(|| NullBuffer::from(self.valid));
        // SAFETY: `text` is a String, so valid UTF-8, and every end was taken right after a
        // whole `str` was pushed: the offsets start at 0, never fall, end at most at the text's
        // length and lie at character boundaries. (The checked constructor would validate the
        // UTF-8 of every block a second time.)
        Arc::new(unsafe { StringArray::new_unchecked(OffsetBuffer::new_unchecked(ScalarBuffer::from(offsets)), Buffer::from(self.text.into_bytes()), nulls) })
    }

    /// `Values::retain` for text: each kept value's bytes move up to the end of the kept ones.
    fn retain(&mut self, keep: &[bool]) {
        // A row past the end of `keep` is kept, as in `retain_flagged`.
        let kept_at = |i: usize| keep.get(i).copied().unwrap_or(true);
        let Some(first_out) = (0..self.len()).position(|i| !kept_at(i)) else { return };
        // SAFETY: whole values are moved, each a `str` that began and ended at character
        // boundaries, and the text is cut at the end of the last kept one: it stays UTF-8.
        let bytes = unsafe { self.text.as_mut_vec() };
        let mut end = if first_out == 0 { 0 } else { self.ends[first_out - 1] };
        let mut kept = first_out;
        for i in first_out..self.ends.len() {
            if !kept_at(i) {
                continue;
            }
            let start = self.ends[i - 1];
            bytes.copy_within(start..self.ends[i], end);
            end += self.ends[i] - start;
            self.ends[kept] = end;
            self.valid[kept] = self.valid[i];
            kept += 1;
        }
        bytes.truncate(end);
        self.ends.truncate(kept);
        self.valid.truncate(kept);
    }
}

/// Keeps the values whose `keep` flag is set, in order (`Vec::retain` moves nothing before the
/// first value left out).
pub(crate) fn retain_flagged<T>(values: &mut Vec<T>, keep: &[bool]) {
    let mut flags = keep.iter();
    values.retain(|_| flags.next().copied().unwrap_or(true));
}

#[cfg(test)]
mod tests {
    use arrow::array::Array;

    use super::*;

    #[test]
    fn text_moved_into_arrow_keeps_values_and_nulls() {
        let mut v = TextValues::default();
        for x in [Some("库夏吐加"), None, Some(""), Some("a,b"), None, Some("供电所")] {
            v.push(x);
        }
        v.truncate(5);
        let array = Values::Text(v).into_arrow();
        let array = array.as_any().downcast_ref::<StringArray>().unwrap();
        let got: Vec<Option<&str>> = array.iter().collect();
        assert_eq!(got, vec![Some("库夏吐加"), None, Some(""), Some("a,b"), None]);
        assert_eq!(array.null_count(), 2);
        // A column without nulls carries no null buffer.
        let mut w = TextValues::default();
        w.push(Some("x"));
        let array = Values::Text(w).into_arrow();
        assert!(array.nulls().is_none());
    }

    #[test]
    fn rows_left_out_in_place_keep_the_others_in_order() {
        let texts = [Some("库夏吐加"), None, Some(""), Some("a,b"), None, Some("供电所"), Some("x")];
        // Every pattern of seven flags (all kept, none kept, first or last left out, runs).
        for mask in 0u32..128 {
            let keep: Vec<bool> = (0..7).map(|i| mask & (1 << i) != 0).collect();
            let mut v = TextValues::default();
            texts.iter().for_each(|x| v.push(*x));
            v.retain(&keep);
            let want: Vec<Option<&str>> = texts.iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| *x).collect();
            let got: Vec<Option<&str>> = (0..v.len()).map(|i| v.get(i)).collect();
            assert_eq!(got, want, "mask {mask:07b}");
            // The text holds the kept values and nothing else.
            assert_eq!(v.text, want.iter().map(|x| x.unwrap_or_default()).collect::<String>(), "mask {mask:07b}");

            let mut numbers: Vec<Option<i64>> = vec![Some(1), None, Some(3), Some(4), None, Some(6), Some(7)];
            retain_flagged(&mut numbers, &keep);
            let want: Vec<Option<i64>> =
                [Some(1), None, Some(3), Some(4), None, Some(6), Some(7)].into_iter().zip(&keep).filter(|(_, k)| **k).map(|(x, _)| x).collect();
            assert_eq!(numbers, want, "mask {mask:07b}");
        }
        // The by-hand case: the second and the fourth left out.
        let mut v = TextValues::default();
        ["ab", "c", "de", "f"].into_iter().for_each(|x| v.push(Some(x)));
        v.retain(&[true, false, true, false]);
        assert_eq!((v.text.as_str(), v.ends.as_slice()), ("abde", [2, 4].as_slice()));
        // Flags shorter than the column: the rows past them are kept, in both kinds of column.
        v.retain(&[false]);
        assert_eq!((v.text.as_str(), v.ends.as_slice()), ("de", [2].as_slice()));
        let mut numbers = vec![1, 2, 3];
        retain_flagged(&mut numbers, &[false]);
        assert_eq!(numbers, vec![2, 3]);
    }
}
