//! Tokens back to text.

use core::fmt::{self, Write};

use crate::format::{Level, TokenizerSpec};

/// Streams tokens as text: spaces between words, punctuation attached, sentence capitalization.
#[derive(Clone, Copy, Debug)]
pub struct Detokenizer {
    level: Level,
    capitalize: bool,
    /// Nothing written yet.
    at_start: bool,
    /// The next word starts a sentence.
    cap_next: bool,
    /// A `"` was opened and not closed.
    quote_open: bool,
    /// The previous token wants no space after it (an opening quote).
    glue_next: bool,
}

impl Detokenizer {
    /// A detokenizer for a model's tokenizer settings.
    pub fn new(spec: &TokenizerSpec) -> Self {
        Self {
            level: spec.level,
            capitalize: spec.capitalize,
            at_start: true,
            cap_next: true,
            quote_open: false,
            glue_next: false,
        }
    }

    /// Forgets what was written (start of a new text).
    pub fn reset(&mut self) {
        *self = Self {
            at_start: true,
            cap_next: true,
            quote_open: false,
            glue_next: false,
            ..*self
        };
    }

    /// Writes one token.
    ///
    /// ```
    /// use quill_core::{text::Detokenizer, Level, Profile, TokenizerSpec, Unknown};
    /// let spec = TokenizerSpec { level: Level::Word, profile: Profile::Default, unknown: Unknown::Skip,
    ///                            sentence_end: None, capitalize: true };
    /// let mut d = Detokenizer::new(&spec);
    /// let mut s = String::new();
    /// for t in ["the", "people", ",", "\"", "yes", "\"", ".", "we", "won", "!"] { d.write(t, &mut s).unwrap(); }
    /// assert_eq!(s, "The people, \"yes\". We won!");
    /// let mut d = Detokenizer::new(&spec);
    /// let mut s = String::new();
    /// for t in ["<unk>", ",", "and", "the", "<unk>"] { d.write(t, &mut s).unwrap(); }
    /// assert_eq!(s, "<unk>, and the <unk>");
    /// ```
    pub fn write(&mut self, token: &str, out: &mut impl Write) -> fmt::Result {
        if self.level == Level::Char {
            self.at_start = false;
            return out.write_str(token);
        }
        let attach = matches!(token, "." | "," | "!" | "?" | ";" | ":" | "'")
            || (token == "\"" && self.quote_open);
        if !self.at_start && !attach && !self.glue_next {
            out.write_char(' ')?;
        }
        self.glue_next = false;
        if token == "\"" {
            self.glue_next = !self.quote_open;
            self.quote_open = !self.quote_open;
            out.write_str(token)?;
        } else if self.capitalize
            && self.cap_next
            && token.chars().next().is_some_and(char::is_alphanumeric)
        {
            let mut chars = token.chars();
            for c in chars.next().into_iter().flat_map(char::to_uppercase) {
                out.write_char(c)?;
            }
            out.write_str(chars.as_str())?;
            self.cap_next = false;
        } else {
            out.write_str(token)?;
            // Any word (also one that starts with a symbol, such as `<unk>`) ends the sentence start.
            if !is_punct(token) {
                self.cap_next = false;
            }
        }
        if matches!(token, "." | "!" | "?") {
            self.cap_next = true;
        }
        self.at_start = false;
        Ok(())
    }
}

/// The punctuation tokens of the word-level profiles: they neither start nor continue a sentence's words.
fn is_punct(token: &str) -> bool {
    matches!(token, "." | "," | "!" | "?" | ";" | ":" | "'" | "\"" | "-")
}
