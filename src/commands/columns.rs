//! Cells of the terminal tables, padded by display width: a Chinese character takes two
//! terminal columns, so padding by character count (`{:<18}`) pushes every column after a
//! Chinese header or name out of line.

use unicode_width::UnicodeWidthStr;

/// `text` followed by spaces up to `width` terminal columns (as it is when already wider).
pub fn left(text: &str, width: usize) -> String {
    format!("{text}{}", " ".repeat(width.saturating_sub(text.width())))
}

/// `text` preceded by spaces up to `width` terminal columns (as it is when already wider).
pub fn right(text: &str, width: usize) -> String {
    format!("{}{text}", " ".repeat(width.saturating_sub(text.width())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_characters_take_two_columns() {
        assert_eq!(left("口径", 8), "口径    ");
        assert_eq!(right("滞后", 6), "  滞后");
        assert_eq!(left("来源 source", 18), "来源 source       ");
        assert_eq!(left("fee", 5), "fee  ");
        assert_eq!(right("1,234", 3), "1,234");
        assert_eq!(left("来源 source", 18).width(), 18);
    }
}
