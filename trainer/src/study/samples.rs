//! Free-running text of one arm and what it is measured by: samples from held-out prompts through quill-core
//! (int8, what a user runs), each scored for fluency by the reference model and for diversity and repetition
//! on its words, so char- and word-level arms are measured on the same units.

use anyhow::Result;
use quill_core::text::pieces;
use quill_core::{Generator, Level, Model, Profile, SamplerConfig};

use crate::dataset::clean;
use crate::freerun::TextStats;
use crate::perplexity::nll;
use crate::vocab::Vocabulary;

/// How a sample chooses its tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Argmax.
    Greedy,
    /// Sampling at temperature 1.0 from the whole distribution.
    Sampled,
}

impl Mode {
    /// Both modes, in table order.
    pub const ALL: [Self; 2] = [Self::Greedy, Self::Sampled];

    /// The sampler settings of the mode.
    pub fn config(self) -> SamplerConfig {
        match self {
            Self::Greedy => SamplerConfig::GREEDY,
            Self::Sampled => SamplerConfig {
                temperature: 1.0,
                ..SamplerConfig::GREEDY
            },
        }
    }
}

/// The reference model that judges fluency: a char-level model trained on the same training split.
pub struct Judge<'m> {
    model: &'m Model<'m>,
    vocab: &'m Vocabulary,
}

/// Fluency of one text: its NLL under the judge and the characters it covers.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct Fluency {
    /// Σ −log p(char | prompt, earlier chars), nats.
    pub nats: f64,
    /// Characters scored.
    pub chars: usize,
}

impl Fluency {
    /// Bits per character; NaN for a text without characters (nothing to judge).
    pub fn bits_per_char(&self) -> f64 {
        if self.chars == 0 {
            return f64::NAN;
        }
        self.nats / std::f64::consts::LN_2 / self.chars as f64
    }
}

impl<'m> Judge<'m> {
    /// A judge over a char-level `model` whose tokens are `vocab`'s.
    pub fn new(model: &'m Model<'m>, vocab: &'m Vocabulary) -> Self {
        Self { model, vocab }
    }

    /// The judge's NLL of normalized `text` after normalized `prompt` (int8, as every model of the study runs).
    pub fn score(&self, prompt: &str, text: &str) -> Result<Fluency> {
        let mut g: Box<Generator<1024, 4, 8>> =
            Box::new(Generator::new(self.model, SamplerConfig::GREEDY, 0)?);
        for id in self.vocab.encode(prompt).ids {
            g.feed(id);
        }
        let mut logits = vec![0f32; self.vocab.len()];
        let mut f = Fluency::default();
        for id in self.vocab.encode(text).ids {
            g.logits(&mut logits)?;
            f.nats += nll(&logits, id);
            f.chars += 1;
            g.feed(id);
        }
        Ok(f)
    }
}

/// One free-running text.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sample {
    /// The prompt (normalized).
    pub prompt: String,
    /// The continuation as the model printed it.
    pub text: String,
    /// Tokens the model generated.
    pub tokens: usize,
    /// Fluency under the judge.
    pub fluency: Fluency,
    /// Measures of its first `words` words.
    pub stats: TextStats,
    /// Words measured.
    pub words: usize,
}

/// The words (word pieces of normalized text) of `text`.
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    pieces(Level::Word, Profile::Default, text, |p| {
        out.push(p.text.to_string())
    });
    out
}

/// The prefix of normalized `text` that ends with its `n`-th word (all of it if it has fewer).
pub fn after_words(text: &str, n: usize) -> &str {
    let mut end = text.len();
    let mut count = 0;
    pieces(Level::Word, Profile::Default, text, |p| {
        count += 1;
        if count == n {
            end = p.text.as_ptr() as usize - text.as_ptr() as usize + p.text.len();
        }
    });
    &text[..end]
}

/// The normalized continuation of `prompt` by `text`: both normalized together (so the space between them
/// survives), the normalized prompt cut off.
fn normalized_continuation(prompt: &str, text: &str) -> (String, String) {
    let p = clean(Profile::Default, prompt);
    let whole = clean(Profile::Default, &format!("{prompt}{text}"));
    let rest = match whole.strip_prefix(p.as_str()) {
        Some(rest) => rest.to_string(),
        None => clean(Profile::Default, text),
    };
    (p, rest)
}

/// Generates from `model` after `prompt` until the text holds `len` words: `len` tokens for a word model, as
/// many tokens as that takes (at most 24 per word) for a char or BPE model. Returns the text and its token count.
fn continue_prompt(
    model: &Model<'_>,
    prompt: &str,
    mode: Mode,
    seed: u64,
    len: usize,
) -> Result<(String, usize)> {
    let mut g: Box<Generator<1024, 4, 256>> = Box::new(Generator::new(model, mode.config(), seed)?);
    let mut echo = String::new();
    g.prime(prompt, &mut echo, |_| {})?;
    let mut text = String::new();
    let mut tokens = 0;
    match model.tokenizer().level {
        Level::Word => {
            g.generate(len, &mut text)?;
            tokens = len;
        }
        Level::Char | Level::Bpe => {
            while tokens < 24 * len && words(&clean(Profile::Default, &text)).len() < len + 1 {
                g.generate(64, &mut text)?;
                tokens += 64;
            }
        }
    }
    Ok((text, tokens))
}

/// One arm's samples in `mode`: a continuation of each prompt (sample `i` seeded `i`), measured on its first
/// `len` words.
pub fn samples(
    model: &Model<'_>,
    judge: &Judge<'_>,
    prompts: &[String],
    mode: Mode,
    len: usize,
) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for (i, prompt) in prompts.iter().enumerate() {
        let (text, tokens) = continue_prompt(model, prompt, mode, i as u64, len)?;
        let (p, rest) = normalized_continuation(prompt, &text);
        let all = words(&rest);
        let measured = &all[..len.min(all.len())];
        let mut stats = TextStats::of(measured);
        if measured.len() < len && stats.loop_after.is_none() {
            // A char model that stopped writing words (spaces or marks only, up to the character cap) is in a
            // loop from its last word on.
            stats.loop_after = Some(measured.len());
        }
        out.push(Sample {
            prompt: prompt.clone(),
            text,
            tokens,
            fluency: judge.score(&p, &rest)?,
            stats,
            words: measured.len(),
        });
    }
    Ok(out)
}

/// The means over one arm's samples in one mode (what the table shows).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Samples.
    pub samples: usize,
    /// Words measured per sample (the shortest sample's).
    pub words: usize,
    /// The judge's bits per character over all samples' characters.
    pub fluency_bits_per_char: f64,
    /// Mean distinct-2 over words.
    pub distinct2: f64,
    /// Mean distinct-3 over words.
    pub distinct3: f64,
    /// Mean share of repeated 4-grams of words.
    pub repeated4: f64,
    /// Samples that fall into a loop.
    pub loops: usize,
    /// Mean words before the loop, a sample without one counted as its length (a lower bound then).
    pub words_before_loop: f64,
}

impl Summary {
    /// The means of `all`.
    pub fn of(all: &[Sample]) -> Self {
        let n = all.len().max(1) as f64;
        let mean = |f: &dyn Fn(&Sample) -> f64| all.iter().map(f).sum::<f64>() / n;
        let total = all.iter().fold(Fluency::default(), |a, s| Fluency {
            nats: a.nats + s.fluency.nats,
            chars: a.chars + s.fluency.chars,
        });
        Self {
            samples: all.len(),
            words: all.iter().map(|s| s.words).min().unwrap_or(0),
            fluency_bits_per_char: total.bits_per_char(),
            distinct2: mean(&|s| s.stats.distinct2),
            distinct3: mean(&|s| s.stats.distinct3),
            repeated4: mean(&|s| s.stats.repeated4),
            loops: all.iter().filter(|s| s.stats.loop_after.is_some()).count(),
            words_before_loop: mean(&|s| s.stats.loop_after.unwrap_or(s.words) as f64),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(words: &[&str], loop_after: Option<usize>, nats: f64, chars: usize) -> Sample {
        Sample {
            prompt: String::new(),
            text: words.join(" "),
            tokens: words.len(),
            fluency: Fluency { nats, chars },
            stats: TextStats {
                loop_after,
                ..TextStats::of(words)
            },
            words: words.len(),
        }
    }

    #[test]
    fn continuation_keeps_its_leading_space_and_loses_the_prompt() {
        let (p, rest) = normalized_continuation("We the People", " of the United States.");
        assert_eq!(p, "we the people");
        assert_eq!(rest, " of the united states.");
        assert_eq!(words(&rest), ["of", "the", "united", "states", "."]);
        assert_eq!(after_words(&rest, 3), " of the united");
        assert_eq!(after_words(&rest, 9), rest);
    }

    #[test]
    fn summary_weights_fluency_by_characters_and_counts_loops() {
        let a = sample(
            &["a", "b", "a", "b", "a", "b"],
            Some(0),
            10.0 * std::f64::consts::LN_2,
            10,
        );
        let b = sample(
            &["a", "b", "c", "d", "e", "f"],
            None,
            30.0 * std::f64::consts::LN_2,
            10,
        );
        let s = Summary::of(&[a, b]);
        assert!(
            (s.fluency_bits_per_char - 2.0).abs() < 1e-12,
            "(10 + 30) bits / 20 chars"
        );
        assert_eq!((s.loops, s.words, s.samples), (1, 6, 2));
        assert_eq!(
            s.words_before_loop, 3.0,
            "0 and the unlooped sample's 6 words"
        );
        assert_eq!(s.distinct2, (2.0 / 5.0 + 1.0) / 2.0);
        assert_eq!(
            s.repeated4,
            (1.0 / 3.0 + 0.0) / 2.0,
            "abab, baba, abab: one repeat of three"
        );
    }
}
