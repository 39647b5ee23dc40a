//! Understanding a spoken phrase: how many, and of what. Pure and forgiving:
//! numbers as words or digits, plurals, small misspellings.

use crate::catalog::normalize_words;

/// Words that say nothing about the product.
const FILLER: &[&str] = &[
    "add", "put", "get", "buy", "remove", "delete", "take", "please", "to", "from", "into", "in", "my", "the", "cart",
    "basket", "trolley", "some", "more", "another", "of", "and", "i", "want", "need", "would", "like", "out", "off",
];

/// Containers spoken before "of" ("two cartons of oat milk").
const CONTAINERS: &[&str] = &["bottle", "carton", "pack", "packet", "bag", "box", "can", "jar", "tin", "loaf", "piece"];

const UNITS: &[(&str, i64)] = &[
    ("a", 1),
    ("an", 1),
    ("one", 1),
    ("two", 2),
    ("three", 3),
    ("four", 4),
    ("five", 5),
    ("six", 6),
    ("seven", 7),
    ("eight", 8),
    ("nine", 9),
    ("ten", 10),
    ("eleven", 11),
    ("twelve", 12),
    ("thirteen", 13),
    ("fourteen", 14),
    ("fifteen", 15),
    ("sixteen", 16),
    ("seventeen", 17),
    ("eighteen", 18),
    ("nineteen", 19),
    ("twenty", 20),
    ("thirty", 30),
    ("forty", 40),
    ("fifty", 50),
    ("dozen", 12),
    ("couple", 2),
    ("pair", 2),
];

/// What a phrase asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// None when no number was said.
    pub quantity: Option<i64>,
    /// The product words, normalised.
    pub words: Vec<String>,
}

/// A plural's singular, by English's common rules (berries → berry, boxes → box).
pub fn singular(word: &str) -> String {
    if word.len() > 4 && word.ends_with("ies") {
        return format!("{}y", &word[..word.len() - 3]);
    }
    if word.len() > 4 && word.ends_with("ves") {
        return format!("{}f", &word[..word.len() - 3]);
    }
    for ending in ["ches", "shes", "xes", "sses", "oes"] {
        if word.len() > ending.len() + 1 && word.ends_with(ending) {
            return word[..word.len() - 2].to_owned();
        }
    }
    if word.len() > 3 && word.ends_with('s') && !word.ends_with("ss") {
        return word[..word.len() - 1].to_owned();
    }
    word.to_owned()
}

fn number(word: &str) -> Option<i64> {
    word.parse::<i64>().ok().or_else(|| UNITS.iter().find(|(w, _)| *w == word).map(|(_, n)| *n))
}

/// Splits a phrase into a quantity and product words.
pub fn parse(phrase: &str) -> Request {
    let normalised = normalize_words(phrase);
    let tokens: Vec<&str> = normalised.split(' ').filter(|t| !t.is_empty()).collect();
    let mut quantity: Option<i64> = None;
    let mut words = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        if let Some(n) = number(token).filter(|_| words.is_empty()) {
            // "a dozen", "two dozen", "twenty four", "a couple of"
            quantity = Some(match (quantity, token) {
                (Some(q), "dozen") => q * 12,
                (Some(q), _) if q >= 20 && q % 10 == 0 && n < 10 => q + n,
                _ => n,
            });
        } else if token == "half" && tokens.get(i + 1) == Some(&"a") && tokens.get(i + 2) == Some(&"dozen") {
            quantity = Some(6);
            i += 2;
        } else if CONTAINERS.contains(&singular(token).as_str()) && tokens.get(i + 1) == Some(&"of") {
            i += 1;
        } else if !FILLER.contains(&token) {
            words.push(singular(token));
        }
        i += 1;
    }
    Request { quantity, words }
}

fn alike(said: &str, name: &str) -> bool {
    if said == name {
        return true;
    }
    let allowed = match said.len().min(name.len()) {
        0..=3 => 0,
        4..=7 => 1,
        _ => 2,
    };
    // A swap of neighbours counts as one edit (optimal string alignment):
    // "mlik" is one slip away from "milk".
    allowed > 0 && strsim::osa_distance(said, name) <= allowed
}

/// How well the said words fit one name, 0 to 1: mostly how many said words
/// the name has, a little how much of the name was said.
pub fn score(words: &[String], name: &str) -> f64 {
    let name_words: Vec<String> = normalize_words(name).split(' ').filter(|w| !w.is_empty()).map(singular).collect();
    if words.is_empty() || name_words.is_empty() {
        return 0.0;
    }
    let said_found = words.iter().filter(|w| name_words.iter().any(|n| alike(w, n))).count();
    let name_found = name_words.iter().filter(|n| words.iter().any(|w| alike(w, n))).count();
    let precision = said_found as f64 / words.len() as f64;
    let recall = name_found as f64 / name_words.len() as f64;
    if precision < 0.5 {
        return 0.0;
    }
    0.7 * precision + 0.3 * recall
}

/// The outcome of matching words against candidates (key, names).
#[derive(Debug, Clone, PartialEq)]
pub enum Match<K> {
    One(K),
    /// Close calls, best first (at most three).
    Ambiguous(Vec<K>),
    Nothing,
}

/// Finds the candidate the words name: a clear winner, up to three close
/// calls to ask back, or nothing.
pub fn best<K: Clone>(words: &[String], candidates: &[(K, Vec<String>)]) -> Match<K> {
    let mut scored: Vec<(f64, K)> = candidates
        .iter()
        .map(|(key, names)| (names.iter().map(|n| score(words, n)).fold(0.0, f64::max), key.clone()))
        .filter(|(s, _)| *s >= 0.6)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    match scored.as_slice() {
        [] => Match::Nothing,
        [(_, only)] => Match::One(only.clone()),
        [(top, first), (second, _), ..] if top - second > 0.1 => Match::One(first.clone()),
        close => {
            let top = close[0].0;
            Match::Ambiguous(close.iter().take_while(|(s, _)| top - s <= 0.1).take(3).map(|(_, k)| k.clone()).collect())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(q: Option<i64>, words: &[&str]) -> Request {
        Request { quantity: q, words: words.iter().map(|w| (*w).to_owned()).collect() }
    }

    #[test]
    fn numbers_as_words_or_digits() {
        assert_eq!(parse("add two oat milk"), request(Some(2), &["oat", "milk"]));
        assert_eq!(parse("3 bananas please"), request(Some(3), &["banana"]));
        assert_eq!(parse("add oat milk"), request(None, &["oat", "milk"]));
        assert_eq!(parse("a dozen eggs"), request(Some(12), &["egg"]));
        assert_eq!(parse("half a dozen eggs"), request(Some(6), &["egg"]));
        assert_eq!(parse("twenty four batteries"), request(Some(24), &["battery"]));
        assert_eq!(parse("two cartons of orange juice"), request(Some(2), &["orange", "juice"]));
    }

    #[test]
    fn plurals_and_misspellings_still_match() {
        let candidates = vec![
            ("OAT", vec!["Oat Milk 1 L".to_owned(), "oat milk".to_owned()]),
            ("ALMOND", vec!["Almond Milk 1 L".to_owned()]),
            ("TOMATO", vec!["Vine Tomatoes 500 g".to_owned()]),
        ];
        assert_eq!(best(&parse("oat milk").words, &candidates), Match::One("OAT"));
        assert_eq!(best(&parse("oat mlik").words, &candidates), Match::One("OAT"));
        assert_eq!(best(&parse("tomato").words, &candidates), Match::One("TOMATO"));
        assert_eq!(best(&parse("unicorn steak").words, &candidates), Match::Nothing);
        match best(&parse("milk").words, &candidates) {
            Match::Ambiguous(choices) => assert_eq!(choices.len(), 2),
            other => panic!("expected a question back, got {other:?}"),
        }
    }
}
