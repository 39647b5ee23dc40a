//! Sellable items.

use chrono::NaiveDateTime;

use serde::{Deserialize, Serialize};

use crate::types::{Code, Gtin, Money, SkuId};

/// How many distinct components a kit has.
pub const KIT_COMPONENTS: std::ops::RangeInclusive<usize> = 2..=20;
/// The most units of one component a kit may hold.
pub const MAX_COMPONENT_QUANTITY: i32 = 1000;

/// One of a kit's components: an ordinary SKU and how many of it one kit holds.
/// The code is kept with the id (codes never change) so a kit reads without a join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Component {
    pub sku_id: SkuId,
    pub sku_code: String,
    pub quantity: i32,
}

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
    /// A kit's components as asked for: (code or GTIN, units per kit); None
    /// for an ordinary SKU. Whether a SKU is a kit never changes.
    pub components: Option<Vec<(String, i32)>>,
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
    /// Empty for an ordinary SKU; a kit has no stock of its own, only these.
    pub components: Vec<Component>,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl Sku {
    pub fn is_kit(&self) -> bool {
        !self.components.is_empty()
    }
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
