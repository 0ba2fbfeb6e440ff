//! Vocabularies: the closed sets of words the pipeline file, the output tables, the views and the
//! report share (methods, scopes, adjustments, interval methods, "better", reject kinds, grains).
//! Each enum lists its words once, in a `WORDS` table: the name written in pipeline files,
//! Parquet columns, views and JSON, and a short label in Chinese and English. Parsing, naming,
//! messages and serialisation all read that table.

use super::lang::Lang;

/// One value of a vocabulary with its name and labels.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Word<T: 'static> {
    pub value: T,
    /// ASCII snake_case, as written in pipeline files and output tables.
    pub name: &'static str,
    pub zh: &'static str,
    pub en: &'static str,
}

/// An enum whose values are words of a vocabulary.
pub(crate) trait Vocabulary: Copy + PartialEq + Sized + 'static {
    /// Every value, in documented order.
    const WORDS: &'static [Word<Self>];

    fn word(self) -> &'static Word<Self> {
        Self::WORDS.iter().find(|w| w.value == self).expect("every value is in its WORDS table")
    }

    /// The name written in pipeline files and output tables.
    fn name(self) -> &'static str {
        self.word().name
    }

    /// The short label for readers.
    fn label(self, lang: Lang) -> &'static str {
        let w = self.word();
        lang.t(w.zh, w.en)
    }

    /// The value a name stands for.
    fn parse(name: &str) -> Option<Self> {
        Self::WORDS.iter().find(|w| w.name == name).map(|w| w.value)
    }

    /// The names for a message: `"a", "b" or "c"` when `quoted`, else `a, b or c`.
    fn expected(quoted: bool) -> String {
        let names: Vec<String> = Self::WORDS.iter().map(|w| if quoted { format!("\"{}\"", w.name) } else { w.name.to_string() }).collect();
        match names.split_last() {
            Some((last, [])) => last.clone(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => String::new(),
        }
    }
}

/// Serialises a vocabulary's values by name (serde), so JSON says what the tables say.
#[macro_export]
macro_rules! serialize_by_name {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str($crate::base::vocab::Vocabulary::name(*self))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq)]
    enum Colour {
        Red,
        Green,
        Blue,
    }

    impl Vocabulary for Colour {
        const WORDS: &'static [Word<Colour>] = &[
            Word { value: Colour::Red, name: "red", zh: "红", en: "red" },
            Word { value: Colour::Green, name: "green", zh: "绿", en: "green" },
            Word { value: Colour::Blue, name: "blue", zh: "蓝", en: "blue" },
        ];
    }

    #[test]
    fn names_parse_back_and_messages_list_them() {
        for w in Colour::WORDS {
            assert_eq!(Colour::parse(w.value.name()), Some(w.value));
        }
        assert_eq!(Colour::parse("Red"), None);
        assert_eq!(Colour::Green.label(Lang::Zh), "绿");
        assert_eq!(Colour::expected(true), "\"red\", \"green\" or \"blue\"");
        assert_eq!(Colour::expected(false), "red, green or blue");
    }
}
