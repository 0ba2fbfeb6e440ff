//! Group codes: one integer per distinct tuple of key values, so that a grouping on a station
//! number and text columns (a pre-aggregation per 台区) hashes one integer per row instead of
//! the row-encoded tuple, and never gathers the text for output keys it does not need.
//!
//! Codes are given in order of first appearance over the rows, in one pass over whole columns.
//! So rows that come in runs of one tuple (an export sorted by 台区) get non-decreasing codes,
//! and the code column is then flagged sorted: polars groups a sorted key by slices, without
//! a hash table.

use hashbrown::HashTable;
use polars::prelude::*;
use polars_arrow::array::{PrimitiveArray, Utf8ViewArray};
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

/// Whether a column of this type can be part of a coded key.
pub(crate) fn codable(t: &DataType) -> bool {
    matches!(t, DataType::String | DataType::Int32 | DataType::Int64 | DataType::Date)
}

/// The code column of the tuples of `keys` (of `codable` types), in the name `name`: equal
/// tuples get equal codes and different tuples different codes (a null is a value of its own).
/// The whole columns must be given: codes of two calls do not compare.
pub(crate) fn group_codes(keys: &[Column], name: &str) -> PolarsResult<Column> {
    let height = keys.first().map_or(0, Column::len);
    // Pieces of at least 64 Ki rows, one per thread.
    let pieces = rayon::current_num_threads().min(height / (1 << 16)).max(1);
    group_codes_in(keys, name, pieces)
}

/// `group_codes`, the rows coded in `pieces` ranges side by side, each with codes of its own,
/// then renumbered in order: a tuple new to piece k gets the next code in the order it first
/// appears there, so the codes are the same as one pass over all rows would give.
fn group_codes_in(keys: &[Column], name: &str, pieces: usize) -> PolarsResult<Column> {
    let height = keys.first().map_or(0, Column::len);
    let parts: Vec<KeyPart> = keys.iter().map(KeyPart::of).collect::<PolarsResult<_>>()?;
    if parts.iter().any(|p| p.len() != height) {
        return Err(PolarsError::ShapeMismatch("group code keys of different lengths".into()));
    }
    let pieces = pieces.clamp(1, height.max(1));
    let ranges: Vec<std::ops::Range<usize>> = (0..pieces).map(|k| height * k / pieces..height * (k + 1) / pieces).collect();
    let mut coded: Vec<(Vec<u32>, Interner)> = ranges.into_par_iter().map(|rows| local_codes(&parts, rows)).collect::<PolarsResult<_>>()?;
    let (mut codes, mut all) = coded.remove(0);
    for (local, interner) in coded {
        let global: Vec<u32> = interner.tuples.iter().map(|t| all.code(t.hash, interner.bytes(t))).collect::<PolarsResult<_>>()?;
        codes.extend(local.iter().map(|&c| global[c as usize]));
    }
    let sorted = codes.windows(2).all(|w| w[0] <= w[1]);
    let mut column = UInt32Chunked::from_vec(name.into(), codes).into_column();
    if sorted {
        column.set_sorted_flag(polars::series::IsSorted::Ascending);
    }
    Ok(column)
}

/// The codes of the rows `rows`, numbered from 0 in order of first appearance there.
fn local_codes(parts: &[KeyPart], rows: std::ops::Range<usize>) -> PolarsResult<(Vec<u32>, Interner)> {
    let mut interner = Interner::default();
    let mut codes: Vec<u32> = Vec::with_capacity(rows.len());
    let mut key = Vec::new();
    let first = rows.start;
    for row in rows {
        // A run of one tuple: no lookup.
        if row > first && parts.iter().all(|p| p.same(row, row - 1)) {
            let last = *codes.last().expect("a code for the row before");
            codes.push(last);
            continue;
        }
        key.clear();
        for part in parts {
            part.encode(row, &mut key);
        }
        codes.push(interner.code(xxh3_64(&key), &key)?);
    }
    Ok((codes, interner))
}

/// Distinct tuples and their codes: the code is the tuple's place in `tuples`; their encodings
/// lie one after another in `arena`.
#[derive(Default)]
struct Interner {
    table: HashTable<u32>,
    tuples: Vec<Tuple>,
    arena: Vec<u8>,
}

/// A distinct tuple: its hash and its encoding's place in the arena.
#[derive(Clone, Copy)]
struct Tuple {
    hash: u64,
    start: usize,
    len: usize,
}

impl Interner {
    fn bytes(&self, t: &Tuple) -> &[u8] {
        &self.arena[t.start..t.start + t.len]
    }

    /// The code of the tuple encoded as `key` (of hash `hash`), a new one if it is new.
    fn code(&mut self, hash: u64, key: &[u8]) -> PolarsResult<u32> {
        let Interner { table, tuples, arena } = self;
        if let Some(&code) = table.find(hash, |&c| {
            let t = &tuples[c as usize];
            t.hash == hash && &arena[t.start..t.start + t.len] == key
        }) {
            return Ok(code);
        }
        let code = u32::try_from(tuples.len()).map_err(|_| PolarsError::ComputeError("more than 2^32 distinct group keys".into()))?;
        tuples.push(Tuple { hash, start: arena.len(), len: key.len() });
        arena.extend_from_slice(key);
        table.insert_unique(hash, code, |&c| tuples[c as usize].hash);
        Ok(code)
    }
}

/// One key column (one chunk), as the bytes each row adds to its tuple's key.
enum KeyPart {
    Text(Utf8ViewArray),
    Int32(PrimitiveArray<i32>),
    Int64(PrimitiveArray<i64>),
}

impl KeyPart {
    fn of(column: &Column) -> PolarsResult<KeyPart> {
        let physical = column.to_physical_repr();
        let one = |c: &Column| c.as_materialized_series().rechunk();
        Ok(match column.dtype() {
            DataType::String => KeyPart::Text(one(&physical).str()?.downcast_as_array().clone()),
            DataType::Int32 | DataType::Date => KeyPart::Int32(one(&physical).i32()?.downcast_as_array().clone()),
            DataType::Int64 => KeyPart::Int64(one(&physical).i64()?.downcast_as_array().clone()),
            other => return Err(PolarsError::ComputeError(format!("column '{}' of type {other} cannot be part of a group code", column.name()).into())),
        })
    }

    fn len(&self) -> usize {
        match self {
            KeyPart::Text(a) => a.len(),
            KeyPart::Int32(a) => a.len(),
            KeyPart::Int64(a) => a.len(),
        }
    }

    /// Whether two rows hold the same value (two nulls are the same).
    fn same(&self, a: usize, b: usize) -> bool {
        match self {
            KeyPart::Text(x) => x.get(a) == x.get(b),
            KeyPart::Int32(x) => x.get(a) == x.get(b),
            KeyPart::Int64(x) => x.get(a) == x.get(b),
        }
    }

    /// Appends a null marker, or a value marker and the value; text is preceded by its length,
    /// so that no two tuples encode alike.
    fn encode(&self, row: usize, out: &mut Vec<u8>) {
        match self {
            KeyPart::Text(a) => match a.get(row) {
                Some(text) => {
                    out.push(1);
                    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
                    out.extend_from_slice(text.as_bytes());
                }
                None => out.push(0),
            },
            KeyPart::Int32(a) => match a.get(row) {
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                None => out.push(0),
            },
            KeyPart::Int64(a) => match a.get(row) {
                Some(v) => {
                    out.push(1);
                    out.extend_from_slice(&v.to_le_bytes());
                }
                None => out.push(0),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The codes and sorted flag of one pass, the same as those of the rows cut in pieces.
    fn codes_of(keys: &[Column]) -> (Vec<u32>, bool) {
        let of = |pieces: usize| {
            let c = group_codes_in(keys, "g", pieces).unwrap();
            let sorted = c.as_materialized_series().is_sorted_flag() == polars::series::IsSorted::Ascending;
            (c.u32().unwrap().into_no_null_iter().collect::<Vec<u32>>(), sorted)
        };
        let whole = of(1);
        for pieces in [2, 3, 7, 100] {
            assert_eq!(of(pieces), whole, "{pieces} pieces");
        }
        whole
    }

    #[test]
    fn equal_tuples_share_a_code_and_runs_are_flagged_sorted() {
        // Station 1's 台区 A in three rows, then B, then station 2's A: a different tuple.
        let station = Column::new("s".into(), [Some(1i32), Some(1), Some(1), Some(1), Some(2)]);
        let area = Column::new("a".into(), ["A", "A", "A", "B", "A"]);
        assert_eq!(codes_of(&[station, area]), (vec![0, 0, 0, 1, 2], true));
    }

    #[test]
    fn a_tuple_that_comes_back_gets_its_first_code_and_the_column_is_not_flagged() {
        // By month, then 台区: A, B, A, B; a long text (over 12 bytes) twice.
        let long = "台区编号六五零一零一零一";
        let area = Column::new("a".into(), ["A", "B", long, "A", "B", long]);
        assert_eq!(codes_of(&[area]), (vec![0, 1, 2, 0, 1, 2], false));
    }

    #[test]
    fn nulls_empty_text_and_shifted_text_are_each_a_value_of_their_own() {
        // ("ab", "c") and ("a", "bc") join to the same text; null and "" differ; null station
        // and station 0 differ.
        let station = Column::new("s".into(), [Some(0i32), None, Some(0), Some(0), Some(0), Some(0), None]);
        let first = Column::new("x".into(), [Some("ab"), Some("ab"), Some("a"), None, Some(""), Some("ab"), Some("ab")]);
        let second = Column::new("y".into(), [Some("c"), Some("c"), Some("bc"), Some("c"), Some("c"), Some("c"), Some("c")]);
        assert_eq!(codes_of(&[station, first, second]), (vec![0, 1, 2, 3, 4, 0, 1], false));
    }

    #[test]
    fn dates_and_64_bit_numbers_are_keys_too_and_columns_of_many_chunks_are_read_whole() {
        let mut day = Column::new("d".into(), [18_262i32, 18_262, 18_263]).cast(&DataType::Date).unwrap();
        day.append(&Column::new("d".into(), [18_262i32]).cast(&DataType::Date).unwrap()).unwrap();
        let mut n = Column::new("n".into(), [5i64, 6, 5]);
        n.append(&Column::new("n".into(), [5i64])).unwrap();
        assert_eq!(codes_of(&[day, n]), (vec![0, 1, 2, 0], false));
        assert!(!codable(&DataType::Float64) && codable(&DataType::String));
        let floats = Column::new("f".into(), [1.5f64]);
        let message = group_codes(&[floats], "g").unwrap_err().to_string();
        assert!(message.contains("'f'"), "{message}");
    }

    #[test]
    fn codes_of_many_rows_are_those_of_first_appearance_however_the_rows_are_cut() {
        // 50 000 rows of 37 stations (some null) × 1 000 台区 texts (some null), in runs of one
        // to four rows; expected codes by a plain map of first appearances.
        let mut station = Vec::new();
        let mut area = Vec::new();
        let mut x: u64 = 12_345;
        while station.len() < 50_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let s = (x >> 33) % 38;
            let a = (x >> 17) % 1_001;
            for _ in 0..1 + (x >> 60) % 4 {
                station.push((s < 37).then_some(s as i32));
                area.push((a < 1_000).then(|| format!("6501{a:08}")));
            }
        }
        let mut first: std::collections::HashMap<(Option<i32>, Option<String>), u32> = Default::default();
        let expected: Vec<u32> = station
            .iter()
            .zip(&area)
            .map(|(s, a)| {
                let next = first.len() as u32;
                *first.entry((*s, a.clone())).or_insert(next)
            })
            .collect();
        let keys = [Column::new("s".into(), station), Column::new("a".into(), area)];
        let (codes, sorted) = codes_of(&keys);
        assert_eq!(codes, expected);
        assert!(!sorted);
        assert_eq!(group_codes(&keys, "g").unwrap().u32().unwrap().into_no_null_iter().collect::<Vec<u32>>(), expected);
    }
}
