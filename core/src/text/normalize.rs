//! Normalization profiles, hand-written (no regex) to run in `no_std`.
//!
//! Each profile is a fixed sequence of passes; the trainer's `regex` implementation has the same passes in the
//! same order. Character classes: a *word* character is `char::is_alphanumeric() || '_'` (Python's `\w` on every
//! character but a few combining marks), a *space* is `char::is_whitespace()` or U+001C..U+001F (Python's `\s`).
//! Lowercasing is per character (`char::to_lowercase`).

use core::fmt::{self, Write};

use crate::error::Error;
use crate::format::Profile;

/// Python's `\w`, as used by every profile.
#[inline]
pub fn is_word(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Python's `\s` (and `str.isspace`), as used by every profile.
#[inline]
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// A growable or fixed text buffer the passes write into.
pub trait TextBuf: Write {
    /// Empties the buffer.
    fn clear(&mut self);
    /// The text written so far.
    fn as_str(&self) -> &str;
}

impl<const N: usize> TextBuf for heapless::String<N> {
    fn clear(&mut self) {
        heapless::String::clear(self)
    }
    fn as_str(&self) -> &str {
        self
    }
}

#[cfg(feature = "alloc")]
impl TextBuf for alloc::string::String {
    fn clear(&mut self) {
        alloc::string::String::clear(self)
    }
    fn as_str(&self) -> &str {
        self
    }
}

/// Two fixed buffers of `N` bytes for the passes to ping-pong between.
#[derive(Debug, Default)]
pub struct NormBuf<const N: usize> {
    a: heapless::String<N>,
    b: heapless::String<N>,
}

impl<const N: usize> NormBuf<N> {
    /// Empty buffers.
    pub const fn new() -> Self {
        Self {
            a: heapless::String::new(),
            b: heapless::String::new(),
        }
    }

    /// Normalizes `input` into these buffers: see [`normalize`].
    pub fn normalize(&mut self, profile: Profile, input: &str) -> Result<&str, Error> {
        let too_small = |_| Error::CapacityTooSmall {
            what: "prompt",
            needed: input.len().max(N + 1),
            capacity: N,
        };
        normalize(profile, input, &mut self.a, &mut self.b).map_err(too_small)
    }
}

/// Applies `profile` to `input`, using `a` and `b` as scratch; returns the normalized text (in one of them).
///
/// ```
/// use quill_core::{text::normalize, Profile};
/// let (mut a, mut b) = (String::new(), String::new());
/// let out = normalize(Profile::Seed, "  Hello, World!\nIt's 3.5 o'clock  ", &mut a, &mut b).unwrap();
/// assert_eq!(out, "hello worldits 3.5 oclock"); // the notebook joined words across line breaks
/// let out = normalize(Profile::Default, "“Well—” she said.\nPage 12\nA hyphen-\nated word", &mut a, &mut b).unwrap();
/// assert_eq!(out, "\"well - \" she said. a hyphenated word");
/// let out = normalize(Profile::Text, "“Well—” she paid $5 (€4).\nPage 12\nA hyphen-\nated\tword 🙂", &mut a, &mut b).unwrap();
/// assert_eq!(out, "“Well—” she paid $5 (€4). A hyphenated word 🙂");
/// ```
pub fn normalize<'b, B: TextBuf>(
    profile: Profile,
    input: &str,
    a: &'b mut B,
    b: &'b mut B,
) -> Result<&'b str, fmt::Error> {
    a.clear();
    b.clear();
    match profile {
        Profile::Seed => {
            seed_filter(input, a)?;
            Ok(a.as_str().trim_matches(is_space))
        }
        Profile::Default | Profile::Cased => {
            page_markers(input, a)?;
            map_quotes_dashes(a.as_str(), b)?;
            a.clear();
            join_hyphenated(b.as_str(), a)?;
            b.clear();
            filter_collapse(a.as_str(), profile == Profile::Default, b)?;
            Ok(b.as_str())
        }
        Profile::Text => {
            page_markers(input, a)?;
            join_hyphenated(a.as_str(), b)?;
            a.clear();
            collapse_spaces(b.as_str(), a)?;
            Ok(a.as_str())
        }
    }
}

/// Text pass 3: control characters that are not spaces are dropped; every run of spaces (`is_space`) is one
/// `' '`; no space at either end.
fn collapse_spaces(input: &str, out: &mut impl Write) -> fmt::Result {
    let (mut started, mut pending_space) = (false, false);
    for c in input.chars() {
        if is_space(c) {
            pending_space = started;
        } else if !c.is_control() {
            if pending_space {
                out.write_char(' ')?;
                pending_space = false;
            }
            started = true;
            out.write_char(c)?;
        }
    }
    Ok(())
}

/// Seed: lowercase; keep word chars, spaces and `.`; drop `\n` before a word char (`\n(?=\w)`).
fn seed_filter(input: &str, out: &mut impl Write) -> fmt::Result {
    let mut lowered = input.chars().flat_map(char::to_lowercase).peekable();
    while let Some(c) = lowered.next() {
        let drop_newline = c == '\n' && lowered.peek().is_some_and(|&n| is_word(n));
        if (is_word(c) || is_space(c) || c == '.') && !drop_newline {
            out.write_char(c)?;
        }
    }
    Ok(())
}

fn is_ascii_word(c: Option<char>) -> bool {
    c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Default pass 1: `Page[ \t]*[0-9]+` between ASCII word boundaries becomes one space.
fn page_markers(input: &str, out: &mut impl Write) -> fmt::Result {
    let mut prev: Option<char> = None;
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if c == 'P' && !is_ascii_word(prev) {
            if let Some(after) = rest.strip_prefix("Page") {
                let after_ws = after.trim_start_matches([' ', '\t']);
                let digits = after_ws.len()
                    - after_ws
                        .trim_start_matches(|d: char| d.is_ascii_digit())
                        .len();
                let tail = after_ws.get(digits..).unwrap_or("");
                if digits > 0 && !is_ascii_word(tail.chars().next()) {
                    out.write_char(' ')?;
                    prev = Some('0');
                    rest = tail;
                    continue;
                }
            }
        }
        out.write_char(c)?;
        prev = Some(c);
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    Ok(())
}

/// Default pass 2: curly single quotes → `'`, curly double quotes → `"`, en/em dashes → ` - `.
fn map_quotes_dashes(input: &str, out: &mut impl Write) -> fmt::Result {
    for c in input.chars() {
        match c {
            '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}' => out.write_char('\'')?,
            '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{201F}' => out.write_char('"')?,
            '\u{2013}' | '\u{2014}' | '\u{2015}' => out.write_str(" - ")?,
            c => out.write_char(c)?,
        }
    }
    Ok(())
}

/// Default pass 3: `-[ \t]*\r?\n[ \t]*` between two alphabetic characters is removed (`hyphen-\nated`).
fn join_hyphenated(input: &str, out: &mut impl Write) -> fmt::Result {
    let mut prev: Option<char> = None;
    let mut rest = input;
    while let Some(c) = rest.chars().next() {
        if c == '-' {
            let after = rest.get(1..).unwrap_or("").trim_start_matches([' ', '\t']);
            let after = after.strip_prefix('\r').unwrap_or(after);
            if let Some(after) = after.strip_prefix('\n') {
                let after = after.trim_start_matches([' ', '\t']);
                let matched = rest.get(..rest.len() - after.len()).unwrap_or("");
                if prev.is_some_and(char::is_alphabetic)
                    && after.chars().next().is_some_and(char::is_alphabetic)
                {
                    rest = after;
                    prev = Some('\n');
                    continue;
                }
                out.write_str(matched)?;
                prev = matched.chars().next_back();
                rest = after;
                continue;
            }
        }
        out.write_char(c)?;
        prev = Some(c);
        rest = rest.get(c.len_utf8()..).unwrap_or("");
    }
    Ok(())
}

/// Default passes 4-6: lowercase (not for `Cased`); keep word chars and `. , ! ? ; : ' " -`, everything else is
/// a space; collapse space runs to one `' '` and trim.
fn filter_collapse(input: &str, lower: bool, out: &mut impl Write) -> fmt::Result {
    let (mut started, mut pending_space) = (false, false);
    let mut put = |c: char| -> fmt::Result {
        let keep = is_word(c) || matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '\'' | '"' | '-');
        if !keep {
            pending_space = started;
            return Ok(());
        }
        if pending_space {
            out.write_char(' ')?;
            pending_space = false;
        }
        started = true;
        out.write_char(c)
    };
    for c in input.chars() {
        if lower {
            for l in c.to_lowercase() {
                put(l)?;
            }
        } else {
            put(c)?;
        }
    }
    Ok(())
}
