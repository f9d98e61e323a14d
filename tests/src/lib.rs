//! Helpers for the cross-crate tests in `tests/tests/`, and the regex reference of the cleaning profiles.

pub mod regex_clean;

use std::path::Path;

use quill_core::Rng;

/// Writes a synthetic corpus of `sentences` sentences from a small grammar (deterministic for `seed`).
pub fn write_corpus(dir: &Path, sentences: usize, seed: u64) -> std::path::PathBuf {
    let subjects = [
        "the people",
        "our nation",
        "the congress",
        "every citizen",
        "the union",
        "this government",
    ];
    let verbs = [
        "will defend",
        "must protect",
        "shall build",
        "has served",
        "can trust",
        "will honor",
    ];
    let objects = [
        "our freedom",
        "the law",
        "the future",
        "its promise",
        "the common good",
        "peace and justice",
    ];
    let ends = [".", ".", "!", "?"];
    let mut rng = Rng::new(seed);
    let mut pick = |v: &[&'static str]| v[(rng.next_u32() as usize) % v.len()];
    let mut text = String::new();
    for i in 0..sentences {
        let s = format!(
            "{} {}, and {} {} {}",
            pick(&subjects),
            pick(&verbs),
            pick(&subjects),
            pick(&verbs),
            pick(&objects)
        );
        let mut c = s.chars();
        let first = c
            .next()
            .map(|f| f.to_uppercase().collect::<String>())
            .unwrap_or_default();
        text.push_str(&format!("{first}{} {}", c.as_str(), pick(&ends)));
        text.push(if i % 7 == 6 { '\n' } else { ' ' });
    }
    let path = dir.join("corpus.txt");
    std::fs::write(&path, text).expect("write corpus");
    path
}
