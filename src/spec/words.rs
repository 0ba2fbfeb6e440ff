//! The words of the statistics' enums (method, scope, adjustment, interval method): their names
//! in pipeline files and output tables, and their labels. The pipeline's `[analysis]` keys are
//! parsed with these names, and the tables and the terminal summary print them.

use crate::base::vocab::{Vocabulary, Word};
use crate::stats::{Adjust, CiMethod, Method, Scope};

impl Vocabulary for Method {
    const WORDS: &'static [Word<Method>] = &[
        Word { value: Method::Pearson, name: "pearson", zh: "Pearson", en: "Pearson" },
        Word { value: Method::Spearman, name: "spearman", zh: "Spearman", en: "Spearman" },
        Word { value: Method::Kendall, name: "kendall", zh: "Kendall", en: "Kendall" },
    ];
}

impl Vocabulary for Scope {
    const WORDS: &'static [Word<Scope>] = &[
        Word { value: Scope::Pooled, name: "pooled", zh: "合并", en: "pooled" },
        Word { value: Scope::Within, name: "within", zh: "站内", en: "within" },
        Word { value: Scope::Between, name: "between", zh: "站间", en: "between" },
    ];
}

impl Vocabulary for Adjust {
    const WORDS: &'static [Word<Adjust>] = &[
        Word { value: Adjust::FdrBh, name: "fdr_bh", zh: "Benjamini–Hochberg（控制错误发现率）", en: "Benjamini–Hochberg (false discovery rate)" },
        Word { value: Adjust::Holm, name: "holm", zh: "Holm（控制族错误率）", en: "Holm (family-wise error)" },
        Word { value: Adjust::None, name: "none", zh: "未校正", en: "none" },
    ];
}

impl Vocabulary for CiMethod {
    const WORDS: &'static [Word<CiMethod>] = &[
        Word { value: CiMethod::FisherZ, name: "fisher_z", zh: "Fisher z 变换区间", en: "Fisher z interval" },
        Word { value: CiMethod::BootstrapCluster, name: "bootstrap_cluster", zh: "按供电所整群自助区间", en: "station cluster bootstrap interval" },
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The statistics' enums also derive serde; their JSON names must be these words.
    fn serde_names_agree<T: Vocabulary + serde::Serialize>() {
        for w in T::WORDS {
            assert_eq!(serde_json::to_value(w.value).unwrap(), serde_json::Value::String(w.name.to_string()), "{}", w.name);
        }
    }

    #[test]
    fn serde_and_the_vocabulary_name_the_same_words() {
        serde_names_agree::<Method>();
        serde_names_agree::<Scope>();
        serde_names_agree::<Adjust>();
        serde_names_agree::<CiMethod>();
    }
}
