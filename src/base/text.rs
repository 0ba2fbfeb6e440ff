//! Text helpers shared by every layer: full-width to half-width folding (exports typed with
//! Chinese input methods) and edit distance for "did you mean". Imports nothing.

use std::borrow::Cow;

/// Full-width digits and punctuation to ASCII (exports typed in Chinese input methods).
pub(crate) fn to_half_width(text: &str) -> Cow<'_, str> {
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

/// `text.trim()`, without its walk when neither end is white space (nearly every cell of an
/// export, in Chinese or not): only the first and the last byte are looked at when both are
/// ASCII, the first and the last character otherwise.
#[inline]
pub(crate) fn trim(text: &str) -> &str {
    // ASCII at both ends (numbers, codes, dates): white space is one of six bytes there.
    let ascii_kept = |b: u8| b.is_ascii() && !matches!(b, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ');
    if let (Some(&first), Some(&last)) = (text.as_bytes().first(), text.as_bytes().last()) {
        if ascii_kept(first) && ascii_kept(last) {
            return text;
        }
    }
    let kept = |c: Option<char>| c.is_some_and(|c| !c.is_whitespace());
    if kept(text.chars().next()) && kept(text.chars().next_back()) { text } else { text.trim() }
}

/// Edit distance (Levenshtein) between two strings, in characters (for "did you mean").
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
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

/// Property tests of the header matcher: whatever the text, it never panics, and a suggestion
/// is always one of the candidates, an exact match when there is one. `PROPTEST_CASES`
/// overrides the number of cases.
#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    use crate::base::proptest_config as config;

    fn header() -> impl Strategy<Value = String> {
        prop_oneof!["[应收实电费元万（）() ]{0,8}", "\\PC{0,12}", any::<String>()]
    }

    proptest! {
        #![proptest_config(config(512))]

        #[test]
        fn closest_header_is_an_existing_header(wanted in header(), candidates in proptest::collection::vec(header(), 0..8)) {
            let found = closest(&wanted, candidates.iter().map(String::as_str));
            if let Some(c) = found {
                prop_assert!(candidates.iter().any(|x| x == c));
                // Reasonably close, and no reasonably close candidate is closer.
                let near = |x: &str| edit_distance(&wanted, x) <= wanted.chars().count().max(x.chars().count()) / 2 + 1;
                prop_assert!(near(c));
                let best = candidates.iter().filter(|x| near(x)).map(|x| edit_distance(&wanted, x)).min();
                prop_assert_eq!(Some(edit_distance(&wanted, c)), best);
            }
            if candidates.contains(&wanted) {
                prop_assert_eq!(found, Some(wanted.as_str()));
            }
            let _ = to_half_width(&wanted);
        }

        #[test]
        fn trim_is_the_standard_trim(text in prop_oneof!["[ \t\r\u{3000}\u{a0}\u{85}\u{1c}\u{7f}a-z0-9.,库]{0,6}", "\\PC{0,8}", any::<String>()]) {
            prop_assert_eq!(trim(&text), text.trim());
        }

        #[test]
        fn edit_distance_is_a_distance(a in header(), b in header()) {
            let d = edit_distance(&a, &b);
            prop_assert_eq!(d, edit_distance(&b, &a));
            prop_assert_eq!(d == 0, a == b);
            prop_assert!(d <= a.chars().count().max(b.chars().count()));
        }
    }
}
