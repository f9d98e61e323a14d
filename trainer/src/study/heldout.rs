//! The held-out text of a study: where each level's validation split begins in the cleaned corpus (so bits per
//! character divide by the characters of the same text), and the prompts every arm continues — sentence starts
//! inside the part of the text that every level holds out.

use anyhow::{bail, Result};
use quill_core::text::pieces;
use quill_core::{Level, Profile, Unknown};

use crate::data;
use crate::dataset;
use crate::settings::TrainSettings;
use crate::vocab::Vocabulary;

/// Words of a prompt (word pieces: words and punctuation marks).
pub const PROMPT_WORDS: usize = 6;

/// One level's split of the cleaned text.
#[derive(Clone, Debug)]
pub struct Split {
    /// The cleaned text (`--max-sentences` applied), shared by every level of the study.
    pub text: String,
    /// The vocabulary the level's runs build (the same as [`crate::train`] builds: same text, same settings).
    pub vocab: Vocabulary,
    /// Training tokens (the run's steps per epoch follow from it).
    pub train_tokens: usize,
    /// Validation tokens.
    pub val_tokens: usize,
    /// Byte offset in `text` where the validation split begins.
    pub val_start: usize,
}

impl Split {
    /// Characters of the held-out text (what bits per character divide by).
    pub fn val_chars(&self) -> usize {
        self.text
            .get(self.val_start..)
            .map_or(0, |t| t.chars().count())
    }

    /// Held-out tokens per held-out character.
    pub fn tokens_per_char(&self) -> f64 {
        self.val_tokens as f64 / self.val_chars().max(1) as f64
    }
}

/// Reads, cleans and encodes the corpus of `s` as its run will, and finds where validation begins.
pub fn split(s: &TrainSettings) -> Result<Split> {
    let text = dataset::read_cleaned(s)?;
    split_text(s, text)
}

/// [`split`] of already cleaned `text`.
pub fn split_text(s: &TrainSettings, text: String) -> Result<Split> {
    let (vocab, enc) = dataset::encode_cleaned(s, &text, None)?;
    let (train, val) = data::split(&enc, s.val_split);
    // The offset of the `cut`-th kept piece (a piece is kept when it has an id or maps to <unk>, as encoding does).
    let (cut, maps) = (
        train.ids.len(),
        matches!(vocab.spec().unknown, Unknown::Map(_)),
    );
    let (mut kept, mut val_start) = (0usize, None);
    pieces(s.level, s.profile, &text, |p| {
        if val_start.is_none() && (maps || vocab.id(p.text).is_some()) {
            if kept == cut {
                val_start = Some(p.text.as_ptr() as usize - text.as_ptr() as usize);
            }
            kept += 1;
        }
    });
    let Some(val_start) = val_start else {
        bail!("the corpus is too small to hold out text for the study; add text or raise --max-sentences");
    };
    Ok(Split {
        text,
        vocab,
        train_tokens: train.ids.len(),
        val_tokens: val.ids.len(),
        val_start,
    })
}

/// A prompt: held-out text every arm continues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// The prompt's words (normalized text).
    pub text: String,
    /// Byte offset in the cleaned text just after the prompt: where the held-out text goes on.
    pub end: usize,
}

/// `count` prompts of [`PROMPT_WORDS`] words from the text after byte `from` of cleaned `text`: sentence starts
/// spread evenly over it, each word in `words` (when given) so that a word model reads no `<unk>`.
pub fn prompts(
    text: &str,
    from: usize,
    count: usize,
    words: Option<&Vocabulary>,
) -> Result<Vec<Prompt>> {
    let tail = text.get(from..).unwrap_or("");
    // Sentence starts: the first word piece after each sentence end.
    let mut starts = Vec::new();
    let mut after_end = true;
    let mut pieces_of = Vec::new();
    pieces(Level::Word, Profile::Default, tail, |p| {
        let at = p.text.as_ptr() as usize - tail.as_ptr() as usize;
        if after_end && p.text.chars().any(char::is_alphanumeric) {
            starts.push(pieces_of.len());
        }
        after_end = p.sentence_end;
        pieces_of.push((at, p.text));
    });
    // The first start is where the held-out text begins, perhaps mid-sentence: skip it.
    let starts: Vec<usize> = starts.into_iter().skip(1).collect();
    let mut out: Vec<Prompt> = Vec::new();
    let usable = |&i: &usize| {
        let words_of = pieces_of.get(i..i + PROMPT_WORDS)?;
        let ok = words_of
            .iter()
            .all(|(_, w)| words.is_none_or(|v| v.id(w).is_some()));
        let ((a, _), (b, last)) = (words_of.first()?, words_of.last()?);
        let end = *b + last.len();
        ok.then(|| Prompt {
            text: tail[*a..end].to_string(),
            end: from + end,
        })
    };
    for k in 0..count {
        // From an evenly spaced sentence start, the first usable one not taken yet.
        let first = starts.len() * k / count.max(1);
        if let Some(p) = starts
            .get(first..)
            .into_iter()
            .flatten()
            .filter_map(&usable)
            .find(|p| !out.iter().any(|o| o.text == p.text))
        {
            out.push(p);
        }
    }
    if out.len() < count {
        // Fewer prompts than asked: the study's samples would not be comparable to what the user asked for.
        bail!(
            "the held-out text has {} usable sentence starts for {count} prompts; give more text (--max-sentences) or ask for fewer --samples",
            out.len()
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::Encoding;
    use crate::data::Context;
    use crate::forcing::Forcing;
    use crate::net::Cell;

    fn settings(level: Level) -> TrainSettings {
        TrainSettings {
            corpus: vec![],
            encoding: Encoding::Utf8,
            profile: Profile::Default,
            level,
            max_vocab: 1000,
            min_count: 1,
            max_sentences: 0,
            max_tokens: 0,
            context: Context::Stream,
            seq_len: 10,
            batch: 4,
            epochs: 1,
            lr: 0.01,
            clip: 1.0,
            patience: 0,
            max_minutes: 0.0,
            seed: 0,
            val_split: 0.25,
            cell: Cell::Gru,
            embed: 8,
            hidden: 8,
            layers: 1,
            dropout: 0.0,
            tie: false,
            forcing: Forcing::Teacher,
            schedule: crate::settings::default_schedule(),
            professor: Default::default(),
        }
    }

    #[test]
    fn the_split_offset_is_where_validation_tokens_begin() {
        let text: String = (0..40)
            .map(|i| format!("sentence number {i} is here, friends. "))
            .collect();
        for level in [Level::Word, Level::Char] {
            let s = settings(level);
            let sp = split_text(&s, dataset::clean(s.profile, &text)).unwrap();
            // Re-encoding the held-out text gives exactly the validation tokens.
            let val_text = &sp.text[sp.val_start..];
            assert_eq!(
                sp.vocab.encode(val_text).ids.len(),
                sp.val_tokens,
                "{level:?}"
            );
            assert!(
                val_text.trim_start().starts_with("sentence number"),
                "{level:?}: {val_text:.30}"
            );
            let frac = sp.val_chars() as f64 / sp.text.chars().count() as f64;
            assert!((0.2..0.3).contains(&frac), "{level:?}: {frac}");
        }
        let char_split = split_text(
            &settings(Level::Char),
            dataset::clean(Profile::Default, &text),
        )
        .unwrap();
        assert_eq!(char_split.tokens_per_char(), 1.0);
    }

    #[test]
    fn prompts_start_sentences_and_avoid_unknown_words() {
        let text = "skip me. we the people of the united states. the congress shall make no law. \
                    a rare zyzzyva word is here today. the people shall keep and bear arms.";
        let vocab = Vocabulary::build(
            &text.replace("zyzzyva", ""),
            Level::Word,
            Profile::Default,
            100,
            1,
        )
        .unwrap();
        let p = prompts(text, 0, 3, Some(&vocab)).unwrap();
        assert!(text[p[0].end..].starts_with(" states. the congress"));
        let p: Vec<String> = p.into_iter().map(|p| p.text).collect();
        assert_eq!(
            p,
            [
                "we the people of the united",
                "the congress shall make no law",
                "the people shall keep and bear"
            ]
        );
        let err = prompts(text, 0, 4, Some(&vocab)).unwrap_err().to_string();
        assert!(err.contains("3 usable sentence starts"), "{err}");
    }
}
