//! Corpus to training tokens: read, clean with quill-core's normalizer (the code the board runs on prompts), keep
//! the first sentences or tokens asked for, build the vocabulary, encode.

use anyhow::{bail, Result};
use quill_core::text::normalize;
use quill_core::{Level, Profile};

use crate::corpus;
use crate::settings::TrainSettings;
use crate::vocab::{Encoded, Vocabulary};

/// Cleans `text` with `profile`: [`quill_core::text::normalize`], whose passes `tests/src/regex_clean.rs`
/// re-states with `regex` as the reference (and `tests/fixtures` pins against Python's `re`).
pub fn clean(profile: Profile, text: &str) -> String {
    let (mut a, mut b) = (
        String::with_capacity(text.len()),
        String::with_capacity(text.len()),
    );
    match normalize(profile, text, &mut a, &mut b) {
        Ok(s) => s.to_string(),
        // A `String` never refuses a write.
        Err(_) => String::new(),
    }
}

/// The characters that end a sentence in cleaned text of `profile`: `.` for `seed` (the notebook's
/// `split('.')`), `.`, `!` and `?` for `default`.
fn ends_sentence(profile: Profile, c: char) -> bool {
    match profile {
        Profile::Seed => c == '.',
        _ => matches!(c, '.' | '!' | '?'),
    }
}

/// The first `n` sentences of cleaned `text` (all of it when `n` is 0 or the text has fewer): the text up to and
/// including the `n`-th sentence end. For `seed` this keeps exactly the words of Python's
/// `text.split('.')[:n]`, empty sentences counted as Python counts them.
pub fn first_sentences(profile: Profile, text: &str, n: usize) -> &str {
    if n == 0 {
        return text;
    }
    let cut = text
        .char_indices()
        .filter(|&(_, c)| ends_sentence(profile, c))
        .nth(n - 1)
        .map_or(text.len(), |(i, c)| i + c.len_utf8());
    &text[..cut]
}

/// Cleans raw corpus text and keeps `--max-sentences`: the text every level of a run tokenizes.
pub fn cleaned_text(s: &TrainSettings, raw: &str) -> String {
    let cleaned = clean(s.profile, raw);
    first_sentences(s.profile, &cleaned, s.max_sentences).to_string()
}

/// The text a vocabulary is learned from: all of it for word and char levels (as before BPE existed, so their
/// runs are unchanged), the part before the validation split for BPE (its merges never see held-out text): the
/// first `1 − val_split` of the bytes, at a character boundary. (The token split moves on to a sentence end, so
/// the merges see slightly less than the training split, never more.)
fn vocabulary_text<'t>(s: &TrainSettings, text: &'t str) -> &'t str {
    if s.level != Level::Bpe {
        return text;
    }
    let mut cut = ((text.len() as f64) * (1.0 - s.val_split)) as usize;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

/// Builds the vocabulary of cleaned `text` (unless given, as on `--resume`) and encodes it, keeping
/// `--max-tokens`.
pub fn encode_cleaned(
    s: &TrainSettings,
    text: &str,
    vocab: Option<Vocabulary>,
) -> Result<(Vocabulary, Encoded)> {
    let vocab = match vocab {
        Some(v) => v,
        None => Vocabulary::build(
            vocabulary_text(s, text),
            s.level,
            s.profile,
            s.max_vocab,
            s.min_count,
        )?,
    };
    let mut enc = vocab.encode(text);
    if s.max_tokens > 0 && enc.ids.len() > s.max_tokens {
        enc.truncate(s.max_tokens);
    }
    Ok((vocab, enc))
}

/// [`cleaned_text`], then [`encode_cleaned`].
pub fn encode_text(
    s: &TrainSettings,
    raw: &str,
    vocab: Option<Vocabulary>,
) -> Result<(Vocabulary, Encoded)> {
    encode_cleaned(s, &cleaned_text(s, raw), vocab)
}

/// Reads the corpus of `s` and cleans it ([`cleaned_text`]).
pub fn read_cleaned(s: &TrainSettings) -> Result<String> {
    let files = corpus::expand(&s.corpus)?;
    Ok(cleaned_text(s, &corpus::read_all(&files, s.encoding)?))
}

/// Reads the corpus of `s` and encodes it ([`encode_text`]); refuses a corpus too small to train on.
pub fn prepare(s: &TrainSettings, vocab: Option<Vocabulary>) -> Result<(Vocabulary, Encoded)> {
    let files = corpus::expand(&s.corpus)?;
    let raw = corpus::read_all(&files, s.encoding)?;
    let (vocab, enc) = encode_text(s, &raw, vocab)?;
    let min = 64.max(4 * s.seq_len);
    if enc.ids.len() < min {
        bail!(
            "the corpus is too small: {} tokens after cleaning ({} files); need at least {min}. Add text or lower --seq-len",
            enc.ids.len(),
            files.len()
        );
    }
    Ok((vocab, enc))
}

#[cfg(test)]
mod tests {
    use super::first_sentences;
    use quill_core::Profile;

    #[test]
    fn first_sentences_counts_ends_as_python_split_does() {
        let t = "a b. c.. d e. f";
        assert_eq!(first_sentences(Profile::Seed, t, 1), "a b.");
        assert_eq!(first_sentences(Profile::Seed, t, 2), "a b. c.");
        assert_eq!(
            first_sentences(Profile::Seed, t, 3),
            "a b. c..",
            "an empty sentence counts"
        );
        assert_eq!(first_sentences(Profile::Seed, t, 9), t);
        assert_eq!(first_sentences(Profile::Seed, t, 0), t);
        assert_eq!(
            first_sentences(Profile::Default, "yes! no? ok. x", 2),
            "yes! no?"
        );
        assert_eq!(
            first_sentences(Profile::Seed, "yes! no? ok. x", 1),
            "yes! no? ok."
        );
    }
}
