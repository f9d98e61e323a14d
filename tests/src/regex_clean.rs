//! The reference cleaning, with `regex`: the seed notebook's pattern and the `default` profile's passes as regular
//! expressions. Production code (trainer and board) cleans with `quill_core::text::normalize`; `tests/text.rs`
//! checks it against this and against Python's `re` (golden files). Classes: word = `[\p{Alphabetic}\p{N}_]` (core: `is_alphanumeric() || '_'`),
//! space = `[\s\x1C-\x1F]` (core: `is_whitespace()` or U+001C..U+001F), both Python's `\w` / `\s`.

use std::sync::LazyLock;

use quill_core::Profile;
use regex::Regex;

#[allow(clippy::unwrap_used)] // reason: constant patterns, checked by the tests
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// `[^\w\s.]` of the seed notebook.
static SEED_DROP: LazyLock<Regex> = LazyLock::new(|| re(r"[^\p{Alphabetic}\p{N}_\s\x1C-\x1F.]"));
/// `\n(?=\w)`: Rust's regex has no look-ahead, so match the newline and the word char, then put the char back.
static SEED_NEWLINE: LazyLock<Regex> = LazyLock::new(|| re(r"\n([\p{Alphabetic}\p{N}_])"));
static PAGE: LazyLock<Regex> = LazyLock::new(|| re(r"(?-u:\b)Page[ \t]*[0-9]+(?-u:\b)"));
static SINGLE: LazyLock<Regex> = LazyLock::new(|| re("[\u{2018}\u{2019}\u{201A}\u{201B}]"));
static DOUBLE: LazyLock<Regex> = LazyLock::new(|| re("[\u{201C}\u{201D}\u{201E}\u{201F}]"));
static DASH: LazyLock<Regex> = LazyLock::new(|| re("[\u{2013}\u{2014}\u{2015}]"));
static HYPHEN_BREAK: LazyLock<Regex> = LazyLock::new(|| re(r"-[ \t]*\r?\n[ \t]*"));
static DEFAULT_DROP: LazyLock<Regex> =
    LazyLock::new(|| re(r#"[^\p{Alphabetic}\p{N}_.,!?;:'"\-]+"#));

fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

fn lower(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// Cleans `text` with `profile`.
pub fn clean(profile: Profile, text: &str) -> String {
    match profile {
        // re.sub(r'\s*Page\s*\d+\s*|[^\w\s.]|\n(?=\w)', '', text.lower()).strip(); the Page alternative
        // cannot match lowercased text, so it is left out.
        Profile::Seed => seed_clean(&lower(text)),
        Profile::Default => default_clean(text, true),
        Profile::Cased => default_clean(text, false),
        Profile::Text => text_clean(text),
    }
}

/// Controls that are not spaces.
static CONTROL: LazyLock<Regex> = LazyLock::new(|| re(r"[\p{Cc}&&[^\s\x1C-\x1F]]"));
static SPACES: LazyLock<Regex> = LazyLock::new(|| re(r"[\s\x1C-\x1F]+"));

fn text_clean(text: &str) -> String {
    let t = PAGE.replace_all(text, " ");
    let t = join_hyphens(&t);
    let t = CONTROL.replace_all(&t, "");
    let t = SPACES.replace_all(&t, " ");
    t.trim_matches(' ').to_string()
}

fn seed_clean(lowered: &str) -> String {
    // `\n(?=\w)` → match the newline and the word char, keep the char. Matches never overlap (each starts at a
    // newline, ends at a word char), and both alternatives decide on the original string, so the order is free.
    let joined = SEED_NEWLINE.replace_all(lowered, "$1");
    let kept = SEED_DROP.replace_all(&joined, "");
    kept.trim_matches(is_space).to_string()
}

fn default_clean(text: &str, lowercase: bool) -> String {
    let t = PAGE.replace_all(text, " ");
    let t = SINGLE.replace_all(&t, "'");
    let t = DOUBLE.replace_all(&t, "\"");
    let t = DASH.replace_all(&t, " - ");
    let t = join_hyphens(&t);
    let t = if lowercase { lower(&t) } else { t };
    let t = DEFAULT_DROP.replace_all(&t, " ");
    t.trim_matches(' ').to_string()
}

/// Removes `-[ \t]*\r?\n[ \t]*` where an alphabetic character stands on both sides (`hyphen-\nated`).
fn join_hyphens(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in HYPHEN_BREAK.find_iter(text) {
        let before = text[..m.start()].chars().next_back();
        let after = text[m.end()..].chars().next();
        if before.is_some_and(char::is_alphabetic) && after.is_some_and(char::is_alphabetic) {
            out.push_str(&text[last..m.start()]);
            last = m.end();
        }
    }
    out.push_str(&text[last..]);
    out
}
