//! Text helpers shared by every layer: full-width to half-width folding (exports typed with
//! Chinese input methods) and edit distance for "did you mean". Imports nothing.

use std::borrow::Cow;

/// Full-width digits and punctuation to ASCII (exports typed in Chinese input methods).
pub fn to_half_width(text: &str) -> Cow<'_, str> {
    if text.is_ascii() {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            })
            .collect(),
    )
}

/// Edit distance (Levenshtein) between two strings, in characters (for "did you mean").
pub fn edit_distance(a: &str, b: &str) -> usize {
    strsim::levenshtein(a, b)
}

/// The candidate closest to `wanted`, if any is reasonably close.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (edit_distance(wanted, c), c))
        .filter(|(d, c)| *d <= wanted.chars().count().max(c.chars().count()) / 2 + 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_characters() {
        assert_eq!(edit_distance("应收电费(元)", "应收电费(万元)"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(closest("应收电费（元）", ["序号", "应收电费(元)", "实收电费(元)"]), Some("应收电费(元)"));
        assert_eq!(closest("zzz", ["序号"]), None);
    }
}
