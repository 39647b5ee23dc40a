//! The module order the README states, checked against the imports of `src/`:
//! a module may use only modules below its own rank.

use std::collections::BTreeSet;
use std::path::Path;

/// Ranks, top to bottom; a module may import modules of a higher index only.
const RANKS: &[&[&str]] = &[
    &["lib"],
    &["http", "jobs", "demo"],
    &["fulfilment", "marketplace", "voice"],
    &["order"],
    &["cart"],
    &["pricing"],
    &["inventory"],
    &["catalog", "customer", "access"],
    &["events"],
    &["context"],
    &["config"],
    &["text"],
    &["db", "clock", "secret", "telemetry", "types"],
];

/// Macros exported at the crate root: `crate::per_backend!` is no module.
const ROOT_MACROS: &[&str] = &["db_error_conversions", "insert_rows", "per_backend", "string_schemas", "text_enum"];

fn rank(module: &str) -> usize {
    RANKS.iter().position(|r| r.contains(&module)).unwrap_or_else(|| panic!("module {module} has no rank"))
}

fn sources(dir: &Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn modules_call_only_to_their_right() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut backwards = BTreeSet::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap().to_string_lossy().into_owned();
        let module = relative.split('/').next().unwrap().trim_end_matches(".rs").to_owned();
        if matches!(module.as_str(), "main" | "cli") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        for used in code.split("crate::").skip(1) {
            let name: String = used.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if name == module || ROOT_MACROS.contains(&name.as_str()) {
                continue;
            }
            if rank(&name) <= rank(&module) {
                backwards.insert(format!("{relative} uses crate::{name}"));
            }
        }
    }
    assert!(backwards.is_empty(), "imports against the module order of README.md:\n{backwards:#?}");
}
