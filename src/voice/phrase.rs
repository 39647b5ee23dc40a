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

/// Number words below a hundred that stand alone or add up ("twenty four").
const SMALL: &[(&str, i64)] = &[
    ("zero", 0),
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
    ("sixty", 60),
    ("seventy", 70),
    ("eighty", 80),
    ("ninety", 90),
    ("couple", 2),
    ("pair", 2),
];

/// Words that multiply what came before them ("two dozen", "a hundred").
const SCALES: &[(&str, i64)] =
    &[("dozen", 12), ("hundred", 100), ("thousand", 1_000), ("million", 1_000_000), ("billion", 1_000_000_000)];

/// What a phrase asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// None when no number was said.
    pub quantity: Option<i64>,
    /// The product words, normalised and singular.
    pub words: Vec<String>,
    /// The product words as said (normalised, plurals kept).
    pub said: Vec<String>,
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

fn small(word: &str) -> Option<i64> {
    SMALL.iter().find(|(w, _)| *w == word).map(|(_, n)| *n)
}

fn scale(word: &str) -> Option<i64> {
    SCALES.iter().find(|(w, _)| *w == word).map(|(_, n)| *n)
}

fn is_number_word(word: &str) -> bool {
    word.parse::<i64>().is_ok() || small(word).is_some() || scale(word).is_some()
}

/// Reads a spoken number at the start of `tokens` ("two hundred and fifty",
/// "ten thousand", "a dozen", "24"): its value (saturating, so anything
/// absurd stays absurd rather than wrapping) and how many tokens it took.
fn spoken_number(tokens: &[&str]) -> Option<(i64, usize)> {
    let (mut total, mut current, mut taken) = (0_i64, 0_i64, 0);
    let mut seen = false;
    while taken < tokens.len() {
        let token = tokens[taken];
        let joins = token == "and" && seen && tokens.get(taken + 1).is_some_and(|t| is_number_word(t) && *t != "a");
        if joins {
            taken += 1;
            continue;
        }
        if let Ok(n) = token.parse::<i64>() {
            current = current.saturating_add(n);
        } else if let Some(n) = small(token) {
            // "a" and "an" only start a number ("a hundred"), never continue one.
            if seen && matches!(token, "a" | "an") {
                break;
            }
            current = current.saturating_add(n);
        } else if let Some(n) = scale(token) {
            let base = if seen { current } else { 1 };
            if n >= 1_000 {
                total = total.saturating_add(base.max(1).saturating_mul(n));
                current = 0;
            } else {
                current = base.max(1).saturating_mul(n);
            }
        } else if token == "half" && tokens.get(taken + 1) == Some(&"a") && tokens.get(taken + 2) == Some(&"dozen") {
            current = current.saturating_add(6);
            taken += 2;
        } else {
            break;
        }
        seen = true;
        taken += 1;
    }
    seen.then(|| (total.saturating_add(current), taken))
}

/// Splits a phrase into a quantity and product words.
pub fn parse(phrase: &str) -> Request {
    let normalised = normalize_words(phrase);
    let tokens: Vec<&str> = normalised.split(' ').filter(|t| !t.is_empty()).collect();
    let mut quantity: Option<i64> = None;
    let mut said = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        if said.is_empty()
            && quantity.is_none()
            && let Some((n, taken)) = spoken_number(&tokens[i..])
        {
            quantity = Some(n);
            i += taken;
            continue;
        }
        if CONTAINERS.contains(&singular(token).as_str()) && tokens.get(i + 1) == Some(&"of") {
            i += 1;
        } else if !FILLER.contains(&token) {
            said.push(token.to_owned());
        }
        i += 1;
    }
    Request { quantity, words: said.iter().map(|w| singular(w)).collect(), said }
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

/// How one candidate fits what was said.
struct Fit<K> {
    key: K,
    score: f64,
    /// One of its names is exactly what was said ("oats", not "oat").
    exact: bool,
    /// One of its names has every word said.
    full: bool,
}

/// Finds the candidate the words name. A name said exactly wins; otherwise
/// one candidate whose name has every said word wins only if it is the only
/// one ("oat" asks "Oat Milk or Oat Flakes?"); with none, the best partial
/// fit wins if it is clearly ahead. Close calls come back as up to three
/// choices to ask about.
pub fn best<K: Clone>(request: &Request, candidates: &[(K, Vec<String>)]) -> Match<K> {
    let as_said = request.said.join(" ");
    let mut fits: Vec<Fit<K>> = candidates
        .iter()
        .map(|(key, names)| Fit {
            key: key.clone(),
            score: names.iter().map(|n| score(&request.words, n)).fold(0.0, f64::max),
            exact: names.iter().any(|n| normalize_words(n) == as_said),
            full: names.iter().any(|n| covers(&request.words, n)),
        })
        .filter(|f| f.score >= 0.6)
        .collect();
    fits.sort_by(|a, b| b.score.total_cmp(&a.score));
    let keys = |fits: &[&Fit<K>]| fits.iter().take(3).map(|f| f.key.clone()).collect::<Vec<_>>();
    let exact: Vec<&Fit<K>> = fits.iter().filter(|f| f.exact).collect();
    if let [only] = exact.as_slice() {
        return Match::One(only.key.clone());
    }
    let full: Vec<&Fit<K>> = fits.iter().filter(|f| f.full).collect();
    match full.as_slice() {
        [only] => return Match::One(only.key.clone()),
        [_, _, ..] => return Match::Ambiguous(keys(&full)),
        [] => {}
    }
    match fits.as_slice() {
        [] => Match::Nothing,
        [only] => Match::One(only.key.clone()),
        [top, second, ..] if top.score - second.score > 0.1 => Match::One(top.key.clone()),
        close => {
            let top = close[0].score;
            Match::Ambiguous(keys(&close.iter().take_while(|f| top - f.score <= 0.1).collect::<Vec<_>>()))
        }
    }
}

/// Whether `name` has every said word (allowing small slips).
fn covers(words: &[String], name: &str) -> bool {
    let name_words: Vec<String> = normalize_words(name).split(' ').filter(|w| !w.is_empty()).map(singular).collect();
    !words.is_empty() && words.iter().all(|w| name_words.iter().any(|n| alike(w, n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(q: Option<i64>, words: &[&str]) -> (Option<i64>, Vec<String>) {
        (q, words.iter().map(|w| (*w).to_owned()).collect())
    }

    fn parsed(phrase: &str) -> (Option<i64>, Vec<String>) {
        let r = parse(phrase);
        (r.quantity, r.words)
    }

    #[test]
    fn numbers_as_words_or_digits() {
        assert_eq!(parsed("add two oat milk"), request(Some(2), &["oat", "milk"]));
        assert_eq!(parsed("3 bananas please"), request(Some(3), &["banana"]));
        assert_eq!(parsed("add oat milk"), request(None, &["oat", "milk"]));
        assert_eq!(parsed("a dozen eggs"), request(Some(12), &["egg"]));
        assert_eq!(parsed("two dozen eggs"), request(Some(24), &["egg"]));
        assert_eq!(parsed("half a dozen eggs"), request(Some(6), &["egg"]));
        assert_eq!(parsed("twenty four batteries"), request(Some(24), &["battery"]));
        assert_eq!(parsed("two cartons of orange juice"), request(Some(2), &["orange", "juice"]));
        assert_eq!(parsed("a banana"), request(Some(1), &["banana"]));
    }

    #[test]
    fn numbers_up_to_a_million() {
        assert_eq!(parsed("a hundred bananas").0, Some(100));
        assert_eq!(parsed("ten thousand bananas").0, Some(10_000));
        assert_eq!(parsed("one hundred and twenty five apples").0, Some(125));
        assert_eq!(parsed("nine hundred ninety nine apples").0, Some(999));
        assert_eq!(parsed("two thousand three hundred and four eggs").0, Some(2_304));
        assert_eq!(parsed("a million bananas").0, Some(1_000_000));
        assert_eq!(parsed("three million bananas").0, Some(3_000_000));
        assert_eq!(parsed("a billion bananas").0, Some(1_000_000_000));
        assert_eq!(parsed("ninety bananas and apples").1, ["banana", "apple"], "'and' joins numbers only");
    }

    fn candidates() -> Vec<(&'static str, Vec<String>)> {
        let names = |n: &[&str]| n.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        vec![
            ("OAT", names(&["Oat Milk 1 L", "oat milk", "oatly"])),
            ("ALMOND", names(&["Almond Milk 1 L", "almond milk"])),
            ("FLAKES", names(&["Oat Flakes 500 g", "oats", "oat flakes"])),
            ("TOMATO", names(&["Vine Tomatoes 500 g"])),
        ]
    }

    #[test]
    fn plurals_and_misspellings_still_match() {
        let c = candidates();
        assert_eq!(best(&parse("oat milk"), &c), Match::One("OAT"));
        assert_eq!(best(&parse("oat mlik"), &c), Match::One("OAT"));
        assert_eq!(best(&parse("tomato"), &c), Match::One("TOMATO"));
        assert_eq!(best(&parse("unicorn steak"), &c), Match::Nothing);
        assert_eq!(best(&parse("milk"), &c), Match::Ambiguous(vec!["OAT", "ALMOND"]));
    }

    #[test]
    fn a_word_in_several_names_asks_back_unless_a_name_was_said_exactly() {
        let c = candidates();
        match best(&parse("oat"), &c) {
            Match::Ambiguous(choices) => assert_eq!(choices.len(), 2, "{choices:?}"),
            other => panic!("'oat' must ask between oat milk and oat flakes, got {other:?}"),
        }
        assert_eq!(best(&parse("oats"), &c), Match::One("FLAKES"), "a spoken name said exactly");
        assert_eq!(best(&parse("two oat flakes"), &c), Match::One("FLAKES"));
    }
}
