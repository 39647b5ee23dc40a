//! Sellable items.

use chrono::NaiveDateTime;

use crate::types::{Code, Gtin, Money, SkuId};

#[derive(Debug, Clone)]
pub struct SkuInput {
    pub code: Code,
    pub name: String,
    pub gtin: Option<Gtin>,
    pub price: Money,
    /// What customers say for it to a voice assistant ("oat milk", "oatly").
    pub spoken_names: Vec<String>,
    pub active: bool,
    /// Which of a region's tax rates applies (`standard`, `reduced`, …).
    pub tax_class: String,
}

#[derive(Debug, Clone)]
pub struct Sku {
    pub id: SkuId,
    pub code: Code,
    pub name: String,
    pub gtin: Option<Gtin>,
    pub price: Money,
    pub spoken_names: Vec<String>,
    pub active: bool,
    pub tax_class: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Lower-cased, accents and punctuation folded, single-spaced: the form names
/// are searched and matched in.
pub fn normalize_words(text: &str) -> String {
    let folded: String = text
        .chars()
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
            'ç' => 'c',
            'è' | 'é' | 'ê' | 'ë' => 'e',
            'ì' | 'í' | 'î' | 'ï' => 'i',
            'ñ' => 'n',
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
            'ù' | 'ú' | 'û' | 'ü' => 'u',
            'ß' => 's',
            c if c.is_alphanumeric() => c,
            _ => ' ',
        })
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl SkuInput {
    /// What name search matches against: the name and every spoken name.
    pub fn search_text(&self) -> String {
        std::iter::once(self.name.as_str())
            .chain(self.spoken_names.iter().map(String::as_str))
            .map(normalize_words)
            .collect::<Vec<_>>()
            .join(" | ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizing_folds_case_accents_and_punctuation() {
        assert_eq!(normalize_words("  Crème-Fraîche, 200g "), "creme fraiche 200g");
    }
}
