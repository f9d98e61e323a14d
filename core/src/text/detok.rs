//! Tokens back to text.

use core::fmt::{self, Write};

use super::bpe::Utf8Stream;
use crate::format::{Level, TokenizerSpec};

/// Streams tokens as text: spaces between words, punctuation attached, sentence capitalization (word level);
/// characters as they are (char level); the UTF-8 text of token bytes, a character split across tokens printed
/// once complete (BPE).
#[derive(Clone, Copy, Debug)]
pub struct Detokenizer {
    level: Level,
    /// BPE: the bytes of a character not complete yet.
    utf8: Utf8Stream,
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
            utf8: Utf8Stream::default(),
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
            utf8: Utf8Stream::default(),
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
        if self.level == Level::Bpe {
            return self.write_bytes(token.as_bytes(), out);
        }
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

impl Detokenizer {
    /// Writes one token given as bytes: BPE tokens as the UTF-8 text they complete (a character split across
    /// tokens waits for its last byte; bytes that can never form one print as U+FFFD); word and char tokens as
    /// [`Self::write`] does (their bytes are always UTF-8).
    ///
    /// ```
    /// use quill_core::{text::Detokenizer, Level, Profile, TokenizerSpec, Unknown};
    /// let spec = TokenizerSpec { level: Level::Bpe, profile: Profile::Text, unknown: Unknown::Skip,
    ///                            sentence_end: None, capitalize: false };
    /// let mut d = Detokenizer::new(&spec);
    /// let mut s = String::new();
    /// let euro = "€".as_bytes();
    /// for t in [&b"The"[..], b" price:", b" 5", &euro[..2]] { d.write_bytes(t, &mut s).unwrap(); }
    /// assert_eq!(s, "The price: 5");
    /// d.write_bytes(&euro[2..], &mut s).unwrap();
    /// assert_eq!(s, "The price: 5€");
    /// ```
    pub fn write_bytes(&mut self, token: &[u8], out: &mut impl Write) -> fmt::Result {
        match (self.level, core::str::from_utf8(token)) {
            (Level::Bpe, _) => {
                self.at_start = false;
                self.utf8.push(token, out)
            }
            (_, Ok(s)) => self.write(s, out),
            (_, Err(_)) => out.write_char(char::REPLACEMENT_CHARACTER),
        }
    }
}

/// The punctuation tokens of the word-level profiles: they neither start nor continue a sentence's words.
fn is_punct(token: &str) -> bool {
    matches!(token, "." | "," | "!" | "?" | ";" | ":" | "'" | "\"" | "-")
}
