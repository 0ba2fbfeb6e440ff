//! The language of what readers see: Chinese by default, English on request (`--lang en`).

use super::period::Grain;
use super::vocab::Vocabulary;

/// Language of the report's prose and labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Lang {
    /// 中文
    #[default]
    Zh,
    /// English
    En,
}

impl Lang {
    /// The text in this language.
    pub fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// The word for one period of the pipeline's grain: 季度 / quarter, 月 / month, 年 / year.
    pub fn unit(self, grain: Grain) -> &'static str {
        grain.label(self)
    }
}
